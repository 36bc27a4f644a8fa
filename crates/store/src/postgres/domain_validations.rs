//! Domain validations kept for reuse and as evidence (BR §4.2.1). Rows are written by
//! `validations::finish` in the statement that records the challenge result; this module
//! looks them up for reuse and lists them.

use ferrite_core::StoreError;
use ferrite_core::model::{DomainValidation, DomainValidationQuery, Scope, ValidationOwner};
use ferrite_proto::ChallengeType;
use time::OffsetDateTime;
use tokio_postgres::Row;

use super::{PostgresStore, at};
use crate::codec::{from_json, from_micros, micros, parse_wire};
use crate::domain_validations::REUSE_LOOKUP_LIMIT;

/// The domain validation SELECT (columns prefixed `dv.`) with a clause appended.
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

// BR §4.2.1 reuse: the owner's validations of any of the names, newer than `since`, whose
// authorization is still valid (RFC 8555 §7.5.2: a deactivated authorization is given up, and
// so is the validation behind it).
pub(crate) async fn reusable(
    store: &PostgresStore,
    owner: &ValidationOwner,
    domains: &[String],
    since: OffsetDateTime,
) -> Result<Vec<DomainValidation>, StoreError> {
    let since = micros(since);
    let rows = match owner {
        ValidationOwner::Customer(customer) => {
            store
                .query(
                    select_validation!(
                        "JOIN authorizations a ON a.id = dv.authorization_id \
                         WHERE dv.customer_id = $1 AND dv.domain = ANY($2) \
                         AND dv.validated_at > $3 AND a.status = 'valid' \
                         ORDER BY dv.validated_at DESC, dv.seq DESC LIMIT $4"
                    ),
                    &[customer, &domains, &since, &REUSE_LOOKUP_LIMIT],
                )
                .await?
        }
        ValidationOwner::Account(account) => {
            store
                .query(
                    select_validation!(
                        "JOIN authorizations a ON a.id = dv.authorization_id \
                         WHERE dv.customer_id IS NULL AND dv.account_id = $1 \
                         AND dv.domain = ANY($2) \
                         AND dv.validated_at > $3 AND a.status = 'valid' \
                         ORDER BY dv.validated_at DESC, dv.seq DESC LIMIT $4"
                    ),
                    &[account, &domains, &since, &REUSE_LOOKUP_LIMIT],
                )
                .await?
        }
    };
    rows.iter().map(decode).collect()
}

/// Every validation in `scope`, newest first (operator view).
pub(crate) async fn list(
    store: &PostgresStore,
    scope: &Scope,
) -> Result<Vec<DomainValidation>, StoreError> {
    let rows = match scope {
        Scope::All => {
            store
                .query(select_validation!("ORDER BY dv.seq DESC"), &[])
                .await?
        }
        Scope::Customer(id) => {
            store
                .query(
                    select_validation!("WHERE dv.customer_id = $1 ORDER BY dv.seq DESC"),
                    &[id],
                )
                .await?
        }
        Scope::Credential(id) => {
            store
                .query(
                    select_validation!(
                        "WHERE dv.account_id IN (SELECT id FROM accounts WHERE eab_kid IN \
                         (SELECT kid FROM eab_mac_keys WHERE credential_id = $1)) \
                         ORDER BY dv.seq DESC"
                    ),
                    &[id],
                )
                .await?
        }
    };
    rows.iter().map(decode).collect()
}

// The admin API: a customer's validations, newest first by the never-reused `seq`, filtered
// by the name as shown (`*.` in front for a wildcard); the cursor is the last id of the
// previous page, and one unknown to the customer yields an empty page.
pub(crate) async fn page(
    store: &PostgresStore,
    query: &DomainValidationQuery,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<DomainValidation>, StoreError> {
    let rows = store
        .query(
            select_validation!(
                "WHERE dv.customer_id = $1 \
                 AND ($2::text IS NULL OR (CASE WHEN dv.wildcard THEN '*.' || dv.domain \
                   ELSE dv.domain END) = $2) \
                 AND ($3::text IS NULL OR right(CASE WHEN dv.wildcard THEN '*.' || dv.domain \
                   ELSE dv.domain END, length($3)) = $3) \
                 AND ($4::text IS NULL OR dv.seq < \
                   (SELECT seq FROM domain_validations WHERE id = $4 AND customer_id = $1)) \
                 ORDER BY dv.seq DESC LIMIT $5"
            ),
            &[
                &query.customer_id,
                &query.domain,
                &query.domain_suffix,
                &after,
                &i64::from(limit),
            ],
        )
        .await?;
    rows.iter().map(decode).collect()
}

fn decode(row: &Row) -> Result<DomainValidation, StoreError> {
    let method: &str = at(row, 5, "method")?;
    let record: &str = at(row, 9, "record")?;
    Ok(DomainValidation {
        id: at(row, 0, "id")?,
        customer_id: at(row, 1, "customer_id")?,
        account_id: at(row, 2, "account_id")?,
        domain: at(row, 3, "domain")?,
        wildcard: at(row, 4, "wildcard")?,
        method: parse_wire(method, "domain_validations.method", ChallengeType::parse)?,
        validated_at: from_micros(
            at(row, 6, "validated_at")?,
            "domain_validations.validated_at",
        )?,
        reuse_until: from_micros(at(row, 7, "reuse_until")?, "domain_validations.reuse_until")?,
        authorization_id: at(row, 8, "authorization_id")?,
        record: from_json(record, "domain_validations.record")?,
    })
}
