//! Renewal information (RFC 9773 §4): `GET` (or POST-as-GET) `renewalInfo/{certID}`.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use super::extract::AcmePath;
use super::jws::PostAsGet;
use super::render::{json, rfc3339};
use crate::AppState;
use crate::problem::ApiError;
use ferrite_proto::resources::{RenewalInfo, SuggestedWindow};

/// RFC 9773 §4.2: the suggested window and, in `Retry-After`, when to ask again. The resource
/// is public (RFC 9773 §4.1: clients fetch it with GET, unauthenticated).
pub(super) async fn renewal_info(
    State(state): State<AppState>,
    AcmePath(cert_id): AcmePath<String>,
) -> Result<Response, ApiError> {
    let view = state.ca.renewal_info(&cert_id).await?;
    let body = RenewalInfo {
        suggested_window: SuggestedWindow {
            start: rfc3339(view.start),
            end: rfc3339(view.end),
        },
        explanation_url: view.explanation_url,
    };
    let mut r = json(StatusCode::OK, &body, None, false);
    let seconds = view.retry_after.whole_seconds().max(1).to_string();
    if let Ok(v) = HeaderValue::from_str(&seconds) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    Ok(r)
}

/// [`renewal_info`] by POST-as-GET (RFC 8555 §6.3), verified like any other request.
pub(super) async fn renewal_info_post(
    state: State<AppState>,
    cert_id: AcmePath<String>,
    _: PostAsGet,
) -> Result<Response, ApiError> {
    renewal_info(state, cert_id).await
}
