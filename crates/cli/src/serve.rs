//! `ferrite serve`: bind, build the instance (`ferrite_app`), print what clients need, serve
//! until Ctrl-C or SIGTERM.

use ferrite_app::{Config, Ferrite, Hooks, Listeners};
use tracing_subscriber::EnvFilter;

/// Runs `ferrite serve` until a shutdown signal; validations run on `validations`.
pub(crate) async fn run(config: Config, validations: tokio::runtime::Handle) -> anyhow::Result<()> {
    init_logging(&config.log_format);
    ferrite_app::raise_open_file_limit();
    let listeners = Listeners::bind(&config).await?;
    let ferrite = Ferrite::build(
        &config,
        listeners,
        Hooks {
            validation_runtime: Some(validations),
            ..Hooks::default()
        },
    )
    .await?;
    let directory_url = ferrite.directory_url();
    let trust = ferrite_app::ca::listener_trust_root(&config);
    crate::first_start::bootstrap(
        ferrite.ca.eab(),
        &directory_url,
        &config.data_dir,
        trust.as_deref(),
    )
    .await?;

    // Printed (not logged) so scripts and people can read it whatever the log settings.
    println!("Ferrite ACME directory: {directory_url}");
    println!(
        "Root certificate clients must trust: {}",
        ferrite.root_path.display()
    );
    println!(
        "The same over HTTP: {}{}",
        ferrite.public_base_url,
        ferrite_server::public::ROOT_PATH
    );
    println!("Admin API: {}", ferrite.admin_url);
    println!("CRL and issuer certificate: {}", ferrite.public_base_url);

    let running = ferrite.serve(shutdown_signal());
    running.stopped().await;
    tracing::info!("stopped");
    Ok(())
}

/// Logs to stderr, `text` or `json`, at `RUST_LOG` (default `info`).
pub(crate) fn init_logging(format: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a terminal, and not when NO_COLOR is set (https://no-color.org): a
    // log file or journald gets plain text, not escape codes.
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colours)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutting down");
}
