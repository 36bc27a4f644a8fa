//! Lint before sign (Boulder's way): the to-be-signed certificate is first wrapped with a
//! placeholder signature (`signer::PlaceholderKey`, which no verifier accepts), parsed with
//! x509-parser and compared field by field with the [`Profile`] and the request. Only if every
//! check passes is the same TBS signed with the CA key.

use std::collections::BTreeSet;
use std::net::IpAddr;

use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::x509::X509Version;

use crate::ct::CtExtension;
use crate::der;
use crate::issuer::LeafRequest;
use crate::profile::{ExtendedKeyUsage, KeyUsage};
use crate::signer::CaKeyAlgorithm;
use crate::validity::SHORT_LIVED_MAX_VALIDITY;
use crate::weak_keys::hex;
use crate::{IssuerUrls, KeyKind, PkiError, Profile};

/// What the lint knows about the issuing intermediate.
#[derive(Debug, Clone)]
pub(crate) struct IssuerFacts {
    /// The intermediate's DER subject: the leaf's issuer must be these exact bytes.
    pub(crate) subject_der: Vec<u8>,
    /// The intermediate's subjectKeyIdentifier: the leaf's AKI keyIdentifier.
    pub(crate) key_id: Vec<u8>,
    pub(crate) not_before: OffsetDateTime,
    pub(crate) not_after: OffsetDateTime,
    /// The algorithm the intermediate's key signs with: the leaf's signature algorithm.
    pub(crate) algorithm: CaKeyAlgorithm,
}

/// What the certificate must say: the profile's shape around the request's names, key and
/// validity.
pub(crate) struct Expected<'a> {
    pub(crate) profile: &'a Profile,
    /// Names and validity, in whole seconds.
    pub(crate) request: &'a LeafRequest<'a>,
    pub(crate) serial: &'a [u8],
    pub(crate) spki_der: &'a [u8],
    pub(crate) urls: &'a IssuerUrls,
    /// The CRL distribution point (the serial's shard), when the profile writes one.
    pub(crate) crl_url: &'a str,
    pub(crate) issuer: &'a IssuerFacts,
    /// The Certificate Transparency extension the certificate must carry.
    pub(crate) ct: CtExtension<'a>,
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

    // RFC 5280 §4.1.1.2: the two algorithm fields are equal, and the algorithm is the one the
    // intermediate's key signs with. Baseline Requirements §7.1.3.2.1: its encoding is byte
    // for byte the one listed there (ECDSA without parameters, sha256WithRSAEncryption with
    // NULL parameters).
    let algorithm = want.issuer.algorithm;
    let wanted = algorithm.algorithm_identifier_der();
    let parts = der::certificate_parts(der);
    let outer = parts.as_ref().map(|p| p.signature_algorithm);
    let inner = parts.and_then(|p| der::tbs_signature_algorithm(p.tbs));
    ensure(
        outer == Some(wanted) && inner == Some(wanted),
        "signature",
        || {
            format!(
                "signature algorithm {} (TBS: {}), want {algorithm} encoded as {}",
                outer.map(hex).unwrap_or_default(),
                inner.map(hex).unwrap_or_default(),
                hex(wanted)
            )
        },
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
    let (nb, na) = (want.request.not_before, want.request.not_after);
    let (got_nb, got_na) = validity(cert);
    ensure(got_nb == nb && got_na == na, "validity", || {
        format!("validity {got_nb}..{got_na} differs from the requested {nb}..{na}")
    })?;
    ensure(nb < na, "validity", || {
        format!("notBefore {nb} is not before notAfter {na}")
    })?;
    // Baseline Requirements §6.3.2: the period includes both ends.
    let period = na - nb + Duration::seconds(1);
    let max = want.profile.max_validity(nb);
    ensure(period <= max, "validity", || {
        format!(
            "validity of {} exceeds {} (profile {:?})",
            days_and_seconds(period),
            days_and_seconds(max),
            want.profile.name
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

fn validity(cert: &X509Certificate<'_>) -> (OffsetDateTime, OffsetDateTime) {
    (
        cert.validity().not_before.to_datetime(),
        cert.validity().not_after.to_datetime(),
    )
}

/// "6 days", or "6 days 57600 s" for a period of no whole number of days.
fn days_and_seconds(d: Duration) -> String {
    match d.whole_seconds() % 86_400 {
        0 => format!("{} days", d.whole_days()),
        s => format!("{} days {s} s", d.whole_days()),
    }
}

/// The keyUsage bits (RFC 5280 §4.2.1.3, as x509-parser numbers them).
fn key_usage_flags(usages: &[KeyUsage]) -> u16 {
    usages
        .iter()
        .map(|u| match u {
            KeyUsage::DigitalSignature => 1 << 0,
            KeyUsage::KeyEncipherment => 1 << 2,
        })
        .fold(0, |flags, bit| flags | bit)
}

fn check_extensions(cert: &X509Certificate<'_>, want: &Expected<'_>) -> Result<(), PkiError> {
    let profile = want.profile;
    // The kind of the certificate's own key decides its key usages.
    let key = KeyKind::of(cert.public_key()).map_err(|e| {
        fail(
            "subjectPublicKeyInfo",
            format!("the key does not parse: {e}"),
        )
    })?;
    ensure(profile.allows_key(&key), "subjectPublicKeyInfo", || {
        format!("profile {:?} does not certify {key} keys", profile.name)
    })?;
    let mut seen = BTreeSet::new();
    for ext in cert.extensions() {
        let oid = ext.oid.to_id_string();
        ensure(seen.insert(oid.clone()), "extensions", || {
            format!("extension {oid} appears twice")
        })?;
        // RFC 6962 §3.1 and §3.3: the poison of a precertificate, critical NULL; the SCT
        // list of a final certificate, non-critical, exactly the list it was built with.
        if oid == oid_string(crate::ct::OID_CT_POISON) {
            ensure(
                matches!(want.ct, CtExtension::Poison)
                    && ext.critical
                    && ext.value == crate::ct::POISON_VALUE,
                "precertificatePoison",
                || "a poison extension where none is wanted, or not a critical NULL".into(),
            )?;
            continue;
        }
        if oid == oid_string(crate::ct::OID_SCT_LIST) {
            ensure(
                matches!(want.ct, CtExtension::SctList(list)
                    if !ext.critical && der::octet_string_contents(ext.value) == Some(list)),
                "signedCertificateTimestampList",
                || "an SCT list where none is wanted, critical, or not the one given".into(),
            )?;
            continue;
        }
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
                check_san(&san.general_names, want)?;
            }
            // Baseline Requirements §7.1.2.7.11: the profile's bits for this kind of key.
            ParsedExtension::KeyUsage(ku) => {
                let bits = key_usage_flags(profile.key_usage.for_key(&key));
                ensure(ext.critical && ku.flags == bits, "keyUsage", || {
                    format!(
                        "keyUsage {ku:?} (critical: {}) is not profile {:?}'s {:?} for {key}",
                        ext.critical,
                        profile.name,
                        profile.key_usage.for_key(&key)
                    )
                })?;
            }
            // Baseline Requirements §7.1.2.7.10: the profile's purposes, nothing else.
            ParsedExtension::ExtendedKeyUsage(eku) => {
                let wants = |purpose| profile.extended_key_usages.contains(&purpose);
                ensure(
                    !ext.critical
                        && eku.server_auth == wants(ExtendedKeyUsage::ServerAuth)
                        && eku.client_auth == wants(ExtendedKeyUsage::ClientAuth)
                        && !eku.any
                        && !eku.code_signing
                        && !eku.email_protection
                        && !eku.time_stamping
                        && !eku.ocsp_signing
                        && eku.other.is_empty(),
                    "extKeyUsage",
                    || {
                        format!(
                            "EKU is not exactly profile {:?}'s {:?}",
                            profile.name, profile.extended_key_usages
                        )
                    },
                )?;
            }
            ParsedExtension::BasicConstraints(bc) => {
                ensure(
                    ext.critical && !bc.ca && bc.path_len_constraint.is_none(),
                    "basicConstraints",
                    || "basicConstraints is not critical CA:FALSE".into(),
                )?;
            }
            // Baseline Requirements §7.1.2.7.9: the profile's policies, in order, no
            // qualifiers.
            ParsedExtension::CertificatePolicies(policies) => {
                let got: Vec<String> = policies
                    .iter()
                    .map(|p| p.policy_id.to_id_string())
                    .collect();
                let wanted: Vec<String> = profile
                    .certificate_policies
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                let ok = !ext.critical
                    && got == wanted
                    && policies.iter().all(|p| p.policy_qualifiers.is_none());
                ensure(ok, "certificatePolicies", || {
                    format!("policies {got:?} are not exactly {wanted:?}")
                })?;
            }
            ParsedExtension::CRLDistributionPoints(points) => {
                ensure(
                    profile.crl_distribution_point,
                    "cRLDistributionPoints",
                    || format!("profile {:?} has no CRL distribution point", profile.name),
                )?;
                let ok = !ext.critical
                    && points.points.len() == 1
                    && points.points.iter().all(|p| {
                        p.reasons.is_none()
                            && p.crl_issuer.is_none()
                            && matches!(
                                &p.distribution_point,
                                Some(DistributionPointName::FullName(names))
                                    if names.as_slice() == [GeneralName::URI(want.crl_url)]
                            )
                    });
                ensure(ok, "cRLDistributionPoints", || {
                    format!("CRL DP is not exactly {}", want.crl_url)
                })?;
            }
            ParsedExtension::AuthorityInfoAccess(aia) => {
                ensure(profile.aia_ca_issuers, "authorityInfoAccess", || {
                    format!("profile {:?} has no AIA", profile.name)
                })?;
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
        (OID_AUTHORITY_KEY_IDENTIFIER, true),
        (OID_SUBJECT_ALT_NAME, true),
        (OID_KEY_USAGE, true),
        (OID_EXT_KEY_USAGE, true),
        (OID_BASIC_CONSTRAINTS, true),
        (OID_CERTIFICATE_POLICIES, true),
        (OID_CRL_DISTRIBUTION_POINTS, profile.crl_distribution_point),
        (OID_AUTHORITY_INFO_ACCESS, profile.aia_ca_issuers),
    ];
    let ct_required = match want.ct {
        CtExtension::None => None,
        CtExtension::Poison => Some(oid_string(crate::ct::OID_CT_POISON)),
        CtExtension::SctList(_) => Some(oid_string(crate::ct::OID_SCT_LIST)),
    };
    if let Some(oid) = ct_required {
        ensure(seen.contains(&oid), "extensions", || {
            format!("extension {oid} is missing")
        })?;
    }
    for (oid, wanted) in required {
        ensure(!wanted || seen.contains(oid), "extensions", || {
            format!("extension {oid} is missing")
        })?;
    }
    // Baseline Requirements §7.1.2.11.2: with no OCSP URL, only a Short-lived Subscriber
    // Certificate may go without a CRL distribution point, whatever the profile says.
    if !seen.contains(OID_CRL_DISTRIBUTION_POINTS) {
        let (nb, na) = validity(cert);
        let period = na - nb + Duration::seconds(1);
        ensure(
            period <= SHORT_LIVED_MAX_VALIDITY,
            "cRLDistributionPoints",
            || {
                format!(
                    "no CRL distribution point in a certificate of {}, longer than a \
                     short-lived certificate's {}",
                    days_and_seconds(period),
                    days_and_seconds(SHORT_LIVED_MAX_VALIDITY)
                )
            },
        )?;
    }
    Ok(())
}

/// The subjectAltName holds exactly the requested names: syntactically valid DNS names, and
/// IP addresses only where the profile allows them.
fn check_san(names: &[GeneralName<'_>], want: &Expected<'_>) -> Result<(), PkiError> {
    let profile = want.profile;
    let mut dns = BTreeSet::new();
    let mut ips = BTreeSet::new();
    for name in names {
        match name {
            GeneralName::DNSName(d) => {
                check_dns_name(d, profile.allows_single_label_names())
                    .map_err(|e| fail("subjectAltName", e))?;
                dns.insert(d.to_string());
            }
            GeneralName::IPAddress(bytes) if profile.allows_ip_addresses() => {
                ips.insert(bytes.to_vec());
            }
            other => {
                return Err(fail(
                    "subjectAltName",
                    format!("unexpected {other:?} (profile {:?})", profile.name),
                ));
            }
        }
    }
    let want_dns: BTreeSet<String> = want.request.dns_names.iter().cloned().collect();
    let want_ips: BTreeSet<Vec<u8>> = want
        .request
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
        names.len() == dns.len() + ips.len(),
        "subjectAltName",
        || "duplicate SAN entries".into(),
    )
}

const OID_AUTHORITY_KEY_IDENTIFIER: &str = "2.5.29.35";
const OID_SUBJECT_ALT_NAME: &str = "2.5.29.17";
const OID_KEY_USAGE: &str = "2.5.29.15";
const OID_EXT_KEY_USAGE: &str = "2.5.29.37";
const OID_BASIC_CONSTRAINTS: &str = "2.5.29.19";
const OID_CERTIFICATE_POLICIES: &str = "2.5.29.32";
const OID_CRL_DISTRIBUTION_POINTS: &str = "2.5.29.31";
const OID_AUTHORITY_INFO_ACCESS: &str = "1.3.6.1.5.5.7.1.1";

pub(crate) fn oid_string(arcs: &[u64]) -> String {
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
