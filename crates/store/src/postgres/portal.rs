//! The customer portal's tables on PostgreSQL, as the SQLite module.

use ferrite_core::StoreError;
use ferrite_core::model::{Activity, PortalSession, Scope};
use time::OffsetDateTime;
use tokio_postgres::Row;

use super::{PostgresStore, at};
use crate::codec::{from_micros, micros};

/// Microseconds in a day: `not_before` divided by this is the UTC day number.
const DAY_MICROS: i64 = 86_400_000_000;

pub(crate) async fn insert(
    store: &PostgresStore,
    session: &PortalSession,
) -> Result<(), StoreError> {
    store
        .execute(
            "INSERT INTO portal_sessions (token_hash, credential_id, csrf_token, created_at, \
               expires_at) VALUES ($1, $2, $3, $4, $5)",
            &[
                &session.token_hash,
                &session.credential_id,
                &session.csrf_token,
                &micros(session.created_at),
                &micros(session.expires_at),
            ],
        )
        .await
        .map(drop)
}

pub(crate) async fn get(
    store: &PostgresStore,
    token_hash: &str,
    now: OffsetDateTime,
) -> Result<Option<PortalSession>, StoreError> {
    store
        .query_opt(
            "SELECT token_hash, credential_id, csrf_token, created_at, expires_at \
             FROM portal_sessions WHERE token_hash = $1 AND expires_at > $2",
            &[&token_hash, &micros(now)],
        )
        .await?
        .map(|row| decode(&row))
        .transpose()
}

pub(crate) async fn delete(store: &PostgresStore, token_hash: &str) -> Result<bool, StoreError> {
    store
        .execute(
            "DELETE FROM portal_sessions WHERE token_hash = $1",
            &[&token_hash],
        )
        .await
        .map(|n| n > 0)
}

pub(crate) async fn end(store: &PostgresStore, scope: &Scope) -> Result<u64, StoreError> {
    match scope {
        Scope::All => store.execute("DELETE FROM portal_sessions", &[]).await,
        Scope::Customer(customer) => {
            store
                .execute(
                    "DELETE FROM portal_sessions WHERE credential_id IN \
                     (SELECT id FROM api_credentials WHERE customer_id = $1)",
                    &[customer],
                )
                .await
        }
        Scope::Credential(credential) => {
            store
                .execute(
                    "DELETE FROM portal_sessions WHERE credential_id = $1",
                    &[credential],
                )
                .await
        }
    }
}

pub(crate) async fn purge(store: &PostgresStore, now: OffsetDateTime) -> Result<u64, StoreError> {
    store
        .execute(
            "DELETE FROM portal_sessions WHERE expires_at <= $1",
            &[&micros(now)],
        )
        .await
}

pub(crate) async fn activity(
    store: &PostgresStore,
    customer_id: Option<&str>,
    since: OffsetDateTime,
) -> Result<Activity, StoreError> {
    let since = micros(since);
    let issued = store
        .query(
            "SELECT c.not_before / $1 AS day, count(*) AS issued FROM certificates c \
             JOIN accounts a ON a.id = c.account_id \
             WHERE c.not_before >= $2 AND ($3::text IS NULL OR a.customer_id = $3) \
             GROUP BY day ORDER BY day",
            &[&DAY_MICROS, &since, &customer_id],
        )
        .await?;
    let failed = store
        .query(
            "SELECT coalesce(ch.error::json ->> 'type', '') AS problem, count(*) AS failed \
             FROM challenges ch \
             JOIN authorizations z ON z.id = ch.authorization_id \
             JOIN accounts a ON a.id = z.account_id \
             WHERE ch.failed_at >= $1 AND ($2::text IS NULL OR a.customer_id = $2) \
             GROUP BY problem ORDER BY failed DESC, problem",
            &[&since, &customer_id],
        )
        .await?;
    Ok(Activity {
        issued_per_day: issued
            .iter()
            .map(|row| Ok((at::<i64>(row, 0, "day")?, count(row, 1, "issued")?)))
            .collect::<Result<_, StoreError>>()?,
        failures_by_type: failed
            .iter()
            .map(|row| Ok((at::<String>(row, 0, "problem")?, count(row, 1, "failed")?)))
            .collect::<Result<_, StoreError>>()?,
    })
}

fn count(row: &Row, index: usize, name: &str) -> Result<u64, StoreError> {
    let n: i64 = at(row, index, name)?;
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{name} count {n} is negative")))
}

fn decode(row: &Row) -> Result<PortalSession, StoreError> {
    Ok(PortalSession {
        token_hash: at(row, 0, "token_hash")?,
        credential_id: at(row, 1, "credential_id")?,
        csrf_token: at(row, 2, "csrf_token")?,
        created_at: from_micros(at(row, 3, "created_at")?, "portal_sessions.created_at")?,
        expires_at: from_micros(at(row, 4, "expires_at")?, "portal_sessions.expires_at")?,
    })
}
