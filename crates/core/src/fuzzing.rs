//! Entry points for the fuzz targets in `fuzz/`, compiled only with `--cfg fuzzing` (as
//! `cargo fuzz` builds): the checks on untrusted input that are private in a normal build.

use ferrite_jose::Jwk;
use ferrite_proto::Problem;

/// The store-free part of a key change (RFC 8555 §7.3.5): the inner JWS `inner` checked
/// against the outer `url` and the signing account's URL; the new key and the old key.
pub fn key_change(
    inner: &serde_json::Value,
    outer_url: &str,
    account_url: &str,
) -> Result<(Jwk, Jwk), Problem> {
    crate::ca::read_key_change(inner, outer_url, account_url).map_err(|e| e.to_problem())
}

/// The contact check of newAccount and account updates (RFC 8555 §7.3).
pub fn contacts(contact: Vec<String>) -> Result<Vec<String>, Problem> {
    crate::ca::check_contacts(contact).map_err(|e| e.to_problem())
}
