//! Every URL Ferrite links to can be fetched (RFC 8555 §6.3, §7.4.2): a full issuance by hand,
//! recording every response, then every `Link` target of every response, every resource URL
//! and the issuer certificate fetched with POST-as-GET and with plain GET. The account and its orders list are private: POST-as-GET
//! only, and a GET names the methods allowed.
//! Only 127.0.0.1 is contacted; every test is bounded in time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrite_jose::Algorithm;
use ferrite_testkit::{RawAccount, RawResponse, TestCa, assert_problem, bounded, challenge};
use serde_json::json;

/// Every `Link` header of `r` as (target, rel).
fn links(r: &RawResponse) -> Vec<(String, String)> {
    r.headers
        .get_all("link")
        .iter()
        .filter_map(|v| {
            let v = v.to_str().ok()?;
            let (target, params) = v.split_once(">;")?;
            let rel = params
                .split(';')
                .find_map(|p| p.trim().strip_prefix("rel="))?
                .trim_matches('"');
            Some((target.strip_prefix('<')?.to_owned(), rel.to_owned()))
        })
        .collect()
}

fn content_type(r: &RawResponse) -> String {
    r.header("content-type").unwrap_or_default()
}

/// The content type a linked resource must have.
fn expected_type(url: &str, base: &str) -> &'static str {
    if url.starts_with(&format!("{base}/acme/issuer-cert"))
        || url.starts_with(&format!("{base}/acme/cert/"))
    {
        "application/pem-certificate-chain"
    } else {
        "application/json"
    }
}

#[tokio::test]
async fn every_link_of_an_issuance_answers_post_as_get_and_get() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let mut responses = Vec::new();

        responses.push(
            raw.send("GET", &ca.url("/directory"), None, Vec::new())
                .await,
        );
        responses.push(
            raw.send("HEAD", &ca.url("/acme/new-nonce"), None, Vec::new())
                .await,
        );
        let key = ferrite_jose::sign::SigningKey::generate(Algorithm::ES256).unwrap();
        let r = raw
            .post(
                &key,
                None,
                &ca.url("/acme/new-account"),
                Some(&json!({"termsOfServiceAgreed": true})),
            )
            .await;
        assert_eq!(r.status, 201);
        let account = RawAccount {
            key,
            kid: r.header("location").unwrap(),
        };
        responses.push(r);

        let name = "links.example.com";
        let r = raw
            .post(
                &account.key,
                Some(&account.kid),
                &ca.url("/acme/new-order"),
                Some(&json!({"identifiers": [{"type": "dns", "value": name}]})),
            )
            .await;
        assert_eq!(r.status, 201);
        let order_url = r.header("location").unwrap();
        let order = r.json();
        responses.push(r);
        let authz_url = order["authorizations"][0].as_str().unwrap().to_owned();
        let r = raw
            .post_as_get(&account.key, &account.kid, &authz_url)
            .await;
        let authz = r.json();
        responses.push(r);
        let http01 = challenge(&authz, "http-01");
        let token = http01["token"].as_str().unwrap();
        ca.http01.set(token, &account.key_authorization(token));
        let challenge_url = http01["url"].as_str().unwrap().to_owned();
        let r = raw
            .post(
                &account.key,
                Some(&account.kid),
                &challenge_url,
                Some(&json!({})),
            )
            .await;
        assert_eq!(r.status, 200);
        responses.push(r);
        raw.poll(&account.key, &account.kid, &authz_url, |a| {
            a["status"] == "valid"
        })
        .await;
        responses.push(
            raw.post_as_get(&account.key, &account.kid, &challenge_url)
                .await,
        );
        let order = raw
            .poll(&account.key, &account.kid, &order_url, |o| {
                o["status"] == "ready"
            })
            .await;
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let csr = ferrite_testkit::ca::csr_der(&[name], &leaf_key);
        let r = raw
            .post(
                &account.key,
                Some(&account.kid),
                order["finalize"].as_str().unwrap(),
                Some(&json!({"csr": URL_SAFE_NO_PAD.encode(csr)})),
            )
            .await;
        assert_eq!(r.status, 200);
        responses.push(r);
        let order = raw
            .poll(&account.key, &account.kid, &order_url, |o| {
                o["status"] == "valid"
            })
            .await;
        let cert_url = order["certificate"].as_str().unwrap().to_owned();
        let r = raw.post_as_get(&account.key, &account.kid, &cert_url).await;
        assert_eq!(r.status, 200);
        responses.push(r);
        responses.push(
            raw.post_as_get(
                &account.key,
                &account.kid,
                &format!("{}/orders", account.kid),
            )
            .await,
        );
        responses.push(
            raw.post_as_get(&account.key, &account.kid, &account.kid)
                .await,
        );

        let mut targets = BTreeSet::new();
        for r in &responses {
            for (target, rel) in links(r) {
                targets.insert((target, rel));
            }
        }
        let rels: BTreeSet<&str> = targets.iter().map(|(_, rel)| rel.as_str()).collect();
        // The directory (every response) and the authorization (the challenge's "up"). The
        // certificate response has no "up": its chain is complete.
        assert_eq!(rels, BTreeSet::from(["index", "up"]), "{targets:?}");
        assert!(targets.iter().any(|(t, _)| *t == authz_url));
        assert!(
            !targets
                .iter()
                .any(|(t, _)| t.ends_with("/acme/issuer-cert")),
            "{targets:?}"
        );
        // The resources a client is handed in bodies and Location headers, and the issuer
        // certificate, answer both ways too.
        let issuer = ca.url("/acme/issuer-cert");
        for url in [&order_url, &authz_url, &challenge_url, &cert_url, &issuer] {
            targets.insert((url.clone(), "resource".to_owned()));
        }

        for (url, rel) in &targets {
            let want = expected_type(url, &ca.base_url);
            let r = raw.post_as_get(&account.key, &account.kid, url).await;
            assert_eq!(
                (r.status, content_type(&r).as_str()),
                (200, want),
                "POST-as-GET {url} (rel={rel}): {}",
                String::from_utf8_lossy(&r.body)
            );
            let r = raw.send("GET", url, None, Vec::new()).await;
            assert_eq!(
                (r.status, content_type(&r).as_str()),
                (200, want),
                "GET {url} (rel={rel}): {}",
                String::from_utf8_lossy(&r.body)
            );
        }

        // Both ways give the same issuer certificate, the one that signed the leaf.
        let by_post = raw.post_as_get(&account.key, &account.kid, &issuer).await;
        let by_get = raw.send("GET", &issuer, None, Vec::new()).await;
        assert_eq!(by_post.body, by_get.body);
        assert_eq!(
            String::from_utf8(by_get.body).unwrap(),
            ca.ca.issuer().certificate_pem()
        );
        // A plain GET of a challenge reads it and never starts anything.
        let r = raw.send("GET", &challenge_url, None, Vec::new()).await;
        assert_eq!(r.json()["status"], "valid");
    })
    .await;
}

#[tokio::test]
async fn post_as_get_of_linked_resources_is_verified_like_any_request() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let account = RawAccount::register(&raw, Algorithm::ES256).await;
        let issuer = ca.url("/acme/issuer-cert");
        for url in [
            issuer.clone(),
            ca.url("/directory"),
            ca.url("/acme/new-nonce"),
        ] {
            // A payload is not POST-as-GET.
            let r = raw
                .post(&account.key, Some(&account.kid), &url, Some(&json!({})))
                .await;
            assert_problem(&r, 400, "malformed");
            // The JWS url must be the URL posted to.
            let nonce = raw.nonce().await;
            let jws = account
                .key
                .sign(
                    Some(&account.kid),
                    Some(&nonce),
                    &ca.url("/elsewhere"),
                    None,
                )
                .unwrap();
            let r = raw.post_jws(&url, &jws).await;
            assert_problem(&r, 403, "unauthorized");
            // A nonce is good once.
            let nonce = raw.nonce().await;
            let jws = account
                .key
                .sign(Some(&account.kid), Some(&nonce), &url, None)
                .unwrap();
            let body = serde_json::to_vec(&jws).unwrap();
            let r = raw
                .send("POST", &url, Some("application/jose+json"), body.clone())
                .await;
            assert_eq!(r.status, 200, "{url}: {}", String::from_utf8_lossy(&r.body));
            assert!(r.header("replay-nonce").is_some());
            let r = raw
                .send("POST", &url, Some("application/jose+json"), body)
                .await;
            assert_problem(&r, 400, "badNonce");
            // An unknown account is refused.
            let stranger = ferrite_jose::sign::SigningKey::generate(Algorithm::ES256).unwrap();
            let r = raw
                .post_as_get(&stranger, &ca.url("/acme/acct/nobody"), &url)
                .await;
            assert_problem(&r, 400, "accountDoesNotExist");
        }
        // newNonce by POST-as-GET: 200 with a fresh nonce that is not cached.
        let r = raw
            .post_as_get(&account.key, &account.kid, &ca.url("/acme/new-nonce"))
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    })
    .await;
}

#[tokio::test]
async fn private_resources_answer_only_signed_posts() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let account = RawAccount::register(&raw, Algorithm::ES256).await;
        let (order_url, _) = ca
            .raw_new_order(&raw, &account, &["private.example.com"])
            .await;
        let orders = format!("{}/orders", account.kid);
        for url in [
            account.kid.clone(),
            orders,
            format!("{order_url}/finalize"),
            ca.url("/acme/new-account"),
            ca.url("/acme/new-order"),
            ca.url("/acme/key-change"),
            ca.url("/acme/revoke-cert"),
        ] {
            let r = raw.send("GET", &url, None, Vec::new()).await;
            assert_problem(&r, 405, "malformed");
            assert_eq!(r.header("allow").as_deref(), Some("POST"), "{url}");
            let detail = r.json()["detail"].as_str().unwrap().to_owned();
            assert!(detail.contains("GET is not allowed"), "{detail}");
        }
        // Another account's order, by POST-as-GET, is reported missing.
        let other = RawAccount::register(&raw, Algorithm::ES256).await;
        let r = raw.post_as_get(&other.key, &other.kid, &order_url).await;
        assert_problem(&r, 404, "malformed");
    })
    .await;
}

#[tokio::test]
async fn the_public_listener_serves_the_root_and_the_intermediate() {
    bounded(async {
        let ca = TestCa::start().await;
        let intermediate_pem = ca.ca.issuer().certificate_pem().to_owned();
        for (path, body, kind) in [
            (
                "/ca/root.pem",
                ca.root_pem.as_bytes().to_vec(),
                "application/x-pem-file",
            ),
            (
                "/ca/intermediate.pem",
                intermediate_pem.into_bytes(),
                "application/x-pem-file",
            ),
            (
                "/ca/intermediate.der",
                ca.ca.issuer().certificate_der().to_vec(),
                "application/pkix-cert",
            ),
        ] {
            let r = ferrite_testkit::raw::http_get(&format!("{}{path}", ca.public_url)).await;
            assert_eq!((r.status, content_type(&r).as_str()), (200, kind), "{path}");
            assert_eq!(r.body, body, "{path}");
        }
        // The file the CA tells clients to trust is the root it serves.
        assert_eq!(
            std::fs::read_to_string(&ca.root_pem_path).unwrap(),
            ca.root_pem
        );
    })
    .await;
}
