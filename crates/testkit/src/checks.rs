//! Assertions and bounds every scenario test uses, so each test file states only its scenario.

use std::future::Future;
use std::time::Duration;

use crate::RawResponse;

/// Runs `fut` for at most 120 seconds: no test waits forever (a slow shared CI machine
/// included).
pub async fn bounded<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(120), fut)
        .await
        .expect("test took longer than 120 s")
}

/// Asserts that `r` is an RFC 8555 problem document (`application/problem+json`) with HTTP
/// `status` and problem type `kind` (the short name, e.g. `badNonce`); returns its detail.
#[track_caller]
pub fn assert_problem(r: &RawResponse, status: u16, kind: &str) -> String {
    assert_case_problem("", r, status, kind)
}

/// [`assert_problem`] for one case of a table: every failure message starts with `case`.
#[track_caller]
pub fn assert_case_problem(case: &str, r: &RawResponse, status: u16, kind: &str) -> String {
    assert_eq!(
        (r.status, r.problem_type().as_str()),
        (status, kind),
        "{case}: {}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/problem+json"),
        "{case}"
    );
    r.json()["detail"].as_str().unwrap_or_default().to_owned()
}

/// The `kind` challenge (`"http-01"`, `"dns-01"`, `"tls-alpn-01"`) of an authorization object;
/// panics naming the authorization if it has none.
pub fn challenge<'a>(authz: &'a serde_json::Value, kind: &str) -> &'a serde_json::Value {
    authz["challenges"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
        .unwrap_or_else(|| panic!("no {kind} challenge in {authz}"))
}
