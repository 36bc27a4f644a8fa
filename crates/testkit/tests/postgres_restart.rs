//! PostgreSQL going away under load and coming back: while the server is down every request
//! that needs it gets a problem document — 503 with `Retry-After`, never a 500, a panic or a
//! dropped connection — `/health/ready` says 503, and once the server is back issuance resumes
//! with no restart of Ferrite. The cluster is the test's own ([`PgCluster`]), stopped and
//! started here; only 127.0.0.1 is contacted, every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ferrite_app::config::DatabaseUrl;
use ferrite_testkit::postgres::PgCluster;
use ferrite_testkit::raw::http_get;
use ferrite_testkit::{RawAccount, TestCa, TestCaOptions};

/// Load generators: each posts newOrder in a loop.
const CLIENTS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuance_resumes_by_itself_after_postgresql_goes_away_under_load() {
    let pg = Arc::new(PgCluster::start());
    let mut opts = TestCaOptions::default();
    opts.config.database_url = DatabaseUrl(pg.url());
    let ca = Arc::new(TestCa::start_with(opts).await);
    let raw = ca.raw();
    let account = Arc::new(RawAccount::register(&raw, ferrite_jose::Algorithm::ES256).await);
    ca.raw_issue(&raw, &account, &["before.example.com"]).await;

    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (ca, account, stop) = (ca.clone(), account.clone(), stop.clone());
            tokio::spawn(async move {
                let raw = ca.raw();
                let mut seen = Vec::new();
                for n in 0..10_000 {
                    if stop.load(Ordering::Acquire) {
                        break;
                    }
                    let name = format!("c{client}-n{n}.example.com");
                    let r = raw
                        .post(
                            &account.key,
                            Some(&account.kid),
                            &ca.url("/acme/new-order"),
                            Some(&serde_json::json!({
                                "identifiers": [{"type": "dns", "value": name}]
                            })),
                        )
                        .await;
                    if r.status != 201 {
                        let body = String::from_utf8_lossy(&r.body).into_owned();
                        assert_eq!(r.status, 503, "while the database is away: {body}");
                        assert_eq!(
                            r.header("content-type").as_deref(),
                            Some("application/problem+json")
                        );
                        assert_eq!(r.problem_type(), "serverInternal", "{body}");
                        let retry_after: u64 = r
                            .header("retry-after")
                            .expect("Retry-After on a 503")
                            .parse()
                            .unwrap();
                        assert!((1..=60).contains(&retry_after));
                    }
                    seen.push(r.status);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                seen
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(500)).await;
    let stopped = {
        let pg = pg.clone();
        tokio::task::spawn_blocking(move || pg.stop())
    };
    stopped.await.unwrap();
    // Down for two seconds while the clients go on.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ready = http_get(&format!("{}/health/ready", ca.public_url)).await;
    assert_eq!(ready.status, 503, "ready while the database is down");
    let started = {
        let pg = pg.clone();
        tokio::task::spawn_blocking(move || pg.start_again())
    };
    started.await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    // And a restart as an operator does one (`pg_ctl restart -m fast`).
    let restarted = {
        let pg = pg.clone();
        tokio::task::spawn_blocking(move || pg.restart())
    };
    restarted.await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Release);
    let mut statuses = Vec::new();
    for task in load {
        statuses.extend(task.await.expect("a load task panicked"));
    }
    let refused = statuses.iter().filter(|s| **s == 503).count();
    let created = statuses.iter().filter(|s| **s == 201).count();
    eprintln!(
        "{} newOrder requests around the outage: {created} created, {refused} answered 503",
        statuses.len()
    );
    assert!(refused > 0, "no request met the outage");
    assert!(created > 0);

    // Issuance resumes by itself: within 30 s, a whole issuance succeeds.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let ready = http_get(&format!("{}/health/ready", ca.public_url)).await;
        if ready.status == 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not ready 30 s after the database came back: {}",
            String::from_utf8_lossy(&ready.body)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    ca.raw_issue(&raw, &account, &["after.example.com"]).await;
}
