//! ferrite-va's http-01 against the testkit's mock DNS and responders.
//! Only 127.0.0.1 is contacted; every test is bounded by `bounded`.

// Test code: helpers outside #[test] fns may panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferrite_testkit::bounded;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use ferrite_testkit::dns::MockDns;
use ferrite_testkit::responders::Http01Responder;
use ferrite_va::{FailureKind, Va, VaConfig, ValidationFailure, ValidationRecord};
use tokio::net::TcpListener;

const KEY_AUTH: &str =
    "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";
const TOKEN: &str = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn va(dns: &MockDns, http_port: u16, https_port: u16) -> Va {
    Va::new(VaConfig {
        dns_resolver: Some(dns.addr()),
        http01_port: http_port,
        tlsalpn01_port: https_port,
        allow_private_addresses: true,
        timeout: Duration::from_secs(5),
        dnssec: false, // MockDns serves no signatures here
        ..VaConfig::default()
    })
    .unwrap()
}

async fn fixtures() -> (MockDns, Http01Responder, Va) {
    let dns = MockDns::start().await.unwrap();
    let web = Http01Responder::start().await.unwrap();
    let va = va(&dns, web.port(), 1);
    (dns, web, va)
}

fn failure(result: Result<ValidationRecord, ValidationFailure>) -> ValidationFailure {
    match result {
        Ok(record) => panic!("validation unexpectedly succeeded: {record:?}"),
        Err(failure) => failure,
    }
}

#[tokio::test]
async fn serves_key_authorization_and_records_evidence() {
    bounded(async {
        let (_dns, web, va) = fixtures().await;
        web.set(TOKEN, KEY_AUTH);
        let record = va.http01("a.example.com", TOKEN, KEY_AUTH).await.unwrap();
        assert_eq!(record.method, "http-01");
        assert_eq!(record.hostname, "a.example.com");
        assert_eq!(record.port, Some(web.port()));
        assert_eq!(
            record.url.as_deref(),
            Some(
                format!(
                    "http://a.example.com:{}/.well-known/acme-challenge/{TOKEN}",
                    web.port()
                )
                .as_str()
            )
        );
        assert_eq!(record.addresses_resolved, vec![LOCALHOST]);
        assert_eq!(record.address_used, Some(LOCALHOST));
        assert!(record.redirects.is_empty());
        // RFC 8555 §8.3: the request names the domain being validated.
        let seen = web.requests();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].host.as_deref(), Some("a.example.com"));
        assert_eq!(seen[0].path, format!("/.well-known/acme-challenge/{TOKEN}"));
        // The record is kept as JSON evidence.
        let json = serde_json::to_string(&record).unwrap();
        let back: ValidationRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, record);
    })
    .await;
}

#[tokio::test]
async fn trailing_whitespace_is_ignored() {
    bounded(async {
        let (_dns, web, va) = fixtures().await;
        web.set(TOKEN, &format!("{KEY_AUTH}\r\n \t\n"));
        va.http01("a.example.com", TOKEN, KEY_AUTH).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn leading_whitespace_is_not_ignored() {
    bounded(async {
        let (_dns, web, va) = fixtures().await;
        web.set(TOKEN, &format!(" {KEY_AUTH}"));
        let f = failure(va.http01("a.example.com", TOKEN, KEY_AUTH).await);
        assert_eq!(f.kind, FailureKind::IncorrectResponse);
    })
    .await;
}

#[tokio::test]
async fn wrong_body_is_incorrect_response_naming_url_and_both_values() {
    bounded(async {
        let (_dns, web, va) = fixtures().await;
        web.set(TOKEN, "something else entirely");
        let f = failure(va.http01("a.example.com", TOKEN, KEY_AUTH).await);
        assert_eq!(f.kind, FailureKind::IncorrectResponse);
        assert!(f.detail.contains("http://a.example.com:"), "{}", f.detail);
        assert!(
            f.detail.contains(&format!("127.0.0.1:{}", web.port())),
            "{}",
            f.detail
        );
        assert!(f.detail.contains(KEY_AUTH), "{}", f.detail);
        assert!(f.detail.contains("something else entirely"), "{}", f.detail);
        assert_eq!(f.record.address_used, Some(LOCALHOST));
    })
    .await;
}

#[tokio::test]
async fn not_found_is_unauthorized() {
    bounded(async {
        let (_dns, _web, va) = fixtures().await;
        let f = failure(va.http01("a.example.com", TOKEN, KEY_AUTH).await);
        assert_eq!(f.kind, FailureKind::Unauthorized);
        assert!(f.detail.contains("404"), "{}", f.detail);
        assert!(f.detail.contains("no such challenge token"), "{}", f.detail);
    })
    .await;
}

#[tokio::test]
async fn removed_token_is_no_longer_served() {
    bounded(async {
        let (_dns, web, va) = fixtures().await;
        web.set(TOKEN, KEY_AUTH);
        va.http01("a.example.com", TOKEN, KEY_AUTH).await.unwrap();
        web.remove(TOKEN);
        let f = failure(va.http01("a.example.com", TOKEN, KEY_AUTH).await);
        assert_eq!(f.kind, FailureKind::Unauthorized);
    })
    .await;
}

#[tokio::test]
async fn body_over_64_kib_is_refused() {
    bounded(async {
        let (_dns, web, va) = fixtures().await;
        web.set(TOKEN, &format!("{KEY_AUTH}{}", "x".repeat(70 * 1024)));
        let f = failure(va.http01("a.example.com", TOKEN, KEY_AUTH).await);
        assert_eq!(f.kind, FailureKind::IncorrectResponse);
        assert!(f.detail.contains("larger than 65536"), "{}", f.detail);
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
        let va = va(&dns, closed_port, 1);
        let f = failure(va.http01("a.example.com", TOKEN, KEY_AUTH).await);
        assert_eq!(f.kind, FailureKind::Connection);
        assert!(f.detail.contains("connection refused"), "{}", f.detail);
        assert!(
            f.detail.contains(&format!("127.0.0.1:{closed_port}")),
            "{}",
            f.detail
        );
    })
    .await;
}

#[tokio::test]
async fn follows_a_redirect_to_another_name_on_the_http_port() {
    bounded(async {
        let (_dns, web, va) = fixtures().await;
        let target = format!(
            "http://other.example.net:{}/.well-known/acme-challenge/second",
            web.port()
        );
        web.set_redirect(TOKEN, &target);
        web.set("second", KEY_AUTH);
        let record = va.http01("a.example.com", TOKEN, KEY_AUTH).await.unwrap();
        assert_eq!(record.redirects, vec![target]);
        let seen = web.requests();
        assert_eq!(seen.len(), 2);
        assert_eq!(
            seen[1].host.as_deref(),
            Some(format!("other.example.net:{}", web.port()).as_str())
        );
    })
    .await;
}

#[tokio::test]
async fn follows_a_relative_redirect() {
    bounded(async {
        let (_dns, web, va) = fixtures().await;
        web.set_redirect(TOKEN, "/.well-known/acme-challenge/moved");
        web.set("moved", KEY_AUTH);
        let record = va.http01("a.example.com", TOKEN, KEY_AUTH).await.unwrap();
        assert_eq!(record.redirects.len(), 1);
        assert!(
            record.redirects[0].ends_with("/moved"),
            "{:?}",
            record.redirects
        );
    })
    .await;
}

#[tokio::test]
async fn follows_a_redirect_to_https_on_the_tls_port_with_any_certificate() {
    bounded(async {
        let dns = MockDns::start().await.unwrap();
        let web = Http01Responder::start().await.unwrap();
        let secure = Http01Responder::start_https().await.unwrap();
        let va = va(&dns, web.port(), secure.port());
        let target = format!(
            "https://secure.example.com:{}/.well-known/acme-challenge/tls",
            secure.port()
        );
        web.set_redirect(TOKEN, &target);
        secure.set("tls", KEY_AUTH);
        let record = va.http01("a.example.com", TOKEN, KEY_AUTH).await.unwrap();
        assert_eq!(record.redirects, vec![target]);
        assert_eq!(secure.requests().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn more_than_ten_redirects_fail() {
    bounded(async {
        let (_dns, web, va) = fixtures().await;
        web.set_redirect(
            TOKEN,
            &format!(
                "http://a.example.com:{}/.well-known/acme-challenge/{TOKEN}",
                web.port()
            ),
        );
        let f = failure(va.http01("a.example.com", TOKEN, KEY_AUTH).await);
        assert_eq!(f.kind, FailureKind::Connection);
        assert!(f.detail.contains("Too many redirects"), "{}", f.detail);
        assert_eq!(f.record.redirects.len(), 10);
        assert_eq!(web.requests().len(), 11);
    })
    .await;
}

#[tokio::test]
async fn exactly_ten_redirects_succeed() {
    bounded(async {
        let (_dns, web, va) = fixtures().await;
        for hop in 0..10 {
            let from = if hop == 0 {
                TOKEN.to_owned()
            } else {
                format!("hop{hop}")
            };
            web.set_redirect(
                &from,
                &format!("/.well-known/acme-challenge/hop{}", hop + 1),
            );
        }
        web.set("hop10", KEY_AUTH);
        let record = va.http01("a.example.com", TOKEN, KEY_AUTH).await.unwrap();
        assert_eq!(record.redirects.len(), 10);
    })
    .await;
}

#[tokio::test]
async fn redirect_to_a_disallowed_port_fails() {
    bounded(async {
        let (_dns, web, va) = fixtures().await;
        web.set_redirect(
            TOKEN,
            "http://a.example.com:8080/.well-known/acme-challenge/x",
        );
        let f = failure(va.http01("a.example.com", TOKEN, KEY_AUTH).await);
        assert_eq!(f.kind, FailureKind::Connection);
        assert!(f.detail.contains("port 8080"), "{}", f.detail);
        assert_eq!(
            web.requests().len(),
            1,
            "the disallowed target must not be fetched"
        );
    })
    .await;
}

#[tokio::test]
async fn redirect_to_another_scheme_or_an_ip_fails() {
    bounded(async {
        let (_dns, web, va) = fixtures().await;
        web.set_redirect(TOKEN, "ftp://a.example.com/x");
        let f = failure(va.http01("a.example.com", TOKEN, KEY_AUTH).await);
        assert_eq!(f.kind, FailureKind::Connection);
        assert!(f.detail.contains("\"ftp\""), "{}", f.detail);

        web.set_redirect(
            TOKEN,
            &format!(
                "http://127.0.0.1:{}/.well-known/acme-challenge/x",
                web.port()
            ),
        );
        let f = failure(va.http01("a.example.com", TOKEN, KEY_AUTH).await);
        assert_eq!(f.kind, FailureKind::Connection);
        assert!(f.detail.contains("IP address"), "{}", f.detail);
    })
    .await;
}

#[tokio::test]
async fn private_address_is_refused_unless_allowed() {
    bounded(async {
        let dns = MockDns::start().await.unwrap();
        let web = Http01Responder::start().await.unwrap();
        web.set(TOKEN, KEY_AUTH);
        let strict = Va::new(VaConfig {
            dns_resolver: Some(dns.addr()),
            http01_port: web.port(),
            tlsalpn01_port: 1,
            allow_private_addresses: false,
            timeout: Duration::from_secs(5),
            dnssec: false, // MockDns serves no signatures here
            ..VaConfig::default()
        })
        .unwrap();
        let f = failure(strict.http01("a.example.com", TOKEN, KEY_AUTH).await);
        assert_eq!(f.kind, FailureKind::Dns);
        assert!(f.detail.contains("127.0.0.1 (loopback"), "{}", f.detail);
        assert_eq!(f.record.addresses_resolved, vec![LOCALHOST]);
        assert_eq!(f.record.address_used, None);
        assert!(
            web.requests().is_empty(),
            "a refused address must not be contacted"
        );

        // The same name with the setting on: reaches the responder.
        va(&dns, web.port(), 1)
            .http01("a.example.com", TOKEN, KEY_AUTH)
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn private_range_address_is_refused_before_connecting() {
    bounded(async {
        let dns = MockDns::start().await.unwrap();
        let web = Http01Responder::start().await.unwrap();
        // 10.0.0.1 is never contacted: it is refused before any connect.
        dns.set_a("internal.example.com", vec!["10.0.0.1".parse().unwrap()]);
        let strict = Va::new(VaConfig {
            dns_resolver: Some(dns.addr()),
            http01_port: web.port(),
            tlsalpn01_port: 1,
            allow_private_addresses: false,
            timeout: Duration::from_secs(5),
            dnssec: false, // MockDns serves no signatures here
            ..VaConfig::default()
        })
        .unwrap();
        let f = failure(strict.http01("internal.example.com", TOKEN, KEY_AUTH).await);
        assert_eq!(f.kind, FailureKind::Dns);
        assert!(f.detail.contains("10.0.0.1 (private"), "{}", f.detail);
    })
    .await;
}

#[tokio::test]
async fn nxdomain_servfail_and_no_records_are_distinct_dns_problems() {
    bounded(async {
        let (dns, web, va) = fixtures().await;
        web.set(TOKEN, KEY_AUTH);
        dns.set_nxdomain("gone.example.com");
        dns.set_servfail("broken.example.com");
        dns.set_a("empty.example.com", Vec::new());

        let nx = failure(va.http01("gone.example.com", TOKEN, KEY_AUTH).await);
        let sf = failure(va.http01("broken.example.com", TOKEN, KEY_AUTH).await);
        let empty = failure(va.http01("empty.example.com", TOKEN, KEY_AUTH).await);
        for f in [&nx, &sf, &empty] {
            assert_eq!(f.kind, FailureKind::Dns, "{}", f.detail);
        }
        assert!(
            nx.detail.contains("NXDOMAIN") && nx.detail.contains("gone.example.com"),
            "{}",
            nx.detail
        );
        assert!(
            sf.detail.contains("SERVFAIL") && sf.detail.contains("broken.example.com"),
            "{}",
            sf.detail
        );
        assert!(empty.detail.contains("no A records"), "{}", empty.detail);
        assert!(web.requests().is_empty());

        dns.clear_faults("gone.example.com");
        va.http01("gone.example.com", TOKEN, KEY_AUTH)
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn silent_nameserver_is_a_dns_timeout() {
    bounded(async {
        let dns = MockDns::start().await.unwrap();
        dns.set_unresponsive("slow.example.com");
        let va = Va::new(VaConfig {
            dns_resolver: Some(dns.addr()),
            http01_port: 1,
            tlsalpn01_port: 1,
            allow_private_addresses: true,
            timeout: Duration::from_secs(2),
            dnssec: false, // MockDns serves no signatures here
            ..VaConfig::default()
        })
        .unwrap();
        let f = failure(va.http01("slow.example.com", TOKEN, KEY_AUTH).await);
        assert_eq!(f.kind, FailureKind::Dns);
        assert!(f.detail.contains("timed out"), "{}", f.detail);
    })
    .await;
}

#[tokio::test]
async fn a_server_that_never_answers_hits_the_validation_timeout() {
    bounded(async {
        let dns = MockDns::start().await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        let va = Va::new(VaConfig {
            dns_resolver: Some(dns.addr()),
            http01_port: port,
            tlsalpn01_port: 1,
            allow_private_addresses: true,
            timeout: Duration::from_secs(1),
            dnssec: false, // MockDns serves no signatures here
            ..VaConfig::default()
        })
        .unwrap();
        let started = std::time::Instant::now();
        let f = failure(va.http01("a.example.com", TOKEN, KEY_AUTH).await);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(f.kind, FailureKind::Connection);
        assert!(
            f.detail.contains("did not finish within 1s"),
            "{}",
            f.detail
        );
        assert_eq!(f.record.address_used, Some(LOCALHOST));
        hold.abort();
    })
    .await;
}

#[tokio::test]
async fn a_token_that_is_not_base64url_is_not_fetched() {
    bounded(async {
        let (_dns, web, va) = fixtures().await;
        let f = failure(
            va.http01("a.example.com", "../../etc/passwd", KEY_AUTH)
                .await,
        );
        assert_eq!(f.kind, FailureKind::IncorrectResponse);
        assert!(web.requests().is_empty());
    })
    .await;
}
