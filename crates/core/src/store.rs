//! The `Store` trait: everything that must be consistent across instances lives behind it.
//! `ferrite-store` implements it for SQLite and PostgreSQL. Each method that changes
//! state is one transaction: it happens entirely or not at all.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::rate_limit::Gcra;

use crate::model::{
    Account, Activity, ApiCredential, Authorization, BindingRefusal, BlockedKey, CaCertificates,
    CaRecord, Certificate, CertificateFilter, CertificateQuery, CredentialStatus, CrlScope,
    CrlStatus, Customer, DomainValidation, DomainValidationQuery, MacKey, OperatorCredential,
    Order, PortalSession, RefusedRequest, Scope, SharedCrl, StoredCrl, Suspension, ValidationOwner,
    ValidationResult,
};

/// Errors a store reports. The engine maps them to problems at one boundary.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness constraint was hit (e.g. an account with this key thumbprint exists).
    /// Caller's fault or a lost race; never retried blindly.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database failed or is unreachable (operator's problem). The message may contain SQL
    /// details: log it, never show it to a client.
    #[error("database error: {0}")]
    Backend(String),
    /// The database cannot be reached for now: no connection could be made or kept (refused,
    /// lost, the server shutting down or starting up), or none was free within the pool's wait.
    /// The request may succeed if retried later; clients get 503 with `Retry-After`.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be decoded (a bug or a manual edit).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

/// One GCRA step ([`Gcra::check`]) of the rate limit row `key` at `now`, taken by a store
/// inside the transaction of the change it limits or counts, so that the change and its
/// count are stored together or not at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateStep {
    /// The rate limit row (`core::rate_limit::key`).
    pub key: String,
    /// The limit's parameters.
    pub gcra: Gcra,
    /// The time of the step.
    pub now: OffsetDateTime,
}

/// What [`Store::insert_order_checked`] checks in the transaction that inserts an order, so
/// that of concurrent orders (on any instance) none gets past a check another one's insert
/// would have failed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderChecks {
    /// RFC 9773 §5: refuse the order when another live order replaces the certificate its
    /// `replaces` names (live at this time: `valid` or `processing`, or `pending`, unexpired
    /// and with no `invalid` or `deactivated` authorization).
    pub replacement_at: Option<OffsetDateTime>,
    /// `pending_authorizations_per_account`: refuse the order when the account's pending
    /// authorizations unexpired at `.1`, with the order's new pending ones added, would be
    /// more than `.0`.
    pub max_pending: Option<(u64, OffsetDateTime)>,
    /// `new_orders_per_account`: spend this step after the other checks pass, and refuse the
    /// order (storing nothing) when the allowance has no room.
    pub spend: Option<RateStep>,
}

/// The outcome of [`Store::insert_order_checked`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderInsert {
    /// The order and its new authorizations are stored.
    Inserted,
    /// Another live order replaces the same certificate: nothing stored.
    AlreadyReplaced,
    /// The account has `pending` pending authorizations (the earliest ending at
    /// `earliest`), too many to add the order's: nothing stored.
    TooManyPending {
        /// The account's pending authorizations.
        pending: u64,
        /// When the first of them expires.
        earliest: Option<OffsetDateTime>,
    },
    /// The allowance of [`OrderChecks::spend`] is used up (its row holds `tat`): nothing
    /// stored.
    RateLimited {
        /// The stored theoretical arrival time.
        tat: OffsetDateTime,
    },
}

/// Persistence for the ACME engine. Implementations must be safe to use from several
/// `ferrite serve` instances at once (every check-and-set is done inside the database).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The time this store spends on the database, for `/metrics`; `None` if it does not
    /// measure it.
    fn metrics(&self) -> Option<&crate::metrics::StoreMetrics> {
        None
    }

    // --- nonces (RFC 8555 §6.5; issued and checked by `core::nonce`) ---
    /// The key every instance authenticates nonces with: the stored one, or `candidate` if
    /// none is stored yet (then stored; of several instances racing, one candidate wins and all
    /// get it). A secret: never log it.
    async fn nonce_key(&self, candidate: &[u8]) -> Result<Vec<u8>, StoreError>;
    /// Records that `nonce` (valid until `expires`) has been used. Returns true the first
    /// time, false if it was recorded before: one insert-if-absent, so of any number of
    /// concurrent callers (on any instance) exactly one gets true. `expires` is the nonce's
    /// own expiry (`core::nonce` reads it from the nonce), the same at every redemption of
    /// one nonce: a store may key the record by both.
    async fn consume_nonce(&self, nonce: &str, expires: OffsetDateTime)
    -> Result<bool, StoreError>;
    /// Deletes the records of nonces that expired before `now`; returns how many.
    async fn purge_nonces(&self, now: OffsetDateTime) -> Result<u64, StoreError>;

    // --- the support trail ---
    /// Keeps refused requests (written in batches, off the request path). A request id seen
    /// before is kept as first written.
    async fn record_refused_requests(&self, refused: &[RefusedRequest]) -> Result<(), StoreError>;
    /// The refused request with this id, if it is kept.
    async fn refused_request(&self, request_id: &str)
    -> Result<Option<RefusedRequest>, StoreError>;
    /// Deletes the refused requests answered before `before`; returns how many.
    async fn purge_refused_requests(&self, before: OffsetDateTime) -> Result<u64, StoreError>;

    // --- rate limits (`core::rate_limit`) ---
    /// The GCRA theoretical arrival times stored for `keys`; keys without a row are left out
    /// (nothing spent). A read: what a refusal costs.
    async fn rate_limit_tats(
        &self,
        keys: &[String],
    ) -> Result<Vec<(String, OffsetDateTime)>, StoreError>;
    /// One GCRA step for `key` at `now`, in one statement ([`Gcra::check`] in the database):
    /// the stored time becomes max(stored, now) + increment if that is at most `tolerance`
    /// ahead of `now` (a key without a row always is). `Ok(new time)` when allowed;
    /// `Err(stored time)` when refused, nothing written. Of any number of concurrent callers
    /// on one key (on any instance), exactly as many are allowed as the allowance holds.
    async fn spend_rate_limit(
        &self,
        key: &str,
        now: OffsetDateTime,
        gcra: &Gcra,
    ) -> Result<Result<OffsetDateTime, OffsetDateTime>, StoreError>;
    /// Deletes the rate limit rows whose time is not after `now` (the same as no row);
    /// returns how many.
    async fn purge_rate_limits(&self, now: OffsetDateTime) -> Result<u64, StoreError>;
    /// Sets customer `customer_id`'s own value of the limit named `limit` (`None`: back to
    /// the configured one). `Backend` if the customer does not exist (foreign key).
    async fn set_rate_limit_override(
        &self,
        customer_id: &str,
        limit: &str,
        value: Option<u32>,
    ) -> Result<(), StoreError>;
    /// Customer `customer_id`'s own limit values (limit name, value), by name.
    async fn rate_limit_overrides(
        &self,
        customer_id: &str,
    ) -> Result<Vec<(String, u32)>, StoreError>;
    /// How many of account `account_id`'s authorizations are `pending` and unexpired at
    /// `now`, and the earliest of their expiry times.
    async fn pending_authorizations(
        &self,
        account_id: &str,
        now: OffsetDateTime,
    ) -> Result<(u64, Option<OffsetDateTime>), StoreError>;

    // --- the deployment's CA ---
    /// Records the CA certificates an instance serves at `now` and says how they relate to
    /// the ones recorded before ([`CaRecord`]): the first offer records its root and
    /// intermediate; an offer under that root records its intermediate if new; an offer under
    /// another root stores nothing. Offers are serialized: of several instances starting
    /// together on an empty database, one records its root and the others are compared
    /// with it.
    async fn record_ca_certificates(
        &self,
        offered: &CaCertificates,
        now: OffsetDateTime,
    ) -> Result<CaRecord, StoreError>;

    // --- accounts (§7.3) ---
    /// Inserts an account. `Conflict` if the thumbprint is taken.
    async fn insert_account(&self, account: &Account) -> Result<(), StoreError>;
    /// Looks an account up by id.
    async fn account(&self, id: &str) -> Result<Option<Account>, StoreError>;
    /// Looks an account up by id together with its customer (`None` for an account bound
    /// without EAB), in one query: what every request signed with a `kid` needs (the
    /// customer's suspension is checked on each).
    async fn account_with_customer(
        &self,
        id: &str,
    ) -> Result<Option<(Account, Option<Customer>)>, StoreError>;
    /// Looks an account up by key thumbprint.
    async fn account_by_thumbprint(&self, thumbprint: &str) -> Result<Option<Account>, StoreError>;
    /// Replaces contact and status of an account that is still `valid` (compare-and-set):
    /// `Conflict` if it is unknown or no longer valid, so a racing update can never undo a
    /// deactivation (§7.3.6: deactivation is final).
    async fn update_account(&self, account: &Account) -> Result<(), StoreError>;
    /// Replaces the account key (§7.3.5) if the account is `valid` and its key is still
    /// `old_thumbprint` (compare-and-set: of two concurrent rollovers one wins). `Conflict` if
    /// another account has `new_thumbprint`, or the account or its key changed meanwhile.
    async fn change_account_key(
        &self,
        id: &str,
        old_thumbprint: &str,
        new_thumbprint: &str,
        new_jwk: &serde_json::Value,
    ) -> Result<(), StoreError>;

    // --- orders and authorizations (§7.4, §7.5) ---
    /// Inserts an order together with its new authorizations (and their challenges) in one
    /// transaction, after the `checks` in that same transaction; when one refuses, nothing is
    /// written and the outcome says which. `authorizations` may be fewer than
    /// `order.authorization_ids` when some ids refer to existing authorizations that are
    /// reused.
    async fn insert_order_checked(
        &self,
        order: &Order,
        authorizations: &[Authorization],
        checks: OrderChecks,
    ) -> Result<OrderInsert, StoreError>;
    /// [`Store::insert_order_checked`] with no checks.
    async fn insert_order(
        &self,
        order: &Order,
        authorizations: &[Authorization],
    ) -> Result<(), StoreError> {
        self.insert_order_checked(order, authorizations, OrderChecks::default())
            .await
            .map(drop)
    }
    /// Looks an order up by id.
    async fn order(&self, id: &str) -> Result<Option<Order>, StoreError>;
    /// Looks an order up by id together with its authorizations (with challenges, in the
    /// order's order; missing ones skipped): what showing an order needs. A backend that can
    /// read both at once (one snapshot, one round trip) should; this default reads twice.
    async fn order_with_authorizations(
        &self,
        id: &str,
    ) -> Result<Option<(Order, Vec<Authorization>)>, StoreError> {
        let Some(order) = self.order(id).await? else {
            return Ok(None);
        };
        let authorizations = self.authorizations(&order.authorization_ids).await?;
        Ok(Some((order, authorizations)))
    }
    /// Order ids of an account, newest first, starting after the cursor (an order id previously
    /// returned), at most `limit`.
    async fn order_ids_by_account(
        &self,
        account_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError>;
    /// Looks an authorization (with challenges) up by id.
    async fn authorization(&self, id: &str) -> Result<Option<Authorization>, StoreError>;
    /// Loads several authorizations (with challenges) by id, in the given order; missing ids are
    /// skipped.
    async fn authorizations(&self, ids: &[String]) -> Result<Vec<Authorization>, StoreError>;
    /// Sets an authorization's status if it is currently `from` (compare-and-set). Returns
    /// whether it changed. Used for deactivation (§7.5.2).
    async fn set_authorization_status(
        &self,
        id: &str,
        from: ferrite_proto::AuthorizationStatus,
        to: ferrite_proto::AuthorizationStatus,
    ) -> Result<bool, StoreError>;

    // --- challenges (§7.5.1) ---
    /// Moves a challenge from `pending` to `processing` with a lease until `lease_until`, only
    /// if the challenge is `pending` and its authorization is `pending`. Returns whether this
    /// caller won (exactly one concurrent caller does).
    async fn start_validation(
        &self,
        challenge_id: &str,
        lease_until: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Writes a validation result in one transaction: the challenge becomes `valid` or
    /// `invalid` (with `validated` / `error` and the record), its authorization becomes `valid`
    /// or `invalid`. Only applies if the challenge is still `processing` under the claim that
    /// produced the result (`result.lease_until` equals the stored lease), or, for a result
    /// without a claim (`lease_until: None`), if the challenge and its authorization are
    /// still `pending`. Returns whether it applied.
    async fn finish_validation(&self, result: &ValidationResult) -> Result<bool, StoreError>;
    /// Resets challenges whose lease expired before `now` back to `pending` (their validating
    /// instance died). Returns how many.
    async fn reap_stale_validations(&self, now: OffsetDateTime) -> Result<u64, StoreError>;

    // --- finalize and certificates (§7.4, §7.4.2) ---
    /// Moves an order from `pending` to `processing` under the lease `lease_until` if, in the
    /// same statement, the order is unexpired at `now` and every one of its authorizations is
    /// `valid` and unexpired (RFC 8555 §7.4: only a `ready` order is finalized). Returns
    /// whether this caller won; an authorization deactivated or expired a moment earlier makes
    /// it lose.
    async fn begin_finalize(
        &self,
        order_id: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// In one transaction: inserts the certificate, sets the order `valid` with its serial and
    /// takes each step of `counts` whose allowance has room (the issuance is counted against
    /// its limits; an allowance already full stays full), only while the order is
    /// `processing` under the lease `lease_until` (else `Conflict`, and nothing is written).
    async fn complete_order(
        &self,
        order_id: &str,
        cert: &Certificate,
        lease_until: OffsetDateTime,
        counts: &[RateStep],
    ) -> Result<(), StoreError>;
    /// Sets an order `invalid` with `error`, only while it is `processing` under the lease
    /// `lease_until`: a finalize whose lease was taken over fails nobody else's.
    async fn fail_finalize(
        &self,
        order_id: &str,
        lease_until: OffsetDateTime,
        error: &ferrite_proto::Problem,
    ) -> Result<(), StoreError>;
    /// Hands orders whose finalize lease expired before `now` back to `pending` (the instance
    /// issuing them died before it recorded a certificate; the client finalizes again).
    /// Returns how many.
    async fn reap_stale_finalizations(&self, now: OffsetDateTime) -> Result<u64, StoreError>;
    /// Looks a certificate up by serial.
    async fn certificate(&self, serial: &str) -> Result<Option<Certificate>, StoreError>;
    /// Marks a certificate revoked if it is not already (compare-and-set). Returns whether it
    /// changed.
    async fn revoke_certificate(
        &self,
        serial: &str,
        at: OffsetDateTime,
        reason: u8,
    ) -> Result<bool, StoreError>;
    /// Revoked certificates of CRL `scope` that have not expired at `now`, for that CRL:
    /// (serial, revoked at, reason).
    async fn revoked_certificates(
        &self,
        scope: &CrlScope,
        now: OffsetDateTime,
    ) -> Result<Vec<(String, OffsetDateTime, u8)>, StoreError>;
    /// The CRL of `scope` the instances share: the last one stored and the scope's revocation
    /// generation now (which [`Store::revoke_certificate`] bumps in the statement that
    /// revokes). A scope nothing was revoked in or signed for has generation 0 and no CRL.
    async fn shared_crl(&self, scope: &CrlScope) -> Result<SharedCrl, StoreError>;
    /// The scope's revocation generation now ([`SharedCrl::generation`] without the stored
    /// CRL): what an instance compares the CRL it holds against.
    async fn crl_generation(&self, scope: &CrlScope) -> Result<u64, StoreError>;
    /// Every CRL of intermediate `issuer_id` the database holds a CRL or a revocation count
    /// for (shards ascending), and the unsharded CRL's if it has one, without their DER: with
    /// the shards the issuer writes now, the CRLs to keep fresh (a shard count lowered later
    /// still leaves the higher shards' certificates a CRL), read in one query.
    async fn crl_statuses(&self, issuer_id: &str)
    -> Result<Vec<(CrlScope, CrlStatus)>, StoreError>;
    /// Takes the lease to sign the next CRL of `scope` for `holder` until `until`, if nobody
    /// holds it at `now` (or `holder` does). Returns the revocation generation the new CRL
    /// must list, or `None` while another holder's lease runs: one instance signs at a time.
    async fn take_crl_lease(
        &self,
        scope: &CrlScope,
        holder: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Option<u64>, StoreError>;
    /// Stores the CRL of `scope` `holder` signed under its lease and releases the lease.
    /// `false` (and nothing stored) if the lease is no longer `holder`'s.
    async fn store_crl(
        &self,
        scope: &CrlScope,
        holder: &str,
        crl: &StoredCrl,
    ) -> Result<bool, StoreError>;
    /// Appends an entry to the audit log in a transaction of its own: the operator's commands
    /// and each start, which change nothing else in the database (every other change is
    /// appended by the store in its own transaction). `details` is a JSON object.
    async fn append_audit(
        &self,
        at: OffsetDateTime,
        event: &str,
        subject: &str,
        details: &str,
    ) -> Result<(), StoreError>;
    /// Seals up to `limit` of the oldest unsealed audit entries into the hash chain
    /// ([`crate::audit`]), one sealer at a time across instances. Returns how many.
    async fn seal_audit_log(&self, limit: u32) -> Result<u64, StoreError>;
    /// Sealed audit entries after place `after_chain`, in chain order, at most `limit`.
    async fn audit_chain(
        &self,
        after_chain: i64,
        limit: u32,
    ) -> Result<Vec<crate::audit::AuditEntry>, StoreError>;
    /// Audit entries made at or after `since` with a `seq` above `after_seq`, in `seq` order,
    /// at most `limit` (sealed or not).
    async fn audit_entries(
        &self,
        since: OffsetDateTime,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<crate::audit::AuditEntry>, StoreError>;
    /// How many audit entries are not sealed yet.
    async fn audit_unsealed(&self) -> Result<u64, StoreError>;
    /// Allocates the next CRL number (monotonic across instances).
    async fn next_crl_number(&self) -> Result<u64, StoreError>;
    /// Certificates `filter` covers that have not expired at `now` (notAfter ≥ now), oldest
    /// first by notBefore, at most `limit`.
    async fn certificates_matching(
        &self,
        filter: &CertificateFilter,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Certificate>, StoreError>;
    /// Marks the certificates `serials` for renewal now (RFC 9773 §4.2), at `at` with an
    /// optional explanation URL; a mark already there is replaced. Returns how many were
    /// marked (unknown serials are skipped).
    async fn advance_renewal(
        &self,
        serials: &[String],
        at: OffsetDateTime,
        explanation_url: Option<&str>,
    ) -> Result<u64, StoreError>;

    /// The certificates `query` selects whose serial sorts after `after` (all with `None`),
    /// ordered by serial, at most `limit`: keyset paging, so an operator command walks millions
    /// of certificates a page at a time.
    async fn certificates_page(
        &self,
        query: &CertificateQuery,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Certificate>, StoreError>;
    /// RFC 5280 keyCompromise: [`Store::revoke_certificate`] and, in the same transaction, the
    /// certificate's key recorded in `block` (kept as it is if already blocked). The key is
    /// blocked even when the certificate was already revoked; returns whether the certificate
    /// changed.
    async fn revoke_certificate_blocking_key(
        &self,
        serial: &str,
        at: OffsetDateTime,
        reason: u8,
        block: &BlockedKey,
    ) -> Result<bool, StoreError>;

    // --- blocked keys (RFC 8555 §7.3, §7.4: badPublicKey) ---
    /// Blocks a key. `false` (and the existing row kept) if it was blocked already.
    async fn block_key(&self, key: &BlockedKey) -> Result<bool, StoreError>;
    /// Lifts a block. `false` if the key was not blocked.
    async fn unblock_key(&self, spki_sha256: &str) -> Result<bool, StoreError>;
    /// The block on a key, if there is one.
    async fn blocked_key(&self, spki_sha256: &str) -> Result<Option<BlockedKey>, StoreError>;
    /// Every blocked key, oldest block first.
    async fn blocked_keys(&self) -> Result<Vec<BlockedKey>, StoreError>;

    // --- customers, API credentials, EAB MAC keys (RFC 8555 §7.3.4) ---
    /// Inserts a customer. `Conflict` if the name is taken.
    async fn insert_customer(&self, customer: &Customer) -> Result<(), StoreError>;
    /// Looks a customer up by id.
    async fn customer(&self, id: &str) -> Result<Option<Customer>, StoreError>;
    /// Looks a customer up by its unique name.
    async fn customer_by_name(&self, name: &str) -> Result<Option<Customer>, StoreError>;
    /// Every customer, oldest first.
    async fn customers(&self) -> Result<Vec<Customer>, StoreError>;
    /// Sets the profiles a customer's accounts may order (`None`: all). Returns whether the
    /// customer exists.
    async fn set_customer_profiles(
        &self,
        customer_id: &str,
        profiles: Option<&[String]>,
    ) -> Result<bool, StoreError>;
    /// Suspends a customer (`Some`, replacing an earlier suspension's time and reason) or
    /// resumes it (`None`). Returns whether the customer exists.
    async fn set_customer_suspension(
        &self,
        customer_id: &str,
        suspension: Option<&Suspension>,
    ) -> Result<bool, StoreError>;
    /// Inserts an API credential. `Conflict` if the id is taken; `Backend` if the customer does
    /// not exist (foreign key).
    async fn insert_credential(&self, credential: &ApiCredential) -> Result<(), StoreError>;
    /// Looks a credential up by id.
    async fn credential(&self, id: &str) -> Result<Option<ApiCredential>, StoreError>;
    /// Credentials of one customer (or all with `None`), oldest first.
    async fn credentials(
        &self,
        customer_id: Option<&str>,
    ) -> Result<Vec<ApiCredential>, StoreError>;
    /// Sets a credential's status. Returns whether the credential exists.
    async fn set_credential_status(
        &self,
        id: &str,
        status: CredentialStatus,
    ) -> Result<bool, StoreError>;
    /// Inserts an operator credential. `Conflict` if the id is taken.
    async fn insert_operator_credential(
        &self,
        credential: &OperatorCredential,
    ) -> Result<(), StoreError>;
    /// Looks an operator credential up by id.
    async fn operator_credential(&self, id: &str)
    -> Result<Option<OperatorCredential>, StoreError>;
    /// Every operator credential, oldest first.
    async fn operator_credentials(&self) -> Result<Vec<OperatorCredential>, StoreError>;
    /// Sets an operator credential's status. Returns whether the credential exists.
    async fn set_operator_credential_status(
        &self,
        id: &str,
        status: CredentialStatus,
    ) -> Result<bool, StoreError>;
    /// In one transaction: disables every other key of `key.credential_id` and inserts `key`
    /// ("a new MAC key disables the credential's previous key at once"). `Conflict` if the kid
    /// is taken.
    async fn insert_mac_key(&self, key: &MacKey) -> Result<(), StoreError>;
    /// Disables the MAC key `kid` (final: a disabled key is never enabled again). Returns
    /// whether the key exists.
    async fn disable_mac_key(&self, kid: &str) -> Result<bool, StoreError>;
    /// Looks a MAC key up by kid.
    async fn mac_key(&self, kid: &str) -> Result<Option<MacKey>, StoreError>;
    /// MAC keys in `scope`, oldest first.
    async fn mac_keys(&self, scope: &Scope) -> Result<Vec<MacKey>, StoreError>;
    /// In ONE transaction: counts a binding on MAC key `kid` only if the key is active, not
    /// expired at `now`, below its maximum, its credential is active and its customer is not
    /// suspended, then inserts
    /// `account`. If any rule fails, returns which (`Ok(Err(..))`) and changes nothing; if the
    /// account insert fails (e.g. `Conflict` on the thumbprint) the count is rolled back. Among
    /// concurrent callers, exactly `max_bindings - bindings_used` succeed.
    async fn insert_account_with_binding(
        &self,
        account: &Account,
        kid: &str,
        now: OffsetDateTime,
    ) -> Result<Result<(), BindingRefusal>, StoreError>;
    /// Accounts bound through MAC keys in `scope` (all accounts with [`Scope::All`]), oldest
    /// first.
    async fn accounts_in_scope(&self, scope: &Scope) -> Result<Vec<Account>, StoreError>;

    // --- domain validations (BR §4.2.1 reuse; written by `finish_validation`) ---
    /// Successful validations owned by `owner` for any of `domains`, completed after `since`,
    /// whose authorization is still `valid` (a deactivated one ends the reuse), newest first.
    async fn reusable_domain_validations(
        &self,
        owner: &ValidationOwner,
        domains: &[String],
        since: OffsetDateTime,
    ) -> Result<Vec<DomainValidation>, StoreError>;
    /// Every domain validation in `scope` (operator view: what was validated, how, when, and
    /// the evidence), newest first.
    async fn domain_validations(&self, scope: &Scope) -> Result<Vec<DomainValidation>, StoreError>;

    // --- the admin API: a customer's own certificates and validations ---
    /// The profile each of `order_ids` was ordered under, as (order id, profile); `None`: the
    /// default profile in force at finalize. Unknown ids are skipped; any order.
    async fn order_profiles(
        &self,
        order_ids: &[String],
    ) -> Result<Vec<(String, Option<String>)>, StoreError>;
    /// The domain validations `query` selects, newest first, starting after the validation
    /// `after` (an id a previous page returned; none if it is not among them), at most
    /// `limit`: keyset paging for the customer's listing.
    async fn domain_validations_page(
        &self,
        query: &DomainValidationQuery,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DomainValidation>, StoreError>;

    // --- the customer portal ---
    /// Keeps a new portal session. `Conflict` if its token hash is taken.
    async fn insert_portal_session(&self, session: &PortalSession) -> Result<(), StoreError>;
    /// The session whose token hashes to `token_hash`, if it has not expired at `now`.
    async fn portal_session(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<PortalSession>, StoreError>;
    /// Ends a session (signing out). Returns whether it existed.
    async fn delete_portal_session(&self, token_hash: &str) -> Result<bool, StoreError>;
    /// Ends every session of the credentials in `scope` (a customer's, one credential's; an
    /// operator credential is a [`Scope::Credential`]); returns how many.
    async fn end_portal_sessions(&self, scope: &Scope) -> Result<u64, StoreError>;
    /// Deletes the sessions that expired before `now`; returns how many.
    async fn purge_portal_sessions(&self, now: OffsetDateTime) -> Result<u64, StoreError>;
    /// Certificates issued per day (by notBefore) and challenges failed by problem type, of
    /// `customer_id`'s accounts (every account with `None`), since `since`.
    async fn activity(
        &self,
        customer_id: Option<&str>,
        since: OffsetDateTime,
    ) -> Result<Activity, StoreError>;
}
