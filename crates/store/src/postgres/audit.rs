//! The audit log (`audit_log`): entries appended by the schema's triggers in the transaction
//! of each change, or by [`append`] for what changes nothing else; sealed into the hash chain
//! ([`ferrite_core::audit`]) in order by [`seal`].

use ferrite_core::StoreError;
use ferrite_core::audit::{AuditEntry, GENESIS, entry_hash};
use time::OffsetDateTime;
use tokio_postgres::Row;

use super::{PostgresStore, at, db_error};
use crate::audit::audit_columns;
use crate::codec::{from_micros, micros};

/// The advisory lock the sealers of a deployment take in turn ("ferrite audit", as bytes).
const SEAL_LOCK: i64 = 0x6665_7272_6175_6474;

pub(crate) async fn append(
    store: &PostgresStore,
    at: OffsetDateTime,
    event: &str,
    subject: &str,
    details: &str,
) -> Result<(), StoreError> {
    store
        .execute(
            "INSERT INTO audit_log (at, event, subject, details) VALUES ($1, $2, $3, $4)",
            &[&micros(at), &event, &subject, &details],
        )
        .await
        .map(drop)
}

// One transaction under an advisory lock: instances sealing at once take turns, and each
// continues the chain from the head the previous one committed. An entry whose transaction
// commits after later entries were sealed is sealed in a later round, further down the chain.
pub(crate) async fn seal(store: &PostgresStore, limit: u32) -> Result<u64, StoreError> {
    let mut conn = store.conn().await?;
    let tx = conn.transaction().await.map_err(db_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SEAL_LOCK])
        .await
        .map_err(db_error)?;
    let head = tx
        .query_opt(
            "SELECT chain, hash FROM audit_log WHERE chain IS NOT NULL \
             ORDER BY chain DESC LIMIT 1",
            &[],
        )
        .await
        .map_err(db_error)?;
    let (mut chain, mut previous) = match head {
        Some(row) => (at::<i64>(&row, 0, "chain")?, at::<String>(&row, 1, "hash")?),
        None => (0, GENESIS.to_owned()),
    };
    let rows = tx
        .query(
            concat!(
                "SELECT ",
                audit_columns!(),
                " FROM audit_log WHERE chain IS NULL ORDER BY seq LIMIT $1"
            ),
            &[&i64::from(limit)],
        )
        .await
        .map_err(db_error)?;
    let unsealed = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    let (mut seqs, mut chains, mut hashes) = (Vec::new(), Vec::new(), Vec::new());
    for entry in &unsealed {
        chain += 1;
        let hash = entry_hash(&previous, chain, entry);
        seqs.push(entry.seq);
        chains.push(chain);
        hashes.push(hash.clone());
        previous = hash;
    }
    // One statement for the batch.
    tx.execute(
        "UPDATE audit_log SET chain = sealed.chain, hash = sealed.hash \
         FROM unnest($1::BIGINT[], $2::BIGINT[], $3::TEXT[]) AS sealed (seq, chain, hash) \
         WHERE audit_log.seq = sealed.seq",
        &[&seqs, &chains, &hashes],
    )
    .await
    .map_err(db_error)?;
    tx.commit().await.map_err(db_error)?;
    Ok(unsealed.len() as u64)
}

pub(crate) async fn chain(
    store: &PostgresStore,
    after_chain: i64,
    limit: u32,
) -> Result<Vec<AuditEntry>, StoreError> {
    let rows = store
        .query(
            concat!(
                "SELECT ",
                audit_columns!(),
                " FROM audit_log WHERE chain > $1 ORDER BY chain LIMIT $2"
            ),
            &[&after_chain, &i64::from(limit)],
        )
        .await?;
    rows.iter().map(decode).collect()
}

pub(crate) async fn entries(
    store: &PostgresStore,
    since: OffsetDateTime,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<AuditEntry>, StoreError> {
    let rows = store
        .query(
            concat!(
                "SELECT ",
                audit_columns!(),
                " FROM audit_log WHERE at >= $1 AND seq > $2 ORDER BY seq LIMIT $3"
            ),
            &[&micros(since), &after_seq, &i64::from(limit)],
        )
        .await?;
    rows.iter().map(decode).collect()
}

pub(crate) async fn unsealed(store: &PostgresStore) -> Result<u64, StoreError> {
    let row = store
        .query_opt(
            "SELECT count(*) AS count FROM audit_log WHERE chain IS NULL",
            &[],
        )
        .await?;
    let n: i64 = match row {
        Some(row) => at(&row, 0, "count")?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

fn decode(row: &Row) -> Result<AuditEntry, StoreError> {
    let chain: Option<i64> = at(row, 5, "chain")?;
    let hash: Option<String> = at(row, 6, "hash")?;
    Ok(AuditEntry {
        seq: at(row, 0, "seq")?,
        at: from_micros(at(row, 1, "at")?, "audit_log.at")?,
        event: at(row, 2, "event")?,
        subject: at(row, 3, "subject")?,
        details: at(row, 4, "details")?,
        sealed: chain.zip(hash),
    })
}
