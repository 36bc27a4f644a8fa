//! SQL storage for Ferrite: [`SqliteStore`] implements [`ferrite_core::Store`] on an embedded
//! SQLite database, [`PostgresStore`] on a PostgreSQL database that several instances share.
//! Both pass one conformance suite (`tests/suite`, run by `tests/conformance.rs` and
//! `tests/conformance_postgres.rs`).
//!
//! This is the only crate that writes SQL. It stores and loads the domain model of
//! `ferrite_core::model` and makes every check-and-set happen inside the database, so several
//! `ferrite serve` processes sharing one database never both win a race. How the PostgreSQL
//! store keeps each guarantee is in the `postgres` module's documentation; on SQLite:
//!
//! - each state change is one statement or one write job; write jobs run in the writer
//!   thread, each in a `BEGIN IMMEDIATE` transaction shared with the other jobs waiting, inside
//!   its own savepoint when there are any (the transaction takes the write lock up front, so
//!   SQLite never has to fail a read-then-write upgrade with `SQLITE_BUSY`; the 5 s busy
//!   timeout covers another process holding it);
//! - compare-and-set methods are `UPDATE … WHERE status = …` and report whether a row changed;
//! - a nonce is redeemed by a single insert-if-absent into `used_nonces` (nonce file);
//! - commits are durable (WAL, `synchronous=FULL`): a certificate returned to a client survives a
//!   crash or power loss. The writer commits the jobs waiting at the same time together (group
//!   commit: one fsync for all of them) and answers each caller only after that commit. The one
//!   exception is nonces: they live in a second file (`ferrite.nonces.db`, WAL,
//!   `synchronous=NORMAL`), because a lost nonce costs a client one `badNonce` retry and is not
//!   worth an fsync per request;
//! - reads run inline on the caller's thread on a few reader connections (see `db`): no thread
//!   hop per statement.
//!
//! What it must never do: decide policy (that is `ferrite-core`'s job: the store does not know
//! what a valid CSR or an allowed transition is, beyond the compare-and-set it is asked for),
//! panic on bad data (undecodable rows are [`ferrite_core::StoreError::Corrupt`]), or build SQL
//! from input (all queries are static text with bound parameters, checked at run time).
//!
//! Errors are core's [`ferrite_core::StoreError`]: a UNIQUE violation is `Conflict`, an
//! undecodable row is `Corrupt`, anything else from the database is `Backend`.
//!
//! Timestamps are stored as INTEGER microseconds since the Unix epoch (UTC), so values read
//! back are truncated to the microsecond and carry the UTC offset.
//!
//! # Layout
//! - [`open_store`]: the store a configuration names, the one place a backend is chosen;
//!   [`migrate`] applies the schema and reports its version (`ferrite migrate`).
//! - `postgres`: [`PostgresStore`], its connection settings ([`PostgresOptions`]) and
//!   migrations (`migrations/postgres/`). The modules below are the SQLite store's.
//! - `open`: [`SqliteStore`], the nonce file's path, migrations (`migrations/sqlite/`, tracked
//!   in `PRAGMA user_version`).
//! - `db`: the connections, inline reads, the group-committing writer thread, query helpers.
//! - `store_impl`: the `Store` impl, delegating to one module per table group:
//! - `nonces`: RFC 8555 §6.5 nonces.
//! - `accounts`: accounts and key rollover (§7.3).
//! - `orders`: orders with their authorization links, listing, finalize compare-and-set (§7.4).
//! - `authorizations`: authorizations and challenges, reuse lookup, deactivation (§7.5).
//! - `validations`: challenge validation leases: start, finish, reap (§7.5.1); a success also
//!   writes its domain validation.
//! - `domain_validations`: validations kept per customer for reuse and as evidence (BR §4.2.1).
//! - `certificates`: certificates, revocation (§7.6), CRL numbers (RFC 5280 §5.2.3).
//! - `crl`: the CRL the instances share and the lease of the one signing the next.
//! - `customers`, `credentials`, `mac_keys`: the binding model (RFC 8555 §7.3.4); `mac_keys`
//!   also counts a binding in the transaction that inserts the account.
//! - `ca_certificates`: the CA certificates the deployment serves, recorded by the first
//!   instance to start.
//! - `copy`: `ferrite store copy`, a SQLite deployment copied into an empty PostgreSQL
//!   database, counted on both sides.
//! - `bulk`: [`BulkRows`] and `SqliteStore::bulk_insert`, many rows in one transaction (seeding).
//! - `codec`: timestamps, statuses and JSON columns (both backends).
//! - `testing` (feature `testing`, tests only): a fresh PostgreSQL database per test.
//! - `error`: `rusqlite::Error` → `StoreError`.
#![warn(missing_docs)]

mod accounts;
mod audit;
mod authorizations;
mod blocked_keys;
mod bulk;
mod ca_certificates;
mod certificates;
mod codec;
pub mod copy;
mod credentials;
mod crl;
mod customers;
mod db;
mod domain_validations;
mod error;
mod mac_keys;
mod nonces;
mod open;
mod orders;
mod portal;
mod postgres;
mod rate_limits;
mod refused_requests;
mod store_impl;
#[cfg(feature = "testing")]
pub mod testing;
mod validations;

pub use bulk::BulkRows;
pub use open::SqliteStore;
pub use postgres::{
    DatabasePassword, LATEST_VERSION as POSTGRES_SCHEMA_VERSION, PostgresOptions, PostgresStore,
    is_postgres_url,
};

use std::path::Path;
use std::sync::Arc;

use ferrite_core::{Store, StoreError};

/// The name of the SQLite database file in the data directory.
pub const SQLITE_FILE: &str = "ferrite.db";

/// Opens the store the configuration names and brings its schema up to date: PostgreSQL when
/// `database_url` is a `postgres://` URL (connected with `postgres`), else, with an empty
/// `database_url`, the embedded SQLite database `data_dir/ferrite.db` (created if missing).
/// Every part of Ferrite that reads or writes state (`ferrite serve`, the operator commands,
/// the testkit) opens it here.
///
/// Errors never quote `database_url`: it may carry a password.
pub async fn open_store(
    database_url: &str,
    data_dir: &Path,
    postgres: &PostgresOptions,
) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match backend(database_url)? {
        Backend::Postgres => Arc::new(PostgresStore::open(database_url, postgres).await?),
        Backend::Sqlite => Arc::new(SqliteStore::open(&data_dir.join(SQLITE_FILE)).await?),
    })
}

/// What [`migrate`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migrated {
    /// `"PostgreSQL"` or `"SQLite"`.
    pub backend: &'static str,
    /// The schema version the database is at now (the latest this Ferrite knows).
    pub version: i64,
}

/// Applies the schema to the database [`open_store`] would open, and says which one it is and
/// at what version (`ferrite migrate`). Applying it again changes nothing.
pub async fn migrate(
    database_url: &str,
    data_dir: &Path,
    postgres: &PostgresOptions,
) -> Result<Migrated, StoreError> {
    match backend(database_url)? {
        Backend::Postgres => {
            let store = PostgresStore::open(database_url, postgres).await?;
            let version = store.schema_version().await;
            store.close();
            Ok(Migrated {
                backend: "PostgreSQL",
                version: version?,
            })
        }
        Backend::Sqlite => {
            let store = SqliteStore::open(&data_dir.join(SQLITE_FILE)).await?;
            store.close().await;
            Ok(Migrated {
                backend: "SQLite",
                version: open::LATEST_VERSION,
            })
        }
    }
}

enum Backend {
    Postgres,
    Sqlite,
}

fn backend(database_url: &str) -> Result<Backend, StoreError> {
    if database_url.trim().is_empty() {
        Ok(Backend::Sqlite)
    } else if is_postgres_url(database_url) {
        Ok(Backend::Postgres)
    } else {
        Err(StoreError::Backend(
            "database_url must be a postgres:// URL, or empty for the embedded SQLite database"
                .into(),
        ))
    }
}
