//! Anti-replay nonces (RFC 8555 §6.5). `ferrite_core::nonce` issues and checks them; the
//! database keeps the shared key and the record of used nonces.

use ferrite_core::StoreError;
use time::OffsetDateTime;

use super::{PostgresStore, at};
use crate::codec::micros;

/// The stored key, or `candidate` stored and returned if there is none. `DO UPDATE` (setting
/// the key to itself) rather than `DO NOTHING`: it locks and returns the row another instance
/// committed a moment ago, which this statement's snapshot would not show.
pub(crate) async fn key(store: &PostgresStore, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
    let row = store
        .query_opt(
            "INSERT INTO nonce_key (id, key) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET key = nonce_key.key RETURNING key",
            &[&candidate],
        )
        .await?
        .ok_or_else(|| StoreError::Corrupt("nonce_key returned no row".to_owned()))?;
    at(&row, 0, "key")
}

// RFC 8555 §6.5.2: "The server MUST NOT accept a nonce more than once" — one insert that does
// nothing for a nonce already recorded. Of concurrent redeemers on any instance, the first to
// insert wins; the others wait for its commit and insert nothing.
pub(crate) async fn consume(
    store: &PostgresStore,
    nonce: &str,
    expires: OffsetDateTime,
) -> Result<bool, StoreError> {
    store
        .execute(
            "INSERT INTO used_nonces (expires, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&micros(expires), &nonce],
        )
        .await
        .map(|n| n == 1)
}

/// Deletes the records of nonces that expired at or before `now` (they can no longer be
/// presented: `ferrite_core::nonce` refuses an expired nonce before asking the store).
pub(crate) async fn purge(store: &PostgresStore, now: OffsetDateTime) -> Result<u64, StoreError> {
    store
        .execute(
            "DELETE FROM used_nonces WHERE expires <= $1",
            &[&micros(now)],
        )
        .await
}
