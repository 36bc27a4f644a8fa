//! The admin HTTP API (plain HTTP on `admin_listen`, loopback by default): JSON over the
//! binding model, authenticated with an API credential (`Authorization: Bearer ID:SECRET`).
//! The caller has one of two roles:
//! - a customer's credential (`ferrite credential create --customer NAME`) sees and changes
//!   only its own customer: anything else is "not found", so nothing leaks about other
//!   customers (a `customer=` naming another customer is 404 too). The credentials of a
//!   customer the operator suspended get 403 `unauthorized` on every route, naming the
//!   suspension and whom to contact, once the secret is verified.
//! - an operator credential (`ferrite credential create --operator`) does what the operator's
//!   commands do, for any customer: `?customer=NAME` names the customer on the customer's
//!   routes (listings without it cover every customer where that makes sense), and the
//!   operator-only routes are open to it (a customer's credential gets 403 `unauthorized`
//!   there). It holds no MAC keys. Each change it makes is recorded in the audit log as
//!   `operator_command`, as the CLI records its commands.
//!
//! Every change goes through the same `core` call as the CLI's command. Every error is a
//! problem document whose detail says what to do.
//!
//! Routes (under `/admin/v1`; `[op]`: operator credential only):
//! - `GET  /credentials`: the customer's API credentials (operator without `customer=`: every
//!   customer's and the operator credentials).
//! - `POST /credentials` (`{"customer": NAME}` or `?customer=` for an operator): a new
//!   credential of the customer; its `secret` is in this response only.
//! - `POST /credentials/{id}/disable` (`{"deactivate_accounts": bool}` optional): disable a
//!   credential, and the accounts bound through its keys if asked.
//! - `GET  /mac-keys[?credential_id=ID]`: MAC keys with status (`active`, `customer_suspended`,
//!   `credential_disabled`, `disabled`, `expired`, `exhausted`), expiry, uses left (0 unless
//!   active).
//! - `POST /mac-keys` (`{"credential_id": ID}`, default: the caller's; an operator names a
//!   customer's credential): a new key; its `hmac_key` is in this response only; the
//!   credential's previous key is disabled.
//! - `POST /mac-keys/{kid}/disable` (`{"deactivate_accounts": bool}` optional): disable a key,
//!   and the accounts bound through it if asked.
//! - `GET  /accounts[?credential_id=ID]`: the ACME accounts bound to the customer.
//! - `POST /accounts/{id}/deactivate`: deactivate an ACME account (RFC 8555 §7.3.6).
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
//! - `GET  /usage`: the customer's rate limits in force, their windows and current use, and
//!   its MAC keys' bindings.
//! - `GET  /requests/{id}`: a refused request from the support trail (a customer: its own).
//! - `[op] GET|POST /customers` (`{"name": NAME}`), `GET /customers/{name}`,
//!   `POST /customers/{name}/suspend` (`{"reason": TEXT}` optional), `POST
//!   /customers/{name}/resume`, `GET /customers/{name}/limits`, `PUT
//!   /customers/{name}/limits/{limit}` (`{"value": N}` or `{"default": true}`), `PUT
//!   /customers/{name}/profiles` (`{"profiles": [...]}` or `{"all": true}`): `ferrite
//!   customer`.
//! - `GET  /openapi.json`: the OpenAPI 3.1 document of these routes (no credential needed).
//!
//! # Layout
//! - `auth`: the bearer credential extractor and the caller's role and scope.
//! - `handlers`: one thin handler per route (parse → `Registry` → JSON) for credentials, MAC
//!   keys, accounts and profiles.
//! - `certificates`: the certificate and validation routes, their filters and paging.
//! - `customers`: the operator's customer routes.
//! - `usage`: usage against limits, and the support trail.
//! - `openapi`: the OpenAPI 3.1 document (`GET /admin/v1/openapi.json`), built from the
//!   handlers' descriptions and types as the routes are registered.

mod auth;
mod certificates;
mod customers;
mod handlers;
mod openapi;
mod usage;

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
        .routes(routes!(handlers::disable_mac_key))
        .routes(routes!(handlers::list_accounts))
        .routes(routes!(handlers::deactivate_account))
        .routes(routes!(handlers::list_profiles))
        .routes(routes!(certificates::list_certificates))
        .routes(routes!(certificates::show_certificate))
        .routes(routes!(certificates::download_certificate))
        .routes(routes!(certificates::revoke_certificate))
        .routes(routes!(certificates::list_validations))
        .routes(routes!(usage::usage))
        .routes(routes!(usage::show_request))
        .routes(routes!(
            customers::list_customers,
            customers::create_customer
        ))
        .routes(routes!(customers::show_customer))
        .routes(routes!(customers::suspend_customer))
        .routes(routes!(customers::resume_customer))
        .routes(routes!(customers::customer_limits))
        .routes(routes!(customers::set_customer_limit))
        .routes(routes!(customers::set_customer_profiles))
        .routes(routes!(openapi::serve))
}

/// The admin API's OpenAPI document, as `GET /admin/v1/openapi.json` serves it.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    described_routes().split_for_parts().1
}

async fn not_found() -> Response {
    ApiError::new(
        ProblemType::Malformed,
        "no such admin resource; the admin API has /admin/v1/credentials (with /{id}/disable), /admin/v1/mac-keys (with /{kid}/disable), /admin/v1/accounts (with /{id}/deactivate), /admin/v1/profiles, /admin/v1/certificates (with /{serial}, /{serial}/pem and /{serial}/revoke), /admin/v1/validations, /admin/v1/usage and /admin/v1/requests/{id}, and for an operator credential /admin/v1/customers (with /{name}, /{name}/suspend, /{name}/resume, /{name}/limits, /{name}/limits/{limit} and /{name}/profiles); /admin/v1/openapi.json describes them all",
    )
    .with_status(404)
    .into_response()
}

async fn method_not_allowed() -> Response {
    ApiError::new(
        ProblemType::Malformed,
        "method not allowed on this admin resource: read with GET, create or act with POST (…/disable, …/suspend), set with PUT (…/limits/{limit}, …/profiles); /admin/v1/openapi.json names each route's methods",
    )
    .with_status(405)
    .into_response()
}
