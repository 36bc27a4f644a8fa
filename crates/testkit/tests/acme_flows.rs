//! Whole ACME flows (RFC 8555 §7) driven by instant-acme, an ACME client nobody here wrote,
//! against the whole CA in-process: issuance over http-01, dns-01 and tls-alpn-01, wildcard and
//! multi-name orders, revocation into the CRL, key rollover, contact update, deactivation.
//! Only 127.0.0.1 is contacted; every test is bounded in time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use ferrite_testkit::bounded;
use std::collections::BTreeSet;

use ferrite_jose::Algorithm;
use ferrite_jose::sign::SigningKey;
use ferrite_testkit::ca::pem_chain;
use ferrite_testkit::raw::http_get;
use ferrite_testkit::{RawAccount, TestCa};
use instant_acme::{
    Account, ChallengeType, Identifier, NewAccount, NewOrder, OrderStatus, RetryPolicy,
    RevocationReason, RevocationRequest,
};
use rustls_pki_types::CertificateDer;
use serde_json::json;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

fn retry() -> RetryPolicy {
    RetryPolicy::new()
        .initial_delay(Duration::from_millis(100))
        .backoff(1.5)
        .timeout(Duration::from_secs(20))
}

/// Issues a certificate for `names` with `kind`; returns the chain PEM.
async fn issue(ca: &TestCa, account: &Account, names: &[&str], kind: ChallengeType) -> String {
    let ids: Vec<Identifier> = names.iter().map(|n| Identifier::Dns((*n).into())).collect();
    let mut order = account.new_order(&NewOrder::new(&ids)).await.unwrap();
    assert_eq!(order.state().status, OrderStatus::Pending);
    ca.answer(&mut order, kind).await;
    assert_eq!(
        order.poll_ready(&retry()).await.unwrap(),
        OrderStatus::Ready
    );
    order.finalize().await.unwrap();
    order.poll_certificate(&retry()).await.unwrap()
}

/// The chain parses, the leaf names are exactly `names`, chain[1] is the CA's intermediate, and
/// the leaf is signed by it. Returns the leaf DER.
fn check_chain(ca: &TestCa, chain_pem: &str, names: &[&str]) -> Vec<u8> {
    let chain = pem_chain(chain_pem);
    assert_eq!(chain.len(), 2, "leaf + intermediate: {chain_pem}");
    assert_eq!(chain[1], ca.ca.issuer().certificate_der());
    let (_, leaf) = X509Certificate::from_der(&chain[0]).unwrap();
    let (_, intermediate) = X509Certificate::from_der(&chain[1]).unwrap();
    leaf.verify_signature(Some(intermediate.public_key()))
        .expect("leaf signed by the intermediate");
    let san = leaf
        .subject_alternative_name()
        .unwrap()
        .expect("subjectAltName");
    let got: BTreeSet<String> = san
        .value
        .general_names
        .iter()
        .map(|n| match n {
            GeneralName::DNSName(d) => (*d).to_owned(),
            other => panic!("unexpected SAN {other:?}"),
        })
        .collect();
    let want: BTreeSet<String> = names.iter().map(|n| (*n).to_owned()).collect();
    assert_eq!(got, want);
    chain[0].clone()
}

#[tokio::test]
async fn issues_over_http01() {
    bounded(async {
        let ca = TestCa::start().await;
        let account = ca.new_account().await;
        let chain = issue(&ca, &account, &["a.example.com"], ChallengeType::Http01).await;
        check_chain(&ca, &chain, &["a.example.com"]);
        // The validator fetched the token from the responder, naming the domain.
        assert!(
            ca.http01
                .requests()
                .iter()
                .any(|r| r.host.as_deref() == Some("a.example.com"))
        );
    })
    .await;
}

#[tokio::test]
async fn issues_over_dns01() {
    bounded(async {
        let ca = TestCa::start().await;
        let account = ca.new_account().await;
        let chain = issue(&ca, &account, &["dns.example.com"], ChallengeType::Dns01).await;
        check_chain(&ca, &chain, &["dns.example.com"]);
        assert!(
            ca.dns
                .queries()
                .iter()
                .any(|q| q == "TXT _acme-challenge.dns.example.com"),
            "{:?}",
            ca.dns.queries()
        );
    })
    .await;
}

#[tokio::test]
async fn issues_over_tls_alpn01() {
    bounded(async {
        let ca = TestCa::start().await;
        let account = ca.new_account().await;
        let chain = issue(
            &ca,
            &account,
            &["tls.example.com"],
            ChallengeType::TlsAlpn01,
        )
        .await;
        check_chain(&ca, &chain, &["tls.example.com"]);
    })
    .await;
}

#[tokio::test]
async fn issues_wildcard_and_base_over_dns01() {
    bounded(async {
        let ca = TestCa::start().await;
        let account = ca.new_account().await;
        let names = ["*.wild.example.com", "wild.example.com"];
        let chain = issue(&ca, &account, &names, ChallengeType::Dns01).await;
        check_chain(&ca, &chain, &names);
    })
    .await;
}

#[tokio::test]
async fn issues_multi_name_order() {
    bounded(async {
        let ca = TestCa::start().await;
        let account = ca.new_account().await;
        let names = ["one.example.com", "two.example.com", "three.example.org"];
        let chain = issue(&ca, &account, &names, ChallengeType::Http01).await;
        check_chain(&ca, &chain, &names);
    })
    .await;
}

#[tokio::test]
async fn revoked_certificate_is_listed_in_the_crl() {
    bounded(async {
        let ca = TestCa::start().await;
        let account = ca.new_account().await;
        let chain = issue(&ca, &account, &["r.example.com"], ChallengeType::Http01).await;
        let leaf = check_chain(&ca, &chain, &["r.example.com"]);
        let (_, parsed) = X509Certificate::from_der(&leaf).unwrap();
        let serial = parsed.raw_serial().to_vec();

        let crl_serials = |der: &[u8]| -> Vec<(Vec<u8>, Option<u8>)> {
            let (_, crl) = CertificateRevocationList::from_der(der).unwrap();
            crl.iter_revoked_certificates()
                .map(|r| (r.raw_serial().to_vec(), r.reason_code().map(|(_, c)| c.0)))
                .collect()
        };
        let crl_url = ferrite_testkit::ca::crl_url(&leaf);
        assert!(
            crl_url.starts_with(&format!("{}/crl/", ca.public_url)),
            "{crl_url}"
        );
        let before = http_get(&crl_url).await;
        assert_eq!(before.status, 200);
        assert!(crl_serials(&before.body).is_empty());

        account
            .revoke(&RevocationRequest {
                certificate: &CertificateDer::from(leaf.clone()),
                reason: Some(RevocationReason::KeyCompromise),
            })
            .await
            .unwrap();

        let after = http_get(&crl_url).await;
        assert_eq!(after.status, 200);
        assert_eq!(
            after.header("content-type").as_deref(),
            Some("application/pkix-crl")
        );
        let (_, crl) = CertificateRevocationList::from_der(&after.body).unwrap();
        let (_, intermediate) =
            X509Certificate::from_der(ca.ca.issuer().certificate_der()).unwrap();
        crl.verify_signature(intermediate.public_key())
            .expect("CRL signed by the intermediate");
        let listed = crl_serials(&after.body);
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0].0, serial);
        assert_eq!(listed[0].1, Some(1), "reason keyCompromise (1)");

        // Revoking again is alreadyRevoked.
        let err = account
            .revoke(&RevocationRequest {
                certificate: &CertificateDer::from(leaf),
                reason: None,
            })
            .await
            .unwrap_err();
        assert_api_error(&err, "alreadyRevoked");
    })
    .await;
}

fn assert_api_error(err: &instant_acme::Error, kind: &str) {
    match err {
        instant_acme::Error::Api(p) => assert_eq!(
            p.r#type.as_deref(),
            Some(format!("urn:ietf:params:acme:error:{kind}").as_str()),
            "{p}"
        ),
        other => panic!("expected an ACME problem {kind}, got {other}"),
    }
}

/// An instant-acme account plus the same key as a [`SigningKey`] for hand-made requests.
async fn account_with_key(ca: &TestCa) -> (Account, RawAccount) {
    let (account, credentials) = ca
        .acme_builder()
        .create(
            &NewAccount {
                contact: &["mailto:admin@example.com"],
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            ca.directory_url.clone(),
            None,
        )
        .await
        .unwrap();
    let key = SigningKey::from_pkcs8(
        Algorithm::ES256,
        credentials.private_key().secret_pkcs8_der(),
    )
    .unwrap();
    let kid = account.id().to_owned();
    (account, RawAccount { key, kid })
}

#[tokio::test]
async fn key_rollover_moves_the_account_to_the_new_key() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let (mut account, old) = account_with_key(&ca).await;
        let credentials = account.update_key().await.unwrap();
        let new_key = SigningKey::from_pkcs8(
            Algorithm::ES256,
            credentials.private_key().secret_pkcs8_der(),
        )
        .unwrap();

        // The account keeps working under its new key, same URL.
        let chain = issue(&ca, &account, &["roll.example.com"], ChallengeType::Http01).await;
        check_chain(&ca, &chain, &["roll.example.com"]);
        let r = raw.post_as_get(&new_key, &old.kid, &old.kid).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

        // The old key is no longer the account's: its signature does not verify, and looking
        // it up finds no account.
        let r = raw.post_as_get(&old.key, &old.kid, &old.kid).await;
        assert_eq!(r.status, 400);
        assert_eq!(r.problem_type(), "malformed");
        let r = raw
            .post(
                &old.key,
                None,
                &ca.url("/acme/new-account"),
                Some(&json!({"onlyReturnExisting": true})),
            )
            .await;
        assert_eq!(r.status, 400);
        assert_eq!(r.problem_type(), "accountDoesNotExist");
        // The new key finds the same account.
        let r = raw
            .post(
                &new_key,
                None,
                &ca.url("/acme/new-account"),
                Some(&json!({"onlyReturnExisting": true})),
            )
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("location").as_deref(), Some(old.kid.as_str()));
    })
    .await;
}

#[tokio::test]
async fn contact_update_is_stored() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let (account, me) = account_with_key(&ca).await;
        account
            .update_contacts(&["mailto:new@example.com", "mailto:ops@example.org"])
            .await
            .unwrap();
        let r = raw.post_as_get(&me.key, &me.kid, &me.kid).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.json()["contact"],
            json!(["mailto:new@example.com", "mailto:ops@example.org"])
        );
        // An invalid contact is refused and leaves the account alone.
        let err = account
            .update_contacts(&["mailto:not an address"])
            .await
            .unwrap_err();
        assert_api_error(&err, "invalidContact");
        let r = raw.post_as_get(&me.key, &me.kid, &me.kid).await;
        assert_eq!(
            r.json()["contact"],
            json!(["mailto:new@example.com", "mailto:ops@example.org"])
        );
    })
    .await;
}

#[tokio::test]
async fn deactivated_account_is_unauthorized() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let (account, me) = account_with_key(&ca).await;
        let kept = account.clone();
        account.deactivate().await.unwrap();

        // §7.3.6: requests signed by a deactivated account are unauthorized.
        let ids = [Identifier::Dns("d.example.com".into())];
        let err = kept.new_order(&NewOrder::new(&ids)).await.err().unwrap();
        assert_api_error(&err, "unauthorized");
        let r = raw.post_as_get(&me.key, &me.kid, &me.kid).await;
        assert_eq!(r.status, 403);
        assert_eq!(r.problem_type(), "unauthorized");
        // newAccount with the same key does not resurrect it.
        let r = raw
            .post(
                &me.key,
                None,
                &ca.url("/acme/new-account"),
                Some(&json!({"termsOfServiceAgreed": true})),
            )
            .await;
        assert_eq!(r.status, 403);
        assert_eq!(r.problem_type(), "unauthorized");
    })
    .await;
}
