//! The admin HTTP API (plain HTTP on `admin_listen`, loopback by default): JSON over the
//! binding model, authenticated with an API credential (`Authorization: Bearer ID:SECRET`).
//! A credential sees and changes only its own customer: anything else is "not found", so
//! nothing leaks about other customers. The credentials of a customer the operator suspended
//! (`ferrite customer suspend`) get 403 `unauthorized` on every route, naming the suspension
//! and whom to contact, once the secret is verified. Every error is a problem document whose
//! detail says what to do.
//!
//! Routes (under `/admin/v1`):
//! - `GET  /credentials`: the customer's API credentials.
//! - `POST /credentials`: a new credential; its `secret` is in this response only.
//! - `POST /credentials/{id}/disable`: disable a credential.
//! - `GET  /mac-keys[?credential_id=ID]`: MAC keys with status (`active`, `customer_suspended`,
//!   `credential_disabled`, `disabled`, `expired`, `exhausted`), expiry, uses left (0 unless
//!   active).
//! - `POST /mac-keys` (`{"credential_id": ID}`, default: the caller's): a new key; its `hmac_key`
//!   is in this response only; the credential's previous key is disabled.
//! - `GET  /accounts[?credential_id=ID]`: the ACME accounts bound to the customer.
//! - `GET  /profiles`: the certificate profiles offered, the default, and those the customer
//!   may order (set by the operator: `ferrite customer set-profiles`).
//! - `GET  /certificates[?domain=&serial=&expiring_days=&status=&limit=&after=]`: the
//!   certificates of the customer's accounts, by serial, a page at a time (`next` in the body
//!   and a `Link: rel="next"` header).
//! - `GET  /certificates/{serial}`: one of them; `/certificates/{serial}/pem`: its chain
//!   (`application/pem-certificate-chain`).
//! - `POST /certificates/{serial}/revoke` (`{"reason": NAME}`): revokes it as `ferrite cert
//!   revoke` does (the same CRL and audit effects); 409 `alreadyRevoked` if it was.
//! - `GET  /validations[?domain=&limit=&after=]`: the customer's domain validations, newest
//!   first, with their reuse expiry and the validator's evidence.
//! - `GET  /openapi.json`: the OpenAPI 3.1 document of these routes (no credential needed).
//!
//! # Layout
//! - `auth`: the bearer credential extractor.
//! - `handlers`: one thin handler per route (parse → `Registry` → JSON).
//! - `certificates`: the certificate and validation routes, their filters and paging.
//! - `openapi`: the OpenAPI 3.1 document (`GET /admin/v1/openapi.json`), built from the
//!   handlers' descriptions and types as the routes are registered.

mod auth;
mod certificates;
mod handlers;
mod openapi;

use axum::Router;
use axum::response::{IntoResponse, Response};
use ferrite_proto::ProblemType;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::problem::ApiError;

/// The path prefix of every admin route.
pub const PREFIX: &str = "/admin/v1";

pub(crate) fn router(state: AppState) -> Router {
    let (routes, doc) = described_routes().split_for_parts();
    openapi::publish(&doc);
    let routes = routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    Router::new().nest(PREFIX, routes)
}

/// Every admin route with its description: `routes!` registers a handler and its
/// `#[utoipa::path]` together, so the document lists exactly what is routed.
fn described_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(
            handlers::list_credentials,
            handlers::create_credential
        ))
        .routes(routes!(handlers::disable_credential))
        .routes(routes!(handlers::list_mac_keys, handlers::create_mac_key))
        .routes(routes!(handlers::list_accounts))
        .routes(routes!(handlers::list_profiles))
        .routes(routes!(certificates::list_certificates))
        .routes(routes!(certificates::show_certificate))
        .routes(routes!(certificates::download_certificate))
        .routes(routes!(certificates::revoke_certificate))
        .routes(routes!(certificates::list_validations))
        .routes(routes!(openapi::serve))
}

/// The admin API's OpenAPI document, as `GET /admin/v1/openapi.json` serves it.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    described_routes().split_for_parts().1
}

async fn not_found() -> Response {
    ApiError::new(
        ProblemType::Malformed,
        "no such admin resource; the admin API has /admin/v1/credentials, /admin/v1/mac-keys, /admin/v1/accounts, /admin/v1/profiles, /admin/v1/certificates (with /{serial}, /{serial}/pem and /{serial}/revoke) and /admin/v1/validations; /admin/v1/openapi.json describes them all",
    )
    .with_status(404)
    .into_response()
}

async fn method_not_allowed() -> Response {
    ApiError::new(
        ProblemType::Malformed,
        "method not allowed on this admin resource: list with GET, create with POST",
    )
    .with_status(405)
    .into_response()
}
