//! ACME accounts (RFC 8555 §7.3): one row per account, key thumbprint unique.

use ferrite_core::StoreError;
use ferrite_core::model::{Account, Customer, Scope};
use ferrite_proto::AccountStatus;
use tokio_postgres::Row;

use super::{PostgresStore, at, customers};
use crate::codec::{from_json, from_micros, micros, parse_wire, to_json};

/// The account SELECT with the rest of the statement appended (literals only, so the SQL is
/// static).
macro_rules! select_account {
    ($rest:literal) => {
        concat!(
            "SELECT id, thumbprint, jwk, contact, status, terms_of_service_agreed, eab_kid, \
             customer_id, created_at FROM accounts ",
            $rest
        )
    };
}

/// An account's column values, encoded, in the order of the column list of every account
/// insert: `id, thumbprint, jwk, contact, status, terms_of_service_agreed, eab_kid,
/// customer_id, created_at`.
pub(crate) struct Values {
    id: String,
    thumbprint: String,
    jwk: String,
    contact: String,
    status: &'static str,
    terms_of_service_agreed: bool,
    eab_kid: Option<String>,
    customer_id: Option<String>,
    created_at: i64,
}

impl Values {
    pub(crate) fn of(account: &Account) -> Result<Values, StoreError> {
        Ok(Values {
            id: account.id.clone(),
            thumbprint: account.thumbprint.clone(),
            jwk: to_json(&account.jwk, "jwk")?,
            contact: to_json(&account.contact, "contact")?,
            status: account.status.as_str(),
            terms_of_service_agreed: account.terms_of_service_agreed,
            eab_kid: account.eab_kid.clone(),
            customer_id: account.customer_id.clone(),
            created_at: micros(account.created_at),
        })
    }

    /// The nine parameters, to bind at `$1`…`$9` (or after the caller's own).
    pub(crate) fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 9] {
        [
            &self.id,
            &self.thumbprint,
            &self.jwk,
            &self.contact,
            &self.status,
            &self.terms_of_service_agreed,
            &self.eab_kid,
            &self.customer_id,
            &self.created_at,
        ]
    }
}

// RFC 8555 §7.3.1: an account is identified by its key; a second account for the same key is a
// conflict (the UNIQUE constraint on `thumbprint` decides, also across instances).
pub(crate) async fn insert(store: &PostgresStore, account: &Account) -> Result<(), StoreError> {
    let values = Values::of(account)?;
    store
        .execute(
            "INSERT INTO accounts (id, thumbprint, jwk, contact, status, \
             terms_of_service_agreed, eab_kid, customer_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &values.params(),
        )
        .await
        .map(drop)
}

/// Accounts bound through MAC keys in `scope` (every account for [`Scope::All`]), oldest
/// first.
pub(crate) async fn in_scope(
    store: &PostgresStore,
    scope: &Scope,
) -> Result<Vec<Account>, StoreError> {
    let rows =
        match scope {
            Scope::All => store.query(select_account!("ORDER BY seq"), &[]).await?,
            Scope::Customer(id) => {
                store
                    .query(
                        select_account!("WHERE customer_id = $1 ORDER BY seq"),
                        &[id],
                    )
                    .await?
            }
            Scope::Credential(id) => store
                .query(
                    select_account!(
                        "WHERE eab_kid IN (SELECT kid FROM eab_mac_keys WHERE credential_id = $1) \
                         ORDER BY seq"
                    ),
                    &[id],
                )
                .await?,
        };
    rows.iter().map(decode).collect()
}

pub(crate) async fn by_id(store: &PostgresStore, id: &str) -> Result<Option<Account>, StoreError> {
    store
        .query_opt(select_account!("WHERE id = $1"), &[&id])
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

/// The account and its customer in one query (a LEFT JOIN: an account bound without EAB has
/// none).
pub(crate) async fn with_customer(
    store: &PostgresStore,
    id: &str,
) -> Result<Option<(Account, Option<Customer>)>, StoreError> {
    let Some(row) = store
        .query_opt(
            concat!(
                "SELECT a.id, a.thumbprint, a.jwk, a.contact, a.status, \
                 a.terms_of_service_agreed, a.eab_kid, a.customer_id, a.created_at, ",
                crate::customers::columns!("c."),
                " FROM accounts a LEFT JOIN customers c ON c.id = a.customer_id WHERE a.id = $1"
            ),
            &[&id],
        )
        .await?
    else {
        return Ok(None);
    };
    let account = decode(&row)?;
    let customer = match at::<Option<&str>>(&row, 9, "id")? {
        Some(_) => Some(customers::decode_at(&row, 9)?),
        None => None,
    };
    Ok(Some((account, customer)))
}

pub(crate) async fn by_thumbprint(
    store: &PostgresStore,
    thumbprint: &str,
) -> Result<Option<Account>, StoreError> {
    store
        .query_opt(select_account!("WHERE thumbprint = $1"), &[&thumbprint])
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

/// Replaces contact and status of a still-valid account. `Conflict` if there is no such valid
/// account: accounts are never deleted, so the caller holds a stale or foreign id, or the
/// account was deactivated meanwhile (§7.3.6: final).
pub(crate) async fn update(store: &PostgresStore, account: &Account) -> Result<(), StoreError> {
    let contact = to_json(&account.contact, "contact")?;
    let changed = store
        .execute(
            "UPDATE accounts SET contact = $1, status = $2 WHERE id = $3 AND status = 'valid'",
            &[&contact, &account.status.as_str(), &account.id],
        )
        .await?;
    expect_one(changed, &account.id)
}

// RFC 8555 §7.3.5: "If there is an existing account registered with the newKey, then the server
// SHOULD use status code 409 (Conflict)". The UNIQUE constraint makes the check and the change
// one statement.
pub(crate) async fn change_key(
    store: &PostgresStore,
    id: &str,
    old_thumbprint: &str,
    new_thumbprint: &str,
    new_jwk: &serde_json::Value,
) -> Result<(), StoreError> {
    let jwk = to_json(new_jwk, "jwk")?;
    let changed = store
        .execute(
            "UPDATE accounts SET thumbprint = $1, jwk = $2 \
             WHERE id = $3 AND thumbprint = $4 AND status = 'valid'",
            &[&new_thumbprint, &jwk, &id, &old_thumbprint],
        )
        .await?;
    expect_one(changed, id)
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

fn decode(row: &Row) -> Result<Account, StoreError> {
    let jwk: &str = at(row, 2, "jwk")?;
    let contact: &str = at(row, 3, "contact")?;
    let status: &str = at(row, 4, "status")?;
    Ok(Account {
        id: at(row, 0, "id")?,
        thumbprint: at(row, 1, "thumbprint")?,
        jwk: from_json(jwk, "accounts.jwk")?,
        contact: from_json(contact, "accounts.contact")?,
        status: parse_wire(status, "accounts.status", AccountStatus::parse)?,
        terms_of_service_agreed: at(row, 5, "terms_of_service_agreed")?,
        eab_kid: at(row, 6, "eab_kid")?,
        customer_id: at(row, 7, "customer_id")?,
        created_at: from_micros(at(row, 8, "created_at")?, "accounts.created_at")?,
    })
}
