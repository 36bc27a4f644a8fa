//! What operators see of customers, credentials, MAC keys and bound accounts, with the stable
//! field names the CLI's `--json` and the admin API share.

use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::secret::SecretText;
use crate::model::{
    Account, ApiCredential, Customer, KeyHolder, MacKey, MacKeyStatus, OperatorCredential,
};

/// A customer.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CustomerView {
    /// Id.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Creation time (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The certificate profiles the customer's accounts may order; `null`: all offered.
    pub allowed_profiles: Option<Vec<String>>,
    /// `active`, or `suspended` by the operator.
    pub status: &'static str,
    /// When the operator suspended the customer (RFC 3339); `null` unless suspended.
    #[serde(with = "time::serde::rfc3339::option")]
    pub suspended_at: Option<OffsetDateTime>,
    /// The operator's reason for the suspension, if one was given.
    pub suspended_reason: Option<String>,
}

impl From<&Customer> for CustomerView {
    fn from(c: &Customer) -> Self {
        Self {
            id: c.id.clone(),
            name: c.name.clone(),
            created_at: c.created_at,
            allowed_profiles: c.allowed_profiles.clone(),
            status: if c.suspension.is_some() {
                "suspended"
            } else {
                "active"
            },
            suspended_at: c.suspension.as_ref().map(|s| s.at),
            suspended_reason: c.suspension.as_ref().and_then(|s| s.reason.clone()),
        }
    }
}

/// One rate limit as it applies to a customer's accounts (`ferrite customer limits`).
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CustomerLimitView {
    /// The limit's name (`[rate_limits]`).
    pub limit: &'static str,
    /// The configured value (0: off).
    pub configured: u32,
    /// The customer's own value, if the operator set one (0: off).
    #[serde(rename = "override")]
    pub override_value: Option<u32>,
    /// The value in force: the override, else the configured value (0: off).
    pub effective: u32,
    /// The value in words ("300 per 3 hours", "off").
    pub describe: String,
    /// Whether an override applies (new accounts per address are counted before the account
    /// has a customer: only the configured value applies).
    pub per_customer: bool,
}

/// An API credential, without its secret (only a hash exists): a customer's, or the
/// operator's (`role` says which).
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CredentialView {
    /// Public id.
    pub id: String,
    /// Owning customer; `null` for an operator credential.
    pub customer_id: Option<String>,
    /// `customer` (confined to its customer, holds MAC keys) or `operator` (any customer,
    /// no MAC keys).
    pub role: &'static str,
    /// `active` or `disabled`.
    pub status: &'static str,
    /// Creation time (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&ApiCredential> for CredentialView {
    fn from(c: &ApiCredential) -> Self {
        Self {
            id: c.id.clone(),
            customer_id: Some(c.customer_id.clone()),
            role: "customer",
            status: c.status.as_str(),
            created_at: c.created_at,
        }
    }
}

impl From<&OperatorCredential> for CredentialView {
    fn from(c: &OperatorCredential) -> Self {
        Self {
            id: c.id.clone(),
            customer_id: None,
            role: "operator",
            status: c.status.as_str(),
            created_at: c.created_at,
        }
    }
}

/// A credential just created: the only time its secret exists outside the client's hands.
#[derive(Clone, Debug)]
pub struct NewCredential {
    /// The stored credential.
    pub credential: CredentialView,
    /// The secret, shown once.
    pub secret: SecretText,
}

impl NewCredential {
    /// JSON with the secret exposed (`id`, `secret`, `customer_id`, `role`, `status`,
    /// `created_at`):
    /// only for the response that shows it once.
    pub fn to_json_exposing_secret(&self) -> Value {
        let mut v = serde_json::to_value(&self.credential).unwrap_or_else(|_| json!({}));
        v["secret"] = Value::String(self.secret.expose().to_owned());
        v
    }
}

/// A MAC key's state at a moment.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MacKeyView {
    /// The EAB key id.
    pub kid: String,
    /// The API credential it belongs to.
    pub credential_id: String,
    /// `active`, `customer_suspended` (its customer is suspended), `credential_disabled` (its
    /// API credential is disabled), `disabled`, `expired` or `exhausted`: the first rule that
    /// stops a binding, in the order a binding is checked.
    pub status: &'static str,
    /// Creation time (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Expiry (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Accounts bound so far.
    pub bindings_used: u32,
    /// Accounts it may still bind: 0 unless `status` is `active`.
    pub bindings_remaining: u32,
    /// Most accounts it may bind.
    pub max_bindings: u32,
}

impl MacKeyView {
    /// The view of `key`, held by a credential and customer in the state `holder` says, at
    /// `now`.
    pub fn at(key: &MacKey, holder: KeyHolder, now: OffsetDateTime) -> Self {
        let status = key.status_under(holder, now);
        Self {
            kid: key.kid.clone(),
            credential_id: key.credential_id.clone(),
            status: status.as_str(),
            created_at: key.created_at,
            expires_at: key.expires_at,
            bindings_used: key.bindings_used,
            bindings_remaining: if status == MacKeyStatus::Active {
                key.bindings_remaining()
            } else {
                0
            },
            max_bindings: key.max_bindings,
        }
    }
}

/// A MAC key just created: the only time its HMAC key is shown.
#[derive(Clone, Debug)]
pub struct NewMacKey {
    /// The stored key's view.
    pub key: MacKeyView,
    /// Unpadded base64url HMAC key without `-`/`_`, shown once.
    pub hmac_key: SecretText,
}

impl NewMacKey {
    /// JSON with the HMAC key exposed (the view's fields plus `hmac_key`): only for the
    /// response that shows it once.
    pub fn to_json_exposing_key(&self) -> Value {
        let mut v = serde_json::to_value(&self.key).unwrap_or_else(|_| json!({}));
        v["hmac_key"] = Value::String(self.hmac_key.expose().to_owned());
        v
    }
}

/// An ACME account as the operator sees it.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AccountView {
    /// Account id (the URL ends with it).
    pub id: String,
    /// `valid`, `deactivated` or `revoked`.
    pub status: String,
    /// Contacts.
    pub contact: Vec<String>,
    /// The MAC key it was bound with.
    pub eab_kid: Option<String>,
    /// Its customer.
    pub customer_id: Option<String>,
    /// Creation time (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&Account> for AccountView {
    fn from(a: &Account) -> Self {
        Self {
            id: a.id.clone(),
            status: a.status.to_string(),
            contact: a.contact.clone(),
            eab_kid: a.eab_kid.clone(),
            customer_id: a.customer_id.clone(),
            created_at: a.created_at,
        }
    }
}
