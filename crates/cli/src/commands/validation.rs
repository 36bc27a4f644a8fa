//! `ferrite validation list [--customer NAME]`: the domain validations kept for reuse (BR
//! §4.2.1), newest first, with what the operator must be able to show an auditor: the name,
//! the method, when, until when it may be reused, who performed it, the authorization it made
//! valid, what the remote perspectives of multi-perspective corroboration answered
//! (docs/mpic.md) and, with `--json`, the validator's evidence (addresses contacted, DNS
//! answers) and every perspective's answer.

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
                    "perspectives": answers(v.record.get("mpic")),
                    "caa_perspectives": answers(v.record.pointer("/caa/mpic")),
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
                perspectives(&v.record),
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
            "PERSPECTIVES",
        ],
        &rows,
    );
    Ok(())
}

/// Every remote perspective's answer in a corroboration kept with the validation
/// (`record.mpic` for the validation, `record.caa.mpic` for its CAA check): perspective,
/// region, outcome, latency, problem, evidence; empty when it was not corroborated.
fn answers(mpic: Option<&serde_json::Value>) -> serde_json::Value {
    mpic.and_then(|m| m.get("answers"))
        .filter(|a| a.is_array())
        .cloned()
        .unwrap_or_else(|| json!([]))
}

/// The PERSPECTIVES cell: the validation's corroboration, then its CAA check's
/// (`5/5 agree; CAA 5/5 agree`); `-` for a validation not corroborated.
fn perspectives(record: &serde_json::Value) -> String {
    let Some(mpic) = record.get("mpic") else {
        return "-".to_owned();
    };
    let mut cell = summary(mpic);
    if let Some(caa) = record.pointer("/caa/mpic") {
        cell.push_str("; CAA ");
        cell.push_str(&summary(caa));
    }
    cell
}

/// One corroboration: `5/5 agree`, or `3/5 agree (p1 disagreed, p3 timeout)` naming each
/// perspective that did not agree and how. One that failed under `mode = "log"` (issued on
/// the primary's result) says so.
fn summary(mpic: &serde_json::Value) -> String {
    let answers = mpic
        .get("answers")
        .and_then(|a| a.as_array())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let field = |a: &serde_json::Value, name: &str| {
        a.get(name)
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_owned()
    };
    let dissenting: Vec<String> = answers
        .iter()
        .filter(|a| field(a, "outcome") != "agreed")
        .map(|a| format!("{} {}", field(a, "perspective"), field(a, "outcome")))
        .collect();
    let mut cell = format!(
        "{}/{} agree",
        answers.len() - dissenting.len(),
        answers.len()
    );
    if !dissenting.is_empty() {
        cell.push_str(&format!(" ({})", dissenting.join(", ")));
    }
    if mpic.get("corroborated").and_then(|c| c.as_bool()) == Some(false) {
        cell.push_str(" not corroborated, issued on the primary's result (mode log)");
    }
    cell
}

/// The server's database (SQLite in WAL mode, or PostgreSQL: safe while `ferrite serve`
/// runs).
async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    ferrite_app::open_existing_store(config).await
}
