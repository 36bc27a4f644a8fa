//! `/metrics` on the admin listener counts what happened (requests by route and status,
//! problems by type, validations, issuances) and the certificates' time left, with no id or
//! secret in it; `/health/live` and `/health/ready` on the public listener, ready only while
//! the database takes a write.
//! Only 127.0.0.1 is contacted; every test is bounded in time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use ferrite_jose::Algorithm;
use ferrite_testkit::raw::http_get;
use ferrite_testkit::{RawAccount, TestCa, TestCaOptions, bounded};

/// The value of the sample `series` (name and labels exactly as rendered).
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == series).then(|| value.parse().unwrap())
    })
}

#[tokio::test]
async fn metrics_count_requests_problems_validations_and_issuances() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let account = RawAccount::register(&raw, Algorithm::ES256).await;
        let issued = ca.raw_issue(&raw, &account, &["metrics.example.com"]).await;
        // A refused request: a problem document of type malformed (415).
        let r = raw
            .send(
                "POST",
                &ca.url("/acme/new-order"),
                Some("text/plain"),
                b"x".to_vec(),
            )
            .await;
        assert_eq!(r.status, 415);
        // A CRL, so that its age is known.
        assert_eq!(http_get(&ca.crl_shard_url(0)).await.status, 200);

        let r = http_get(&format!("{}/metrics", ca.admin_url)).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        let text = String::from_utf8(r.body).unwrap();
        for (series, at_least) in [
            (
                r#"ferrite_http_requests_total{listener="acme",method="POST",route="/acme/new-order",status="201"}"#,
                1.0,
            ),
            (
                r#"ferrite_http_requests_total{listener="acme",method="POST",route="/acme/new-order",status="415"}"#,
                1.0,
            ),
            (r#"ferrite_problems_total{type="malformed"}"#, 1.0),
            (
                r#"ferrite_validation_duration_seconds_count{method="http-01",outcome="valid"}"#,
                1.0,
            ),
            (
                r#"ferrite_http_request_duration_seconds_count{listener="acme",route="/acme/order/{id}"}"#,
                1.0,
            ),
            ("ferrite_issuance_duration_seconds_count", 1.0),
            ("ferrite_eab_bindings_total", 0.0),
            ("ferrite_issuance_refused_total", 0.0),
            // Time on the database: the requests above read and wrote.
            (
                r#"ferrite_database_seconds_count{backend="sqlite",kind="read"}"#,
                1.0,
            ),
            (
                r#"ferrite_database_seconds_count{backend="sqlite",kind="write"}"#,
                1.0,
            ),
            // Every rate limit is listed; none refused here.
            (
                r#"ferrite_rate_limit_refusals_total{limit="new_orders_per_account"}"#,
                0.0,
            ),
        ] {
            let value = sample(&text, series).unwrap_or_else(|| panic!("no {series} in:\n{text}"));
            assert!(value >= at_least, "{series} = {value}");
        }
        // Exactly one issuance so far.
        assert_eq!(sample(&text, "ferrite_issuance_duration_seconds_count"), Some(1.0));
        // The issuing CA has years left, the listener's certificate about a year.
        let days = |series: &str| {
            sample(&text, &format!("ferrite_certificate_expiry_seconds{{{series}}}"))
                .unwrap_or_else(|| panic!("no expiry of {series} in:\n{text}"))
                / 86_400.0
        };
        for name in ["intermediate", "intermediate-rsa"] {
            let series = format!(r#"certificate="issuer",name="{name}",active="true""#);
            assert!(days(&series) > 365.0, "{}", days(&series));
        }
        let days = |which: &str| days(&format!(r#"certificate="{which}""#));
        assert!((300.0..400.0).contains(&days("acme_listener")), "{}", days("acme_listener"));
        // Routes, never paths: no id of an order, account or certificate.
        let serial = issued.cert_url.rsplit('/').next().unwrap();
        let account_id = account.kid.rsplit('/').next().unwrap();
        for id in [serial, account_id] {
            assert!(!text.contains(id), "{id} in the metrics");
        }
        // Every metric the Grafana dashboard in docs/ queries is one Ferrite exports (those of
        // Certificate Transparency only with `[ct]` logs, those of remote perspectives only
        // with `[mpic]`: tests/ct.rs and tests/mpic.rs check them).
        let dashboard = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/grafana-dashboard.json"),
        )
        .unwrap();
        let mut queried = 0;
        for word in dashboard.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if let Some(name) = word.strip_prefix("ferrite_")
                && !name.starts_with("ct_")
                && !name.starts_with("mpic_")
            {
                let name = format!("ferrite_{name}");
                let base = name
                    .trim_end_matches("_bucket")
                    .trim_end_matches("_sum")
                    .trim_end_matches("_count");
                assert!(
                    text.contains(&format!("# TYPE {name} ")) || text.contains(&format!("# TYPE {base} ")),
                    "the dashboard queries {name}, which /metrics does not export"
                );
                queried += 1;
            }
        }
        assert!(queried >= 10, "{queried}");
        // Every sample belongs to a declared metric.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            let base = name
                .trim_end_matches("_bucket")
                .trim_end_matches("_sum")
                .trim_end_matches("_count");
            assert!(
                text.contains(&format!("# TYPE {name} ")) || text.contains(&format!("# TYPE {base} ")),
                "{line}"
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_only_while_the_database_takes_a_write() {
    bounded(async {
        let ca = TestCa::start().await;
        for path in ["/health/live", "/healthz", "/health/ready"] {
            let r = http_get(&format!("{}{path}", ca.public_url)).await;
            assert_eq!((r.status, r.body.as_slice()), (200, &b"ok"[..]), "{path}");
        }
        // Another connection holds the database's write lock, until the checks below are done
        // (longer than the store waits for it, 5 s): the instance is alive but not ready, and
        // says which part fails.
        let db = ca.data_dir().join("ferrite.db");
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let conn = rusqlite::Connection::open(db).unwrap();
            conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
            locked_tx.send(()).unwrap();
            // Released when the test says so, or when it is gone (bounded either way).
            let _ = release_rx.recv_timeout(Duration::from_secs(60));
            conn.execute_batch("ROLLBACK").unwrap();
        });
        locked_rx.recv().unwrap();
        // A check's answer is reused for a second.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let r = http_get(&format!("{}/health/ready", ca.public_url)).await;
        assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
        assert!(
            String::from_utf8_lossy(&r.body).starts_with("not ready: database"),
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        let r = http_get(&format!("{}/health/live", ca.public_url)).await;
        assert_eq!(r.status, 200);
        release_tx.send(()).unwrap();
        tokio::task::spawn_blocking(move || holder.join().unwrap())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let r = http_get(&format!("{}/health/ready", ca.public_url)).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    })
    .await;
}

/// A ready instance whose issuing intermediate expires within 90 days (and whose ACME listener
/// certificate within 30) still answers 200, with a warning line for each after `ok`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_warns_of_certificates_about_to_expire() {
    bounded(async {
        let clock = Arc::new(ferrite_core::TestClock::new(time::OffsetDateTime::now_utc()));
        let opts = TestCaOptions {
            clock: clock.clone(),
            ..Default::default()
        };
        let ca = TestCa::start_with(opts).await;
        let r = http_get(&format!("{}/health/ready", ca.public_url)).await;
        assert_eq!((r.status, r.body.as_slice()), (200, &b"ok"[..]));
        let left = ca.ca.issuer().not_after() - ca.ca.now();
        clock.advance(left - time::Duration::days(40));
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let r = http_get(&format!("{}/health/ready", ca.public_url)).await;
        let body = String::from_utf8_lossy(&r.body).into_owned();
        assert_eq!(r.status, 200, "{body}");
        let lines: Vec<&str> = body.lines().collect();
        assert_eq!(lines[0], "ok", "{body}");
        // One warning per intermediate (they were made together), then the listener's.
        let names: Vec<String> = ca
            .ca
            .issuers()
            .all()
            .map(|e| e.issuer.name().to_owned())
            .collect();
        for (line, name) in lines[1..].iter().zip(&names) {
            assert!(
                line.starts_with(&format!(
                    "warning: the issuing intermediate {name:?} expires in 40 days"
                )),
                "{body}"
            );
            assert!(
                line.contains("ferrite ca init --intermediate-from"),
                "{body}"
            );
        }
        assert!(
            lines[1 + names.len()].starts_with("warning: the ACME listener's certificate expired"),
            "{body}"
        );
        assert_eq!(lines.len(), 2 + names.len(), "{body}");
    })
    .await;
}
