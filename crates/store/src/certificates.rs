//! Issued certificates, revocation (RFC 8555 §7.6) and the CRL number (RFC 5280 §5.2.3).

use ferrite_core::model::{
    BlockedKey, Certificate, CertificateFilter, CertificateQuery, CrlScope, RenewalAdvance,
};
use ferrite_core::{RateStep, StoreError};
use rusqlite::{Connection, Row, params};
use time::OffsetDateTime;

use crate::codec::{from_json, from_micros, micros, reason_code, revocation, to_json};
use crate::db::{at, col, execute, query_all, query_opt};
use crate::open::SqliteStore;

/// The columns [`decode`] reads, in its order.
macro_rules! columns {
    () => {
        "serial, account_id, order_id, der, chain_pem, dns_names, not_before, not_after, \
         revoked_at, revocation_reason, renewal_advanced_at, renewal_explanation_url, issuer_id, \
         crl_shard, precertificate"
    };
}

// RFC 8555 §7.4: once the certificate is issued the order is "valid" and points to it. Both in
// one write job with the issuance's rate limit counts, and only from "processing" under the
// lease `begin_finalize` granted: if the order left it (or housekeeping handed it to another
// finalize), nothing is written and the caller gets `Conflict`.
pub(crate) async fn complete_order(
    store: &SqliteStore,
    order_id: &str,
    cert: &Certificate,
    lease_until: OffsetDateTime,
    counts: &[RateStep],
) -> Result<(), StoreError> {
    let cert = cert.clone();
    let order_id = order_id.to_owned();
    let counts = counts.to_vec();
    store
        .db
        .write(move |conn| {
            insert_in(conn, &order_id, &cert)?;
            let done = execute(
                conn,
                "UPDATE orders SET status = 'valid', certificate_serial = ?, \
                 finalize_lease_until = NULL \
                 WHERE id = ? AND status = 'processing' AND finalize_lease_until = ?",
                params![cert.serial, order_id, micros(lease_until)],
            )?;
            if done != 1 {
                // Failing the job rolls the certificate insert back.
                return Err(StoreError::Conflict(format!(
                    "order {order_id:?} is not processing under this finalize's lease; certificate {} not recorded",
                    cert.serial
                )));
            }
            for step in &counts {
                // Spent if the allowance has room; a full one stays as it is.
                let _spent_or_full = crate::rate_limits::spend_in(conn, step)?;
            }
            Ok(())
        })
        .await
}

/// Inserts a certificate of `order_id` inside the caller's write job.
pub(crate) fn insert_in(
    conn: &Connection,
    order_id: &str,
    cert: &Certificate,
) -> Result<(), StoreError> {
    execute(
        conn,
        "INSERT INTO certificates (serial, account_id, order_id, der, chain_pem, dns_names, \
         not_before, not_after, revoked_at, revocation_reason, renewal_advanced_at, \
         renewal_explanation_url, spki_sha256, issuer_id, crl_shard, precertificate) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params![
            cert.serial,
            cert.account_id,
            order_id,
            cert.der,
            cert.chain_pem,
            to_json(&cert.dns_names, "dns_names")?,
            micros(cert.not_before),
            micros(cert.not_after),
            cert.revoked.map(|(at, _)| micros(at)),
            cert.revoked.map(|(_, reason)| i64::from(reason)),
            cert.renewal_advanced.as_ref().map(|a| micros(a.at)),
            cert.renewal_advanced
                .as_ref()
                .and_then(|a| a.explanation_url.clone()),
            spki_sha256(cert),
            crl_columns(&cert.crl).0,
            crl_columns(&cert.crl).1,
            cert.precertificate,
        ],
    )
    .map(drop)
}

pub(crate) async fn by_serial(
    store: &SqliteStore,
    serial: &str,
) -> Result<Option<Certificate>, StoreError> {
    store.db.read(|conn| {
        query_opt(
            conn,
            concat!("SELECT ", columns!(), " FROM certificates WHERE serial = ?"),
            [serial],
            decode,
        )
    })
}

// `ferrite ari advance`: the unexpired certificates of one serial, customer or DNS name.
pub(crate) async fn matching(
    store: &SqliteStore,
    filter: &CertificateFilter,
    now: OffsetDateTime,
    limit: u32,
) -> Result<Vec<Certificate>, StoreError> {
    let (sql, key) = match filter {
        CertificateFilter::Serial(serial) => (
            concat!(
                "SELECT ",
                columns!(),
                " FROM certificates WHERE serial = ?1 AND not_after >= ?2 \
                 ORDER BY not_before, serial LIMIT ?3"
            ),
            serial,
        ),
        CertificateFilter::Customer(customer) => (
            concat!(
                "SELECT ",
                columns!(),
                " FROM certificates WHERE account_id IN \
                 (SELECT id FROM accounts WHERE customer_id = ?1) AND not_after >= ?2 \
                 ORDER BY not_before, serial LIMIT ?3"
            ),
            customer,
        ),
        CertificateFilter::Domain(name) => (
            concat!(
                "SELECT ",
                columns!(),
                " FROM certificates WHERE not_after >= ?2 \
                 AND EXISTS (SELECT 1 FROM json_each(certificates.dns_names) WHERE value = ?1) \
                 ORDER BY not_before, serial LIMIT ?3"
            ),
            name,
        ),
    };
    store.db.read(|conn| {
        query_all(
            conn,
            sql,
            params![key, micros(now), i64::from(limit)],
            decode,
        )
    })
}

/// The hash of a certificate's key, recorded so that `ferrite cert revoke --key-spki` finds
/// its certificates; `None` for a DER that does not parse (then the caller checks the DER).
pub(crate) fn spki_sha256(cert: &Certificate) -> Option<String> {
    ferrite_core::ca::key_block::certificate_spki_sha256(&cert.der)
}

// `ferrite cert list | revoke` and the admin API's listing: one page of the certificates a
// query selects, after a serial.
// One statement for every query (each condition is skipped when its parameter is NULL), walked
// in primary-key order, so a page costs the rows it passes over and a whole walk the table once.
pub(crate) async fn page(
    store: &SqliteStore,
    query: &CertificateQuery,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<Certificate>, StoreError> {
    store.db.read(|conn| {
        query_all(
            conn,
            concat!(
                "SELECT ",
                columns!(),
                " FROM certificates WHERE serial > ?1 \
                 AND (?2 IS NULL OR serial = ?2) \
                 AND (?3 IS NULL OR account_id IN (SELECT id FROM accounts WHERE customer_id = ?3)) \
                 AND (?4 IS NULL OR EXISTS \
                   (SELECT 1 FROM json_each(certificates.dns_names) WHERE value = ?4)) \
                 AND (?5 IS NULL OR spki_sha256 = ?5 OR spki_sha256 IS NULL) \
                 AND (?6 IS NULL OR not_before >= ?6) \
                 AND (?7 IS NULL OR not_before < ?7) \
                 AND (?8 IS NULL OR not_after >= ?8) \
                 AND (?9 IS NULL OR not_after <= ?9) \
                 AND (?11 IS NULL OR EXISTS (SELECT 1 FROM json_each(certificates.dns_names) \
                   WHERE substr(value, -length(?11)) = ?11)) \
                 AND (?12 IS NULL OR (revoked_at IS NOT NULL) = ?12) \
                 ORDER BY serial LIMIT ?10"
            ),
            params![
                after.unwrap_or(""),
                query.serial,
                query.customer_id,
                query.domain,
                query.spki_sha256,
                query.issued_from.map(micros),
                query.issued_before.map(micros),
                query.not_after_from.map(micros),
                query.not_after_until.map(micros),
                i64::from(limit),
                query.domain_suffix,
                query.revoked,
            ],
            decode,
        )
    })
}

// RFC 5280 keyCompromise: the revocation's compare-and-set and the key's block in one write
// job, so a crash never leaves one without the other.
pub(crate) async fn revoke_blocking_key(
    store: &SqliteStore,
    serial: &str,
    at: OffsetDateTime,
    reason: u8,
    block: &BlockedKey,
) -> Result<bool, StoreError> {
    let serial = serial.to_owned();
    let block = block.clone();
    store
        .db
        .write(move |conn| {
            let revoked = revoke_in(conn, &serial, at, reason)?;
            crate::blocked_keys::insert_in(conn, &block)?;
            Ok(revoked)
        })
        .await
}

// RFC 9773 §4.2: the operator's mark that moves a certificate's renewal window into the past.
pub(crate) async fn advance_renewal(
    store: &SqliteStore,
    serials: &[String],
    at: OffsetDateTime,
    explanation_url: Option<&str>,
) -> Result<u64, StoreError> {
    let serials = serials.to_vec();
    let url = explanation_url.map(str::to_owned);
    store
        .db
        .write(move |conn| {
            let mut marked = 0u64;
            for serial in &serials {
                marked += execute(
                    conn,
                    "UPDATE certificates SET renewal_advanced_at = ?, \
                     renewal_explanation_url = ? WHERE serial = ?",
                    params![micros(at), url, serial],
                )? as u64;
            }
            Ok(marked)
        })
        .await
}

// RFC 8555 §7.6: a certificate already revoked is refused with "alreadyRevoked"; the
// compare-and-set tells the caller which case it is in, atomically.
pub(crate) async fn revoke(
    store: &SqliteStore,
    serial: &str,
    at: OffsetDateTime,
    reason: u8,
) -> Result<bool, StoreError> {
    let serial = serial.to_owned();
    store
        .db
        .write(move |conn| revoke_in(conn, &serial, at, reason))
        .await
}

/// The revocation compare-and-set inside the caller's write job.
fn revoke_in(
    conn: &Connection,
    serial: &str,
    at: OffsetDateTime,
    reason: u8,
) -> Result<bool, StoreError> {
    let revoked = execute(
        conn,
        "UPDATE certificates SET revoked_at = ?, revocation_reason = ? \
         WHERE serial = ? AND revoked_at IS NULL",
        params![micros(at), i64::from(reason), serial],
    )? == 1;
    // The certificate's CRL no longer lists every revocation of its scope (`crl_shards`).
    if revoked {
        execute(
            conn,
            "INSERT INTO crl_shards (issuer_id, shard, generation) \
             SELECT coalesce(issuer_id, ''), coalesce(crl_shard, -1), 1 FROM certificates \
             WHERE serial = ? \
             ON CONFLICT (issuer_id, shard) DO UPDATE SET generation = crl_shards.generation + 1",
            [serial],
        )?;
    }
    Ok(revoked)
}

// RFC 5280 §3.3: a CRL lists revoked certificates until they expire. `notAfter` is inclusive
// (RFC 5280 §4.1.2.5), so a certificate whose notAfter is `now` is still listed.
pub(crate) async fn revoked(
    store: &SqliteStore,
    scope: &CrlScope,
    now: OffsetDateTime,
) -> Result<Vec<(String, OffsetDateTime, u8)>, StoreError> {
    let (issuer_id, shard) = crl_columns(scope);
    store.db.read(|conn| {
        query_all(
            conn,
            "SELECT serial, revoked_at, revocation_reason FROM certificates \
             WHERE issuer_id IS ?2 AND crl_shard IS ?3 \
               AND revoked_at IS NOT NULL AND not_after >= ?1 ORDER BY revoked_at, serial",
            params![micros(now), issuer_id, shard],
            |row| {
                Ok((
                    col(row, "serial")?,
                    from_micros(col(row, "revoked_at")?, "certificates.revoked_at")?,
                    reason_code(col(row, "revocation_reason")?)?,
                ))
            },
        )
    })
}

// RFC 5280 §5.2.3: "CRL issuers conforming to this profile MUST include this extension in all
// CRLs and MUST use a monotonically increasing sequence number". One UPDATE ... RETURNING: two
// instances can never get the same number.
pub(crate) async fn next_crl_number(store: &SqliteStore) -> Result<u64, StoreError> {
    let n: i64 = store
        .db
        .write(|conn| {
            query_opt(
                conn,
                "UPDATE crl_number SET value = value + 1 WHERE id = 1 RETURNING value",
                [],
                |row| col(row, "value"),
            )?
            .ok_or_else(|| StoreError::Corrupt("crl_number has no row".to_owned()))
        })
        .await?;
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("crl_number.value is {n}")))
}

fn decode(row: &Row<'_>) -> Result<Certificate, StoreError> {
    let advanced_at: Option<i64> = at(row, 10, "renewal_advanced_at")?;
    let renewal_advanced = advanced_at
        .map(|t| {
            Ok::<_, StoreError>(RenewalAdvance {
                at: from_micros(t, "certificates.renewal_advanced_at")?,
                explanation_url: at(row, 11, "renewal_explanation_url")?,
            })
        })
        .transpose()?;
    let dns_names: String = at(row, 5, "dns_names")?;
    let revoked_at: Option<i64> = at(row, 8, "revoked_at")?;
    let reason: Option<i64> = at(row, 9, "revocation_reason")?;
    let revoked = revocation(revoked_at, reason)?;
    let crl = crl_scope(at(row, 12, "issuer_id")?, at(row, 13, "crl_shard")?)?;
    Ok(Certificate {
        serial: at(row, 0, "serial")?,
        account_id: at(row, 1, "account_id")?,
        order_id: at(row, 2, "order_id")?,
        der: at(row, 3, "der")?,
        chain_pem: at(row, 4, "chain_pem")?,
        dns_names: from_json(&dns_names, "certificates.dns_names")?,
        not_before: from_micros(at(row, 6, "not_before")?, "certificates.not_before")?,
        not_after: from_micros(at(row, 7, "not_after")?, "certificates.not_after")?,
        revoked,
        renewal_advanced,
        crl,
        precertificate: at(row, 14, "precertificate")?,
    })
}

/// The `issuer_id` and `crl_shard` columns of a certificate listed in `scope` (both NULL
/// for the unsharded CRL).
pub(crate) fn crl_columns(scope: &CrlScope) -> (Option<&str>, Option<i64>) {
    match scope {
        CrlScope::Unsharded => (None, None),
        CrlScope::Shard { issuer_id, shard } => (Some(issuer_id), Some(i64::from(*shard))),
    }
}

/// The scope the `issuer_id` and `crl_shard` columns name.
pub(crate) fn crl_scope(
    issuer_id: Option<String>,
    shard: Option<i64>,
) -> Result<CrlScope, StoreError> {
    match (issuer_id, shard) {
        (None, None) => Ok(CrlScope::Unsharded),
        (Some(issuer_id), Some(shard)) => Ok(CrlScope::Shard {
            issuer_id,
            shard: u32::try_from(shard)
                .map_err(|_| StoreError::Corrupt(format!("certificates.crl_shard is {shard}")))?,
        }),
        (issuer_id, shard) => Err(StoreError::Corrupt(format!(
            "certificates.issuer_id {issuer_id:?} and crl_shard {shard:?}: both or neither"
        ))),
    }
}
