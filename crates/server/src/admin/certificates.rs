//! The customer's certificates and domain validations: list (filtered, paged), show, download,
//! revoke. Each handler parses the query or body (a bad value is 400 `malformed` saying the
//! accepted form), calls the engine scoped to the caller's customer and renders JSON.
//!
//! Listings are paged by a cursor: `limit` (1–1000, default 100) items after `after`; when
//! more follow, the body's `next` and a `Link: <…>; rel="next"` header give the next page's
//! URL (the same filters, `after` set).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use ferrite_core::CoreError;
use ferrite_core::ca::certificate_listing::{CertificateStatus, NameFilter, parse_serial};
use ferrite_core::ca::customer_certificates::{
    CertificateView, CustomerCertificate, ValidationView,
};
use ferrite_core::ca::operator_revoke::parse_reason;
use ferrite_core::model::{CertificateQuery, DomainValidationQuery};
use ferrite_proto::ProblemType;
use serde::Deserialize;
use serde_json::json;

use super::PREFIX;
use super::auth::Caller;
use crate::AppState;
use crate::problem::ApiError;

/// Items a page holds unless `limit` says otherwise.
const DEFAULT_LIMIT: u32 = 100;
/// The most items one page holds.
const MAX_LIMIT: u32 = 1000;
/// The longest `expiring_days` accepted (ten years).
const MAX_EXPIRING_DAYS: u32 = 3650;

/// The query string as (name, value) pairs, in order.
type Params = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// `POST /certificates/{serial}/revoke` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeRequest {
    /// An RFC 5280 reason name (`keyCompromise`, `superseded`, …) or its code.
    reason: String,
}

/// `malformed` for the query parameter `name`, saying what it accepts.
fn bad_param(name: &str, detail: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        ProblemType::Malformed,
        format!("query parameter {name}: {detail}"),
    )
}

/// A problem from the engine's parser, with the parameter it concerns in front.
fn in_param(name: &str, e: CoreError) -> ApiError {
    let mut e = ApiError::from(e);
    e.problem.detail = format!("query parameter {name}: {}", e.problem.detail);
    e
}

fn params(query: Params, accepted: &str) -> Result<Vec<(String, String)>, ApiError> {
    let Query(pairs) = query.map_err(|e| {
        ApiError::new(
            ProblemType::Malformed,
            format!("the query string does not parse ({e}); accepted parameters: {accepted}"),
        )
    })?;
    Ok(pairs)
}

fn unknown_param(name: &str, accepted: &str) -> ApiError {
    ApiError::new(
        ProblemType::Malformed,
        format!("unknown query parameter {name:?}; accepted parameters: {accepted}"),
    )
}

fn parse_limit(text: &str) -> Result<u32, ApiError> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| {
            bad_param(
                "limit",
                format!(
                    "{text:?} is not a page size: give a whole number from 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})"
                ),
            )
        })
}

/// Percent-encodes a query value (everything but RFC 3986 unreserved characters and `*`).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~*".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The URL of the page after this one: `path` with the filters of `pairs` (without any
/// `after` or `limit`), `limit` and `after`.
fn next_url(path: &str, pairs: &[(String, String)], limit: u32, after: &str) -> String {
    let mut query: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k != "after" && k != "limit")
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    query.push(format!("limit={limit}"));
    query.push(format!("after={}", encode(after)));
    format!("{PREFIX}{path}?{}", query.join("&"))
}

/// A page's JSON: `{key: items, "next": url | null}`, with `Link: <url>; rel="next"` when
/// there is a next page.
fn page_response(key: &str, items: serde_json::Value, next: Option<String>) -> Response {
    let mut response = Json(json!({ key: items, "next": next })).into_response();
    if let Some(url) = next
        && let Ok(link) = HeaderValue::from_str(&format!("<{url}>; rel=\"next\""))
    {
        response.headers_mut().insert(header::LINK, link);
    }
    response
}

const CERTIFICATE_PARAMS: &str = "domain (www.example.com, *.example.com, or .example.com for every name under it), serial (hex), expiring_days (1 to 3650), status (valid, revoked or expired), limit (1 to 1000), after (the serial a page ended with)";

/// `GET /certificates`.
pub(super) async fn list_certificates(
    State(state): State<AppState>,
    caller: Caller,
    query: Params,
) -> Result<Response, ApiError> {
    let pairs = params(query, CERTIFICATE_PARAMS)?;
    let now = state.ca.now();
    let mut filter = CertificateQuery::default();
    let mut status = None;
    let mut limit = DEFAULT_LIMIT;
    let mut after = None;
    for (name, value) in &pairs {
        match name.as_str() {
            "domain" => NameFilter::parse(value)
                .map_err(|e| in_param(name, e))?
                .apply(&mut filter),
            "serial" => filter.serial = Some(parse_serial(value).map_err(|e| in_param(name, e))?),
            "expiring_days" => {
                let days = value
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|d| (1..=MAX_EXPIRING_DAYS).contains(d))
                    .ok_or_else(|| {
                        bad_param(
                            name,
                            format!(
                                "{value:?} is not a number of days: give a whole number from 1 to {MAX_EXPIRING_DAYS} (unexpired certificates whose notAfter is within that many days)"
                            ),
                        )
                    })?;
                filter.not_after_from = Some(now);
                filter.not_after_until = Some(now + time::Duration::days(i64::from(days)));
            }
            "status" => {
                status = Some(CertificateStatus::parse(value).map_err(|e| in_param(name, e))?)
            }
            "limit" => limit = parse_limit(value)?,
            "after" => after = Some(parse_serial(value).map_err(|e| in_param(name, e))?),
            other => return Err(unknown_param(other, CERTIFICATE_PARAMS)),
        }
    }
    if let Some(status) = status {
        status.apply(&mut filter, now);
    }
    let page = state
        .ca
        .customer_certificates(caller.customer_id(), filter, after.as_deref(), limit)
        .await?;
    let items: Vec<CertificateView> = page
        .items
        .iter()
        .map(|c| CertificateView::new(c, now))
        .collect();
    let next = page
        .next
        .map(|after| next_url("/certificates", &pairs, limit, &after));
    Ok(page_response("certificates", json!(items), next))
}

fn path_serial(serial: &str) -> Result<String, ApiError> {
    parse_serial(serial).map_err(|e| {
        let mut e = ApiError::from(e);
        e.problem.detail = format!("the path's serial: {}", e.problem.detail);
        e
    })
}

/// The caller's customer's certificate with the path's serial.
async fn path_certificate(
    state: &AppState,
    caller: &Caller,
    serial: &str,
) -> Result<CustomerCertificate, ApiError> {
    let serial = path_serial(serial)?;
    Ok(state
        .ca
        .customer_certificate(caller.customer_id(), &serial)
        .await?)
}

/// `GET /certificates/{serial}`.
pub(super) async fn show_certificate(
    State(state): State<AppState>,
    caller: Caller,
    Path(serial): Path<String>,
) -> Result<Response, ApiError> {
    let found = path_certificate(&state, &caller, &serial).await?;
    Ok(Json(CertificateView::new(&found, state.ca.now())).into_response())
}

/// `GET /certificates/{serial}/pem`: the leaf and its chain, as ACME serves them.
pub(super) async fn download_certificate(
    State(state): State<AppState>,
    caller: Caller,
    Path(serial): Path<String>,
) -> Result<Response, ApiError> {
    let found = path_certificate(&state, &caller, &serial).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/pem-certificate-chain"),
        )],
        found.certificate.chain_pem,
    )
        .into_response())
}

/// `POST /certificates/{serial}/revoke` with `{"reason": NAME}`.
pub(super) async fn revoke_certificate(
    State(state): State<AppState>,
    caller: Caller,
    Path(serial): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let serial = path_serial(&serial)?;
    let request: RevokeRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            ProblemType::Malformed,
            format!(
                "the body must be JSON like {{\"reason\": \"keyCompromise\"}} (reasons: unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn): {e}"
            ),
        )
    })?;
    let reason = parse_reason(&request.reason)?;
    let revoked = state
        .ca
        .revoke_customer_certificate(caller.customer_id(), &caller.0.id, &serial, reason)
        .await?;
    Ok(Json(CertificateView::new(&revoked, state.ca.now())).into_response())
}

const VALIDATION_PARAMS: &str = "domain (www.example.com, *.example.com, or .example.com for every name under it), limit (1 to 1000), after (the id a page ended with)";

/// `GET /validations`.
pub(super) async fn list_validations(
    State(state): State<AppState>,
    caller: Caller,
    query: Params,
) -> Result<Response, ApiError> {
    let pairs = params(query, VALIDATION_PARAMS)?;
    let mut filter = DomainValidationQuery {
        customer_id: caller.customer_id().to_owned(),
        ..DomainValidationQuery::default()
    };
    let mut limit = DEFAULT_LIMIT;
    let mut after = None;
    for (name, value) in &pairs {
        match name.as_str() {
            "domain" => match NameFilter::parse(value).map_err(|e| in_param(name, e))? {
                NameFilter::Exact(n) => filter.domain = Some(n),
                NameFilter::Suffix(s) => filter.domain_suffix = Some(s),
            },
            "limit" => limit = parse_limit(value)?,
            "after" => {
                let ok = !value.is_empty()
                    && value.len() <= 64
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if !ok {
                    return Err(bad_param(
                        name,
                        format!(
                            "{value:?} is not a validation id: pass the `next` URL a page returned, or the id of the last validation on it"
                        ),
                    ));
                }
                after = Some(value.clone());
            }
            other => return Err(unknown_param(other, VALIDATION_PARAMS)),
        }
    }
    let page = state
        .ca
        .customer_validations(&filter, after.as_deref(), limit)
        .await?;
    let items: Vec<ValidationView> = page.items.iter().map(ValidationView::from).collect();
    let next = page
        .next
        .map(|after| next_url("/validations", &pairs, limit, &after));
    Ok(page_response("validations", json!(items), next))
}
