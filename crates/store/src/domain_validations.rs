//! Domain validations kept for reuse and as evidence (BR §4.2.1; DESIGN §3
//! `domain_validation`). Rows are written by `validations::finish` in the write job that
//! records the challenge result; this module inserts, looks up for reuse, and lists them.

use ferrite_core::StoreError;
use ferrite_core::model::{DomainValidation, DomainValidationQuery, Scope, ValidationOwner};
use ferrite_proto::ChallengeType;
use rusqlite::{Connection, Row, params};
use time::OffsetDateTime;

use crate::codec::{from_json, from_micros, micros, parse_wire, to_json};
use crate::db::{at, execute, query_all};
use crate::open::SqliteStore;

/// Most rows one reuse lookup reads. Newest first, so the best candidates are always among
/// them; a customer validating the same few names hundreds of times inside one window loses
/// nothing by the cut.
pub(crate) const REUSE_LOOKUP_LIMIT: i64 = 500;

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

/// Inserts a domain validation inside the caller's write job.
pub(crate) fn insert_in(conn: &Connection, v: &DomainValidation) -> Result<(), StoreError> {
    execute(
        conn,
        "INSERT INTO domain_validations (id, customer_id, account_id, domain, wildcard, method, \
         validated_at, reuse_until, authorization_id, record) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params![
            v.id,
            v.customer_id,
            v.account_id,
            v.domain,
            v.wildcard,
            v.method.as_str(),
            micros(v.validated_at),
            micros(v.reuse_until),
            v.authorization_id,
            to_json(&v.record, "record")?,
        ],
    )
    .map(drop)
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
    let since = micros(since);
    store.db.read(|conn| match owner {
        ValidationOwner::Customer(customer) => query_all(
            conn,
            select_validation!(
                "JOIN authorizations a ON a.id = dv.authorization_id \
                 WHERE dv.customer_id = ? AND dv.domain IN (SELECT value FROM json_each(?)) \
                 AND dv.validated_at > ? AND a.status = 'valid' \
                 ORDER BY dv.validated_at DESC, dv.seq DESC LIMIT ?"
            ),
            params![customer, domains, since, REUSE_LOOKUP_LIMIT],
            decode,
        ),
        ValidationOwner::Account(account) => query_all(
            conn,
            select_validation!(
                "JOIN authorizations a ON a.id = dv.authorization_id \
                 WHERE dv.customer_id IS NULL AND dv.account_id = ? \
                 AND dv.domain IN (SELECT value FROM json_each(?)) \
                 AND dv.validated_at > ? AND a.status = 'valid' \
                 ORDER BY dv.validated_at DESC, dv.seq DESC LIMIT ?"
            ),
            params![account, domains, since, REUSE_LOOKUP_LIMIT],
            decode,
        ),
    })
}

/// Every validation in `scope`, newest first (operator view).
pub(crate) async fn list(
    store: &SqliteStore,
    scope: &Scope,
) -> Result<Vec<DomainValidation>, StoreError> {
    store.db.read(|conn| match scope {
        Scope::All => query_all(conn, select_validation!("ORDER BY dv.seq DESC"), [], decode),
        Scope::Customer(id) => query_all(
            conn,
            select_validation!("WHERE dv.customer_id = ? ORDER BY dv.seq DESC"),
            [id],
            decode,
        ),
        Scope::Credential(id) => query_all(
            conn,
            select_validation!(
                "WHERE dv.account_id IN (SELECT id FROM accounts WHERE eab_kid IN \
                 (SELECT kid FROM eab_mac_keys WHERE credential_id = ?)) ORDER BY dv.seq DESC"
            ),
            [id],
            decode,
        ),
    })
}

// The admin API: a customer's validations, newest first by the never-reused `seq`, filtered
// by the name as shown (`*.` in front for a wildcard); the cursor is the last id of the
// previous page, and one unknown to the customer yields an empty page.
pub(crate) async fn page(
    store: &SqliteStore,
    query: &DomainValidationQuery,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<DomainValidation>, StoreError> {
    store.db.read(|conn| {
        query_all(
            conn,
            select_validation!(
                "WHERE dv.customer_id = ?1 \
                 AND (?2 IS NULL OR (CASE WHEN dv.wildcard THEN '*.' || dv.domain \
                   ELSE dv.domain END) = ?2) \
                 AND (?3 IS NULL OR substr(CASE WHEN dv.wildcard THEN '*.' || dv.domain \
                   ELSE dv.domain END, -length(?3)) = ?3) \
                 AND (?4 IS NULL OR dv.seq < \
                   (SELECT seq FROM domain_validations WHERE id = ?4 AND customer_id = ?1)) \
                 ORDER BY dv.seq DESC LIMIT ?5"
            ),
            params![
                query.customer_id,
                query.domain,
                query.domain_suffix,
                after,
                i64::from(limit)
            ],
            decode,
        )
    })
}

fn decode(row: &Row<'_>) -> Result<DomainValidation, StoreError> {
    let method: String = at(row, 5, "method")?;
    let record: String = at(row, 9, "record")?;
    Ok(DomainValidation {
        id: at(row, 0, "id")?,
        customer_id: at(row, 1, "customer_id")?,
        account_id: at(row, 2, "account_id")?,
        domain: at(row, 3, "domain")?,
        wildcard: at(row, 4, "wildcard")?,
        method: parse_wire(&method, "domain_validations.method", ChallengeType::parse)?,
        validated_at: from_micros(
            at(row, 6, "validated_at")?,
            "domain_validations.validated_at",
        )?,
        reuse_until: from_micros(at(row, 7, "reuse_until")?, "domain_validations.reuse_until")?,
        authorization_id: at(row, 8, "authorization_id")?,
        record: from_json(&record, "domain_validations.record")?,
    })
}
