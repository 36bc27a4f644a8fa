//! The CA's certificates made with keys wherever they are: the self-signed root, the
//! intermediate signed by it ([`make_root`], [`make_intermediate`]), used both by the quick
//! start's file keys ([`CaBundle::load_or_create`](crate::CaBundle::load_or_create)) and by
//! the key ceremony in a token ([`init_in_token`]), which writes certificates only and returns
//! a [`CeremonyRecord`] to keep with the CA's records.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use rcgen::CertificateParams;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::bundle::is_intermediate_name;
use crate::issuer::PRIMARY_ISSUER_NAME;
use crate::issuer::{certificate_pem, pem_certificates};
use crate::params::{self, whole_seconds};
use crate::parse::signature_fault;
use crate::pkcs11::{Pkcs11Key, Token};
use crate::serial::{random_serial, to_hex};
use crate::signer::{
    CaKeyAlgorithm, CaKeyType, CaSigner, PlaceholderKey, raw_public_key, replace_signature,
};
use crate::{CaOptions, PkiError};

/// The root certificate's file name in the CA directory.
pub(crate) const ROOT_CERT: &str = "root.pem";
/// The intermediate certificate's file name in the CA directory.
pub(crate) const INTERMEDIATE_CERT: &str = "intermediate.pem";

/// The root key's type: ECDSA P-384, as Let's Encrypt's ISRG Root X2.
pub const ROOT_KEY_TYPE: CaKeyType = CaKeyType::EcdsaP384;
/// The issuing intermediate key's type when a CA is created or a ceremony held: ECDSA P-256
/// (ecdsa-with-SHA256 leaves).
pub const INTERMEDIATE_KEY_TYPE: CaKeyType = CaKeyType::EcdsaP256;
/// The type of an RSA issuing intermediate's key: RSA 2048, signing the leaves of subscriber
/// RSA keys with sha256WithRSAEncryption. It sits under the ECDSA P-384 root like the ECDSA
/// intermediate (its own signature is the root's ECDSA one).
pub const RSA_INTERMEDIATE_KEY_TYPE: CaKeyType = CaKeyType::Rsa2048;
/// The root key's algorithm, [`ROOT_KEY_TYPE`]'s.
pub const ROOT_KEY_ALGORITHM: CaKeyAlgorithm = ROOT_KEY_TYPE.algorithm();
/// The issuing intermediate key's algorithm, [`INTERMEDIATE_KEY_TYPE`]'s.
pub const INTERMEDIATE_KEY_ALGORITHM: CaKeyAlgorithm = INTERMEDIATE_KEY_TYPE.algorithm();

/// The name of the RSA intermediate a new CA gets beside the primary (ECDSA) one.
pub const RSA_INTERMEDIATE_NAME: &str = "intermediate-rsa";

/// An issuing intermediate to make: its name (what its file and `ca.active` are called:
/// [`PRIMARY_ISSUER_NAME`] for `intermediate.pem`, else `intermediate-NAME`) and its key's
/// type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIntermediate {
    /// [`PRIMARY_ISSUER_NAME`] or a name [`is_intermediate_name`] accepts.
    pub name: String,
    /// Its key's type.
    pub key_type: CaKeyType,
}

impl NewIntermediate {
    /// What a new CA gets: the primary intermediate, ECDSA P-256, and `intermediate-rsa`,
    /// RSA 2048, both under the one root; a subscriber's ECDSA key gets the first's chain,
    /// an RSA key the second's (as Let's Encrypt does).
    pub fn defaults() -> Vec<NewIntermediate> {
        vec![
            NewIntermediate {
                name: PRIMARY_ISSUER_NAME.to_owned(),
                key_type: INTERMEDIATE_KEY_TYPE,
            },
            NewIntermediate {
                name: RSA_INTERMEDIATE_NAME.to_owned(),
                key_type: RSA_INTERMEDIATE_KEY_TYPE,
            },
        ]
    }

    /// Its certificate's file in the CA directory.
    pub(crate) fn cert_file(&self) -> String {
        crate::bundle::intermediate_file(&self.name)
    }

    /// Its key's file in the CA directory (with keys in files).
    pub(crate) fn key_file(&self) -> String {
        crate::bundle::intermediate_key_file(&self.name)
    }

    /// `opts` for this intermediate of the CA `ca_id`: the primary gets the configured (or
    /// default) commonName; another one that name followed by its own name's suffix
    /// ("Ferrite Issuing CA 1a2b3c RSA"), so that no two intermediates share a subject.
    pub(crate) fn options(&self, opts: &CaOptions, ca_id: &str) -> Result<CaOptions, PkiError> {
        if self.name == PRIMARY_ISSUER_NAME {
            return Ok(opts.clone());
        }
        if !is_intermediate_name(&self.name) {
            return Err(PkiError::InvalidCaFile {
                path: self.cert_file().into(),
                reason: format!(
                    "{:?} is not an intermediate's name: \"intermediate-\" followed by 1 to 32 lower-case letters, digits and '-'",
                    self.name
                ),
            });
        }
        let base = opts
            .intermediate_common_name
            .clone()
            .unwrap_or_else(|| format!("{} Issuing CA {ca_id}", opts.organization));
        let suffix = self
            .name
            .strip_prefix("intermediate-")
            .unwrap_or(&self.name)
            .to_ascii_uppercase();
        let mut named = opts.clone();
        named.intermediate_common_name = Some(format!("{base} {suffix}"));
        Ok(named)
    }
}

/// A CA certificate made by [`make_root`] or [`make_intermediate`], with the parameters it
/// was built from (to sign under it).
pub(crate) struct MadeCertificate {
    pub(crate) params: CertificateParams,
    pub(crate) der: Vec<u8>,
}

/// A short random id for the CA names and key labels, so that two installations never share
/// a subject name (which would confuse path building in clients that trust both).
pub(crate) fn new_ca_id() -> Result<String, PkiError> {
    Ok(to_hex(&random_serial()?[..3]))
}

/// The self-signed root over `key` (Baseline Requirements §7.1.2.1), its self-signature checked.
pub(crate) fn make_root(
    opts: &CaOptions,
    key: &dyn CaSigner,
    ca_id: &str,
    now: OffsetDateTime,
) -> Result<MadeCertificate, PkiError> {
    let raw = raw_public_key(key.public_key_der())?;
    let params = params::root(opts, &raw, ca_id, now, &random_serial()?)?;
    let placeholder =
        params
            .self_signed(&PlaceholderKey::of(key)?)
            .map_err(|e| PkiError::Signing {
                action: "building the root",
                detail: e.to_string(),
            })?;
    let der = replace_signature(placeholder.der(), key, "self-signing the root")?;
    check_signature(&der, key.public_key_der(), "the root's self-signature")?;
    Ok(MadeCertificate { params, der })
}

/// The issuing intermediate over `key`, signed by `root_key` under `root` (the root's
/// parameters, or an rcgen issuer read from its certificate); the signature checked.
pub(crate) fn make_intermediate(
    opts: &CaOptions,
    key: &dyn CaSigner,
    root: &rcgen::Issuer<'_, PlaceholderKey>,
    root_key: &dyn CaSigner,
    ca_id: &str,
    now: OffsetDateTime,
) -> Result<MadeCertificate, PkiError> {
    let raw = raw_public_key(key.public_key_der())?;
    let params = params::intermediate(opts, &raw, ca_id, now, &random_serial()?)?;
    let placeholder = params
        .signed_by(&PlaceholderKey::of(key)?, root)
        .map_err(|e| PkiError::Signing {
            action: "building the intermediate",
            detail: e.to_string(),
        })?;
    let der = replace_signature(placeholder.der(), root_key, "signing the intermediate")?;
    check_signature(
        &der,
        root_key.public_key_der(),
        "the intermediate's signature",
    )?;
    Ok(MadeCertificate { params, der })
}

/// Checks that `der` (a certificate) verifies under the key `spki_der`.
fn check_signature(der: &[u8], spki_der: &[u8], what: &'static str) -> Result<(), PkiError> {
    match signature_fault(der, spki_der) {
        None => Ok(()),
        Some(fault) => Err(PkiError::Signing {
            action: "checking a new CA certificate",
            detail: format!("{what}: {fault} (nothing was written)"),
        }),
    }
}

/// What a key ceremony makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ceremony {
    /// A root and an intermediate signed by it, both keys in the token.
    RootAndIntermediate,
    /// A root only (on an offline machine); its certificate is then taken to the machines
    /// that make intermediates under it.
    RootOnly,
    /// An intermediate under an existing root (its certificate, PEM), whose key is in the
    /// token.
    IntermediateFrom {
        /// The root certificate, PEM.
        root_pem: String,
        /// Where it was read from (for messages and the record).
        root_path: PathBuf,
    },
}

/// The record of a key ceremony: what was made, when, the keys (where, which id, how
/// protected) and the certificates' SHA-256 fingerprints. Kept with the CA's records; it holds
/// no secret.
#[derive(Debug, Clone, Serialize)]
pub struct CeremonyRecord {
    /// "root and intermediate", "root only" or "intermediate under an existing root".
    pub ceremony: String,
    /// When it ended (RFC 3339, UTC).
    pub at: String,
    /// The PKCS#11 module.
    pub module: String,
    /// The token's label.
    pub token: String,
    /// The token's manufacturer, model and serial number.
    pub token_description: String,
    /// The keys generated (and the existing root key used, for an intermediate).
    pub keys: Vec<RecordKey>,
    /// The certificates written.
    pub certificates: Vec<RecordCertificate>,
}

/// A key in a [`CeremonyRecord`].
#[derive(Debug, Clone, Serialize)]
pub struct RecordKey {
    /// "root", or the intermediate's name ("intermediate", "intermediate-rsa", …).
    pub role: String,
    /// The label of the token holding it.
    pub token: String,
    /// Whether this ceremony generated it (else it was found in the token).
    pub generated: bool,
    /// The key object's CKA_LABEL.
    pub label: String,
    /// The key object's CKA_ID, hex (the certificate's subjectKeyIdentifier).
    pub id: String,
    /// "ECDSA P-384 with SHA-384", "ECDSA P-256 with SHA-256" or "RSA with SHA-256"
    /// ([`CaKeyAlgorithm`]'s display).
    pub algorithm: String,
    /// CKA_SENSITIVE.
    pub sensitive: bool,
    /// CKA_EXTRACTABLE.
    pub extractable: bool,
    /// CKA_NEVER_EXTRACTABLE.
    pub never_extractable: bool,
}

/// A certificate in a [`CeremonyRecord`].
#[derive(Debug, Clone, Serialize)]
pub struct RecordCertificate {
    /// "root", or the intermediate's name ("intermediate", "intermediate-rsa", …).
    pub role: String,
    /// The file it was written to.
    pub file: String,
    /// Its subject, as openssl prints it.
    pub subject: String,
    /// Its serial, hex.
    pub serial: String,
    /// notBefore, RFC 3339.
    pub not_before: String,
    /// notAfter, RFC 3339.
    pub not_after: String,
    /// SHA-256 of its DER, upper-case hex with colons (as `openssl x509 -fingerprint -sha256`).
    pub sha256: String,
}

/// The SHA-256 fingerprint of a DER certificate as openssl prints it (`AB:CD:…`).
pub fn sha256_fingerprint(der: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

fn record_key(role: &str, key: &Pkcs11Key, generated: bool) -> Result<RecordKey, PkiError> {
    let protection = key.protection()?;
    Ok(RecordKey {
        role: role.to_owned(),
        token: key.token().label().to_owned(),
        generated,
        label: key.label().to_owned(),
        id: crate::weak_keys::hex(key.id()),
        algorithm: key.algorithm().to_string(),
        sensitive: protection.sensitive,
        extractable: protection.extractable,
        never_extractable: protection.never_extractable,
    })
}

fn record_certificate(role: &str, file: &Path, der: &[u8]) -> Result<RecordCertificate, PkiError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| PkiError::Signing {
        action: "recording a certificate",
        detail: format!("does not parse: {e}"),
    })?;
    Ok(RecordCertificate {
        role: role.to_owned(),
        file: file.display().to_string(),
        subject: cert.subject().to_string(),
        serial: to_hex(cert.raw_serial()),
        not_before: rfc3339(cert.validity().not_before.to_datetime()),
        not_after: rfc3339(cert.validity().not_after.to_datetime()),
        sha256: sha256_fingerprint(der),
    })
}

/// A key ceremony in `token`: generates the keys the [`Ceremony`] names in the token
/// (sensitive, never extractable) — the root's, and, unless it is [`Ceremony::RootOnly`],
/// those of `intermediates` ([`NewIntermediate::defaults`] for a new CA: an ECDSA and an RSA
/// one) — makes their certificates, and writes the certificates, never a key, to `dir`
/// (`root.pem`, `intermediate.pem`, `intermediate-NAME.pem`; readable by every user), where
/// `ferrite serve` reads them. For [`Ceremony::IntermediateFrom`], the root key is looked for
/// in `root_token` when given (a token kept offline), else in `token`: that is how an
/// intermediate is added beside the ones a CA has (a rotation). Refuses to overwrite a
/// certificate: a new CA goes in a new directory, a new intermediate gets a new name.
pub fn init_in_token(
    dir: &Path,
    opts: &CaOptions,
    token: &Token,
    root_token: Option<&Token>,
    ceremony: &Ceremony,
    intermediates: &[NewIntermediate],
) -> Result<CeremonyRecord, PkiError> {
    opts.validate()?;
    let root_path = dir.join(ROOT_CERT);
    let intermediates = match ceremony {
        Ceremony::RootOnly => &[][..],
        _ => intermediates,
    };
    if *ceremony != Ceremony::RootOnly && intermediates.is_empty() {
        return Err(PkiError::InvalidCaFile {
            path: dir.join(INTERMEDIATE_CERT),
            reason: "the ceremony names no intermediate to make".into(),
        });
    }
    let exists = |path: &Path| path.try_exists().unwrap_or(true);
    let refuse = |path: &Path| {
        PkiError::InvalidCaFile {
        path: path.to_owned(),
        reason: "exists already; a ceremony never replaces a CA certificate: use an empty data_dir (or move data_dir/ca away)".into(),
    }
    };
    match ceremony {
        Ceremony::RootAndIntermediate | Ceremony::RootOnly if exists(&root_path) => {
            return Err(refuse(&root_path));
        }
        _ => {}
    }
    let mut intermediate_paths = Vec::with_capacity(intermediates.len());
    for new in intermediates {
        let path = dir.join(new.cert_file());
        if exists(&path) {
            return Err(refuse(&path));
        }
        intermediate_paths.push(path);
    }
    let now = whole_seconds(OffsetDateTime::now_utc());
    let ca_id = new_ca_id()?;
    // Every name checked before a key is made: a refused one leaves nothing in the token.
    for new in intermediates {
        new.options(opts, &ca_id)?;
    }
    let mut keys = Vec::new();
    let mut files: Vec<(String, &Path, Vec<u8>)> = Vec::new();

    let (root_key, root_issuer) = match ceremony {
        Ceremony::RootAndIntermediate | Ceremony::RootOnly => {
            let key = token.generate_key(ROOT_KEY_TYPE, &format!("ferrite-root-{ca_id}"))?;
            let root = make_root(opts, &key, &ca_id, now)?;
            keys.push(record_key("root", &key, true)?);
            let issuer = rcgen::Issuer::new(root.params, PlaceholderKey::of(&key)?);
            files.push(("root".into(), &root_path, root.der));
            (key, issuer)
        }
        Ceremony::IntermediateFrom {
            root_pem,
            root_path: from,
        } => {
            let invalid = |reason: String| PkiError::InvalidCaFile {
                path: from.clone(),
                reason,
            };
            let ders = pem_certificates(root_pem).map_err(invalid)?;
            let [der] = &ders[..] else {
                return Err(invalid(
                    "must hold exactly one certificate, the root".into(),
                ));
            };
            let (_, cert) = x509_parser::parse_x509_certificate(der)
                .map_err(|e| invalid(format!("does not parse: {e}")))?;
            if !cert.is_ca() || cert.subject() != cert.issuer() {
                return Err(invalid("is not a self-signed CA certificate".into()));
            }
            let key = root_token
                .unwrap_or(token)
                .find_key(cert.public_key().raw, &from.display().to_string())?;
            let issuer =
                rcgen::Issuer::from_ca_cert_der(&der.as_slice().into(), PlaceholderKey::of(&key)?)
                    .map_err(|e| invalid(format!("rcgen cannot use it: {e}")))?;
            keys.push(record_key("root", &key, false)?);
            if exists(&root_path) {
                let present = fs::read_to_string(&root_path).map_err(|source| PkiError::Io {
                    action: "read",
                    path: root_path.clone(),
                    source,
                })?;
                if pem_certificates(&present).ok().as_deref() != Some(&ders[..]) {
                    return Err(PkiError::InvalidCaFile {
                        path: root_path.clone(),
                        reason: format!(
                            "holds another root than {}; use the data_dir of this root",
                            from.display()
                        ),
                    });
                }
            } else {
                files.push(("root".into(), &root_path, der.clone()));
            }
            (key, issuer)
        }
    };
    for (new, path) in intermediates.iter().zip(&intermediate_paths) {
        let key = token.generate_key(new.key_type, &format!("ferrite-{}-{ca_id}", new.name))?;
        let intermediate = make_intermediate(
            &new.options(opts, &ca_id)?,
            &key,
            &root_issuer,
            &root_key,
            &ca_id,
            now,
        )?;
        keys.push(record_key(&new.name, &key, true)?);
        files.push((new.name.clone(), path, intermediate.der));
    }

    crate::bundle::create_dir(dir, 0o755)?;
    let mut certificates = Vec::new();
    for (role, path, der) in &files {
        write_certificate(path, der)?;
        certificates.push(record_certificate(role, path, der)?);
    }
    Ok(CeremonyRecord {
        ceremony: match ceremony {
            Ceremony::RootAndIntermediate => "root and intermediate",
            Ceremony::RootOnly => "root only",
            Ceremony::IntermediateFrom { .. } => "intermediate under an existing root",
        }
        .to_owned(),
        at: rfc3339(OffsetDateTime::now_utc()),
        module: token.module().display().to_string(),
        token: token.label().to_owned(),
        token_description: token.description().to_owned(),
        keys,
        certificates,
    })
}

/// Writes a certificate (PEM, 0644) that must not exist yet, durably.
fn write_certificate(path: &Path, der: &[u8]) -> Result<(), PkiError> {
    let io = |action: &'static str| {
        move |source| PkiError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o644);
    }
    let mut f = options.open(path).map_err(io("create"))?;
    // The mode set explicitly: Ferrite's umask (077) would cut the 0644 asked for at open,
    // and clients and web servers must read the CA certificates.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(fs::Permissions::from_mode(0o644))
            .map_err(io("chmod"))?;
    }
    f.write_all(certificate_pem(der).as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(io("write"))
}
