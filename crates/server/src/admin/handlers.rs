//! Admin handlers: authenticate (extractor), parse, call the registry scoped to the caller's
//! customer, render JSON.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferrite_core::model::Scope;
use ferrite_proto::ProblemType;
use serde::Deserialize;

use super::auth::Caller;
use crate::AppState;
use crate::problem::ApiError;

/// `?credential_id=ID` on listings (`credential` is read as well).
#[derive(Deserialize)]
pub(super) struct CredentialFilter {
    #[serde(alias = "credential")]
    credential_id: Option<String>,
}

/// `POST /mac-keys` body: the credential as listings name it (`credential` is read as well).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NewMacKeyRequest {
    #[serde(alias = "credential")]
    credential_id: Option<String>,
}

pub(super) async fn list_credentials(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let list = state
        .ca
        .eab()
        .credentials(Some(caller.customer_id()))
        .await?;
    Ok(Json(list).into_response())
}

pub(super) async fn create_credential(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let created = state
        .ca
        .eab()
        .create_credential(caller.customer_id())
        .await?;
    Ok((StatusCode::CREATED, Json(created.to_json_exposing_secret())).into_response())
}

pub(super) async fn disable_credential(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let disabled = state
        .ca
        .eab()
        .disable_credential(&id, Some(caller.customer_id()))
        .await?;
    Ok(Json(disabled).into_response())
}

pub(super) async fn list_mac_keys(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<CredentialFilter>,
) -> Result<Response, ApiError> {
    let scope = scope(&state, &caller, filter.credential_id).await?;
    let keys = state.ca.eab().mac_keys(&scope).await?;
    Ok(Json(keys).into_response())
}

pub(super) async fn create_mac_key(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: NewMacKeyRequest = if body.iter().all(u8::is_ascii_whitespace) {
        NewMacKeyRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                ProblemType::Malformed,
                format!(
                    "the body must be JSON like {{\"credential_id\": \"ID\"}} (or empty for the calling credential): {e}"
                ),
            )
        })?
    };
    let credential = request.credential_id.unwrap_or_else(|| caller.0.id.clone());
    let created = state
        .ca
        .eab()
        .create_mac_key(&credential, Some(caller.customer_id()))
        .await?;
    Ok((StatusCode::CREATED, Json(created.to_json_exposing_key())).into_response())
}

pub(super) async fn list_accounts(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<CredentialFilter>,
) -> Result<Response, ApiError> {
    let scope = scope(&state, &caller, filter.credential_id).await?;
    let accounts = state.ca.eab().accounts(&scope).await?;
    Ok(Json(accounts).into_response())
}

/// `GET /profiles`: the certificate profiles the CA offers (name → description) and those the
/// caller's customer may order (`null`: all offered). The operator sets the latter
/// (`ferrite customer set-profiles`); a customer's credential cannot widen its own limit.
pub(super) async fn list_profiles(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let customer = state.ca.eab().customer(caller.customer_id()).await?;
    let offered: std::collections::BTreeMap<String, String> = state
        .ca
        .config()
        .profiles
        .iter()
        .map(|p| (p.name.clone(), p.describe()))
        .collect();
    Ok(Json(serde_json::json!({
        "offered": offered,
        "default": state.ca.config().profiles.default_profile().name,
        "allowed": customer.allowed_profiles,
    }))
    .into_response())
}

/// The caller's customer, or one of its credentials (404 if the credential is another
/// customer's).
async fn scope(
    state: &AppState,
    caller: &Caller,
    credential: Option<String>,
) -> Result<Scope, ApiError> {
    match credential {
        None => Ok(Scope::Customer(caller.customer_id().to_owned())),
        Some(id) => {
            state
                .ca
                .eab()
                .credential(&id, Some(caller.customer_id()))
                .await?;
            Ok(Scope::Credential(id))
        }
    }
}
