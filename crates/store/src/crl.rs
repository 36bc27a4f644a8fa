//! The CRL the instances share (`crl_state`): the last one signed, the revocation generation
//! it lists, and the lease of the one instance signing the next.

use ferrite_core::StoreError;
use ferrite_core::model::{SharedCrl, StoredCrl};
use rusqlite::params;
use time::OffsetDateTime;

use crate::codec::{from_micros, micros};
use crate::db::{at, execute, query_opt};
use crate::open::SqliteStore;

pub(crate) async fn shared(store: &SqliteStore) -> Result<SharedCrl, StoreError> {
    store.db.read(|conn| {
        query_opt(
            conn,
            "SELECT generation, der, signed_at, der_generation FROM crl_state WHERE id = 1",
            [],
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
                            signed_at: from_micros(signed_at, "crl_state.signed_at")?,
                            generation: counter(g),
                        }),
                        _ => None,
                    },
                })
            },
        )?
        .ok_or_else(|| StoreError::Corrupt("crl_state has no row".to_owned()))
    })
}

pub(crate) async fn generation(store: &SqliteStore) -> Result<u64, StoreError> {
    store.db.read(|conn| {
        query_opt(
            conn,
            "SELECT generation FROM crl_state WHERE id = 1",
            [],
            |row| at::<i64>(row, 0, "generation").map(counter),
        )?
        .ok_or_else(|| StoreError::Corrupt("crl_state has no row".to_owned()))
    })
}

pub(crate) async fn take_lease(
    store: &SqliteStore,
    holder: &str,
    now: OffsetDateTime,
    until: OffsetDateTime,
) -> Result<Option<u64>, StoreError> {
    let holder = holder.to_owned();
    store
        .db
        .write(move |conn| {
            query_opt(
                conn,
                "UPDATE crl_state SET lease_holder = ?1, lease_until = ?2 \
                 WHERE id = 1 AND (lease_until IS NULL OR lease_until <= ?3 OR lease_holder = ?1) \
                 RETURNING generation",
                params![holder, micros(until), micros(now)],
                |row| at::<i64>(row, 0, "generation").map(counter),
            )
        })
        .await
}

pub(crate) async fn store(
    store: &SqliteStore,
    holder: &str,
    crl: &StoredCrl,
) -> Result<bool, StoreError> {
    let holder = holder.to_owned();
    let crl = crl.clone();
    store
        .db
        .write(move |conn| {
            execute(
                conn,
                "UPDATE crl_state SET der = ?, signed_at = ?, der_generation = ?, \
                   lease_holder = NULL, lease_until = NULL \
                 WHERE id = 1 AND lease_holder = ?",
                params![
                    crl.der,
                    micros(crl.signed_at),
                    i64::try_from(crl.generation).unwrap_or(i64::MAX),
                    holder
                ],
            )
            .map(|n| n == 1)
        })
        .await
}

/// A generation as stored (never negative).
fn counter(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
