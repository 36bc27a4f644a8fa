//! Authorizations and their challenges (RFC 8555 §7.1.4, §7.1.5, §7.5): reading (one
//! statement per call, challenges joined) and the deactivation compare-and-set. They are
//! created with their order (`orders::insert`).

use ferrite_core::StoreError;
use ferrite_core::model::{Authorization, Challenge};
use ferrite_proto::{AuthorizationStatus, ChallengeStatus, ChallengeType};
use tokio_postgres::Row;

use super::{PostgresStore, at};
use crate::codec::{from_json_opt, from_micros, from_micros_opt, identifier, parse_wire};

/// The authorization (`a.`) and challenge (`c.`) columns, 16 of them, prefixed `a_` and `c_`;
/// the challenge columns are NULL on the row of an authorization without challenges.
macro_rules! authorization_columns {
    () => {
        "a.id AS a_id, a.account_id AS a_account_id, a.identifier_type AS a_identifier_type, \
         a.identifier_value AS a_identifier_value, a.wildcard AS a_wildcard, \
         a.status AS a_status, a.expires AS a_expires, \
         c.id AS c_id, c.authorization_id AS c_authorization_id, c.kind AS c_kind, \
         c.token AS c_token, c.status AS c_status, c.validated AS c_validated, \
         c.error AS c_error, c.record AS c_record, c.lease_until AS c_lease_until"
    };
}
pub(crate) use authorization_columns;

pub(crate) async fn by_id(
    store: &PostgresStore,
    id: &str,
) -> Result<Option<Authorization>, StoreError> {
    let rows = store
        .query(
            concat!(
                "SELECT ",
                authorization_columns!(),
                " FROM authorizations a LEFT JOIN challenges c ON c.authorization_id = a.id \
                 WHERE a.id = $1 ORDER BY c.position"
            ),
            &[&id],
        )
        .await?;
    let mut found = Vec::new();
    for row in &rows {
        fold(&mut found, row, 0)?;
    }
    Ok(found.pop())
}

/// The authorizations among `ids` that exist, in the order of `ids`, in one statement.
pub(crate) async fn by_ids(
    store: &PostgresStore,
    ids: &[String],
) -> Result<Vec<Authorization>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = store
        .query(
            concat!(
                "SELECT ",
                authorization_columns!(),
                " FROM authorizations a LEFT JOIN challenges c ON c.authorization_id = a.id \
                 WHERE a.id = ANY($1) ORDER BY a.id, c.position"
            ),
            &[&ids],
        )
        .await?;
    let mut found = Vec::new();
    for row in &rows {
        fold(&mut found, row, 0)?;
    }
    found.sort_by_key(|a| ids.iter().position(|id| *id == a.id));
    Ok(found)
}

/// Folds one row (authorization columns from `base`, grouped by authorization) into
/// `found`: a new authorization when the id changes, then its challenge if the row has one.
/// A row without an authorization (an order without any) adds nothing.
pub(crate) fn fold(
    found: &mut Vec<Authorization>,
    row: &Row,
    base: usize,
) -> Result<(), StoreError> {
    let Some(id) = at::<Option<&str>>(row, base, "a_id")? else {
        return Ok(());
    };
    if found.last().is_none_or(|a| a.id != id) {
        found.push(decode_authorization(row, base)?);
    }
    let challenge_id: Option<&str> = at(row, base + 7, "c_id")?;
    if challenge_id.is_some()
        && let Some(authz) = found.last_mut()
    {
        authz.challenges.push(decode_challenge(row, base + 7)?);
    }
    Ok(())
}

// RFC 8555 §7.5.2 (deactivation) and friends: a compare-and-set in one UPDATE.
pub(crate) async fn set_status(
    store: &PostgresStore,
    id: &str,
    from: AuthorizationStatus,
    to: AuthorizationStatus,
) -> Result<bool, StoreError> {
    store
        .execute(
            "UPDATE authorizations SET status = $1 WHERE id = $2 AND status = $3",
            &[&to.as_str(), &id, &from.as_str()],
        )
        .await
        .map(|n| n == 1)
}

fn decode_authorization(row: &Row, base: usize) -> Result<Authorization, StoreError> {
    let kind: &str = at(row, base + 2, "a_identifier_type")?;
    let status: &str = at(row, base + 5, "a_status")?;
    Ok(Authorization {
        id: at(row, base, "a_id")?,
        account_id: at(row, base + 1, "a_account_id")?,
        identifier: identifier(kind, at(row, base + 3, "a_identifier_value")?)?,
        wildcard: at(row, base + 4, "a_wildcard")?,
        status: parse_wire(status, "authorizations.status", AuthorizationStatus::parse)?,
        expires: from_micros(at(row, base + 6, "a_expires")?, "authorizations.expires")?,
        challenges: Vec::new(),
    })
}

fn decode_challenge(row: &Row, base: usize) -> Result<Challenge, StoreError> {
    let kind: &str = at(row, base + 2, "c_kind")?;
    let status: &str = at(row, base + 4, "c_status")?;
    let error: Option<&str> = at(row, base + 6, "c_error")?;
    let record: Option<&str> = at(row, base + 7, "c_record")?;
    Ok(Challenge {
        id: at(row, base, "c_id")?,
        authorization_id: at(row, base + 1, "c_authorization_id")?,
        kind: parse_wire(kind, "challenges.kind", ChallengeType::parse)?,
        token: at(row, base + 3, "c_token")?,
        status: parse_wire(status, "challenges.status", ChallengeStatus::parse)?,
        validated: from_micros_opt(at(row, base + 5, "c_validated")?, "challenges.validated")?,
        error: from_json_opt(error, "challenges.error")?,
        record: from_json_opt(record, "challenges.record")?,
        lease_until: from_micros_opt(
            at(row, base + 8, "c_lease_until")?,
            "challenges.lease_until",
        )?,
    })
}
