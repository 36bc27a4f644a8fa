//! The SQLite connections and who runs what on them.
//!
//! Three kinds of work, three paths, none of them a round trip per statement:
//!
//! - **Reads** run inline on the caller's thread, on one of a few reader connections (WAL lets
//!   them read while a write is in progress). A point read is a few microseconds of SQLite
//!   work; handing it to another thread and back (futex wake-ups, two context switches) cost
//!   more than the read itself.
//! - **Writes to the main database** go to one writer thread that owns the write connection
//!   and commits them in groups: it takes every job that is waiting, runs each inside its own
//!   `SAVEPOINT` of one `BEGIN IMMEDIATE` transaction (a job that fails rolls back only itself;
//!   a job alone in its group runs without one, and the transaction is rolled back if it
//!   fails), commits once — one fsync for the whole group, `synchronous=FULL` — and only then
//!   answers each caller. A caller's result therefore always describes durable state, and
//!   under load many requests share one fsync instead of queueing for one each.
//! - **Nonce writes** run inline on the nonce connection (a separate file without fsync on
//!   commit, see [`open_nonce_connection`]): they need neither durability nor a thread hop.
//!
//! Another process on the same files is an ordinary second SQLite writer: `BEGIN IMMEDIATE`
//! waits for it (busy timeout), and every compare-and-set stays inside one statement or one
//! transaction.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use ferrite_core::StoreError;
use rusqlite::{Connection, OpenFlags, Row};

use crate::error::db_error;

/// How long a connection waits for another process's write lock before giving up with
/// `SQLITE_BUSY`.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Reader connections of a file database. Reads are short and run inline, so a few suffice
/// for the runtime's worker threads; a reader that finds them all busy waits for one.
pub(crate) const READERS: usize = 4;

/// Most jobs one group commit takes. Bounds the time a job waits behind others in its group.
const MAX_GROUP: usize = 256;

thread_local! {
    /// The reader connection this thread last read on (an index into `Db::readers`; a hint,
    /// `usize::MAX` before the first read): see [`Db::read`].
    static LAST_READER: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}

/// Prepared statements each connection keeps (every statement in this crate is static text,
/// so they all fit).
const STATEMENT_CACHE: usize = 128;

/// Memory-mapped I/O stays off: after another connection's commit SQLite drops a reader's
/// page cache *and* unmaps its mapping, so with a commit every few hundred µs the munmap and
/// page faults cost more than the `pread`s they save (measured: 5.7–6.0 CPU ms per issuance
/// with a 1 GiB window, 4.9–5.5 without; docs/performance.md).
const MMAP_SIZE: i64 = 0;

/// A write job: given the writer's connection, it does its work — inside its own savepoint, or,
/// when it is the group's only job (`alone`), directly in the transaction — and says whether it
/// succeeded (given `None` — the transaction could not begin or is already rolled back — it
/// does nothing). What it returns is called with the commit's outcome once the group is
/// durable (or failed).
type Job = Box<dyn FnOnce(Option<&Connection>, bool) -> (bool, Reply) + Send>;
type Reply = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// The connections of one store (see the module documentation).
pub(crate) struct Db {
    /// The writer thread's connection. Reads use it when the writer is idle: its page cache
    /// is never invalidated (the commits are its own), while a reader connection must drop
    /// its whole cache after every commit of another connection.
    writer_conn: Arc<Mutex<Connection>>,
    /// Connections for inline reads while the writer's is busy; for an in-memory database,
    /// the one connection (shared with the writer thread).
    readers: Vec<Arc<Mutex<Connection>>>,
    /// Where a thread's first read starts looking for a free reader (later reads start at
    /// the reader the thread used last: see [`Db::read`]).
    next_reader: AtomicUsize,
    /// The nonce database's connection.
    nonces: Mutex<Connection>,
    /// Hands jobs to the writer thread; `None` once closed.
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
    /// The time of each read and write, for `/metrics`.
    pub(crate) metrics: ferrite_core::metrics::StoreMetrics,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("readers", &self.readers.len())
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Starts the writer thread on `writer` and serves reads from `readers` (which may include
    /// the writer's own connection, for an in-memory database).
    pub(crate) fn start(
        writer: Arc<Mutex<Connection>>,
        readers: Vec<Arc<Mutex<Connection>>>,
        nonces: Connection,
    ) -> Result<Db, StoreError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let writer_conn = Arc::clone(&writer);
        let handle = std::thread::Builder::new()
            .name("ferrite-db-writer".to_owned())
            .spawn(move || writer_loop(&writer, &queue))
            .map_err(|e| StoreError::Backend(format!("cannot start the database writer: {e}")))?;
        Ok(Db {
            writer_conn,
            readers,
            next_reader: AtomicUsize::new(0),
            nonces: Mutex::new(nonces),
            jobs: Mutex::new(Some(jobs)),
            writer: Mutex::new(Some(handle)),
            closed: AtomicBool::new(false),
            metrics: ferrite_core::metrics::StoreMetrics::new(
                "sqlite",
                &[
                    ferrite_core::metrics::StoreOp::Read,
                    ferrite_core::metrics::StoreOp::Write,
                ],
            ),
        })
    }

    /// Runs `f` inline on the writer's connection if the writer thread is idle (then it is
    /// outside any transaction, so `f` sees committed data only), else on a free reader
    /// connection: first the one this thread used last, then the others in turn. One statement
    /// sees one snapshot; `f` needs no transaction unless it runs several statements that must
    /// agree. `f` must only read.
    ///
    /// Why the same reader: a reader drops its whole page cache when it starts a read after
    /// another connection's commit, and reads its pages again. The reads of one request (the
    /// account, then the resource) follow each other within a fraction of a millisecond, so on
    /// the reader that served the first, the second usually finds the cache still valid; on
    /// another reader, last used before the latest commit, it would not.
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let began = std::time::Instant::now();
        let result = self.read_inline(f);
        self.metrics
            .observe(ferrite_core::metrics::StoreOp::Read, began.elapsed());
        result
    }

    /// [`Db::read`] without its measurement.
    fn read_inline<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.check_open()?;
        if let Ok(conn) = self.writer_conn.try_lock() {
            return f(&conn);
        }
        let n = self.readers.len();
        let last = LAST_READER.get();
        let start = if last < n {
            last
        } else {
            self.next_reader.fetch_add(1, Ordering::Relaxed) % n
        };
        for i in 0..n {
            let at = (start + i) % n;
            if let Ok(conn) = self.readers[at].try_lock() {
                LAST_READER.set(at);
                return f(&conn);
            }
        }
        let conn = lock(&self.readers[start]);
        f(&conn)
    }

    /// Runs `f` on the nonce connection, inline (each call is one autocommitted statement).
    pub(crate) fn nonces<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.check_open()?;
        let conn = lock(&self.nonces);
        f(&conn)
    }

    /// Runs `f` in the writer thread as part of the next group commit (inside its own
    /// savepoint when the group holds other jobs), and returns its result once that commit is
    /// durable. If `f` fails, its changes are rolled back (and only its); if the commit fails,
    /// every job of the group gets that error.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.check_open()?;
        let began = std::time::Instant::now();
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn, alone| {
            let result = match conn {
                // Alone in its group: the transaction is its savepoint (the writer rolls it
                // back if the job fails), which spares SQLite most statement journalling.
                Some(conn) if alone => catch_panic(|| f(conn)),
                Some(conn) => in_savepoint(conn, f),
                // Not run (the transaction did not begin, or was rolled back by an earlier job's
                // error): the reply gets that error, which `commit` carries.
                None => Err(closed()),
            };
            let succeeded = result.is_ok();
            let reply: Reply = Box::new(move |commit: Result<(), StoreError>| {
                // The caller may have gone away (request cancelled); the write stands.
                let _ = answer.send(commit.and(result));
            });
            (succeeded, reply)
        });
        {
            let jobs = lock(&self.jobs);
            let Some(jobs) = jobs.as_ref() else {
                return Err(closed());
            };
            jobs.send(job).map_err(|_| closed())?;
        }
        let result = answered.await.map_err(|_| {
            StoreError::Backend("the database writer stopped before answering".to_owned())
        })?;
        self.metrics
            .observe(ferrite_core::metrics::StoreOp::Write, began.elapsed());
        result
    }

    /// Stops taking work, lets the writer thread finish what it has and waits for it. Later
    /// calls fail with [`StoreError::Backend`].
    pub(crate) async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let sender = lock(&self.jobs).take();
        drop(sender);
        let handle = lock(&self.writer).take();
        if let Some(handle) = handle {
            // The thread exits as soon as its queue is empty; join it off the runtime.
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
    }

    fn check_open(&self) -> Result<(), StoreError> {
        if self.closed.load(Ordering::Acquire) {
            Err(closed())
        } else {
            Ok(())
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        // Dropping the sender ends the writer thread once it has drained its queue; waiting
        // for it closes the writer's connection before the drop returns, so a store opened
        // next on the same file (an operator command after the one that recorded it) never
        // races SQLite's last-connection cleanup of the WAL files. The last handle goes when
        // nothing awaits a write any more, so the queue holds at most jobs whose callers went
        // away; each may wait for another process's write lock (`BUSY_TIMEOUT`), never for the
        // runtime this drop may block.
        lock(&self.jobs).take();
        let handle = lock(&self.writer).take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

fn closed() -> StoreError {
    StoreError::Backend("the store is closed".to_owned())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a connection cannot leave SQLite inconsistent (the transaction is
    // rolled back when the statement or connection is reset), so a poisoned lock is usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs `f` inside `SAVEPOINT job`: released if it succeeds, rolled back if it fails or
/// panics (a panicking job fails alone; the writer thread and the rest of its group go on).
fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    execute(conn, "SAVEPOINT job", [])?;
    let result = catch_panic(|| f(conn));
    let result = result.and_then(|value| execute(conn, "RELEASE job", []).map(|_| value));
    if result.is_err()
        && !conn.is_autocommit()
        && let Err(undo) = conn.execute_batch("ROLLBACK TO job; RELEASE job")
    {
        tracing::error!(error = %undo, "cannot roll back a failed write job");
    }
    result
}

/// Runs a job, turning a panic into its error (the job fails alone; the writer goes on).
fn catch_panic<T>(f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(StoreError::Backend("a write job panicked".to_owned())))
}

/// The writer thread: waits for a job, takes every other job already waiting (up to
/// [`MAX_GROUP`]), runs them in one transaction, commits, answers. Ends when every sender is
/// gone and the queue is empty.
fn writer_loop(conn: &Mutex<Connection>, queue: &mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let conn = lock(conn);
        let alone = group.len() == 1;
        // A group starts outside any transaction. If an earlier ROLLBACK failed (logged), the
        // connection is still in that transaction: end it now, or every BEGIN would fail and
        // reads on this connection would see its uncommitted rows.
        if !conn.is_autocommit()
            && let Err(e) = conn.execute_batch("ROLLBACK")
        {
            tracing::error!(error = %e, "cannot roll back a transaction left open");
        }
        if let Err(e) = execute(&conn, "BEGIN IMMEDIATE", []) {
            for job in group {
                // The job never ran; tell its caller why.
                job(None, alone).1(Err(e.clone()));
            }
            continue;
        }
        // After an error that makes SQLite roll the whole transaction back by itself (disk
        // full, I/O error) the connection is back in autocommit mode: the jobs after it must
        // not run outside the transaction; the failed COMMIT then reports the error to all.
        let mut all_succeeded = true;
        let replies: Vec<Reply> = group
            .into_iter()
            .map(|job| {
                let (succeeded, reply) = if conn.is_autocommit() {
                    job(None, alone)
                } else {
                    job(Some(&conn), alone)
                };
                all_succeeded &= succeeded;
                reply
            })
            .collect();
        let commit = if alone && !all_succeeded {
            // The only job failed without a savepoint: nothing of it may stay. Its reply
            // carries its own error.
            if !conn.is_autocommit()
                && let Err(e) = conn.execute_batch("ROLLBACK")
            {
                tracing::error!(error = %e, "cannot roll back a failed write job");
            }
            Ok(())
        } else {
            execute(&conn, "COMMIT", []).map(drop)
        };
        if commit.is_err()
            && !conn.is_autocommit()
            && let Err(e) = conn.execute_batch("ROLLBACK")
        {
            tracing::error!(error = %e, "cannot roll back a failed group commit");
        }
        if let Err(e) = &commit {
            tracing::error!(error = %e, jobs = replies.len(), "group commit failed");
        }
        drop(conn);
        for reply in replies {
            reply(commit.clone());
        }
    }
}

/// Settings every connection gets: the statement cache, and SQLite's query planner stability
/// guarantee (QPSG). Without it (and with `SQLITE_ENABLE_STAT4`, which the bundled SQLite has)
/// SQLite may compile a statement again when a bound value changes; the reuse lookup of
/// `domain_validations` was recompiled that way on every new order (2.8 % of the server's CPU
/// samples in `sqlite3Reprepare`, 0 with QPSG; docs/performance.md).
fn configure(conn: &Connection, statements: usize) -> Result<(), StoreError> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map_err(db_error)?;
    conn.set_prepared_statement_cache_capacity(statements);
    Ok(())
}

/// Opens a connection to the main database file with the pragmas every connection needs:
/// WAL, `synchronous=FULL` (a committed transaction is on disk before its caller hears of it),
/// foreign keys, the busy timeout, no memory-mapped I/O, temporary storage in memory, and
/// [`configure`].
///
/// `temp_store = MEMORY`: the writer runs a job that shares its group in a savepoint, whose
/// statement journal SQLite otherwise spills to a temporary file (created, unlinked, written
/// page by page: an `openat` and ~7 `pwrite`s per issuance in `strace`); it holds at most the
/// pages one job changes.
pub(crate) fn open_main_connection(path: &Path, create: bool) -> Result<Connection, StoreError> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags).map_err(|e| {
        StoreError::Backend(format!(
            "cannot open SQLite database {}: {e}",
            path.display()
        ))
    })?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(db_error)?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA mmap_size = {MMAP_SIZE};"
    ))
    .map_err(|e| {
        StoreError::Backend(format!(
            "cannot set up SQLite database {}: {e}",
            path.display()
        ))
    })?;
    configure(&conn, STATEMENT_CACHE)?;
    Ok(conn)
}

/// A private in-memory database (tests): one connection, foreign keys on.
pub(crate) fn open_memory_connection() -> Result<Connection, StoreError> {
    let conn = Connection::open_in_memory().map_err(db_error)?;
    conn.execute_batch("PRAGMA foreign_keys = ON;")
        .map_err(db_error)?;
    configure(&conn, STATEMENT_CACHE)?;
    Ok(conn)
}

/// Opens the nonce database at `path` (`":memory:"` for a private one) and creates its table.
///
/// RFC 8555 §6.5 only asks that a nonce be redeemed at most once; a nonce lost in a crash
/// costs its client one `badNonce` retry. So this file is WAL with `synchronous=NORMAL`: a
/// commit is a write to the WAL without an fsync (fsyncs happen only at checkpoints), and a
/// power loss can roll back the last commits but never corrupts the file. The main database
/// stays `synchronous=FULL`.
///
/// The used nonces are one B-tree ordered by expiry (`used_nonces`, primary key `(expires,
/// value)`): a redemption writes one page, near the others of its time, and the purge deletes a
/// range from the front.
pub(crate) fn open_nonce_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(|e| {
        StoreError::Backend(format!(
            "cannot open the nonce database {}: {e}",
            path.display()
        ))
    })?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(db_error)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;",
    )
    .map_err(db_error)?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS used_nonces (
             expires INTEGER NOT NULL,
             value   TEXT    NOT NULL,
             PRIMARY KEY (expires, value)
         ) WITHOUT ROWID;",
    )
    .map_err(db_error)?;
    configure(&conn, 16)?;
    Ok(conn)
}

/// Runs a cached statement that returns at most one row of interest and decodes the first.
pub(crate) fn query_opt<T>(
    conn: &Connection,
    sql: &'static str,
    params: impl rusqlite::Params,
    decode: impl FnOnce(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(db_error)?;
    let mut rows = stmt.query(params).map_err(db_error)?;
    match rows.next().map_err(db_error)? {
        Some(row) => decode(row).map(Some),
        None => Ok(None),
    }
}

/// Runs a cached statement and decodes every row.
pub(crate) fn query_all<T>(
    conn: &Connection,
    sql: &'static str,
    params: impl rusqlite::Params,
    mut decode: impl FnMut(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(db_error)?;
    let mut rows = stmt.query(params).map_err(db_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db_error)? {
        out.push(decode(row)?);
    }
    Ok(out)
}

/// Runs a cached statement that changes rows; returns how many it changed.
pub(crate) fn execute(
    conn: &Connection,
    sql: &'static str,
    params: impl rusqlite::Params,
) -> Result<usize, StoreError> {
    conn.prepare_cached(sql)
        .map_err(db_error)?
        .execute(params)
        .map_err(db_error)
}

/// A column of `row` by name (a missing column or a type mismatch is
/// [`StoreError::Corrupt`]).
pub(crate) fn col<T: rusqlite::types::FromSql>(row: &Row<'_>, name: &str) -> Result<T, StoreError> {
    row.get(name).map_err(db_error)
}

/// Column `index` of `row`, which the SELECT beside the decoder names `name`: by position,
/// because rusqlite finds a column by name by comparing it with every column's name, which was
/// ~1.5 % of the server's instructions in the hot decoders. Debug builds (every test) check the
/// name, so a SELECT and its decoder cannot drift apart unnoticed.
pub(crate) fn at<T: rusqlite::types::FromSql>(
    row: &Row<'_>,
    index: usize,
    name: &str,
) -> Result<T, StoreError> {
    debug_assert_eq!(
        row.as_ref().column_name(index).ok(),
        Some(name),
        "column {index} of the SELECT"
    );
    row.get(index).map_err(db_error)
}
