//! `Authorization: Bearer ID:SECRET` → the caller's active API credential. A missing,
//! malformed or wrong credential is 401 with one message, whichever part failed; the right
//! secret of a suspended customer's credential is 403 `unauthorized` (`Registry::authenticate`).

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use ferrite_core::model::ApiCredential;
use ferrite_proto::ProblemType;

use crate::AppState;
use crate::problem::ApiError;

/// The authenticated caller.
pub(super) struct Caller(pub(super) ApiCredential);

impl Caller {
    /// The customer whose data the caller may see.
    pub(super) fn customer_id(&self) -> &str {
        &self.0.customer_id
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let missing = || {
            ApiError::new(
                ProblemType::Unauthorized,
                "authenticate with an API credential: send \"Authorization: Bearer ID:SECRET\" (the operator creates one with `ferrite credential create --customer NAME`)",
            )
            .with_status(401)
        };
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(missing)?;
        let (scheme, token) = value.split_once(' ').ok_or_else(missing)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(missing());
        }
        let (id, secret) = token.trim().split_once(':').ok_or_else(missing)?;
        // The client's address: failed authentications from it are limited
        // (`rate_limits.failed_admin_authentications_per_address`).
        let client = parts
            .extensions
            .get::<crate::listener::Peer>()
            .map(|peer| peer.0.ip());
        let credential = state.ca.eab().authenticate_from(id, secret, client).await?;
        Ok(Caller(credential))
    }
}
