//! The certificate a customer's TLS server presents for tls-alpn-01 (RFC 8737 §3), checked
//! as the validation checks it.
#![no_main]

use libfuzzer_sys::fuzz_target;

const DOMAIN: &str = "www.example.com";
const KEY_AUTHORIZATION: &str =
    "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";

fuzz_target!(|data: &[u8]| {
    if let Err(detail) = ferrite_va::fuzzing::tlsalpn01(data, DOMAIN, KEY_AUTHORIZATION) {
        assert!(!detail.is_empty());
    }
});
