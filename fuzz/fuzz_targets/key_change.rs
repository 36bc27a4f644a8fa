//! A key change's inner JWS (RFC 8555 §7.3.5), checked as the engine checks it before it
//! looks at the store: the new key in `jwk`, the outer `url`, no `nonce`, its signature, and a
//! payload naming the signing account and the old key.
#![no_main]

use ferrite_fuzz::assert_client_problem;
use libfuzzer_sys::fuzz_target;

const URL: &str = "https://ca.example/acme/key-change";
const ACCOUNT: &str = "https://ca.example/acme/account/1";

fuzz_target!(|data: &[u8]| {
    let Ok(inner) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    match ferrite_core::fuzzing::key_change(&inner, URL, ACCOUNT) {
        Ok((new_key, old_key)) => {
            let _ = (new_key.thumbprint(), old_key.thumbprint());
        }
        Err(problem) => assert_client_problem(&problem),
    }
});
