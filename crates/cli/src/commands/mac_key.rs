//! `ferrite mac-key create --credential ID | list [--credential ID] | show KID | disable KID
//! [--deactivate-accounts]`.

use ferrite_core::eab::{MacKeyView, Registry};
use ferrite_core::model::Scope;

use super::{instructions, operator_error, print_json, table};
use ferrite_app::Config;

pub(super) async fn create(
    registry: &Registry,
    config: &Config,
    credential: &str,
    json: bool,
) -> anyhow::Result<()> {
    let created = registry
        .create_mac_key(credential, None)
        .await
        .map_err(operator_error)?;
    if json {
        return print_json(&created.to_json_exposing_key());
    }
    instructions::print_eab(
        &config.directory_url(),
        &created.key.kid,
        created.hmac_key.expose(),
        ferrite_app::ca::listener_trust_root(config).as_deref(),
    );
    println!(
        "Valid until {} for at most {} accounts. Any previous MAC key of credential {} is now disabled.",
        table::time(created.key.expires_at),
        created.key.max_bindings,
        created.key.credential_id
    );
    Ok(())
}

pub(super) async fn list(
    registry: &Registry,
    credential: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let scope = match credential {
        Some(id) => {
            registry
                .credential(id, None)
                .await
                .map_err(operator_error)?;
            Scope::Credential(id.to_owned())
        }
        None => Scope::All,
    };
    let keys = registry.mac_keys(&scope).await.map_err(operator_error)?;
    if json {
        return print_json(&keys);
    }
    print_keys(&keys);
    Ok(())
}

pub(super) async fn show(registry: &Registry, kid: &str, json: bool) -> anyhow::Result<()> {
    let key = registry.mac_key(kid, None).await.map_err(operator_error)?;
    if json {
        return print_json(&key);
    }
    print_keys(std::slice::from_ref(&key));
    Ok(())
}

/// Disables the key and, with `deactivate_accounts`, every account bound through it (after
/// the key, so no new binding slips in between).
pub(super) async fn disable(
    registry: &Registry,
    kid: &str,
    deactivate_accounts: bool,
    json: bool,
) -> anyhow::Result<()> {
    let (key, deactivated) = registry
        .disable_mac_key_and_accounts(kid, None, deactivate_accounts)
        .await
        .map_err(operator_error)?;
    if json {
        let mut value = serde_json::to_value(&key)?;
        if let Some(accounts) = &deactivated {
            value["deactivated_accounts"] = serde_json::to_value(accounts)?;
        }
        return print_json(&value);
    }
    match deactivated {
        None => println!(
            "Disabled EAB MAC key {}: it binds no new accounts (accounts already bound keep working; add --deactivate-accounts to stop them too).",
            key.kid
        ),
        Some(accounts) => {
            println!(
                "Disabled EAB MAC key {}: it binds no new accounts, and {} account(s) bound through it are deactivated:",
                key.kid,
                accounts.len()
            );
            for account in accounts {
                println!("  {}", account.id);
            }
        }
    }
    println!(
        "Give the customer a new key: ferrite mac-key create --credential {}",
        key.credential_id
    );
    Ok(())
}

fn print_keys(keys: &[MacKeyView]) {
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            vec![
                k.kid.clone(),
                k.credential_id.clone(),
                k.status.to_owned(),
                table::time(k.created_at),
                table::time(k.expires_at),
                k.bindings_used.to_string(),
                k.bindings_remaining.to_string(),
            ]
        })
        .collect();
    table::print(
        &[
            "KID",
            "CREDENTIAL",
            "STATUS",
            "CREATED",
            "EXPIRES",
            "USED",
            "REMAINING",
        ],
        &rows,
    );
}
