//! Orders and authorizations (RFC 8555 §7.4, §7.5).

use std::collections::BTreeSet;

use ferrite_proto::identifier::check_dns_name;
use ferrite_proto::requests::{AuthorizationUpdate, NewOrder};
use ferrite_proto::{
    AuthorizationStatus, ChallengeStatus, ChallengeType, Identifier, IdentifierType, OrderStatus,
    Problem, ProblemType,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Ca, Reader};
use crate::model::{Account, Authorization, Challenge, DomainValidation, Order, ValidationOwner};
use crate::policy::{self, MIN_REUSE_REMAINING};
use crate::{CoreError, ids, status};

/// What an `unsupportedIdentifier` detail tells the client it may ask for.
const SUPPORTED_IDENTIFIERS: &str = "this CA issues for dns identifiers only ({\"type\":\"dns\",\"value\":\"www.example.com\"}); ip identifiers (RFC 8738) are not supported";

/// RFC 8555 §6.7.1: the identifiers newOrder refused, one subproblem each naming its
/// identifier. The top-level type is the subproblems' type when they share one
/// (`unsupportedIdentifier`, `rejectedIdentifier`), else `compound` ("specific error
/// conditions are indicated in the subproblems array", §6.7).
fn identifiers_refused(subproblems: Vec<Problem>) -> Problem {
    let first = subproblems[0].kind;
    let kind = if subproblems.iter().all(|p| p.kind == first) {
        first
    } else {
        ProblemType::Compound
    };
    let detail = match (subproblems.len(), kind) {
        (1, _) => subproblems[0].detail.clone(),
        (n, ProblemType::UnsupportedIdentifier) => {
            format!(
                "{n} identifiers are of types this CA does not issue for; {SUPPORTED_IDENTIFIERS}"
            )
        }
        (n, _) => format!("{n} identifiers were refused; see subproblems"),
    };
    let mut p = Problem::new(kind, detail);
    if let [only] = subproblems.as_slice() {
        // One identifier: the top level names it too, for clients that read only that.
        p.identifier = only.identifier.clone();
    }
    p.subproblems = subproblems;
    p
}

/// An order as the client sees it: stored fields plus the status derived at read time.
#[derive(Clone, Debug)]
pub struct OrderView {
    /// The stored order.
    pub order: Order,
    /// The status to show (§7.1.6), derived from the authorizations and the clock.
    pub status: OrderStatus,
    /// The order's authorizations as read with it (stored form, all challenges).
    pub authorizations: Vec<Authorization>,
}

impl OrderView {
    /// The view of `order` with its `authorizations`, the status derived at `now`.
    pub(super) fn new(
        order: Order,
        authorizations: Vec<Authorization>,
        now: time::OffsetDateTime,
    ) -> Self {
        let status = status::order_status(&order, &authorizations, now);
        Self {
            order,
            status,
            authorizations,
        }
    }
}

/// An authorization as the client sees it.
#[derive(Clone, Debug)]
pub struct AuthorizationView {
    /// The stored authorization.
    pub authorization: Authorization,
    /// The status to show.
    pub status: AuthorizationStatus,
}

impl Ca {
    /// RFC 8555 §7.4 newOrder.
    pub async fn new_order(
        &self,
        account: &Account,
        request: NewOrder,
    ) -> Result<OrderView, CoreError> {
        let cfg = &self.inner.config;
        let now = self.now();
        let identifiers = self.check_identifiers(request.identifiers)?;
        let not_before = parse_time("notBefore", request.not_before.as_deref())?;
        let not_after = parse_time("notAfter", request.not_after.as_deref())?;
        check_requested_validity(now, not_before, not_after, cfg.profile.validity())?;

        let owner = ValidationOwner::of(account);
        let mut expires = now + cfg.order_lifetime;
        let mut authorization_ids = Vec::with_capacity(identifiers.len());
        let mut new_authorizations = Vec::new();
        for identifier in &identifiers {
            let wildcard = identifier.is_wildcard();
            let base = identifier.base_domain().to_owned();
            // RFC 8555 §7.1.4 lets an authorization be valid at creation: a validation of this
            // customer that covers the name and is inside the reuse window authorizes it. The
            // order expires no later than the validation may be relied on, so it can never be
            // finalized on an expired validation.
            if let Some(reuse) = self
                .reusable_validation(account, &owner, &base, wildcard, now)
                .await?
            {
                expires = expires.min(reuse.until);
                match reuse.existing {
                    Some(id) => authorization_ids.push(id),
                    None => {
                        let authz = reused_authorization(account, &base, wildcard, &reuse);
                        authorization_ids.push(authz.id.clone());
                        new_authorizations.push(authz);
                    }
                }
                continue;
            }
            let authz = new_authorization(
                account,
                &base,
                wildcard,
                now + cfg.pending_authorization_lifetime,
            );
            authorization_ids.push(authz.id.clone());
            new_authorizations.push(authz);
        }
        let order = Order {
            id: ids::random_id(),
            account_id: account.id.clone(),
            status: OrderStatus::Pending,
            identifiers,
            authorization_ids,
            expires,
            not_before,
            not_after,
            error: None,
            certificate_serial: None,
            created_at: now,
        };
        self.inner
            .store
            .insert_order(&order, &new_authorizations)
            .await?;
        if new_authorizations.len() == order.authorization_ids.len() {
            // Every authorization was created just now, as inserted: no need to read them back.
            return Ok(OrderView::new(order, new_authorizations, now));
        }
        self.order_view(order).await
    }

    /// The validation that lets a new order's authorization for `base` (`*.base` when
    /// `wildcard`) be valid at creation, if any: owned by the account's customer (or the
    /// account itself without one), covering the name (exactly, or dns-01 of a parent), with
    /// its authorization not deactivated, and at least [`MIN_REUSE_REMAINING`] (or the order
    /// lifetime, if shorter) left of its reuse window. The one usable longest wins.
    async fn reusable_validation(
        &self,
        account: &Account,
        owner: &ValidationOwner,
        base: &str,
        wildcard: bool,
        now: OffsetDateTime,
    ) -> Result<Option<Reuse>, CoreError> {
        let cfg = &self.inner.config;
        let since = now - cfg.reuse.window_at(now);
        let candidates = policy::candidate_domains(base);
        let found = self
            .inner
            .store
            .reusable_domain_validations(owner, &candidates, since)
            .await?;
        let min_remaining = MIN_REUSE_REMAINING.min(cfg.order_lifetime);
        let best = found
            .into_iter()
            .filter(|v| policy::covers(&v.domain, v.method, base, wildcard))
            .map(|v| {
                let until = cfg.reuse.reusable_until(v.validated_at);
                (v, until)
            })
            .filter(|(_, until)| *until - now >= min_remaining)
            .max_by_key(|(_, until)| *until);
        let Some((validation, until)) = best else {
            return Ok(None);
        };
        // The account's own authorization for exactly this name is handed out again (same
        // URL) when its expiry matches the window in force; otherwise a new valid one is made.
        let mut existing = None;
        let mut until = until;
        if validation.account_id == account.id
            && validation.domain == base
            && validation.wildcard == wildcard
            && let Some(authz) = self
                .inner
                .store
                .authorization(&validation.authorization_id)
                .await?
            && authz.account_id == account.id
            && status::authorization_status(&authz, now) == AuthorizationStatus::Valid
            && authz.expires <= until
            && authz.expires - now >= min_remaining
        {
            until = authz.expires;
            existing = Some(authz.id);
        }
        Ok(Some(Reuse {
            validation,
            until,
            existing,
        }))
    }

    /// Checks and normalizes the identifiers of a newOrder: lower case, deduplicated, `dns`
    /// only, valid LDH names (§7.4: "rejectedIdentifier" / "unsupportedIdentifier").
    fn check_identifiers(
        &self,
        identifiers: Vec<Identifier>,
    ) -> Result<Vec<Identifier>, CoreError> {
        if identifiers.is_empty() {
            return Err(CoreError::problem(
                ProblemType::Malformed,
                "the order has no identifiers; list at least one {\"type\":\"dns\",\"value\":...}",
            ));
        }
        if identifiers.len() > self.inner.config.max_identifiers {
            return Err(CoreError::problem(
                ProblemType::RejectedIdentifier,
                format!(
                    "the order has {} identifiers; at most {} are allowed per order",
                    identifiers.len(),
                    self.inner.config.max_identifiers
                ),
            ));
        }
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        let mut subproblems = Vec::new();
        for id in identifiers {
            if id.kind != IdentifierType::Dns {
                subproblems.push(
                    Problem::new(
                        ProblemType::UnsupportedIdentifier,
                        format!(
                            "identifier type {:?} is not supported; {SUPPORTED_IDENTIFIERS}",
                            id.kind.as_str()
                        ),
                    )
                    .with_identifier(id),
                );
                continue;
            }
            let value = id.value.to_ascii_lowercase();
            if let Err(e) = check_dns_name(&value) {
                subproblems.push(
                    Problem::new(
                        ProblemType::RejectedIdentifier,
                        format!("{:?} is not a valid DNS name: {e}", id.value),
                    )
                    .with_identifier(id),
                );
                continue;
            }
            if let Err(detail) = self.inner.config.identifier_policy.check(&value) {
                subproblems.push(
                    Problem::new(ProblemType::RejectedIdentifier, detail).with_identifier(id),
                );
                continue;
            }
            if seen.insert(value.clone()) {
                out.push(Identifier::dns(value));
            }
        }
        if subproblems.is_empty() {
            return Ok(out);
        }
        Err(identifiers_refused(subproblems).into())
    }

    /// Loads an order (§7.1.3) for `reader`. Another account's order is reported as missing
    /// rather than forbidden, so ids leak nothing.
    pub async fn order(&self, reader: Reader<'_>, id: &str) -> Result<OrderView, CoreError> {
        let (order, authorizations) = self
            .inner
            .store
            .order_with_authorizations(id)
            .await?
            .filter(|(o, _)| reader.may_read(&o.account_id))
            .ok_or_else(|| not_found("order"))?;
        Ok(OrderView::new(order, authorizations, self.now()))
    }

    pub(super) async fn order_view(&self, order: Order) -> Result<OrderView, CoreError> {
        let authorizations = self
            .inner
            .store
            .authorizations(&order.authorization_ids)
            .await?;
        Ok(OrderView::new(order, authorizations, self.now()))
    }

    /// RFC 8555 §7.1.2.1: a page of the account's order URLs (ids), newest first, and the
    /// cursor of the next page if there is one.
    ///
    /// "The server SHOULD include pending orders and SHOULD NOT include orders that are invalid
    /// in the array of URLs." Invalid is derived when an order is read (failed or deactivated
    /// authorizations, expiry), so orders are read in batches and invalid ones skipped until the
    /// page is full; the cursor is the last order looked at, never one shown twice.
    pub async fn orders_page(
        &self,
        account: &Account,
        account_id: &str,
        cursor: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), CoreError> {
        super::accounts::check_own_account(
            account,
            account_id,
            "an account can only list its own orders",
        )?;
        let limit = self.inner.config.orders_page_size.max(1);
        // Invalid orders are skipped, so a page may need more rows than it shows; examining
        // at most this many per request bounds the work an account with thousands of dead
        // orders can cause. A short page then carries a `next` link to go on.
        let max_examined = limit as usize * 10;
        let mut examined = 0usize;
        let mut shown = Vec::new();
        let mut after = cursor.map(str::to_owned);
        loop {
            if examined >= max_examined {
                return Ok((shown, after));
            }
            let ids = self
                .inner
                .store
                .order_ids_by_account(&account.id, after.as_deref(), limit)
                .await?;
            let exhausted = ids.len() < limit as usize;
            for id in ids {
                if shown.len() == limit as usize {
                    // The page is full and at least this order follows it.
                    return Ok((shown, after));
                }
                examined += 1;
                if let Some((order, authorizations)) =
                    self.inner.store.order_with_authorizations(&id).await?
                    && status::order_status(&order, &authorizations, self.now())
                        != OrderStatus::Invalid
                {
                    shown.push(id.clone());
                }
                after = Some(id);
            }
            if exhausted {
                return Ok((shown, None));
            }
        }
    }

    /// Loads an authorization (§7.5) for `reader`.
    pub async fn authorization(
        &self,
        reader: Reader<'_>,
        id: &str,
    ) -> Result<AuthorizationView, CoreError> {
        let authorization = self
            .inner
            .store
            .authorization(id)
            .await?
            .filter(|a| reader.may_read(&a.account_id))
            .ok_or_else(|| not_found("authorization"))?;
        let status = status::authorization_status(&authorization, self.now());
        let challenges = status::shown_challenges(&authorization);
        Ok(AuthorizationView {
            authorization: Authorization {
                challenges,
                ..authorization
            },
            status,
        })
    }

    /// RFC 8555 §7.5.2: an authorization update; the only one a client may ask for is
    /// `{"status": "deactivated"}` ([`Ca::deactivate_authorization`]).
    pub async fn update_authorization(
        &self,
        account: &Account,
        id: &str,
        update: AuthorizationUpdate,
    ) -> Result<AuthorizationView, CoreError> {
        if update.status != AuthorizationStatus::Deactivated {
            return Err(CoreError::problem(
                ProblemType::Malformed,
                format!(
                    "an authorization can only be updated to {{\"status\":\"deactivated\"}}, not \"{}\"",
                    update.status
                ),
            ));
        }
        self.deactivate_authorization(account, id).await
    }

    /// RFC 8555 §7.5.2: deactivates a pending or valid authorization.
    pub async fn deactivate_authorization(
        &self,
        account: &Account,
        id: &str,
    ) -> Result<AuthorizationView, CoreError> {
        let view = self.authorization(Reader::Account(account), id).await?;
        let from = view.status;
        if !matches!(
            from,
            AuthorizationStatus::Pending | AuthorizationStatus::Valid
        ) {
            return Err(CoreError::problem(
                ProblemType::Malformed,
                format!(
                    "the authorization is {from}; only pending or valid authorizations can be deactivated"
                ),
            ));
        }
        if !self
            .inner
            .store
            .set_authorization_status(id, from, AuthorizationStatus::Deactivated)
            .await?
        {
            // A validation finished (or another deactivation won) between the read and the
            // compare-and-set: report the conflict instead of a 200 that did nothing.
            let mut p = Problem::new(
                ProblemType::Malformed,
                "the authorization changed while it was being deactivated; fetch it and retry if it is still pending or valid",
            );
            p.status = Some(409);
            return Err(p.into());
        }
        // A deactivated authorization must not come back through reuse: a valid one handed
        // out from a kept validation is a copy, so the validations of exactly this name that
        // the owner holds end too (their own authorizations are deactivated). Validations of
        // parent domains (dns-01) are left alone: they prove control of a wider zone.
        if from == AuthorizationStatus::Valid {
            let authz = &view.authorization;
            let owner = ValidationOwner::of(account);
            let now = self.now();
            let since = now - self.inner.config.reuse.window_at(now);
            let kept = self
                .inner
                .store
                .reusable_domain_validations(
                    &owner,
                    std::slice::from_ref(&authz.identifier.value),
                    since,
                )
                .await?;
            for v in kept.iter().filter(|v| v.domain == authz.identifier.value) {
                self.inner
                    .store
                    .set_authorization_status(
                        &v.authorization_id,
                        AuthorizationStatus::Valid,
                        AuthorizationStatus::Deactivated,
                    )
                    .await?;
            }
        }
        self.authorization(Reader::Account(account), id).await
    }
}

/// A validation chosen for reuse by a new order.
struct Reuse {
    /// The validation relied on.
    validation: DomainValidation,
    /// When reliance on it ends (the authorization's expiry, and the latest the order may
    /// expire).
    until: OffsetDateTime,
    /// The account's own valid authorization for exactly this name, to hand out again.
    existing: Option<String>,
}

/// An authorization that is valid at creation (RFC 8555 §7.1.4) because `reuse` covers it. Its
/// one challenge is the method that was validated, with the original time; its record names the
/// validation relied on and carries its evidence, so the authorization shows how it was
/// authorized.
fn reused_authorization(
    account: &Account,
    domain: &str,
    wildcard: bool,
    reuse: &Reuse,
) -> Authorization {
    let id = ids::random_id();
    let v = &reuse.validation;
    let record = serde_json::json!({
        "reusedValidation": {
            "id": v.id,
            "domain": v.domain,
            "wildcard": v.wildcard,
            "method": v.method.as_str(),
            "validatedAt": v.validated_at.format(&Rfc3339).unwrap_or_default(),
            "authorization": v.authorization_id,
            "account": v.account_id,
        },
        "validation": v.record,
    });
    Authorization {
        id: id.clone(),
        account_id: account.id.clone(),
        identifier: Identifier::dns(domain),
        wildcard,
        status: AuthorizationStatus::Valid,
        expires: reuse.until,
        challenges: vec![Challenge {
            id: ids::random_id(),
            authorization_id: id,
            kind: v.method,
            token: ids::random_id(),
            status: ChallengeStatus::Valid,
            validated: Some(v.validated_at),
            error: None,
            record: Some(record),
            lease_until: None,
        }],
    }
}

fn new_authorization(
    account: &Account,
    domain: &str,
    wildcard: bool,
    expires: OffsetDateTime,
) -> Authorization {
    let id = ids::random_id();
    // §7.1.3: a wildcard can only be validated with dns-01.
    let kinds: &[ChallengeType] = if wildcard {
        &[ChallengeType::Dns01]
    } else {
        &[
            ChallengeType::Http01,
            ChallengeType::Dns01,
            ChallengeType::TlsAlpn01,
        ]
    };
    let challenges = kinds
        .iter()
        .map(|&kind| Challenge {
            id: ids::random_id(),
            authorization_id: id.clone(),
            kind,
            token: ids::random_id(),
            status: ChallengeStatus::Pending,
            validated: None,
            error: None,
            record: None,
            lease_until: None,
        })
        .collect();
    Authorization {
        id,
        account_id: account.id.clone(),
        identifier: Identifier::dns(domain),
        wildcard,
        status: AuthorizationStatus::Pending,
        expires,
        challenges,
    }
}

fn parse_time(field: &str, value: Option<&str>) -> Result<Option<OffsetDateTime>, CoreError> {
    value
        .map(|v| {
            OffsetDateTime::parse(v, &Rfc3339).map_err(|_| {
                CoreError::problem(
                    ProblemType::Malformed,
                    format!(
                        "{field} {v:?} is not an RFC 3339 timestamp such as 2026-01-02T03:04:05Z"
                    ),
                )
            })
        })
        .transpose()
}

/// RFC 8555 §7.4: the server MAY refuse notBefore/notAfter it cannot honour; say why.
fn check_requested_validity(
    now: OffsetDateTime,
    not_before: Option<OffsetDateTime>,
    not_after: Option<OffsetDateTime>,
    max: time::Duration,
) -> Result<(), CoreError> {
    let start = not_before.unwrap_or(now);
    if let Some(nb) = not_before
        && (nb < now - time::Duration::hours(1) || nb > now + time::Duration::days(7))
    {
        {
            return Err(CoreError::problem(
                ProblemType::Malformed,
                "notBefore must be between one hour ago and seven days from now; omit it to start now",
            ));
        }
    }
    if let Some(na) = not_after {
        if na <= start {
            return Err(CoreError::problem(
                ProblemType::Malformed,
                "notAfter must be later than notBefore (or now)",
            ));
        }
        // Baseline Requirements §6.3.2: the configured validity cut to the maximum for the
        // issuance date; the period counts both ends.
        let max = super::finalize::leaf_validity(max, now, start);
        if na - start + time::Duration::seconds(1) > max {
            return Err(CoreError::problem(
                ProblemType::Malformed,
                format!(
                    "the requested validity exceeds this CA's maximum of {} days (the Baseline Requirements allow {} days for certificates issued now); request a notAfter less than {} days after notBefore, or omit notAfter to get the default",
                    max.whole_days(),
                    ferrite_pki::max_leaf_validity(now).whole_days(),
                    max.whole_days()
                ),
            ));
        }
    }
    Ok(())
}

pub(super) fn not_found(what: &str) -> CoreError {
    let mut p = Problem::new(
        ProblemType::Malformed,
        format!(
            "no such {what}; use the URLs this server returned, with the account that created them"
        ),
    );
    p.status = Some(404);
    p.into()
}
