//! Anti-replay nonces (RFC 8555 §6.5). `ferrite_core::nonce` issues and checks them; the
//! store keeps the shared key (main database, durable) and the record of used nonces (their own
//! file, not fsynced on commit; see `db::open_nonce_connection`). Recording a use is one
//! autocommitted statement on the nonce connection, run inline.

use ferrite_core::StoreError;
use rusqlite::params;
use time::OffsetDateTime;

use crate::codec::micros;
use crate::db::{col, execute, query_opt};
use crate::open::SqliteStore;

/// The stored key, or `candidate` stored and returned if there is none (one write job: of
/// several instances starting at once, the first insert wins and every one reads it back).
pub(crate) async fn key(store: &SqliteStore, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
    let candidate = candidate.to_vec();
    store
        .db
        .write(move |conn| {
            execute(
                conn,
                "INSERT INTO nonce_key (id, key) VALUES (1, ?) ON CONFLICT (id) DO NOTHING",
                [candidate],
            )?;
            query_opt(conn, "SELECT key FROM nonce_key WHERE id = 1", [], |row| {
                col(row, "key")
            })?
            .ok_or_else(|| StoreError::Corrupt("nonce_key has no row".to_owned()))
        })
        .await
}

// RFC 8555 §6.5.2: "The server MUST NOT accept a nonce more than once" — one insert that does
// nothing for a nonce already recorded, so of any number of concurrent redeemers (on any
// instance) exactly one changes a row.
pub(crate) async fn consume(
    store: &SqliteStore,
    nonce: &str,
    expires: OffsetDateTime,
) -> Result<bool, StoreError> {
    store.db.nonces(|conn| {
        execute(
            conn,
            "INSERT INTO used_nonces (expires, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
            params![micros(expires), nonce],
        )
        .map(|n| n == 1)
    })
}

/// Deletes the records of nonces that expired at or before `now` (they can no longer be
/// presented: `ferrite_core::nonce` refuses an expired nonce before asking the store).
pub(crate) async fn purge(store: &SqliteStore, now: OffsetDateTime) -> Result<u64, StoreError> {
    store.db.nonces(|conn| {
        execute(
            conn,
            "DELETE FROM used_nonces WHERE expires <= ?",
            [micros(now)],
        )
        .map(|n| n as u64)
    })
}
