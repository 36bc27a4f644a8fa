//! The domain model: what the Store persists. Field names follow RFC 8555 §7.1.

use ferrite_proto::{
    AccountStatus, AuthorizationStatus, ChallengeStatus, ChallengeType, Identifier, OrderStatus,
    Problem,
};
use time::OffsetDateTime;

/// An ACME account (RFC 8555 §7.1.2).
#[derive(Clone, Debug, PartialEq)]
pub struct Account {
    /// Random id; the account URL is `{base}/acme/acct/{id}`.
    pub id: String,
    /// RFC 7638 thumbprint of the current key; unique across accounts.
    pub thumbprint: String,
    /// The current public key as JWK JSON (canonical members only).
    pub jwk: serde_json::Value,
    /// `mailto:` contact URLs.
    pub contact: Vec<String>,
    /// Account status.
    pub status: AccountStatus,
    /// Whether the client agreed to the terms of service at creation.
    pub terms_of_service_agreed: bool,
    /// The EAB MAC key id the account was bound with, if any.
    pub eab_kid: Option<String>,
    /// The customer the account belongs to (through the API credential whose MAC key bound it);
    /// `None` for accounts created without EAB.
    pub customer_id: Option<String>,
    /// Creation time.
    pub created_at: OffsetDateTime,
}

/// An order (RFC 8555 §7.1.3). `Ready` and `Invalid`-by-expiry are derived when read (see
/// [`crate::status`]); the store keeps `Pending`, `Processing`, `Valid` or `Invalid`.
#[derive(Clone, Debug, PartialEq)]
pub struct Order {
    /// Random id.
    pub id: String,
    /// Owning account.
    pub account_id: String,
    /// Stored status.
    pub status: OrderStatus,
    /// Identifiers, as requested (lower-cased), in request order.
    pub identifiers: Vec<Identifier>,
    /// Authorization ids, one per identifier, same order.
    pub authorization_ids: Vec<String>,
    /// When the order expires.
    pub expires: OffsetDateTime,
    /// Requested notBefore.
    pub not_before: Option<OffsetDateTime>,
    /// Requested notAfter.
    pub not_after: Option<OffsetDateTime>,
    /// Why the order became invalid.
    pub error: Option<Problem>,
    /// Issued certificate id (its serial), once valid.
    pub certificate_serial: Option<String>,
    /// Creation time; orders are listed newest first.
    pub created_at: OffsetDateTime,
    /// The name of the certificate profile finalize issues under, fixed at newOrder
    /// (draft-ietf-acme-profiles). `None`: the default profile in force at finalize.
    pub profile: Option<String>,
    /// The certificate this order replaces, as its canonical RFC 9773 certID (RFC 9773 §5):
    /// while this order is live, no other order may replace the same certificate.
    pub replaces: Option<String>,
}

/// An authorization (RFC 8555 §7.1.4) with its challenges.
#[derive(Clone, Debug, PartialEq)]
pub struct Authorization {
    /// Random id.
    pub id: String,
    /// Owning account.
    pub account_id: String,
    /// The identifier without `*.`.
    pub identifier: Identifier,
    /// True when the order asked for a wildcard of this identifier.
    pub wildcard: bool,
    /// Stored status (`Expired` is derived when read).
    pub status: AuthorizationStatus,
    /// Expiry.
    pub expires: OffsetDateTime,
    /// The challenges offered.
    pub challenges: Vec<Challenge>,
}

/// A challenge (RFC 8555 §7.1.5).
#[derive(Clone, Debug, PartialEq)]
pub struct Challenge {
    /// Random id, unique across authorizations.
    pub id: String,
    /// Owning authorization.
    pub authorization_id: String,
    /// Challenge type.
    pub kind: ChallengeType,
    /// Token (§8.1): 128 random bits, base64url.
    pub token: String,
    /// Status.
    pub status: ChallengeStatus,
    /// When validation succeeded.
    pub validated: Option<OffsetDateTime>,
    /// Why validation failed.
    pub error: Option<Problem>,
    /// Evidence of the validation (method, addresses, answers), JSON.
    pub record: Option<serde_json::Value>,
    /// While `processing`: until when this instance holds the validation lease; after that a
    /// reaper may hand it back to `pending`.
    pub lease_until: Option<OffsetDateTime>,
}

/// An issued certificate.
#[derive(Clone, Debug, PartialEq)]
pub struct Certificate {
    /// Lower-case hex serial, unique.
    pub serial: String,
    /// Account that ordered it.
    pub account_id: String,
    /// Order it was issued for.
    pub order_id: String,
    /// Leaf DER.
    pub der: Vec<u8>,
    /// Leaf + intermediate, PEM (`application/pem-certificate-chain`).
    pub chain_pem: String,
    /// DNS names in the SAN.
    pub dns_names: Vec<String>,
    /// Validity start.
    pub not_before: OffsetDateTime,
    /// Validity end.
    pub not_after: OffsetDateTime,
    /// When revoked, with the RFC 5280 reason code.
    pub revoked: Option<(OffsetDateTime, u8)>,
    /// When the operator pulled the certificate's renewal window forward (`ferrite ari
    /// advance`), and the page explaining why: renewal information then suggests renewing
    /// at once (RFC 9773 §4.2).
    pub renewal_advanced: Option<RenewalAdvance>,
    /// The CRL that lists it once it is revoked, fixed at issuance.
    pub crl: CrlScope,
    /// The precertificate (DER) submitted to Certificate Transparency logs for it, when
    /// `[ct]` logs were configured at its issuance.
    pub precertificate: Option<Vec<u8>>,
}

/// Which CRL lists a certificate: one shard of its issuing intermediate's CRLs (the
/// certificate's CRL distribution point), or the one unsharded CRL of the certificates issued
/// before there were shards.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CrlScope {
    /// The unsharded CRL (`/crl`).
    Unsharded,
    /// Shard `shard` of the intermediate whose [`ferrite_pki::Issuer::id`] is `issuer_id`.
    Shard {
        /// The issuing intermediate's id.
        issuer_id: String,
        /// The shard, below the shard count when the certificate was issued.
        shard: u32,
    },
}

impl CrlScope {
    /// The shard of `issuer_id` numbered `shard`.
    pub fn shard(issuer_id: &str, shard: u32) -> CrlScope {
        CrlScope::Shard {
            issuer_id: issuer_id.to_owned(),
            shard,
        }
    }
}

/// The operator's mark that a certificate should be renewed now (RFC 9773 §4.2: a window in
/// the past), for incident response.
#[derive(Clone, Debug, PartialEq)]
pub struct RenewalAdvance {
    /// When the window was pulled forward.
    pub at: OffsetDateTime,
    /// A page for people explaining why (RFC 9773 `explanationURL`).
    pub explanation_url: Option<String>,
}

/// Which certificates an operator command covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertificateFilter {
    /// One certificate, by its lower-case hex serial.
    Serial(String),
    /// Every certificate of the accounts of this customer (by id).
    Customer(String),
    /// Every certificate with this DNS name among its names (exactly as issued, `*.` included).
    Domain(String),
}

/// Which certificates an operator's listing or bulk revocation covers: every condition set
/// must hold. Read page by page ([`crate::Store::certificates_page`]), ordered by serial.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertificateQuery {
    /// Only this certificate (lower-case hex serial, as stored).
    pub serial: Option<String>,
    /// Only certificates of the accounts of this customer (by id).
    pub customer_id: Option<String>,
    /// Only certificates with this DNS name among their names (exactly as issued).
    pub domain: Option<String>,
    /// Only certificates with a name ending in this (`.example.com`: every name under
    /// example.com, `*.example.com` included). Begins with a dot, so `badexample.com` never
    /// matches.
    pub domain_suffix: Option<String>,
    /// Only revoked certificates (`true`) or only those never revoked (`false`).
    pub revoked: Option<bool>,
    /// Only certificates of this public key: the SHA-256 of its SubjectPublicKeyInfo, lower-case
    /// hex. Certificates stored before the hash was recorded have none and are returned as
    /// well: the caller checks their DER ([`crate::ca::key_block::certificate_spki_sha256`]).
    pub spki_sha256: Option<String>,
    /// Only certificates whose notBefore is at or after this.
    pub issued_from: Option<OffsetDateTime>,
    /// Only certificates whose notBefore is before this.
    pub issued_before: Option<OffsetDateTime>,
    /// Only certificates whose notAfter is at or after this (unexpired then).
    pub not_after_from: Option<OffsetDateTime>,
    /// Only certificates whose notAfter is at or before this (expiring by then).
    pub not_after_until: Option<OffsetDateTime>,
}

/// A public key no certificate or account may use any more (its holder or the operator
/// reported it compromised): RFC 8555 `badPublicKey` for CSRs and account keys with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockedKey {
    /// SHA-256 of the key's DER SubjectPublicKeyInfo, lower-case hex (64 digits).
    pub spki_sha256: String,
    /// When it was blocked.
    pub blocked_at: OffsetDateTime,
    /// Why, for people: the operator's text, or the revocation that blocked it.
    pub reason: String,
    /// The certificate whose keyCompromise revocation blocked it, if one did.
    pub serial: Option<String>,
}

/// The CA certificates an instance serves, by SHA-256 fingerprint (upper-case hex pairs
/// separated by colons, as `openssl x509 -fingerprint -sha256` prints them), offered to the
/// database at start ([`crate::Store::record_ca_certificates`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaCertificates {
    /// The root certificate's fingerprint (what clients trust).
    pub root_sha256: String,
    /// The issuing (intermediate) certificate's fingerprint (what signs certificates and CRLs).
    pub intermediate_sha256: String,
}

/// What the database answered to an instance's [`CaCertificates`]. A deployment has one root,
/// recorded by the first instance to start: an instance under another root would issue
/// certificates the clients of the others do not trust. Intermediates under that root may be
/// several (an operator rolling a new intermediate through the instances one by one); each is
/// recorded the first time an instance offers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaRecord {
    /// Nothing was recorded: the offered root and intermediate now are.
    Recorded,
    /// The root and the intermediate were both recorded already.
    Known,
    /// The root was recorded, the intermediate was not and now is; `earlier` lists the
    /// intermediates recorded before it, oldest first.
    NewIntermediate {
        /// Fingerprints of the intermediates recorded before.
        earlier: Vec<String>,
    },
    /// Another root is recorded; nothing was stored.
    OtherRoot {
        /// The recorded root's fingerprint.
        root_sha256: String,
        /// The recorded intermediates' fingerprints, oldest first.
        intermediates: Vec<String>,
    },
}

/// One CRL the instances of a deployment share ([`crate::Store::shared_crl`]): the last one
/// an instance signed and stored, and how many revocations there have been in its scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedCrl {
    /// Revocations in the scope so far: every revocation counts one.
    pub generation: u64,
    /// The last CRL stored, if any.
    pub stored: Option<StoredCrl>,
}

impl SharedCrl {
    /// The same without the DER.
    pub fn status(&self) -> CrlStatus {
        CrlStatus {
            generation: self.generation,
            stored: self.stored.as_ref().map(|s| (s.signed_at, s.generation)),
        }
    }
}

/// What the database holds of one CRL, without its DER ([`crate::Store::crl_statuses`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrlStatus {
    /// Revocations in the scope so far ([`SharedCrl::generation`]).
    pub generation: u64,
    /// The stored CRL's thisUpdate and the generation it lists, once one is stored.
    pub stored: Option<(OffsetDateTime, u64)>,
}

/// A CRL an instance signed and stored for the others to serve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCrl {
    /// The CRL, DER.
    pub der: Vec<u8>,
    /// When it was signed (its thisUpdate).
    pub signed_at: OffsetDateTime,
    /// The [`SharedCrl::generation`] it lists every revocation of.
    pub generation: u64,
}

/// A request an instance refused (any 4xx or 5xx answered with a problem document), kept for
/// the support trail: a customer who quotes a request id gets the reason without anyone
/// searching the logs. Never holds a secret: the detail is the one the client was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusedRequest {
    /// The id in the response's `X-Request-Id` header and problem document.
    pub request_id: String,
    /// When it was answered.
    pub at: OffsetDateTime,
    /// Which listener answered it (`acme`, `admin`, `public`).
    pub listener: String,
    /// The HTTP method.
    pub method: String,
    /// The request path (no query).
    pub path: String,
    /// The HTTP status answered.
    pub status: u16,
    /// The problem type's URN.
    pub problem: String,
    /// The problem's detail, as the client got it.
    pub detail: String,
    /// The account the request's `kid` named, when it named one.
    pub account_id: Option<String>,
    /// That account's customer, once the account was found.
    pub customer_id: Option<String>,
    /// The client's address (behind a proxy: the one the trusted proxy forwarded for).
    pub client: Option<String>,
}

/// A customer portal sign-in: found by the SHA-256 (hex) of the token in the browser's
/// cookie, never by the token itself. The CSRF token goes into every form the session is
/// shown and must come back with each POST.
#[derive(Clone, PartialEq, Eq)]
pub struct PortalSession {
    /// SHA-256 of the cookie token, lower-case hex.
    pub token_hash: String,
    /// The API credential that signed in.
    pub credential_id: String,
    /// The session's CSRF token (random, base64url).
    pub csrf_token: String,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// When it ends, whatever the browser does with the cookie.
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for PortalSession {
    /// Leaves the CSRF token out: it protects the session's forms.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortalSession")
            .field("credential_id", &self.credential_id)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// What the portal's charts draw for one customer (or every customer) since a time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Activity {
    /// Certificates issued per UTC day (days since the Unix epoch), ascending; days with
    /// none are left out.
    pub issued_per_day: Vec<(i64, u64)>,
    /// Failed challenges by problem type (the URN), most first.
    pub failures_by_type: Vec<(String, u64)>,
}

/// The outcome of a validation attempt, written back in one transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidationResult {
    /// The challenge that was validated.
    pub challenge_id: String,
    /// The authorization it belongs to.
    pub authorization_id: String,
    /// The lease the validating instance claimed the challenge with (`start_validation`). The
    /// result applies only while the challenge still holds this claim: one reaped and claimed
    /// again meanwhile ignores a late result of the old claim.
    ///
    /// `None`: the validation finished before it needed a claim, so the result is the claim:
    /// it applies only while the challenge and its authorization are still `pending` (the
    /// conditions of `start_validation`), and exactly one of concurrent such results does.
    pub lease_until: Option<OffsetDateTime>,
    /// Success: the time; failure: the problem.
    pub outcome: Result<OffsetDateTime, Problem>,
    /// Evidence, kept with the challenge.
    pub record: serde_json::Value,
    /// On success, the customer-scoped record that lets later orders reuse this validation;
    /// stored in the same transaction as the result, and only if the result applies. Its
    /// `reuse_until` also becomes the authorization's expiry.
    pub domain_validation: Option<DomainValidation>,
}

/// Who may reuse a validation: the customer of the account that performed it (any ACME account
/// bound to the customer's credentials), or, for an account without a customer (EAB not
/// required), that account alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValidationOwner {
    /// Every account of this customer.
    Customer(String),
    /// Only this account.
    Account(String),
}

impl ValidationOwner {
    /// The owner of validations performed by `account`.
    pub fn of(account: &Account) -> Self {
        match &account.customer_id {
            Some(customer) => Self::Customer(customer.clone()),
            None => Self::Account(account.id.clone()),
        }
    }
}

/// A successful domain validation, kept for reuse and as evidence (BR §4.2.1, §3.2.2.4): who
/// performed it, for which name, how, when, until when it may be relied on, and what was seen.
#[derive(Clone, Debug, PartialEq)]
pub struct DomainValidation {
    /// Random id.
    pub id: String,
    /// The customer of the validating account (`None`: an account without a customer, whose
    /// validations only it may reuse).
    pub customer_id: Option<String>,
    /// The account that answered the challenge.
    pub account_id: String,
    /// The validated name, without `*.`.
    pub domain: String,
    /// Whether the authorization was for `*.domain`.
    pub wildcard: bool,
    /// The challenge type that succeeded.
    pub method: ChallengeType,
    /// When the validation completed (the start of its reuse window).
    pub validated_at: OffsetDateTime,
    /// The first instant it may no longer be relied on, by the reuse policy in force when it
    /// was made. New orders recompute this against the policy in force then.
    pub reuse_until: OffsetDateTime,
    /// The authorization it made valid. Deactivating that authorization (RFC 8555 §7.5.2)
    /// ends the reuse.
    pub authorization_id: String,
    /// The validator's evidence: method, addresses resolved and contacted, DNS answers.
    pub record: serde_json::Value,
}

impl DomainValidation {
    /// Who may reuse it.
    pub fn owner(&self) -> ValidationOwner {
        match &self.customer_id {
            Some(customer) => ValidationOwner::Customer(customer.clone()),
            None => ValidationOwner::Account(self.account_id.clone()),
        }
    }
}

/// Which domain validations a customer's listing covers ([`crate::Store::domain_validations_page`]),
/// newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DomainValidationQuery {
    /// Only this customer's validations (by id).
    pub customer_id: String,
    /// Only validations of this name as shown (`*.` in front for a wildcard authorization).
    pub domain: Option<String>,
    /// Only validations of a name (as shown) ending in this, which begins with a dot.
    pub domain_suffix: Option<String>,
}

// ---------------------------------------------------------------- customers and EAB

/// A customer of the CA operator: owns API credentials, and through them ACME accounts.
#[derive(Clone, Debug, PartialEq)]
pub struct Customer {
    /// Random id.
    pub id: String,
    /// Operator-chosen name, unique (`ferrite credential create --customer NAME`).
    pub name: String,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// The certificate profiles the customer's accounts may order (`ferrite customer
    /// set-profiles`); `None`: every profile the CA offers.
    pub allowed_profiles: Option<Vec<String>>,
    /// Set while the operator has the customer suspended (`ferrite customer suspend`): its
    /// accounts get `unauthorized`, its MAC keys bind nothing, its API credentials are
    /// refused. `None`: in service.
    pub suspension: Option<Suspension>,
}

/// An operator's suspension of a customer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suspension {
    /// When the operator suspended the customer.
    pub at: OffsetDateTime,
    /// The operator's reason, for operators: never sent to the customer's clients, so an
    /// internal note cannot leak.
    pub reason: Option<String>,
}

/// Whether an API credential or MAC key may still be used, as stored. For MAC keys "expired"
/// and "exhausted" are derived when read ([`MacKey::status_at`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialStatus {
    /// Usable.
    Active,
    /// Switched off by the operator (credential) or by a newer key (MAC key); never re-enabled.
    Disabled,
}

impl CredentialStatus {
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s output.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }
}

/// An API credential: a public id plus a secret of which only an argon2 hash is kept.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiCredential {
    /// Public key id (also the bearer user part, `id:secret`).
    pub id: String,
    /// Owning customer.
    pub customer_id: String,
    /// PHC-format argon2 hash of the secret. Not secret itself, but never shown.
    pub secret_hash: String,
    /// Stored status.
    pub status: CredentialStatus,
    /// Creation time.
    pub created_at: OffsetDateTime,
}

/// An operator credential: an API credential of the CA's operator, tied to no customer. It
/// may do over the admin API what the operator's commands do, for any customer; it holds no
/// MAC keys (those belong to a customer's credential) and so binds no ACME account.
#[derive(Clone, Debug, PartialEq)]
pub struct OperatorCredential {
    /// Public id (the bearer user part, `id:secret`); never the id of a customer's credential.
    pub id: String,
    /// PHC-format argon2 hash of the secret. Not secret itself, but never shown.
    pub secret_hash: String,
    /// Stored status.
    pub status: CredentialStatus,
    /// Creation time.
    pub created_at: OffsetDateTime,
}

/// An EAB MAC key (RFC 8555 §7.3.4) as stored: the key itself only sealed under the KEK.
#[derive(Clone, Debug, PartialEq)]
pub struct MacKey {
    /// The key identifier clients send as the EAB `kid`; unique.
    pub kid: String,
    /// The API credential the key belongs to.
    pub credential_id: String,
    /// AES-256-GCM nonce || ciphertext || tag of the raw key (see `eab::kek`).
    pub sealed_key: Vec<u8>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// After this instant the key binds nothing.
    pub expires_at: OffsetDateTime,
    /// Most accounts the key may bind.
    pub max_bindings: u32,
    /// Accounts bound so far (counted in the transaction that creates the account).
    pub bindings_used: u32,
    /// Stored status (`Disabled` when a newer key was made for the credential, or the operator
    /// disabled the key).
    pub status: CredentialStatus,
}

/// What an operator sees of a MAC key at a moment: stored status, then expiry, then use count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacKeyStatus {
    /// Can bind accounts.
    Active,
    /// The key's customer is suspended (`ferrite customer suspend`); it binds again once the
    /// customer is resumed, if nothing else stops it.
    CustomerSuspended,
    /// The key's API credential is disabled: the key binds nothing, whatever its own state.
    CredentialDisabled,
    /// Replaced by a newer key of the same credential, or disabled by the operator.
    Disabled,
    /// Past `expires_at`.
    Expired,
    /// `bindings_used` reached `max_bindings`.
    Exhausted,
}

impl MacKeyStatus {
    /// The displayed name (stable: `--json` and the admin API use it).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::CustomerSuspended => "customer_suspended",
            Self::CredentialDisabled => "credential_disabled",
            Self::Disabled => "disabled",
            Self::Expired => "expired",
            Self::Exhausted => "exhausted",
        }
    }
}

/// What a MAC key's usability depends on above it: its credential and its customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyHolder {
    /// The key's API credential's stored status.
    pub credential: CredentialStatus,
    /// Whether the credential's customer is suspended.
    pub customer_suspended: bool,
}

impl MacKey {
    /// The key's own status at `now`: disabled beats expired beats exhausted.
    pub fn status_at(&self, now: OffsetDateTime) -> MacKeyStatus {
        if self.status == CredentialStatus::Disabled {
            MacKeyStatus::Disabled
        } else if now >= self.expires_at {
            MacKeyStatus::Expired
        } else if self.bindings_used >= self.max_bindings {
            MacKeyStatus::Exhausted
        } else {
            MacKeyStatus::Active
        }
    }

    /// The status at `now` as a binding would meet it: a suspended customer beats a disabled
    /// credential beats the key's own status ([`MacKey::status_at`]). The same order as the
    /// store's binding refusals name the failed rule.
    pub fn status_under(&self, holder: KeyHolder, now: OffsetDateTime) -> MacKeyStatus {
        if holder.customer_suspended {
            MacKeyStatus::CustomerSuspended
        } else if holder.credential == CredentialStatus::Disabled {
            MacKeyStatus::CredentialDisabled
        } else {
            self.status_at(now)
        }
    }

    /// Bindings left (0 when exhausted).
    pub fn bindings_remaining(&self) -> u32 {
        self.max_bindings.saturating_sub(self.bindings_used)
    }
}

/// Which rows a listing covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Everything (operator CLI).
    All,
    /// One customer's rows (admin API: a credential sees its own customer).
    Customer(String),
    /// One API credential's rows.
    Credential(String),
}

/// Why the store refused to bind an account to a MAC key (checked inside the binding
/// transaction, so a refusal consumed nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindingRefusal {
    /// No MAC key with this kid.
    UnknownKid,
    /// The key was disabled (a newer key was created for its credential, or the operator
    /// disabled it).
    KeyDisabled,
    /// The key is past its expiry.
    KeyExpired,
    /// The key has bound its maximum number of accounts.
    KeyExhausted,
    /// The key's API credential was disabled by the operator.
    CredentialDisabled,
    /// The key's customer is suspended by the operator.
    CustomerSuspended,
}

/// `t` as the store keeps times (UTC, microsecond precision), so a response built from what
/// was just written and a later read show the same instant the same way.
pub(crate) fn stored_precision(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t)
}
