//! ferrite-va's dns-01 against the testkit's mock DNS, and the mock DNS's
//! own records. Only 127.0.0.1 is contacted; every test is bounded.

// Test code: helpers outside #[test] fns may panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferrite_testkit::bounded;
use std::time::Duration;

use ferrite_testkit::dns::MockDns;
use ferrite_va::{FailureKind, Va, VaConfig, ValidationFailure, ValidationRecord, dns01_txt_value};

const KEY_AUTH: &str =
    "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";

fn va(dns: &MockDns, timeout: Duration) -> Va {
    Va::new(VaConfig {
        dns_resolver: Some(dns.addr()),
        http01_port: 1,
        tlsalpn01_port: 1,
        allow_private_addresses: false,
        timeout,
        dnssec: false, // MockDns serves no signatures here
        ..VaConfig::default()
    })
    .unwrap()
}

fn failure(result: Result<ValidationRecord, ValidationFailure>) -> ValidationFailure {
    match result {
        Ok(record) => panic!("validation unexpectedly succeeded: {record:?}"),
        Err(failure) => failure,
    }
}

#[tokio::test]
async fn matching_txt_record_validates() {
    bounded(async {
        let dns = MockDns::start().await.unwrap();
        let expected = dns01_txt_value(KEY_AUTH);
        // A stale value from an earlier order may stay next to the new one.
        dns.set_txt(
            "_acme-challenge.example.com",
            vec!["stale-value".to_owned(), expected.clone()],
        );
        let record = va(&dns, Duration::from_secs(5))
            .dns01("example.com", KEY_AUTH)
            .await
            .unwrap();
        assert_eq!(record.method, "dns-01");
        assert_eq!(record.hostname, "example.com");
        assert_eq!(record.port, None);
        assert!(
            record.dns_answers.contains(&expected),
            "{:?}",
            record.dns_answers
        );
        assert!(record.addresses_resolved.is_empty());
        assert!(
            dns.queries()
                .contains(&"TXT _acme-challenge.example.com".to_owned()),
            "{:?}",
            dns.queries()
        );
    })
    .await;
}

#[tokio::test]
async fn wildcard_is_validated_at_the_base_domain() {
    bounded(async {
        let dns = MockDns::start().await.unwrap();
        dns.set_txt(
            "_acme-challenge.example.org",
            vec![dns01_txt_value(KEY_AUTH)],
        );
        va(&dns, Duration::from_secs(5))
            .dns01("*.example.org", KEY_AUTH)
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn wrong_txt_is_incorrect_response_naming_expected_and_seen() {
    bounded(async {
        let dns = MockDns::start().await.unwrap();
        dns.set_txt(
            "_acme-challenge.example.com",
            vec![dns01_txt_value("other.key")],
        );
        let f = failure(
            va(&dns, Duration::from_secs(5))
                .dns01("example.com", KEY_AUTH)
                .await,
        );
        assert_eq!(f.kind, FailureKind::IncorrectResponse);
        assert!(
            f.detail.contains(&dns01_txt_value(KEY_AUTH)),
            "{}",
            f.detail
        );
        assert!(
            f.detail.contains(&dns01_txt_value("other.key")),
            "{}",
            f.detail
        );
        assert!(
            f.detail.contains("_acme-challenge.example.com"),
            "{}",
            f.detail
        );
        assert_eq!(f.record.dns_answers, vec![dns01_txt_value("other.key")]);
    })
    .await;
}

#[tokio::test]
async fn missing_txt_is_a_dns_problem() {
    bounded(async {
        let dns = MockDns::start().await.unwrap();
        let va = va(&dns, Duration::from_secs(5));
        let f = failure(va.dns01("example.com", KEY_AUTH).await);
        assert_eq!(f.kind, FailureKind::Dns);
        assert!(
            f.detail
                .contains("no TXT records found for _acme-challenge.example.com"),
            "{}",
            f.detail
        );

        // Set, then cleared: not cached by the VA either way.
        dns.set_txt(
            "_acme-challenge.example.com",
            vec![dns01_txt_value(KEY_AUTH)],
        );
        va.dns01("example.com", KEY_AUTH).await.unwrap();
        dns.clear_txt("_acme-challenge.example.com");
        let f = failure(va.dns01("example.com", KEY_AUTH).await);
        assert_eq!(f.kind, FailureKind::Dns);
    })
    .await;
}

#[tokio::test]
async fn nxdomain_is_a_dns_problem() {
    bounded(async {
        let dns = MockDns::start().await.unwrap();
        dns.set_nxdomain("_acme-challenge.example.com");
        let f = failure(
            va(&dns, Duration::from_secs(5))
                .dns01("example.com", KEY_AUTH)
                .await,
        );
        assert_eq!(f.kind, FailureKind::Dns);
        assert!(
            f.detail
                .contains("NXDOMAIN looking up TXT for _acme-challenge.example.com"),
            "{}",
            f.detail
        );
    })
    .await;
}

#[tokio::test]
async fn servfail_is_a_dns_problem() {
    bounded(async {
        let dns = MockDns::start().await.unwrap();
        dns.set_servfail("_acme-challenge.example.com");
        let f = failure(
            va(&dns, Duration::from_secs(5))
                .dns01("example.com", KEY_AUTH)
                .await,
        );
        assert_eq!(f.kind, FailureKind::Dns);
        assert!(
            f.detail
                .contains("SERVFAIL looking up TXT for _acme-challenge.example.com"),
            "{}",
            f.detail
        );
    })
    .await;
}

#[tokio::test]
async fn silent_nameserver_is_a_dns_timeout() {
    bounded(async {
        let dns = MockDns::start().await.unwrap();
        dns.set_unresponsive("_acme-challenge.example.com");
        let started = std::time::Instant::now();
        let f = failure(
            va(&dns, Duration::from_secs(2))
                .dns01("example.com", KEY_AUTH)
                .await,
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(f.kind, FailureKind::Dns);
        assert!(f.detail.contains("timed out"), "{}", f.detail);
    })
    .await;
}

#[tokio::test]
async fn unreachable_resolver_is_a_dns_problem() {
    bounded(async {
        // A MockDns that was dropped: nothing listens on its port any more.
        let addr = MockDns::start().await.unwrap().addr();
        let va = Va::new(VaConfig {
            dns_resolver: Some(addr),
            timeout: Duration::from_secs(2),
            dnssec: false, // MockDns serves no signatures here
            ..VaConfig::default()
        })
        .unwrap();
        let f = failure(va.dns01("example.com", KEY_AUTH).await);
        assert_eq!(f.kind, FailureKind::Dns, "{}", f.detail);
    })
    .await;
}

#[tokio::test]
async fn mock_dns_serves_caa_and_addresses() {
    use hickory_resolver::TokioResolver;
    use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
    use hickory_resolver::net::runtime::TokioRuntimeProvider;
    use hickory_resolver::proto::rr::{RData, RecordType};

    bounded(async {
        let dns = MockDns::start().await.unwrap();
        let mut udp = ConnectionConfig::udp();
        udp.port = dns.addr().port();
        let config = ResolverConfig::from_name_servers(vec![NameServerConfig::new(
            dns.addr().ip(),
            true,
            vec![udp],
        )]);
        let resolver = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .build()
            .unwrap();

        dns.add_caa(
            "example.com",
            0,
            "issue",
            "ferrite.test; accounturi=https://ca/acct/1",
        );
        dns.add_caa("example.com", 128, "tbs", "unknown critical");
        let caa = resolver
            .lookup("example.com.", RecordType::CAA)
            .await
            .unwrap();
        let tags: Vec<(bool, String, Vec<u8>)> = caa
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::CAA(c) => Some((c.issuer_critical, c.tag.clone(), c.value.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(
            tags,
            vec![
                (
                    false,
                    "issue".to_owned(),
                    b"ferrite.test; accounturi=https://ca/acct/1".to_vec()
                ),
                (true, "tbs".to_owned(), b"unknown critical".to_vec()),
            ]
        );
        dns.clear_caa("example.com");
        assert!(
            resolver
                .lookup("example.com.", RecordType::CAA)
                .await
                .is_err()
        );

        // Default A answer, overridden A/AAAA answers.
        let a = resolver
            .lookup("any.example.", RecordType::A)
            .await
            .unwrap();
        assert_eq!(a.answers().len(), 1);
        dns.set_a(
            "dual.example",
            vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
        );
        let aaaa = resolver
            .lookup("dual.example.", RecordType::AAAA)
            .await
            .unwrap();
        assert!(matches!(aaaa.answers()[0].data, RData::AAAA(_)));
    })
    .await;
}
