//! [`TestCa`]: the whole CA in-process, built by `ferrite_app` exactly as `ferrite serve`
//! builds it — SQLite store in a temp dir (or the PostgreSQL database `config.database_url`
//! names), the real engine, the real validator pointed at a
//! [`MockDns`], the ACME, public and admin listeners on 127.0.0.1:0 — plus the challenge
//! responders the validator will reach. Tests read like scenarios against it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ferrite_app::{Config, Ferrite, Hooks, Listeners};
use ferrite_core::{Ca, CaConfig, Clock, SystemClock};

use serde_json::Value;

use crate::dns::MockDns;
use crate::raw::{RawAccount, RawClient, RawResponse};
use crate::responders::{Http01Responder, TlsAlpn01Responder};

/// Knobs a test may turn before starting.
pub struct TestCaOptions {
    /// The configuration, as an operator would write it ([`TestCaOptions::default`] starts
    /// from Ferrite's defaults without a required EAB, and lets one address hold as many
    /// connections as the ACME listener serves, since every test client is 127.0.0.1). The
    /// testkit sets what its fixtures
    /// decide: `data_dir`, the three listeners, the resolver, the validation ports,
    /// `allow_private_addresses` and `dnssec`. With `ca.keys = "pkcs11"` the testkit holds
    /// the key ceremony in the configured token before the first start, as an operator runs
    /// `ferrite ca init` before `ferrite serve` (unless the data directory already holds the
    /// CA's certificates).
    pub config: Config,
    /// Engine settings the configuration file does not carry (page sizes, the validation head
    /// start), changed after the engine's settings are derived from `config`.
    pub engine: Option<ferrite_app::EngineChange>,
    /// Where validations run; `None`: on the runtime of the request that started them.
    pub validation_runtime: Option<tokio::runtime::Handle>,
    /// The clock the engine uses.
    pub clock: Arc<dyn Clock>,
    /// The data directory (CA certificates and keys, the EAB KEK) of another instance of the
    /// same CA, for a second instance beside it; `None`: a fresh temporary one.
    pub data_dir: Option<PathBuf>,
}

impl Default for TestCaOptions {
    fn default() -> Self {
        let mut config = Config::default();
        // Most scenarios are about ACME itself; the EAB tests switch it on.
        config.eab.required = false;
        // Every simulated client connects from 127.0.0.1, some tests a thousand at once.
        config.limits.max_connections_per_address = config.limits.acme_max_connections;
        // Every simulated client registers from 127.0.0.1, many tests dozens of accounts and
        // orders on one server: the rate limits are off unless a test sets them
        // (testkit/tests/rate_limits.rs).
        config.rate_limits = ferrite_core::rate_limit::RateLimits::off();
        Self {
            config,
            engine: None,
            validation_runtime: None,
            clock: Arc::new(SystemClock),
            data_dir: None,
        }
    }
}

impl TestCaOptions {
    /// These options with `change` applied to the engine settings (after any change set
    /// before).
    pub fn with_engine(mut self, change: impl FnOnce(&mut CaConfig) + Send + 'static) -> Self {
        let before = self.engine.take();
        self.engine = Some(Box::new(move |c: &mut CaConfig| {
            if let Some(before) = before {
                before(c);
            }
            change(c);
        }));
        self
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
    /// The admin API's base URL (`http://127.0.0.1:PORT`).
    pub admin_url: String,
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
    data_dir: PathBuf,
    /// The fresh data directory, removed on drop (unused with [`TestCaOptions::data_dir`]).
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestCa {
    /// Starts a CA with default options.
    pub async fn start() -> TestCa {
        Self::start_with(TestCaOptions::default()).await
    }

    /// Starts a CA whose mock DNS is unsigned and whose validator does not
    /// check DNSSEC. Panics on setup failure: this is test code.
    pub async fn start_with(opts: TestCaOptions) -> TestCa {
        Self::start_inner(opts, false).await
    }

    /// Starts a CA whose mock DNS serves a signed root zone
    /// ([`MockDns::sign`]) and whose validator validates DNSSEC to that
    /// zone's key, as production validates to the IANA root.
    pub async fn start_with_dnssec(opts: TestCaOptions) -> TestCa {
        Self::start_inner(opts, true).await
    }

    async fn start_inner(opts: TestCaOptions, dnssec: bool) -> TestCa {
        let dir = tempfile::tempdir().expect("tempdir");
        let dns = MockDns::start().await.expect("mock DNS");
        let http01 = Http01Responder::start().await.expect("http-01 responder");
        let tlsalpn01 = TlsAlpn01Responder::start()
            .await
            .expect("tls-alpn-01 responder");

        let mut config = opts.config;
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        config.data_dir = opts.data_dir.unwrap_or_else(|| dir.path().to_owned());
        config.listen = loopback;
        config.public_listen = loopback;
        config.admin_listen = loopback;
        config.validation.dns_resolver = dns.addr().to_string();
        config.validation.http01_port = http01.port();
        config.validation.tlsalpn01_port = tlsalpn01.port();
        config.validation.allow_private_addresses = true;
        config.validation.dnssec = dnssec;
        let anchor = dnssec.then(|| dns.sign());
        let hooks = Hooks {
            clock: opts.clock,
            validation_runtime: opts.validation_runtime,
            engine: opts.engine,
            validator: Some(Box::new(move |va: &mut ferrite_va::VaConfig| {
                va.timeout = VALIDATION_TIMEOUT;
                if let Some(records) = anchor {
                    va.dnssec_trust_anchor = ferrite_va::TrustAnchor::Records(records);
                }
            })),
        };
        let holds_a_ca = config.data_dir.join("ca/root.pem").exists();
        if config.ca.keys == ferrite_app::config::CaKeys::Pkcs11 && !holds_a_ca {
            // Keys in a token: the operator holds the key ceremony before the first start
            // (a data directory that already holds the CA's certificates had its ceremony,
            // or an import).
            ferrite_app::ca::init(
                &config,
                &ferrite_pki::Ceremony::RootAndIntermediate,
                None,
                &ferrite_pki::NewIntermediate::defaults(),
            )
            .expect("the key ceremony in the configured token");
        }
        let listeners = Listeners::bind(&config).await.expect("bind");
        let ferrite = Ferrite::build(&config, listeners, hooks)
            .await
            .expect("build the CA");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let test_ca = TestCa {
            directory_url: ferrite.directory_url(),
            base_url: ferrite.base_url.clone(),
            public_url: ferrite.public_base_url.clone(),
            admin_url: ferrite.admin_url.clone(),
            root_pem_path: ferrite.root_path.clone(),
            root_pem: ferrite.root_pem.clone(),
            ca: ferrite.ca.clone(),
            dns,
            http01,
            tlsalpn01,
            addr: ferrite.acme_addr().expect("addr"),
            data_dir: config.data_dir.clone(),
            _dir: dir,
            shutdown: Some(tx),
        };
        let _running = ferrite.serve(async move {
            let _ = rx.await;
        });
        test_ca
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

/// How long a test's validation may take: failures a test provokes (a silent server) end
/// sooner than in production.
const VALIDATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The validator a test CA uses, for tests that build the engine themselves: it asks `dns`
/// (validating DNSSEC to `dns`'s signed root when `dnssec`, else not at all), connects to the
/// challenge responders' ports on loopback (private addresses allowed), and gives a
/// validation [`VALIDATION_TIMEOUT`], as [`TestCa`] configures its validator.
pub fn test_va(
    dns: &MockDns,
    http01_port: u16,
    tlsalpn01_port: u16,
    dnssec: bool,
) -> ferrite_va::Va {
    ferrite_va::Va::new(ferrite_va::VaConfig {
        dns_resolver: Some(dns.addr()),
        http01_port,
        tlsalpn01_port,
        allow_private_addresses: true,
        timeout: VALIDATION_TIMEOUT,
        dnssec,
        dnssec_trust_anchor: if dnssec {
            ferrite_va::TrustAnchor::Records(dns.sign())
        } else {
            ferrite_va::TrustAnchor::IanaRoot
        },
    })
    .expect("va")
}

/// A certificate issued through [`TestCa::raw_issue`].
pub struct RawIssued {
    /// The order URL.
    pub order_url: String,
    /// The certificate URL.
    pub cert_url: String,
    /// The chain as downloaded (`application/pem-certificate-chain`).
    pub chain_pem: String,
    /// The leaf certificate, DER.
    pub leaf_der: Vec<u8>,
    /// The leaf's private key, PKCS#8 DER (P-256 unless `raw_issue_with` was given another).
    pub leaf_key_pkcs8: Vec<u8>,
}

impl TestCa {
    /// Answers every pending authorization of an instant-acme `order` with `kind` through this
    /// CA's fixtures, then
    /// tells the CA. dns-01 records are all published before any challenge is started, because a
    /// wildcard and its base name share one `_acme-challenge` name.
    pub async fn answer(&self, order: &mut instant_acme::Order, kind: instant_acme::ChallengeType) {
        let mut txt: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        let mut authzs = order.authorizations();
        while let Some(authz) = authzs.next().await {
            let mut authz = authz.unwrap();
            if authz.status != instant_acme::AuthorizationStatus::Pending {
                continue;
            }
            let challenge = authz
                .challenge(kind.clone())
                .unwrap_or_else(|| panic!("no {kind:?} challenge offered"));
            let instant_acme::Identifier::Dns(name) = challenge.identifier().identifier else {
                panic!("not a dns identifier");
            };
            let name = name.clone();
            let ka = challenge.key_authorization();
            match kind {
                instant_acme::ChallengeType::Http01 => {
                    self.http01.set(&challenge.token, ka.as_str())
                }
                instant_acme::ChallengeType::TlsAlpn01 => self.tlsalpn01.set(&name, ka.as_str()),
                instant_acme::ChallengeType::Dns01 => txt
                    .entry(format!("_acme-challenge.{name}."))
                    .or_default()
                    .push(ka.dns_value()),
                _ => unreachable!(),
            }
        }
        for (name, values) in txt {
            self.dns.set_txt(&name, values);
        }
        let mut authzs = order.authorizations();
        while let Some(authz) = authzs.next().await {
            let mut authz = authz.unwrap();
            if authz.status != instant_acme::AuthorizationStatus::Pending {
                continue;
            }
            authz
                .challenge(kind.clone())
                .unwrap()
                .set_ready()
                .await
                .unwrap();
        }
    }

    /// A [`RawClient`] for this CA.
    pub fn raw(&self) -> RawClient {
        RawClient::new(&self.base_url, &self.root_pem)
    }

    /// The CA's data directory (`ferrite.db`, `ferrite.nonces.db`, `ca/`), for tests that
    /// open the same database a second time, as a second instance would.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// The audit log's `event` entries, oldest first: (subject, details).
    pub async fn audit_events(&self, event: &str) -> Vec<(String, Value)> {
        self.ca
            .store()
            .audit_entries(time::OffsetDateTime::UNIX_EPOCH, 0, 10_000)
            .await
            .expect("audit log")
            .into_iter()
            .filter(|e| e.event == event)
            .map(|e| {
                let details = serde_json::from_str(&e.details).expect("audit details are JSON");
                (e.subject, details)
            })
            .collect()
    }

    /// A URL under the ACME base URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The URL of CRL shard `shard` of this CA's issuing intermediate (what the certificates
    /// of that shard name as their CRL distribution point).
    pub fn crl_shard_url(&self, shard: u32) -> String {
        format!(
            "{}/crl/{}/{shard}.crl",
            self.public_url,
            self.ca.issuer().issuer_id()
        )
    }

    /// Every CRL this CA publishes now (DER, fetched over HTTP): each shard of its issuing
    /// intermediate, then the unsharded CRL. Panics unless each answers 200.
    pub async fn crls(&self) -> Vec<Vec<u8>> {
        let urls = (0..self.ca.issuer().crl_shards())
            .map(|s| self.crl_shard_url(s))
            .chain([format!("{}/crl", self.public_url)]);
        let mut crls = Vec::new();
        for url in urls {
            let r = crate::raw::http_get(&url).await;
            assert_eq!(r.status, 200, "{url}: {}", String::from_utf8_lossy(&r.body));
            crls.push(r.body);
        }
        crls
    }

    /// newOrder for the dns `names`; panics unless it answers 201. Returns the order URL and
    /// the order.
    pub async fn raw_new_order(
        &self,
        raw: &RawClient,
        account: &RawAccount,
        names: &[&str],
    ) -> (String, Value) {
        let identifiers: Vec<Value> = names
            .iter()
            .map(|n| serde_json::json!({"type": "dns", "value": n}))
            .collect();
        let r = raw
            .post(
                &account.key,
                Some(&account.kid),
                &self.url("/acme/new-order"),
                Some(&serde_json::json!({ "identifiers": identifiers })),
            )
            .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        (r.header("location").expect("order Location"), r.json())
    }

    /// Answers the http-01 challenge of the authorization at `authz_url` through the
    /// responder, tells the CA, and waits until the authorization is no longer pending.
    /// Returns the authorization as it ends up.
    pub async fn raw_validate_http01(
        &self,
        raw: &RawClient,
        account: &RawAccount,
        authz_url: &str,
    ) -> Value {
        let authz = raw.post_as_get(&account.key, &account.kid, authz_url).await;
        assert_eq!(
            authz.status,
            200,
            "{}",
            String::from_utf8_lossy(&authz.body)
        );
        let authz = authz.json();
        if authz["status"] != "pending" {
            return authz;
        }
        let challenge = crate::challenge(&authz, "http-01");
        let token = challenge["token"].as_str().expect("token");
        self.http01.set(token, &account.key_authorization(token));
        let url = challenge["url"].as_str().expect("challenge url");
        let r = raw
            .post(
                &account.key,
                Some(&account.kid),
                url,
                Some(&serde_json::json!({})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        raw.poll(&account.key, &account.kid, authz_url, |a| {
            a["status"] != "pending"
        })
        .await
    }

    /// An order for `names` whose authorizations were all validated over http-01; returns
    /// the order URL and the order, which is `ready`.
    pub async fn raw_ready_order(
        &self,
        raw: &RawClient,
        account: &RawAccount,
        names: &[&str],
    ) -> (String, Value) {
        let (order_url, order) = self.raw_new_order(raw, account, names).await;
        for authz in order["authorizations"].as_array().expect("authorizations") {
            let authz = self
                .raw_validate_http01(raw, account, authz.as_str().expect("authz url"))
                .await;
            assert_eq!(authz["status"], "valid", "{authz}");
        }
        let order = raw
            .poll(&account.key, &account.kid, &order_url, |o| {
                o["status"] != "pending"
            })
            .await;
        assert_eq!(order["status"], "ready", "{order}");
        (order_url, order)
    }

    /// Finalizes the ready order `order` with `csr` (DER). Returns the raw response.
    pub async fn raw_finalize(
        &self,
        raw: &RawClient,
        account: &RawAccount,
        order: &Value,
        csr: &[u8],
    ) -> RawResponse {
        use base64::Engine;
        let csr = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(csr);
        raw.post(
            &account.key,
            Some(&account.kid),
            order["finalize"].as_str().expect("finalize url"),
            Some(&serde_json::json!({ "csr": csr })),
        )
        .await
    }

    /// Issues a certificate for `names` (http-01, a fresh P-256 leaf key) and downloads it.
    pub async fn raw_issue(
        &self,
        raw: &RawClient,
        account: &RawAccount,
        names: &[&str],
    ) -> RawIssued {
        let leaf_key = rcgen::KeyPair::generate().expect("leaf key");
        self.raw_issue_with(raw, account, names, &leaf_key).await
    }

    /// Issues a certificate for `names` (http-01) to a CSR of `leaf_key` (an RSA key, say)
    /// and downloads it.
    pub async fn raw_issue_with(
        &self,
        raw: &RawClient,
        account: &RawAccount,
        names: &[&str],
        leaf_key: &rcgen::KeyPair,
    ) -> RawIssued {
        let (order_url, order) = self.raw_ready_order(raw, account, names).await;
        self.raw_complete(raw, account, &order_url, &order, names, leaf_key)
            .await
    }

    /// Finalizes the ready order `order` (at `order_url`) with a CSR for `names` of
    /// `leaf_key`, waits until it is valid and downloads the certificate; panics unless each
    /// step succeeds.
    pub async fn raw_complete(
        &self,
        raw: &RawClient,
        account: &RawAccount,
        order_url: &str,
        order: &Value,
        names: &[&str],
        leaf_key: &rcgen::KeyPair,
    ) -> RawIssued {
        let r = self
            .raw_finalize(raw, account, order, &csr_der(names, leaf_key))
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let order = raw
            .poll(&account.key, &account.kid, order_url, |o| {
                o["status"] != "processing"
            })
            .await;
        assert_eq!(order["status"], "valid", "{order}");
        let cert_url = order["certificate"].as_str().expect("certificate url");
        let r = raw.post_as_get(&account.key, &account.kid, cert_url).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let chain_pem = String::from_utf8(r.body).expect("PEM is UTF-8");
        let leaf_der = pem_chain(&chain_pem).remove(0);
        RawIssued {
            order_url: order_url.to_owned(),
            cert_url: cert_url.to_owned(),
            chain_pem,
            leaf_der,
            leaf_key_pkcs8: leaf_key.serialize_der(),
        }
    }
}

/// The serial number octets of the DER certificate `der`, without leading zeros (as a CRL
/// entry's serial compares).
pub fn serial_octets(der: &[u8]) -> Vec<u8> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).expect("a DER certificate");
    cert.raw_serial()
        .iter()
        .copied()
        .skip_while(|b| *b == 0)
        .collect()
}

/// `openssl verify` of the leaf of `chain_pem` (a downloaded chain: leaf, then intermediate)
/// to the root in `root_pem_path`; panics unless openssl says OK.
pub fn openssl_verify_chain(root_pem_path: &std::path::Path, chain_pem: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let chain = dir.path().join("chain.pem");
    std::fs::write(&chain, chain_pem).expect("write the chain");
    let out = std::process::Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(root_pem_path)
        .arg("-untrusted")
        .arg(&chain)
        .arg(&chain)
        .output()
        .expect("openssl must be installed: run scripts/test.sh");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains(": OK"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A DER CSR for `names` (subjectAltName dNSNames, empty subject) signed by `key`.
pub fn csr_der(names: &[&str], key: &impl rcgen::SigningKey) -> Vec<u8> {
    csr_der_with(names, key, |_| {})
}

/// [`csr_der`] with the request's parameters changed by `edit` first (a commonName, an
/// Extended Key Usage, an IP address: what a CSR may ask for beyond its names).
pub fn csr_der_with(
    names: &[&str],
    key: &impl rcgen::SigningKey,
    edit: impl FnOnce(&mut rcgen::CertificateParams),
) -> Vec<u8> {
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .expect("CSR params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    edit(&mut params);
    params.serialize_request(key).expect("CSR").der().to_vec()
}

/// The URL of the (one) CRL distribution point of the DER certificate `der`: its issuer's
/// CRL shard, as a relying party finds it. Panics if there is none.
pub fn crl_url(der: &[u8]) -> String {
    use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
    let (_, cert) = x509_parser::parse_x509_certificate(der).expect("a DER certificate");
    cert.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::CRLDistributionPoints(points) => {
                points
                    .points
                    .iter()
                    .find_map(|p| match &p.distribution_point {
                        Some(DistributionPointName::FullName(names)) => {
                            names.iter().find_map(|n| match n {
                                GeneralName::URI(uri) => Some((*uri).to_owned()),
                                _ => None,
                            })
                        }
                        _ => None,
                    })
            }
            _ => None,
        })
        .expect("the certificate has a CRL distribution point")
}

/// The DER certificates of a PEM chain, in order.
pub fn pem_chain(pem: &str) -> Vec<Vec<u8>> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.expect("PEM certificate").to_vec())
        .collect()
}

impl Drop for TestCa {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
