//! The audit log (`audit_log`): entries appended by the schema's triggers in the transaction
//! of each change, or by [`append`] for what changes nothing else; sealed into the hash chain
//! ([`ferrite_core::audit`]) in order by [`seal`].

use ferrite_core::StoreError;
use ferrite_core::audit::{AuditEntry, GENESIS, entry_hash};
use rusqlite::{Row, params};
use time::OffsetDateTime;

use crate::codec::{from_micros, micros};
use crate::db::{at, execute, query_all, query_opt};
use crate::open::SqliteStore;

/// The columns [`decode`] reads, in its order.
macro_rules! audit_columns {
    () => {
        "seq, at, event, subject, details, chain, hash"
    };
}
pub(crate) use audit_columns;

pub(crate) async fn append(
    store: &SqliteStore,
    at: OffsetDateTime,
    event: &str,
    subject: &str,
    details: &str,
) -> Result<(), StoreError> {
    let (event, subject, details) = (event.to_owned(), subject.to_owned(), details.to_owned());
    store
        .db
        .write(move |conn| {
            execute(
                conn,
                "INSERT INTO audit_log (at, event, subject, details) VALUES (?, ?, ?, ?)",
                params![micros(at), event, subject, details],
            )
            .map(drop)
        })
        .await
}

// One write job: the chain's head and the oldest unsealed entries are read and sealed under
// the one writer, so two sealers never give two entries one place.
pub(crate) async fn seal(store: &SqliteStore, limit: u32) -> Result<u64, StoreError> {
    store
        .db
        .write(move |conn| {
            let head = query_opt(
                conn,
                "SELECT chain, hash FROM audit_log WHERE chain IS NOT NULL \
                 ORDER BY chain DESC LIMIT 1",
                [],
                |row| Ok((at::<i64>(row, 0, "chain")?, at::<String>(row, 1, "hash")?)),
            )?;
            let (mut chain, mut previous) = head.unwrap_or((0, GENESIS.to_owned()));
            let unsealed = query_all(
                conn,
                concat!(
                    "SELECT ",
                    audit_columns!(),
                    " FROM audit_log WHERE chain IS NULL ORDER BY seq LIMIT ?"
                ),
                [i64::from(limit)],
                decode,
            )?;
            for entry in &unsealed {
                chain += 1;
                let hash = entry_hash(&previous, chain, entry);
                execute(
                    conn,
                    "UPDATE audit_log SET chain = ?, hash = ? WHERE seq = ?",
                    params![chain, hash, entry.seq],
                )?;
                previous = hash;
            }
            Ok(unsealed.len() as u64)
        })
        .await
}

pub(crate) async fn chain(
    store: &SqliteStore,
    after_chain: i64,
    limit: u32,
) -> Result<Vec<AuditEntry>, StoreError> {
    store.db.read(|conn| {
        query_all(
            conn,
            concat!(
                "SELECT ",
                audit_columns!(),
                " FROM audit_log WHERE chain > ? ORDER BY chain LIMIT ?"
            ),
            params![after_chain, i64::from(limit)],
            decode,
        )
    })
}

pub(crate) async fn entries(
    store: &SqliteStore,
    since: OffsetDateTime,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<AuditEntry>, StoreError> {
    store.db.read(|conn| {
        query_all(
            conn,
            concat!(
                "SELECT ",
                audit_columns!(),
                " FROM audit_log WHERE at >= ? AND seq > ? ORDER BY seq LIMIT ?"
            ),
            params![micros(since), after_seq, i64::from(limit)],
            decode,
        )
    })
}

pub(crate) async fn unsealed(store: &SqliteStore) -> Result<u64, StoreError> {
    store.db.read(|conn| {
        query_opt(
            conn,
            "SELECT count(*) AS count FROM audit_log WHERE chain IS NULL",
            [],
            |row| at::<i64>(row, 0, "count"),
        )
        .map(|n| u64::try_from(n.unwrap_or(0)).unwrap_or(0))
    })
}

fn decode(row: &Row<'_>) -> Result<AuditEntry, StoreError> {
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
