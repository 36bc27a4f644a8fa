//! Challenge validation leases (RFC 8555 §7.5.1, §8.2): start, finish, reap.
//!
//! A validating instance holds a challenge in `processing` until its lease runs out; if it dies,
//! the reaper hands the challenge back to `pending` so that a retry can start it again.

use ferrite_core::StoreError;
use ferrite_core::model::ValidationResult;
use rusqlite::params;
use time::OffsetDateTime;

use crate::codec::{micros, outcome_columns, to_json};
use crate::db::execute;
use crate::domain_validations;
use crate::open::SqliteStore;

/// RFC 8555 §7.5.1: the client's POST moves the challenge to "processing". One UPDATE with both
/// conditions (challenge pending, its authorization pending), so exactly one of any number of
/// concurrent callers wins. The authorization is looked up by its key (`EXISTS … a.id = …`):
/// an `authorization_id IN (SELECT id … WHERE status = 'pending')` made SQLite scan every
/// authorization on each challenge POST, which cut throughput to a third on a database with
/// 100,000 certificates (docs/performance.md).
const START_SQL: &str = "UPDATE challenges SET status = 'processing', lease_until = ? \
     WHERE id = ? AND status = 'pending' AND EXISTS (SELECT 1 FROM authorizations a \
     WHERE a.id = challenges.authorization_id AND a.status = 'pending')";

pub(crate) async fn start(
    store: &SqliteStore,
    challenge_id: &str,
    lease_until: OffsetDateTime,
) -> Result<bool, StoreError> {
    let challenge_id = challenge_id.to_owned();
    store
        .db
        .write(move |conn| {
            execute(conn, START_SQL, params![micros(lease_until), challenge_id]).map(|n| n == 1)
        })
        .await
}

/// The result of a claimed validation: the challenge must still be `processing` under this
/// authorization with the lease of the claim that produced the result (a reaped-and-restarted
/// validation must not be overwritten by the earlier claim's late result).
const FINISH_CLAIMED_SQL: &str = "UPDATE challenges SET status = ?, validated = ?, error = ?, \
     record = ?, lease_until = NULL \
     WHERE id = ? AND authorization_id = ? AND status = 'processing' AND lease_until = ?";

/// The result of a validation that finished before it claimed the challenge: it is the claim,
/// so it needs what [`START_SQL`] needs (challenge and authorization `pending`); of concurrent
/// such results, or a result and a claim, exactly one wins.
const FINISH_UNCLAIMED_SQL: &str = "UPDATE challenges SET status = ?, validated = ?, error = ?, \
     record = ?, lease_until = NULL \
     WHERE id = ? AND authorization_id = ? AND status = 'pending' AND EXISTS (SELECT 1 \
     FROM authorizations a WHERE a.id = challenges.authorization_id AND a.status = 'pending')";

/// RFC 8555 §7.1.6: a challenge that succeeds makes its authorization valid; one that fails
/// makes it invalid. Applied only under the conditions of [`FINISH_CLAIMED_SQL`] or
/// [`FINISH_UNCLAIMED_SQL`]; the authorization only moves from `pending`: a late failure of a
/// second challenge never turns an already valid authorization invalid. Returns whether the
/// result applied.
pub(crate) async fn finish(
    store: &SqliteStore,
    result: &ValidationResult,
) -> Result<bool, StoreError> {
    let record = to_json(&result.record, "record")?;
    let (challenge_status, authz_status, validated, error) = outcome_columns(&result.outcome)?;
    // A success keeps the domain validation for the customer (BR §4.2.1 reuse) in this same
    // write job, and the now-valid authorization expires with its reuse window.
    let domain_validation = match (&result.outcome, &result.domain_validation) {
        (Ok(_), Some(v)) => Some(v.clone()),
        _ => None,
    };
    let challenge_id = result.challenge_id.clone();
    let authorization_id = result.authorization_id.clone();
    let lease_until = result.lease_until.map(micros);
    store
        .db
        .write(move |conn| {
            let status = challenge_status.as_str();
            let done = match lease_until {
                Some(lease_until) => execute(
                    conn,
                    FINISH_CLAIMED_SQL,
                    params![
                        status,
                        validated,
                        error,
                        record,
                        challenge_id,
                        authorization_id,
                        lease_until
                    ],
                )?,
                None => execute(
                    conn,
                    FINISH_UNCLAIMED_SQL,
                    params![status, validated, error, record, challenge_id, authorization_id],
                )?,
            };
            if done != 1 {
                tracing::debug!(
                    challenge_id,
                    "validation result ignored: the challenge is no longer pending, or no longer processing under this claim"
                );
                return Ok(false);
            }
            let changed = execute(
                conn,
                "UPDATE authorizations SET status = ?, expires = COALESCE(?, expires) \
                 WHERE id = ? AND status = 'pending'",
                params![
                    authz_status.as_str(),
                    domain_validation.as_ref().map(|v| micros(v.reuse_until)),
                    authorization_id
                ],
            )?;
            if changed == 1
                && let Some(v) = &domain_validation
            {
                domain_validations::insert_in(conn, v)?;
            }
            Ok(true)
        })
        .await
}

pub(crate) async fn reap(store: &SqliteStore, now: OffsetDateTime) -> Result<u64, StoreError> {
    store
        .db
        .write(move |conn| {
            execute(
                conn,
                "UPDATE challenges SET status = 'pending', lease_until = NULL \
                 WHERE status = 'processing' AND lease_until < ?",
                [micros(now)],
            )
            .map(|n| n as u64)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::db_error;

    /// The challenge POST's compare-and-sets (the claim, and a quick validation's result) must
    /// find their rows by key, whatever the size of the database: no full scan of any table.
    #[tokio::test]
    async fn starting_or_finishing_a_validation_scans_no_table() {
        let store = SqliteStore::open_in_memory().await.unwrap();
        for (sql, params) in [
            (START_SQL, 2),
            (FINISH_UNCLAIMED_SQL, 6),
            (FINISH_CLAIMED_SQL, 7),
        ] {
            let plan: Vec<String> = store
                .db
                .read(|conn| {
                    let mut stmt = conn
                        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                        .map_err(db_error)?;
                    let nulls = vec![None::<i64>; params];
                    let rows = stmt
                        .query_map(rusqlite::params_from_iter(nulls), |row| {
                            row.get::<_, String>("detail")
                        })
                        .map_err(db_error)?;
                    rows.collect::<Result<_, _>>().map_err(db_error)
                })
                .unwrap();
            assert!(
                plan.iter().all(|step| !step.starts_with("SCAN")),
                "query plan of {sql}: {plan:?}"
            );
        }
    }
}
