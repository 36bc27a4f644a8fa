//! `ferrite audit verify | export`: the tamper-evident audit log. Every change an auditor asks
//! about is appended by the store in the change's own transaction and sealed into a hash
//! chain (`ferrite_core::audit`); `verify` checks the chain from its first entry, `export`
//! writes the entries as JSON lines.

use std::io::Write;

use anyhow::Context;
use ferrite_core::audit::{self, AuditEntry, ChainHead};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::print_json;
use ferrite_app::Config;

/// Entries read per store call.
const PAGE: u32 = 1000;

pub(super) async fn verify(
    config: &Config,
    json_out: bool,
    known_head: Option<&str>,
) -> anyhow::Result<()> {
    let known_head = known_head.map(parse_head).transpose()?;
    let store = ferrite_app::open_existing_store(config).await?;
    let failed = |e: ferrite_core::StoreError| anyhow::anyhow!("the audit log: {e}");
    // What housekeeping would seal next is sealed now, so the check covers every entry
    // committed before it started. A failure to seal is reported, and the chain checked all
    // the same.
    if let Err(e) = audit::seal_pending(store.as_ref()).await {
        eprintln!("warning: the new audit entries could not be sealed: {e}");
    }
    let mut head = ChainHead::start();
    let mut known_seen = false;
    loop {
        let page = store.audit_chain(head.chain, PAGE).await.map_err(failed)?;
        let result = audit::verify(&mut head, &page);
        if let Some((chain, hash)) = &known_head
            && let Some(entry) = page
                .iter()
                .find(|e| e.sealed.as_ref().is_some_and(|(c, _)| c == chain))
        {
            known_seen = true;
            if entry.sealed.as_ref().map(|(_, h)| h) != Some(hash) {
                anyhow::bail!(
                    "chain entry {chain} no longer has the hash recorded for it ({hash}): the audit log was rewritten from there on (restore it from a backup, and find out who could write to the database)"
                );
            }
        }
        if let Err(broken) = result {
            if json_out {
                print_json(&json!({
                    "verified": false,
                    "entries_verified": head.entries,
                    "broken_at_chain": broken.chain,
                    "broken_at_seq": broken.seq,
                    "event": broken.event,
                    "reason": broken.reason,
                }))?;
            }
            anyhow::bail!(
                "{broken}; the {} entries before it verify (restore the audit log from a backup, and find out who could write to the database)",
                head.entries
            );
        }
        if page.len() < PAGE as usize {
            break;
        }
    }
    if let Some((chain, _)) = &known_head
        && !known_seen
    {
        anyhow::bail!(
            "the chain ends at entry {} before entry {chain}, whose hash was recorded: the newest entries were deleted (restore the audit log from a backup)",
            head.chain
        );
    }
    let unsealed = store.audit_unsealed().await.map_err(failed)?;
    if json_out {
        return print_json(&json!({
            "verified": true,
            "entries_verified": head.entries,
            "head_chain": head.chain,
            "head_hash": head.hash,
            "unsealed": unsealed,
        }));
    }
    println!(
        "The audit log verifies: {} entries, head {}:{}{}. Keep the head outside the database: `ferrite audit verify --head {}:{}` later fails if the log was rewritten or cut back from there.",
        head.entries,
        head.chain,
        head.hash,
        if unsealed > 0 {
            format!(" ({unsealed} entries appended since are not sealed yet)")
        } else {
            String::new()
        },
        head.chain,
        head.hash
    );
    Ok(())
}

/// A head as `verify` prints it and `--head` takes it: `PLACE:HASH`.
fn parse_head(text: &str) -> anyhow::Result<(i64, String)> {
    let bad = || {
        anyhow::anyhow!(
            "--head {text:?} is not PLACE:HASH as `ferrite audit verify` prints it (e.g. 42:3f…)"
        )
    };
    let (chain, hash) = text.trim().split_once(':').ok_or_else(bad)?;
    let chain: i64 = chain.parse().map_err(|_| bad())?;
    let hash = hash.to_ascii_lowercase();
    if chain < 1 || hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    Ok((chain, hash))
}

/// Which entries `export` writes.
pub(super) enum ExportFrom {
    /// `--since T` (RFC 3339; `None`: every entry): those appended at or after T, in the order
    /// they were appended.
    Since(Option<String>),
    /// `--after-chain N`: the sealed entries after place N, in chain order (an incremental
    /// feed: every entry exactly once, whenever its transaction committed).
    AfterChain(i64),
}

pub(super) async fn export(config: &Config, from: ExportFrom) -> anyhow::Result<()> {
    let since = match &from {
        ExportFrom::Since(Some(text)) => OffsetDateTime::parse(text.trim(), &Rfc3339)
            .with_context(|| {
                format!("--since {text:?} is not an RFC 3339 time such as 2026-12-01T00:00:00Z")
            })?,
        _ => OffsetDateTime::UNIX_EPOCH,
    };
    let store = ferrite_app::open_existing_store(config).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    // The last `seq` (by time) or chain place (by chain) written.
    let mut after = match from {
        ExportFrom::AfterChain(after) => after,
        ExportFrom::Since(_) => 0,
    };
    loop {
        let page = match from {
            ExportFrom::Since(_) => store.audit_entries(since, after, PAGE).await,
            ExportFrom::AfterChain(_) => store.audit_chain(after, PAGE).await,
        }
        .map_err(|e| anyhow::anyhow!("the audit log: {e}"))?;
        for entry in &page {
            writeln!(out, "{}", line(entry))?;
        }
        let Some(last) = page.last().filter(|_| page.len() == PAGE as usize) else {
            break;
        };
        after = match from {
            ExportFrom::Since(_) => last.seq,
            ExportFrom::AfterChain(_) => last.sealed.as_ref().map_or(after, |(chain, _)| *chain),
        };
    }
    out.flush()?;
    Ok(())
}

/// Appends `operator_command` to the audit log: the command line (the value of any option
/// whose name speaks of a PIN, secret, password or token masked) and the operating system
/// user who ran it. Nothing when there is no database yet; a failure is a warning on stderr,
/// and the command still runs (what it changes is audited in its own transaction).
pub(crate) async fn record_command(config: &Config) {
    let Ok(store) = ferrite_app::open_existing_store(config).await else {
        return;
    };
    let argv = masked_argv(
        std::env::args_os()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned()),
    );
    // The login name, else the process's user id.
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| {
            use std::os::unix::fs::MetadataExt as _;
            std::fs::metadata("/proc/self")
                .map_or_else(|_| "unknown".to_owned(), |m| format!("uid {}", m.uid()))
        });
    let subject = command_name(&argv);
    // Reading is not recorded: only what can change what the CA holds.
    let reads = ["list", "show", "limits", "accounts"];
    if subject
        .split(' ')
        .nth(1)
        .is_some_and(|sub| reads.contains(&sub))
    {
        return;
    }
    let details = json!({ "argv": argv, "user": user }).to_string();
    if let Err(e) = store
        .append_audit(
            OffsetDateTime::now_utc(),
            "operator_command",
            &subject,
            &details,
        )
        .await
    {
        eprintln!("warning: the audit log did not take this command: {e}");
    }
}

/// The command and its subcommand (`cert revoke`): the first two words after the global
/// options (`--config FILE`) that come before them.
fn command_name(argv: &[String]) -> String {
    let mut words = Vec::new();
    let mut args = argv.iter();
    while let Some(arg) = args.next() {
        if arg.starts_with('-') {
            if !words.is_empty() {
                break;
            }
            if !arg.contains('=') {
                args.next();
            }
        } else {
            words.push(arg.as_str());
            if words.len() == 2 {
                break;
            }
        }
    }
    words.join(" ")
}

/// The arguments with the value of every secret-looking option replaced by `***`.
fn masked_argv(args: impl Iterator<Item = String>) -> Vec<String> {
    let secret = |name: &str| {
        let name = name.to_ascii_lowercase();
        ["pin", "secret", "password", "token"]
            .iter()
            .any(|s| name.contains(s))
    };
    let mut out = Vec::new();
    let mut mask_next = false;
    for arg in args {
        if mask_next {
            out.push("***".to_owned());
            mask_next = false;
        } else if let Some((name, _)) = arg.split_once('=')
            && name.starts_with("--")
            && secret(name)
        {
            out.push(format!("{name}=***"));
        } else {
            mask_next = arg.starts_with("--") && secret(&arg);
            out.push(arg);
        }
    }
    out
}

/// One entry as a JSON object (its details parsed back into JSON).
fn line(entry: &AuditEntry) -> serde_json::Value {
    let details: serde_json::Value =
        serde_json::from_str(&entry.details).unwrap_or_else(|_| json!(entry.details));
    json!({
        "seq": entry.seq,
        "at": entry.at.format(&Rfc3339).unwrap_or_default(),
        "event": entry.event,
        "subject": entry.subject,
        "details": details,
        "chain": entry.sealed.as_ref().map(|(chain, _)| chain),
        "hash": entry.sealed.as_ref().map(|(_, hash)| hash),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_name_skips_global_options() {
        let argv = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            command_name(&argv(&[
                "--config", "f.toml", "cert", "revoke", "ab", "--yes"
            ])),
            "cert revoke"
        );
        assert_eq!(
            command_name(&argv(&["--config=f.toml", "key", "list"])),
            "key list"
        );
        assert_eq!(
            command_name(&argv(&["customer", "--json", "list"])),
            "customer"
        );
    }

    #[test]
    fn secret_looking_options_are_masked() {
        let args = [
            "cert",
            "revoke",
            "ab:cd",
            "--reason",
            "keyCompromise",
            "--pin",
            "1234",
            "--api-secret=s3cret",
            "--token-label",
            "ferrite",
        ];
        let masked = masked_argv(args.iter().map(|a| (*a).to_owned()));
        assert_eq!(
            masked,
            [
                "cert",
                "revoke",
                "ab:cd",
                "--reason",
                "keyCompromise",
                "--pin",
                "***",
                "--api-secret=***",
                "--token-label",
                "***"
            ]
        );
    }
}
