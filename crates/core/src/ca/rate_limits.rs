//! Rate limits as the engine applies them ([`crate::rate_limit`]): each is checked before the
//! request writes anything, and a refusal costs reads and writes nothing. What a request
//! spends or counts is written in the transaction of its change, so a refused change has
//! spent nothing and a stored one is counted.
//!
//! - newAccount: `new_accounts_per_address`, spent for the client's address (IPv6: its /64)
//!   once the key is known to be new, before the binding is verified or anything is stored.
//! - newOrder, before any authorization is looked up or written: `failed_validations_per_
//!   account_and_name` for every name, `certificates_per_registered_domain` and
//!   `duplicate_certificates` (below) and `new_orders_per_account` (all read only). Then,
//!   with the order's authorizations known (after the reads that look for ones to reuse),
//!   `pending_authorizations_per_account` (a count of the account's pending authorizations
//!   with the order's new pending ones, read only). The
//!   transaction that inserts the order checks the pending count again and spends one new
//!   order ([`crate::OrderChecks`]), so concurrent orders cannot pass either together and a
//!   refused order spends nothing.
//! - `certificates_per_registered_domain` is per registered domain of the order's names and
//!   `duplicate_certificates` per set of names (both per customer, or per account without
//!   one). newOrder reads them; the transaction that stores an issued certificate counts it
//!   against both (its steps are computed before signing: [`Ca::issuance_counts`]; a
//!   database error in the counts stores the certificate without them, logged).
//! - Renewals ([`Renewal`]), as Let's Encrypt treats ARI renewals: an order that replaces
//!   (RFC 9773 `replaces`) a certificate of the same account or customer, for none of names
//!   the certificate lacks, inside or after the certificate's suggested renewal window and at
//!   least a day after its notBefore (or after the operator advanced its renewal), is exempt
//!   from `new_orders_per_account` and both issuance limits, and its certificate is not counted
//!   by them ([`Ca::renewal_exempt`]). A certificate the subscriber revoked is not renewed
//!   exempt. A renewal without `replaces` is an ordinary order: recognising one by its set of
//!   names would need a lookup of certificates by name set on every newOrder, which the schema
//!   has no index for.
//!
//! A customer's overrides (`ferrite customer set-limit`) replace the configured values for its
//! accounts; they are read with every check, so a change applies at once on every instance.

use std::net::IpAddr;

use time::OffsetDateTime;

use super::Ca;
use crate::model::Account;
use crate::rate_limit::{self, LimitName, RateLimited, RateLimits};
use crate::{CoreError, RateStep};

/// Whether an order renews a certificate, for the rate limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Renewal {
    /// Not an exempt renewal: every limit applies.
    New,
    /// Replaces a certificate (RFC 9773) inside or after its suggested window
    /// ([`Ca::renewal_exempt`]): exempt from `new_orders_per_account`,
    /// `certificates_per_registered_domain` and `duplicate_certificates`.
    InWindow,
}

impl Ca {
    /// Whether an order for `names` replacing `replaces` (a certID [`Ca::check_replaces`]
    /// accepted; none: not a renewal), made at `at`, is a [`Renewal::InWindow`]. One read of
    /// the replaced certificate, only for an order that names one.
    pub(super) async fn renewal_kind(
        &self,
        names: &[&str],
        replaces: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<Renewal, CoreError> {
        Ok(match replaces {
            Some(cert_id) if self.renewal_exempt(cert_id, names, at).await? => Renewal::InWindow,
            _ => Renewal::New,
        })
    }

    /// The limits that apply to the accounts of `customer_id` (none: the configured ones).
    pub(super) async fn limits_for(
        &self,
        customer_id: Option<&str>,
    ) -> Result<RateLimits, CoreError> {
        rate_limit::limits_for(
            self.inner.store.as_ref(),
            &self.inner.config.rate_limits,
            customer_id,
        )
        .await
    }

    /// [`rate_limit::spend`] on this engine's store and clock.
    async fn spend_limit(
        &self,
        limit: LimitName,
        value: u32,
        key: String,
        subject: Option<&str>,
    ) -> Result<(), CoreError> {
        rate_limit::spend(
            self.inner.store.as_ref(),
            self.now(),
            limit,
            value,
            &key,
            subject,
        )
        .await
    }

    /// newAccount's limit: one more account from `client`'s address (group).
    pub(super) async fn spend_new_account(&self, client: IpAddr) -> Result<(), CoreError> {
        let limit = LimitName::NewAccountsPerAddress;
        let group = rate_limit::address_group(client);
        let value = self.inner.config.rate_limits.get(limit);
        let key = rate_limit::key(limit, value, &[&group]);
        self.spend_limit(limit, value, key, Some(&group)).await
    }

    /// newOrder's limits for `account` ordering `identifiers` (`names`: their base domains,
    /// as validated), read before the order's authorizations are looked up or written: failed
    /// validations of each name, certificates per registered domain and of this set of names,
    /// and new orders. Returns what the order's insert checks and spends in its transaction
    /// ([`OrderLimits`]).
    pub(super) async fn check_order_limits(
        &self,
        account: &Account,
        names: &[&str],
        identifiers: &[&str],
        renewal: Renewal,
    ) -> Result<OrderLimits, CoreError> {
        let limits = self.limits_for(account.customer_id.as_deref()).await?;
        let store = &self.inner.store;
        let now = self.now();

        let failed = LimitName::FailedValidationsPerAccountAndName;
        let failed_limit = limits.failed_validations_per_account_and_name;
        if let Some(gcra) = failed.gcra(failed_limit) {
            let keys: Vec<String> = names
                .iter()
                .map(|name| rate_limit::key(failed, failed_limit, &[&account.id, name]))
                .collect();
            let stored = store.rate_limit_tats(&keys).await?;
            for (key, tat) in stored {
                if let Err(exhausted) = gcra.check(Some(tat), now) {
                    let name = names
                        .iter()
                        .zip(&keys)
                        .find(|(_, k)| **k == key)
                        .map(|(name, _)| *name);
                    return Err(rate_limit::refusal(
                        failed,
                        failed_limit,
                        exhausted,
                        name,
                        now,
                    ));
                }
            }
        }

        let mut checked = OrderLimits {
            max_pending: limits.pending_authorizations_per_account,
            new_orders: limits.new_orders_per_account,
            spend: None,
        };
        if renewal == Renewal::InWindow {
            return Ok(checked);
        }
        self.check_issuance_limits(account, &limits, identifiers)
            .await?;

        let orders = LimitName::NewOrdersPerAccount;
        let key = rate_limit::key(orders, checked.new_orders, &[&account.id]);
        rate_limit::check(store.as_ref(), now, orders, checked.new_orders, &key, None).await?;
        checked.spend = rate_limit::step(orders, checked.new_orders, key, now);
        Ok(checked)
    }

    /// Refuses an order of `account` that would take its pending authorizations past `limit`
    /// (0: off) by adding `adding` new pending ones. A read: the order's insert counts again in
    /// its transaction ([`crate::OrderChecks::max_pending`]).
    pub(super) async fn check_pending(
        &self,
        account: &Account,
        limit: u32,
        adding: u64,
    ) -> Result<(), CoreError> {
        if limit == 0 {
            return Ok(());
        }
        let now = self.now();
        let (pending, earliest) = self
            .inner
            .store
            .pending_authorizations(&account.id, now)
            .await?;
        if pending + adding > u64::from(limit) {
            return Err(pending_refusal(limit, pending, adding, earliest, now));
        }
        Ok(())
    }

    /// Refuses an order for `identifiers` (wildcards as `*.`) whose certificate would pass
    /// `certificates_per_registered_domain` for one of their registered domains, or
    /// `duplicate_certificates` for their set. One read of every row concerned, nothing
    /// written: an issued certificate is counted by the steps of [`Ca::issuance_counts`].
    async fn check_issuance_limits(
        &self,
        account: &Account,
        limits: &RateLimits,
        identifiers: &[&str],
    ) -> Result<(), CoreError> {
        let keys = IssuanceKeys::of(account, limits, identifiers);
        let per_domain = LimitName::CertificatesPerRegisteredDomain;
        let duplicate = LimitName::DuplicateCertificates;
        let (domain_gcra, duplicate_gcra) = (
            per_domain.gcra(limits.certificates_per_registered_domain),
            duplicate.gcra(limits.duplicate_certificates),
        );
        if domain_gcra.is_none() && duplicate_gcra.is_none() {
            return Ok(());
        }
        let mut wanted: Vec<String> = keys.per_domain.iter().map(|(_, k)| k.clone()).collect();
        wanted.push(keys.duplicate.clone());
        let stored = self.inner.store.rate_limit_tats(&wanted).await?;
        let now = self.now();
        for (key, tat) in stored {
            let (limit, value, gcra, subject) = if key == keys.duplicate {
                let subject = match identifiers {
                    [a, b, c, _, ..] => {
                        format!("{a}, {b}, {c} and {} more", identifiers.len() - 3)
                    }
                    _ => identifiers.join(", "),
                };
                (
                    duplicate,
                    limits.duplicate_certificates,
                    duplicate_gcra,
                    subject,
                )
            } else {
                let domain = keys
                    .per_domain
                    .iter()
                    .find(|(_, k)| *k == key)
                    .map(|(d, _)| d.clone())
                    .unwrap_or_default();
                (
                    per_domain,
                    limits.certificates_per_registered_domain,
                    domain_gcra,
                    domain,
                )
            };
            if let Some(gcra) = gcra
                && let Err(exhausted) = gcra.check(Some(tat), now)
            {
                return Err(rate_limit::refusal(
                    limit,
                    value,
                    exhausted,
                    Some(&subject),
                    now,
                ));
            }
        }
        Ok(())
    }

    /// The steps that count a certificate for `dns_names` issued to `account` on an order
    /// made at `ordered` (replacing `replaces`) against `certificates_per_registered_domain`
    /// (once per registered domain) and `duplicate_certificates`, at `now`: none for a
    /// [`Renewal::InWindow`] or a limit that is off. The store takes them in the transaction
    /// that records the certificate ([`crate::Store::complete_order`]).
    pub(super) async fn issuance_counts(
        &self,
        account: &Account,
        dns_names: &[String],
        replaces: Option<&str>,
        ordered: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Vec<RateStep>, CoreError> {
        let names: Vec<&str> = dns_names.iter().map(String::as_str).collect();
        if self.renewal_kind(&names, replaces, ordered).await? == Renewal::InWindow {
            return Ok(Vec::new());
        }
        let limits = self.limits_for(account.customer_id.as_deref()).await?;
        let keys = IssuanceKeys::of(account, &limits, &names);
        let per_domain = LimitName::CertificatesPerRegisteredDomain;
        let value = limits.certificates_per_registered_domain;
        let mut steps: Vec<RateStep> = keys
            .per_domain
            .into_iter()
            .filter_map(|(_, key)| rate_limit::step(per_domain, value, key, now))
            .collect();
        steps.extend(rate_limit::step(
            LimitName::DuplicateCertificates,
            limits.duplicate_certificates,
            keys.duplicate,
            now,
        ));
        Ok(steps)
    }

    /// Counts a recorded failed validation of `name` by account `account_id` (of customer
    /// `customer_id`) against `failed_validations_per_account_and_name`. Off the request's
    /// path: a failure to count is logged.
    pub(super) async fn count_failed_validation(
        &self,
        account_id: &str,
        customer_id: Option<&str>,
        name: &str,
    ) {
        let limit = LimitName::FailedValidationsPerAccountAndName;
        let counted = async {
            let value = self.limits_for(customer_id).await?.get(limit);
            let key = rate_limit::key(limit, value, &[account_id, name]);
            rate_limit::record(self.inner.store.as_ref(), self.now(), limit, value, &key).await
        };
        if let Err(e) = counted.await {
            tracing::warn!(error = %e, domain = name, "could not count a failed validation against its rate limit");
        }
    }
}

/// What newOrder's insert checks and spends in its transaction, from
/// [`Ca::check_order_limits`].
pub(super) struct OrderLimits {
    /// The account's `pending_authorizations_per_account` (0: off).
    pub(super) max_pending: u32,
    /// The account's `new_orders_per_account`.
    pub(super) new_orders: u32,
    /// One new order, spent with the insert; none for an exempt renewal or when the limit
    /// is off.
    pub(super) spend: Option<RateStep>,
}

/// The refusal of an order that would take the account's `pending` pending authorizations
/// (the first of them expiring at `earliest`) past `limit` by adding `adding`.
pub(super) fn pending_refusal(
    limit: u32,
    pending: u64,
    adding: u64,
    earliest: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> CoreError {
    // A count comes back as pending authorizations end: the earliest expiry is when one
    // certainly has.
    let back = earliest.unwrap_or(now).max(now);
    CoreError::RateLimited(Box::new(RateLimited {
        limit: LimitName::PendingAuthorizationsPerAccount,
        value: limit,
        retry_at: back,
        resets_at: back,
        subject: Some(format!(
            "{pending} pending, this order would add up to {adding}"
        )),
        now,
    }))
}

/// The store keys of the issuance limits of one certificate: one per registered domain of its
/// names (with the domain), and one for its set of names. Counted for the account's customer,
/// or for the account when it has none.
struct IssuanceKeys {
    per_domain: Vec<(String, String)>,
    duplicate: String,
}

impl IssuanceKeys {
    /// The keys for a certificate of `names` (wildcards as `*.`) issued to `account`, at the
    /// values of `limits`.
    fn of(account: &Account, limits: &RateLimits, names: &[&str]) -> IssuanceKeys {
        let owner = match &account.customer_id {
            Some(customer) => format!("customer:{customer}"),
            None => format!("account:{}", account.id),
        };
        let mut domains: Vec<&str> = names
            .iter()
            .map(|n| rate_limit::registered_domain(n.trim_start_matches("*.")))
            .collect();
        domains.sort_unstable();
        domains.dedup();
        let per_domain = LimitName::CertificatesPerRegisteredDomain;
        let value = limits.certificates_per_registered_domain;
        IssuanceKeys {
            per_domain: domains
                .into_iter()
                .map(|d| {
                    (
                        d.to_owned(),
                        rate_limit::key(per_domain, value, &[&owner, d]),
                    )
                })
                .collect(),
            duplicate: rate_limit::key(
                LimitName::DuplicateCertificates,
                limits.duplicate_certificates,
                &[&owner, &rate_limit::name_set(names)],
            ),
        }
    }
}
