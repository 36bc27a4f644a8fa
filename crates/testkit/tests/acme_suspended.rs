//! A suspended customer's accounts over ACME, request by request with `RawClient`: every
//! request signed by one of its accounts (newOrder, order, authorization, challenge,
//! finalize, certificate download, account fetch and update, key change, revocation) and
//! newAccount with its account key get 403 `unauthorized` naming the suspension and
//! `customers.suspended_contact`; revocation with the certificate's own key still works;
//! another customer's account is untouched; after a resume the same requests succeed.
//! Only 127.0.0.1 is contacted; every test is bounded in time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrite_app::config::DatabaseUrl;
use ferrite_jose::Algorithm;
use ferrite_jose::sign::SigningKey;
use ferrite_store::testing::with_database;
use ferrite_testkit::ca::csr_der;
use ferrite_testkit::eab::new_customer_key;
use ferrite_testkit::{
    RawAccount, RawResponse, TestCa, TestCaOptions, assert_case_problem, bounded, challenge,
};
use serde_json::{Map, Value, json};

const CONTACT: &str = "https://ca.test/support";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_of_a_suspended_customers_account_is_unauthorized() {
    bounded(suspended_customer(TestCaOptions::default())).await;
}

/// The same on PostgreSQL (`FERRITE_TEST_DATABASE_URL`), whose query reads the account with
/// its customer's suspension.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_of_a_suspended_customers_account_is_unauthorized_on_postgresql() {
    with_database(|url| async move {
        let mut options = TestCaOptions::default();
        options.config.database_url = DatabaseUrl(url);
        bounded(suspended_customer(options)).await;
    })
    .await;
}

/// The scenario on a CA started with `options`.
async fn suspended_customer(mut options: TestCaOptions) {
    options.config.customers.suspended_contact = CONTACT.to_owned();
    let ca = TestCa::start_with(options).await;
    let raw = ca.raw();
    let account = RawAccount::register_bound(&raw, &new_customer_key(&ca.ca, "corp").await).await;
    let other = RawAccount::register_bound(&raw, &new_customer_key(&ca.ca, "other").await).await;

    // Something of each kind to ask for: a certificate, a pending order with its
    // authorization and challenge, a ready order.
    let issued = ca.raw_issue(&raw, &account, &["issued.example.com"]).await;
    let (order_url, order) = ca
        .raw_new_order(&raw, &account, &["pending.example.com"])
        .await;
    let authz_url = order["authorizations"][0].as_str().unwrap().to_owned();
    let authz = raw
        .post_as_get(&account.key, &account.kid, &authz_url)
        .await;
    let challenge_url = challenge(&authz.json(), "http-01")["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, ready) = ca
        .raw_ready_order(&raw, &account, &["ready.example.com"])
        .await;
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let csr = URL_SAFE_NO_PAD.encode(csr_der(&["ready.example.com"], &leaf_key));
    let cert_der = URL_SAFE_NO_PAD.encode(&issued.leaf_der);
    let new_key = SigningKey::generate(Algorithm::ES256).unwrap();

    ca.ca.eab().suspend_customer("corp", None).await.unwrap();

    // (case, URL, payload; None: POST-as-GET)
    let cases: Vec<(&str, String, Option<Value>)> = vec![
        (
            "newOrder",
            ca.url("/acme/new-order"),
            Some(json!({"identifiers": [{"type": "dns", "value": "new.example.com"}]})),
        ),
        ("order", order_url.clone(), None),
        ("authorization", authz_url.clone(), None),
        ("challenge", challenge_url.clone(), Some(json!({}))),
        (
            "finalize",
            ready["finalize"].as_str().unwrap().to_owned(),
            Some(json!({"csr": csr})),
        ),
        ("certificate", issued.cert_url.clone(), None),
        ("account", account.kid.clone(), None),
        (
            "account update",
            account.kid.clone(),
            Some(json!({"contact": ["mailto:new@example.com"]})),
        ),
        (
            "revocation by the account",
            ca.url("/acme/revoke-cert"),
            Some(json!({"certificate": cert_der})),
        ),
    ];
    let refused = |case: &str, r: &RawResponse| {
        let detail = assert_case_problem(case, r, 403, "unauthorized");
        assert!(
            detail.contains("customer \"corp\" is suspended") && detail.ends_with(CONTACT),
            "{case}: {detail}"
        );
    };
    for (case, url, payload) in &cases {
        let r = raw
            .post(&account.key, Some(&account.kid), url, payload.as_ref())
            .await;
        refused(case, &r);
    }
    let r = key_change(&ca, &account, &new_key).await;
    refused("key change", &r);
    let r = raw
        .post(
            &account.key,
            None,
            &ca.url("/acme/new-account"),
            Some(&json!({"onlyReturnExisting": true})),
        )
        .await;
    refused("newAccount with the account's key", &r);
    // Another customer's account works.
    let r = raw.post_as_get(&other.key, &other.kid, &other.kid).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    // Resumed: the same requests are answered again.
    ca.ca.eab().resume_customer("corp").await.unwrap();
    let r = raw
        .post(
            &account.key,
            Some(&account.kid),
            &cases[4].1,
            cases[4].2.as_ref(),
        )
        .await;
    assert_eq!(
        r.status,
        200,
        "finalize: {}",
        String::from_utf8_lossy(&r.body)
    );
    for (case, url, _) in cases.iter().filter(|(_, _, p)| p.is_none()) {
        let r = raw.post_as_get(&account.key, &account.kid, url).await;
        assert_eq!(
            r.status,
            200,
            "{case}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    let r = key_change(&ca, &account, &new_key).await;
    assert_eq!(
        r.status,
        200,
        "key change: {}",
        String::from_utf8_lossy(&r.body)
    );

    // While suspended, the certificate's holder may still revoke it with its own key.
    ca.ca.eab().suspend_customer("corp", None).await.unwrap();
    let cert_key = SigningKey::from_pkcs8(Algorithm::ES256, &issued.leaf_key_pkcs8).unwrap();
    let r = raw
        .post(
            &cert_key,
            None,
            &ca.url("/acme/revoke-cert"),
            Some(&json!({"certificate": cert_der})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// A key change (RFC 8555 §7.3.5) of `account` to `new_key`.
async fn key_change(ca: &TestCa, account: &RawAccount, new_key: &SigningKey) -> RawResponse {
    let url = ca.url("/acme/key-change");
    let mut header = Map::new();
    header.insert("alg".into(), new_key.algorithm().name().into());
    header.insert("jwk".into(), new_key.public_jwk().to_json());
    header.insert("url".into(), url.clone().into());
    let payload = json!({"account": account.kid, "oldKey": account.key.public_jwk().to_json()});
    let inner = new_key
        .sign_raw(&header, payload.to_string().as_bytes())
        .unwrap();
    ca.raw()
        .post(&account.key, Some(&account.kid), &url, Some(&inner))
        .await
}
