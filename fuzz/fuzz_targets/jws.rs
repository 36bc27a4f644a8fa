//! An ACME request body (RFC 8555 §6.2): the flattened JWS every POST carries, parsed as the
//! ACME listener parses it, and verified with its own `jwk` when it has one.
#![no_main]

use ferrite_fuzz::{assert_client_error, assert_client_problem};
use ferrite_jose::{Jwk, Jws, KeyRef};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let jws = match Jws::parse(data) {
        Ok(jws) => jws,
        Err(e) => return assert_client_error(e),
    };
    if let KeyRef::Jwk(key) = &jws.protected.key {
        assert!(
            key.supports(jws.protected.alg),
            "a jwk that does not fit alg"
        );
        let again = Jwk::from_json(&key.to_json()).expect("a parsed jwk re-parses");
        assert_eq!(&again, key);
        assert_eq!(again.thumbprint(), key.thumbprint());
        if let Err(e) = jws.verify(key) {
            assert_client_error(e);
        }
    }
    assert_eq!(jws.is_post_as_get(), jws.payload.is_empty());
    let signing_input = jws.signing_input();
    assert!(signing_input.contains(&b'.'));
    if let Err(e) = jws.payload_json::<serde_json::Value>() {
        assert_client_problem(&ferrite_core::CoreError::from(e).to_problem());
    }
});
