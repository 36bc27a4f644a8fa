//! Challenge validation leases (RFC 8555 §7.5.1, §8.2): start, finish, reap.
//!
//! A validating instance holds a challenge in `processing` until its lease runs out; if it dies,
//! the reaper hands the challenge back to `pending` so that a retry can start it again.

use ferrite_core::StoreError;
use ferrite_core::model::ValidationResult;
use ferrite_proto::{AuthorizationStatus, ChallengeStatus};
use time::OffsetDateTime;

use crate::codec::{micros, to_json};
use crate::domain_validations;
use crate::error::db_error;
use crate::open::SqliteStore;

// RFC 8555 §7.5.1: the client's POST moves the challenge to "processing". One UPDATE with both
// conditions (challenge pending, its authorization pending), so exactly one of any number of
// concurrent callers wins.
pub(crate) async fn start(
    store: &SqliteStore,
    challenge_id: &str,
    lease_until: OffsetDateTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE challenges SET status = 'processing', lease_until = ? \
         WHERE id = ? AND status = 'pending' AND authorization_id IN \
         (SELECT id FROM authorizations WHERE status = 'pending')",
    )
    .bind(micros(lease_until))
    .bind(challenge_id)
    .execute(&store.pool)
    .await
    .map_err(db_error)?;
    Ok(done.rows_affected() == 1)
}

// RFC 8555 §7.1.6: a challenge that succeeds makes its authorization valid; one that fails makes
// it invalid. Applied only while the challenge is still `processing` under this authorization
// (a reaped-and-restarted validation must not be overwritten by the dead instance's result),
// and the authorization only moves from `pending`: a late failure of a second challenge never
// turns an already valid authorization invalid.
pub(crate) async fn finish(
    store: &SqliteStore,
    result: &ValidationResult,
) -> Result<(), StoreError> {
    let record = to_json(&result.record, "record")?;
    let (challenge_status, authz_status, validated, error) = match &result.outcome {
        Ok(at) => (
            ChallengeStatus::Valid,
            AuthorizationStatus::Valid,
            Some(micros(*at)),
            None,
        ),
        Err(problem) => (
            ChallengeStatus::Invalid,
            AuthorizationStatus::Invalid,
            None,
            Some(to_json(problem, "error")?),
        ),
    };
    let mut tx = store.begin_write().await?;
    let done = sqlx::query(
        "UPDATE challenges SET status = ?, validated = ?, error = ?, record = ?, \
         lease_until = NULL WHERE id = ? AND authorization_id = ? AND status = 'processing'",
    )
    .bind(challenge_status.as_str())
    .bind(validated)
    .bind(error)
    .bind(record)
    .bind(&result.challenge_id)
    .bind(&result.authorization_id)
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    if done.rows_affected() == 1 {
        // A success keeps the domain validation for the customer (BR §4.2.1 reuse) in this
        // same transaction, and the now-valid authorization expires with its reuse window.
        let valid_until = match (&result.outcome, &result.domain_validation) {
            (Ok(_), Some(v)) => Some(micros(v.reuse_until)),
            _ => None,
        };
        let changed = sqlx::query(
            "UPDATE authorizations SET status = ?, expires = COALESCE(?, expires) \
             WHERE id = ? AND status = 'pending'",
        )
        .bind(authz_status.as_str())
        .bind(valid_until)
        .bind(&result.authorization_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        if changed.rows_affected() == 1
            && result.outcome.is_ok()
            && let Some(v) = &result.domain_validation
        {
            domain_validations::insert_in(&mut tx, v).await?;
        }
    } else {
        tracing::debug!(
            challenge_id = %result.challenge_id,
            "validation result ignored: the challenge is no longer processing"
        );
    }
    tx.commit().await.map_err(db_error)?;
    Ok(())
}

pub(crate) async fn reap(store: &SqliteStore, now: OffsetDateTime) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE challenges SET status = 'pending', lease_until = NULL \
         WHERE status = 'processing' AND lease_until < ?",
    )
    .bind(micros(now))
    .execute(&store.pool)
    .await
    .map_err(db_error)?;
    Ok(done.rows_affected())
}
