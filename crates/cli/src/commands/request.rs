//! `ferrite request show ID`: a refused request from the support trail — what a customer who
//! quotes a request id (the `X-Request-Id` header, or `requestId` in the problem document)
//! was told and why, with the account and customer it was for. Refused requests are kept for
//! 30 days; a request that succeeded is not kept.

use anyhow::Context;
use serde_json::json;
use time::format_description::well_known::Rfc3339;

use super::{print_json, table};
use ferrite_app::Config;

pub(super) async fn show(config: &Config, id: &str, json: bool) -> anyhow::Result<()> {
    let store = ferrite_app::open_existing_store(config).await?;
    let id = id.trim();
    let refused = store
        .refused_request(id)
        .await
        .map_err(|e| anyhow::anyhow!(e.to_string()))?
        .with_context(|| {
            format!(
                "no refused request with id {id:?} is kept: refused requests are kept for 30 \
                 days, and a request that succeeded is not kept (check the id against the \
                 response's X-Request-Id header)"
            )
        })?;
    // The customer's name, which the operator knows them by (the id is what is stored).
    let customer_name = match &refused.customer_id {
        Some(customer) => store
            .customer(customer)
            .await
            .map_err(|e| anyhow::anyhow!(e.to_string()))?
            .map(|c| c.name),
        None => None,
    };
    if json {
        return print_json(&json!({
            "request_id": refused.request_id,
            "at": refused.at.format(&Rfc3339).unwrap_or_default(),
            "listener": refused.listener,
            "method": refused.method,
            "path": refused.path,
            "status": refused.status,
            "problem": refused.problem,
            "detail": refused.detail,
            "account_id": refused.account_id,
            "customer_id": refused.customer_id,
            "customer": customer_name,
            "client": refused.client,
        }));
    }
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    let customer = match (&refused.customer_id, &customer_name) {
        (Some(id), Some(name)) => format!("{name} ({id})"),
        (Some(id), None) => id.clone(),
        _ => "-".to_owned(),
    };
    for (label, value) in [
        ("request id", refused.request_id.clone()),
        ("at", table::time(refused.at)),
        ("listener", refused.listener.clone()),
        ("request", format!("{} {}", refused.method, refused.path)),
        ("status", refused.status.to_string()),
        ("problem", refused.problem.clone()),
        ("detail", refused.detail.clone()),
        ("account", or_dash(&refused.account_id)),
        ("customer", customer),
        ("client", or_dash(&refused.client)),
    ] {
        println!("{label:<11} {value}");
    }
    Ok(())
}
