//! Customers: the operator's customers, name unique.

use ferrite_core::StoreError;
use ferrite_core::model::Customer;
use tokio_postgres::Row;

use super::{PostgresStore, at};
use crate::codec::{from_json_opt, from_micros, micros, to_json};

pub(crate) async fn insert(store: &PostgresStore, customer: &Customer) -> Result<(), StoreError> {
    store
        .execute(
            "INSERT INTO customers (id, name, created_at) VALUES ($1, $2, $3)",
            &[&customer.id, &customer.name, &micros(customer.created_at)],
        )
        .await
        .map(drop)
}

/// Customers matching `condition` (literal SQL on `$1`), oldest first.
macro_rules! select_customer {
    ($condition:literal) => {
        concat!(
            "SELECT id, name, created_at, allowed_profiles FROM customers ",
            $condition,
            " ORDER BY seq"
        )
    };
}

pub(crate) async fn by_id(store: &PostgresStore, id: &str) -> Result<Option<Customer>, StoreError> {
    store
        .query_opt(select_customer!("WHERE id = $1"), &[&id])
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

pub(crate) async fn by_name(
    store: &PostgresStore,
    name: &str,
) -> Result<Option<Customer>, StoreError> {
    store
        .query_opt(select_customer!("WHERE name = $1"), &[&name])
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

pub(crate) async fn all(store: &PostgresStore) -> Result<Vec<Customer>, StoreError> {
    let rows = store.query(select_customer!(""), &[]).await?;
    rows.iter().map(decode).collect()
}

// The profile limit as stored: a JSON array of names, NULL for none.
pub(crate) async fn set_profiles(
    store: &PostgresStore,
    customer_id: &str,
    profiles: Option<&[String]>,
) -> Result<bool, StoreError> {
    let profiles = profiles
        .map(|p| to_json(&p, "allowed_profiles"))
        .transpose()?;
    store
        .execute(
            "UPDATE customers SET allowed_profiles = $1 WHERE id = $2",
            &[&profiles, &customer_id],
        )
        .await
        .map(|n| n == 1)
}

fn decode(row: &Row) -> Result<Customer, StoreError> {
    let allowed: Option<&str> = at(row, 3, "allowed_profiles")?;
    Ok(Customer {
        id: at(row, 0, "id")?,
        name: at(row, 1, "name")?,
        created_at: from_micros(at(row, 2, "created_at")?, "customers.created_at")?,
        allowed_profiles: from_json_opt(allowed, "customers.allowed_profiles")?,
    })
}
