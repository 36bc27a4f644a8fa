//! API credentials: id, owning customer, argon2 hash of the secret, status; and operator
//! credentials (`operator_credentials`: the same without a customer).

use ferrite_core::StoreError;
use ferrite_core::model::{ApiCredential, CredentialStatus, OperatorCredential};
use tokio_postgres::Row;

use super::{PostgresStore, at};
use crate::codec::{from_micros, micros, parse_wire};

pub(crate) async fn insert(store: &PostgresStore, c: &ApiCredential) -> Result<(), StoreError> {
    store
        .execute(
            "INSERT INTO api_credentials (id, customer_id, secret_hash, status, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &c.id,
                &c.customer_id,
                &c.secret_hash,
                &c.status.as_str(),
                &micros(c.created_at),
            ],
        )
        .await
        .map(drop)
}

pub(crate) async fn by_id(
    store: &PostgresStore,
    id: &str,
) -> Result<Option<ApiCredential>, StoreError> {
    store
        .query_opt(
            "SELECT id, customer_id, secret_hash, status, created_at FROM api_credentials \
             WHERE id = $1",
            &[&id],
        )
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

pub(crate) async fn list(
    store: &PostgresStore,
    customer_id: Option<&str>,
) -> Result<Vec<ApiCredential>, StoreError> {
    let rows = store
        .query(
            "SELECT id, customer_id, secret_hash, status, created_at FROM api_credentials \
             WHERE ($1::text IS NULL OR customer_id = $1) ORDER BY seq",
            &[&customer_id],
        )
        .await?;
    rows.iter().map(decode).collect()
}

pub(crate) async fn set_status(
    store: &PostgresStore,
    id: &str,
    status: CredentialStatus,
) -> Result<bool, StoreError> {
    store
        .execute(
            "UPDATE api_credentials SET status = $1 WHERE id = $2",
            &[&status.as_str(), &id],
        )
        .await
        .map(|n| n == 1)
}

fn decode(row: &Row) -> Result<ApiCredential, StoreError> {
    let status: &str = at(row, 3, "status")?;
    Ok(ApiCredential {
        id: at(row, 0, "id")?,
        customer_id: at(row, 1, "customer_id")?,
        secret_hash: at(row, 2, "secret_hash")?,
        status: parse_wire(status, "api_credentials.status", CredentialStatus::parse)?,
        created_at: from_micros(at(row, 4, "created_at")?, "api_credentials.created_at")?,
    })
}

pub(crate) async fn insert_operator(
    store: &PostgresStore,
    c: &OperatorCredential,
) -> Result<(), StoreError> {
    store
        .execute(
            "INSERT INTO operator_credentials (id, secret_hash, status, created_at) \
             VALUES ($1, $2, $3, $4)",
            &[
                &c.id,
                &c.secret_hash,
                &c.status.as_str(),
                &micros(c.created_at),
            ],
        )
        .await
        .map(drop)
}

pub(crate) async fn operator_by_id(
    store: &PostgresStore,
    id: &str,
) -> Result<Option<OperatorCredential>, StoreError> {
    store
        .query_opt(
            "SELECT id, secret_hash, status, created_at FROM operator_credentials WHERE id = $1",
            &[&id],
        )
        .await?
        .as_ref()
        .map(decode_operator)
        .transpose()
}

pub(crate) async fn operators(
    store: &PostgresStore,
) -> Result<Vec<OperatorCredential>, StoreError> {
    let rows = store
        .query(
            "SELECT id, secret_hash, status, created_at FROM operator_credentials ORDER BY seq",
            &[],
        )
        .await?;
    rows.iter().map(decode_operator).collect()
}

pub(crate) async fn set_operator_status(
    store: &PostgresStore,
    id: &str,
    status: CredentialStatus,
) -> Result<bool, StoreError> {
    store
        .execute(
            "UPDATE operator_credentials SET status = $1 WHERE id = $2",
            &[&status.as_str(), &id],
        )
        .await
        .map(|n| n == 1)
}

fn decode_operator(row: &Row) -> Result<OperatorCredential, StoreError> {
    let status: &str = at(row, 2, "status")?;
    Ok(OperatorCredential {
        id: at(row, 0, "id")?,
        secret_hash: at(row, 1, "secret_hash")?,
        status: parse_wire(
            status,
            "operator_credentials.status",
            CredentialStatus::parse,
        )?,
        created_at: from_micros(at(row, 3, "created_at")?, "operator_credentials.created_at")?,
    })
}
