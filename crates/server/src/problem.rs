//! `ApiError`: what a handler returns when it cannot answer normally. Rendered as an RFC 8555
//! problem document (`application/problem+json`) carrying the request id.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferrite_core::CoreError;
use ferrite_jose::JoseError;
use ferrite_proto::{Problem, ProblemType};

/// Seconds a client is asked to wait (`Retry-After`) when a 503 answers: the database was
/// unreachable, which a restart or a failover usually ends within seconds.
const UNAVAILABLE_RETRY_AFTER: &str = "5";

/// A failed request. Converted from the layers below in one `From` impl each.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) problem: Box<Problem>,
    /// Extra headers (e.g. `Location` for a key-change conflict).
    pub(crate) location: Option<String>,
    /// Seconds for `Retry-After` (a rate limit's refusal, RFC 8555 §6.7).
    pub(crate) retry_after: Option<u64>,
    /// The rate limit that refused the request, for the metrics.
    pub(crate) rate_limit: Option<ferrite_core::rate_limit::LimitName>,
}

impl ApiError {
    pub(crate) fn new(kind: ProblemType, detail: impl Into<String>) -> Self {
        Problem::new(kind, detail).into()
    }

    pub(crate) fn with_status(mut self, status: u16) -> Self {
        self.problem.status = Some(status);
        self
    }
}

impl From<Problem> for ApiError {
    fn from(problem: Problem) -> Self {
        Self {
            problem: Box::new(problem),
            location: None,
            retry_after: None,
            rate_limit: None,
        }
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match &e {
            CoreError::Store(ferrite_core::StoreError::Unavailable(_)) => {
                tracing::warn!(error = %e, "request refused for now: the database is unavailable");
            }
            CoreError::Store(_) | CoreError::Internal(_) => {
                tracing::error!(error = %e, "request failed inside the CA");
            }
            CoreError::KeyInUse { .. } | CoreError::Problem(_) | CoreError::RateLimited(_) => {}
        }
        let rate_limit = match &e {
            CoreError::RateLimited(r) => Some(r.limit),
            _ => None,
        };
        Self {
            problem: Box::new(e.to_problem()),
            location: None,
            retry_after: e.retry_after_seconds(),
            rate_limit,
        }
    }
}

/// A JWS the client sent: mapped to its problem type by the engine's one mapping
/// (`impl From<JoseError> for CoreError`).
impl From<JoseError> for ApiError {
    fn from(e: JoseError) -> Self {
        CoreError::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut problem = *self.problem;
        problem.request_id = crate::request_id::current();
        let status = StatusCode::from_u16(problem.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        response
            .extensions_mut()
            .insert(crate::metrics::ProblemKind(problem.kind));
        if let Some(limit) = self.rate_limit {
            response
                .extensions_mut()
                .insert(crate::metrics::RateLimitKind(limit));
        }
        response
            .extensions_mut()
            .insert(crate::request_id::Refusal(problem.detail.clone()));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(loc) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            response.headers_mut().insert(header::LOCATION, loc);
        }
        if let Some(seconds) = self.retry_after {
            // RFC 8555 §6.7: a rateLimited refusal says when to retry.
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        } else if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(UNAVAILABLE_RETRY_AFTER),
            );
        }
        response
    }
}
