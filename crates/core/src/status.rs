//! Statuses that are derived when an object is read, so that no background job has to flip
//! them: an order whose authorizations are all valid is `ready` (RFC 8555 §7.1.6), anything past
//! its expiry is `expired`/`invalid`.

use ferrite_proto::{AuthorizationStatus, OrderStatus};
use time::OffsetDateTime;

use crate::model::{Authorization, Order};

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
        s => s,
    }
}
