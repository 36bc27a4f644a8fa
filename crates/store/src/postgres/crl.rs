//! The CRLs the instances share (`crl_shards`, one row per CRL): the last one signed, the
//! revocation generation of its scope, and the lease of the one instance signing the next.

use ferrite_core::StoreError;
use ferrite_core::model::{CrlScope, CrlStatus, SharedCrl, StoredCrl};
use time::OffsetDateTime;

use super::{PostgresStore, at};
use crate::codec::{from_micros, micros};
use crate::crl::{counter, key, status_of};

pub(crate) async fn shared(
    store: &PostgresStore,
    scope: &CrlScope,
) -> Result<SharedCrl, StoreError> {
    let (issuer_id, shard) = key(scope);
    let Some(row) = store
        .query_opt(
            "SELECT generation, der, signed_at, der_generation FROM crl_shards \
             WHERE issuer_id = $1 AND shard = $2",
            &[&issuer_id, &shard],
        )
        .await?
    else {
        return Ok(SharedCrl {
            generation: 0,
            stored: None,
        });
    };
    let generation: i64 = at(&row, 0, "generation")?;
    let der: Option<Vec<u8>> = at(&row, 1, "der")?;
    let signed_at: Option<i64> = at(&row, 2, "signed_at")?;
    let der_generation: Option<i64> = at(&row, 3, "der_generation")?;
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
}

pub(crate) async fn generation(store: &PostgresStore, scope: &CrlScope) -> Result<u64, StoreError> {
    let (issuer_id, shard) = key(scope);
    let row = store
        .query_opt(
            "SELECT generation FROM crl_shards WHERE issuer_id = $1 AND shard = $2",
            &[&issuer_id, &shard],
        )
        .await?;
    row.map(|row| at::<i64>(&row, 0, "generation").map(counter))
        .transpose()
        .map(|g| g.unwrap_or(0))
}

// The issuer's rows and the unsharded CRL's ('', -1), metadata only.
pub(crate) async fn statuses(
    store: &PostgresStore,
    issuer_id: &str,
) -> Result<Vec<(CrlScope, CrlStatus)>, StoreError> {
    let rows = store
        .query(
            "SELECT issuer_id, shard, generation, signed_at, der_generation FROM crl_shards \
             WHERE issuer_id = $1 OR (issuer_id = '' AND shard = -1) ORDER BY shard",
            &[&issuer_id],
        )
        .await?;
    rows.iter()
        .map(|row| {
            status_of(
                at(row, 0, "issuer_id")?,
                at(row, 1, "shard")?,
                at(row, 2, "generation")?,
                at(row, 3, "signed_at")?,
                at(row, 4, "der_generation")?,
            )
        })
        .collect()
}

// One upsert: the row is made by the first lease or revocation of its scope; of instances
// racing for the lease, the row lock orders them and only the first finds it free.
pub(crate) async fn take_lease(
    store: &PostgresStore,
    scope: &CrlScope,
    holder: &str,
    now: OffsetDateTime,
    until: OffsetDateTime,
) -> Result<Option<u64>, StoreError> {
    let (issuer_id, shard) = key(scope);
    let row = store
        .query_opt(
            "INSERT INTO crl_shards (issuer_id, shard, generation, lease_holder, lease_until) \
             VALUES ($1, $2, 0, $3, $4) \
             ON CONFLICT (issuer_id, shard) DO UPDATE \
               SET lease_holder = excluded.lease_holder, lease_until = excluded.lease_until \
               WHERE crl_shards.lease_until IS NULL OR crl_shards.lease_until <= $5 \
                 OR crl_shards.lease_holder = $3 \
             RETURNING generation",
            &[&issuer_id, &shard, &holder, &micros(until), &micros(now)],
        )
        .await?;
    row.map(|row| at::<i64>(&row, 0, "generation").map(counter))
        .transpose()
}

pub(crate) async fn store(
    store: &PostgresStore,
    scope: &CrlScope,
    holder: &str,
    crl: &StoredCrl,
) -> Result<bool, StoreError> {
    let (issuer_id, shard) = key(scope);
    store
        .execute(
            "UPDATE crl_shards SET der = $1, signed_at = $2, der_generation = $3, \
               lease_holder = NULL, lease_until = NULL \
             WHERE issuer_id = $4 AND shard = $5 AND lease_holder = $6",
            &[
                &crl.der,
                &micros(crl.signed_at),
                &i64::try_from(crl.generation).unwrap_or(i64::MAX),
                &issuer_id,
                &shard,
                &holder,
            ],
        )
        .await
        .map(|n| n == 1)
}
