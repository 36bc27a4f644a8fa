//! [`TestCa`]: the whole CA in-process — SQLite store in a temp dir, the real engine, the real
//! validator pointed at a [`MockDns`], the ACME router over TLS on 127.0.0.1:0 — plus the
//! challenge responders the validator will reach. Tests read like scenarios against it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ferrite_core::{Ca, CaConfig, Clock, SystemClock};
use ferrite_pki::{CaBundle, CaOptions, IssuerUrls};
use ferrite_server::{AppState, ServerConfig};
use tokio::net::TcpListener;

use crate::dns::MockDns;
use crate::responders::{Http01Responder, TlsAlpn01Responder};

/// Knobs a test may turn before starting.
pub struct TestCaOptions {
    /// Engine configuration.
    pub config: CaConfig,
    /// The clock the engine uses.
    pub clock: Arc<dyn Clock>,
}

impl Default for TestCaOptions {
    fn default() -> Self {
        Self {
            config: CaConfig::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

/// A running CA with its fixtures. Everything stops when it is dropped.
pub struct TestCa {
    /// `https://127.0.0.1:PORT/directory`.
    pub directory_url: String,
    /// The ACME base URL.
    pub base_url: String,
    /// The plain-HTTP base URL (CRL, issuer certificate).
    pub public_url: String,
    /// Path of the root certificate PEM clients must trust.
    pub root_pem_path: PathBuf,
    /// The root certificate PEM.
    pub root_pem: String,
    /// The engine, for direct checks.
    pub ca: Ca,
    /// The mock DNS the validator resolves through.
    pub dns: MockDns,
    /// Serves http-01 key authorizations on the validator's http-01 port.
    pub http01: Http01Responder,
    /// Serves tls-alpn-01 certificates on the validator's tls-alpn-01 port.
    pub tlsalpn01: TlsAlpn01Responder,
    /// The ACME listener address.
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestCa {
    /// Starts a CA with default options.
    pub async fn start() -> TestCa {
        Self::start_with(TestCaOptions::default()).await
    }

    /// Starts a CA. Panics on setup failure: this is test code.
    pub async fn start_with(opts: TestCaOptions) -> TestCa {
        let dir = tempfile::tempdir().expect("tempdir");
        let dns = MockDns::start().await.expect("mock DNS");
        let http01 = Http01Responder::start().await.expect("http-01 responder");
        let tlsalpn01 = TlsAlpn01Responder::start()
            .await
            .expect("tls-alpn-01 responder");

        let acme_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let public_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = acme_listener.local_addr().expect("addr");
        let base_url = format!("https://{addr}");
        let public_url = format!("http://{}", public_listener.local_addr().expect("addr"));

        let ca_dir = dir.path().join("ca");
        let urls = IssuerUrls {
            ca_issuers: format!("{public_url}{}", ferrite_server::public::INTERMEDIATE_PATH),
            crl: format!("{public_url}{}", ferrite_server::public::CRL_PATH),
        };
        let (bundle, _) = CaBundle::load_or_create(&ca_dir, &CaOptions::new(urls)).expect("CA");
        let store = ferrite_store::SqliteStore::open(&dir.path().join("ferrite.db"))
            .await
            .expect("store");
        let va = ferrite_va::Va::new(ferrite_va::VaConfig {
            dns_resolver: Some(dns.addr()),
            http01_port: http01.port(),
            tlsalpn01_port: tlsalpn01.port(),
            allow_private_addresses: true,
            timeout: std::time::Duration::from_secs(5),
        })
        .expect("va");
        let tls =
            ferrite_server::tls::server_config(&bundle.tls_chain_pem, bundle.tls_key.expose())
                .expect("tls");
        let ca = Ca::new(
            Arc::new(store),
            Arc::new(va),
            opts.clock,
            Arc::new(bundle.issuer),
            opts.config,
        );
        let state = AppState {
            ca: ca.clone(),
            config: Arc::new(ServerConfig::new(base_url.clone(), bundle.root_pem.clone())),
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (stop_acme, stop_public) = {
            let (a_tx, a_rx) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                let _ = rx.await;
                let _ = a_tx.send(true);
            });
            (a_rx.clone(), a_rx)
        };
        let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        tokio::spawn(ferrite_server::tls::serve(
            acme_listener,
            tls,
            ferrite_server::acme_router(state.clone()),
            wait(stop_acme),
        ));
        tokio::spawn(ferrite_server::serve_http(
            public_listener,
            ferrite_server::public_router(state),
            wait(stop_public),
        ));
        TestCa {
            directory_url: format!("{base_url}/directory"),
            base_url,
            public_url,
            root_pem_path: CaBundle::root_path(&ca_dir),
            root_pem: bundle.root_pem,
            ca,
            dns,
            http01,
            tlsalpn01,
            addr,
            _dir: dir,
            shutdown: Some(tx),
        }
    }

    /// An instant-acme account builder that trusts this CA's root.
    pub fn acme_builder(&self) -> instant_acme::AccountBuilder {
        instant_acme::Account::builder_with_root(&self.root_pem_path).expect("account builder")
    }

    /// Creates an instant-acme account (no EAB).
    pub async fn new_account(&self) -> instant_acme::Account {
        let (account, _) = self
            .acme_builder()
            .create(
                &instant_acme::NewAccount {
                    contact: &["mailto:admin@example.com"],
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                },
                self.directory_url.clone(),
                None,
            )
            .await
            .expect("create account");
        account
    }
}

impl Drop for TestCa {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
