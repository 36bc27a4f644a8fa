//! Rate limits: which ones there are, their values (`[rate_limits]`, replaced per customer by
//! the operator's overrides), and the arithmetic that decides a request.
//!
//! A rate limit ("at most N per period") is a generic cell rate algorithm (GCRA), as Let's
//! Encrypt's Boulder keeps its limits: the state of one limited thing is a single time, its
//! theoretical arrival time (TAT). Each allowed request moves it on by the period divided by
//! N (the increment); a request is refused when that would put the TAT more than N
//! increments (the tolerance) ahead of now. A full allowance of N requests may therefore
//! come at once, and then one more each increment. The state is one row in the [`Store`],
//! read and moved on by one conditional UPSERT, so every instance shares it and two of them
//! can never both spend the last allowance.
//!
//! `pending_authorizations_per_account` is a count, not a rate: newOrder counts the account's
//! pending authorizations.
//!
//! [`Store`]: crate::Store

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::{CoreError, RateStep, Store};

/// A limit an operator sets (`[rate_limits]`) and may replace per customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LimitName {
    /// New orders of one account per 3 hours.
    NewOrdersPerAccount,
    /// Pending authorizations one account may hold at once (a count).
    PendingAuthorizationsPerAccount,
    /// Failed validations of one name by one account per hour; newOrder refuses the name
    /// once they are spent.
    FailedValidationsPerAccountAndName,
    /// New accounts registered from one client address (IPv6: its /64) per 3 hours.
    NewAccountsPerAddress,
    /// New API credentials of one customer per day (admin API and CLI).
    NewCredentialsPerCustomer,
    /// New EAB MAC keys of one customer per day (admin API and CLI).
    NewMacKeysPerCustomer,
    /// Failed admin API authentications from one client address (IPv6: its /64) per hour;
    /// then the address is refused before its secret is checked.
    FailedAdminAuthenticationsPerAddress,
    /// Certificates issued to one customer's accounts (an account without a customer: that
    /// account) for names under one registered domain (the public suffix list's registrable
    /// domain, `example.co.uk`) per week.
    CertificatesPerRegisteredDomain,
    /// Certificates issued to one customer's accounts for exactly the same set of names per
    /// week.
    DuplicateCertificates,
}

impl LimitName {
    /// Every limit, in the order operators see them.
    pub const ALL: [LimitName; 9] = [
        Self::NewOrdersPerAccount,
        Self::PendingAuthorizationsPerAccount,
        Self::FailedValidationsPerAccountAndName,
        Self::NewAccountsPerAddress,
        Self::NewCredentialsPerCustomer,
        Self::NewMacKeysPerCustomer,
        Self::FailedAdminAuthenticationsPerAddress,
        Self::CertificatesPerRegisteredDomain,
        Self::DuplicateCertificates,
    ];

    /// The name in `[rate_limits]`, in refusals and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NewOrdersPerAccount => "new_orders_per_account",
            Self::PendingAuthorizationsPerAccount => "pending_authorizations_per_account",
            Self::FailedValidationsPerAccountAndName => "failed_validations_per_account_and_name",
            Self::NewAccountsPerAddress => "new_accounts_per_address",
            Self::NewCredentialsPerCustomer => "new_credentials_per_customer",
            Self::NewMacKeysPerCustomer => "new_mac_keys_per_customer",
            Self::FailedAdminAuthenticationsPerAddress => {
                "failed_admin_authentications_per_address"
            }
            Self::CertificatesPerRegisteredDomain => "certificates_per_registered_domain",
            Self::DuplicateCertificates => "duplicate_certificates",
        }
    }

    /// The limit named `name`, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == name)
    }

    /// The period a rate is counted over; `None` for a count.
    pub fn period(self) -> Option<Duration> {
        match self {
            Self::NewOrdersPerAccount | Self::NewAccountsPerAddress => Some(Duration::hours(3)),
            Self::FailedValidationsPerAccountAndName
            | Self::FailedAdminAuthenticationsPerAddress => Some(Duration::hours(1)),
            Self::NewCredentialsPerCustomer | Self::NewMacKeysPerCustomer => {
                Some(Duration::days(1))
            }
            Self::CertificatesPerRegisteredDomain | Self::DuplicateCertificates => {
                Some(Duration::weeks(1))
            }
            Self::PendingAuthorizationsPerAccount => None,
        }
    }

    /// The GCRA of this limit at `value`; `None` for a count, or when `value` is 0 (off).
    pub fn gcra(self, value: u32) -> Option<Gcra> {
        self.period().and_then(|period| Gcra::new(value, period))
    }

    /// Whether a customer's override applies. The limits per client address are counted
    /// before the customer is known: only the configured value applies.
    pub fn per_customer(self) -> bool {
        !matches!(
            self,
            Self::NewAccountsPerAddress | Self::FailedAdminAuthenticationsPerAddress
        )
    }

    /// What is limited, for a refusal's detail ("new orders of this account").
    fn what(self) -> &'static str {
        match self {
            Self::NewOrdersPerAccount => "new orders of this account",
            Self::PendingAuthorizationsPerAccount => "pending authorizations of this account",
            Self::FailedValidationsPerAccountAndName => {
                "failed validations of this name by this account"
            }
            Self::NewAccountsPerAddress => "new accounts from this client address",
            Self::NewCredentialsPerCustomer => "new API credentials of this customer",
            Self::NewMacKeysPerCustomer => "new MAC keys of this customer",
            Self::FailedAdminAuthenticationsPerAddress => {
                "failed authentications from this client address"
            }
            Self::CertificatesPerRegisteredDomain => {
                "certificates for names under this registered domain"
            }
            Self::DuplicateCertificates => "certificates for exactly this set of names",
        }
    }

    /// The per-period phrase of a value ("300 per 3 hours", "1000 at once").
    pub fn describe(self, value: u32) -> String {
        match self.period() {
            Some(period) if period.whole_hours() == 1 => format!("{value} per hour"),
            Some(period) if period.whole_hours() == 24 => format!("{value} per day"),
            Some(period) if period.whole_days() == 7 => format!("{value} per week"),
            Some(period) => format!("{value} per {} hours", period.whole_hours()),
            None => format!("{value} at once"),
        }
    }
}

impl std::fmt::Display for LimitName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[rate_limits]`: each limit's value for every account; 0 turns a limit off. The defaults
/// are like Let's Encrypt's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    /// New orders per account per 3 hours.
    pub new_orders_per_account: u32,
    /// Pending authorizations an account may hold at once; newOrder refuses an order that
    /// would take the account above it.
    pub pending_authorizations_per_account: u32,
    /// Failed validations per account and name per hour; then newOrder refuses the name
    /// until the allowance comes back.
    pub failed_validations_per_account_and_name: u32,
    /// New accounts per client address per 3 hours (IPv6 addresses grouped by /64).
    pub new_accounts_per_address: u32,
    /// New API credentials per customer per day (admin API and `ferrite credential create`).
    pub new_credentials_per_customer: u32,
    /// New MAC keys per customer per day (admin API and `ferrite mac-key create`).
    pub new_mac_keys_per_customer: u32,
    /// Failed admin API authentications per client address per hour (IPv6 by /64); then the
    /// address is refused before its secret is checked.
    pub failed_admin_authentications_per_address: u32,
    /// Certificates per customer and registered domain per week (newOrder refuses an order
    /// with a name under a domain whose allowance is spent; issuance spends it).
    pub certificates_per_registered_domain: u32,
    /// Certificates per customer for exactly one set of names per week (renewing more often
    /// than this is refused at newOrder).
    pub duplicate_certificates: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            new_orders_per_account: 300,
            pending_authorizations_per_account: 1000,
            failed_validations_per_account_and_name: 5,
            new_accounts_per_address: 10,
            new_credentials_per_customer: 20,
            new_mac_keys_per_customer: 100,
            failed_admin_authentications_per_address: 20,
            certificates_per_registered_domain: 50,
            duplicate_certificates: 5,
        }
    }
}

impl RateLimits {
    /// Every limit off.
    pub fn off() -> Self {
        Self {
            new_orders_per_account: 0,
            pending_authorizations_per_account: 0,
            failed_validations_per_account_and_name: 0,
            new_accounts_per_address: 0,
            new_credentials_per_customer: 0,
            new_mac_keys_per_customer: 0,
            failed_admin_authentications_per_address: 0,
            certificates_per_registered_domain: 0,
            duplicate_certificates: 0,
        }
    }

    /// The configured value of `limit` (0: off).
    pub fn get(&self, limit: LimitName) -> u32 {
        match limit {
            LimitName::NewOrdersPerAccount => self.new_orders_per_account,
            LimitName::PendingAuthorizationsPerAccount => self.pending_authorizations_per_account,
            LimitName::FailedValidationsPerAccountAndName => {
                self.failed_validations_per_account_and_name
            }
            LimitName::NewAccountsPerAddress => self.new_accounts_per_address,
            LimitName::NewCredentialsPerCustomer => self.new_credentials_per_customer,
            LimitName::NewMacKeysPerCustomer => self.new_mac_keys_per_customer,
            LimitName::FailedAdminAuthenticationsPerAddress => {
                self.failed_admin_authentications_per_address
            }
            LimitName::CertificatesPerRegisteredDomain => self.certificates_per_registered_domain,
            LimitName::DuplicateCertificates => self.duplicate_certificates,
        }
    }

    /// These values with a customer's `overrides` (limit name, value) in place of the
    /// configured ones; unknown names are ignored.
    pub fn with_overrides(&self, overrides: &[(String, u32)]) -> Self {
        let mut limits = self.clone();
        for (name, value) in overrides {
            let slot = match LimitName::parse(name) {
                Some(LimitName::NewOrdersPerAccount) => &mut limits.new_orders_per_account,
                Some(LimitName::PendingAuthorizationsPerAccount) => {
                    &mut limits.pending_authorizations_per_account
                }
                Some(LimitName::FailedValidationsPerAccountAndName) => {
                    &mut limits.failed_validations_per_account_and_name
                }
                Some(LimitName::NewCredentialsPerCustomer) => {
                    &mut limits.new_credentials_per_customer
                }
                Some(LimitName::NewMacKeysPerCustomer) => &mut limits.new_mac_keys_per_customer,
                Some(LimitName::CertificatesPerRegisteredDomain) => {
                    &mut limits.certificates_per_registered_domain
                }
                Some(LimitName::DuplicateCertificates) => &mut limits.duplicate_certificates,
                Some(
                    LimitName::NewAccountsPerAddress
                    | LimitName::FailedAdminAuthenticationsPerAddress,
                )
                | None => continue,
            };
            *slot = *value;
        }
        limits
    }
}

/// The GCRA parameters of "at most `limit` per `period`".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gcra {
    /// How far one request moves the theoretical arrival time: `period / limit`, whole
    /// microseconds (the store's precision), at least one.
    pub increment: Duration,
    /// How far ahead of now the theoretical arrival time may get: `limit` increments, so that
    /// exactly `limit` requests fit at once.
    pub tolerance: Duration,
}

/// A request [`Gcra::check`] refuses: when it would be allowed, and when the whole allowance
/// is back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exhausted {
    /// The earliest time the same request is allowed.
    pub retry_at: OffsetDateTime,
    /// When the full allowance is back (the theoretical arrival time).
    pub resets_at: OffsetDateTime,
}

impl Gcra {
    /// "At most `limit` per `period`"; `None` when `limit` is 0 (off).
    pub fn new(limit: u32, period: Duration) -> Option<Self> {
        if limit == 0 {
            return None;
        }
        let period_us = i64::try_from(period.whole_microseconds()).unwrap_or(i64::MAX);
        let increment_us = (period_us / i64::from(limit)).max(1);
        Some(Self {
            increment: Duration::microseconds(increment_us),
            tolerance: Duration::microseconds(increment_us.saturating_mul(i64::from(limit))),
        })
    }

    /// How much of the allowance is spent at `now` given the stored theoretical arrival time
    /// (`None`: nothing spent): the increments the TAT is ahead of now, rounded up, at most
    /// the limit.
    pub fn used(&self, tat: Option<OffsetDateTime>, now: OffsetDateTime) -> u32 {
        let ahead = tat.map_or(0, |tat| (tat - now).whole_microseconds().max(0));
        let increment = self.increment.whole_microseconds().max(1);
        let limit = self.tolerance.whole_microseconds() / increment;
        let used = ((ahead + increment - 1) / increment).min(limit);
        u32::try_from(used).unwrap_or(u32::MAX)
    }

    /// Decides a request at `now` given the stored theoretical arrival time (`None`: no
    /// row, nothing spent). `Ok` with the new theoretical arrival time to store, or the
    /// refusal. The store's conditional UPSERT computes the same.
    pub fn check(
        &self,
        tat: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<OffsetDateTime, Exhausted> {
        let base = tat.map_or(now, |tat| tat.max(now));
        let next = base + self.increment;
        if next - now <= self.tolerance {
            Ok(next)
        } else {
            Err(Exhausted {
                retry_at: next - self.tolerance,
                resets_at: base,
            })
        }
    }
}

/// What a rate limit's refusal says: which limit, its value, and when it resets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimited {
    /// The limit.
    pub limit: LimitName,
    /// Its value for this request (the customer's override or the configured value).
    pub value: u32,
    /// When the same request will be allowed (`Retry-After`).
    pub retry_at: OffsetDateTime,
    /// When the whole allowance is back (for a count: when the oldest counted thing expires).
    pub resets_at: OffsetDateTime,
    /// What was refused, when it is narrower than the limit says (the name of a failed
    /// validation limit).
    pub subject: Option<String>,
    /// The time of the refusal.
    pub now: OffsetDateTime,
}

impl RateLimited {
    /// Seconds until the request will be allowed, at least one (`Retry-After`).
    pub fn retry_after_seconds(&self) -> u64 {
        let micros = (self.retry_at - self.now).whole_microseconds().max(0);
        u64::try_from((micros + 999_999) / 1_000_000)
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// The refusal's detail (RFC 8555 §6.7: the limit, its value and when it resets).
    pub fn detail(&self) -> String {
        let fmt = |t: OffsetDateTime| {
            t.replace_nanosecond(0)
                .ok()
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_default()
        };
        let subject = self
            .subject
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        let advice = match self.limit {
            LimitName::PendingAuthorizationsPerAccount => {
                "; finish or deactivate the pending authorizations you no longer need, or wait for them to expire"
            }
            LimitName::FailedValidationsPerAccountAndName => {
                "; fix what made the validations fail (the failed challenges' errors say what) before trying this name again"
            }
            _ => "",
        };
        format!(
            "too many {}{subject}: the limit {} is {}; retry after {} (in {} s), the full allowance is back at {}{advice}; ask the CA operator if you need a higher limit",
            self.limit.what(),
            self.limit,
            self.limit.describe(self.value),
            fmt(self.retry_at),
            self.retry_after_seconds(),
            fmt(self.resets_at),
        )
    }
}

/// The limits that apply to the accounts of `customer_id`: `configured`, with the customer's
/// own values (none: `configured` as it is). One read.
pub(crate) async fn limits_for(
    store: &dyn Store,
    configured: &RateLimits,
    customer_id: Option<&str>,
) -> Result<RateLimits, CoreError> {
    match customer_id {
        Some(id) => {
            let overrides = store.rate_limit_overrides(id).await?;
            Ok(configured.with_overrides(&overrides))
        }
        None => Ok(configured.clone()),
    }
}

/// Spends one request of `limit` (at most `value` per its period; 0: off) for `key` at
/// `now`. The stored time is read first, so a refusal writes nothing; an allowed request is
/// spent by the store's one conditional UPSERT, which settles a race for the last one.
/// `subject` narrows the refusal's detail (a name, an address).
pub(crate) async fn spend(
    store: &dyn Store,
    now: OffsetDateTime,
    limit: LimitName,
    value: u32,
    key: &str,
    subject: Option<&str>,
) -> Result<(), CoreError> {
    let Some(gcra) = limit.gcra(value) else {
        return Ok(());
    };
    check_stored(store, now, limit, value, &gcra, key, subject).await?;
    match store.spend_rate_limit(key, now, &gcra).await? {
        Ok(_) => Ok(()),
        // Another request (on any instance) spent the last one meanwhile.
        Err(stored) => Err(refused_at(limit, value, &gcra, stored, subject, now)),
    }
}

/// The step of `limit` (at most `value` per its period; 0: off, `None`) for `key` at `now`,
/// for a store to take inside the transaction of the change it limits or counts.
pub(crate) fn step(
    limit: LimitName,
    value: u32,
    key: String,
    now: OffsetDateTime,
) -> Option<RateStep> {
    limit.gcra(value).map(|gcra| RateStep { key, gcra, now })
}

/// The refusal of a step of `limit` at `value` (parameters `gcra`) at `now` that the store
/// refused, its row holding `stored`.
pub(crate) fn refused_at(
    limit: LimitName,
    value: u32,
    gcra: &Gcra,
    stored: OffsetDateTime,
    subject: Option<&str>,
    now: OffsetDateTime,
) -> CoreError {
    // The stored time moved on since the caller looked: whatever it is now, it refused.
    let exhausted = gcra.check(Some(stored), now).err().unwrap_or(Exhausted {
        retry_at: now + gcra.increment,
        resets_at: stored,
    });
    refusal(limit, value, exhausted, subject, now)
}

/// Counts one of `limit` (at `value`) for `key` at `now` that has already happened (a
/// failure): spent if the allowance has room, else nothing changes (it is spent already).
pub(crate) async fn record(
    store: &dyn Store,
    now: OffsetDateTime,
    limit: LimitName,
    value: u32,
    key: &str,
) -> Result<(), CoreError> {
    if let Some(gcra) = limit.gcra(value) {
        let _spent_or_full = store.spend_rate_limit(key, now, &gcra).await?;
    }
    Ok(())
}

/// Refuses when `limit`'s allowance for `key` is spent, reading only: for limits spent by
/// what happens later (a failure), checked before the work.
pub(crate) async fn check(
    store: &dyn Store,
    now: OffsetDateTime,
    limit: LimitName,
    value: u32,
    key: &str,
    subject: Option<&str>,
) -> Result<(), CoreError> {
    match limit.gcra(value) {
        Some(gcra) => check_stored(store, now, limit, value, &gcra, key, subject).await,
        None => Ok(()),
    }
}

async fn check_stored(
    store: &dyn Store,
    now: OffsetDateTime,
    limit: LimitName,
    value: u32,
    gcra: &Gcra,
    key: &str,
    subject: Option<&str>,
) -> Result<(), CoreError> {
    let stored = store
        .rate_limit_tats(&[key.to_owned()])
        .await?
        .into_iter()
        .next()
        .map(|(_, tat)| tat);
    match gcra.check(stored, now) {
        Ok(_) => Ok(()),
        Err(exhausted) => Err(refusal(limit, value, exhausted, subject, now)),
    }
}

/// The refusal of `limit` at `value`, exhausted as `exhausted` says.
pub(crate) fn refusal(
    limit: LimitName,
    value: u32,
    exhausted: Exhausted,
    subject: Option<&str>,
    now: OffsetDateTime,
) -> CoreError {
    CoreError::RateLimited(Box::new(RateLimited {
        limit,
        value,
        retry_at: exhausted.retry_at,
        resets_at: exhausted.resets_at,
        subject: subject.map(str::to_owned),
        now,
    }))
}

/// The part of a client's address new accounts are counted for: the address itself for IPv4
/// (and IPv4-mapped IPv6), the /64 network for IPv6, which one subscriber usually holds whole.
pub fn address_group(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            format!("{}/64", std::net::Ipv6Addr::from(bits))
        }
    }
}

/// The registered domain of `name` (lower case, no `*.`): the public suffix list's registrable
/// domain — one label below the longest matching suffix, private section included, so each
/// `github.io` site counts apart — or `name` itself when it has no label below a suffix.
pub fn registered_domain(name: &str) -> &str {
    psl::domain_str(name).unwrap_or(name)
}

/// What [`LimitName::DuplicateCertificates`] counts for: the set of `names` (sorted, without
/// repeats), as a SHA-256 in hex so that a hundred long names make a short key.
pub fn name_set(names: &[&str]) -> String {
    let mut sorted: Vec<&str> = names.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    crate::ids::sha256_hex(sorted.join(",").as_bytes())
}

/// The store key of `limit` at `value` counted for `parts` (an account id, an account id and
/// a name, an address group): the limit's name first, so every key of a limit sorts together.
/// The value is part of the key because a theoretical arrival time is only meaningful at the
/// increment it was spent with: a limit the operator raises or lowers (a customer's
/// override, `[rate_limits]`) starts counting afresh at its new value.
pub fn key(limit: LimitName, value: u32, parts: &[&str]) -> String {
    let mut key = format!("{limit}:{value}");
    for part in parts {
        key.push(':');
        key.push_str(part);
    }
    key
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-06-01 12:00:00 UTC);

    #[test]
    fn used_counts_what_is_spent_and_comes_back() {
        let gcra = Gcra::new(4, Duration::hours(4)).unwrap();
        let mut tat = None;
        assert_eq!(gcra.used(tat, NOW), 0);
        assert_eq!(spend(&gcra, &mut tat, NOW, 3), 3);
        assert_eq!(gcra.used(tat, NOW), 3);
        // One increment (an hour) later, one has come back; half an hour more is not a whole.
        assert_eq!(gcra.used(tat, NOW + Duration::hours(1)), 2);
        assert_eq!(gcra.used(tat, NOW + Duration::minutes(90)), 2);
        assert_eq!(gcra.used(tat, NOW + Duration::hours(5)), 0);
        assert_eq!(spend(&gcra, &mut tat, NOW, 9), 1);
        assert_eq!(gcra.used(tat, NOW), 4);
    }

    /// Spends `n` requests at `now`, storing each new TAT as the store would.
    fn spend(gcra: &Gcra, tat: &mut Option<OffsetDateTime>, now: OffsetDateTime, n: u32) -> u32 {
        let mut allowed = 0;
        for _ in 0..n {
            if let Ok(next) = gcra.check(*tat, now) {
                *tat = Some(next);
                allowed += 1;
            }
        }
        allowed
    }

    #[test]
    fn a_full_allowance_fits_at_once_and_no_more() {
        for (limit, period) in [
            (5, Duration::hours(1)),
            (300, Duration::hours(3)),
            (7, Duration::seconds(1)),
            (3, Duration::microseconds(10)),
        ] {
            let gcra = Gcra::new(limit, period).unwrap();
            let mut tat = None;
            assert_eq!(
                spend(&gcra, &mut tat, NOW, limit + 10),
                limit,
                "{limit}/{period}"
            );
        }
    }

    #[test]
    fn one_more_comes_back_each_increment() {
        let gcra = Gcra::new(5, Duration::hours(1)).unwrap();
        assert_eq!(gcra.increment, Duration::minutes(12));
        let mut tat = None;
        assert_eq!(spend(&gcra, &mut tat, NOW, 5), 5);
        let refused = gcra.check(tat, NOW).unwrap_err();
        assert_eq!(refused.retry_at, NOW + Duration::minutes(12));
        assert_eq!(refused.resets_at, NOW + Duration::hours(1));
        // A moment before the increment: still refused; at it: one, and only one.
        let early = NOW + Duration::minutes(12) - Duration::microseconds(1);
        assert_eq!(spend(&gcra, &mut tat, early, 1), 0);
        assert_eq!(spend(&gcra, &mut tat, NOW + Duration::minutes(12), 3), 1);
        // After the whole period the whole allowance is back.
        let later = NOW + Duration::hours(2);
        assert_eq!(spend(&gcra, &mut tat, later, 10), 5);
    }

    #[test]
    fn a_past_tat_counts_as_nothing_spent() {
        let gcra = Gcra::new(2, Duration::hours(1)).unwrap();
        let stale = Some(NOW - Duration::days(3));
        assert_eq!(gcra.check(stale, NOW), gcra.check(None, NOW));
        assert_eq!(gcra.check(None, NOW), Ok(NOW + Duration::minutes(30)));
    }

    #[test]
    fn zero_is_off_and_a_tiny_period_still_counts() {
        assert_eq!(Gcra::new(0, Duration::hours(1)), None);
        let gcra = Gcra::new(1000, Duration::microseconds(10)).unwrap();
        assert_eq!(gcra.increment, Duration::microseconds(1));
        assert_eq!(gcra.tolerance, Duration::microseconds(1000));
    }

    #[test]
    fn refusal_names_the_limit_value_and_reset() {
        let refusal = RateLimited {
            limit: LimitName::NewOrdersPerAccount,
            value: 300,
            retry_at: NOW + Duration::seconds(36),
            resets_at: NOW + Duration::hours(3),
            subject: None,
            now: NOW,
        };
        assert_eq!(refusal.retry_after_seconds(), 36);
        let detail = refusal.detail();
        assert!(detail.contains("new_orders_per_account"), "{detail}");
        assert!(detail.contains("300 per 3 hours"), "{detail}");
        assert!(detail.contains("2026-06-01T15:00:00Z"), "{detail}");
        assert!(detail.contains("in 36 s"), "{detail}");
        // Less than a second away is still one second: never `Retry-After: 0`.
        let soon = RateLimited {
            retry_at: NOW + Duration::milliseconds(10),
            ..refusal
        };
        assert_eq!(soon.retry_after_seconds(), 1);
    }

    #[test]
    fn registered_domains_and_name_sets() {
        assert_eq!(registered_domain("www.example.com"), "example.com");
        assert_eq!(registered_domain("a.b.example.co.uk"), "example.co.uk");
        assert_eq!(registered_domain("example.com"), "example.com");
        // The private section: each site of a hosting suffix counts apart.
        assert_eq!(registered_domain("www.alice.github.io"), "alice.github.io");
        assert_eq!(registered_domain("com"), "com");
        assert_eq!(
            name_set(&["b.example", "a.example", "b.example"]),
            name_set(&["a.example", "b.example"])
        );
        assert_ne!(
            name_set(&["a.example"]),
            name_set(&["a.example", "b.example"])
        );
        assert_eq!(name_set(&["a.example"]).len(), 64);
    }

    #[test]
    fn ipv6_addresses_are_grouped_by_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_group(a), "2001:db8:1:2::/64");
        assert_eq!(address_group(a), address_group(b));
        assert_ne!(address_group(a), address_group(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_group(mapped), "192.0.2.7");
    }

    #[test]
    fn overrides_replace_only_per_customer_limits() {
        let limits = RateLimits::default().with_overrides(&[
            ("new_orders_per_account".to_owned(), 5000),
            ("new_accounts_per_address".to_owned(), 1),
            ("no_such_limit".to_owned(), 1),
        ]);
        assert_eq!(limits.new_orders_per_account, 5000);
        assert_eq!(limits.new_accounts_per_address, 10);
        for limit in LimitName::ALL {
            assert_eq!(LimitName::parse(limit.as_str()), Some(limit));
        }
    }
}
