//! Directory (§7.1.1) and newNonce (§7.2).

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferrite_proto::resources::{Directory, DirectoryMeta};

use super::jws::PostAsGet;
use super::paths;
use crate::AppState;

/// §7.1.1: the directory, by GET: rendered once per instance ([`render`]), since nothing in it
/// changes while the instance runs.
pub(super) async fn directory(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        state.directory.clone(),
    )
        .into_response()
}

/// The directory's JSON: every resource URL under the base URL, and the metadata of the
/// configuration.
pub(crate) fn render(ca: &ferrite_core::Ca, cfg: &crate::ServerConfig) -> bytes::Bytes {
    let base = &cfg.base_url;
    let directory = Directory {
        new_nonce: format!("{base}{}", paths::NEW_NONCE),
        new_account: format!("{base}{}", paths::NEW_ACCOUNT),
        new_order: format!("{base}{}", paths::NEW_ORDER),
        revoke_cert: format!("{base}{}", paths::REVOKE_CERT),
        key_change: format!("{base}{}", paths::KEY_CHANGE),
        // RFC 9773 §3.
        renewal_info: Some(format!("{base}{}", paths::RENEWAL_INFO)),
        meta: DirectoryMeta {
            terms_of_service: cfg.terms_of_service.clone(),
            website: cfg.website.clone(),
            caa_identities: ca.config().caa_identities.clone(),
            external_account_required: ca.config().eab_required,
            // draft-ietf-acme-profiles §3: name → description.
            profiles: ca
                .config()
                .profiles
                .iter()
                .map(|p| (p.name.clone(), p.describe()))
                .collect(),
        },
    };
    serde_json::to_vec(&directory).unwrap_or_default().into()
}

/// §6.3: "The server MUST allow GET requests for the directory and newNonce resources, in
/// addition to POST-as-GET requests for these resources." A POST-as-GET is verified like any
/// other request (signature, account, URL, nonce).
pub(super) async fn directory_post(State(state): State<AppState>, _: PostAsGet) -> Response {
    directory(State(state)).await
}

/// §7.2: HEAD answers 200, GET answers 204, both with `Cache-Control: no-store`; the nonce is
/// added by the router's middleware.
pub(super) async fn new_nonce_head() -> Response {
    no_store(StatusCode::OK)
}

pub(super) async fn new_nonce_get() -> Response {
    no_store(StatusCode::NO_CONTENT)
}

/// newNonce by POST-as-GET (§6.3, §7.2): answered like HEAD, after the request is verified.
pub(super) async fn new_nonce_post(_: PostAsGet) -> Response {
    no_store(StatusCode::OK)
}

fn no_store(status: StatusCode) -> Response {
    let mut r = status.into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
