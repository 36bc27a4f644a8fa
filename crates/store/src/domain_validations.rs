//! Domain validations kept for reuse and as evidence (BR §4.2.1; DESIGN §3
//! `domain_validation`). Rows are written by `validations::finish` in the transaction that
//! records the challenge result; this module inserts, looks up for reuse, and lists them.

use ferrite_core::StoreError;
use ferrite_core::model::{DomainValidation, Scope, ValidationOwner};
use ferrite_proto::ChallengeType;
use sqlx::Row;
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

use crate::codec::{from_json, from_micros, micros, parse_wire, to_json};
use crate::error::db_error;
use crate::open::SqliteStore;

/// Most rows one reuse lookup reads. Newest first, so the best candidates are always among
/// them; a customer validating the same few names hundreds of times inside one window loses
/// nothing by the cut.
const REUSE_LOOKUP_LIMIT: i64 = 500;

/// The domain validation SELECT (columns prefixed `dv.`) with a clause appended (literals only,
/// so the SQL is static).
macro_rules! select_validation {
    ($tail:literal) => {
        concat!(
            "SELECT dv.id, dv.customer_id, dv.account_id, dv.domain, dv.wildcard, dv.method, \
             dv.validated_at, dv.reuse_until, dv.authorization_id, dv.record \
             FROM domain_validations dv ",
            $tail
        )
    };
}

/// Inserts a domain validation inside the caller's transaction.
pub(crate) async fn insert_in(
    conn: &mut SqliteConnection,
    v: &DomainValidation,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO domain_validations (id, customer_id, account_id, domain, wildcard, method, \
         validated_at, reuse_until, authorization_id, record) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&v.id)
    .bind(&v.customer_id)
    .bind(&v.account_id)
    .bind(&v.domain)
    .bind(v.wildcard)
    .bind(v.method.as_str())
    .bind(micros(v.validated_at))
    .bind(micros(v.reuse_until))
    .bind(&v.authorization_id)
    .bind(to_json(&v.record, "record")?)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

// BR §4.2.1 reuse: the owner's validations of any of the names, newer than `since`, whose
// authorization is still valid (RFC 8555 §7.5.2: a deactivated authorization is given up, and
// so is the validation behind it). The name list is bound as one JSON array, so the SQL stays
// static whatever its length.
pub(crate) async fn reusable(
    store: &SqliteStore,
    owner: &ValidationOwner,
    domains: &[String],
    since: OffsetDateTime,
) -> Result<Vec<DomainValidation>, StoreError> {
    let domains = to_json(domains, "domains")?;
    let query = match owner {
        ValidationOwner::Customer(customer) => sqlx::query(select_validation!(
            "JOIN authorizations a ON a.id = dv.authorization_id \
             WHERE dv.customer_id = ? AND dv.domain IN (SELECT value FROM json_each(?)) \
             AND dv.validated_at > ? AND a.status = 'valid' \
             ORDER BY dv.validated_at DESC, dv.seq DESC LIMIT ?"
        ))
        .bind(customer),
        ValidationOwner::Account(account) => sqlx::query(select_validation!(
            "JOIN authorizations a ON a.id = dv.authorization_id \
             WHERE dv.customer_id IS NULL AND dv.account_id = ? \
             AND dv.domain IN (SELECT value FROM json_each(?)) \
             AND dv.validated_at > ? AND a.status = 'valid' \
             ORDER BY dv.validated_at DESC, dv.seq DESC LIMIT ?"
        ))
        .bind(account),
    };
    let rows = query
        .bind(domains)
        .bind(micros(since))
        .bind(REUSE_LOOKUP_LIMIT)
        .fetch_all(&store.pool)
        .await
        .map_err(db_error)?;
    rows.iter().map(decode).collect()
}

/// Every validation in `scope`, newest first (operator view).
pub(crate) async fn list(
    store: &SqliteStore,
    scope: &Scope,
) -> Result<Vec<DomainValidation>, StoreError> {
    let query = match scope {
        Scope::All => sqlx::query(select_validation!("ORDER BY dv.seq DESC")),
        Scope::Customer(id) => sqlx::query(select_validation!(
            "WHERE dv.customer_id = ? ORDER BY dv.seq DESC"
        ))
        .bind(id),
        Scope::Credential(id) => sqlx::query(select_validation!(
            "WHERE dv.account_id IN (SELECT id FROM accounts WHERE eab_kid IN \
             (SELECT kid FROM eab_mac_keys WHERE credential_id = ?)) ORDER BY dv.seq DESC"
        ))
        .bind(id),
    };
    let rows = query.fetch_all(&store.pool).await.map_err(db_error)?;
    rows.iter().map(decode).collect()
}

fn decode(row: &SqliteRow) -> Result<DomainValidation, StoreError> {
    let method: String = row.try_get("method").map_err(db_error)?;
    let record: String = row.try_get("record").map_err(db_error)?;
    Ok(DomainValidation {
        id: row.try_get("id").map_err(db_error)?,
        customer_id: row.try_get("customer_id").map_err(db_error)?,
        account_id: row.try_get("account_id").map_err(db_error)?,
        domain: row.try_get("domain").map_err(db_error)?,
        wildcard: row.try_get("wildcard").map_err(db_error)?,
        method: parse_wire(&method, "domain_validations.method", ChallengeType::parse)?,
        validated_at: from_micros(
            row.try_get("validated_at").map_err(db_error)?,
            "domain_validations.validated_at",
        )?,
        reuse_until: from_micros(
            row.try_get("reuse_until").map_err(db_error)?,
            "domain_validations.reuse_until",
        )?,
        authorization_id: row.try_get("authorization_id").map_err(db_error)?,
        record: from_json(&record, "domain_validations.record")?,
    })
}
