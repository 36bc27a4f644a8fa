//! Orders (RFC 8555 §7.1.3, §7.4) with their authorizations and challenges (§7.1.4, §7.1.5):
//! creation in one statement, reading in one statement, listing, and the compare-and-sets of
//! finalize and deactivation.

use ferrite_core::model::{Authorization, Order};
use ferrite_core::{OrderChecks, OrderInsert, StoreError};
use ferrite_proto::{AuthorizationStatus, OrderStatus, Problem};
use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::authorizations::{authorization_columns, fold};
use super::{PostgresStore, at, db_error, int};
use crate::codec::{
    from_json, from_json_opt, from_micros, from_micros_opt, identifier_type_str, micros,
    parse_wire, to_json,
};

// RFC 8555 §7.4: the order and every authorization (with its challenges) it creates appear
// together or not at all. One statement: the new rows are bound as arrays and inserted by
// sibling CTEs; foreign keys are checked at the end of the statement, when all of them exist,
// and any violation (a taken id) undoes the whole statement.
const INSERT_SQL: &str = "WITH new_authorizations AS ( \
       INSERT INTO authorizations (id, account_id, identifier_type, identifier_value, wildcard, \
         status, expires) \
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bool[], \
         $6::text[], $7::bigint[])), \
     new_challenges AS ( \
       INSERT INTO challenges (id, authorization_id, position, kind, token, status, validated, \
         error, record, lease_until) \
       SELECT * FROM unnest($8::text[], $9::text[], $10::bigint[], $11::text[], $12::text[], \
         $13::text[], $14::bigint[], $15::text[], $16::text[], $17::bigint[])), \
     new_order AS ( \
       INSERT INTO orders (id, account_id, status, identifiers, expires, not_before, not_after, \
         error, certificate_serial, created_at, profile, replaces) \
       VALUES ($18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $29, $30)) \
     INSERT INTO order_authorizations (order_id, position, authorization_id) \
     SELECT $18, n - 1, authorization_id FROM unnest($28::text[]) WITH ORDINALITY AS t(authorization_id, n)";

/// The pending authorizations of an account unexpired at a time, and the earliest expiry
/// (`pending_authorizations_per_account`).
pub(crate) const PENDING_SQL: &str = "SELECT count(*) AS pending, min(expires) AS earliest \
     FROM authorizations WHERE account_id = $1 AND status = 'pending' AND expires > $2";

// Without checks: the one statement. With checks: one transaction that first takes the locks
// the checks need — the account's row for its pending authorizations (`FOR NO KEY UPDATE`:
// concurrent orders of one account, on any instance, queue there, while inserts that only
// reference the account, its certificates and authorizations, do not wait), then the replaced
// certificate's row for RFC 9773 §5 (one live replacement) — so that each check, a statement
// started after the previous holder committed, sees the orders inserted before it. Nothing
// else locks a certificate row and then an account row, so the two never deadlock. Last, the
// new order's rate limit step (its row stays locked to the commit): a refused order rolls
// back and spends nothing, an inserted one has spent. Rate limit rows are locked after any
// account or certificate row, by one row per transaction here and in key order by
// `complete_order`; housekeeping's purge skips rows another transaction holds.
pub(crate) async fn insert(
    store: &PostgresStore,
    order: &Order,
    new_authorizations: &[Authorization],
    checks: OrderChecks,
) -> Result<OrderInsert, StoreError> {
    let columns = InsertColumns::of(order, new_authorizations)?;
    if checks == OrderChecks::default() {
        store.execute(INSERT_SQL, &columns.params(order)).await?;
        return Ok(OrderInsert::Inserted);
    }
    let mut conn = store.conn().await?;
    let tx = conn.transaction().await.map_err(db_error)?;
    if let Some((max, now)) = checks.max_pending {
        let lock = tx
            .prepare_cached("SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE")
            .await
            .map_err(db_error)?;
        tx.query_opt(&lock, &[&order.account_id])
            .await
            .map_err(db_error)?;
        let count = tx.prepare_cached(PENDING_SQL).await.map_err(db_error)?;
        let row = tx
            .query_one(&count, &[&order.account_id, &micros(now)])
            .await
            .map_err(db_error)?;
        let pending = u64::try_from(at::<i64>(&row, 0, "pending")?).unwrap_or(0);
        let earliest = from_micros_opt(at(&row, 1, "earliest")?, "authorizations.expires")?;
        let adding = new_authorizations
            .iter()
            .filter(|a| a.status == AuthorizationStatus::Pending)
            .count() as u64;
        if pending + adding > max {
            // Nothing was written; dropping the transaction rolls it back.
            return Ok(OrderInsert::TooManyPending { pending, earliest });
        }
    }
    if let Some(now) = checks.replacement_at {
        let serial = order
            .replaces
            .as_deref()
            .and_then(|id| ferrite_core::ca::ari::CertId::parse(id).ok())
            .map(|id| id.serial_hex);
        let lock = tx
            .prepare_cached("SELECT 1 FROM certificates WHERE serial = $1 FOR UPDATE")
            .await
            .map_err(db_error)?;
        tx.query_opt(&lock, &[&serial]).await.map_err(db_error)?;
        let live = tx
            .prepare_cached(LIVE_REPLACEMENT_SQL)
            .await
            .map_err(db_error)?;
        let taken: bool = tx
            .query_one(&live, &[&order.replaces, &micros(now)])
            .await
            .map_err(db_error)?
            .try_get(0)
            .map_err(db_error)?;
        if taken {
            return Ok(OrderInsert::AlreadyReplaced);
        }
    }
    if let Some(step) = &checks.spend
        && let Err(tat) = super::rate_limits::spend_on(&tx, step).await?
    {
        return Ok(OrderInsert::RateLimited { tat });
    }
    let insert = tx.prepare_cached(INSERT_SQL).await.map_err(db_error)?;
    tx.execute(&insert, &columns.params(order))
        .await
        .map_err(db_error)?;
    tx.commit().await.map_err(db_error)?;
    Ok(OrderInsert::Inserted)
}

/// The parameters of [`INSERT_SQL`] that are computed from the order and its new
/// authorizations.
struct InsertColumns {
    a: AuthorizationColumns,
    c: ChallengeColumns,
    identifiers: String,
    error: Option<String>,
    expires: i64,
    not_before: Option<i64>,
    not_after: Option<i64>,
    created_at: i64,
    status: &'static str,
}

impl InsertColumns {
    fn of(order: &Order, new_authorizations: &[Authorization]) -> Result<Self, StoreError> {
        Ok(Self {
            a: AuthorizationColumns::of(new_authorizations),
            c: ChallengeColumns::of(new_authorizations)?,
            identifiers: to_json(&order.identifiers, "identifiers")?,
            error: order
                .error
                .as_ref()
                .map(|p| to_json(p, "error"))
                .transpose()?,
            expires: micros(order.expires),
            not_before: order.not_before.map(micros),
            not_after: order.not_after.map(micros),
            created_at: micros(order.created_at),
            status: order.status.as_str(),
        })
    }

    /// `$1` to `$30` of [`INSERT_SQL`].
    fn params<'a>(&'a self, order: &'a Order) -> [&'a (dyn ToSql + Sync); 30] {
        let (a, c) = (&self.a, &self.c);
        [
            &a.id,
            &a.account_id,
            &a.identifier_type,
            &a.identifier_value,
            &a.wildcard,
            &a.status,
            &a.expires,
            &c.id,
            &c.authorization_id,
            &c.position,
            &c.kind,
            &c.token,
            &c.status,
            &c.validated,
            &c.error,
            &c.record,
            &c.lease_until,
            &order.id,
            &order.account_id,
            &self.status,
            &self.identifiers,
            &self.expires,
            &self.not_before,
            &self.not_after,
            &self.error,
            &order.certificate_serial,
            &self.created_at,
            &order.authorization_ids,
            &order.profile,
            &order.replaces,
        ]
    }
}

/// Whether a live order replaces the certificate `$1` at `$2`: `valid` or `processing`, or
/// `pending`, unexpired and with no failed or deactivated authorization.
const LIVE_REPLACEMENT_SQL: &str = "SELECT EXISTS (SELECT 1 FROM orders o \
     WHERE o.replaces = $1 AND (o.status IN ('valid', 'processing') \
       OR (o.status = 'pending' AND o.expires > $2 \
           AND NOT EXISTS (SELECT 1 FROM order_authorizations oa \
               JOIN authorizations a ON a.id = oa.authorization_id \
               WHERE oa.order_id = o.id AND a.status IN ('invalid', 'deactivated'))))) AS live";

/// New authorizations as one array per column.
#[derive(Default)]
struct AuthorizationColumns {
    id: Vec<String>,
    account_id: Vec<String>,
    identifier_type: Vec<String>,
    identifier_value: Vec<String>,
    wildcard: Vec<bool>,
    status: Vec<&'static str>,
    expires: Vec<i64>,
}

impl AuthorizationColumns {
    fn of(authorizations: &[Authorization]) -> Self {
        let mut c = Self::default();
        for a in authorizations {
            c.id.push(a.id.clone());
            c.account_id.push(a.account_id.clone());
            c.identifier_type
                .push(identifier_type_str(&a.identifier.kind).to_owned());
            c.identifier_value.push(a.identifier.value.clone());
            c.wildcard.push(a.wildcard);
            c.status.push(a.status.as_str());
            c.expires.push(micros(a.expires));
        }
        c
    }
}

/// The challenges of new authorizations as one array per column, each under the
/// authorization it is listed in (whatever its `authorization_id` field says), at its position.
#[derive(Default)]
struct ChallengeColumns {
    id: Vec<String>,
    authorization_id: Vec<String>,
    position: Vec<i64>,
    kind: Vec<&'static str>,
    token: Vec<String>,
    status: Vec<&'static str>,
    validated: Vec<Option<i64>>,
    error: Vec<Option<String>>,
    record: Vec<Option<String>>,
    lease_until: Vec<Option<i64>>,
}

impl ChallengeColumns {
    fn of(authorizations: &[Authorization]) -> Result<Self, StoreError> {
        let mut c = Self::default();
        for a in authorizations {
            for (position, ch) in a.challenges.iter().enumerate() {
                c.id.push(ch.id.clone());
                c.authorization_id.push(a.id.clone());
                c.position.push(int(position));
                c.kind.push(ch.kind.as_str());
                c.token.push(ch.token.clone());
                c.status.push(ch.status.as_str());
                c.validated.push(ch.validated.map(micros));
                c.error
                    .push(ch.error.as_ref().map(|p| to_json(p, "error")).transpose()?);
                c.record.push(
                    ch.record
                        .as_ref()
                        .map(|r| to_json(r, "record"))
                        .transpose()?,
                );
                c.lease_until.push(ch.lease_until.map(micros));
            }
        }
        Ok(c)
    }
}

/// The order columns (`o.`) with its authorization ids in order, columns 0 to 12.
macro_rules! order_columns {
    () => {
        "o.id, o.account_id, o.status, o.identifiers, o.expires, o.not_before, o.not_after, \
         o.error, o.certificate_serial, o.created_at, \
         ARRAY(SELECT authorization_id FROM order_authorizations \
               WHERE order_id = o.id ORDER BY position) AS authorization_ids, \
         o.profile, o.replaces"
    };
}

/// Where the authorization columns start in a row of [`WITH_AUTHORIZATIONS_SQL`].
const AFTER_ORDER: usize = 13;

pub(crate) async fn by_id(store: &PostgresStore, id: &str) -> Result<Option<Order>, StoreError> {
    store
        .query_opt(
            concat!(
                "SELECT ",
                order_columns!(),
                " FROM orders o WHERE o.id = $1"
            ),
            &[&id],
        )
        .await?
        .as_ref()
        .map(decode_order)
        .transpose()
}

/// The order, its authorizations and their challenges in one statement (one snapshot, one
/// round trip): one row per challenge, the order's and the authorization's columns repeated.
const WITH_AUTHORIZATIONS_SQL: &str = concat!(
    "SELECT ",
    order_columns!(),
    ", ",
    authorization_columns!(),
    " FROM orders o \
     LEFT JOIN order_authorizations oa ON oa.order_id = o.id \
     LEFT JOIN authorizations a ON a.id = oa.authorization_id \
     LEFT JOIN challenges c ON c.authorization_id = a.id \
     WHERE o.id = $1 ORDER BY oa.position, c.position"
);

pub(crate) async fn with_authorizations(
    store: &PostgresStore,
    id: &str,
) -> Result<Option<(Order, Vec<Authorization>)>, StoreError> {
    let rows = store.query(WITH_AUTHORIZATIONS_SQL, &[&id]).await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let order = decode_order(first)?;
    let mut found = Vec::new();
    for row in &rows {
        fold(&mut found, row, AFTER_ORDER)?;
    }
    Ok(Some((order, found)))
}

// RFC 8555 §7.1.2.1: the orders list, paginated. Newest first by the never-reused `seq`; the
// cursor is the last order id of the previous page. An unknown cursor (or one of another
// account) yields an empty page rather than restarting from the top.
pub(crate) async fn ids_by_account(
    store: &PostgresStore,
    account_id: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<String>, StoreError> {
    let limit = i64::from(limit);
    let rows = match after {
        None => {
            store
                .query(
                    "SELECT id FROM orders WHERE account_id = $1 ORDER BY seq DESC LIMIT $2",
                    &[&account_id, &limit],
                )
                .await?
        }
        Some(cursor) => {
            store
                .query(
                    "SELECT id FROM orders WHERE account_id = $1 AND seq < \
                     (SELECT seq FROM orders WHERE id = $2 AND account_id = $1) \
                     ORDER BY seq DESC LIMIT $3",
                    &[&account_id, &cursor, &limit],
                )
                .await?
        }
    };
    rows.iter().map(|row| at(row, 0, "id")).collect()
}

// The admin API's certificate listing: the profile each certificate's order named.
pub(crate) async fn profiles(
    store: &PostgresStore,
    order_ids: &[String],
) -> Result<Vec<(String, Option<String>)>, StoreError> {
    let rows = store
        .query(
            "SELECT id, profile FROM orders WHERE id = ANY($1)",
            &[&order_ids],
        )
        .await?;
    rows.iter()
        .map(|row| Ok((at(row, 0, "id")?, at(row, 1, "profile")?)))
        .collect()
}

// RFC 8555 §7.4: "processing" once the server has accepted the finalize request, under the
// finalize's lease. The readiness check and the move to `processing` are one statement, so a
// deactivation or an expiry committed before it cannot slip in between; of concurrent callers
// on any instance, the first to update the row wins and the others find it no longer
// `pending`.
pub(crate) async fn begin_finalize(
    store: &PostgresStore,
    order_id: &str,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
) -> Result<bool, StoreError> {
    store
        .execute(
            "UPDATE orders SET status = 'processing', finalize_lease_until = $3 \
             WHERE id = $1 AND status = 'pending' AND expires > $2 \
             AND NOT EXISTS (SELECT 1 FROM order_authorizations oa \
                 JOIN authorizations a ON a.id = oa.authorization_id \
                 WHERE oa.order_id = orders.id \
                 AND (a.status <> 'valid' OR a.expires <= $2))",
            &[&order_id, &micros(now), &micros(lease_until)],
        )
        .await
        .map(|n| n == 1)
}

// RFC 8555 §7.1.6: an order becomes "invalid" when an error occurs while it is processing; only
// the finalize holding the lease may say so.
pub(crate) async fn fail_finalize(
    store: &PostgresStore,
    order_id: &str,
    lease_until: OffsetDateTime,
    error: &Problem,
) -> Result<(), StoreError> {
    let error = to_json(error, "error")?;
    let changed = store
        .execute(
            "UPDATE orders SET status = 'invalid', error = $1, finalize_lease_until = NULL \
             WHERE id = $2 AND status = 'processing' AND finalize_lease_until = $3",
            &[&error, &order_id, &micros(lease_until)],
        )
        .await?;
    if changed == 0 {
        tracing::debug!(
            order_id,
            "fail_finalize ignored: the order is no longer processing under this lease"
        );
    }
    Ok(())
}

// An order left `processing` by a finalize whose lease expired goes back to `pending`: its
// instance died before recording a certificate (recording makes the order `valid` in the same
// statement), so there is none, and the client may finalize again. An order without a lease
// was moved to `processing` by a Ferrite that recorded none, and is handed back too.
pub(crate) async fn reap_stale_finalizations(
    store: &PostgresStore,
    now: OffsetDateTime,
) -> Result<u64, StoreError> {
    store
        .execute(
            "UPDATE orders SET status = 'pending', finalize_lease_until = NULL \
             WHERE status = 'processing' \
             AND (finalize_lease_until IS NULL OR finalize_lease_until < $1)",
            &[&micros(now)],
        )
        .await
}

fn decode_order(row: &Row) -> Result<Order, StoreError> {
    let status: &str = at(row, 2, "status")?;
    let identifiers: &str = at(row, 3, "identifiers")?;
    let error: Option<&str> = at(row, 7, "error")?;
    Ok(Order {
        id: at(row, 0, "id")?,
        account_id: at(row, 1, "account_id")?,
        status: parse_wire(status, "orders.status", OrderStatus::parse)?,
        identifiers: from_json(identifiers, "orders.identifiers")?,
        authorization_ids: at(row, 10, "authorization_ids")?,
        expires: from_micros(at(row, 4, "expires")?, "orders.expires")?,
        not_before: from_micros_opt(at(row, 5, "not_before")?, "orders.not_before")?,
        not_after: from_micros_opt(at(row, 6, "not_after")?, "orders.not_after")?,
        error: from_json_opt(error, "orders.error")?,
        certificate_serial: at(row, 8, "certificate_serial")?,
        created_at: from_micros(at(row, 9, "created_at")?, "orders.created_at")?,
        profile: at(row, 11, "profile")?,
        replaces: at(row, 12, "replaces")?,
    })
}
