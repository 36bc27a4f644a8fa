//! Authorizations and their challenges (RFC 8555 §7.1.4, §7.1.5, §7.5).

use ferrite_core::StoreError;
use ferrite_core::model::{Authorization, Challenge};
use ferrite_proto::{AuthorizationStatus, ChallengeStatus, ChallengeType};
use rusqlite::{Connection, Row, params};

use crate::codec::{
    from_json_opt, from_micros, from_micros_opt, identifier, identifier_type_str, micros,
    parse_wire, to_json,
};
use crate::db::{at, execute, query_all};
use crate::open::SqliteStore;

/// Inserts an authorization and its challenges (in their order) inside the caller's write
/// job.
pub(crate) fn insert_in(conn: &Connection, authz: &Authorization) -> Result<(), StoreError> {
    execute(
        conn,
        "INSERT INTO authorizations (id, account_id, identifier_type, identifier_value, \
         wildcard, status, expires) VALUES (?, ?, ?, ?, ?, ?, ?)",
        params![
            authz.id,
            authz.account_id,
            identifier_type_str(&authz.identifier.kind),
            authz.identifier.value,
            authz.wildcard,
            authz.status.as_str(),
            micros(authz.expires),
        ],
    )?;
    for (position, ch) in authz.challenges.iter().enumerate() {
        // The challenge belongs to the authorization it is stored under, whatever its
        // `authorization_id` field says.
        execute(
            conn,
            "INSERT INTO challenges (id, authorization_id, position, kind, token, status, \
             validated, error, record, lease_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            params![
                ch.id,
                authz.id,
                i64::try_from(position).unwrap_or(i64::MAX),
                ch.kind.as_str(),
                ch.token,
                ch.status.as_str(),
                ch.validated.map(micros),
                ch.error.as_ref().map(|p| to_json(p, "error")).transpose()?,
                ch.record
                    .as_ref()
                    .map(|r| to_json(r, "record"))
                    .transpose()?,
                ch.lease_until.map(micros),
            ],
        )?;
    }
    Ok(())
}

/// The authorization with its challenges in one statement (one snapshot): one row per
/// challenge, the authorization's columns repeated; the challenge columns carry a `c_` prefix
/// and are NULL for an authorization without challenges.
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
    store.db.read(|conn| {
        let mut found = Vec::new();
        query_all(
            conn,
            select_authorization_with_challenges!("WHERE a.id = ?"),
            [id],
            |row| fold(&mut found, row),
        )?;
        Ok(found.pop())
    })
}

/// The authorizations among `ids` that exist, in the order of `ids`, in one statement.
pub(crate) async fn by_ids(
    store: &SqliteStore,
    ids: &[String],
) -> Result<Vec<Authorization>, StoreError> {
    store.db.read(|conn| by_ids_in(conn, ids))
}

/// [`by_ids`] on `conn` (inside a caller's read transaction).
pub(crate) fn by_ids_in(
    conn: &Connection,
    ids: &[String],
) -> Result<Vec<Authorization>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids_json = to_json(ids, "authorization ids")?;
    let mut found = Vec::new();
    query_all(
        conn,
        select_authorization_with_challenges!("WHERE a.id IN (SELECT value FROM json_each(?))"),
        [ids_json],
        |row| fold(&mut found, row),
    )?;
    found.sort_by_key(|a| ids.iter().position(|id| *id == a.id));
    Ok(found)
}

/// Folds one row of [`select_authorization_with_challenges`] (sorted by authorization) into
/// `found`: a new authorization when the id changes, then its challenge if the row has one.
fn fold(found: &mut Vec<Authorization>, row: &Row<'_>) -> Result<(), StoreError> {
    let id: String = at(row, 0, "id")?;
    if found.last().is_none_or(|a| a.id != id) {
        found.push(decode(row)?);
    }
    let challenge_id: Option<String> = at(row, 7, "c_id")?;
    if challenge_id.is_some()
        && let Some(authz) = found.last_mut()
    {
        authz.challenges.push(decode_challenge(row)?);
    }
    Ok(())
}

// RFC 8555 §7.5.2 (deactivation) and friends: a compare-and-set in one UPDATE.
pub(crate) async fn set_status(
    store: &SqliteStore,
    id: &str,
    from: AuthorizationStatus,
    to: AuthorizationStatus,
) -> Result<bool, StoreError> {
    let id = id.to_owned();
    store
        .db
        .write(move |conn| {
            execute(
                conn,
                "UPDATE authorizations SET status = ? WHERE id = ? AND status = ?",
                params![to.as_str(), id, from.as_str()],
            )
            .map(|n| n == 1)
        })
        .await
}

fn decode(row: &Row<'_>) -> Result<Authorization, StoreError> {
    let kind: String = at(row, 2, "identifier_type")?;
    let status: String = at(row, 5, "status")?;
    Ok(Authorization {
        id: at(row, 0, "id")?,
        account_id: at(row, 1, "account_id")?,
        identifier: identifier(&kind, at(row, 3, "identifier_value")?)?,
        wildcard: at(row, 4, "wildcard")?,
        status: parse_wire(&status, "authorizations.status", AuthorizationStatus::parse)?,
        expires: from_micros(at(row, 6, "expires")?, "authorizations.expires")?,
        challenges: Vec::new(),
    })
}

fn decode_challenge(row: &Row<'_>) -> Result<Challenge, StoreError> {
    let kind: String = at(row, 9, "c_kind")?;
    let status: String = at(row, 11, "c_status")?;
    let error: Option<String> = at(row, 13, "c_error")?;
    let record: Option<String> = at(row, 14, "c_record")?;
    Ok(Challenge {
        id: at(row, 7, "c_id")?,
        authorization_id: at(row, 8, "c_authorization_id")?,
        kind: parse_wire(&kind, "challenges.kind", ChallengeType::parse)?,
        token: at(row, 10, "c_token")?,
        status: parse_wire(&status, "challenges.status", ChallengeStatus::parse)?,
        validated: from_micros_opt(at(row, 12, "c_validated")?, "challenges.validated")?,
        error: from_json_opt(error.as_deref(), "challenges.error")?,
        record: from_json_opt(record.as_deref(), "challenges.record")?,
        lease_until: from_micros_opt(at(row, 15, "c_lease_until")?, "challenges.lease_until")?,
    })
}
