//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrite_jose::sign::SigningKey;
use ferrite_jose::{ACCOUNT_KEY_ALGORITHMS, Algorithm};
use serde_json::{Map, Value, json};

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap()
}

/// One generated key per account-key algorithm (RSA generation is slow; keep it to one each).
pub fn all_keys() -> Vec<SigningKey> {
    ACCOUNT_KEY_ALGORITHMS
        .iter()
        .map(|a| SigningKey::generate(*a).unwrap())
        .collect()
}

pub fn key(alg: Algorithm) -> SigningKey {
    SigningKey::generate(alg).unwrap()
}

/// A header like `SigningKey::sign` makes, as a map to edit.
pub fn header(key: &SigningKey) -> Map<String, Value> {
    let v = json!({
        "alg": key.algorithm().name(),
        "jwk": key.public_jwk().to_json(),
        "nonce": "n0nce",
        "url": "https://ca.test/acme/new-account",
    });
    v.as_object().unwrap().clone()
}

/// Decodes the protected header of a flattened JWS value.
pub fn protected_of(jws: &Value) -> Value {
    serde_json::from_slice(&unb64(jws["protected"].as_str().unwrap())).unwrap()
}

/// Replaces the protected header (signature left stale: parse does not verify).
pub fn with_protected(jws: &Value, header: &Value) -> Value {
    let mut out = jws.clone();
    out["protected"] = Value::String(b64(header.to_string().as_bytes()));
    out
}
