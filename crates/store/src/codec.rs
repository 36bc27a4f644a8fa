//! Conversions between domain values and column values: timestamps as microseconds, statuses as
//! their RFC 8555 §7.1.6 wire strings, lists and problems as JSON text. Decoding failures are
//! [`StoreError::Corrupt`]: the row was written by something other than this crate.

use ferrite_core::StoreError;
use ferrite_proto::{Identifier, IdentifierType};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

/// Microseconds since the Unix epoch. Every `OffsetDateTime` (years ±9999) fits in an i64;
/// sub-microsecond precision is dropped (floored), the offset becomes UTC.
pub(crate) fn micros(t: OffsetDateTime) -> i64 {
    let us = t.unix_timestamp_nanos().div_euclid(1_000);
    // Cannot fail for the years `time` supports; saturate rather than panic.
    i64::try_from(us).unwrap_or(if us < 0 { i64::MIN } else { i64::MAX })
}

/// The inverse of [`micros`].
pub(crate) fn from_micros(us: i64, column: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000)
        .map_err(|e| StoreError::Corrupt(format!("{column}: timestamp {us} out of range: {e}")))
}

/// [`from_micros`] for a nullable column.
pub(crate) fn from_micros_opt(
    us: Option<i64>,
    column: &str,
) -> Result<Option<OffsetDateTime>, StoreError> {
    us.map(|us| from_micros(us, column)).transpose()
}

/// Serializes a value stored as JSON text.
pub(crate) fn to_json<T: Serialize + ?Sized>(
    value: &T,
    column: &str,
) -> Result<String, StoreError> {
    // Only fails for maps with non-string keys; none of our types have one.
    serde_json::to_string(value)
        .map_err(|e| StoreError::Backend(format!("{column}: cannot encode as JSON: {e}")))
}

/// Parses a JSON text column.
pub(crate) fn from_json<T: DeserializeOwned>(text: &str, column: &str) -> Result<T, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("{column}: invalid JSON: {e}")))
}

/// [`from_json`] for a nullable column.
pub(crate) fn from_json_opt<T: DeserializeOwned>(
    text: Option<&str>,
    column: &str,
) -> Result<Option<T>, StoreError> {
    text.map(|t| from_json(t, column)).transpose()
}

/// Parses a status (or challenge type) column with the enum's own `parse`.
pub(crate) fn parse_wire<T>(
    text: &str,
    column: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    parse(text).ok_or_else(|| StoreError::Corrupt(format!("{column}: unknown value {text:?}")))
}

/// The identifier type as stored (its RFC 8555 §9.7.7 registry name).
pub(crate) fn identifier_type_str(kind: &IdentifierType) -> &str {
    kind.as_str()
}

/// Rebuilds an identifier from its two columns; only types this CA issues for are stored.
pub(crate) fn identifier(kind: &str, value: String) -> Result<Identifier, StoreError> {
    let kind = match IdentifierType::parse(kind) {
        IdentifierType::Other(other) => {
            return Err(StoreError::Corrupt(format!(
                "identifier_type: unknown value {other:?}"
            )));
        }
        kind => kind,
    };
    Ok(Identifier { kind, value })
}

/// A validation result's columns: the challenge's and the authorization's new statuses, the
/// challenge's `validated` time (success) or `error` (failure, JSON).
pub(crate) fn outcome_columns(
    outcome: &Result<OffsetDateTime, ferrite_proto::Problem>,
) -> Result<
    (
        ferrite_proto::ChallengeStatus,
        ferrite_proto::AuthorizationStatus,
        Option<i64>,
        Option<String>,
    ),
    StoreError,
> {
    use ferrite_proto::{AuthorizationStatus, ChallengeStatus};
    Ok(match outcome {
        Ok(at) => (
            ChallengeStatus::Valid,
            AuthorizationStatus::Valid,
            Some(micros(*at)),
            None,
        ),
        Err(problem) => (
            ChallengeStatus::Invalid,
            AuthorizationStatus::Invalid,
            None,
            Some(to_json(problem, "error")?),
        ),
    })
}

/// A certificate's revocation from its two columns, which are both set or both NULL.
pub(crate) fn revocation(
    revoked_at: Option<i64>,
    reason: Option<i64>,
) -> Result<Option<(OffsetDateTime, u8)>, StoreError> {
    match (revoked_at, reason) {
        (Some(at), Some(reason)) => Ok(Some((
            from_micros(at, "certificates.revoked_at")?,
            reason_code(reason)?,
        ))),
        (None, None) => Ok(None),
        _ => Err(StoreError::Corrupt(
            "certificates: revoked_at and revocation_reason disagree".to_owned(),
        )),
    }
}

/// A revocation reason code (RFC 5280 §5.3.1) as stored.
pub(crate) fn reason_code(reason: i64) -> Result<u8, StoreError> {
    u8::try_from(reason)
        .map_err(|_| StoreError::Corrupt(format!("certificates.revocation_reason is {reason}")))
}

/// The stored state of a MAC key that a guarded binding did not count: which rule it fails,
/// the credential first (its fix, a new credential, is the one the customer needs). `Backend`
/// if it fails none (the increment should have matched).
pub(crate) fn binding_refusal(
    kid: &str,
    (suspended, credential, key): (bool, &str, &str),
    (expires_at, used, max): (i64, i64, i64),
    now: OffsetDateTime,
) -> Result<ferrite_core::model::BindingRefusal, StoreError> {
    use ferrite_core::model::{BindingRefusal, CredentialStatus};
    Ok(if suspended {
        BindingRefusal::CustomerSuspended
    } else if credential != CredentialStatus::Active.as_str() {
        BindingRefusal::CredentialDisabled
    } else if key != CredentialStatus::Active.as_str() {
        BindingRefusal::KeyDisabled
    } else if expires_at <= micros(now) {
        BindingRefusal::KeyExpired
    } else if used >= max {
        BindingRefusal::KeyExhausted
    } else {
        return Err(StoreError::Backend(format!(
            "MAC key {kid:?} is usable but could not be counted"
        )));
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn micros_round_trip_and_floor() {
        let t = datetime!(2026-03-15 12:34:56.123_456_789 UTC);
        let back = from_micros(micros(t), "t").unwrap();
        assert_eq!(back, datetime!(2026-03-15 12:34:56.123_456 UTC));
        let before_epoch = datetime!(1969-12-31 23:59:59.999_999_5 UTC);
        assert_eq!(micros(before_epoch), -1);
    }

    #[test]
    fn unknown_wire_value_is_corrupt() {
        let err = parse_wire("bogus", "status", ferrite_proto::OrderStatus::parse).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(m) if m.contains("bogus")));
        assert!(matches!(
            identifier("uri", "x".into()),
            Err(StoreError::Corrupt(_))
        ));
    }
}
