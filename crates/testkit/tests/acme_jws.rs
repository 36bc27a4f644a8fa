//! RFC 8555 §6 request rules, each sent by hand with `RawClient`: the directory and newNonce,
//! the headers every response carries, every account-key algorithm end to end, and each way a
//! JWS can be wrong with its own problem type and status.
//! Only 127.0.0.1 is contacted; every test is bounded in time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferrite_testkit::bounded;

use ferrite_jose::Algorithm;
use ferrite_jose::sign::SigningKey;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrite_core::{Ca, CoreError, SystemClock, TestClock};
use ferrite_proto::ProblemType;
use ferrite_testkit::{RawAccount, RawResponse, TestCa, TestCaOptions};
use serde_json::{Map, Value, json};

const JOSE: Option<&str> = Some("application/jose+json");

/// Every ACME response carries a fresh nonce, the directory link and a request id (§6.5,
/// §7.1); a problem document carries the same request id and its media type.
fn assert_common_headers(ca: &TestCa, r: &RawResponse) {
    let nonce = r.header("replay-nonce").expect("Replay-Nonce");
    assert!(nonce.len() >= 22, "nonce {nonce:?}");
    let index = format!("<{}>;rel=\"index\"", ca.directory_url);
    assert!(
        r.headers
            .get_all("link")
            .iter()
            .any(|v| v.to_str().ok() == Some(index.as_str())),
        "no {index} in {:?}",
        r.headers
    );
    let id = r.header("x-request-id").expect("X-Request-Id");
    assert!(!id.is_empty());
    if r.status >= 400 {
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("application/problem+json")
        );
        let p = r.json();
        assert_eq!(p["requestId"], json!(id), "{p}");
        assert_eq!(p["status"], json!(r.status), "{p}");
        assert!(!p["detail"].as_str().unwrap_or_default().is_empty(), "{p}");
    }
}

/// Asserts status and problem type (short name), plus the common headers.
#[track_caller]
fn assert_problem(ca: &TestCa, r: &RawResponse, status: u16, kind: &str) {
    assert_eq!(
        (r.status, r.problem_type().as_str()),
        (status, kind),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_common_headers(ca, r);
}

fn header(
    key: &SigningKey,
    kid: Option<&str>,
    nonce: Option<&str>,
    url: &str,
) -> Map<String, Value> {
    let mut h = Map::new();
    h.insert("alg".into(), key.algorithm().name().into());
    match kid {
        Some(kid) => h.insert("kid".into(), kid.into()),
        None => h.insert("jwk".into(), key.public_jwk().to_json()),
    };
    if let Some(nonce) = nonce {
        h.insert("nonce".into(), nonce.into());
    }
    h.insert("url".into(), url.into());
    h
}

#[tokio::test]
async fn directory_shape() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let r = raw.send("GET", &ca.directory_url, None, Vec::new()).await;
        assert_eq!(r.status, 200);
        assert_common_headers(&ca, &r);
        let d = r.json();
        for (field, path) in [
            ("newNonce", "/acme/new-nonce"),
            ("newAccount", "/acme/new-account"),
            ("newOrder", "/acme/new-order"),
            ("revokeCert", "/acme/revoke-cert"),
            ("keyChange", "/acme/key-change"),
        ] {
            assert_eq!(d[field], json!(ca.url(path)), "{field} in {d}");
        }
        // §7.1.1 / §9.7.6 metadata: CAA identities and whether EAB is required.
        assert!(d["meta"]["caaIdentities"].is_array(), "{d}");
        assert_eq!(d["meta"]["externalAccountRequired"], json!(false), "{d}");
    })
    .await;
}

#[tokio::test]
async fn new_nonce_head_and_get() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let url = ca.url("/acme/new-nonce");
        // §7.2: HEAD answers 200, GET 204, both with Cache-Control: no-store.
        let head = raw.send("HEAD", &url, None, Vec::new()).await;
        assert_eq!(head.status, 200);
        assert_eq!(head.header("cache-control").as_deref(), Some("no-store"));
        assert_common_headers(&ca, &head);
        let get = raw.send("GET", &url, None, Vec::new()).await;
        assert_eq!(get.status, 204);
        assert_eq!(get.header("cache-control").as_deref(), Some("no-store"));
        assert_common_headers(&ca, &get);
        assert_ne!(head.header("replay-nonce"), get.header("replay-nonce"));
        // §6.3: newNonce also answers POST-as-GET, verified like any request: `{}` is no JWS.
        let post = raw.send("POST", &url, JOSE, b"{}".to_vec()).await;
        assert_problem(&ca, &post, 400, "malformed");
    })
    .await;
}

#[tokio::test]
async fn every_account_key_algorithm_works_end_to_end() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        for alg in [
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::ES512,
            Algorithm::RS256,
            Algorithm::PS256,
            Algorithm::EdDSA,
        ] {
            let account = RawAccount::register(&raw, alg).await;
            let name = format!("{}.algs.example.com", alg.name().to_ascii_lowercase());
            // The key authorization uses this key's RFC 7638 thumbprint: validation proves
            // both sides compute it alike.
            let (order_url, order) = ca.raw_ready_order(&raw, &account, &[&name]).await;
            let r = raw
                .post_as_get(&account.key, &account.kid, &order_url)
                .await;
            assert_eq!(r.status, 200, "{alg:?}");
            assert_common_headers(&ca, &r);
            assert_eq!(r.json()["identifiers"], order["identifiers"]);
            let r = raw
                .post_as_get(&account.key, &account.kid, &account.kid)
                .await;
            assert_eq!(r.status, 200, "{alg:?}");
            assert_eq!(r.json()["status"], "valid");
        }
    })
    .await;
}

#[tokio::test]
async fn bad_nonces() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let account = RawAccount::register(&raw, Algorithm::ES256).await;
        let url = account.kid.clone();

        // Reused: the first use succeeds, the second is badNonce.
        let nonce = raw.nonce().await;
        let jws = account
            .key
            .sign(Some(&account.kid), Some(&nonce), &url, None)
            .unwrap();
        assert_eq!(raw.post_jws(&url, &jws).await.status, 200);
        let r = raw.post_jws(&url, &jws).await;
        assert_problem(&ca, &r, 400, "badNonce");

        // Unknown.
        let jws = account
            .key
            .sign(
                Some(&account.kid),
                Some("AAAAAAAAAAAAAAAAAAAAAA"),
                &url,
                None,
            )
            .unwrap();
        assert_problem(&ca, &raw.post_jws(&url, &jws).await, 400, "badNonce");

        // Missing.
        let jws = account
            .key
            .sign(Some(&account.kid), None, &url, None)
            .unwrap();
        assert_problem(&ca, &raw.post_jws(&url, &jws).await, 400, "badNonce");

        // §6.5: the nonce in a badNonce response is good for the retry.
        let r = raw.post_jws(&url, &jws).await;
        let fresh = r.header("replay-nonce").unwrap();
        let jws = account
            .key
            .sign(Some(&account.kid), Some(&fresh), &url, None)
            .unwrap();
        assert_eq!(raw.post_jws(&url, &jws).await.status, 200);
    })
    .await;
}

/// Nonces carry their expiry and a MAC under the store's key (`ferrite_core::nonce`): one past
/// its lifetime, one issued by another CA, and one with a flipped bit are all badNonce, and a
/// nonce is good on any connection of the CA that issued it.
#[tokio::test]
async fn expired_foreign_and_tampered_nonces() {
    bounded(async {
        let clock = Arc::new(TestClock::new(time::OffsetDateTime::now_utc()));
        let ca = TestCa::start_with(TestCaOptions {
            clock: clock.clone(),
            ..TestCaOptions::default()
        })
        .await;
        let raw = ca.raw();
        let account = RawAccount::register(&raw, Algorithm::ES256).await;
        let url = account.kid.clone();
        let send = |nonce: String| {
            let jws = account
                .key
                .sign(Some(&account.kid), Some(&nonce), &url, None)
                .unwrap();
            let raw = &raw;
            let url = url.clone();
            async move { raw.post_jws(&url, &jws).await }
        };

        // Expired: the engine's nonce lifetime has passed.
        let nonce = raw.nonce().await;
        clock.advance(ca.ca.config().nonce_lifetime + time::Duration::seconds(1));
        assert_problem(&ca, &send(nonce).await, 400, "badNonce");

        // Issued by another CA (another store, another key).
        let other = TestCa::start().await;
        let foreign = other.raw().nonce().await;
        assert_problem(&ca, &send(foreign).await, 400, "badNonce");

        // Tampered: one bit of the expiry flipped.
        let nonce = raw.nonce().await;
        let mut bytes = URL_SAFE_NO_PAD.decode(&nonce).unwrap();
        bytes[7] ^= 1;
        assert_problem(
            &ca,
            &send(URL_SAFE_NO_PAD.encode(bytes)).await,
            400,
            "badNonce",
        );

        // Fresh from a second connection of the same CA: accepted.
        let nonce = ca.raw().nonce().await;
        assert_eq!(send(nonce).await.status, 200);
    })
    .await;
}

/// Two instances on one database (`ferrite serve` twice on one data_dir): each opens its own
/// store (own writer thread, own connections) on the same files. They agree on the nonce key,
/// so a nonce from either is good at either, and it is good exactly once across both — also
/// when both redeem it at the same moment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_nonces_and_redeem_each_once() {
    bounded(async {
        let ca = TestCa::start().await;
        let first = &ca.ca;
        let store = ferrite_store::SqliteStore::open(&ca.data_dir().join("ferrite.db"))
            .await
            .unwrap();
        let va = ferrite_va::Va::new(ferrite_va::VaConfig {
            dns_resolver: Some(ca.dns.addr()),
            allow_private_addresses: true,
            dnssec: false,
            ..ferrite_va::VaConfig::default()
        })
        .unwrap();
        let second = Ca::new(
            Arc::new(store),
            Arc::new(va),
            Arc::new(SystemClock),
            first.issuer().clone(),
            first.config().clone(),
        );
        let bad_nonce = |result: Result<(), CoreError>| match result {
            Err(CoreError::Problem(p)) => p.kind == ProblemType::BadNonce,
            _ => false,
        };

        // The first instance's nonce at the second (whose key comes from the store), once.
        let nonce = first.new_nonce().await.unwrap();
        second.redeem_nonce(&nonce).await.unwrap();
        assert!(bad_nonce(second.redeem_nonce(&nonce).await));
        assert!(bad_nonce(first.redeem_nonce(&nonce).await));
        // And the other way round.
        let nonce = second.new_nonce().await.unwrap();
        first.redeem_nonce(&nonce).await.unwrap();
        assert!(bad_nonce(second.redeem_nonce(&nonce).await));

        // Redeemed by both at once, on two runtime threads released together: exactly one
        // wins, every time.
        for _ in 0..20 {
            let nonce = first.new_nonce().await.unwrap();
            let barrier = Arc::new(tokio::sync::Barrier::new(2));
            let redeem = |ca: Ca| {
                let (nonce, barrier) = (nonce.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    ca.redeem_nonce(&nonce).await
                })
            };
            let (a, b) = (redeem(first.clone()), redeem(second.clone()));
            let (a, b) = (a.await.unwrap(), b.await.unwrap());
            let (a_bad, b_bad) = (a.is_err(), b.is_err());
            assert!(a_bad != b_bad, "{a:?} {b:?}");
            assert!(bad_nonce(if a_bad { a } else { b }));
        }
    })
    .await;
}

#[tokio::test]
async fn url_must_match_the_request() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let account = RawAccount::register(&raw, Algorithm::ES256).await;
        // Signed for newOrder, sent to the account URL.
        let nonce = raw.nonce().await;
        let jws = account
            .key
            .sign(
                Some(&account.kid),
                Some(&nonce),
                &ca.url("/acme/new-order"),
                None,
            )
            .unwrap();
        let r = raw.post_jws(&account.kid, &jws).await;
        assert_problem(&ca, &r, 403, "unauthorized");
        // No url at all.
        let mut h = header(
            &account.key,
            Some(&account.kid),
            Some(&raw.nonce().await),
            "",
        );
        h.remove("url");
        let jws = account.key.sign_raw(&h, b"").unwrap();
        assert_problem(
            &ca,
            &raw.post_jws(&account.kid, &jws).await,
            400,
            "malformed",
        );
    })
    .await;
}

#[tokio::test]
async fn exactly_one_of_jwk_and_kid() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let account = RawAccount::register(&raw, Algorithm::ES256).await;
        let url = account.kid.clone();

        let mut both = header(
            &account.key,
            Some(&account.kid),
            Some(&raw.nonce().await),
            &url,
        );
        both.insert("jwk".into(), account.key.public_jwk().to_json());
        let jws = account.key.sign_raw(&both, b"").unwrap();
        assert_problem(&ca, &raw.post_jws(&url, &jws).await, 400, "malformed");

        let mut neither = header(
            &account.key,
            Some(&account.kid),
            Some(&raw.nonce().await),
            &url,
        );
        neither.remove("kid");
        let jws = account.key.sign_raw(&neither, b"").unwrap();
        assert_problem(&ca, &raw.post_jws(&url, &jws).await, 400, "malformed");

        // §6.2: newAccount takes jwk, never kid ...
        let new_account = ca.url("/acme/new-account");
        let r = raw
            .post(
                &account.key,
                Some(&account.kid),
                &new_account,
                Some(&json!({"termsOfServiceAgreed": true})),
            )
            .await;
        assert_problem(&ca, &r, 400, "malformed");
        // ... and every other resource takes kid, never jwk.
        let new_order = ca.url("/acme/new-order");
        let r = raw
            .post(
                &account.key,
                None,
                &new_order,
                Some(&json!({"identifiers": [{"type": "dns", "value": "a.example.com"}]})),
            )
            .await;
        assert_problem(&ca, &r, 400, "malformed");
    })
    .await;
}

#[tokio::test]
async fn none_and_mac_algorithms_are_bad_signature_algorithms() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let key = SigningKey::generate(Algorithm::ES256).unwrap();
        let url = ca.url("/acme/new-account");
        for alg in ["none", "HS256", "ES999"] {
            let mut h = header(&key, None, Some(&raw.nonce().await), &url);
            h.insert("alg".into(), alg.into());
            let jws = key.sign_raw(&h, b"{}").unwrap();
            let r = raw.post_jws(&url, &jws).await;
            assert_problem(&ca, &r, 400, "badSignatureAlgorithm");
            // §6.2: the problem lists the algorithms the server accepts.
            let algs = r.json()["algorithms"].clone();
            assert_eq!(
                algs,
                json!(["ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA"]),
                "{alg}"
            );
        }
        // An RSA alg on an EC key is also refused as an algorithm problem.
        let mut h = header(&key, None, Some(&raw.nonce().await), &url);
        h.insert("alg".into(), "RS256".into());
        let jws = key.sign_raw(&h, b"{}").unwrap();
        assert_problem(
            &ca,
            &raw.post_jws(&url, &jws).await,
            400,
            "badSignatureAlgorithm",
        );
    })
    .await;
}

#[tokio::test]
async fn unusable_jwks_are_bad_public_keys() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let key = SigningKey::generate(Algorithm::ES256).unwrap();
        let url = ca.url("/acme/new-account");
        let jwk = key.public_jwk().to_json();
        let mut with_private = jwk.clone();
        with_private["d"] = json!("AAAA");
        let mut off_curve = jwk.clone();
        off_curve["y"] = off_curve["x"].clone();
        let mut unknown_curve = jwk.clone();
        unknown_curve["crv"] = json!("P-192");
        let okp448 = json!({"kty": "OKP", "crv": "Ed448", "x": "AAAA"});
        for bad in [with_private, off_curve, unknown_curve, okp448] {
            let mut h = header(&key, None, Some(&raw.nonce().await), &url);
            h.insert("jwk".into(), bad.clone());
            let jws = key.sign_raw(&h, b"{}").unwrap();
            let r = raw.post_jws(&url, &jws).await;
            assert_problem(&ca, &r, 400, "badPublicKey");
        }
    })
    .await;
}

#[tokio::test]
async fn bad_signature_is_malformed_and_keeps_the_nonce() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let account = RawAccount::register(&raw, Algorithm::ES256).await;
        let url = account.kid.clone();
        let nonce = raw.nonce().await;
        let good = account
            .key
            .sign(Some(&account.kid), Some(&nonce), &url, None)
            .unwrap();
        // Same header and payload, another key's signature.
        let other = SigningKey::generate(Algorithm::ES256).unwrap();
        let h = header(&account.key, Some(&account.kid), Some(&nonce), &url);
        let mut bad = good.clone();
        bad["signature"] = other.sign_raw(&h, b"").unwrap()["signature"].clone();
        let r = raw.post_jws(&url, &bad).await;
        assert_problem(&ca, &r, 400, "malformed");
        // §6.5: only genuine requests consume nonces; the good request still goes through.
        assert_eq!(raw.post_jws(&url, &good).await.status, 200);
    })
    .await;
}

#[tokio::test]
async fn content_type_and_size() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let account = RawAccount::register(&raw, Algorithm::ES256).await;
        let url = account.kid.clone();
        let jws = account
            .key
            .sign(Some(&account.kid), Some(&raw.nonce().await), &url, None)
            .unwrap();
        let body = serde_json::to_vec(&jws).unwrap();
        for ct in [Some("application/json"), None, Some("text/plain")] {
            let r = raw.send("POST", &url, ct, body.clone()).await;
            assert_problem(&ca, &r, 415, "malformed");
        }
        // With parameters, and in any case (RFC 9110 §8.3.1), the media type still counts.
        let r = raw
            .send(
                "POST",
                &url,
                Some("application/jose+json; charset=utf-8"),
                body,
            )
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let jws = account
            .key
            .sign(Some(&account.kid), Some(&raw.nonce().await), &url, None)
            .unwrap();
        let r = raw
            .send(
                "POST",
                &url,
                Some("Application/JOSE+JSON"),
                serde_json::to_vec(&jws).unwrap(),
            )
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

        let payload = json!({"contact": [format!("mailto:{}@example.com", "a".repeat(70_000))]});
        let jws = account
            .key
            .sign(
                Some(&account.kid),
                Some(&raw.nonce().await),
                &url,
                Some(&payload),
            )
            .unwrap();
        let r = raw.post_jws(&url, &jws).await;
        assert_problem(&ca, &r, 413, "malformed");
    })
    .await;
}

#[tokio::test]
async fn malformed_bodies() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let account = RawAccount::register(&raw, Algorithm::ES256).await;
        let url = account.kid.clone();
        for body in [
            b"{".to_vec(),
            b"[]".to_vec(),
            b"".to_vec(),
            b"{\"protected\":1,\"payload\":\"\",\"signature\":\"\"}".to_vec(),
        ] {
            let r = raw.send("POST", &url, JOSE, body.clone()).await;
            assert_problem(&ca, &r, 400, "malformed");
        }
        let good = account
            .key
            .sign(Some(&account.kid), Some(&raw.nonce().await), &url, None)
            .unwrap();
        let protected = good["protected"].as_str().unwrap().to_owned();
        let signature = good["signature"].as_str().unwrap().to_owned();
        // Truncated base64url (a length no encoding produces), padded, and the standard
        // alphabet instead of the URL-safe one.
        let truncated = {
            let mut p = protected.clone();
            while p.len() % 4 != 1 {
                p.pop();
            }
            p
        };
        for (field, value) in [
            ("protected", truncated),
            ("protected", format!("{protected}==")),
            ("signature", format!("{signature}=")),
            (
                "signature",
                signature.replace('-', "+").replace('_', "/") + "+/",
            ),
        ] {
            let mut jws = good.clone();
            jws[field] = json!(value);
            let r = raw.post_jws(&url, &jws).await;
            assert_problem(&ca, &r, 400, "malformed");
        }
        // An unprotected header is refused (§6.2).
        let mut jws = good.clone();
        jws["header"] = json!({"kid": account.kid});
        assert_problem(&ca, &raw.post_jws(&url, &jws).await, 400, "malformed");
        // A payload that is not the JSON the resource needs.
        let r = raw
            .post(
                &account.key,
                Some(&account.kid),
                &ca.url("/acme/new-order"),
                Some(&json!({"identifiers": "a.example.com"})),
            )
            .await;
        assert_problem(&ca, &r, 400, "malformed");
        // The untouched request still works: none of the above used its nonce.
        assert_eq!(raw.post_jws(&url, &good).await.status, 200);
    })
    .await;
}

#[tokio::test]
async fn unknown_kid_is_account_does_not_exist() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let key = SigningKey::generate(Algorithm::ES256).unwrap();
        for kid in [
            ca.url("/acme/acct/AAAAAAAAAAAAAAAAAAAAAA"),
            "https://elsewhere.example/acct/1".to_owned(),
        ] {
            let r = raw
                .post(
                    &key,
                    Some(&kid),
                    &ca.url("/acme/new-order"),
                    Some(&json!({})),
                )
                .await;
            assert_problem(&ca, &r, 400, "accountDoesNotExist");
        }
    })
    .await;
}

#[tokio::test]
async fn unknown_paths_and_methods_are_problems() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let r = raw.send("GET", &ca.url("/nope"), None, Vec::new()).await;
        assert_problem(&ca, &r, 404, "malformed");
        // §6.3: requests that act, and the account's own resources, are POST-only.
        for path in [
            "/acme/new-account",
            "/acme/new-order",
            "/acme/order/x/finalize",
            "/acme/acct/x",
        ] {
            let r = raw.send("GET", &ca.url(path), None, Vec::new()).await;
            assert_problem(&ca, &r, 405, "malformed");
            assert!(
                r.header("allow").is_some_and(|a| a.contains("POST")),
                "{path}: {:?}",
                r.headers
            );
        }
        // Paths and queries the router cannot even decode are problems too, not plain text.
        let account = RawAccount::register(&raw, Algorithm::ES256).await;
        for url in [
            ca.url("/acme/order/%FF"),
            ca.url("/acme/authz/%C3%28"),
            format!("{}/orders?cursor=a&cursor=b", account.kid),
        ] {
            let r = raw.post_as_get(&account.key, &account.kid, &url).await;
            assert_problem(&ca, &r, 400, "malformed");
        }
    })
    .await;
}
