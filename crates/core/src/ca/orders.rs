//! Orders (RFC 8555 §7.4): newOrder, reading an order, the account's orders list, and the
//! notBefore/notAfter a client may request.

use ferrite_proto::requests::NewOrder;
use ferrite_proto::{AuthorizationStatus, OrderStatus, ProblemType};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::authorizations::new_authorization;
use super::reuse::reused_authorization;
use super::{Ca, Reader, not_found};
use crate::model::{Account, Authorization, Order, ValidationOwner};
use crate::{CoreError, OrderChecks, OrderInsert, ids, status};

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

impl Ca {
    /// RFC 8555 §7.4 newOrder.
    pub async fn new_order(
        &self,
        account: &Account,
        request: NewOrder,
    ) -> Result<OrderView, CoreError> {
        let cfg = &self.inner.config;
        let now = self.now();
        let identifiers = cfg
            .identifier_policy
            .check_order(request.identifiers, cfg.max_identifiers)?;
        let not_before = parse_time("notBefore", request.not_before.as_deref())?;
        let not_after = parse_time("notAfter", request.not_after.as_deref())?;
        let profile = self
            .order_profile(account, request.profile.as_deref())
            .await?;
        check_requested_validity(now, not_before, not_after, profile.validity())?;
        // RFC 8555 §6.7 rateLimited: the limits that need no authorization are read before any
        // is looked up or written.
        let names: Vec<&str> = identifiers.iter().map(|i| i.base_domain()).collect();
        let values: Vec<&str> = identifiers.iter().map(|i| i.value.as_str()).collect();
        let replaces = match request.replaces.as_deref() {
            Some(cert_id) => Some(self.check_replaces(account, cert_id, &identifiers).await?),
            None => None,
        };
        let renewal = self.renewal_kind(&values, replaces.as_deref(), now).await?;
        let limits = self
            .check_order_limits(account, &names, &values, renewal)
            .await?;

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
            profile: Some(profile.name),
            replaces,
        };
        let adding = new_authorizations
            .iter()
            .filter(|a| a.status == AuthorizationStatus::Pending)
            .count() as u64;
        self.check_pending(account, limits.max_pending, adding)
            .await?;
        // RFC 9773 §5 (one live replacement per certificate) and the account's pending
        // authorizations are checked again in the transaction that inserts the order, so two
        // orders racing cannot both pass them, and the new order is spent there, so an order
        // refused is not spent.
        let max_pending = limits.max_pending;
        let checks = OrderChecks {
            replacement_at: order.replaces.is_some().then_some(now),
            max_pending: (max_pending > 0).then_some((u64::from(max_pending), now)),
            spend: limits.spend.clone(),
        };
        match self
            .inner
            .store
            .insert_order_checked(&order, &new_authorizations, checks)
            .await?
        {
            OrderInsert::Inserted => {}
            // "If the Server rejects the request because the identified certificate has
            // already been marked as replaced, it MUST return an HTTP 409 (Conflict) with a
            // problem document of type "alreadyReplaced"".
            OrderInsert::AlreadyReplaced => {
                return Err(CoreError::problem(
                    ProblemType::AlreadyReplaced,
                    "another order already replaces this certificate; finish that order (its URL is in your client's state), or leave replaces out",
                ));
            }
            OrderInsert::TooManyPending { pending, earliest } => {
                return Err(super::rate_limits::pending_refusal(
                    max_pending,
                    pending,
                    adding,
                    earliest,
                    now,
                ));
            }
            // Another order of the account (on any instance) spent the last one meanwhile.
            OrderInsert::RateLimited { tat } => {
                let limit = crate::rate_limit::LimitName::NewOrdersPerAccount;
                let gcra = limits.spend.as_ref().map(|s| s.gcra).ok_or_else(|| {
                    CoreError::Internal(
                        "the store refused a new order it was not asked to spend".into(),
                    )
                })?;
                return Err(crate::rate_limit::refused_at(
                    limit,
                    limits.new_orders,
                    &gcra,
                    tat,
                    None,
                    now,
                ));
            }
        }
        if new_authorizations.len() == order.authorization_ids.len() {
            // Every authorization was created just now, as inserted: no need to read them back.
            return Ok(OrderView::new(order, new_authorizations, now));
        }
        self.order_view(order).await
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
