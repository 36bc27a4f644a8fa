//! Anti-replay nonces (RFC 8555 §6.5), in their own database file (not fsynced on commit; see
//! `db::open_nonce_connection`). Each call is one autocommitted statement on the nonce
//! connection, run inline.

use ferrite_core::StoreError;
use rusqlite::params;
use time::OffsetDateTime;

use crate::codec::micros;
use crate::db::{execute, query_opt};
use crate::open::SqliteStore;

pub(crate) async fn insert(
    store: &SqliteStore,
    nonce: &str,
    expires: OffsetDateTime,
) -> Result<(), StoreError> {
    store.db.nonces(|conn| {
        execute(
            conn,
            "INSERT INTO nonces (value, expires) VALUES (?, ?)",
            params![nonce, micros(expires)],
        )
        .map(drop)
    })
}

// RFC 8555 §6.5.2: "The server MUST NOT accept a nonce more than once" — one DELETE ...
// RETURNING, so of any number of concurrent redeemers (on any instance) exactly one sees the row.
pub(crate) async fn redeem(
    store: &SqliteStore,
    nonce: &str,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    store.db.nonces(|conn| {
        query_opt(
            conn,
            "DELETE FROM nonces WHERE value = ? AND expires > ? RETURNING value",
            params![nonce, micros(now)],
            |_| Ok(()),
        )
        .map(|row| row.is_some())
    })
}

/// Deletes nonces no longer redeemable at `now` (`expires <= now`, the complement of what
/// [`redeem`] accepts).
pub(crate) async fn purge(store: &SqliteStore, now: OffsetDateTime) -> Result<u64, StoreError> {
    store.db.nonces(|conn| {
        execute(conn, "DELETE FROM nonces WHERE expires <= ?", [micros(now)]).map(|n| n as u64)
    })
}
