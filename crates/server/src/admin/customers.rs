//! The operator's customer routes (an operator credential only; a customer's gets 403): list,
//! create, show, suspend, resume, rate limits and profiles — what `ferrite customer` does,
//! through the same registry calls, each change recorded as the command would be.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferrite_core::eab::{CustomerLimitView, CustomerView};
use ferrite_proto::ProblemType;
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::Caller;
use super::handlers::optional_body;
use super::openapi::ProblemDocument;
use crate::AppState;
use crate::problem::ApiError;

/// `POST /customers` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewCustomerRequest {
    /// Unique name: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.
    name: String,
}

/// `POST /customers/{name}/suspend` body (optional).
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SuspendRequest {
    /// Why, for operators (never shown to the customer's clients).
    reason: Option<String>,
}

/// `PUT /customers/{name}/limits/{limit}` body: `{"value": N}` or `{"default": true}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct LimitRequest {
    /// The customer's own value (0: off for it).
    value: Option<u32>,
    /// `true`: back to the configured value.
    #[serde(default)]
    default: bool,
}

/// `PUT /customers/{name}/profiles` body: `{"profiles": [NAME, …]}` or `{"all": true}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ProfilesRequest {
    /// The profiles the customer's accounts may order (each one the CA offers).
    profiles: Option<Vec<String>>,
    /// `true`: every profile the CA offers (no limit).
    #[serde(default)]
    all: bool,
}

/// A required JSON body, or 400 showing `example`.
fn body<T: serde::de::DeserializeOwned>(body: &Bytes, example: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ProblemType::Malformed,
            format!("the body must be JSON like {example}: {e}"),
        )
    })
}

/// `GET /customers`: every customer, oldest first (`ferrite customer list`).
#[utoipa::path(get, path = "/customers", tag = "customers",
    responses((status = 200, description = "Customers, oldest first", body = Vec<CustomerView>), (status = 403, description = "Not an operator credential", body = ProblemDocument, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(super) async fn list_customers(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.operator()?;
    Ok(Json(state.ca.eab().customers().await?).into_response())
}

/// `POST /customers` with `{"name": NAME}`: a new customer (`ferrite customer create`); 409 if
/// the name is taken.
#[utoipa::path(post, path = "/customers", tag = "customers",
    request_body = NewCustomerRequest,
    responses((status = 201, description = "The new customer", body = CustomerView), (status = 400, description = "A body or name not accepted", body = ProblemDocument, content_type = "application/problem+json"), (status = 403, description = "Not an operator credential", body = ProblemDocument, content_type = "application/problem+json"), (status = 409, description = "The name is taken", body = ProblemDocument, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(super) async fn create_customer(
    State(state): State<AppState>,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let request: NewCustomerRequest = body(&bytes, r#"{"name": "example-corp"}"#)?;
    caller.record(&state, "customer create").await;
    let customer = state.ca.eab().create_customer(&request.name).await?;
    Ok((StatusCode::CREATED, Json(customer)).into_response())
}

/// `GET /customers/{name}`: one customer, with its status.
#[utoipa::path(get, path = "/customers/{name}", tag = "customers",
    params(("name" = String, Path, description = "The customer's name")),
    responses((status = 200, description = "The customer", body = CustomerView), (status = 403, description = "Not an operator credential", body = ProblemDocument, content_type = "application/problem+json"), (status = 404, description = "No such customer", body = ProblemDocument, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(super) async fn show_customer(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    caller.operator()?;
    Ok(Json(state.ca.eab().customer_by_name(&name).await?).into_response())
}

/// `POST /customers/{name}/suspend` (`{"reason": TEXT}` optional): every ACME request of its
/// accounts, every binding through its MAC keys and every admin API request with its
/// credentials is refused until it is resumed (`ferrite customer suspend`).
#[utoipa::path(post, path = "/customers/{name}/suspend", tag = "customers",
    params(("name" = String, Path, description = "The customer's name")),
    request_body(content = Option<SuspendRequest>, description = "Empty: no reason recorded"),
    responses((status = 200, description = "The customer, suspended", body = CustomerView), (status = 400, description = "A body not accepted", body = ProblemDocument, content_type = "application/problem+json"), (status = 403, description = "Not an operator credential", body = ProblemDocument, content_type = "application/problem+json"), (status = 404, description = "No such customer", body = ProblemDocument, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(super) async fn suspend_customer(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let request: SuspendRequest = optional_body(&bytes, r#"{"reason": "TEXT"}"#)?;
    caller.record(&state, "customer suspend").await;
    let customer = state
        .ca
        .eab()
        .suspend_customer(&name, request.reason.as_deref())
        .await?;
    Ok(Json(customer).into_response())
}

/// `POST /customers/{name}/resume`: the suspension lifted (`ferrite customer resume`).
#[utoipa::path(post, path = "/customers/{name}/resume", tag = "customers",
    params(("name" = String, Path, description = "The customer's name")),
    responses((status = 200, description = "The customer, active", body = CustomerView), (status = 403, description = "Not an operator credential", body = ProblemDocument, content_type = "application/problem+json"), (status = 404, description = "No such customer", body = ProblemDocument, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(super) async fn resume_customer(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    caller.operator()?;
    caller.record(&state, "customer resume").await;
    Ok(Json(state.ca.eab().resume_customer(&name).await?).into_response())
}

/// `GET /customers/{name}/limits`: every rate limit as it applies to the customer's accounts
/// (`ferrite customer limits`).
#[utoipa::path(get, path = "/customers/{name}/limits", tag = "customers",
    params(("name" = String, Path, description = "The customer's name")),
    responses((status = 200, description = "The limits: configured, the customer's own value, the one in force", body = Vec<CustomerLimitView>), (status = 403, description = "Not an operator credential", body = ProblemDocument, content_type = "application/problem+json"), (status = 404, description = "No such customer", body = ProblemDocument, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(super) async fn customer_limits(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let limits = state
        .ca
        .eab()
        .customer_rate_limits(&name, &state.ca.config().rate_limits)
        .await?;
    Ok(Json(limits).into_response())
}

/// `PUT /customers/{name}/limits/{limit}` with `{"value": N}` (0: off for it) or
/// `{"default": true}`: the customer's own value of a rate limit, in force at once on every
/// instance (`ferrite customer set-limit`). Answers every limit as it now applies.
#[utoipa::path(put, path = "/customers/{name}/limits/{limit}", tag = "customers",
    params(("name" = String, Path, description = "The customer's name"), ("limit" = String, Path, description = "The limit, as `[rate_limits]` names it")),
    request_body = LimitRequest,
    responses((status = 200, description = "The limits as they now apply", body = Vec<CustomerLimitView>), (status = 400, description = "A body or limit not accepted", body = ProblemDocument, content_type = "application/problem+json"), (status = 403, description = "Not an operator credential", body = ProblemDocument, content_type = "application/problem+json"), (status = 404, description = "No such customer", body = ProblemDocument, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(super) async fn set_customer_limit(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, limit)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.operator()?;
    const EXAMPLE: &str = r#"{"value": 600} (0: off for this customer) or {"default": true} (back to the configured value)"#;
    let request: LimitRequest = body(&bytes, EXAMPLE)?;
    let value = match (request.value, request.default) {
        (Some(v), false) => Some(v),
        (None, true) => None,
        _ => {
            return Err(ApiError::new(
                ProblemType::Malformed,
                format!("give either a value or default: {EXAMPLE}"),
            ));
        }
    };
    caller.record(&state, "customer set-limit").await;
    let eab = state.ca.eab();
    let customer = eab.set_rate_limit(&name, &limit, value).await?;
    let limits = eab
        .customer_rate_limits(&customer.name, &state.ca.config().rate_limits)
        .await?;
    Ok(Json(limits).into_response())
}

/// `PUT /customers/{name}/profiles` with `{"profiles": [NAME, …]}` or `{"all": true}`: the
/// certificate profiles the customer's accounts may order (`ferrite customer set-profiles`).
#[utoipa::path(put, path = "/customers/{name}/profiles", tag = "customers",
    params(("name" = String, Path, description = "The customer's name")),
    request_body = ProfilesRequest,
    responses((status = 200, description = "The customer, with the profiles it may order", body = CustomerView), (status = 400, description = "A body or profile not accepted", body = ProblemDocument, content_type = "application/problem+json"), (status = 403, description = "Not an operator credential", body = ProblemDocument, content_type = "application/problem+json"), (status = 404, description = "No such customer", body = ProblemDocument, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(super) async fn set_customer_profiles(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.operator()?;
    const EXAMPLE: &str = r#"{"profiles": ["tlsserver", "shortlived"]} or {"all": true}"#;
    let request: ProfilesRequest = body(&bytes, EXAMPLE)?;
    let profiles = match (request.profiles, request.all) {
        (Some(p), false) => Some(p),
        (None, true) => None,
        _ => {
            return Err(ApiError::new(
                ProblemType::Malformed,
                format!("give either profiles or all: {EXAMPLE}"),
            ));
        }
    };
    caller.record(&state, "customer set-profiles").await;
    let customer = state
        .ca
        .eab()
        .set_offered_customer_profiles(&name, profiles, &state.ca.config().profiles)
        .await?;
    Ok(Json(customer).into_response())
}
