//! `ferrite validation list [--customer NAME]`: the domain validations kept for reuse (BR
//! §4.2.1), newest first, with what the operator must be able to show an auditor: the name,
//! the method, when, until when it may be reused, who performed it, the authorization it made
//! valid and, with `--json`, the validator's evidence (addresses contacted, DNS answers).

use std::sync::Arc;

use anyhow::Context;
use ferrite_core::Store;
use ferrite_core::model::Scope;
use serde_json::json;
use time::format_description::well_known::Rfc3339;

use super::{print_json, table};
use ferrite_app::Config;

pub(super) async fn list(
    config: &Config,
    customer: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let scope = match customer {
        None => Scope::All,
        Some(name) => {
            let found = store
                .customer_by_name(name)
                .await
                .map_err(|e| anyhow::anyhow!(e.to_string()))?
                .with_context(|| {
                    format!("no customer named {name:?}; `ferrite customer list` shows them")
                })?;
            Scope::Customer(found.id)
        }
    };
    let validations = store
        .domain_validations(&scope)
        .await
        .map_err(|e| anyhow::anyhow!(e.to_string()))?;
    if json {
        let rows: Vec<serde_json::Value> = validations
            .iter()
            .map(|v| {
                json!({
                    "id": v.id,
                    "domain": v.domain,
                    "wildcard": v.wildcard,
                    "method": v.method.as_str(),
                    "validated_at": v.validated_at.format(&Rfc3339).unwrap_or_default(),
                    "reuse_until": v.reuse_until.format(&Rfc3339).unwrap_or_default(),
                    "customer_id": v.customer_id,
                    "account_id": v.account_id,
                    "authorization_id": v.authorization_id,
                    "record": v.record,
                })
            })
            .collect();
        return print_json(&rows);
    }
    let rows: Vec<Vec<String>> = validations
        .iter()
        .map(|v| {
            let domain = if v.wildcard {
                format!("*.{}", v.domain)
            } else {
                v.domain.clone()
            };
            vec![
                domain,
                v.method.as_str().to_owned(),
                table::time(v.validated_at),
                table::time(v.reuse_until),
                v.customer_id.clone().unwrap_or_else(|| "-".into()),
                v.account_id.clone(),
                v.authorization_id.clone(),
            ]
        })
        .collect();
    table::print(
        &[
            "DOMAIN",
            "METHOD",
            "VALIDATED",
            "REUSE UNTIL",
            "CUSTOMER",
            "ACCOUNT",
            "AUTHORIZATION",
        ],
        &rows,
    );
    Ok(())
}

/// The server's database (SQLite in WAL mode, or PostgreSQL: safe while `ferrite serve`
/// runs).
async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    ferrite_app::open_existing_store(config).await
}
