//! Plain-HTTP resources relying parties fetch: the issuer certificate (AIA caIssuers), the root
//! and the CRL (CRL distribution point), and a health check.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;

/// Paths served; the CA's certificates point here (AIA caIssuers: DER, RFC 5280 §4.2.2.1).
pub const INTERMEDIATE_PATH: &str = "/ca/intermediate.der";
/// The intermediate as PEM, for people and configuration files.
pub const INTERMEDIATE_PEM_PATH: &str = "/ca/intermediate.pem";
/// The root clients must trust.
pub const ROOT_PATH: &str = "/ca/root.pem";
/// The CRL path.
pub const CRL_PATH: &str = "/crl";
/// Liveness: the process answers.
pub const LIVE_PATH: &str = "/health/live";
/// Readiness: the instance can serve (the database takes a write, the signer signs).
pub const READY_PATH: &str = "/health/ready";

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route(INTERMEDIATE_PATH, get(intermediate))
        .route(INTERMEDIATE_PEM_PATH, get(intermediate_pem))
        .route(ROOT_PATH, get(root))
        .route(CRL_PATH, get(crl))
        .route(LIVE_PATH, get(live))
        .route("/healthz", get(live))
        .route(READY_PATH, get(ready))
        .with_state(state)
}

fn with_type(body: impl IntoResponse, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

async fn intermediate(State(state): State<AppState>) -> Response {
    with_type(
        state.ca.issuer().certificate_der().to_vec(),
        "application/pkix-cert",
    )
}

async fn intermediate_pem(State(state): State<AppState>) -> Response {
    with_type(
        state.ca.issuer().certificate_pem().to_owned(),
        "application/x-pem-file",
    )
}

async fn root(State(state): State<AppState>) -> Response {
    with_type(state.config.root_pem.clone(), "application/x-pem-file")
}

async fn crl(State(state): State<AppState>) -> Response {
    match state.ca.crl().await {
        Ok(der) => with_type(der, "application/pkix-crl"),
        Err(e) => {
            tracing::error!(error = %e, "CRL generation failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "CRL temporarily unavailable; retry",
            )
                .into_response()
        }
    }
}

async fn live() -> &'static str {
    "ok"
}

/// How long before its expiry the ACME listener's certificate is warned about in
/// `/health/ready` (Ferrite renews its own at this point; an operator's file must be replaced).
const LISTENER_WARNING: time::Duration = time::Duration::days(30);

/// 200 `ok` when the database takes a write transaction and the CA key signs; else 503 naming
/// the part that fails, for a load balancer to take the instance out of rotation. A ready
/// instance whose issuing intermediate expires within 90 days, or whose ACME listener
/// certificate within 30, still answers 200, with a `warning:` line for each after `ok` (both
/// certificates are public, so saying so is too).
async fn ready(State(state): State<AppState>) -> Response {
    match state.ca.ready().await {
        Ok(()) => {
            let now = state.ca.now();
            let mut body = String::from("ok");
            let intermediate =
                ferrite_core::ca::intermediate_expiry_warning(now, state.ca.issuer_not_after());
            let listener = state
                .config
                .listener
                .as_ref()
                .map(|l| l.not_after())
                .filter(|t| *t - now < LISTENER_WARNING)
                .map(|t| {
                    let when = match (t - now).whole_days() {
                        days if t <= now => format!("expired {} days ago", -days),
                        days => format!("expires in {days} days"),
                    };
                    format!(
                        "the ACME listener's certificate {when} ({t}); Ferrite renews its own, an operator's tls.cert_file must be replaced"
                    )
                });
            for warning in intermediate.into_iter().chain(listener) {
                body.push_str("\nwarning: ");
                body.push_str(&warning);
            }
            body.into_response()
        }
        Err(failing) => {
            tracing::warn!(%failing, "not ready");
            // The part only: the error itself (a database host, a token's state) is for the
            // operator's log, not for whoever asks this public endpoint.
            let part = failing.split(':').next().unwrap_or("unknown");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {part} (the reason is in the server's log)\n"),
            )
                .into_response()
        }
    }
}
