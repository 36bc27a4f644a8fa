//! EAB MAC keys (RFC 8555 §7.3.4): creation (disabling the credential's previous keys), lookup,
//! listing, and the binding counter that is bumped in the account's own transaction.

use ferrite_core::StoreError;
use ferrite_core::model::{Account, BindingRefusal, CredentialStatus, MacKey, Scope};
use rusqlite::{Connection, Row, params};

use crate::accounts;
use crate::codec::{binding_refusal, from_micros, micros, parse_wire};
use crate::db::{col, execute, query_all, query_opt};
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
/// once": both in one write job, so a credential never has two active keys.
pub(crate) async fn insert(store: &SqliteStore, key: &MacKey) -> Result<(), StoreError> {
    let key = key.clone();
    store
        .db
        .write(move |conn| {
            execute(
                conn,
                "UPDATE eab_mac_keys SET status = 'disabled' \
                 WHERE credential_id = ? AND status = 'active'",
                [&key.credential_id],
            )?;
            execute(
                conn,
                "INSERT INTO eab_mac_keys (kid, credential_id, sealed_key, created_at, \
                 expires_at, max_bindings, bindings_used, status) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                params![
                    key.kid,
                    key.credential_id,
                    key.sealed_key,
                    micros(key.created_at),
                    micros(key.expires_at),
                    i64::from(key.max_bindings),
                    i64::from(key.bindings_used),
                    key.status.as_str(),
                ],
            )
            .map(drop)
        })
        .await
}

/// Disables one key (whatever its state: a disabled key stays disabled).
pub(crate) async fn disable(store: &SqliteStore, kid: &str) -> Result<bool, StoreError> {
    let kid = kid.to_owned();
    store
        .db
        .write(move |conn| {
            execute(
                conn,
                "UPDATE eab_mac_keys SET status = 'disabled' WHERE kid = ?",
                [&kid],
            )
            .map(|n| n == 1)
        })
        .await
}

pub(crate) async fn by_kid(store: &SqliteStore, kid: &str) -> Result<Option<MacKey>, StoreError> {
    store
        .db
        .read(|conn| query_opt(conn, select_key!("WHERE k.kid = ?"), [kid], decode))
}

pub(crate) async fn list(store: &SqliteStore, scope: &Scope) -> Result<Vec<MacKey>, StoreError> {
    let (customer, credential) = match scope {
        Scope::All => (None, None),
        Scope::Customer(id) => (Some(id.as_str()), None),
        Scope::Credential(id) => (None, Some(id.as_str())),
    };
    store.db.read(|conn| {
        query_all(
            conn,
            select_key!(
                "JOIN api_credentials c ON c.id = k.credential_id \
                 WHERE (?1 IS NULL OR c.customer_id = ?1) \
                 AND (?2 IS NULL OR k.credential_id = ?2) ORDER BY k.seq"
            ),
            params![customer, credential],
            decode,
        )
    })
}

/// One write job: a guarded increment that only matches a usable key, then the account
/// insert. Writes are serialized, so among concurrent callers exactly as many increments
/// succeed as bindings remain; a failed insert rolls the increment back (the job's savepoint,
/// or the transaction when the job is alone in its group).
pub(crate) async fn bind(
    store: &SqliteStore,
    account: &Account,
    kid: &str,
    now: time::OffsetDateTime,
) -> Result<Result<(), BindingRefusal>, StoreError> {
    let account = account.clone();
    let kid = kid.to_owned();
    store
        .db
        .write(move |conn| {
            let counted = execute(
                conn,
                "UPDATE eab_mac_keys SET bindings_used = bindings_used + 1 \
                 WHERE kid = ? AND status = 'active' AND expires_at > ? \
                   AND bindings_used < max_bindings \
                   AND EXISTS (SELECT 1 FROM api_credentials c \
                               JOIN customers u ON u.id = c.customer_id \
                               WHERE c.id = eab_mac_keys.credential_id AND c.status = 'active' \
                                 AND u.suspended_at IS NULL)",
                params![kid, micros(now)],
            )?;
            if counted != 1 {
                // Nothing changed: the increment matched no row.
                return why_refused(conn, &kid, now).map(Err);
            }
            // An error here fails the job, which rolls the increment back.
            accounts::insert_in(conn, &account)?;
            Ok(Ok(()))
        })
        .await
}

/// Which rule the guarded increment failed, read in the same transaction. The customer's
/// suspension is named first, then the credential: their fixes (the operator resumes the
/// customer; a new credential) are the ones the customer needs.
fn why_refused(
    conn: &Connection,
    kid: &str,
    now: time::OffsetDateTime,
) -> Result<BindingRefusal, StoreError> {
    let row = query_opt(
        conn,
        "SELECT k.status AS key_status, k.expires_at, k.bindings_used, k.max_bindings, \
                c.status AS credential_status, u.suspended_at IS NOT NULL AS suspended \
         FROM eab_mac_keys k JOIN api_credentials c ON c.id = k.credential_id \
         JOIN customers u ON u.id = c.customer_id WHERE k.kid = ?",
        [kid],
        |row| {
            Ok((
                col::<bool>(row, "suspended")?,
                col::<String>(row, "credential_status")?,
                col::<String>(row, "key_status")?,
                col::<i64>(row, "expires_at")?,
                col::<i64>(row, "bindings_used")?,
                col::<i64>(row, "max_bindings")?,
            ))
        },
    )?;
    let Some((suspended, credential, key, expires_at, used, max)) = row else {
        return Ok(BindingRefusal::UnknownKid);
    };
    binding_refusal(
        kid,
        (suspended, &credential, &key),
        (expires_at, used, max),
        now,
    )
}

fn count(row: &Row<'_>, column: &str) -> Result<u32, StoreError> {
    let v: i64 = col(row, column)?;
    u32::try_from(v)
        .map_err(|_| StoreError::Corrupt(format!("eab_mac_keys.{column}: {v} out of range")))
}

fn decode(row: &Row<'_>) -> Result<MacKey, StoreError> {
    let status: String = col(row, "status")?;
    Ok(MacKey {
        kid: col(row, "kid")?,
        credential_id: col(row, "credential_id")?,
        sealed_key: col(row, "sealed_key")?,
        created_at: from_micros(col(row, "created_at")?, "eab_mac_keys.created_at")?,
        expires_at: from_micros(col(row, "expires_at")?, "eab_mac_keys.expires_at")?,
        max_bindings: count(row, "max_bindings")?,
        bindings_used: count(row, "bindings_used")?,
        status: parse_wire(&status, "eab_mac_keys.status", CredentialStatus::parse)?,
    })
}
