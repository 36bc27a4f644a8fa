//! DNSSEC on the validation and CAA lookups (Baseline Requirements since 2026-03-15): secure
//! answers are used, bogus ones (bad signature, expired RRSIG, missing RRSIG in a signed zone,
//! a key that does not chain to the trust anchor) fail with a `dns` problem that says why,
//! insecure ones (a zone proven unsigned by its parent) are used.
//!
//! `MockDns::sign` serves the namespace as one signed root zone whose key is the trust anchor
//! the VA is given; only 127.0.0.1 is contacted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferrite_testkit::bounded;
use std::time::Duration;

use ferrite_jose::Algorithm;
use ferrite_testkit::dns::{DnssecFault, MockDns};
use ferrite_testkit::responders::Http01Responder;
use ferrite_testkit::{RawAccount, TestCa, TestCaOptions, challenge};
use ferrite_va::{
    FailureKind, TrustAnchor, Va, VaConfig, ValidationFailure, ValidationRecord, dns01_txt_value,
};
use serde_json::json;

const KEY_AUTH: &str = "token-abc.thumbprint-xyz";

/// A VA validating DNSSEC to `anchor`, resolving through `dns`.
fn va(dns: &MockDns, anchor: String, http_port: u16) -> Va {
    Va::new(VaConfig {
        dns_resolver: Some(dns.addr()),
        http01_port: http_port,
        allow_private_addresses: true,
        timeout: Duration::from_secs(5),
        dnssec: true,
        dnssec_trust_anchor: TrustAnchor::Records(anchor),
        ..VaConfig::default()
    })
    .unwrap()
}

/// A signed MockDns with the dns-01 TXT record of `domain` published, and a VA trusting it.
async fn signed_dns01(domain: &str) -> (MockDns, Va) {
    let dns = MockDns::start().await.unwrap();
    let anchor = dns.sign();
    dns.set_txt(
        &format!("_acme-challenge.{domain}"),
        vec![dns01_txt_value(KEY_AUTH)],
    );
    let va = va(&dns, anchor, 1);
    (dns, va)
}

fn failure(result: Result<ValidationRecord, ValidationFailure>) -> ValidationFailure {
    match result {
        Ok(record) => panic!("validation unexpectedly succeeded: {record:?}"),
        Err(failure) => failure,
    }
}

#[track_caller]
fn assert_bogus(f: &ValidationFailure, why: &str) {
    assert_eq!(f.kind, FailureKind::Dns, "{}", f.detail);
    assert!(
        f.detail.contains("DNSSEC validation failed"),
        "detail does not say DNSSEC failed: {}",
        f.detail
    );
    assert!(
        f.detail.contains(why),
        "detail does not say {why:?}: {}",
        f.detail
    );
}

#[tokio::test]
async fn secure_answer_validates() {
    bounded(async {
        let (dns, va) = signed_dns01("example.com").await;
        let record = va.dns01("example.com", KEY_AUTH).await.unwrap();
        assert_eq!(record.dns_answers, vec![dns01_txt_value(KEY_AUTH)]);
        // The validator asked for the root key: the chain was checked, not skipped.
        assert!(
            dns.queries().iter().any(|q| q == "DNSKEY "),
            "{:?}",
            dns.queries()
        );
    })
    .await;
}

/// The zone's key set is asked for once while its TTL lasts, not with every lookup; the
/// answers themselves are asked for every time (a changed TXT record is seen at once). With
/// TTL 0 nothing is kept.
#[tokio::test]
async fn zone_keys_are_kept_for_their_ttl_answers_never() {
    bounded(async {
        let dnskey_queries = |dns: &MockDns| {
            dns.queries()
                .iter()
                .filter(|q| q.starts_with("DNSKEY"))
                .count()
        };
        for (ttl, expected_key_queries) in [(3600, 1), (0, 3)] {
            let (dns, va) = signed_dns01("a.example.com").await;
            dns.set_ttl(ttl);
            dns.set_txt(
                "_acme-challenge.b.example.com",
                vec![dns01_txt_value(KEY_AUTH)],
            );
            va.dns01("a.example.com", KEY_AUTH).await.unwrap();
            va.dns01("b.example.com", KEY_AUTH).await.unwrap();
            // The record changes: the next validation sees the new value.
            dns.set_txt(
                "_acme-challenge.a.example.com",
                vec![dns01_txt_value("another.key-authorization")],
            );
            let f = failure(va.dns01("a.example.com", KEY_AUTH).await);
            assert_eq!(
                f.kind,
                FailureKind::IncorrectResponse,
                "ttl {ttl}: {}",
                f.detail
            );
            let txt = dns
                .queries()
                .iter()
                .filter(|q| q.starts_with("TXT"))
                .count();
            assert_eq!(txt, 3, "ttl {ttl}: {:?}", dns.queries());
            assert_eq!(
                dnskey_queries(&dns),
                expected_key_queries,
                "ttl {ttl}: {:?}",
                dns.queries()
            );
        }
    })
    .await;
}

/// A DS or DNSKEY answer that made a lookup bogus is not kept: once the zone is fixed, the
/// next lookup asks for it again and validates (with TTL 3600, which would otherwise keep the
/// bad answer for up to 5 minutes). Here the broken answer is the parent's signed denial of an
/// unsigned zone's DS, which the cache keeps like a key set.
#[tokio::test]
async fn a_key_answer_that_made_a_lookup_bogus_is_asked_for_again() {
    bounded(async {
        let (dns, va) = signed_dns01("www.insecure.test").await;
        dns.add_unsigned_zone("insecure.test");
        dns.set_ttl(3600);
        dns.set_dnssec_fault("insecure.test", DnssecFault::BadSignature);
        let f = failure(va.dns01("www.insecure.test", KEY_AUTH).await);
        assert_eq!(f.kind, FailureKind::Dns, "{}", f.detail);
        assert!(
            f.detail.contains("DNSSEC validation failed"),
            "{}",
            f.detail
        );
        dns.clear_faults("insecure.test");
        let record = va.dns01("www.insecure.test", KEY_AUTH).await.unwrap();
        assert_eq!(record.dns_answers, vec![dns01_txt_value(KEY_AUTH)]);
        let ds = dns
            .queries()
            .iter()
            .filter(|q| *q == "DS insecure.test")
            .count();
        assert!(
            ds >= 2,
            "the DS denial was asked for again: {:?}",
            dns.queries()
        );
    })
    .await;
}

#[tokio::test]
async fn missing_record_in_a_signed_zone_is_proven_absent_not_bogus() {
    bounded(async {
        // The signed NSEC denial is accepted: the customer sees "no TXT records", as unsigned.
        let (_dns, va) = signed_dns01("example.com").await;
        let f = failure(va.dns01("other.example.com", KEY_AUTH).await);
        assert_eq!(f.kind, FailureKind::Dns, "{}", f.detail);
        assert!(f.detail.contains("no TXT records"), "{}", f.detail);
        assert!(!f.detail.contains("DNSSEC"), "{}", f.detail);
    })
    .await;
}

#[tokio::test]
async fn bad_signature_is_bogus() {
    bounded(async {
        let (dns, va) = signed_dns01("example.com").await;
        dns.set_dnssec_fault("_acme-challenge.example.com", DnssecFault::BadSignature);
        let f = failure(va.dns01("example.com", KEY_AUTH).await);
        assert_bogus(&f, "does not verify");
        assert!(
            f.detail.contains("_acme-challenge.example.com"),
            "{}",
            f.detail
        );

        // Fixed zone, same VA: validates (nothing bogus was cached).
        dns.clear_faults("_acme-challenge.example.com");
        va.dns01("example.com", KEY_AUTH).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn expired_signature_is_bogus() {
    bounded(async {
        let (dns, va) = signed_dns01("example.com").await;
        dns.set_dnssec_fault("_acme-challenge.example.com", DnssecFault::ExpiredSignature);
        let f = failure(va.dns01("example.com", KEY_AUTH).await);
        assert_bogus(&f, "expired at");
    })
    .await;
}

#[tokio::test]
async fn missing_signature_in_a_signed_zone_is_bogus() {
    bounded(async {
        let (dns, va) = signed_dns01("example.com").await;
        dns.set_dnssec_fault("_acme-challenge.example.com", DnssecFault::MissingSignature);
        let f = failure(va.dns01("example.com", KEY_AUTH).await);
        assert_bogus(&f, "no RRSIG");
    })
    .await;
}

#[tokio::test]
async fn a_key_that_is_not_the_trust_anchor_is_bogus() {
    bounded(async {
        // Signed, but by a key the VA does not trust (another server's root key).
        let (dns, _) = signed_dns01("example.com").await;
        let stranger = MockDns::start().await.unwrap();
        let va = va(&dns, stranger.sign(), 1);
        let f = failure(va.dns01("example.com", KEY_AUTH).await);
        assert_bogus(&f, "trust anchor");
    })
    .await;
}

#[tokio::test]
async fn unsigned_zone_proven_insecure_proceeds() {
    bounded(async {
        let (dns, va) = signed_dns01("www.insecure.test").await;
        dns.add_unsigned_zone("insecure.test");
        let record = va.dns01("www.insecure.test", KEY_AUTH).await.unwrap();
        assert_eq!(record.dns_answers, vec![dns01_txt_value(KEY_AUTH)]);
        // Insecurity was proven by the parent's signed denial of a DS record.
        assert!(
            dns.queries().iter().any(|q| q == "DS insecure.test"),
            "{:?}",
            dns.queries()
        );
    })
    .await;
}

#[tokio::test]
async fn unsigned_answer_without_proof_of_insecurity_is_bogus() {
    bounded(async {
        // The same unsigned answers, but no delegation says the zone is unsigned: a
        // downgrade an attacker could make, so it must not pass.
        let (dns, va) = signed_dns01("www.insecure.test").await;
        dns.set_dnssec_fault(
            "_acme-challenge.www.insecure.test",
            DnssecFault::MissingSignature,
        );
        let f = failure(va.dns01("www.insecure.test", KEY_AUTH).await);
        assert_bogus(&f, "no RRSIG");
    })
    .await;
}

#[tokio::test]
async fn ds_record_anchor_validates_through_the_key_it_names() {
    bounded(async {
        let dns = MockDns::start().await.unwrap();
        let ds = dns.sign_ds();
        assert!(ds.contains(" DS "), "{ds}");
        dns.set_txt(
            "_acme-challenge.example.com",
            vec![dns01_txt_value(KEY_AUTH)],
        );
        let va = va(&dns, ds, 1);
        va.dns01("example.com", KEY_AUTH).await.unwrap();
        dns.set_dnssec_fault("_acme-challenge.example.com", DnssecFault::BadSignature);
        let f = failure(va.dns01("example.com", KEY_AUTH).await);
        assert_bogus(&f, "does not verify");
    })
    .await;
}

#[tokio::test]
async fn ds_record_anchor_matching_no_served_key_fails_every_lookup() {
    bounded(async {
        let (dns, _) = signed_dns01("example.com").await;
        let stranger = MockDns::start().await.unwrap();
        let va = va(&dns, stranger.sign_ds(), 1);
        let f = failure(va.dns01("example.com", KEY_AUTH).await);
        assert_eq!(f.kind, FailureKind::Dns, "{}", f.detail);
        assert!(f.detail.contains("matches no DNSKEY"), "{}", f.detail);
    })
    .await;
}

#[tokio::test]
async fn switched_off_dnssec_ignores_signatures() {
    bounded(async {
        let (dns, _) = signed_dns01("example.com").await;
        dns.set_dnssec_fault("_acme-challenge.example.com", DnssecFault::BadSignature);
        let va = Va::new(VaConfig {
            dns_resolver: Some(dns.addr()),
            timeout: Duration::from_secs(5),
            dnssec: false,
            ..VaConfig::default()
        })
        .unwrap();
        va.dns01("example.com", KEY_AUTH).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn the_default_anchor_is_the_iana_root_which_a_test_zone_cannot_satisfy() {
    bounded(async {
        // Production defaults: DNSSEC on, IANA root keys. Our signed root is not the real
        // root, so its answers are bogus, which proves the default validates.
        let (dns, _) = signed_dns01("example.com").await;
        let va = Va::new(VaConfig {
            dns_resolver: Some(dns.addr()),
            timeout: Duration::from_secs(5),
            ..VaConfig::default()
        })
        .unwrap();
        assert!(va.config().dnssec);
        let f = failure(va.dns01("example.com", KEY_AUTH).await);
        assert_bogus(&f, "trust anchor");
    })
    .await;
}

#[tokio::test]
async fn http01_address_lookups_are_validated() {
    bounded(async {
        let dns = MockDns::start().await.unwrap();
        let anchor = dns.sign();
        let web = Http01Responder::start().await.unwrap();
        web.set("tok", KEY_AUTH);
        let va = va(&dns, anchor, web.port());
        // Secure: the A answer is signed and the empty AAAA answer is a signed denial.
        va.http01("example.com", "tok", KEY_AUTH).await.unwrap();

        dns.set_dnssec_fault("example.com", DnssecFault::BadSignature);
        let f = failure(va.http01("example.com", "tok", KEY_AUTH).await);
        assert_bogus(&f, "example.com");
    })
    .await;
}

// ---- end to end, through the whole CA ----

async fn order_challenge(
    ca: &TestCa,
    raw: &ferrite_testkit::RawClient,
    a: &RawAccount,
    name: &str,
    kind: &str,
) -> (String, serde_json::Value) {
    let (_, order) = ca.raw_new_order(raw, a, &[name]).await;
    let authz_url = order["authorizations"][0].as_str().unwrap().to_owned();
    let authz = raw.post_as_get(&a.key, &a.kid, &authz_url).await.json();
    let challenge = challenge(&authz, kind).clone();
    (authz_url, challenge)
}

async fn answer_and_wait(
    raw: &ferrite_testkit::RawClient,
    a: &RawAccount,
    authz_url: &str,
    challenge: &serde_json::Value,
) -> serde_json::Value {
    let r = raw
        .post(
            &a.key,
            Some(&a.kid),
            challenge["url"].as_str().unwrap(),
            Some(&json!({})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    raw.poll(&a.key, &a.kid, authz_url, |z| z["status"] != "pending")
        .await
}

#[tokio::test]
async fn ca_issues_for_a_signed_zone() {
    bounded(async {
        let ca = TestCa::start_with_dnssec(TestCaOptions::default()).await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        // http-01 (A/AAAA lookups) and the CAA lookups all validate.
        let issued = ca.raw_issue(&raw, &a, &["www.example.com"]).await;
        assert!(!issued.leaf_der.is_empty());
    })
    .await;
}

#[tokio::test]
async fn ca_refuses_a_bogus_dns01_answer_with_a_dns_problem() {
    bounded(async {
        let ca = TestCa::start_with_dnssec(TestCaOptions::default()).await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let (authz_url, challenge) =
            order_challenge(&ca, &raw, &a, "bogus.example.com", "dns-01").await;
        let token = challenge["token"].as_str().unwrap();
        ca.dns.set_txt(
            "_acme-challenge.bogus.example.com",
            vec![dns01_txt_value(&a.key_authorization(token))],
        );
        ca.dns.set_dnssec_fault(
            "_acme-challenge.bogus.example.com",
            DnssecFault::ExpiredSignature,
        );
        let authz = answer_and_wait(&raw, &a, &authz_url, &challenge).await;
        assert_eq!(authz["status"], "invalid", "{authz}");
        let error = &authz["challenges"][0]["error"];
        assert_eq!(error["type"], "urn:ietf:params:acme:error:dns", "{authz}");
        let detail = error["detail"].as_str().unwrap();
        assert!(detail.contains("DNSSEC validation failed"), "{detail}");
        assert!(detail.contains("expired"), "{detail}");
    })
    .await;
}

#[tokio::test]
async fn ca_refuses_when_the_caa_answer_is_bogus() {
    bounded(async {
        let ca = TestCa::start_with_dnssec(TestCaOptions::default()).await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        // dns-01 at _acme-challenge.caa.example.com is fine; every answer for
        // caa.example.com itself (its CAA lookup) is bogus.
        let (authz_url, challenge) =
            order_challenge(&ca, &raw, &a, "caa.example.com", "dns-01").await;
        let token = challenge["token"].as_str().unwrap();
        ca.dns.set_txt(
            "_acme-challenge.caa.example.com",
            vec![dns01_txt_value(&a.key_authorization(token))],
        );
        ca.dns
            .set_dnssec_fault("caa.example.com", DnssecFault::BadSignature);
        let authz = answer_and_wait(&raw, &a, &authz_url, &challenge).await;
        assert_eq!(authz["status"], "invalid", "{authz}");
        let error = &authz["challenges"][0]["error"];
        assert_eq!(error["type"], "urn:ietf:params:acme:error:dns", "{authz}");
        let detail = error["detail"].as_str().unwrap();
        assert!(detail.contains("DNSSEC validation failed"), "{detail}");
        assert!(detail.contains("CAA"), "{detail}");
        assert!(
            ca.dns.queries().iter().any(|q| q == "CAA caa.example.com"),
            "{:?}",
            ca.dns.queries()
        );
    })
    .await;
}
