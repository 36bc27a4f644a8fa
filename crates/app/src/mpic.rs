//! Multi-perspective corroboration, the primary's side: its small MPIC CA (never the public
//! issuing CA) in `data_dir/mpic`, agent enrollment (`ferrite va-agent enroll`), agent
//! bundles (`ferrite va-agent run`), and the [`Corroborator`] built from `[mpic]`.
//!
//! ```text
//! data_dir/mpic/ca.pem  private/ca.key               the MPIC CA (ECDSA P-256, 10 years)
//! data_dir/mpic/primary.pem  private/primary.key     the primary's client certificate (clientAuth)
//! data_dir/mpic/agents/ID.pem                        each enrolled agent's certificate (pinned)
//! BUNDLE/agent.pem agent.key client-ca.pem perspective.json   what an agent runs with
//! ```

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ferrite_core::Validator;
use ferrite_core::metrics::MpicMetrics;
use ferrite_va::mpic::{
    Agent, Corroborator, RemotePerspective, ResultSigner, ResultVerifier, is_perspective_id, tls,
};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};

use crate::Config;

/// `data_dir/mpic`.
pub fn mpic_dir(config: &Config) -> PathBuf {
    config.data_dir.join("mpic")
}

/// An agent's identity as written in its bundle (`perspective.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Identity {
    /// The perspective id.
    pub id: String,
    /// Its region.
    pub region: String,
}

/// What `enroll` wrote.
#[derive(Clone, Debug)]
pub struct Enrolled {
    /// The bundle directory.
    pub bundle: PathBuf,
    /// The agent certificate the primary pins, `data_dir/mpic/agents/ID.pem`.
    pub pinned: PathBuf,
    /// Whether this enrollment created the MPIC CA.
    pub created_ca: bool,
}

/// Enrolls perspective `id` in `region`: creates the MPIC CA and the primary's client
/// certificate on first use, issues the agent a certificate (serverAuth only) and key, and
/// writes its bundle to `out` (which must not hold a bundle yet) and its certificate to
/// `data_dir/mpic/agents/ID.pem`. Enrolling an id again replaces its pinned certificate.
pub fn enroll(config: &Config, id: &str, region: &str, out: &Path) -> anyhow::Result<Enrolled> {
    anyhow::ensure!(
        is_perspective_id(id),
        "--id {id:?}: use 1 to 64 letters, digits, '.', '_' or '-' (it names the agent's certificate file)"
    );
    anyhow::ensure!(
        !region.trim().is_empty(),
        "--region must name the region the agent runs in"
    );
    anyhow::ensure!(
        !out.join("agent.key").exists(),
        "{} already holds an agent bundle; choose another --out directory (or remove it to enroll again)",
        out.display()
    );
    crate::data_dir::prepare(&config.data_dir)?;
    let dir = mpic_dir(config);
    let (issuer, ca_pem, created_ca) = load_or_create_ca(&dir)?;
    ensure_primary_certificate(&dir, &issuer)?;

    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, format!("ferrite va-agent {id}"));
    params
        .distinguished_name
        .push(DnType::OrganizationalUnitName, region.trim());
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    validity(&mut params, 2 * 365);
    let cert = params.signed_by(&key, &issuer)?;

    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    write_file(&out.join("agent.pem"), cert.pem().as_bytes(), 0o644)?;
    write_file(
        &out.join("agent.key"),
        key.serialize_pem().as_bytes(),
        0o600,
    )?;
    write_file(&out.join("client-ca.pem"), ca_pem.as_bytes(), 0o644)?;
    let identity = Identity {
        id: id.to_owned(),
        region: region.trim().to_owned(),
    };
    write_file(
        &out.join("perspective.json"),
        &serde_json::to_vec_pretty(&identity)?,
        0o644,
    )?;
    let agents = dir.join("agents");
    std::fs::create_dir_all(&agents)?;
    let pinned = agents.join(format!("{id}.pem"));
    write_file(&pinned, cert.pem().as_bytes(), 0o644)?;
    tracing::info!(target: "ferrite::mpic", perspective = id, region, "enrolled a remote perspective");
    Ok(Enrolled {
        bundle: out.to_owned(),
        pinned,
        created_ca,
    })
}

/// An agent's bundle, loaded.
pub struct AgentBundle {
    /// Who the agent is.
    pub identity: Identity,
    /// Its TLS server configuration (mutual TLS: the primary's certificate required).
    pub tls: Arc<rustls::ServerConfig>,
    /// Signs its results.
    pub signer: ResultSigner,
}

/// Loads the bundle `ferrite va-agent enroll` wrote to `dir`.
pub fn load_bundle(dir: &Path) -> anyhow::Result<AgentBundle> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).with_context(|| {
            format!(
                "cannot read {}; --bundle must name a directory written by `ferrite va-agent enroll`",
                path.display()
            )
        })
    };
    let identity: Identity = serde_json::from_slice(&read("perspective.json")?)
        .context("perspective.json is not an agent identity")?;
    let chain = certificates(&read("agent.pem")?, "agent.pem")?;
    let key_pem = read("agent.key")?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).context("agent.key holds no key")?;
    let client_ca = certificates(&read("client-ca.pem")?, "client-ca.pem")?
        .into_iter()
        .next()
        .context("client-ca.pem holds no certificate")?;
    let signer = ResultSigner::from_pkcs8(key.secret_der())
        .map_err(|e| anyhow::anyhow!("agent.key: {e}"))?;
    let leaf = chain.first().context("agent.pem holds no certificate")?;
    let verifier = ResultVerifier::from_certificate(leaf).map_err(|e| anyhow::anyhow!(e))?;
    anyhow::ensure!(
        verifier.public_key() == signer.public_key(),
        "agent.key is not the key of agent.pem"
    );
    let tls = tls::agent_server_config(chain, key, client_ca).map_err(|e| anyhow::anyhow!(e))?;
    Ok(AgentBundle {
        identity,
        tls: Arc::new(tls),
        signer,
    })
}

pub use ferrite_va::mpic::{MpicMode, PerspectiveConfig, serve as serve_agent};

/// A remote perspective ready to serve: the bundle in `dir`, validating with the
/// `[validation]` settings of `config` (its own resolver), changed by `change` (tests).
pub fn agent(
    config: &Config,
    dir: &Path,
    change: Option<crate::ValidatorChange>,
) -> anyhow::Result<(Arc<Agent>, Arc<rustls::ServerConfig>)> {
    let bundle = load_bundle(dir)?;
    let mut va_config = config.validator_config()?;
    if let Some(change) = change {
        change(&mut va_config);
    }
    let va = ferrite_va::Va::new(va_config).context(
        "cannot set up validation (validation.dns_resolver, validation.dnssec_trust_anchor)",
    )?;
    let agent = Agent::new(
        bundle.identity.id,
        bundle.identity.region,
        Arc::new(va),
        bundle.signer,
    );
    Ok((Arc::new(agent), bundle.tls))
}

/// The validator `[mpic]` describes.
pub struct Corroborated {
    /// The primary's validator, wrapped in a [`Corroborator`] unless `mode = "off"`.
    pub validator: Arc<dyn Validator>,
    /// The perspectives' series for `/metrics`; `None` when `mode = "off"`.
    pub metrics: Option<Arc<MpicMetrics>>,
}

/// The primary's validator wrapped in a [`Corroborator`] as `[mpic]` says, with its
/// per-perspective metrics; or `primary` itself, and no metrics, when `mode = "off"`.
pub fn corroborated(config: &Config, primary: Arc<dyn Validator>) -> anyhow::Result<Corroborated> {
    let mpic = &config.mpic;
    if mpic.mode == ferrite_va::mpic::MpicMode::Off {
        return Ok(Corroborated {
            validator: primary,
            metrics: None,
        });
    }
    let dir = mpic_dir(config);
    let cert_path = dir.join("primary.pem");
    let chain = certificates(
        &std::fs::read(&cert_path).with_context(|| {
            format!(
                "mpic.mode = \"{}\" but {} cannot be read: enroll the agents first (`ferrite va-agent enroll --id ID --region REGION --out DIR`)",
                mpic.mode.as_str(),
                cert_path.display()
            )
        })?,
        "mpic/primary.pem",
    )?;
    let key_pem = std::fs::read(dir.join("private/primary.key"))
        .context("cannot read data_dir/mpic/private/primary.key")?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).context("mpic/private/primary.key")?;
    let mut perspectives = Vec::with_capacity(mpic.perspectives.len());
    for p in &mpic.perspectives {
        perspectives.push(remote(&dir, p, mpic.connections(), &chain, &key)?);
    }
    if mpic.mode == ferrite_va::mpic::MpicMode::Enforce && perspectives.len() < 5 {
        tracing::warn!(
            perspectives = perspectives.len(),
            "mpic: fewer than 5 remote perspectives; the Baseline Requirements (§3.2.2.9) require at least 5 from 2026-12-15"
        );
    }
    tracing::info!(target: "ferrite::mpic", mode = mpic.mode.as_str(), perspectives = perspectives.len(), timeout_ms = mpic.timeout_ms, "validations are corroborated from remote perspectives");
    let corroborator = Corroborator::new(
        primary,
        perspectives,
        mpic.mode,
        Duration::from_millis(mpic.timeout_ms),
    );
    let metrics = corroborator.metrics();
    Ok(Corroborated {
        validator: Arc::new(corroborator),
        metrics: Some(metrics),
    })
}

fn remote(
    dir: &Path,
    p: &PerspectiveConfig,
    connections: ferrite_va::mpic::ConnectionSettings,
    chain: &[CertificateDer<'static>],
    key: &PrivateKeyDer<'static>,
) -> anyhow::Result<RemotePerspective> {
    let path = dir.join("agents").join(format!("{}.pem", p.id));
    let pinned = certificates(
        &std::fs::read(&path).with_context(|| {
            format!(
                "mpic.perspectives: {} has no enrolled certificate at {}; run `ferrite va-agent enroll --id {} --region {} --out DIR` and deploy DIR to the agent",
                p.id,
                path.display(),
                p.id,
                p.region
            )
        })?,
        &path.display().to_string(),
    )?
    .into_iter()
    .next()
    .context("empty agent certificate")?;
    let verifier = ResultVerifier::from_certificate(&pinned).map_err(|e| anyhow::anyhow!(e))?;
    let tls = tls::primary_client_config(chain.to_vec(), key.clone_key(), pinned)
        .map_err(|e| anyhow::anyhow!(e))?;
    Ok(RemotePerspective::new(p, Arc::new(tls), verifier)
        .map_err(|e| anyhow::anyhow!(e))?
        .with_connections(connections))
}

/// The MPIC CA as an rcgen issuer, its certificate PEM, and whether it was created now.
fn load_or_create_ca(dir: &Path) -> anyhow::Result<(Issuer<'static, KeyPair>, String, bool)> {
    let cert_path = dir.join("ca.pem");
    let key_path = dir.join("private/ca.key");
    if cert_path.exists() {
        let pem = std::fs::read_to_string(&cert_path)?;
        let key = KeyPair::from_pem(&std::fs::read_to_string(&key_path)?)
            .with_context(|| format!("{} holds no key", key_path.display()))?;
        let issuer = Issuer::from_ca_cert_pem(&pem, key)
            .with_context(|| format!("{} is not a CA certificate", cert_path.display()))?;
        return Ok((issuer, pem, false));
    }
    std::fs::create_dir_all(dir.join("private"))?;
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "Ferrite MPIC CA (agents only)");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    validity(&mut params, 10 * 365);
    let cert = params.self_signed(&key)?;
    write_file(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
    write_file(&cert_path, cert.pem().as_bytes(), 0o644)?;
    let pem = cert.pem();
    Ok((Issuer::new(params, key), pem, true))
}

/// The primary's client certificate (clientAuth only), created once.
fn ensure_primary_certificate(dir: &Path, issuer: &Issuer<'_, KeyPair>) -> anyhow::Result<()> {
    let cert_path = dir.join("primary.pem");
    if cert_path.exists() {
        return Ok(());
    }
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "ferrite primary (MPIC client)");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    validity(&mut params, 10 * 365);
    let cert = params.signed_by(&key, issuer)?;
    write_file(
        &dir.join("private/primary.key"),
        key.serialize_pem().as_bytes(),
        0o600,
    )?;
    write_file(&cert_path, cert.pem().as_bytes(), 0o644)?;
    Ok(())
}

fn validity(params: &mut CertificateParams, days: i64) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(days);
}

fn certificates(pem: &[u8], what: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .with_context(|| format!("{what} is not PEM"))?;
    anyhow::ensure!(!certs.is_empty(), "{what} holds no certificate");
    Ok(certs)
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn config(dir: &Path) -> Config {
        Config {
            data_dir: dir.to_owned(),
            ..Config::default()
        }
    }

    #[test]
    fn enroll_writes_a_bundle_an_agent_loads_and_pins_its_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(&dir.path().join("data"));
        let out = dir.path().join("agent-a");
        let enrolled = enroll(&c, "a", "eu-west", &out).unwrap();
        assert!(enrolled.created_ca);
        let bundle = load_bundle(&out).unwrap();
        assert_eq!(
            (bundle.identity.id.as_str(), bundle.identity.region.as_str()),
            ("a", "eu-west")
        );
        // The pinned certificate is the bundle's, and its key signs the agent's results.
        assert_eq!(
            std::fs::read(&enrolled.pinned).unwrap(),
            std::fs::read(out.join("agent.pem")).unwrap()
        );
        let pinned = certificates(&std::fs::read(&enrolled.pinned).unwrap(), "pinned").unwrap();
        let verifier = ResultVerifier::from_certificate(&pinned[0]).unwrap();
        assert_eq!(verifier.public_key(), bundle.signer.public_key());
        // The agent certificate is not the issuing CA's and carries serverAuth only.
        let (_, cert) = x509_parser::parse_x509_certificate(&pinned[0]).unwrap();
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && !eku.client_auth);
        assert!(
            cert.issuer()
                .to_string()
                .contains("Ferrite MPIC CA (agents only)")
        );
        // A second agent reuses the CA; the same bundle directory is not overwritten.
        let second = enroll(&c, "b", "us-east", &dir.path().join("agent-b")).unwrap();
        assert!(!second.created_ca);
        let again = enroll(&c, "c", "ap-south", &out).unwrap_err();
        assert!(again.to_string().contains("already holds"), "{again}");
        let bad = enroll(&c, "../x", "eu", &dir.path().join("x")).unwrap_err();
        assert!(bad.to_string().contains("--id"), "{bad}");
    }

    #[test]
    fn agent_key_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(&dir.path().join("data"));
        let out = dir.path().join("agent");
        enroll(&c, "a", "eu", &out).unwrap();
        use std::os::unix::fs::PermissionsExt;
        for path in [
            out.join("agent.key"),
            dir.path().join("data/mpic/private/ca.key"),
            dir.path().join("data/mpic/private/primary.key"),
        ] {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", path.display());
        }
    }

    #[test]
    fn mpic_config_is_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ferrite.toml");
        let table = |second_region: &str| {
            format!(
                "[mpic]\nmode = \"enforce\"\ntimeout_ms = 2000\n\
                 [[mpic.perspectives]]\nid = \"a\"\nregion = \"eu\"\nurl = \"https://127.0.0.1:9443\"\n\
                 [[mpic.perspectives]]\nid = \"b\"\nregion = \"{second_region}\"\nurl = \"https://127.0.0.1:9444\"\n"
            )
        };
        std::fs::write(&file, table("us")).unwrap();
        let c = Config::load(Some(&file)).unwrap();
        assert_eq!(c.mpic.mode, ferrite_va::mpic::MpicMode::Enforce);
        assert_eq!(c.mpic.timeout_ms, 2000);
        assert_eq!(c.mpic.perspectives.len(), 2);
        std::fs::write(&file, table("eu")).unwrap();
        let err = format!("{:#}", Config::load(Some(&file)).unwrap_err());
        assert!(err.contains("both in region"), "{err}");
        std::fs::write(&file, "[mpic]\nmode = \"sometimes\"\n").unwrap();
        assert!(Config::load(Some(&file)).is_err());

        // The connection settings: defaults, then set, then past the agents' idle limit.
        let defaults = Config::default().mpic.connections();
        assert_eq!(defaults, ferrite_va::mpic::ConnectionSettings::default());
        assert_eq!(defaults.pool_size, 8);
        std::fs::write(
            &file,
            "[mpic]\nconnect_timeout_ms = 500\npool_size = 0\npool_idle_timeout_ms = 10000\n",
        )
        .unwrap();
        let c = Config::load(Some(&file)).unwrap().mpic.connections();
        assert_eq!(
            (c.connect_timeout, c.pool_size, c.pool_idle_timeout),
            (Duration::from_millis(500), 0, Duration::from_secs(10))
        );
        std::fs::write(&file, "[mpic]\npool_idle_timeout_ms = 30000\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&file)).unwrap_err());
        assert!(err.contains("mpic.pool_idle_timeout_ms"), "{err}");
        std::fs::write(&file, "[mpic]\nconnect_timeout_ms = 0\n").unwrap();
        assert!(Config::load(Some(&file)).is_err());
    }

    #[test]
    fn a_perspective_without_an_enrolled_certificate_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(&dir.path().join("data"));
        enroll(&c, "a", "eu", &dir.path().join("agent-a")).unwrap();
        c.mpic.mode = ferrite_va::mpic::MpicMode::Enforce;
        c.mpic.perspectives = vec![
            PerspectiveConfig {
                id: "a".into(),
                region: "eu".into(),
                url: "https://127.0.0.1:9443".into(),
            },
            PerspectiveConfig {
                id: "never-enrolled".into(),
                region: "us".into(),
                url: "https://127.0.0.1:9444".into(),
            },
        ];
        let va = ferrite_va::Va::new(ferrite_va::VaConfig {
            dns_resolver: Some("127.0.0.1:53".parse().unwrap()),
            ..ferrite_va::VaConfig::default()
        })
        .unwrap();
        let err = match corroborated(&c, Arc::new(va)) {
            Ok(_) => panic!("started without an enrolled certificate"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains("never-enrolled") && err.contains("va-agent enroll"),
            "{err}"
        );
    }
}
