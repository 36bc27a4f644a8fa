//! A finalize CSR (RFC 8555 §7.4, RFC 2986), parsed as finalize parses it and checked against
//! the default policy. The signature check is skipped on a second pass, so that mutated CSRs
//! (which no longer verify) still reach the reading of names, keys and extensions.
#![no_main]

use std::sync::LazyLock;

use ferrite_fuzz::assert_client_error;
use ferrite_pki::{Csr, CsrPolicy};
use libfuzzer_sys::fuzz_target;

static POLICY: LazyLock<CsrPolicy> = LazyLock::new(CsrPolicy::default);

fn check(csr: &Csr) {
    let mut sorted = csr.names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, csr.names, "names sorted and deduplicated");
    for name in &csr.names {
        assert!(
            name.bytes()
                .all(|b| b.is_ascii() && !b.is_ascii_uppercase()),
            "{name:?}: names are ASCII, lower-cased"
        );
    }
    // The certificate carries these very bytes; the revocation path reads them back.
    let _ = ferrite_jose::Jwk::from_spki_der(&csr.spki_der);
    if let Err(e) = POLICY.check(csr) {
        assert_client_error(e);
    }
}

fuzz_target!(|data: &[u8]| {
    match Csr::parse(data) {
        Ok(csr) => check(&csr),
        Err(e) => assert_client_error(e),
    }
    match ferrite_pki::fuzzing::csr_ignoring_signature(data) {
        Ok(csr) => check(&csr),
        Err(e) => assert_client_error(e),
    }
});
