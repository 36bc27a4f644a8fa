//! A DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7), as a certificate presented for revocation
//! carries the key that may sign the revocation: read into a JWK, and written back to the same
//! key.
#![no_main]

use ferrite_fuzz::assert_client_error;
use ferrite_jose::Jwk;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = match Jwk::from_spki_der(data) {
        Ok(key) => key,
        Err(e) => return assert_client_error(e),
    };
    let der = key.to_spki_der();
    assert_eq!(
        Jwk::from_spki_der(&der).expect("to_spki_der re-parses"),
        key
    );
    assert_eq!(
        Jwk::from_json(&key.to_json()).expect("to_json re-parses"),
        key
    );
});
