//! A refused request as it is looked up again: what a client who quotes a request id (the
//! `X-Request-Id` header, or `requestId` in the problem document) was told and why, with the
//! account and customer it was for. `ferrite request show ID` and the admin API's
//! `GET /requests/{id}` both read it here. Refused requests are kept for 30 days; a request
//! that succeeded is not kept.

use ferrite_proto::{Problem, ProblemType};
use serde::Serialize;
use time::OffsetDateTime;

use crate::{CoreError, Store};

/// A kept refused request, with its customer's name (the one the operator knows it by).
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RefusedRequestView {
    /// The request id.
    pub request_id: String,
    /// When it was answered (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Which listener answered it (`acme`, `admin`, `public`).
    pub listener: String,
    /// The HTTP method.
    pub method: String,
    /// The request path (no query).
    pub path: String,
    /// The HTTP status answered.
    pub status: u16,
    /// The problem type's URN.
    pub problem: String,
    /// The problem's detail, as the client got it.
    pub detail: String,
    /// The account the request named, when it named one.
    pub account_id: Option<String>,
    /// That account's (or the admin credential's) customer, by id.
    pub customer_id: Option<String>,
    /// The customer's name.
    pub customer: Option<String>,
    /// The client's address.
    pub client: Option<String>,
}

/// The refused request `request_id`; with `within`, only one of that customer (by id): a
/// request of another customer, or of none, is "not found" as an unknown id is.
pub async fn refused_request(
    store: &dyn Store,
    request_id: &str,
    within: Option<&str>,
) -> Result<RefusedRequestView, CoreError> {
    let id = request_id.trim();
    let refused = store
        .refused_request(id)
        .await?
        .filter(|r| within.is_none_or(|c| r.customer_id.as_deref() == Some(c)))
        .ok_or_else(|| {
            let mut p = Problem::new(
                ProblemType::Malformed,
                format!(
                    "no refused request with id {id:?} is kept: refused requests are kept for 30 days, and a request that succeeded is not kept (check the id against the response's X-Request-Id header)"
                ),
            );
            p.status = Some(404);
            CoreError::from(p)
        })?;
    let customer = match &refused.customer_id {
        Some(customer) => store.customer(customer).await?.map(|c| c.name),
        None => None,
    };
    Ok(RefusedRequestView {
        request_id: refused.request_id,
        at: refused.at,
        listener: refused.listener,
        method: refused.method,
        path: refused.path,
        status: refused.status,
        problem: refused.problem,
        detail: refused.detail,
        account_id: refused.account_id,
        customer_id: refused.customer_id,
        customer,
        client: refused.client,
    })
}
