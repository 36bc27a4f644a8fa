//! Lint before sign (Boulder's way): the to-be-signed certificate is first wrapped with a
//! placeholder signature (`issuer::LintKey`, which no verifier accepts), parsed with
//! x509-parser and compared field by field with the profile and the request. Only if every
//! check passes is the same TBS signed with the CA key.

use std::collections::BTreeSet;
use std::net::IpAddr;

use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::x509::X509Version;

use crate::der;
use crate::{IssuerUrls, KeyKind, PkiError};

/// The longest subscriber certificate validity this CA signs on any date: 200 days (Baseline
/// Requirements §6.3.2 from 2026-03-15; shorter from 2027-03-15, see
/// [`max_leaf_validity`](crate::max_leaf_validity), which the lint applies). Validity counts
/// both ends, so `not_after - not_before + 1s`.
pub const MAX_LEAF_VALIDITY: Duration = Duration::days(200);

const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";

/// What the lint knows about the issuing intermediate.
#[derive(Debug, Clone)]
pub(crate) struct IssuerFacts {
    /// The intermediate's DER subject: the leaf's issuer must be these exact bytes.
    pub(crate) subject_der: Vec<u8>,
    /// The intermediate's subjectKeyIdentifier: the leaf's AKI keyIdentifier.
    pub(crate) key_id: Vec<u8>,
    pub(crate) not_before: OffsetDateTime,
    pub(crate) not_after: OffsetDateTime,
}

/// What the certificate must say.
pub(crate) struct Expected<'a> {
    pub(crate) serial: &'a [u8],
    pub(crate) dns_names: &'a [String],
    pub(crate) ips: &'a [IpAddr],
    pub(crate) spki_der: &'a [u8],
    pub(crate) not_before: OffsetDateTime,
    pub(crate) not_after: OffsetDateTime,
    pub(crate) max_validity: Duration,
    /// Allow single-label names such as `localhost` (only the ACME listener's certificate).
    pub(crate) allow_single_label: bool,
    pub(crate) urls: &'a IssuerUrls,
    pub(crate) issuer: &'a IssuerFacts,
}

fn fail(check: &'static str, detail: impl Into<String>) -> PkiError {
    PkiError::Lint {
        check,
        detail: detail.into(),
    }
}

fn ensure(ok: bool, check: &'static str, detail: impl FnOnce() -> String) -> Result<(), PkiError> {
    if ok {
        Ok(())
    } else {
        Err(fail(check, detail()))
    }
}

/// The public keys the Baseline Requirements §6.1.5 and the Mozilla policy let us certify.
pub(crate) fn check_key(key: &KeyKind) -> Result<(), PkiError> {
    let reason = match key {
        KeyKind::EcP256 | KeyKind::EcP384 => return Ok(()),
        KeyKind::Rsa {
            bits,
            exponent_is_65537: true,
        } if (2048..=8192).contains(bits) && bits % 8 == 0 => return Ok(()),
        KeyKind::Rsa { .. } => format!("{key} is outside RSA 2048..=8192 bits, e=65537"),
        other => format!("{other} keys are not certified"),
    };
    Err(PkiError::UnsupportedPublicKey { reason })
}

/// A preferred-syntax DNS name (RFC 1034 §3.5, RFC 5280 §4.2.1.6) in lower case, optionally
/// with one leading `*.` wildcard label (Baseline Requirements §7.1.2.7.12).
pub(crate) fn check_dns_name(name: &str, allow_single_label: bool) -> Result<(), String> {
    let bare = name.strip_prefix("*.").unwrap_or(name);
    if name.is_empty() || name.len() > 253 {
        return Err(format!("{name:?} is not 1 to 253 characters long"));
    }
    let labels: Vec<&str> = bare.split('.').collect();
    let single_label_ok = allow_single_label && !name.starts_with("*.");
    if labels.len() < 2 && !single_label_ok {
        return Err(format!("{name:?} has fewer than two labels"));
    }
    for label in &labels {
        let ldh = label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if label.is_empty()
            || label.len() > 63
            || !ldh
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return Err(format!(
                "{name:?} has an invalid label {label:?} (lower-case letters, digits and inner hyphens, 1 to 63 characters)"
            ));
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("{name:?} ends in a numeric label (an IP address?)"));
    }
    Ok(())
}

/// Checks a certificate against `want`. `der` is the lint-signed certificate.
pub(crate) fn check_leaf(der: &[u8], want: &Expected<'_>) -> Result<(), PkiError> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| {
        fail(
            "encoding",
            format!("the certificate does not re-parse: {e}"),
        )
    })?;
    ensure(rest.is_empty(), "encoding", || "trailing bytes".into())?;
    let tbs = &cert.tbs_certificate;

    // RFC 5280 §4.1.2.1: extensions require v3.
    ensure(tbs.version == X509Version::V3, "version", || {
        format!("version {:?}, want v3", tbs.version)
    })?;
    ensure(
        tbs.issuer_uid.is_none() && tbs.subject_uid.is_none(),
        "uniqueIdentifiers",
        || "unique identifiers present".into(),
    )?;

    // RFC 5280 §4.1.2.2 / Baseline Requirements §7.1: positive, ≤ 20 octets, the random value.
    let raw_serial = cert.raw_serial();
    ensure(
        raw_serial.len() <= 20 && raw_serial.first().is_some_and(|b| b & 0x80 == 0),
        "serialNumber",
        || "not a positive integer of at most 20 octets".into(),
    )?;
    ensure(
        crate::serial::to_hex(raw_serial) == crate::serial::to_hex(want.serial),
        "serialNumber",
        || "serial differs from the generated one".into(),
    )?;

    // RFC 5280 §4.1.1.2: the two algorithm fields are equal; the intermediate is P-256.
    let sig_oid = cert.signature_algorithm.algorithm.to_id_string();
    ensure(
        sig_oid == OID_ECDSA_SHA256 && tbs.signature.algorithm.to_id_string() == sig_oid,
        "signature",
        || format!("signature algorithm {sig_oid}, want ecdsa-with-SHA256"),
    )?;

    // RFC 5280 §4.1.2.4: issuer is the intermediate's subject, byte for byte.
    ensure(
        tbs.issuer.as_raw() == want.issuer.subject_der.as_slice(),
        "issuer",
        || "issuer differs from the intermediate's subject".into(),
    )?;
    // Baseline Requirements §7.1.2.7.2: DV subject is empty when the SAN carries everything.
    ensure(tbs.subject.as_raw() == [0x30, 0x00], "subject", || {
        format!("subject {} is not empty", tbs.subject)
    })?;

    check_validity(&cert, want)?;

    // RFC 5280 §4.1.2.7: the requested key, byte for byte.
    ensure(
        tbs.subject_pki.raw == want.spki_der,
        "subjectPublicKeyInfo",
        || "SubjectPublicKeyInfo differs from the request's bytes".into(),
    )?;

    check_extensions(&cert, want)
}

fn check_validity(cert: &X509Certificate<'_>, want: &Expected<'_>) -> Result<(), PkiError> {
    let nb = cert.validity().not_before.to_datetime();
    let na = cert.validity().not_after.to_datetime();
    ensure(
        nb == want.not_before && na == want.not_after,
        "validity",
        || {
            format!(
                "validity {nb}..{na} differs from the requested {}..{}",
                want.not_before, want.not_after
            )
        },
    )?;
    ensure(nb < na, "validity", || {
        format!("notBefore {nb} is not before notAfter {na}")
    })?;
    // Baseline Requirements §6.3.2: the period includes both ends.
    let period = na - nb + Duration::seconds(1);
    ensure(period <= want.max_validity, "validity", || {
        format!(
            "validity of {} days {} s exceeds {} days",
            period.whole_days(),
            period.whole_seconds() % 86_400,
            want.max_validity.whole_days()
        )
    })?;
    // RFC 5280 §6.1.3: a leaf outside its issuer's validity does not validate.
    ensure(
        nb >= want.issuer.not_before && na <= want.issuer.not_after,
        "validity",
        || {
            format!(
                "validity {nb}..{na} is outside the intermediate's {}..{}",
                want.issuer.not_before, want.issuer.not_after
            )
        },
    )
}

fn check_extensions(cert: &X509Certificate<'_>, want: &Expected<'_>) -> Result<(), PkiError> {
    let mut seen = BTreeSet::new();
    for ext in cert.extensions() {
        let oid = ext.oid.to_id_string();
        ensure(seen.insert(oid.clone()), "extensions", || {
            format!("extension {oid} appears twice")
        })?;
        match ext.parsed_extension() {
            // RFC 5280 §4.2.1.1: keyIdentifier only, equal to the issuer's SKI.
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                ensure(
                    !ext.critical
                        && aki.key_identifier.as_ref().map(|k| k.0)
                            == Some(&want.issuer.key_id[..])
                        && aki.authority_cert_issuer.is_none()
                        && aki.authority_cert_serial.is_none(),
                    "authorityKeyIdentifier",
                    || "AKI is not the non-critical keyIdentifier of the intermediate".into(),
                )?;
            }
            ParsedExtension::SubjectAlternativeName(san) => {
                // RFC 5280 §4.2.1.6: critical when the subject is empty.
                ensure(ext.critical, "subjectAltName", || {
                    "SAN is not critical".into()
                })?;
                let mut dns = BTreeSet::new();
                let mut ips = BTreeSet::new();
                for name in &san.general_names {
                    match name {
                        GeneralName::DNSName(d) => {
                            check_dns_name(d, want.allow_single_label)
                                .map_err(|e| fail("subjectAltName", e))?;
                            dns.insert(d.to_string());
                        }
                        GeneralName::IPAddress(bytes) => {
                            ips.insert(bytes.to_vec());
                        }
                        other => {
                            return Err(fail("subjectAltName", format!("unexpected {other:?}")));
                        }
                    }
                }
                let want_dns: BTreeSet<String> = want.dns_names.iter().cloned().collect();
                let want_ips: BTreeSet<Vec<u8>> = want
                    .ips
                    .iter()
                    .map(|ip| match ip {
                        IpAddr::V4(v4) => v4.octets().to_vec(),
                        IpAddr::V6(v6) => v6.octets().to_vec(),
                    })
                    .collect();
                ensure(dns == want_dns && ips == want_ips, "subjectAltName", || {
                    format!("SAN names {dns:?} differ from the requested {want_dns:?}")
                })?;
                ensure(
                    san.general_names.len() == dns.len() + ips.len(),
                    "subjectAltName",
                    || "duplicate SAN entries".into(),
                )?;
            }
            // Baseline Requirements §7.1.2.7.11: digitalSignature only (see profiles::leaf).
            ParsedExtension::KeyUsage(ku) => {
                ensure(ext.critical && ku.flags == 0b1, "keyUsage", || {
                    format!(
                        "keyUsage {ku:?} (critical: {}) is not the profile's",
                        ext.critical
                    )
                })?;
            }
            // Baseline Requirements §7.1.2.7.10: serverAuth only.
            ParsedExtension::ExtendedKeyUsage(eku) => {
                ensure(
                    !ext.critical
                        && eku.server_auth
                        && !eku.any
                        && !eku.client_auth
                        && !eku.code_signing
                        && !eku.email_protection
                        && !eku.time_stamping
                        && !eku.ocsp_signing
                        && eku.other.is_empty(),
                    "extKeyUsage",
                    || "EKU is not exactly serverAuth".into(),
                )?;
            }
            ParsedExtension::BasicConstraints(bc) => {
                ensure(
                    ext.critical && !bc.ca && bc.path_len_constraint.is_none(),
                    "basicConstraints",
                    || "basicConstraints is not critical CA:FALSE".into(),
                )?;
            }
            ParsedExtension::CertificatePolicies(policies) => {
                let ok = !ext.critical
                    && policies.len() == 1
                    && policies.iter().all(|p| {
                        p.policy_id.to_id_string() == oid_string(der::OID_BR_DOMAIN_VALIDATED)
                            && p.policy_qualifiers.is_none()
                    });
                ensure(ok, "certificatePolicies", || {
                    "policies are not exactly 2.23.140.1.2.1".into()
                })?;
            }
            ParsedExtension::CRLDistributionPoints(points) => {
                let ok = !ext.critical
                    && points.points.len() == 1
                    && points.points.iter().all(|p| {
                        p.reasons.is_none()
                            && p.crl_issuer.is_none()
                            && matches!(
                                &p.distribution_point,
                                Some(DistributionPointName::FullName(names))
                                    if names.as_slice() == [GeneralName::URI(want.urls.crl.as_str())]
                            )
                    });
                ensure(ok, "cRLDistributionPoints", || {
                    format!("CRL DP is not exactly {}", want.urls.crl)
                })?;
            }
            ParsedExtension::AuthorityInfoAccess(aia) => {
                let ok = !ext.critical
                    && aia.accessdescs.len() == 1
                    && aia.accessdescs.iter().all(|d| {
                        d.access_method.to_id_string() == oid_string(der::OID_CA_ISSUERS)
                            && d.access_location == GeneralName::URI(want.urls.ca_issuers.as_str())
                    });
                ensure(ok, "authorityInfoAccess", || {
                    format!("AIA is not exactly caIssuers {}", want.urls.ca_issuers)
                })?;
            }
            // Baseline Requirements §7.1.2.7.6: no subjectKeyIdentifier in subscriber
            // certificates (NOT RECOMMENDED), and nothing we did not put there.
            _ => return Err(fail("extensions", format!("unexpected extension {oid}"))),
        }
    }
    let required = [
        "2.5.29.35",
        "2.5.29.17",
        "2.5.29.15",
        "2.5.29.37",
        "2.5.29.19",
        "2.5.29.32",
        "2.5.29.31",
        "1.3.6.1.5.5.7.1.1",
    ];
    for oid in required {
        ensure(seen.contains(oid), "extensions", || {
            format!("extension {oid} is missing")
        })?;
    }
    Ok(())
}

fn oid_string(arcs: &[u64]) -> String {
    arcs.iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_name_syntax() {
        for ok in [
            "a.example.com",
            "*.example.com",
            "xn--bcher-kva.example",
            "a-b.c0",
        ] {
            assert!(check_dns_name(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "com",
            "A.example.com",
            "a..example",
            "-a.example",
            "a-.example",
            "a.*.example",
            "127.0.0.1",
            "a_b.example",
            "example.com.",
        ] {
            assert!(check_dns_name(bad, false).is_err(), "{bad}");
        }
        assert!(check_dns_name(&format!("{}.com", "a".repeat(64)), false).is_err());
        assert!(check_dns_name("localhost", true).is_ok());
        assert!(check_dns_name("localhost", false).is_err());
        assert!(check_dns_name("*.localhost", true).is_err());
        assert!(check_dns_name("*.", true).is_err());
    }

    #[test]
    fn key_check() {
        assert!(check_key(&KeyKind::EcP256).is_ok());
        assert!(
            check_key(&KeyKind::Rsa {
                bits: 2048,
                exponent_is_65537: true
            })
            .is_ok()
        );
        assert!(
            check_key(&KeyKind::Rsa {
                bits: 1024,
                exponent_is_65537: true
            })
            .is_err()
        );
        assert!(check_key(&KeyKind::Ed25519).is_err());
    }
}
