//! Certificate Transparency end to end: a CA configured with test logs on loopback
//! (`ferrite_testkit::ct_log`) submits each precertificate to every log and issues the
//! certificate with verified SCTs from distinct operators embedded — or, when too few logs
//! answer, issues nothing. The SCTs are checked here against the logs' keys and the final
//! certificate's own TBS, independently of the issuer.
//! Only 127.0.0.1 is contacted; every test is bounded in time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferrite_pki::ct;
use ferrite_testkit::ct_log::{CtLog, LogBehaviour};
use ferrite_testkit::{RawAccount, TestCa, TestCaOptions, bounded};
use serde_json::Value;

/// The lines of `/metrics` that start with `prefix`.
async fn metrics(ca: &TestCa, prefix: &str) -> Vec<String> {
    let r = ferrite_testkit::raw::http_get(&format!("{}/metrics", ca.admin_url)).await;
    assert_eq!(r.status, 200);
    String::from_utf8(r.body)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

/// The `ferrite_ct_submissions_total` count of `log` with `outcome`.
async fn submissions(ca: &TestCa, log: &CtLog, operator: &str, outcome: &str) -> u64 {
    let series = format!(
        "ferrite_ct_submissions_total{{log=\"{}\",operator=\"{operator}\",outcome=\"{outcome}\"}} ",
        log.url
    );
    let lines = metrics(ca, &series).await;
    assert_eq!(lines.len(), 1, "{series}");
    lines[0][series.len()..].parse().unwrap()
}

async fn ca_with_logs(logs: &[(&CtLog, &str)]) -> TestCa {
    let mut opts = TestCaOptions::default();
    opts.config.ct.logs = logs.iter().map(|(log, op)| log.config(op)).collect();
    opts.config.ct.timeout_seconds = 2;
    TestCa::start_with(opts).await
}

/// Checks every embedded SCT of `leaf` against the key of the log whose id it names, over the
/// certificate's TBS without the SCT list; returns the logs' URLs in the certificate's order.
fn verified_logs<'a>(leaf: &[u8], issuer_der: &[u8], logs: &[&'a CtLog]) -> Vec<&'a str> {
    let tbs = ct::final_certificate_tbs(leaf).expect("an SCT list");
    let key_hash = ct::issuer_key_hash(issuer_der).unwrap();
    ct::embedded_scts(leaf)
        .unwrap()
        .iter()
        .map(|sct| {
            let log = logs
                .iter()
                .find(|l| ct::log_id(&l.public_key_der()) == sct.log_id)
                .expect("an SCT of a configured log");
            sct.verify_precertificate(&log.public_key_der(), &key_hash, &tbs)
                .unwrap();
            log.url.as_str()
        })
        .collect()
}

#[tokio::test]
async fn issued_certificates_carry_verified_scts_of_two_operators() {
    bounded(async {
        let a = CtLog::start(LogBehaviour::Honest).await;
        let b = CtLog::start(LogBehaviour::Honest).await;
        let ca = ca_with_logs(&[(&a, "Operator A"), (&b, "Operator B")]).await;
        let raw = ca.raw();
        let account = RawAccount::register(&raw, ferrite_jose::Algorithm::ES256).await;
        let issued = ca
            .raw_issue(&raw, &account, &["ct.example.com", "www.ct.example.com"])
            .await;
        let chain = ferrite_testkit::ca::pem_chain(&issued.chain_pem);
        let logs = verified_logs(&issued.leaf_der, &chain[1], &[&a, &b]);
        assert_eq!(logs.len(), 2);
        assert!(logs.contains(&a.url.as_str()) && logs.contains(&b.url.as_str()));
        // Each log saw the precertificate of this certificate (same serial, the poison),
        // followed by the issuer.
        let (_, leaf) = x509_parser::parse_x509_certificate(&issued.leaf_der).unwrap();
        // The precertificate the logs hold is kept with the certificate.
        let serial = ferrite_pki::serial_to_hex(leaf.raw_serial());
        let stored = ca.ca.store().certificate(&serial).await.unwrap().unwrap();
        assert_eq!(stored.precertificate.as_ref(), Some(&a.chains()[0][0]));
        for log in [&a, &b] {
            let chains = log.chains();
            assert_eq!(chains.len(), 1);
            assert_eq!(chains[0][1], chain[1]);
            let (_, precert) = x509_parser::parse_x509_certificate(&chains[0][0]).unwrap();
            assert_eq!(precert.raw_serial(), leaf.raw_serial());
            assert_eq!(
                ct::precertificate_tbs(&chains[0][0]).unwrap(),
                ct::final_certificate_tbs(&issued.leaf_der).unwrap()
            );
        }
        // A second certificate goes over the connections kept from the first.
        ca.raw_issue(&raw, &account, &["again.ct.example.com"])
            .await;
        for (log, operator) in [(&a, "Operator A"), (&b, "Operator B")] {
            assert_eq!(log.chains().len(), 2);
            assert_eq!(log.connections(), 1, "{} got a new connection", log.url);
            assert_eq!(submissions(&ca, log, operator, "logged").await, 2);
            assert_eq!(submissions(&ca, log, operator, "timeout").await, 0);
        }
        assert_eq!(
            metrics(&ca, "ferrite_ct_certificates_total").await,
            [
                "ferrite_ct_certificates_total{result=\"logged\"} 2",
                "ferrite_ct_certificates_total{result=\"too_few_scts\"} 0"
            ]
        );
        // Every CT metric the Grafana dashboard in docs/ queries is exported.
        let dashboard = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../docs/grafana-dashboard.json"),
        )
        .unwrap();
        let types = metrics(&ca, "# TYPE ferrite_ct_").await.join("\n");
        let mut queried = 0;
        for word in dashboard.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.starts_with("ferrite_ct_") {
                let base = word.trim_end_matches("_bucket");
                assert!(
                    types.contains(&format!("# TYPE {base} ")),
                    "the dashboard queries {word}, which /metrics does not export"
                );
                queried += 1;
            }
        }
        assert!(queried >= 2, "the dashboard has CT panels");
    })
    .await;
}

#[tokio::test]
async fn a_log_with_bad_signatures_or_down_is_left_out() {
    bounded(async {
        let good_a = CtLog::start(LogBehaviour::Honest).await;
        let forger = CtLog::start(LogBehaviour::BadSignature).await;
        let down = CtLog::start(LogBehaviour::Unavailable).await;
        let slow = CtLog::start(LogBehaviour::Slow(std::time::Duration::from_secs(10))).await;
        let good_b = CtLog::start(LogBehaviour::Honest).await;
        let ca = ca_with_logs(&[
            (&forger, "Operator F"),
            (&down, "Operator D"),
            (&slow, "Operator S"),
            (&good_a, "Operator A"),
            (&good_b, "Operator B"),
        ])
        .await;
        let raw = ca.raw();
        let account = RawAccount::register(&raw, ferrite_jose::Algorithm::ES256).await;
        let issued = ca
            .raw_issue(&raw, &account, &["left-out.example.com"])
            .await;
        let chain = ferrite_testkit::ca::pem_chain(&issued.chain_pem);
        let logs = verified_logs(
            &issued.leaf_der,
            &chain[1],
            &[&good_a, &good_b, &forger, &down, &slow],
        );
        assert_eq!(logs, [good_a.url.as_str(), good_b.url.as_str()]);
        for log in [&forger, &down, &slow] {
            assert_eq!(log.chains().len(), 1, "{} was asked", log.url);
        }
        // Each log's answer, as /metrics counts it.
        for (log, operator, outcome) in [
            (&good_a, "Operator A", "logged"),
            (&good_b, "Operator B", "logged"),
            (&forger, "Operator F", "invalid"),
            (&down, "Operator D", "refused"),
            (&slow, "Operator S", "timeout"),
        ] {
            assert_eq!(
                submissions(&ca, log, operator, outcome).await,
                1,
                "{}",
                log.url
            );
        }
    })
    .await;
}

#[tokio::test]
async fn too_few_logs_issue_nothing() {
    bounded(async {
        let a1 = CtLog::start(LogBehaviour::Honest).await;
        let a2 = CtLog::start(LogBehaviour::Honest).await;
        let b = CtLog::start(LogBehaviour::Unavailable).await;
        // Two SCTs, but of one operator: the policies need two operators.
        let ca =
            ca_with_logs(&[(&a1, "Operator A"), (&a2, "Operator A"), (&b, "Operator B")]).await;
        let raw = ca.raw();
        let account = RawAccount::register(&raw, ferrite_jose::Algorithm::ES256).await;
        let names = ["refused.example.com"];
        let (order_url, order) = ca.raw_ready_order(&raw, &account, &names).await;
        let key = rcgen::KeyPair::generate().unwrap();
        let r = ca
            .raw_finalize(
                &raw,
                &account,
                &order,
                &ferrite_testkit::ca::csr_der(&names, &key),
            )
            .await;
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        let order = if r.status == 200 {
            raw.poll(&account.key, &account.kid, &order_url, |o| {
                o["status"] != "processing"
            })
            .await
        } else {
            assert_eq!(
                body["type"], "urn:ietf:params:acme:error:serverInternal",
                "{body}"
            );
            let r = raw
                .post_as_get(&account.key, &account.kid, &order_url)
                .await;
            serde_json::from_slice(&r.body).unwrap()
        };
        assert_eq!(order["status"], "invalid", "{order}");
        assert!(order.get("certificate").is_none(), "{order}");
        assert_eq!(
            metrics(&ca, "ferrite_ct_certificates_total").await,
            [
                "ferrite_ct_certificates_total{result=\"logged\"} 0",
                "ferrite_ct_certificates_total{result=\"too_few_scts\"} 1"
            ]
        );
        assert_eq!(
            order["error"]["type"], "urn:ietf:params:acme:error:serverInternal",
            "{order}"
        );
        for log in [&a1, &a2, &b] {
            assert_eq!(log.chains().len(), 1, "{} was asked", log.url);
        }
    })
    .await;
}

/// A configuration that could never meet the policies is refused at start.
#[test]
fn logs_of_one_operator_are_refused_at_start() {
    let mut config = ferrite_app::Config::default();
    config.ct.logs = vec![
        ferrite_app::config::CtLog {
            url: "https://log1.example/".into(),
            public_key: base64_key(),
            operator: "Only".into(),
        },
        ferrite_app::config::CtLog {
            url: "https://log2.example/".into(),
            public_key: base64_key(),
            operator: "Only".into(),
        },
    ];
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("two distinct operators"), "{err}");
    config.ct.logs[1].public_key = "not base64".into();
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("public_key"), "{err}");
}

fn base64_key() -> String {
    use base64::Engine as _;
    use rcgen::PublicKeyData;
    base64::engine::general_purpose::STANDARD.encode(
        rcgen::KeyPair::generate()
            .unwrap()
            .subject_public_key_info(),
    )
}
