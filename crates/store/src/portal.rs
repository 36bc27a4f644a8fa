//! The customer portal's tables: sign-in sessions (`portal_sessions`) and the counts its charts
//! draw (certificates per day, failed challenges by problem type).

use ferrite_core::StoreError;
use ferrite_core::model::{Activity, PortalSession, Scope};
use rusqlite::{Row, params};
use time::OffsetDateTime;

use crate::codec::{from_micros, micros};
use crate::db::{at, execute, query_all, query_opt};
use crate::open::SqliteStore;

/// Microseconds in a day: `not_before` divided by this is the UTC day number.
const DAY_MICROS: i64 = 86_400_000_000;

pub(crate) async fn insert(store: &SqliteStore, session: &PortalSession) -> Result<(), StoreError> {
    let s = session.clone();
    store
        .db
        .write(move |conn| {
            execute(
                conn,
                "INSERT INTO portal_sessions (token_hash, credential_id, csrf_token, created_at, \
                   expires_at) VALUES (?, ?, ?, ?, ?)",
                params![
                    s.token_hash,
                    s.credential_id,
                    s.csrf_token,
                    micros(s.created_at),
                    micros(s.expires_at)
                ],
            )
            .map(drop)
        })
        .await
}

pub(crate) async fn get(
    store: &SqliteStore,
    token_hash: &str,
    now: OffsetDateTime,
) -> Result<Option<PortalSession>, StoreError> {
    store.db.read(|conn| {
        query_opt(
            conn,
            "SELECT token_hash, credential_id, csrf_token, created_at, expires_at \
             FROM portal_sessions WHERE token_hash = ? AND expires_at > ?",
            params![token_hash, micros(now)],
            decode,
        )
    })
}

pub(crate) async fn delete(store: &SqliteStore, token_hash: &str) -> Result<bool, StoreError> {
    let token_hash = token_hash.to_owned();
    store
        .db
        .write(move |conn| {
            execute(
                conn,
                "DELETE FROM portal_sessions WHERE token_hash = ?",
                [token_hash],
            )
            .map(|n| n > 0)
        })
        .await
}

pub(crate) async fn end(store: &SqliteStore, scope: &Scope) -> Result<u64, StoreError> {
    let scope = scope.clone();
    store
        .db
        .write(move |conn| {
            let n = match &scope {
                Scope::All => execute(conn, "DELETE FROM portal_sessions", [])?,
                Scope::Customer(customer) => execute(
                    conn,
                    "DELETE FROM portal_sessions WHERE credential_id IN \
                     (SELECT id FROM api_credentials WHERE customer_id = ?)",
                    [customer],
                )?,
                Scope::Credential(credential) => execute(
                    conn,
                    "DELETE FROM portal_sessions WHERE credential_id = ?",
                    [credential],
                )?,
            };
            Ok(n as u64)
        })
        .await
}

pub(crate) async fn purge(store: &SqliteStore, now: OffsetDateTime) -> Result<u64, StoreError> {
    store
        .db
        .write(move |conn| {
            execute(
                conn,
                "DELETE FROM portal_sessions WHERE expires_at <= ?",
                [micros(now)],
            )
            .map(|n| n as u64)
        })
        .await
}

pub(crate) async fn activity(
    store: &SqliteStore,
    customer_id: Option<&str>,
    since: OffsetDateTime,
) -> Result<Activity, StoreError> {
    let since = micros(since);
    store.db.read(|conn| {
        let issued_per_day = query_all(
            conn,
            "SELECT c.not_before / ?1 AS day, count(*) AS issued FROM certificates c \
             JOIN accounts a ON a.id = c.account_id \
             WHERE c.not_before >= ?2 AND (?3 IS NULL OR a.customer_id = ?3) \
             GROUP BY day ORDER BY day",
            params![DAY_MICROS, since, customer_id],
            |row| Ok((at::<i64>(row, 0, "day")?, count(row, 1, "issued")?)),
        )?;
        let failures_by_type = query_all(
            conn,
            "SELECT coalesce(json_extract(ch.error, '$.type'), '') AS problem, count(*) AS failed \
             FROM challenges ch \
             JOIN authorizations z ON z.id = ch.authorization_id \
             JOIN accounts a ON a.id = z.account_id \
             WHERE ch.failed_at >= ?1 AND (?2 IS NULL OR a.customer_id = ?2) \
             GROUP BY problem ORDER BY failed DESC, problem",
            params![since, customer_id],
            |row| Ok((at::<String>(row, 0, "problem")?, count(row, 1, "failed")?)),
        )?;
        Ok(Activity {
            issued_per_day,
            failures_by_type,
        })
    })
}

fn count(row: &Row<'_>, index: usize, name: &str) -> Result<u64, StoreError> {
    let n: i64 = at(row, index, name)?;
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{name} count {n} is negative")))
}

fn decode(row: &Row<'_>) -> Result<PortalSession, StoreError> {
    Ok(PortalSession {
        token_hash: at(row, 0, "token_hash")?,
        credential_id: at(row, 1, "credential_id")?,
        csrf_token: at(row, 2, "csrf_token")?,
        created_at: from_micros(at(row, 3, "created_at")?, "portal_sessions.created_at")?,
        expires_at: from_micros(at(row, 4, "expires_at")?, "portal_sessions.expires_at")?,
    })
}
