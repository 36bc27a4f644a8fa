//! Customers: the operator's customers, name unique.

use ferrite_core::StoreError;
use ferrite_core::model::Customer;
use rusqlite::{Row, params};

use crate::codec::{from_json_opt, from_micros, micros, to_json};
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
            "SELECT id, name, created_at, allowed_profiles FROM customers WHERE id = ?",
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
            "SELECT id, name, created_at, allowed_profiles FROM customers WHERE name = ?",
            [name],
            decode,
        )
    })
}

pub(crate) async fn all(store: &SqliteStore) -> Result<Vec<Customer>, StoreError> {
    store.db.read(|conn| {
        query_all(
            conn,
            "SELECT id, name, created_at, allowed_profiles FROM customers ORDER BY seq",
            [],
            decode,
        )
    })
}

// The profile limit as stored: a JSON array of names, NULL for none.
pub(crate) async fn set_profiles(
    store: &SqliteStore,
    customer_id: &str,
    profiles: Option<&[String]>,
) -> Result<bool, StoreError> {
    let profiles = profiles
        .map(|p| to_json(&p, "allowed_profiles"))
        .transpose()?;
    let customer_id = customer_id.to_owned();
    store
        .db
        .write(move |conn| {
            execute(
                conn,
                "UPDATE customers SET allowed_profiles = ? WHERE id = ?",
                params![profiles, customer_id],
            )
            .map(|n| n == 1)
        })
        .await
}

fn decode(row: &Row<'_>) -> Result<Customer, StoreError> {
    let allowed: Option<String> = col(row, "allowed_profiles")?;
    Ok(Customer {
        id: col(row, "id")?,
        name: col(row, "name")?,
        created_at: from_micros(col(row, "created_at")?, "customers.created_at")?,
        allowed_profiles: from_json_opt(allowed.as_deref(), "customers.allowed_profiles")?,
    })
}
