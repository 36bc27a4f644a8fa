//! `ferrite-bench`: full ACME issuances against a directory URL on loopback, with a progress
//! bar on stderr, a summary table on stdout and optionally a JSON report.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use clap::Parser;
use ferrite_bench::config::{Eab, MacKey};
use ferrite_bench::responder::Http01Server;
use ferrite_bench::{BenchConfig, KeyType};

/// mimalloc, as in the server: the generator shares the machine with the server under test,
/// and glibc's malloc/free were ~10 % of its CPU samples (docs/performance.md, "ferrite-bench").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Drive an ACME CA on loopback with N concurrent clients doing full http-01 issuances.
///
/// The CA must validate http-01 on the --http01-listen port and resolve every name under
/// --domain to 127.0.0.1 (Ferrite: validation.dns_resolver = pebble-challtestsrv; Pebble:
/// -dnsserver).
#[derive(Parser)]
#[command(name = "ferrite-bench", version)]
struct Args {
    /// ACME directory URL (https, loopback only), e.g. https://127.0.0.1:14000/directory.
    #[arg(long)]
    directory: String,
    /// PEM file with the root the server's TLS certificate chains to.
    #[arg(long)]
    ca_cert: PathBuf,
    /// Concurrent clients.
    #[arg(long, default_value_t = 10)]
    clients: usize,
    /// Total issuances; the run stops when they are done.
    #[arg(long, default_value_t = 1000)]
    issuances: u64,
    /// Maximum run time in seconds; issuances still running then are cancelled.
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// Timeout of each HTTP request, milliseconds.
    #[arg(long, default_value_t = 10_000)]
    request_timeout_ms: u64,
    /// Pause between polls of a pending authorization or processing order, milliseconds.
    #[arg(long, default_value_t = 50)]
    poll_interval_ms: u64,
    /// Sleep for the server's Retry-After instead of --poll-interval-ms when it sends one.
    #[arg(long)]
    honour_retry_after: bool,
    /// Subscriber key type: p256 or rsa2048.
    #[arg(long, default_value = "p256", value_parser = parse_key_type)]
    key_type: KeyType,
    /// Where the generator's http-01 responder listens (the port the CA validates on).
    #[arg(long, default_value = "127.0.0.1:5002")]
    http01_listen: SocketAddr,
    /// Parent domain of the random names requested.
    #[arg(long, default_value = "bench.example")]
    domain: String,
    /// One account per client instead of one per issuance.
    #[arg(long)]
    account_per_client: bool,
    /// EAB key identifier (with --eab-hmac).
    #[arg(long, requires = "eab_hmac")]
    eab_kid: Option<String>,
    /// EAB HMAC key, base64url as the CA printed it (with --eab-kid).
    #[arg(
        long,
        requires = "eab_kid",
        env = "FERRITE_BENCH_EAB_HMAC",
        hide_env_values = true
    )]
    eab_hmac: Option<String>,
    /// The server's PID: report its CPU seconds and peak RSS over the run from /proc. Given
    /// once per instance of a CA with several, the report gives their sums.
    #[arg(long)]
    server_pid: Vec<u32>,
    /// Connect to this address (loopback) instead of the directory URL's, the URLs staying
    /// the directory's. Given several times, the clients are spread over them round robin,
    /// as a load balancer in front of several instances of one CA (same base_url) spreads
    /// its clients.
    #[arg(long)]
    connect: Vec<SocketAddr>,
    /// Write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

fn parse_key_type(s: &str) -> Result<KeyType, String> {
    KeyType::parse(s).ok_or_else(|| format!("{s:?}: use p256 or rsa2048"))
}

fn eab(args: &Args) -> anyhow::Result<Option<Eab>> {
    let (Some(kid), Some(hmac)) = (&args.eab_kid, &args.eab_hmac) else {
        return Ok(None);
    };
    let trimmed = hmac.trim().trim_end_matches('=');
    let mac_key = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(trimmed)
        .context("--eab-hmac is not base64url; pass the HMAC key exactly as the CA printed it")?;
    Ok(Some(Eab {
        kid: kid.clone(),
        mac_key: MacKey(mac_key),
    }))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match bench(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ferrite-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn bench(args: Args) -> anyhow::Result<ExitCode> {
    let responder = Http01Server::start(args.http01_listen)
        .await
        .with_context(|| {
            format!(
                "cannot start the http-01 responder on {}",
                args.http01_listen
            )
        })?;
    let config = BenchConfig {
        clients: args.clients,
        issuances: args.issuances,
        duration: Duration::from_secs(args.duration),
        request_timeout: Duration::from_millis(args.request_timeout_ms),
        poll_interval: Duration::from_millis(args.poll_interval_ms),
        honour_retry_after: args.honour_retry_after,
        key_type: args.key_type,
        domain: args.domain.clone(),
        account_per_client: args.account_per_client,
        eab: eab(&args)?,
        server_pids: args.server_pid.clone(),
        connect: args.connect.clone(),
        progress: !args.quiet,
        ..BenchConfig::new(args.directory.clone(), args.ca_cert.clone())
    };
    let report = ferrite_bench::run(config, Arc::new(responder)).await?;
    print!("{}", report.table(&ferrite_bench::endpoint_order()));
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("cannot write the JSON report to {}", path.display()))?;
    }
    if report.issuances_completed == 0 {
        eprintln!(
            "ferrite-bench: no issuance completed; see the errors above (is the CA validating \
             http-01 on --http01-listen and resolving --domain names to 127.0.0.1?)"
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
