//! [`CaBundle`]: the CA data directory. Created once, then only ever read.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{KeyPair, PublicKeyData};
use time::{Duration, OffsetDateTime};

use crate::ceremony::{
    INTERMEDIATE_CERT, NewIntermediate, ROOT_CERT, ROOT_KEY_TYPE, make_intermediate, make_root,
    new_ca_id, sha256_fingerprint,
};
use crate::issuer::{LeafRequest, certificate_pem, pem_certificates};
use crate::params::{self, whole_seconds};
use crate::parse::signature_fault;
use crate::pkcs11::Token;
use crate::signer::{CaSigner, FileKey, PlaceholderKey, generate_file_key};
use crate::{CaOptions, Issuer, PkiError, Profile, SecretPem};

const ROOT_KEY: &str = "private/root.key";
const INTERMEDIATE_KEY: &str = "private/intermediate.key";
const TLS_CERT: &str = "tls.pem";
const TLS_KEY: &str = "private/tls.key";

/// The directory of the private keys, inside the CA directory.
const PRIVATE_DIR: &str = "private";

/// Files that must be present to load. `root.key` is not: it is only used at creation, so an
/// operator may move it offline. Nor are the listener's `tls.pem` and `tls.key`: they are
/// issued again whenever they are missing or unfit ([`listener_fault`]).
const REQUIRED: [&str; 3] = [ROOT_CERT, INTERMEDIATE_CERT, INTERMEDIATE_KEY];

/// The self-issued listener certificate is issued again when it has less than this left
/// (at start, and by the server's periodic check): a year-long certificate renewed a month
/// before its end, so a failing renewal has weeks of warnings before clients see it.
pub const LISTENER_RENEW_BEFORE: Duration = Duration::days(30);

/// The CA's certificates and the keys the server needs: the intermediate (inside
/// [`Issuer`]) and the ACME listener's TLS key. The root key is never loaded.
#[derive(Debug)]
pub struct CaBundle {
    /// The root certificate, PEM: what ACME clients must trust.
    pub root_pem: String,
    /// The intermediate certificate, PEM.
    pub intermediate_pem: String,
    /// The ACME listener's certificate chain, PEM: leaf (issued by the intermediate), then the
    /// intermediate.
    pub tls_chain_pem: String,
    /// The ACME listener's private key, PKCS#8 PEM.
    pub tls_key: SecretPem,
    /// The ACME listener certificate's notAfter.
    pub tls_not_after: OffsetDateTime,
    /// The primary intermediate (`intermediate.pem`): signs subscriber certificates and
    /// CRLs, and the ACME listener's certificate.
    pub issuer: Issuer,
    /// The other intermediates of the directory (`intermediate-NAME.pem`, by name): another
    /// key type (the RSA one), or a newer intermediate of a rotation. Which of them issue is
    /// the server's choice (`ca.active`).
    pub others: Vec<Issuer>,
}

/// The certificate file of the intermediate `name` in the CA directory: `NAME.pem`
/// (`intermediate.pem`, `intermediate-rsa.pem`, …).
pub fn intermediate_file(name: &str) -> String {
    format!("{name}.pem")
}

/// The key file of the intermediate `name` in the CA directory, with `ca.keys = "files"`:
/// `private/NAME.key`.
pub fn intermediate_key_file(name: &str) -> String {
    format!("{PRIVATE_DIR}/{name}.key")
}

/// Whether `name` may name an intermediate besides the primary: `intermediate-` followed by 1
/// to 32 lower-case letters, digits and `-`.
pub fn is_intermediate_name(name: &str) -> bool {
    name.strip_prefix("intermediate-").is_some_and(|rest| {
        (1..=32).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    })
}

/// The names of the intermediates in `dir` besides the primary (`intermediate-NAME.pem`),
/// sorted.
pub fn other_intermediates(dir: &Path) -> Result<Vec<String>, PkiError> {
    let mut names = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(names),
        Err(e) => return Err(io("list", dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io("list", dir))?;
        let file = entry.file_name().to_string_lossy().into_owned();
        if let Some(name) = file.strip_suffix(".pem")
            && is_intermediate_name(name)
        {
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// The AIA caIssuers URL of intermediate `name`: beside the primary's (`…/intermediate.der`
/// becomes `…/NAME.der`).
fn sibling_url(primary: &str, name: &str) -> String {
    match primary.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}.der"),
        None => format!("{name}.der"),
    }
}

/// Where the key of intermediate `name` is for [`load_others`].
enum OtherKeys<'a> {
    /// `private/NAME.key` in the CA directory.
    Files,
    /// In this token, found by the certificate's public key.
    Token(&'a Token),
}

/// The intermediates of `dir` besides the primary, each checked to be signed by the root
/// `root_der` and to have its key, with its AIA URL beside the primary's.
fn load_others(
    dir: &Path,
    root_der: &[u8],
    keys: OtherKeys<'_>,
    opts: &CaOptions,
) -> Result<Vec<Issuer>, PkiError> {
    let mut issuers = Vec::new();
    for name in other_intermediates(dir)? {
        let file = intermediate_file(&name);
        let (pem, ders) = read_chain(dir, &file)?;
        let [der] = &ders[..] else {
            return Err(invalid(dir, &file, "must hold exactly one certificate"));
        };
        check_signed_by(dir, &file, der, root_der)?;
        let key_file = intermediate_key_file(&name);
        let key: Arc<dyn CaSigner> = match keys {
            OtherKeys::Files => {
                let path = dir.join(&key_file);
                if !path.try_exists().map_err(io("inspect", &path))? {
                    return Err(invalid(
                        dir,
                        &file,
                        format!(
                            "its key {} is missing; put it there, or move {file} out of {} if this intermediate is no longer used",
                            path.display(),
                            dir.display()
                        ),
                    ));
                }
                Arc::new(FileKey::from_pem(&read(dir, &key_file)?, path)?)
            }
            OtherKeys::Token(token) => {
                let stray = dir.join(&key_file);
                if stray.try_exists().unwrap_or(false) {
                    tracing::warn!(path = %stray.display(), "a CA key file lies in the data directory but the keys are in the token (ca.keys = \"pkcs11\"); it is not used: move it offline or destroy it");
                }
                let (_, cert) = x509_parser::parse_x509_certificate(der)
                    .map_err(|e| invalid(dir, &file, format!("does not parse: {e}")))?;
                Arc::new(token.find_key(
                    cert.public_key().raw,
                    &dir.join(&file).display().to_string(),
                )?)
            }
        };
        let mut urls = opts.urls.clone();
        urls.ca_issuers = sibling_url(&opts.urls.ca_issuers, &name);
        let issuer = Issuer::with_signer(&pem, key, urls)
            .map_err(|e| match e {
                PkiError::InvalidCaFile { reason, .. } => invalid(dir, &file, reason),
                other => other,
            })?
            .with_name(&name);
        issuers.push(issuer);
    }
    Ok(issuers)
}

impl CaBundle {
    /// The SHA-256 fingerprint of the root certificate, as `openssl x509 -noout -fingerprint
    /// -sha256 -in FILE` prints it: with the intermediates' ([`sha256_fingerprint`] of
    /// [`Issuer::intermediate_der`]), what identifies this CA to the database several
    /// instances share.
    pub fn root_fingerprint(&self) -> Result<String, PkiError> {
        let root = pem_certificates(&self.root_pem)
            .ok()
            .and_then(|certs| certs.into_iter().next())
            .ok_or_else(|| PkiError::MalformedCertificate {
                detail: "root.pem holds no certificate".to_owned(),
            })?;
        Ok(sha256_fingerprint(&root))
    }

    /// The root certificate's path in `dir` (what clients are told to trust).
    pub fn root_path(dir: &Path) -> PathBuf {
        dir.join(ROOT_CERT)
    }

    /// First call: creates `dir` with the certificates `root.pem`, `intermediate.pem` and
    /// `tls.pem`, readable by every local user (directory 0755, files 0644: ACME clients
    /// running as another user, such as a web server's unprivileged worker, must read the
    /// root they trust), and `dir/private/` (0700) with the keys `root.key`,
    /// `intermediate.key` and `tls.key` (0600, PKCS#8 PEM). Later calls load the same files and
    /// regenerate no CA; `opts.urls` is used for what is issued from now on, the listener
    /// names (`opts.tls_dns_names`, `opts.tls_ips`) for the listener certificate, which is
    /// issued again when it is missing, does not name exactly those, is not the
    /// intermediate's, or expires within [`LISTENER_RENEW_BEFORE`]. The other options are
    /// used only at creation. Returns whether the CA was created.
    ///
    /// A directory with some but not all files is an error ([`PkiError::IncompleteDataDir`]),
    /// never a reason to generate a new CA. Keys found directly in `dir` are moved into
    /// `dir/private/` first.
    pub fn load_or_create(dir: &Path, opts: &CaOptions) -> Result<(CaBundle, bool), PkiError> {
        opts.urls.validate()?;
        move_keys_into_private_dir(dir)?;
        let mut missing = Vec::new();
        for name in REQUIRED.iter().chain([&ROOT_KEY]) {
            let path = dir.join(name);
            let exists = path.try_exists().map_err(io("inspect", &path))?;
            if !exists {
                missing.push((*name).to_owned());
            }
        }
        let all_required = !missing.iter().any(|m| REQUIRED.contains(&m.as_str()));
        if all_required {
            return Ok((load(dir, opts)?, false));
        }
        if missing.len() != REQUIRED.len() + 1 {
            return Err(PkiError::IncompleteDataDir {
                dir: dir.to_owned(),
                missing,
            });
        }
        opts.validate()?;
        let files = generate(dir, opts, &NewIntermediate::defaults())?;
        write_files(dir, &files, Placing::New)?;
        tracing::info!(dir = %dir.display(), "created a new CA");
        Ok((load(dir, opts)?, true))
    }

    /// Creates a CA in the empty `dir` as [`CaBundle::load_or_create`] does, but with an
    /// issuing intermediate key of `intermediate` (an RSA intermediate for the tests).
    #[cfg(test)]
    pub(crate) fn create_with_intermediate(
        dir: &Path,
        opts: &CaOptions,
        intermediate: crate::CaKeyType,
    ) -> Result<CaBundle, PkiError> {
        let files = generate(
            dir,
            opts,
            &[NewIntermediate {
                name: crate::PRIMARY_ISSUER_NAME.to_owned(),
                key_type: intermediate,
            }],
        )?;
        write_files(dir, &files, Placing::New)?;
        load(dir, opts)
    }

    /// Loads a CA whose keys are in `token` (made by a key ceremony,
    /// [`init_in_token`](crate::init_in_token)): the certificates `root.pem` and
    /// `intermediate.pem` from `dir`, the intermediate's key from the token (found by the
    /// certificate's subjectKeyIdentifier, and checked to sign for it). The root key is never
    /// looked for. The ACME listener's certificate and key (`tls.pem`, `private/tls.key`: a
    /// file, since it is not a CA key) are issued by the intermediate when they are missing or
    /// unfit, as [`CaBundle::load_or_create`] says. Returns whether the listener certificate
    /// was issued.
    pub fn load_with_token(
        dir: &Path,
        opts: &CaOptions,
        token: &Token,
    ) -> Result<(CaBundle, bool), PkiError> {
        opts.urls.validate()?;
        for name in [ROOT_CERT, INTERMEDIATE_CERT] {
            let path = dir.join(name);
            if !path.try_exists().map_err(io("inspect", &path))? {
                return Err(PkiError::CaNotInitialized {
                    dir: dir.to_owned(),
                    missing: name,
                });
            }
        }
        for name in [ROOT_KEY, INTERMEDIATE_KEY] {
            let path = dir.join(name);
            if path.try_exists().unwrap_or(false) {
                tracing::warn!(path = %path.display(), "a CA key file lies in the data directory but the keys are in the token (ca.keys = \"pkcs11\"); it is not used: move it offline or destroy it");
            }
        }
        let certs = read_ca_certificates(dir)?;
        let spki = {
            let (_, cert) = x509_parser::parse_x509_certificate(&certs.intermediate_der)
                .map_err(|e| invalid(dir, INTERMEDIATE_CERT, format!("does not parse: {e}")))?;
            cert.public_key().raw.to_vec()
        };
        let key = token.find_key(&spki, &dir.join(INTERMEDIATE_CERT).display().to_string())?;
        let issuer = issuer(dir, &certs, Arc::new(key), opts)?;
        let others = load_others(dir, &certs.root_der, OtherKeys::Token(token), opts)?;
        let (bundle, created) = with_listener(dir, certs, issuer, others, opts)?;
        Ok((bundle, created))
    }
}

/// Where the intermediate's key of an imported hierarchy is ([`CaBundle::import`]).
pub enum ImportedKey<'a> {
    /// In a PKCS#8 PEM file's content (ECDSA P-256 or P-384, or RSA of 2048 to 4096 bits):
    /// written to `private/intermediate.key` (0600), as a CA created by Ferrite keeps it.
    File(&'a SecretPem),
    /// In this token already (found by the intermediate certificate's public key, as
    /// [`CaBundle::load_with_token`] finds it); nothing but the certificates is written.
    Token(&'a Token),
}

impl CaBundle {
    /// Imports an existing hierarchy into the empty CA directory `dir`: the root certificate
    /// (`root_pem`, self-signed, a CA) and the issuing intermediate (`intermediate_pem`,
    /// signed by that root, within its validity, a CA certificate with a subjectKeyIdentifier
    /// and an ECDSA P-256/P-384 or RSA 2048–4096 key) whose key is `key`, checked to belong to
    /// it by signing with it. Writes `root.pem` and `intermediate.pem` (and the key file for [`ImportedKey::File`])
    /// as [`CaBundle::load_or_create`] would have, then loads the CA, issuing the ACME
    /// listener's certificate. The root key is neither asked for nor written: it stays with
    /// the operator, offline. Refuses a directory that already holds a CA.
    pub fn import(
        dir: &Path,
        opts: &CaOptions,
        root_pem: &str,
        intermediate_pem: &str,
        key: ImportedKey<'_>,
    ) -> Result<CaBundle, PkiError> {
        opts.urls.validate()?;
        for name in REQUIRED.iter().chain([&ROOT_KEY]) {
            let path = dir.join(name);
            if path.try_exists().map_err(io("inspect", &path))? {
                return Err(invalid(
                    dir,
                    name,
                    "the CA directory already holds a CA; import into a data directory without one (move this one away first if it is to be replaced)",
                ));
            }
        }
        let one = |name: &str, pem: &str| -> Result<Vec<u8>, PkiError> {
            match pem_certificates(pem)
                .map_err(|e| invalid(dir, name, e))?
                .as_slice()
            {
                [der] => Ok(der.clone()),
                ders => Err(invalid(
                    dir,
                    name,
                    format!(
                        "{} certificates given; give exactly one (the root alone, the intermediate alone)",
                        ders.len()
                    ),
                )),
            }
        };
        let root = one(ROOT_CERT, root_pem)?;
        let intermediate = one(INTERMEDIATE_CERT, intermediate_pem)?;
        let (_, parsed_root) = x509_parser::parse_x509_certificate(&root)
            .map_err(|e| invalid(dir, ROOT_CERT, format!("does not parse: {e}")))?;
        if !parsed_root.is_ca() || parsed_root.subject() != parsed_root.issuer() {
            return Err(invalid(
                dir,
                ROOT_CERT,
                "not a self-issued CA certificate; give the root of the hierarchy",
            ));
        }
        check_signed_by(dir, ROOT_CERT, &root, &root)?;
        check_signed_by(dir, INTERMEDIATE_CERT, &intermediate, &root)?;
        let (_, parsed) = x509_parser::parse_x509_certificate(&intermediate)
            .map_err(|e| invalid(dir, INTERMEDIATE_CERT, format!("does not parse: {e}")))?;
        let now = OffsetDateTime::now_utc();
        let (not_before, not_after) = (
            parsed.validity().not_before.to_datetime(),
            parsed.validity().not_after.to_datetime(),
        );
        if now < not_before || now >= not_after {
            return Err(invalid(
                dir,
                INTERMEDIATE_CERT,
                format!(
                    "valid from {not_before} to {not_after}, not now; import an intermediate that can issue today"
                ),
            ));
        }
        let intermediate_pem = certificate_pem(&intermediate);
        let mut files = vec![
            NewFile {
                name: ROOT_CERT.into(),
                content: certificate_pem(&root),
                secret: false,
            },
            NewFile {
                name: INTERMEDIATE_CERT.into(),
                content: intermediate_pem.clone(),
                secret: false,
            },
        ];
        // The key is checked against the certificate (Issuer::with_signer signs with it and
        // verifies) before anything is written.
        match key {
            ImportedKey::File(pem) => {
                let file_key = FileKey::from_pem(pem.expose(), dir.join(INTERMEDIATE_KEY))?;
                let content = file_key.to_pem().expose().to_owned();
                issuer_check(dir, &intermediate_pem, Arc::new(file_key), opts)?;
                files.push(NewFile {
                    name: INTERMEDIATE_KEY.into(),
                    content,
                    secret: true,
                });
            }
            ImportedKey::Token(token) => {
                let found = token.find_key(
                    parsed.public_key().raw,
                    &dir.join(INTERMEDIATE_CERT).display().to_string(),
                )?;
                issuer_check(dir, &intermediate_pem, Arc::new(found), opts)?;
            }
        }
        write_files(dir, &files, Placing::New)?;
        tracing::info!(dir = %dir.display(), "imported a CA");
        Ok(match key {
            ImportedKey::File(_) => CaBundle::load_or_create(dir, opts)?.0,
            ImportedKey::Token(token) => CaBundle::load_with_token(dir, opts, token)?.0,
        })
    }
}

/// Builds the issuer of `intermediate_pem` with `key` to check that they belong together.
fn issuer_check(
    dir: &Path,
    intermediate_pem: &str,
    key: Arc<dyn CaSigner>,
    opts: &CaOptions,
) -> Result<(), PkiError> {
    Issuer::with_signer(intermediate_pem, key, opts.urls.clone()).map_err(|e| match e {
        PkiError::InvalidCaFile { reason, .. } => invalid(dir, INTERMEDIATE_CERT, reason),
        other => other,
    })?;
    Ok(())
}

/// A file to write: name, content, whether it is a private key.
struct NewFile {
    name: String,
    content: String,
    secret: bool,
}

/// The files of a new CA: an ECDSA P-384 root and the issuing intermediates `intermediates`
/// signed by it (the first the primary, `intermediate.pem`, which also issues the ACME
/// listener's certificate), every key in a file.
fn generate(
    dir: &Path,
    opts: &CaOptions,
    intermediates: &[NewIntermediate],
) -> Result<Vec<NewFile>, PkiError> {
    let now = whole_seconds(OffsetDateTime::now_utc());
    let ca_id = new_ca_id()?;

    let root_key = generate_file_key(ROOT_KEY_TYPE, dir.join(ROOT_KEY))?;
    let root = make_root(opts, &root_key, &ca_id, now)?;
    let root_issuer = rcgen::Issuer::new(root.params, PlaceholderKey::of(&root_key)?);

    let mut files = vec![NewFile {
        name: ROOT_KEY.into(),
        content: root_key.to_pem().expose().to_owned(),
        secret: true,
    }];
    let mut primary = None;
    for new in intermediates {
        let key = Arc::new(generate_file_key(new.key_type, dir.join(new.key_file()))?);
        let intermediate = make_intermediate(
            &new.options(opts, &ca_id)?,
            &*key,
            &root_issuer,
            &root_key,
            &ca_id,
            now,
        )?;
        let pem = certificate_pem(&intermediate.der);
        files.push(NewFile {
            name: new.cert_file(),
            content: pem.clone(),
            secret: false,
        });
        files.push(NewFile {
            name: new.key_file(),
            content: key.to_pem().expose().to_owned(),
            secret: true,
        });
        if primary.is_none() {
            primary = Some(Issuer::with_signer(&pem, key, opts.urls.clone())?);
        }
    }
    let primary = primary.ok_or_else(|| PkiError::InvalidCaFile {
        path: dir.join(INTERMEDIATE_CERT),
        reason: "a new CA needs at least one intermediate".into(),
    })?;
    let [tls_cert, tls_key] = listener_certificate(&primary, opts, now)?;
    files.extend([
        tls_cert,
        tls_key,
        // Last: the file clients are pointed at appears only once everything else exists.
        NewFile {
            name: ROOT_CERT.into(),
            content: certificate_pem(&root.der),
            secret: false,
        },
    ]);
    Ok(files)
}

/// A new key for the ACME listener and its certificate ([`Profile::acme_listener`]) signed by
/// `issuer`: the files `tls.pem` and `private/tls.key`.
fn listener_certificate(
    issuer: &Issuer,
    opts: &CaOptions,
    now: OffsetDateTime,
) -> Result<[NewFile; 2], PkiError> {
    let tls_key = params::generate_key(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let tls_names: Vec<String> = opts
        .tls_dns_names
        .iter()
        .map(|n| n.to_ascii_lowercase())
        .collect();
    let (not_before, not_after) = listener_validity(now);
    let tls = issuer.issue_leaf(
        &tls_key.subject_public_key_info(),
        &Profile::acme_listener(),
        &LeafRequest {
            dns_names: &tls_names,
            ips: &opts.tls_ips,
            not_before,
            not_after,
        },
    )?;
    tracing::info!(
        serial = %tls.serial_hex,
        names = ?tls_names,
        not_after = %tls.not_after,
        "issued the ACME listener's certificate"
    );
    Ok([
        NewFile {
            name: TLS_CERT.into(),
            content: tls.chain_pem,
            secret: false,
        },
        NewFile {
            name: TLS_KEY.into(),
            content: tls_key.serialize_pem(),
            secret: true,
        },
    ])
}

/// The validity of a listener certificate issued at `now` (whole seconds, as it is written).
fn listener_validity(now: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
    let not_before = whole_seconds(now);
    (
        not_before,
        not_before + Profile::acme_listener().validity() - Duration::seconds(1),
    )
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl Fn(std::io::Error) -> PkiError + 'a {
    move |source| PkiError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// How [`write_files`] puts a file into place.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Placing {
    /// Never over an existing file (a concurrent creator makes this fail instead of mixing
    /// two CAs).
    New,
    /// Over the existing file, atomically (readers see the old or the new file, whole).
    Replace,
}

/// Writes each file under a temporary name, syncs it, then links ([`Placing::New`]) or renames
/// ([`Placing::Replace`]) it into place.
fn write_files(dir: &Path, files: &[NewFile], how: Placing) -> Result<(), PkiError> {
    create_dir(dir, 0o755)?;
    let private = dir.join(PRIVATE_DIR);
    create_dir(&private, 0o700)?;
    for file in files {
        let path = dir.join(&file.name);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.tmp"));
        match fs::remove_file(&tmp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(io("remove", &tmp)(e));
            }
            _ => {}
        }
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(if file.secret { 0o600 } else { 0o644 });
        }
        let mut f = options.open(&tmp).map_err(io("create", &tmp))?;
        // The mode above is cut by the process's umask (077 under `ferrite`, which keeps
        // everything else in the data directory private): a certificate is made readable
        // explicitly.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = if file.secret { 0o600 } else { 0o644 };
            f.set_permissions(fs::Permissions::from_mode(mode))
                .map_err(io("chmod", &tmp))?;
        }
        f.write_all(file.content.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(io("write", &tmp))?;
        drop(f);
        match how {
            Placing::New => {
                fs::hard_link(&tmp, &path).map_err(io("create", &path))?;
                fs::remove_file(&tmp).map_err(io("remove", &tmp))?;
            }
            Placing::Replace => fs::rename(&tmp, &path).map_err(io("replace", &path))?,
        }
    }
    for d in [&private, dir] {
        if let Ok(d) = fs::File::open(d) {
            // Make the new directory entries durable; not all platforms can sync a directory.
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Creates `dir` with `mode` unless it exists (the mode set explicitly: the umask would cut
/// it); an existing directory keeps the mode its operator gave it.
pub(crate) fn create_dir(dir: &Path, mode: u32) -> Result<(), PkiError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        // Created with no more than `mode` (the umask may cut it), then given exactly `mode`.
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(mode);
        builder.create(dir).map_err(io("create", dir))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(mode)).map_err(io("chmod", dir))?;
    }
    #[cfg(not(unix))]
    builder.create(dir).map_err(io("create", dir))?;
    #[cfg(not(unix))]
    let _ = mode;
    Ok(())
}

/// Keys found beside the certificates, in a `dir` that had to be 0700 to keep them private,
/// move into `dir/private/` (0700) and `dir` becomes 0755, so that the root is readable by
/// the users who must trust it. Nothing happens when no key is found there.
fn move_keys_into_private_dir(dir: &Path) -> Result<(), PkiError> {
    let mut moved = false;
    for key in [ROOT_KEY, INTERMEDIATE_KEY, TLS_KEY] {
        let to = dir.join(key);
        let Some(name) = to.file_name() else {
            continue;
        };
        let from = dir.join(name);
        if !from.try_exists().map_err(io("inspect", &from))? {
            continue;
        }
        if to.try_exists().map_err(io("inspect", &to))? {
            return Err(invalid(
                dir,
                key,
                format!(
                    "{} exists too; keep one of the two (the one that belongs to the certificate) in {}",
                    from.display(),
                    dir.join(PRIVATE_DIR).display()
                ),
            ));
        }
        create_dir(&dir.join(PRIVATE_DIR), 0o700)?;
        fs::rename(&from, &to).map_err(io("move", &from))?;
        moved = true;
    }
    if moved {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
                .map_err(io("chmod", dir))?;
        }
        tracing::info!(dir = %dir.display(), "moved the CA keys into private/; the certificates stay readable by every user");
    }
    Ok(())
}

fn read(dir: &Path, name: &str) -> Result<String, PkiError> {
    let path = dir.join(name);
    let text = fs::read_to_string(&path).map_err(io("read", &path))?;
    #[cfg(unix)]
    if name.ends_with(".key") {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(&path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(path = %path.display(), "private key file is readable by group or others; chmod 600 it");
        }
    }
    Ok(text)
}

fn invalid(dir: &Path, name: &str, reason: impl Into<String>) -> PkiError {
    PkiError::InvalidCaFile {
        path: dir.join(name),
        reason: reason.into(),
    }
}

/// Reads one certificate or a chain; checks that every cert parses.
fn read_chain(dir: &Path, name: &str) -> Result<(String, Vec<Vec<u8>>), PkiError> {
    let pem = read(dir, name)?;
    let ders = pem_certificates(&pem).map_err(|e| invalid(dir, name, e))?;
    if ders.is_empty() {
        return Err(invalid(dir, name, "no CERTIFICATE block"));
    }
    Ok((pem, ders))
}

/// Checks that `child` is signed by `parent`'s key.
fn check_signed_by(dir: &Path, name: &str, child: &[u8], parent: &[u8]) -> Result<(), PkiError> {
    let (_, parent) = x509_parser::parse_x509_certificate(parent)
        .map_err(|e| invalid(dir, name, format!("its issuer does not parse: {e}")))?;
    match signature_fault(child, parent.public_key().raw) {
        None => Ok(()),
        Some(fault) => Err(invalid(
            dir,
            name,
            format!("not signed by its issuer: {fault}"),
        )),
    }
}

/// The root and intermediate certificates of `dir`, checked: one certificate each, the root
/// self-signed, the intermediate signed by the root.
struct CaCertificates {
    root_pem: String,
    root_der: Vec<u8>,
    intermediate_pem: String,
    intermediate_der: Vec<u8>,
}

fn read_ca_certificates(dir: &Path) -> Result<CaCertificates, PkiError> {
    let (root_pem, root) = read_chain(dir, ROOT_CERT)?;
    let (intermediate_pem, intermediate) = read_chain(dir, INTERMEDIATE_CERT)?;
    let (root, intermediate) = match (&root[..], &intermediate[..]) {
        ([root], [intermediate]) => (root, intermediate),
        _ => {
            return Err(invalid(
                dir,
                ROOT_CERT,
                "root.pem and intermediate.pem must hold exactly one certificate each",
            ));
        }
    };
    check_signed_by(dir, ROOT_CERT, root, root)?;
    check_signed_by(dir, INTERMEDIATE_CERT, intermediate, root)?;
    Ok(CaCertificates {
        root_pem,
        root_der: root.clone(),
        intermediate_pem,
        intermediate_der: intermediate.clone(),
    })
}

/// The issuer of `certs` with `key`; errors name the files of `dir`.
fn issuer(
    dir: &Path,
    certs: &CaCertificates,
    key: Arc<dyn CaSigner>,
    opts: &CaOptions,
) -> Result<Issuer, PkiError> {
    Issuer::with_signer(&certs.intermediate_pem, key, opts.urls.clone()).map_err(|e| match e {
        PkiError::InvalidCaFile { path, reason } => PkiError::InvalidCaFile {
            path: dir.join(path),
            reason,
        },
        other => other,
    })
}

fn load(dir: &Path, opts: &CaOptions) -> Result<CaBundle, PkiError> {
    let certs = read_ca_certificates(dir)?;
    let key = FileKey::from_pem(&read(dir, INTERMEDIATE_KEY)?, dir.join(INTERMEDIATE_KEY))?;
    let issuer = issuer(dir, &certs, Arc::new(key), opts)?;
    let others = load_others(dir, &certs.root_der, OtherKeys::Files, opts)?;
    Ok(with_listener(dir, certs, issuer, others, opts)?.0)
}

/// The ACME listener's certificate chain (PEM: leaf, then the intermediate), its key and
/// its notAfter, as served.
#[derive(Debug)]
pub struct ListenerCertificate {
    /// Leaf, then the intermediate, PEM.
    pub chain_pem: String,
    /// PKCS#8 PEM.
    pub key: SecretPem,
    /// The leaf's notAfter.
    pub not_after: OffsetDateTime,
}

/// Completes a bundle with the ACME listener's certificate and key (`tls.pem`,
/// `private/tls.key`), issued again by the intermediate first when they are missing or unfit
/// ([`listener_fault`]). Returns whether they were issued.
fn with_listener(
    dir: &Path,
    certs: CaCertificates,
    issuer: Issuer,
    others: Vec<Issuer>,
    opts: &CaOptions,
) -> Result<(CaBundle, bool), PkiError> {
    let now = OffsetDateTime::now_utc();
    let (listener, issued) = match current_listener(dir, &issuer, opts, now)? {
        Ok(listener) => (listener, false),
        Err(why) => {
            tracing::info!(reason = %why, "issuing the ACME listener's certificate");
            (renew_listener(dir, &issuer, opts, now)?, true)
        }
    };
    Ok((
        CaBundle {
            root_pem: certs.root_pem,
            intermediate_pem: certs.intermediate_pem,
            tls_chain_pem: listener.chain_pem,
            tls_key: listener.key,
            tls_not_after: listener.not_after,
            issuer,
            others,
        },
        issued,
    ))
}

/// The listener certificate in `dir` if it may be served as it is at `now`, else why not
/// (the outer error: the files could not be read).
fn current_listener(
    dir: &Path,
    issuer: &Issuer,
    opts: &CaOptions,
    now: OffsetDateTime,
) -> Result<Result<ListenerCertificate, String>, PkiError> {
    let mut texts = Vec::with_capacity(2);
    for name in [TLS_CERT, TLS_KEY] {
        let path = dir.join(name);
        if !path.try_exists().map_err(io("inspect", &path))? {
            return Ok(Err(format!("{} does not exist", path.display())));
        }
        texts.push(read(dir, name)?);
    }
    let key = SecretPem::new(texts.pop().unwrap_or_default());
    let chain_pem = texts.pop().unwrap_or_default();
    Ok(
        listener_fault(&chain_pem, &key, issuer, opts, now).map(|not_after| ListenerCertificate {
            chain_pem,
            key,
            not_after,
        }),
    )
}

/// The listener certificate's notAfter when `chain_pem` and `key` may be served at `now`:
/// the leaf is signed by `issuer`'s intermediate, `key` is its key, it names exactly
/// `opts.tls_dns_names` and `opts.tls_ips`, it is valid at `now` and has more than
/// [`LISTENER_RENEW_BEFORE`] left. Else why it must be issued again.
pub fn listener_fault(
    chain_pem: &str,
    key: &SecretPem,
    issuer: &Issuer,
    opts: &CaOptions,
    now: OffsetDateTime,
) -> Result<OffsetDateTime, String> {
    let leaf = pem_certificates(chain_pem)
        .map_err(|e| format!("{TLS_CERT} does not parse: {e}"))?
        .into_iter()
        .next()
        .ok_or_else(|| format!("{TLS_CERT} holds no certificate"))?;
    if let Some(fault) = signature_fault(&leaf, issuer.key().public_key_der()) {
        return Err(format!("{TLS_CERT} is not the intermediate's: {fault}"));
    }
    let (_, cert) = x509_parser::parse_x509_certificate(&leaf)
        .map_err(|e| format!("{TLS_CERT} does not parse: {e}"))?;
    let pair = KeyPair::from_pem(key.expose()).map_err(|_| format!("{TLS_KEY} does not parse"))?;
    if pair.subject_public_key_info() != cert.public_key().raw {
        return Err(format!("{TLS_KEY} does not belong to {TLS_CERT}"));
    }
    let (mut dns, mut ips) = (Vec::new(), Vec::new());
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                x509_parser::extensions::GeneralName::DNSName(n) => {
                    dns.push(n.to_ascii_lowercase());
                }
                x509_parser::extensions::GeneralName::IPAddress(octets) => {
                    ips.push(octets.to_vec());
                }
                _ => {}
            }
        }
    }
    let mut want_dns: Vec<String> = opts
        .tls_dns_names
        .iter()
        .map(|n| n.to_ascii_lowercase())
        .collect();
    let mut want_ips: Vec<Vec<u8>> = opts
        .tls_ips
        .iter()
        .map(|ip| match ip {
            std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
            std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
        })
        .collect();
    for list in [&mut dns, &mut want_dns] {
        list.sort();
        list.dedup();
    }
    for list in [&mut ips, &mut want_ips] {
        list.sort();
        list.dedup();
    }
    if dns != want_dns || ips != want_ips {
        return Err(format!(
            "{TLS_CERT} names {dns:?} and {} addresses; the listener's names are {want_dns:?} and {:?}",
            ips.len(),
            opts.tls_ips
        ));
    }
    let not_before = cert.validity().not_before.to_datetime();
    if not_before > now + Duration::minutes(5) {
        return Err(format!("{TLS_CERT} is valid only from {not_before}"));
    }
    let not_after = cert.validity().not_after.to_datetime();
    if not_after - now < LISTENER_RENEW_BEFORE {
        return Err(format!(
            "{TLS_CERT} expires at {not_after}, within {} days",
            LISTENER_RENEW_BEFORE.whole_days()
        ));
    }
    Ok(not_after)
}

/// Issues the ACME listener a new certificate and key with `issuer` for `opts`'s listener
/// names, and replaces `tls.pem` and `private/tls.key` in `dir` with them (each written
/// aside, synced, then renamed into place: the key first, so a crash between the two leaves
/// a pair that [`listener_fault`] sends to be issued again, never a half-written file).
pub fn renew_listener(
    dir: &Path,
    issuer: &Issuer,
    opts: &CaOptions,
    now: OffsetDateTime,
) -> Result<ListenerCertificate, PkiError> {
    let [cert, key] = listener_certificate(issuer, opts, now)?;
    let (_, not_after) = listener_validity(now);
    let listener = ListenerCertificate {
        chain_pem: cert.content.clone(),
        key: SecretPem::new(key.content.clone()),
        not_after,
    };
    write_files(dir, &[key, cert], Placing::Replace)?;
    Ok(listener)
}
