//! Orders (RFC 8555 §7.1.3, §7.4): creation with their authorizations, listing, finalize CAS.

use ferrite_core::model::{Authorization, Order};
use ferrite_core::{OrderChecks, OrderInsert, StoreError};
use ferrite_proto::{AuthorizationStatus, Identifier, OrderStatus, Problem};
use rusqlite::{Connection, Row, params};
use time::OffsetDateTime;

use crate::codec::{
    from_json, from_json_opt, from_micros, from_micros_opt, micros, parse_wire, to_json,
};
use crate::db::{at, col, execute, query_all, query_opt};
use crate::error::db_error;
use crate::open::SqliteStore;
use crate::{authorizations, rate_limits};

// RFC 8555 §7.4: the order and every authorization it creates appear together or not at all
// (one write job), after the checks (pending authorizations; RFC 9773 §5: no other live order
// replacing the same certificate; the new order's rate limit step, last, so that a refused
// order spends nothing) in that job. Authorizations first (the order's links
// reference them), then the order, then its links in identifier order.
pub(crate) async fn insert(
    store: &SqliteStore,
    order: &Order,
    new_authorizations: &[Authorization],
    checks: OrderChecks,
) -> Result<OrderInsert, StoreError> {
    let order = order.clone();
    let new_authorizations = new_authorizations.to_vec();
    store
        .db
        .write(move |conn| {
            // The writer is the only one: what is checked here cannot change before the insert.
            if let Some((max, now)) = checks.max_pending {
                let (pending, earliest) = rate_limits::pending_in(conn, &order.account_id, now)?;
                let adding = new_authorizations
                    .iter()
                    .filter(|a| a.status == AuthorizationStatus::Pending)
                    .count() as u64;
                if pending + adding > max {
                    return Ok(OrderInsert::TooManyPending { pending, earliest });
                }
            }
            if let Some(now) = checks.replacement_at {
                let taken: bool = query_opt(
                    conn,
                    LIVE_REPLACEMENT_SQL,
                    params![order.replaces, micros(now)],
                    |row| at(row, 0, "live"),
                )?
                .unwrap_or(false);
                if taken {
                    return Ok(OrderInsert::AlreadyReplaced);
                }
            }
            if let Some(step) = &checks.spend
                && let Err(tat) = rate_limits::spend_in(conn, step)?
            {
                return Ok(OrderInsert::RateLimited { tat });
            }
            insert_in(conn, &order, &new_authorizations)?;
            Ok(OrderInsert::Inserted)
        })
        .await
}

/// [`insert`] inside the caller's write job.
pub(crate) fn insert_in(
    conn: &Connection,
    order: &Order,
    new_authorizations: &[Authorization],
) -> Result<(), StoreError> {
    for authz in new_authorizations {
        authorizations::insert_in(conn, authz)?;
    }
    let identifiers = to_json(&order.identifiers, "identifiers")?;
    let error = order
        .error
        .as_ref()
        .map(|p| to_json(p, "error"))
        .transpose()?;
    execute(
        conn,
        "INSERT INTO orders (id, account_id, status, identifiers, expires, not_before, \
         not_after, error, certificate_serial, created_at, profile, replaces) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params![
            order.id,
            order.account_id,
            order.status.as_str(),
            identifiers,
            micros(order.expires),
            order.not_before.map(micros),
            order.not_after.map(micros),
            error,
            order.certificate_serial,
            micros(order.created_at),
            order.profile,
            order.replaces,
        ],
    )?;
    for (position, authz_id) in order.authorization_ids.iter().enumerate() {
        execute(
            conn,
            "INSERT INTO order_authorizations (order_id, position, authorization_id) \
             VALUES (?, ?, ?)",
            params![
                order.id,
                i64::try_from(position).unwrap_or(i64::MAX),
                authz_id
            ],
        )?;
    }
    Ok(())
}

/// Whether a live order replaces the certificate `cert_id` at `now`: `valid` or `processing`,
/// or `pending`, unexpired and with no failed or deactivated authorization (an order that
/// can no longer be finalized frees the certificate for another).
pub(crate) const LIVE_REPLACEMENT_SQL: &str = "SELECT EXISTS (SELECT 1 FROM orders o \
     WHERE o.replaces = ?1 AND (o.status IN ('valid', 'processing') \
       OR (o.status = 'pending' AND o.expires > ?2 \
           AND NOT EXISTS (SELECT 1 FROM order_authorizations oa \
               JOIN authorizations a ON a.id = oa.authorization_id \
               WHERE oa.order_id = o.id AND a.status IN ('invalid', 'deactivated'))))) AS live";

// RFC 9773 §5: an order replacing a certificate is inserted only while no live order replaces
// it; the check and the insert are one write job (the writer runs one job at a time).
/// One order by id, with its authorization ids aggregated in a subquery (one statement, one
/// snapshot).
const SELECT_BY_ID: &str = "SELECT id, account_id, status, identifiers, expires, not_before, \
     not_after, error, certificate_serial, created_at, \
     (SELECT json_group_array(authorization_id ORDER BY position) \
      FROM order_authorizations WHERE order_id = orders.id) AS authorization_ids, \
     profile, replaces \
     FROM orders WHERE id = ?";

pub(crate) async fn by_id(store: &SqliteStore, id: &str) -> Result<Option<Order>, StoreError> {
    store
        .db
        .read(|conn| query_opt(conn, SELECT_BY_ID, [id], decode))
}

/// The order and its authorizations in one read transaction: one snapshot, and one start of a
/// read transaction (whose cost is mostly SQLite re-reading pages after another connection's
/// commit) instead of two.
pub(crate) async fn with_authorizations(
    store: &SqliteStore,
    id: &str,
) -> Result<Option<(Order, Vec<Authorization>)>, StoreError> {
    store.db.read(|conn| {
        let tx = conn.unchecked_transaction().map_err(db_error)?;
        let Some(order) = query_opt(&tx, SELECT_BY_ID, [id], decode)? else {
            return Ok(None);
        };
        let found = authorizations::by_ids_in(&tx, &order.authorization_ids)?;
        // Read-only: ending it either way releases the snapshot.
        tx.commit().map_err(db_error)?;
        Ok(Some((order, found)))
    })
}

// RFC 8555 §7.1.2.1: the orders list, paginated. Newest first by the never-reused `seq`; the
// cursor is the last order id of the previous page. An unknown cursor (or one of another
// account) yields an empty page rather than restarting from the top.
pub(crate) async fn ids_by_account(
    store: &SqliteStore,
    account_id: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<String>, StoreError> {
    store.db.read(|conn| match after {
        None => query_all(
            conn,
            "SELECT id FROM orders WHERE account_id = ? ORDER BY seq DESC LIMIT ?",
            params![account_id, i64::from(limit)],
            |row| col(row, "id"),
        ),
        Some(cursor) => query_all(
            conn,
            "SELECT id FROM orders WHERE account_id = ?1 AND seq < \
             (SELECT seq FROM orders WHERE id = ?2 AND account_id = ?1) \
             ORDER BY seq DESC LIMIT ?3",
            params![account_id, cursor, i64::from(limit)],
            |row| col(row, "id"),
        ),
    })
}

// The admin API's certificate listing: the profile each certificate's order named. The id
// list is bound as one JSON array, so the SQL stays static whatever its length.
pub(crate) async fn profiles(
    store: &SqliteStore,
    order_ids: &[String],
) -> Result<Vec<(String, Option<String>)>, StoreError> {
    let ids = to_json(order_ids, "order_ids")?;
    store.db.read(|conn| {
        query_all(
            conn,
            "SELECT id, profile FROM orders WHERE id IN (SELECT value FROM json_each(?))",
            [ids],
            |row| Ok((at(row, 0, "id")?, at(row, 1, "profile")?)),
        )
    })
}

// RFC 8555 §7.4: "processing" once the server has accepted the finalize request; the single
// UPDATE lets only one of several concurrent finalize calls through, and records its lease.
pub(crate) async fn begin_finalize(
    store: &SqliteStore,
    order_id: &str,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
) -> Result<bool, StoreError> {
    let order_id = order_id.to_owned();
    // RFC 8555 §7.4: the readiness check and the move to `processing` are one statement, so a
    // deactivation or an expiry cannot slip in between.
    store
        .db
        .write(move |conn| {
            execute(
                conn,
                "UPDATE orders SET status = 'processing', finalize_lease_until = ?3 \
                 WHERE id = ?1 AND status = 'pending' AND expires > ?2 \
                 AND NOT EXISTS (SELECT 1 FROM order_authorizations oa \
                     JOIN authorizations a ON a.id = oa.authorization_id \
                     WHERE oa.order_id = orders.id \
                     AND (a.status <> 'valid' OR a.expires <= ?2))",
                params![order_id, micros(now), micros(lease_until)],
            )
            .map(|n| n == 1)
        })
        .await
}

// RFC 8555 §7.1.6: an order becomes "invalid" when an error occurs while it is processing; only
// the finalize holding the lease may say so.
pub(crate) async fn fail_finalize(
    store: &SqliteStore,
    order_id: &str,
    lease_until: OffsetDateTime,
    error: &Problem,
) -> Result<(), StoreError> {
    let error = to_json(error, "error")?;
    let order_id = order_id.to_owned();
    store
        .db
        .write(move |conn| {
            let changed = execute(
                conn,
                "UPDATE orders SET status = 'invalid', error = ?, finalize_lease_until = NULL \
                 WHERE id = ? AND status = 'processing' AND finalize_lease_until = ?",
                params![error, order_id, micros(lease_until)],
            )?;
            if changed == 0 {
                tracing::debug!(
                    order_id,
                    "fail_finalize ignored: the order is no longer processing under this lease"
                );
            }
            Ok(())
        })
        .await
}

// An order left `processing` by a finalize whose lease expired goes back to `pending`: its
// instance died before recording a certificate (recording makes the order `valid` in the same
// transaction), so there is none, and the client may finalize again. An order without a lease
// was moved to `processing` by a Ferrite that recorded none, and is handed back too.
pub(crate) async fn reap_stale_finalizations(
    store: &SqliteStore,
    now: OffsetDateTime,
) -> Result<u64, StoreError> {
    store
        .db
        .write(move |conn| {
            execute(
                conn,
                "UPDATE orders SET status = 'pending', finalize_lease_until = NULL \
                 WHERE status = 'processing' \
                 AND (finalize_lease_until IS NULL OR finalize_lease_until < ?)",
                [micros(now)],
            )
            .map(|n| n as u64)
        })
        .await
}

fn decode(row: &Row<'_>) -> Result<Order, StoreError> {
    let status: String = at(row, 2, "status")?;
    let identifiers: String = at(row, 3, "identifiers")?;
    let error: Option<String> = at(row, 7, "error")?;
    let identifiers: Vec<Identifier> = from_json(&identifiers, "orders.identifiers")?;
    let authorization_ids: String = at(row, 10, "authorization_ids")?;
    Ok(Order {
        id: at(row, 0, "id")?,
        account_id: at(row, 1, "account_id")?,
        status: parse_wire(&status, "orders.status", OrderStatus::parse)?,
        identifiers,
        authorization_ids: from_json(&authorization_ids, "order_authorizations")?,
        expires: from_micros(at(row, 4, "expires")?, "orders.expires")?,
        not_before: from_micros_opt(at(row, 5, "not_before")?, "orders.not_before")?,
        not_after: from_micros_opt(at(row, 6, "not_after")?, "orders.not_after")?,
        error: from_json_opt(error.as_deref(), "orders.error")?,
        certificate_serial: at(row, 8, "certificate_serial")?,
        created_at: from_micros(at(row, 9, "created_at")?, "orders.created_at")?,
        profile: at(row, 11, "profile")?,
        replaces: at(row, 12, "replaces")?,
    })
}
