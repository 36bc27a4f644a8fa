//! Authorizations and their challenges (RFC 8555 §7.1.4, §7.1.5, §7.5).

use ferrite_core::StoreError;
use ferrite_core::model::{Authorization, Challenge};
use ferrite_proto::{AuthorizationStatus, ChallengeStatus, ChallengeType};
use sqlx::Row;
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;

use crate::codec::{
    from_json_opt, from_micros, from_micros_opt, identifier, identifier_type_str, micros,
    parse_wire, to_json,
};
use crate::error::db_error;
use crate::open::SqliteStore;

/// The authorization SELECT with a clause appended (literals only, so the SQL is static).
macro_rules! select_authorization {
    ($tail:literal) => {
        concat!(
            "SELECT id, account_id, identifier_type, identifier_value, wildcard, status, expires \
             FROM authorizations ",
            $tail
        )
    };
}

/// Inserts an authorization and its challenges (in their order) inside the caller's
/// transaction.
pub(crate) async fn insert_in(
    conn: &mut SqliteConnection,
    authz: &Authorization,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO authorizations (id, account_id, identifier_type, identifier_value, \
         wildcard, status, expires) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&authz.id)
    .bind(&authz.account_id)
    .bind(identifier_type_str(authz.identifier.kind))
    .bind(&authz.identifier.value)
    .bind(authz.wildcard)
    .bind(authz.status.as_str())
    .bind(micros(authz.expires))
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    for (position, ch) in authz.challenges.iter().enumerate() {
        // The challenge belongs to the authorization it is stored under, whatever its
        // `authorization_id` field says.
        let position = i64::try_from(position).unwrap_or(i64::MAX);
        sqlx::query(
            "INSERT INTO challenges (id, authorization_id, position, kind, token, status, \
             validated, error, record, lease_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&ch.id)
        .bind(&authz.id)
        .bind(position)
        .bind(ch.kind.as_str())
        .bind(&ch.token)
        .bind(ch.status.as_str())
        .bind(ch.validated.map(micros))
        .bind(ch.error.as_ref().map(|p| to_json(p, "error")).transpose()?)
        .bind(
            ch.record
                .as_ref()
                .map(|r| to_json(r, "record"))
                .transpose()?,
        )
        .bind(ch.lease_until.map(micros))
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

/// Loads one authorization with its challenges, on the caller's connection (inside a read
/// transaction, both SELECTs see the same snapshot).
pub(crate) async fn load(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<Option<Authorization>, StoreError> {
    let row = sqlx::query(select_authorization!("WHERE id = ?"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut authz = decode(&row)?;
    authz.challenges = load_challenges(conn, &authz.id).await?;
    Ok(Some(authz))
}

pub(crate) async fn by_id(
    store: &SqliteStore,
    id: &str,
) -> Result<Option<Authorization>, StoreError> {
    let mut tx = store.begin_read().await?;
    let authz = load(&mut tx, id).await?;
    tx.commit().await.map_err(db_error)?;
    Ok(authz)
}

pub(crate) async fn by_ids(
    store: &SqliteStore,
    ids: &[String],
) -> Result<Vec<Authorization>, StoreError> {
    let mut tx = store.begin_read().await?;
    let mut found = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(authz) = load(&mut tx, id).await? {
            found.push(authz);
        }
    }
    tx.commit().await.map_err(db_error)?;
    Ok(found)
}

// RFC 8555 §7.5.2 (deactivation) and friends: a compare-and-set in one UPDATE.
pub(crate) async fn set_status(
    store: &SqliteStore,
    id: &str,
    from: AuthorizationStatus,
    to: AuthorizationStatus,
) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE authorizations SET status = ? WHERE id = ? AND status = ?")
        .bind(to.as_str())
        .bind(id)
        .bind(from.as_str())
        .execute(&store.pool)
        .await
        .map_err(db_error)?;
    Ok(done.rows_affected() == 1)
}

async fn load_challenges(
    conn: &mut SqliteConnection,
    authorization_id: &str,
) -> Result<Vec<Challenge>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, authorization_id, kind, token, status, validated, error, record, \
         lease_until FROM challenges WHERE authorization_id = ? ORDER BY position",
    )
    .bind(authorization_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    rows.iter().map(decode_challenge).collect()
}

fn decode(row: &SqliteRow) -> Result<Authorization, StoreError> {
    let kind: String = row.try_get("identifier_type").map_err(db_error)?;
    let status: String = row.try_get("status").map_err(db_error)?;
    Ok(Authorization {
        id: row.try_get("id").map_err(db_error)?,
        account_id: row.try_get("account_id").map_err(db_error)?,
        identifier: identifier(&kind, row.try_get("identifier_value").map_err(db_error)?)?,
        wildcard: row.try_get("wildcard").map_err(db_error)?,
        status: parse_wire(&status, "authorizations.status", AuthorizationStatus::parse)?,
        expires: from_micros(
            row.try_get("expires").map_err(db_error)?,
            "authorizations.expires",
        )?,
        challenges: Vec::new(),
    })
}

fn decode_challenge(row: &SqliteRow) -> Result<Challenge, StoreError> {
    let kind: String = row.try_get("kind").map_err(db_error)?;
    let status: String = row.try_get("status").map_err(db_error)?;
    let error: Option<String> = row.try_get("error").map_err(db_error)?;
    let record: Option<String> = row.try_get("record").map_err(db_error)?;
    Ok(Challenge {
        id: row.try_get("id").map_err(db_error)?,
        authorization_id: row.try_get("authorization_id").map_err(db_error)?,
        kind: parse_wire(&kind, "challenges.kind", ChallengeType::parse)?,
        token: row.try_get("token").map_err(db_error)?,
        status: parse_wire(&status, "challenges.status", ChallengeStatus::parse)?,
        validated: from_micros_opt(
            row.try_get("validated").map_err(db_error)?,
            "challenges.validated",
        )?,
        error: from_json_opt(error.as_deref(), "challenges.error")?,
        record: from_json_opt(record.as_deref(), "challenges.record")?,
        lease_until: from_micros_opt(
            row.try_get("lease_until").map_err(db_error)?,
            "challenges.lease_until",
        )?,
    })
}
