//! Blocked public keys (`blocked_keys`): keys reported compromised, by the SHA-256 of their
//! SubjectPublicKeyInfo.

use ferrite_core::StoreError;
use ferrite_core::model::BlockedKey;
use rusqlite::{Connection, Row, params};

use crate::codec::{from_micros, micros};
use crate::db::{at, execute, query_all, query_opt};
use crate::open::SqliteStore;

/// Inserts `key` inside the caller's write job unless it is blocked already (the first block
/// and its reason are kept). Returns whether it was inserted.
pub(crate) fn insert_in(conn: &Connection, key: &BlockedKey) -> Result<bool, StoreError> {
    Ok(execute(
        conn,
        "INSERT INTO blocked_keys (spki_sha256, blocked_at, reason, serial) \
         VALUES (?, ?, ?, ?) ON CONFLICT (spki_sha256) DO NOTHING",
        params![
            key.spki_sha256,
            micros(key.blocked_at),
            key.reason,
            key.serial
        ],
    )? == 1)
}

pub(crate) async fn block(store: &SqliteStore, key: &BlockedKey) -> Result<bool, StoreError> {
    let key = key.clone();
    store.db.write(move |conn| insert_in(conn, &key)).await
}

pub(crate) async fn unblock(store: &SqliteStore, spki_sha256: &str) -> Result<bool, StoreError> {
    let hash = spki_sha256.to_owned();
    store
        .db
        .write(move |conn| {
            Ok(execute(
                conn,
                "DELETE FROM blocked_keys WHERE spki_sha256 = ?",
                [hash],
            )? == 1)
        })
        .await
}

pub(crate) async fn by_hash(
    store: &SqliteStore,
    spki_sha256: &str,
) -> Result<Option<BlockedKey>, StoreError> {
    store.db.read(|conn| {
        query_opt(
            conn,
            "SELECT spki_sha256, blocked_at, reason, serial FROM blocked_keys \
             WHERE spki_sha256 = ?",
            [spki_sha256],
            decode,
        )
    })
}

pub(crate) async fn all(store: &SqliteStore) -> Result<Vec<BlockedKey>, StoreError> {
    store.db.read(|conn| {
        query_all(
            conn,
            "SELECT spki_sha256, blocked_at, reason, serial FROM blocked_keys \
             ORDER BY blocked_at, spki_sha256",
            [],
            decode,
        )
    })
}

fn decode(row: &Row<'_>) -> Result<BlockedKey, StoreError> {
    Ok(BlockedKey {
        spki_sha256: at(row, 0, "spki_sha256")?,
        blocked_at: from_micros(at(row, 1, "blocked_at")?, "blocked_keys.blocked_at")?,
        reason: at(row, 2, "reason")?,
        serial: at(row, 3, "serial")?,
    })
}
