//! The rcgen parameters for the root, the intermediate and subscriber (leaf) certificates, the
//! leaf's built from a [`Profile`]. They follow the Baseline Requirements §7.1.2, and pkilint's
//! CA/Browser Forum linters report each of them clean (`crates/pki/tests/pkilint.rs`).

use rcgen::string::{Ia5String, PrintableString};
use rcgen::{
    BasicConstraints, CertificateParams, CrlDistributionPoint, CustomExtension, DistinguishedName,
    DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyUsagePurpose, SanType,
    SerialNumber,
};
use time::{Duration, OffsetDateTime};

use crate::ct::CtExtension;
use crate::der;
use crate::issuer::LeafRequest;
use crate::profile::{ExtendedKeyUsage, KeyUsage};
// RFC 7093 §2 method 1 (rcgen's own method hashes the whole SPKI, which linters cannot
// recognise).
use crate::signer::key_identifier;
use crate::{CaOptions, IssuerUrls, KeyKind, PkiError, Profile};

/// Root validity: 10 years (Baseline Requirements §7.1.2.1.1 allows 2922 to 9132 days).
pub(crate) const ROOT_VALIDITY: Duration = Duration::days(3652);
/// Intermediate validity: 5 years, well inside the root's.
pub(crate) const INTERMEDIATE_VALIDITY: Duration = Duration::days(1826);

/// Drops sub-second precision: X.509 times have whole seconds, and the lint compares the
/// parsed certificate with what was asked.
pub(crate) fn whole_seconds(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(time::UtcOffset::UTC);
    t - Duration::nanoseconds(i64::from(t.nanosecond()))
}

fn signing_error(action: &'static str) -> impl Fn(rcgen::Error) -> PkiError {
    move |e| PkiError::Signing {
        action,
        detail: e.to_string(),
    }
}

/// Subject of a CA certificate: C, O, CN (Baseline Requirements §7.1.2.10.2).
fn ca_name(opts: &CaOptions, common_name: String) -> Result<DistinguishedName, PkiError> {
    let country =
        PrintableString::try_from(opts.country.as_str()).map_err(|_| PkiError::InvalidOptions {
            field: "country",
            reason: "must be a PrintableString".into(),
        })?;
    let mut dn = DistinguishedName::new();
    // RFC 5280 Appendix A: countryName is a PrintableString.
    dn.push(DnType::CountryName, DnValue::PrintableString(country));
    dn.push(DnType::OrganizationName, opts.organization.clone());
    dn.push(DnType::CommonName, common_name);
    Ok(dn)
}

fn extension(oid: &[u64], content: Vec<u8>, critical: bool) -> CustomExtension {
    let mut ext = CustomExtension::from_oid_content(oid, content);
    ext.set_criticality(critical);
    ext
}

/// The self-signed root: CA:TRUE without a path length, keyCertSign + cRLSign +
/// digitalSignature, SKI and an AKI equal to it, no EKU, no policies (Baseline Requirements
/// §7.1.2.1; pkilint warns when the AKI is absent and notes a missing digitalSignature).
pub(crate) fn root(
    opts: &CaOptions,
    raw_public_key: &[u8],
    ca_id: &str,
    now: OffsetDateTime,
    serial: &[u8],
) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    let common_name = opts
        .root_common_name
        .clone()
        .unwrap_or_else(|| format!("{} Root CA {ca_id}", opts.organization));
    params.distinguished_name = ca_name(opts, common_name)?;
    params.serial_number = Some(SerialNumber::from_slice(serial));
    params.not_before = whole_seconds(now);
    params.not_after = whole_seconds(now + ROOT_VALIDITY);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    params.key_identifier_method = KeyIdMethod::PreSpecified(key_identifier(raw_public_key));
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

/// The issuing intermediate (Baseline Requirements §7.1.2.10; pkilint reports it clean):
/// CA:TRUE pathlen 0, keyCertSign + cRLSign + digitalSignature, EKU serverAuth,
/// the DV policy, CRL DP, AIA caIssuers, AKI and SKI.
pub(crate) fn intermediate(
    opts: &CaOptions,
    raw_public_key: &[u8],
    ca_id: &str,
    now: OffsetDateTime,
    serial: &[u8],
) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    let common_name = opts
        .intermediate_common_name
        .clone()
        .unwrap_or_else(|| format!("{} Issuing CA {ca_id}", opts.organization));
    params.distinguished_name = ca_name(opts, common_name)?;
    params.serial_number = Some(SerialNumber::from_slice(serial));
    params.not_before = whole_seconds(now);
    params.not_after = whole_seconds(now + INTERMEDIATE_VALIDITY);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.key_identifier_method = KeyIdMethod::PreSpecified(key_identifier(raw_public_key));
    add_crl_distribution_point(&mut params, &opts.urls.crl);
    add_certificate_policies(&mut params, &[der::OID_BR_DOMAIN_VALIDATED]);
    add_ca_issuers(&mut params, &opts.urls);
    Ok(params)
}

/// RFC 5280 §4.2.1.13 / Baseline Requirements §7.1.2.11.2: one http fullName URI.
fn add_crl_distribution_point(params: &mut CertificateParams, url: &str) {
    params.crl_distribution_points = vec![CrlDistributionPoint {
        uris: vec![url.to_owned()],
    }];
}

/// Baseline Requirements §7.1.6.1: the policies, without qualifiers.
fn add_certificate_policies(params: &mut CertificateParams, policies: &[&[u64]]) {
    params.custom_extensions.push(extension(
        der::OID_CERTIFICATE_POLICIES,
        der::certificate_policies(policies),
        false,
    ));
}

/// RFC 5280 §4.2.2.1 / Baseline Requirements §7.1.2.7.7: AIA with the issuer's http URL.
fn add_ca_issuers(params: &mut CertificateParams, urls: &IssuerUrls) {
    params.custom_extensions.push(extension(
        der::OID_AUTHORITY_INFO_ACCESS,
        der::authority_info_access_ca_issuers(&urls.ca_issuers),
        false,
    ));
}

/// A subscriber certificate of `profile` for `request` over a key of kind `key`
/// (Baseline Requirements §7.1.2.7): empty subject with a critical SAN, basicConstraints
/// critical CA:FALSE, AKI keyid and no SKI, then the profile's key usages for `key`, extended
/// key usages, policies, CRL DP and AIA caIssuers.
pub(crate) fn leaf(
    profile: &Profile,
    request: &LeafRequest<'_>,
    key: &KeyKind,
    serial: &[u8],
    urls: &IssuerUrls,
    crl_url: &str,
) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    // RFC 5280 §4.1.2.6: an empty subject makes rcgen mark the SAN extension critical.
    params.distinguished_name = DistinguishedName::new();
    params.serial_number = Some(SerialNumber::from_slice(serial));
    params.not_before = request.not_before;
    params.not_after = request.not_after;
    let mut sans = Vec::with_capacity(request.dns_names.len() + request.ips.len());
    for name in request.dns_names {
        let ia5 = Ia5String::try_from(name.as_str()).map_err(|_| PkiError::Lint {
            check: "subjectAltName",
            detail: format!("{name:?} is not an IA5String"),
        })?;
        sans.push(SanType::DnsName(ia5));
    }
    sans.extend(request.ips.iter().map(|ip| SanType::IpAddress(*ip)));
    params.subject_alt_names = sans;
    // IsCa::NoCa: rcgen writes no basicConstraints (and, unlike ExplicitNoCa, no SKI); the
    // CA:FALSE extension is added below.
    params.is_ca = IsCa::NoCa;
    params.key_usages = profile
        .key_usage
        .for_key(key)
        .iter()
        .map(|usage| match usage {
            KeyUsage::DigitalSignature => KeyUsagePurpose::DigitalSignature,
            KeyUsage::KeyEncipherment => KeyUsagePurpose::KeyEncipherment,
        })
        .collect();
    params.extended_key_usages = profile
        .extended_key_usages
        .iter()
        .map(|purpose| match purpose {
            ExtendedKeyUsage::ServerAuth => ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsage::ClientAuth => ExtendedKeyUsagePurpose::ClientAuth,
        })
        .collect();
    params.use_authority_key_identifier_extension = true;
    // RFC 5280 §4.2.1.9 / Baseline Requirements §7.1.2.7.8: critical, cA FALSE.
    params.custom_extensions.push(extension(
        der::OID_BASIC_CONSTRAINTS,
        der::basic_constraints_end_entity(),
        true,
    ));
    if profile.crl_distribution_point {
        add_crl_distribution_point(&mut params, crl_url);
    }
    let policies: Vec<&[u64]> = profile
        .certificate_policies
        .iter()
        .map(|oid| oid.arcs())
        .collect();
    add_certificate_policies(&mut params, &policies);
    if profile.aia_ca_issuers {
        add_ca_issuers(&mut params, urls);
    }
    Ok(params)
}

/// Certificate Transparency (RFC 6962): the critical poison of a precertificate (§3.1), or
/// the SCT list of a final certificate (§3.3), last among the extensions so that taking it
/// out leaves the rest of the TBS as it is.
pub(crate) fn add_ct_extension(params: &mut CertificateParams, ct: CtExtension<'_>) {
    match ct {
        CtExtension::None => {}
        CtExtension::Poison => params.custom_extensions.push(extension(
            crate::ct::OID_CT_POISON,
            crate::ct::POISON_VALUE.to_vec(),
            true,
        )),
        CtExtension::SctList(list) => params.custom_extensions.push(extension(
            crate::ct::OID_SCT_LIST,
            der::octet_string(list),
            false,
        )),
    }
}

/// Signs `params` over `public_key` with `issuer`.
pub(crate) fn sign(
    params: &CertificateParams,
    public_key: &impl rcgen::PublicKeyData,
    issuer: &rcgen::Issuer<'_, impl rcgen::SigningKey>,
    action: &'static str,
) -> Result<rcgen::Certificate, PkiError> {
    params
        .signed_by(public_key, issuer)
        .map_err(signing_error(action))
}

/// Generates a CA or listener key.
pub(crate) fn generate_key(
    alg: &'static rcgen::SignatureAlgorithm,
) -> Result<rcgen::KeyPair, PkiError> {
    rcgen::KeyPair::generate_for(alg).map_err(signing_error("generating a key"))
}
