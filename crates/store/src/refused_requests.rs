//! The support trail (`refused_requests`): requests answered with a problem document, written
//! in batches by the server's support-trail writer, read by `ferrite request show`, purged by
//! housekeeping after their retention.

use ferrite_core::StoreError;
use ferrite_core::model::RefusedRequest;
use rusqlite::{Row, params};
use time::OffsetDateTime;

use crate::codec::{from_micros, micros};
use crate::db::{at, execute, query_opt};
use crate::open::SqliteStore;

pub(crate) async fn record(
    store: &SqliteStore,
    refused: &[RefusedRequest],
) -> Result<(), StoreError> {
    if refused.is_empty() {
        return Ok(());
    }
    let refused = refused.to_vec();
    store
        .db
        .write(move |conn| {
            for r in &refused {
                execute(
                    conn,
                    "INSERT INTO refused_requests (request_id, at, listener, method, path, status, \
                       problem, detail, account_id, customer_id, client) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (request_id) DO NOTHING",
                    params![
                        r.request_id,
                        micros(r.at),
                        r.listener,
                        r.method,
                        r.path,
                        i64::from(r.status),
                        r.problem,
                        r.detail,
                        r.account_id,
                        r.customer_id,
                        r.client,
                    ],
                )?;
            }
            Ok(())
        })
        .await
}

pub(crate) async fn get(
    store: &SqliteStore,
    request_id: &str,
) -> Result<Option<RefusedRequest>, StoreError> {
    store.db.read(|conn| {
        query_opt(
            conn,
            "SELECT request_id, at, listener, method, path, status, problem, detail, \
               account_id, customer_id, client \
             FROM refused_requests WHERE request_id = ?",
            [request_id],
            decode,
        )
    })
}

pub(crate) async fn purge(store: &SqliteStore, before: OffsetDateTime) -> Result<u64, StoreError> {
    store
        .db
        .write(move |conn| {
            execute(
                conn,
                "DELETE FROM refused_requests WHERE at < ?",
                [micros(before)],
            )
            .map(|n| n as u64)
        })
        .await
}

fn decode(row: &Row<'_>) -> Result<RefusedRequest, StoreError> {
    let status: i64 = at(row, 5, "status")?;
    Ok(RefusedRequest {
        request_id: at(row, 0, "request_id")?,
        at: from_micros(at(row, 1, "at")?, "refused_requests.at")?,
        listener: at(row, 2, "listener")?,
        method: at(row, 3, "method")?,
        path: at(row, 4, "path")?,
        status: u16::try_from(status).map_err(|_| {
            StoreError::Corrupt(format!(
                "refused_requests.status {status} is not an HTTP status"
            ))
        })?,
        problem: at(row, 6, "problem")?,
        detail: at(row, 7, "detail")?,
        account_id: at(row, 8, "account_id")?,
        customer_id: at(row, 9, "customer_id")?,
        client: at(row, 10, "client")?,
    })
}
