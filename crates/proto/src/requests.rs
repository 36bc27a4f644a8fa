//! Request payloads (RFC 8555 §7.3–§7.6). Unknown members are ignored, as §7 lets servers do.

use serde::{Deserialize, Serialize};

use crate::{AccountStatus, AuthorizationStatus, Identifier};

/// newAccount payload (§7.3).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewAccount {
    /// Contact URLs.
    #[serde(default)]
    pub contact: Option<Vec<String>>,
    /// Agreement to the terms of service.
    #[serde(default)]
    pub terms_of_service_agreed: Option<bool>,
    /// Only look up an existing account (§7.3.1).
    #[serde(default)]
    pub only_return_existing: Option<bool>,
    /// External account binding JWS (§7.3.4).
    #[serde(default)]
    pub external_account_binding: Option<serde_json::Value>,
}

/// Account update payload (§7.3.2, §7.3.6).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountUpdate {
    /// New contact URLs.
    #[serde(default)]
    pub contact: Option<Vec<String>>,
    /// `deactivated` to deactivate (§7.3.6); no other status may be requested.
    #[serde(default)]
    pub status: Option<AccountStatus>,
}

/// newOrder payload (§7.4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewOrder {
    /// Identifiers to certify.
    pub identifiers: Vec<Identifier>,
    /// Requested notBefore (RFC 3339).
    #[serde(default)]
    pub not_before: Option<String>,
    /// Requested notAfter (RFC 3339).
    #[serde(default)]
    pub not_after: Option<String>,
    /// The certificate profile to issue under, one of the directory's `meta.profiles`
    /// (draft-ietf-acme-profiles §4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The certificate this order replaces, as its RFC 9773 certID (RFC 9773 §5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

/// Finalize payload (§7.4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finalize {
    /// base64url DER CSR.
    pub csr: String,
}

/// Authorization update (deactivation, §7.5.2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuthorizationUpdate {
    /// `deactivated` (§7.5.2); no other status may be requested.
    pub status: AuthorizationStatus,
}

/// revokeCert payload (§7.6).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Revocation {
    /// base64url DER certificate.
    pub certificate: String,
    /// RFC 5280 CRLReason code.
    #[serde(default)]
    pub reason: Option<u8>,
}

/// keyChange inner payload (§7.3.5).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyChange {
    /// The account URL.
    pub account: String,
    /// The old key as a JWK.
    pub old_key: serde_json::Value,
}
