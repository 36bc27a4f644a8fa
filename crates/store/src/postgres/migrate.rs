//! The PostgreSQL schema: one migration per file (`migrations/postgres/`), embedded at build
//! time, applied in one transaction under an advisory lock.
//!
//! Instances starting together (a rolling deploy, a restart of every instance) all call
//! [`run`]: the first takes the lock and migrates, the others wait for its commit, then find
//! nothing left to do. A database whose schema is newer than this binary is refused before
//! anything is written: an older Ferrite would misread tables it does not know.

use ferrite_core::StoreError;

use super::{PostgresStore, at, db_error};

/// The migrations, in order; the table `ferrite_schema` records each one applied.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/postgres/0002_finalize_lease.sql"),
    ),
    (
        3,
        include_str!("../../migrations/postgres/0003_ca_certificates.sql"),
    ),
    (
        4,
        include_str!("../../migrations/postgres/0004_crl_state.sql"),
    ),
    (
        5,
        include_str!("../../migrations/postgres/0005_ari_profiles.sql"),
    ),
    (
        6,
        include_str!("../../migrations/postgres/0006_refused_requests.sql"),
    ),
    (
        7,
        include_str!("../../migrations/postgres/0007_customer_suspension.sql"),
    ),
    (
        8,
        include_str!("../../migrations/postgres/0008_revocation_key_blocking.sql"),
    ),
    (
        9,
        include_str!("../../migrations/postgres/0009_rate_limits.sql"),
    ),
    (
        10,
        include_str!("../../migrations/postgres/0010_crl_shards_precertificates.sql"),
    ),
    (
        11,
        include_str!("../../migrations/postgres/0011_audit_log.sql"),
    ),
    (
        12,
        include_str!("../../migrations/postgres/0012_operator_credentials.sql"),
    ),
    (
        13,
        include_str!("../../migrations/postgres/0013_portal.sql"),
    ),
    (
        14,
        include_str!("../../migrations/postgres/0014_audit_append_plpgsql.sql"),
    ),
];

/// The schema version this Ferrite writes and reads.
pub const LATEST_VERSION: i64 = MIGRATIONS.len() as i64;

/// The advisory lock key of the migration ("ferrite" and a version byte), held for the
/// migrating transaction only (`pg_advisory_xact_lock`). Another program on the same database
/// choosing the same key would only wait for Ferrite's migration.
const MIGRATION_LOCK: i64 = 0x6665_7272_6974_6501;

/// Applies the migrations the database has not seen, all in one transaction under
/// [`MIGRATION_LOCK`]: each is applied once however many instances start together, and a
/// failure leaves the database as it was.
pub(crate) async fn run(store: &PostgresStore) -> Result<(), StoreError> {
    let mut conn = store.conn().await?;
    let tx = conn.transaction().await.map_err(db_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(db_error)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS ferrite_schema (
             version    BIGINT PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .await
    .map_err(db_error)?;
    let applied = version_in(&*tx).await?;
    if applied > LATEST_VERSION {
        return Err(StoreError::Backend(format!(
            "the database's schema is at version {applied}, newer than this Ferrite knows \
             ({LATEST_VERSION}): another instance runs a newer Ferrite; run that version here too"
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > applied) {
        tx.batch_execute(sql).await.map_err(|e| {
            StoreError::Backend(format!(
                "database migration {version} failed: {}",
                db_error(e)
            ))
        })?;
        tx.execute(
            "INSERT INTO ferrite_schema (version) VALUES ($1)",
            &[version],
        )
        .await
        .map_err(db_error)?;
        tracing::info!(version, "applied database migration");
    }
    tx.commit().await.map_err(db_error)
}

/// The schema version of the database (0 before the first migration).
pub(crate) async fn applied_version(store: &PostgresStore) -> Result<i64, StoreError> {
    let conn = store.conn().await?;
    let exists: bool = conn
        .query_one(
            "SELECT to_regclass('ferrite_schema') IS NOT NULL AS present",
            &[],
        )
        .await
        .map_err(db_error)
        .and_then(|row| at(&row, 0, "present"))?;
    if !exists {
        return Ok(0);
    }
    version_in(&***conn).await
}

async fn version_in(conn: &impl tokio_postgres::GenericClient) -> Result<i64, StoreError> {
    let row = conn
        .query_one(
            "SELECT COALESCE(MAX(version), 0)::BIGINT AS version FROM ferrite_schema",
            &[],
        )
        .await
        .map_err(db_error)?;
    at(&row, 0, "version")
}
