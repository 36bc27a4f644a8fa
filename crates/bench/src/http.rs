//! One keep-alive HTTPS/1.1 connection per client, to the directory's origin only. A request
//! that fails drops the connection; the next request reconnects.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use url::Url;

/// A response, fully read.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: Bytes,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What went wrong below HTTP.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    #[error("request to {url} timed out after {after:?}; the server is overloaded or stuck")]
    Timeout { url: String, after: Duration },
    #[error("cannot connect to {addr}: {source}; is the server still running?")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("HTTP exchange with {url} failed: {source}")]
    Exchange { url: String, source: hyper::Error },
    #[error(
        "the server sent the URL {url:?}, which is not under {origin}; the generator only \
         follows URLs of the directory's own origin"
    )]
    ForeignUrl { url: String, origin: String },
    #[error("cannot build the request for {url}: {source}")]
    BadRequest { url: String, source: http::Error },
}

impl HttpError {
    /// The key this error is counted under in the report.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            HttpError::Timeout { .. } => "timeout",
            HttpError::Connect { .. } | HttpError::Exchange { .. } => "connection",
            HttpError::ForeignUrl { .. } => "foreignUrl",
            HttpError::BadRequest { .. } => "protocol",
        }
    }
}

/// Builds a rustls client configuration (aws-lc-rs) trusting only the certificates in
/// `ca_pem`.
pub(crate) fn tls_config(ca_pem: &[u8]) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        let cert = cert.map_err(|e| format!("not a PEM certificate: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("certificate not usable as a root: {e}"))?;
    }
    if roots.is_empty() {
        return Err("no CERTIFICATE block in the file".into());
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The connection of one client.
pub(crate) struct Https {
    /// `https://host:port`, which every request URL must start with.
    origin: String,
    /// `host:port` for the Host header.
    authority: String,
    addr: SocketAddr,
    server_name: ServerName<'static>,
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// Connections opened so far (1 for a run where keep-alive always held).
    pub(crate) connects: u64,
}

impl Https {
    pub(crate) fn new(
        directory: &Url,
        addr: SocketAddr,
        tls: Arc<rustls::ClientConfig>,
        timeout: Duration,
    ) -> Result<Https, String> {
        let host = directory.host_str().unwrap_or_default();
        let server_name = ServerName::try_from(host.trim_matches(['[', ']']).to_owned())
            .map_err(|e| format!("{host:?} is not a TLS server name: {e}"))?;
        let authority = match directory.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        Ok(Https {
            origin: format!("https://{authority}"),
            authority,
            addr,
            server_name,
            tls,
            timeout,
            sender: None,
            connects: 0,
        })
    }

    async fn connect(&mut self) -> Result<SendRequest<Full<Bytes>>, HttpError> {
        let connect_err = |source| HttpError::Connect {
            addr: self.addr,
            source,
        };
        let tcp = TcpStream::connect(self.addr).await.map_err(connect_err)?;
        let _ = tcp.set_nodelay(true);
        let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|e| HttpError::Connect {
                addr: self.addr,
                source: e,
            })?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|source| HttpError::Exchange {
                url: self.origin.clone(),
                source,
            })?;
        tokio::spawn(conn);
        self.connects += 1;
        Ok(sender)
    }

    /// Sends one request and reads the whole response, within the request timeout.
    pub(crate) async fn request(
        &mut self,
        method: http::Method,
        url: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Response, HttpError> {
        let after = self.timeout;
        match tokio::time::timeout(after, self.exchange(method, url, content_type, body)).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => {
                self.sender = None;
                Err(e)
            }
            Err(_) => {
                self.sender = None;
                Err(HttpError::Timeout {
                    url: url.to_owned(),
                    after,
                })
            }
        }
    }

    async fn exchange(
        &mut self,
        method: http::Method,
        url: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Response, HttpError> {
        let path = url
            .strip_prefix(&self.origin)
            .filter(|p| p.starts_with('/'))
            .ok_or_else(|| HttpError::ForeignUrl {
                url: url.to_owned(),
                origin: self.origin.clone(),
            })?;
        let reusable = match self.sender.take() {
            Some(mut s) => s.ready().await.is_ok().then_some(s),
            None => None,
        };
        let mut sender = match reusable {
            Some(s) => s,
            None => self.connect().await?,
        };
        let mut req = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, &self.authority)
            .header(http::header::USER_AGENT, "ferrite-bench");
        if let Some(ct) = content_type {
            req = req.header(http::header::CONTENT_TYPE, ct);
        }
        let req =
            req.body(Full::new(Bytes::from(body)))
                .map_err(|source| HttpError::BadRequest {
                    url: url.to_owned(),
                    source,
                })?;
        let exchange_err = |source| HttpError::Exchange {
            url: url.to_owned(),
            source,
        };
        let resp = sender.send_request(req).await.map_err(exchange_err)?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(exchange_err)?
            .to_bytes();
        self.sender = Some(sender);
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}
