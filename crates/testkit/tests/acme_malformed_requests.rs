//! Malformed POSTs (RFC 8555 §6.2, §6.7) to every ACME endpoint, over HTTP/1.1 and HTTP/2:
//! a wrong Content-Type, bodies over the size cap (also larger than the HTTP/2 stream window),
//! empty, not JSON, JSON of the wrong shape — plus an unknown path, a wrong method and a path
//! that does not decode. Each must reach the client as its problem document, and the server
//! must take the whole request body, also the part that arrives after the response: a client
//! still uploading when the server ends the stream (HTTP/2 `RST_STREAM`) or the connection
//! (HTTP/1.1) may lose the response (curl 7.88: "Stream error in the HTTP/2 framing layer").
//!
//! The clients are hyper's, over rustls with ALPN forced to one version, trusting the test
//! CA's root. Only 127.0.0.1 is contacted; every request and test is bounded in time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use ferrite_testkit::{TestCa, bounded};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::ServerName;
use rustls_pki_types::pem::PemObject;
use tokio::sync::{mpsc, oneshot};

/// How long one request, or waiting for a client to finish sending a body, may take.
const STEP: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    Http1,
    Http2,
}

/// One TLS connection to the test CA with hyper's client for `Version`.
enum Conn {
    Http1(hyper::client::conn::http1::SendRequest<TestBody>),
    Http2(hyper::client::conn::http2::SendRequest<TestBody>),
}

impl Conn {
    async fn open(ca: &TestCa, version: Version) -> Conn {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pki_types::CertificateDer::pem_slice_iter(ca.root_pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let alpn: &[u8] = match version {
            Version::Http1 => b"http/1.1",
            Version::Http2 => b"h2",
        };
        tls.alpn_protocols = vec![alpn.to_vec()];
        assert!(ca.addr.ip().is_loopback(), "tests only talk to loopback");
        let tcp = tokio::net::TcpStream::connect(ca.addr).await.unwrap();
        // Headers and body go out at once, not 40 ms apart (Nagle and delayed ACKs).
        tcp.set_nodelay(true).unwrap();
        let name = ServerName::try_from("127.0.0.1").unwrap().to_owned();
        let stream = tokio_rustls::TlsConnector::from(Arc::new(tls))
            .connect(name, tcp)
            .await
            .unwrap();
        assert_eq!(stream.get_ref().1.alpn_protocol(), Some(alpn));
        let io = TokioIo::new(stream);
        match version {
            Version::Http1 => {
                let (sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
                tokio::spawn(conn);
                Conn::Http1(sender)
            }
            Version::Http2 => {
                let (sender, conn) =
                    hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                        .await
                        .unwrap();
                tokio::spawn(conn);
                Conn::Http2(sender)
            }
        }
    }

    /// Sends a POST of `body` to `path`; panics on a transport error (a reset stream, a
    /// closed connection) or after [`STEP`].
    async fn post(
        &mut self,
        ca: &TestCa,
        path: &str,
        content_type: &str,
        body: TestBody,
    ) -> http::Response<Incoming> {
        self.send(ca, http::Method::POST, path, content_type, body)
            .await
    }

    /// Sends `body` to `path` with `method`; panics as [`Conn::post`] does.
    async fn send(
        &mut self,
        ca: &TestCa,
        method: http::Method,
        path: &str,
        content_type: &str,
        body: TestBody,
    ) -> http::Response<Incoming> {
        let req = http::Request::builder()
            .method(method)
            .uri(ca.url(path))
            .header(http::header::CONTENT_TYPE, content_type)
            .body(body)
            .unwrap();
        let sent = async {
            match self {
                Conn::Http1(sender) => {
                    // The connection must still be open: an HTTP/1.1 server that could not
                    // take a request body whole closes it.
                    sender.ready().await?;
                    sender.send_request(req).await
                }
                Conn::Http2(sender) => {
                    sender.ready().await?;
                    sender.send_request(req).await
                }
            }
        };
        tokio::time::timeout(STEP, sent)
            .await
            .unwrap_or_else(|_| panic!("POST {path}: no response within {STEP:?}"))
            .unwrap_or_else(|e| panic!("POST {path}: no response, transport error: {e:?}"))
    }
}

/// A request body fed through a channel, which tells the test whether the client sent all
/// of it: `true` once its last byte was taken, `false` if the client dropped it before (the
/// server ended the stream or the connection first).
struct TestBody {
    chunks: mpsc::Receiver<Bytes>,
    /// The length announced in `Content-Length`, if any.
    length: Option<u64>,
    taken: u64,
    done: Option<oneshot::Sender<bool>>,
}

/// The test's end of a [`TestBody`].
struct BodyFeed {
    chunks: mpsc::Sender<Bytes>,
    done: oneshot::Receiver<bool>,
}

impl TestBody {
    /// A body the test feeds through the returned [`BodyFeed`]; `length` is announced.
    fn fed(length: Option<u64>) -> (TestBody, BodyFeed) {
        let (chunks_tx, chunks) = mpsc::channel(256);
        let (done_tx, done) = oneshot::channel();
        let body = TestBody {
            chunks,
            length,
            taken: 0,
            done: Some(done_tx),
        };
        (
            body,
            BodyFeed {
                chunks: chunks_tx,
                done,
            },
        )
    }

    /// `bytes` in 16 KiB chunks, with its length announced.
    fn of(bytes: &[u8]) -> (TestBody, oneshot::Receiver<bool>) {
        let (body, feed) = Self::fed(Some(bytes.len() as u64));
        for chunk in bytes.chunks(16 * 1024) {
            feed.chunks.try_send(Bytes::copy_from_slice(chunk)).unwrap();
        }
        (body, feed.done)
    }

    fn report(&mut self, all_sent: bool) {
        if let Some(done) = self.done.take() {
            let _ = done.send(all_sent);
        }
    }
}

impl Body for TestBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.is_end_stream() {
            self.report(true);
            return Poll::Ready(None);
        }
        match self.chunks.poll_recv(cx) {
            Poll::Ready(Some(chunk)) => {
                self.taken += chunk.len() as u64;
                if self.is_end_stream() {
                    self.report(true);
                }
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            Poll::Ready(None) => {
                self.report(true);
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.length == Some(self.taken)
    }

    fn size_hint(&self) -> SizeHint {
        match self.length {
            Some(n) => SizeHint::with_exact(n - self.taken),
            None => SizeHint::default(),
        }
    }
}

impl Drop for TestBody {
    fn drop(&mut self) {
        let all_sent = self.is_end_stream();
        self.report(all_sent);
    }
}

/// Reads the response and asserts it is an RFC 8555 problem document of type `malformed`
/// with HTTP status `status`.
async fn assert_malformed(what: &str, response: http::Response<Incoming>, status: u16) {
    let (parts, body) = response.into_parts();
    let body = tokio::time::timeout(STEP, body.collect())
        .await
        .unwrap_or_else(|_| panic!("{what}: response body not complete within {STEP:?}"))
        .unwrap_or_else(|e| panic!("{what}: response body failed: {e:?}"))
        .to_bytes();
    let problem: serde_json::Value = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", String::from_utf8_lossy(&body)));
    assert_eq!(
        (parts.status.as_u16(), problem["type"].as_str()),
        (status, Some("urn:ietf:params:acme:error:malformed")),
        "{what}: {problem}"
    );
    assert_eq!(problem["status"], status, "{what}: {problem}");
    assert_eq!(
        parts.headers.get(http::header::CONTENT_TYPE).unwrap(),
        "application/problem+json",
        "{what}"
    );
}

/// Waits until the client is done with a request body; panics unless it sent all of it.
async fn assert_body_sent(what: &str, done: oneshot::Receiver<bool>) {
    let all_sent = tokio::time::timeout(STEP, done)
        .await
        .unwrap_or_else(|_| panic!("{what}: request body still unsent after {STEP:?}"))
        .unwrap();
    assert!(
        all_sent,
        "{what}: the server ended the stream or connection before the body was sent"
    );
}

/// Every ACME POST resource, with ids that name nothing (the body is refused before any
/// lookup).
const POST_PATHS: &[&str] = &[
    "/directory",
    "/acme/new-nonce",
    "/acme/issuer-cert",
    "/acme/new-account",
    "/acme/new-order",
    "/acme/acct/AAAAAAAAAAAAAAAAAAAAAA",
    "/acme/acct/AAAAAAAAAAAAAAAAAAAAAA/orders",
    "/acme/key-change",
    "/acme/order/AAAAAAAAAAAAAAAAAAAAAA",
    "/acme/order/AAAAAAAAAAAAAAAAAAAAAA/finalize",
    "/acme/authz/AAAAAAAAAAAAAAAAAAAAAA",
    "/acme/chall/AAAAAAAAAAAAAAAAAAAAAA/AAAAAAAAAAAAAAAAAAAAAA",
    "/acme/cert/00AA",
    "/acme/revoke-cert",
];

/// Requests answered without a handler looking at the body: (method, path, HTTP status).
const BODYLESS_ANSWERS: &[(&str, &str, u16)] = &[
    // The fallback: no such resource.
    ("POST", "/acme/no-such-resource", 404),
    // A method no resource takes.
    ("PUT", "/directory", 405),
    ("PUT", "/acme/new-account", 405),
    // The path extractor's rejection (not UTF-8 once percent-decoded).
    ("POST", "/acme/acct/%FF", 400),
];

/// A malformed request body and the status it gets from a POST resource.
struct Case {
    name: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
    status: u16,
    /// Repetitions over HTTP/2, where the response raced the body.
    h2_repeats: usize,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "wrong content type",
            content_type: "text/plain",
            body: b"not json".to_vec(),
            status: 415,
            h2_repeats: 20,
        },
        Case {
            name: "200 KiB body",
            content_type: "application/jose+json",
            body: vec![b'x'; 200 * 1024],
            status: 413,
            h2_repeats: 20,
        },
        Case {
            // Larger than the server's HTTP/2 stream window (1 MiB): the client can only send
            // it all if the server reads it.
            name: "2 MiB body",
            content_type: "application/jose+json",
            body: vec![b'x'; 2 * 1024 * 1024],
            status: 413,
            h2_repeats: 5,
        },
        Case {
            name: "empty body",
            content_type: "application/jose+json",
            body: Vec::new(),
            status: 400,
            h2_repeats: 20,
        },
        Case {
            name: "not JSON",
            content_type: "application/jose+json",
            body: b"not json".to_vec(),
            status: 400,
            h2_repeats: 20,
        },
        Case {
            name: "JSON of the wrong shape",
            content_type: "application/jose+json",
            body: br#"{"protected": 1, "payload": ["x"], "signature": null}"#.to_vec(),
            status: 400,
            h2_repeats: 20,
        },
    ]
}

#[tokio::test]
async fn every_malformed_post_gets_its_problem_document_over_http1_and_http2() {
    bounded(async {
        let ca = TestCa::start().await;
        let cases = cases();
        for version in [Version::Http1, Version::Http2] {
            // One connection per version: over HTTP/1.1 it must stay open throughout
            // (a body the server left unread would close it).
            let mut conn = Conn::open(&ca, version).await;
            let targets = POST_PATHS
                .iter()
                .map(|p| ("POST", *p, None))
                .chain(BODYLESS_ANSWERS.iter().map(|(m, p, s)| (*m, *p, Some(*s))));
            for (method, path, bodyless_status) in targets {
                for case in &cases {
                    let repeats = match version {
                        Version::Http1 => 1,
                        Version::Http2 => case.h2_repeats,
                    };
                    for i in 0..repeats {
                        let what = format!("{version:?} {method} {path} with {} (#{i})", case.name);
                        let (body, done) = TestBody::of(&case.body);
                        let response = conn
                            .send(&ca, method.parse().unwrap(), path, case.content_type, body)
                            .await;
                        assert_malformed(&what, response, bodyless_status.unwrap_or(case.status))
                            .await;
                        assert_body_sent(&what, done).await;
                    }
                }
            }
        }
    })
    .await;
}

/// The response comes before the body is sent (the client is slow, or reads responses before
/// it writes): the client still gets to send the whole body afterwards, and the connection
/// stays usable.
#[tokio::test]
async fn a_body_sent_after_the_problem_document_is_still_taken() {
    bounded(async {
        let ca = TestCa::start().await;
        let targets = POST_PATHS
            .iter()
            .map(|p| ("POST", *p, 415))
            .chain(BODYLESS_ANSWERS.iter().copied());
        for version in [Version::Http1, Version::Http2] {
            let mut conn = Conn::open(&ca, version).await;
            for (method, path, status) in targets.clone() {
                let what =
                    format!("{version:?} {method} {path}, wrong content type, body sent late");
                let late = b"not json".to_vec();
                let (body, feed) = TestBody::fed(Some(late.len() as u64));
                let response = conn
                    .send(&ca, method.parse().unwrap(), path, "text/plain", body)
                    .await;
                assert_malformed(&what, response, status).await;
                // Fails only if the client dropped the body: `assert_body_sent` says so.
                let _ = feed.chunks.try_send(Bytes::from(late));
                assert_body_sent(&what, feed.done).await;
            }
            // An oversized body, its first part before the 413 and the rest after it.
            let what = format!("{version:?} POST /acme/new-order, 200 KiB, half sent late");
            let (body, feed) = TestBody::fed(Some(200 * 1024));
            feed.chunks
                .try_send(Bytes::from(vec![b'x'; 100 * 1024]))
                .unwrap();
            let response = conn
                .post(&ca, "/acme/new-order", "application/jose+json", body)
                .await;
            assert_malformed(&what, response, 413).await;
            let _ = feed.chunks.try_send(Bytes::from(vec![b'x'; 100 * 1024]));
            assert_body_sent(&what, feed.done).await;
            // And the connection still serves requests.
            let (body, done) = TestBody::of(b"{}");
            let response = conn.post(&ca, "/acme/new-order", "text/plain", body).await;
            assert_malformed(&format!("{version:?} after"), response, 415).await;
            assert_body_sent(&format!("{version:?} after"), done).await;
        }
    })
    .await;
}

/// A body that never ends: the server reads a bounded amount, and the client still gets the
/// problem document; over HTTP/2 the connection stays usable for the next request.
#[tokio::test]
async fn an_endless_body_gets_its_problem_document_and_is_cut_off() {
    bounded(async {
        let ca = TestCa::start().await;
        for version in [Version::Http1, Version::Http2] {
            let what = format!("{version:?} POST /acme/new-account, endless body");
            let mut conn = Conn::open(&ca, version).await;
            let (body, feed) = TestBody::fed(None);
            // The test's own bound: 256 MiB, far above what the server reads.
            let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
            let BodyFeed { chunks, done } = feed;
            let feeder = tokio::spawn(async move {
                for _ in 0..4096 {
                    if chunks.send(chunk.clone()).await.is_err() {
                        break;
                    }
                }
                // Ends the body, if the server is still reading it.
                drop(chunks);
                done.await
            });
            let response = conn
                .post(&ca, "/acme/new-account", "application/jose+json", body)
                .await;
            assert_malformed(&what, response, 413).await;
            let all_sent = tokio::time::timeout(STEP, feeder).await.unwrap().unwrap();
            assert_eq!(all_sent, Ok(false), "{what}: the server read 256 MiB");
            if version == Version::Http2 {
                let (body, done) = TestBody::of(b"{}");
                let response = conn.post(&ca, "/acme/new-order", "text/plain", body).await;
                assert_malformed(&format!("{what}, then"), response, 415).await;
                assert_body_sent(&format!("{what}, then"), done).await;
            }
        }
    })
    .await;
}
