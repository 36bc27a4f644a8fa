//! Customers: the operator's customers, name unique.

use ferrite_core::StoreError;
use ferrite_core::model::{Customer, Suspension};
use rusqlite::{Row, params};

use crate::codec::{from_json_opt, from_micros, micros, to_json};
use crate::db::{at, execute, query_all, query_opt};
use crate::open::SqliteStore;

/// The customer columns [`decode_at`] reads, each prefixed with `$alias` (`""` or `"c."`).
macro_rules! columns {
    ($alias:literal) => {
        concat!(
            $alias,
            "id, ",
            $alias,
            "name, ",
            $alias,
            "created_at, ",
            $alias,
            "allowed_profiles, ",
            $alias,
            "suspended_at, ",
            $alias,
            "suspended_reason"
        )
    };
}
pub(crate) use columns;

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
            concat!("SELECT ", columns!(""), " FROM customers WHERE id = ?"),
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
            concat!("SELECT ", columns!(""), " FROM customers WHERE name = ?"),
            [name],
            decode,
        )
    })
}

pub(crate) async fn all(store: &SqliteStore) -> Result<Vec<Customer>, StoreError> {
    store.db.read(|conn| {
        query_all(
            conn,
            concat!("SELECT ", columns!(""), " FROM customers ORDER BY seq"),
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

/// Suspends (`Some`) or resumes (`None`) a customer: both columns in one statement.
pub(crate) async fn set_suspension(
    store: &SqliteStore,
    customer_id: &str,
    suspension: Option<&Suspension>,
) -> Result<bool, StoreError> {
    let at = suspension.map(|s| micros(s.at));
    let reason = suspension.and_then(|s| s.reason.clone());
    let customer_id = customer_id.to_owned();
    store
        .db
        .write(move |conn| {
            execute(
                conn,
                "UPDATE customers SET suspended_at = ?, suspended_reason = ? WHERE id = ?",
                params![at, reason, customer_id],
            )
            .map(|n| n == 1)
        })
        .await
}

fn decode(row: &Row<'_>) -> Result<Customer, StoreError> {
    decode_at(row, 0)
}

/// The customer in the [`columns`] starting at column `first` of `row`.
pub(crate) fn decode_at(row: &Row<'_>, first: usize) -> Result<Customer, StoreError> {
    let allowed: Option<String> = at(row, first + 3, "allowed_profiles")?;
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
        allowed_profiles: from_json_opt(allowed.as_deref(), "customers.allowed_profiles")?,
        suspension,
    })
}
