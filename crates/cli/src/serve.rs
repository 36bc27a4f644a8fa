//! `ferrite serve`: bind, load or create the CA, open the store, serve until Ctrl-C/SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ferrite_core::{Ca, CaConfig, SystemClock};
use ferrite_pki::{CaBundle, CaOptions, IssuerUrls};
use ferrite_server::{AppState, ServerConfig};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::config::Config;

/// Runs `ferrite serve` until a shutdown signal; validations run on `validations`.
pub(crate) async fn run(config: Config, validations: tokio::runtime::Handle) -> anyhow::Result<()> {
    init_logging(&config.log_format);

    let acme_listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (listen)", config.listen))?;
    // CRLs and the issuer certificate must be reachable by every relying party; the admin API
    // carries bearer secrets over plain HTTP and must not be: two listeners.
    let public_listener = TcpListener::bind(config.public_listen)
        .await
        .with_context(|| format!("cannot listen on {} (public_listen)", config.public_listen))?;
    let admin_listener = TcpListener::bind(config.admin_listen)
        .await
        .with_context(|| format!("cannot listen on {} (admin_listen)", config.admin_listen))?;
    if !config.admin_listen.ip().is_loopback() {
        tracing::warn!(
            admin_listen = %config.admin_listen,
            "the admin API is plain HTTP with bearer secrets: keep admin_listen on loopback and reach it through an SSH tunnel or a TLS-terminating proxy"
        );
    }
    let acme_addr = acme_listener.local_addr()?;
    let public_addr = public_listener.local_addr()?;
    let admin_addr = admin_listener.local_addr()?;
    let base_url = if config.base_url.is_empty() {
        format!("https://{acme_addr}")
    } else {
        config.base_url.trim_end_matches('/').to_owned()
    };
    let public_base = if config.public_base_url.is_empty() {
        format!("http://{public_addr}")
    } else {
        config.public_base_url.trim_end_matches('/').to_owned()
    };

    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data_dir {}", config.data_dir.display()))?;
    let ca_dir = config.data_dir.join("ca");
    let urls = IssuerUrls {
        ca_issuers: format!("{public_base}{}", ferrite_server::public::INTERMEDIATE_PATH),
        crl: format!("{public_base}{}", ferrite_server::public::CRL_PATH),
    };
    let (bundle, created) = CaBundle::load_or_create(&ca_dir, &CaOptions::new(urls))
        .context("cannot load or create the CA in data_dir/ca")?;
    if created {
        tracing::info!(dir = %ca_dir.display(), "created a new root and intermediate CA");
    }

    let db_path = config.data_dir.join("ferrite.db");
    let store = ferrite_store::SqliteStore::open(&db_path)
        .await
        .with_context(|| format!("cannot open the database {}", db_path.display()))?;

    let va = ferrite_va::Va::new(ferrite_va::VaConfig {
        dns_resolver: config.dns_resolver()?,
        http01_port: config.validation.http01_port,
        tlsalpn01_port: config.validation.tlsalpn01_port,
        allow_private_addresses: config.validation.allow_private_addresses,
        dnssec: config.validation.dnssec,
        dnssec_trust_anchor: config.dnssec_trust_anchor(),
        ..ferrite_va::VaConfig::default()
    })
    .context(
        "cannot set up validation (validation.dns_resolver, validation.dnssec_trust_anchor)",
    )?;
    if !config.validation.dnssec {
        tracing::warn!(
            "validation.dnssec = false: DNS answers are not DNSSEC-validated (the Baseline Requirements require it for a public CA)"
        );
    }

    // Baseline Requirements §6.3.2: finalize cuts the validity to the table's maximum for
    // the issuance date; say so at start rather than surprise the operator.
    let br_max = ferrite_pki::max_leaf_validity(time::OffsetDateTime::now_utc()).whole_days();
    if i64::from(config.issuance.validity_days) > br_max {
        tracing::warn!(
            "issuance.validity_days = {} is above the Baseline Requirements maximum of {br_max} days for certificates issued now; certificates get {br_max} days",
            config.issuance.validity_days
        );
    }
    let eab_kek = crate::kek::load_or_create(&config)?;
    let (reuse, reuse_warning) = config.reuse_policy(time::OffsetDateTime::now_utc());
    if let Some(warning) = reuse_warning {
        tracing::warn!("{warning}");
    }
    let ca_config = CaConfig {
        eab_required: config.eab.required,
        eab: config.eab_settings(),
        eab_kek: Some(eab_kek),
        caa_identities: config.validation.caa_identities.clone(),
        // The account URLs the ACME router serves (`/acme/acct/{id}`), for CAA accounturi.
        account_url_prefix: format!("{base_url}/acme/acct/"),
        certificate_validity: time::Duration::days(i64::from(config.issuance.validity_days)),
        csr_policy: config.csr_policy()?,
        reuse,
        identifier_policy: config.identifier_policy(),
        validation_runtime: Some(validations),
        ..CaConfig::default()
    };
    let tls = ferrite_server::tls::server_config(&bundle.tls_chain_pem, bundle.tls_key.expose())
        .context("cannot use the listener certificate in data_dir/ca")?;
    let root_path = CaBundle::root_path(&ca_dir);
    let root_path = std::fs::canonicalize(&root_path).unwrap_or(root_path);
    let ca = Ca::new(
        Arc::new(store),
        Arc::new(va),
        Arc::new(SystemClock),
        Arc::new(bundle.issuer),
        ca_config,
    );
    let state = AppState::new(
        ca.clone(),
        ServerConfig {
            caa_identities: config.validation.caa_identities.clone(),
            ..ServerConfig::new(base_url.clone(), bundle.root_pem)
        },
    );
    if config.validation.caa_identities.is_empty() {
        tracing::warn!(
            "validation.caa_identities is empty: names whose CAA records authorize any CA will be refused; set it to the issuer domain name your customers publish in CAA issue records"
        );
    }

    crate::first_start::bootstrap(ca.eab(), &format!("{base_url}/directory")).await?;

    let housekeeping = ferrite_server::spawn_housekeeping(ca, Duration::from_secs(30));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let acme = tokio::spawn(ferrite_server::tls::serve(
        acme_listener,
        tls,
        ferrite_server::acme_router(state.clone()),
        stopped(stop_rx.clone()),
    ));
    let public = tokio::spawn(ferrite_server::serve_http(
        public_listener,
        ferrite_server::public_router(state.clone()),
        stopped(stop_rx.clone()),
    ));
    let admin = tokio::spawn(ferrite_server::serve_http(
        admin_listener,
        ferrite_server::admin_router(state),
        stopped(stop_rx),
    ));

    // Printed (not logged) so scripts and people can read it whatever the log settings.
    println!("Ferrite ACME directory: {base_url}/directory");
    println!(
        "Root certificate clients must trust: {}",
        root_path.display()
    );
    println!(
        "The same over HTTP: {public_base}{}",
        ferrite_server::public::ROOT_PATH
    );
    println!("Admin API: http://{admin_addr}");
    println!("CRL and issuer certificate: {public_base}");

    shutdown_signal().await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    housekeeping.abort();
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        let _ = acme.await;
        let _ = public.await;
        let _ = admin.await;
    })
    .await;
    Ok(())
}

fn init_logging(format: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a terminal, and not when NO_COLOR is set (https://no-color.org): a
    // log file or journald gets plain text, not escape codes.
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colours)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
