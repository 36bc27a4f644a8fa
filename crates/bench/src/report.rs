//! [`Report`]: what a run measured, as JSON (`--json FILE`) and as a table (stdout).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::config::KeyType;
use crate::stats::LatencySummary;

/// The settings a run used (so a JSON file says how it was made).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Settings {
    /// Directory URL driven.
    pub directory_url: String,
    /// Concurrent clients.
    pub clients: usize,
    /// Issuances asked for.
    pub issuances: u64,
    /// Wall-time bound, seconds.
    pub duration_s: f64,
    /// Poll interval, milliseconds.
    pub poll_interval_ms: u64,
    /// Whether Retry-After was honoured.
    pub honour_retry_after: bool,
    /// Subscriber key type.
    pub key_type: KeyType,
    /// One account per client (true) or per issuance (false).
    pub account_per_client: bool,
    /// Whether accounts were created with EAB.
    pub eab: bool,
}

/// The server's resource use over the run, from `/proc`: with several instances, the sums
/// over their processes.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ServerUsage {
    /// The PIDs measured.
    pub pids: Vec<u32>,
    /// User + system CPU seconds between the start and the end of the run.
    pub cpu_seconds: f64,
    /// `cpu_seconds` × 1000 / completed issuances (`null` with none).
    pub cpu_ms_per_issuance: Option<f64>,
    /// VmHWM at the end: each process's peak resident set over its life, summed, kB.
    pub peak_rss_kb: u64,
    /// The largest VmRSS sampled during the run (every 100 ms; summed over the processes
    /// at each sample), kB.
    pub max_sampled_rss_kb: u64,
}

/// Everything a run measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    /// How the run was made.
    pub settings: Settings,
    /// Wall time from the first request to the last completion (or the deadline), seconds.
    pub elapsed_s: f64,
    /// Issuances that ended with a downloaded certificate.
    pub issuances_completed: u64,
    /// Issuances that failed (see `errors`).
    pub issuances_failed: u64,
    /// Issuances still running at the deadline, cancelled.
    pub issuances_cancelled: u64,
    /// `issuances_completed / elapsed_s`.
    pub issuances_per_second: f64,
    /// Latency per endpoint (`issuance` is a whole flow, account to certificate).
    pub latency_ms: BTreeMap<String, LatencySummary>,
    /// Failed issuances by problem type (short name) or transport failure, plus retried
    /// `badNonce`s.
    pub errors: BTreeMap<String, u64>,
    /// The first few failure messages, for a person to read.
    pub error_samples: Vec<String>,
    /// TLS connections opened by all clients (equals `clients` when keep-alive held).
    pub connections: u64,
    /// The longest time, seconds, in which no issuance completed (start and end of the run
    /// included): a server that wedges for a while shows up here.
    pub longest_stall_s: f64,
    /// The server's CPU and memory (all instances'), with `--server-pid`.
    pub server: Option<ServerUsage>,
    /// The generator's own CPU seconds over the run.
    pub generator_cpu_seconds: f64,
}

impl Report {
    /// The summary table printed on stdout.
    pub fn table(&self, endpoint_order: &[&str]) -> String {
        let mut out = String::new();
        let s = &self.settings;
        let _ = writeln!(out, "target        {}", s.directory_url);
        let _ = writeln!(
            out,
            "settings      {} clients, ≤{} issuances, ≤{:.0} s, {:?} keys, poll {} ms{}{}",
            s.clients,
            s.issuances,
            s.duration_s,
            s.key_type,
            s.poll_interval_ms,
            if s.honour_retry_after {
                ", Retry-After honoured"
            } else {
                ""
            },
            if s.eab { ", EAB" } else { "" },
        );
        let _ = writeln!(
            out,
            "issuances     {} ok, {} failed, {} cancelled in {:.2} s = {:.1} /s",
            self.issuances_completed,
            self.issuances_failed,
            self.issuances_cancelled,
            self.elapsed_s,
            self.issuances_per_second
        );
        if let Some(srv) = &self.server {
            let per = srv
                .cpu_ms_per_issuance
                .map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
            let _ = writeln!(
                out,
                "server        pid {}: {:.2} CPU s = {} CPU ms/issuance; peak RSS {:.1} MB \
                 (VmHWM), max sampled {:.1} MB",
                srv.pids
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join("+"),
                srv.cpu_seconds,
                per,
                srv.peak_rss_kb as f64 / 1024.0,
                srv.max_sampled_rss_kb as f64 / 1024.0
            );
        }
        let _ = writeln!(
            out,
            "generator     {:.2} CPU s; {} TLS connections; longest stretch without a \
             completed issuance {:.2} s",
            self.generator_cpu_seconds, self.connections, self.longest_stall_s
        );
        let _ = writeln!(
            out,
            "\n{:<20} {:>7} {:>9} {:>9} {:>9} {:>9}",
            "endpoint", "count", "p50 ms", "p95 ms", "p99 ms", "max ms"
        );
        for name in endpoint_order {
            if let Some(l) = self.latency_ms.get(*name) {
                let _ = writeln!(
                    out,
                    "{:<20} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                    name, l.count, l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms
                );
            }
        }
        if self.errors.is_empty() {
            let _ = writeln!(out, "\nerrors        none");
        } else {
            let _ = writeln!(out, "\nerrors");
            for (kind, n) in &self.errors {
                let _ = writeln!(out, "  {kind:<24} {n}");
            }
            for e in &self.error_samples {
                let _ = writeln!(out, "  e.g. {e}");
            }
        }
        out
    }
}
