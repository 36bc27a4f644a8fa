//! Verifying an ACME POST (RFC 8555 §6.2–§6.5): content type, size cap, flattened JWS, `url`
//! equal to the request URL, exactly one of `jwk`/`kid`, signature, and nonce — in that order,
//! each failure with its own problem type.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, Uri, header};
use ferrite_core::model::Account;
use ferrite_jose::{JoseError, Jwk, Jws, KeyRef};
use ferrite_proto::ProblemType;

use crate::AppState;
use crate::problem::ApiError;

/// Which key reference a resource accepts (§6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum KeyPolicy {
    /// newAccount: only `jwk` (there is no account yet).
    Jwk,
    /// Every account resource: only `kid`.
    Kid,
    /// revokeCert: `kid` (account) or `jwk` (certificate key).
    Either,
}

/// A verified request.
pub(super) struct Verified {
    pub(super) jws: Jws,
    /// The account, for `kid` requests.
    pub(super) account: Option<Account>,
    /// The key that verified the signature.
    pub(super) key: Jwk,
    /// The request URL as the client signed it.
    pub(super) url: String,
}

impl Verified {
    /// The account of a `kid` request.
    pub(super) fn account(&self) -> Result<&Account, ApiError> {
        self.account.as_ref().ok_or_else(|| {
            ApiError::new(
                ProblemType::Malformed,
                "this request must be signed with the account key and identify it with \"kid\"",
            )
        })
    }

    /// The payload as `T`; `malformed` with serde's explanation if it does not fit.
    pub(super) fn payload<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        if self.jws.payload.is_empty() {
            return Err(ApiError::new(
                ProblemType::Malformed,
                "this request needs a JSON payload, but the JWS payload is empty (POST-as-GET)",
            ));
        }
        Ok(self.jws.payload_json()?)
    }

    /// RFC 8555 §6.3: POST-as-GET has an empty payload.
    pub(super) fn require_post_as_get(&self) -> Result<(), ApiError> {
        if self.jws.payload.is_empty() {
            Ok(())
        } else {
            Err(ApiError::new(
                ProblemType::Malformed,
                "fetch this resource with POST-as-GET: a JWS with an empty payload",
            ))
        }
    }
}

/// Marks which key reference a [`Signed`] request must carry.
pub(super) trait Policy {
    /// The rule.
    const POLICY: KeyPolicy;
}

/// Requests signed by an account, named by `kid`.
pub(super) struct Kid;
impl Policy for Kid {
    const POLICY: KeyPolicy = KeyPolicy::Kid;
}

/// newAccount: signed by the new key, carried in `jwk`.
pub(super) struct NewKey;
impl Policy for NewKey {
    const POLICY: KeyPolicy = KeyPolicy::Jwk;
}

/// revokeCert: by the account (`kid`) or the certificate's key (`jwk`).
pub(super) struct AccountOrCertificateKey;
impl Policy for AccountOrCertificateKey {
    const POLICY: KeyPolicy = KeyPolicy::Either;
}

/// A POST verified by [`verify`] under policy `P`: the extractor every signed ACME handler
/// takes last (it reads the body), so a handler is parse → one engine call → render.
pub(super) struct Signed<P>(pub(super) Verified, pub(super) std::marker::PhantomData<P>);

impl<P: Policy> FromRequest<AppState> for Signed<P> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let verified = verify(state, &parts.uri, &parts.headers, body, P::POLICY).await?;
        Ok(Signed(verified, std::marker::PhantomData))
    }
}

/// A POST-as-GET (RFC 8555 §6.3): a [`Signed`] request by an account with an empty payload.
pub(super) struct PostAsGet(pub(super) Verified);

impl FromRequest<AppState> for PostAsGet {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let Signed(verified, _) = Signed::<Kid>::from_request(req, state).await?;
        verified.require_post_as_get()?;
        Ok(PostAsGet(verified))
    }
}

/// Verifies a POST to `uri`.
async fn verify(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
    policy: KeyPolicy,
) -> Result<Verified, ApiError> {
    // §6.2: "Because client requests in ACME carry JWS objects in the Flattened JSON
    // Serialization, they must have the Content-Type header field set to application/jose+json."
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Media types compare case-insensitively (RFC 9110 §8.3.1); parameters are ignored.
    let media_type = content_type.split(';').next().map_or("", str::trim);
    if !media_type.eq_ignore_ascii_case("application/jose+json") {
        return Err(ApiError::new(
            ProblemType::Malformed,
            format!("Content-Type must be application/jose+json, not {content_type:?}"),
        )
        .with_status(415));
    }
    let limit = state.config.max_body_bytes;
    let body = axum::body::to_bytes(body, limit).await.map_err(|e| {
        if crate::body_guard::is_read_timeout(&e) {
            return ApiError::new(ProblemType::Malformed, e.to_string()).with_status(408);
        }
        ApiError::new(
            ProblemType::Malformed,
            format!("the request body is larger than {limit} bytes or could not be read"),
        )
        .with_status(413)
    })?;
    let jws = Jws::parse(&body)?;

    // §6.4: the "url" header parameter must equal the URL the request was sent to.
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let url = format!("{}{}", state.config.base_url, path);
    match jws.protected.url.as_deref() {
        None => {
            return Err(ApiError::new(
                ProblemType::Malformed,
                "the JWS protected header has no \"url\"; set it to the URL you are posting to",
            ));
        }
        Some(u) if u != url => {
            return Err(ApiError::new(
                ProblemType::Unauthorized,
                format!("the JWS \"url\" {u:?} does not match the request URL {url:?}"),
            ));
        }
        Some(_) => {}
    }

    let (key, account) = match (&jws.protected.key, policy) {
        (KeyRef::Jwk(_), KeyPolicy::Kid) => {
            return Err(ApiError::new(
                ProblemType::Malformed,
                "this request must identify the account with \"kid\" (the account URL), not \"jwk\"",
            ));
        }
        (KeyRef::Kid(_), KeyPolicy::Jwk) => {
            return Err(ApiError::new(
                ProblemType::Malformed,
                "this request must carry the account's public key in \"jwk\", not \"kid\"",
            ));
        }
        (KeyRef::Jwk(jwk), _) => (jwk.clone(), None),
        (KeyRef::Kid(kid), _) => {
            let prefix = state.config.account_url_prefix();
            let id = kid
                .strip_prefix(&prefix)
                .filter(|id| !id.is_empty() && !id.contains('/'))
                .ok_or_else(|| {
                    ApiError::new(
                        ProblemType::AccountDoesNotExist,
                        format!("kid {kid:?} is not an account URL of this CA"),
                    )
                })?;
            crate::request_id::record_account(id);
            // The customer is recorded before the account is judged, so that the refusal of
            // a deactivated account or a suspended customer's names the customer too.
            let account = state
                .ca
                .account_for_request_noting(id, |account| {
                    if let Some(customer) = &account.customer_id {
                        crate::request_id::record_customer(customer);
                    }
                })
                .await?;
            let key = state
                .account_keys
                .get(&account.thumbprint, &account.jwk)
                .map_err(|e| {
                    ApiError::from(ferrite_core::CoreError::Internal(format!(
                        "stored account key does not parse: {e}"
                    )))
                })?;
            (key, Some(account))
        }
    };
    jws.verify(&key)?;

    // §6.5: the nonce is checked last, after the signature, so that only genuine requests
    // consume nonces.
    let nonce = jws.protected.nonce.as_deref().ok_or_else(|| {
        ApiError::new(
            ProblemType::BadNonce,
            "the JWS protected header has no \"nonce\"; get one from newNonce",
        )
    })?;
    state.ca.redeem_nonce(nonce).await?;
    Ok(Verified {
        jws,
        account,
        key,
        url,
    })
}

/// Most parsed account keys kept; when full, all are dropped and the cache fills again.
/// 4096 keys are a few MB at most (RSA-4096 JWKs included).
const ACCOUNT_KEYS: usize = 4096;

/// Parsed account keys by their RFC 7638 thumbprint, which the store keeps beside each
/// account's JWK: only what never changes is kept, a parsed public key by its thumbprint. A
/// thumbprint names one key, and a key change stores the new key's thumbprint, so the cache
/// can never answer with a key the account no longer has; the account itself (its status,
/// which key it has) is read from the store on every request. One per instance
/// ([`crate::AppState`]).
#[derive(Default)]
pub(crate) struct AccountKeys(Mutex<HashMap<String, Jwk>>);

impl AccountKeys {
    /// The account key stored as `jwk` with `thumbprint`, parsed once per key.
    pub(crate) fn get(&self, thumbprint: &str, jwk: &serde_json::Value) -> Result<Jwk, JoseError> {
        if let Some(key) = self.lock().get(thumbprint).cloned() {
            return Ok(key);
        }
        let key = Jwk::from_json(jwk)?;
        let mut keys = self.lock();
        if keys.len() >= ACCOUNT_KEYS {
            keys.clear();
        }
        keys.insert(thumbprint.to_owned(), key.clone());
        Ok(key)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Jwk>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_keys_parse_once_per_thumbprint_and_errors_are_not_kept() {
        let jwk = serde_json::json!({"kty": "EC", "crv": "P-256",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"});
        let parsed = Jwk::from_json(&jwk).unwrap();
        let thumbprint = parsed.thumbprint();
        let keys = AccountKeys::default();
        assert!(keys.get(&thumbprint, &jwk).unwrap() == parsed);
        assert!(keys.lock().contains_key(&thumbprint));
        // Kept: the second call does not parse (a JWK it could not parse still answers).
        assert!(keys.get(&thumbprint, &serde_json::Value::Null).unwrap() == parsed);
        let broken = serde_json::json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"});
        assert!(keys.get("not-kept", &broken).is_err());
        assert!(!keys.lock().contains_key("not-kept"));
        // Another instance's cache is its own.
        assert!(AccountKeys::default().lock().is_empty());
    }
}
