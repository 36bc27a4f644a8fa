//! [`PostgresStore`]: the `Store` on a PostgreSQL database that several `ferrite serve`
//! instances share.
//!
//! Every guarantee of the SQLite store holds here across instances, because each lives in one
//! statement (or one transaction) that PostgreSQL runs atomically:
//!
//! - each operation takes a pooled connection (deadpool) for its whole duration and runs
//!   prepared statements cached on that connection: one round trip per step, the steps of one
//!   change folded into one statement with data-modifying CTEs and `RETURNING` where the schema
//!   allows (an order with its authorizations and challenges, a binding with its account, a
//!   certificate with its order);
//! - compare-and-set methods are `UPDATE … WHERE status = …` under READ COMMITTED: a second
//!   writer of the same row waits for the first and re-checks the condition on the row the
//!   first committed, so of concurrent callers exactly one changes it. Where the condition
//!   reads another table's row (a challenge claim reads its authorization), that row is locked
//!   `FOR SHARE`, so its latest committed state decides too;
//! - a nonce is redeemed by an `INSERT … ON CONFLICT DO NOTHING`: whichever instance inserts
//!   first wins, the others wait for its commit and insert nothing. Redemptions arriving
//!   together share one such statement (`nonces`), rows in key order;
//! - uniqueness (account key, serial number, customer name, kid) is a constraint, never a
//!   read-then-write; a violation is [`StoreError::Conflict`];
//! - commits are durable as the server is configured (`synchronous_commit`; Ferrite asks for
//!   nothing weaker), but for the records of used nonces, whose batches do not wait for the
//!   disk (`nonces` says why nothing that matters can be lost).
//!
//! # Layout
//! - `connect`: the URL, the password's sources, TLS (rustls on aws-lc-rs).
//! - `migrate`: `migrations/postgres/`, applied under an advisory lock.
//! - `store_impl`: the `Store` impl, delegating to one module per table group, named as the
//!   SQLite store's: `nonces`, `accounts`, `orders`, `authorizations` (with challenges),
//!   `validations`, `certificates`, `customers`, `credentials`, `mac_keys` (with the binding
//!   counter), `domain_validations`, `ca_certificates` (the deployment's CA, recorded once),
//!   `crl` (the shared CRL and its lease).

mod accounts;
mod audit;
mod authorizations;
mod blocked_keys;
mod ca_certificates;
mod certificates;
pub(crate) mod connect;
mod credentials;
mod crl;
mod customers;
mod domain_validations;
mod mac_keys;
mod migrate;
mod nonces;
mod orders;
mod portal;
mod rate_limits;
mod refused_requests;
mod store_impl;
mod validations;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime, Timeouts};
use ferrite_core::StoreError;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql};

pub use connect::{DatabasePassword, PostgresOptions, is_postgres_url};
pub use migrate::LATEST_VERSION;

/// How long an operation waits for a free pooled connection before it fails (every pooled
/// connection busy for this long means the database is far behind).
const WAIT_FOR_CONNECTION: Duration = Duration::from_secs(30);

/// How long checking a pooled connection before reuse may take.
const RECYCLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Statement parameters, as tokio-postgres takes them.
pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// The [`ferrite_core::Store`] backed by PostgreSQL. Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    /// The time of each use of a pooled connection, for `/metrics`.
    metrics: std::sync::Arc<ferrite_core::metrics::StoreMetrics>,
    /// Nonce redemptions waiting to be written together (`nonces`).
    nonce_batches: std::sync::Arc<nonces::NonceBatches>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PostgresStore")
            .field("connections", &status.size)
            .field("max_connections", &status.max_size)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database `database_url` names and brings its schema up to date
    /// (`migrations/postgres/`, under an advisory lock, so instances starting together apply
    /// each migration once).
    ///
    /// Fails with [`StoreError::Backend`] if the URL is malformed, the database cannot be
    /// reached or refuses the login, a migration fails, or the database's schema is newer than
    /// this Ferrite (then nothing is changed). No message quotes the URL or the password.
    pub async fn open(
        database_url: &str,
        options: &PostgresOptions,
    ) -> Result<PostgresStore, StoreError> {
        let store = Self::connect(database_url, options)?;
        migrate::run(&store).await?;
        Ok(store)
    }

    /// The pool, without touching the database (connections open on first use).
    fn connect(database_url: &str, options: &PostgresOptions) -> Result<PostgresStore, StoreError> {
        let target = connect::target(database_url, options)?;
        let create_timeout = target
            .config
            .get_connect_timeout()
            .copied()
            .map(|t| t + Duration::from_secs(5));
        let manager = Manager::from_config(
            target.config,
            target.tls,
            ManagerConfig {
                // A connection the server closed is replaced; one that is merely idle is not
                // pinged (a failed statement says so soon enough).
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.max_connections.max(1))
            .runtime(Runtime::Tokio1)
            .timeouts(Timeouts {
                wait: Some(WAIT_FOR_CONNECTION),
                create: create_timeout,
                recycle: Some(RECYCLE_TIMEOUT),
            })
            .build()
            .map_err(|e| StoreError::Backend(format!("cannot set up the connection pool: {e}")))?;
        Ok(PostgresStore {
            pool,
            metrics: std::sync::Arc::new(ferrite_core::metrics::StoreMetrics::new(
                "postgresql",
                &[ferrite_core::metrics::StoreOp::Connection],
            )),
            nonce_batches: std::sync::Arc::default(),
        })
    }

    /// The schema version the database is at (how many migrations it has).
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        migrate::applied_version(self).await
    }

    /// Closes the pool: connections in use close when they are returned, later calls fail
    /// with [`StoreError::Backend`].
    pub fn close(&self) {
        self.pool.close();
    }

    /// The time of this store's uses of pooled connections.
    pub(crate) fn store_metrics(&self) -> &ferrite_core::metrics::StoreMetrics {
        &self.metrics
    }

    /// A pooled connection for one operation, timed from now until it is dropped.
    pub(crate) async fn conn(&self) -> Result<Timed, StoreError> {
        let began = std::time::Instant::now();
        let object = match self.pooled().await {
            Ok(object) => object,
            Err(e) => {
                // The wait for a connection that did not come counts too: it is the time an
                // exhausted pool costs.
                self.metrics
                    .observe(ferrite_core::metrics::StoreOp::Connection, began.elapsed());
                return Err(e);
            }
        };
        Ok(Timed {
            object,
            began,
            metrics: self.metrics.clone(),
        })
    }

    async fn pooled(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => {
                StoreError::Unavailable(format!("cannot connect to the database: {}", describe(&e)))
            }
            deadpool_postgres::PoolError::Timeout(_) => StoreError::Unavailable(format!(
                "no database connection within {WAIT_FOR_CONNECTION:?}: {e}"
            )),
            deadpool_postgres::PoolError::Closed => {
                StoreError::Backend("the store is closed".to_owned())
            }
            other => StoreError::Backend(format!("no database connection: {other}")),
        })
    }

    /// Runs one cached statement on a pooled connection and returns its rows.
    pub(crate) async fn query(
        &self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Vec<Row>, StoreError> {
        let conn = self.conn().await?;
        let statement = conn.prepare_cached(sql).await.map_err(db_error)?;
        conn.query(&statement, params).await.map_err(db_error)
    }

    /// [`PostgresStore::query`] for a statement that returns at most one row.
    pub(crate) async fn query_opt(
        &self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Option<Row>, StoreError> {
        let conn = self.conn().await?;
        let statement = conn.prepare_cached(sql).await.map_err(db_error)?;
        conn.query_opt(&statement, params).await.map_err(db_error)
    }

    /// Runs one cached statement that changes rows; returns how many it changed.
    pub(crate) async fn execute(
        &self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<u64, StoreError> {
        let conn = self.conn().await?;
        let statement = conn.prepare_cached(sql).await.map_err(db_error)?;
        conn.execute(&statement, params).await.map_err(db_error)
    }
}

/// A pooled connection that records, when dropped, how long it was held (with the wait for
/// it) in the store's metrics.
pub(crate) struct Timed {
    object: Object,
    began: std::time::Instant,
    metrics: std::sync::Arc<ferrite_core::metrics::StoreMetrics>,
}

impl std::ops::Deref for Timed {
    type Target = Object;

    fn deref(&self) -> &Object {
        &self.object
    }
}

impl std::ops::DerefMut for Timed {
    fn deref_mut(&mut self) -> &mut Object {
        &mut self.object
    }
}

impl Drop for Timed {
    fn drop(&mut self) {
        self.metrics.observe(
            ferrite_core::metrics::StoreOp::Connection,
            self.began.elapsed(),
        );
    }
}

/// Maps a database error: a uniqueness violation is a [`StoreError::Conflict`] (a duplicate key
/// or a lost race: the caller's concern); a lost connection, or the server shutting down or not
/// yet accepting connections, is [`StoreError::Unavailable`] (retrying later may succeed);
/// everything else is [`StoreError::Backend`] (the operator's concern). The message is the
/// server's, which names constraints and keys, never the connection's password.
pub(crate) fn db_error(e: tokio_postgres::Error) -> StoreError {
    let lost =
        e.is_closed() || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
    if lost {
        return StoreError::Unavailable(describe(&e));
    }
    match e.as_db_error() {
        Some(db) if unavailable(db.code()) => {
            StoreError::Unavailable(format!("{}: {}", db.severity(), db.message()))
        }
        Some(db) if *db.code() == SqlState::UNIQUE_VIOLATION => StoreError::Conflict(format!(
            "{}{}",
            db.message(),
            db.detail().map(|d| format!(" ({d})")).unwrap_or_default()
        )),
        Some(db) => StoreError::Backend(format!(
            "{}: {}{}",
            db.severity(),
            db.message(),
            db.detail().map(|d| format!(" ({d})")).unwrap_or_default()
        )),
        None => StoreError::Backend(describe(&e)),
    }
}

/// Class 08 (connection exception), and the server shutting down or starting
/// (`admin_shutdown`, `crash_shutdown`, `cannot_connect_now`).
fn unavailable(code: &SqlState) -> bool {
    code.code().starts_with("08")
        || *code == SqlState::ADMIN_SHUTDOWN
        || *code == SqlState::CRASH_SHUTDOWN
        || *code == SqlState::CANNOT_CONNECT_NOW
}

/// An error with its causes ("db error: ERROR: password authentication failed for user
/// \"ferrite\""), since tokio-postgres keeps the useful part in the source.
fn describe(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// Column `index` of `row`, which the SELECT beside the decoder names `name` (a type mismatch
/// or a NULL where none is allowed is [`StoreError::Corrupt`]). Debug builds (every test) check
/// the name, so a SELECT and its decoder cannot drift apart unnoticed.
pub(crate) fn at<'a, T: FromSql<'a>>(
    row: &'a Row,
    index: usize,
    name: &str,
) -> Result<T, StoreError> {
    debug_assert_eq!(
        row.columns().get(index).map(|c| c.name()),
        Some(name),
        "column {index} of the SELECT"
    );
    row.try_get(index)
        .map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))
}

/// A count or position as the schema stores it (BIGINT).
pub(crate) fn int(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
