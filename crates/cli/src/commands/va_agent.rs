//! `ferrite va-agent`: remote network perspectives for multi-perspective issuance
//! corroboration (docs/mpic.md).
//!
//! - `enroll --id ID --region REGION --out DIR` (on the primary, with its `--config`): issues
//!   the agent a certificate from the primary's MPIC CA and writes its bundle to DIR.
//! - `run --bundle DIR --listen ADDR` (on the agent's host; `--config AGENT.toml` gives its
//!   `[validation]` table): serves checks to the primary over mutual TLS until Ctrl-C or
//!   SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use ferrite_app::Config;

/// `ferrite va-agent …`
#[derive(Args, Debug)]
pub(crate) struct VaAgentArgs {
    #[command(subcommand)]
    command: VaAgentCommand,
}

#[derive(Subcommand, Debug)]
enum VaAgentCommand {
    /// On the primary: issue an agent its certificate and key (from the primary's MPIC CA in
    /// data_dir/mpic, never the public issuing CA) and write its bundle.
    Enroll {
        /// The perspective's id, as `[[mpic.perspectives]] id` will name it.
        #[arg(long, allow_hyphen_values = true)]
        id: String,
        /// The region it runs in (each perspective in a distinct one).
        #[arg(long)]
        region: String,
        /// The bundle directory to write (copy it to the agent's host).
        #[arg(long)]
        out: PathBuf,
    },
    /// On the agent's host: serve validation and CAA checks to the primary.
    Run {
        /// The bundle directory `enroll` wrote.
        #[arg(long)]
        bundle: PathBuf,
        /// Address to listen on (HTTPS, mutual TLS), e.g. 0.0.0.0:9443.
        #[arg(long)]
        listen: SocketAddr,
    },
}

/// Runs `ferrite va-agent`.
pub(crate) async fn va_agent(config: &Config, args: VaAgentArgs) -> anyhow::Result<()> {
    match args.command {
        VaAgentCommand::Enroll { id, region, out } => {
            let enrolled = ferrite_app::mpic::enroll(config, &id, &region, &out)?;
            if enrolled.created_ca {
                println!(
                    "created the MPIC CA in {}",
                    ferrite_app::mpic::mpic_dir(config).display()
                );
            }
            println!("enrolled perspective {id} (region {region})");
            println!(
                "bundle:  {} (agent.pem, agent.key, client-ca.pem, perspective.json; agent.key is secret)",
                enrolled.bundle.display()
            );
            println!("pinned:  {}", enrolled.pinned.display());
            println!("add to the primary's configuration:");
            println!(
                "  [[mpic.perspectives]]\n  id = {id:?}\n  region = {region:?}\n  url = \"https://AGENT_HOST:PORT\""
            );
            Ok(())
        }
        VaAgentCommand::Run { bundle, listen } => {
            crate::serve::init_logging(&config.log_format);
            let (agent, tls) = ferrite_app::mpic::agent(config, &bundle, None)?;
            let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
                anyhow::anyhow!("cannot listen on {listen}: {e}; choose another --listen address")
            })?;
            let addr = listener.local_addr()?;
            tracing::info!(target: "ferrite::mpic", perspective = agent.id(), %addr, "va-agent listening");
            println!("va-agent {} listening on https://{addr}", agent.id());
            ferrite_app::mpic::serve_agent(listener, agent, tls, stop()).await;
            Ok(())
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn stop() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match term.as_mut() {
                Some(t) => { t.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}
