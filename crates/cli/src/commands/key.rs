//! `ferrite key block | list | unblock`: public keys reported compromised, by the SHA-256 of
//! their SubjectPublicKeyInfo. A blocked key is refused with `badPublicKey` in a finalize CSR,
//! a newAccount and a key change. keyCompromise revocations block their certificate's key
//! themselves; `key block` blocks one without a certificate (a key leaked before it was used
//! here, or one reported by someone else).

use ferrite_core::ca::key_block::{self, parse_spki_sha256};
use ferrite_core::model::BlockedKey;
use serde_json::json;
use time::format_description::well_known::Rfc3339;

use super::{operator_error, print_json, table};
use ferrite_app::Config;

fn json_row(key: &BlockedKey) -> serde_json::Value {
    json!({
        "spki_sha256": key.spki_sha256,
        "blocked_at": key.blocked_at.format(&Rfc3339).unwrap_or_default(),
        "reason": key.reason,
        "serial": key.serial,
    })
}

/// `ferrite key block --spki-sha256 H [--reason TEXT]`.
pub(super) async fn block(
    config: &Config,
    hash: &str,
    reason: Option<&str>,
    json_out: bool,
) -> anyhow::Result<()> {
    let hash = parse_spki_sha256(hash).map_err(operator_error)?;
    let store = ferrite_app::open_existing_store(config).await?;
    let (key, new) = key_block::block_key(
        store.as_ref(),
        &hash,
        reason,
        time::OffsetDateTime::now_utc(),
    )
    .await
    .map_err(operator_error)?;
    if json_out {
        let mut row = json_row(&key);
        row["new"] = json!(new);
        return print_json(&row);
    }
    if new {
        println!(
            "Blocked key {}: CSRs and account keys with it get badPublicKey",
            key.spki_sha256
        );
    } else {
        println!(
            "Key {} was already blocked at {} ({}); nothing changed",
            key.spki_sha256,
            table::time(key.blocked_at),
            key.reason
        );
    }
    Ok(())
}

/// `ferrite key list`.
pub(super) async fn list(config: &Config, json_out: bool) -> anyhow::Result<()> {
    let store = ferrite_app::open_existing_store(config).await?;
    let keys = store
        .blocked_keys()
        .await
        .map_err(|e| anyhow::anyhow!(e.to_string()))?;
    if json_out {
        let rows: Vec<_> = keys.iter().map(json_row).collect();
        return print_json(&json!({ "blocked_keys": rows }));
    }
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            vec![
                k.spki_sha256.clone(),
                table::time(k.blocked_at),
                k.serial.clone().unwrap_or_default(),
                k.reason.clone(),
            ]
        })
        .collect();
    table::print(&["SPKI SHA-256", "BLOCKED", "SERIAL", "REASON"], &rows);
    Ok(())
}

/// `ferrite key unblock H`.
pub(super) async fn unblock(config: &Config, hash: &str, json_out: bool) -> anyhow::Result<()> {
    let hash = parse_spki_sha256(hash).map_err(operator_error)?;
    let store = ferrite_app::open_existing_store(config).await?;
    key_block::unblock_key(store.as_ref(), &hash)
        .await
        .map_err(operator_error)?;
    if json_out {
        return print_json(&json!({ "spki_sha256": hash, "unblocked": true }));
    }
    println!("Unblocked key {hash}: CSRs and account keys may use it again");
    Ok(())
}
