//! Customers: the operator's customers, name unique.

use ferrite_core::StoreError;
use ferrite_core::model::Customer;
use rusqlite::{Row, params};

use crate::codec::{from_micros, micros};
use crate::db::{col, execute, query_all, query_opt};
use crate::open::SqliteStore;

pub(crate) async fn insert(store: &SqliteStore, customer: &Customer) -> Result<(), StoreError> {
    let customer = customer.clone();
    store
        .db
        .write(move |conn| {
            execute(
                conn,
                "INSERT INTO customers (id, name, created_at) VALUES (?, ?, ?)",
                params![customer.id, customer.name, micros(customer.created_at)],
            )
            .map(drop)
        })
        .await
}

pub(crate) async fn by_id(store: &SqliteStore, id: &str) -> Result<Option<Customer>, StoreError> {
    store.db.read(|conn| {
        query_opt(
            conn,
            "SELECT id, name, created_at FROM customers WHERE id = ?",
            [id],
            decode,
        )
    })
}

pub(crate) async fn by_name(
    store: &SqliteStore,
    name: &str,
) -> Result<Option<Customer>, StoreError> {
    store.db.read(|conn| {
        query_opt(
            conn,
            "SELECT id, name, created_at FROM customers WHERE name = ?",
            [name],
            decode,
        )
    })
}

pub(crate) async fn all(store: &SqliteStore) -> Result<Vec<Customer>, StoreError> {
    store.db.read(|conn| {
        query_all(
            conn,
            "SELECT id, name, created_at FROM customers ORDER BY seq",
            [],
            decode,
        )
    })
}

fn decode(row: &Row<'_>) -> Result<Customer, StoreError> {
    Ok(Customer {
        id: col(row, "id")?,
        name: col(row, "name")?,
        created_at: from_micros(col(row, "created_at")?, "customers.created_at")?,
    })
}
