//! `ferrite request show ID`: a refused request from the support trail — what a customer who
//! quotes a request id (the `X-Request-Id` header, or `requestId` in the problem document)
//! was told and why, with the account and customer it was for. Refused requests are kept for
//! 30 days; a request that succeeded is not kept.

use super::{operator_error, print_json, table};
use ferrite_app::Config;

pub(super) async fn show(config: &Config, id: &str, json: bool) -> anyhow::Result<()> {
    let store = ferrite_app::open_existing_store(config).await?;
    let refused = ferrite_core::support_trail::refused_request(store.as_ref(), id, None)
        .await
        .map_err(operator_error)?;
    if json {
        return print_json(&refused);
    }
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    let customer = match (&refused.customer_id, &refused.customer) {
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
