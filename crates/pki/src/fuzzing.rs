//! Entry points for the fuzz targets in `fuzz/`, compiled only with `--cfg fuzzing` (as
//! `cargo fuzz` builds): the parsers of untrusted input that are private in a normal build.

use crate::{Csr, CsrError};

/// [`crate::der::certificate_parts`]: a certificate's TBS and signature algorithm (each a whole
/// DER element) and its signature octets.
pub fn certificate_parts(der: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    crate::der::certificate_parts(der).map(|p| (p.tbs, p.signature_algorithm, p.signature))
}

/// [`Csr::parse`] without the signature check: a mutated CSR no longer verifies, and would
/// otherwise never reach the reading of its names and requested extensions.
pub fn csr_ignoring_signature(der: &[u8]) -> Result<Csr, CsrError> {
    Csr::parse_ignoring_signature(der)
}
