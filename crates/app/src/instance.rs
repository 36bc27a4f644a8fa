//! One Ferrite instance: its listeners, the object graph built from the configuration, and
//! the servers and background jobs that run it.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ferrite_core::eab::Registry;
use ferrite_core::model::{CaCertificates, CaRecord};
use ferrite_core::{Ca, CaConfig, Clock, Store, SystemClock};
use ferrite_pki::CaBundle;
use ferrite_server::tls::ListenerCertificate;
use ferrite_server::{AppState, ServerConfig};
use ferrite_va::VaConfig;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::{CaKeys, Config};

/// How often the engine's housekeeping runs (expired nonces, stranded validations).
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(30);

/// How long a stopping instance waits for its servers to finish the requests in flight.
const SHUTDOWN_GRACE: Duration = ferrite_server::listener::SHUTDOWN_GRACE;

/// Open files kept free of the listeners' caps: the database files, DNS and validation
/// sockets (up to 256 validations at once), the log.
const FILES_RESERVED: u64 = 1024;

/// The three listeners of an instance, bound before anything else so that a port in use is
/// the first error an operator sees, and so that port 0 resolves to the address printed.
pub struct Listeners {
    /// ACME over HTTPS (`listen`).
    pub acme: TcpListener,
    /// Relying parties over plain HTTP: issuer certificate, root, CRL, health
    /// (`public_listen`).
    pub public: TcpListener,
    /// The admin API over plain HTTP (`admin_listen`).
    pub admin: TcpListener,
}

impl Listeners {
    /// Binds `listen`, `public_listen` and `admin_listen`. A plain-HTTP admin listener carries
    /// bearer secrets and session cookies in the clear, so an address other than loopback
    /// without `admin_cert_file` is warned about.
    pub async fn bind(config: &Config) -> anyhow::Result<Listeners> {
        let bind = |addr, key: &'static str| async move {
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} ({key})"))
        };
        let acme = bind(config.listen, "listen").await?;
        // CRLs and the issuer certificate must be reachable by every relying party; the admin
        // API must not be: two listeners.
        let public = bind(config.public_listen, "public_listen").await?;
        let admin = bind(config.admin_listen, "admin_listen").await?;
        if !config.admin_listen.ip().is_loopback() && !config.admin_tls() {
            // Allowed only with admin_trusted_network (Config::validate).
            tracing::warn!(
                admin_listen = %config.admin_listen,
                "the admin API serves plain HTTP with bearer secrets beyond loopback, on a network admin_trusted_network says is trusted"
            );
        }
        Ok(Listeners {
            acme,
            public,
            admin,
        })
    }
}

/// A change to the engine settings derived from the configuration.
pub type EngineChange = Box<dyn FnOnce(&mut CaConfig) + Send>;

/// A change to the validator settings derived from the configuration.
pub type ValidatorChange = Box<dyn FnOnce(&mut VaConfig) + Send>;

/// What a caller sets beyond the configuration file: the clock, where validations run, and
/// engine or validator settings the file does not carry. `ferrite serve` sets only
/// `validation_runtime`; tests use the rest.
pub struct Hooks {
    /// The engine's clock.
    pub clock: Arc<dyn Clock>,
    /// Where validations run ([`CaConfig::validation_runtime`]); `None`: on the runtime of
    /// the request that started them.
    pub validation_runtime: Option<tokio::runtime::Handle>,
    /// Changes to the engine settings derived from the configuration.
    pub engine: Option<EngineChange>,
    /// Changes to the validator settings derived from the configuration.
    pub validator: Option<ValidatorChange>,
}

impl Default for Hooks {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            validation_runtime: None,
            engine: None,
            validator: None,
        }
    }
}

/// The store the configuration names (PostgreSQL at `database_url`, else SQLite in
/// `data_dir`), with its schema brought up to date.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let options = database_options(config)?;
    ferrite_store::open_store(config.database_url.expose(), &config.data_dir, &options)
        .await
        .with_context(|| database_context(config))
}

/// Applies the schema to the configured database and says which one and at what version
/// (`ferrite migrate`).
pub async fn migrate(config: &Config) -> anyhow::Result<ferrite_store::Migrated> {
    let options = database_options(config)?;
    ferrite_store::migrate(config.database_url.expose(), &config.data_dir, &options)
        .await
        .with_context(|| database_context(config))
}

/// The PostgreSQL settings, and for SQLite the data directory its file goes in, created (or
/// made private) by [`crate::data_dir::prepare`].
fn database_options(config: &Config) -> anyhow::Result<ferrite_store::PostgresOptions> {
    if config.database_url.is_empty() {
        crate::data_dir::prepare(&config.data_dir)?;
    }
    config.postgres_options()
}

/// Which database an error is about, without the URL (it may carry a password).
fn database_context(config: &Config) -> String {
    if config.database_url.is_empty() {
        format!(
            "cannot open the SQLite database in {} (data_dir)",
            config.data_dir.display()
        )
    } else {
        "cannot open the PostgreSQL database (database_url, [database])".to_owned()
    }
}

/// The store for the operator commands: unlike [`open_store`] it never creates the data
/// directory (a command run from the wrong directory, with the default `./ferrite-data`, would
/// otherwise make an empty one and report success); without it, it names the path it looked
/// at and how to point the command at the right one.
pub async fn open_existing_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    anyhow::ensure!(
        !config.database_url.is_empty() || config.data_dir.is_dir(),
        "no Ferrite data directory at {}: operator commands work on the data directory of `ferrite serve`; give them the configuration it runs with (--config FILE, FERRITE_CONFIG, or FERRITE_DATA_DIR), or create the directory to start a new one",
        config.data_dir.display()
    );
    open_store(config).await
}

/// Customers, API credentials and MAC keys over the instance's store and KEK: what the
/// operator commands work on, while `ferrite serve` runs or not. Creates nothing (see
/// [`open_existing_store`]).
pub async fn open_registry(config: &Config) -> anyhow::Result<Registry> {
    let store = open_existing_store(config).await?;
    let kek = crate::kek::load_or_create(config)?;
    let registry = Registry::new(store, Arc::new(SystemClock), kek, config.eab_settings())
        .with_rate_limits(config.rate_limits.clone());
    check_kek(&registry).await?;
    Ok(registry)
}

/// Refuses a key-encryption key that does not open the MAC keys already stored, naming both
/// places it may come from and what to do.
async fn check_kek(registry: &Registry) -> anyhow::Result<()> {
    registry.check_kek().await.map_err(|e| {
        anyhow::anyhow!(
            "{e}. The EAB key-encryption key comes from eab.kek (FERRITE_EAB__KEK) or the file data_dir/eab.kek; restore the one the MAC keys were sealed with, from the deployment's secrets or backup (a new key cannot open them)"
        )
    })
}

/// Records this instance's CA certificates in the database and refuses to serve under a root
/// other than the recorded one (the first instance's): every instance of a deployment must
/// issue certificates the same clients trust. An intermediate the database has not seen is
/// recorded with a warning: an operator rolling a new intermediate through the instances one
/// by one has old and new serving side by side for a while. (That intermediate is under the
/// recorded root: loading the CA checked that the root signed it.) The refusal names the
/// fingerprints on both sides and what to do.
async fn check_ca_certificates(
    store: &dyn Store,
    bundle: &CaBundle,
    config: &Config,
    now: time::OffsetDateTime,
) -> anyhow::Result<()> {
    let root_sha256 = bundle
        .root_fingerprint()
        .context("cannot read the CA certificates in data_dir/ca")?;
    // The primary intermediate first: on a new database it records the deployment, and the
    // others join it as intermediates under the same root.
    let mut recorded_now = false;
    for issuer in std::iter::once(&bundle.issuer).chain(&bundle.others) {
        let ours = CaCertificates {
            root_sha256: root_sha256.clone(),
            intermediate_sha256: ferrite_pki::sha256_fingerprint(issuer.intermediate_der()),
        };
        let record = store
            .record_ca_certificates(&ours, now)
            .await
            .with_context(|| database_context(config))?;
        match record {
            CaRecord::Known => {}
            CaRecord::Recorded => {
                recorded_now = true;
                tracing::info!(
                    root_sha256 = %ours.root_sha256,
                    intermediate = issuer.name(),
                    intermediate_sha256 = %ours.intermediate_sha256,
                    "recorded this deployment's CA certificates in the database"
                );
            }
            CaRecord::NewIntermediate { .. } if recorded_now => {
                tracing::info!(
                    intermediate = issuer.name(),
                    intermediate_sha256 = %ours.intermediate_sha256,
                    "recorded this deployment's intermediate in the database"
                );
            }
            CaRecord::NewIntermediate { earlier } => {
                tracing::warn!(
                    intermediate = issuer.name(),
                    intermediate_sha256 = %ours.intermediate_sha256,
                    earlier = %earlier.join(", "),
                    "this instance serves an intermediate the database had not seen, under the recorded root; recorded it. Instances without it keep issuing under the intermediates they have until they get this CA material"
                );
            }
            CaRecord::OtherRoot {
                root_sha256: theirs,
                intermediates,
            } => return Err(other_root(config, &theirs, &intermediates, &ours)),
        }
    }
    Ok(())
}

/// The error of an instance whose root differs from the one the database recorded.
fn other_root(
    config: &Config,
    root_sha256: &str,
    intermediates: &[String],
    ours: &CaCertificates,
) -> anyhow::Error {
    let database = if config.database_url.is_empty() {
        format!("the SQLite database in {}", config.data_dir.display())
    } else {
        "the PostgreSQL database (database_url)".to_owned()
    };
    anyhow::anyhow!(
        "this instance's CA root differs from the one {database} recorded: the database has root SHA-256 {root_sha256} (intermediates {}); {} holds root SHA-256 {} and intermediate SHA-256 {}. Every instance of one deployment must serve under the same root: copy data_dir/ca (root.pem, the intermediate*.pem files, tls.pem and private/) from an instance already serving this database (compare with `openssl x509 -noout -fingerprint -sha256 -in data_dir/ca/root.pem`), or point database_url at this CA's own database",
        intermediates.join(", "),
        config.data_dir.join("ca").display(),
        ours.root_sha256,
        ours.intermediate_sha256,
    )
}

/// Checks that every profile clients may order has an active intermediate to sign it at
/// `now` ([`ferrite_core::issuer::Issuers::for_issuance`]): a profile naming an intermediate
/// that is retired or not there would fail every finalize.
fn check_profile_issuers(
    engine: &ferrite_core::ca::CaConfig,
    issuers: &ferrite_core::issuer::Issuers,
    now: time::OffsetDateTime,
) -> anyhow::Result<()> {
    for profile in engine.profiles.iter() {
        let signs = [false, true]
            .into_iter()
            .any(|rsa| issuers.for_issuance(&profile.issuer, rsa, now).is_some());
        if !signs {
            let active: Vec<&str> = issuers
                .all()
                .filter(|e| e.active)
                .map(|e| e.issuer.name())
                .collect();
            anyhow::bail!(
                "profile {:?} has issuer = {:?}, but no active intermediate valid now matches it (active: {active:?}); write \"default\", \"ecdsa\", \"rsa\" or one of those names, or add the intermediate to ca.active",
                profile.name,
                profile.issuer
            );
        }
    }
    Ok(())
}

/// What [`crate::listener_cert::spawn_watch`] takes: the certificate's source, the served
/// certificate, the clock, and how often to look.
type ListenerWatch = (
    crate::listener_cert::Source,
    Arc<ListenerCertificate>,
    Arc<dyn Clock>,
    Duration,
);

/// A Ferrite instance, built and ready to serve.
pub struct Ferrite {
    /// The engine.
    pub ca: Ca,
    /// The ACME base URL (`base_url`, else `https://{listen}` as bound).
    pub base_url: String,
    /// The base URL of the public listener as written into certificates (`public_base_url`,
    /// else `http://{public_listen}` as bound).
    pub public_base_url: String,
    /// The admin listener's URL, `http://{admin_listen}` as bound (`https://` with
    /// `admin_cert_file`).
    pub admin_url: String,
    /// The root certificate file clients must trust.
    pub root_path: PathBuf,
    /// The root certificate, PEM.
    pub root_pem: String,
    /// Whether this start created the CA (root, intermediate and listener certificate).
    pub created_ca: bool,
    state: AppState,
    /// The ACME listener's TLS; `None` behind a proxy that terminates TLS.
    tls: Option<Arc<rustls::ServerConfig>>,
    /// What keeps the ACME listener's certificate current, and how often it looks; `None`
    /// behind a proxy.
    listener_watch: Option<ListenerWatch>,
    /// The admin listener's TLS; `None`: plain HTTP.
    admin_tls: Option<Arc<rustls::ServerConfig>>,
    /// What keeps the admin listener's certificate current (the operator's files).
    admin_watch: Option<ListenerWatch>,
    listeners: Listeners,
    /// The connection limits of the ACME, public and admin listeners.
    limits: [ferrite_server::listener::ConnectionLimits; 3],
}

impl Ferrite {
    /// Builds the instance `config` describes on `listeners`: loads the CA from
    /// `data_dir/ca` (creating it on the first start when the keys are files; with the keys in
    /// a PKCS#11 token, only the intermediate's key is used), opens the store, builds the validator
    /// and the engine. Logs a warning for every setting a production CA should not run with.
    pub async fn build(
        config: &Config,
        listeners: Listeners,
        hooks: Hooks,
    ) -> anyhow::Result<Ferrite> {
        config.validate()?;
        let acme_addr = listeners.acme.local_addr()?;
        let public_addr = listeners.public.local_addr()?;
        let admin_addr = listeners.admin.local_addr()?;
        let base_url = if config.base_url.is_empty() {
            format!("https://{acme_addr}")
        } else {
            config.base_url.trim_end_matches('/').to_owned()
        };
        let public_base_url = config.public_base_url(public_addr);

        crate::data_dir::prepare(&config.data_dir)?;
        let ca_dir = crate::ca::ca_dir(config);
        let opts = config.ca_options(crate::ca::issuer_urls(&public_base_url, config.crl.shards));
        let (bundle, created_ca) = crate::ca::load_bundle(config, &opts)?;
        if created_ca {
            tracing::info!(dir = %ca_dir.display(), "created a new root and intermediate CA");
        }
        let store = open_store(config).await?;
        check_ca_certificates(store.as_ref(), &bundle, config, hooks.clock.now()).await?;

        let mut va_config = config.validator_config()?;
        if let Some(change) = hooks.validator {
            change(&mut va_config);
        }
        if !va_config.dnssec {
            tracing::warn!(
                "validation.dnssec = false: DNS answers are not DNSSEC-validated (the Baseline Requirements require it for a public CA)"
            );
        }
        let va = ferrite_va::Va::new(va_config).context(
            "cannot set up validation (validation.dns_resolver, validation.dnssec_trust_anchor)",
        )?;

        let issuer = Arc::new(bundle.issuer);
        let other_issuers: Vec<Arc<ferrite_pki::Issuer>> =
            bundle.others.into_iter().map(Arc::new).collect();
        let (listener, listener_source) = if config.tls.behind_proxy() {
            (None, None)
        } else if config.tls.operator_files() {
            let (cert, key) = (
                PathBuf::from(config.tls.cert_file.trim()),
                PathBuf::from(config.tls.key_file.trim()),
            );
            let (chain_pem, key_pem, not_after) =
                crate::listener_cert::read_files(&cert, &key, crate::listener_cert::ACME_FILES)?;
            let days_left = (not_after - hooks.clock.now()).whole_days();
            if days_left < ferrite_pki::LISTENER_RENEW_BEFORE.whole_days() {
                tracing::warn!(file = %cert.display(), %not_after, days_left, "the ACME listener certificate (tls.cert_file) expires soon or has expired: renew it; the new files are served without a restart");
            }
            (
                Some(ListenerCertificate::new(
                    &chain_pem,
                    key_pem.expose(),
                    not_after,
                )?),
                Some(crate::listener_cert::files_source(
                    cert,
                    key,
                    crate::listener_cert::ACME_FILES,
                )),
            )
        } else {
            (
                Some(
                    ListenerCertificate::new(
                        &bundle.tls_chain_pem,
                        bundle.tls_key.expose(),
                        bundle.tls_not_after,
                    )
                    .context("cannot use the listener certificate in data_dir/ca")?,
                ),
                Some(crate::listener_cert::Source::Own {
                    dir: ca_dir.clone(),
                    issuer: issuer.clone(),
                    opts: opts.clone(),
                }),
            )
        };
        // The admin listener's own certificate, when the operator gives it one: HTTPS for the
        // admin API and the portal, read again whenever the files change.
        let admin_certificate = if config.admin_tls() {
            let (cert, key) = (
                PathBuf::from(config.admin_cert_file.trim()),
                PathBuf::from(config.admin_key_file.trim()),
            );
            let files = crate::listener_cert::ADMIN_FILES;
            let (chain_pem, key_pem, not_after) =
                crate::listener_cert::read_files(&cert, &key, files)?;
            let days_left = (not_after - hooks.clock.now()).whole_days();
            if days_left < ferrite_pki::LISTENER_RENEW_BEFORE.whole_days() {
                tracing::warn!(file = %cert.display(), %not_after, days_left, "the admin listener certificate (admin_cert_file) expires soon or has expired: renew it; the new files are served without a restart");
            }
            let served = ListenerCertificate::new(&chain_pem, key_pem.expose(), not_after)?;
            Some((crate::listener_cert::files_source(cert, key, files), served))
        } else {
            None
        };
        let admin_tls = match &admin_certificate {
            Some((_, served)) => Some(
                served
                    .server_config()
                    .context("cannot serve the admin listener's certificate")?,
            ),
            None => None,
        };
        let trusted_proxies = if config.tls.behind_proxy() {
            Some(parse_proxies(
                &config.tls.trusted_proxies,
                "tls.trusted_proxies",
            )?)
        } else {
            None
        };
        let admin_trusted_proxies = if config.admin_trusted_proxies.is_empty() {
            None
        } else {
            Some(parse_proxies(
                &config.admin_trusted_proxies,
                "admin_trusted_proxies",
            )?)
        };
        let server_config = ServerConfig {
            body_read_timeout: Duration::from_secs(config.limits.body_read_timeout_seconds),
            listener: listener.clone(),
            trusted_proxies,
            admin_trusted_proxies,
            clients_need_root: crate::ca::listener_trust_root(config).is_some(),
            ..ServerConfig::new(base_url.clone(), bundle.root_pem.clone())
        };
        let mut engine = config.engine_config(
            time::OffsetDateTime::now_utc(),
            crate::kek::load_or_create(config)?,
            server_config.account_url_prefix(),
        )?;
        engine.validation_runtime = hooks.validation_runtime;
        if let Some(change) = hooks.engine {
            change(&mut engine);
        }
        let tls = match &listener {
            Some(listener) => Some(
                listener
                    .server_config()
                    .context("cannot serve the ACME listener's certificate")?,
            ),
            None => None,
        };
        let root_path = CaBundle::root_path(&ca_dir);
        let root_path = std::fs::canonicalize(&root_path).unwrap_or(root_path);
        let clock = hooks.clock;
        let crate::mpic::Corroborated {
            validator,
            metrics: mpic_metrics,
        } = crate::mpic::corroborated(config, Arc::new(va))?;
        let ct_logs = config.ct.logs()?;
        // Every intermediate's certificates are logged, counted in one set of CT metrics.
        let ct_metrics = ct_logs.as_ref().map(|logs| Arc::new(logs.new_metrics()));
        if let Some(logs) = &ct_logs {
            tracing::info!(
                logs = ?logs.logs().iter().map(|l| l.url.as_str()).collect::<Vec<_>>(),
                "Certificate Transparency: every certificate is logged before it is issued"
            );
        }
        let issuers = crate::ca::engine_issuers(config, issuer, other_issuers, |inner| {
            match (&ct_logs, &ct_metrics) {
                (Some(logs), Some(metrics)) => Arc::new(ferrite_ct::LoggedIssuer::new(
                    inner,
                    logs.clone(),
                    Arc::clone(metrics),
                )),
                _ => inner,
            }
        })?;
        check_profile_issuers(&engine, &issuers, clock.now())?;
        let server_config = ServerConfig {
            mpic_metrics,
            ct_metrics,
            ..server_config
        };
        let ca = Ca::new(store, validator, clock.clone(), issuers, engine);
        check_kek(ca.eab()).await?;
        // Each start is an audit entry, with the settings an auditor asks about (no secret).
        let started = serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "database": if config.database_url.is_empty() { "sqlite" } else { "postgresql" },
            "ca_keys": match config.ca.keys {
                CaKeys::Files => "files",
                CaKeys::Pkcs11 => "pkcs11",
            },
            "public_base_url": public_base_url,
            "crl_shards": config.crl.shards,
            "ct_logs": config.ct.logs.iter().map(|l| l.url.as_str()).collect::<Vec<_>>(),
            "mpic_perspectives": config.mpic.perspectives.len(),
        });
        ca.store()
            .append_audit(
                ca.now(),
                "instance_started",
                ca.issuer().issuer_id(),
                &started.to_string(),
            )
            .await
            .context("cannot write the audit log")?;
        for warning in ca.intermediate_warnings() {
            tracing::warn!("{warning}");
        }
        Ok(Ferrite {
            state: AppState::new(ca.clone(), server_config),
            ca,
            base_url,
            public_base_url,
            admin_url: format!(
                "{}://{admin_addr}",
                if admin_tls.is_some() { "https" } else { "http" }
            ),
            root_path,
            root_pem: bundle.root_pem,
            created_ca,
            tls,
            listener_watch: listener_source
                .zip(listener)
                .map(|(source, served)| (source, served, clock.clone(), config.tls.check_every())),
            admin_tls,
            admin_watch: admin_certificate
                .map(|(source, served)| (source, served, clock, config.tls.check_every())),
            listeners,
            limits: connection_limits(config, open_file_limit()),
        })
    }

    /// The ACME directory URL.
    pub fn directory_url(&self) -> String {
        format!("{}/directory", self.base_url)
    }

    /// The address the ACME listener is bound to.
    pub fn acme_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listeners.acme.local_addr()
    }

    /// Serves ACME, the public listener and the admin API, and runs housekeeping, until
    /// `shutdown` completes.
    pub fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Running {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let stopping = stop_rx.clone();
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let Listeners {
            acme,
            public,
            admin,
        } = self.listeners;
        let [acme_limits, public_limits, admin_limits] = self.limits;
        use ferrite_server::listener::serve;
        Running {
            stopping,
            servers: vec![
                tokio::spawn(serve(
                    acme,
                    self.tls,
                    ferrite_server::acme_router(self.state.clone()),
                    acme_limits,
                    stopped(stop_rx.clone()),
                )),
                tokio::spawn(serve(
                    public,
                    None,
                    ferrite_server::public_router(self.state.clone()),
                    public_limits,
                    stopped(stop_rx.clone()),
                )),
                tokio::spawn(serve(
                    admin,
                    self.admin_tls,
                    ferrite_server::admin_router(self.state),
                    admin_limits,
                    stopped(stop_rx),
                )),
            ],
            crl_refresh: ferrite_server::spawn_crl_refresh(
                self.ca.clone(),
                ferrite_core::ca::CRL_SCHEDULE,
            ),
            housekeeping: ferrite_server::spawn_housekeeping(self.ca, HOUSEKEEPING_EVERY),
            listener_watch: self.listener_watch.map(|(source, served, clock, every)| {
                crate::listener_cert::spawn_watch(source, served, clock, every)
            }),
            admin_watch: self.admin_watch.map(|(source, served, clock, every)| {
                crate::listener_cert::spawn_watch(source, served, clock, every)
            }),
        }
    }
}

/// Raises the process's soft limit on open files to its hard limit, so the listeners' caps can
/// be what the configuration says; logs both. Process-wide: `ferrite serve` calls it once at
/// start.
pub fn raise_open_file_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(error = %e, "cannot raise the open-file limit");
        }
    }
    let now = getrlimit(Resource::Nofile);
    tracing::info!(
        soft = ?now.current,
        hard = ?now.maximum,
        "open-file limit (RLIMIT_NOFILE)"
    );
}

/// The process's soft limit on open files; `None`: unlimited.
fn open_file_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

/// The ACME, public and admin listeners' connection limits: the configured caps, cut in
/// proportion (with a warning) when together with [`FILES_RESERVED`] they would pass the
/// open-file limit `files`, so that a flood of connections fails at a listener's cap and never
/// at `accept` for every listener at once. Behind a proxy, the ACME listener has no cap per
/// address.
fn connection_limits(
    config: &Config,
    files: Option<u64>,
) -> [ferrite_server::listener::ConnectionLimits; 3] {
    let l = &config.limits;
    let mut caps = [
        l.acme_max_connections,
        l.public_max_connections,
        l.admin_max_connections,
    ];
    let wanted: u64 = caps.iter().map(|c| *c as u64).sum();
    if let Some(files) = files {
        let room = files.saturating_sub(FILES_RESERVED).max(3);
        if wanted > room {
            for cap in &mut caps {
                *cap = ((*cap as u64 * room / wanted) as usize).max(1);
            }
            tracing::warn!(
                open_file_limit = files,
                acme = caps[0],
                public = caps[1],
                admin = caps[2],
                "the listeners' connection caps (limits.*_max_connections) together pass the open-file limit; cut to fit: raise the limit (LimitNOFILE= in a systemd unit) to serve the configured caps"
            );
        }
    }
    let mut limits = caps.map(|cap| l.connections(cap));
    if config.tls.behind_proxy() {
        // Every connection to the ACME listener comes from a proxy: a per-address cap would
        // cap the proxies, not the clients behind them (the proxy limits those).
        limits[0].max_connections_per_address = limits[0].max_connections;
    }
    limits
}

/// The proxies `entries` (the configuration key `key`) name.
fn parse_proxies(
    entries: &[String],
    key: &str,
) -> anyhow::Result<Arc<ferrite_server::proxy::TrustedProxies>> {
    ferrite_server::proxy::TrustedProxies::parse(entries)
        .map(Arc::new)
        .map_err(|e| anyhow::anyhow!("{key}: {e}"))
}

/// A serving instance.
pub struct Running {
    /// Turns true when the shutdown future given to [`Ferrite::serve`] completes.
    stopping: tokio::sync::watch::Receiver<bool>,
    servers: Vec<JoinHandle<std::io::Result<()>>>,
    housekeeping: JoinHandle<()>,
    /// Keeps the issuer's CRLs fresh.
    crl_refresh: JoinHandle<()>,
    listener_watch: Option<JoinHandle<()>>,
    admin_watch: Option<JoinHandle<()>>,
}

impl Running {
    /// Waits for the shutdown signal, then until the servers have stopped (at most
    /// [`SHUTDOWN_GRACE`] for requests in flight), and stops housekeeping and the listener
    /// certificates' watches.
    pub async fn stopped(mut self) {
        // A closed channel means the signal's task is gone: stop too.
        let _ = self.stopping.wait_for(|s| *s).await;
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
            for server in self.servers {
                if let Ok(Err(e)) = server.await {
                    tracing::warn!(error = %e, "a listener stopped with an error");
                }
            }
        })
        .await;
        self.housekeeping.abort();
        self.crl_refresh.abort();
        for watch in [&self.listener_watch, &self.admin_watch]
            .into_iter()
            .flatten()
        {
            watch.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config on loopback ports chosen by the kernel, in `dir`, validating against nothing
    /// (no validation runs in these tests).
    fn config(dir: &std::path::Path) -> Config {
        let mut config = Config::default();
        let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        config.listen = loopback;
        config.public_listen = loopback;
        config.admin_listen = loopback;
        config.data_dir = dir.to_owned();
        config.validation.dns_resolver = "127.0.0.1:53".to_owned();
        config.validation.dnssec = false;
        config
    }

    #[test]
    fn connection_caps_fit_the_open_file_limit() {
        let mut config = Config::default();
        config.limits.acme_max_connections = 6_000;
        config.limits.public_max_connections = 3_000;
        config.limits.admin_max_connections = 1_000;
        let caps = |files| connection_limits(&config, files).map(|l| l.max_connections);
        // Room enough (or no limit): as configured.
        assert_eq!(caps(Some(1_048_576)), [6_000, 3_000, 1_000]);
        assert_eq!(caps(None), [6_000, 3_000, 1_000]);
        // 4096 open files: 3072 for connections, shared in proportion.
        let cut = caps(Some(4_096));
        assert_eq!(cut, [1_843, 921, 307]);
        assert!(cut.iter().sum::<usize>() as u64 <= 4_096 - FILES_RESERVED);
        // Every listener keeps at least one.
        assert!(caps(Some(10)).iter().all(|c| *c >= 1));
    }

    /// An instance serves until its shutdown signal, however long that takes, and then stops
    /// within the grace period. (The clock is paused: it jumps ahead whenever every task
    /// waits, so hours pass in no time.)
    #[tokio::test(start_paused = true)]
    async fn an_instance_serves_until_its_shutdown_signal() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path());
        let listeners = Listeners::bind(&config).await.unwrap();
        let ferrite = Ferrite::build(&config, listeners, Hooks::default())
            .await
            .unwrap();
        let acme = ferrite.acme_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let running = ferrite.serve(async move {
            let _ = stop_rx.await;
        });
        let mut stopped = std::pin::pin!(running.stopped());
        tokio::select! {
            () = &mut stopped => panic!("the instance stopped without a shutdown signal"),
            () = tokio::time::sleep(SHUTDOWN_GRACE * 360) => {}
        }
        // Still accepting connections.
        tokio::net::TcpStream::connect(acme).await.unwrap();
        stop_tx.send(()).unwrap();
        tokio::time::timeout(SHUTDOWN_GRACE * 2, stopped)
            .await
            .expect("stopped within the grace period after the signal");
    }
}
