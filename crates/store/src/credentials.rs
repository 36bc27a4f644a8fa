//! API credentials: id, owning customer, argon2 hash of the secret, status; and operator
//! credentials (`operator_credentials`: the same without a customer).

use ferrite_core::StoreError;
use ferrite_core::model::{ApiCredential, CredentialStatus, OperatorCredential};
use rusqlite::{Row, params};

use crate::codec::{from_micros, micros, parse_wire};
use crate::db::{col, execute, query_all, query_opt};
use crate::open::SqliteStore;

pub(crate) async fn insert(
    store: &SqliteStore,
    credential: &ApiCredential,
) -> Result<(), StoreError> {
    let c = credential.clone();
    store
        .db
        .write(move |conn| {
            execute(
                conn,
                "INSERT INTO api_credentials (id, customer_id, secret_hash, status, created_at) \
                 VALUES (?, ?, ?, ?, ?)",
                params![
                    c.id,
                    c.customer_id,
                    c.secret_hash,
                    c.status.as_str(),
                    micros(c.created_at)
                ],
            )
            .map(drop)
        })
        .await
}

pub(crate) async fn by_id(
    store: &SqliteStore,
    id: &str,
) -> Result<Option<ApiCredential>, StoreError> {
    store.db.read(|conn| {
        query_opt(
            conn,
            "SELECT id, customer_id, secret_hash, status, created_at FROM api_credentials \
             WHERE id = ?",
            [id],
            decode,
        )
    })
}

pub(crate) async fn list(
    store: &SqliteStore,
    customer_id: Option<&str>,
) -> Result<Vec<ApiCredential>, StoreError> {
    store.db.read(|conn| {
        query_all(
            conn,
            "SELECT id, customer_id, secret_hash, status, created_at FROM api_credentials \
             WHERE (?1 IS NULL OR customer_id = ?1) ORDER BY seq",
            [customer_id],
            decode,
        )
    })
}

pub(crate) async fn set_status(
    store: &SqliteStore,
    id: &str,
    status: CredentialStatus,
) -> Result<bool, StoreError> {
    set_status_by(
        store,
        "UPDATE api_credentials SET status = ? WHERE id = ?",
        id,
        status,
    )
    .await
}

/// Runs `sql` (an UPDATE of one credential table's `status`, by `id`); whether a row changed.
async fn set_status_by(
    store: &SqliteStore,
    sql: &'static str,
    id: &str,
    status: CredentialStatus,
) -> Result<bool, StoreError> {
    let id = id.to_owned();
    store
        .db
        .write(move |conn| execute(conn, sql, params![status.as_str(), id]).map(|n| n == 1))
        .await
}

fn decode(row: &Row<'_>) -> Result<ApiCredential, StoreError> {
    let status: String = col(row, "status")?;
    Ok(ApiCredential {
        id: col(row, "id")?,
        customer_id: col(row, "customer_id")?,
        secret_hash: col(row, "secret_hash")?,
        status: parse_wire(&status, "api_credentials.status", CredentialStatus::parse)?,
        created_at: from_micros(col(row, "created_at")?, "api_credentials.created_at")?,
    })
}

pub(crate) async fn insert_operator(
    store: &SqliteStore,
    credential: &OperatorCredential,
) -> Result<(), StoreError> {
    let c = credential.clone();
    store
        .db
        .write(move |conn| {
            execute(
                conn,
                "INSERT INTO operator_credentials (id, secret_hash, status, created_at) \
                 VALUES (?, ?, ?, ?)",
                params![c.id, c.secret_hash, c.status.as_str(), micros(c.created_at)],
            )
            .map(drop)
        })
        .await
}

pub(crate) async fn operator_by_id(
    store: &SqliteStore,
    id: &str,
) -> Result<Option<OperatorCredential>, StoreError> {
    store.db.read(|conn| {
        query_opt(
            conn,
            "SELECT id, secret_hash, status, created_at FROM operator_credentials WHERE id = ?",
            [id],
            decode_operator,
        )
    })
}

pub(crate) async fn operators(store: &SqliteStore) -> Result<Vec<OperatorCredential>, StoreError> {
    store.db.read(|conn| {
        query_all(
            conn,
            "SELECT id, secret_hash, status, created_at FROM operator_credentials ORDER BY seq",
            [],
            decode_operator,
        )
    })
}

pub(crate) async fn set_operator_status(
    store: &SqliteStore,
    id: &str,
    status: CredentialStatus,
) -> Result<bool, StoreError> {
    set_status_by(
        store,
        "UPDATE operator_credentials SET status = ? WHERE id = ?",
        id,
        status,
    )
    .await
}

fn decode_operator(row: &Row<'_>) -> Result<OperatorCredential, StoreError> {
    let status: String = col(row, "status")?;
    Ok(OperatorCredential {
        id: col(row, "id")?,
        secret_hash: col(row, "secret_hash")?,
        status: parse_wire(
            &status,
            "operator_credentials.status",
            CredentialStatus::parse,
        )?,
        created_at: from_micros(col(row, "created_at")?, "operator_credentials.created_at")?,
    })
}
