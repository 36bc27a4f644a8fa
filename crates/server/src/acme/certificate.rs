//! Certificate download (§7.4.2) and revocation (§7.6).

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrite_core::{Reader, RevocationAuth};
use ferrite_proto::ProblemType;
use ferrite_proto::requests::Revocation;

use super::extract::AcmePath;
use super::jws::{AccountOrCertificateKey, PostAsGet, Signed};
use crate::AppState;
use crate::problem::ApiError;

/// §7.4.2: the chain as `application/pem-certificate-chain`, leaf first, fetched with
/// POST-as-GET by the ordering account. The chain is complete, so there is no
/// `Link: rel="up"` to the issuer: clients that see one (Caddy, mod_md) fetch it and append
/// the intermediate a second time, and RFC 8555 defines none for this media type (an earlier
/// draft used it for a DER leaf alone). Alternate chains, when there are any, are
/// `rel="alternate"` links.
pub(super) async fn certificate(
    State(state): State<AppState>,
    AcmePath(serial): AcmePath<String>,
    PostAsGet(req): PostAsGet,
) -> Result<Response, ApiError> {
    let cert = state
        .ca
        .certificate(Reader::Account(req.account()?), &serial)
        .await?;
    Ok(pem_chain(cert.chain_pem))
}

/// §7.4.2: "the server MAY allow GET requests for certificate resources"; a certificate is
/// public once issued.
pub(super) async fn certificate_get(
    State(state): State<AppState>,
    AcmePath(serial): AcmePath<String>,
) -> Result<Response, ApiError> {
    let cert = state.ca.certificate(Reader::Url, &serial).await?;
    Ok(pem_chain(cert.chain_pem))
}

fn pem_chain(pem: String) -> Response {
    let mut r = (StatusCode::OK, pem).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pem-certificate-chain"),
    );
    r
}

/// The issuing intermediate, PEM, by GET or POST-as-GET (§6.3), for clients configured with
/// this URL.
pub(super) async fn issuer(State(state): State<AppState>) -> Response {
    pem_chain(state.ca.issuer().certificate_pem().to_owned())
}

/// [`issuer`] by POST-as-GET, verified like any other request (signature, account, URL,
/// nonce).
pub(super) async fn issuer_post(State(state): State<AppState>, _: PostAsGet) -> Response {
    issuer(State(state)).await
}

/// §7.6 revokeCert, signed by the ordering account (kid) or the certificate key (jwk).
pub(super) async fn revoke(
    State(state): State<AppState>,
    Signed(req, _): Signed<AccountOrCertificateKey>,
) -> Result<Response, ApiError> {
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
