//! Certificate download (§7.4.2) and revocation (§7.6).

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrite_core::{Reader, RevocationAuth};
use ferrite_proto::ProblemType;
use ferrite_proto::requests::Revocation;

use super::extract::AcmePath;
use super::jws::{KeyPolicy, verify};
use super::render::{Urls, link_up};
use crate::AppState;
use crate::problem::ApiError;

/// §7.4.2: the chain as `application/pem-certificate-chain`, leaf first, with
/// `Link: <issuer>;rel="up"`, fetched with POST-as-GET by the ordering account.
pub(super) async fn certificate(
    State(state): State<AppState>,
    AcmePath(serial): AcmePath<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req = verify(&state, &uri, &headers, body, KeyPolicy::Kid).await?;
    req.require_post_as_get()?;
    let cert = state
        .ca
        .certificate(Reader::Account(req.account()?), &serial)
        .await?;
    Ok(certificate_chain(&state, cert.chain_pem))
}

/// §7.4.2: "the server MAY allow GET requests for certificate resources"; a certificate is
/// public once issued.
pub(super) async fn certificate_get(
    State(state): State<AppState>,
    AcmePath(serial): AcmePath<String>,
) -> Result<Response, ApiError> {
    let cert = state.ca.certificate(Reader::Url, &serial).await?;
    Ok(certificate_chain(&state, cert.chain_pem))
}

fn certificate_chain(state: &AppState, chain_pem: String) -> Response {
    link_up(pem_chain(chain_pem), &Urls(&state.config.base_url).issuer())
}

fn pem_chain(pem: String) -> Response {
    let mut r = (StatusCode::OK, pem).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pem-certificate-chain"),
    );
    r
}

/// The issuing intermediate, PEM: the target of the certificate's `rel="up"` link, which
/// clients follow with POST-as-GET (§7.4.2, §6.3) or with GET.
pub(super) async fn issuer(State(state): State<AppState>) -> Response {
    pem_chain(state.ca.issuer().intermediate_pem().to_owned())
}

/// [`issuer`] by POST-as-GET, verified like any other request (signature, account, URL,
/// nonce).
pub(super) async fn issuer_post(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req = verify(&state, &uri, &headers, body, KeyPolicy::Kid).await?;
    req.require_post_as_get()?;
    Ok(issuer(State(state)).await)
}

/// §7.6 revokeCert, signed by the ordering account (kid) or the certificate key (jwk).
pub(super) async fn revoke(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req = verify(&state, &uri, &headers, body, KeyPolicy::Either).await?;
    let payload: Revocation = req.payload()?;
    let der = URL_SAFE_NO_PAD
        .decode(payload.certificate.as_bytes())
        .map_err(|_| {
            ApiError::new(
                ProblemType::Malformed,
                "the certificate field is not unpadded base64url of a DER certificate",
            )
        })?;
    let auth = match &req.account {
        Some(account) => RevocationAuth::Account(account.clone()),
        None => RevocationAuth::CertificateKey(req.key.clone()),
    };
    state.ca.revoke(&auth, &der, payload.reason).await?;
    Ok(StatusCode::OK.into_response())
}
