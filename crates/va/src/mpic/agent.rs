//! The remote perspective (`ferrite va-agent run`): answers the primary's checks over mutual
//! TLS with results signed by its own key.
//!
//! Each request is parsed, checked (not expired, not valid for longer than
//! [`MAX_REQUEST_LIFETIME_SECS`], a DNS name, an id never seen before), performed with the
//! agent's own [`Validator`] — a [`Va`](crate::Va) with its own resolver, exactly the code the
//! primary runs — and answered with a [`SignedResult`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use ferrite_core::{CaaRequest, ValidationRequest, Validator};
use ferrite_proto::Problem;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tracing::{info, warn};

use super::wire::{
    CHECK_PATH, Check, MAX_REQUEST_LIFETIME_SECS, Outcome, PerspectiveRequest, PerspectiveResult,
    ResultSigner, SignedResult, request_digest,
};

/// Largest request body an agent reads.
const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// Most request ids remembered at once (each until its request expires); over it, requests
/// are refused with 503 until some expire.
const MAX_REMEMBERED: usize = 100_000;
/// Most connections served at once.
pub(crate) const MAX_CONNECTIONS: usize = 256;
/// A TLS handshake must finish within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection with no request started for this long is closed (hyper's header read
/// timeout runs while a kept-alive connection waits for its next request too).
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A remote perspective: its identity, validator and signing key, and the request ids it
/// has answered.
pub struct Agent {
    id: String,
    region: String,
    validator: Arc<dyn Validator>,
    signer: ResultSigner,
    /// Request id → its expiry: a request seen before is refused (replay).
    seen: Mutex<HashMap<String, u64>>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("id", &self.id)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// Why an agent refused a request: the HTTP status and a detail for the primary's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// 400 (malformed or expired), 409 (replayed), 503 (too many remembered), 500 (signing).
    pub status: StatusCode,
    /// What was wrong.
    pub detail: String,
}

fn refuse(status: StatusCode, detail: impl Into<String>) -> Refusal {
    Refusal {
        status,
        detail: detail.into(),
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Agent {
    /// The perspective `id` in `region`, checking with `validator`, signing with `signer`.
    pub fn new(
        id: String,
        region: String,
        validator: Arc<dyn Validator>,
        signer: ResultSigner,
    ) -> Agent {
        Agent {
            id,
            region,
            validator,
            signer,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// The perspective's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Answers one request body: the signed result, or why it was refused.
    pub async fn check(&self, body: &[u8]) -> Result<SignedResult, Refusal> {
        let request: PerspectiveRequest = serde_json::from_slice(body).map_err(|e| {
            refuse(
                StatusCode::BAD_REQUEST,
                format!("not a perspective request: {e}"),
            )
        })?;
        let now = unix_now();
        if request.expires < now {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                format!(
                    "request {} expired {} s ago (check that the primary's and this agent's clocks agree)",
                    request.request_id,
                    now - request.expires
                ),
            ));
        }
        if request.expires > now + MAX_REQUEST_LIFETIME_SECS {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                format!(
                    "request {} is valid for more than {MAX_REQUEST_LIFETIME_SECS} s",
                    request.request_id
                ),
            ));
        }
        if request.request_id.is_empty() || request.request_id.len() > 128 {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "request_id must be 1 to 128 characters",
            ));
        }
        if let Err(e) = ferrite_proto::identifier::check_dns_name(&request.identifier) {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                format!("identifier {:?} is not a DNS name: {e}", request.identifier),
            ));
        }
        self.remember(&request.request_id, request.expires, now)?;
        let (outcome, problem, evidence) = self.perform(&request).await;
        info!(
            target: "ferrite::mpic",
            perspective = %self.id,
            request_id = %request.request_id,
            identifier = %request.identifier,
            check = check_name(&request.check),
            outcome = ?outcome,
            problem = problem.as_ref().map(|p| p.to_string()),
            "perspective check"
        );
        let result = PerspectiveResult {
            request_id: request.request_id,
            request_sha256: request_digest(body),
            perspective: self.id.clone(),
            region: self.region.clone(),
            outcome,
            problem,
            evidence,
            checked_at: unix_now(),
        };
        self.signer
            .sign(&result)
            .map_err(|e| refuse(StatusCode::INTERNAL_SERVER_ERROR, e))
    }

    /// Records `id` as answered; refuses one seen before.
    fn remember(&self, id: &str, expires: u64, now: u64) -> Result<(), Refusal> {
        let mut seen = self
            .seen
            .lock()
            .map_err(|_| refuse(StatusCode::INTERNAL_SERVER_ERROR, "replay cache poisoned"))?;
        if seen.contains_key(id) {
            warn!(target: "ferrite::mpic", perspective = %self.id, request_id = %id, "replayed request refused");
            return Err(refuse(
                StatusCode::CONFLICT,
                format!("request {id} was answered before; a request is answered once"),
            ));
        }
        if seen.len() >= MAX_REMEMBERED {
            seen.retain(|_, e| *e >= now);
            if seen.len() >= MAX_REMEMBERED {
                return Err(refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "too many requests in flight; try again shortly",
                ));
            }
        }
        seen.insert(id.to_owned(), expires);
        Ok(())
    }

    async fn perform(
        &self,
        request: &PerspectiveRequest,
    ) -> (Outcome, Option<Problem>, serde_json::Value) {
        match &request.check {
            Check::Validation {
                method,
                token,
                key_authorization,
            } => {
                let outcome = self
                    .validator
                    .validate(&ValidationRequest {
                        domain: request.identifier.clone(),
                        kind: *method,
                        token: token.clone(),
                        key_authorization: key_authorization.clone(),
                    })
                    .await;
                match outcome {
                    Ok(record) => (Outcome::Pass, None, record),
                    Err((problem, record)) => (Outcome::Fail, Some(problem), record),
                }
            }
            Check::Caa {
                wildcard,
                account_uri,
                method,
                issuer_domains,
            } => {
                let outcome = self
                    .validator
                    .check_caa(&CaaRequest {
                        domain: request.identifier.clone(),
                        wildcard: *wildcard,
                        account_uri: account_uri.clone(),
                        method: *method,
                        issuer_domains: issuer_domains.clone(),
                    })
                    .await;
                let to_value = |e| serde_json::to_value(e).unwrap_or_default();
                match outcome {
                    Ok(evidence) => (Outcome::Pass, None, to_value(&evidence)),
                    Err((problem, evidence)) => (Outcome::Fail, Some(problem), to_value(&evidence)),
                }
            }
        }
    }
}

pub(crate) fn check_name(check: &Check) -> &'static str {
    match check {
        Check::Validation { method, .. } => method.as_str(),
        Check::Caa { .. } => "caa",
    }
}

/// Serves `agent` on `listener` with `tls` (mutual TLS: see `tls::agent_server_config`)
/// until `shutdown` completes. Each connection's handshake must finish within 10 s; at most
/// 256 connections are served at once (more wait in the accept queue).
pub async fn serve(
    listener: TcpListener,
    agent: Arc<Agent>,
    tls: Arc<ServerConfig>,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let accepted = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                warn!(target: "ferrite::mpic", error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let agent = agent.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    warn!(target: "ferrite::mpic", %peer, error = %e, "TLS handshake refused (a client without the primary's MPIC certificate?)");
                    return;
                }
                Err(_) => return,
            };
            let service = hyper::service::service_fn(move |req| {
                let agent = agent.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(&agent, req).await) }
            });
            let _closed = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(IDLE_TIMEOUT)
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

async fn handle(agent: &Agent, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::POST || req.uri().path() != CHECK_PATH {
        return json(
            StatusCode::NOT_FOUND,
            &serde_json::json!({"error": format!("POST {CHECK_PATH} only")}),
        );
    }
    let body = match Limited::new(req.into_body(), MAX_REQUEST_BYTES)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return json(
                StatusCode::PAYLOAD_TOO_LARGE,
                &serde_json::json!({"error": "request body too large or cut short"}),
            );
        }
    };
    match agent.check(&body).await {
        Ok(signed) => json(StatusCode::OK, &signed),
        Err(refusal) => {
            warn!(target: "ferrite::mpic", perspective = %agent.id, status = refusal.status.as_u16(), detail = %refusal.detail, "request refused");
            json(
                refusal.status,
                &serde_json::json!({"error": refusal.detail}),
            )
        }
    }
}

fn json(status: StatusCode, body: &impl serde::Serialize) -> Response<Full<Bytes>> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}
