//! Rate limits (`rate_limits`, `rate_limit_overrides`; `ferrite_core::rate_limit`): each
//! limited thing's GCRA theoretical arrival time, moved on by one conditional UPSERT, and the
//! values the operator set per customer. Also the count of an account's pending
//! authorizations, which newOrder limits.

use ferrite_core::rate_limit::Gcra;
use ferrite_core::{RateStep, StoreError};
use rusqlite::{Connection, params};
use time::OffsetDateTime;

use crate::codec::{from_micros, from_micros_opt, micros};
use crate::db::{at, execute, query_all, query_opt};
use crate::open::SqliteStore;

pub(crate) async fn tats(
    store: &SqliteStore,
    keys: &[String],
) -> Result<Vec<(String, OffsetDateTime)>, StoreError> {
    match keys {
        [] => Ok(Vec::new()),
        [key] => store.db.read(|conn| {
            query_all(
                conn,
                "SELECT key, tat FROM rate_limits WHERE key = ?",
                [key],
                decode_tat,
            )
        }),
        keys => {
            let keys = crate::codec::to_json(keys, "rate_limits.key")?;
            store.db.read(|conn| {
                query_all(
                    conn,
                    "SELECT key, tat FROM rate_limits \
                     WHERE key IN (SELECT value FROM json_each(?))",
                    [keys],
                    decode_tat,
                )
            })
        }
    }
}

fn decode_tat(row: &rusqlite::Row<'_>) -> Result<(String, OffsetDateTime), StoreError> {
    Ok((
        at(row, 0, "key")?,
        from_micros(at(row, 1, "tat")?, "rate_limits.tat")?,
    ))
}

/// One GCRA step in one statement: the row's `tat` becomes max(tat, now) + increment only if
/// that stays within the tolerance of now (a new row always does). `Ok(new tat)` when the
/// request is allowed, `Err(stored tat)` when refused (nothing written).
pub(crate) async fn spend(
    store: &SqliteStore,
    key: &str,
    now: OffsetDateTime,
    gcra: &Gcra,
) -> Result<Result<OffsetDateTime, OffsetDateTime>, StoreError> {
    let step = RateStep {
        key: key.to_owned(),
        gcra: *gcra,
        now,
    };
    store.db.write(move |conn| spend_in(conn, &step)).await
}

/// [`spend`] inside the caller's write job.
pub(crate) fn spend_in(
    conn: &Connection,
    step: &RateStep,
) -> Result<Result<OffsetDateTime, OffsetDateTime>, StoreError> {
    let now = micros(step.now);
    let spent = query_opt(
        conn,
        "INSERT INTO rate_limits (key, tat) VALUES (?1, ?2 + ?3) \
         ON CONFLICT (key) DO UPDATE SET tat = max(tat, ?2) + ?3 \
           WHERE max(tat, ?2) + ?3 <= ?2 + ?4 \
         RETURNING tat",
        params![
            step.key,
            now,
            micros_of(step.gcra.increment),
            micros_of(step.gcra.tolerance)
        ],
        |row| at::<i64>(row, 0, "tat"),
    )?;
    if let Some(tat) = spent {
        return Ok(Ok(from_micros(tat, "rate_limits.tat")?));
    }
    let stored = query_opt(
        conn,
        "SELECT tat FROM rate_limits WHERE key = ?",
        [&step.key],
        |row| at::<i64>(row, 0, "tat"),
    )?
    .unwrap_or(now);
    Ok(Err(from_micros(stored, "rate_limits.tat")?))
}

pub(crate) fn micros_of(d: time::Duration) -> i64 {
    i64::try_from(d.whole_microseconds()).unwrap_or(i64::MAX)
}

pub(crate) async fn purge(store: &SqliteStore, now: OffsetDateTime) -> Result<u64, StoreError> {
    store
        .db
        .write(move |conn| {
            execute(
                conn,
                "DELETE FROM rate_limits WHERE tat <= ?",
                [micros(now)],
            )
            .map(|n| n as u64)
        })
        .await
}

pub(crate) async fn set_override(
    store: &SqliteStore,
    customer_id: &str,
    limit: &str,
    value: Option<u32>,
) -> Result<(), StoreError> {
    let customer_id = customer_id.to_owned();
    let limit = limit.to_owned();
    store
        .db
        .write(move |conn| {
            match value {
                Some(value) => execute(
                    conn,
                    "INSERT INTO rate_limit_overrides (customer_id, limit_name, value) \
                     VALUES (?, ?, ?) \
                     ON CONFLICT (customer_id, limit_name) DO UPDATE SET value = excluded.value",
                    params![customer_id, limit, i64::from(value)],
                )?,
                None => execute(
                    conn,
                    "DELETE FROM rate_limit_overrides WHERE customer_id = ? AND limit_name = ?",
                    params![customer_id, limit],
                )?,
            };
            Ok(())
        })
        .await
}

pub(crate) async fn overrides(
    store: &SqliteStore,
    customer_id: &str,
) -> Result<Vec<(String, u32)>, StoreError> {
    store.db.read(|conn| {
        query_all(
            conn,
            "SELECT limit_name, value FROM rate_limit_overrides WHERE customer_id = ? \
             ORDER BY limit_name",
            [customer_id],
            |row| {
                let value: i64 = at(row, 1, "value")?;
                Ok((at(row, 0, "limit_name")?, override_value(value)?))
            },
        )
    })
}

pub(crate) fn override_value(value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| {
        StoreError::Corrupt(format!("rate_limit_overrides.value {value} is not a limit"))
    })
}

pub(crate) async fn pending_authorizations(
    store: &SqliteStore,
    account_id: &str,
    now: OffsetDateTime,
) -> Result<(u64, Option<OffsetDateTime>), StoreError> {
    store.db.read(|conn| pending_in(conn, account_id, now))
}

/// [`pending_authorizations`] on `conn` (a write job's, to check and insert in one).
pub(crate) fn pending_in(
    conn: &rusqlite::Connection,
    account_id: &str,
    now: OffsetDateTime,
) -> Result<(u64, Option<OffsetDateTime>), StoreError> {
    let (count, earliest) = query_opt(
        conn,
        "SELECT count(*) AS pending, min(expires) AS earliest FROM authorizations \
         WHERE account_id = ? AND status = 'pending' AND expires > ?",
        params![account_id, micros(now)],
        |row| {
            Ok((
                at::<i64>(row, 0, "pending")?,
                at::<Option<i64>>(row, 1, "earliest")?,
            ))
        },
    )?
    .unwrap_or((0, None));
    Ok((
        u64::try_from(count).unwrap_or(0),
        from_micros_opt(earliest, "authorizations.expires")?,
    ))
}
