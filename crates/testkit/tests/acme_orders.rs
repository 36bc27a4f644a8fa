//! Orders, authorizations, challenges and finalize (RFC 8555 §7.1.2.1, §7.4, §7.5) by hand
//! with `RawClient`: identifier rules, wildcard challenges, requested validity, the orders
//! list, deactivation, every finalize refusal, and failed or slow validations.
//! Only 127.0.0.1 (and ::1, to have an address nothing listens on) is contacted; every test is
//! bounded in time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferrite_testkit::{assert_case_problem, assert_problem, bounded, challenge};
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv6Addr};

use ferrite_jose::Algorithm;
use ferrite_testkit::ca::{csr_der, csr_der_with, pem_chain};
use ferrite_testkit::{RawAccount, RawClient, RawResponse, TestCa, TestCaOptions};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use x509_parser::prelude::{FromDer, X509Certificate};

async fn post_order(raw: &RawClient, ca: &TestCa, a: &RawAccount, payload: Value) -> RawResponse {
    raw.post(
        &a.key,
        Some(&a.kid),
        &ca.url("/acme/new-order"),
        Some(&payload),
    )
    .await
}

fn dns(names: &[&str]) -> Value {
    json!(
        names
            .iter()
            .map(|n| json!({"type": "dns", "value": n}))
            .collect::<Vec<_>>()
    )
}

#[tokio::test]
async fn identifiers_are_checked() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;

        // One bad name: rejectedIdentifier about that identifier.
        for bad in [
            "under_score.example.com",
            "com",
            "a..example.com",
            "*.*.example.com",
            "-a.example.com",
        ] {
            let r = post_order(&raw, &ca, &a, json!({"identifiers": dns(&[bad])})).await;
            assert_problem(&r, 400, "rejectedIdentifier");
            assert_eq!(r.json()["identifier"]["value"], bad);
        }
        // An IP address (RFC 8738) or a type ACME has no rules for: unsupportedIdentifier,
        // with a subproblem naming the identifier as sent (§6.7.1) and a detail that says
        // what is supported.
        for id in [
            json!({"type": "ip", "value": "192.0.2.1"}),
            json!({"type": "email", "value": "a@example.com"}),
        ] {
            let r = post_order(&raw, &ca, &a, json!({"identifiers": [id.clone()]})).await;
            assert_problem(&r, 400, "unsupportedIdentifier");
            let p = r.json();
            let detail = p["detail"].as_str().unwrap();
            assert!(
                detail.contains("dns identifiers only") && detail.contains("RFC 8738"),
                "{p}"
            );
            assert_eq!(p["identifier"], id);
            assert_eq!(p["subproblems"].as_array().unwrap().len(), 1, "{p}");
            assert_eq!(
                p["subproblems"][0]["type"],
                "urn:ietf:params:acme:error:unsupportedIdentifier"
            );
            assert_eq!(p["subproblems"][0]["identifier"], id);
        }
        // Two unsupported: one unsupportedIdentifier with both.
        let r = post_order(
            &raw,
            &ca,
            &a,
            json!({"identifiers": [
                {"type": "ip", "value": "192.0.2.1"},
                {"type": "email", "value": "a@example.com"},
            ]}),
        )
        .await;
        assert_problem(&r, 400, "unsupportedIdentifier");
        assert_eq!(r.json()["subproblems"].as_array().unwrap().len(), 2);
        // Refused for different reasons: compound, a subproblem per identifier (§6.7.1).
        let r = post_order(
            &raw,
            &ca,
            &a,
            json!({"identifiers": [
                {"type": "dns", "value": "ok.example.com"},
                {"type": "dns", "value": "bad_one.example.com"},
                {"type": "ip", "value": "192.0.2.1"},
            ]}),
        )
        .await;
        assert_problem(&r, 400, "compound");
        let p = r.json();
        let subs = p["subproblems"].as_array().unwrap();
        assert_eq!(subs.len(), 2, "{p}");
        assert_eq!(
            subs[0]["type"],
            "urn:ietf:params:acme:error:rejectedIdentifier"
        );
        assert_eq!(subs[0]["identifier"]["value"], "bad_one.example.com");
        assert_eq!(
            subs[1]["type"],
            "urn:ietf:params:acme:error:unsupportedIdentifier"
        );
        assert_eq!(
            subs[1]["identifier"],
            json!({"type": "ip", "value": "192.0.2.1"})
        );
        // No identifiers at all; an identifier type that is not a string.
        let r = post_order(&raw, &ca, &a, json!({"identifiers": []})).await;
        assert_problem(&r, 400, "malformed");
        let r = post_order(
            &raw,
            &ca,
            &a,
            json!({"identifiers": [{"type": 7, "value": "a@example.com"}]}),
        )
        .await;
        assert_problem(&r, 400, "malformed");

        // Case and duplicates are normalized: one authorization per name.
        let r = post_order(
            &raw,
            &ca,
            &a,
            json!({"identifiers": dns(&["Mixed.Example.com", "mixed.example.com"])}),
        )
        .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let o = r.json();
        assert_eq!(o["identifiers"], dns(&["mixed.example.com"]));
        assert_eq!(o["authorizations"].as_array().unwrap().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn wildcard_only_offers_dns01() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let (_, order) = ca
            .raw_new_order(&raw, &a, &["*.w.example.com", "w.example.com"])
            .await;
        let mut seen = BTreeSet::new();
        for url in order["authorizations"].as_array().unwrap() {
            let authz = raw
                .post_as_get(&a.key, &a.kid, url.as_str().unwrap())
                .await
                .json();
            // §7.1.4: the identifier is the base name; `wildcard` marks the wildcard one.
            assert_eq!(
                authz["identifier"],
                json!({"type": "dns", "value": "w.example.com"})
            );
            let types: BTreeSet<String> = authz["challenges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["type"].as_str().unwrap().to_owned())
                .collect();
            if authz["wildcard"] == json!(true) {
                assert_eq!(types, BTreeSet::from(["dns-01".to_owned()]), "{authz}");
            } else {
                assert!(authz.get("wildcard").is_none() || authz["wildcard"] == json!(false));
                assert_eq!(
                    types,
                    BTreeSet::from(["dns-01", "http-01", "tls-alpn-01"].map(str::to_owned)),
                    "{authz}"
                );
            }
            seen.insert(authz["wildcard"] == json!(true));
        }
        assert_eq!(seen.len(), 2, "one wildcard and one plain authorization");
    })
    .await;
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap()
}

#[tokio::test]
async fn requested_validity_is_honoured_or_refused() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
        let not_before = now + time::Duration::hours(2);
        let not_after = now + time::Duration::days(10);

        // Bad requests: malformed, with a reason.
        for (nb, na) in [
            (Some("yesterday".to_owned()), None),
            (None, Some("2026-13-45T00:00:00Z".to_owned())),
            (Some(rfc3339(now + time::Duration::days(30))), None),
            (Some(rfc3339(now - time::Duration::days(2))), None),
            (Some(rfc3339(not_after)), Some(rfc3339(not_before))),
            (None, Some(rfc3339(now + time::Duration::days(400)))),
        ] {
            let mut payload = json!({"identifiers": dns(&["v.example.com"])});
            if let Some(nb) = &nb {
                payload["notBefore"] = json!(nb);
            }
            if let Some(na) = &na {
                payload["notAfter"] = json!(na);
            }
            let r = post_order(&raw, &ca, &a, payload).await;
            assert_problem(&r, 400, "malformed");
            assert!(!r.json()["detail"].as_str().unwrap().is_empty());
        }

        // A good request: the order echoes it and the certificate carries it exactly.
        let r = post_order(
            &raw,
            &ca,
            &a,
            json!({
                "identifiers": dns(&["v.example.com"]),
                "notBefore": rfc3339(not_before),
                "notAfter": rfc3339(not_after),
            }),
        )
        .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let order_url = r.header("location").unwrap();
        let order = r.json();
        let echoed =
            |field: &str| OffsetDateTime::parse(order[field].as_str().unwrap(), &Rfc3339).unwrap();
        assert_eq!(echoed("notBefore"), not_before);
        assert_eq!(echoed("notAfter"), not_after);
        let authz = ca
            .raw_validate_http01(&raw, &a, order["authorizations"][0].as_str().unwrap())
            .await;
        assert_eq!(authz["status"], "valid");
        let key = rcgen::KeyPair::generate().unwrap();
        let r = ca
            .raw_finalize(&raw, &a, &order, &csr_der(&["v.example.com"], &key))
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let order = raw
            .poll(&a.key, &a.kid, &order_url, |o| o["status"] != "processing")
            .await;
        let cert = raw
            .post_as_get(&a.key, &a.kid, order["certificate"].as_str().unwrap())
            .await;
        let der = pem_chain(&String::from_utf8(cert.body).unwrap()).remove(0);
        let (_, leaf) = X509Certificate::from_der(&der).unwrap();
        assert_eq!(leaf.validity().not_before.to_datetime(), not_before);
        assert_eq!(leaf.validity().not_after.to_datetime(), not_after);
    })
    .await;
}

#[tokio::test]
async fn orders_list_is_paginated() {
    bounded(async {
        let ca =
            TestCa::start_with(TestCaOptions::default().with_engine(|c| c.orders_page_size = 2))
                .await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let other = RawAccount::register(&raw, Algorithm::ES256).await;
        ca.raw_new_order(&raw, &other, &["other.example.com"]).await;
        let mut created = Vec::new();
        for i in 0..7 {
            let (url, order) = ca
                .raw_new_order(&raw, &a, &[&format!("o{i}.example.com")])
                .await;
            // §7.1.2.1: invalid orders SHOULD NOT be listed; make two of them invalid.
            if i == 1 || i == 5 {
                let r = raw
                    .post(
                        &a.key,
                        Some(&a.kid),
                        order["authorizations"][0].as_str().unwrap(),
                        Some(&json!({"status": "deactivated"})),
                    )
                    .await;
                assert_eq!(r.status, 200);
            } else {
                created.push(url);
            }
        }
        let account = raw.post_as_get(&a.key, &a.kid, &a.kid).await.json();
        let mut url = account["orders"].as_str().unwrap().to_owned();
        let mut listed = Vec::new();
        let mut pages = Vec::new();
        for _ in 0..10 {
            let r = raw.post_as_get(&a.key, &a.kid, &url).await;
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
            let page: Vec<String> = r.json()["orders"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o.as_str().unwrap().to_owned())
                .collect();
            pages.push(page.len());
            listed.extend(page);
            match r.link("next") {
                Some(n) => url = n,
                None => break,
            }
        }
        assert_eq!(pages, vec![2, 2, 1]);
        // Newest first, each order once, none invalid, none of the other account's.
        created.reverse();
        assert_eq!(listed, created);
        // A cursor that is no order of this account gives an empty list, not an error.
        let r = raw
            .post_as_get(&a.key, &a.kid, &format!("{}/orders?cursor=nope", a.kid))
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["orders"], json!([]));
    })
    .await;
}

#[tokio::test]
async fn authorization_deactivation() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let deactivate = json!({"status": "deactivated"});

        // A pending authorization: deactivated, and its order becomes invalid.
        let (order_url, order) = ca.raw_new_order(&raw, &a, &["p.example.com"]).await;
        let authz_url = order["authorizations"][0].as_str().unwrap();
        let r = raw
            .post(&a.key, Some(&a.kid), authz_url, Some(&deactivate))
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["status"], "deactivated");
        let o = raw.post_as_get(&a.key, &a.kid, &order_url).await.json();
        assert_eq!(o["status"], "invalid");
        // Its challenges can no longer be started.
        let authz = raw.post_as_get(&a.key, &a.kid, authz_url).await.json();
        assert_eq!(authz["status"], "deactivated");
        let chall = authz["challenges"][0]["url"].as_str().unwrap();
        let r = raw
            .post(&a.key, Some(&a.kid), chall, Some(&json!({})))
            .await;
        assert_eq!(r.json()["status"], "pending", "{}", r.json());
        // Deactivating twice, or asking for another status, is malformed.
        let r = raw
            .post(&a.key, Some(&a.kid), authz_url, Some(&deactivate))
            .await;
        assert_problem(&r, 400, "malformed");

        // A valid authorization: deactivated, the ready order becomes invalid, and a new order
        // for the name needs a fresh validation rather than reusing it.
        let (order_url, order) = ca.raw_ready_order(&raw, &a, &["v.example.com"]).await;
        let authz_url = order["authorizations"][0].as_str().unwrap();
        let r = raw
            .post(
                &a.key,
                Some(&a.kid),
                authz_url,
                Some(&json!({"status": "valid"})),
            )
            .await;
        assert_problem(&r, 400, "malformed");
        let r = raw
            .post(&a.key, Some(&a.kid), authz_url, Some(&deactivate))
            .await;
        assert_eq!(r.json()["status"], "deactivated");
        let o = raw.post_as_get(&a.key, &a.kid, &order_url).await.json();
        assert_eq!(o["status"], "invalid");
        let (_, again) = ca.raw_new_order(&raw, &a, &["v.example.com"]).await;
        assert_eq!(again["status"], "pending");
        assert_ne!(again["authorizations"][0], json!(authz_url));
    })
    .await;
}

#[tokio::test]
async fn valid_authorization_is_reused() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let b = RawAccount::register(&raw, Algorithm::ES256).await;
        let (_, first) = ca.raw_new_order(&raw, &a, &["reuse.example.com"]).await;
        let authz_url = first["authorizations"][0].as_str().unwrap();
        let pending = raw.post_as_get(&a.key, &a.kid, authz_url).await.json();
        let dns01_url = challenge(&pending, "dns-01")["url"]
            .as_str()
            .unwrap()
            .to_owned();
        let authz = ca.raw_validate_http01(&raw, &a, authz_url).await;
        // §7.1.4: a valid authorization lists the challenge that was validated, and only it;
        // the others are gone.
        let challenges = authz["challenges"].as_array().unwrap();
        assert_eq!(challenges.len(), 1, "{authz}");
        assert_eq!(challenges[0]["type"], "http-01");
        assert_eq!(challenges[0]["status"], "valid");
        let validated = challenges[0]["validated"].as_str().expect("validated");
        OffsetDateTime::parse(validated, &Rfc3339).unwrap();
        let r = raw
            .post(&a.key, Some(&a.kid), &dns01_url, Some(&json!({})))
            .await;
        assert_problem(&r, 404, "malformed");
        let (_, second) = ca.raw_new_order(&raw, &a, &["reuse.example.com"]).await;
        assert_eq!(second["status"], "ready");
        assert_eq!(second["authorizations"], first["authorizations"]);
        // Never across accounts.
        let (_, other) = ca.raw_new_order(&raw, &b, &["reuse.example.com"]).await;
        assert_eq!(other["status"], "pending");
    })
    .await;
}

/// What a finalize case sends.
enum Finalize {
    /// This DER CSR, as unpadded base64url (what clients send).
    Csr(Vec<u8>),
    /// This payload, as is.
    Payload(Value),
}

/// A problem type's short name, or a fragment of a detail; `None` where there is none.
type Short = Option<&'static str>;

#[tokio::test]
async fn finalize_refusals() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let names = ["f.example.com", "g.example.com"];
        let good_key = rcgen::KeyPair::generate().unwrap();
        let (_, pending) = ca.raw_new_order(&raw, &a, &["early.example.com"]).await;
        let (order_url, order) = ca.raw_ready_order(&raw, &a, &names).await;
        let p384 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let account_key = rcgen::KeyPair::try_from(a.key.pkcs8_der().as_slice()).unwrap();
        let good = csr_der(&names, &good_key);

        // Run in order: the last two finalize the ready order and try again. (case, order,
        // what is sent, HTTP status, problem type or None for success, detail fragment)
        let cases: Vec<(&str, &Value, Finalize, u16, Short, Short)> = vec![
            // §7.4: finalize before the order is ready.
            (
                "before the order is ready",
                &pending,
                Finalize::Csr(csr_der(&["early.example.com"], &good_key)),
                403,
                Some("orderNotReady"),
                None,
            ),
            // Names that differ from the identifiers: missing one, an extra one.
            (
                "a name missing",
                &order,
                Finalize::Csr(csr_der(&["f.example.com"], &good_key)),
                400,
                Some("badCSR"),
                Some("g.example.com"),
            ),
            (
                "an extra name",
                &order,
                Finalize::Csr(csr_der(
                    &["f.example.com", "g.example.com", "h.example.com"],
                    &good_key,
                )),
                400,
                Some("badCSR"),
                Some("h.example.com"),
            ),
            (
                "an Extended Key Usage",
                &order,
                Finalize::Csr(csr_der_with(&names, &good_key, |p| {
                    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth]
                })),
                400,
                Some("badCSR"),
                Some("Extended Key Usage"),
            ),
            // A P-384 key signs with ECDSA-SHA384: refused, naming the algorithm.
            (
                "SHA-384",
                &order,
                Finalize::Csr(csr_der(&names, &p384)),
                400,
                Some("badCSR"),
                Some("SHA-384"),
            ),
            (
                "the account key as the certificate key",
                &order,
                Finalize::Csr(csr_der(&names, &account_key)),
                400,
                Some("badCSR"),
                Some("account key"),
            ),
            (
                "not a CSR",
                &order,
                Finalize::Csr(b"not a csr".to_vec()),
                400,
                Some("badCSR"),
                None,
            ),
            (
                "not base64url",
                &order,
                Finalize::Payload(json!({"csr": "****"})),
                400,
                Some("badCSR"),
                None,
            ),
            // None of that spent the order: a good CSR is accepted, once.
            (
                "a good CSR",
                &order,
                Finalize::Csr(good.clone()),
                200,
                None,
                None,
            ),
            (
                "the good CSR again",
                &order,
                Finalize::Csr(good),
                403,
                Some("orderNotReady"),
                None,
            ),
        ];
        for (case, target, sent, status, kind, fragment) in cases {
            let r = match sent {
                Finalize::Csr(csr) => ca.raw_finalize(&raw, &a, target, &csr).await,
                Finalize::Payload(payload) => {
                    let url = target["finalize"].as_str().unwrap();
                    raw.post(&a.key, Some(&a.kid), url, Some(&payload)).await
                }
            };
            let Some(kind) = kind else {
                let body = String::from_utf8_lossy(&r.body);
                assert_eq!(r.status, status, "{case}: {body}");
                assert_eq!(
                    r.header("location").as_deref(),
                    Some(order_url.as_str()),
                    "{case}"
                );
                continue;
            };
            let detail = assert_case_problem(case, &r, status, kind);
            if let Some(fragment) = fragment {
                assert!(detail.contains(fragment), "{case}: {detail}");
            }
            if std::ptr::eq(target, &order) && status == 400 {
                let o = raw.post_as_get(&a.key, &a.kid, &order_url).await.json();
                assert_eq!(o["status"], "ready", "{case}: the refusal spent the order");
            }
        }
    })
    .await;
}

/// Waits for the authorization to fail, then checks the challenge error type and that the
/// order is invalid too.
async fn expect_failure(
    raw: &RawClient,
    a: &RawAccount,
    order_url: &str,
    authz_url: &str,
    kind: &str,
    error_types: &[&str],
) -> Value {
    let authz = raw
        .poll(&a.key, &a.kid, authz_url, |z| z["status"] != "pending")
        .await;
    assert_eq!(authz["status"], "invalid", "{authz}");
    let challenge = challenge(&authz, kind).clone();
    assert_eq!(challenge["status"], "invalid", "{challenge}");
    let t = challenge["error"]["type"].as_str().unwrap_or_default();
    assert!(
        error_types
            .iter()
            .any(|e| t == format!("urn:ietf:params:acme:error:{e}")),
        "{challenge}"
    );
    assert!(!challenge["error"]["detail"].as_str().unwrap().is_empty());
    // §7.1.4: an invalid authorization lists the challenge that was attempted, and only it.
    assert_eq!(authz["challenges"].as_array().unwrap().len(), 1, "{authz}");
    let order = raw.post_as_get(&a.key, &a.kid, order_url).await.json();
    assert_eq!(order["status"], "invalid", "{order}");
    challenge
}

#[tokio::test]
async fn failed_validations_explain_themselves() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;

        // http-01 serving the wrong key authorization: incorrectResponse.
        let (order_url, order) = ca.raw_new_order(&raw, &a, &["wrong.example.com"]).await;
        let authz_url = order["authorizations"][0].as_str().unwrap();
        let authz = raw.post_as_get(&a.key, &a.kid, authz_url).await.json();
        let token = challenge(&authz, "http-01")["token"]
            .as_str()
            .unwrap()
            .to_owned();
        ca.http01
            .set(&token, &format!("{token}.not-the-thumbprint"));
        let (authz_url, _) = raw.start_challenge(&a, &order, "http-01").await;
        expect_failure(
            &raw,
            &a,
            &order_url,
            &authz_url,
            "http-01",
            &["incorrectResponse"],
        )
        .await;

        // dns-01 with the TXT lookup failing: dns.
        let (order_url, order) = ca.raw_new_order(&raw, &a, &["nodns.example.com"]).await;
        ca.dns.set_servfail("_acme-challenge.nodns.example.com");
        let (authz_url, _) = raw.start_challenge(&a, &order, "dns-01").await;
        expect_failure(&raw, &a, &order_url, &authz_url, "dns-01", &["dns"]).await;

        // http-01 to an address nothing listens on: connection.
        let (order_url, order) = ca.raw_new_order(&raw, &a, &["closed.example.com"]).await;
        ca.dns
            .set_a("closed.example.com", vec![IpAddr::V6(Ipv6Addr::LOCALHOST)]);
        let (authz_url, _) = raw.start_challenge(&a, &order, "http-01").await;
        expect_failure(&raw, &a, &order_url, &authz_url, "http-01", &["connection"]).await;

        // A failed challenge is final: responding again does not restart it.
        let authz = raw.post_as_get(&a.key, &a.kid, &authz_url).await.json();
        let url = challenge(&authz, "http-01")["url"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = raw.post(&a.key, Some(&a.kid), &url, Some(&json!({}))).await;
        assert_eq!(r.json()["status"], "invalid");
    })
    .await;
}

#[tokio::test]
async fn processing_challenge_says_retry_after() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let (order_url, order) = ca.raw_new_order(&raw, &a, &["slow.example.com"]).await;
        // The TXT lookup never answers, so the validation stays in progress for a while.
        ca.dns.set_unresponsive("_acme-challenge.slow.example.com");
        let (authz_url, r) = raw.start_challenge(&a, &order, "dns-01").await;
        let challenge = r.json();
        assert_eq!(challenge["status"], "processing", "{challenge}");
        assert_eq!(r.header("retry-after").as_deref(), Some("1"));
        assert!(
            r.headers
                .get_all("link")
                .iter()
                .any(|l| l.to_str().unwrap() == format!("<{authz_url}>;rel=\"up\"")),
            "{:?}",
            r.headers
        );
        // Polling the challenge and the authorization says the same.
        let r = raw
            .post_as_get(&a.key, &a.kid, challenge["url"].as_str().unwrap())
            .await;
        assert_eq!(r.json()["status"], "processing");
        assert_eq!(r.header("retry-after").as_deref(), Some("1"));
        let r = raw.post_as_get(&a.key, &a.kid, &authz_url).await;
        assert_eq!(r.json()["status"], "pending");
        assert_eq!(r.header("retry-after").as_deref(), Some("1"));
        // A second response while processing starts nothing new and is not an error.
        let r = raw
            .post(
                &a.key,
                Some(&a.kid),
                challenge["url"].as_str().unwrap(),
                Some(&json!({})),
            )
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["status"], "processing");
        // It ends: the lookup times out and the validation fails.
        expect_failure(
            &raw,
            &a,
            &order_url,
            &authz_url,
            "dns-01",
            &["dns", "connection"],
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn concurrent_finalize_issues_once() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let (order_url, order) = ca.raw_ready_order(&raw, &a, &["race.example.com"]).await;
        let key = rcgen::KeyPair::generate().unwrap();
        let csr = csr_der(&["race.example.com"], &key);
        let (r1, r2) = tokio::join!(
            ca.raw_finalize(&raw, &a, &order, &csr),
            ca.raw_finalize(&raw, &a, &order, &csr)
        );
        let mut statuses = [r1.status, r2.status];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 403], "{r1:?} {r2:?}");
        let loser = if r1.status == 403 { &r1 } else { &r2 };
        assert_problem(loser, 403, "orderNotReady");
        let winner = if r1.status == 200 { &r1 } else { &r2 };
        let o = raw.post_as_get(&a.key, &a.kid, &order_url).await.json();
        assert_eq!(o["status"], "valid");
        assert_eq!(o["certificate"], winner.json()["certificate"]);
    })
    .await;
}

/// An account with many invalid orders cannot make one list request scan them all: a page
/// examines at most ten pages' worth of rows and then hands out a `next` link.
#[tokio::test]
async fn orders_list_bounds_the_rows_one_request_examines() {
    bounded(async {
        let ca =
            TestCa::start_with(TestCaOptions::default().with_engine(|c| c.orders_page_size = 1))
                .await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let (live, _) = ca.raw_new_order(&raw, &a, &["live.example.com"]).await;
        // Twelve newer orders, each made invalid by deactivating its authorization.
        for i in 0..12 {
            let (_, order) = ca
                .raw_new_order(&raw, &a, &[&format!("dead{i}.example.com")])
                .await;
            let r = raw
                .post(
                    &a.key,
                    Some(&a.kid),
                    order["authorizations"][0].as_str().unwrap(),
                    Some(&json!({"status": "deactivated"})),
                )
                .await;
            assert_eq!(r.status, 200);
        }
        let account = raw.post_as_get(&a.key, &a.kid, &a.kid).await.json();
        let first = raw
            .post_as_get(&a.key, &a.kid, account["orders"].as_str().unwrap())
            .await;
        // Ten dead orders examined, none shown, and a link to go on.
        assert_eq!(first.json()["orders"], json!([]));
        let next = first
            .link("next")
            .expect("a next link after a page that stopped early");
        let second = raw.post_as_get(&a.key, &a.kid, &next).await;
        assert_eq!(second.json()["orders"], json!([live]));
    })
    .await;
}
