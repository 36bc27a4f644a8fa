//! API credentials: id, owning customer, argon2 hash of the secret, status.

use ferrite_core::StoreError;
use ferrite_core::model::{ApiCredential, CredentialStatus};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::codec::{from_micros, micros, parse_wire};
use crate::error::db_error;
use crate::open::SqliteStore;

pub(crate) async fn insert(
    store: &SqliteStore,
    credential: &ApiCredential,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO api_credentials (id, customer_id, secret_hash, status, created_at) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&credential.id)
    .bind(&credential.customer_id)
    .bind(&credential.secret_hash)
    .bind(credential.status.as_str())
    .bind(micros(credential.created_at))
    .execute(&store.pool)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub(crate) async fn by_id(
    store: &SqliteStore,
    id: &str,
) -> Result<Option<ApiCredential>, StoreError> {
    let row = sqlx::query(
        "SELECT id, customer_id, secret_hash, status, created_at FROM api_credentials \
         WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(&store.pool)
    .await
    .map_err(db_error)?;
    row.as_ref().map(decode).transpose()
}

pub(crate) async fn list(
    store: &SqliteStore,
    customer_id: Option<&str>,
) -> Result<Vec<ApiCredential>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, customer_id, secret_hash, status, created_at FROM api_credentials \
         WHERE (?1 IS NULL OR customer_id = ?1) ORDER BY seq",
    )
    .bind(customer_id)
    .fetch_all(&store.pool)
    .await
    .map_err(db_error)?;
    rows.iter().map(decode).collect()
}

pub(crate) async fn set_status(
    store: &SqliteStore,
    id: &str,
    status: CredentialStatus,
) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE api_credentials SET status = ? WHERE id = ?")
        .bind(status.as_str())
        .bind(id)
        .execute(&store.pool)
        .await
        .map_err(db_error)?;
    Ok(done.rows_affected() == 1)
}

fn decode(row: &SqliteRow) -> Result<ApiCredential, StoreError> {
    let status: String = row.try_get("status").map_err(db_error)?;
    Ok(ApiCredential {
        id: row.try_get("id").map_err(db_error)?,
        customer_id: row.try_get("customer_id").map_err(db_error)?,
        secret_hash: row.try_get("secret_hash").map_err(db_error)?,
        status: parse_wire(&status, "api_credentials.status", CredentialStatus::parse)?,
        created_at: from_micros(
            row.try_get("created_at").map_err(db_error)?,
            "api_credentials.created_at",
        )?,
    })
}
