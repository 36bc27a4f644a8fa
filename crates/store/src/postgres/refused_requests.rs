//! The support trail (`refused_requests`) on PostgreSQL: as the SQLite module, a batch written
//! in one statement (`UNNEST` of the batch's columns).

use ferrite_core::StoreError;
use ferrite_core::model::RefusedRequest;
use time::OffsetDateTime;
use tokio_postgres::Row;

use super::{PostgresStore, at};
use crate::codec::{from_micros, micros};

pub(crate) async fn record(
    store: &PostgresStore,
    refused: &[RefusedRequest],
) -> Result<(), StoreError> {
    if refused.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = refused.iter().map(|r| r.request_id.as_str()).collect();
    let ats: Vec<i64> = refused.iter().map(|r| micros(r.at)).collect();
    let listeners: Vec<&str> = refused.iter().map(|r| r.listener.as_str()).collect();
    let methods: Vec<&str> = refused.iter().map(|r| r.method.as_str()).collect();
    let paths: Vec<&str> = refused.iter().map(|r| r.path.as_str()).collect();
    let statuses: Vec<i64> = refused.iter().map(|r| i64::from(r.status)).collect();
    let problems: Vec<&str> = refused.iter().map(|r| r.problem.as_str()).collect();
    let details: Vec<&str> = refused.iter().map(|r| r.detail.as_str()).collect();
    let accounts: Vec<Option<&str>> = refused.iter().map(|r| r.account_id.as_deref()).collect();
    let customers: Vec<Option<&str>> = refused.iter().map(|r| r.customer_id.as_deref()).collect();
    let clients: Vec<Option<&str>> = refused.iter().map(|r| r.client.as_deref()).collect();
    store
        .execute(
            "INSERT INTO refused_requests (request_id, at, listener, method, path, status, \
               problem, detail, account_id, customer_id, client) \
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], \
               $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[]) \
             ON CONFLICT (request_id) DO NOTHING",
            &[
                &ids, &ats, &listeners, &methods, &paths, &statuses, &problems, &details,
                &accounts, &customers, &clients,
            ],
        )
        .await
        .map(|_| ())
}

pub(crate) async fn get(
    store: &PostgresStore,
    request_id: &str,
) -> Result<Option<RefusedRequest>, StoreError> {
    store
        .query_opt(
            "SELECT request_id, at, listener, method, path, status, problem, detail, \
               account_id, customer_id, client \
             FROM refused_requests WHERE request_id = $1",
            &[&request_id],
        )
        .await?
        .map(|row| decode(&row))
        .transpose()
}

pub(crate) async fn purge(
    store: &PostgresStore,
    before: OffsetDateTime,
) -> Result<u64, StoreError> {
    store
        .execute(
            "DELETE FROM refused_requests WHERE at < $1",
            &[&micros(before)],
        )
        .await
}

fn decode(row: &Row) -> Result<RefusedRequest, StoreError> {
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
