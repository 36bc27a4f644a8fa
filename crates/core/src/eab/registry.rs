//! [`Registry`]: the operator's side of the binding model — customers, API credentials, MAC
//! keys — shared by `ferrite` subcommands, the admin API and newAccount.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use ferrite_proto::{AccountStatus, Problem, ProblemType};

use super::EabSettings;
use super::kek::Kek;
use super::mac_key::{generate_api_secret, generate_mac_key, hash_secret, verify_secret};
use super::secret::SecretText;
use super::suspension::check_in_service;
use super::views::{
    AccountView, CredentialView, CustomerLimitView, CustomerView, MacKeyView, NewCredential,
    NewMacKey,
};
use crate::model::stored_precision;
use crate::model::{
    Account, ApiCredential, CredentialStatus, Customer, KeyHolder, MacKey, OperatorCredential,
    Scope, Suspension,
};
use crate::rate_limit::{self, LimitName, RateLimits};
use crate::{Clock, CoreError, Store, StoreError, ids};

/// Customers, credentials and MAC keys over a [`Store`]. Cheap to clone.
#[derive(Clone)]
pub struct Registry {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) kek: Kek,
    pub(crate) settings: EabSettings,
    /// Slots for argon2 verifications, shared by the clones of one registry (one instance):
    /// each takes about 19 MiB and a core for a moment, so a stream of wrong secrets waits
    /// here instead of exhausting memory and the blocking thread pool.
    verify_slots: Arc<tokio::sync::Semaphore>,
    /// The configured rate limits: new credentials and MAC keys per customer, failed
    /// authentications per address (`crate::rate_limit`).
    pub(super) rate_limits: RateLimits,
}

/// Who an admin API request authenticated as: a customer's credential (confined to its
/// customer) or an operator credential (any customer, as the operator's commands).
#[derive(Clone, Debug, PartialEq)]
pub enum Principal {
    /// A customer's API credential.
    Customer(ApiCredential),
    /// An operator credential (`ferrite credential create --operator`).
    Operator(OperatorCredential),
}

impl Principal {
    /// Who a revocation this credential asks for is by (the audit line names it).
    pub fn revoker(&self) -> crate::ca::operator_revoke::Revoker<'_> {
        use crate::ca::operator_revoke::Revoker;
        match self {
            Self::Customer(c) => Revoker::Customer {
                customer_id: &c.customer_id,
                credential_id: &c.id,
            },
            Self::Operator(o) => Revoker::OperatorCredential {
                credential_id: &o.id,
            },
        }
    }

    /// The credential's id.
    pub fn credential_id(&self) -> &str {
        match self {
            Self::Customer(c) => &c.id,
            Self::Operator(o) => &o.id,
        }
    }
}

/// Argon2 verifications one instance runs at once.
const VERIFY_SLOTS: usize = 2;

/// A hash verified when the credential id is unknown, so an unknown id costs the same time as a
/// wrong secret and response times do not tell which ids exist.
fn unknown_credential_hash() -> Option<&'static str> {
    static HASH: OnceLock<Option<String>> = OnceLock::new();
    HASH.get_or_init(|| hash_secret(&SecretText::new("no such credential".to_owned())).ok())
        .as_deref()
}

/// A problem with an explicit HTTP status (admin API: 401, 404, 409).
fn problem(kind: ProblemType, status: u16, detail: String) -> CoreError {
    let mut p = Problem::new(kind, detail);
    p.status = Some(status);
    CoreError::from(p)
}

fn not_found(what: &str, id: &str, hint: &str) -> CoreError {
    problem(
        ProblemType::Malformed,
        404,
        format!("there is no {what} {id:?}{hint}"),
    )
}

/// The limit named `name`, if a customer may have its own value of it.
fn per_customer_limit(name: &str) -> Result<LimitName, CoreError> {
    let names: Vec<&str> = LimitName::ALL
        .into_iter()
        .filter(|l| l.per_customer())
        .map(LimitName::as_str)
        .collect();
    match LimitName::parse(name) {
        Some(limit) if limit.per_customer() => Ok(limit),
        Some(limit) => Err(problem(
            ProblemType::Malformed,
            400,
            format!(
                "{limit} is counted per client address, before the customer is known, so it has no per-customer value; set it in [rate_limits] (per customer: {})",
                names.join(", ")
            ),
        )),
        None => Err(problem(
            ProblemType::Malformed,
            400,
            format!(
                "there is no rate limit {name:?}; a customer may have its own value of {}",
                names.join(", ")
            ),
        )),
    }
}

/// Customer names: 1–64 of `A-Z a-z 0-9 . _ -`, starting with a letter or digit, so they are
/// safe on a command line and in a table.
fn check_customer_name(name: &str) -> Result<(), CoreError> {
    let ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(problem(
            ProblemType::Malformed,
            400,
            format!(
                "customer name {name:?} is not allowed: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            ),
        ))
    }
}

/// `failed_admin_authentications_per_address` for one client address group.
struct FailureGate {
    value: u32,
    key: String,
    group: String,
}

impl FailureGate {
    /// Refuses (429) when the group's failures fill the allowance.
    async fn check(&self, registry: &Registry) -> Result<(), CoreError> {
        rate_limit::check(
            registry.store.as_ref(),
            registry.clock.now(),
            LimitName::FailedAdminAuthenticationsPerAddress,
            self.value,
            &self.key,
            Some(&self.group),
        )
        .await
    }

    /// Counts one failure.
    async fn record(&self, registry: &Registry) -> Result<(), CoreError> {
        rate_limit::record(
            registry.store.as_ref(),
            registry.clock.now(),
            LimitName::FailedAdminAuthenticationsPerAddress,
            self.value,
            &self.key,
        )
        .await
    }
}

impl Registry {
    /// A registry sealing MAC keys under `kek`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        kek: Kek,
        settings: EabSettings,
    ) -> Self {
        Self {
            store,
            clock,
            kek,
            settings,
            verify_slots: Arc::new(tokio::sync::Semaphore::new(VERIFY_SLOTS)),
            rate_limits: RateLimits::default(),
        }
    }

    /// This registry holding customers to `limits` (default: [`RateLimits::default`]).
    pub fn with_rate_limits(mut self, limits: RateLimits) -> Self {
        self.rate_limits = limits;
        self
    }

    /// Spends one of `limit` for customer `customer_id` (its own value, else the configured
    /// one): one new credential or MAC key, refused before it is made.
    async fn spend_for_customer(
        &self,
        limit: LimitName,
        customer_id: &str,
    ) -> Result<(), CoreError> {
        let value =
            rate_limit::limits_for(self.store.as_ref(), &self.rate_limits, Some(customer_id))
                .await?
                .get(limit);
        let key = rate_limit::key(limit, value, &[customer_id]);
        rate_limit::spend(
            self.store.as_ref(),
            self.clock.now(),
            limit,
            value,
            &key,
            None,
        )
        .await
    }

    /// Creates a customer. 409 if the name is taken.
    pub async fn create_customer(&self, name: &str) -> Result<CustomerView, CoreError> {
        check_customer_name(name)?;
        let customer = Customer {
            id: ids::random_id(),
            name: name.to_owned(),
            created_at: stored_precision(self.clock.now()),
            allowed_profiles: None,
            suspension: None,
        };
        match self.store.insert_customer(&customer).await {
            Ok(()) => Ok(CustomerView::from(&customer)),
            Err(StoreError::Conflict(_)) => Err(problem(
                ProblemType::Malformed,
                409,
                format!(
                    "a customer named {name:?} already exists; choose another name or use that customer"
                ),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Every customer, oldest first.
    pub async fn customers(&self) -> Result<Vec<CustomerView>, CoreError> {
        Ok(self
            .store
            .customers()
            .await?
            .iter()
            .map(CustomerView::from)
            .collect())
    }

    /// The customer named `name`; 404 if there is none.
    pub async fn customer_by_name(&self, name: &str) -> Result<CustomerView, CoreError> {
        self.store
            .customer_by_name(name)
            .await?
            .map(|c| CustomerView::from(&c))
            .ok_or_else(|| {
                not_found(
                    "customer",
                    name,
                    "; list customers with `ferrite customer list` or create it with `ferrite customer create NAME`",
                )
            })
    }

    /// Limits the certificate profiles the accounts of customer `name` may order to
    /// `profiles` (`None`: every profile the CA offers). The caller checks the names against
    /// the profiles offered. 404 if there is no such customer.
    pub async fn set_customer_profiles(
        &self,
        name: &str,
        profiles: Option<Vec<String>>,
    ) -> Result<CustomerView, CoreError> {
        let mut customer = self.store.customer_by_name(name).await?.ok_or_else(|| {
            not_found(
                "customer",
                name,
                "; list customers with `ferrite customer list`",
            )
        })?;
        if !self
            .store
            .set_customer_profiles(&customer.id, profiles.as_deref())
            .await?
        {
            return Err(not_found(
                "customer",
                name,
                "; list customers with `ferrite customer list`",
            ));
        }
        customer.allowed_profiles = profiles;
        Ok(CustomerView::from(&customer))
    }

    /// [`Registry::set_customer_profiles`] for `profiles` named by the operator: each must be
    /// one the CA offers (400 naming those offered otherwise); sorted, duplicates dropped.
    pub async fn set_offered_customer_profiles(
        &self,
        name: &str,
        profiles: Option<Vec<String>>,
        offered: &crate::ca::Profiles,
    ) -> Result<CustomerView, CoreError> {
        let mut profiles = profiles;
        if let Some(names) = profiles.as_mut() {
            if let Some(unknown) = names.iter().find(|p| offered.get(p).is_none()) {
                return Err(problem(
                    ProblemType::Malformed,
                    400,
                    format!(
                        "this CA offers no profile named {unknown:?}; it offers {} (set in [profiles.NAME] tables)",
                        offered.names()
                    ),
                ));
            }
            names.sort();
            names.dedup();
        }
        self.set_customer_profiles(name, profiles).await
    }

    /// Appends `operator_command` to the audit log for a change the operator credential
    /// `credential_id` asks for through the admin API, as `ferrite` records each command that
    /// can change state: `command` names the equivalent command (`customer suspend`),
    /// `request` the method and path, `via` where it came from (`admin_api`, `portal`). Like
    /// the CLI's, it is appended before the change, in a transaction of its own (the change is
    /// audited in its own); a failure is logged and the request goes on.
    pub async fn record_operator_request(
        &self,
        credential_id: &str,
        command: &str,
        request: &str,
        via: &str,
    ) {
        let details = serde_json::json!({
            "operator_credential": credential_id,
            "request": request,
            "via": via,
        })
        .to_string();
        if let Err(e) = self
            .store
            .append_audit(self.clock.now(), "operator_command", command, &details)
            .await
        {
            tracing::warn!(error = %e, command, "the audit log did not take an operator request");
        }
    }

    /// The refused request `request_id` from the support trail (with `within`, only one of
    /// that customer): [`crate::support_trail::refused_request`].
    pub async fn refused_request(
        &self,
        request_id: &str,
        within: Option<&str>,
    ) -> Result<crate::support_trail::RefusedRequestView, CoreError> {
        crate::support_trail::refused_request(self.store.as_ref(), request_id, within).await
    }

    /// Suspends customer `name` (with the operator's `reason`, kept for operators): from
    /// now on every ACME request signed by one of its accounts, every new binding through its
    /// MAC keys and every admin API request with its credentials is refused with
    /// `unauthorized`, naming whom to contact, and its portal sessions end (its
    /// administrators sign in again after a resume). Nothing else changes, so
    /// [`Registry::resume_customer`] restores everything else. Suspending a suspended customer
    /// records the new time and reason. 404 if there is no such customer.
    pub async fn suspend_customer(
        &self,
        name: &str,
        reason: Option<&str>,
    ) -> Result<CustomerView, CoreError> {
        let suspension = Suspension {
            at: stored_precision(self.clock.now()),
            reason: reason
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned),
        };
        let customer = self.set_suspension(name, Some(suspension)).await?;
        // Its portal sessions end now: a resume does not bring them back.
        self.store
            .end_portal_sessions(&Scope::Customer(customer.id.clone()))
            .await?;
        tracing::warn!(
            target: "ferrite::audit",
            event = "customer_suspended",
            customer = %customer.id,
            name = %customer.name,
            reason = customer.suspended_reason.as_deref().unwrap_or(""),
            "customer suspended by the operator"
        );
        Ok(customer)
    }

    /// Sets customer `name`'s own value of the rate limit `limit` for its accounts (`None`:
    /// back to the configured value; 0: off for them), effective at once on every instance,
    /// and logs it as an audit event. 404 if there is no such customer; 400 for a limit that
    /// is not set per customer.
    pub async fn set_rate_limit(
        &self,
        name: &str,
        limit: &str,
        value: Option<u32>,
    ) -> Result<CustomerView, CoreError> {
        let limit = per_customer_limit(limit)?;
        let customer = self.stored_customer(name).await?;
        self.store
            .set_rate_limit_override(&customer.id, limit.as_str(), value)
            .await?;
        tracing::warn!(
            target: "ferrite::audit",
            event = "rate_limit_set",
            customer = %customer.id,
            name = %customer.name,
            limit = limit.as_str(),
            value = value.map_or_else(|| "default".to_owned(), |v| v.to_string()),
            "customer rate limit set by the operator"
        );
        Ok(CustomerView::from(&customer))
    }

    /// The stored customer named `name`; 404 if there is none.
    pub(super) async fn stored_customer(
        &self,
        name: &str,
    ) -> Result<crate::model::Customer, CoreError> {
        self.store.customer_by_name(name).await?.ok_or_else(|| {
            not_found(
                "customer",
                name,
                "; list customers with `ferrite customer list`",
            )
        })
    }

    /// Every rate limit as it applies to customer `name`'s accounts: `configured` (the
    /// deployment's `[rate_limits]`) with the customer's own values. 404 if there is no such
    /// customer.
    pub async fn customer_rate_limits(
        &self,
        name: &str,
        configured: &RateLimits,
    ) -> Result<Vec<CustomerLimitView>, CoreError> {
        let customer = self.stored_customer(name).await?;
        let overrides = self.store.rate_limit_overrides(&customer.id).await?;
        Ok(LimitName::ALL
            .into_iter()
            .map(|limit| {
                let override_value = overrides
                    .iter()
                    .find(|(n, _)| limit.per_customer() && n == limit.as_str())
                    .map(|(_, v)| *v);
                let effective = override_value.unwrap_or_else(|| configured.get(limit));
                CustomerLimitView {
                    limit: limit.as_str(),
                    configured: configured.get(limit),
                    override_value,
                    effective,
                    describe: if effective == 0 {
                        "off".to_owned()
                    } else {
                        limit.describe(effective)
                    },
                    per_customer: limit.per_customer(),
                }
            })
            .collect())
    }

    /// Lifts customer `name`'s suspension: its accounts, MAC keys and credentials work again
    /// as they did before it. Resuming a customer in service changes nothing. 404 if there
    /// is no such customer.
    pub async fn resume_customer(&self, name: &str) -> Result<CustomerView, CoreError> {
        let customer = self.set_suspension(name, None).await?;
        // A sign-in that was checked just before the suspension may have stored its session
        // after the suspension deleted the others: it does not come back either.
        self.store
            .end_portal_sessions(&Scope::Customer(customer.id.clone()))
            .await?;
        tracing::warn!(
            target: "ferrite::audit",
            event = "customer_resumed",
            customer = %customer.id,
            name = %customer.name,
            "customer resumed by the operator"
        );
        Ok(customer)
    }

    async fn set_suspension(
        &self,
        name: &str,
        suspension: Option<Suspension>,
    ) -> Result<CustomerView, CoreError> {
        let unknown = || {
            not_found(
                "customer",
                name,
                "; list customers with `ferrite customer list`",
            )
        };
        let mut customer = self
            .store
            .customer_by_name(name)
            .await?
            .ok_or_else(unknown)?;
        if !self
            .store
            .set_customer_suspension(&customer.id, suspension.as_ref())
            .await?
        {
            return Err(unknown());
        }
        customer.suspension = suspension;
        Ok(CustomerView::from(&customer))
    }

    /// The customer with id `id`; 404 if there is none.
    pub async fn customer(&self, id: &str) -> Result<CustomerView, CoreError> {
        self.store
            .customer(id)
            .await?
            .map(|c| CustomerView::from(&c))
            .ok_or_else(|| {
                not_found(
                    "customer",
                    id,
                    "; list customers with `ferrite customer list`",
                )
            })
    }

    /// Creates an API credential for a customer (by id). The secret is returned once and
    /// stored only as an argon2 hash.
    pub async fn create_credential(&self, customer_id: &str) -> Result<NewCredential, CoreError> {
        if self.store.customer(customer_id).await?.is_none() {
            return Err(not_found("customer with id", customer_id, ""));
        }
        // RFC 8555 §6.7-style refusal (429 with Retry-After on the admin API), before the
        // secret is made and hashed.
        self.spend_for_customer(LimitName::NewCredentialsPerCustomer, customer_id)
            .await?;
        let (secret, secret_hash) = new_secret().await?;
        let credential = ApiCredential {
            id: ids::random_arg_safe_id(),
            customer_id: customer_id.to_owned(),
            secret_hash,
            status: CredentialStatus::Active,
            created_at: stored_precision(self.clock.now()),
        };
        self.store.insert_credential(&credential).await?;
        Ok(NewCredential {
            credential: CredentialView::from(&credential),
            secret,
        })
    }

    /// Creates an operator credential: tied to no customer, it may do over the admin API what
    /// the operator's commands do, for any customer; it holds no MAC keys. The secret is
    /// returned once and stored only as an argon2 hash.
    pub async fn create_operator_credential(&self) -> Result<NewCredential, CoreError> {
        let (secret, secret_hash) = new_secret().await?;
        let credential = OperatorCredential {
            id: ids::random_arg_safe_id(),
            secret_hash,
            status: CredentialStatus::Active,
            created_at: stored_precision(self.clock.now()),
        };
        self.store.insert_operator_credential(&credential).await?;
        Ok(NewCredential {
            credential: CredentialView::from(&credential),
            secret,
        })
    }

    /// Every operator credential, oldest first.
    pub async fn operator_credentials(&self) -> Result<Vec<CredentialView>, CoreError> {
        Ok(self
            .store
            .operator_credentials()
            .await?
            .iter()
            .map(CredentialView::from)
            .collect())
    }

    /// Credentials of one customer, or of all customers.
    pub async fn credentials(
        &self,
        customer_id: Option<&str>,
    ) -> Result<Vec<CredentialView>, CoreError> {
        Ok(self
            .store
            .credentials(customer_id)
            .await?
            .iter()
            .map(CredentialView::from)
            .collect())
    }

    /// The credential `id`, if it exists and (with `within`) belongs to that customer: a
    /// credential of another customer is "not found", so its existence does not leak.
    pub async fn credential(
        &self,
        id: &str,
        within: Option<&str>,
    ) -> Result<ApiCredential, CoreError> {
        match self.store.credential(id).await? {
            Some(c) if within.is_none_or(|w| w == c.customer_id) => Ok(c),
            _ => Err(not_found(
                "API credential",
                id,
                "; list credentials with `ferrite credential list` (admin API: GET /admin/v1/credentials)",
            )),
        }
    }

    /// Disables a credential: its MAC keys bind no more accounts and its portal sessions end.
    /// Accounts already bound keep working. Without `within` (the operator), an operator
    /// credential is disabled too: it authenticates no more.
    pub async fn disable_credential(
        &self,
        id: &str,
        within: Option<&str>,
    ) -> Result<CredentialView, CoreError> {
        if within.is_none()
            && let Some(mut operator) = self.store.operator_credential(id).await?
        {
            self.store
                .set_operator_credential_status(id, CredentialStatus::Disabled)
                .await?;
            self.store
                .end_portal_sessions(&Scope::Credential(id.to_owned()))
                .await?;
            tracing::warn!(
                target: "ferrite::audit",
                event = "operator_credential_disabled",
                credential = %operator.id,
                "operator credential disabled"
            );
            operator.status = CredentialStatus::Disabled;
            return Ok(CredentialView::from(&operator));
        }
        let mut credential = self.credential(id, within).await?;
        self.store
            .set_credential_status(id, CredentialStatus::Disabled)
            .await?;
        self.store
            .end_portal_sessions(&Scope::Credential(id.to_owned()))
            .await?;
        tracing::warn!(
            target: "ferrite::audit",
            event = "credential_disabled",
            credential = %credential.id,
            customer = %credential.customer_id,
            "API credential disabled"
        );
        credential.status = CredentialStatus::Disabled;
        Ok(CredentialView::from(&credential))
    }

    /// [`Registry::disable_credential`] and, with `deactivate_accounts`, then every valid
    /// account bound through its MAC keys (after the credential, so no new binding slips in
    /// between): a leaked credential contained in one step, as `ferrite credential disable ID
    /// --deactivate-accounts` and the admin API do it. The accounts are `Some` when asked for.
    pub async fn disable_credential_and_accounts(
        &self,
        id: &str,
        within: Option<&str>,
        deactivate_accounts: bool,
    ) -> Result<(CredentialView, Option<Vec<AccountView>>), CoreError> {
        let credential = self.disable_credential(id, within).await?;
        let deactivated = if deactivate_accounts {
            Some(
                self.deactivate_accounts(&Scope::Credential(id.to_owned()))
                    .await?,
            )
        } else {
            None
        };
        Ok((credential, deactivated))
    }

    /// Checks `Authorization: Bearer id:secret`. Unknown id, wrong secret and disabled
    /// credential all give the same 401, so nothing leaks about which. The right secret of a
    /// suspended customer's credential gets 403 `unauthorized` naming whom to contact.
    pub async fn authenticate(&self, id: &str, secret: &str) -> Result<Principal, CoreError> {
        self.authenticate_from(id, secret, None).await
    }

    /// [`Registry::authenticate`] of a request from `client`, whose address (IPv6: its /64)
    /// is held to `failed_admin_authentications_per_address`: once its failures fill the
    /// allowance, it is refused (429 `rateLimited`) before its secret is checked, so a stream
    /// of wrong secrets cannot keep the argon2 slots busy. Each 401 from it counts one
    /// failure. The allowance is checked again once a verification slot is held, and a failure
    /// is counted before the slot is let go: a burst of concurrent wrong secrets gets past the
    /// allowance by fewer than the slots (two), not by its size. `None`: not limited.
    pub async fn authenticate_from(
        &self,
        id: &str,
        secret: &str,
        client: Option<std::net::IpAddr>,
    ) -> Result<Principal, CoreError> {
        let limit = LimitName::FailedAdminAuthenticationsPerAddress;
        let value = self.rate_limits.get(limit);
        let Some(client) = client.filter(|_| value > 0) else {
            return self.check_credential(id, secret, None).await;
        };
        let group = rate_limit::address_group(client);
        let gate = FailureGate {
            value,
            key: rate_limit::key(limit, value, &[&group]),
            group,
        };
        // Refused at once when the allowance is already spent: no wait for a slot.
        gate.check(self).await?;
        self.check_credential(id, secret, Some(&gate)).await
    }

    /// The active credential `id` (a customer's, else an operator's) if `secret` is its secret
    /// (see [`Registry::authenticate`]). Either kind costs one argon2 verification, under a
    /// verification slot; with a `gate`, its allowance is checked once the slot is held and a
    /// 401 is counted before it is let go.
    async fn check_credential(
        &self,
        id: &str,
        secret: &str,
        gate: Option<&FailureGate>,
    ) -> Result<Principal, CoreError> {
        let refused = || {
            problem(
                ProblemType::Unauthorized,
                401,
                "the API credential is unknown or disabled, or the secret is wrong; send \"Authorization: Bearer ID:SECRET\" with an active credential (a lost secret cannot be recovered: ask the operator for a new one, `ferrite credential create --customer NAME`)".to_owned(),
            )
        };
        let credential = match self.store.credential(id).await? {
            Some(c) => Some(Principal::Customer(c)),
            None => self
                .store
                .operator_credential(id)
                .await?
                .map(Principal::Operator),
        };
        let (hash, status) = match &credential {
            Some(Principal::Customer(c)) => (c.secret_hash.clone(), c.status),
            Some(Principal::Operator(o)) => (o.secret_hash.clone(), o.status),
            None => (
                unknown_credential_hash().unwrap_or_default().to_owned(),
                CredentialStatus::Disabled,
            ),
        };
        let slot = self
            .verify_slots
            .acquire()
            .await
            .map_err(|e| CoreError::Internal(format!("verification slots closed: {e}")))?;
        if let Some(gate) = gate {
            gate.check(self).await?;
        }
        let secret = secret.to_owned();
        let ok = tokio::task::spawn_blocking(move || verify_secret(&secret, &hash))
            .await
            .map_err(|e| CoreError::Internal(format!("verification task failed: {e}")))?;
        let credential = match credential {
            Some(Principal::Customer(c)) if ok && status == CredentialStatus::Active => c,
            Some(operator @ Principal::Operator(_)) if ok && status == CredentialStatus::Active => {
                return Ok(operator);
            }
            _ => {
                if let Some(gate) = gate {
                    gate.record(self).await?;
                }
                return Err(refused());
            }
        };
        drop(slot);
        // Only a caller who proved the secret learns that the customer is suspended.
        let customer = self
            .store
            .customer(&credential.customer_id)
            .await?
            .ok_or_else(|| {
                CoreError::Internal(format!("credential {:?} has no customer", credential.id))
            })?;
        check_in_service(&customer, &self.settings)?;
        Ok(Principal::Customer(credential))
    }

    /// Creates a MAC key for an active credential (with `within`, only one of that customer)
    /// and, in the same transaction, disables the credential's previous keys. The HMAC key is
    /// returned once and stored only sealed under the KEK.
    pub async fn create_mac_key(
        &self,
        credential_id: &str,
        within: Option<&str>,
    ) -> Result<NewMacKey, CoreError> {
        if within.is_none()
            && self
                .store
                .operator_credential(credential_id)
                .await?
                .is_some()
        {
            return Err(problem(
                ProblemType::Malformed,
                400,
                format!(
                    "{credential_id:?} is an operator credential: MAC keys belong to a customer's credential, which binds ACME accounts to that customer; create one for the customer (`ferrite credential create --customer NAME`, admin API: POST /admin/v1/credentials?customer=NAME) and a MAC key for it"
                ),
            ));
        }
        let credential = self.credential(credential_id, within).await?;
        if credential.status != CredentialStatus::Active {
            return Err(problem(
                ProblemType::Malformed,
                409,
                format!(
                    "API credential {credential_id:?} is disabled and cannot get new MAC keys; create a new credential (`ferrite credential create --customer NAME`)"
                ),
            ));
        }
        self.spend_for_customer(LimitName::NewMacKeysPerCustomer, &credential.customer_id)
            .await?;
        let (raw, hmac_key) = generate_mac_key()?;
        let kid = ids::random_arg_safe_id();
        let now = stored_precision(self.clock.now());
        let key = MacKey {
            sealed_key: self.kek.seal(&kid, &raw)?,
            kid,
            credential_id: credential.id,
            created_at: now,
            expires_at: now + self.settings.mac_key_lifetime,
            max_bindings: self.settings.max_bindings,
            bindings_used: 0,
            status: CredentialStatus::Active,
        };
        self.store.insert_mac_key(&key).await?;
        let holder = KeyHolder {
            credential: CredentialStatus::Active,
            customer_suspended: self
                .store
                .customer(&credential.customer_id)
                .await?
                .is_some_and(|c| c.suspension.is_some()),
        };
        Ok(NewMacKey {
            key: MacKeyView::at(&key, holder, now),
            hmac_key,
        })
    }

    /// Checks that the key-encryption key opens the MAC keys already stored: a start with
    /// another key (a lost or mistyped `eab.kek`) would accept every binding request and then
    /// fail each with `serverInternal`. With no MAC key stored yet there is nothing to check.
    /// Every key is sealed under the same KEK, so opening the most recent one decides.
    pub async fn check_kek(&self) -> Result<(), CoreError> {
        let keys = self.store.mac_keys(&Scope::All).await?;
        let Some(newest) = keys.iter().max_by_key(|k| k.created_at) else {
            return Ok(());
        };
        self.kek.open(&newest.kid, &newest.sealed_key).map(drop)
    }

    /// MAC keys in `scope` as they stand now: each key's status says whether it can bind, its
    /// credential's and customer's state included.
    pub async fn mac_keys(&self, scope: &Scope) -> Result<Vec<MacKeyView>, CoreError> {
        let now = self.clock.now();
        let keys = self.store.mac_keys(scope).await?;
        let holders = self.holders(scope).await?;
        keys.iter()
            .map(|k| Ok(MacKeyView::at(k, holder_of(&holders, k)?, now)))
            .collect()
    }

    /// The MAC key `kid` as it stands now (with `within`, only one of that customer: a key of
    /// another customer is "not found").
    pub async fn mac_key(&self, kid: &str, within: Option<&str>) -> Result<MacKeyView, CoreError> {
        let key = self.key_within(kid, within).await?;
        let holders = self
            .holders(&Scope::Credential(key.credential_id.clone()))
            .await?;
        Ok(MacKeyView::at(
            &key,
            holder_of(&holders, &key)?,
            self.clock.now(),
        ))
    }

    /// Disables the MAC key `kid` (final): it binds no more accounts; accounts already bound
    /// through it keep working (see [`Registry::deactivate_accounts_of_key`]). The credential
    /// and its other keys are untouched. With `within`, only a key of that customer.
    pub async fn disable_mac_key(
        &self,
        kid: &str,
        within: Option<&str>,
    ) -> Result<MacKeyView, CoreError> {
        let key = self.key_within(kid, within).await?;
        if !self.store.disable_mac_key(kid).await? {
            return Err(unknown_key(kid));
        }
        tracing::warn!(
            target: "ferrite::audit",
            event = "mac_key_disabled",
            eab_kid = %key.kid,
            credential = %key.credential_id,
            "EAB MAC key disabled"
        );
        self.mac_key(kid, within).await
    }

    /// [`Registry::disable_mac_key`] and, with `deactivate_accounts`, then
    /// [`Registry::deactivate_accounts_of_key`] (after the key, so no new binding slips in
    /// between): a leaked key contained in one step, as `ferrite mac-key disable KID
    /// --deactivate-accounts` and the admin API do it. The accounts are `Some` when asked for.
    pub async fn disable_mac_key_and_accounts(
        &self,
        kid: &str,
        within: Option<&str>,
        deactivate_accounts: bool,
    ) -> Result<(MacKeyView, Option<Vec<AccountView>>), CoreError> {
        let key = self.disable_mac_key(kid, within).await?;
        let deactivated = if deactivate_accounts {
            Some(self.deactivate_accounts_of_key(kid).await?)
        } else {
            None
        };
        Ok((key, deactivated))
    }

    /// Deactivates every valid ACME account bound through the MAC key `kid` (a leaked key
    /// contained). Returns the accounts this call deactivated.
    pub async fn deactivate_accounts_of_key(
        &self,
        kid: &str,
    ) -> Result<Vec<AccountView>, CoreError> {
        let key = self.key_within(kid, None).await?;
        let bound = self
            .store
            .accounts_in_scope(&Scope::Credential(key.credential_id))
            .await?
            .into_iter()
            .filter(|a| a.eab_kid.as_deref() == Some(kid));
        self.deactivate_each(bound).await
    }

    /// The stored key `kid`, if it exists and (with `within`) belongs to that customer.
    async fn key_within(&self, kid: &str, within: Option<&str>) -> Result<MacKey, CoreError> {
        let key = self
            .store
            .mac_key(kid)
            .await?
            .ok_or_else(|| unknown_key(kid))?;
        if let Some(customer) = within {
            self.credential(&key.credential_id, Some(customer))
                .await
                .map_err(|_| unknown_key(kid))?;
        }
        Ok(key)
    }

    /// The state of the credentials (and their customers) that hold the keys in `scope`, by
    /// credential id.
    async fn holders(&self, scope: &Scope) -> Result<HashMap<String, KeyHolder>, CoreError> {
        let credentials = match scope {
            Scope::All => self.store.credentials(None).await?,
            Scope::Customer(id) => self.store.credentials(Some(id)).await?,
            Scope::Credential(id) => self.store.credential(id).await?.into_iter().collect(),
        };
        let suspended: HashSet<String> = match scope {
            Scope::Credential(_) | Scope::Customer(_) => {
                let mut ids: Vec<&str> =
                    credentials.iter().map(|c| c.customer_id.as_str()).collect();
                ids.sort_unstable();
                ids.dedup();
                let mut suspended = HashSet::new();
                for id in ids {
                    if let Some(c) = self.store.customer(id).await?
                        && c.suspension.is_some()
                    {
                        suspended.insert(c.id);
                    }
                }
                suspended
            }
            Scope::All => self
                .store
                .customers()
                .await?
                .into_iter()
                .filter(|c| c.suspension.is_some())
                .map(|c| c.id)
                .collect(),
        };
        Ok(credentials
            .into_iter()
            .map(|c| {
                let holder = KeyHolder {
                    credential: c.status,
                    customer_suspended: suspended.contains(&c.customer_id),
                };
                (c.id, holder)
            })
            .collect())
    }

    /// Deactivates the ACME account `id` (RFC 8555 §7.3.6: final) for the operator, or for a
    /// credential of customer `within` (an account of another customer is "not found"). Every
    /// later request signed by it gets `unauthorized`. An account already deactivated or
    /// revoked is returned unchanged.
    pub async fn deactivate_account(
        &self,
        id: &str,
        within: Option<&str>,
    ) -> Result<AccountView, CoreError> {
        let account = self
            .store
            .account(id)
            .await?
            .filter(|a| within.is_none_or(|c| a.customer_id.as_deref() == Some(c)))
            .ok_or_else(|| {
                not_found(
                    "ACME account",
                    id,
                    "; list a credential's accounts with `ferrite credential accounts ID`",
                )
            })?;
        Ok(AccountView::from(&self.deactivate(account).await?))
    }

    /// Deactivates every valid ACME account bound through MAC keys in `scope` (a leaked MAC
    /// key or credential contained in one step). Returns the accounts this call deactivated.
    pub async fn deactivate_accounts(&self, scope: &Scope) -> Result<Vec<AccountView>, CoreError> {
        let accounts = self.store.accounts_in_scope(scope).await?;
        self.deactivate_each(accounts).await
    }

    /// Deactivates each valid account of `accounts`; returns those this call deactivated.
    async fn deactivate_each(
        &self,
        accounts: impl IntoIterator<Item = Account>,
    ) -> Result<Vec<AccountView>, CoreError> {
        let mut deactivated = Vec::new();
        for account in accounts {
            if account.status == AccountStatus::Valid {
                let account = self.deactivate(account).await?;
                if account.status == AccountStatus::Deactivated {
                    deactivated.push(AccountView::from(&account));
                }
            }
        }
        Ok(deactivated)
    }

    /// Sets a valid account `deactivated` (compare-and-set in the store: an account that left
    /// `valid` meanwhile is read back as it is) and records it in the audit log target.
    async fn deactivate(&self, mut account: Account) -> Result<Account, CoreError> {
        if account.status != AccountStatus::Valid {
            return Ok(account);
        }
        account.status = AccountStatus::Deactivated;
        match self.store.update_account(&account).await {
            Ok(()) => {
                tracing::warn!(
                    target: "ferrite::audit",
                    event = "account_deactivated_by_operator",
                    account = %account.id,
                    customer = account.customer_id.as_deref().unwrap_or(""),
                    eab_kid = account.eab_kid.as_deref().unwrap_or(""),
                    "ACME account deactivated by the operator"
                );
                Ok(account)
            }
            Err(StoreError::Conflict(_)) => {
                Ok(self.store.account(&account.id).await?.unwrap_or(account))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// ACME accounts bound through MAC keys in `scope`.
    pub async fn accounts(&self, scope: &Scope) -> Result<Vec<AccountView>, CoreError> {
        Ok(self
            .store
            .accounts_in_scope(scope)
            .await?
            .iter()
            .map(AccountView::from)
            .collect())
    }
}

/// A new API secret and its argon2 hash (hashed on a blocking thread).
async fn new_secret() -> Result<(SecretText, String), CoreError> {
    let secret = generate_api_secret()?;
    let hash_input = secret.clone();
    let secret_hash = tokio::task::spawn_blocking(move || hash_secret(&hash_input))
        .await
        .map_err(|e| CoreError::Internal(format!("hashing task failed: {e}")))??;
    Ok((secret, secret_hash))
}

/// The holder of `key` among `holders`; a key whose credential is missing is a broken row.
fn holder_of(holders: &HashMap<String, KeyHolder>, key: &MacKey) -> Result<KeyHolder, CoreError> {
    holders.get(&key.credential_id).copied().ok_or_else(|| {
        CoreError::Internal(format!(
            "MAC key {:?} has no credential {:?}",
            key.kid, key.credential_id
        ))
    })
}

fn unknown_key(kid: &str) -> CoreError {
    not_found(
        "EAB MAC key",
        kid,
        "; list MAC keys with `ferrite mac-key list` (admin API: GET /admin/v1/mac-keys)",
    )
}
