//! Issued certificates, revocation (RFC 8555 §7.6) and the CRL number (RFC 5280 §5.2.3).

use ferrite_core::model::{
    BlockedKey, Certificate, CertificateFilter, CertificateQuery, CrlScope, RenewalAdvance,
};
use ferrite_core::{RateStep, StoreError};
use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{PostgresStore, at, db_error};
use crate::certificates::{crl_columns, crl_scope};
use crate::codec::{from_json, from_micros, micros, reason_code, revocation, to_json};

/// The columns [`decode`] reads, in its order.
macro_rules! columns {
    () => {
        "serial, account_id, order_id, der, chain_pem, dns_names, not_before, not_after, \
         revoked_at, revocation_reason, renewal_advanced_at, renewal_explanation_url, issuer_id, \
         crl_shard, precertificate"
    };
}

// RFC 8555 §7.4: once the certificate is issued the order is "valid" and points to it. One
// statement (in one transaction with the issuance's rate limit counts, when it has any), and
// only from "processing" under the lease `begin_finalize` granted: if the order left it (or
// housekeeping handed it to another finalize), nothing is written and the caller gets
// `Conflict`; a serial already stored (the primary key) fails the whole statement, order
// included.
pub(crate) async fn complete_order(
    store: &PostgresStore,
    order_id: &str,
    cert: &Certificate,
    lease_until: OffsetDateTime,
    counts: &[RateStep],
) -> Result<(), StoreError> {
    let dns_names = to_json(&cert.dns_names, "dns_names")?;
    let (not_before, not_after) = (micros(cert.not_before), micros(cert.not_after));
    let revoked_at = cert.revoked.map(|(at, _)| micros(at));
    let reason = cert.revoked.map(|(_, reason)| i64::from(reason));
    let advanced_at = cert.renewal_advanced.as_ref().map(|a| micros(a.at));
    let explanation_url = cert
        .renewal_advanced
        .as_ref()
        .and_then(|a| a.explanation_url.as_deref());
    let spki_sha256 = crate::certificates::spki_sha256(cert);
    let (issuer_id, crl_shard) = crl_columns(&cert.crl);
    let lease = micros(lease_until);
    let params: [&(dyn ToSql + Sync); 17] = [
        &cert.serial,
        &order_id,
        &cert.account_id,
        &cert.der,
        &cert.chain_pem,
        &dns_names,
        &not_before,
        &not_after,
        &revoked_at,
        &reason,
        &lease,
        &advanced_at,
        &explanation_url,
        &spki_sha256,
        &issuer_id,
        &crl_shard,
        &cert.precertificate,
    ];
    let done = if counts.is_empty() {
        store.execute(COMPLETE_SQL, &params).await?
    } else {
        let mut conn = store.conn().await?;
        let tx = conn.transaction().await.map_err(db_error)?;
        let complete = tx.prepare_cached(COMPLETE_SQL).await.map_err(db_error)?;
        let done = tx.execute(&complete, &params).await.map_err(db_error)?;
        if done == 1 {
            // In key order, so two completions counting the same rows lock them in one order.
            let mut steps: Vec<&RateStep> = counts.iter().collect();
            steps.sort_by(|a, b| a.key.cmp(&b.key));
            for step in steps {
                // Spent if the allowance has room; a full one stays as it is.
                let _spent_or_full = super::rate_limits::spend_on(&tx, step).await?;
            }
            tx.commit().await.map_err(db_error)?;
        }
        done
    };
    if done != 1 {
        return Err(StoreError::Conflict(format!(
            "order {order_id:?} is not processing under this finalize's lease; certificate {} not recorded",
            cert.serial
        )));
    }
    Ok(())
}

/// Completes an order: `$1` serial, `$2` order id, `$11` the finalize's lease, the other
/// parameters the certificate's columns.
const COMPLETE_SQL: &str = "WITH completed AS ( \
       UPDATE orders SET status = 'valid', certificate_serial = $1, finalize_lease_until = NULL \
       WHERE id = $2 AND status = 'processing' AND finalize_lease_until = $11 \
       RETURNING id) \
     INSERT INTO certificates (serial, account_id, order_id, der, chain_pem, dns_names, \
       not_before, not_after, revoked_at, revocation_reason, renewal_advanced_at, \
       renewal_explanation_url, spki_sha256, issuer_id, crl_shard, precertificate) \
     SELECT $1, $3, id, $4, $5, $6, $7, $8, $9, $10, $12, $13, $14, $15, $16, $17 \
     FROM completed";

pub(crate) async fn by_serial(
    store: &PostgresStore,
    serial: &str,
) -> Result<Option<Certificate>, StoreError> {
    store
        .query_opt(
            concat!(
                "SELECT ",
                columns!(),
                " FROM certificates WHERE serial = $1"
            ),
            &[&serial],
        )
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

// `ferrite ari advance`: the unexpired certificates of one serial, customer or DNS name.
pub(crate) async fn matching(
    store: &PostgresStore,
    filter: &CertificateFilter,
    now: OffsetDateTime,
    limit: u32,
) -> Result<Vec<Certificate>, StoreError> {
    let (sql, key) = match filter {
        CertificateFilter::Serial(serial) => (
            concat!(
                "SELECT ",
                columns!(),
                " FROM certificates WHERE serial = $1 AND not_after >= $2 \
                 ORDER BY not_before, serial LIMIT $3"
            ),
            serial,
        ),
        CertificateFilter::Customer(customer) => (
            concat!(
                "SELECT ",
                columns!(),
                " FROM certificates WHERE account_id IN \
                 (SELECT id FROM accounts WHERE customer_id = $1) AND not_after >= $2 \
                 ORDER BY not_before, serial LIMIT $3"
            ),
            customer,
        ),
        CertificateFilter::Domain(name) => (
            concat!(
                "SELECT ",
                columns!(),
                " FROM certificates WHERE not_after >= $2 AND dns_names::jsonb ? $1 \
                 ORDER BY not_before, serial LIMIT $3"
            ),
            name,
        ),
    };
    let rows = store
        .query(sql, &[key, &micros(now), &i64::from(limit)])
        .await?;
    rows.iter().map(decode).collect()
}

// `ferrite cert list | revoke`: one page of the certificates a query selects, after a serial.
// One statement for every query (each condition is skipped when its parameter is NULL), walked
// in primary-key order.
pub(crate) async fn page(
    store: &PostgresStore,
    query: &CertificateQuery,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<Certificate>, StoreError> {
    let rows = store
        .query(
            concat!(
                "SELECT ",
                columns!(),
                " FROM certificates WHERE serial > $1 \
                 AND ($2::text IS NULL OR serial = $2) \
                 AND ($3::text IS NULL OR account_id IN \
                   (SELECT id FROM accounts WHERE customer_id = $3)) \
                 AND ($4::text IS NULL OR dns_names::jsonb ? $4) \
                 AND ($5::text IS NULL OR spki_sha256 = $5 OR spki_sha256 IS NULL) \
                 AND ($6::bigint IS NULL OR not_before >= $6) \
                 AND ($7::bigint IS NULL OR not_before < $7) \
                 AND ($8::bigint IS NULL OR not_after >= $8) \
                 AND ($9::bigint IS NULL OR not_after <= $9) \
                 AND ($11::text IS NULL OR EXISTS (SELECT 1 FROM \
                   jsonb_array_elements_text(dns_names::jsonb) AS n(name) \
                   WHERE right(n.name, length($11)) = $11)) \
                 AND ($12::boolean IS NULL OR (revoked_at IS NOT NULL) = $12) \
                 ORDER BY serial LIMIT $10"
            ),
            &[
                &after.unwrap_or(""),
                &query.serial,
                &query.customer_id,
                &query.domain,
                &query.spki_sha256,
                &query.issued_from.map(micros),
                &query.issued_before.map(micros),
                &query.not_after_from.map(micros),
                &query.not_after_until.map(micros),
                &i64::from(limit),
                &query.domain_suffix,
                &query.revoked,
            ],
        )
        .await?;
    rows.iter().map(decode).collect()
}

// RFC 5280 keyCompromise: the revocation's compare-and-set, the CRL generation and the key's
// block in one statement, so a crash never leaves one without the other.
pub(crate) async fn revoke_blocking_key(
    store: &PostgresStore,
    serial: &str,
    at: OffsetDateTime,
    reason: u8,
    block: &BlockedKey,
) -> Result<bool, StoreError> {
    let row = store
        .query_opt(
            "WITH revoked AS ( \
               UPDATE certificates SET revoked_at = $1, revocation_reason = $2 \
               WHERE serial = $3 AND revoked_at IS NULL \
               RETURNING serial, issuer_id, crl_shard), \
             bumped AS ( \
               INSERT INTO crl_shards (issuer_id, shard, generation) \
               SELECT coalesce(issuer_id, ''), coalesce(crl_shard, -1), 1 FROM revoked \
               ON CONFLICT (issuer_id, shard) \
               DO UPDATE SET generation = crl_shards.generation + 1), \
             blocked AS ( \
               INSERT INTO blocked_keys (spki_sha256, blocked_at, reason, serial) \
               VALUES ($4, $5, $6, $7) ON CONFLICT (spki_sha256) DO NOTHING) \
             SELECT count(*) FROM revoked",
            &[
                &micros(at),
                &i64::from(reason),
                &serial,
                &block.spki_sha256,
                &micros(block.blocked_at),
                &block.reason,
                &block.serial,
            ],
        )
        .await?
        .ok_or_else(|| StoreError::Corrupt("the revocation returned no row".to_owned()))?;
    let revoked: i64 = super::at(&row, 0, "count")?;
    Ok(revoked == 1)
}

// RFC 9773 §4.2: the operator's mark that moves a certificate's renewal window into the past.
// One statement for the whole list.
pub(crate) async fn advance_renewal(
    store: &PostgresStore,
    serials: &[String],
    at: OffsetDateTime,
    explanation_url: Option<&str>,
) -> Result<u64, StoreError> {
    store
        .execute(
            "UPDATE certificates SET renewal_advanced_at = $1, renewal_explanation_url = $2 \
             WHERE serial = ANY($3::text[])",
            &[&micros(at), &explanation_url, &serials],
        )
        .await
}

// RFC 8555 §7.6: a certificate already revoked is refused with "alreadyRevoked"; the
// compare-and-set tells the caller which case it is in, atomically.
pub(crate) async fn revoke(
    store: &PostgresStore,
    serial: &str,
    at: OffsetDateTime,
    reason: u8,
) -> Result<bool, StoreError> {
    // The same statement marks the certificate's CRL out of date (`crl_shards.generation`).
    let row = store
        .query_opt(
            "WITH revoked AS ( \
               UPDATE certificates SET revoked_at = $1, revocation_reason = $2 \
               WHERE serial = $3 AND revoked_at IS NULL \
               RETURNING serial, issuer_id, crl_shard), \
             bumped AS ( \
               INSERT INTO crl_shards (issuer_id, shard, generation) \
               SELECT coalesce(issuer_id, ''), coalesce(crl_shard, -1), 1 FROM revoked \
               ON CONFLICT (issuer_id, shard) \
               DO UPDATE SET generation = crl_shards.generation + 1) \
             SELECT count(*) FROM revoked",
            &[&micros(at), &i64::from(reason), &serial],
        )
        .await?
        .ok_or_else(|| StoreError::Corrupt("the revocation returned no row".to_owned()))?;
    let revoked: i64 = super::at(&row, 0, "count")?;
    Ok(revoked == 1)
}

// RFC 5280 §3.3: a CRL lists revoked certificates until they expire. `notAfter` is inclusive
// (RFC 5280 §4.1.2.5), so a certificate whose notAfter is `now` is still listed.
pub(crate) async fn revoked(
    store: &PostgresStore,
    scope: &CrlScope,
    now: OffsetDateTime,
) -> Result<Vec<(String, OffsetDateTime, u8)>, StoreError> {
    let rows = match crl_columns(scope) {
        (Some(issuer_id), Some(shard)) => {
            store
                .query(
                    "SELECT serial, revoked_at, revocation_reason FROM certificates \
                     WHERE issuer_id = $2 AND crl_shard = $3 \
                       AND revoked_at IS NOT NULL AND not_after >= $1 \
                     ORDER BY revoked_at, serial",
                    &[&micros(now), &issuer_id, &shard],
                )
                .await?
        }
        _ => {
            store
                .query(
                    "SELECT serial, revoked_at, revocation_reason FROM certificates \
                     WHERE issuer_id IS NULL AND crl_shard IS NULL \
                       AND revoked_at IS NOT NULL AND not_after >= $1 \
                     ORDER BY revoked_at, serial",
                    &[&micros(now)],
                )
                .await?
        }
    };
    rows.iter()
        .map(|row| {
            Ok((
                at(row, 0, "serial")?,
                from_micros(at(row, 1, "revoked_at")?, "certificates.revoked_at")?,
                reason_code(at(row, 2, "revocation_reason")?)?,
            ))
        })
        .collect()
}

// RFC 5280 §5.2.3: "CRL issuers conforming to this profile MUST include this extension in all
// CRLs and MUST use a monotonically increasing sequence number". One UPDATE ... RETURNING on
// one row: two instances can never get the same number.
pub(crate) async fn next_crl_number(store: &PostgresStore) -> Result<u64, StoreError> {
    let row = store
        .query_opt(
            "UPDATE crl_number SET value = value + 1 WHERE id = 1 RETURNING value",
            &[],
        )
        .await?
        .ok_or_else(|| StoreError::Corrupt("crl_number has no row".to_owned()))?;
    let n: i64 = at(&row, 0, "value")?;
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("crl_number.value is {n}")))
}

fn decode(row: &Row) -> Result<Certificate, StoreError> {
    let advanced_at: Option<i64> = at(row, 10, "renewal_advanced_at")?;
    let renewal_advanced = advanced_at
        .map(|t| {
            Ok::<_, StoreError>(RenewalAdvance {
                at: from_micros(t, "certificates.renewal_advanced_at")?,
                explanation_url: at(row, 11, "renewal_explanation_url")?,
            })
        })
        .transpose()?;
    let dns_names: &str = at(row, 5, "dns_names")?;
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
        dns_names: from_json(dns_names, "certificates.dns_names")?,
        not_before: from_micros(at(row, 6, "not_before")?, "certificates.not_before")?,
        not_after: from_micros(at(row, 7, "not_after")?, "certificates.not_after")?,
        revoked,
        renewal_advanced,
        crl,
        precertificate: at(row, 14, "precertificate")?,
    })
}
