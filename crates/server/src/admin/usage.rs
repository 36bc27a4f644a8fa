//! A customer's usage against its limits (`GET /usage`) and the support trail
//! (`GET /requests/{id}`), for both roles: a customer's credential sees its own customer's,
//! an operator credential any customer's.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrite_core::eab::UsageView;
use ferrite_core::support_trail::RefusedRequestView;

use super::auth::Caller;
use super::handlers::{CustomerParam, ProblemQuery};
use super::openapi::ProblemDocument;
use crate::AppState;
use crate::problem::ApiError;

/// `GET /usage`: each rate limit in force for the customer with its window and what is spent
/// of it where that is counted (per customer; per account: the busiest account's new orders),
/// and each MAC key's bindings against its maximum, with its expiry. An operator credential
/// names the customer (`?customer=NAME`).
#[utoipa::path(get, path = "/usage", tag = "usage",
    params(CustomerParam),
    responses((status = 200, description = "The customer's usage against its limits", body = UsageView), (status = 400, description = "An operator credential named no customer", body = ProblemDocument, content_type = "application/problem+json"), (status = 404, description = "No such customer", body = ProblemDocument, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(super) async fn usage(
    State(state): State<AppState>,
    caller: Caller,
    ProblemQuery(param): ProblemQuery<CustomerParam>,
) -> Result<Response, ApiError> {
    let customer = caller
        .one_customer(&state, param.customer.as_deref())
        .await?;
    Ok(Json(state.ca.eab().usage(&customer.name).await?).into_response())
}

/// `GET /requests/{id}`: a refused request (kept 30 days) — when, what, the problem and
/// detail the client got, its account and customer (`ferrite request show`). A customer's
/// credential finds only its own customer's.
#[utoipa::path(get, path = "/requests/{id}", tag = "requests",
    params(("id" = String, Path, description = "The request id (X-Request-Id, or the problem's requestId)")),
    responses((status = 200, description = "The refused request", body = RefusedRequestView), (status = 404, description = "Not kept, or not the customer's", body = ProblemDocument, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(super) async fn show_request(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let within = caller.within(&state, None).await?;
    let refused = state
        .ca
        .eab()
        .refused_request(&id, within.as_deref())
        .await?;
    Ok(Json(refused).into_response())
}
