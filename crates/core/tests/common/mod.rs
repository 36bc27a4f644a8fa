//! The engine fixture the engine tests build on: [`Engine`] is a [`Ca`] called directly (no
//! HTTP) on a real `SqliteStore` in a temporary directory, a real `ferrite_va::Va` that
//! resolves through the testkit's `MockDns` and reaches its `Http01Responder` and
//! `TlsAlpn01Responder` (loopback only), a real issuer from a `CaBundle` created in the same
//! directory, and a `TestClock`. [`Engine::start_at`] is the one place that constructs the
//! engine.
//!
//! Also: accounts with real JWKs (with or without an external account binding), orders made
//! valid through real validations (http-01 by default), finalize with a CSR, and
//! [`refused`] to read the problem a refusal carries.
// Test scaffolding: a failed step is a failed test.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::sync::Arc;
use std::time::Duration as StdDuration;

use ferrite_core::ca::{AuthorizationView, NewAccountOutcome, OrderView};
use ferrite_core::model::{Account, Certificate};
use ferrite_core::{Ca, CaConfig, Clock, CoreError, Reader, TestClock};
use ferrite_jose::Algorithm;
use ferrite_jose::sign::SigningKey;
use ferrite_pki::{CaBundle, CaOptions, IssuerUrls};
use ferrite_proto::requests::{NewAccount, NewOrder};
use ferrite_proto::{AuthorizationStatus, ChallengeType, Identifier, Problem};
use ferrite_testkit::ca::test_va;
use ferrite_testkit::dns::MockDns;
use ferrite_testkit::eab::new_customer_key;
use ferrite_testkit::responders::{Http01Responder, TlsAlpn01Responder};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

pub use ferrite_testkit::bounded;
pub use ferrite_testkit::ca::csr_der;

/// The newAccount URL accounts are registered at; an external account binding signs it.
pub const NEW_ACCOUNT_URL: &str = "https://ca.test/acme/new-account";

/// The keyChange URL key changes are sent to.
pub const KEY_CHANGE_URL: &str = "https://ca.test/acme/key-change";

/// Account URLs: this prefix and the account id (`CaConfig::account_url_prefix`).
pub const ACCOUNT_URL_PREFIX: &str = "https://ca.test/acme/acct/";

/// The engine and what it talks to. Everything stops when it is dropped.
pub struct Engine {
    /// The engine under test.
    pub ca: Ca,
    /// The engine's clock: stands still until a test moves it.
    pub clock: Arc<TestClock>,
    /// The DNS the validator asks (every name is 127.0.0.1 unless a test says otherwise).
    pub dns: MockDns,
    /// Serves http-01 key authorizations on the port the validator connects to.
    pub http01: Http01Responder,
    /// Serves tls-alpn-01 certificates on the port the validator connects to.
    pub tlsalpn01: TlsAlpn01Responder,
    /// Holds `ferrite.db` and `ca/`; removed on drop.
    dir: tempfile::TempDir,
}

/// An account and the key that signs for it.
pub struct Client {
    /// The account as the engine returned it.
    pub account: Account,
    /// Its key.
    pub key: SigningKey,
}

impl Client {
    /// The key authorization of `token` for this account (RFC 8555 §8.1).
    pub fn key_authorization(&self, token: &str) -> String {
        format!("{token}.{}", self.key.public_jwk().thumbprint())
    }
}

impl Engine {
    /// Every CRL scope this engine's issuer publishes: its shards, then the unsharded CRL.
    pub fn crl_scopes(&self) -> Vec<ferrite_core::model::CrlScope> {
        let issuer = self.ca.issuer();
        (0..issuer.crl_shards())
            .map(|s| ferrite_core::model::CrlScope::shard(issuer.issuer_id(), s))
            .chain([ferrite_core::model::CrlScope::Unsharded])
            .collect()
    }

    /// The CRLs (DER) the engine serves now, one per [`Engine::crl_scopes`].
    pub async fn crls(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for scope in self.crl_scopes() {
            out.push(self.ca.crl(&scope).await.unwrap().unwrap().der);
        }
        out
    }

    /// An engine with the default configuration and a clock a minute ahead of the real one
    /// (the issuer's intermediate starts at the real now, and no certificate starts before it).
    pub async fn start() -> Engine {
        Self::start_with(CaConfig::default()).await
    }

    /// An engine with `config`, the clock as in [`Engine::start`].
    pub async fn start_with(config: CaConfig) -> Engine {
        Self::start_at(config, OffsetDateTime::now_utc() + Duration::minutes(1)).await
    }

    /// An engine with `config` and a clock showing `start`. Tests that issue certificates need
    /// a clock near the real time (the issuer is created now); the others may pick any date.
    /// Rate limits are off whatever `config` says: these tests issue the same names many times
    /// over to test other rules, and the limits have tests of their own (the store suite, the
    /// testkit's `rate_limits`).
    pub async fn start_at(config: CaConfig, start: OffsetDateTime) -> Engine {
        let dir = tempfile::tempdir().expect("tempdir");
        let dns = MockDns::start().await.expect("mock DNS");
        let http01 = Http01Responder::start().await.expect("http-01 responder");
        let tlsalpn01 = TlsAlpn01Responder::start()
            .await
            .expect("tls-alpn-01 responder");
        let urls = IssuerUrls {
            ca_issuers: "http://ca.test/ca/intermediate.der".to_owned(),
            crl: "http://ca.test/crl".to_owned(),
            crl_shards: 4,
        };
        let (bundle, _) =
            CaBundle::load_or_create(&dir.path().join("ca"), &CaOptions::new(urls)).expect("CA");
        let store = ferrite_store::SqliteStore::open(&dir.path().join("ferrite.db"))
            .await
            .expect("store");
        let va = test_va(&dns, http01.port(), tlsalpn01.port(), false);
        let clock = Arc::new(TestClock::new(start));
        let config = CaConfig {
            account_url_prefix: ACCOUNT_URL_PREFIX.to_owned(),
            rate_limits: ferrite_core::rate_limit::RateLimits::off(),
            ..config
        };
        let ca = Ca::new(
            Arc::new(store),
            Arc::new(va),
            clock.clone(),
            Arc::new(bundle.issuer),
            config,
        );
        Engine {
            ca,
            clock,
            dns,
            http01,
            tlsalpn01,
            dir,
        }
    }

    /// The engine's current time.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// A key change (RFC 8555 §7.3.5) of `client`'s account to `new_key`, as a client sends
    /// it: the inner JWS signed by `new_key` with it in `jwk`, the keyChange URL, and the
    /// account URL and current key in its payload. `tweak` may alter the inner header and
    /// payload before signing.
    pub async fn key_change(
        &self,
        client: &Client,
        new_key: &SigningKey,
        tweak: impl FnOnce(&mut serde_json::Map<String, Value>, &mut Value),
    ) -> Result<Account, CoreError> {
        let mut header = serde_json::Map::new();
        header.insert("alg".into(), new_key.algorithm().name().into());
        header.insert("jwk".into(), new_key.public_jwk().to_json());
        header.insert("url".into(), KEY_CHANGE_URL.into());
        let mut payload = serde_json::json!({
            "account": format!("{ACCOUNT_URL_PREFIX}{}", client.account.id),
            "oldKey": client.key.public_jwk().to_json(),
        });
        tweak(&mut header, &mut payload);
        let inner = new_key
            .sign_raw(&header, payload.to_string().as_bytes())
            .unwrap();
        self.ca
            .change_key(&client.account, KEY_CHANGE_URL, &inner)
            .await
    }

    /// Registers a new ES256 account without an external account binding.
    pub async fn account(&self) -> Client {
        let key = SigningKey::generate(Algorithm::ES256).unwrap();
        let outcome = self
            .new_account(&key, NewAccount::default())
            .await
            .expect("newAccount");
        assert!(outcome.created);
        Client {
            account: outcome.account,
            key,
        }
    }

    /// newAccount for `key` with `payload`.
    pub async fn new_account(
        &self,
        key: &SigningKey,
        payload: NewAccount,
    ) -> Result<NewAccountOutcome, CoreError> {
        self.ca
            .new_account(&key.public_jwk(), payload, NEW_ACCOUNT_URL)
            .await
    }

    /// Creates customer `name` with a credential and a MAC key, and registers `n` accounts
    /// bound to it through that key.
    pub async fn customer_accounts(&self, name: &str, n: usize) -> Vec<Client> {
        let mac = new_customer_key(&self.ca, name).await;
        let mut accounts = Vec::new();
        for _ in 0..n {
            let key = SigningKey::generate(Algorithm::ES256).unwrap();
            let binding = mac.binding(NEW_ACCOUNT_URL, &key);
            let payload = NewAccount {
                external_account_binding: Some(binding),
                ..NewAccount::default()
            };
            let outcome = self.new_account(&key, payload).await.expect("newAccount");
            assert!(outcome.account.customer_id.is_some(), "bound to {name}");
            accounts.push(Client {
                account: outcome.account,
                key,
            });
        }
        accounts
    }

    /// newOrder for the dns `names`, which must succeed.
    pub async fn new_order(&self, client: &Client, names: &[&str]) -> OrderView {
        self.ca
            .new_order(&client.account, dns_order(names))
            .await
            .unwrap_or_else(|e| panic!("newOrder {names:?}: {}", e.to_problem()))
    }

    /// Answers the http-01 challenge of the authorization `authz_id` through the responder,
    /// tells the engine, and waits until the authorization is decided; returns it.
    pub async fn validate_http01(&self, client: &Client, authz_id: &str) -> AuthorizationView {
        self.validate(client, authz_id, ChallengeType::Http01).await
    }

    /// Answers the dns-01 challenge of the authorization `authz_id` with a TXT record in the
    /// mock DNS, tells the engine, and waits until the authorization is decided; returns it.
    pub async fn validate_dns01(&self, client: &Client, authz_id: &str) -> AuthorizationView {
        self.validate(client, authz_id, ChallengeType::Dns01).await
    }

    /// Answers the `kind` challenge of the authorization `authz_id` through the matching
    /// fixture, tells the engine, and waits until the authorization is decided; returns it.
    pub async fn validate(
        &self,
        client: &Client,
        authz_id: &str,
        kind: ChallengeType,
    ) -> AuthorizationView {
        let view = self
            .ca
            .authorization(Reader::Account(&client.account), authz_id)
            .await
            .unwrap();
        let challenge = view
            .authorization
            .challenges
            .iter()
            .find(|c| c.kind == kind)
            .unwrap_or_else(|| panic!("no {kind} challenge in {:?}", view.authorization))
            .clone();
        let key_authorization = client.key_authorization(&challenge.token);
        match kind {
            ChallengeType::Http01 => self.http01.set(&challenge.token, &key_authorization),
            ChallengeType::Dns01 => self.dns.set_txt(
                &format!("_acme-challenge.{}", view.authorization.identifier.value),
                vec![ferrite_va::dns01_txt_value(&key_authorization)],
            ),
            ChallengeType::TlsAlpn01 => self
                .tlsalpn01
                .set(&view.authorization.identifier.value, &key_authorization),
        }
        self.ca
            .respond_challenge(&client.account, authz_id, &challenge.id)
            .await
            .unwrap();
        self.decided(client, authz_id).await
    }

    /// Waits (at most 20 s) until the authorization `authz_id` is no longer pending.
    pub async fn decided(&self, client: &Client, authz_id: &str) -> AuthorizationView {
        let deadline = tokio::time::Instant::now() + StdDuration::from_secs(20);
        loop {
            let view = self
                .ca
                .authorization(Reader::Account(&client.account), authz_id)
                .await
                .unwrap();
            if view.status != AuthorizationStatus::Pending {
                return view;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "authorization {authz_id} still pending after 20 s"
            );
            tokio::time::sleep(StdDuration::from_millis(20)).await;
        }
    }

    /// An order for `names` whose authorizations were all made valid over http-01 (or were
    /// valid at creation); the order is `ready`.
    pub async fn ready_order(&self, client: &Client, names: &[&str]) -> OrderView {
        let order = self.new_order(client, names).await;
        for authz in &order.authorizations {
            if authz.status == AuthorizationStatus::Pending {
                let view = self.validate_http01(client, &authz.id).await;
                assert_eq!(view.status, AuthorizationStatus::Valid, "{names:?}");
            }
        }
        let order = self.order(client, &order.order.id).await;
        assert_eq!(order.status, ferrite_proto::OrderStatus::Ready, "{names:?}");
        order
    }

    /// The order `id` as `client` reads it.
    pub async fn order(&self, client: &Client, id: &str) -> OrderView {
        self.ca
            .order(Reader::Account(&client.account), id)
            .await
            .unwrap()
    }

    /// Finalizes the order `order_id` with the DER `csr`.
    pub async fn finalize(
        &self,
        client: &Client,
        order_id: &str,
        csr: &[u8],
    ) -> Result<OrderView, CoreError> {
        self.ca.finalize(&client.account, order_id, csr).await
    }

    /// Issues a certificate for `names` with a fresh P-256 key; returns the certificate as
    /// stored and the key.
    pub async fn issue(&self, client: &Client, names: &[&str]) -> (Certificate, rcgen::KeyPair) {
        let order = self.ready_order(client, names).await;
        let key = rcgen::KeyPair::generate().unwrap();
        let order = self
            .finalize(client, &order.order.id, &csr_der(names, &key))
            .await
            .unwrap_or_else(|e| panic!("finalize {names:?}: {}", e.to_problem()));
        let serial = order
            .order
            .certificate_serial
            .expect("a valid order names its certificate");
        let certificate = self
            .ca
            .certificate(Reader::Account(&client.account), &serial)
            .await
            .unwrap();
        (certificate, key)
    }
}

/// A newOrder request for the dns `names`.
pub fn dns_order(names: &[&str]) -> NewOrder {
    NewOrder {
        identifiers: names.iter().map(|n| Identifier::dns(*n)).collect(),
        not_before: None,
        not_after: None,
        profile: None,
        replaces: None,
    }
}

/// The problem a refusal carries; panics, naming `case`, if `result` is not a refusal.
#[track_caller]
pub fn refused<T: std::fmt::Debug>(case: &str, result: Result<T, CoreError>) -> Problem {
    match result {
        Ok(v) => {
            let shown: String = format!("{v:?}").chars().take(300).collect();
            panic!("{case}: accepted, expected a refusal: {shown}…")
        }
        Err(e) => e.to_problem(),
    }
}

/// Asserts that `problem` is of `kind` and, if given, that its detail contains `fragment`;
/// every message names `case`.
#[track_caller]
pub fn assert_problem(
    case: &str,
    problem: &Problem,
    kind: ferrite_proto::ProblemType,
    fragment: Option<&str>,
) {
    assert_eq!(problem.kind, kind, "{case}: {problem}");
    if let Some(fragment) = fragment {
        assert!(
            problem.detail.contains(fragment),
            "{case}: detail lacks {fragment:?}: {problem}"
        );
    }
}
