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

/// The authorization with its challenges in one statement (one round trip to the database
/// thread, one snapshot): one row per challenge, the authorization's columns repeated; the
/// challenge columns carry a `c_` prefix and are NULL for an authorization without challenges.
macro_rules! select_authorization_with_challenges {
    ($where:literal) => {
        concat!(
            "SELECT a.id, a.account_id, a.identifier_type, a.identifier_value, a.wildcard, \
             a.status, a.expires, c.id AS c_id, c.authorization_id AS c_authorization_id, \
             c.kind AS c_kind, c.token AS c_token, c.status AS c_status, \
             c.validated AS c_validated, c.error AS c_error, c.record AS c_record, \
             c.lease_until AS c_lease_until \
             FROM authorizations a LEFT JOIN challenges c ON c.authorization_id = a.id ",
            $where,
            " ORDER BY a.id, c.position"
        )
    };
}

pub(crate) async fn by_id(
    store: &SqliteStore,
    id: &str,
) -> Result<Option<Authorization>, StoreError> {
    // One statement sees one snapshot: no transaction needed.
    let rows = sqlx::query(select_authorization_with_challenges!("WHERE a.id = ?"))
        .bind(id)
        .fetch_all(&store.pool)
        .await
        .map_err(db_error)?;
    Ok(assemble(&rows)?.pop())
}

/// The authorizations among `ids` that exist, in the order of `ids`, in one statement.
pub(crate) async fn by_ids(
    store: &SqliteStore,
    ids: &[String],
) -> Result<Vec<Authorization>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(select_authorization_with_challenges!(
        "WHERE a.id IN (SELECT value FROM json_each(?))"
    ))
    .bind(to_json(ids, "authorization ids")?)
    .fetch_all(&store.pool)
    .await
    .map_err(db_error)?;
    let mut found = assemble(&rows)?;
    found.sort_by_key(|a| ids.iter().position(|id| *id == a.id));
    Ok(found)
}

/// Folds the rows of [`select_authorization_with_challenges`] (sorted by authorization) into
/// authorizations with their challenges in position order.
fn assemble(rows: &[SqliteRow]) -> Result<Vec<Authorization>, StoreError> {
    let mut found: Vec<Authorization> = Vec::new();
    for row in rows {
        let id: String = row.try_get("id").map_err(db_error)?;
        if found.last().is_none_or(|a| a.id != id) {
            found.push(decode(row)?);
        }
        let challenge_id: Option<String> = row.try_get("c_id").map_err(db_error)?;
        if challenge_id.is_some()
            && let Some(authz) = found.last_mut()
        {
            authz.challenges.push(decode_challenge(row)?);
        }
    }
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
    let kind: String = row.try_get("c_kind").map_err(db_error)?;
    let status: String = row.try_get("c_status").map_err(db_error)?;
    let error: Option<String> = row.try_get("c_error").map_err(db_error)?;
    let record: Option<String> = row.try_get("c_record").map_err(db_error)?;
    Ok(Challenge {
        id: row.try_get("c_id").map_err(db_error)?,
        authorization_id: row.try_get("c_authorization_id").map_err(db_error)?,
        kind: parse_wire(&kind, "challenges.kind", ChallengeType::parse)?,
        token: row.try_get("c_token").map_err(db_error)?,
        status: parse_wire(&status, "challenges.status", ChallengeStatus::parse)?,
        validated: from_micros_opt(
            row.try_get("c_validated").map_err(db_error)?,
            "challenges.validated",
        )?,
        error: from_json_opt(error.as_deref(), "challenges.error")?,
        record: from_json_opt(record.as_deref(), "challenges.record")?,
        lease_until: from_micros_opt(
            row.try_get("c_lease_until").map_err(db_error)?,
            "challenges.lease_until",
        )?,
    })
}
