//! Prompt validation (issue 5): a challenge POST gives its validation a short head start.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferrite_jose::Algorithm;
use ferrite_testkit::bounded;
use ferrite_testkit::{RawAccount, TestCa};

/// A validation that finishes within the head start is answered with its final status: no
/// `processing` and no `Retry-After` for the client to sleep on; the authorization agrees.
#[tokio::test]
async fn quick_validation_is_answered_with_its_final_status() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let (_order_url, order) = ca.raw_new_order(&raw, &a, &["quick.example.com"]).await;
        // No TXT record: the mock DNS answers at once and the validation fails at once.
        let (authz_url, r) = raw.start_challenge(&a, &order, "dns-01").await;
        let shown = r.json();
        assert_eq!(shown["status"], "invalid", "{shown}");
        assert!(shown["error"]["type"].is_string(), "{shown}");
        assert_eq!(r.header("retry-after"), None);
        let r = raw.post_as_get(&a.key, &a.kid, &authz_url).await;
        assert_eq!(r.json()["status"], "invalid");
    })
    .await;
}
