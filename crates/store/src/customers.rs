//! Customers: the operator's customers, name unique.

use ferrite_core::StoreError;
use ferrite_core::model::Customer;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::codec::{from_micros, micros};
use crate::error::db_error;
use crate::open::SqliteStore;

pub(crate) async fn insert(store: &SqliteStore, customer: &Customer) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO customers (id, name, created_at) VALUES (?, ?, ?)")
        .bind(&customer.id)
        .bind(&customer.name)
        .bind(micros(customer.created_at))
        .execute(&store.pool)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub(crate) async fn by_id(store: &SqliteStore, id: &str) -> Result<Option<Customer>, StoreError> {
    let row = sqlx::query("SELECT id, name, created_at FROM customers WHERE id = ?")
        .bind(id)
        .fetch_optional(&store.pool)
        .await
        .map_err(db_error)?;
    row.as_ref().map(decode).transpose()
}

pub(crate) async fn by_name(
    store: &SqliteStore,
    name: &str,
) -> Result<Option<Customer>, StoreError> {
    let row = sqlx::query("SELECT id, name, created_at FROM customers WHERE name = ?")
        .bind(name)
        .fetch_optional(&store.pool)
        .await
        .map_err(db_error)?;
    row.as_ref().map(decode).transpose()
}

pub(crate) async fn all(store: &SqliteStore) -> Result<Vec<Customer>, StoreError> {
    let rows = sqlx::query("SELECT id, name, created_at FROM customers ORDER BY seq")
        .fetch_all(&store.pool)
        .await
        .map_err(db_error)?;
    rows.iter().map(decode).collect()
}

fn decode(row: &SqliteRow) -> Result<Customer, StoreError> {
    Ok(Customer {
        id: row.try_get("id").map_err(db_error)?,
        name: row.try_get("name").map_err(db_error)?,
        created_at: from_micros(
            row.try_get("created_at").map_err(db_error)?,
            "customers.created_at",
        )?,
    })
}
