//! External account binding (RFC 8555 §7.3.4): the MAC-signed inner JWS in a newAccount
//! payload that ties the new ACME account to a key the CA handed out.

use aws_lc_rs::hmac;
use serde_json::Value;

use crate::envelope::{Envelope, optional_string};
use crate::{Algorithm, JoseError, Jwk};

/// A parsed `externalAccountBinding` whose MAC has not been checked yet.
///
/// RFC 8555 §7.3.4: a flattened JWS whose protected header has `alg` (a MAC algorithm),
/// `kid` (the key identifier from the CA) and `url` (the newAccount URL), no `nonce`, and whose
/// payload is the account's public key.
#[derive(Clone, Debug)]
pub struct ExternalAccountBinding {
    /// The EAB key identifier the CA gave the customer; the caller looks up the MAC key by it.
    pub kid: String,
    /// HS256, HS384 or HS512.
    pub alg: Algorithm,
    /// Must equal the outer JWS `url`; checked by [`ExternalAccountBinding::verify`].
    pub url: String,
    payload: Vec<u8>,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
}

impl ExternalAccountBinding {
    /// Parses the `externalAccountBinding` member of a newAccount payload.
    ///
    /// Errors: [`JoseError::Malformed`] for structure (see [`crate::Jws::parse`]; also a
    /// missing or non-string `kid`/`url`, or a `jwk` in the header),
    /// [`JoseError::EabNotMac`] when `alg` is not HS256/HS384/HS512,
    /// [`JoseError::EabNoncePresent`] when the header has a `nonce`.
    pub fn parse(v: &Value) -> Result<Self, JoseError> {
        let env = Envelope::from_value(v)?;
        // RFC 8555 §7.3.4: "The JWS MUST use a MAC algorithm" (HS256 at least, RFC 7518 §3.2
        // adds HS384/HS512).
        let alg = match Algorithm::from_name(&env.alg) {
            Some(a) if a.is_mac() => a,
            _ => return Err(JoseError::EabNotMac),
        };
        // RFC 8555 §7.3.4: "The JWS Protected Header MUST NOT contain a "nonce" field."
        if env.header.contains_key("nonce") {
            return Err(JoseError::EabNoncePresent);
        }
        if env.header.contains_key("jwk") {
            return Err(JoseError::malformed(
                "externalAccountBinding protected header must carry \"kid\" (the EAB key id), not \"jwk\"",
            ));
        }
        // RFC 8555 §7.3.4: "The JWS Protected Header MUST contain ... "kid" (Key ID) ... the
        // key identifier provided by the CA" and "url" (the newAccount URL).
        let kid = optional_string(&env.header, "kid")?
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                JoseError::malformed(
                    "externalAccountBinding protected header needs \"kid\": the EAB key id from the CA",
                )
            })?;
        let url = optional_string(&env.header, "url")?.ok_or_else(|| {
            JoseError::malformed("externalAccountBinding protected header needs \"url\"")
        })?;
        Ok(ExternalAccountBinding {
            kid,
            alg,
            url,
            payload: env.payload,
            signing_input: env.signing_input,
            signature: env.signature,
        })
    }

    /// Checks the RFC 8555 §7.3.4 rules against the outer newAccount JWS and the MAC key
    /// registered for [`kid`](Self::kid), each with its own error:
    /// [`JoseError::EabUrlMismatch`] (inner `url` ≠ `outer_url`),
    /// [`JoseError::EabKeyMismatch`] (payload is not a JWK equal to `outer_jwk`),
    /// [`JoseError::EabBadSignature`] (the MAC does not verify; compared in constant time).
    pub fn verify(
        &self,
        outer_url: &str,
        outer_jwk: &Jwk,
        mac_key: &[u8],
    ) -> Result<(), JoseError> {
        // RFC 8555 §7.3.4: "The "url" field MUST be set to the same value as the outer JWS."
        if self.url != outer_url {
            return Err(JoseError::EabUrlMismatch);
        }
        // RFC 8555 §7.3.4: "The "payload" field of the JWS MUST contain the public key of the
        // account (i.e., the same as the "jwk" field of the outer JWS)" — compared as keys, so
        // member order and optional members do not matter.
        let inner = serde_json::from_slice::<Value>(&self.payload)
            .ok()
            .and_then(|v| Jwk::from_json(&v).ok());
        if inner.as_ref() != Some(outer_jwk) {
            return Err(JoseError::EabKeyMismatch);
        }
        // RFC 8555 §7.3.4: "verify the MAC on the JWS using the MAC key" — hmac::verify
        // compares in constant time.
        let algorithm = self.alg.hmac().ok_or(JoseError::EabNotMac)?;
        hmac::verify(
            &hmac::Key::new(algorithm, mac_key),
            &self.signing_input,
            &self.signature,
        )
        .map_err(|_| JoseError::EabBadSignature)
    }
}
