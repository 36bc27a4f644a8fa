//! The CRLs the instances share (`crl_shards`, one row per CRL): the last one signed, the
//! revocation generation of its scope, and the lease of the one instance signing the next.

use ferrite_core::StoreError;
use ferrite_core::model::{CrlScope, CrlStatus, SharedCrl, StoredCrl};
use rusqlite::params;
use time::OffsetDateTime;

use crate::codec::{from_micros, micros};
use crate::db::{at, execute, query_all, query_opt};
use crate::open::SqliteStore;

/// The `crl_shards` key of `scope`: the unsharded CRL is ('', -1).
pub(crate) fn key(scope: &CrlScope) -> (&str, i64) {
    match scope {
        CrlScope::Unsharded => ("", -1),
        CrlScope::Shard { issuer_id, shard } => (issuer_id, i64::from(*shard)),
    }
}

pub(crate) async fn shared(store: &SqliteStore, scope: &CrlScope) -> Result<SharedCrl, StoreError> {
    let (issuer_id, shard) = key(scope);
    store.db.read(|conn| {
        let found = query_opt(
            conn,
            "SELECT generation, der, signed_at, der_generation FROM crl_shards \
             WHERE issuer_id = ? AND shard = ?",
            params![issuer_id, shard],
            |row| {
                let generation: i64 = at(row, 0, "generation")?;
                let der: Option<Vec<u8>> = at(row, 1, "der")?;
                let signed_at: Option<i64> = at(row, 2, "signed_at")?;
                let der_generation: Option<i64> = at(row, 3, "der_generation")?;
                Ok(SharedCrl {
                    generation: counter(generation),
                    stored: match (der, signed_at, der_generation) {
                        (Some(der), Some(signed_at), Some(g)) => Some(StoredCrl {
                            der,
                            signed_at: from_micros(signed_at, "crl_shards.signed_at")?,
                            generation: counter(g),
                        }),
                        _ => None,
                    },
                })
            },
        )?;
        Ok(found.unwrap_or(SharedCrl {
            generation: 0,
            stored: None,
        }))
    })
}

pub(crate) async fn generation(store: &SqliteStore, scope: &CrlScope) -> Result<u64, StoreError> {
    let (issuer_id, shard) = key(scope);
    store.db.read(|conn| {
        Ok(query_opt(
            conn,
            "SELECT generation FROM crl_shards WHERE issuer_id = ? AND shard = ?",
            params![issuer_id, shard],
            |row| at::<i64>(row, 0, "generation").map(counter),
        )?
        .unwrap_or(0))
    })
}

// The issuer's rows and the unsharded CRL's ('', -1), metadata only.
pub(crate) async fn statuses(
    store: &SqliteStore,
    issuer_id: &str,
) -> Result<Vec<(CrlScope, CrlStatus)>, StoreError> {
    store.db.read(|conn| {
        query_all(
            conn,
            "SELECT issuer_id, shard, generation, signed_at, der_generation FROM crl_shards \
             WHERE issuer_id = ?1 OR (issuer_id = '' AND shard = -1) ORDER BY shard",
            [issuer_id],
            |row| {
                status_of(
                    at(row, 0, "issuer_id")?,
                    at(row, 1, "shard")?,
                    at(row, 2, "generation")?,
                    at(row, 3, "signed_at")?,
                    at(row, 4, "der_generation")?,
                )
            },
        )
    })
}

/// A `crl_shards` row's scope and status.
pub(crate) fn status_of(
    issuer_id: String,
    shard: i64,
    generation: i64,
    signed_at: Option<i64>,
    der_generation: Option<i64>,
) -> Result<(CrlScope, CrlStatus), StoreError> {
    let scope = match u32::try_from(shard) {
        Ok(shard) if !issuer_id.is_empty() => CrlScope::Shard { issuer_id, shard },
        _ => CrlScope::Unsharded,
    };
    let stored = match (signed_at, der_generation) {
        (Some(at), Some(g)) => Some((from_micros(at, "crl_shards.signed_at")?, counter(g))),
        _ => None,
    };
    Ok((
        scope,
        CrlStatus {
            generation: counter(generation),
            stored,
        },
    ))
}

// One upsert: the row is made by the first lease or revocation of its scope, and of instances
// racing for the lease the write lock orders them and only the first finds it free.
pub(crate) async fn take_lease(
    store: &SqliteStore,
    scope: &CrlScope,
    holder: &str,
    now: OffsetDateTime,
    until: OffsetDateTime,
) -> Result<Option<u64>, StoreError> {
    let (issuer_id, shard) = key(scope);
    let (issuer_id, holder) = (issuer_id.to_owned(), holder.to_owned());
    store
        .db
        .write(move |conn| {
            query_opt(
                conn,
                "INSERT INTO crl_shards (issuer_id, shard, generation, lease_holder, lease_until) \
                 VALUES (?1, ?2, 0, ?3, ?4) \
                 ON CONFLICT (issuer_id, shard) DO UPDATE \
                   SET lease_holder = excluded.lease_holder, lease_until = excluded.lease_until \
                   WHERE crl_shards.lease_until IS NULL OR crl_shards.lease_until <= ?5 \
                     OR crl_shards.lease_holder = ?3 \
                 RETURNING generation",
                params![issuer_id, shard, holder, micros(until), micros(now)],
                |row| at::<i64>(row, 0, "generation").map(counter),
            )
        })
        .await
}

pub(crate) async fn store(
    store: &SqliteStore,
    scope: &CrlScope,
    holder: &str,
    crl: &StoredCrl,
) -> Result<bool, StoreError> {
    let (issuer_id, shard) = key(scope);
    let (issuer_id, holder) = (issuer_id.to_owned(), holder.to_owned());
    let crl = crl.clone();
    store
        .db
        .write(move |conn| {
            execute(
                conn,
                "UPDATE crl_shards SET der = ?, signed_at = ?, der_generation = ?, \
                   lease_holder = NULL, lease_until = NULL \
                 WHERE issuer_id = ? AND shard = ? AND lease_holder = ?",
                params![
                    crl.der,
                    micros(crl.signed_at),
                    i64::try_from(crl.generation).unwrap_or(i64::MAX),
                    issuer_id,
                    shard,
                    holder
                ],
            )
            .map(|n| n == 1)
        })
        .await
}

/// A generation as stored (never negative).
pub(crate) fn counter(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
