//! Renewal information (RFC 9773) and certificate profiles (draft-ietf-acme-profiles) over
//! HTTPS, with hand-signed requests: the directory's `renewalInfo` and `meta.profiles`;
//! `renewalInfo/{certID}` by GET and POST-as-GET (window, `Retry-After`, 404 and 400
//! problems); newOrder's `profile` (echoed, issued, `invalidProfile`) and `replaces`
//! (echoed, `alreadyReplaced` with 409, `malformed`).
//! Only 127.0.0.1 is contacted; every test is bounded in time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferrite_core::ca::ari::CertId;
use ferrite_jose::Algorithm;
use ferrite_testkit::{RawAccount, TestCa, TestCaOptions, assert_problem, bounded};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn time(v: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(v.as_str().unwrap(), &Rfc3339).unwrap()
}

async fn new_order(
    ca: &TestCa,
    account: &RawAccount,
    payload: Value,
) -> ferrite_testkit::RawResponse {
    ca.raw()
        .post(
            &account.key,
            Some(&account.kid),
            &ca.url("/acme/new-order"),
            Some(&payload),
        )
        .await
}

#[tokio::test]
async fn directory_offers_renewal_info_and_profiles() {
    bounded(async {
        let ca = TestCa::start().await;
        let r = ca
            .raw()
            .send("GET", &ca.url("/directory"), None, Vec::new())
            .await;
        assert_eq!(r.status, 200);
        let dir = r.json();
        assert_eq!(dir["renewalInfo"], ca.url("/acme/renewal-info"));
        let profiles = dir["meta"]["profiles"].as_object().unwrap();
        let names: Vec<&String> = profiles.keys().collect();
        assert_eq!(names, ["shortlived", "tlsserver"]);
        assert!(
            profiles["shortlived"].as_str().unwrap().contains("6 days"),
            "{profiles:?}"
        );
        assert!(
            profiles["tlsserver"].as_str().unwrap().contains("90 days"),
            "{profiles:?}"
        );
    })
    .await;
}

/// RFC 9773 §4: the renewal information of an issued certificate, by GET and by POST-as-GET;
/// unknown certIDs are 404, malformed ones 400, both problem documents.
#[tokio::test]
async fn renewal_info_by_get_and_post_as_get() {
    bounded(async {
        let ca = TestCa::start_with(TestCaOptions::default().with_engine(|c| {
            c.renewal_info_retry_after = time::Duration::minutes(90);
        }))
        .await;
        let raw = ca.raw();
        let account = RawAccount::register(&raw, Algorithm::ES256).await;
        let issued = ca.raw_issue(&raw, &account, &["ari.example.com"]).await;
        let id = CertId::of_certificate(&issued.leaf_der).unwrap();
        let url = ca.url(&format!("/acme/renewal-info/{}", id.encode()));

        let got = raw.send("GET", &url, None, Vec::new()).await;
        assert_eq!(got.status, 200, "{}", String::from_utf8_lossy(&got.body));
        assert_eq!(got.header("retry-after").as_deref(), Some("5400"));
        assert_eq!(
            got.header("content-type").as_deref(),
            Some("application/json")
        );
        let info = got.json();
        let (start, end) = (
            time(&info["suggestedWindow"]["start"]),
            time(&info["suggestedWindow"]["end"]),
        );
        let now = OffsetDateTime::now_utc();
        assert!(start > now + time::Duration::days(29), "{info}");
        assert!(
            end > start && end < now + time::Duration::days(61),
            "{info}"
        );
        assert!(info.get("explanationURL").is_none(), "{info}");

        let posted = raw.post_as_get(&account.key, &account.kid, &url).await;
        assert_eq!(posted.status, 200);
        assert_eq!(posted.json(), info);

        let unknown = CertId {
            serial_hex: "7f".repeat(16),
            ..id
        };
        for (case, path, status, kind) in [
            (
                "unknown",
                format!("/acme/renewal-info/{}", unknown.encode()),
                404,
                "malformed",
            ),
            (
                "malformed",
                "/acme/renewal-info/nodot".to_owned(),
                400,
                "malformed",
            ),
            (
                "no certID",
                "/acme/renewal-info/".to_owned(),
                404,
                "malformed",
            ),
        ] {
            let r = raw.send("GET", &ca.url(&path), None, Vec::new()).await;
            ferrite_testkit::assert_case_problem(case, &r, status, kind);
        }
    })
    .await;
}

/// draft-ietf-acme-profiles: the order carries the profile it names (or the default), the
/// certificate follows it; an unknown one is `invalidProfile`.
#[tokio::test]
async fn new_order_profile() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let account = RawAccount::register(&raw, Algorithm::ES256).await;
        let ids = json!([{"type": "dns", "value": "p.example.com"}]);

        let r = new_order(
            &ca,
            &account,
            json!({"identifiers": ids, "profile": "nosuch"}),
        )
        .await;
        let detail = assert_problem(&r, 400, "invalidProfile");
        assert!(
            detail.contains("shortlived, tlsserver") || detail.contains("tlsserver, shortlived"),
            "{detail}"
        );

        let r = new_order(&ca, &account, json!({"identifiers": ids})).await;
        assert_eq!(r.status, 201);
        assert_eq!(r.json()["profile"], "tlsserver");

        let r = new_order(
            &ca,
            &account,
            json!({"identifiers": ids, "profile": "shortlived"}),
        )
        .await;
        assert_eq!(r.status, 201);
        let order_url = r.header("location").unwrap();
        let order = r.json();
        assert_eq!(order["profile"], "shortlived");
        for authz in order["authorizations"].as_array().unwrap() {
            ca.raw_validate_http01(&raw, &account, authz.as_str().unwrap())
                .await;
        }
        let order = raw
            .poll(&account.key, &account.kid, &order_url, |o| {
                o["status"] != "pending"
            })
            .await;
        let key = rcgen::KeyPair::generate().unwrap();
        let r = ca
            .raw_finalize(
                &raw,
                &account,
                &order,
                &ferrite_testkit::ca::csr_der(&["p.example.com"], &key),
            )
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let order = r.json();
        assert_eq!(order["profile"], "shortlived");
        let serial = order["certificate"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        let cert = ca
            .ca
            .certificate(ferrite_core::Reader::Url, &serial)
            .await
            .unwrap();
        assert!(cert.not_after - cert.not_before <= time::Duration::days(6));
    })
    .await;
}

/// RFC 9773 §5 over HTTP: `replaces` echoed; the second replacement 409 `alreadyReplaced`; a
/// malformed certID 400 `malformed`.
#[tokio::test]
async fn new_order_replaces() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let account = RawAccount::register(&raw, Algorithm::ES256).await;
        let issued = ca.raw_issue(&raw, &account, &["r.example.com"]).await;
        let cert_id = CertId::of_certificate(&issued.leaf_der).unwrap().encode();
        let ids = json!([{"type": "dns", "value": "r.example.com"}]);

        let r = new_order(
            &ca,
            &account,
            json!({"identifiers": ids, "replaces": cert_id}),
        )
        .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["replaces"], cert_id.as_str());
        let again = raw
            .post_as_get(&account.key, &account.kid, &r.header("location").unwrap())
            .await;
        assert_eq!(again.json()["replaces"], cert_id.as_str());

        let r = new_order(
            &ca,
            &account,
            json!({"identifiers": ids, "replaces": cert_id}),
        )
        .await;
        assert_problem(&r, 409, "alreadyReplaced");
        let r = new_order(
            &ca,
            &account,
            json!({"identifiers": ids, "replaces": "x.y.z"}),
        )
        .await;
        let detail = assert_problem(&r, 400, "malformed");
        assert!(detail.contains("RFC 9773"), "{detail}");
    })
    .await;
}
