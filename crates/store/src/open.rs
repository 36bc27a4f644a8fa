//! Opening the database: connection options, pool, migrations.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ferrite_core::StoreError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Executor, SqliteConnection, SqlitePool};

use crate::error::db_error;

/// The schema, one migration set per backend (`migrations/sqlite/`), embedded at build time.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// How long a connection waits for another connection's write lock before giving up with
/// `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections in a file-backed pool. SQLite has one writer at a time; a few connections let
/// reads proceed in parallel with it (WAL).
const MAX_CONNECTIONS: u32 = 4;

/// The [`ferrite_core::Store`] backed by SQLite. Cheap to clone (the pool is shared).
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file at `path` and brings its schema up to
    /// date.
    ///
    /// Durability: WAL journal with `synchronous=FULL`, so every committed transaction is on
    /// disk before the call that made it returns ("a certificate returned to a client survives
    /// a crash"; `NORMAL` would lose the last commits on power loss). Foreign keys are enforced
    /// and a busy database is waited for up to 5 s.
    ///
    /// Fails with [`StoreError::Backend`] if the file cannot be opened or created, or a
    /// migration fails (e.g. the file was written by a newer Ferrite).
    ///
    /// Nonces live in a second file beside it (`ferrite.db` → `ferrite.nonces.db`), attached
    /// to every connection as schema `nonces` and committed without an fsync: a lost nonce
    /// costs a client one `badNonce` retry, a lost certificate is not acceptable.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let nonce_path = nonce_database_path(path);
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .after_connect(move |conn, _| {
                let nonce_path = nonce_path.clone();
                Box::pin(async move { attach_nonce_database(conn, &nonce_path).await })
            })
            .connect_with(options)
            .await
            .map_err(|e| {
                StoreError::Backend(format!(
                    "cannot open SQLite database {}: {e}",
                    path.display()
                ))
            })?;
        Self::migrate(pool).await
    }

    /// A fresh in-memory database, for tests. It lives in one connection that the pool never
    /// closes, so its contents last as long as the store; operations on it are serialized.
    pub async fn open_in_memory() -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::new()
            .in_memory(true)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .min_connections(1)
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .after_connect(|conn, _| {
                Box::pin(async move { attach_nonce_database(conn, Path::new(":memory:")).await })
            })
            .connect_with(options)
            .await
            .map_err(db_error)?;
        Self::migrate(pool).await
    }

    /// Closes every connection, waiting for those in use to be returned. Later calls on this
    /// store (or its clones) fail with [`StoreError::Backend`].
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn migrate(pool: SqlitePool) -> Result<SqliteStore, StoreError> {
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(format!("database migration failed: {e}")))?;
        Ok(SqliteStore { pool })
    }

    /// Begins a write transaction that takes SQLite's write lock at once (`BEGIN IMMEDIATE`).
    /// A deferred transaction that reads and then writes can fail with `SQLITE_BUSY` when
    /// another connection wrote in between; this one waits (busy timeout) instead.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error)
    }
}

/// Where the nonce database of the main database at `path` lives: beside it, named after it
/// (`ferrite.db` → `ferrite.nonces.db`), so two stores in one directory never share nonces by
/// accident and two instances on one database always do.
pub(crate) fn nonce_database_path(path: &Path) -> PathBuf {
    path.with_extension("nonces.db")
}

/// Attaches the nonce database at `path` to `conn` as schema `nonces` and creates its table.
///
/// RFC 8555 §6.5 only asks that a nonce be redeemed at most once; a nonce lost in a crash
/// costs its client one `badNonce` retry. So this file is WAL with `synchronous=NORMAL`: a
/// commit is a write to the WAL without an fsync (fsyncs happen only at checkpoints), and a
/// power loss can roll back the last commits but never corrupts the file. The main database
/// stays `synchronous=FULL`. Every statement touches one schema only, so no transaction spans
/// both files.
async fn attach_nonce_database(conn: &mut SqliteConnection, path: &Path) -> sqlx::Result<()> {
    sqlx::query("ATTACH DATABASE ? AS nonces")
        .bind(path.to_string_lossy().into_owned())
        .execute(&mut *conn)
        .await?;
    conn.execute(
        "PRAGMA nonces.journal_mode = WAL;
         PRAGMA nonces.synchronous = NORMAL;
         CREATE TABLE IF NOT EXISTS nonces.nonces (
             value   TEXT    PRIMARY KEY NOT NULL,
             expires INTEGER NOT NULL
         ) WITHOUT ROWID;
         CREATE INDEX IF NOT EXISTS nonces.nonce_expires ON nonces (expires);",
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads the pragmas a pooled connection actually runs with.
    async fn pragmas(store: &SqliteStore) -> (String, i64, i64, i64) {
        let mut conn = store.pool.acquire().await.unwrap();
        let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let mut ints = Vec::new();
        for sql in [
            "PRAGMA synchronous",
            "PRAGMA foreign_keys",
            "PRAGMA busy_timeout",
        ] {
            let v: i64 = sqlx::query_scalar(sql).fetch_one(&mut *conn).await.unwrap();
            ints.push(v);
        }
        (journal, ints[0], ints[1], ints[2])
    }

    #[tokio::test]
    async fn file_database_is_wal_synchronous_full_with_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("ferrite.db"))
            .await
            .unwrap();
        // synchronous: 2 = FULL (1 would be NORMAL, not durable on power loss).
        assert_eq!(pragmas(&store).await, ("wal".to_owned(), 2, 1, 5000));
    }

    #[tokio::test]
    async fn nonces_live_in_their_own_wal_file_without_fsync_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("ferrite.db"))
            .await
            .unwrap();
        let mut conn = store.pool.acquire().await.unwrap();
        let journal: String = sqlx::query_scalar("PRAGMA nonces.journal_mode")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        // synchronous: 1 = NORMAL (no fsync per commit in WAL mode, never corrupt).
        let sync: i64 = sqlx::query_scalar("PRAGMA nonces.synchronous")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!((journal.as_str(), sync), ("wal", 1));
        assert!(dir.path().join("ferrite.nonces.db").exists());
        // The main database no longer has a nonce table.
        let main_tables: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM main.sqlite_master WHERE type = 'table' AND name = 'nonces'",
        )
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        assert_eq!(main_tables, 0);
    }

    #[tokio::test]
    async fn in_memory_database_enforces_foreign_keys_and_keeps_its_data() {
        let store = SqliteStore::open_in_memory().await.unwrap();
        assert_eq!(pragmas(&store).await.2, 1);
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert!(applied >= 2, "migrations applied: {applied}");
    }

    #[tokio::test]
    async fn opening_twice_does_not_rerun_migrations() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ferrite.db");
        SqliteStore::open(&path).await.unwrap().close().await;
        let store = SqliteStore::open(&path).await.unwrap();
        let crl: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM crl_number")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(crl, 1);
    }

    #[tokio::test]
    async fn unopenable_path_is_a_backend_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = SqliteStore::open(&dir.path().join("missing-dir").join("ferrite.db"))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Backend(m) if m.contains("missing-dir")));
    }
}
