//! The customer's certificates and domain validations: list (filtered, paged), show, download,
//! revoke. Each handler parses the query or body (a bad value is 400 `malformed` saying the
//! accepted form), calls the engine scoped to the caller's customer (an operator credential:
//! the customer `customer=` names, or every customer's certificates) and renders JSON.
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
    CertificateView, CustomerCertificate, ValidationView, parse_validation_id,
};
use ferrite_core::ca::operator_revoke::parse_reason;
use ferrite_core::model::{CertificateQuery, DomainValidationQuery};
use ferrite_proto::ProblemType;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::PREFIX;
use super::auth::Caller;
use super::handlers::{CustomerParam, ProblemQuery};
use super::openapi::ProblemDocument;
use crate::AppState;
use crate::problem::ApiError;

/// Items a page holds unless `limit` says otherwise.
const DEFAULT_LIMIT: u32 = 100;
/// The most items one page holds.
const MAX_LIMIT: u32 = 1000;
/// The longest `expiring_days` accepted (ten years).
const MAX_EXPIRING_DAYS: u32 = 3650;

/// `GET /certificates` query. Values are read as text and parsed here, so a bad one gets a
/// problem naming the accepted form.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct CertificateParams {
    /// One name (`www.example.com`, `*.example.com` for a wildcard), or every name under a
    /// domain (`.example.com`).
    domain: Option<String>,
    /// A serial in hex, colons and case ignored (as `openssl x509 -noout -serial` prints it).
    serial: Option<String>,
    /// Only unexpired certificates whose notAfter is within this many days (1 to 3650).
    #[param(value_type = Option<u32>)]
    expiring_days: Option<String>,
    /// `valid`, `revoked` or `expired`.
    status: Option<String>,
    /// Items per page, 1 to 1000 (default 100).
    #[param(value_type = Option<u32>)]
    limit: Option<String>,
    /// The serial the previous page ended with (follow `next` rather than building it).
    after: Option<String>,
    /// The customer (by name) an operator credential searches; every customer without it.
    customer: Option<String>,
}

/// `GET /validations` query.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ValidationParams {
    /// One name as validated (`*.` in front for a wildcard), or every name under a domain
    /// (`.example.com`).
    domain: Option<String>,
    /// Items per page, 1 to 1000 (default 100).
    #[param(value_type = Option<u32>)]
    limit: Option<String>,
    /// The id the previous page ended with (follow `next` rather than building it).
    after: Option<String>,
    /// The customer (by name) an operator credential lists (required for it).
    customer: Option<String>,
}

/// A page of certificates.
#[derive(Serialize, ToSchema)]
pub(super) struct CertificateList {
    certificates: Vec<CertificateView>,
    /// The next page's URL (also in `Link: <…>; rel="next"`); `null` on the last page.
    next: Option<String>,
}

/// A page of domain validations.
#[derive(Serialize, ToSchema)]
pub(super) struct ValidationList {
    validations: Vec<ValidationView>,
    /// The next page's URL (also in `Link: <…>; rel="next"`); `null` on the last page.
    next: Option<String>,
}

/// `POST /certificates/{serial}/revoke` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RevokeRequest {
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

/// The query, or a problem saying which parameters are accepted.
fn params<T>(query: Result<Query<T>, QueryRejection>, accepted: &str) -> Result<T, ApiError> {
    let Query(params) = query.map_err(|e| {
        ApiError::new(
            ProblemType::Malformed,
            format!("the query string is not accepted ({e}); accepted parameters: {accepted}"),
        )
    })?;
    Ok(params)
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

/// The URL of the page after this one: `path` with the `filters` that are set, `limit` and
/// `after`.
fn next_url(path: &str, filters: &[(&str, &Option<String>)], limit: u32, after: &str) -> String {
    let mut query: Vec<String> = filters
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v))))
        .collect();
    query.push(format!("limit={limit}"));
    query.push(format!("after={}", encode(after)));
    format!("{PREFIX}{path}?{}", query.join("&"))
}

/// A page's JSON, with `Link: <next>; rel="next"` when there is a next page.
fn page_response(page: impl Serialize, next: Option<&str>) -> Response {
    let mut response = Json(page).into_response();
    if let Some(url) = next
        && let Ok(link) = HeaderValue::from_str(&format!("<{url}>; rel=\"next\""))
    {
        response.headers_mut().insert(header::LINK, link);
    }
    response
}

const CERTIFICATE_PARAMS: &str = "domain (www.example.com, *.example.com, or .example.com for every name under it), serial (hex), expiring_days (1 to 3650), status (valid, revoked or expired), limit (1 to 1000), after (the serial a page ended with), customer (a name; an operator credential's search)";

/// `GET /certificates`: the certificates of the customer's accounts, by serial, a page at a
/// time.
#[utoipa::path(get, path = "/certificates", tag = "certificates",
    params(CertificateParams),
    responses(
        (status = 200, description = "A page of certificates", body = CertificateList),
        (status = 400, description = "A query value not accepted", body = ProblemDocument, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(super) async fn list_certificates(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<CertificateParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let p = params(query, CERTIFICATE_PARAMS)?;
    let now = state.ca.now();
    let mut filter = CertificateQuery::default();
    if let Some(domain) = &p.domain {
        NameFilter::parse(domain)
            .map_err(|e| in_param("domain", e))?
            .apply(&mut filter);
    }
    if let Some(serial) = &p.serial {
        filter.serial = Some(parse_serial(serial).map_err(|e| in_param("serial", e))?);
    }
    if let Some(days) = &p.expiring_days {
        let days = days
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=MAX_EXPIRING_DAYS).contains(d))
            .ok_or_else(|| {
                bad_param(
                    "expiring_days",
                    format!(
                        "{days:?} is not a number of days: give a whole number from 1 to {MAX_EXPIRING_DAYS} (unexpired certificates whose notAfter is within that many days)"
                    ),
                )
            })?;
        filter.not_after_from = Some(now);
        filter.not_after_until = Some(now + time::Duration::days(i64::from(days)));
    }
    if let Some(status) = &p.status {
        CertificateStatus::parse(status)
            .map_err(|e| in_param("status", e))?
            .apply(&mut filter, now);
    }
    let limit = p
        .limit
        .as_deref()
        .map(parse_limit)
        .transpose()?
        .unwrap_or(DEFAULT_LIMIT);
    let after = p
        .after
        .as_deref()
        .map(|a| parse_serial(a).map_err(|e| in_param("after", e)))
        .transpose()?;
    let within = caller.within(&state, p.customer.as_deref()).await?;
    let page = state
        .ca
        .customer_certificates(within.as_deref(), filter, after.as_deref(), limit)
        .await?;
    let filters = [
        ("customer", &p.customer),
        ("domain", &p.domain),
        ("serial", &p.serial),
        ("expiring_days", &p.expiring_days),
        ("status", &p.status),
    ];
    let next = page
        .next
        .map(|after| next_url("/certificates", &filters, limit, &after));
    let list = CertificateList {
        certificates: page
            .items
            .iter()
            .map(|c| CertificateView::new(c, now))
            .collect(),
        next: next.clone(),
    };
    Ok(page_response(list, next.as_deref()))
}

fn path_serial(serial: &str) -> Result<String, ApiError> {
    parse_serial(serial).map_err(|e| {
        let mut e = ApiError::from(e);
        e.problem.detail = format!("the path's serial: {}", e.problem.detail);
        e
    })
}

/// The caller's customer's certificate with the path's serial (an operator credential: any
/// customer's, or the one `customer` names).
async fn path_certificate(
    state: &AppState,
    caller: &Caller,
    customer: Option<&str>,
    serial: &str,
) -> Result<CustomerCertificate, ApiError> {
    let serial = path_serial(serial)?;
    let within = caller.within(state, customer).await?;
    Ok(state
        .ca
        .customer_certificate(within.as_deref(), &serial)
        .await?)
}

/// `GET /certificates/{serial}`: one of the customer's certificates.
#[utoipa::path(get, path = "/certificates/{serial}", tag = "certificates",
    params(("serial" = String, Path, description = "The serial in hex (colons and case ignored)"), CustomerParam),
    responses(
        (status = 200, description = "The certificate", body = CertificateView),
        (status = 404, description = "None of the customer's accounts holds it", body = ProblemDocument, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(super) async fn show_certificate(
    State(state): State<AppState>,
    caller: Caller,
    Path(serial): Path<String>,
    ProblemQuery(param): ProblemQuery<CustomerParam>,
) -> Result<Response, ApiError> {
    let found = path_certificate(&state, &caller, param.customer.as_deref(), &serial).await?;
    Ok(Json(CertificateView::new(&found, state.ca.now())).into_response())
}

/// `GET /certificates/{serial}/pem`: the leaf and its chain, as ACME serves them.
#[utoipa::path(get, path = "/certificates/{serial}/pem", tag = "certificates",
    params(("serial" = String, Path, description = "The serial in hex (colons and case ignored)"), CustomerParam),
    responses(
        (status = 200, description = "The leaf and its chain", body = String, content_type = "application/pem-certificate-chain"),
        (status = 404, description = "None of the customer's accounts holds it", body = ProblemDocument, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(super) async fn download_certificate(
    State(state): State<AppState>,
    caller: Caller,
    Path(serial): Path<String>,
    ProblemQuery(param): ProblemQuery<CustomerParam>,
) -> Result<Response, ApiError> {
    let found = path_certificate(&state, &caller, param.customer.as_deref(), &serial).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/pem-certificate-chain"),
        )],
        found.certificate.chain_pem,
    )
        .into_response())
}

/// `POST /certificates/{serial}/revoke` with `{"reason": NAME}`: revokes it as `ferrite cert
/// revoke` does.
#[utoipa::path(post, path = "/certificates/{serial}/revoke", tag = "certificates",
    params(("serial" = String, Path, description = "The serial in hex (colons and case ignored)"), CustomerParam),
    request_body = RevokeRequest,
    responses(
        (status = 200, description = "The certificate, revoked", body = CertificateView),
        (status = 400, description = "A body or reason not accepted", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "None of the customer's accounts holds it", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "Already revoked (alreadyRevoked)", body = ProblemDocument, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(super) async fn revoke_certificate(
    State(state): State<AppState>,
    caller: Caller,
    Path(serial): Path<String>,
    ProblemQuery(param): ProblemQuery<CustomerParam>,
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
    let within = caller.within(&state, param.customer.as_deref()).await?;
    let by = caller.principal.revoker();
    caller.record(&state, "cert revoke").await;
    let revoked = state
        .ca
        .revoke_customer_certificate(within.as_deref(), by, &serial, reason)
        .await?;
    Ok(Json(CertificateView::new(&revoked, state.ca.now())).into_response())
}

const VALIDATION_PARAMS: &str = "domain (www.example.com, *.example.com, or .example.com for every name under it), limit (1 to 1000), after (the id a page ended with), customer (a name; required for an operator credential)";

/// `GET /validations`: the customer's domain validations, newest first.
#[utoipa::path(get, path = "/validations", tag = "validations",
    params(ValidationParams),
    responses(
        (status = 200, description = "A page of domain validations", body = ValidationList),
        (status = 400, description = "A query value not accepted", body = ProblemDocument, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(super) async fn list_validations(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ValidationParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let p = params(query, VALIDATION_PARAMS)?;
    let customer = caller.one_customer(&state, p.customer.as_deref()).await?;
    let mut filter = DomainValidationQuery {
        customer_id: customer.id,
        ..DomainValidationQuery::default()
    };
    if let Some(domain) = &p.domain {
        NameFilter::parse(domain)
            .map_err(|e| in_param("domain", e))?
            .apply_to_validations(&mut filter);
    }
    let limit = p
        .limit
        .as_deref()
        .map(parse_limit)
        .transpose()?
        .unwrap_or(DEFAULT_LIMIT);
    let after = p
        .after
        .as_deref()
        .map(|a| parse_validation_id(a).map_err(|e| in_param("after", e)))
        .transpose()?;
    let page = state.ca.customer_validations(&filter, after, limit).await?;
    let next = page.next.map(|after| {
        let filters = [("customer", &p.customer), ("domain", &p.domain)];
        next_url("/validations", &filters, limit, &after)
    });
    let list = ValidationList {
        validations: page.items.iter().map(ValidationView::from).collect(),
        next: next.clone(),
    };
    Ok(page_response(list, next.as_deref()))
}
