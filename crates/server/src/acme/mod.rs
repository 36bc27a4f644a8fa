//! The ACME routes (RFC 8555 §7). Every response gets a fresh `Replay-Nonce` and
//! `Link: <directory>;rel="index"` (§6.5, §7.1).

mod account;
mod certificate;
pub(crate) mod directory;
mod extract;
mod jws;
mod order;
mod render;
mod renewal;

pub(crate) use jws::AccountKeys;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ferrite_proto::ProblemType;

use crate::AppState;
use crate::problem::ApiError;

/// Paths, relative to the base URL. Kept in one place so rendering and routing agree.
pub(crate) mod paths {
    pub(crate) const DIRECTORY: &str = "/directory";
    pub(crate) const NEW_NONCE: &str = "/acme/new-nonce";
    pub(crate) const NEW_ACCOUNT: &str = "/acme/new-account";
    pub(crate) const NEW_ORDER: &str = "/acme/new-order";
    pub(crate) const REVOKE_CERT: &str = "/acme/revoke-cert";
    pub(crate) const KEY_CHANGE: &str = "/acme/key-change";
    pub(crate) const ACCOUNT: &str = "/acme/acct/";
    pub(crate) const ORDER: &str = "/acme/order/";
    pub(crate) const AUTHZ: &str = "/acme/authz/";
    pub(crate) const CHALLENGE: &str = "/acme/chall/";
    pub(crate) const CERT: &str = "/acme/cert/";
    pub(crate) const ISSUER: &str = "/acme/issuer-cert";
    pub(crate) const RENEWAL_INFO: &str = "/acme/renewal-info";
}

/// The routes and the methods each accepts (docs/architecture.md keeps the same table).
/// Every resource a client fetches answers POST-as-GET (RFC 8555 §6.3); the directory,
/// newNonce, the issuer certificate, renewal information (RFC 9773 §4.1: fetched with GET)
/// and the resources named by unguessable ids (orders, authorizations, challenges,
/// certificates) answer plain GET too, because clients follow `Link` headers with GET. The account and its orders list are private and answer only
/// signed POSTs.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route(
            paths::DIRECTORY,
            get(directory::directory).post(directory::directory_post),
        )
        .route(
            paths::NEW_NONCE,
            get(directory::new_nonce_get)
                .head(directory::new_nonce_head)
                .post(directory::new_nonce_post),
        )
        .route(paths::NEW_ACCOUNT, post(account::new_account))
        .route("/acme/acct/{id}", post(account::account))
        .route("/acme/acct/{id}/orders", post(account::orders))
        .route(paths::KEY_CHANGE, post(account::key_change))
        .route(paths::NEW_ORDER, post(order::new_order))
        .route("/acme/order/{id}", post(order::order).get(order::order_get))
        .route("/acme/order/{id}/finalize", post(order::finalize))
        .route(
            "/acme/authz/{id}",
            post(order::authorization).get(order::authorization_get),
        )
        .route(
            "/acme/chall/{authz}/{id}",
            post(order::challenge).get(order::challenge_get),
        )
        .route(
            "/acme/cert/{serial}",
            post(certificate::certificate).get(certificate::certificate_get),
        )
        .route(
            paths::ISSUER,
            get(certificate::issuer).post(certificate::issuer_post),
        )
        .route(paths::REVOKE_CERT, post(certificate::revoke))
        .route(
            "/acme/renewal-info/{cert_id}",
            get(renewal::renewal_info).post(renewal::renewal_info_post),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            nonce_and_index,
        ))
        .with_state(state)
}

/// RFC 8555 §6.5: "The server MUST include a Replay-Nonce header field in every successful
/// response to a POST request and SHOULD provide it in error responses as well." We add one to
/// every response (GETs included, as Boulder and Pebble do), plus the directory link (§7.1).
async fn nonce_and_index(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    if !response.headers().contains_key("replay-nonce") {
        match state.ca.new_nonce().await {
            Ok(nonce) => {
                if let Ok(v) = HeaderValue::from_str(&nonce) {
                    response.headers_mut().insert("replay-nonce", v);
                }
            }
            Err(e) => tracing::error!(error = %e, "could not create a nonce"),
        }
    }
    let link = format!("<{}>;rel=\"index\"", state.config.directory_url());
    if let Ok(v) = HeaderValue::from_str(&link) {
        response.headers_mut().append("link", v);
    }
    response
}

async fn not_found() -> Response {
    ApiError::new(
        ProblemType::Malformed,
        "no such resource on this ACME server; start from the directory",
    )
    .with_status(404)
    .into_response()
}

/// axum adds the `Allow` header listing the methods the resource accepts.
async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    ApiError::new(
        ProblemType::Malformed,
        format!(
            "{method} is not allowed for {}; the Allow header lists what is. ACME requests are signed POSTs, and resources are fetched with POST-as-GET (RFC 8555 §6.3)",
            uri.path()
        ),
    )
    .with_status(405)
    .into_response()
}
