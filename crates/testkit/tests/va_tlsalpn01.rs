//! ferrite-va's tls-alpn-01 against the testkit's TLS-ALPN responder, right
//! and wrong. Only 127.0.0.1 is contacted; every test is bounded.

// Test code: helpers outside #[test] fns may panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferrite_testkit::bounded;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use ferrite_testkit::dns::MockDns;
use ferrite_testkit::responders::{TlsAlpn01Responder, TlsAlpnFault};
use ferrite_va::{FailureKind, Va, VaConfig, ValidationFailure, ValidationRecord};
use tokio::net::TcpListener;

const KEY_AUTH: &str =
    "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";
const DOMAIN: &str = "tls.example.com";

fn va(dns: &MockDns, port: u16) -> Va {
    Va::new(VaConfig {
        dns_resolver: Some(dns.addr()),
        http01_port: 1,
        tlsalpn01_port: port,
        allow_private_addresses: true,
        timeout: Duration::from_secs(5),
        dnssec: false, // MockDns serves no signatures here
        ..VaConfig::default()
    })
    .unwrap()
}

async fn fixtures() -> (MockDns, TlsAlpn01Responder, Va) {
    let dns = MockDns::start().await.unwrap();
    let responder = TlsAlpn01Responder::start().await.unwrap();
    let va = va(&dns, responder.port());
    (dns, responder, va)
}

fn failure(result: Result<ValidationRecord, ValidationFailure>) -> ValidationFailure {
    match result {
        Ok(record) => panic!("validation unexpectedly succeeded: {record:?}"),
        Err(failure) => failure,
    }
}

async fn faulty(fault: TlsAlpnFault) -> ValidationFailure {
    let (_dns, responder, va) = fixtures().await;
    responder.set_with_fault(DOMAIN, KEY_AUTH, fault);
    failure(va.tlsalpn01(DOMAIN, KEY_AUTH).await)
}

#[tokio::test]
async fn correct_certificate_validates() {
    bounded(async {
        let (_dns, responder, va) = fixtures().await;
        responder.set(DOMAIN, KEY_AUTH);
        let record = va.tlsalpn01(DOMAIN, KEY_AUTH).await.unwrap();
        assert_eq!(record.method, "tls-alpn-01");
        assert_eq!(record.port, Some(responder.port()));
        assert_eq!(record.address_used, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        // The SNI must name the domain: another name is not answered.
        responder.remove(DOMAIN);
        responder.set("other.example.com", KEY_AUTH);
        let f = failure(va.tlsalpn01(DOMAIN, KEY_AUTH).await);
        assert_eq!(f.kind, FailureKind::Tls);
    })
    .await;
}

#[tokio::test]
async fn tls12_server_validates() {
    bounded(async {
        let (_dns, responder, va) = fixtures().await;
        responder.set_with_fault(DOMAIN, KEY_AUTH, TlsAlpnFault::Tls12Only);
        va.tlsalpn01(DOMAIN, KEY_AUTH).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn handshake_signed_by_another_key_is_refused() {
    bounded(async {
        let f = faulty(TlsAlpnFault::ForeignKey).await;
        assert_eq!(f.kind, FailureKind::Tls);
        assert!(f.detail.contains("BadSignature"), "{}", f.detail);
    })
    .await;
}

#[tokio::test]
async fn wrong_alpn_fails_the_handshake() {
    bounded(async {
        let f = faulty(TlsAlpnFault::WrongAlpn).await;
        assert_eq!(f.kind, FailureKind::Tls);
        assert!(
            f.detail.contains("TLS handshake with tls.example.com"),
            "{}",
            f.detail
        );
    })
    .await;
}

#[tokio::test]
async fn no_negotiated_alpn_is_a_tls_problem() {
    bounded(async {
        let f = faulty(TlsAlpnFault::NoAlpn).await;
        assert_eq!(f.kind, FailureKind::Tls);
        assert!(
            f.detail
                .contains("did not negotiate ALPN protocol \"acme-tls/1\""),
            "{}",
            f.detail
        );
    })
    .await;
}

#[tokio::test]
async fn wrong_digest_is_incorrect_response() {
    bounded(async {
        let f = faulty(TlsAlpnFault::WrongDigest).await;
        assert_eq!(f.kind, FailureKind::IncorrectResponse);
        assert!(f.detail.contains("has acmeIdentifier"), "{}", f.detail);
        assert!(f.detail.contains("expected 0420"), "{}", f.detail);
    })
    .await;
}

#[tokio::test]
async fn non_critical_acme_identifier_is_incorrect_response() {
    bounded(async {
        let f = faulty(TlsAlpnFault::NotCritical).await;
        assert_eq!(f.kind, FailureKind::IncorrectResponse);
        assert!(f.detail.contains("not marked critical"), "{}", f.detail);
    })
    .await;
}

#[tokio::test]
async fn missing_acme_identifier_is_incorrect_response() {
    bounded(async {
        let f = faulty(TlsAlpnFault::NoAcmeIdentifier).await;
        assert_eq!(f.kind, FailureKind::IncorrectResponse);
        assert!(
            f.detail.contains("no acmeIdentifier extension"),
            "{}",
            f.detail
        );
    })
    .await;
}

#[tokio::test]
async fn extra_subject_alt_name_is_incorrect_response() {
    bounded(async {
        let f = faulty(TlsAlpnFault::ExtraSan).await;
        assert_eq!(f.kind, FailureKind::IncorrectResponse);
        assert!(f.detail.contains("extra.tls.example.com"), "{}", f.detail);
        assert!(f.detail.contains("exactly one"), "{}", f.detail);
    })
    .await;
}

#[tokio::test]
async fn connection_refused_is_connection() {
    bounded(async {
        let dns = MockDns::start().await.unwrap();
        let closed_port = {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.local_addr().unwrap().port()
        };
        let f = failure(va(&dns, closed_port).tlsalpn01(DOMAIN, KEY_AUTH).await);
        assert_eq!(f.kind, FailureKind::Connection);
        assert!(f.detail.contains("connection refused"), "{}", f.detail);
    })
    .await;
}

#[tokio::test]
async fn private_address_is_refused_and_dns_failures_are_dns() {
    bounded(async {
        let dns = MockDns::start().await.unwrap();
        let responder = TlsAlpn01Responder::start().await.unwrap();
        responder.set(DOMAIN, KEY_AUTH);
        let strict = Va::new(VaConfig {
            dns_resolver: Some(dns.addr()),
            tlsalpn01_port: responder.port(),
            dnssec: false, // MockDns serves no signatures here
            ..VaConfig::default()
        })
        .unwrap();
        let f = failure(strict.tlsalpn01(DOMAIN, KEY_AUTH).await);
        assert_eq!(f.kind, FailureKind::Dns);
        assert!(f.detail.contains("loopback"), "{}", f.detail);

        dns.set_nxdomain(DOMAIN);
        let f = failure(va(&dns, responder.port()).tlsalpn01(DOMAIN, KEY_AUTH).await);
        assert_eq!(f.kind, FailureKind::Dns);
        assert!(f.detail.contains("NXDOMAIN"), "{}", f.detail);
    })
    .await;
}
