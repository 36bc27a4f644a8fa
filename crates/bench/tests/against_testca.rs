//! The generator, as a library, against the whole CA in-process (`ferrite_testkit::TestCa`):
//! real TLS, real JWS, real http-01 validation through the testkit's responder and mock DNS.
//! Two instances of one CA on PostgreSQL take the clients spread over them.
//! These tests check counts and report fields, never timings (performance is measured by
//! running the tool, not asserted in tests).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrite_app::config::DatabaseUrl;
use ferrite_bench::config::{Eab, MacKey};
use ferrite_bench::responder::Http01Sink;
use ferrite_bench::{BenchConfig, BenchError, KeyType, Report, endpoint_order, run};
use ferrite_store::testing::with_database;
use ferrite_testkit::{TestCa, TestCaOptions};

/// Hands key authorizations to the http-01 responders of one or more instances of a CA (the
/// port each one's validator is configured for).
struct TestCaSink(Vec<Arc<TestCa>>);

impl Http01Sink for TestCaSink {
    fn publish(&self, token: &str, key_authorization: &str) {
        for ca in &self.0 {
            ca.http01.set(token, key_authorization);
        }
    }
    fn withdraw(&self, token: &str) {
        for ca in &self.0 {
            ca.http01.remove(token);
        }
    }
}

/// Publishes nothing: every validation must fail.
struct SilentSink;

impl Http01Sink for SilentSink {
    fn publish(&self, _: &str, _: &str) {}
    fn withdraw(&self, _: &str) {}
}

fn config(ca: &TestCa) -> BenchConfig {
    let mut c = BenchConfig::new(ca.directory_url.clone(), ca.root_pem_path.clone());
    // Generous: debug builds on a shared 2-core machine. The run ends when the issuances
    // are done, long before this.
    c.duration = Duration::from_secs(120);
    c.request_timeout = Duration::from_secs(30);
    c.poll_interval = Duration::from_millis(20);
    c
}

fn count(report: &Report, endpoint: &str) -> usize {
    report.latency_ms.get(endpoint).map_or(0, |l| l.count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_issuances_are_counted_and_reported() {
    let ca = Arc::new(TestCa::start().await);
    let mut c = config(&ca);
    c.clients = 3;
    c.issuances = 6;
    // The CA runs in this process, so this process's /proc entry is the server's.
    c.server_pids = vec![std::process::id()];
    let report = run(c, Arc::new(TestCaSink(vec![ca.clone()])))
        .await
        .unwrap();
    let table = report.table(&endpoint_order());

    assert_eq!(report.issuances_completed, 6, "{table}");
    assert_eq!(report.issuances_failed, 0, "{table}");
    assert_eq!(report.issuances_cancelled, 0, "{table}");
    assert!(report.errors.is_empty(), "{table}");
    // One account per issuance; the directory once per client; nonces come from the previous
    // response, so newNonce is asked once per client.
    for endpoint in [
        "new-account",
        "new-order",
        "authorization",
        "challenge",
        "finalize",
        "certificate",
        "issuance",
    ] {
        assert_eq!(count(&report, endpoint), 6, "{endpoint}\n{table}");
    }
    assert_eq!(count(&report, "directory"), 3, "{table}");
    assert_eq!(count(&report, "new-nonce"), 3, "{table}");
    assert_eq!(report.connections, 3, "keep-alive must hold\n{table}");
    assert!(report.issuances_per_second > 0.0);

    let json = serde_json::to_value(&report).unwrap();
    for field in [
        "issuances_per_second",
        "issuances_completed",
        "elapsed_s",
        "errors",
        "connections",
        "generator_cpu_seconds",
        "longest_stall_s",
    ] {
        assert!(json.get(field).is_some(), "{field} missing: {json:#}");
    }
    for p in ["p50_ms", "p95_ms", "p99_ms", "max_ms", "count"] {
        assert!(
            json["latency_ms"]["finalize"][p].is_number(),
            "{p}: {json:#}"
        );
    }
    let server = &json["server"];
    assert_eq!(server["pids"], serde_json::json!([std::process::id()]));
    assert!(server["cpu_seconds"].as_f64().unwrap() > 0.0, "{json:#}");
    assert!(
        server["cpu_ms_per_issuance"].as_f64().unwrap() > 0.0,
        "{json:#}"
    );
    assert!(server["peak_rss_kb"].as_u64().unwrap() > 1000, "{json:#}");
    assert!(
        server["max_sampled_rss_kb"].as_u64().unwrap() > 1000,
        "{json:#}"
    );
    assert!(table.contains("6 ok, 0 failed, 0 cancelled"), "{table}");
    assert!(table.contains("CPU ms/issuance"), "{table}");
}

/// Two instances of one CA on one PostgreSQL database (the same data directory and base URL,
/// as behind a load balancer), the clients spread over them with `connect`: each instance
/// issues its clients' certificates, and the server usage sums both processes (here both are
/// this process, so its PID is listed twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_spread_over_two_instances() {
    with_database(|url| async move {
        let mut a = TestCaOptions::default();
        a.config.database_url = DatabaseUrl(url.clone());
        let a = Arc::new(TestCa::start_with(a).await);
        let mut b = TestCaOptions::default();
        b.config.database_url = DatabaseUrl(url);
        b.config.base_url = a.base_url.clone();
        b.data_dir = Some(a.data_dir().to_owned());
        let b = Arc::new(TestCa::start_with(b).await);

        let mut c = config(&a);
        c.clients = 2;
        c.issuances = 6;
        c.connect = vec![a.addr, b.addr];
        let me = std::process::id();
        c.server_pids = vec![me, me];
        let report = run(c, Arc::new(TestCaSink(vec![a.clone(), b.clone()])))
            .await
            .unwrap();
        let table = report.table(&endpoint_order());
        assert_eq!(report.issuances_completed, 6, "{table}");
        let issued = |ca: &TestCa| ca.ca.metrics().issuance().count;
        assert_eq!(issued(&a) + issued(&b), 6, "{table}");
        assert!(issued(&a) > 0 && issued(&b) > 0, "{table}");
        assert_eq!(report.server.as_ref().unwrap().pids, vec![me, me]);
        assert!(table.contains(&format!("pid {me}+{me}:")), "{table}");
    })
    .await;
}

/// `connect` takes loopback addresses only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_is_loopback_only() {
    let ca = Arc::new(TestCa::start().await);
    let mut c = config(&ca);
    c.connect = vec![ca.addr, "192.0.2.1:443".parse().unwrap()];
    let err = run(c, Arc::new(TestCaSink(vec![ca.clone()])))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, BenchError::Settings(m) if m.contains("192.0.2.1:443")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_account_per_client_with_rsa_keys() {
    let ca = Arc::new(TestCa::start().await);
    let mut c = config(&ca);
    c.clients = 1;
    c.issuances = 2;
    c.account_per_client = true;
    c.key_type = KeyType::Rsa2048;
    let report = run(c, Arc::new(TestCaSink(vec![ca.clone()])))
        .await
        .unwrap();
    let table = report.table(&endpoint_order());
    assert_eq!(report.issuances_completed, 2, "{table}");
    assert_eq!(count(&report, "new-account"), 1, "{table}");
    assert_eq!(count(&report, "certificate"), 2, "{table}");
    assert!(report.server.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_validations_are_counted_by_problem_type() {
    let ca = TestCa::start().await;
    let mut c = config(&ca);
    c.clients = 2;
    c.issuances = 2;
    let report = run(c, Arc::new(SilentSink)).await.unwrap();
    let table = report.table(&endpoint_order());
    assert_eq!(report.issuances_completed, 0, "{table}");
    assert_eq!(report.issuances_failed, 2, "{table}");
    // The responder answers 404 for an unknown token: RFC 8555 unauthorized.
    assert_eq!(report.errors.get("unauthorized"), Some(&2), "{table}");
    assert!(!report.error_samples.is_empty());
    assert_eq!(count(&report, "finalize"), 0, "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_bind_with_eab_when_the_ca_requires_it() {
    let ca = Arc::new(
        TestCa::start_with({
            let mut options = TestCaOptions::default();
            options.config.eab.required = true;
            options
        })
        .await,
    );
    let registry = ca.ca.eab();
    let customer = registry.create_customer("bench").await.unwrap();
    let credential = registry.create_credential(&customer.id).await.unwrap();
    let key = registry
        .create_mac_key(&credential.credential.id, None)
        .await
        .unwrap();

    // Without a binding the CA refuses the account, and the report says why.
    let mut c = config(&ca);
    c.clients = 1;
    c.issuances = 1;
    let report = run(c.clone(), Arc::new(TestCaSink(vec![ca.clone()])))
        .await
        .unwrap();
    let table = report.table(&endpoint_order());
    assert_eq!(report.issuances_failed, 1, "{table}");
    assert_eq!(
        report.errors.get("externalAccountRequired"),
        Some(&1),
        "{table}"
    );

    c.clients = 2;
    c.issuances = 3;
    c.eab = Some(Eab {
        kid: key.key.kid.clone(),
        mac_key: MacKey(URL_SAFE_NO_PAD.decode(key.hmac_key.expose()).unwrap()),
    });
    let report = run(c, Arc::new(TestCaSink(vec![ca.clone()])))
        .await
        .unwrap();
    let table = report.table(&endpoint_order());
    assert_eq!(report.issuances_completed, 3, "{table}");
    assert_eq!(count(&report, "new-account"), 3, "{table}");
    assert!(report.settings.eab);
    assert!(table.contains(", EAB"), "{table}");
}

#[tokio::test]
async fn refuses_directories_off_loopback_before_sending_anything() {
    let c = BenchConfig::new("https://acme.example.com/directory", "/nonexistent.pem");
    let err = run(c, Arc::new(SilentSink)).await.unwrap_err();
    assert!(matches!(err, BenchError::Target(_)), "{err}");
    assert!(err.to_string().contains("loopback"), "{err}");
}
