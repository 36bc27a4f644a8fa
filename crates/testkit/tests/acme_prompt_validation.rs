//! Prompt validation: a challenge POST gives its validation a short head start.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferrite_core::model::Scope;
use ferrite_jose::Algorithm;
use ferrite_testkit::{RawAccount, RawClient, TestCa, TestCaOptions};
use ferrite_testkit::{assert_problem, bounded};
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

/// The challenge response shows the result it recorded without reading it back: it equals a
/// later read of the challenge, for a success (http-01) and a failure (dns-01 without a TXT
/// record), to the microsecond of `validated`. The head start is long (claim after 5 s), so
/// the validations surely take the quick path that builds the response in memory, however
/// loaded the machine.
#[tokio::test]
async fn the_challenge_response_is_what_a_later_read_shows() {
    bounded(async {
        let ca = with_head_start(std::time::Duration::from_secs(10)).await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let (authz_url, url) = served_http01(&ca, &raw, &a, "same.example.com").await;
        let ready = json!({});
        let r = raw.post(&a.key, Some(&a.kid), &url, Some(&ready)).await;
        assert_eq!(r.header("retry-after"), None);
        let shown = r.json();
        assert_eq!(shown["status"], "valid", "{shown}");
        assert!(shown["validated"].is_string(), "{shown}");
        assert!(
            shown["validated"].as_str().unwrap().ends_with('Z'),
            "{shown}"
        );
        let read = raw.post_as_get(&a.key, &a.kid, &url).await.json();
        assert_eq!(shown, read);
        let authz = raw.post_as_get(&a.key, &a.kid, &authz_url).await.json();
        assert_eq!(authz["status"], "valid", "{authz}");
        assert_eq!(authz["challenges"], json!([read]), "{authz}");

        let (_order_url, order) = ca.raw_new_order(&raw, &a, &["fails.example.com"]).await;
        let (_authz_url, r) = raw.start_challenge(&a, &order, "dns-01").await;
        assert_eq!(r.header("retry-after"), None);
        let shown = r.json();
        assert_eq!(shown["status"], "invalid", "{shown}");
        let url = shown["url"].as_str().unwrap();
        let read = raw.post_as_get(&a.key, &a.kid, url).await.json();
        assert_eq!(shown, read);
    })
    .await;
}

/// A CA whose challenge responses wait up to `head_start` for their validation.
async fn with_head_start(head_start: std::time::Duration) -> TestCa {
    TestCa::start_with(
        TestCaOptions::default().with_engine(move |c| c.validation_head_start = head_start),
    )
    .await
}

/// A new order for `name` whose http-01 key authorization the responder serves: the
/// authorization URL and the http-01 challenge URL, not yet responded to.
async fn served_http01(
    ca: &TestCa,
    raw: &RawClient,
    a: &RawAccount,
    name: &str,
) -> (String, String) {
    let (_order_url, order) = ca.raw_new_order(raw, a, &[name]).await;
    let authz_url = order["authorizations"][0].as_str().unwrap().to_owned();
    let authz = raw.post_as_get(&a.key, &a.kid, &authz_url).await.json();
    let challenge = ferrite_testkit::challenge(&authz, "http-01");
    let token = challenge["token"].as_str().unwrap();
    ca.http01.set(token, &a.key_authorization(token));
    (authz_url, challenge["url"].as_str().unwrap().to_owned())
}

/// A validation still running at half the head start claims the challenge (a poll then sees
/// `processing`, before that `pending`); one that finishes within the head start is still
/// answered with its final status. Head start 2 s and a customer server that takes 1.5 s:
/// claimed at 1 s, finished at ~1.5 s, answered by 2 s.
#[tokio::test]
async fn a_slow_validation_is_claimed_and_still_answered_within_the_head_start() {
    bounded(async {
        let ca = with_head_start(std::time::Duration::from_secs(2)).await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let (authz_url, url) = served_http01(&ca, &raw, &a, "slow.example.com").await;
        ca.http01.set_delay(std::time::Duration::from_millis(1500));
        let status_after = |ms: u64| {
            let (raw, a, url) = (&raw, &a, &url);
            async move {
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                let r = raw.post_as_get(&a.key, &a.kid, url).await;
                r.json()["status"].as_str().unwrap().to_owned()
            }
        };
        let ready = json!({});
        let started = std::time::Instant::now();
        let (response, before_claim, after_claim) = tokio::join!(
            raw.post(&a.key, Some(&a.kid), &url, Some(&ready)),
            status_after(400),
            status_after(1250),
        );
        let took = started.elapsed();
        assert_eq!(
            before_claim, "pending",
            "a quick validation is not claimed yet"
        );
        assert_eq!(after_claim, "processing", "claimed at half the head start");
        assert_eq!(
            response.status,
            200,
            "{}",
            String::from_utf8_lossy(&response.body)
        );
        assert_eq!(response.json()["status"], "valid", "{}", response.json());
        assert_eq!(response.header("retry-after"), None);
        assert!(took >= std::time::Duration::from_millis(1500), "{took:?}");
        let authz = raw.post_as_get(&a.key, &a.kid, &authz_url).await.json();
        assert_eq!(authz["status"], "valid", "{authz}");
    })
    .await;
}

/// Several responses to one challenge at once (a client retrying, or two instances' clients):
/// every response is a 200 showing the challenge as it stands (never an error, never
/// `pending`), the authorization ends valid and one domain validation is kept. A quick
/// validation is not claimed: each response's validation may send its request to the
/// responder, and the store records only the first result while the challenge is still
/// `pending` (a slow one's only under its claim's lease; see the store suite).
#[tokio::test]
async fn concurrent_responses_validate_and_record_once() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let (authz_url, url) = served_http01(&ca, &raw, &a, "race.example.com").await;

        const RESPONSES: usize = 8;
        let ready = json!({});
        let responses = futures::future::join_all(
            (0..RESPONSES).map(|_| raw.post(&a.key, Some(&a.kid), &url, Some(&ready))),
        )
        .await;
        for r in &responses {
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
            let status = r.json()["status"].clone();
            assert!(status == "valid" || status == "processing", "{status}");
        }
        let authz = raw
            .poll(&a.key, &a.kid, &authz_url, |a| a["status"] != "pending")
            .await;
        assert_eq!(authz["status"], "valid", "{authz}");

        let recorded: Vec<_> = ca
            .ca
            .store()
            .domain_validations(&Scope::All)
            .await
            .unwrap()
            .into_iter()
            .filter(|v| v.domain == "race.example.com")
            .collect();
        assert_eq!(recorded.len(), 1, "{recorded:?}");
        let fetched = ca
            .http01
            .requests()
            .iter()
            .filter(|r| r.host.as_deref() == Some("race.example.com"))
            .count();
        assert!((1..=RESPONSES).contains(&fetched), "{fetched}");
    })
    .await;
}

/// A runtime for validations that is shut down, never dropped, inside the test's runtime (a
/// drop there would block it, also while a failed assertion unwinds).
struct ValidationRuntime(Option<tokio::runtime::Runtime>);

impl ValidationRuntime {
    fn shut_down(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for ValidationRuntime {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// As `ferrite serve` runs them: validations on a runtime of their own
/// (`CaConfig::validation_runtime`). The lookups, the fetch and the result (and the claim of a
/// slow validation) all happen there, and the request that started the validation still gets
/// its final status.
/// With that runtime gone, a challenge response cannot start a validation and says so
/// (`serverInternal`) instead of showing a `pending` that never moves — which also shows the
/// validations ran there and not on the test's runtime.
#[tokio::test]
async fn validations_run_on_their_own_runtime() {
    let mut validations = ValidationRuntime(Some(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("test-va")
            .enable_all()
            .build()
            .unwrap(),
    ));
    let handle = validations.0.as_ref().unwrap().handle().clone();
    bounded(async {
        let ca = TestCa::start_with(TestCaOptions {
            validation_runtime: Some(handle),
            ..TestCaOptions::default()
        })
        .await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let issued = ca.raw_issue(&raw, &a, &["own.example.com"]).await;
        assert!(!issued.chain_pem.is_empty());

        validations.shut_down();
        let (_, url) = served_http01(&ca, &raw, &a, "gone.example.com").await;
        let r = raw.post(&a.key, Some(&a.kid), &url, Some(&json!({}))).await;
        assert_problem(&r, 500, "serverInternal");
    })
    .await;
}
