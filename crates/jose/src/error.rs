//! The crate's one error type.

use thiserror::Error;

/// Everything that can go wrong while parsing, verifying or producing a JWS.
///
/// Almost every variant is the *client's* fault (it sent a bad request body); the
/// server maps them to RFC 8555 §6.7 problem types:
/// [`Malformed`](JoseError::Malformed) → `malformed`,
/// [`BadSignatureAlgorithm`](JoseError::BadSignatureAlgorithm) → `badSignatureAlgorithm`,
/// [`BadPublicKey`](JoseError::BadPublicKey) → `badPublicKey`,
/// [`BadSignature`](JoseError::BadSignature) and the `Eab*` variants → `malformed` or
/// `unauthorized` as fits. Only [`Crypto`](JoseError::Crypto) is an internal fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum JoseError {
    /// The request body or a JWS inside it is not well-formed: not a JSON object, a member
    /// missing, extra or of the wrong type, base64url that is padded or invalid, a protected
    /// header that is not a JSON object, both or neither of `jwk`/`kid`, a `crit` header, or a
    /// payload that is not the JSON the request needs. Client's fault.
    #[error("malformed JWS: {detail}")]
    Malformed {
        /// What exactly is wrong, written for the client's operator.
        detail: String,
    },

    /// The `alg` header names an algorithm that is unknown, `none`, or not allowed where it
    /// appears (a MAC algorithm on the outer JWS of a request). Also returned by
    /// [`SigningKey::generate`](crate::sign::SigningKey::generate) for a MAC algorithm. Client's
    /// fault.
    #[error(
        "signature algorithm {alg:?} is not accepted; sign with one of ES256, ES384, ES512, RS256, PS256, EdDSA"
    )]
    BadSignatureAlgorithm {
        /// The `alg` value as sent.
        alg: String,
    },

    /// A JWK could not be used as a public key: unknown `kty`/`crv`, private members present,
    /// wrong coordinate length, point not on the curve, RSA modulus outside 2048..=8192 bits,
    /// or an SPKI that does not parse. Client's fault.
    #[error("bad public key: {detail}")]
    BadPublicKey {
        /// What exactly is wrong with the key.
        detail: String,
    },

    /// The key's type does not fit the `alg` (for example an RSA `jwk` with `alg: ES256`, or a
    /// P-384 key with ES256). Client's fault.
    #[error(
        "the JWS alg does not fit the key type (ES256/ES384/ES512 need P-256/P-384/P-521, RS256/PS256 need RSA, EdDSA needs Ed25519)"
    )]
    AlgorithmKeyMismatch,

    /// The signature does not verify with the key. Client's fault (wrong key, or the body was
    /// changed after signing).
    #[error("JWS signature does not verify with the account key")]
    BadSignature,

    /// RFC 8555 §7.3.4: the externalAccountBinding JWS must use a MAC algorithm
    /// (HS256/HS384/HS512) and did not. Client's fault.
    #[error(
        "externalAccountBinding must be signed with HS256, HS384 or HS512 using the EAB MAC key"
    )]
    EabNotMac,

    /// RFC 8555 §7.3.4: the externalAccountBinding protected header must not contain a
    /// `nonce`. Client's fault.
    #[error("externalAccountBinding protected header must not contain a nonce")]
    EabNoncePresent,

    /// RFC 8555 §7.3.4: the externalAccountBinding `url` differs from the outer JWS `url`.
    /// Client's fault.
    #[error("externalAccountBinding url must equal the url of the newAccount request")]
    EabUrlMismatch,

    /// RFC 8555 §7.3.4: the externalAccountBinding payload is not the account key of the outer
    /// JWS. Client's fault.
    #[error("externalAccountBinding payload must be the account's public key (the outer jwk)")]
    EabKeyMismatch,

    /// The externalAccountBinding MAC does not verify with the MAC key registered for its
    /// `kid`. Client's fault (wrong, mistyped or mis-decoded MAC key; the key is base64url).
    #[error(
        "the MAC does not verify with that key id's HMAC key; check that the kid and HMAC key are the pair you were given (the HMAC key is base64url, 43 characters)"
    )]
    EabBadSignature,

    /// The crypto library failed while generating a key or signing. Internal fault; never
    /// caused by request content.
    #[error("crypto operation failed: {detail}")]
    Crypto {
        /// Which operation failed.
        detail: &'static str,
    },
}

impl JoseError {
    /// Shorthand for [`JoseError::Malformed`].
    pub(crate) fn malformed(detail: impl Into<String>) -> Self {
        JoseError::Malformed {
            detail: detail.into(),
        }
    }

    /// Shorthand for [`JoseError::BadPublicKey`].
    pub(crate) fn bad_key(detail: impl Into<String>) -> Self {
        JoseError::BadPublicKey {
            detail: detail.into(),
        }
    }
}
