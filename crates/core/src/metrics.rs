//! What the engine counts for the operator: validations by method and outcome with their
//! duration, issuances with theirs, issuances refused by lint or the signer, accounts bound to
//! a customer. One set per engine (per instance); the server renders it at `/metrics`.
//! [`MpicMetrics`] counts what the remote perspectives of multi-perspective corroboration
//! answered, per perspective, with labels fixed by the configuration.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds, in seconds, of the duration buckets (Prometheus histogram `le`).
pub const DURATION_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Upper bounds, in seconds, of the buckets of database times ([`StoreMetrics`]): a SQLite
/// read takes microseconds, a write a group commit's fsync, a PostgreSQL statement a round
/// trip.
pub const DATABASE_BUCKETS: [f64; 16] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0,
];

/// A duration histogram with [`DURATION_BUCKETS`] (or the bounds of
/// [`Histogram::with_bounds`]).
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Observations at most each bucket's bound (not cumulative), then the rest.
    buckets: Box<[AtomicU64]>,
    sum_nanos: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::with_bounds(&DURATION_BUCKETS)
    }
}

impl Histogram {
    /// A histogram whose buckets end at `bounds` (seconds, ascending).
    pub fn with_bounds(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
        }
    }

    /// Records one observation.
    pub fn observe(&self, duration: Duration) {
        let seconds = duration.as_secs_f64();
        let i = self
            .bounds
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(self.bounds.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The counts so far.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut cumulative = Vec::with_capacity(self.bounds.len());
        let mut total = 0;
        for (i, bound) in self.bounds.iter().enumerate() {
            total += self.buckets[i].load(Ordering::Relaxed);
            cumulative.push((*bound, total));
        }
        total += self.buckets[self.bounds.len()].load(Ordering::Relaxed);
        HistogramSnapshot {
            cumulative,
            count: total,
            sum_seconds: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

/// A histogram's counts at one moment, as Prometheus renders them.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramSnapshot {
    /// Each bucket's bound with the observations at most that long (cumulative).
    pub cumulative: Vec<(f64, u64)>,
    /// All observations.
    pub count: u64,
    /// Their sum, in seconds.
    pub sum_seconds: f64,
}

/// What the store measures the time of ([`StoreMetrics`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreOp {
    /// SQLite: one read, on a connection, inline.
    Read,
    /// SQLite: one write, from its hand-off to the writer thread to its durable commit (the
    /// wait for the group commit included).
    Write,
    /// PostgreSQL: one use of a pooled connection, from asking the pool (the wait for a free
    /// connection included) to giving it back.
    Connection,
}

impl StoreOp {
    /// The `kind` label.
    pub fn label(self) -> &'static str {
        match self {
            StoreOp::Read => "read",
            StoreOp::Write => "write",
            StoreOp::Connection => "connection",
        }
    }
}

/// Time spent on the database, per [`StoreOp`], as a store measures it.
#[derive(Debug)]
pub struct StoreMetrics {
    backend: &'static str,
    ops: &'static [StoreOp],
    histograms: [Histogram; 3],
}

impl StoreMetrics {
    /// The metrics of a store of `backend` (`sqlite`, `postgresql`) that measures `ops`.
    pub fn new(backend: &'static str, ops: &'static [StoreOp]) -> StoreMetrics {
        StoreMetrics {
            backend,
            ops,
            histograms: std::array::from_fn(|_| Histogram::with_bounds(&DATABASE_BUCKETS)),
        }
    }

    /// One `op` that took `duration`.
    pub fn observe(&self, op: StoreOp, duration: Duration) {
        self.histograms[op as usize].observe(duration);
    }

    /// The backend's name.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// Each measured op with its histogram.
    pub fn snapshot(&self) -> Vec<(&'static str, HistogramSnapshot)> {
        self.ops
            .iter()
            .map(|op| (op.label(), self.histograms[*op as usize].snapshot()))
            .collect()
    }
}

/// The engine's counters.
#[derive(Debug, Default)]
pub struct EngineMetrics {
    /// Validations by (method, outcome): `valid`, or the problem type that failed them.
    validations: Mutex<BTreeMap<(&'static str, &'static str), Histogram>>,
    /// Finalize to certificate stored.
    issuance: Histogram,
    issuance_refused: AtomicU64,
    bindings: AtomicU64,
}

impl EngineMetrics {
    /// A validation by `method` that took `duration` and ended in `outcome`.
    pub(crate) fn validation(
        &self,
        method: &'static str,
        outcome: &'static str,
        duration: Duration,
    ) {
        self.validations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry((method, outcome))
            .or_default()
            .observe(duration);
    }

    /// A certificate signed and stored `duration` after finalize began issuing it.
    pub(crate) fn issued(&self, duration: Duration) {
        self.issuance.observe(duration);
    }

    /// An issuance refused by lint before sign or by the signer.
    pub(crate) fn issuance_refused(&self) {
        self.issuance_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// An account bound to a customer through a MAC key.
    pub(crate) fn bound(&self) {
        self.bindings.fetch_add(1, Ordering::Relaxed);
    }

    /// Validations by (method, outcome).
    pub fn validations(&self) -> Vec<(&'static str, &'static str, HistogramSnapshot)> {
        self.validations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|((method, outcome), h)| (*method, *outcome, h.snapshot()))
            .collect()
    }

    /// Issuance durations.
    pub fn issuance(&self) -> HistogramSnapshot {
        self.issuance.snapshot()
    }

    /// Issuances refused by lint or the signer.
    pub fn issuance_refused_total(&self) -> u64 {
        self.issuance_refused.load(Ordering::Relaxed)
    }

    /// Accounts bound to a customer.
    pub fn bindings_total(&self) -> u64 {
        self.bindings.load(Ordering::Relaxed)
    }
}

/// How one remote perspective's answer to one corroboration request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PerspectiveOutcome {
    /// Its own check passed: it corroborates the primary.
    Agree,
    /// Its own check failed.
    Disagree,
    /// No connection, TLS refused, or the connection broke.
    Unreachable,
    /// No answer within the corroboration timeout.
    Timeout,
    /// It answered with an error status (expired, replayed or malformed request).
    Refused,
    /// Its result's signature or binding did not verify.
    Invalid,
    /// The quorum's outcome was certain before it answered; it was not waited for.
    NotAwaited,
}

impl PerspectiveOutcome {
    /// Every outcome, in the order they are rendered.
    pub const ALL: [PerspectiveOutcome; 7] = [
        PerspectiveOutcome::Agree,
        PerspectiveOutcome::Disagree,
        PerspectiveOutcome::Unreachable,
        PerspectiveOutcome::Timeout,
        PerspectiveOutcome::Refused,
        PerspectiveOutcome::Invalid,
        PerspectiveOutcome::NotAwaited,
    ];

    /// The `outcome` label.
    pub fn label(self) -> &'static str {
        match self {
            PerspectiveOutcome::Agree => "agree",
            PerspectiveOutcome::Disagree => "disagree",
            PerspectiveOutcome::Unreachable => "unreachable",
            PerspectiveOutcome::Timeout => "timeout",
            PerspectiveOutcome::Refused => "refused",
            PerspectiveOutcome::Invalid => "invalid",
            PerspectiveOutcome::NotAwaited => "not_awaited",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One configured perspective's series.
#[derive(Debug)]
struct PerspectiveSeries {
    id: String,
    region: String,
    /// Time from sending the request to its answer (a timeout: the whole timeout).
    latency: Histogram,
    /// Requests by [`PerspectiveOutcome`] (indexed by it).
    outcomes: [AtomicU64; PerspectiveOutcome::ALL.len()],
}

/// Multi-perspective corroboration, per remote perspective: answer latency and requests by
/// outcome; and corroborations by check, mode and result. The perspectives (id, region) are
/// fixed when it is made, from the configuration: nothing a remote party sends becomes a
/// label.
#[derive(Debug)]
pub struct MpicMetrics {
    perspectives: Vec<PerspectiveSeries>,
    /// Corroborations by (check, mode, result).
    corroborations: Mutex<BTreeMap<(&'static str, &'static str, &'static str), u64>>,
}

/// One perspective's series at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct PerspectiveSnapshot {
    /// Its configured id.
    pub id: String,
    /// Its configured region.
    pub region: String,
    /// Answer latency.
    pub latency: HistogramSnapshot,
    /// Requests by outcome, every outcome listed.
    pub outcomes: Vec<(PerspectiveOutcome, u64)>,
}

impl MpicMetrics {
    /// Series for `perspectives` (id, region), in configuration order; the index of each is
    /// the one [`MpicMetrics::answer`] takes.
    pub fn new(perspectives: impl IntoIterator<Item = (String, String)>) -> MpicMetrics {
        MpicMetrics {
            perspectives: perspectives
                .into_iter()
                .map(|(id, region)| PerspectiveSeries {
                    id,
                    region,
                    latency: Histogram::default(),
                    outcomes: Default::default(),
                })
                .collect(),
            corroborations: Mutex::default(),
        }
    }

    /// Perspective number `index` answered with `outcome` after `latency` (`None`: not
    /// waited for, no latency to count).
    pub fn answer(&self, index: usize, outcome: PerspectiveOutcome, latency: Option<Duration>) {
        let Some(p) = self.perspectives.get(index) else {
            return;
        };
        p.outcomes[outcome.index()].fetch_add(1, Ordering::Relaxed);
        if let Some(latency) = latency {
            p.latency.observe(latency);
        }
    }

    /// One corroboration of `check` (`http-01`, `dns-01`, `tls-alpn-01`, `caa`) in `mode`
    /// (`log`, `enforce`) decided: `corroborated`, or `refused` by the quorum (in `log` mode
    /// the primary's result still decides).
    pub fn decision(&self, check: &'static str, mode: &'static str, corroborated: bool) {
        let result = if corroborated {
            "corroborated"
        } else {
            "refused"
        };
        *self
            .corroborations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry((check, mode, result))
            .or_default() += 1;
    }

    /// Every perspective's series, in configuration order.
    pub fn perspectives(&self) -> Vec<PerspectiveSnapshot> {
        self.perspectives
            .iter()
            .map(|p| PerspectiveSnapshot {
                id: p.id.clone(),
                region: p.region.clone(),
                latency: p.latency.snapshot(),
                outcomes: PerspectiveOutcome::ALL
                    .iter()
                    .map(|o| (*o, p.outcomes[o.index()].load(Ordering::Relaxed)))
                    .collect(),
            })
            .collect()
    }

    /// Corroborations by (check, mode, result).
    pub fn corroborations(&self) -> Vec<(&'static str, &'static str, &'static str, u64)> {
        self.corroborations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|((check, mode, result), n)| (*check, *mode, *result, *n))
            .collect()
    }
}

/// What one Certificate Transparency log did with one precertificate submission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtOutcome {
    /// It answered with an SCT whose signature verified.
    Logged,
    /// It answered, but the SCT did not parse or verify.
    Invalid,
    /// It answered with an HTTP error.
    Refused,
    /// No connection, TLS or HTTP exchange could be made.
    Unreachable,
    /// No answer within `[ct] timeout_seconds`.
    Timeout,
}

impl CtOutcome {
    /// Every outcome, in the order they are rendered.
    pub const ALL: [CtOutcome; 5] = [
        CtOutcome::Logged,
        CtOutcome::Invalid,
        CtOutcome::Refused,
        CtOutcome::Unreachable,
        CtOutcome::Timeout,
    ];

    /// The `outcome` label.
    pub fn label(self) -> &'static str {
        match self {
            CtOutcome::Logged => "logged",
            CtOutcome::Invalid => "invalid",
            CtOutcome::Refused => "refused",
            CtOutcome::Unreachable => "unreachable",
            CtOutcome::Timeout => "timeout",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One configured log's series.
#[derive(Debug)]
struct CtLogSeries {
    url: String,
    operator: String,
    latency: Histogram,
    outcomes: [AtomicU64; CtOutcome::ALL.len()],
}

/// Certificate Transparency, per configured log: submission latency and submissions by
/// outcome; and certificates by whether enough logs logged them. The logs (URL, operator) are
/// fixed when it is made, from the configuration.
#[derive(Debug)]
pub struct CtMetrics {
    logs: Vec<CtLogSeries>,
    /// Certificates issued with enough SCTs, and refused for too few.
    certificates: [AtomicU64; 2],
}

/// One log's series at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct CtLogSnapshot {
    /// Its configured URL.
    pub url: String,
    /// Who runs it.
    pub operator: String,
    /// Submission latency.
    pub latency: HistogramSnapshot,
    /// Submissions by outcome, every outcome listed.
    pub outcomes: Vec<(CtOutcome, u64)>,
}

impl CtMetrics {
    /// Series for `logs` (URL, operator), in configuration order; the index of each is the
    /// one [`CtMetrics::submission`] takes.
    pub fn new(logs: impl IntoIterator<Item = (String, String)>) -> CtMetrics {
        CtMetrics {
            logs: logs
                .into_iter()
                .map(|(url, operator)| CtLogSeries {
                    url,
                    operator,
                    latency: Histogram::default(),
                    outcomes: Default::default(),
                })
                .collect(),
            certificates: Default::default(),
        }
    }

    /// Log number `index` answered a submission with `outcome` after `latency`.
    pub fn submission(&self, index: usize, outcome: CtOutcome, latency: Duration) {
        let Some(log) = self.logs.get(index) else {
            return;
        };
        log.outcomes[outcome.index()].fetch_add(1, Ordering::Relaxed);
        log.latency.observe(latency);
    }

    /// A certificate was issued with enough SCTs (`true`), or refused for too few.
    pub fn certificate(&self, logged: bool) {
        self.certificates[usize::from(!logged)].fetch_add(1, Ordering::Relaxed);
    }

    /// Every log's series, in configuration order.
    pub fn logs(&self) -> Vec<CtLogSnapshot> {
        self.logs
            .iter()
            .map(|l| CtLogSnapshot {
                url: l.url.clone(),
                operator: l.operator.clone(),
                latency: l.latency.snapshot(),
                outcomes: CtOutcome::ALL
                    .iter()
                    .map(|o| (*o, l.outcomes[o.index()].load(Ordering::Relaxed)))
                    .collect(),
            })
            .collect()
    }

    /// Certificates issued with enough SCTs, and refused for too few.
    pub fn certificates(&self) -> (u64, u64) {
        (
            self.certificates[0].load(Ordering::Relaxed),
            self.certificates[1].load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_counts_each_observation_in_its_bucket_and_above() {
        let h = Histogram::default();
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_millis(30));
        h.observe(Duration::from_secs(60));
        let s = h.snapshot();
        assert_eq!(s.count, 3);
        assert_eq!(s.cumulative[0], (0.005, 1));
        assert_eq!(s.cumulative[3], (0.05, 2));
        assert_eq!(s.cumulative.last(), Some(&(30.0, 2)));
        assert!((s.sum_seconds - 60.033).abs() < 1e-9, "{}", s.sum_seconds);
    }

    #[test]
    fn perspective_series_are_the_configured_ones_only() {
        let m = MpicMetrics::new([("a".to_owned(), "eu".to_owned())]);
        m.answer(
            0,
            PerspectiveOutcome::Agree,
            Some(Duration::from_millis(20)),
        );
        m.answer(0, PerspectiveOutcome::NotAwaited, None);
        // An index no perspective has is not a new series.
        m.answer(
            7,
            PerspectiveOutcome::Agree,
            Some(Duration::from_millis(20)),
        );
        m.decision("http-01", "enforce", true);
        let s = m.perspectives();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].latency.count, 1);
        assert_eq!(s[0].outcomes[0], (PerspectiveOutcome::Agree, 1));
        assert_eq!(s[0].outcomes[6], (PerspectiveOutcome::NotAwaited, 1));
        assert_eq!(
            m.corroborations(),
            vec![("http-01", "enforce", "corroborated", 1)]
        );
    }
}
