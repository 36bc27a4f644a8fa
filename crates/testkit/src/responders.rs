//! Challenge responders: what a customer's web server would serve.
//!
//! - [`Http01Responder`] serves `/.well-known/acme-challenge/{token}` over
//!   plain HTTP (or HTTPS with a self-signed certificate, for redirect
//!   tests).
//! - [`TlsAlpn01Responder`] answers ALPN "acme-tls/1" handshakes with the
//!   RFC 8737 certificate built per SNI, or with a deliberately faulty one.
//!
//! Both listen on 127.0.0.1 port 0 (the http-01 one on a given address if asked) and stop
//! when dropped.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, LOCATION};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{CertificateParams, CustomExtension, KeyPair};
use rustls::ServerConfig;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::Acceptor;
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::{LazyConfigAcceptor, TlsAcceptor};

const CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn other(err: impl std::fmt::Display) -> io::Error {
    io::Error::other(err.to_string())
}

/// Aborts the accept loop (and with it every connection task) on drop.
#[derive(Debug)]
struct Task(JoinHandle<()>);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Accepts until aborted; each connection runs in `connections`, which is
/// dropped (aborting them) with the loop.
fn accept_loop<F, Fut>(listener: TcpListener, serve: F) -> Task
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Task(tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            while connections.try_join_next().is_some() {}
            match listener.accept().await {
                Ok((stream, _)) => {
                    connections.spawn(serve(stream));
                }
                Err(err) => {
                    tracing::debug!(%err, "responder accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A request the [`Http01Responder`] received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenRequest {
    /// The Host header, if any.
    pub host: Option<String>,
    /// The path and query.
    pub path: String,
    /// The address the request came from.
    pub peer: Option<IpAddr>,
}

#[derive(Default)]
struct HttpState {
    bodies: HashMap<String, String>,
    redirects: HashMap<String, String>,
    requests: Vec<SeenRequest>,
    /// How long every answer waits before it is sent (a slow customer server).
    delay: std::time::Duration,
}

/// Serves http-01 key authorizations (RFC 8555 §8.3) on 127.0.0.1.
#[derive(Debug)]
pub struct Http01Responder {
    port: u16,
    state: Arc<Mutex<HttpState>>,
    _task: Task,
}

impl std::fmt::Debug for HttpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpState")
            .field("tokens", &self.bodies.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Http01Responder {
    /// Starts a plain-HTTP responder on 127.0.0.1:0.
    pub async fn start() -> io::Result<Self> {
        Self::start_with(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), None).await
    }

    /// Starts a plain-HTTP responder on `addr` (an address of a network namespace the test
    /// made, where it stands for a domain's web server).
    pub async fn start_on(addr: SocketAddr) -> io::Result<Self> {
        Self::start_with(addr, None).await
    }

    /// Starts an HTTPS responder on 127.0.0.1:0 with a self-signed
    /// certificate for "localhost" (for https redirect targets: the VA
    /// accepts any certificate there).
    pub async fn start_https() -> io::Result<Self> {
        let key = KeyPair::generate().map_err(other)?;
        let cert = CertificateParams::new(vec!["localhost".to_owned()])
            .map_err(other)?
            .self_signed(&key)
            .map_err(other)?;
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(other)?
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .map_err(other)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Self::start_with(
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            Some(TlsAcceptor::from(Arc::new(config))),
        )
        .await
    }

    async fn start_with(addr: SocketAddr, tls: Option<TlsAcceptor>) -> io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let port = listener.local_addr()?.port();
        let state = Arc::new(Mutex::new(HttpState::default()));
        let shared = state.clone();
        let task = accept_loop(listener, move |tcp| {
            let state = shared.clone();
            let tls = tls.clone();
            let peer = tcp.peer_addr().ok().map(|a| a.ip());
            async move {
                match tls {
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(tcp).await {
                            serve_http(stream, peer, state).await;
                        }
                    }
                    None => serve_http(tcp, peer, state).await,
                }
            }
        });
        Ok(Self {
            port,
            state,
            _task: task,
        })
    }

    /// The port listened on (give this to `VaConfig::http01_port`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves `key_authorization` with status 200 for `token`.
    pub fn set(&self, token: &str, key_authorization: &str) {
        let mut state = lock(&self.state);
        state.redirects.remove(token);
        state
            .bodies
            .insert(token.to_owned(), key_authorization.to_owned());
    }

    /// Stops serving `token` (404 from now on).
    pub fn remove(&self, token: &str) {
        let mut state = lock(&self.state);
        state.bodies.remove(token);
        state.redirects.remove(token);
    }

    /// Answers `token` with `302 Found` and `Location: {location}`.
    pub fn set_redirect(&self, token: &str, location: &str) {
        let mut state = lock(&self.state);
        state.bodies.remove(token);
        state
            .redirects
            .insert(token.to_owned(), location.to_owned());
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<SeenRequest> {
        lock(&self.state).requests.clone()
    }

    /// Makes every answer from now on wait `delay` before it is sent (a slow server).
    pub fn set_delay(&self, delay: std::time::Duration) {
        lock(&self.state).delay = delay;
    }
}

async fn serve_http<IO>(io: IO, peer: Option<IpAddr>, state: Arc<Mutex<HttpState>>)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request: Request<Incoming>| {
        let response = respond(&state, peer, &request);
        let delay = lock(&state).delay;
        async move {
            tokio::time::sleep(delay).await;
            Ok::<_, Infallible>(response)
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), service)
        .await;
}

fn respond(
    state: &Mutex<HttpState>,
    peer: Option<IpAddr>,
    request: &Request<Incoming>,
) -> Response<Full<Bytes>> {
    let path = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |pq| pq.as_str().to_owned(),
    );
    let host = request
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    let mut state = lock(state);
    state.requests.push(SeenRequest {
        host,
        path: path.clone(),
        peer,
    });
    let token = path.strip_prefix(CHALLENGE_PREFIX).unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::new()));
    if let Some(location) = state.redirects.get(token) {
        *response.status_mut() = StatusCode::FOUND;
        if let Ok(value) = location.parse() {
            response.headers_mut().insert(LOCATION, value);
        }
    } else if let Some(body) = state.bodies.get(token) {
        *response.body_mut() = Full::new(Bytes::from(body.clone()));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, http::HeaderValue::from_static("text/plain"));
    } else {
        *response.status_mut() = StatusCode::NOT_FOUND;
        *response.body_mut() = Full::new(Bytes::from_static(b"no such challenge token\n"));
    }
    response
}

/// Ways a [`TlsAlpn01Responder`] can get the RFC 8737 answer wrong, to test
/// that the validator notices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsAlpnFault {
    /// The correct answer.
    #[default]
    None,
    /// The acmeIdentifier holds the digest of another key authorization.
    WrongDigest,
    /// The acmeIdentifier extension is not marked critical.
    NotCritical,
    /// The certificate has no acmeIdentifier extension.
    NoAcmeIdentifier,
    /// The subjectAltName lists a second name.
    ExtraSan,
    /// The handshake completes without negotiating any ALPN protocol.
    NoAlpn,
    /// The server only speaks "http/1.1", so the handshake fails.
    WrongAlpn,
    /// The handshake is signed with a key other than the certificate's.
    ForeignKey,
    /// Not a fault: the correct answer, over TLS 1.2 only.
    Tls12Only,
}

/// Answers tls-alpn-01 (RFC 8737) handshakes on 127.0.0.1, choosing the
/// certificate by SNI; unknown names get their handshake dropped.
pub struct TlsAlpn01Responder {
    port: u16,
    configs: Arc<Mutex<HashMap<String, Arc<ServerConfig>>>>,
    _task: Task,
}

impl std::fmt::Debug for TlsAlpn01Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsAlpn01Responder")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl TlsAlpn01Responder {
    /// Starts the responder on 127.0.0.1:0.
    pub async fn start() -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let port = listener.local_addr()?.port();
        let configs: Arc<Mutex<HashMap<String, Arc<ServerConfig>>>> = Arc::default();
        let shared = configs.clone();
        let task = accept_loop(listener, move |tcp| serve_tls_alpn(tcp, shared.clone()));
        Ok(Self {
            port,
            configs,
            _task: task,
        })
    }

    /// The port listened on (give this to `VaConfig::tlsalpn01_port`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Answers SNI `domain` with the RFC 8737 certificate for
    /// `key_authorization`.
    pub fn set(&self, domain: &str, key_authorization: &str) {
        self.set_with_fault(domain, key_authorization, TlsAlpnFault::None);
    }

    /// Like [`set`](Self::set), but with the given mistake.
    pub fn set_with_fault(&self, domain: &str, key_authorization: &str, fault: TlsAlpnFault) {
        match challenge_config(domain, key_authorization, fault) {
            Ok(config) => {
                lock(&self.configs).insert(domain.to_ascii_lowercase(), Arc::new(config));
            }
            Err(err) => tracing::warn!(%err, domain, "cannot build the tls-alpn-01 certificate"),
        }
    }

    /// Stops answering SNI `domain`.
    pub fn remove(&self, domain: &str) {
        lock(&self.configs).remove(&domain.to_ascii_lowercase());
    }
}

/// RFC 8737 §3: a self-signed certificate with one dNSName and a critical
/// acmeIdentifier extension holding SHA-256(key authorization).
fn challenge_config(
    domain: &str,
    key_authorization: &str,
    fault: TlsAlpnFault,
) -> Result<ServerConfig, io::Error> {
    let key = KeyPair::generate().map_err(other)?;
    let mut names = vec![domain.to_owned()];
    if fault == TlsAlpnFault::ExtraSan {
        names.push(format!("extra.{domain}"));
    }
    let mut params = CertificateParams::new(names).map_err(other)?;
    let signed = if fault == TlsAlpnFault::WrongDigest {
        "not-the-key-authorization"
    } else {
        key_authorization
    };
    let digest = ferrite_va::tlsalpn01_digest(signed);
    match fault {
        TlsAlpnFault::NoAcmeIdentifier => {}
        TlsAlpnFault::NotCritical => {
            let mut der = vec![0x04, 0x20];
            der.extend_from_slice(&digest);
            let mut extension =
                CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 31], der);
            extension.set_criticality(false);
            params.custom_extensions.push(extension);
        }
        _ => params
            .custom_extensions
            .push(CustomExtension::new_acme_identifier(&digest)),
    }
    let cert = params.self_signed(&key).map_err(other)?;
    // Not `with_single_cert`: it parses the certificate with webpki, which
    // refuses the (by design) unknown critical acmeIdentifier extension.
    let provider = provider();
    let signer = if fault == TlsAlpnFault::ForeignKey {
        KeyPair::generate().map_err(other)?
    } else {
        key
    };
    let signing_key = provider
        .key_provider
        .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            signer.serialize_der(),
        )))
        .map_err(other)?;
    let certified = CertifiedKey::new(vec![cert.der().clone()], signing_key);
    let versions: &[&rustls::SupportedProtocolVersion] = if fault == TlsAlpnFault::Tls12Only {
        &[&rustls::version::TLS12]
    } else {
        rustls::DEFAULT_VERSIONS
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(other)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
    config.alpn_protocols = match fault {
        TlsAlpnFault::NoAlpn => Vec::new(),
        TlsAlpnFault::WrongAlpn => vec![b"http/1.1".to_vec()],
        _ => vec![ferrite_va::ACME_TLS_1_ALPN.to_vec()],
    };
    Ok(config)
}

async fn serve_tls_alpn(tcp: TcpStream, configs: Arc<Mutex<HashMap<String, Arc<ServerConfig>>>>) {
    let Ok(start) = LazyConfigAcceptor::new(Acceptor::default(), tcp).await else {
        return;
    };
    let sni = start
        .client_hello()
        .server_name()
        .map(str::to_ascii_lowercase);
    let config = sni.and_then(|name| lock(&configs).get(&name).cloned());
    let Some(config) = config else {
        return;
    };
    let Ok(mut stream) = start.into_stream(config).await else {
        return;
    };
    // RFC 8737 §3: the validator closes after the handshake; wait for that
    // (bounded) so the handshake is not cut short by our side.
    let mut buf = [0u8; 256];
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await;
}
