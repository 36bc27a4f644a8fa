//! Resource objects the server returns (RFC 8555 §7.1).

use serde::{Deserialize, Serialize};

use crate::{
    AccountStatus, AuthorizationStatus, ChallengeStatus, Identifier, OrderStatus, Problem,
};

/// The directory object (§7.1.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Directory {
    /// New nonce URL.
    pub new_nonce: String,
    /// New account URL.
    pub new_account: String,
    /// New order URL.
    pub new_order: String,
    /// Revoke certificate URL.
    pub revoke_cert: String,
    /// Key change URL.
    pub key_change: String,
    /// Renewal information base URL (RFC 9773 §3): `{renewalInfo}/{certID}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_info: Option<String>,
    /// Metadata.
    pub meta: DirectoryMeta,
}

/// Directory metadata (§7.1.1, §9.7.6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryMeta {
    /// URL of the current terms of service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terms_of_service: Option<String>,
    /// URL of a website about this CA.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// Domain names the CA recognizes as its own in CAA `issue` records.
    pub caa_identities: Vec<String>,
    /// Whether newAccount requires an external account binding (§7.3.4).
    pub external_account_required: bool,
    /// The certificate profiles a newOrder may name, each with a description for people
    /// (draft-ietf-acme-profiles §3).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub profiles: std::collections::BTreeMap<String, String>,
}

/// An account object (§7.1.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// Account status.
    pub status: AccountStatus,
    /// Contact URLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contact: Vec<String>,
    /// Whether the client agreed to the terms of service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terms_of_service_agreed: Option<bool>,
    /// The external account binding the account was created with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_account_binding: Option<serde_json::Value>,
    /// URL of the account's order list (§7.1.2.1).
    pub orders: String,
}

/// The orders list (§7.1.2.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrdersList {
    /// Order URLs.
    pub orders: Vec<String>,
}

/// An order object (§7.1.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// Order status.
    pub status: OrderStatus,
    /// When the order expires (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Identifiers in the order.
    pub identifiers: Vec<Identifier>,
    /// Requested notBefore (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    /// Requested notAfter (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    /// Why the order failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
    /// Authorization URLs.
    pub authorizations: Vec<String>,
    /// Finalize URL.
    pub finalize: String,
    /// Certificate URL, once issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// The profile the certificate is issued under (draft-ietf-acme-profiles §4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The certID of the certificate this order replaces (RFC 9773 §5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

/// A renewal information object (RFC 9773 §4.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewalInfo {
    /// When the client should renew.
    pub suggested_window: SuggestedWindow,
    /// A page for people explaining why the window is where it is.
    #[serde(
        rename = "explanationURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub explanation_url: Option<String>,
}

/// The suggested renewal window (RFC 9773 §4.2): RFC 3339 times, `start` before `end`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuggestedWindow {
    /// The window's start.
    pub start: String,
    /// The window's end.
    pub end: String,
}

/// An authorization object (§7.1.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authorization {
    /// The identifier being authorized (without `*.` for wildcards).
    pub identifier: Identifier,
    /// Authorization status.
    pub status: AuthorizationStatus,
    /// When the authorization expires (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Challenges.
    pub challenges: Vec<Challenge>,
    /// True when the order asked for `*.` + identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wildcard: Option<bool>,
}

/// A challenge object (§7.1.5, §8).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Challenge {
    /// Challenge type, e.g. `http-01`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Challenge URL.
    pub url: String,
    /// Challenge status.
    pub status: ChallengeStatus,
    /// The token (§8.1).
    pub token: String,
    /// When the challenge was validated (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validated: Option<String>,
    /// Why validation failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
}
