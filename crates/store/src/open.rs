//! Opening the database: connections, the nonce file beside it, migrations.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ferrite_core::StoreError;
use rusqlite::Connection;

use crate::db::{Db, READERS, open_main_connection, open_memory_connection, open_nonce_connection};
use crate::error::db_error;

/// The schema, one migration per file (`migrations/sqlite/`), embedded at build time. The
/// database's `PRAGMA user_version` says how many have been applied.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../migrations/sqlite/0002_customers.sql")),
    (
        3,
        include_str!("../migrations/sqlite/0003_domain_validation.sql"),
    ),
    (
        4,
        include_str!("../migrations/sqlite/0004_nonces_moved.sql"),
    ),
    (5, include_str!("../migrations/sqlite/0005_nonce_key.sql")),
    (6, include_str!("../migrations/sqlite/0006_used_nonces.sql")),
    (
        7,
        include_str!("../migrations/sqlite/0007_finalize_lease.sql"),
    ),
    (
        8,
        include_str!("../migrations/sqlite/0008_ca_certificates.sql"),
    ),
    (9, include_str!("../migrations/sqlite/0009_crl_state.sql")),
    (
        10,
        include_str!("../migrations/sqlite/0010_ari_profiles.sql"),
    ),
    (
        11,
        include_str!("../migrations/sqlite/0011_refused_requests.sql"),
    ),
    (
        12,
        include_str!("../migrations/sqlite/0012_customer_suspension.sql"),
    ),
    (
        13,
        include_str!("../migrations/sqlite/0013_revocation_key_blocking.sql"),
    ),
    (
        14,
        include_str!("../migrations/sqlite/0014_rate_limits.sql"),
    ),
    (
        15,
        include_str!("../migrations/sqlite/0015_crl_shards_precertificates.sql"),
    ),
    (16, include_str!("../migrations/sqlite/0016_audit_log.sql")),
    (
        17,
        include_str!("../migrations/sqlite/0017_operator_credentials.sql"),
    ),
    (18, include_str!("../migrations/sqlite/0018_portal.sql")),
];

/// The schema version a migrated database is at (`PRAGMA user_version`).
pub(crate) const LATEST_VERSION: i64 = MIGRATIONS.len() as i64;

/// The [`ferrite_core::Store`] backed by SQLite. Cheap to clone (the connections are shared).
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pub(crate) db: Arc<Db>,
}

impl SqliteStore {
    /// The time of this store's reads and writes.
    pub(crate) fn store_metrics(&self) -> &ferrite_core::metrics::StoreMetrics {
        &self.db.metrics
    }

    /// Opens (creating if missing) the database file at `path` and brings its schema up to
    /// date.
    ///
    /// Durability: WAL journal with `synchronous=FULL`, so every committed transaction is on
    /// disk before the call that made it returns ("a certificate returned to a client survives
    /// a crash"; `NORMAL` would lose the last commits on power loss). Foreign keys are enforced
    /// and a database busy in another process is waited for up to 5 s.
    ///
    /// Fails with [`StoreError::Backend`] if the file cannot be opened or created, or a
    /// migration fails (e.g. the file was written by a newer Ferrite).
    ///
    /// Nonces live in a second file beside it (`ferrite.db` → `ferrite.nonces.db`), committed
    /// without an fsync: a lost nonce costs a client one `badNonce` retry, a lost certificate
    /// is not acceptable.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let mut writer = open_main_connection(path, true)?;
        migrate(&mut writer)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let reader = open_main_connection(path, false)?;
            // Readers only read: a bug that writes through one fails instead of bypassing the
            // group commit.
            reader
                .execute_batch("PRAGMA query_only = ON")
                .map_err(db_error)?;
            readers.push(Arc::new(Mutex::new(reader)));
        }
        let nonces = open_nonce_connection(&nonce_database_path(path))?;
        let db = Db::start(Arc::new(Mutex::new(writer)), readers, nonces)?;
        Ok(SqliteStore { db: Arc::new(db) })
    }

    /// A fresh in-memory database, for tests. It lives in one connection, used for reads and
    /// writes alike, so its contents last as long as the store; operations on it are
    /// serialized.
    pub async fn open_in_memory() -> Result<SqliteStore, StoreError> {
        let mut conn = open_memory_connection()?;
        migrate(&mut conn)?;
        let conn = Arc::new(Mutex::new(conn));
        let nonces = open_nonce_connection(Path::new(":memory:"))?;
        let db = Db::start(Arc::clone(&conn), vec![conn], nonces)?;
        Ok(SqliteStore { db: Arc::new(db) })
    }

    /// Stops taking work and waits for the writes in flight to commit. Later calls on this
    /// store (or its clones) fail with [`StoreError::Backend`].
    pub async fn close(&self) {
        self.db.close().await;
    }
}

/// Where the nonce database of the main database at `path` lives: beside it, named after it
/// (`ferrite.db` → `ferrite.nonces.db`), so two stores in one directory never share nonces by
/// accident and two instances on one database always do.
pub(crate) fn nonce_database_path(path: &Path) -> PathBuf {
    path.with_extension("nonces.db")
}

/// Applies the migrations the database has not seen, each in its own `BEGIN IMMEDIATE`
/// transaction together with the new `user_version` (so two processes opening one file at once
/// apply each migration once).
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let latest = MIGRATIONS.last().map_or(0, |(v, _)| *v);
    for (version, sql) in MIGRATIONS {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db_error)?;
        let applied = applied_version(&tx)?;
        if applied > latest {
            return Err(StoreError::Backend(format!(
                "database migration failed: the database is at schema version {applied}, \
                 newer than this Ferrite knows ({latest}); run a newer Ferrite"
            )));
        }
        if applied >= *version {
            continue;
        }
        tx.execute_batch(sql).map_err(|e| {
            StoreError::Backend(format!("database migration {version} failed: {e}"))
        })?;
        tx.pragma_update(None, "user_version", version)
            .map_err(db_error)?;
        tx.commit().map_err(db_error)?;
    }
    Ok(())
}

/// The schema version of the database (`PRAGMA user_version`: how many migrations ran).
fn applied_version(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(db_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads the pragmas a connection of the store actually runs with.
    fn pragmas(store: &SqliteStore) -> (String, i64, i64, i64) {
        store
            .db
            .read(|conn| {
                let journal: String = conn
                    .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                    .map_err(db_error)?;
                let mut ints = Vec::new();
                for sql in [
                    "PRAGMA synchronous",
                    "PRAGMA foreign_keys",
                    "PRAGMA busy_timeout",
                ] {
                    ints.push(conn.query_row(sql, [], |r| r.get(0)).map_err(db_error)?);
                }
                Ok((journal, ints[0], ints[1], ints[2]))
            })
            .unwrap()
    }

    #[tokio::test]
    async fn file_database_is_wal_synchronous_full_with_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("ferrite.db"))
            .await
            .unwrap();
        // synchronous: 2 = FULL (1 would be NORMAL, not durable on power loss).
        assert_eq!(pragmas(&store), ("wal".to_owned(), 2, 1, 5000));
        // The writer thread's connection too; its statement journals (savepoints) stay in
        // memory (temp_store 2 = MEMORY, not a temporary file per job).
        let (sync, temp_store) = store
            .db
            .write(|conn| {
                let get = |sql| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
                Ok((get("PRAGMA synchronous"), get("PRAGMA temp_store")))
            })
            .await
            .unwrap();
        assert_eq!((sync.unwrap(), temp_store.unwrap()), (2, 2));
    }

    #[tokio::test]
    async fn nonces_live_in_their_own_wal_file_without_fsync_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("ferrite.db"))
            .await
            .unwrap();
        let (journal, sync) = store
            .db
            .nonces(|conn| {
                let journal: String = conn
                    .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                    .map_err(db_error)?;
                let sync: i64 = conn
                    .query_row("PRAGMA synchronous", [], |r| r.get(0))
                    .map_err(db_error)?;
                Ok((journal, sync))
            })
            .unwrap();
        // synchronous: 1 = NORMAL (no fsync per commit in WAL mode, never corrupt).
        assert_eq!((journal.as_str(), sync), ("wal", 1));
        assert!(dir.path().join("ferrite.nonces.db").exists());
        // The main database has no nonce table.
        let main_tables: i64 = store
            .db
            .read(|conn| {
                conn.query_row(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' \
                     AND name IN ('nonces', 'used_nonces')",
                    [],
                    |r| r.get(0),
                )
                .map_err(db_error)
            })
            .unwrap();
        assert_eq!(main_tables, 0);
    }

    #[tokio::test]
    async fn in_memory_database_enforces_foreign_keys_and_is_migrated() {
        let store = SqliteStore::open_in_memory().await.unwrap();
        assert_eq!(pragmas(&store).2, 1);
        let version: i64 = store
            .db
            .read(|conn| {
                conn.query_row("PRAGMA user_version", [], |r| r.get(0))
                    .map_err(db_error)
            })
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
    }

    #[tokio::test]
    async fn opening_twice_does_not_rerun_migrations() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ferrite.db");
        SqliteStore::open(&path).await.unwrap().close().await;
        let store = SqliteStore::open(&path).await.unwrap();
        let crl: i64 = store
            .db
            .read(|conn| {
                conn.query_row("SELECT COUNT(*) FROM crl_number", [], |r| r.get(0))
                    .map_err(db_error)
            })
            .unwrap();
        assert_eq!(crl, 1);
    }

    #[tokio::test]
    async fn a_database_from_a_newer_ferrite_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ferrite.db");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let err = SqliteStore::open(&path).await.unwrap_err();
        assert!(matches!(err, StoreError::Backend(m) if m.contains("newer")));
    }

    #[tokio::test]
    async fn a_closed_store_refuses_work() {
        let store = SqliteStore::open_in_memory().await.unwrap();
        store.close().await;
        assert!(matches!(
            store.db.read(|_| Ok(())),
            Err(StoreError::Backend(_))
        ));
        assert!(matches!(
            store.db.write(|_| Ok(())).await,
            Err(StoreError::Backend(_))
        ));
    }

    /// A write job inserting customer `id`, then, if `fail`, failing with its own error.
    async fn insert_customer(db: &Db, id: &'static str, fail: bool) -> Result<(), StoreError> {
        db.write(move |conn| {
            conn.execute(
                "INSERT INTO customers (id, name, created_at) VALUES (?1, ?1, 0)",
                [id],
            )
            .map_err(db_error)?;
            if fail {
                return Err(StoreError::Backend("job failed after its insert".into()));
            }
            Ok(())
        })
        .await
    }

    #[tokio::test]
    async fn a_failing_write_job_rolls_back_only_itself() {
        let store = SqliteStore::open_in_memory().await.unwrap();
        let count = |store: &SqliteStore| -> i64 {
            store
                .db
                .read(|conn| {
                    conn.query_row("SELECT COUNT(*) FROM customers", [], |r| r.get(0))
                        .map_err(db_error)
                })
                .unwrap()
        };
        let insert = |id, fail| insert_customer(&store.db, id, fail);
        // Queued together, so they very likely share one group commit.
        let (a, b, c) = tokio::join!(insert("a", false), insert("b", true), insert("c", false));
        assert!(a.is_ok() && b.is_err() && c.is_ok());
        assert_eq!(count(&store), 2);
    }

    /// A job alone in its group runs without a savepoint (the transaction is its savepoint):
    /// when it fails after writing, the writer rolls the transaction back, the caller gets
    /// the job's error, and the next job starts clean. On a file database, as served.
    #[tokio::test]
    async fn a_failing_job_alone_in_its_group_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("ferrite.db"))
            .await
            .unwrap();
        let insert = |id, fail| insert_customer(&store.db, id, fail);
        // Awaited one by one: each is alone in its group.
        let err = insert("failed", true).await.unwrap_err();
        assert!(matches!(err, StoreError::Backend(m) if m == "job failed after its insert"));
        insert("next", false).await.unwrap();
        let names: Vec<String> = store
            .db
            .read(|conn| {
                let mut stmt = conn
                    .prepare("SELECT id FROM customers ORDER BY id")
                    .map_err(db_error)?;
                let rows = stmt.query_map([], |r| r.get(0)).map_err(db_error)?;
                rows.collect::<Result<_, _>>().map_err(db_error)
            })
            .unwrap();
        assert_eq!(names, vec!["next".to_owned()]);
        store.close().await;
    }

    #[tokio::test]
    async fn a_panicking_write_job_fails_alone_and_the_writer_goes_on() {
        let store = SqliteStore::open_in_memory().await.unwrap();
        let err = store
            .db
            .write(|conn| -> Result<(), StoreError> {
                conn.execute(
                    "INSERT INTO customers (id, name, created_at) VALUES ('p', 'p', 0)",
                    [],
                )
                .map_err(db_error)?;
                panic!("a bug in a write job")
            })
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Backend(m) if m.contains("panicked")));
        let count: i64 = store
            .db
            .write(|conn| {
                conn.query_row("SELECT COUNT(*) FROM customers", [], |r| r.get(0))
                    .map_err(db_error)
            })
            .await
            .unwrap();
        assert_eq!(count, 0, "the panicking job's insert was rolled back");
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
