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
}

/// The outcome of a validation attempt, written back in one transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidationResult {
    /// The challenge that was validated.
    pub challenge_id: String,
    /// The authorization it belongs to.
    pub authorization_id: String,
    /// Success: the time; failure: the problem.
    pub outcome: Result<OffsetDateTime, Problem>,
    /// Evidence, kept with the challenge.
    pub record: serde_json::Value,
}
