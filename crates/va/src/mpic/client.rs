//! The primary's side of one remote perspective: a POST over mutual TLS and the check of
//! the signed answer, over a connection kept for the next request (a small pool per
//! perspective), so that a corroboration costs no TCP and TLS handshake once the primary is
//! warm.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrite_core::pool::IdlePool;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio_rustls::TlsConnector;

use super::config::PerspectiveConfig;
use super::wire::{
    CHECK_PATH, PerspectiveResult, ResultError, ResultVerifier, SignedResult, request_digest,
};

/// Largest answer read from an agent.
const MAX_RESULT_BYTES: usize = 1024 * 1024;

/// Why a perspective gave no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AskError {
    /// No connection, TLS refused (wrong certificate), or the connection broke.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The agent answered with an error status (expired, replayed, malformed request).
    #[error("refused the request with HTTP {status}: {detail}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The agent's detail.
        detail: String,
    },
    /// The answer's signature or binding did not verify: it is not counted.
    #[error("sent a result that was refused: {0}")]
    Invalid(#[from] ResultError),
}

/// How the primary connects to a perspective and keeps its connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// Bound on opening a new connection (TCP and the TLS handshake); past it the perspective
    /// counts as unreachable. The corroboration's own timeout bounds the whole request too.
    pub connect_timeout: Duration,
    /// Idle connections kept per perspective for the next requests; 0: a new connection per
    /// request.
    pub pool_size: usize,
    /// An idle connection older than this is closed rather than used (agents close
    /// connections idle for 30 s).
    pub pool_idle_timeout: Duration,
}

impl ConnectionSettings {
    /// Checks the settings as `[mpic]` gives them (`connect_timeout_ms`, `pool_size`,
    /// `pool_idle_timeout_ms`).
    pub fn check(&self) -> Result<(), String> {
        if self.connect_timeout.is_zero() || self.connect_timeout > Duration::from_secs(60) {
            return Err("mpic.connect_timeout_ms must be between 1 and 60000".to_owned());
        }
        if self.pool_size > super::agent::MAX_CONNECTIONS {
            return Err(format!(
                "mpic.pool_size must be at most {} (the connections an agent serves at once); 0 opens a new connection per request",
                super::agent::MAX_CONNECTIONS
            ));
        }
        if self.pool_idle_timeout.is_zero() || self.pool_idle_timeout >= super::agent::IDLE_TIMEOUT
        {
            return Err(format!(
                "mpic.pool_idle_timeout_ms must be between 1 and {} (agents close connections idle for {} s)",
                super::agent::IDLE_TIMEOUT.as_millis() - 1,
                super::agent::IDLE_TIMEOUT.as_secs()
            ));
        }
        Ok(())
    }
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        ConnectionSettings {
            connect_timeout: Duration::from_secs(3),
            pool_size: 8,
            pool_idle_timeout: Duration::from_secs(20),
        }
    }
}

/// One remote perspective the primary asks.
#[derive(Clone)]
pub struct RemotePerspective {
    /// Its id.
    pub id: String,
    /// Its region.
    pub region: String,
    host: String,
    port: u16,
    path: String,
    tls: TlsConnector,
    verifier: ResultVerifier,
    settings: ConnectionSettings,
    pool: Arc<IdlePool<SendRequest<Full<Bytes>>>>,
}

impl std::fmt::Debug for RemotePerspective {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemotePerspective")
            .field("id", &self.id)
            .field("region", &self.region)
            .field("host", &self.host)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl RemotePerspective {
    /// The perspective `config` describes, reached with `tls` (the primary's client
    /// certificate, the perspective's certificate pinned: `tls::primary_client_config`), its
    /// results verified with `verifier` (its enrolled certificate).
    pub fn new(
        config: &PerspectiveConfig,
        tls: Arc<ClientConfig>,
        verifier: ResultVerifier,
    ) -> Result<RemotePerspective, String> {
        let url = url::Url::parse(&config.url)
            .map_err(|e| format!("perspective {}: url {:?}: {e}", config.id, config.url))?;
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(format!("perspective {}: url has no host", config.id)),
        };
        let port = url.port_or_known_default().unwrap_or(443);
        let path = format!("{}{CHECK_PATH}", url.path().trim_end_matches('/'));
        Ok(RemotePerspective {
            id: config.id.clone(),
            region: config.region.clone(),
            host,
            port,
            path,
            tls: TlsConnector::from(tls),
            verifier,
            settings: ConnectionSettings::default(),
            pool: Arc::default(),
        })
    }

    /// The same perspective, connected as `settings` say.
    pub fn with_connections(mut self, settings: ConnectionSettings) -> RemotePerspective {
        self.settings = settings;
        self
    }

    fn unreachable(&self, what: &str, e: &dyn std::fmt::Display) -> AskError {
        AskError::Unreachable(format!("{what} {}:{}: {e}", self.host, self.port))
    }

    /// A new connection: TCP, mutual TLS, HTTP/1.1, within the connect timeout.
    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, AskError> {
        let open = async {
            let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|e| self.unreachable("cannot connect to", &e))?;
            let name = ServerName::try_from(self.host.clone())
                .map_err(|e| self.unreachable("not a server name:", &e))?;
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| self.unreachable("TLS with", &e))?;
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|e| self.unreachable("HTTP with", &e))?;
            // Ends when the connection closes: the agent closed it, or every sender is gone.
            tokio::spawn(connection);
            Ok(sender)
        };
        tokio::time::timeout(self.settings.connect_timeout, open)
            .await
            .unwrap_or_else(|_| {
                Err(self.unreachable(
                    &format!(
                        "no connection within {} ms to",
                        self.settings.connect_timeout.as_millis()
                    ),
                    &"connect timeout",
                ))
            })
    }

    fn request(&self, body: Bytes) -> Result<Request<Full<Bytes>>, AskError> {
        let authority = if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        };
        Request::post(&self.path)
            .header(http::header::HOST, authority)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .map_err(|e| self.unreachable("cannot build the request for", &e))
    }

    /// Sends `body` (a serialized request with id `request_id`) and returns the verified
    /// result. The caller bounds the time.
    pub async fn ask(&self, body: Bytes, request_id: &str) -> Result<PerspectiveResult, AskError> {
        let digest = request_digest(&body);
        // A kept connection first. One the agent closed just as it was taken (idle, or
        // restarting) fails before any answer: the request is then sent again, once, on a
        // new connection. An agent that did see it the first time refuses the repeat as a
        // replay (counted as refused), so no request is ever answered twice.
        let mut sent = None;
        if let Some(mut sender) = self
            .pool
            .take(self.settings.pool_idle_timeout, |s| !s.is_closed())
            && sender.ready().await.is_ok()
            && let Ok(response) = sender.send_request(self.request(body.clone())?).await
        {
            sent = Some((sender, response));
        }
        let (sender, response) = match sent {
            Some(sent) => sent,
            None => {
                let mut sender = self.connect().await?;
                let response = sender
                    .send_request(self.request(body)?)
                    .await
                    .map_err(|e| self.unreachable("no answer from", &e))?;
                (sender, response)
            }
        };
        let status = response.status();
        let bytes = Limited::new(response.into_body(), MAX_RESULT_BYTES)
            .collect()
            .await
            .map_err(|e| self.unreachable("answer cut short from", &e))?
            .to_bytes();
        // The whole answer is read: the connection is free for the next request.
        self.pool
            .put(sender, self.settings.pool_size, |s| !s.is_closed());
        if status != StatusCode::OK {
            let detail = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(200).collect());
            return Err(AskError::Refused {
                status: status.as_u16(),
                detail,
            });
        }
        let signed: SignedResult = serde_json::from_slice(&bytes)
            .map_err(|e| AskError::Invalid(ResultError::Malformed(e.to_string())))?;
        Ok(self
            .verifier
            .verify(&signed, request_id, &digest, &self.id)?)
    }
}
