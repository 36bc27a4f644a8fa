//! Admin handlers: authenticate (extractor), parse, call the registry scoped to the caller's
//! customer, render JSON.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferrite_core::eab::{AccountView, CredentialView, MacKeyView};
use ferrite_core::model::Scope;
use ferrite_proto::ProblemType;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::openapi::ProblemDocument;
use crate::AppState;
use crate::problem::ApiError;

/// `?credential_id=ID` on listings (`credential` is read as well).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct CredentialFilter {
    /// Only what this API credential (one of the customer's) holds.
    #[serde(alias = "credential")]
    credential_id: Option<String>,
}

/// `POST /mac-keys` body: the credential as listings name it (`credential` is read as well).
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewMacKeyRequest {
    /// The customer's credential the key is for; the caller's when absent.
    #[serde(alias = "credential")]
    credential_id: Option<String>,
}

/// `POST /credentials` response: the credential and its secret, shown once
/// (`NewCredential::to_json_exposing_secret`).
#[derive(Serialize, ToSchema)]
pub(super) struct CreatedCredential {
    #[serde(flatten)]
    credential: CredentialView,
    /// The secret: `Authorization: Bearer ID:SECRET`. Only in this response.
    secret: String,
}

/// `POST /mac-keys` response: the key and its HMAC key, shown once
/// (`NewMacKey::to_json_exposing_key`).
#[derive(Serialize, ToSchema)]
pub(super) struct CreatedMacKey {
    #[serde(flatten)]
    key: MacKeyView,
    /// The HMAC key, base64url without padding. Only in this response.
    hmac_key: String,
}

/// `GET /profiles` response.
#[derive(Serialize, ToSchema)]
pub(super) struct ProfilesView {
    /// Every profile the CA offers: name → description.
    offered: std::collections::BTreeMap<String, String>,
    /// The profile an order without one gets.
    default: String,
    /// The profiles the customer's accounts may order; `null`: all offered.
    allowed: Option<Vec<String>>,
}

/// `GET /credentials`: the customer's API credentials.
#[utoipa::path(get, path = "/credentials", tag = "credentials",
    responses((status = 200, description = "The customer's API credentials", body = Vec<CredentialView>)),
    security(("bearer" = [])))]
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

/// `POST /credentials`: a new credential; its secret is in this response only.
#[utoipa::path(post, path = "/credentials", tag = "credentials",
    responses((status = 201, description = "The new credential with its secret, shown once", body = CreatedCredential)),
    security(("bearer" = [])))]
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

/// `POST /credentials/{id}/disable`.
#[utoipa::path(post, path = "/credentials/{id}/disable", tag = "credentials",
    params(("id" = String, Path, description = "The credential's id")),
    responses((status = 200, description = "The credential, disabled", body = CredentialView), (status = 404, description = "Not one of the customer's", body = ProblemDocument, content_type = "application/problem+json")),
    security(("bearer" = [])))]
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

/// `GET /mac-keys`: the customer's (or one credential's) EAB MAC keys with their status.
#[utoipa::path(get, path = "/mac-keys", tag = "mac-keys",
    params(CredentialFilter),
    responses((status = 200, description = "MAC keys, oldest first", body = Vec<MacKeyView>), (status = 404, description = "Not one of the customer's", body = ProblemDocument, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(super) async fn list_mac_keys(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<CredentialFilter>,
) -> Result<Response, ApiError> {
    let scope = scope(&state, &caller, filter.credential_id).await?;
    let keys = state.ca.eab().mac_keys(&scope).await?;
    Ok(Json(keys).into_response())
}

/// `POST /mac-keys`: a new MAC key for a credential (the caller's without a body); its
/// HMAC key is in this response only.
#[utoipa::path(post, path = "/mac-keys", tag = "mac-keys",
    request_body(content = Option<NewMacKeyRequest>, description = "Empty for the calling credential"),
    responses((status = 201, description = "The new key with its HMAC key, shown once", body = CreatedMacKey), (status = 400, description = "A body or value not accepted", body = ProblemDocument, content_type = "application/problem+json"), (status = 404, description = "Not one of the customer's", body = ProblemDocument, content_type = "application/problem+json")),
    security(("bearer" = [])))]
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

/// `GET /accounts`: the ACME accounts bound through the customer's (or one credential's) keys.
#[utoipa::path(get, path = "/accounts", tag = "accounts",
    params(CredentialFilter),
    responses((status = 200, description = "Accounts, oldest first", body = Vec<AccountView>), (status = 404, description = "Not one of the customer's", body = ProblemDocument, content_type = "application/problem+json")),
    security(("bearer" = [])))]
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
#[utoipa::path(get, path = "/profiles", tag = "profiles",
    responses((status = 200, description = "Profiles offered, the default, those the customer may order", body = ProfilesView)),
    security(("bearer" = [])))]
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
    Ok(Json(ProfilesView {
        offered,
        default: state.ca.config().profiles.default_profile().name.clone(),
        allowed: customer.allowed_profiles,
    })
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
