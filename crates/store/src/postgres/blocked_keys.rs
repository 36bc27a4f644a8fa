//! Blocked public keys (`blocked_keys`): keys reported compromised, by the SHA-256 of their
//! SubjectPublicKeyInfo.

use ferrite_core::StoreError;
use ferrite_core::model::BlockedKey;
use tokio_postgres::Row;

use super::{PostgresStore, at};
use crate::codec::{from_micros, micros};

/// The insert of a block that keeps an earlier one (its first reason) as it is.
pub(crate) const INSERT: &str = "INSERT INTO blocked_keys (spki_sha256, blocked_at, reason, serial) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (spki_sha256) DO NOTHING";

pub(crate) async fn block(store: &PostgresStore, key: &BlockedKey) -> Result<bool, StoreError> {
    Ok(store
        .execute(
            INSERT,
            &[
                &key.spki_sha256,
                &micros(key.blocked_at),
                &key.reason,
                &key.serial,
            ],
        )
        .await?
        == 1)
}

pub(crate) async fn unblock(store: &PostgresStore, spki_sha256: &str) -> Result<bool, StoreError> {
    Ok(store
        .execute(
            "DELETE FROM blocked_keys WHERE spki_sha256 = $1",
            &[&spki_sha256],
        )
        .await?
        == 1)
}

pub(crate) async fn by_hash(
    store: &PostgresStore,
    spki_sha256: &str,
) -> Result<Option<BlockedKey>, StoreError> {
    store
        .query_opt(
            "SELECT spki_sha256, blocked_at, reason, serial FROM blocked_keys \
             WHERE spki_sha256 = $1",
            &[&spki_sha256],
        )
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

pub(crate) async fn all(store: &PostgresStore) -> Result<Vec<BlockedKey>, StoreError> {
    store
        .query(
            "SELECT spki_sha256, blocked_at, reason, serial FROM blocked_keys \
             ORDER BY blocked_at, spki_sha256",
            &[],
        )
        .await?
        .iter()
        .map(decode)
        .collect()
}

fn decode(row: &Row) -> Result<BlockedKey, StoreError> {
    Ok(BlockedKey {
        spki_sha256: at(row, 0, "spki_sha256")?,
        blocked_at: from_micros(at(row, 1, "blocked_at")?, "blocked_keys.blocked_at")?,
        reason: at(row, 2, "reason")?,
        serial: at(row, 3, "serial")?,
    })
}
