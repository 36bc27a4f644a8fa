//! ferrite-va's CAA check (RFC 8659, RFC 8657) against the testkit's mock DNS, through the
//! `Validator` trait the engine calls: where the relevant RRset is found, which records
//! allow or forbid, and how DNS failures fail closed. Only 127.0.0.1 is contacted; every
//! test is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferrite_testkit::bounded;
use std::time::Duration;

use ferrite_core::{CaaEvidence, CaaRequest, Validator};
use ferrite_proto::{ChallengeType, Problem, ProblemType};
use ferrite_testkit::dns::MockDns;
use ferrite_va::{Va, VaConfig};

const ACCOUNT: &str = "https://ca.test/acme/acct/abc";

fn va(dns: &MockDns) -> Va {
    va_with_timeout(dns, Duration::from_secs(3))
}

/// The VA with validation `timeout` (one lookup may take half of it, at most 5 s).
fn va_with_timeout(dns: &MockDns, timeout: Duration) -> Va {
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

fn request(domain: &str, wildcard: bool, method: ChallengeType) -> CaaRequest {
    CaaRequest {
        domain: domain.to_owned(),
        wildcard,
        account_uri: ACCOUNT.to_owned(),
        method: Some(method),
        issuer_domains: vec!["ferrite.test".to_owned()],
    }
}

async fn check(dns: &MockDns, req: &CaaRequest) -> Result<CaaEvidence, (Problem, CaaEvidence)> {
    va(dns).check_caa(req).await
}

fn refused(outcome: Result<CaaEvidence, (Problem, CaaEvidence)>) -> (Problem, CaaEvidence) {
    match outcome {
        Ok(record) => panic!("CAA unexpectedly allowed issuance: {record:?}"),
        Err(refusal) => refusal,
    }
}

fn caa_queries(dns: &MockDns) -> Vec<String> {
    dns.queries()
        .into_iter()
        .filter(|q| q.starts_with("CAA "))
        .collect()
}

#[tokio::test]
async fn no_records_anywhere_allows_after_climbing_to_the_tld() {
    bounded(async {
        let dns = MockDns::start().await.unwrap();
        let record = check(
            &dns,
            &request("a.b.example.com", false, ChallengeType::Http01),
        )
        .await
        .unwrap();
        assert_eq!(record.found_at, None);
        assert!(record.records.is_empty());
        let mut asked = caa_queries(&dns);
        asked.sort();
        assert_eq!(
            asked,
            [
                "CAA a.b.example.com",
                "CAA b.example.com",
                "CAA com",
                "CAA example.com",
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn a_parent_record_applies_and_the_refusal_names_it() {
    bounded(async {
        let dns = MockDns::start().await.unwrap();
        dns.add_caa("example.com", 0, "issue", "other-ca.example");
        let (problem, record) = refused(
            check(
                &dns,
                &request("www.example.com", false, ChallengeType::Http01),
            )
            .await,
        );
        assert_eq!(problem.kind, ProblemType::Caa, "{}", problem.detail);
        assert!(
            problem.detail.contains("0 issue \"other-ca.example\"")
                && problem.detail.contains("at example.com"),
            "{}",
            problem.detail
        );
        assert_eq!(record.found_at.as_deref(), Some("example.com"));
        assert_eq!(record.records, ["0 issue \"other-ca.example\""]);
    })
    .await;
}

#[tokio::test]
async fn the_closest_rrset_wins_although_every_level_is_asked_at_once() {
    bounded(async {
        let dns = MockDns::start().await.unwrap();
        dns.add_caa("www.example.com", 0, "issue", "ferrite.test");
        dns.add_caa("example.com", 0, "issue", ";");
        let record = check(
            &dns,
            &request("www.example.com", false, ChallengeType::Http01),
        )
        .await
        .unwrap();
        assert_eq!(record.found_at.as_deref(), Some("www.example.com"));
        assert_eq!(record.records, ["0 issue \"ferrite.test\""]);
        // One round trip: the parents are asked alongside the name, their answers unused
        // (the check does not wait for them, so their queries may reach the mock a moment
        // after it returned).
        let mut asked = Vec::new();
        for _ in 0..100 {
            asked = caa_queries(&dns);
            if asked.len() >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        asked.sort();
        assert_eq!(asked, ["CAA com", "CAA example.com", "CAA www.example.com"]);

        // A parent that fails or never answers does not matter once a closer name has
        // records (and is not waited for)...
        dns.set_unresponsive("com");
        dns.set_servfail("example.com");
        let started = std::time::Instant::now();
        let record = va_with_timeout(&dns, Duration::from_secs(20))
            .check_caa(&request("www.example.com", false, ChallengeType::Http01))
            .await
            .unwrap();
        assert_eq!(record.found_at.as_deref(), Some("www.example.com"));
        // The silent parent's lookup would only end at the 5 s lookup timeout; the loopback
        // answers take milliseconds.
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the check waited for the silent parent: {:?}",
            started.elapsed()
        );
        // ...but it decides when the closer names have none (RFC 8659 §5.3: fail closed).
        let (problem, _) = refused(
            check(
                &dns,
                &request("other.example.com", false, ChallengeType::Http01),
            )
            .await,
        );
        assert_eq!(problem.kind, ProblemType::Dns, "{}", problem.detail);
        assert!(problem.detail.contains("SERVFAIL"), "{}", problem.detail);
        dns.clear_faults("example.com");
        dns.clear_faults("com");

        // And the other way round: the name's own record forbids although the parent allows.
        dns.clear_caa("www.example.com");
        dns.clear_caa("example.com");
        dns.add_caa("www.example.com", 0, "issue", ";");
        dns.add_caa("example.com", 0, "issue", "ferrite.test");
        let (problem, _) = refused(
            check(
                &dns,
                &request("www.example.com", false, ChallengeType::Http01),
            )
            .await,
        );
        assert_eq!(problem.kind, ProblemType::Caa);
        assert!(
            problem.detail.contains("forbids every CA"),
            "{}",
            problem.detail
        );
    })
    .await;
}

#[tokio::test]
async fn nxdomain_climbs_but_servfail_and_timeouts_fail_closed() {
    bounded(async {
        let dns = MockDns::start().await.unwrap();
        dns.set_nxdomain("gone.example.com");
        dns.add_caa("example.com", 0, "issue", "ferrite.test");
        let record = check(
            &dns,
            &request("gone.example.com", false, ChallengeType::Dns01),
        )
        .await
        .unwrap();
        assert_eq!(record.found_at.as_deref(), Some("example.com"));

        // RFC 8659 §5.3: a lookup failure is not "no records".
        dns.set_servfail("example.org");
        let (problem, _) = refused(
            check(
                &dns,
                &request("www.example.org", false, ChallengeType::Http01),
            )
            .await,
        );
        assert_eq!(problem.kind, ProblemType::Dns, "{}", problem.detail);
        assert!(
            problem.detail.contains("SERVFAIL") && problem.detail.contains("CAA"),
            "{}",
            problem.detail
        );

        dns.set_unresponsive("slow.example.net");
        let (problem, _) = refused(
            check(
                &dns,
                &request("slow.example.net", false, ChallengeType::Http01),
            )
            .await,
        );
        assert_eq!(problem.kind, ProblemType::Dns, "{}", problem.detail);
    })
    .await;
}

#[tokio::test]
async fn wildcards_follow_issuewild_then_issue() {
    bounded(async {
        let dns = MockDns::start().await.unwrap();
        dns.add_caa("example.com", 0, "issue", "ferrite.test");
        dns.add_caa("example.com", 0, "issuewild", ";");
        // The plain name is allowed by issue; the wildcard is forbidden by issuewild.
        check(&dns, &request("example.com", false, ChallengeType::Dns01))
            .await
            .unwrap();
        let (problem, record) =
            refused(check(&dns, &request("example.com", true, ChallengeType::Dns01)).await);
        assert_eq!(problem.kind, ProblemType::Caa);
        assert!(
            problem.detail.contains("0 issuewild \";\"")
                && problem.detail.contains("*.example.com"),
            "{}",
            problem.detail
        );
        assert!(record.wildcard);

        // Without issuewild, a wildcard falls back to issue.
        dns.clear_caa("example.com");
        dns.add_caa("example.com", 0, "issue", "ferrite.test");
        check(&dns, &request("example.com", true, ChallengeType::Dns01))
            .await
            .unwrap();
        dns.clear_caa("example.com");
        dns.add_caa("example.com", 0, "issue", "other-ca.example");
        refused(check(&dns, &request("example.com", true, ChallengeType::Dns01)).await);
    })
    .await;
}

#[tokio::test]
async fn unknown_critical_tags_forbid_and_unknown_parameters_do_not() {
    bounded(async {
        let dns = MockDns::start().await.unwrap();
        dns.add_caa("example.com", 0, "issue", "ferrite.test; future-param=1");
        check(&dns, &request("example.com", false, ChallengeType::Http01))
            .await
            .unwrap();
        dns.add_caa("example.com", 0, "tbs", "not critical: ignored");
        check(&dns, &request("example.com", false, ChallengeType::Http01))
            .await
            .unwrap();
        dns.add_caa("example.com", 128, "tbs", "critical");
        let (problem, _) =
            refused(check(&dns, &request("example.com", false, ChallengeType::Http01)).await);
        assert_eq!(problem.kind, ProblemType::Caa);
        assert!(
            problem.detail.contains("128 tbs \"critical\""),
            "{}",
            problem.detail
        );
    })
    .await;
}

#[tokio::test]
async fn accounturi_and_validationmethods_bind_account_and_method() {
    bounded(async {
        let dns = MockDns::start().await.unwrap();
        dns.add_caa(
            "example.com",
            0,
            "issue",
            &format!("ferrite.test; accounturi={ACCOUNT}; validationmethods=dns-01"),
        );
        check(&dns, &request("example.com", false, ChallengeType::Dns01))
            .await
            .unwrap();

        let (problem, _) =
            refused(check(&dns, &request("example.com", false, ChallengeType::Http01)).await);
        assert_eq!(problem.kind, ProblemType::Caa);
        assert!(
            problem.detail.contains("validationmethods") || problem.detail.contains("dns-01"),
            "{}",
            problem.detail
        );

        let other = CaaRequest {
            account_uri: "https://ca.test/acme/acct/someone-else".to_owned(),
            ..request("example.com", false, ChallengeType::Dns01)
        };
        let (problem, _) = refused(check(&dns, &other).await);
        assert_eq!(problem.kind, ProblemType::Caa);
        assert!(
            problem.detail.contains(ACCOUNT) && problem.detail.contains("someone-else"),
            "{}",
            problem.detail
        );
    })
    .await;
}
