//! A newAccount's `externalAccountBinding` (RFC 8555 §7.3.4): parsed, then checked against an
//! outer JWS's URL and key and a MAC key as newAccount checks it.
#![no_main]

use std::sync::LazyLock;

use ferrite_fuzz::assert_client_error;
use ferrite_jose::Jwk;
use ferrite_jose::eab::ExternalAccountBinding;
use libfuzzer_sys::fuzz_target;

const URL: &str = "https://ca.example/acme/new-account";
const MAC_KEY: &[u8] = b"a MAC key of thirty-two bytes...";

/// The outer JWS's key: a P-256 key from RFC 7515 appendix A.3.
static OUTER_JWK: LazyLock<Jwk> = LazyLock::new(|| {
    Jwk::from_json(&serde_json::json!({
        "kty": "EC",
        "crv": "P-256",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
    }))
    .expect("the RFC 7515 key parses")
});

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let eab = match ExternalAccountBinding::parse(&value) {
        Ok(eab) => eab,
        Err(e) => return assert_client_error(e),
    };
    assert!(!eab.kid.is_empty());
    assert!(eab.alg.is_mac());
    match eab.verify(URL, &OUTER_JWK, MAC_KEY) {
        Ok(()) => assert_eq!(eab.url, URL),
        Err(e) => assert_client_error(e),
    }
});
