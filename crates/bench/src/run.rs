//! [`run()`]: starts the clients, keeps the run inside its bounds, collects the measurements.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::config::{BenchConfig, LoopbackError, check_loopback};
use crate::flow::{Client, Endpoint, Samples};
use crate::http::{Https, tls_config};
use crate::procfs;
use crate::progress::{self, Counters};
use crate::report::{Report, ServerUsage, Settings};
use crate::responder::Http01Sink;
use crate::stats::LatencySummary;

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The directory URL is refused (not https, not loopback).
    #[error(transparent)]
    Target(#[from] LoopbackError),
    /// The trust anchor file cannot be used.
    #[error(
        "cannot use --ca-cert {path}: {reason}; give the PEM root the server's TLS certificate \
         chains to (Ferrite prints it at start: \"Root certificate clients must trust\")"
    )]
    CaCert {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A setting is out of range.
    #[error("{0}")]
    Settings(String),
    /// `/proc/PID` of the server cannot be read.
    #[error(
        "cannot read /proc/{pid}/stat and status: is {pid} the server's PID and still running \
         (and is this Linux)?"
    )]
    ServerPid {
        /// The PID given.
        pid: u32,
    },
}

/// Failure messages kept for the report.
const ERROR_SAMPLES: usize = 5;

/// What one client task hands back.
#[derive(Default)]
struct ClientResult {
    samples: Samples,
    errors: BTreeMap<String, u64>,
    error_samples: Vec<String>,
    cancelled: u64,
    connects: u64,
    /// When each issuance completed, from the start of the run.
    completions: Vec<Duration>,
}

/// The longest interval of `total` with no completion in it, counting from the start to the
/// first completion and from the last one to the end: a server that stalls shows up here even
/// when its average throughput looks fine.
pub(crate) fn longest_stall(completions: &mut [Duration], total: Duration) -> Duration {
    completions.sort_unstable();
    let mut last = Duration::ZERO;
    let mut longest = Duration::ZERO;
    for &t in completions.iter().chain(std::iter::once(&total)) {
        longest = longest.max(t.saturating_sub(last));
        last = last.max(t);
    }
    longest
}

/// Runs the benchmark described by `config`, publishing http-01 key authorizations to `sink`
/// (the generator's [`crate::responder::Http01Server`], or any responder the CA validates
/// against). Returns when `config.issuances` are done or `config.duration` has passed.
pub async fn run(config: BenchConfig, sink: Arc<dyn Http01Sink>) -> Result<Report, BenchError> {
    let (directory, addr) = check_loopback(&config.directory_url)?;
    if config.clients == 0 || config.issuances == 0 || config.duration.is_zero() {
        return Err(BenchError::Settings(
            "--clients, --issuances and --duration must each be at least 1".into(),
        ));
    }
    let ca_err = |reason: String| BenchError::CaCert {
        path: config.ca_cert.clone(),
        reason,
    };
    let pem = std::fs::read(&config.ca_cert).map_err(|e| ca_err(e.to_string()))?;
    let tls = tls_config(&pem).map_err(ca_err)?;
    let hz = procfs::clock_ticks_per_second();
    let connect = if config.connect.is_empty() {
        vec![addr]
    } else {
        config.connect.clone()
    };
    if let Some(other) = connect.iter().find(|a| !a.ip().is_loopback()) {
        return Err(BenchError::Settings(format!(
            "--connect {other} is not on loopback: the generator only talks to this machine"
        )));
    }
    let server_before = config
        .server_pids
        .iter()
        .map(|&pid| {
            procfs::sample(pid)
                .map(|s| (pid, s))
                .ok_or(BenchError::ServerPid { pid })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let me = std::process::id();
    let me_before = procfs::sample(me).map_or(0, |s| s.cpu_ticks);

    let config = Arc::new(config);
    let started = Instant::now();
    let deadline = started + config.duration;
    let tickets = Arc::new(AtomicU64::new(0));
    let counters = Arc::new(Counters::default());

    // VmHWM is the peak over the server's whole life; sampling VmRSS gives the peak during
    // the run as well.
    let max_rss = Arc::new(AtomicU64::new(0));
    let sampler = (!server_before.is_empty()).then(|| {
        let max_rss = max_rss.clone();
        let pids: Vec<u32> = server_before.iter().map(|(pid, _)| *pid).collect();
        max_rss.store(
            server_before.iter().map(|(_, s)| s.rss_kb).sum(),
            Ordering::Relaxed,
        );
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let rss: u64 = pids
                    .iter()
                    .filter_map(|&pid| procfs::sample(pid))
                    .map(|s| s.rss_kb)
                    .sum();
                max_rss.fetch_max(rss, Ordering::Relaxed);
            }
        })
    });
    let bar = config
        .progress
        .then(|| progress::spawn(counters.clone(), config.issuances, config.duration, started));

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..config.clients {
        let http = Https::new(
            &directory,
            connect[i % connect.len()],
            tls.clone(),
            config.request_timeout,
        )
        .map_err(BenchError::Settings)?;
        let mut client = Client::new(config.clone(), http, sink.clone());
        let tickets = tickets.clone();
        let counters = counters.clone();
        let issuances = config.issuances;
        tasks.spawn(async move {
            let mut result = ClientResult::default();
            while Instant::now() < deadline && tickets.fetch_add(1, Ordering::Relaxed) < issuances {
                match tokio::time::timeout_at(deadline.into(), client.issue()).await {
                    Ok(Ok(())) => {
                        counters.completed.fetch_add(1, Ordering::Relaxed);
                        result.completions.push(started.elapsed());
                    }
                    Ok(Err(e)) => {
                        counters.failed.fetch_add(1, Ordering::Relaxed);
                        *result.errors.entry(e.kind()).or_default() += 1;
                        if result.error_samples.len() < ERROR_SAMPLES {
                            result.error_samples.push(e.to_string());
                        }
                    }
                    Err(_) => {
                        result.cancelled += 1;
                        break;
                    }
                }
            }
            result.connects = client.connects();
            result.samples = std::mem::take(&mut client.samples);
            result
        });
    }
    let mut all = ClientResult::default();
    while let Some(joined) = tasks.join_next().await {
        // A client task only ends by returning; a panic would be a bug worth surfacing as a
        // lost client rather than a crashed run.
        let Ok(r) = joined else { continue };
        all.samples.merge(r.samples);
        for (k, n) in r.errors {
            *all.errors.entry(k).or_default() += n;
        }
        for e in r.error_samples {
            if all.error_samples.len() < ERROR_SAMPLES && !all.error_samples.contains(&e) {
                all.error_samples.push(e);
            }
        }
        all.cancelled += r.cancelled;
        all.connects += r.connects;
        all.completions.extend(r.completions);
    }
    let elapsed = started.elapsed();
    if let Some(bar) = bar {
        bar.abort();
        progress::finish();
    }
    if let Some(s) = sampler {
        s.abort();
    }

    let completed = counters.completed.load(Ordering::Relaxed);
    let failed = counters.failed.load(Ordering::Relaxed);
    let server = (!server_before.is_empty()).then(|| {
        let (mut ticks, mut peak_rss_kb, mut rss_kb) = (0, 0, 0);
        for (pid, before) in &server_before {
            let after = procfs::sample(*pid).unwrap_or(*before);
            ticks += after.cpu_ticks.saturating_sub(before.cpu_ticks);
            peak_rss_kb += after.peak_rss_kb;
            rss_kb += after.rss_kb;
        }
        let cpu = procfs::ticks_to_duration(ticks, hz).as_secs_f64();
        max_rss.fetch_max(rss_kb, Ordering::Relaxed);
        ServerUsage {
            pids: server_before.iter().map(|(pid, _)| *pid).collect(),
            cpu_seconds: cpu,
            cpu_ms_per_issuance: (completed > 0).then(|| cpu * 1000.0 / completed as f64),
            peak_rss_kb,
            max_sampled_rss_kb: max_rss.load(Ordering::Relaxed),
        }
    });
    let me_after = procfs::sample(me).map_or(me_before, |s| s.cpu_ticks);

    let mut latency_ms = BTreeMap::new();
    for (endpoint, mut v) in std::mem::take(&mut all.samples.latencies) {
        if let Some(s) = LatencySummary::of(&mut v) {
            latency_ms.insert(endpoint.name().to_owned(), s);
        }
    }
    if let Some(s) = LatencySummary::of(&mut all.samples.issuance) {
        latency_ms.insert(ISSUANCE.to_owned(), s);
    }
    let mut errors = all.errors;
    for (k, n) in all.samples.problems {
        *errors.entry(k).or_default() += n;
    }
    Ok(Report {
        settings: Settings {
            directory_url: config.directory_url.clone(),
            clients: config.clients,
            issuances: config.issuances,
            duration_s: config.duration.as_secs_f64(),
            poll_interval_ms: u64::try_from(config.poll_interval.as_millis()).unwrap_or(u64::MAX),
            honour_retry_after: config.honour_retry_after,
            key_type: config.key_type,
            account_per_client: config.account_per_client,
            eab: config.eab.is_some(),
        },
        elapsed_s: elapsed.as_secs_f64(),
        issuances_completed: completed,
        issuances_failed: failed,
        issuances_cancelled: all.cancelled,
        issuances_per_second: completed as f64 / elapsed.as_secs_f64().max(1e-9),
        latency_ms,
        errors,
        error_samples: all.error_samples,
        connections: all.connects,
        longest_stall_s: longest_stall(&mut all.completions, elapsed).as_secs_f64(),
        server,
        generator_cpu_seconds: procfs::ticks_to_duration(me_after.saturating_sub(me_before), hz)
            .as_secs_f64(),
    })
}

/// The key of the whole-flow latency in [`Report::latency_ms`].
pub const ISSUANCE: &str = "issuance";

/// Endpoint names in flow order, then the whole issuance: the rows of [`Report::table`].
pub fn endpoint_order() -> Vec<&'static str> {
    Endpoint::ALL
        .iter()
        .map(|e| e.name())
        .chain(std::iter::once(ISSUANCE))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_stall_counts_both_ends() {
        let s = |v: &[u64]| {
            v.iter()
                .map(|&ms| Duration::from_millis(ms))
                .collect::<Vec<_>>()
        };
        let total = Duration::from_millis(1000);
        // Gaps: 100 (start→100), 50, 650 (200→850), 150 (850→end).
        assert_eq!(
            longest_stall(&mut s(&[850, 100, 150, 200]), total),
            Duration::from_millis(650)
        );
        assert_eq!(longest_stall(&mut s(&[]), total), total);
        assert_eq!(
            longest_stall(&mut s(&[10, 20, 900]), total),
            Duration::from_millis(880)
        );
    }
}
