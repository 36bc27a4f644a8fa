//! The primary's side of one remote perspective: a POST over mutual TLS and the check of
//! the signed answer.

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
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
        })
    }

    /// Sends `body` (a serialized request with id `request_id`) and returns the verified
    /// result. The caller bounds the time.
    pub async fn ask(&self, body: Bytes, request_id: &str) -> Result<PerspectiveResult, AskError> {
        let unreachable = |what: &str, e: &dyn std::fmt::Display| {
            AskError::Unreachable(format!("{what} {}:{}: {e}", self.host, self.port))
        };
        let digest = request_digest(&body);
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| unreachable("cannot connect to", &e))?;
        let name = ServerName::try_from(self.host.clone())
            .map_err(|e| unreachable("not a server name:", &e))?;
        let tls = self
            .tls
            .connect(name, tcp)
            .await
            .map_err(|e| unreachable("TLS with", &e))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| unreachable("HTTP with", &e))?;
        tokio::spawn(connection);
        let authority = if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        };
        let request = Request::post(&self.path)
            .header(http::header::HOST, authority)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .map_err(|e| unreachable("cannot build the request for", &e))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| unreachable("no answer from", &e))?;
        let status = response.status();
        let bytes = Limited::new(response.into_body(), MAX_RESULT_BYTES)
            .collect()
            .await
            .map_err(|e| unreachable("answer cut short from", &e))?
            .to_bytes();
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
