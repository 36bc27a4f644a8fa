//! The ACME listener's certificate as an operator configures it (`[tls]`): the operator's own
//! files, served and read again when they change (a broken change leaves the previous
//! certificate served); Ferrite's own certificate naming `tls.names`, and renewed while
//! serving when it nears its end. Only 127.0.0.1 is contacted; every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use ferrite_core::TestClock;
use ferrite_testkit::{TestCa, TestCaOptions};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use x509_parser::extensions::GeneralName;

/// The leaf the ACME listener serves now, and the directory's HTTP status line over that
/// connection (the listener answers with the certificate it presents).
async fn served(ca: &TestCa) -> (Vec<u8>, String) {
    served_at(ca.addr, "/directory").await
}

/// The leaf the TLS listener at `addr` serves now, and `GET path`'s whole answer (status
/// line first).
async fn served_at(addr: std::net::SocketAddr, path: &str) -> (Vec<u8>, String) {
    // Any certificate: these tests look at what is served (some of it valid only in the test
    // clock's future), not whether a client trusts it.
    let config = ferrite_va::any_certificate_client_config(b"http/1.1").unwrap();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .unwrap();
    let leaf = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    tls.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut answer))
        .await
        .unwrap()
        .ok();
    (leaf, String::from_utf8_lossy(&answer).into_owned())
}

/// Polls (every 200 ms, at most `within`) until the leaf served at `addr` is not `old`;
/// returns it.
async fn served_other_than(addr: std::net::SocketAddr, old: &[u8], within: Duration) -> Vec<u8> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let (leaf, _) = served_at(addr, "/").await;
        if leaf != old {
            return leaf;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the listener still serves the old certificate after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A certificate for `names` (DNS or IP) and its key, signed by `ca`: (chain PEM, key PEM, DER).
fn operator_leaf(
    ca: &rcgen::Issuer<'_, rcgen::KeyPair>,
    names: &[&str],
) -> (String, String, Vec<u8>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .unwrap();
    let cert = params.signed_by(&key, ca).unwrap();
    (cert.pem(), key.serialize_pem(), cert.der().to_vec())
}

fn san(der: &[u8]) -> Vec<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
    let ext = cert.subject_alternative_name().unwrap().unwrap();
    ext.value
        .general_names
        .iter()
        .map(|n| match n {
            GeneralName::DNSName(d) => (*d).to_owned(),
            GeneralName::IPAddress(o) if o.len() == 4 => {
                std::net::Ipv4Addr::new(o[0], o[1], o[2], o[3]).to_string()
            }
            GeneralName::IPAddress(o) => {
                std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*o).unwrap()).to_string()
            }
            other => format!("{other:?}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operators_files_are_served_and_read_again_when_they_change() {
    let files = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (files.path().join("acme.pem"), files.path().join("acme.key"));
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.self_signed(&ca_key).unwrap();
    let operator_ca = rcgen::Issuer::new(ca_params, ca_key);
    let (chain, key, first) = operator_leaf(&operator_ca, &["acme.test", "127.0.0.1"]);
    std::fs::write(&cert_path, chain).unwrap();
    std::fs::write(&key_path, key).unwrap();

    let mut options = TestCaOptions::default();
    options.config.base_url = String::new();
    options.config.tls.cert_file = cert_path.display().to_string();
    options.config.tls.key_file = key_path.display().to_string();
    options.config.tls.check_seconds = 1;
    let ca = TestCa::start_with(options).await;
    let (leaf, status) = served(&ca).await;
    assert_eq!(leaf, first, "the operator's certificate is served");
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");

    // The operator renews: key first, then the certificate, as a renewal hook would.
    let (chain, key, second) = operator_leaf(&operator_ca, &["acme.test", "127.0.0.1"]);
    std::fs::write(&key_path, key).unwrap();
    std::fs::write(&cert_path, chain).unwrap();
    let leaf = served_other_than(ca.addr, &first, Duration::from_secs(15)).await;
    assert_eq!(
        leaf, second,
        "the changed files are served without a restart"
    );

    // A broken change: the previous certificate is still served, and ACME still answers.
    std::fs::write(&cert_path, "not a certificate\n").unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (leaf, status) = served(&ca).await;
    assert_eq!(leaf, second);
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");

    // Mended: served again.
    let (chain, key, third) = operator_leaf(&operator_ca, &["acme.test", "127.0.0.1"]);
    std::fs::write(&key_path, key).unwrap();
    std::fs::write(&cert_path, chain).unwrap();
    assert_eq!(
        served_other_than(ca.addr, &second, Duration::from_secs(15)).await,
        third
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_is_not_the_certificates_is_refused_at_start() {
    let files = tempfile::tempdir().unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.self_signed(&ca_key).unwrap();
    let operator_ca = rcgen::Issuer::new(ca_params, ca_key);
    let (chain, _, _) = operator_leaf(&operator_ca, &["127.0.0.1"]);
    let (_, other_key, _) = operator_leaf(&operator_ca, &["127.0.0.1"]);
    let (cert_path, key_path) = (files.path().join("acme.pem"), files.path().join("acme.key"));
    std::fs::write(&cert_path, chain).unwrap();
    std::fs::write(&key_path, &other_key).unwrap();

    let mut config = ferrite_app::config::Config::default();
    let data = tempfile::tempdir().unwrap();
    config.data_dir = data.path().to_owned();
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    (config.listen, config.public_listen, config.admin_listen) = (loopback, loopback, loopback);
    config.tls.cert_file = cert_path.display().to_string();
    config.tls.key_file = key_path.display().to_string();
    let listeners = ferrite_app::Listeners::bind(&config).await.unwrap();
    let err = ferrite_app::Ferrite::build(&config, listeners, ferrite_app::Hooks::default())
        .await
        .err()
        .expect("a certificate with another key is refused");
    let text = format!("{err:#}");
    assert!(text.contains("tls.cert_file and tls.key_file"), "{text}");
    assert!(text.contains(&key_path.display().to_string()), "{text}");
    assert!(
        !text.contains(&other_key[40..80]),
        "no key material: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferrites_own_certificate_names_tls_names_and_is_renewed_while_serving() {
    let clock = Arc::new(TestClock::new(time::OffsetDateTime::now_utc()));
    let mut options = TestCaOptions {
        clock: clock.clone(),
        ..TestCaOptions::default()
    };
    options.config.base_url = "https://acme.test".into();
    options.config.tls.names = vec!["acme.test".into(), "127.0.0.1".into()];
    options.config.tls.check_seconds = 1;
    let ca = TestCa::start_with(options).await;
    let (first, status) = served(&ca).await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert_eq!(san(&first), ["acme.test", "127.0.0.1"]);
    let on_disk = |ca: &TestCa| {
        let pem = std::fs::read_to_string(ca.data_dir().join("ca/tls.pem")).unwrap();
        use rustls::pki_types::pem::PemObject;
        CertificateDer::pem_slice_iter(pem.as_bytes())
            .next()
            .unwrap()
            .unwrap()
            .to_vec()
    };
    assert_eq!(on_disk(&ca), first);

    // A year later (the certificate lasts 397 days; it is renewed with 30 left).
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(served(&ca).await.0, first, "not renewed early");
    clock.advance(time::Duration::days(370));
    let renewed = served_other_than(ca.addr, &first, Duration::from_secs(15)).await;
    assert_eq!(san(&renewed), ["acme.test", "127.0.0.1"]);
    let (_, cert) = x509_parser::parse_x509_certificate(&renewed).unwrap();
    let not_before = cert.validity().not_before.to_datetime();
    assert!(
        (not_before - clock_now(&clock)).abs() < time::Duration::minutes(5),
        "issued at the clock's time: {not_before}"
    );
    assert_eq!(
        on_disk(&ca),
        renewed,
        "the renewal is written to data_dir/ca"
    );
}

fn clock_now(clock: &TestClock) -> time::OffsetDateTime {
    use ferrite_core::Clock;
    clock.now()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_listener_serves_https_with_the_operators_files() {
    let files = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (
        files.path().join("admin.pem"),
        files.path().join("admin.key"),
    );
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.self_signed(&ca_key).unwrap();
    let operator_ca = rcgen::Issuer::new(ca_params, ca_key);
    let (chain, key, first) = operator_leaf(&operator_ca, &["admin.test", "127.0.0.1"]);
    std::fs::write(&cert_path, chain).unwrap();
    std::fs::write(&key_path, key).unwrap();

    let mut options = TestCaOptions::default();
    options.config.admin_cert_file = cert_path.display().to_string();
    options.config.admin_key_file = key_path.display().to_string();
    options.config.tls.check_seconds = 1;
    let ca = TestCa::start_with(options).await;
    let admin: std::net::SocketAddr = ca
        .admin_url
        .strip_prefix("https://")
        .unwrap_or_else(|| panic!("the admin URL is not https: {}", ca.admin_url))
        .parse()
        .unwrap();

    // The portal and the admin API answer over TLS with the operator's certificate.
    let (leaf, answer) = served_at(admin, "/sign-in").await;
    assert_eq!(leaf, first, "the operator's certificate is served");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("content-security-policy:"), "{answer}");
    let (_, answer) = served_at(admin, "/admin/v1/credentials").await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    // Plain HTTP on that port gets no page.
    let mut plain = TcpStream::connect(admin).await.unwrap();
    plain
        .write_all(b"GET /sign-in HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), plain.read_to_end(&mut answer)).await;
    assert!(
        !String::from_utf8_lossy(&answer).contains("<form"),
        "plain HTTP got a page"
    );

    // Renewed files are served without a restart.
    let (chain, key, second) = operator_leaf(&operator_ca, &["admin.test", "127.0.0.1"]);
    std::fs::write(&key_path, key).unwrap();
    std::fs::write(&cert_path, chain).unwrap();
    assert_eq!(
        served_other_than(admin, &first, Duration::from_secs(15)).await,
        second
    );
}
