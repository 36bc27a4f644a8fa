//! [`Issuer`]: the intermediate CA, signing subscriber certificates with its key after linting
//! them.

use std::fmt;
use std::net::IpAddr;

use std::sync::Arc;

use aws_lc_rs::signature::ParsedPublicKey;
use time::OffsetDateTime;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::ct::{CtExtension, Precertificate, Sct};
use crate::der::certificate_parts;
use crate::lint::{self, Expected, IssuerFacts};
use crate::params::{self, whole_seconds};
use crate::serial::{random_serial, to_hex};
use crate::signer::{CaSigner, FileKey, PlaceholderKey, replace_signature};
use crate::{IssuerUrls, KeyKind, PkiError, Profile};

/// At most this many names in one certificate (Let's Encrypt's limit).
pub const MAX_NAMES_PER_CERTIFICATE: usize = 100;

/// What to certify; the [`Profile`] says how. The caller (core) has already checked the CSR
/// and the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRequest {
    /// The subject's DER SubjectPublicKeyInfo, exactly as it was in the CSR.
    pub spki_der: Vec<u8>,
    /// The dNSNames of the SAN extension: lower case, wildcard as `*.`; order is kept,
    /// duplicates are dropped.
    pub dns_names: Vec<String>,
    /// notBefore (sub-second precision is dropped).
    pub not_before: OffsetDateTime,
    /// notAfter (sub-second precision is dropped); the validity period, both ends included,
    /// is at most the profile's [`max_validity`](Profile::max_validity) at `not_before`.
    pub not_after: OffsetDateTime,
}

/// A signed subscriber certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// The serial number: lowercase hex, no colons, no leading zero octet.
    pub serial_hex: String,
    /// PEM chain: the leaf, then the intermediate (RFC 8555 §7.4.2 `application/pem-certificate-chain`).
    pub chain_pem: String,
    /// notBefore as written in the certificate.
    pub not_before: OffsetDateTime,
    /// notAfter as written in the certificate.
    pub not_after: OffsetDateTime,
    /// The issuer's [`Issuer::id`].
    pub issuer_id: String,
    /// The CRL shard that lists the certificate once it is revoked ([`crl_shard_of`] of its
    /// serial), whether or not the profile writes the distribution point into it.
    ///
    /// [`crl_shard_of`]: crate::crl_shard_of
    pub crl_shard: u32,
    /// The precertificate (DER) logged in Certificate Transparency for it, when it was
    /// (set by the caller that logged it: this issuer signs both but does not log).
    pub precertificate_der: Option<Vec<u8>>,
}

/// The names and validity period of one certificate, after the caller's checks: what a
/// [`Profile`] is applied to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LeafRequest<'a> {
    /// The subjectAltName dNSNames, without duplicates.
    pub(crate) dns_names: &'a [String],
    /// The subjectAltName IP addresses (only where the profile allows them).
    pub(crate) ips: &'a [IpAddr],
    pub(crate) not_before: OffsetDateTime,
    pub(crate) not_after: OffsetDateTime,
}

/// The intermediate CA: signs subscriber certificates and CRLs with the intermediate's key, a
/// [`CaSigner`] (a file or a token; ECDSA P-256 or P-384, or RSA of 2048 to 4096 bits, which
/// signs with sha256WithRSAEncryption); `Debug` shows where the key is, never the key.
pub struct Issuer {
    cert_der: Vec<u8>,
    cert_pem: String,
    /// The intermediate's private key.
    key: Arc<dyn CaSigner>,
    /// The intermediate certificate's name and key identifier with a placeholder key: what
    /// certificates and CRLs are built, linted and then signed from (see [`PlaceholderKey`]).
    lint_signer: rcgen::Issuer<'static, PlaceholderKey>,
    /// The intermediate's public key, parsed once: every signed certificate is checked with it.
    verify_key: ParsedPublicKey,
    facts: IssuerFacts,
    urls: IssuerUrls,
    /// [`Issuer::id`].
    id: String,
    /// [`Issuer::name`].
    name: String,
    /// Whether the intermediate's key is RSA (else ECDSA).
    rsa: bool,
}

/// The name of the intermediate in `intermediate.pem`; the others are named after their file
/// (`intermediate-NAME.pem`).
pub const PRIMARY_ISSUER_NAME: &str = "intermediate";

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("key_id", &to_hex(&self.facts.key_id))
            .field("not_after", &self.facts.not_after)
            .field("urls", &self.urls)
            .field("key", &self.key.location())
            .finish()
    }
}

impl Issuer {
    /// Builds an issuer from the intermediate certificate and its key in a file (PKCS#8 PEM).
    /// Fails if the key is not the certificate's, is not of a kind a CA key may be
    /// ([`FileKey::from_pem`]), or the certificate is not a CA with an SKI.
    pub fn new(cert_pem: &str, key_pem: &str, urls: IssuerUrls) -> Result<Issuer, PkiError> {
        let key = FileKey::from_pem(key_pem, "intermediate.key".into())?;
        Issuer::with_signer(cert_pem, Arc::new(key), urls)
    }

    /// Builds an issuer from the intermediate certificate and its key wherever it is. Fails if
    /// the key is not the certificate's or the certificate is not a CA with an SKI. What it
    /// signs carries the key's signature algorithm ([`CaSigner::algorithm`]).
    pub fn with_signer(
        cert_pem: &str,
        key: Arc<dyn CaSigner>,
        urls: IssuerUrls,
    ) -> Result<Issuer, PkiError> {
        let invalid = |reason: String| PkiError::InvalidCaFile {
            path: "intermediate.pem".into(),
            reason,
        };
        urls.validate()?;
        let cert_der = pem_certificates(cert_pem)
            .map_err(invalid)?
            .into_iter()
            .next()
            .ok_or_else(|| invalid("no CERTIFICATE block".into()))?;
        let (_, cert) = x509_parser::parse_x509_certificate(&cert_der)
            .map_err(|e| invalid(format!("does not parse: {e}")))?;
        let key_id = cert
            .iter_extensions()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
                _ => None,
            })
            .ok_or_else(|| invalid("no subjectKeyIdentifier".into()))?;
        if !cert.is_ca() {
            return Err(invalid("not a CA certificate".into()));
        }
        if key.public_key_der() != cert.public_key().raw {
            return Err(invalid(format!(
                "the key ({}) does not belong to this certificate",
                key.location()
            )));
        }
        let public_key = &cert.public_key().subject_public_key.data;
        let verify_key = ParsedPublicKey::new(key.algorithm().verification(), public_key.as_ref())
            .map_err(|e| invalid(format!("its public key does not parse: {e}")))?;
        let facts = IssuerFacts {
            subject_der: cert.subject().as_raw().to_vec(),
            key_id,
            not_before: cert.validity().not_before.to_datetime(),
            not_after: cert.validity().not_after.to_datetime(),
            algorithm: key.algorithm(),
        };
        let lint_signer = rcgen::Issuer::from_ca_cert_der(
            &cert_der.as_slice().into(),
            PlaceholderKey::of(&*key)?,
        )
        .map_err(|e| invalid(format!("rcgen cannot use it: {e}")))?;
        let mut cert_pem = cert_pem.trim_end().to_owned();
        cert_pem.push('\n');
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &cert_der);
        let id = crate::weak_keys::hex(&digest.as_ref()[..8]);
        let rsa = KeyKind::of(cert.public_key()).is_ok_and(|k| k.is_rsa());
        Ok(Issuer {
            id,
            name: PRIMARY_ISSUER_NAME.to_owned(),
            rsa,
            cert_der,
            cert_pem,
            key,
            lint_signer,
            verify_key,
            facts,
            urls,
        })
    }

    /// The intermediate's key: where it is, and whether signing may wait on a device.
    pub fn key(&self) -> &dyn CaSigner {
        &*self.key
    }

    /// The intermediate certificate, PEM.
    pub fn intermediate_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The intermediate's notBefore: no leaf may start earlier (RFC 5280 §6.1.3; the lint
    /// refuses one that does).
    pub fn not_before(&self) -> OffsetDateTime {
        self.facts.not_before
    }

    /// The intermediate certificate, DER (what `urls.ca_issuers` serves).
    pub fn intermediate_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The URLs written into certificates.
    pub fn urls(&self) -> &IssuerUrls {
        &self.urls
    }

    /// What names this intermediate in its CRL shards' URLs and in the database: the first
    /// eight octets of the SHA-256 of its certificate, 16 lower-case hex digits. Two
    /// intermediates (a roll, or one per key type) never share CRLs.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The CRL distribution point of shard `shard` of this issuer
    /// ([`IssuerUrls::crl_shard_url`]), or with `None` the unsharded `urls.crl`.
    pub fn crl_url(&self, shard: Option<u32>) -> String {
        match shard {
            Some(shard) => self.urls.crl_shard_url(&self.id, shard),
            None => self.urls.crl.clone(),
        }
    }

    /// The intermediate's name, what a [`Profile::issuer`] may name and `ferrite ca show`
    /// lists: [`PRIMARY_ISSUER_NAME`] unless [`Issuer::with_name`] gave another.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// This issuer named `name` (`intermediate-NAME.pem`'s).
    pub fn with_name(mut self, name: &str) -> Issuer {
        name.clone_into(&mut self.name);
        self
    }

    /// Whether the intermediate's key is RSA (else ECDSA): subscriber RSA keys get its chain.
    pub fn key_is_rsa(&self) -> bool {
        self.rsa
    }

    /// The intermediate's notAfter: no leaf may end later.
    pub fn not_after(&self) -> OffsetDateTime {
        self.facts.not_after
    }

    /// Issues a certificate of [`Profile::tls_server`], the Baseline Requirements
    /// domain-validated TLS server certificate: `issue_with(&Profile::tls_server(), req)`.
    pub fn issue(&self, req: &IssueRequest) -> Result<IssuedCertificate, PkiError> {
        self.issue_with(&Profile::tls_server(), req)
    }

    /// Issues a subscriber certificate of `profile` (see [`Profile`] for what it decides):
    /// empty subject, SAN (critical) = `dns_names`, basicConstraints critical CA:FALSE, AKI
    /// keyid, no SKI, random 128-bit serial, the intermediate key's signature algorithm
    /// (ecdsa-with-SHA256 for Ferrite's P-256 intermediate, sha256WithRSAEncryption for an RSA
    /// one), and the profile's key usages,
    /// extended key usages, policies, CRL DP = the serial's shard ([`Issuer::crl_url`]) and
    /// AIA caIssuers = `urls.ca_issuers`.
    ///
    /// The profile is validated first ([`PkiError::InvalidProfile`]) and must name this
    /// issuer; the key must be of a kind it certifies ([`PkiError::KeyTypeNotInProfile`]).
    ///
    /// Lint before sign: the identical TBS is first wrapped with a placeholder signature,
    /// parsed and checked against the profile; a failing check returns [`PkiError::Lint`] and
    /// nothing is signed with the CA key. The TBS signed with the CA key is then compared byte
    /// for byte with the linted one, and the signature verified under the intermediate's
    /// public key.
    pub fn issue_with(
        &self,
        profile: &Profile,
        req: &IssueRequest,
    ) -> Result<IssuedCertificate, PkiError> {
        let names = checked_names(&req.dns_names)?;
        self.issue_leaf(
            &req.spki_der,
            profile,
            &LeafRequest {
                dns_names: &names,
                ips: &[],
                not_before: req.not_before,
                not_after: req.not_after,
            },
        )
    }

    /// Issues the precertificate (RFC 6962 §3.1) of the certificate [`Issuer::issue_with`]
    /// would issue: the same checks and lint, with the critical poison extension, signed by
    /// this issuer. Its logs' SCTs then make the certificate with
    /// [`Issuer::issue_with_scts`].
    pub fn issue_precertificate(
        &self,
        profile: &Profile,
        req: &IssueRequest,
    ) -> Result<Precertificate, PkiError> {
        let names = checked_names(&req.dns_names)?;
        let serial = random_serial()?;
        let signed = self.sign_leaf(
            &req.spki_der,
            profile,
            &LeafRequest {
                dns_names: &names,
                ips: &[],
                not_before: req.not_before,
                not_after: req.not_after,
            },
            &serial,
            CtExtension::Poison,
        )?;
        Ok(Precertificate {
            der: signed.der,
            serial: serial.to_vec(),
            profile: profile.clone(),
            request: IssueRequest {
                spki_der: req.spki_der.clone(),
                dns_names: names,
                not_before: signed.not_before,
                not_after: signed.not_after,
            },
        })
    }

    /// Issues the certificate of `precert` with `scts` embedded (RFC 6962 §3.3): the same
    /// serial, names, key, validity and profile, linted and signed as every certificate is,
    /// and then checked to be the precertificate's TBS plus the SCT list and nothing else, so
    /// the SCTs cover it. The caller has verified the SCTs.
    pub fn issue_with_scts(
        &self,
        precert: &Precertificate,
        scts: &[Sct],
    ) -> Result<IssuedCertificate, PkiError> {
        let list = crate::ct::sct_list(scts);
        let request = &precert.request;
        let issued = self.sign_leaf(
            &request.spki_der,
            &precert.profile,
            &LeafRequest {
                dns_names: &request.dns_names,
                ips: &[],
                not_before: request.not_before,
                not_after: request.not_after,
            },
            &precert.serial,
            CtExtension::SctList(&list),
        )?;
        let logged = crate::ct::precertificate_tbs(&precert.der);
        if logged.is_none() || logged != crate::ct::final_certificate_tbs(&issued.der) {
            return Err(PkiError::Lint {
                check: "signedCertificateTimestampList",
                detail: "the certificate is not its precertificate's TBS with the SCT list \
                         added, so its SCTs would not cover it (nothing was issued); report \
                         this as a bug"
                    .into(),
            });
        }
        Ok(issued)
    }

    /// Issues a certificate of `profile` for `request` over `spki_der`: what
    /// [`Issuer::issue_with`] does once the names are checked, and what the ACME listener's
    /// own certificate is issued with ([`Profile::acme_listener`]).
    pub(crate) fn issue_leaf(
        &self,
        spki_der: &[u8],
        profile: &Profile,
        request: &LeafRequest<'_>,
    ) -> Result<IssuedCertificate, PkiError> {
        let serial = random_serial()?;
        self.sign_leaf(spki_der, profile, request, &serial, CtExtension::None)
    }

    /// Builds, lints, signs and checks the certificate of `profile` for `request` over
    /// `spki_der` with serial `serial`, carrying `ct` for Certificate Transparency.
    fn sign_leaf(
        &self,
        spki_der: &[u8],
        profile: &Profile,
        request: &LeafRequest<'_>,
        serial: &[u8],
        ct: CtExtension<'_>,
    ) -> Result<IssuedCertificate, PkiError> {
        profile.validate()?;
        if !crate::profile::issuer_selected(&profile.issuer, &self.name, self.rsa) {
            return Err(PkiError::InvalidProfile {
                profile: profile.name.clone(),
                field: "issuer",
                reason: format!(
                    "names issuer {:?}, which is not intermediate {:?} ({}): write \"default\", \"ecdsa\", \"rsa\" or the name of an intermediate `ferrite ca show` lists",
                    profile.issuer,
                    self.name,
                    if self.rsa { "RSA" } else { "ECDSA" },
                ),
            });
        }
        let unsupported = |reason: String| PkiError::UnsupportedPublicKey { reason };
        let (rest, spki) = SubjectPublicKeyInfo::from_der(spki_der)
            .map_err(|e| unsupported(format!("the SubjectPublicKeyInfo does not parse: {e}")))?;
        if !rest.is_empty() {
            return Err(unsupported(
                "trailing bytes after the SubjectPublicKeyInfo".into(),
            ));
        }
        let key = KeyKind::of(&spki).map_err(unsupported)?;
        lint::check_key(&key)?;
        if !profile.allows_key(&key) {
            return Err(PkiError::KeyTypeNotInProfile {
                profile: profile.name.clone(),
                key,
                allowed: profile.key_types.clone(),
            });
        }
        let public_key = rcgen::SubjectPublicKeyInfo::from_der(spki_der)
            .map_err(|e| unsupported(format!("rcgen cannot encode it: {e}")))?;

        let request = LeafRequest {
            not_before: whole_seconds(request.not_before),
            not_after: whole_seconds(request.not_after),
            ..*request
        };
        let crl_shard = crate::crl_shard_of(serial, self.urls.crl_shards);
        let crl_url = self.crl_url(Some(crl_shard));
        let mut params = params::leaf(profile, &request, &key, serial, &self.urls, &crl_url)?;
        params::add_ct_extension(&mut params, ct);

        // Lint before sign (Boulder's "linting signer"): same TBS, no real signature.
        let linted = params::sign(
            &params,
            &public_key,
            &self.lint_signer,
            "lint-signing a certificate",
        )?;
        lint::check_leaf(
            linted.der(),
            &Expected {
                profile,
                request: &request,
                serial,
                spki_der,
                urls: &self.urls,
                crl_url: &crl_url,
                issuer: &self.facts,
                ct,
            },
        )?;

        let der = replace_signature(linted.der(), &*self.key, "signing a certificate")?;
        self.check_signature(&der, "verifying a signed certificate")?;
        // The operator's info line is the caller's: core's "certificate issued" (with the
        // order) once the certificate is recorded, or its "issued_not_recorded" audit event;
        // the bundle's for the listener certificate.
        tracing::debug!(
            serial = %to_hex(serial),
            profile = %profile.name,
            precertificate = matches!(ct, CtExtension::Poison),
            names = ?request.dns_names,
            not_after = %request.not_after,
            "signed certificate"
        );
        Ok(IssuedCertificate {
            chain_pem: format!("{}{}", certificate_pem(&der), self.cert_pem),
            der,
            serial_hex: to_hex(serial),
            not_before: request.not_before,
            not_after: request.not_after,
            issuer_id: self.id.clone(),
            crl_shard,
            precertificate_der: None,
        })
    }

    /// The signed certificate or CRL must verify under the intermediate: a faulty signer (a
    /// token returning a wrong or corrupted signature) issues nothing. The TBS is the linted
    /// one by construction ([`replace_signature`] keeps it and only swaps the signature).
    /// `action` says what was signed, for the error.
    pub(crate) fn check_signature(
        &self,
        signed: &[u8],
        action: &'static str,
    ) -> Result<(), PkiError> {
        let parts = certificate_parts(signed).ok_or_else(|| PkiError::Signing {
            action,
            detail: "what was signed is not a DER SEQUENCE of three parts (nothing was \
                     issued); report this as a bug"
                .into(),
        })?;
        self.verify_key
            .verify_sig(parts.tbs, parts.signature)
            .map_err(|_| PkiError::Signing {
                action,
                detail: "the signature does not verify under the intermediate certificate's key; \
                         check that intermediate.key belongs to intermediate.pem and that the \
                         signer works (nothing was issued)"
                    .into(),
            })
    }

    pub(crate) fn lint_signer(&self) -> &rcgen::Issuer<'static, PlaceholderKey> {
        &self.lint_signer
    }

    pub(crate) fn key_id(&self) -> &[u8] {
        &self.facts.key_id
    }
}

/// `dns_names` without duplicates, in order: 1 to [`MAX_NAMES_PER_CERTIFICATE`] of them.
fn checked_names(dns_names: &[String]) -> Result<Vec<String>, PkiError> {
    let mut names: Vec<String> = Vec::with_capacity(dns_names.len());
    for name in dns_names {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    if names.is_empty() || names.len() > MAX_NAMES_PER_CERTIFICATE {
        return Err(PkiError::Lint {
            check: "subjectAltName",
            detail: format!(
                "{} names; a certificate carries 1 to {MAX_NAMES_PER_CERTIFICATE}",
                names.len()
            ),
        });
    }
    Ok(names)
}

/// A certificate as PEM, ending with a newline.
pub fn certificate_pem(der: &[u8]) -> String {
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, der);
    let mut pem = String::with_capacity(b64.len() + b64.len() / 64 + 60);
    pem.push_str("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// The DER of every CERTIFICATE block in `pem`, in order.
pub(crate) fn pem_certificates(pem: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()) {
        let block = block.map_err(|e| format!("bad PEM: {e}"))?;
        if block.label != "CERTIFICATE" {
            return Err(format!("unexpected PEM block {:?}", block.label));
        }
        out.push(block.contents);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use rcgen::{ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose, PublicKeyData};
    use time::Duration;

    use super::*;
    use crate::der;
    use crate::signer::{CaKeyAlgorithm, CaKeyType};
    use crate::{
        CaBundle, CaOptions, INTERMEDIATE_KEY_TYPE, RSA_INTERMEDIATE_KEY_TYPE, RevokedEntry,
    };

    fn options() -> CaOptions {
        CaOptions::new(IssuerUrls {
            ca_issuers: "http://ca.example.com/i.der".into(),
            crl: "http://ca.example.com/0.crl".into(),
            crl_shards: 16,
        })
    }

    fn ca() -> (tempfile::TempDir, CaBundle) {
        let tmp = tempfile::tempdir().unwrap();
        let (bundle, _) = CaBundle::load_or_create(&tmp.path().join("ca"), &options()).unwrap();
        (tmp, bundle)
    }

    /// A CA whose issuing intermediate has a key of `intermediate`, under the ECDSA P-384 root
    /// as every CA Ferrite creates.
    fn ca_with(intermediate: CaKeyType) -> (tempfile::TempDir, CaBundle) {
        if intermediate == INTERMEDIATE_KEY_TYPE {
            return ca();
        }
        let tmp = tempfile::tempdir().unwrap();
        let bundle =
            CaBundle::create_with_intermediate(&tmp.path().join("ca"), &options(), intermediate)
                .unwrap();
        (tmp, bundle)
    }

    /// The Baseline Requirements §7.1.3.2.1 encoding of sha256WithRSAEncryption: the OID
    /// 1.2.840.113549.1.1.11 with NULL parameters.
    const SHA256_WITH_RSA_NULL: [u8; 15] = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00,
    ];

    /// A profile of `tests/profiles.toml`, named by its table's key: data only, read the way
    /// the operator's configuration is.
    fn configured(name: &str) -> Profile {
        let config: toml::Table = toml::from_str(include_str!("../tests/profiles.toml")).unwrap();
        let mut profile: Profile = config["profiles"][name].clone().try_into().unwrap();
        profile.name = name.to_owned();
        profile
    }

    /// The kind of `key`'s public key.
    fn kind(spki: &[u8]) -> KeyKind {
        KeyKind::of(&SubjectPublicKeyInfo::from_der(spki).unwrap().1).unwrap()
    }

    /// Index of the custom extension with `oid` in `params`.
    fn custom(params: &rcgen::CertificateParams, oid: &[u64]) -> usize {
        params
            .custom_extensions
            .iter()
            .position(|e| e.oid_components().eq(oid.iter().copied()))
            .unwrap()
    }

    /// Builds a certificate of `built` for `request` over `key`, edited by `edit` the way a
    /// bug would, and lints it as one of `linted`.
    fn build_and_lint(
        issuer: &Issuer,
        built: &Profile,
        linted: &Profile,
        request: &LeafRequest<'_>,
        key: &rcgen::KeyPair,
        edit: &dyn Fn(&mut rcgen::CertificateParams),
    ) -> Result<(), PkiError> {
        let spki = key.subject_public_key_info();
        let public_key = rcgen::SubjectPublicKeyInfo::from_der(&spki).unwrap();
        let serial = random_serial().unwrap();
        let crl_url = issuer.crl_url(Some(crate::crl_shard_of(&serial, 16)));
        let mut params = params::leaf(
            built,
            request,
            &kind(&spki),
            &serial,
            &issuer.urls,
            &crl_url,
        )
        .unwrap();
        edit(&mut params);
        let cert = params.signed_by(&public_key, &issuer.lint_signer).unwrap();
        lint::check_leaf(
            cert.der(),
            &Expected {
                profile: linted,
                request,
                serial: &serial,
                spki_der: &spki,
                urls: &issuer.urls,
                crl_url: &crl_url,
                issuer: &issuer.facts,
                ct: CtExtension::None,
            },
        )
    }

    /// Each deviation from the profile, made by editing the rcgen parameters the way a bug
    /// would, is caught by the lint: for the default profile and two read from TOML tables (six
    /// days, with and without a CRL DP), and for ECDSA and RSA keys, whose key usages the
    /// profile sets apart.
    #[test]
    fn lint_catches_every_profile_deviation() {
        for intermediate in [INTERMEDIATE_KEY_TYPE, RSA_INTERMEDIATE_KEY_TYPE] {
            let (_tmp, bundle) = ca_with(intermediate);
            lint_catches_every_profile_deviation_of(&bundle.issuer);
        }
    }

    /// [`lint_catches_every_profile_deviation`] for the intermediate `issuer`.
    fn lint_catches_every_profile_deviation_of(issuer: &Issuer) {
        let names = vec!["a.example.com".to_string()];
        let now = whole_seconds(OffsetDateTime::now_utc());
        let request_for = |profile: &Profile| LeafRequest {
            dns_names: &names,
            ips: &[],
            not_before: now,
            not_after: now + profile.validity() - Duration::seconds(1),
        };
        let keys = [
            rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap(),
            rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap(),
        ];
        let [tls_server, shortlived, nocrl] = [
            Profile::tls_server(),
            configured("shortlived"),
            configured("shortlived-nocrl"),
        ];
        for profile in [&tls_server, &shortlived, &nocrl] {
            let request = request_for(profile);
            for key in &keys {
                let case = format!(
                    "{} / {} / issuer {}",
                    profile.name,
                    kind(&key.subject_public_key_info()),
                    issuer.key().algorithm()
                );
                let lint_with = |edit: &dyn Fn(&mut rcgen::CertificateParams)| {
                    build_and_lint(issuer, profile, profile, &request, key, edit)
                };
                lint_with(&|_| {}).unwrap_or_else(|e| panic!("{case}: {e}"));
                type Edit = Box<dyn Fn(&mut rcgen::CertificateParams)>;
                let mut deviations: Vec<(&str, Edit)> = vec![
                    (
                        "subjectKeyIdentifier",
                        Box::new(|p| p.is_ca = IsCa::ExplicitNoCa),
                    ),
                    (
                        "clientAuth",
                        Box::new(|p| {
                            p.extended_key_usages
                                .push(ExtendedKeyUsagePurpose::ClientAuth)
                        }),
                    ),
                    (
                        "keyEncipherment",
                        Box::new(|p| p.key_usages.push(KeyUsagePurpose::KeyEncipherment)),
                    ),
                    ("no keyUsage", Box::new(|p| p.key_usages.clear())),
                    (
                        "no AIA",
                        Box::new(|p| {
                            let at = custom(p, der::OID_AUTHORITY_INFO_ACCESS);
                            p.custom_extensions.remove(at);
                        }),
                    ),
                    (
                        "a second policy",
                        Box::new(|p| {
                            let at = custom(p, der::OID_CERTIFICATE_POLICIES);
                            let content = der::certificate_policies(&[
                                der::OID_BR_DOMAIN_VALIDATED,
                                &[1, 3, 6, 1, 4, 1, 99999, 1],
                            ]);
                            p.custom_extensions[at] = rcgen::CustomExtension::from_oid_content(
                                der::OID_CERTIFICATE_POLICIES,
                                content,
                            );
                        }),
                    ),
                    (
                        "subject CN",
                        Box::new(|p| {
                            p.distinguished_name
                                .push(rcgen::DnType::CommonName, "a.example.com")
                        }),
                    ),
                    (
                        "extra SAN",
                        Box::new(|p| {
                            p.subject_alt_names
                                .push(rcgen::SanType::DnsName("b.example.com".try_into().unwrap()))
                        }),
                    ),
                    (
                        "IP SAN",
                        Box::new(|p| {
                            p.subject_alt_names
                                .push(rcgen::SanType::IpAddress([127, 0, 0, 1].into()))
                        }),
                    ),
                    (
                        "serial",
                        Box::new(|p| p.serial_number = Some(rcgen::SerialNumber::from(7u64))),
                    ),
                    (
                        "notAfter",
                        Box::new(|p| p.not_after += Duration::seconds(1)),
                    ),
                    (
                        "no AKI",
                        Box::new(|p| p.use_authority_key_identifier_extension = false),
                    ),
                ];
                if profile.crl_distribution_point {
                    deviations.push((
                        "other CRL",
                        Box::new(|p| {
                            p.crl_distribution_points[0].uris = vec!["http://x.example/c".into()]
                        }),
                    ));
                    deviations.push(("no CRL DP", Box::new(|p| p.crl_distribution_points.clear())));
                } else {
                    deviations.push((
                        "a CRL DP",
                        Box::new(|p| {
                            p.crl_distribution_points = vec![rcgen::CrlDistributionPoint {
                                uris: vec!["http://ca.example.com/0.crl".into()],
                            }]
                        }),
                    ));
                }
                for (what, edit) in deviations {
                    let err = lint_with(&*edit).unwrap_err();
                    assert!(
                        matches!(err, PkiError::Lint { .. }),
                        "{case}: {what}: {err:?}"
                    );
                }

                // A request one second longer than the profile allows.
                let too_long = LeafRequest {
                    not_after: request.not_after + Duration::seconds(1),
                    ..request
                };
                let err =
                    build_and_lint(issuer, profile, profile, &too_long, key, &|_| {}).unwrap_err();
                assert!(
                    matches!(
                        err,
                        PkiError::Lint {
                            check: "validity",
                            ..
                        }
                    ),
                    "{case}: {err:?}"
                );
            }
        }

        // A certificate of one profile does not pass as one of another where they differ.
        for (built, linted, check) in [
            (&tls_server, &shortlived, "validity"),
            (&shortlived, &nocrl, "cRLDistributionPoints"),
            (&nocrl, &shortlived, "extensions"),
            (&nocrl, &tls_server, "extensions"),
        ] {
            let err = build_and_lint(
                issuer,
                built,
                linted,
                &request_for(built),
                &keys[0],
                &|_| {},
            )
            .unwrap_err();
            assert!(
                matches!(err, PkiError::Lint { check: c, .. } if c == check),
                "{} as {}: {err:?}",
                built.name,
                linted.name
            );
        }
        // The lint holds the Baseline Requirements' line itself: a profile that skipped
        // validation does not get a long certificate without a CRL DP past it.
        let mut unchecked = nocrl.clone();
        unchecked.validity_seconds = 30 * 86_400;
        let err = build_and_lint(
            issuer,
            &unchecked,
            &unchecked,
            &request_for(&unchecked),
            &keys[0],
            &|_| {},
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                PkiError::Lint {
                    check: "cRLDistributionPoints",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    /// What is signed must verify under the intermediate; the lint's own certificate, and one
    /// signed by another key, do not.
    #[test]
    fn a_signed_certificate_must_verify_under_the_intermediate() {
        for intermediate in [INTERMEDIATE_KEY_TYPE, RSA_INTERMEDIATE_KEY_TYPE] {
            let (_tmp, bundle) = ca_with(intermediate);
            a_signed_certificate_must_verify_under(&bundle.issuer);
        }
    }

    /// [`a_signed_certificate_must_verify_under_the_intermediate`] for `issuer`.
    fn a_signed_certificate_must_verify_under(issuer: &Issuer) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let spki = key.subject_public_key_info();
        let public_key = rcgen::SubjectPublicKeyInfo::from_der(&spki).unwrap();
        let names = vec!["a.example.com".to_string()];
        let now = whole_seconds(OffsetDateTime::now_utc());
        let request = LeafRequest {
            dns_names: &names,
            ips: &[],
            not_before: now,
            not_after: now + Duration::days(90),
        };
        let profile = Profile::tls_server();
        let params = |serial: &[u8]| {
            let crl_url = issuer.crl_url(Some(crate::crl_shard_of(serial, 16)));
            params::leaf(
                &profile,
                &request,
                &kind(&spki),
                serial,
                &issuer.urls,
                &crl_url,
            )
            .unwrap()
        };
        let leaf = params(&random_serial().unwrap());
        let linted = leaf.signed_by(&public_key, &issuer.lint_signer).unwrap();
        let sign = |placeholder: &rcgen::Certificate| {
            replace_signature(placeholder.der(), issuer.key(), "test").unwrap()
        };
        let signed = sign(&linted);
        let check = |signed: &[u8]| issuer.check_signature(signed, "test");
        check(&signed).unwrap();

        let unsigned = check(linted.der()).unwrap_err();
        assert!(matches!(unsigned, PkiError::Signing { .. }), "{unsigned:?}");
        // Another key of the same kind, under the intermediate's name.
        let stranger = rcgen::Issuer::from_ca_cert_der(
            &issuer.intermediate_der().into(),
            params::generate_key(issuer.key().algorithm().rcgen()).unwrap(),
        )
        .unwrap();
        let forged = leaf.signed_by(&public_key, &stranger).unwrap();
        let err = check(forged.der()).unwrap_err();
        assert!(matches!(err, PkiError::Signing { .. }), "{err:?}");
    }

    #[test]
    fn issuer_refuses_a_key_of_another_certificate() {
        let (_tmp, bundle) = ca();
        let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let err = Issuer::new(
            bundle.issuer.intermediate_pem(),
            &other.serialize_pem(),
            bundle.issuer.urls().clone(),
        )
        .unwrap_err();
        assert!(matches!(err, PkiError::InvalidCaFile { .. }), "{err:?}");
        assert!(!format!("{err:?} {err}").contains("PRIVATE KEY"));
    }

    /// A leaf of a profile over `key` for `names`, valid for 90 days from now.
    fn request(key: &rcgen::KeyPair, names: &[&str]) -> IssueRequest {
        let now = OffsetDateTime::now_utc();
        IssueRequest {
            spki_der: key.subject_public_key_info(),
            dns_names: names.iter().map(|n| (*n).to_owned()).collect(),
            not_before: now,
            not_after: now + Duration::days(90),
        }
    }

    /// The lint holds a leaf to the intermediate key's signature algorithm, encoded as the
    /// Baseline Requirements §7.1.3.2.1 list it: a leaf signed with another algorithm, or
    /// sha256WithRSAEncryption without its NULL parameters, is refused before anything is
    /// signed.
    #[test]
    fn the_lint_wants_the_intermediate_keys_signature_algorithm() {
        let (_ecdsa_tmp, ecdsa) = ca_with(INTERMEDIATE_KEY_TYPE);
        let (_rsa_tmp, rsa) = ca_with(RSA_INTERMEDIATE_KEY_TYPE);
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let spki = key.subject_public_key_info();
        let public_key = rcgen::SubjectPublicKeyInfo::from_der(&spki).unwrap();
        let names = vec!["a.example.com".to_string()];
        let now = whole_seconds(OffsetDateTime::now_utc());
        let request = LeafRequest {
            dns_names: &names,
            ips: &[],
            not_before: now,
            not_after: now + Duration::days(90),
        };
        let profile = Profile::tls_server();
        let serial = random_serial().unwrap();
        let lint = |issuer: &Issuer, der: &[u8]| {
            let crl_url = issuer.crl_url(Some(crate::crl_shard_of(&serial, 16)));
            lint::check_leaf(
                der,
                &Expected {
                    profile: &profile,
                    request: &request,
                    serial: &serial,
                    spki_der: &spki,
                    urls: &issuer.urls,
                    crl_url: &crl_url,
                    issuer: &issuer.facts,
                    ct: CtExtension::None,
                },
            )
        };
        let built = |issuer: &Issuer, signer: &dyn Fn(&rcgen::CertificateParams) -> Vec<u8>| {
            let crl_url = issuer.crl_url(Some(crate::crl_shard_of(&serial, 16)));
            let params = params::leaf(
                &profile,
                &request,
                &kind(&spki),
                &serial,
                &issuer.urls,
                &crl_url,
            )
            .unwrap();
            signer(&params)
        };
        for (issuer, other) in [(&ecdsa.issuer, &rsa.issuer), (&rsa.issuer, &ecdsa.issuer)] {
            let own = built(issuer, &|p| {
                p.signed_by(&public_key, &issuer.lint_signer)
                    .unwrap()
                    .der()
                    .to_vec()
            });
            lint(issuer, &own).unwrap();
            // The same certificate, but built with the other intermediate key's algorithm.
            let stranger = rcgen::Issuer::from_ca_cert_der(
                &issuer.intermediate_der().into(),
                params::generate_key(other.key().algorithm().rcgen()).unwrap(),
            )
            .unwrap();
            let foreign = built(issuer, &|p| {
                p.signed_by(&public_key, &stranger).unwrap().der().to_vec()
            });
            let err = lint(issuer, &foreign).unwrap_err();
            assert!(
                matches!(
                    err,
                    PkiError::Lint {
                        check: "signature",
                        ..
                    }
                ),
                "{}: {err:?}",
                issuer.key().algorithm()
            );
        }

        // sha256WithRSAEncryption with its parameters left out, in the TBS and outside.
        let own = built(&rsa.issuer, &|p| {
            p.signed_by(&public_key, &rsa.issuer.lint_signer)
                .unwrap()
                .der()
                .to_vec()
        });
        let parts = certificate_parts(&own).unwrap();
        assert_eq!(parts.signature_algorithm, SHA256_WITH_RSA_NULL);
        let without_null = der::sequence(&SHA256_WITH_RSA_NULL[2..13]);
        let tbs = parts.tbs;
        // A TBS of 256 to 65535 octets: a four-octet header, then the fields.
        assert_eq!(tbs[..2], [0x30, 0x82]);
        let at = tbs
            .windows(SHA256_WITH_RSA_NULL.len())
            .position(|w| w == SHA256_WITH_RSA_NULL)
            .unwrap();
        let fields = [&tbs[4..at], &without_null[..], &tbs[at + 15..]].concat();
        let bare = der::signed(&der::sequence(&fields), &without_null, parts.signature);
        let err = lint(&rsa.issuer, &bare).unwrap_err();
        assert!(
            matches!(
                err,
                PkiError::Lint {
                    check: "signature",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    /// An intermediate with an RSA 2048 key, under the ECDSA P-384 root: the CA directory
    /// loads again with it; its subscriber certificates, precertificates, the ACME listener's
    /// certificate and CRLs carry sha256WithRSAEncryption with NULL parameters and verify under
    /// it (aws-lc-rs, x509-parser, and `openssl verify`, which also finds the revoked leaf in
    /// the CRL).
    #[test]
    fn an_rsa_intermediate_signs_certificates_precertificates_and_crls() {
        let (tmp, bundle) = ca_with(RSA_INTERMEDIATE_KEY_TYPE);
        let issuer = &bundle.issuer;
        assert_eq!(issuer.key().algorithm(), CaKeyAlgorithm::RsaSha256);
        let (_, intermediate) =
            x509_parser::parse_x509_certificate(issuer.intermediate_der()).unwrap();
        assert_eq!(
            kind(intermediate.public_key().raw),
            KeyKind::Rsa {
                bits: 2048,
                exponent_is_65537: true
            }
        );
        // The root's signature over it: ecdsa-with-SHA384.
        assert_eq!(
            intermediate.signature_algorithm.algorithm.to_id_string(),
            "1.2.840.10045.4.3.3"
        );
        let intermediate_key = intermediate.public_key().subject_public_key.data.to_vec();
        let verifier = aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            &intermediate_key,
        );
        let signed_by_intermediate = |der: &[u8], what: &str| {
            let parts = certificate_parts(der).unwrap();
            assert_eq!(parts.signature_algorithm, SHA256_WITH_RSA_NULL, "{what}");
            assert_eq!(
                der::tbs_signature_algorithm(parts.tbs),
                Some(&SHA256_WITH_RSA_NULL[..]),
                "{what}"
            );
            verifier
                .verify(parts.tbs, parts.signature)
                .unwrap_or_else(|_| panic!("{what}: the signature does not verify"));
        };

        // Loaded again from its files: the RSA key is read back from private/intermediate.key.
        let (again, created) =
            CaBundle::load_or_create(&tmp.path().join("ca"), &options()).unwrap();
        assert!(!created);
        assert_eq!(again.intermediate_pem, bundle.intermediate_pem);
        assert_eq!(again.issuer.key().algorithm(), CaKeyAlgorithm::RsaSha256);

        let listener = pem_certificates(&bundle.tls_chain_pem).unwrap();
        signed_by_intermediate(&listener[0], "the listener's certificate");

        let ecdsa_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let rsa_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
        let mut issued = Vec::new();
        for (key, name) in [
            (&ecdsa_key, "ec.example.com"),
            (&rsa_key, "rsa.example.com"),
        ] {
            let leaf = issuer.issue(&request(key, &[name])).unwrap();
            signed_by_intermediate(&leaf.der, name);
            let (_, cert) = x509_parser::parse_x509_certificate(&leaf.der).unwrap();
            assert_eq!(
                cert.signature_algorithm.algorithm.to_id_string(),
                "1.2.840.113549.1.1.11"
            );
            assert!(
                cert.signature_algorithm
                    .parameters
                    .as_ref()
                    .is_some_and(|p| p.tag() == x509_parser::der_parser::asn1_rs::Tag::Null
                        && p.data.is_empty()),
                "{:?}",
                cert.signature_algorithm.parameters
            );
            assert_eq!(
                crate::parse::signature_fault(&leaf.der, intermediate.public_key().raw),
                None
            );
            issued.push(leaf);
        }

        let precert = issuer
            .issue_precertificate(
                &Profile::tls_server(),
                &request(&ecdsa_key, &["ct.example.com"]),
            )
            .unwrap();
        signed_by_intermediate(&precert.der, "the precertificate");

        let now = whole_seconds(OffsetDateTime::now_utc());
        let revoked = &issued[0];
        let crl = issuer
            .sign_crl(
                Some(revoked.crl_shard),
                &[RevokedEntry {
                    serial_hex: revoked.serial_hex.clone(),
                    revoked_at: now,
                    reason: 1,
                }],
                7,
                now,
                now + Duration::days(1),
            )
            .unwrap();
        signed_by_intermediate(&crl, "the CRL");
        let (_, parsed) =
            x509_parser::revocation_list::CertificateRevocationList::from_der(&crl).unwrap();
        parsed.verify_signature(intermediate.public_key()).unwrap();
        assert_eq!(parsed.iter_revoked_certificates().count(), 1);

        // openssl: the chain verifies up to the root, and with the CRL the leaf is revoked.
        let scratch = tmp.path();
        let write = |name: &str, content: &str| {
            let path = scratch.join(name);
            std::fs::write(&path, content).unwrap();
            path
        };
        let root = write("root.pem", &bundle.root_pem);
        let untrusted = write("intermediate.pem", &bundle.intermediate_pem);
        let crl_pem = write(
            "crl.pem",
            &format!(
                "-----BEGIN X509 CRL-----\n{}\n-----END X509 CRL-----\n",
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &crl)
            ),
        );
        let openssl_verify = |leaf: &IssuedCertificate, crl: bool| {
            let leaf_path = write("leaf.pem", &certificate_pem(&leaf.der));
            let mut command = std::process::Command::new("openssl");
            command
                .args(["verify", "-purpose", "sslserver", "-CAfile"])
                .arg(&root)
                .arg("-untrusted")
                .arg(&untrusted);
            if crl {
                command.args(["-crl_check", "-CRLfile"]).arg(&crl_pem);
            }
            let out = command.arg(&leaf_path).output().expect("openssl");
            (
                out.status.success(),
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
            )
        };
        for leaf in &issued {
            let (ok, out) = openssl_verify(leaf, false);
            assert!(ok && out.contains(": OK"), "{out}");
        }
        let (ok, out) = openssl_verify(revoked, true);
        assert!(!ok && out.contains("certificate revoked"), "{out}");
    }
}
