//! Account resources (§7.3): newAccount, account update/deactivation, orders list, key change.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use ferrite_core::CoreError;
use ferrite_proto::requests::{AccountUpdate, NewAccount};
use ferrite_proto::resources::OrdersList;

use super::extract::{AcmePath, AcmeQuery};
use super::jws::{Kid, NewKey, PostAsGet, Signed};
use super::render::{self, Urls, json};
use crate::AppState;
use crate::problem::ApiError;
use crate::proxy::ClientIp;

pub(super) async fn new_account(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    Signed(req, _): Signed<NewKey>,
) -> Result<Response, ApiError> {
    let payload: NewAccount = req.payload()?;
    let outcome = state
        .ca
        .new_account_from(&req.key, payload, &req.url, client)
        .await?;
    let urls = Urls(&state.config.base_url);
    let location = urls.account(&outcome.account.id);
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json(
        status,
        &render::account(&urls, &outcome.account),
        Some(&location),
        false,
    ))
}

pub(super) async fn account(
    State(state): State<AppState>,
    AcmePath(id): AcmePath<String>,
    Signed(req, _): Signed<Kid>,
) -> Result<Response, ApiError> {
    let update: AccountUpdate = if req.jws.payload.is_empty() {
        AccountUpdate::default()
    } else {
        req.payload()?
    };
    let account = state
        .ca
        .update_account(req.account()?.clone(), &id, update)
        .await?;
    let urls = Urls(&state.config.base_url);
    let location = urls.account(&account.id);
    Ok(json(
        StatusCode::OK,
        &render::account(&urls, &account),
        Some(&location),
        false,
    ))
}

#[derive(serde::Deserialize)]
pub(super) struct Cursor {
    cursor: Option<String>,
}

/// §7.1.2.1: the orders list, paginated with `Link: <next>;rel="next"`.
pub(super) async fn orders(
    State(state): State<AppState>,
    AcmePath(id): AcmePath<String>,
    AcmeQuery(cursor): AcmeQuery<Cursor>,
    PostAsGet(req): PostAsGet,
) -> Result<Response, ApiError> {
    let account = req.account()?;
    let (ids, next) = state
        .ca
        .orders_page(account, &id, cursor.cursor.as_deref())
        .await?;
    let urls = Urls(&state.config.base_url);
    let list = OrdersList {
        orders: ids.iter().map(|id| urls.order(id)).collect(),
    };
    let mut r = json(StatusCode::OK, &list, None, false);
    if let Some(next) = next {
        let link = format!("<{}?cursor={next}>;rel=\"next\"", urls.orders(&account.id));
        if let Ok(v) = axum::http::HeaderValue::from_str(&link) {
            r.headers_mut().append(axum::http::header::LINK, v);
        }
    }
    Ok(r)
}

/// §7.3.5 key rollover: the outer JWS is signed by the old key (kid); its payload is an inner
/// JWS signed by the new key, which the engine checks. A new key that belongs to another
/// account is a 409 with that account's URL in `Location`.
pub(super) async fn key_change(
    State(state): State<AppState>,
    Signed(req, _): Signed<Kid>,
) -> Result<Response, ApiError> {
    let inner: serde_json::Value = req.payload()?;
    let urls = Urls(&state.config.base_url);
    let account = match state.ca.change_key(req.account()?, &req.url, &inner).await {
        Ok(a) => a,
        Err(CoreError::KeyInUse { account_id }) => {
            let location = urls.account(&account_id);
            let mut e = ApiError::from(CoreError::KeyInUse { account_id });
            e.location = Some(location);
            return Err(e);
        }
        Err(e) => return Err(e.into()),
    };
    Ok(json(
        StatusCode::OK,
        &render::account(&urls, &account),
        Some(&urls.account(&account.id)),
        false,
    ))
}
