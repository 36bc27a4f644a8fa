//! ACME accounts (RFC 8555 §7.3): one row per account, key thumbprint unique.

use ferrite_core::StoreError;
use ferrite_core::model::{Account, Scope};
use ferrite_proto::AccountStatus;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::codec::{from_json, from_micros, micros, parse_wire, to_json};
use crate::error::db_error;
use crate::open::SqliteStore;

/// The account SELECT with a WHERE clause appended (literals only, so the SQL is static).
macro_rules! select_account {
    ($where:literal) => {
        concat!(
            "SELECT id, thumbprint, jwk, contact, status, terms_of_service_agreed, eab_kid, \
             customer_id, created_at FROM accounts ",
            $where
        )
    };
}

// RFC 8555 §7.3.1: an account is identified by its key; a second account for the same key is a
// conflict (the UNIQUE constraint on `thumbprint` decides, also across instances).
pub(crate) async fn insert(store: &SqliteStore, account: &Account) -> Result<(), StoreError> {
    let mut conn = store.pool.acquire().await.map_err(db_error)?;
    insert_in(&mut conn, account).await
}

/// [`insert`] on a given connection (or inside a transaction).
pub(crate) async fn insert_in(
    conn: &mut sqlx::SqliteConnection,
    account: &Account,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO accounts (id, thumbprint, jwk, contact, status, terms_of_service_agreed, \
         eab_kid, customer_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&account.id)
    .bind(&account.thumbprint)
    .bind(to_json(&account.jwk, "jwk")?)
    .bind(to_json(&account.contact, "contact")?)
    .bind(account.status.as_str())
    .bind(account.terms_of_service_agreed)
    .bind(account.eab_kid.as_deref())
    .bind(account.customer_id.as_deref())
    .bind(micros(account.created_at))
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Accounts bound through MAC keys in `scope` (every account for [`Scope::All`]), oldest
/// first.
pub(crate) async fn in_scope(
    store: &SqliteStore,
    scope: &Scope,
) -> Result<Vec<Account>, StoreError> {
    let query = match scope {
        Scope::All => sqlx::query(select_account!("ORDER BY rowid")),
        Scope::Customer(id) => {
            sqlx::query(select_account!("WHERE customer_id = ? ORDER BY rowid")).bind(id)
        }
        Scope::Credential(id) => sqlx::query(select_account!(
            "WHERE eab_kid IN (SELECT kid FROM eab_mac_keys WHERE credential_id = ?) \
             ORDER BY rowid"
        ))
        .bind(id),
    };
    let rows = query.fetch_all(&store.pool).await.map_err(db_error)?;
    rows.iter().map(decode).collect()
}

pub(crate) async fn by_id(store: &SqliteStore, id: &str) -> Result<Option<Account>, StoreError> {
    fetch_one_account(store, select_account!("WHERE id = ?"), id).await
}

pub(crate) async fn by_thumbprint(
    store: &SqliteStore,
    thumbprint: &str,
) -> Result<Option<Account>, StoreError> {
    fetch_one_account(store, select_account!("WHERE thumbprint = ?"), thumbprint).await
}

/// Replaces contact and status of a still-valid account. `Conflict` if there is no such valid
/// account: accounts are never deleted, so the caller holds a stale or foreign id, or the
/// account was deactivated meanwhile (§7.3.6: final).
pub(crate) async fn update(store: &SqliteStore, account: &Account) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE accounts SET contact = ?, status = ? WHERE id = ? AND status = 'valid'",
    )
    .bind(to_json(&account.contact, "contact")?)
    .bind(account.status.as_str())
    .bind(&account.id)
    .execute(&store.pool)
    .await
    .map_err(db_error)?;
    expect_one(done.rows_affected(), &account.id)
}

// RFC 8555 §7.3.5: "If there is an existing account registered with the newKey, then the server
// SHOULD use status code 409 (Conflict)". The UNIQUE constraint makes the check and the change
// one statement.
pub(crate) async fn change_key(
    store: &SqliteStore,
    id: &str,
    old_thumbprint: &str,
    new_thumbprint: &str,
    new_jwk: &serde_json::Value,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE accounts SET thumbprint = ?, jwk = ? \
         WHERE id = ? AND thumbprint = ? AND status = 'valid'",
    )
    .bind(new_thumbprint)
    .bind(to_json(new_jwk, "jwk")?)
    .bind(id)
    .bind(old_thumbprint)
    .execute(&store.pool)
    .await
    .map_err(db_error)?;
    expect_one(done.rows_affected(), id)
}

fn expect_one(rows: u64, id: &str) -> Result<(), StoreError> {
    if rows == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "no valid account with id {id:?} (and, for a key change, that key)"
        )))
    }
}

async fn fetch_one_account(
    store: &SqliteStore,
    sql: &'static str,
    key: &str,
) -> Result<Option<Account>, StoreError> {
    let row = sqlx::query(sql)
        .bind(key)
        .fetch_optional(&store.pool)
        .await
        .map_err(db_error)?;
    row.as_ref().map(decode).transpose()
}

fn decode(row: &SqliteRow) -> Result<Account, StoreError> {
    let jwk: String = row.try_get("jwk").map_err(db_error)?;
    let contact: String = row.try_get("contact").map_err(db_error)?;
    let status: String = row.try_get("status").map_err(db_error)?;
    Ok(Account {
        id: row.try_get("id").map_err(db_error)?,
        thumbprint: row.try_get("thumbprint").map_err(db_error)?,
        jwk: from_json(&jwk, "accounts.jwk")?,
        contact: from_json(&contact, "accounts.contact")?,
        status: parse_wire(&status, "accounts.status", AccountStatus::parse)?,
        terms_of_service_agreed: row.try_get("terms_of_service_agreed").map_err(db_error)?,
        eab_kid: row.try_get("eab_kid").map_err(db_error)?,
        customer_id: row.try_get("customer_id").map_err(db_error)?,
        created_at: from_micros(
            row.try_get("created_at").map_err(db_error)?,
            "accounts.created_at",
        )?,
    })
}
