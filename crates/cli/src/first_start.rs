//! The first start of `ferrite serve` on an empty database: a `default` customer with one API
//! credential and one MAC key, shown once so the quick start needs no other command.
//!
//! The secrets go to a terminal only. Under a service manager stdout lands in the logs, so
//! there they go to a file in the data directory that only this user can read
//! ([`CREDENTIALS_FILE`]), and stdout and the log name only its path.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use ferrite_core::CoreError;
use ferrite_core::eab::Registry;

use crate::commands::instructions;

/// The file the first start's credentials go to when stdout is not a terminal.
pub(crate) const CREDENTIALS_FILE: &str = "first-start-credentials.txt";

/// Creates and prints the default customer's credentials if there is no customer yet (or
/// only a `default` customer left without credentials by an interrupted first start), with
/// client commands naming `trust`, the root to trust (see [`instructions::eab_lines`]). Printed
/// to a terminal, or to [`CREDENTIALS_FILE`] in `data_dir` (mode 0600), never logged. A second
/// instance racing on the same database loses on the unique customer name and shows nothing.
pub(crate) async fn bootstrap(
    registry: &Registry,
    directory_url: &str,
    data_dir: &Path,
    trust: Option<&Path>,
) -> anyhow::Result<()> {
    let customers = registry.customers().await.map_err(anyhow_core)?;
    let customer = match customers.as_slice() {
        [] => match registry.create_customer("default").await {
            Ok(c) => c,
            Err(CoreError::Problem(p)) if p.status == Some(409) => return Ok(()),
            Err(e) => return Err(anyhow_core(e)),
        },
        // A first start that stopped after creating the customer (crash, full disk) is
        // finished now rather than leaving `default` without a usable credential.
        [only]
            if only.name == "default"
                && registry
                    .credentials(Some(&only.id))
                    .await
                    .map_err(anyhow_core)?
                    .is_empty() =>
        {
            only.clone()
        }
        _ => return Ok(()),
    };
    let credential = registry
        .create_credential(&customer.id)
        .await
        .map_err(anyhow_core)?;
    let key = registry
        .create_mac_key(&credential.credential.id, None)
        .await
        .map_err(anyhow_core)?;
    let secrets = format!(
        "API credential id: {}\nAPI credential secret: {}\n{}",
        credential.credential.id,
        credential.secret.expose(),
        instructions::eab_lines(directory_url, &key.key.kid, key.hmac_key.expose(), trust)
    );
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        println!(
            "First start: created customer \"default\" with an API credential and an EAB MAC key (shown once)."
        );
        print!("{secrets}");
    } else {
        let path = write_private(&data_dir.join(CREDENTIALS_FILE), &secrets)?;
        println!(
            "First start: created customer \"default\" with an API credential and an EAB MAC key; not a terminal, so they are in a file only this user can read: read it once, then delete it."
        );
        println!("First-start credentials file: {}", path.display());
        tracing::info!(file = %path.display(), "the default customer's API credential and EAB MAC key were written to a file readable by this user only");
    }
    Ok(())
}

/// Writes `text` to `path` with mode 0600 (replacing an earlier, unfinished first start's
/// file); returns the path made absolute.
fn write_private(path: &Path, text: &str) -> anyhow::Result<PathBuf> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    #[cfg(unix)]
    {
        // A file left by an earlier start keeps its mode on open: set it.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict {}", path.display()))?;
    }
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned()))
}

fn anyhow_core(e: CoreError) -> anyhow::Error {
    anyhow::anyhow!("cannot create the default customer: {e}")
}
