//! Rate limits on PostgreSQL: as the SQLite module; the GCRA step is one
//! `INSERT … ON CONFLICT DO UPDATE … WHERE`, which locks the row, so concurrent steps on one
//! key (from any instance) apply one after another.

use deadpool_postgres::GenericClient;
use ferrite_core::rate_limit::Gcra;
use ferrite_core::{RateStep, StoreError};
use time::OffsetDateTime;

use super::{PostgresStore, at, db_error};
use crate::codec::{from_micros, from_micros_opt, micros};
use crate::rate_limits::{micros_of, override_value};

pub(crate) async fn tats(
    store: &PostgresStore,
    keys: &[String],
) -> Result<Vec<(String, OffsetDateTime)>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    store
        .query(
            "SELECT key, tat FROM rate_limits WHERE key = ANY($1)",
            &[&keys],
        )
        .await?
        .iter()
        .map(|row| {
            Ok((
                at(row, 0, "key")?,
                from_micros(at(row, 1, "tat")?, "rate_limits.tat")?,
            ))
        })
        .collect()
}

/// The GCRA step ([`crate::rate_limits::spend`]): `$1` key, `$2` now, `$3` increment, `$4`
/// tolerance; returns the new time when allowed, no row when refused.
const SPEND_SQL: &str = "INSERT INTO rate_limits (key, tat) VALUES ($1, $2::bigint + $3::bigint) \
     ON CONFLICT (key) DO UPDATE \
       SET tat = GREATEST(rate_limits.tat, $2::bigint) + $3::bigint \
       WHERE GREATEST(rate_limits.tat, $2::bigint) + $3::bigint <= $2::bigint + $4::bigint \
     RETURNING tat";

const TAT_SQL: &str = "SELECT tat FROM rate_limits WHERE key = $1";

pub(crate) async fn spend(
    store: &PostgresStore,
    key: &str,
    now: OffsetDateTime,
    gcra: &Gcra,
) -> Result<Result<OffsetDateTime, OffsetDateTime>, StoreError> {
    let conn = store.conn().await?;
    let step = RateStep {
        key: key.to_owned(),
        gcra: *gcra,
        now,
    };
    spend_on(&*conn, &step).await
}

/// [`spend`] on `client`: a pooled connection, or a transaction the step is part of (the
/// UPSERT keeps the row locked until it ends).
pub(crate) async fn spend_on(
    client: &impl GenericClient,
    step: &RateStep,
) -> Result<Result<OffsetDateTime, OffsetDateTime>, StoreError> {
    let now = micros(step.now);
    let increment = micros_of(step.gcra.increment);
    let tolerance = micros_of(step.gcra.tolerance);
    let statement = client.prepare_cached(SPEND_SQL).await.map_err(db_error)?;
    let spent = client
        .query_opt(&statement, &[&step.key, &now, &increment, &tolerance])
        .await
        .map_err(db_error)?;
    if let Some(row) = spent {
        return Ok(Ok(from_micros(at(&row, 0, "tat")?, "rate_limits.tat")?));
    }
    let statement = client.prepare_cached(TAT_SQL).await.map_err(db_error)?;
    let stored: i64 = match client
        .query_opt(&statement, &[&step.key])
        .await
        .map_err(db_error)?
    {
        Some(row) => at(&row, 0, "tat")?,
        None => now,
    };
    Ok(Err(from_micros(stored, "rate_limits.tat")?))
}

/// Deletes the rows whose time is past. Rows a transaction holds (an order's insert, a
/// certificate's completion, which lock theirs in key order) are skipped, left for the next
/// purge: one `DELETE` would lock the past rows in whatever order it finds them and could
/// deadlock with a completion holding one of them while it waits for another.
pub(crate) async fn purge(store: &PostgresStore, now: OffsetDateTime) -> Result<u64, StoreError> {
    store
        .execute(
            "DELETE FROM rate_limits WHERE key IN ( \
               SELECT key FROM rate_limits WHERE tat <= $1 FOR UPDATE SKIP LOCKED)",
            &[&micros(now)],
        )
        .await
}

pub(crate) async fn set_override(
    store: &PostgresStore,
    customer_id: &str,
    limit: &str,
    value: Option<u32>,
) -> Result<(), StoreError> {
    match value {
        Some(value) => {
            store
                .execute(
                    "INSERT INTO rate_limit_overrides (customer_id, limit_name, value) \
                     VALUES ($1, $2, $3) \
                     ON CONFLICT (customer_id, limit_name) DO UPDATE SET value = EXCLUDED.value",
                    &[&customer_id, &limit, &i64::from(value)],
                )
                .await?
        }
        None => {
            store
                .execute(
                    "DELETE FROM rate_limit_overrides WHERE customer_id = $1 AND limit_name = $2",
                    &[&customer_id, &limit],
                )
                .await?
        }
    };
    Ok(())
}

pub(crate) async fn overrides(
    store: &PostgresStore,
    customer_id: &str,
) -> Result<Vec<(String, u32)>, StoreError> {
    store
        .query(
            "SELECT limit_name, value FROM rate_limit_overrides WHERE customer_id = $1 \
             ORDER BY limit_name",
            &[&customer_id],
        )
        .await?
        .iter()
        .map(|row| {
            let value: i64 = at(row, 1, "value")?;
            Ok((at(row, 0, "limit_name")?, override_value(value)?))
        })
        .collect()
}

pub(crate) async fn pending_authorizations(
    store: &PostgresStore,
    account_id: &str,
    now: OffsetDateTime,
) -> Result<(u64, Option<OffsetDateTime>), StoreError> {
    let row = store
        .query_opt(super::orders::PENDING_SQL, &[&account_id, &micros(now)])
        .await?;
    let Some(row) = row else {
        return Ok((0, None));
    };
    let count: i64 = at(&row, 0, "pending")?;
    let earliest: Option<i64> = at(&row, 1, "earliest")?;
    Ok((
        u64::try_from(count).unwrap_or(0),
        from_micros_opt(earliest, "authorizations.expires")?,
    ))
}
