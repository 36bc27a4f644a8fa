//! `ferrite credential create --customer NAME | create --operator | list [--customer NAME] |
//! disable ID [--deactivate-accounts] | accounts ID`.

use std::collections::HashMap;

use ferrite_core::eab::Registry;
use ferrite_core::model::Scope;

use super::{operator_error, print_json, table};

pub(super) async fn create(
    registry: &Registry,
    customer: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let created = match customer {
        Some(name) => {
            let customer = registry
                .customer_by_name(name)
                .await
                .map_err(operator_error)?;
            registry
                .create_credential(&customer.id)
                .await
                .map_err(operator_error)?
        }
        None => registry
            .create_operator_credential()
            .await
            .map_err(operator_error)?,
    };
    if json {
        return print_json(&created.to_json_exposing_secret());
    }
    let operator = created.credential.role == "operator";
    println!(
        "{} id: {}",
        if operator {
            "Operator credential"
        } else {
            "API credential"
        },
        created.credential.id
    );
    println!(
        "{} secret: {}",
        if operator {
            "Operator credential"
        } else {
            "API credential"
        },
        created.secret.expose()
    );
    println!(
        "The secret is shown once and stored only as a hash: keep it now. A lost secret cannot be recovered; create a new credential instead."
    );
    println!(
        "Admin API: Authorization: Bearer {}:<secret>",
        created.credential.id
    );
    if operator {
        println!(
            "It acts for any customer, as these commands do (name one with ?customer=NAME); it holds no MAC keys. Disable it with: ferrite credential disable {}",
            created.credential.id
        );
    } else {
        println!(
            "Next: ferrite mac-key create --credential {}",
            created.credential.id
        );
    }
    Ok(())
}

pub(super) async fn list(
    registry: &Registry,
    customer: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let customer_id = match customer {
        Some(name) => Some(
            registry
                .customer_by_name(name)
                .await
                .map_err(operator_error)?
                .id,
        ),
        None => None,
    };
    let mut credentials = registry
        .credentials(customer_id.as_deref())
        .await
        .map_err(operator_error)?;
    if customer_id.is_none() {
        credentials.extend(
            registry
                .operator_credentials()
                .await
                .map_err(operator_error)?,
        );
    }
    if json {
        return print_json(&credentials);
    }
    let names: HashMap<String, String> = registry
        .customers()
        .await
        .map_err(operator_error)?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let rows: Vec<Vec<String>> = credentials
        .iter()
        .map(|c| {
            vec![
                c.id.clone(),
                match &c.customer_id {
                    Some(id) => names.get(id).cloned().unwrap_or_default(),
                    None => "(operator)".to_owned(),
                },
                c.role.to_owned(),
                c.status.to_owned(),
                table::time(c.created_at),
            ]
        })
        .collect();
    table::print(&["ID", "CUSTOMER", "ROLE", "STATUS", "CREATED"], &rows);
    Ok(())
}

/// Disables the credential and, with `deactivate_accounts`, every account bound through its
/// MAC keys (after the credential, so no new binding slips in between).
pub(super) async fn disable(
    registry: &Registry,
    id: &str,
    deactivate_accounts: bool,
    json: bool,
) -> anyhow::Result<()> {
    let (credential, deactivated) = registry
        .disable_credential_and_accounts(id, None, deactivate_accounts)
        .await
        .map_err(operator_error)?;
    if json {
        let mut value = serde_json::to_value(&credential)?;
        if let Some(accounts) = &deactivated {
            value["deactivated_accounts"] = serde_json::to_value(accounts)?;
        }
        return print_json(&value);
    }
    match deactivated {
        None => println!(
            "Disabled API credential {}: its MAC keys bind no new accounts (accounts already bound keep working; add --deactivate-accounts to stop them too).",
            credential.id
        ),
        Some(accounts) => {
            println!(
                "Disabled API credential {}: its MAC keys bind no new accounts, and {} account(s) bound through them are deactivated:",
                credential.id,
                accounts.len()
            );
            for account in accounts {
                println!("  {}", account.id);
            }
        }
    }
    Ok(())
}

pub(super) async fn accounts(registry: &Registry, id: &str, json: bool) -> anyhow::Result<()> {
    registry
        .credential(id, None)
        .await
        .map_err(operator_error)?;
    let accounts = registry
        .accounts(&Scope::Credential(id.to_owned()))
        .await
        .map_err(operator_error)?;
    if json {
        return print_json(&accounts);
    }
    let rows: Vec<Vec<String>> = accounts
        .iter()
        .map(|a| {
            vec![
                a.id.clone(),
                a.status.clone(),
                a.eab_kid.clone().unwrap_or_default(),
                table::time(a.created_at),
                a.contact.join(","),
            ]
        })
        .collect();
    table::print(
        &["ACCOUNT", "STATUS", "EAB KID", "CREATED", "CONTACT"],
        &rows,
    );
    Ok(())
}
