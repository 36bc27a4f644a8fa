//! Accounts (RFC 8555 §7.3).

use ferrite_jose::{Jwk, Jws, KeyRef};
use ferrite_proto::requests::{AccountUpdate, KeyChange, NewAccount};
use ferrite_proto::{AccountStatus, ProblemType};

use super::Ca;
use crate::eab::check_in_service;
use crate::model::Account;
use crate::{CoreError, StoreError, ids};

/// The outcome of newAccount.
#[derive(Clone, Debug)]
pub struct NewAccountOutcome {
    /// The account.
    pub account: Account,
    /// True if it was created by this request (201), false if it existed (200).
    pub created: bool,
}

impl Ca {
    /// RFC 8555 §7.3 newAccount (and §7.3.1 `onlyReturnExisting`, §7.3.4 external account
    /// binding). `url` is the outer JWS `url` (the newAccount URL as the client signed it),
    /// which the binding's inner `url` must equal.
    pub async fn new_account(
        &self,
        jwk: &Jwk,
        payload: NewAccount,
        url: &str,
    ) -> Result<NewAccountOutcome, CoreError> {
        self.new_account_from(jwk, payload, url, None).await
    }

    /// [`Ca::new_account`] from the client at `client`, whose address (IPv6: its /64) is
    /// held to `rate_limits.new_accounts_per_address` (`None`: not known, not limited). Only
    /// a new account counts, before its binding is verified or anything is stored.
    pub async fn new_account_from(
        &self,
        jwk: &Jwk,
        payload: NewAccount,
        url: &str,
        client: Option<std::net::IpAddr>,
    ) -> Result<NewAccountOutcome, CoreError> {
        let store = &self.inner.store;
        // RFC 8555 §7.3: a key the server will not accept is `badPublicKey`; a key reported
        // compromised registers nothing and finds nothing.
        self.refuse_blocked_key(&jwk.to_spki_der(), "account key")
            .await?;
        let thumbprint = jwk.thumbprint();
        // §7.3: "If the server already has an account registered with the provided account
        // key, then it MUST return a response with status code 200 (OK) and provide the URL of
        // that account in the Location header field."
        if let Some(account) = store.account_by_thumbprint(&thumbprint).await? {
            if account.status != AccountStatus::Valid {
                return Err(account_not_valid(&account));
            }
            if let Some(customer_id) = &account.customer_id
                && let Some(customer) = store.customer(customer_id).await?
            {
                check_in_service(&customer, &self.inner.config.eab)?;
            }
            return Ok(NewAccountOutcome {
                account,
                created: false,
            });
        }
        // §7.3.1: onlyReturnExisting with an unknown key.
        if payload.only_return_existing == Some(true) {
            return Err(CoreError::problem(
                ProblemType::AccountDoesNotExist,
                "no account exists for this key; register first (omit onlyReturnExisting)",
            ));
        }
        // §7.3.4: the directory says externalAccountRequired.
        if self.inner.config.eab_required && payload.external_account_binding.is_none() {
            return Err(CoreError::problem(
                ProblemType::ExternalAccountRequired,
                "this CA requires an external account binding: register with the EAB key id and HMAC key your CA administrator gave you (certbot --eab-kid/--eab-hmac-key, lego --eab --kid/--hmac)",
            ));
        }
        let contact = check_contacts(payload.contact.unwrap_or_default())?;
        // RFC 8555 §6.7 rateLimited: counted before the binding's MAC is checked and the
        // account stored, so a refused registration costs a read.
        if let Some(client) = client {
            self.spend_new_account(client).await?;
        }
        // §7.3.4: "If the server requires an external account binding ... [it] MUST verify the
        // external account binding" — and we verify one whenever a client sends it.
        let binding = match &payload.external_account_binding {
            Some(eab) => Some(self.inner.eab.verify_binding(eab, url, jwk).await?),
            None => None,
        };
        let account = Account {
            id: ids::random_id(),
            thumbprint,
            jwk: jwk.to_json(),
            contact,
            status: AccountStatus::Valid,
            terms_of_service_agreed: payload.terms_of_service_agreed.unwrap_or(false),
            eab_kid: binding.as_ref().map(|b| b.key.kid.clone()),
            customer_id: binding.as_ref().map(|b| b.customer_id.clone()),
            created_at: crate::model::stored_precision(self.now()),
        };
        // The binding is counted in the transaction that inserts the account: a refused or
        // failed insert consumes nothing.
        let inserted = match &binding {
            Some(b) => match store
                .insert_account_with_binding(&account, &b.key.kid, account.created_at)
                .await
            {
                Ok(Ok(())) => {
                    self.inner.metrics.bound();
                    Ok(())
                }
                Ok(Err(refusal)) => return Err(self.inner.eab.refusal_problem(refusal, b)),
                Err(e) => Err(e),
            },
            None => store.insert_account(&account).await,
        };
        match inserted {
            Ok(()) => Ok(NewAccountOutcome {
                account,
                created: true,
            }),
            // A concurrent newAccount with the same key won the race: answer as if it existed.
            Err(StoreError::Conflict(_)) => {
                let account = store
                    .account_by_thumbprint(&account.thumbprint)
                    .await?
                    .ok_or_else(|| CoreError::Internal("account vanished after conflict".into()))?;
                Ok(NewAccountOutcome {
                    account,
                    created: false,
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Looks up the account behind a `kid`, refusing deactivated and revoked accounts
    /// (§7.3.6: requests signed by a deactivated account are `unauthorized`) and the accounts
    /// of a suspended customer (`unauthorized`, naming whom to contact). The account and its
    /// customer are read in one query.
    pub async fn account_for_request(&self, id: &str) -> Result<Account, CoreError> {
        self.account_for_request_noting(id, |_| {}).await
    }

    /// [`Ca::account_for_request`], calling `found` with the account once it is read and
    /// before it is judged: a refusal of a deactivated account, or of a suspended customer's,
    /// can still be logged with the account's customer.
    pub async fn account_for_request_noting(
        &self,
        id: &str,
        found: impl FnOnce(&Account),
    ) -> Result<Account, CoreError> {
        let (account, customer) = self
            .inner
            .store
            .account_with_customer(id)
            .await?
            .ok_or_else(|| {
                CoreError::problem(
                    ProblemType::AccountDoesNotExist,
                    "the account in the kid header does not exist; register a new account",
                )
            })?;
        found(&account);
        if account.status != AccountStatus::Valid {
            return Err(account_not_valid(&account));
        }
        if let Some(customer) = &customer {
            check_in_service(customer, &self.inner.config.eab)?;
        }
        Ok(account)
    }

    /// RFC 8555 §7.3.2 contact update and §7.3.6 deactivation of the account at the URL with
    /// `account_id`, requested by `account` (the `kid`): an account changes only itself. An
    /// empty update just returns the account (POST-as-GET).
    pub async fn update_account(
        &self,
        mut account: Account,
        account_id: &str,
        update: AccountUpdate,
    ) -> Result<Account, CoreError> {
        check_own_account(
            &account,
            account_id,
            "an account can only read or change itself",
        )?;
        let mut changed = false;
        if let Some(contact) = update.contact {
            account.contact = check_contacts(contact)?;
            changed = true;
        }
        if let Some(status) = update.status {
            if status != AccountStatus::Deactivated {
                return Err(CoreError::problem(
                    ProblemType::Malformed,
                    format!(
                        "an account's status can only be changed to \"deactivated\", not \"{status}\""
                    ),
                ));
            }
            account.status = AccountStatus::Deactivated;
            changed = true;
        }
        if changed {
            match self.inner.store.update_account(&account).await {
                Ok(()) => {}
                // Deactivated (or rolled over) by a concurrent request: deactivation is final.
                Err(StoreError::Conflict(_)) => return Err(account_changed()),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(account)
    }

    /// RFC 8555 §7.3.5 key rollover. `account` signed the outer JWS (verified by the caller)
    /// sent to `outer_url`; its payload `inner` is a JWS signed by the new key. Checks the
    /// inner JWS (the new key in `jwk`, the same `url`, no `nonce`, its signature), that its
    /// payload names this account and its current key, and that no other account uses the
    /// new key ([`CoreError::KeyInUse`]).
    pub async fn change_key(
        &self,
        account: &Account,
        outer_url: &str,
        inner: &serde_json::Value,
    ) -> Result<Account, CoreError> {
        let account_url = format!("{}{}", self.inner.config.account_url_prefix, account.id);
        let (new_key, old_key) = read_key_change(inner, outer_url, &account_url)?;
        self.replace_key(account, &old_key, &new_key).await
    }

    /// The account's key becomes `new_key` if `old_key` is its key and no other account uses
    /// `new_key`.
    async fn replace_key(
        &self,
        account: &Account,
        old_key: &Jwk,
        new_key: &Jwk,
    ) -> Result<Account, CoreError> {
        // §7.3.5: "Check that the JWK in the 'oldKey' field is the current key of the account."
        if old_key.thumbprint() != account.thumbprint {
            return Err(CoreError::problem(
                ProblemType::Unauthorized,
                "oldKey in the key change request is not this account's current key",
            ));
        }
        // RFC 8555 §7.3.5: a new key the server will not accept is refused like any other.
        self.refuse_blocked_key(&new_key.to_spki_der(), "new account key")
            .await?;
        let new_thumbprint = new_key.thumbprint();
        if new_thumbprint == account.thumbprint {
            return Err(CoreError::problem(
                ProblemType::Malformed,
                "the new key is this account's current key; a key change needs a different key",
            ));
        }
        if let Some(existing) = self
            .inner
            .store
            .account_by_thumbprint(&new_thumbprint)
            .await?
        {
            return Err(CoreError::KeyInUse {
                account_id: existing.id,
            });
        }
        match self
            .inner
            .store
            .change_account_key(
                &account.id,
                &account.thumbprint,
                &new_thumbprint,
                &new_key.to_json(),
            )
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                // Either the new key was taken meanwhile, or this account was deactivated or
                // rolled over by a concurrent request.
                return match self
                    .inner
                    .store
                    .account_by_thumbprint(&new_thumbprint)
                    .await?
                {
                    Some(holder) => Err(CoreError::KeyInUse {
                        account_id: holder.id,
                    }),
                    None => Err(account_changed()),
                };
            }
            Err(e) => return Err(e.into()),
        }
        let mut account = account.clone();
        account.thumbprint = new_thumbprint;
        account.jwk = new_key.to_json();
        Ok(account)
    }
}

/// An account reads and changes only itself: the account URL a request is sent to must be the
/// account that signed it.
/// `rule` says what was refused.
pub(super) fn check_own_account(
    account: &Account,
    account_id: &str,
    rule: &str,
) -> Result<(), CoreError> {
    if account.id == account_id {
        Ok(())
    } else {
        Err(CoreError::problem(
            ProblemType::Unauthorized,
            format!("{rule}: the kid does not match the account URL you are posting to"),
        ))
    }
}

/// A compare-and-set on the account lost to a concurrent deactivation or key change.
fn account_changed() -> CoreError {
    CoreError::problem(
        ProblemType::Unauthorized,
        "the account was deactivated or its key changed by a concurrent request; fetch the account and retry with its current key if it is still valid",
    )
}

fn account_not_valid(account: &Account) -> CoreError {
    CoreError::problem(
        ProblemType::Unauthorized,
        format!(
            "this account is {}; it can no longer be used: register a new account with a new key",
            account.status
        ),
    )
}

/// RFC 8555 §7.3.5: the checks on a key change that need no store. `inner` is the outer JWS's
/// payload, a JWS signed by the new key; `account_url` is the URL of the account that signed
/// the outer JWS. Checks the inner JWS (the new key in `jwk`, `url` equal to `outer_url`, no
/// `nonce`, its signature) and that its payload names that account; returns the new key and
/// the `oldKey` the payload names.
pub(crate) fn read_key_change(
    inner: &serde_json::Value,
    outer_url: &str,
    account_url: &str,
) -> Result<(Jwk, Jwk), CoreError> {
    let inner = Jws::from_value(inner)?;
    // "The inner JWS MUST have a 'jwk' header parameter containing the public key of the
    // new key pair."
    let KeyRef::Jwk(new_key) = inner.protected.key.clone() else {
        return Err(CoreError::problem(
            ProblemType::Malformed,
            "the inner JWS of a key change must carry the new key in \"jwk\"",
        ));
    };
    // "The inner JWS MUST have the same 'url' header parameter as the outer JWS."
    if inner.protected.url.as_deref() != Some(outer_url) {
        return Err(CoreError::problem(
            ProblemType::Malformed,
            "the inner JWS \"url\" must equal the outer JWS \"url\" (the keyChange URL)",
        ));
    }
    // "The inner JWS MUST omit the 'nonce' header parameter."
    if inner.protected.nonce.is_some() {
        return Err(CoreError::problem(
            ProblemType::Malformed,
            "the inner JWS of a key change must not have a \"nonce\"",
        ));
    }
    inner.verify(&new_key)?;
    let change: KeyChange = inner.payload_json()?;
    // "Check that the 'account' field of the keyChange object contains the URL for the
    // account matching the old key (i.e., the 'kid' field in the outer JWS)."
    if change.account != account_url {
        return Err(CoreError::problem(
            ProblemType::Malformed,
            "the key change's \"account\" must be the URL of the account signing the outer JWS",
        ));
    }
    let old_key = Jwk::from_json(&change.old_key)?;
    Ok((new_key, old_key))
}

/// RFC 8555 §7.3: contacts are `mailto:` URLs with one address and no header fields.
pub(crate) fn check_contacts(contact: Vec<String>) -> Result<Vec<String>, CoreError> {
    if contact.len() > 10 {
        return Err(CoreError::problem(
            ProblemType::InvalidContact,
            "at most 10 contact addresses are accepted",
        ));
    }
    for c in &contact {
        let Some(addr) = c.strip_prefix("mailto:") else {
            return Err(CoreError::problem(
                ProblemType::UnsupportedContact,
                format!("contact {c:?} is not supported: only mailto: URLs are accepted"),
            ));
        };
        let valid = addr.len() <= 254
            && !addr.contains([',', '?', ' ', '<', '>'])
            && addr.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.contains('@')
                    && ferrite_proto::identifier::check_dns_name(&domain.to_ascii_lowercase())
                        .is_ok()
            });
        if !valid {
            return Err(CoreError::problem(
                ProblemType::InvalidContact,
                format!(
                    "contact {c:?} is not a valid mailto: URL; use mailto:user@example.com with a single address and no parameters"
                ),
            ));
        }
    }
    Ok(contact)
}

#[cfg(test)]
mod tests {
    use super::check_contacts;

    #[test]
    fn contacts() {
        assert!(check_contacts(vec!["mailto:a@example.com".into()]).is_ok());
        for bad in [
            "mailto:",
            "mailto:a@b@c.com",
            "mailto:a@example.com?subject=x",
            "mailto:a,b@example.com",
            "mailto:a@localhost",
        ] {
            let e = check_contacts(vec![bad.into()]).unwrap_err().to_problem();
            assert_eq!(e.kind, ferrite_proto::ProblemType::InvalidContact, "{bad}");
        }
        let e = check_contacts(vec!["tel:+1".into()])
            .unwrap_err()
            .to_problem();
        assert_eq!(e.kind, ferrite_proto::ProblemType::UnsupportedContact);
    }
}
