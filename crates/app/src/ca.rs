//! The CA's keys and certificates as the configuration places them (`[ca]`): loading them for
//! `serve` ([`load_bundle`]), the key ceremony of `ferrite ca init` ([`init`]), bringing in an
//! existing hierarchy with `ferrite ca import` ([`import`]) and the report of `ferrite ca show`
//! ([`show`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use ferrite_core::CertificateIssuer;
use ferrite_pki::pkcs11::{KeyProtection, Token};
use ferrite_pki::{CaBundle, CaOptions, Ceremony, CeremonyRecord, Issuer, IssuerUrls};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::{CaKeys, Config};

/// The CA directory inside `data_dir`.
pub fn ca_dir(config: &Config) -> PathBuf {
    config.data_dir.join("ca")
}

/// The root certificate ACME clients must trust to reach the ACME listener, made absolute:
/// Ferrite's own root while Ferrite issues the listener certificate, `None` when the operator's
/// certificate (`tls.cert_file`) or a proxy's (`tls.mode = "behind-proxy"`) is served, which
/// clients are expected to trust already.
pub fn listener_trust_root(config: &Config) -> Option<PathBuf> {
    if config.tls.operator_files() || config.tls.behind_proxy() {
        return None;
    }
    let root = CaBundle::root_path(&ca_dir(config));
    Some(std::fs::canonicalize(&root).unwrap_or(root))
}

/// The URLs written into certificates under `public_base_url` (the AIA caIssuers of the
/// intermediate, the CRLs), with `crl_shards` shards per issuer.
pub fn issuer_urls(public_base_url: &str, crl_shards: u32) -> IssuerUrls {
    IssuerUrls {
        ca_issuers: format!(
            "{public_base_url}{}",
            ferrite_server::public::INTERMEDIATE_PATH
        ),
        crl: format!("{public_base_url}{}", ferrite_server::public::CRL_PATH),
        crl_shards,
    }
}

/// Opens the token `[ca]` names and logs in. Errors say which setting to fix.
pub fn open_token(config: &Config) -> anyhow::Result<Token> {
    let settings = config.token_settings()?;
    Token::open(settings).context("cannot use the PKCS#11 token holding the CA keys ([ca])")
}

/// Loads the CA for `serve`: with `ca.keys = "files"`, from `data_dir/ca` (created on the
/// first start); with `"pkcs11"`, the certificates from `data_dir/ca` and the intermediate's
/// key from the token (the root key is never looked for). Logs which key signs. Returns
/// whether this start created the CA (only ever with files).
pub fn load_bundle(config: &Config, opts: &CaOptions) -> anyhow::Result<(CaBundle, bool)> {
    let dir = ca_dir(config);
    let (bundle, created) = match config.ca.keys {
        CaKeys::Files => CaBundle::load_or_create(&dir, opts)
            .context("cannot load or create the CA in data_dir/ca")?,
        CaKeys::Pkcs11 => {
            let token = open_token(config)?;
            let (bundle, _listener_created) = CaBundle::load_with_token(&dir, opts, &token)
                .context("cannot load the CA whose keys are in the PKCS#11 token ([ca])")?;
            tracing::info!(
                module = %token.module().display(),
                token = %token.label(),
                device = %token.description(),
                max_sessions = config.ca.pkcs11_sessions,
                "opened the PKCS#11 token; the root key is not used by serve"
            );
            // The ceremony created the CA, not this start.
            (bundle, false)
        }
    };
    for issuer in std::iter::once(&bundle.issuer).chain(&bundle.others) {
        let active = is_active(config, issuer.name());
        tracing::info!(
            name = issuer.name(),
            key = %issuer.key().location(),
            algorithm = %issuer.key().algorithm(),
            intermediate = %subject(issuer.intermediate_der()),
            not_after = %issuer.not_after(),
            "{}",
            if active {
                "this intermediate's key signs certificates and CRLs"
            } else {
                "this intermediate is retired (not in ca.active): its key signs only its CRLs"
            }
        );
    }
    Ok((bundle, created))
}

/// Whether intermediate `name` issues: named in `ca.active`, or every one when it is empty.
fn is_active(config: &Config, name: &str) -> bool {
    config.ca.active.is_empty() || config.ca.active.iter().any(|n| n == name)
}

/// The engine's intermediates: the primary and `others` (a key that may wait on a device signs
/// on blocking threads), each passed through `wrap` (Certificate Transparency logging), active
/// as `ca.active` says. Fails when `ca.active` names an intermediate `data_dir/ca` does not
/// hold, or none is active.
pub fn engine_issuers(
    config: &Config,
    primary: Arc<Issuer>,
    others: Vec<Arc<Issuer>>,
    mut wrap: impl FnMut(Arc<dyn CertificateIssuer>) -> Arc<dyn CertificateIssuer>,
) -> anyhow::Result<ferrite_core::issuer::Issuers> {
    let all: Vec<Arc<Issuer>> = std::iter::once(primary).chain(others).collect();
    let names: Vec<&str> = all.iter().map(|i| i.name()).collect();
    if let Some(missing) = config
        .ca
        .active
        .iter()
        .find(|n| !names.contains(&n.as_str()))
    {
        anyhow::bail!(
            "ca.active names {missing:?}, but {} holds the intermediates {names:?}; name those (`ferrite ca show`), or add it with `ferrite ca init --intermediate-from ROOT_CERT --name intermediate-NAME`",
            ca_dir(config).display()
        );
    }
    let entries = all
        .iter()
        .map(|issuer| ferrite_core::issuer::IssuerEntry {
            active: is_active(config, issuer.name()),
            issuer: wrap(engine_issuer(Arc::clone(issuer))),
        })
        .collect();
    ferrite_core::issuer::Issuers::new(entries)
        .context("ca.active names no intermediate: at least one must issue")
}

pub use ferrite_core::ca::{INTERMEDIATE_WARNING, intermediate_expiry_warning};

/// The engine's issuer: a key that may wait on a device signs on blocking threads.
pub fn engine_issuer(issuer: Arc<Issuer>) -> Arc<dyn CertificateIssuer> {
    if issuer.key().may_block() {
        Arc::new(ferrite_core::issuer::OnBlockingThreads(issuer))
    } else {
        issuer
    }
}

fn subject(der: &[u8]) -> String {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, c)| c.subject().to_string())
        .unwrap_or_default()
}

/// What `ferrite ca init` made: the record, and where it was written.
pub struct Initialized {
    /// The ceremony record.
    pub record: CeremonyRecord,
    /// Its JSON file (`data_dir/ca/ceremonies/…`).
    pub record_path: PathBuf,
}

/// Where `ca init --intermediate-from` finds the root key when it is not in `[ca]`'s token:
/// another token of the same module.
pub struct RootToken {
    /// The root key's token label.
    pub label: String,
    /// A file holding that token's user PIN; `None`: the PIN of `[ca]`.
    pub pin_file: Option<PathBuf>,
}

/// `ferrite ca init`: holds `ceremony` in the token `[ca]` names (the root key of
/// `--intermediate-from` in `root` when given), making `intermediates` (unless it makes the
/// root only), writes the certificates to `data_dir/ca` and the ceremony record, as JSON, to
/// `data_dir/ca/ceremonies/`.
pub fn init(
    config: &Config,
    ceremony: &Ceremony,
    root: Option<&RootToken>,
    intermediates: &[ferrite_pki::NewIntermediate],
) -> anyhow::Result<Initialized> {
    anyhow::ensure!(
        config.ca.keys == CaKeys::Pkcs11,
        "ferrite ca init makes the CA keys in a PKCS#11 token: set [ca] keys = \"pkcs11\" with pkcs11_module, pkcs11_token and pkcs11_pin_file (or FERRITE_CA__PKCS11_PIN). With keys = \"files\" the first `ferrite serve` creates the CA by itself"
    );
    if config.public_base_url.is_empty() && config.public_listen.port() == 0 {
        tracing::warn!(
            "public_listen has port 0: the intermediate's CRL and AIA URLs name port 0; set public_base_url to the URL relying parties use"
        );
    }
    let public_base_url = config.public_base_url(config.public_listen);
    let opts = config.ca_options(issuer_urls(&public_base_url, config.crl.shards));
    let token = open_token(config)?;
    let root_token = match root {
        Some(root) => {
            let mut settings = config.token_settings()?;
            settings.token = root.label.clone();
            if let Some(file) = &root.pin_file {
                let pin = std::fs::read_to_string(file)
                    .with_context(|| format!("--root-pin-file: cannot read {}", file.display()))?;
                settings.pin = ferrite_pki::pkcs11::Pkcs11Pin::new(&pin);
            }
            Some(
                Token::open(settings)
                    .context("cannot use the token holding the root key (--root-token)")?,
            )
        }
        None => None,
    };
    crate::data_dir::prepare(&config.data_dir)?;
    let dir = ca_dir(config);
    for new in intermediates {
        anyhow::ensure!(
            new.name == ferrite_pki::PRIMARY_ISSUER_NAME
                || ferrite_pki::is_intermediate_name(&new.name),
            "--name {:?}: an intermediate's name is \"intermediate-\" followed by 1 to 32 lower-case letters, digits and '-' (e.g. intermediate-2027)",
            new.name
        );
    }
    let record = ferrite_pki::init_in_token(
        &dir,
        &opts,
        &token,
        root_token.as_ref(),
        ceremony,
        intermediates,
    )
    .context("the key ceremony failed")?;
    let records = dir.join("ceremonies");
    std::fs::create_dir_all(&records)
        .with_context(|| format!("cannot create {}", records.display()))?;
    let stamp = OffsetDateTime::now_utc()
        .format(&time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_default();
    let kind = match ceremony {
        Ceremony::RootAndIntermediate => "root-and-intermediate",
        Ceremony::RootOnly => "root",
        Ceremony::IntermediateFrom { .. } => "intermediate",
    };
    let record_path = records.join(format!("{stamp}-{kind}.json"));
    let json = serde_json::to_string_pretty(&record)?;
    std::fs::write(&record_path, format!("{json}\n"))
        .with_context(|| format!("cannot write {}", record_path.display()))?;
    tracing::info!(record = %record_path.display(), ceremony = %record.ceremony, "key ceremony done");
    Ok(Initialized {
        record,
        record_path,
    })
}

/// `ferrite ca import`: brings an existing hierarchy into an empty `data_dir/ca` — the root
/// certificate, the issuing intermediate's certificate and its key: with `ca.keys = "files"`
/// the key's PKCS#8 PEM file `intermediate_key` (copied to `data_dir/ca/private`, 0600), with
/// `"pkcs11"` the key already in `[ca]`'s token (imported there with the vendor's tools), so
/// `intermediate_key` must be `None`. Everything is checked before anything is written (the
/// chain, the intermediate's validity, the key signs for the certificate); the root key is
/// never asked for. Returns what `ferrite ca show` reports afterwards.
pub fn import(
    config: &Config,
    root: &Path,
    intermediate: &Path,
    intermediate_key: Option<&Path>,
) -> anyhow::Result<CaReport> {
    let read = |path: &Path, what: &str| {
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the {what} {}", path.display()))
    };
    let root_pem = read(root, "root certificate")?;
    let intermediate_pem = read(intermediate, "intermediate certificate")?;
    let public_base_url = config.public_base_url(config.public_listen);
    let opts = config.ca_options(issuer_urls(&public_base_url, config.crl.shards));
    let dir = ca_dir(config);
    let (key_pem, token);
    let key = match (config.ca.keys, intermediate_key) {
        (CaKeys::Files, Some(key_path)) => {
            key_pem = ferrite_pki::SecretPem::new(read(key_path, "intermediate's key")?);
            ferrite_pki::ImportedKey::File(&key_pem)
        }
        (CaKeys::Files, None) => anyhow::bail!(
            "with [ca] keys = \"files\" give the intermediate's key: --intermediate-key FILE (PKCS#8 PEM)"
        ),
        (CaKeys::Pkcs11, Some(_)) => anyhow::bail!(
            "with [ca] keys = \"pkcs11\" the intermediate's key must already be in the token (import it with the HSM vendor's tools, e.g. `softhsm2-util --import KEY --token LABEL --label intermediate --id ID --pin PIN`); leave out --intermediate-key"
        ),
        (CaKeys::Pkcs11, None) => {
            token = open_token(config)?;
            ferrite_pki::ImportedKey::Token(&token)
        }
    };
    crate::data_dir::prepare(&config.data_dir)?;
    CaBundle::import(&dir, &opts, &root_pem, &intermediate_pem, key).context(
        "cannot import the CA (the intermediate's key must be its ECDSA P-256/P-384 or RSA 2048-4096 key: a PKCS#8 PEM file with keys = \"files\", `openssl pkcs8 -topk8 -nocrypt -in KEY` converts an EC PRIVATE KEY; in [ca]'s token with \"pkcs11\")",
    )?;
    tracing::info!(
        root = %root.display(),
        intermediate = %intermediate.display(),
        "imported an existing CA hierarchy"
    );
    show(config)
}

/// `ferrite ca show`: each certificate of `data_dir/ca` and where its key is.
#[derive(Debug, Clone, Serialize)]
pub struct CaReport {
    /// `files` or `pkcs11`.
    pub keys: String,
    /// The certificates: root, intermediate, the ACME listener's.
    pub certificates: Vec<CertificateReport>,
}

/// One certificate of a [`CaReport`].
#[derive(Debug, Clone, Serialize)]
pub struct CertificateReport {
    /// `root`, `intermediate` or `listener`.
    pub role: String,
    /// An intermediate's name (`intermediate`, `intermediate-rsa`, …): what `ca.active` and
    /// a profile's `issuer` name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether an intermediate issues (`ca.active`), or is retired and signs only its CRLs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Its public key: `ECDSA P-256`, `RSA 2048-bit`, …
    pub key_algorithm: String,
    /// Its file.
    pub file: String,
    /// Its subject.
    pub subject: String,
    /// Its issuer.
    pub issuer: String,
    /// Its serial, hex.
    pub serial: String,
    /// SHA-256 of its DER, as openssl prints it.
    pub sha256: String,
    /// notBefore (RFC 3339).
    pub not_before: String,
    /// notAfter (RFC 3339).
    pub not_after: String,
    /// Whole days until notAfter (negative once expired).
    pub days_left: i64,
    /// Where its private key is: `file PATH`, `token "T", key label "L", id I`, or where it
    /// is not.
    pub key: String,
    /// Whether that key is here (in the file or the token).
    pub key_present: bool,
    /// For a key in a token: sensitive and never extractable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_locked_in_token: Option<bool>,
    /// For a key in a token: its protection in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_protection: Option<String>,
}

/// A token key's protection as `ca show` says it.
fn describe(p: &KeyProtection) -> String {
    if p.is_locked_in() {
        return "sensitive and never extractable".to_owned();
    }
    let mut warnings = Vec::new();
    if !p.sensitive {
        warnings.push("NOT sensitive (its value can be read)");
    }
    if p.extractable {
        warnings.push("EXTRACTABLE (it can be wrapped out of the token)");
    }
    if p.sensitive && !p.extractable && !(p.always_sensitive && p.never_extractable) {
        warnings.push(
            "sensitive and not extractable now, but it was not generated in the token (imported): it existed outside it",
        );
    }
    warnings.join("; ")
}

/// Builds the [`CaReport`] of `data_dir/ca`. With keys in a token it logs in to find them
/// (nothing is signed).
pub fn show(config: &Config) -> anyhow::Result<CaReport> {
    let dir = ca_dir(config);
    let token = match config.ca.keys {
        CaKeys::Pkcs11 => Some(open_token(config)?),
        CaKeys::Files => None,
    };
    let mut certificates = Vec::new();
    // (role, intermediate name, certificate file, key file)
    let mut files: Vec<(&str, Option<String>, String, String)> =
        vec![("root", None, "root.pem".into(), "private/root.key".into())];
    let intermediates = std::iter::once(ferrite_pki::PRIMARY_ISSUER_NAME.to_owned())
        .chain(ferrite_pki::other_intermediates(&dir).context("cannot list data_dir/ca")?);
    for name in intermediates {
        let (file, key_file) = (
            ferrite_pki::intermediate_file(&name),
            ferrite_pki::intermediate_key_file(&name),
        );
        files.push(("intermediate", Some(name), file, key_file));
    }
    files.push(("listener", None, "tls.pem".into(), "private/tls.key".into()));
    for (role, name, file, key_file) in files {
        let name = name.map(|n| {
            let active = is_active(config, &n);
            (n, active)
        });
        let path = dir.join(&file);
        if !path.exists() {
            continue;
        }
        let pem = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let der = first_certificate(&pem)
            .with_context(|| format!("{} holds no certificate", path.display()))?;
        let (_, cert) = x509_parser::parse_x509_certificate(&der)
            .map_err(|e| anyhow::anyhow!("{} does not parse: {e}", path.display()))?;
        let not_after = cert.validity().not_after.to_datetime();
        let key_path = dir.join(&key_file);
        let (key, key_present, protection) = match (&token, role) {
            (Some(token), "root" | "intermediate") => {
                match token.key_info(cert.public_key().raw)? {
                    Some(info) => (
                        format!(
                            "token {:?}, key label {:?}, id {}",
                            token.label(),
                            info.label,
                            info.id_hex
                        ),
                        true,
                        Some(info.protection),
                    ),
                    None => (
                        format!(
                            "not in token {:?}{}",
                            token.label(),
                            if role == "root" {
                                " (kept offline: serve never needs it)"
                            } else {
                                ""
                            }
                        ),
                        false,
                        None,
                    ),
                }
            }
            _ if key_path.exists() => (format!("file {}", key_path.display()), true, None),
            _ => (
                format!(
                    "not in {}{}",
                    key_path.display(),
                    if role == "root" {
                        " (kept offline: serve never needs it)"
                    } else {
                        ""
                    }
                ),
                false,
                None,
            ),
        };
        certificates.push(CertificateReport {
            role: role.to_owned(),
            name: name.as_ref().map(|(n, _)| n.clone()),
            active: name.map(|(_, active)| active),
            key_algorithm: ferrite_pki::KeyKind::of_spki_der(cert.public_key().raw)
                .map_or_else(|e| format!("unknown ({e})"), |k| k.to_string()),
            file: path.display().to_string(),
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            serial: cert.raw_serial_as_string().replace(':', ""),
            sha256: ferrite_pki::sha256_fingerprint(&der),
            not_before: rfc3339(cert.validity().not_before.to_datetime()),
            not_after: rfc3339(not_after),
            days_left: (not_after - OffsetDateTime::now_utc()).whole_days(),
            key,
            key_present,
            key_locked_in_token: protection.map(|p| p.is_locked_in()),
            key_protection: protection.map(|p| describe(&p)),
        });
    }
    anyhow::ensure!(
        !certificates.is_empty(),
        "{} holds no CA certificate: run `ferrite ca init` (ca.keys = \"pkcs11\") or start `ferrite serve` once (ca.keys = \"files\")",
        dir.display()
    );
    Ok(CaReport {
        keys: match config.ca.keys {
            CaKeys::Files => "files",
            CaKeys::Pkcs11 => "pkcs11",
        }
        .to_owned(),
        certificates,
    })
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

fn first_certificate(pem: &str) -> Option<Vec<u8>> {
    x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes())
        .filter_map(Result::ok)
        .find(|p| p.label == "CERTIFICATE")
        .map(|p| p.contents)
}

/// Reads a root certificate for `ca init --intermediate-from`.
pub fn intermediate_from(root_cert: &Path) -> anyhow::Result<Ceremony> {
    let root_pem = std::fs::read_to_string(root_cert)
        .with_context(|| format!("cannot read the root certificate {}", root_cert.display()))?;
    Ok(Ceremony::IntermediateFrom {
        root_pem,
        root_path: root_cert.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn start_warns_of_an_intermediate_within_90_days() {
        let now = datetime!(2027-01-01 0:00 UTC);
        let days = |d| Some(now + time::Duration::days(d));
        assert_eq!(
            intermediate_expiry_warning(now, "intermediate", days(91)),
            None
        );
        assert_eq!(intermediate_expiry_warning(now, "intermediate", None), None);
        let w = intermediate_expiry_warning(now, "intermediate-rsa", days(89)).unwrap();
        assert!(
            w.contains("intermediate \"intermediate-rsa\" expires in 89 days"),
            "{w}"
        );
        assert!(w.contains("ferrite ca init --intermediate-from"), "{w}");
    }
}
