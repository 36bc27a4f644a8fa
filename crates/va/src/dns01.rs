//! dns-01 (RFC 8555 §8.4).

use crate::key_authorization::dns01_txt_value;
use crate::record::{FailureKind, Problem, ValidationRecord};
use crate::va::Inner;

pub(crate) const METHOD: &str = "dns-01";

pub(crate) async fn validate(
    va: &Inner,
    record: &mut ValidationRecord,
    domain: &str,
    key_authorization: &str,
) -> Result<(), Problem> {
    // RFC 8555 §7.1.3: a wildcard's authorization is for the base domain, and
    // §8.4: "The client constructs the validation domain name by prepending
    // the label "_acme-challenge" to the domain name being validated".
    let base = domain.strip_prefix("*.").unwrap_or(domain);
    let base = base.strip_suffix('.').unwrap_or(base);
    let name = format!("_acme-challenge.{base}");

    // RFC 8555 §8.4: "Verify that the contents of one of the TXT records match
    // the digest value" (base64url SHA-256 of the key authorization).
    let expected = dns01_txt_value(key_authorization);
    let values = va.resolve.txt(&name).await?;
    record.dns_answers = values.clone();
    check_txt(&name, &expected, &values)
}

/// RFC 8555 §8.4 on the TXT values found at `name`: one of them, without surrounding
/// whitespace, is `expected`.
pub(crate) fn check_txt(name: &str, expected: &str, values: &[String]) -> Result<(), Problem> {
    if values.iter().any(|v| v.trim() == expected) {
        return Ok(());
    }
    let seen = values
        .iter()
        .take(5)
        .map(|v| format!("{:?}", truncate(v)))
        .collect::<Vec<_>>()
        .join(", ");
    Err(Problem::new(
        FailureKind::IncorrectResponse,
        format!(
            "Incorrect TXT record at {name}: expected {expected:?}, found {seen}; publish the value your ACME client shows (old values may be left in place)"
        ),
    ))
}

fn truncate(v: &str) -> &str {
    match v.char_indices().nth(64) {
        Some((i, _)) => &v[..i],
        None => v,
    }
}
