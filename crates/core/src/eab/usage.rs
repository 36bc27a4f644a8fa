//! A customer's usage against its limits (`GET /admin/v1/usage`): each rate limit in force for
//! it, with its window and, where the store can count it cheaply, how much is spent now; and
//! each MAC key's bindings (those not disabled) against its maximum and its expiry.
//!
//! What is counted: the limits kept per customer (`new_credentials_per_customer`,
//! `new_mac_keys_per_customer`: one stored time each) and `new_orders_per_account` for the
//! customer's busiest account (one read of the customer's accounts and one of their stored
//! times). Not counted, the limit shown alone (`used` is `null`): pending authorizations per
//! account (a count over each account's authorizations, one query per account), failed
//! validations per account and name and the issuance limits per registered domain or set of
//! names (kept per name or domain, which nothing lists without reading every row of the
//! limits table), and the limits per client address (counted before a customer is known).

use serde::Serialize;
use time::OffsetDateTime;

use super::Registry;
use crate::CoreError;
use crate::model::{CredentialStatus, KeyHolder, Scope};
use crate::rate_limit::{self, LimitName};

/// A customer's usage against its limits.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct UsageView {
    /// The customer's name.
    pub customer: String,
    /// When it was counted (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Every rate limit, as it applies to the customer.
    pub limits: Vec<LimitUsage>,
    /// The customer's MAC keys that are not disabled, with their bindings.
    pub mac_keys: Vec<MacKeyUsage>,
}

/// One rate limit as it applies to a customer, and what is spent of it.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LimitUsage {
    /// The limit's name (`[rate_limits]`).
    pub limit: &'static str,
    /// The value in force for the customer (its own, else the configured one; 0: off).
    pub value: u32,
    /// The value in words ("300 per 3 hours", "off").
    pub describe: String,
    /// The window a rate is counted over, in seconds; `null` for a count
    /// (`pending_authorizations_per_account`).
    pub window_seconds: Option<i64>,
    /// What one allowance is kept for: `customer`, `account`, `account and name`, `customer
    /// and registered domain`, `customer and set of names` or `client address`.
    pub counted_per: &'static str,
    /// Spent now, where it is counted (per customer; per account: the busiest account's);
    /// `null` where it is not counted here, or the limit is off.
    pub used: Option<u32>,
    /// The account `used` is for (per-account limits).
    pub account_id: Option<String>,
}

/// A MAC key's bindings (a key not disabled).
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MacKeyUsage {
    /// The EAB key id.
    pub kid: String,
    /// As `GET /mac-keys` shows it: `active`, `customer_suspended`, `credential_disabled`,
    /// `expired` or `exhausted`.
    pub status: &'static str,
    /// The customer's API credential it belongs to.
    pub credential_id: String,
    /// Accounts bound so far.
    pub bindings_used: u32,
    /// Most accounts it may bind.
    pub max_bindings: u32,
    /// When it stops binding (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// What one allowance of `limit` is kept for.
fn counted_per(limit: LimitName) -> &'static str {
    match limit {
        LimitName::NewOrdersPerAccount | LimitName::PendingAuthorizationsPerAccount => "account",
        LimitName::FailedValidationsPerAccountAndName => "account and name",
        LimitName::NewCredentialsPerCustomer | LimitName::NewMacKeysPerCustomer => "customer",
        LimitName::CertificatesPerRegisteredDomain => "customer and registered domain",
        LimitName::DuplicateCertificates => "customer and set of names",
        LimitName::NewAccountsPerAddress | LimitName::FailedAdminAuthenticationsPerAddress => {
            "client address"
        }
    }
}

impl Registry {
    /// Customer `name`'s usage against its limits now (see the module's doc for what is
    /// counted). 404 if there is no such customer.
    pub async fn usage(&self, name: &str) -> Result<UsageView, CoreError> {
        let customer = self.stored_customer(name).await?;
        let now = self.clock.now();
        let store = self.store.as_ref();
        let limits = rate_limit::limits_for(store, &self.rate_limits, Some(&customer.id)).await?;

        let mut rows = Vec::new();
        for limit in LimitName::ALL {
            let value = limits.get(limit);
            let (used, account_id) = match (limit, limit.gcra(value)) {
                (
                    LimitName::NewCredentialsPerCustomer | LimitName::NewMacKeysPerCustomer,
                    Some(gcra),
                ) => {
                    let key = rate_limit::key(limit, value, &[&customer.id]);
                    let tat = store.rate_limit_tats(&[key]).await?.pop().map(|(_, t)| t);
                    (Some(gcra.used(tat, now)), None)
                }
                (LimitName::NewOrdersPerAccount, Some(gcra)) => {
                    let accounts = store
                        .accounts_in_scope(&Scope::Customer(customer.id.clone()))
                        .await?;
                    let keys: Vec<String> = accounts
                        .iter()
                        .map(|a| rate_limit::key(limit, value, &[&a.id]))
                        .collect();
                    let busiest = store
                        .rate_limit_tats(&keys)
                        .await?
                        .into_iter()
                        .map(|(key, tat)| (gcra.used(Some(tat), now), key))
                        .max();
                    match busiest {
                        Some((used, key)) => {
                            let account = accounts
                                .iter()
                                .zip(&keys)
                                .find(|(_, k)| **k == key)
                                .map(|(a, _)| a.id.clone());
                            (Some(used), account)
                        }
                        None => (Some(0), None),
                    }
                }
                _ => (None, None),
            };
            rows.push(LimitUsage {
                limit: limit.as_str(),
                value,
                describe: if value == 0 {
                    "off".to_owned()
                } else {
                    limit.describe(value)
                },
                window_seconds: limit.period().map(|p| p.whole_seconds()),
                counted_per: counted_per(limit),
                used,
                account_id,
            });
        }

        let credentials = store.credentials(Some(&customer.id)).await?;
        let mut mac_keys = Vec::new();
        for key in store
            .mac_keys(&Scope::Customer(customer.id.clone()))
            .await?
        {
            let holder = KeyHolder {
                credential: credentials
                    .iter()
                    .find(|c| c.id == key.credential_id)
                    .map_or(CredentialStatus::Disabled, |c| c.status),
                customer_suspended: customer.suspension.is_some(),
            };
            if key.status == CredentialStatus::Active {
                mac_keys.push(MacKeyUsage {
                    status: key.status_under(holder, now).as_str(),
                    kid: key.kid,
                    credential_id: key.credential_id,
                    bindings_used: key.bindings_used,
                    max_bindings: key.max_bindings,
                    expires_at: key.expires_at,
                });
            }
        }
        Ok(UsageView {
            customer: customer.name,
            at: now,
            limits: rows,
            mac_keys,
        })
    }
}
