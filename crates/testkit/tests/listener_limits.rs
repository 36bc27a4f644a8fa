//! No client can hold a listener: idle connections, half-sent headers, a trickled body and an
//! idle HTTP/2 connection are closed on time on every listener; one client address gets at most
//! its share of connections; a listener filled to its cap leaves the others answering. The
//! limits are configured short (`[limits]`), as an operator could.
//! Only 127.0.0.0/8 is contacted (several loopback addresses stand for several clients); every
//! wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ferrite_testkit::{TestCa, TestCaOptions, bounded};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Every timeout of the test CA's listeners, in seconds.
const TIMEOUT: u64 = 1;
/// Connections one address may hold on a listener.
const PER_ADDRESS: usize = 3;
/// The public listener's cap.
const PUBLIC_CAP: usize = 5;

async fn start() -> TestCa {
    let mut options = TestCaOptions::default();
    let limits = &mut options.config.limits;
    limits.tls_handshake_timeout_seconds = TIMEOUT;
    limits.header_read_timeout_seconds = TIMEOUT;
    limits.body_read_timeout_seconds = TIMEOUT;
    limits.idle_timeout_seconds = TIMEOUT;
    limits.max_connections_per_address = PER_ADDRESS;
    limits.public_max_connections = PUBLIC_CAP;
    TestCa::start_with(options).await
}

/// The socket address of an `http://127.0.0.1:PORT` or `https://…` base URL.
fn addr_of(url: &str) -> SocketAddr {
    let authority = url.split("://").nth(1).unwrap().trim_end_matches('/');
    authority.parse().unwrap()
}

/// A connection to `to` from the loopback address `from`.
async fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(IpAddr::from(from), 0)).unwrap();
    socket.connect(to).await.unwrap()
}

/// Reads until the peer closes; returns what it sent, or panics if it is still open after
/// `within`.
async fn closed_within(stream: &mut (impl AsyncReadExt + Unpin), within: Duration) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(within, read_all)
        .await
        .unwrap_or_else(|_| panic!("the connection is still open after {within:?}"));
    got
}

/// Time enough for a one-second limit, the idle check's tick and a loaded machine.
const SLACK: Duration = Duration::from_secs(TIMEOUT + 4);

/// A TLS connection to the ACME listener offering `alpn`.
async fn tls_to(ca: &TestCa, alpn: &[u8]) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca.root_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let tcp = TcpStream::connect(ca.addr).await.unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .unwrap()
}

/// The HTTP/2 GOAWAY frame type (RFC 9113 §6.8).
const GOAWAY: u8 = 7;

/// The types of the HTTP/2 frames in `bytes` (RFC 9113 §4.1: a 24-bit length, the type, the
/// flags, the stream id, the payload).
fn frame_types(mut bytes: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    while bytes.len() >= 9 {
        let length =
            usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2]);
        types.push(bytes[3]);
        bytes = &bytes[(9 + length).min(bytes.len())..];
    }
    types
}

#[tokio::test]
async fn silent_and_slow_clients_are_closed_on_every_listener() {
    bounded(async {
        let ca = start().await;
        let listeners = [
            ("acme", ca.addr),
            ("public", addr_of(&ca.public_url)),
            ("admin", addr_of(&ca.admin_url)),
        ];
        for (name, addr) in listeners {
            // Connected, silent: no TLS handshake (ACME) or no request (plain HTTP).
            let mut silent = TcpStream::connect(addr).await.unwrap();
            closed_within(&mut silent, SLACK).await;
            // Headers begun and never finished.
            let mut half = TcpStream::connect(addr).await.unwrap();
            half.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                .await
                .unwrap();
            closed_within(&mut half, SLACK).await;
            eprintln!("{name}: silent and half-sent connections closed");
        }

        // A request whose body trickles: answered when the body's time is up, then closed.
        let mut tls = tls_to(&ca, b"http/1.1").await;
        tls.write_all(
            b"POST /acme/new-order HTTP/1.1\r\nHost: 127.0.0.1\r\n\
              Content-Type: application/jose+json\r\nContent-Length: 60000\r\n\r\n{",
        )
        .await
        .unwrap();
        let answer = closed_within(&mut tls, SLACK).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("application/problem+json"), "{answer}");

        // HTTP/2 with no request in flight: closed after the idle timeout.
        let mut h2 = tls_to(&ca, b"h2").await;
        // The connection preface and an empty SETTINGS frame (RFC 9113 §3.4, §6.5).
        h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            .await
            .unwrap();
        let frames = closed_within(&mut h2, SLACK).await;
        // The server said goodbye (a GOAWAY frame) before closing.
        assert!(frame_types(&frames).contains(&GOAWAY), "{frames:?}");

        // The listeners still serve after all that.
        let r = ferrite_testkit::raw::http_get(&format!("{}/healthz", ca.public_url)).await;
        assert_eq!(r.status, 200);
    })
    .await;
}

#[tokio::test]
async fn one_address_gets_at_most_its_share_of_connections() {
    bounded(async {
        let ca = start().await;
        let public = addr_of(&ca.public_url);
        let mut held = Vec::new();
        for _ in 0..PER_ADDRESS {
            held.push(connect_from([127, 0, 0, 2], public).await);
        }
        // Let the listener accept and count them.
        tokio::time::sleep(Duration::from_millis(200)).await;
        // One more from the same address is closed at once, with nothing said.
        let mut extra = connect_from([127, 0, 0, 2], public).await;
        let said = closed_within(&mut extra, Duration::from_millis(900)).await;
        assert!(said.is_empty());
        // Another address is served meanwhile.
        let mut other = connect_from([127, 0, 0, 3], public).await;
        other
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let answer = closed_within(&mut other, SLACK).await;
        assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
        drop(held);
    })
    .await;
}

#[tokio::test]
async fn a_listener_at_its_cap_leaves_the_others_answering() {
    bounded(async {
        let ca = start().await;
        let public = addr_of(&ca.public_url);
        // Fill the public listener from several addresses, each under its own share.
        let mut held = Vec::new();
        for i in 0..PUBLIC_CAP {
            let address = [127, 0, 0, 10 + u8::try_from(i % 2).unwrap()];
            held.push(connect_from(address, public).await);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        // A sixth client waits in the accept queue: no answer while the slots are held.
        let mut waiting = connect_from([127, 0, 0, 20], public).await;
        waiting
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        assert!(
            tokio::time::timeout(Duration::from_millis(300), waiting.read(&mut buf))
                .await
                .is_err(),
            "served beyond the cap"
        );
        // The ACME and admin listeners answer meanwhile.
        let raw = ca.raw();
        let r = raw.send("GET", &ca.directory_url, None, Vec::new()).await;
        assert_eq!(r.status, 200);
        let r =
            ferrite_testkit::raw::http_get(&format!("{}/admin/v1/credentials", ca.admin_url)).await;
        assert_eq!(r.status, 401, "{}", String::from_utf8_lossy(&r.body));
        // The held connections are closed as idle, and the waiting client is served.
        let answer = closed_within(&mut waiting, SLACK * 2).await;
        assert!(
            String::from_utf8_lossy(&answer).contains("200 OK"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
        drop(held);
    })
    .await;
}
