//! Issued certificates as people name them, read the same way by `ferrite cert` and the
//! admin API: a serial as `openssl x509 -noout -serial` prints it, a name filter (one exact
//! name, or every name under a domain), the status a certificate has at a given time, and its
//! issuer as a readable name.

use ferrite_proto::ProblemType;
use time::OffsetDateTime;

use crate::CoreError;
use crate::model::{Certificate, CertificateQuery, DomainValidationQuery};

/// Reads a serial as `openssl x509 -noout -serial` prints it, or as Ferrite stores it: hex,
/// case and colons ignored, leading zero octets dropped. Returns it as stored (lower-case
/// hex, whole octets); anything else is `malformed` saying what a serial looks like.
pub fn parse_serial(text: &str) -> Result<String, CoreError> {
    let hex = typed_hex(text);
    if hex.is_empty() || hex.len() > 42 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(CoreError::problem(
            ProblemType::Malformed,
            format!(
                "{text:?} is not a hexadecimal serial number such as 5E:2B:…:01 or 5e2b…01 (as `openssl x509 -noout -serial` prints it)"
            ),
        ));
    }
    // Whole octets, as the store keeps them: an odd digit count gets its leading zero back,
    // then zero octets (a DER sign octet, or an operator's padding) are dropped.
    let mut octets = if hex.len() % 2 == 1 {
        format!("0{hex}")
    } else {
        hex
    };
    while octets.len() > 2 && octets.starts_with("00") {
        octets.drain(..2);
    }
    Ok(octets)
}

/// Hex as a person types or pastes it (`5E:2B:…`, surrounding spaces): trimmed, colons
/// dropped, lower-cased. The caller checks the digits.
pub(crate) fn typed_hex(text: &str) -> String {
    text.trim()
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Which names a listing selects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameFilter {
    /// Exactly this name, as issued (`*.` included for a wildcard).
    Exact(String),
    /// Every name ending in this, which begins with a dot: `.example.com` selects
    /// `www.example.com` and `*.example.com`, not `example.com` or `badexample.com`.
    Suffix(String),
}

impl NameFilter {
    /// Reads a filter: a DNS name (`www.example.com`, `*.example.com`) selects that name; one
    /// with a leading dot (`.example.com`) every name under it. Case is ignored. Anything
    /// else is `malformed` saying which forms are accepted.
    pub fn parse(text: &str) -> Result<NameFilter, CoreError> {
        let name = text.trim().to_ascii_lowercase();
        let (suffix, rest) = match name.strip_prefix('.') {
            Some(rest) => (true, rest),
            None => (false, name.strip_prefix("*.").unwrap_or(&name)),
        };
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if rest.is_empty() || name.len() > 253 || !rest.split('.').all(label_ok) {
            return Err(CoreError::problem(
                ProblemType::Malformed,
                format!(
                    "{text:?} is not a name filter: give a DNS name (www.example.com, or *.example.com for a wildcard) to select that name, or one with a leading dot (.example.com) to select every name under it"
                ),
            ));
        }
        Ok(if suffix {
            NameFilter::Suffix(name)
        } else {
            NameFilter::Exact(name)
        })
    }

    /// Sets the query's name condition to this filter.
    pub fn apply(self, query: &mut CertificateQuery) {
        match self {
            NameFilter::Exact(name) => query.domain = Some(name),
            NameFilter::Suffix(suffix) => query.domain_suffix = Some(suffix),
        }
    }

    /// Sets a domain validation query's name condition to this filter.
    pub fn apply_to_validations(self, query: &mut DomainValidationQuery) {
        match self {
            NameFilter::Exact(name) => query.domain = Some(name),
            NameFilter::Suffix(suffix) => query.domain_suffix = Some(suffix),
        }
    }
}

/// What a certificate is at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertificateStatus {
    /// Not revoked, and its notAfter not yet passed.
    Valid,
    /// Revoked (whether or not it has expired since).
    Revoked,
    /// Not revoked, and past its notAfter.
    Expired,
}

impl CertificateStatus {
    /// Every status, in the order a listing names them.
    pub const ALL: [CertificateStatus; 3] = [
        CertificateStatus::Valid,
        CertificateStatus::Revoked,
        CertificateStatus::Expired,
    ];

    /// The status of `cert` at `now`.
    pub fn of(cert: &Certificate, now: OffsetDateTime) -> CertificateStatus {
        match cert.revoked {
            Some(_) => CertificateStatus::Revoked,
            None if cert.not_after < now => CertificateStatus::Expired,
            None => CertificateStatus::Valid,
        }
    }

    /// Its name: `valid`, `revoked` or `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateStatus::Valid => "valid",
            CertificateStatus::Revoked => "revoked",
            CertificateStatus::Expired => "expired",
        }
    }

    /// Reads a status by name; anything else is `malformed` listing the names.
    pub fn parse(text: &str) -> Result<CertificateStatus, CoreError> {
        CertificateStatus::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                CoreError::problem(
                    ProblemType::Malformed,
                    format!("{text:?} is not a certificate status: give valid, revoked or expired"),
                )
            })
    }

    /// Narrows `query` to certificates with this status at `now`.
    pub fn apply(self, query: &mut CertificateQuery, now: OffsetDateTime) {
        match self {
            CertificateStatus::Revoked => query.revoked = Some(true),
            CertificateStatus::Valid => {
                query.revoked = Some(false);
                query.not_after_from = Some(query.not_after_from.map_or(now, |t| t.max(now)));
            }
            CertificateStatus::Expired => {
                query.revoked = Some(false);
                // Stored times have microsecond precision: notAfter < now.
                let before = now - time::Duration::microseconds(1);
                query.not_after_until =
                    Some(query.not_after_until.map_or(before, |t| t.min(before)));
            }
        }
    }
}

/// The issuer of a DER certificate as an RFC 4514 string (`CN=Ferrite Intermediate, O=…`),
/// or `None` if the DER does not parse.
pub fn issuer_name(der: &[u8]) -> Option<String> {
    ferrite_pki::parse_certificate(der).ok().map(|c| c.issuer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_read_as_openssl_prints_them() {
        assert_eq!(parse_serial("5E:2B:0A").unwrap(), "5e2b0a");
        assert_eq!(parse_serial("005e2b0a").unwrap(), "5e2b0a");
        // A first octet below 0x10 keeps its zero digit: 0B56… is stored as "0b56…".
        assert_eq!(parse_serial("0B:56:A7").unwrap(), "0b56a7");
        assert_eq!(parse_serial("b56a7").unwrap(), "0b56a7");
        assert_eq!(parse_serial("00").unwrap(), "00");
        for bad in ["xyz", "", "12 34", &"a".repeat(43)] {
            let p = parse_serial(bad).unwrap_err().to_problem();
            assert_eq!(p.kind, ProblemType::Malformed);
            assert!(p.detail.contains("hexadecimal"), "{}", p.detail);
        }
    }

    #[test]
    fn name_filters_are_exact_or_a_dotted_suffix() {
        assert_eq!(
            NameFilter::parse("WWW.Example.com").unwrap(),
            NameFilter::Exact("www.example.com".into())
        );
        assert_eq!(
            NameFilter::parse("*.example.com").unwrap(),
            NameFilter::Exact("*.example.com".into())
        );
        assert_eq!(
            NameFilter::parse(".example.com").unwrap(),
            NameFilter::Suffix(".example.com".into())
        );
        for bad in [
            "",
            ".",
            "*.",
            "a..b",
            "a b.com",
            "%.com",
            "..example.com",
            "*.*.a",
        ] {
            let p = NameFilter::parse(bad).unwrap_err().to_problem();
            assert!(p.detail.contains("leading dot"), "{bad:?}: {}", p.detail);
        }
    }

    #[test]
    fn statuses_narrow_a_query() {
        let now = time::macros::datetime!(2026-04-01 12:00 UTC);
        let mut q = CertificateQuery::default();
        CertificateStatus::parse("Expired")
            .unwrap()
            .apply(&mut q, now);
        assert_eq!(q.revoked, Some(false));
        assert!(q.not_after_until.unwrap() < now);
        let mut q = CertificateQuery::default();
        CertificateStatus::Valid.apply(&mut q, now);
        assert_eq!(q.not_after_from, Some(now));
        let p = CertificateStatus::parse("gone").unwrap_err().to_problem();
        assert!(
            p.detail.contains("valid, revoked or expired"),
            "{}",
            p.detail
        );
    }
}

/// One domain validation a certificate was issued on: an authorization of its order, the
/// challenge that made it valid, and the earlier validation it reused, if it did (RFC 8555
/// §7.1.4; Baseline Requirements §4.2.1).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct UsedValidation {
    /// The name authorized (`*.` for a wildcard).
    pub name: String,
    /// The method (`http-01`, `dns-01`, `tls-alpn-01`).
    pub method: String,
    /// When the name was validated.
    #[serde(with = "time::serde::rfc3339")]
    pub validated_at: OffsetDateTime,
    /// The order's authorization.
    pub authorization: String,
    /// The validation reused instead of a new one: its id, the domain it validated (a parent
    /// for dns-01) and the account that validated it.
    pub reused: Option<ReusedValidation>,
}

/// The earlier validation an authorization reused.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReusedValidation {
    /// The domain validation's id.
    pub id: String,
    /// The domain it validated.
    pub domain: String,
    /// The account that validated it.
    pub account: String,
}

/// The validations `cert` was issued on, in its order's authorization order: for each
/// authorization, its valid challenge and what it reused. An authorization that is gone or has
/// no valid challenge (which issuance never leaves) is left out.
pub async fn validations_used(
    store: &dyn crate::Store,
    cert: &Certificate,
) -> Result<Vec<UsedValidation>, CoreError> {
    let Some(order) = store.order(&cert.order_id).await? else {
        return Ok(Vec::new());
    };
    let mut authorizations = store.authorizations(&order.authorization_ids).await?;
    authorizations.sort_by_key(|a| {
        order
            .authorization_ids
            .iter()
            .position(|id| *id == a.id)
            .unwrap_or(usize::MAX)
    });
    Ok(authorizations
        .into_iter()
        .filter_map(|authz| {
            let challenge = authz
                .challenges
                .iter()
                .find(|c| c.status == ferrite_proto::ChallengeStatus::Valid)?;
            let reused = challenge
                .record
                .as_ref()
                .and_then(|r| r.get("reusedValidation"))
                .and_then(|v| {
                    Some(ReusedValidation {
                        id: v.get("id")?.as_str()?.to_owned(),
                        domain: v.get("domain")?.as_str()?.to_owned(),
                        account: v.get("account")?.as_str()?.to_owned(),
                    })
                });
            let prefix = if authz.wildcard { "*." } else { "" };
            Some(UsedValidation {
                name: format!("{prefix}{}", authz.identifier.value),
                method: challenge.kind.as_str().to_owned(),
                validated_at: challenge.validated?,
                authorization: authz.id.clone(),
                reused,
            })
        })
        .collect())
}
