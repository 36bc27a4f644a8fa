//! The JWS that carries every ACME POST (RFC 8555 §6.2), and the key-change inner JWS
//! (RFC 8555 §7.3.5).

use serde_json::{Map, Value};

use crate::envelope::{Envelope, optional_string};
use crate::{Algorithm, JoseError, Jwk};

/// Where the verification key comes from (RFC 8555 §6.2: "The JWS Protected Header MUST
/// include ... either "jwk" or "kid"", never both).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyRef {
    /// The key itself (newAccount, revokeCert signed by the certificate key, the key-change
    /// inner JWS).
    Jwk(Jwk),
    /// The account URL; the key is the one stored for that account.
    Kid(String),
}

/// The decoded protected header of a [`Jws`].
#[derive(Clone, Debug)]
pub struct ProtectedHeader {
    /// The signature algorithm; never `none` and never a MAC algorithm.
    pub alg: Algorithm,
    /// `jwk` or `kid`.
    pub key: KeyRef,
    /// RFC 8555 §6.5 anti-replay nonce; required on requests, absent on the key-change inner
    /// JWS. The caller checks presence and redeems it.
    pub nonce: Option<String>,
    /// RFC 8555 §6.4 request URL; the caller checks it equals the URL the request came to.
    pub url: Option<String>,
    /// Every header member as sent, for checks this crate does not make.
    pub raw: Map<String, Value>,
}

/// A parsed flattened JSON serialization JWS (RFC 7515 §7.2.2) whose signature has not yet
/// been verified: call [`Jws::verify`] before trusting anything in it.
#[derive(Clone, Debug)]
pub struct Jws {
    /// The decoded protected header.
    pub protected: ProtectedHeader,
    /// The decoded payload; empty for POST-as-GET (RFC 8555 §6.3).
    pub payload: Vec<u8>,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
}

impl Jws {
    /// Parses a request body.
    ///
    /// Rules enforced (RFC 8555 §6.2, RFC 7515): the body is a JSON object with exactly
    /// `protected`, `payload` and `signature` (an unprotected `header` is an error); each is
    /// base64url without padding; the protected header is a JSON object with a string `alg` and
    /// no `crit`; exactly one of `jwk`/`kid`.
    ///
    /// Errors: [`JoseError::Malformed`] for structure; [`JoseError::BadSignatureAlgorithm`] for
    /// `none`, unknown or MAC algorithms; [`JoseError::BadPublicKey`] for a `jwk` that does not
    /// parse; [`JoseError::AlgorithmKeyMismatch`] for a `jwk` whose type does not fit `alg`.
    pub fn parse(body: &[u8]) -> Result<Jws, JoseError> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| JoseError::malformed(format!("request body is not JSON: {e}")))?;
        Jws::from_value(&v)
    }

    /// Same as [`Jws::parse`], for a JWS that is already JSON (the key-change inner JWS,
    /// RFC 8555 §7.3.5).
    pub fn from_value(v: &Value) -> Result<Jws, JoseError> {
        let env = Envelope::from_value(v)?;
        // RFC 8555 §6.2: "The JWS Protected Header MUST NOT ... use "none" or a Message
        // Authentication Code (MAC) based algorithm".
        let alg = match Algorithm::from_name(&env.alg) {
            Some(a) if !a.is_mac() => a,
            _ => return Err(JoseError::BadSignatureAlgorithm { alg: env.alg }),
        };
        // RFC 8555 §6.2: "The "jwk" and "kid" fields are mutually exclusive. Servers MUST
        // reject requests that contain both."
        let key = match (env.header.get("jwk"), env.header.get("kid")) {
            (Some(_), Some(_)) => {
                return Err(JoseError::malformed(
                    "protected header has both \"jwk\" and \"kid\"; send exactly one",
                ));
            }
            (None, None) => {
                return Err(JoseError::malformed(
                    "protected header has neither \"jwk\" nor \"kid\"; send exactly one",
                ));
            }
            (Some(jwk), None) => {
                let jwk = Jwk::from_json(jwk)?;
                if !jwk.supports(alg) {
                    return Err(JoseError::AlgorithmKeyMismatch);
                }
                KeyRef::Jwk(jwk)
            }
            (None, Some(Value::String(kid))) if !kid.is_empty() => KeyRef::Kid(kid.clone()),
            (None, Some(_)) => {
                return Err(JoseError::malformed(
                    "\"kid\" must be a non-empty string (the account URL)",
                ));
            }
        };
        let nonce = optional_string(&env.header, "nonce")?;
        let url = optional_string(&env.header, "url")?;
        Ok(Jws {
            protected: ProtectedHeader {
                alg,
                key,
                nonce,
                url,
                raw: env.header,
            },
            payload: env.payload,
            signing_input: env.signing_input,
            signature: env.signature,
        })
    }

    /// Verifies the signature with `key`: the `jwk` from the header, or the account's stored
    /// key when the header has a `kid`.
    ///
    /// Errors: [`JoseError::AlgorithmKeyMismatch`] if `key` does not support the header's
    /// `alg`, [`JoseError::BadSignature`] if the signature is wrong.
    pub fn verify(&self, key: &Jwk) -> Result<(), JoseError> {
        key.verify(self.protected.alg, &self.signing_input, &self.signature)
    }

    /// Deserializes the payload as JSON.
    ///
    /// Errors with [`JoseError::Malformed`] carrying serde's message, or saying the payload is
    /// empty (a POST-as-GET where a body was needed).
    pub fn payload_json<T: serde::de::DeserializeOwned>(&self) -> Result<T, JoseError> {
        if self.payload.is_empty() {
            return Err(JoseError::malformed(
                "payload is empty (POST-as-GET) but this request needs a JSON object",
            ));
        }
        serde_json::from_slice(&self.payload)
            .map_err(|e| JoseError::malformed(format!("payload: {e}")))
    }

    /// True for a POST-as-GET request (RFC 8555 §6.3: the payload is the empty string).
    pub fn is_post_as_get(&self) -> bool {
        self.payload.is_empty()
    }

    /// The JWS signing input, `BASE64URL(protected) || '.' || BASE64URL(payload)`.
    pub fn signing_input(&self) -> &[u8] {
        &self.signing_input
    }

    /// The decoded signature.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }
}
