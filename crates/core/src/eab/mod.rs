//! The binding model (RFC 8555 §7.3.4): customer → API credentials → EAB MAC keys → ACME
//! accounts.
//!
//! A MAC key is 256 random bits, shown once as unpadded base64url without `-`/`_`, stored only
//! sealed under a key-encryption key ([`Kek`]), valid for [`EabSettings::mac_key_lifetime`] and
//! for at most [`EabSettings::max_bindings`] accounts. A new key disables its credential's
//! previous key. API credential secrets are stored only as argon2 hashes. A binding is counted in
//! the same store transaction that creates the account, so a failed newAccount consumes
//! nothing and concurrent newAccounts never exceed the limit.
//!
//! # Layout
//! - `registry`: [`Registry`], the operator's operations (CLI, admin API).
//! - `binding`: verifying a newAccount's `externalAccountBinding`, refusal messages.
//! - `views`: what operators see, with the stable JSON field names.
//! - `kek`: [`Kek`], AES-256-GCM sealing of MAC keys.
//! - `mac_key`: generating MAC keys and API secrets; argon2 hashing.
//! - `secret`: [`SecretText`] (redacted `Debug`) and the CSPRNG.
//! - `sessions`: customer portal sign-ins ([`Registry::sign_in`]).
//! - `suspension`: refusing a suspended customer's accounts, bindings and credentials.
//! - `usage`: a customer's usage against its rate limits and its MAC keys' bindings.

mod binding;
mod kek;
mod mac_key;
mod registry;
pub(crate) mod secret;
mod sessions;
mod suspension;
mod usage;
mod views;

use time::Duration;

pub use kek::{KEK_LEN, Kek};
pub use mac_key::MAC_KEY_LEN;
pub use registry::{Principal, Registry};
pub use secret::SecretText;
pub use sessions::{NewSession, PORTAL_SESSION_LIFETIME, SignedInSession};
pub(crate) use suspension::check_in_service;
pub use usage::{LimitUsage, MacKeyUsage, UsageView};
pub use views::{
    AccountView, CredentialView, CustomerLimitView, CustomerView, MacKeyView, NewCredential,
    NewMacKey,
};

/// MAC key limits, and what a suspended customer is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EabSettings {
    /// How long a new MAC key may bind accounts (default 30 days).
    pub mac_key_lifetime: Duration,
    /// How many accounts one MAC key may bind (default 1000).
    pub max_bindings: u32,
    /// Whom a suspended customer's refusals tell it to contact (an email address or a URL,
    /// `customers.suspended_contact`); `None` or blank: "the operator of this certificate
    /// authority".
    pub suspended_contact: Option<String>,
}

impl Default for EabSettings {
    fn default() -> Self {
        Self {
            mac_key_lifetime: Duration::days(30),
            max_bindings: 1000,
            suspended_contact: None,
        }
    }
}
