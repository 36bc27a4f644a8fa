//! Admin handlers for a customer's credentials, MAC keys, accounts and profiles: authenticate
//! (extractor), parse, call the registry scoped to the caller (its customer, or for an
//! operator the customer `customer=` names), render JSON.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferrite_core::eab::{AccountView, CredentialView, MacKeyView};
use ferrite_core::model::Scope;
use ferrite_proto::ProblemType;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::openapi::ProblemDocument;
use crate::AppState;
use crate::problem::ApiError;

/// `?customer=NAME`: an operator credential names the customer a request is for; a
/// customer's credential may name only its own.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct CustomerParam {
    /// The customer (by name) an operator credential acts for; a customer's credential may
    /// leave it out or name its own customer.
    pub(super) customer: Option<String>,
}

/// A query string read as `T`; one that does not decode is a 400 problem document naming the
/// parameters the route takes (axum's own rejection is plain text).
pub(super) struct ProblemQuery<T>(pub(super) T);

impl<T, S> axum::extract::FromRequestParts<S> for ProblemQuery<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(ProblemQuery(value)),
            Err(e) => Err(ApiError::new(
                ProblemType::Malformed,
                format!(
                    "the query string is not accepted ({e}); this route takes customer=NAME (an operator credential's customer), and listings credential_id=ID"
                ),
            )),
        }
    }
}

/// `?credential_id=ID` on listings (`credential` is read as well), and `?customer=NAME`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct CredentialFilter {
    /// Only what this API credential (one of the customer's) holds.
    #[serde(alias = "credential")]
    credential_id: Option<String>,
    /// The customer (by name) an operator credential lists; every customer without it.
    customer: Option<String>,
}

/// `POST /credentials` body (optional): the customer an operator credential creates a
/// credential for (`?customer=NAME` does the same).
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewCredentialRequest {
    /// The customer's name. A customer's credential creates one for its own customer.
    customer: Option<String>,
}

/// `POST /mac-keys` body: the credential as listings name it (`credential` is read as well).
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewMacKeyRequest {
    /// The customer's credential the key is for; the caller's when absent (an operator
    /// credential must name one: MAC keys belong to a customer's credential).
    #[serde(alias = "credential")]
    credential_id: Option<String>,
}

/// `POST /credentials/{id}/disable` and `POST /mac-keys/{kid}/disable` body (optional).
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DisableRequest {
    /// Also deactivate every ACME account bound through the key (or the credential's keys):
    /// a leaked key contained in one step. Default false.
    #[serde(default)]
    deactivate_accounts: bool,
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

/// `POST /credentials/{id}/disable` response.
#[derive(Serialize, ToSchema)]
pub(super) struct DisabledCredential {
    #[serde(flatten)]
    credential: CredentialView,
    /// The accounts this request deactivated; only with `deactivate_accounts`.
    #[serde(skip_serializing_if = "Option::is_none")]
    deactivated_accounts: Option<Vec<AccountView>>,
}

/// `POST /mac-keys/{kid}/disable` response.
#[derive(Serialize, ToSchema)]
pub(super) struct DisabledMacKey {
    #[serde(flatten)]
    key: MacKeyView,
    /// The accounts this request deactivated; only with `deactivate_accounts`.
    #[serde(skip_serializing_if = "Option::is_none")]
    deactivated_accounts: Option<Vec<AccountView>>,
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

/// A JSON body of type `T`, or `T::default()` when the body is empty; a body that does not
/// parse is 400 showing `example`.
pub(super) fn optional_body<T: DeserializeOwned + Default>(
    body: &Bytes,
    example: &str,
) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ProblemType::Malformed,
            format!("the body must be JSON like {example} (or empty): {e}"),
        )
    })
}

/// `GET /credentials`: the customer's API credentials (an operator credential without
/// `customer=`: every customer's, and the operator credentials).
#[utoipa::path(get, path = "/credentials", tag = "credentials",
    params(CustomerParam),
    responses((status = 200, description = "API credentials, oldest first", body = Vec<CredentialView>), (status = 404, description = "No such customer", body = ProblemDocument, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(super) async fn list_credentials(
    State(state): State<AppState>,
    caller: Caller,
    ProblemQuery(param): ProblemQuery<CustomerParam>,
) -> Result<Response, ApiError> {
    let within = caller.within(&state, param.customer.as_deref()).await?;
    let eab = state.ca.eab();
    let mut list = eab.credentials(within.as_deref()).await?;
    if within.is_none() {
        list.extend(eab.operator_credentials().await?);
    }
    Ok(Json(list).into_response())
}

/// `POST /credentials`: a new credential of the customer; its secret is in this response only.
/// An operator credential names the customer (`{"customer": NAME}` or `?customer=NAME`);
/// operator credentials are made only with `ferrite credential create --operator`.
#[utoipa::path(post, path = "/credentials", tag = "credentials",
    params(CustomerParam),
    request_body(content = Option<NewCredentialRequest>, description = "Empty for the caller's customer"),
    responses((status = 201, description = "The new credential with its secret, shown once", body = CreatedCredential), (status = 400, description = "A body not accepted, or no customer named by an operator credential", body = ProblemDocument, content_type = "application/problem+json"), (status = 404, description = "No such customer", body = ProblemDocument, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(super) async fn create_credential(
    State(state): State<AppState>,
    caller: Caller,
    ProblemQuery(param): ProblemQuery<CustomerParam>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: NewCredentialRequest = optional_body(&body, r#"{"customer": "NAME"}"#)?;
    let named = request.customer.or(param.customer);
    let customer = caller.one_customer(&state, named.as_deref()).await?;
    caller.record(&state, "credential create").await;
    let created = state.ca.eab().create_credential(&customer.id).await?;
    Ok((StatusCode::CREATED, Json(created.to_json_exposing_secret())).into_response())
}

/// `POST /credentials/{id}/disable`: its MAC keys bind no more accounts (with
/// `deactivate_accounts`, the accounts bound through them are deactivated too), as `ferrite
/// credential disable` does. An operator credential may disable any credential, an operator
/// credential's included.
#[utoipa::path(post, path = "/credentials/{id}/disable", tag = "credentials",
    params(("id" = String, Path, description = "The credential's id"), CustomerParam),
    request_body(content = Option<DisableRequest>, description = "Empty: accounts stay as they are"),
    responses((status = 200, description = "The credential, disabled", body = DisabledCredential), (status = 400, description = "A body not accepted", body = ProblemDocument, content_type = "application/problem+json"), (status = 404, description = "Not one of the customer's", body = ProblemDocument, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(super) async fn disable_credential(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ProblemQuery(param): ProblemQuery<CustomerParam>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: DisableRequest = optional_body(&body, r#"{"deactivate_accounts": true}"#)?;
    let within = caller.within(&state, param.customer.as_deref()).await?;
    caller.record(&state, "credential disable").await;
    let (credential, deactivated_accounts) = state
        .ca
        .eab()
        .disable_credential_and_accounts(&id, within.as_deref(), request.deactivate_accounts)
        .await?;
    Ok(Json(DisabledCredential {
        credential,
        deactivated_accounts,
    })
    .into_response())
}

/// `GET /mac-keys`: the customer's (or one credential's) EAB MAC keys with their status (an
/// operator credential without `customer=`: every customer's).
#[utoipa::path(get, path = "/mac-keys", tag = "mac-keys",
    params(CredentialFilter),
    responses((status = 200, description = "MAC keys, oldest first", body = Vec<MacKeyView>), (status = 404, description = "Not one of the customer's", body = ProblemDocument, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(super) async fn list_mac_keys(
    State(state): State<AppState>,
    caller: Caller,
    ProblemQuery(filter): ProblemQuery<CredentialFilter>,
) -> Result<Response, ApiError> {
    let scope = scope(&state, &caller, filter).await?;
    let keys = state.ca.eab().mac_keys(&scope).await?;
    Ok(Json(keys).into_response())
}

/// `POST /mac-keys`: a new MAC key for a customer's credential (the caller's without a body);
/// its HMAC key is in this response only. An operator credential names the credential: it
/// holds no MAC keys itself.
#[utoipa::path(post, path = "/mac-keys", tag = "mac-keys",
    params(CustomerParam),
    request_body(content = Option<NewMacKeyRequest>, description = "Empty for the calling credential"),
    responses((status = 201, description = "The new key with its HMAC key, shown once", body = CreatedMacKey), (status = 400, description = "A body or value not accepted, or an operator credential named", body = ProblemDocument, content_type = "application/problem+json"), (status = 404, description = "Not one of the customer's", body = ProblemDocument, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(super) async fn create_mac_key(
    State(state): State<AppState>,
    caller: Caller,
    ProblemQuery(param): ProblemQuery<CustomerParam>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: NewMacKeyRequest = optional_body(&body, r#"{"credential_id": "ID"}"#)?;
    // An operator's own credential (no body) reaches the registry unscoped, which says that
    // MAC keys belong to a customer's credential.
    let (credential, within) = match request.credential_id {
        Some(id) => (id, caller.within(&state, param.customer.as_deref()).await?),
        None if caller.is_operator() => (caller.credential_id().to_owned(), None),
        None => (
            caller.credential_id().to_owned(),
            caller.within(&state, param.customer.as_deref()).await?,
        ),
    };
    caller.record(&state, "mac-key create").await;
    let created = state
        .ca
        .eab()
        .create_mac_key(&credential, within.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(created.to_json_exposing_key())).into_response())
}

/// `POST /mac-keys/{kid}/disable`: the key binds no more accounts (final); with
/// `deactivate_accounts`, the accounts bound through it are deactivated too, as `ferrite
/// mac-key disable` does.
#[utoipa::path(post, path = "/mac-keys/{kid}/disable", tag = "mac-keys",
    params(("kid" = String, Path, description = "The EAB key id"), CustomerParam),
    request_body(content = Option<DisableRequest>, description = "Empty: accounts stay as they are"),
    responses((status = 200, description = "The key, disabled", body = DisabledMacKey), (status = 400, description = "A body not accepted", body = ProblemDocument, content_type = "application/problem+json"), (status = 404, description = "Not one of the customer's", body = ProblemDocument, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(super) async fn disable_mac_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(kid): Path<String>,
    ProblemQuery(param): ProblemQuery<CustomerParam>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: DisableRequest = optional_body(&body, r#"{"deactivate_accounts": true}"#)?;
    let within = caller.within(&state, param.customer.as_deref()).await?;
    caller.record(&state, "mac-key disable").await;
    let (key, deactivated_accounts) = state
        .ca
        .eab()
        .disable_mac_key_and_accounts(&kid, within.as_deref(), request.deactivate_accounts)
        .await?;
    Ok(Json(DisabledMacKey {
        key,
        deactivated_accounts,
    })
    .into_response())
}

/// `GET /accounts`: the ACME accounts bound through the customer's (or one credential's) keys
/// (an operator credential without `customer=`: every customer's).
#[utoipa::path(get, path = "/accounts", tag = "accounts",
    params(CredentialFilter),
    responses((status = 200, description = "Accounts, oldest first", body = Vec<AccountView>), (status = 404, description = "Not one of the customer's", body = ProblemDocument, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(super) async fn list_accounts(
    State(state): State<AppState>,
    caller: Caller,
    ProblemQuery(filter): ProblemQuery<CredentialFilter>,
) -> Result<Response, ApiError> {
    let scope = scope(&state, &caller, filter).await?;
    let accounts = state.ca.eab().accounts(&scope).await?;
    Ok(Json(accounts).into_response())
}

/// `POST /accounts/{id}/deactivate`: the ACME account is deactivated (RFC 8555 §7.3.6: final;
/// every later request it signs gets `unauthorized`), as `ferrite account deactivate` does.
#[utoipa::path(post, path = "/accounts/{id}/deactivate", tag = "accounts",
    params(("id" = String, Path, description = "The account's id (the last part of its URL)"), CustomerParam),
    responses((status = 200, description = "The account, deactivated (or as it was if it was no longer valid)", body = AccountView), (status = 404, description = "Not one of the customer's", body = ProblemDocument, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(super) async fn deactivate_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ProblemQuery(param): ProblemQuery<CustomerParam>,
) -> Result<Response, ApiError> {
    let within = caller.within(&state, param.customer.as_deref()).await?;
    caller.record(&state, "account deactivate").await;
    let account = state
        .ca
        .eab()
        .deactivate_account(&id, within.as_deref())
        .await?;
    Ok(Json(account).into_response())
}

/// `GET /profiles`: the certificate profiles the CA offers (name → description) and those the
/// customer may order (`null`: all offered). The operator sets the latter (`ferrite customer
/// set-profiles`, `PUT /customers/{name}/profiles`); a customer's credential cannot widen its
/// own limit.
#[utoipa::path(get, path = "/profiles", tag = "profiles",
    params(CustomerParam),
    responses((status = 200, description = "Profiles offered, the default, those the customer may order", body = ProfilesView), (status = 400, description = "An operator credential named no customer", body = ProblemDocument, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(super) async fn list_profiles(
    State(state): State<AppState>,
    caller: Caller,
    ProblemQuery(param): ProblemQuery<CustomerParam>,
) -> Result<Response, ApiError> {
    let customer = caller
        .one_customer(&state, param.customer.as_deref())
        .await?;
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

/// What a listing covers: one credential (404 if it is not the customer's), the customer, or
/// for an operator without `customer=`, everything.
async fn scope(
    state: &AppState,
    caller: &Caller,
    filter: CredentialFilter,
) -> Result<Scope, ApiError> {
    let within = caller.within(state, filter.customer.as_deref()).await?;
    match (filter.credential_id, within) {
        (Some(id), within) => {
            state.ca.eab().credential(&id, within.as_deref()).await?;
            Ok(Scope::Credential(id))
        }
        (None, Some(customer)) => Ok(Scope::Customer(customer)),
        (None, None) => Ok(Scope::All),
    }
}
