//! Issued certificates, revocation (RFC 8555 §7.6) and the CRL number (RFC 5280 §5.2.3).

use ferrite_core::StoreError;
use ferrite_core::model::Certificate;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

use crate::codec::{from_json, from_micros, micros, to_json};
use crate::error::db_error;
use crate::open::SqliteStore;

// RFC 8555 §7.4: once the certificate is issued the order is "valid" and points to it. Both in
// one transaction, and only from "processing" (the state `begin_finalize` granted): if the
// order left it, nothing is written and the caller gets `Conflict`.
pub(crate) async fn complete_order(
    store: &SqliteStore,
    order_id: &str,
    cert: &Certificate,
) -> Result<(), StoreError> {
    let mut tx = store.begin_write().await?;
    sqlx::query(
        "INSERT INTO certificates (serial, account_id, order_id, der, chain_pem, dns_names, \
         not_before, not_after, revoked_at, revocation_reason) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&cert.serial)
    .bind(&cert.account_id)
    .bind(order_id)
    .bind(cert.der.as_slice())
    .bind(&cert.chain_pem)
    .bind(to_json(&cert.dns_names, "dns_names")?)
    .bind(micros(cert.not_before))
    .bind(micros(cert.not_after))
    .bind(cert.revoked.map(|(at, _)| micros(at)))
    .bind(cert.revoked.map(|(_, reason)| i64::from(reason)))
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    let done = sqlx::query(
        "UPDATE orders SET status = 'valid', certificate_serial = ? \
         WHERE id = ? AND status = 'processing'",
    )
    .bind(&cert.serial)
    .bind(order_id)
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    if done.rows_affected() != 1 {
        tx.rollback().await.map_err(db_error)?;
        return Err(StoreError::Conflict(format!(
            "order {order_id:?} is not processing; certificate {} not recorded",
            cert.serial
        )));
    }
    tx.commit().await.map_err(db_error)?;
    Ok(())
}

pub(crate) async fn by_serial(
    store: &SqliteStore,
    serial: &str,
) -> Result<Option<Certificate>, StoreError> {
    let row = sqlx::query(
        "SELECT serial, account_id, order_id, der, chain_pem, dns_names, not_before, not_after, \
         revoked_at, revocation_reason FROM certificates WHERE serial = ?",
    )
    .bind(serial)
    .fetch_optional(&store.pool)
    .await
    .map_err(db_error)?;
    row.as_ref().map(decode).transpose()
}

// RFC 8555 §7.6: a certificate already revoked is refused with "alreadyRevoked"; the
// compare-and-set tells the caller which case it is in, atomically.
pub(crate) async fn revoke(
    store: &SqliteStore,
    serial: &str,
    at: OffsetDateTime,
    reason: u8,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE certificates SET revoked_at = ?, revocation_reason = ? \
         WHERE serial = ? AND revoked_at IS NULL",
    )
    .bind(micros(at))
    .bind(i64::from(reason))
    .bind(serial)
    .execute(&store.pool)
    .await
    .map_err(db_error)?;
    Ok(done.rows_affected() == 1)
}

// RFC 5280 §3.3: a CRL lists revoked certificates until they expire. `notAfter` is inclusive
// (RFC 5280 §4.1.2.5), so a certificate whose notAfter is `now` is still listed.
pub(crate) async fn revoked(
    store: &SqliteStore,
    now: OffsetDateTime,
) -> Result<Vec<(String, OffsetDateTime, u8)>, StoreError> {
    let rows = sqlx::query(
        "SELECT serial, revoked_at, revocation_reason FROM certificates \
         WHERE revoked_at IS NOT NULL AND not_after >= ? ORDER BY revoked_at, serial",
    )
    .bind(micros(now))
    .fetch_all(&store.pool)
    .await
    .map_err(db_error)?;
    rows.iter()
        .map(|row| {
            let at: i64 = row.try_get("revoked_at").map_err(db_error)?;
            let reason: i64 = row.try_get("revocation_reason").map_err(db_error)?;
            Ok((
                row.try_get("serial").map_err(db_error)?,
                from_micros(at, "certificates.revoked_at")?,
                reason_code(reason)?,
            ))
        })
        .collect()
}

// RFC 5280 §5.2.3: "CRL issuers conforming to this profile MUST include this extension in all
// CRLs and MUST use a monotonically increasing sequence number". One UPDATE ... RETURNING: two
// instances can never get the same number.
pub(crate) async fn next_crl_number(store: &SqliteStore) -> Result<u64, StoreError> {
    let n: i64 =
        sqlx::query_scalar("UPDATE crl_number SET value = value + 1 WHERE id = 1 RETURNING value")
            .fetch_one(&store.pool)
            .await
            .map_err(db_error)?;
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("crl_number.value is {n}")))
}

fn reason_code(reason: i64) -> Result<u8, StoreError> {
    u8::try_from(reason)
        .map_err(|_| StoreError::Corrupt(format!("certificates.revocation_reason is {reason}")))
}

fn decode(row: &SqliteRow) -> Result<Certificate, StoreError> {
    let dns_names: String = row.try_get("dns_names").map_err(db_error)?;
    let revoked_at: Option<i64> = row.try_get("revoked_at").map_err(db_error)?;
    let reason: Option<i64> = row.try_get("revocation_reason").map_err(db_error)?;
    let revoked = match (revoked_at, reason) {
        (Some(at), Some(reason)) => Some((
            from_micros(at, "certificates.revoked_at")?,
            reason_code(reason)?,
        )),
        (None, None) => None,
        _ => {
            return Err(StoreError::Corrupt(
                "certificates: revoked_at and revocation_reason disagree".to_owned(),
            ));
        }
    };
    Ok(Certificate {
        serial: row.try_get("serial").map_err(db_error)?,
        account_id: row.try_get("account_id").map_err(db_error)?,
        order_id: row.try_get("order_id").map_err(db_error)?,
        der: row.try_get("der").map_err(db_error)?,
        chain_pem: row.try_get("chain_pem").map_err(db_error)?,
        dns_names: from_json(&dns_names, "certificates.dns_names")?,
        not_before: from_micros(
            row.try_get("not_before").map_err(db_error)?,
            "certificates.not_before",
        )?,
        not_after: from_micros(
            row.try_get("not_after").map_err(db_error)?,
            "certificates.not_after",
        )?,
        revoked,
    })
}
