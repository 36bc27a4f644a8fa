//! Account resources (§7.3): newAccount, account update/deactivation, orders list, key change.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use ferrite_jose::{Jws, KeyRef};
use ferrite_proto::ProblemType;
use ferrite_proto::requests::{AccountUpdate, KeyChange, NewAccount};
use ferrite_proto::resources::OrdersList;

use super::extract::{AcmePath, AcmeQuery};
use super::jws::{KeyPolicy, verify};
use super::render::{self, Urls, json};
use crate::AppState;
use crate::problem::ApiError;

pub(super) async fn new_account(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req = verify(&state, &uri, &headers, body, KeyPolicy::Jwk).await?;
    let payload: NewAccount = req.payload()?;
    let outcome = state.ca.new_account(&req.key, payload, &req.url).await?;
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
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req = verify(&state, &uri, &headers, body, KeyPolicy::Kid).await?;
    let account = req.account()?.clone();
    if account.id != id {
        return Err(ApiError::new(
            ProblemType::Unauthorized,
            "the kid does not match the account URL you are posting to",
        ));
    }
    let update: AccountUpdate = if req.jws.payload.is_empty() {
        AccountUpdate::default()
    } else {
        req.payload()?
    };
    let account = state.ca.update_account(account, update).await?;
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
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req = verify(&state, &uri, &headers, body, KeyPolicy::Kid).await?;
    req.require_post_as_get()?;
    let account = req.account()?;
    if account.id != id {
        return Err(ApiError::new(
            ProblemType::Unauthorized,
            "an account can only list its own orders",
        ));
    }
    let (ids, next) = state
        .ca
        .orders_page(account, cursor.cursor.as_deref())
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
/// JWS signed by the new key (jwk) whose payload names the account and the old key.
pub(super) async fn key_change(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req = verify(&state, &uri, &headers, body, KeyPolicy::Kid).await?;
    let account = req.account()?.clone();
    let inner_value: serde_json::Value = req.payload()?;
    let inner = Jws::from_value(&inner_value)?;
    // §7.3.5: "The inner JWS MUST have a 'jwk' header parameter containing the public key of
    // the new key pair."
    let KeyRef::Jwk(new_key) = &inner.protected.key else {
        return Err(ApiError::new(
            ProblemType::Malformed,
            "the inner JWS of a key change must carry the new key in \"jwk\"",
        ));
    };
    // "The inner JWS MUST have the same 'url' header parameter as the outer JWS."
    if inner.protected.url.as_deref() != Some(req.url.as_str()) {
        return Err(ApiError::new(
            ProblemType::Malformed,
            "the inner JWS \"url\" must equal the outer JWS \"url\" (the keyChange URL)",
        ));
    }
    // "The inner JWS MUST omit the 'nonce' header parameter."
    if inner.protected.nonce.is_some() {
        return Err(ApiError::new(
            ProblemType::Malformed,
            "the inner JWS of a key change must not have a \"nonce\"",
        ));
    }
    inner.verify(new_key)?;
    let change: KeyChange = inner.payload_json()?;
    let urls = Urls(&state.config.base_url);
    let account_url = urls.account(&account.id);
    if change.account != account_url {
        return Err(ApiError::new(
            ProblemType::Malformed,
            "the key change's \"account\" must be the URL of the account signing the outer JWS",
        ));
    }
    let old_key = ferrite_jose::Jwk::from_json(&change.old_key)?;
    let account = match state.ca.change_key(&account, &old_key, new_key).await {
        Ok(a) => a,
        Err(ferrite_core::CoreError::KeyInUse { account_id }) => {
            let mut e = ApiError::from(ferrite_core::CoreError::KeyInUse {
                account_id: account_id.clone(),
            });
            e.location = Some(urls.account(&account_id));
            return Err(e);
        }
        Err(e) => return Err(e.into()),
    };
    Ok(json(
        StatusCode::OK,
        &render::account(&urls, &account),
        Some(&account_url),
        false,
    ))
}
