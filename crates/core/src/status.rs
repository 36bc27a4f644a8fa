//! Statuses that are derived when an object is read, so that no background job has to flip
//! them: an order whose authorizations are all valid is `ready` (RFC 8555 §7.1.6), anything past
//! its expiry is `expired`/`invalid`.

use ferrite_proto::{AuthorizationStatus, ChallengeStatus, OrderStatus};
use time::OffsetDateTime;

use crate::model::{Authorization, Challenge, Order};

/// The status an authorization shows at `now`.
pub fn authorization_status(authz: &Authorization, now: OffsetDateTime) -> AuthorizationStatus {
    match authz.status {
        AuthorizationStatus::Pending | AuthorizationStatus::Valid if authz.expires <= now => {
            AuthorizationStatus::Expired
        }
        s => s,
    }
}

/// The status an order shows at `now`, given its authorizations.
///
/// RFC 8555 §7.1.6: `pending` until all authorizations are valid, then `ready`; `invalid` if any
/// authorization fails or the order expires before it is finalized.
pub fn order_status(order: &Order, authzs: &[Authorization], now: OffsetDateTime) -> OrderStatus {
    match order.status {
        OrderStatus::Pending => {
            if order.expires <= now {
                return OrderStatus::Invalid;
            }
            let mut all_valid = authzs.len() == order.authorization_ids.len();
            for a in authzs {
                match authorization_status(a, now) {
                    AuthorizationStatus::Valid => {}
                    AuthorizationStatus::Pending => all_valid = false,
                    _ => return OrderStatus::Invalid,
                }
            }
            if all_valid {
                OrderStatus::Ready
            } else {
                OrderStatus::Pending
            }
        }
        // Issuance takes milliseconds; a `processing` order past its expiry was abandoned by
        // a failure that could not be recorded, and is shown as what it is.
        OrderStatus::Processing if order.expires <= now => OrderStatus::Invalid,
        s => s,
    }
}

/// The challenges an authorization shows, by its stored status.
///
/// RFC 8555 §7.1.4, `challenges`: "For pending authorizations, the challenges that the client
/// can fulfill in order to prove possession of the identifier. For valid authorizations, the
/// challenge that was validated. For invalid authorizations, the challenge that was attempted
/// and failed." The others are hidden (and so cannot be answered any more).
pub fn shown_challenges(authz: &Authorization) -> Vec<Challenge> {
    let wanted = match authz.status {
        AuthorizationStatus::Valid => ChallengeStatus::Valid,
        AuthorizationStatus::Invalid => ChallengeStatus::Invalid,
        _ => return authz.challenges.clone(),
    };
    let shown: Vec<Challenge> = authz
        .challenges
        .iter()
        .filter(|c| c.status == wanted)
        .cloned()
        .collect();
    // A finished authorization without a finished challenge would be a store bug; showing
    // everything then is more useful to whoever investigates than showing nothing.
    if shown.is_empty() {
        authz.challenges.clone()
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use ferrite_proto::{ChallengeType, Identifier};

    use super::*;

    fn authz(status: AuthorizationStatus, challenges: &[ChallengeStatus]) -> Authorization {
        let kinds = [
            ChallengeType::Http01,
            ChallengeType::Dns01,
            ChallengeType::TlsAlpn01,
        ];
        Authorization {
            id: "a".into(),
            account_id: "acct".into(),
            identifier: Identifier::dns("example.com"),
            wildcard: false,
            status,
            expires: OffsetDateTime::UNIX_EPOCH,
            challenges: challenges
                .iter()
                .zip(kinds)
                .enumerate()
                .map(|(i, (&status, kind))| Challenge {
                    id: i.to_string(),
                    authorization_id: "a".into(),
                    kind,
                    token: "t".into(),
                    status,
                    validated: None,
                    error: None,
                    record: None,
                    lease_until: None,
                })
                .collect(),
        }
    }

    #[test]
    fn finished_authorizations_show_only_the_deciding_challenge() {
        use ChallengeStatus::{Invalid, Pending, Processing, Valid};
        let kinds = |a: &Authorization| -> Vec<ChallengeType> {
            shown_challenges(a).iter().map(|c| c.kind).collect()
        };
        let pending = authz(
            AuthorizationStatus::Pending,
            &[Pending, Processing, Pending],
        );
        assert_eq!(kinds(&pending).len(), 3);
        let valid = authz(AuthorizationStatus::Valid, &[Pending, Valid, Pending]);
        assert_eq!(kinds(&valid), vec![ChallengeType::Dns01]);
        let invalid = authz(AuthorizationStatus::Invalid, &[Pending, Pending, Invalid]);
        assert_eq!(kinds(&invalid), vec![ChallengeType::TlsAlpn01]);
        let deactivated = authz(
            AuthorizationStatus::Deactivated,
            &[Pending, Pending, Pending],
        );
        assert_eq!(kinds(&deactivated).len(), 3);
        let odd = authz(AuthorizationStatus::Valid, &[Pending, Pending, Pending]);
        assert_eq!(kinds(&odd).len(), 3);
    }

    #[test]
    fn orders_show_ready_and_expiry_as_derived_statuses() {
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(1);
        let mut valid = authz(AuthorizationStatus::Valid, &[ChallengeStatus::Valid]);
        valid.expires = now + time::Duration::days(1);
        let order = |status, expires| Order {
            id: "o".into(),
            account_id: "acct".into(),
            status,
            identifiers: vec![Identifier::dns("example.com")],
            authorization_ids: vec!["a".into()],
            expires,
            not_before: None,
            not_after: None,
            error: None,
            certificate_serial: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
            profile: None,
            replaces: None,
        };
        let later = now + time::Duration::hours(1);
        let earlier = now - time::Duration::hours(1);
        let authzs = [valid];
        assert_eq!(
            order_status(&order(OrderStatus::Pending, later), &authzs, now),
            OrderStatus::Ready
        );
        assert_eq!(
            order_status(&order(OrderStatus::Pending, earlier), &authzs, now),
            OrderStatus::Invalid
        );
        assert_eq!(
            order_status(&order(OrderStatus::Processing, later), &authzs, now),
            OrderStatus::Processing
        );
        // An abandoned `processing` order does not keep clients polling forever.
        assert_eq!(
            order_status(&order(OrderStatus::Processing, earlier), &authzs, now),
            OrderStatus::Invalid
        );
        assert_eq!(
            order_status(&order(OrderStatus::Valid, earlier), &authzs, now),
            OrderStatus::Valid
        );
    }
}
