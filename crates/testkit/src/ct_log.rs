//! [`CtLog`]: a Certificate Transparency log (RFC 6962) on loopback for tests. It answers
//! `add-pre-chain` as a log does — the precertificate's TBS without the poison, the issuer's
//! key hash from the next certificate of the chain, an SCT signed with the log's own ECDSA
//! P-256 key — and `get-roots`; or misbehaves as asked ([`LogBehaviour`]). It keeps every
//! chain it was sent. It stops when dropped.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ferrite_pki::ct as pki_ct;
use rcgen::{KeyPair, PublicKeyData, SigningKey};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// How the log answers `add-pre-chain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogBehaviour {
    /// As RFC 6962 says.
    Honest,
    /// 503, as a log that is down or rate limiting.
    Unavailable,
    /// An SCT whose signature covers other data: it must not be embedded.
    BadSignature,
    /// Honest, after this long.
    Slow(Duration),
}

struct Inner {
    key: KeyPair,
    behaviour: LogBehaviour,
    chains: Mutex<Vec<Vec<Vec<u8>>>>,
    /// TCP connections accepted.
    connections: AtomicUsize,
}

/// A running test log.
pub struct CtLog {
    /// The log's base URL (`http://127.0.0.1:PORT/`).
    pub url: String,
    inner: Arc<Inner>,
    task: JoinHandle<()>,
}

impl Drop for CtLog {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl CtLog {
    /// Starts a log with a fresh key, answering as `behaviour` says.
    pub async fn start(behaviour: LogBehaviour) -> CtLog {
        let inner = Arc::new(Inner {
            key: KeyPair::generate().expect("log key"),
            behaviour,
            chains: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
        });
        let app = axum::Router::new()
            .route("/ct/v1/add-pre-chain", post(add_pre_chain))
            .route("/ct/v1/get-roots", get(get_roots))
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind the CT log");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let counted = Arc::clone(&inner);
        let listener = listener.tap_io(move |_| {
            counted.connections.fetch_add(1, Ordering::Relaxed);
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        CtLog {
            url: format!("http://{addr}/"),
            inner,
            task,
        }
    }

    /// The log's public key, DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.inner.key.subject_public_key_info()
    }

    /// The `[[ct.logs]]` entry of this log, run by `operator`.
    pub fn config(&self, operator: &str) -> ferrite_app::config::CtLog {
        ferrite_app::config::CtLog {
            url: self.url.clone(),
            public_key: BASE64.encode(self.public_key_der()),
            operator: operator.to_owned(),
        }
    }

    /// How many TCP connections the log accepted so far.
    pub fn connections(&self) -> usize {
        self.inner.connections.load(Ordering::Relaxed)
    }

    /// Every chain submitted so far (DER certificates, the precertificate first).
    pub fn chains(&self) -> Vec<Vec<Vec<u8>>> {
        self.inner
            .chains
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error_message": message }))).into_response()
}

async fn add_pre_chain(State(log): State<Arc<Inner>>, Json(body): Json<Value>) -> Response {
    let Some(items) = body.get("chain").and_then(Value::as_array) else {
        return refuse(StatusCode::BAD_REQUEST, "no chain");
    };
    let chain: Result<Vec<Vec<u8>>, _> = items
        .iter()
        .map(|c| BASE64.decode(c.as_str().unwrap_or("!")))
        .collect();
    let Ok(chain) = chain else {
        return refuse(StatusCode::BAD_REQUEST, "chain entries must be base64");
    };
    log.chains
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(chain.clone());
    match log.behaviour {
        LogBehaviour::Unavailable => {
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "log unavailable");
        }
        LogBehaviour::Slow(delay) => tokio::time::sleep(delay).await,
        LogBehaviour::Honest | LogBehaviour::BadSignature => {}
    }
    let [precert, issuer, ..] = chain.as_slice() else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "a chain of the precertificate and its issuer",
        );
    };
    let Some(tbs) = pki_ct::precertificate_tbs(precert) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "the first certificate is not a precertificate",
        );
    };
    let Some(issuer_key_hash) = pki_ct::issuer_key_hash(issuer) else {
        return refuse(StatusCode::BAD_REQUEST, "the issuer does not parse");
    };
    let timestamp =
        u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
            .expect("after 1970");
    let mut signed = pki_ct::precertificate_signed_data(timestamp, &issuer_key_hash, &tbs, &[]);
    if log.behaviour == LogBehaviour::BadSignature {
        signed.push(0);
    }
    let signature = log.key.sign(&signed).expect("sign");
    let mut digitally_signed = vec![4, 3];
    digitally_signed
        .extend_from_slice(&u16::try_from(signature.len()).expect("short").to_be_bytes());
    digitally_signed.extend_from_slice(&signature);
    Json(json!({
        "sct_version": 0,
        "id": BASE64.encode(pki_ct::log_id(&log.key.subject_public_key_info())),
        "timestamp": timestamp,
        "extensions": "",
        "signature": BASE64.encode(digitally_signed),
    }))
    .into_response()
}

async fn get_roots() -> Json<Value> {
    Json(json!({ "certificates": [] }))
}
