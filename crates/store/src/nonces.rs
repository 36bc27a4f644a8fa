//! Anti-replay nonces (RFC 8555 §6.5), in the attached `nonces` database (not fsynced on
//! commit; see `open::attach_nonce_database`).

use ferrite_core::StoreError;
use time::OffsetDateTime;

use crate::codec::micros;
use crate::error::db_error;
use crate::open::SqliteStore;

pub(crate) async fn insert(
    store: &SqliteStore,
    nonce: &str,
    expires: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO nonces.nonces (value, expires) VALUES (?, ?)")
        .bind(nonce)
        .bind(micros(expires))
        .execute(&store.pool)
        .await
        .map_err(db_error)?;
    Ok(())
}

// RFC 8555 §6.5.2: "The server MUST NOT accept a nonce more than once" — one DELETE ...
// RETURNING, so of any number of concurrent redeemers (on any instance) exactly one sees the row.
pub(crate) async fn redeem(
    store: &SqliteStore,
    nonce: &str,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let redeemed: Option<String> = sqlx::query_scalar(
        "DELETE FROM nonces.nonces WHERE value = ? AND expires > ? RETURNING value",
    )
    .bind(nonce)
    .bind(micros(now))
    .fetch_optional(&store.pool)
    .await
    .map_err(db_error)?;
    Ok(redeemed.is_some())
}

/// Deletes nonces no longer redeemable at `now` (`expires <= now`, the complement of what
/// [`redeem`] accepts).
pub(crate) async fn purge(store: &SqliteStore, now: OffsetDateTime) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM nonces.nonces WHERE expires <= ?")
        .bind(micros(now))
        .execute(&store.pool)
        .await
        .map_err(db_error)?;
    Ok(done.rows_affected())
}
