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
//! - `metrics`: requests, problems and the engine's counters in the Prometheus text format.
//! - [`admin`]: the admin API (customers' credentials, MAC keys, accounts) on `admin_listen`.
//! - `portal`: the customer portal (server-rendered pages, sessions) on `admin_listen`.
//! - [`client_commands`]: the ACME client commands shown with a new MAC key.
//! - [`listener`]: the accept loop of every listener, with its connection limits.
//! - [`tls`]: the ACME listener's TLS configuration.
//! - [`proxy`]: the ACME listener behind a TLS-terminating proxy: requests only from the
//!   trusted proxies, the client's address from what they forward.
#![warn(missing_docs)]

mod acme;
pub mod admin;
mod body_guard;
pub mod client_commands;
pub mod config;
pub mod listener;
mod metrics;
mod portal;
mod problem;
pub mod proxy;
pub mod public;
mod request_id;
mod support_trail;
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
    /// Requests and problems counted for `/metrics`.
    metrics: std::sync::Arc<metrics::HttpMetrics>,
    /// The ACME directory's JSON, rendered once.
    directory: bytes::Bytes,
    /// Refused requests on their way to the database.
    support_trail: std::sync::Arc<support_trail::SupportTrail>,
}

impl AppState {
    /// The state of one instance's routers.
    pub fn new(ca: ferrite_core::Ca, config: ServerConfig) -> Self {
        Self {
            directory: acme::directory::render(&ca, &config),
            support_trail: std::sync::Arc::new(support_trail::SupportTrail::start(
                ca.store().clone(),
            )),
            ca,
            config: std::sync::Arc::new(config),
            account_keys: std::sync::Arc::default(),
            metrics: std::sync::Arc::default(),
        }
    }
}

/// The ACME router (served over TLS by [`listener::serve`], or over plain HTTP behind the
/// proxies of [`ServerConfig::trusted_proxies`], which [`proxy`] holds it to).
pub fn acme_router(state: AppState) -> Router {
    let mut routes = acme::router(state.clone());
    if let Some(proxies) = state.config.trusted_proxies.clone() {
        routes = routes.layer(axum::middleware::from_fn_with_state(proxies, proxy::guard));
    }
    with_common_layers(routes, state, "acme")
}

/// The plain-HTTP router: `/ca/intermediate.der`, `/ca/intermediate.pem` (and every other
/// intermediate as `/ca/{name}.der` and `.pem`), `/ca/root.pem`, `/crl` and the CRL shards,
/// `/health/live`, `/health/ready` (and `/healthz`, as `/health/live`).
pub fn public_router(state: AppState) -> Router {
    with_common_layers(public::router(state.clone()), state, "public")
}

/// The admin listener's router: the admin API (`/admin/v1/…`), `/metrics` and the customer
/// portal (every other path).
pub fn admin_router(state: AppState) -> Router {
    let routes = admin::router(state.clone())
        .route(
            "/metrics",
            axum::routing::get(metrics::render).with_state(state.clone()),
        )
        .merge(portal::router(state.clone()));
    let routes = match state.config.admin_trusted_proxies.clone() {
        Some(proxies) => routes.layer(axum::middleware::from_fn_with_state(
            proxies,
            proxy::forwarded_client,
        )),
        None => routes,
    };
    with_common_layers(routes, state, "admin")
}

/// The layers of every router, outermost first: the request id (so every later layer's log
/// lines carry it), the metrics of `listener`, then the body guard around every route and
/// fallback.
fn with_common_layers(router: Router, state: AppState, listener: &'static str) -> Router {
    let limits = body_guard::Limits {
        read_timeout: state.config.body_read_timeout,
        ..body_guard::Limits::DEFAULT
    };
    router
        .layer(axum::middleware::from_fn_with_state(
            limits,
            body_guard::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            (state.clone(), listener),
            metrics::track,
        ))
        .layer(axum::middleware::from_fn_with_state(
            (state.support_trail, listener),
            request_id::middleware,
        ))
}

/// Signs this instance's issuer's out-of-date CRLs ([`ferrite_core::Ca::refresh_crls`]) every
/// `every`, the first time `every` after the start (a CRL fetched before then is signed on
/// demand), until the returned task is aborted: every shard stays fresh and lists a
/// revocation within a minute whether or not anyone fetches it.
pub fn spawn_crl_refresh(
    ca: ferrite_core::Ca,
    every: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match ca.refresh_crls().await {
                Ok(0) => {}
                Ok(signed) => tracing::debug!(signed, "CRLs refreshed"),
                Err(e) => tracing::warn!(error = %e, "refreshing the CRLs failed; retrying"),
            }
        }
    })
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
