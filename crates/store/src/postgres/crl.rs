//! The CRL the instances share (`crl_state`): the last one signed, the revocation generation
//! it lists, and the lease of the one instance signing the next.

use ferrite_core::StoreError;
use ferrite_core::model::{SharedCrl, StoredCrl};
use time::OffsetDateTime;

use super::{PostgresStore, at};
use crate::codec::{from_micros, micros};

pub(crate) async fn shared(store: &PostgresStore) -> Result<SharedCrl, StoreError> {
    let row = store
        .query_opt(
            "SELECT generation, der, signed_at, der_generation FROM crl_state WHERE id = 1",
            &[],
        )
        .await?
        .ok_or_else(|| StoreError::Corrupt("crl_state has no row".to_owned()))?;
    let generation: i64 = at(&row, 0, "generation")?;
    let der: Option<Vec<u8>> = at(&row, 1, "der")?;
    let signed_at: Option<i64> = at(&row, 2, "signed_at")?;
    let der_generation: Option<i64> = at(&row, 3, "der_generation")?;
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
}

pub(crate) async fn generation(store: &PostgresStore) -> Result<u64, StoreError> {
    let row = store
        .query_opt("SELECT generation FROM crl_state WHERE id = 1", &[])
        .await?
        .ok_or_else(|| StoreError::Corrupt("crl_state has no row".to_owned()))?;
    Ok(counter(at(&row, 0, "generation")?))
}

// One conditional UPDATE: of instances racing for the lease, the row lock orders them and
// only the first finds it free.
pub(crate) async fn take_lease(
    store: &PostgresStore,
    holder: &str,
    now: OffsetDateTime,
    until: OffsetDateTime,
) -> Result<Option<u64>, StoreError> {
    let row = store
        .query_opt(
            "UPDATE crl_state SET lease_holder = $1, lease_until = $2 \
             WHERE id = 1 AND (lease_until IS NULL OR lease_until <= $3 OR lease_holder = $1) \
             RETURNING generation",
            &[&holder, &micros(until), &micros(now)],
        )
        .await?;
    row.map(|row| at::<i64>(&row, 0, "generation").map(counter))
        .transpose()
}

pub(crate) async fn store(
    store: &PostgresStore,
    holder: &str,
    crl: &StoredCrl,
) -> Result<bool, StoreError> {
    store
        .execute(
            "UPDATE crl_state SET der = $1, signed_at = $2, der_generation = $3, \
               lease_holder = NULL, lease_until = NULL \
             WHERE id = 1 AND lease_holder = $4",
            &[
                &crl.der,
                &micros(crl.signed_at),
                &i64::try_from(crl.generation).unwrap_or(i64::MAX),
                &holder,
            ],
        )
        .await
        .map(|n| n == 1)
}

/// A generation as stored (never negative).
fn counter(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
