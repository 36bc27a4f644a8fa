//! EAB MAC keys (RFC 8555 §7.3.4): creation (disabling the credential's previous keys), lookup,
//! listing, and the binding counter that is bumped in the account's own transaction.

use ferrite_core::StoreError;
use ferrite_core::model::{Account, BindingRefusal, CredentialStatus, MacKey, Scope};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::accounts;
use crate::codec::{from_micros, micros, parse_wire};
use crate::error::db_error;
use crate::open::SqliteStore;

/// The MAC key SELECT (table alias `k`) with the rest of the statement appended (literals only,
/// so the SQL is static).
macro_rules! select_key {
    ($rest:literal) => {
        concat!(
            "SELECT k.kid, k.credential_id, k.sealed_key, k.created_at, k.expires_at, \
             k.max_bindings, k.bindings_used, k.status FROM eab_mac_keys k ",
            $rest
        )
    };
}

/// "Creating a new MAC key for an API credential disables that credential's previous key at
/// once": both in one transaction, so a credential never has two active keys.
pub(crate) async fn insert(store: &SqliteStore, key: &MacKey) -> Result<(), StoreError> {
    let mut tx = store.begin_write().await?;
    sqlx::query(
        "UPDATE eab_mac_keys SET status = 'disabled' WHERE credential_id = ? AND status = 'active'",
    )
    .bind(&key.credential_id)
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    sqlx::query(
        "INSERT INTO eab_mac_keys (kid, credential_id, sealed_key, created_at, expires_at, \
         max_bindings, bindings_used, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&key.kid)
    .bind(&key.credential_id)
    .bind(&key.sealed_key)
    .bind(micros(key.created_at))
    .bind(micros(key.expires_at))
    .bind(i64::from(key.max_bindings))
    .bind(i64::from(key.bindings_used))
    .bind(key.status.as_str())
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    tx.commit().await.map_err(db_error)
}

pub(crate) async fn by_kid(store: &SqliteStore, kid: &str) -> Result<Option<MacKey>, StoreError> {
    let row = sqlx::query(select_key!("WHERE k.kid = ?"))
        .bind(kid)
        .fetch_optional(&store.pool)
        .await
        .map_err(db_error)?;
    row.as_ref().map(decode).transpose()
}

pub(crate) async fn list(store: &SqliteStore, scope: &Scope) -> Result<Vec<MacKey>, StoreError> {
    let (customer, credential) = match scope {
        Scope::All => (None, None),
        Scope::Customer(id) => (Some(id.as_str()), None),
        Scope::Credential(id) => (None, Some(id.as_str())),
    };
    let rows = sqlx::query(select_key!(
        "JOIN api_credentials c ON c.id = k.credential_id \
         WHERE (?1 IS NULL OR c.customer_id = ?1) AND (?2 IS NULL OR k.credential_id = ?2) \
         ORDER BY k.seq"
    ))
    .bind(customer)
    .bind(credential)
    .fetch_all(&store.pool)
    .await
    .map_err(db_error)?;
    rows.iter().map(decode).collect()
}

/// One `BEGIN IMMEDIATE` transaction: a guarded increment that only matches a usable key, then
/// the account insert. SQLite serializes writers, so among concurrent callers exactly as many
/// increments succeed as bindings remain; a failed insert rolls the increment back.
pub(crate) async fn bind(
    store: &SqliteStore,
    account: &Account,
    kid: &str,
    now: time::OffsetDateTime,
) -> Result<Result<(), BindingRefusal>, StoreError> {
    let mut tx = store.begin_write().await?;
    let counted = sqlx::query(
        "UPDATE eab_mac_keys SET bindings_used = bindings_used + 1 \
         WHERE kid = ? AND status = 'active' AND expires_at > ? \
           AND bindings_used < max_bindings \
           AND EXISTS (SELECT 1 FROM api_credentials c \
                       WHERE c.id = eab_mac_keys.credential_id AND c.status = 'active')",
    )
    .bind(kid)
    .bind(micros(now))
    .execute(&mut *tx)
    .await
    .map_err(db_error)?
    .rows_affected();
    if counted != 1 {
        let refusal = why_refused(&mut tx, kid, now).await?;
        tx.rollback().await.map_err(db_error)?;
        return Ok(Err(refusal));
    }
    // On error `tx` is dropped, which rolls the increment back.
    accounts::insert_in(&mut tx, account).await?;
    tx.commit().await.map_err(db_error)?;
    Ok(Ok(()))
}

/// Which rule the guarded increment failed, read in the same transaction. The credential is
/// named first: its fix (a new credential) is the one the customer needs.
async fn why_refused(
    conn: &mut sqlx::SqliteConnection,
    kid: &str,
    now: time::OffsetDateTime,
) -> Result<BindingRefusal, StoreError> {
    let row = sqlx::query(
        "SELECT k.status AS key_status, k.expires_at, k.bindings_used, k.max_bindings, \
                c.status AS credential_status \
         FROM eab_mac_keys k JOIN api_credentials c ON c.id = k.credential_id WHERE k.kid = ?",
    )
    .bind(kid)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?;
    let Some(row) = row else {
        return Ok(BindingRefusal::UnknownKid);
    };
    let credential: String = row.try_get("credential_status").map_err(db_error)?;
    let key: String = row.try_get("key_status").map_err(db_error)?;
    let expires_at: i64 = row.try_get("expires_at").map_err(db_error)?;
    let used: i64 = row.try_get("bindings_used").map_err(db_error)?;
    let max: i64 = row.try_get("max_bindings").map_err(db_error)?;
    Ok(if credential != CredentialStatus::Active.as_str() {
        BindingRefusal::CredentialDisabled
    } else if key != CredentialStatus::Active.as_str() {
        BindingRefusal::KeyDisabled
    } else if expires_at <= micros(now) {
        BindingRefusal::KeyExpired
    } else if used >= max {
        BindingRefusal::KeyExhausted
    } else {
        return Err(StoreError::Backend(format!(
            "MAC key {kid:?} is usable but could not be counted"
        )));
    })
}

fn count(row: &SqliteRow, column: &str) -> Result<u32, StoreError> {
    let v: i64 = row.try_get(column).map_err(db_error)?;
    u32::try_from(v)
        .map_err(|_| StoreError::Corrupt(format!("eab_mac_keys.{column}: {v} out of range")))
}

fn decode(row: &SqliteRow) -> Result<MacKey, StoreError> {
    let status: String = row.try_get("status").map_err(db_error)?;
    Ok(MacKey {
        kid: row.try_get("kid").map_err(db_error)?,
        credential_id: row.try_get("credential_id").map_err(db_error)?,
        sealed_key: row.try_get("sealed_key").map_err(db_error)?,
        created_at: from_micros(
            row.try_get("created_at").map_err(db_error)?,
            "eab_mac_keys.created_at",
        )?,
        expires_at: from_micros(
            row.try_get("expires_at").map_err(db_error)?,
            "eab_mac_keys.expires_at",
        )?,
        max_bindings: count(row, "max_bindings")?,
        bindings_used: count(row, "bindings_used")?,
        status: parse_wire(&status, "eab_mac_keys.status", CredentialStatus::parse)?,
    })
}
