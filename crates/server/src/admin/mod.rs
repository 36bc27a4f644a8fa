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
//!
//! # Layout
//! - `auth`: the bearer credential extractor.
//! - `handlers`: one thin handler per route (parse → `Registry` → JSON).
//! - `certificates`: the certificate and validation routes, their filters and paging.

mod auth;
mod certificates;
mod handlers;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ferrite_proto::ProblemType;

use crate::AppState;
use crate::problem::ApiError;

/// The path prefix of every admin route.
pub const PREFIX: &str = "/admin/v1";

pub(crate) fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route(
            "/credentials",
            get(handlers::list_credentials).post(handlers::create_credential),
        )
        .route(
            "/credentials/{id}/disable",
            post(handlers::disable_credential),
        )
        .route(
            "/mac-keys",
            get(handlers::list_mac_keys).post(handlers::create_mac_key),
        )
        .route("/accounts", get(handlers::list_accounts))
        .route("/profiles", get(handlers::list_profiles))
        .route("/certificates", get(certificates::list_certificates))
        .route(
            "/certificates/{serial}",
            get(certificates::show_certificate),
        )
        .route(
            "/certificates/{serial}/pem",
            get(certificates::download_certificate),
        )
        .route(
            "/certificates/{serial}/revoke",
            post(certificates::revoke_certificate),
        )
        .route("/validations", get(certificates::list_validations))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    Router::new().nest(PREFIX, routes)
}

async fn not_found() -> Response {
    ApiError::new(
        ProblemType::Malformed,
        "no such admin resource; the admin API has /admin/v1/credentials, /admin/v1/mac-keys, /admin/v1/accounts, /admin/v1/profiles, /admin/v1/certificates (with /{serial}, /{serial}/pem and /{serial}/revoke) and /admin/v1/validations",
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
