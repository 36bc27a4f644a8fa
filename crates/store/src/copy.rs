//! `ferrite store copy`: a SQLite deployment's data copied into an empty PostgreSQL database,
//! so that a deployment that outgrows one machine keeps its customers, accounts and
//! certificates.
//!
//! Every table of the binding model and the ACME state is copied row for row, in one
//! PostgreSQL transaction (a failed copy leaves the target empty), from one SQLite read
//! transaction (one consistent snapshot of the source), in the order of the source's rows, so
//! that lists ordered by insertion (orders newest first, customers oldest first) keep their
//! order. The CRL number carries over, so the next CRL's number is above every one published.
//! Not copied: the nonce key and the used nonces (nonces in flight are refused as `badNonce`
//! and clients retry with a fresh one). At the end the rows of every table are counted on both
//! sides.

use std::path::Path;

use ferrite_core::StoreError;
use rusqlite::OpenFlags;
use rusqlite::types::Value;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use crate::error::db_error as sqlite_error;
use crate::postgres::{PostgresOptions, PostgresStore, db_error};
use crate::{SQLITE_FILE, SqliteStore};

/// The tables copied, parents before children, each with the source order its rows are copied
/// in (the order they were inserted).
const TABLES: &[(&str, &str)] = &[
    ("customers", "seq"),
    ("api_credentials", "seq"),
    ("operator_credentials", "seq"),
    ("eab_mac_keys", "seq"),
    ("accounts", "rowid"),
    ("authorizations", "seq"),
    ("challenges", "rowid"),
    ("orders", "seq"),
    ("order_authorizations", "order_id, position"),
    ("certificates", "serial"),
    ("domain_validations", "seq"),
    ("ca_certificates", "recorded_at, sha256"),
    ("refused_requests", "rowid"),
    ("blocked_keys", "blocked_at, spki_sha256"),
    ("rate_limits", "key"),
    ("rate_limit_overrides", "customer_id, limit_name"),
    // Its entries keep their chain places and hashes (which do not cover `seq`), so the
    // copied chain verifies as the source's did.
    ("audit_log", "seq"),
];

/// Rows read from SQLite ahead of the PostgreSQL writer.
const ROWS_AHEAD: usize = 1024;

/// How far a copy has come, reported after every 1000 rows and at the end of each table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyProgress {
    /// The table being copied.
    pub table: &'static str,
    /// Rows copied so far.
    pub copied: u64,
    /// Rows the table has in the source.
    pub total: u64,
    /// Whether the table is finished (its last report).
    pub done: bool,
}

/// One table's rows on both sides after a copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableCount {
    /// The table (or `crl_number`, whose value is compared instead of its rows).
    pub table: &'static str,
    /// Rows in the SQLite source.
    pub source: u64,
    /// Rows in the PostgreSQL target after the copy.
    pub target: u64,
}

/// What [`sqlite_to_postgres`] copied, counted on both sides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyReport {
    /// Every table, in copy order, then the CRL number.
    pub tables: Vec<TableCount>,
}

impl CopyReport {
    /// Whether every table has as many rows in the target as in the source.
    pub fn matches(&self) -> bool {
        self.tables.iter().all(|t| t.source == t.target)
    }
}

/// Copies the SQLite database in `data_dir` into the empty PostgreSQL database at `url`
/// (schema applied first on both sides), calling `progress` as it goes; refuses a target that
/// holds any row. The source should not be written during the copy (stop `ferrite serve`
/// first): the copy is of the moment it began.
pub async fn sqlite_to_postgres(
    data_dir: &Path,
    url: &str,
    options: &PostgresOptions,
    progress: &mut (dyn FnMut(&CopyProgress) + Send),
) -> Result<CopyReport, StoreError> {
    let path = data_dir.join(SQLITE_FILE);
    if !path.is_file() {
        return Err(StoreError::Backend(format!(
            "no SQLite database at {} (--from names the data directory of the SQLite deployment)",
            path.display()
        )));
    }
    // Brings the source's schema to this version's, as `ferrite serve` would.
    SqliteStore::open(&path).await?.close().await;
    let target = PostgresStore::open(url, options).await?;
    let result = copy_into(&path, &target, progress).await;
    target.close();
    result
}

async fn copy_into(
    path: &Path,
    target: &PostgresStore,
    progress: &mut (dyn FnMut(&CopyProgress) + Send),
) -> Result<CopyReport, StoreError> {
    let mut conn = target.conn().await?;
    let mut columns = Vec::with_capacity(TABLES.len());
    for (table, _) in TABLES {
        columns.push(target_columns(&conn, table).await?);
    }
    let tx = conn.transaction().await.map_err(db_error)?;
    // Nobody else writes these tables until the copy commits (an instance started on the
    // target, a second copy): the check for emptiness holds for the whole copy.
    let all: Vec<&str> = TABLES.iter().map(|(table, _)| *table).collect();
    tx.batch_execute(&format!(
        "LOCK TABLE {}, nonce_key, used_nonces, crl_number IN SHARE ROW EXCLUSIVE MODE",
        all.join(", ")
    ))
    .await
    .map_err(db_error)?;
    refuse_non_empty(&tx).await?;
    // The audit triggers stay off while rows are copied: the source's own audit entries are
    // copied, and the copy itself is no change to audit.
    for table in &all {
        tx.batch_execute(&format!("ALTER TABLE {table} DISABLE TRIGGER USER"))
            .await
            .map_err(db_error)?;
    }

    let (rows, mut received) = tokio::sync::mpsc::channel(ROWS_AHEAD);
    let plan: Vec<(String, String)> = TABLES
        .iter()
        .zip(&columns)
        .map(|((table, order), cols)| {
            let names: Vec<&str> = cols.iter().map(|(name, _)| name.as_str()).collect();
            (
                format!("SELECT {} FROM {table} ORDER BY {order}", names.join(", ")),
                format!("SELECT count(*) FROM {table}"),
            )
        })
        .collect();
    let source = path.to_owned();
    // Not joined: it ends once it has sent everything, or when this side stops receiving.
    std::thread::Builder::new()
        .name("ferrite-copy".to_owned())
        .spawn(move || read_source(&source, &plan, &rows))
        .map_err(|e| StoreError::Backend(format!("cannot start the SQLite reader: {e}")))?;

    let stopped = || StoreError::Backend("the SQLite reader stopped".to_owned());
    let mut source_counts = Vec::with_capacity(TABLES.len());
    for ((table, _), cols) in TABLES.iter().zip(&columns) {
        let total = match received.recv().await {
            Some(Read::Table(total)) => total,
            Some(Read::Failed(e)) => return Err(e),
            _ => return Err(stopped()),
        };
        let names: Vec<&str> = cols.iter().map(|(name, _)| name.as_str()).collect();
        let types: Vec<Type> = cols.iter().map(|(_, kind)| kind.clone()).collect();
        let sink = tx
            .copy_in(&format!(
                "COPY {table} ({}) FROM STDIN (FORMAT binary)",
                names.join(", ")
            ))
            .await
            .map_err(db_error)?;
        let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &types));
        let mut copied = 0u64;
        loop {
            match received.recv().await {
                Some(Read::Row(values)) => {
                    let values = convert(table, cols, values)?;
                    let refs: Vec<&(dyn ToSql + Sync)> = values
                        .iter()
                        .map(|v| v.as_ref() as &(dyn ToSql + Sync))
                        .collect();
                    writer.as_mut().write(&refs).await.map_err(db_error)?;
                    copied += 1;
                    if copied.is_multiple_of(1000) {
                        progress(&CopyProgress {
                            table,
                            copied,
                            total,
                            done: false,
                        });
                    }
                }
                Some(Read::TableEnd) => break,
                Some(Read::Failed(e)) => return Err(e),
                _ => return Err(stopped()),
            }
        }
        writer.finish().await.map_err(db_error)?;
        progress(&CopyProgress {
            table,
            copied,
            total,
            done: true,
        });
        source_counts.push((*table, total));
    }
    for table in &all {
        tx.batch_execute(&format!("ALTER TABLE {table} ENABLE TRIGGER USER"))
            .await
            .map_err(db_error)?;
    }
    let crl_number = match received.recv().await {
        Some(Read::CrlNumber(value)) => value,
        Some(Read::Failed(e)) => return Err(e),
        _ => return Err(stopped()),
    };
    tx.execute(
        "UPDATE crl_number SET value = $1 WHERE id = 1",
        &[&crl_number],
    )
    .await
    .map_err(db_error)?;
    tx.commit().await.map_err(db_error)?;

    let mut tables = Vec::with_capacity(TABLES.len() + 1);
    for (table, source) in source_counts {
        let row = conn
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .map_err(db_error)?;
        let target: i64 = row.try_get(0).map_err(db_error)?;
        tables.push(TableCount {
            table,
            source,
            target: u64::try_from(target).unwrap_or(0),
        });
    }
    let row = conn
        .query_one("SELECT value FROM crl_number WHERE id = 1", &[])
        .await
        .map_err(db_error)?;
    let target: i64 = row.try_get(0).map_err(db_error)?;
    tables.push(TableCount {
        table: "crl_number",
        source: u64::try_from(crl_number).unwrap_or(0),
        target: u64::try_from(target).unwrap_or(0),
    });
    Ok(CopyReport { tables })
}

/// A table's columns in the target, without its identity column (`seq`, numbered by
/// PostgreSQL in the order rows arrive), with their types.
async fn target_columns(
    conn: &tokio_postgres::Client,
    table: &str,
) -> Result<Vec<(String, Type)>, StoreError> {
    let rows = conn
        .query(
            "SELECT column_name FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 AND is_identity = 'NO' \
             ORDER BY ordinal_position",
            &[&table],
        )
        .await
        .map_err(db_error)?;
    let names: Vec<String> = rows
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()
        .map_err(db_error)?;
    if names.is_empty() {
        return Err(StoreError::Corrupt(format!(
            "the PostgreSQL database has no table {table}"
        )));
    }
    let statement = conn
        .prepare(&format!("SELECT {} FROM {table} LIMIT 0", names.join(", ")))
        .await
        .map_err(db_error)?;
    Ok(statement
        .columns()
        .iter()
        .map(|c| (c.name().to_owned(), c.type_().clone()))
        .collect())
}

/// Refuses a target that holds anything an instance or an earlier copy wrote.
async fn refuse_non_empty(conn: &tokio_postgres::Transaction<'_>) -> Result<(), StoreError> {
    let mut found = Vec::new();
    for table in TABLES
        .iter()
        .map(|(table, _)| *table)
        .chain(["nonce_key", "used_nonces"])
    {
        let row = conn
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .map_err(db_error)?;
        let n: i64 = row.try_get(0).map_err(db_error)?;
        if n > 0 {
            found.push(format!("{table}: {n}"));
        }
    }
    let row = conn
        .query_one("SELECT value FROM crl_number WHERE id = 1", &[])
        .await
        .map_err(db_error)?;
    let crl: i64 = row.try_get(0).map_err(db_error)?;
    if crl > 0 {
        found.push(format!("crl_number: {crl}"));
    }
    if found.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "the PostgreSQL database is not empty ({}): copy into a new, empty database (an instance that has started on it has written to it)",
            found.join(", ")
        )))
    }
}

/// What the SQLite reader sends, in order: per table its row count, its rows, its end; then
/// the CRL number. `Failed` ends the stream.
enum Read {
    Table(u64),
    Row(Vec<Value>),
    TableEnd,
    CrlNumber(i64),
    Failed(StoreError),
}

/// Reads every table of `plan` (its SELECT and its count) in one read transaction and sends
/// it down `rows`; stops when the receiver is gone.
fn read_source(path: &Path, plan: &[(String, String)], rows: &tokio::sync::mpsc::Sender<Read>) {
    if let Err(e) = read_tables(path, plan, rows) {
        let _ = rows.blocking_send(Read::Failed(e));
    }
}

fn read_tables(
    path: &Path,
    plan: &[(String, String)],
    rows: &tokio::sync::mpsc::Sender<Read>,
) -> Result<(), StoreError> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| {
        StoreError::Backend(format!(
            "cannot open SQLite database {}: {e}",
            path.display()
        ))
    })?;
    conn.execute_batch("BEGIN").map_err(sqlite_error)?;
    let gone = || StoreError::Backend("the copy stopped".to_owned());
    for (select, count) in plan {
        let total: i64 = conn
            .query_row(count, [], |row| row.get(0))
            .map_err(sqlite_error)?;
        rows.blocking_send(Read::Table(u64::try_from(total).unwrap_or(0)))
            .map_err(|_| gone())?;
        let mut statement = conn.prepare(select).map_err(sqlite_error)?;
        let width = statement.column_count();
        let mut cursor = statement.query([]).map_err(sqlite_error)?;
        while let Some(row) = cursor.next().map_err(sqlite_error)? {
            let values = (0..width)
                .map(|i| row.get::<_, Value>(i))
                .collect::<Result<Vec<_>, _>>()
                .map_err(sqlite_error)?;
            rows.blocking_send(Read::Row(values)).map_err(|_| gone())?;
        }
        rows.blocking_send(Read::TableEnd).map_err(|_| gone())?;
    }
    let crl: i64 = conn
        .query_row("SELECT value FROM crl_number WHERE id = 1", [], |row| {
            row.get(0)
        })
        .map_err(sqlite_error)?;
    rows.blocking_send(Read::CrlNumber(crl))
        .map_err(|_| gone())?;
    conn.execute_batch("COMMIT").map_err(sqlite_error)?;
    Ok(())
}

/// One SQLite row as the target's column types want it: SQLite's integers become BIGINT or
/// BOOLEAN, its text TEXT, its blobs BYTEA.
fn convert(
    table: &str,
    columns: &[(String, Type)],
    values: Vec<Value>,
) -> Result<Vec<Box<dyn ToSql + Sync + Send>>, StoreError> {
    columns
        .iter()
        .zip(values)
        .map(|((name, kind), value)| {
            let mismatch = || {
                StoreError::Corrupt(format!(
                    "{table}.{name}: a SQLite value that does not fit PostgreSQL's {kind}"
                ))
            };
            let out: Box<dyn ToSql + Sync + Send> = match (kind, value) {
                (&Type::INT8, Value::Integer(n)) => Box::new(n),
                (&Type::INT8, Value::Null) => Box::new(None::<i64>),
                (&Type::BOOL, Value::Integer(n)) => Box::new(n != 0),
                (&Type::BOOL, Value::Null) => Box::new(None::<bool>),
                (&Type::TEXT, Value::Text(s)) => Box::new(s),
                (&Type::TEXT, Value::Null) => Box::new(None::<String>),
                (&Type::BYTEA, Value::Blob(b)) => Box::new(b),
                (&Type::BYTEA, Value::Null) => Box::new(None::<Vec<u8>>),
                _ => return Err(mismatch()),
            };
            Ok(out)
        })
        .collect()
}
