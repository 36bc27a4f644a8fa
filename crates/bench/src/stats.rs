//! Latency statistics: nearest-rank percentiles over every sample (no histogram buckets, so
//! p99 of a few hundred samples is a real sample, not an interpolation).

use std::time::Duration;

/// The nearest-rank percentile (`p` in 0..=100) of `sorted` (ascending): the smallest sample
/// such that at least `p`% of the samples are less than or equal to it. `None` when empty.
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let p = p.clamp(0.0, 100.0);
    let n = sorted.len();
    // rank = ceil(p/100 * n), at least 1. Computed in integers where possible to avoid
    // 0.95 * 100 = 94.99999 rounding surprises.
    let scaled = p / 100.0 * n as f64;
    let rank = ((scaled - 1e-9).ceil() as usize).clamp(1, n);
    sorted.get(rank - 1).copied()
}

/// Summary of one endpoint's latencies, in milliseconds.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LatencySummary {
    /// Number of samples.
    pub count: usize,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest sample.
    pub max_ms: f64,
    /// Arithmetic mean.
    pub mean_ms: f64,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl LatencySummary {
    /// Summarises `samples` (any order). `None` when there are none.
    pub fn of(samples: &mut [Duration]) -> Option<LatencySummary> {
        samples.sort_unstable();
        let max = *samples.last()?;
        let total: Duration = samples.iter().sum();
        Some(LatencySummary {
            count: samples.len(),
            p50_ms: ms(percentile(samples, 50.0)?),
            p95_ms: ms(percentile(samples, 95.0)?),
            p99_ms: ms(percentile(samples, 99.0)?),
            max_ms: ms(max),
            mean_ms: ms(total) / samples.len() as f64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn nearest_rank_on_one_to_hundred() {
        let sorted = millis(&(1..=100).collect::<Vec<_>>());
        assert_eq!(percentile(&sorted, 50.0), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&sorted, 95.0), Some(Duration::from_millis(95)));
        assert_eq!(percentile(&sorted, 99.0), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&sorted, 100.0), Some(Duration::from_millis(100)));
        assert_eq!(percentile(&sorted, 0.0), Some(Duration::from_millis(1)));
    }

    #[test]
    fn small_samples_pick_real_values() {
        // Wikipedia's nearest-rank example: 15, 20, 35, 40, 50.
        let sorted = millis(&[15, 20, 35, 40, 50]);
        assert_eq!(percentile(&sorted, 5.0), Some(Duration::from_millis(15)));
        assert_eq!(percentile(&sorted, 30.0), Some(Duration::from_millis(20)));
        assert_eq!(percentile(&sorted, 40.0), Some(Duration::from_millis(20)));
        assert_eq!(percentile(&sorted, 50.0), Some(Duration::from_millis(35)));
        assert_eq!(percentile(&sorted, 99.0), Some(Duration::from_millis(50)));
        let one = millis(&[7]);
        assert_eq!(percentile(&one, 99.0), Some(Duration::from_millis(7)));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn summary_sorts_and_reports_max_and_mean() {
        let mut samples = millis(&[9, 1, 5, 3, 7, 2, 8, 4, 6, 10]);
        let s = LatencySummary::of(&mut samples).unwrap();
        assert_eq!(s.count, 10);
        assert_eq!(s.p50_ms, 5.0);
        assert_eq!(s.p95_ms, 10.0);
        assert_eq!(s.p99_ms, 10.0);
        assert_eq!(s.max_ms, 10.0);
        assert!((s.mean_ms - 5.5).abs() < 1e-9);
        assert_eq!(LatencySummary::of(&mut []), None);
    }
}
