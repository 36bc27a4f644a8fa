//! Plain-HTTP resources relying parties fetch: the issuer certificate (AIA caIssuers), the root
//! and the CRLs (CRL distribution points: each issuer's shards, and the unsharded CRL), and a
//! health check.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use ferrite_core::model::CrlScope;

use crate::AppState;

/// Paths served; the CA's certificates point here (AIA caIssuers: DER, RFC 5280 §4.2.2.1).
/// Every intermediate is served by name, `/ca/{name}.der` and `/ca/{name}.pem`: the primary
/// intermediate's name makes this path, another's `/ca/intermediate-NAME.der` beside it.
pub const INTERMEDIATE_PATH: &str = "/ca/intermediate.der";
/// The primary intermediate as PEM, for people and configuration files.
pub const INTERMEDIATE_PEM_PATH: &str = "/ca/intermediate.pem";
/// The root clients must trust.
pub const ROOT_PATH: &str = "/ca/root.pem";
/// The unsharded CRL, and the base of the shards' paths: `{CRL_PATH}/{issuer id}/{shard}.crl`
/// (`ferrite_pki::IssuerUrls::crl_shard_url`).
pub const CRL_PATH: &str = "/crl";
/// How long a cache may serve a CRL before asking again (`Cache-Control: max-age`): as long as
/// an instance serves the CRL it holds before it looks for revocations made elsewhere, so a
/// revocation reaches a relying party behind a cache within a minute.
pub const CRL_MAX_AGE: u64 = 20;
/// Liveness: the process answers.
pub const LIVE_PATH: &str = "/health/live";
/// Readiness: the instance can serve (the database takes a write, the signer signs).
pub const READY_PATH: &str = "/health/ready";

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route(ROOT_PATH, get(root))
        // Every intermediate by name: the primary's name makes INTERMEDIATE_PATH and
        // INTERMEDIATE_PEM_PATH.
        .route("/ca/{file}", get(named_intermediate))
        .route(CRL_PATH, get(unsharded_crl))
        .route("/crl/{issuer}/{file}", get(crl_shard))
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

/// `/ca/{name}.der` or `/ca/{name}.pem`: the intermediate of that name, retired ones included
/// (their certificates still chain to them); anything else is 404.
async fn named_intermediate(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let (name, der) = match (file.strip_suffix(".der"), file.strip_suffix(".pem")) {
        (Some(name), _) => (name, true),
        (None, Some(name)) => (name, false),
        (None, None) => return no_such_intermediate(),
    };
    let Some(entry) = state.ca.issuers().all().find(|e| e.issuer.name() == name) else {
        return no_such_intermediate();
    };
    if der {
        with_type(
            entry.issuer.certificate_der().to_vec(),
            "application/pkix-cert",
        )
    } else {
        with_type(
            entry.issuer.certificate_pem().to_owned(),
            "application/x-pem-file",
        )
    }
}

fn no_such_intermediate() -> Response {
    (
        StatusCode::NOT_FOUND,
        "no such CA certificate: a certificate's authorityInfoAccess names its issuer's",
    )
        .into_response()
}

async fn root(State(state): State<AppState>) -> Response {
    with_type(state.config.root_pem.clone(), "application/x-pem-file")
}

async fn unsharded_crl(State(state): State<AppState>, headers: HeaderMap) -> Response {
    crl(&state, &CrlScope::Unsharded, &headers).await
}

/// `/crl/{issuer}/{shard}.crl`: the issuer id is 16 lower-case hex digits and the shard a
/// decimal number, as `ferrite_pki::IssuerUrls::crl_shard_url` writes them; anything else is
/// no CRL (404).
async fn crl_shard(
    State(state): State<AppState>,
    Path((issuer, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let issuer_ok = issuer.len() == 16
        && issuer
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let shard = file
        .strip_suffix(".crl")
        .filter(|n| !n.is_empty() && n.len() <= 4 && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse::<u32>().ok());
    match shard {
        Some(shard) if issuer_ok => crl(&state, &CrlScope::shard(&issuer, shard), &headers).await,
        _ => no_such_crl(),
    }
}

fn no_such_crl() -> Response {
    (
        StatusCode::NOT_FOUND,
        "no such CRL: a certificate's CRL distribution point names its CRL",
    )
        .into_response()
}

/// Serves the CRL of `scope` with `Last-Modified` (its thisUpdate), a strong `ETag` and
/// `Cache-Control` ([`CRL_MAX_AGE`]); `304 Not Modified` to a request whose `If-None-Match`
/// names the ETag (RFC 9110 §13.1.2).
async fn crl(state: &AppState, scope: &CrlScope, headers: &HeaderMap) -> Response {
    let crl = match state.ca.crl(scope).await {
        Ok(Some(crl)) => crl,
        Ok(None) => return no_such_crl(),
        Err(e) => {
            tracing::error!(error = %e, ?scope, "CRL generation failed");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "CRL temporarily unavailable; retry",
            )
                .into_response();
        }
    };
    let this_update = std::time::SystemTime::from(crl.this_update);
    // If-Modified-Since is not used: a CRL signed again within the second of the last one
    // (a revocation right after a refresh) has the same Last-Modified.
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|tags| tags.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || tag.trim_start_matches("W/") == crl.etag)
        });
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        with_type(crl.der, "application/pkix-crl")
    };
    let h = response.headers_mut();
    for (name, value) in [
        (header::LAST_MODIFIED, httpdate::fmt_http_date(this_update)),
        (header::ETAG, crl.etag),
        (
            header::CACHE_CONTROL,
            format!("public, max-age={CRL_MAX_AGE}"),
        ),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            h.insert(name, value);
        }
    }
    response
}

async fn live() -> &'static str {
    "ok"
}

/// How long before its expiry the ACME listener's certificate is warned about in
/// `/health/ready` (Ferrite renews its own at this point; an operator's file must be replaced).
const LISTENER_WARNING: time::Duration = time::Duration::days(30);

/// 200 `ok` when the database takes a write transaction and the CA key signs; else 503 naming
/// the part that fails, for a load balancer to take the instance out of rotation. A ready
/// instance with an active intermediate that expires within 90 days, or whose ACME listener
/// certificate within 30, still answers 200, with a `warning:` line for each after `ok` (both
/// certificates are public, so saying so is too).
async fn ready(State(state): State<AppState>) -> Response {
    match state.ca.ready().await {
        Ok(()) => {
            let now = state.ca.now();
            let mut body = String::from("ok");
            let intermediates = state.ca.intermediate_warnings();
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
            for warning in intermediates.into_iter().chain(listener) {
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
