//! The engine: one value holding the store, the validator, the clock and the issuer, with one
//! method per ACME operation. Every method checks ownership and status itself, so the HTTP layer
//! cannot forget a rule.
//!
//! # Layout
//! - `accounts`: newAccount, lookup, update, deactivate, key change (§7.3).
//! - `orders`: newOrder, order lookup, the orders list (§7.4).
//! - `authorizations`: authorization lookup and deactivation (§7.5).
//! - `reuse`: kept validations that make a new authorization valid at creation (§7.1.4).
//! - `challenges`: responding to a challenge and running the validation (§7.5.1).
//! - `caa`: CAA checks after validation and again at finalize (RFC 8659, RFC 8657).
//! - `finalize`: CSR checks and issuance (§7.4).
//! - `revoke`: revocation and CRLs (§7.6).
//! - `slots`: each account's and customer's share of the validation slots.
//! - `profiles`: the certificate profiles offered, and which one an order gets
//!   (draft-ietf-acme-profiles).
//! - `ari`: renewal information, `replaces`, and windows pulled forward (RFC 9773).
//! - `operator_revoke`: `ferrite cert revoke`, one certificate or many, resumable.
//! - `certificate_listing`: serials, name filters and statuses as `ferrite cert` and the admin
//!   API read them.
//! - `customer_certificates`: a customer's own certificates and validations (admin API).
//! - `key_block`: keys reported compromised, refused as CSR and account keys.
//! - `rate_limits`: the rate limits of newAccount, newOrder and failed validations.

mod accounts;
pub mod ari;
mod authorizations;
mod caa;
pub mod certificate_listing;
mod challenges;
pub mod customer_certificates;
mod finalize;
pub mod key_block;
pub mod operator_revoke;
mod orders;
mod profiles;
mod rate_limits;
mod reuse;
mod revoke;
mod slots;

use std::sync::Arc;

use ferrite_pki::{CsrPolicy, Profile};
use ferrite_proto::{Problem, ProblemType};
use time::Duration;

use crate::eab::{EabSettings, KEK_LEN, Kek, Registry};
use crate::issuer::Issuers;
use crate::nonce::{self, NonceKey};
use crate::policy::{IdentifierPolicy, ReusePolicy};
use crate::{CertificateIssuer, Clock, CoreError, Store, Validator};

pub use accounts::NewAccountOutcome;
#[cfg(fuzzing)]
pub(crate) use accounts::{check_contacts, read_key_change};
pub use authorizations::AuthorizationView;
pub use orders::OrderView;
pub use profiles::Profiles;
pub use revoke::{
    CRL_LEASE, CRL_RECHECK, CRL_REFRESH, CRL_SCHEDULE, CRL_VALIDITY, RevocationAuth, ServedCrl,
};

/// Each CRL scope's slot for the CRL this instance holds.
type CrlSlots = std::collections::HashMap<
    crate::model::CrlScope,
    Arc<tokio::sync::Mutex<Option<revoke::HeldCrl>>>,
>;

/// Engine settings. Defaults are what a production CA would choose.
#[derive(Clone, Debug)]
pub struct CaConfig {
    /// How long an issued nonce stays redeemable.
    pub nonce_lifetime: Duration,
    /// How long a new order may stay unfinalized.
    pub order_lifetime: Duration,
    /// How long a pending authorization may wait for a challenge response.
    pub pending_authorization_lifetime: Duration,
    /// How long a successful validation may be reused by new orders of the same customer
    /// (BR §4.2.1 table, shortened by the operator's `validation.reuse_days`).
    pub reuse: ReusePolicy,
    /// Names refused at newOrder beyond syntax (public-suffix wildcards, IP reverse zones, the
    /// operator's `policy.blocked_domains`).
    pub identifier_policy: IdentifierPolicy,
    /// The certificate profiles orders may name (draft-ietf-acme-profiles), one of them the
    /// default of orders that name none. Each says the validity (both ends counted, cut at
    /// issuance to the Baseline Requirements §6.3.2 maximum for the issuance date,
    /// [`ferrite_pki::max_leaf_validity`]), key usages, policies, which subscriber keys it
    /// certifies. The lint before signing checks the same value.
    pub profiles: Profiles,
    /// How long a client should wait before asking for a certificate's renewal information
    /// again (RFC 9773 §4.3, `Retry-After`).
    pub renewal_info_retry_after: Duration,
    /// The page renewal information points to when a certificate should be renewed early
    /// (revoked, or marked by `ferrite ari advance` without a URL of its own).
    pub renewal_explanation_url: Option<String>,
    /// What finalize accepts.
    pub csr_policy: CsrPolicy,
    /// Most validations one instance runs at once. Each is one outbound connection or a few
    /// DNS queries with a timeout; the bound keeps a burst of orders (100 names each) from
    /// opening thousands of connections. More wait for a slot.
    pub validations_at_once: usize,
    /// Most validations one account runs at once, within `validations_at_once`.
    pub validations_per_account: usize,
    /// Most validations the accounts of one customer run at once (an account without a
    /// customer counts as its own): a customer whose validations are slow waits on its own
    /// share and leaves the rest of the slots to the others.
    pub validations_per_customer: usize,
    /// How long an instance may hold a challenge in `processing` before a reaper hands it back.
    pub validation_lease: Duration,
    /// How long a finalize may hold its order in `processing` (CAA recheck done, signing and
    /// recording the certificate). An instance that dies meanwhile leaves the order there;
    /// once the lease expires housekeeping hands it back to `pending` so the client can
    /// finalize again, and the dead finalize's certificate, if it was signed, is never
    /// recorded. Longer than any issuance, signing in an HSM included.
    pub finalize_lease: Duration,
    /// How long a challenge response waits for its validation before answering: a
    /// validation that finishes within it is answered with its final status, so clients need
    /// not sleep a `Retry-After`. A validation still running at half of it claims the
    /// challenge (`processing`), so that the answer can say so. Zero: claim at once and answer
    /// with `processing`.
    pub validation_head_start: std::time::Duration,
    /// Whether newAccount requires an external account binding (directory meta).
    pub eab_required: bool,
    /// Orders per page of an account's orders list.
    pub orders_page_size: u32,
    /// Most identifiers in one order.
    pub max_identifiers: usize,
    /// MAC key lifetime and binding limit.
    pub eab: EabSettings,
    /// The key-encryption key sealing MAC keys at rest. `None`: a random one for this process
    /// only (tests); MAC keys created under it cannot be opened after a restart.
    pub eab_kek: Option<Kek>,
    /// The issuer domain names CAA `issue` / `issuewild` records must name for this CA to
    /// issue (RFC 8659 §4.2; `meta.caaIdentities`). Empty: any such record forbids issuance.
    pub caa_identities: Vec<String>,
    /// Account URLs are this prefix followed by the account id (`{base_url}/acme/acct/`);
    /// CAA `accounturi` parameters are compared with them (RFC 8657 §3).
    pub account_url_prefix: String,
    /// A CAA check older than this is repeated at finalize (Baseline Requirements §3.2.2.8:
    /// at most 8 hours before issuance).
    pub caa_recheck_after: Duration,
    /// Where validations run. `None`: on the runtime of the request that started them.
    /// `ferrite serve` gives them a runtime of their own (threads `ferrite-va`), so that
    /// under load a validation's many short waits (DNS answers, the http-01 response, the
    /// store's commits) are not each queued behind every client's request work — the way
    /// Boulder runs its VA as a service of its own.
    pub validation_runtime: Option<tokio::runtime::Handle>,
    /// The rate limits every account is held to, unless its customer has its own values
    /// ([`crate::rate_limit`]).
    pub rate_limits: crate::rate_limit::RateLimits,
}

impl Default for CaConfig {
    fn default() -> Self {
        Self {
            nonce_lifetime: Duration::hours(1),
            order_lifetime: Duration::days(7),
            pending_authorization_lifetime: Duration::days(7),
            reuse: ReusePolicy::default(),
            identifier_policy: IdentifierPolicy::default(),
            profiles: Profiles::new(default_profile()),
            renewal_info_retry_after: Duration::hours(6),
            renewal_explanation_url: None,
            csr_policy: CsrPolicy::default(),
            validation_lease: Duration::minutes(2),
            finalize_lease: Duration::minutes(2),
            validations_at_once: 256,
            validations_per_account: 16,
            validations_per_customer: 32,
            validation_head_start: std::time::Duration::from_millis(200),
            eab_required: false,
            orders_page_size: 100,
            max_identifiers: 100,
            eab: EabSettings::default(),
            eab_kek: None,
            caa_identities: Vec::new(),
            validation_runtime: None,
            account_url_prefix: String::new(),
            caa_recheck_after: Duration::hours(8),
            rate_limits: crate::rate_limit::RateLimits::default(),
        }
    }
}

pub(super) fn not_found(what: &str) -> CoreError {
    let mut p = Problem::new(
        ProblemType::Malformed,
        format!(
            "no such {what}; use the URLs this server returned, with the account that created them"
        ),
    );
    p.status = Some(404);
    p.into()
}

/// The built-in profile with the validity a production CA would choose: 90 days.
fn default_profile() -> Profile {
    let mut profile = Profile::tls_server();
    profile.validity_seconds = 90 * 24 * 3600;
    profile
}

/// Who reads an order, authorization, challenge or certificate.
#[derive(Clone, Copy, Debug)]
pub enum Reader<'a> {
    /// A POST-as-GET signed by this account (RFC 8555 §6.3): only the account's own resources
    /// are found; another account's are reported missing, so ids leak nothing.
    Account(&'a crate::model::Account),
    /// A plain GET of a URL this CA handed out. RFC 8555 §7.4.2 lets a server answer GET for
    /// certificates, and clients follow `Link` headers (the challenge's `rel="up"`) with GET;
    /// these resources are named by 128-bit random ids known only to their account, and hold
    /// nothing an account's own resource (its contacts, its orders list) would reveal.
    Url,
}

impl Reader<'_> {
    /// Whether this reader may see a resource of the account `account_id`.
    fn may_read(self, account_id: &str) -> bool {
        match self {
            Reader::Account(account) => account.id == account_id,
            Reader::Url => true,
        }
    }
}

/// The ACME engine. Cheap to clone.
#[derive(Clone)]
pub struct Ca {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    validator: Arc<dyn Validator>,
    clock: Arc<dyn Clock>,
    issuers: Issuers,
    /// Each intermediate's subjectKeyIdentifier (parsed once at start: what names it in
    /// certIDs, RFC 9773 §4.1) with its issuer id.
    issuer_key_ids: Vec<(Vec<u8>, String)>,
    config: CaConfig,
    eab: Registry,
    /// Per CRL scope, the last CRL signed, when, and the revocations it lists: relying
    /// parties fetch CRLs often, and signing plus a CRL number per request would let anyone
    /// load the CA.
    crl: std::sync::Mutex<CrlSlots>,
    /// The thisUpdate of the oldest CRL of this issuer the last CRL refresh found.
    crl_published: std::sync::Mutex<Option<time::OffsetDateTime>>,
    /// This instance's name as a holder of the lease to sign the shared CRL (random: two
    /// instances never share one).
    instance: String,
    /// The shared nonce key, fetched from the Store on first use.
    nonce_key: tokio::sync::OnceCell<NonceKey>,
    /// Validations this instance runs at once ([`CaConfig::validations_at_once`]).
    validation_slots: tokio::sync::Semaphore,
    /// Each account's share of them ([`CaConfig::validations_per_account`]).
    account_slots: slots::KeyedSlots,
    /// Each customer's share of them ([`CaConfig::validations_per_customer`]).
    customer_slots: slots::KeyedSlots,
    /// What the operator's metrics count.
    metrics: crate::metrics::EngineMetrics,
    /// The last readiness check and when it was made.
    readiness: tokio::sync::Mutex<Option<(std::time::Instant, Result<(), String>)>>,
}

/// How long refused requests are kept for the support trail ([`crate::model::RefusedRequest`]);
/// housekeeping deletes older ones.
pub const REFUSED_REQUEST_RETENTION: Duration = Duration::days(30);

/// How long a readiness check's answer is reused.
const READINESS_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// How long before its expiry an issuing intermediate is warned about (at start, and in
/// `/health/ready`'s answer).
pub const INTERMEDIATE_WARNING: Duration = Duration::days(90);

/// What is said about the active intermediate `name` that expires within
/// [`INTERMEDIATE_WARNING`] of `now`: time to hold a ceremony for the next one. `None` when it
/// does not (or is unknown).
pub fn intermediate_expiry_warning(
    now: time::OffsetDateTime,
    name: &str,
    not_after: Option<time::OffsetDateTime>,
) -> Option<String> {
    let not_after = not_after.filter(|t| *t - now < INTERMEDIATE_WARNING)?;
    Some(format!(
        "the issuing intermediate {name:?} expires in {} days ({not_after}); certificates are cut to its notAfter: make the next one now (`ferrite ca init --intermediate-from ROOT_CERT --name intermediate-NAME`, then `[ca] active`; docs/ca-keys.md)",
        (not_after - now).whole_days()
    ))
}

impl Ca {
    /// Builds the engine.
    pub fn new(
        store: Arc<dyn Store>,
        validator: Arc<dyn Validator>,
        clock: Arc<dyn Clock>,
        issuers: impl Into<Issuers>,
        config: CaConfig,
    ) -> Self {
        let issuers = issuers.into();
        // Without a configured KEK, a random one: keys sealed under it only live as long as
        // this process, which is what a test wants. Generation only fails without an OS RNG;
        // then the all-zero KEK is never used to seal, because generating the MAC key itself
        // fails first.
        let kek = config
            .eab_kek
            .clone()
            .or_else(|| Kek::generate().ok())
            .unwrap_or_else(|| Kek::new([0; KEK_LEN]));
        let validation_slots = tokio::sync::Semaphore::new(config.validations_at_once.max(1));
        let account_slots = slots::KeyedSlots::new(config.validations_per_account);
        let customer_slots = slots::KeyedSlots::new(config.validations_per_customer);
        let eab = Registry::new(store.clone(), clock.clone(), kek, config.eab.clone())
            .with_rate_limits(config.rate_limits.clone());
        let issuer_key_ids = issuers
            .all()
            .filter_map(|e| {
                let parsed = ferrite_pki::parse_certificate(e.issuer.certificate_der()).ok()?;
                Some((parsed.subject_key_id?, e.issuer.issuer_id().to_owned()))
            })
            .collect();
        Self {
            inner: Arc::new(Inner {
                store,
                validator,
                clock,
                issuers,
                issuer_key_ids,
                config,
                eab,
                crl: std::sync::Mutex::new(CrlSlots::new()),
                crl_published: std::sync::Mutex::new(None),
                instance: crate::ids::random_id(),
                nonce_key: tokio::sync::OnceCell::new(),
                validation_slots,
                account_slots,
                customer_slots,
                metrics: crate::metrics::EngineMetrics::default(),
                readiness: tokio::sync::Mutex::new(None),
            }),
        }
    }

    /// Customers, API credentials and MAC keys (operator CLI, admin API).
    pub fn eab(&self) -> &Registry {
        &self.inner.eab
    }

    /// The configuration in force.
    pub fn config(&self) -> &CaConfig {
        &self.inner.config
    }

    /// The store (for background jobs and operator tools).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The primary intermediate (`intermediate.pem`): what `/ca/intermediate.der` serves.
    pub fn issuer(&self) -> &Arc<dyn CertificateIssuer> {
        self.inner.issuers.primary()
    }

    /// Every intermediate, active or retired.
    pub fn issuers(&self) -> &Issuers {
        &self.inner.issuers
    }

    /// What this engine counted (validations, issuances, bindings), for `/metrics`.
    pub fn metrics(&self) -> &crate::metrics::EngineMetrics {
        &self.inner.metrics
    }

    /// What is said about each active intermediate that expires within
    /// [`INTERMEDIATE_WARNING`] ([`intermediate_expiry_warning`]); a retired one is not
    /// warned about (it is retired because it ends).
    pub fn intermediate_warnings(&self) -> Vec<String> {
        let now = self.now();
        self.inner
            .issuers
            .all()
            .filter(|e| e.active)
            .filter_map(|e| {
                intermediate_expiry_warning(now, e.issuer.name(), Some(e.issuer.not_after()))
            })
            .collect()
    }

    /// Readiness, for load balancers: the store takes a write transaction and every
    /// intermediate that signs CRLs signs.
    /// The error names the failing part. Checked at most once a second ([`READINESS_TTL`]):
    /// the endpoint is public, and each check costs a transaction and a signature.
    pub async fn ready(&self) -> Result<(), String> {
        let mut last = self.inner.readiness.lock().await;
        if let Some((at, result)) = last.as_ref()
            && at.elapsed() < READINESS_TTL
        {
            return result.clone();
        }
        let result = self.check_ready().await;
        *last = Some((std::time::Instant::now(), result.clone()));
        result
    }

    async fn check_ready(&self) -> Result<(), String> {
        let candidate = nonce::generate_key().map_err(|e| format!("random: {e}"))?;
        self.inner
            .store
            .nonce_key(&candidate)
            .await
            .map_err(|e| format!("database: {e}"))?;
        let now = self.now();
        for issuer in self.inner.issuers.signing_crls(now) {
            issuer
                .sign_crl(None, &[], 0, now, now + Duration::hours(1))
                .await
                .map_err(|e| format!("signer of intermediate {:?}: {e}", issuer.name()))?;
        }
        Ok(())
    }

    /// The current time.
    pub fn now(&self) -> time::OffsetDateTime {
        self.inner.clock.now()
    }

    /// RFC 8555 §7.2: a fresh nonce. Issuing writes nothing: the nonce carries its expiry and a
    /// MAC under the key all instances share (`core::nonce`).
    pub async fn new_nonce(&self) -> Result<String, CoreError> {
        let expires = self.now() + self.inner.config.nonce_lifetime;
        self.nonce_key().await?.issue(expires)
    }

    /// RFC 8555 §6.5: redeems a nonce exactly once; a malformed, foreign, used or expired nonce
    /// is `badNonce` (the client retries with the fresh nonce in the error response).
    pub async fn redeem_nonce(&self, nonce: &str) -> Result<(), CoreError> {
        let fresh = match self.nonce_key().await?.check(nonce, self.now()) {
            Some(expires) => self.inner.store.consume_nonce(nonce, expires).await?,
            None => false,
        };
        if fresh {
            Ok(())
        } else {
            Err(CoreError::problem(
                ProblemType::BadNonce,
                "the nonce is unknown, expired or already used; retry with the nonce from this response's Replay-Nonce header",
            ))
        }
    }

    /// The shared nonce key: from the Store, which keeps the first key any instance offers.
    async fn nonce_key(&self) -> Result<&NonceKey, CoreError> {
        self.inner
            .nonce_key
            .get_or_try_init(|| async {
                let candidate = nonce::generate_key()?;
                let key = self.inner.store.nonce_key(&candidate).await?;
                Ok::<_, CoreError>(NonceKey::new(&key))
            })
            .await
    }

    /// Background housekeeping: purges expired nonces, spent-out rate limit rows, refused
    /// requests past [`REFUSED_REQUEST_RETENTION`] and expired portal sessions, and hands
    /// stranded validations and finalizations (their instance died) back.
    pub async fn housekeeping(&self) -> Result<(), CoreError> {
        let now = self.now();
        self.inner.store.purge_nonces(now).await?;
        // A rate limit row whose time is past says nothing a missing row would not.
        self.inner.store.purge_rate_limits(now).await?;
        self.inner
            .store
            .purge_refused_requests(now - REFUSED_REQUEST_RETENTION)
            .await?;
        self.inner.store.purge_portal_sessions(now).await?;
        self.inner.store.reap_stale_validations(now).await?;
        let orders = self.inner.store.reap_stale_finalizations(now).await?;
        if orders > 0 {
            tracing::warn!(
                orders,
                "orders left processing by a finalize that did not finish within its lease are ready to finalize again"
            );
        }
        // The audit entries appended since the last round join the hash chain. Last, and a
        // failure only logged: the jobs above never wait on the audit table.
        if let Err(e) = crate::audit::seal_pending(self.inner.store.as_ref()).await {
            tracing::error!(error = %e, "sealing the audit log failed; run `ferrite audit verify`");
        }
        Ok(())
    }
}
