//! Orders (RFC 8555 §7.1.3, §7.4): creation with their authorizations, listing, finalize CAS.

use ferrite_core::StoreError;
use ferrite_core::model::{Authorization, Order};
use ferrite_proto::{Identifier, OrderStatus, Problem};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

use crate::authorizations;
use crate::codec::{
    from_json, from_json_opt, from_micros, from_micros_opt, micros, parse_wire, to_json,
};
use crate::error::db_error;
use crate::open::SqliteStore;

// RFC 8555 §7.4: the order and every authorization it creates appear together or not at all.
// Authorizations first (the order's links reference them), then the order, then its links in
// identifier order.
pub(crate) async fn insert(
    store: &SqliteStore,
    order: &Order,
    new_authorizations: &[Authorization],
) -> Result<(), StoreError> {
    let mut tx = store.begin_write().await?;
    for authz in new_authorizations {
        authorizations::insert_in(&mut tx, authz).await?;
    }
    sqlx::query(
        "INSERT INTO orders (id, account_id, status, identifiers, expires, not_before, \
         not_after, error, certificate_serial, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&order.id)
    .bind(&order.account_id)
    .bind(order.status.as_str())
    .bind(to_json(&order.identifiers, "identifiers")?)
    .bind(micros(order.expires))
    .bind(order.not_before.map(micros))
    .bind(order.not_after.map(micros))
    .bind(
        order
            .error
            .as_ref()
            .map(|p| to_json(p, "error"))
            .transpose()?,
    )
    .bind(order.certificate_serial.as_deref())
    .bind(micros(order.created_at))
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    for (position, authz_id) in order.authorization_ids.iter().enumerate() {
        sqlx::query(
            "INSERT INTO order_authorizations (order_id, position, authorization_id) \
             VALUES (?, ?, ?)",
        )
        .bind(&order.id)
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .bind(authz_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    }
    tx.commit().await.map_err(db_error)?;
    Ok(())
}

pub(crate) async fn by_id(store: &SqliteStore, id: &str) -> Result<Option<Order>, StoreError> {
    // One statement (the authorization links aggregated in a subquery) sees one snapshot and is
    // one round trip to the database thread: no transaction needed.
    let row = sqlx::query(
        "SELECT id, account_id, status, identifiers, expires, not_before, not_after, error, \
         certificate_serial, created_at, \
         (SELECT json_group_array(authorization_id ORDER BY position) \
          FROM order_authorizations WHERE order_id = orders.id) AS authorization_ids \
         FROM orders WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(&store.pool)
    .await
    .map_err(db_error)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let authorization_ids: String = row.try_get("authorization_ids").map_err(db_error)?;
    let authorization_ids = from_json(&authorization_ids, "order_authorizations")?;
    decode(&row, authorization_ids).map(Some)
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
    let query = match after {
        None => sqlx::query_scalar(
            "SELECT id FROM orders WHERE account_id = ? ORDER BY seq DESC LIMIT ?",
        )
        .bind(account_id)
        .bind(i64::from(limit)),
        Some(cursor) => sqlx::query_scalar(
            "SELECT id FROM orders WHERE account_id = ?1 AND seq < \
             (SELECT seq FROM orders WHERE id = ?2 AND account_id = ?1) \
             ORDER BY seq DESC LIMIT ?3",
        )
        .bind(account_id)
        .bind(cursor)
        .bind(i64::from(limit)),
    };
    query.fetch_all(&store.pool).await.map_err(db_error)
}

// RFC 8555 §7.4: "processing" once the server has accepted the finalize request; the single
// UPDATE lets only one of several concurrent finalize calls through.
pub(crate) async fn begin_finalize(
    store: &SqliteStore,
    order_id: &str,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    // RFC 8555 §7.4: the readiness check and the move to `processing` are one statement, so a
    // deactivation or an expiry cannot slip in between.
    let done = sqlx::query(
        "UPDATE orders SET status = 'processing' \
         WHERE id = ?1 AND status = 'pending' AND expires > ?2 \
         AND NOT EXISTS (SELECT 1 FROM order_authorizations oa \
             JOIN authorizations a ON a.id = oa.authorization_id \
             WHERE oa.order_id = orders.id AND (a.status <> 'valid' OR a.expires <= ?2))",
    )
    .bind(order_id)
    .bind(micros(now))
    .execute(&store.pool)
    .await
    .map_err(db_error)?;
    Ok(done.rows_affected() == 1)
}

// RFC 8555 §7.1.6: an order becomes "invalid" when an error occurs while it is pending or
// processing. Final states (valid, invalid) are left alone.
pub(crate) async fn fail(
    store: &SqliteStore,
    order_id: &str,
    error: &Problem,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE orders SET status = 'invalid', error = ? \
         WHERE id = ? AND status IN ('pending', 'processing')",
    )
    .bind(to_json(error, "error")?)
    .bind(order_id)
    .execute(&store.pool)
    .await
    .map_err(db_error)?;
    if done.rows_affected() == 0 {
        tracing::debug!(
            order_id,
            "fail_order ignored: the order is missing or already final"
        );
    }
    Ok(())
}

fn decode(row: &SqliteRow, authorization_ids: Vec<String>) -> Result<Order, StoreError> {
    let status: String = row.try_get("status").map_err(db_error)?;
    let identifiers: String = row.try_get("identifiers").map_err(db_error)?;
    let error: Option<String> = row.try_get("error").map_err(db_error)?;
    let identifiers: Vec<Identifier> = from_json(&identifiers, "orders.identifiers")?;
    Ok(Order {
        id: row.try_get("id").map_err(db_error)?,
        account_id: row.try_get("account_id").map_err(db_error)?,
        status: parse_wire(&status, "orders.status", OrderStatus::parse)?,
        identifiers,
        authorization_ids,
        expires: from_micros(row.try_get("expires").map_err(db_error)?, "orders.expires")?,
        not_before: from_micros_opt(
            row.try_get("not_before").map_err(db_error)?,
            "orders.not_before",
        )?,
        not_after: from_micros_opt(
            row.try_get("not_after").map_err(db_error)?,
            "orders.not_after",
        )?,
        error: from_json_opt(error.as_deref(), "orders.error")?,
        certificate_serial: row.try_get("certificate_serial").map_err(db_error)?,
        created_at: from_micros(
            row.try_get("created_at").map_err(db_error)?,
            "orders.created_at",
        )?,
    })
}
