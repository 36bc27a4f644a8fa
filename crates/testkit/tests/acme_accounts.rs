//! Accounts (RFC 8555 §7.3) and access rules (§6.3, §7.1) by hand with `RawClient`:
//! newAccount and `onlyReturnExisting`, contacts, key-change rules and conflicts, POST-as-GET,
//! and one account never seeing another's objects.
//! Only 127.0.0.1 is contacted; every test is bounded in time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferrite_testkit::{assert_case_problem, assert_problem, bounded};

use ferrite_jose::Algorithm;
use ferrite_jose::sign::SigningKey;
use ferrite_testkit::{RawAccount, RawClient, RawResponse, TestCa};
use serde_json::{Map, Value, json};

async fn new_account(
    raw: &RawClient,
    ca: &TestCa,
    key: &SigningKey,
    payload: Value,
) -> RawResponse {
    raw.post(key, None, &ca.url("/acme/new-account"), Some(&payload))
        .await
}

#[tokio::test]
async fn new_account_and_only_return_existing() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let key = SigningKey::generate(Algorithm::ES256).unwrap();

        // §7.3.1: looking up an unknown key is accountDoesNotExist, and creates nothing.
        let r = new_account(&raw, &ca, &key, json!({"onlyReturnExisting": true})).await;
        assert_problem(&r, 400, "accountDoesNotExist");

        let r = new_account(
            &raw,
            &ca,
            &key,
            json!({"termsOfServiceAgreed": true, "contact": ["mailto:a@example.com"]}),
        )
        .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let location = r.header("location").expect("Location");
        assert!(location.starts_with(&ca.url("/acme/acct/")), "{location}");
        let body = r.json();
        assert_eq!(body["status"], "valid");
        assert_eq!(body["contact"], json!(["mailto:a@example.com"]));
        assert_eq!(body["orders"], json!(format!("{location}/orders")));

        // §7.3: the same key again is 200 with the same Location.
        let r = new_account(&raw, &ca, &key, json!({"termsOfServiceAgreed": true})).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("location").as_deref(), Some(location.as_str()));
        assert_eq!(r.json()["contact"], json!(["mailto:a@example.com"]));
        // onlyReturnExisting for a known key: 200 + Location.
        let r = new_account(&raw, &ca, &key, json!({"onlyReturnExisting": true})).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("location").as_deref(), Some(location.as_str()));
    })
    .await;
}

#[tokio::test]
async fn contacts_are_checked() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let key = SigningKey::generate(Algorithm::ES256).unwrap();
        for (contact, kind) in [
            ("mailto:", "invalidContact"),
            ("mailto:a@b@example.com", "invalidContact"),
            ("mailto:a@example.com?subject=hi", "invalidContact"),
            ("mailto:a@localhost", "invalidContact"),
            ("tel:+15555550100", "unsupportedContact"),
            ("https://example.com/me", "unsupportedContact"),
        ] {
            let r = new_account(&raw, &ca, &key, json!({"contact": [contact]})).await;
            assert_problem(&r, 400, kind);
        }
        // None of those created the account.
        let r = new_account(&raw, &ca, &key, json!({"onlyReturnExisting": true})).await;
        assert_problem(&r, 400, "accountDoesNotExist");
        // Contact updates follow the same rules.
        let account = RawAccount::register(&raw, Algorithm::ES256).await;
        let r = raw
            .post(
                &account.key,
                Some(&account.kid),
                &account.kid,
                Some(&json!({"contact": ["ftp://x"]})),
            )
            .await;
        assert_problem(&r, 400, "unsupportedContact");
        // An account status other than "deactivated" cannot be requested.
        let r = raw
            .post(
                &account.key,
                Some(&account.kid),
                &account.kid,
                Some(&json!({"status": "revoked"})),
            )
            .await;
        assert_problem(&r, 400, "malformed");
    })
    .await;
}

#[tokio::test]
async fn account_url_belongs_to_its_key() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let b = RawAccount::register(&raw, Algorithm::ES256).await;
        // B may not read or change A's account.
        let r = raw.post_as_get(&b.key, &b.kid, &a.kid).await;
        assert_problem(&r, 403, "unauthorized");
        let r = raw
            .post(
                &b.key,
                Some(&b.kid),
                &a.kid,
                Some(&json!({"status": "deactivated"})),
            )
            .await;
        assert_problem(&r, 403, "unauthorized");
        let r = raw.post_as_get(&a.key, &a.kid, &a.kid).await;
        assert_eq!(r.json()["status"], "valid");
        // Nor list its orders.
        let r = raw
            .post_as_get(&b.key, &b.kid, &format!("{}/orders", a.kid))
            .await;
        assert_problem(&r, 403, "unauthorized");
        // §7.3.6: A deactivates itself; the answer shows it, and A can do nothing more.
        let r = raw
            .post(
                &a.key,
                Some(&a.kid),
                &a.kid,
                Some(&json!({"status": "deactivated"})),
            )
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["status"], "deactivated");
        let r = raw.post_as_get(&a.key, &a.kid, &a.kid).await;
        assert_problem(&r, 403, "unauthorized");
        let r = raw
            .post(
                &a.key,
                Some(&a.kid),
                &ca.url("/acme/new-order"),
                Some(&json!({"identifiers": [{"type": "dns", "value": "a.example.com"}]})),
            )
            .await;
        assert_problem(&r, 403, "unauthorized");
        // B is unaffected.
        let r = raw.post_as_get(&b.key, &b.kid, &b.kid).await;
        assert_eq!(r.json()["status"], "valid");
    })
    .await;
}

/// A key-change request (§7.3.5): outer JWS by `account` (kid), inner JWS by `new_key` (jwk).
/// `tweak` may alter the inner header and payload before signing.
async fn key_change(
    ca: &TestCa,
    raw: &RawClient,
    account: &RawAccount,
    new_key: &SigningKey,
    tweak: impl FnOnce(&mut Map<String, Value>, &mut Value),
) -> RawResponse {
    let url = ca.url("/acme/key-change");
    let mut header = Map::new();
    header.insert("alg".into(), new_key.algorithm().name().into());
    header.insert("jwk".into(), new_key.public_jwk().to_json());
    header.insert("url".into(), url.clone().into());
    let mut payload = json!({"account": account.kid, "oldKey": account.key.public_jwk().to_json()});
    tweak(&mut header, &mut payload);
    let inner = new_key
        .sign_raw(&header, payload.to_string().as_bytes())
        .unwrap();
    raw.post(&account.key, Some(&account.kid), &url, Some(&inner))
        .await
}

/// How a key-change case alters the inner JWS's protected header and payload before signing.
type Tweak<'a> = Box<dyn Fn(&mut Map<String, Value>, &mut Value) + 'a>;

/// What a key-change case is answered: the HTTP status, the problem type and the Location.
type Answer<'a> = (u16, &'static str, Option<&'a str>);

#[tokio::test]
async fn key_change_rules() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let b = RawAccount::register(&raw, Algorithm::ES384).await;
        let fresh = SigningKey::generate(Algorithm::EdDSA).unwrap();
        let untouched: Tweak<'_> = Box::new(|_, _| {});

        // (case, the new key, the tweak, the answer)
        let cases: Vec<(&str, &SigningKey, Tweak<'_>, Answer<'_>)> = vec![
            // §7.3.5: the new key already belongs to B: 409 with B's URL in Location.
            (
                "the new key is another account's",
                &b.key,
                untouched,
                (409, "malformed", Some(&b.kid)),
            ),
            // The inner JWS must not carry a nonce, must have the outer url, must name the
            // account and its current key, and must be signed by the new key.
            (
                "the inner JWS has a nonce",
                &fresh,
                Box::new(|h, _| {
                    h.insert("nonce".into(), "abc".into());
                }),
                (400, "malformed", None),
            ),
            (
                "the inner url is not the outer url",
                &fresh,
                Box::new(|h, _| {
                    h.insert("url".into(), ca.url("/acme/new-order").into());
                }),
                (400, "malformed", None),
            ),
            (
                "the payload names another account",
                &fresh,
                Box::new(|_, p| p["account"] = json!(b.kid)),
                (400, "malformed", None),
            ),
            (
                "oldKey is another account's key",
                &fresh,
                Box::new(|_, p| p["oldKey"] = b.key.public_jwk().to_json()),
                (403, "unauthorized", None),
            ),
            (
                "the inner JWS names a kid instead of the new jwk",
                &fresh,
                Box::new(|h, _| {
                    h.remove("jwk");
                    h.insert("kid".into(), a.kid.clone().into());
                }),
                (400, "malformed", None),
            ),
        ];
        for (case, new_key, tweak, (status, kind, location)) in cases {
            let r = key_change(&ca, &raw, &a, new_key, |h, p| tweak(h, p)).await;
            assert_case_problem(case, &r, status, kind);
            assert_eq!(r.json()["status"], status, "{case}");
            assert_eq!(r.header("location").as_deref(), location, "{case}");
        }

        // None of that changed A's key; a correct request does.
        let r = raw.post_as_get(&a.key, &a.kid, &a.kid).await;
        assert_eq!(r.status, 200);
        let r = key_change(&ca, &raw, &a, &fresh, |_, _| {}).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let r = raw.post_as_get(&fresh, &a.kid, &a.kid).await;
        assert_eq!(r.status, 200);
        // The old ES256 key no longer fits the account's (Ed25519) key, as Boulder reports it.
        let r = raw.post_as_get(&a.key, &a.kid, &a.kid).await;
        assert_problem(&r, 400, "badSignatureAlgorithm");
    })
    .await;
}

#[tokio::test]
async fn post_as_get_is_required() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let issued = ca.raw_issue(&raw, &a, &["pag.example.com"]).await;
        let orders = format!("{}/orders", a.kid);
        // §6.3: a GET-style resource fetched with a payload (even `{}`) is malformed.
        for url in [
            issued.order_url.as_str(),
            issued.cert_url.as_str(),
            orders.as_str(),
        ] {
            let r = raw.post(&a.key, Some(&a.kid), url, Some(&json!({}))).await;
            assert_problem(&r, 400, "malformed");
            let r = raw.post_as_get(&a.key, &a.kid, url).await;
            assert_eq!(r.status, 200, "{url}");
        }
        // The orders list is private: no plain GET (orders and certificates answer GET,
        // tests/acme_links.rs).
        let r = raw.send("GET", &orders, None, Vec::new()).await;
        assert_problem(&r, 405, "malformed");
        // newOrder and finalize need a payload: POST-as-GET is malformed there.
        let r = raw
            .post_as_get(&a.key, &a.kid, &ca.url("/acme/new-order"))
            .await;
        assert_problem(&r, 400, "malformed");
        // The certificate comes as the whole PEM chain, leaf then intermediate, and without a
        // rel="up" link, which clients would follow and append the intermediate again.
        let r = raw.post_as_get(&a.key, &a.kid, &issued.cert_url).await;
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("application/pem-certificate-chain")
        );
        assert!(r.link("up").is_none(), "{:?}", r.headers);
        let chain = ferrite_testkit::ca::pem_chain(&String::from_utf8(r.body).unwrap());
        assert_eq!(chain.len(), 2);
        assert_eq!(chain[1], ca.ca.issuer().certificate_der());
    })
    .await;
}

#[tokio::test]
async fn another_accounts_objects_are_not_found() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let b = RawAccount::register(&raw, Algorithm::ES256).await;
        let issued = ca.raw_issue(&raw, &a, &["mine.example.com"]).await;
        let (pending_url, pending) = ca.raw_new_order(&raw, &a, &["pending.example.com"]).await;
        let authz_url = pending["authorizations"][0].as_str().unwrap().to_owned();
        let authz = raw.post_as_get(&a.key, &a.kid, &authz_url).await.json();
        let challenge_url = authz["challenges"][0]["url"].as_str().unwrap().to_owned();

        // B sees 404 for every one of A's objects, exactly as for an id that does not exist.
        let missing = raw
            .post_as_get(
                &b.key,
                &b.kid,
                &ca.url("/acme/order/AAAAAAAAAAAAAAAAAAAAAA"),
            )
            .await;
        assert_problem(&missing, 404, "malformed");
        let missing_detail = missing.json()["detail"].clone();
        for url in [&issued.order_url, &pending_url] {
            let r = raw.post_as_get(&b.key, &b.kid, url).await;
            assert_problem(&r, 404, "malformed");
            assert_eq!(
                r.json()["detail"],
                missing_detail,
                "the answer leaks nothing"
            );
        }
        for url in [&issued.cert_url, &authz_url, &challenge_url] {
            let r = raw.post_as_get(&b.key, &b.kid, url).await;
            assert_problem(&r, 404, "malformed");
        }
        // Nor can B act on them.
        let r = raw
            .post(&b.key, Some(&b.kid), &challenge_url, Some(&json!({})))
            .await;
        assert_problem(&r, 404, "malformed");
        let r = raw
            .post(
                &b.key,
                Some(&b.kid),
                &authz_url,
                Some(&json!({"status": "deactivated"})),
            )
            .await;
        assert_problem(&r, 404, "malformed");
        let r = raw
            .post(
                &b.key,
                Some(&b.kid),
                &format!("{pending_url}/finalize"),
                Some(&json!({"csr": "AAAA"})),
            )
            .await;
        assert_problem(&r, 404, "malformed");
        // A's objects are untouched.
        let r = raw.post_as_get(&a.key, &a.kid, &authz_url).await;
        assert_eq!(r.json()["status"], "pending");
        let r = raw.post_as_get(&a.key, &a.kid, &challenge_url).await;
        assert_eq!(r.json()["status"], "pending");
    })
    .await;
}

#[tokio::test]
async fn concurrent_new_account_creates_one() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let key = SigningKey::generate(Algorithm::ES256).unwrap();
        let payload = json!({"termsOfServiceAgreed": true});
        let (r1, r2, r3) = tokio::join!(
            new_account(&raw, &ca, &key, payload.clone()),
            new_account(&raw, &ca, &key, payload.clone()),
            new_account(&raw, &ca, &key, payload.clone())
        );
        let mut statuses = [r1.status, r2.status, r3.status];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 200, 201]);
        let location = r1.header("location").unwrap();
        assert_eq!(r2.header("location").as_deref(), Some(location.as_str()));
        assert_eq!(r3.header("location").as_deref(), Some(location.as_str()));
    })
    .await;
}
