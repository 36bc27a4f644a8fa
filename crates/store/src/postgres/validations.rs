//! Challenge validation leases (RFC 8555 §7.5.1, §8.2): start, finish, reap.
//!
//! A validating instance holds a challenge in `processing` until its lease runs out; if it dies,
//! any instance's reaper hands the challenge back to `pending` so that a retry can start it
//! again, and the dead claim's result, should it still arrive, no longer matches the lease.
//!
//! Locks: a statement whose condition reads the authorization locks that row, so the
//! authorization's latest committed status decides, not the one in the statement's snapshot.
//! A claim locks it `FOR SHARE` (claims of sibling challenges do not wait for each other); a
//! result without a claim locks it `FOR NO KEY UPDATE` before its challenge, the lock it
//! takes anyway to update the authorization, so two such results queue on the authorization
//! instead of deadlocking.

use ferrite_core::StoreError;
use ferrite_core::model::ValidationResult;
use time::OffsetDateTime;

use super::{PostgresStore, at};
use crate::codec::{micros, outcome_columns, to_json};

/// RFC 8555 §7.5.1: the client's POST moves the challenge to "processing" only if the
/// challenge and its authorization are `pending`; exactly one of any number of concurrent
/// callers wins.
const START_SQL: &str = "UPDATE challenges SET status = 'processing', lease_until = $1 \
     WHERE id = $2 AND status = 'pending' AND EXISTS (SELECT 1 FROM authorizations a \
     WHERE a.id = challenges.authorization_id AND a.status = 'pending' FOR SHARE OF a)";

pub(crate) async fn start(
    store: &PostgresStore,
    challenge_id: &str,
    lease_until: OffsetDateTime,
) -> Result<bool, StoreError> {
    store
        .execute(START_SQL, &[&micros(lease_until), &challenge_id])
        .await
        .map(|n| n == 1)
}

/// A result's statement: the challenge update (`$1`…`$6`, and what `$challenge_condition`
/// adds), then the authorization (`$7` status, `$8` new expiry) only if it is still `pending`,
/// then, only if the authorization changed and a domain validation is given (`$9`…`$18`), the
/// domain validation. Returns whether the challenge update applied.
macro_rules! finish_sql {
    ($challenge_condition:literal) => {
        concat!(
            "WITH ch AS ( \
               UPDATE challenges SET status = $1, validated = $2, error = $3, record = $4, \
                 lease_until = NULL \
               WHERE id = $5 AND authorization_id = $6 AND ",
            $challenge_condition,
            " RETURNING authorization_id), \
             az AS ( \
               UPDATE authorizations SET status = $7, expires = COALESCE($8, expires) \
               WHERE id = (SELECT authorization_id FROM ch) AND status = 'pending' \
               RETURNING id), \
             dv AS ( \
               INSERT INTO domain_validations (id, customer_id, account_id, domain, wildcard, \
                 method, validated_at, reuse_until, authorization_id, record) \
               SELECT $9, $10, $11, $12, $13, $14, $15, $16, $17, $18 FROM az \
               WHERE $9::text IS NOT NULL) \
             SELECT count(*) AS applied FROM ch"
        )
    };
}

/// The result of a claimed validation: the challenge must still be `processing` under the
/// lease of the claim that produced it (`$19`), so a reaped-and-restarted validation is not
/// overwritten by the earlier claim's late result.
const FINISH_CLAIMED_SQL: &str = finish_sql!("status = 'processing' AND lease_until = $19");

/// The result of a validation that finished before it claimed the challenge: it is the claim,
/// so it needs what [`START_SQL`] needs (challenge and authorization `pending`); of concurrent
/// such results, or a result and a claim, exactly one wins.
const FINISH_UNCLAIMED_SQL: &str = finish_sql!(
    "status = 'pending' AND EXISTS (SELECT 1 FROM authorizations a \
     WHERE a.id = challenges.authorization_id AND a.status = 'pending' FOR NO KEY UPDATE OF a)"
);

/// RFC 8555 §7.1.6: a challenge that succeeds makes its authorization valid; one that fails
/// makes it invalid. One statement: the challenge, the authorization (only from `pending`: a
/// late failure of a second challenge never turns a valid authorization invalid) and, for a
/// success, the domain validation kept for reuse (BR §4.2.1), with the authorization then
/// expiring with its reuse window. Returns whether the result applied.
pub(crate) async fn finish(
    store: &PostgresStore,
    result: &ValidationResult,
) -> Result<bool, StoreError> {
    let record = to_json(&result.record, "record")?;
    let (challenge_status, authz_status, validated, error) = outcome_columns(&result.outcome)?;
    let v = match (&result.outcome, &result.domain_validation) {
        (Ok(_), Some(v)) => Some(v),
        _ => None,
    };
    let reuse_until = v.map(|v| micros(v.reuse_until));
    let v_id = v.map(|v| v.id.as_str());
    let v_customer = v.and_then(|v| v.customer_id.as_deref());
    let v_account = v.map(|v| v.account_id.as_str());
    let v_domain = v.map(|v| v.domain.as_str());
    let v_wildcard = v.map(|v| v.wildcard);
    let v_method = v.map(|v| v.method.as_str());
    let v_validated_at = v.map(|v| micros(v.validated_at));
    let v_authorization = v.map(|v| v.authorization_id.as_str());
    let v_record = v.map(|v| to_json(&v.record, "record")).transpose()?;
    let lease_until = result.lease_until.map(micros);
    let (challenge_status, authz_status) = (challenge_status.as_str(), authz_status.as_str());
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![
        &challenge_status,
        &validated,
        &error,
        &record,
        &result.challenge_id,
        &result.authorization_id,
        &authz_status,
        &reuse_until,
        &v_id,
        &v_customer,
        &v_account,
        &v_domain,
        &v_wildcard,
        &v_method,
        &v_validated_at,
        &reuse_until,
        &v_authorization,
        &v_record,
    ];
    let sql = match &lease_until {
        Some(lease_until) => {
            params.push(lease_until);
            FINISH_CLAIMED_SQL
        }
        None => FINISH_UNCLAIMED_SQL,
    };
    let row = store
        .query_opt(sql, &params)
        .await?
        .ok_or_else(|| StoreError::Backend("a count returned no row".to_owned()))?;
    let applied: i64 = at(&row, 0, "applied")?;
    if applied != 1 {
        tracing::debug!(
            challenge_id = result.challenge_id,
            "validation result ignored: the challenge is no longer pending, or no longer processing under this claim"
        );
    }
    Ok(applied == 1)
}

/// Hands challenges whose lease ran out back to `pending`. A result racing the reaper for
/// the same challenge is decided by the row lock: whichever commits first, the other finds
/// the challenge no longer as it requires.
pub(crate) async fn reap(store: &PostgresStore, now: OffsetDateTime) -> Result<u64, StoreError> {
    store
        .execute(
            "UPDATE challenges SET status = 'pending', lease_until = NULL \
             WHERE status = 'processing' AND lease_until < $1",
            &[&micros(now)],
        )
        .await
}
