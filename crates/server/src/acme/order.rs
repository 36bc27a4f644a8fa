//! Orders, authorizations and challenges (§7.4, §7.5).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrite_core::Reader;
use ferrite_core::ca::{AuthorizationView, OrderView};
use ferrite_core::model::Challenge;
use ferrite_proto::ProblemType;
use ferrite_proto::requests::{AuthorizationUpdate, Finalize, NewOrder};

use super::extract::AcmePath;
use super::jws::{Kid, PostAsGet, Signed};
use super::render::{self, Urls, json, link_up};
use crate::AppState;
use crate::problem::ApiError;

pub(super) async fn new_order(
    State(state): State<AppState>,
    Signed(req, _): Signed<Kid>,
) -> Result<Response, ApiError> {
    let payload: NewOrder = req.payload()?;
    let view = state.ca.new_order(req.account()?, payload).await?;
    let urls = Urls(&state.config.base_url);
    let location = urls.order(&view.order.id);
    Ok(json(
        StatusCode::CREATED,
        &render::order(&urls, &view),
        Some(&location),
        false,
    ))
}

pub(super) async fn order(
    State(state): State<AppState>,
    AcmePath(id): AcmePath<String>,
    PostAsGet(req): PostAsGet,
) -> Result<Response, ApiError> {
    let view = state.ca.order(Reader::Account(req.account()?), &id).await?;
    Ok(order_response(&state, &view))
}

/// An order by plain GET of its URL (see [`Reader::Url`]).
pub(super) async fn order_get(
    State(state): State<AppState>,
    AcmePath(id): AcmePath<String>,
) -> Result<Response, ApiError> {
    let view = state.ca.order(Reader::Url, &id).await?;
    Ok(order_response(&state, &view))
}

fn order_response(state: &AppState, view: &OrderView) -> Response {
    let urls = Urls(&state.config.base_url);
    json(
        StatusCode::OK,
        &render::order(&urls, view),
        None,
        render::order_needs_poll(view.status),
    )
}

pub(super) async fn finalize(
    State(state): State<AppState>,
    AcmePath(id): AcmePath<String>,
    Signed(req, _): Signed<Kid>,
) -> Result<Response, ApiError> {
    let payload: Finalize = req.payload()?;
    let csr = URL_SAFE_NO_PAD
        .decode(payload.csr.as_bytes())
        .map_err(|_| {
            ApiError::new(
                ProblemType::BadCsr,
                "the csr field is not unpadded base64url of a DER CSR",
            )
        })?;
    let view = state.ca.finalize(req.account()?, &id, &csr).await?;
    let urls = Urls(&state.config.base_url);
    let location = urls.order(&view.order.id);
    Ok(json(
        StatusCode::OK,
        &render::order(&urls, &view),
        Some(&location),
        render::order_needs_poll(view.status),
    ))
}

pub(super) async fn authorization(
    State(state): State<AppState>,
    AcmePath(id): AcmePath<String>,
    Signed(req, _): Signed<Kid>,
) -> Result<Response, ApiError> {
    let account = req.account()?;
    let view = if req.jws.payload.is_empty() {
        state
            .ca
            .authorization(Reader::Account(account), &id)
            .await?
    } else {
        // §7.5.2: {"status": "deactivated"}.
        let update: AuthorizationUpdate = req.payload()?;
        state.ca.update_authorization(account, &id, update).await?
    };
    Ok(authorization_response(&state, &view))
}

/// An authorization by plain GET of its URL, the target of a challenge's `rel="up"` link
/// (see [`Reader::Url`]).
pub(super) async fn authorization_get(
    State(state): State<AppState>,
    AcmePath(id): AcmePath<String>,
) -> Result<Response, ApiError> {
    let view = state.ca.authorization(Reader::Url, &id).await?;
    Ok(authorization_response(&state, &view))
}

fn authorization_response(state: &AppState, view: &AuthorizationView) -> Response {
    let urls = Urls(&state.config.base_url);
    json(
        StatusCode::OK,
        &render::authorization(&urls, view),
        None,
        render::authz_needs_poll(view),
    )
}

/// §7.5.1: POST `{}` to start validation; POST-as-GET to read the challenge.
pub(super) async fn challenge(
    State(state): State<AppState>,
    AcmePath((authz_id, id)): AcmePath<(String, String)>,
    Signed(req, _): Signed<Kid>,
) -> Result<Response, ApiError> {
    let account = req.account()?;
    let (challenge, authz) = if req.jws.payload.is_empty() {
        state
            .ca
            .challenge(Reader::Account(account), &authz_id, &id)
            .await?
    } else {
        let _: serde_json::Map<String, serde_json::Value> = req.payload()?;
        state.ca.respond_challenge(account, &authz_id, &id).await?
    };
    Ok(challenge_response(&state, &challenge, &authz))
}

/// A challenge by plain GET of its URL (see [`Reader::Url`]); never starts a validation.
pub(super) async fn challenge_get(
    State(state): State<AppState>,
    AcmePath((authz_id, id)): AcmePath<(String, String)>,
) -> Result<Response, ApiError> {
    let (challenge, authz) = state.ca.challenge(Reader::Url, &authz_id, &id).await?;
    Ok(challenge_response(&state, &challenge, &authz))
}

/// The challenge with `Link: <authorization>;rel="up"` (§7.5.1), and `Retry-After` while its
/// validation runs.
fn challenge_response(
    state: &AppState,
    challenge: &Challenge,
    authz: &AuthorizationView,
) -> Response {
    let urls = Urls(&state.config.base_url);
    let poll = challenge.status == ferrite_proto::ChallengeStatus::Processing;
    let r = json(
        StatusCode::OK,
        &render::challenge(&urls, challenge),
        None,
        poll,
    );
    link_up(r, &urls.authz(&authz.authorization.id))
}
