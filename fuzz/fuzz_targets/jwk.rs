//! A public JWK (RFC 7517, RFC 7518, RFC 8037), as a request's `jwk` header, a key change's
//! `oldKey` and an EAB payload carry it: parsed, and if accepted, its JSON form, its
//! SubjectPublicKeyInfo and its thumbprint agree.
#![no_main]

use ferrite_fuzz::assert_client_error;
use ferrite_jose::{ACCOUNT_KEY_ALGORITHMS, Jwk};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let key = match Jwk::from_json(&value) {
        Ok(key) => key,
        Err(e) => return assert_client_error(e),
    };
    let json = key.to_json();
    assert_eq!(Jwk::from_json(&json).expect("to_json re-parses"), key);
    let spki = key.to_spki_der();
    assert_eq!(
        Jwk::from_spki_der(&spki).expect("to_spki_der re-parses"),
        key
    );
    let thumbprint = key.thumbprint();
    assert_eq!(thumbprint.len(), 43, "a SHA-256 thumbprint in base64url");
    assert!(
        ACCOUNT_KEY_ALGORITHMS.iter().any(|a| key.supports(*a)),
        "an accepted key that no algorithm can use"
    );
    for alg in ACCOUNT_KEY_ALGORITHMS {
        if let Err(e) = key.verify(*alg, b"signing input", &[0x30; 64]) {
            assert_client_error(e);
        }
    }
});
