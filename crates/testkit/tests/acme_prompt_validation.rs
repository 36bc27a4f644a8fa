//! Prompt validation (issue 5): a challenge POST gives its validation a short head start.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferrite_jose::Algorithm;
use ferrite_testkit::bounded;
use ferrite_testkit::{RawAccount, TestCa};
use serde_json::json;

/// A validation that finishes within the head start is answered with its final status: no
/// `processing` and no `Retry-After` for the client to sleep on; the authorization agrees.
#[tokio::test]
async fn quick_validation_is_answered_with_its_final_status() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let (_order_url, order) = ca.raw_new_order(&raw, &a, &["quick.example.com"]).await;
        let authz_url = order["authorizations"][0].as_str().unwrap().to_owned();
        let authz = raw.post_as_get(&a.key, &a.kid, &authz_url).await.json();
        let challenge = authz["challenges"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "dns-01")
            .unwrap()
            .clone();
        // No TXT record: the mock DNS answers at once and the validation fails at once.
        let r = raw
            .post(
                &a.key,
                Some(&a.kid),
                challenge["url"].as_str().unwrap(),
                Some(&json!({})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let shown = r.json();
        assert_eq!(shown["status"], "invalid", "{shown}");
        assert!(shown["error"]["type"].is_string(), "{shown}");
        assert_eq!(r.header("retry-after"), None);
        let r = raw.post_as_get(&a.key, &a.kid, &authz_url).await;
        assert_eq!(r.json()["status"], "invalid");
    })
    .await;
}
