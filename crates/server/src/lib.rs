//! Ferrite's HTTP front end: the ACME API (RFC 8555) over TLS, and the plain-HTTP listener for
//! the issuer certificate, CRLs and health.
//!
//! Handlers are thin: parse and verify the request (`acme::jws`), call the engine
//! ([`ferrite_core::Ca`]), render JSON or a problem document. Business rules never live here.
//! Every response carries `X-Request-Id`, and every log line of a request carries the same id
//! (a `tracing` span), so a customer can quote it and the operator can find the whole trail.
//!
//! # Layout
//! - [`config`]: `ServerConfig` (public URLs, directory metadata).
//! - `acme`: the ACME routes: `jws` (request verification), `render` (JSON views), one module
//!   per resource.
//! - `problem`: `ApiError` and problem+json responses.
//! - `request_id`: the request-id middleware.
//! - `body_guard`: the request-body guard on every router: a request body the handler left
//!   unread is read and discarded (bounded) after it answers, so clients still uploading keep
//!   the response; a body read is bounded in time.
//! - `public`: issuer certificate, root, CRL and health over plain HTTP.
//! - [`admin`]: the admin API (customers' credentials, MAC keys, accounts) on `admin_listen`.
//! - [`listener`]: the accept loop of every listener, with its connection limits.
//! - [`tls`]: the ACME listener's TLS configuration.
#![warn(missing_docs)]

mod acme;
pub mod admin;
mod body_guard;
pub mod config;
pub mod listener;
mod problem;
pub mod public;
mod request_id;
pub mod tls;

use axum::Router;

pub use config::ServerConfig;

/// Shared state of every handler: one per instance, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The engine.
    pub ca: ferrite_core::Ca,
    /// URLs and metadata.
    pub config: std::sync::Arc<ServerConfig>,
    /// Account keys parsed once per thumbprint (`acme::jws`).
    account_keys: std::sync::Arc<acme::AccountKeys>,
}

impl AppState {
    /// The state of one instance's routers.
    pub fn new(ca: ferrite_core::Ca, config: ServerConfig) -> Self {
        Self {
            ca,
            config: std::sync::Arc::new(config),
            account_keys: std::sync::Arc::default(),
        }
    }
}

/// The ACME router (served over TLS by [`listener::serve`]).
pub fn acme_router(state: AppState) -> Router {
    let config = state.config.clone();
    with_common_layers(acme::router(state), &config)
}

/// The plain-HTTP router: `/ca/intermediate.der`, `/ca/intermediate.pem`, `/ca/root.pem`,
/// `/crl`, `/healthz`.
pub fn public_router(state: AppState) -> Router {
    let config = state.config.clone();
    with_common_layers(public::router(state), &config)
}

/// The admin API router (`/admin/v1/…`, plain HTTP on `admin_listen`; merge it with
/// [`public_router`] to serve both on one listener).
pub fn admin_router(state: AppState) -> Router {
    let config = state.config.clone();
    with_common_layers(admin::router(state), &config)
}

/// The layers of every router, outermost first: the request id (so the body guard's log
/// lines carry it), then the body guard around every route and fallback.
fn with_common_layers(router: Router, config: &ServerConfig) -> Router {
    let limits = body_guard::Limits {
        read_timeout: config.body_read_timeout,
        ..body_guard::Limits::DEFAULT
    };
    router
        .layer(axum::middleware::from_fn_with_state(
            limits,
            body_guard::guard,
        ))
        .layer(axum::middleware::from_fn(request_id::middleware))
}

/// Runs engine housekeeping (nonce purge, stranded validations) every `every` until the
/// returned task is aborted.
pub fn spawn_housekeeping(
    ca: ferrite_core::Ca,
    every: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = ca.housekeeping().await {
                tracing::warn!(error = %e, "housekeeping failed");
            }
        }
    })
}
