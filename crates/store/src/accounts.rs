//! ACME accounts (RFC 8555 §7.3): one row per account, key thumbprint unique.

use ferrite_core::StoreError;
use ferrite_core::model::{Account, Customer, Scope};
use ferrite_proto::AccountStatus;
use rusqlite::{Connection, Row, params};

use crate::codec::{from_json, from_micros, micros, parse_wire, to_json};
use crate::customers;
use crate::db::{at, execute, query_all, query_opt};
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
    let account = account.clone();
    store.db.write(move |conn| insert_in(conn, &account)).await
}

/// [`insert`] inside the caller's write job.
pub(crate) fn insert_in(conn: &Connection, account: &Account) -> Result<(), StoreError> {
    execute(
        conn,
        "INSERT INTO accounts (id, thumbprint, jwk, contact, status, terms_of_service_agreed, \
         eab_kid, customer_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params![
            account.id,
            account.thumbprint,
            to_json(&account.jwk, "jwk")?,
            to_json(&account.contact, "contact")?,
            account.status.as_str(),
            account.terms_of_service_agreed,
            account.eab_kid,
            account.customer_id,
            micros(account.created_at),
        ],
    )
    .map(drop)
}

/// Accounts bound through MAC keys in `scope` (every account for [`Scope::All`]), oldest
/// first.
pub(crate) async fn in_scope(
    store: &SqliteStore,
    scope: &Scope,
) -> Result<Vec<Account>, StoreError> {
    store.db.read(|conn| match scope {
        Scope::All => query_all(conn, select_account!("ORDER BY rowid"), [], decode),
        Scope::Customer(id) => query_all(
            conn,
            select_account!("WHERE customer_id = ? ORDER BY rowid"),
            [id],
            decode,
        ),
        Scope::Credential(id) => query_all(
            conn,
            select_account!(
                "WHERE eab_kid IN (SELECT kid FROM eab_mac_keys WHERE credential_id = ?) \
                 ORDER BY rowid"
            ),
            [id],
            decode,
        ),
    })
}

pub(crate) async fn by_id(store: &SqliteStore, id: &str) -> Result<Option<Account>, StoreError> {
    store
        .db
        .read(|conn| query_opt(conn, select_account!("WHERE id = ?"), [id], decode))
}

/// The account and its customer in one query (a LEFT JOIN: an account bound without EAB has
/// none).
pub(crate) async fn with_customer(
    store: &SqliteStore,
    id: &str,
) -> Result<Option<(Account, Option<Customer>)>, StoreError> {
    store.db.read(|conn| {
        query_opt(
            conn,
            concat!(
                "SELECT a.id, a.thumbprint, a.jwk, a.contact, a.status, \
                 a.terms_of_service_agreed, a.eab_kid, a.customer_id, a.created_at, ",
                customers::columns!("c."),
                " FROM accounts a LEFT JOIN customers c ON c.id = a.customer_id WHERE a.id = ?"
            ),
            [id],
            |row| {
                let account = decode(row)?;
                let customer = match at::<Option<String>>(row, 9, "id")? {
                    Some(_) => Some(customers::decode_at(row, 9)?),
                    None => None,
                };
                Ok((account, customer))
            },
        )
    })
}

pub(crate) async fn by_thumbprint(
    store: &SqliteStore,
    thumbprint: &str,
) -> Result<Option<Account>, StoreError> {
    store.db.read(|conn| {
        query_opt(
            conn,
            select_account!("WHERE thumbprint = ?"),
            [thumbprint],
            decode,
        )
    })
}

/// Replaces contact and status of a still-valid account. `Conflict` if there is no such valid
/// account: accounts are never deleted, so the caller holds a stale or foreign id, or the
/// account was deactivated meanwhile (§7.3.6: final).
pub(crate) async fn update(store: &SqliteStore, account: &Account) -> Result<(), StoreError> {
    let contact = to_json(&account.contact, "contact")?;
    let status = account.status.as_str();
    let id = account.id.clone();
    store
        .db
        .write(move |conn| {
            let changed = execute(
                conn,
                "UPDATE accounts SET contact = ?, status = ? WHERE id = ? AND status = 'valid'",
                params![contact, status, id],
            )?;
            expect_one(changed, &id)
        })
        .await
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
    let jwk = to_json(new_jwk, "jwk")?;
    let (id, old, new) = (
        id.to_owned(),
        old_thumbprint.to_owned(),
        new_thumbprint.to_owned(),
    );
    store
        .db
        .write(move |conn| {
            let changed = execute(
                conn,
                "UPDATE accounts SET thumbprint = ?, jwk = ? \
                 WHERE id = ? AND thumbprint = ? AND status = 'valid'",
                params![new, jwk, id, old],
            )?;
            expect_one(changed, &id)
        })
        .await
}

fn expect_one(rows: usize, id: &str) -> Result<(), StoreError> {
    if rows == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "no valid account with id {id:?} (and, for a key change, that key)"
        )))
    }
}

fn decode(row: &Row<'_>) -> Result<Account, StoreError> {
    let jwk: String = at(row, 2, "jwk")?;
    let contact: String = at(row, 3, "contact")?;
    let status: String = at(row, 4, "status")?;
    Ok(Account {
        id: at(row, 0, "id")?,
        thumbprint: at(row, 1, "thumbprint")?,
        jwk: from_json(&jwk, "accounts.jwk")?,
        contact: from_json(&contact, "accounts.contact")?,
        status: parse_wire(&status, "accounts.status", AccountStatus::parse)?,
        terms_of_service_agreed: at(row, 5, "terms_of_service_agreed")?,
        eab_kid: at(row, 6, "eab_kid")?,
        customer_id: at(row, 7, "customer_id")?,
        created_at: from_micros(at(row, 8, "created_at")?, "accounts.created_at")?,
    })
}
