//! URL extractors whose rejections are problem documents. axum's own `Path` and `Query`
//! answer a path or query they cannot decode (invalid UTF-8 after percent-decoding, a repeated
//! query parameter) with `text/plain`; RFC 8555 §6.7 wants every error as
//! `application/problem+json`, so these wrap them and answer `malformed` instead.

use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use ferrite_proto::ProblemType;
use serde::de::DeserializeOwned;

use crate::problem::ApiError;

/// `axum::extract::Path`, rejecting with a `malformed` problem.
pub(super) struct AcmePath<T>(pub(super) T);

impl<S, T> FromRequestParts<S> for AcmePath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(AcmePath(v)),
            Err(e) => Err(ApiError::new(
                ProblemType::Malformed,
                format!(
                    "the URL path cannot be decoded ({}); use the URLs this server returned, unchanged",
                    e.body_text()
                ),
            )),
        }
    }
}

/// `axum::extract::Query`, rejecting with a `malformed` problem.
pub(super) struct AcmeQuery<T>(pub(super) T);

impl<S, T> FromRequestParts<S> for AcmeQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(AcmeQuery(v)),
            Err(e) => Err(ApiError::new(
                ProblemType::Malformed,
                format!(
                    "the URL query cannot be decoded ({}); follow the Link rel=\"next\" URL exactly as given",
                    e.body_text()
                ),
            )),
        }
    }
}
