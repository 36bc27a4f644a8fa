//! EAB MAC keys (RFC 8555 §7.3.4): creation (disabling the credential's previous keys),
//! lookup, listing, and the binding counter that moves only together with the account it
//! binds.

use ferrite_core::StoreError;
use ferrite_core::model::{Account, BindingRefusal, CredentialStatus, MacKey, Scope};
use time::OffsetDateTime;
use tokio_postgres::Row;

use super::accounts::Values;
use super::{PostgresStore, at, db_error};
use crate::codec::{binding_refusal, from_micros, micros, parse_wire};

/// "Creating a new MAC key for an API credential disables that credential's previous key at
/// once", so a credential never has two active keys. One transaction that first locks the
/// credential's row: two new keys for one credential (on two instances) queue there, and the
/// second's update, a statement started after the first committed, sees and disables the
/// first's key.
pub(crate) async fn insert(store: &PostgresStore, key: &MacKey) -> Result<(), StoreError> {
    let mut conn = store.conn().await?;
    let tx = conn.transaction().await.map_err(db_error)?;
    let lock = tx
        .prepare_cached("SELECT 1 FROM api_credentials WHERE id = $1 FOR UPDATE")
        .await
        .map_err(db_error)?;
    tx.query_opt(&lock, &[&key.credential_id])
        .await
        .map_err(db_error)?;
    let insert = tx
        .prepare_cached(
            "WITH disabled AS ( \
               UPDATE eab_mac_keys SET status = 'disabled' \
               WHERE credential_id = $2 AND status = 'active') \
             INSERT INTO eab_mac_keys (kid, credential_id, sealed_key, created_at, expires_at, \
               max_bindings, bindings_used, status) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .await
        .map_err(db_error)?;
    tx.execute(
        &insert,
        &[
            &key.kid,
            &key.credential_id,
            &key.sealed_key,
            &micros(key.created_at),
            &micros(key.expires_at),
            &i64::from(key.max_bindings),
            &i64::from(key.bindings_used),
            &key.status.as_str(),
        ],
    )
    .await
    .map_err(db_error)?;
    tx.commit().await.map_err(db_error)
}

/// The MAC key SELECT (table alias `k`) with the rest of the statement appended.
macro_rules! select_key {
    ($rest:literal) => {
        concat!(
            "SELECT k.kid, k.credential_id, k.sealed_key, k.created_at, k.expires_at, \
             k.max_bindings, k.bindings_used, k.status FROM eab_mac_keys k ",
            $rest
        )
    };
}

/// Disables one key (whatever its state: a disabled key stays disabled).
pub(crate) async fn disable(store: &PostgresStore, kid: &str) -> Result<bool, StoreError> {
    store
        .execute(
            "UPDATE eab_mac_keys SET status = 'disabled' WHERE kid = $1",
            &[&kid],
        )
        .await
        .map(|n| n == 1)
}

pub(crate) async fn by_kid(store: &PostgresStore, kid: &str) -> Result<Option<MacKey>, StoreError> {
    store
        .query_opt(select_key!("WHERE k.kid = $1"), &[&kid])
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

pub(crate) async fn list(store: &PostgresStore, scope: &Scope) -> Result<Vec<MacKey>, StoreError> {
    let (customer, credential) = match scope {
        Scope::All => (None, None),
        Scope::Customer(id) => (Some(id.as_str()), None),
        Scope::Credential(id) => (None, Some(id.as_str())),
    };
    let rows = store
        .query(
            select_key!(
                "JOIN api_credentials c ON c.id = k.credential_id \
                 WHERE ($1::text IS NULL OR c.customer_id = $1) \
                 AND ($2::text IS NULL OR k.credential_id = $2) ORDER BY k.seq"
            ),
            &[&customer, &credential],
        )
        .await?;
    rows.iter().map(decode).collect()
}

/// One statement: a guarded increment that only matches a usable key, and the account insert
/// fed by it. Concurrent bindings of one key (on any instance) queue on the key's row, and each
/// re-checks `bindings_used < max_bindings` on the count the one before it committed, so
/// exactly as many succeed as bindings remain. A failing insert (a taken thumbprint) fails the
/// statement, increment included.
pub(crate) async fn bind(
    store: &PostgresStore,
    account: &Account,
    kid: &str,
    now: OffsetDateTime,
) -> Result<Result<(), BindingRefusal>, StoreError> {
    let values = Values::of(account)?;
    let now_us = micros(now);
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = values.params().to_vec();
    params.push(&kid);
    params.push(&now_us);
    let bound = store
        .execute(
            "WITH counted AS ( \
               UPDATE eab_mac_keys SET bindings_used = bindings_used + 1 \
               WHERE kid = $10 AND status = 'active' AND expires_at > $11 \
                 AND bindings_used < max_bindings \
                 AND EXISTS (SELECT 1 FROM api_credentials c \
                             JOIN customers u ON u.id = c.customer_id \
                             WHERE c.id = eab_mac_keys.credential_id AND c.status = 'active' \
                               AND u.suspended_at IS NULL) \
               RETURNING kid) \
             INSERT INTO accounts (id, thumbprint, jwk, contact, status, \
               terms_of_service_agreed, eab_kid, customer_id, created_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 FROM counted",
            &params,
        )
        .await?;
    if bound == 1 {
        return Ok(Ok(()));
    }
    why_refused(store, kid, now).await.map(Err)
}

/// Which rule the guarded increment failed (read after it; nothing was changed). The
/// customer's suspension is named first, then the credential: their fixes (the operator
/// resumes the customer; a new credential) are the ones the customer needs.
async fn why_refused(
    store: &PostgresStore,
    kid: &str,
    now: OffsetDateTime,
) -> Result<BindingRefusal, StoreError> {
    let Some(row) = store
        .query_opt(
            "SELECT c.status AS credential_status, k.status AS key_status, k.expires_at, \
                    k.bindings_used, k.max_bindings, u.suspended_at IS NOT NULL AS suspended \
             FROM eab_mac_keys k JOIN api_credentials c ON c.id = k.credential_id \
             JOIN customers u ON u.id = c.customer_id \
             WHERE k.kid = $1",
            &[&kid],
        )
        .await?
    else {
        return Ok(BindingRefusal::UnknownKid);
    };
    let credential: &str = at(&row, 0, "credential_status")?;
    let key: &str = at(&row, 1, "key_status")?;
    let expires_at: i64 = at(&row, 2, "expires_at")?;
    let used: i64 = at(&row, 3, "bindings_used")?;
    let max: i64 = at(&row, 4, "max_bindings")?;
    let suspended: bool = at(&row, 5, "suspended")?;
    binding_refusal(
        kid,
        (suspended, credential, key),
        (expires_at, used, max),
        now,
    )
}

fn count(row: &Row, index: usize, column: &str) -> Result<u32, StoreError> {
    let v: i64 = at(row, index, column)?;
    u32::try_from(v)
        .map_err(|_| StoreError::Corrupt(format!("eab_mac_keys.{column}: {v} out of range")))
}

fn decode(row: &Row) -> Result<MacKey, StoreError> {
    let status: &str = at(row, 7, "status")?;
    Ok(MacKey {
        kid: at(row, 0, "kid")?,
        credential_id: at(row, 1, "credential_id")?,
        sealed_key: at(row, 2, "sealed_key")?,
        created_at: from_micros(at(row, 3, "created_at")?, "eab_mac_keys.created_at")?,
        expires_at: from_micros(at(row, 4, "expires_at")?, "eab_mac_keys.expires_at")?,
        max_bindings: count(row, 5, "max_bindings")?,
        bindings_used: count(row, 6, "bindings_used")?,
        status: parse_wire(status, "eab_mac_keys.status", CredentialStatus::parse)?,
    })
}
