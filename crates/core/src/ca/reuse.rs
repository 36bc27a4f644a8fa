//! Validation reuse at newOrder (RFC 8555 §7.1.4, Baseline Requirements §4.2.1): the kept
//! validation that lets a new authorization be valid at creation, and that authorization.

use ferrite_proto::{AuthorizationStatus, ChallengeStatus, Identifier};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Ca;
use crate::model::{Account, Authorization, Challenge, DomainValidation, ValidationOwner};
use crate::policy::{self, MIN_REUSE_REMAINING};
use crate::{CoreError, ids, status};

impl Ca {
    /// The validation that lets a new order's authorization for `base` (`*.base` when
    /// `wildcard`) be valid at creation, if any: owned by the account's customer (or the
    /// account itself without one), covering the name (exactly, or dns-01 of a parent), with
    /// its authorization not deactivated, and at least [`MIN_REUSE_REMAINING`] (or the order
    /// lifetime, if shorter) left of its reuse window. The one usable longest wins.
    pub(super) async fn reusable_validation(
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
}

/// A validation chosen for reuse by a new order.
pub(super) struct Reuse {
    /// The validation relied on.
    pub(super) validation: DomainValidation,
    /// When reliance on it ends (the authorization's expiry, and the latest the order may
    /// expire).
    pub(super) until: OffsetDateTime,
    /// The account's own valid authorization for exactly this name, to hand out again.
    pub(super) existing: Option<String>,
}

/// An authorization that is valid at creation (RFC 8555 §7.1.4) because `reuse` covers it. Its
/// one challenge is the method that was validated, with the original time; its record names the
/// validation relied on and carries its evidence, so the authorization shows how it was
/// authorized.
pub(super) fn reused_authorization(
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
