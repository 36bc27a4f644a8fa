//! `ferrite mac-key create --credential ID | list [--credential ID]`.

use ferrite_core::eab::Registry;
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
    Ok(())
}
