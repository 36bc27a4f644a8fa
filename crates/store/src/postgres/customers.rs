//! Customers: the operator's customers, name unique.

use ferrite_core::StoreError;
use ferrite_core::model::{Customer, Suspension};
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
            "SELECT ",
            crate::customers::columns!(""),
            " FROM customers ",
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

/// Suspends (`Some`) or resumes (`None`) a customer: both columns in one statement.
pub(crate) async fn set_suspension(
    store: &PostgresStore,
    customer_id: &str,
    suspension: Option<&Suspension>,
) -> Result<bool, StoreError> {
    let at = suspension.map(|s| micros(s.at));
    let reason = suspension.and_then(|s| s.reason.as_deref());
    store
        .execute(
            "UPDATE customers SET suspended_at = $1, suspended_reason = $2 WHERE id = $3",
            &[&at, &reason, &customer_id],
        )
        .await
        .map(|n| n == 1)
}

fn decode(row: &Row) -> Result<Customer, StoreError> {
    decode_at(row, 0)
}

/// The customer in the columns of `crate::customers::columns!` starting at column `first` of
/// `row`.
pub(crate) fn decode_at(row: &Row, first: usize) -> Result<Customer, StoreError> {
    let allowed: Option<&str> = at(row, first + 3, "allowed_profiles")?;
    let suspended_at: Option<i64> = at(row, first + 4, "suspended_at")?;
    let suspension = match suspended_at {
        Some(t) => Some(Suspension {
            at: from_micros(t, "customers.suspended_at")?,
            reason: at(row, first + 5, "suspended_reason")?,
        }),
        None => None,
    };
    Ok(Customer {
        id: at(row, first, "id")?,
        name: at(row, first + 1, "name")?,
        created_at: from_micros(at(row, first + 2, "created_at")?, "customers.created_at")?,
        allowed_profiles: from_json_opt(allowed, "customers.allowed_profiles")?,
        suspension,
    })
}
