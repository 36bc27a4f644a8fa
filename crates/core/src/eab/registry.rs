//! [`Registry`]: the operator's side of the binding model — customers, API credentials, MAC
//! keys — shared by `ferrite` subcommands, the admin API and newAccount.

use std::sync::{Arc, OnceLock};

use ferrite_proto::{AccountStatus, Problem, ProblemType};

use super::EabSettings;
use super::kek::Kek;
use super::mac_key::{generate_api_secret, generate_mac_key, hash_secret, verify_secret};
use super::secret::SecretText;
use super::views::{
    AccountView, CredentialView, CustomerView, MacKeyView, NewCredential, NewMacKey,
};
use crate::model::stored_precision;
use crate::model::{Account, ApiCredential, CredentialStatus, Customer, MacKey, Scope};
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
        }
    }

    /// Creates a customer. 409 if the name is taken.
    pub async fn create_customer(&self, name: &str) -> Result<CustomerView, CoreError> {
        check_customer_name(name)?;
        let customer = Customer {
            id: ids::random_id(),
            name: name.to_owned(),
            created_at: stored_precision(self.clock.now()),
            allowed_profiles: None,
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
        let secret = generate_api_secret()?;
        let hash_input = secret.clone();
        let secret_hash = tokio::task::spawn_blocking(move || hash_secret(&hash_input))
            .await
            .map_err(|e| CoreError::Internal(format!("hashing task failed: {e}")))??;
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

    /// Credentials of one customer, or of all.
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

    /// Disables a credential: its MAC keys bind no more accounts. Accounts already bound keep
    /// working.
    pub async fn disable_credential(
        &self,
        id: &str,
        within: Option<&str>,
    ) -> Result<CredentialView, CoreError> {
        let mut credential = self.credential(id, within).await?;
        self.store
            .set_credential_status(id, CredentialStatus::Disabled)
            .await?;
        credential.status = CredentialStatus::Disabled;
        Ok(CredentialView::from(&credential))
    }

    /// Checks `Authorization: Bearer id:secret`. Unknown id, wrong secret and disabled
    /// credential all give the same 401, so nothing leaks about which.
    pub async fn authenticate(&self, id: &str, secret: &str) -> Result<ApiCredential, CoreError> {
        let refused = || {
            problem(
                ProblemType::Unauthorized,
                401,
                "the API credential is unknown or disabled, or the secret is wrong; send \"Authorization: Bearer ID:SECRET\" with an active credential (a lost secret cannot be recovered: ask the operator for a new one, `ferrite credential create --customer NAME`)".to_owned(),
            )
        };
        let credential = self.store.credential(id).await?;
        let hash = match &credential {
            Some(c) => c.secret_hash.clone(),
            None => unknown_credential_hash().unwrap_or_default().to_owned(),
        };
        let _slot = self
            .verify_slots
            .acquire()
            .await
            .map_err(|e| CoreError::Internal(format!("verification slots closed: {e}")))?;
        let secret = secret.to_owned();
        let ok = tokio::task::spawn_blocking(move || verify_secret(&secret, &hash))
            .await
            .map_err(|e| CoreError::Internal(format!("verification task failed: {e}")))?;
        match credential {
            Some(c) if ok && c.status == CredentialStatus::Active => Ok(c),
            _ => Err(refused()),
        }
    }

    /// Creates a MAC key for an active credential (with `within`, only one of that customer)
    /// and, in the same transaction, disables the credential's previous keys. The HMAC key is
    /// returned once and stored only sealed under the KEK.
    pub async fn create_mac_key(
        &self,
        credential_id: &str,
        within: Option<&str>,
    ) -> Result<NewMacKey, CoreError> {
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
        Ok(NewMacKey {
            key: MacKeyView::at(&key, now),
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

    /// MAC keys in `scope` as they stand now.
    pub async fn mac_keys(&self, scope: &Scope) -> Result<Vec<MacKeyView>, CoreError> {
        let now = self.clock.now();
        Ok(self
            .store
            .mac_keys(scope)
            .await?
            .iter()
            .map(|k| MacKeyView::at(k, now))
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
        let mut deactivated = Vec::new();
        for account in self.store.accounts_in_scope(scope).await? {
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
