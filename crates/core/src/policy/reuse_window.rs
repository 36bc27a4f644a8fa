//! How long a domain validation may be relied on (CA/Browser Forum Baseline Requirements
//! §4.2.1, as amended by ballot SC-081).
//!
//! BR §4.2.1: "the CA MAY use the documents and data provided in Section 3.2 to verify
//! certificate information, or may reuse previous validations themselves, provided that the CA
//! obtained the data or document from a source specified under Section 3.2 or completed the
//! validation itself no more than [the period in force on the date of issuance] prior to
//! issuing the Certificate". The period shrinks on fixed dates; the operator may choose a
//! shorter one, never a longer one.

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// The maximum before the first step of the table (398 days, in force since 2021).
const BR_BEFORE_DAYS: i64 = 398;

/// BR §4.2.1 (SC-081): from each date on, the longest a domain validation may be reused.
const BR_TABLE: [(OffsetDateTime, i64); 3] = [
    (datetime!(2026-03-15 00:00 UTC), 200),
    (datetime!(2027-03-15 00:00 UTC), 100),
    (datetime!(2029-03-15 00:00 UTC), 10),
];

/// A validation is not reused for a new order when less than this is left of its window: the
/// order (whose expiry is cut to the window) then keeps at least a day to validate its other
/// names and finalize. One fresh challenge costs an automated client seconds; an order that
/// expires under it costs a failed renewal.
pub const MIN_REUSE_REMAINING: Duration = Duration::days(1);

/// The Baseline Requirements maximum reuse period for a certificate issued at `at`.
pub fn br_max_reuse(at: OffsetDateTime) -> Duration {
    let days = BR_TABLE
        .iter()
        .rev()
        .find(|(from, _)| at >= *from)
        .map_or(BR_BEFORE_DAYS, |(_, days)| *days);
    Duration::days(days)
}

/// The reuse window in force: the BR table, shortened by the operator's limit if set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReusePolicy {
    /// The operator's maximum (`validation.reuse_days`); `None`: the BR maximum. A longer value
    /// has no effect beyond the table: [`ReusePolicy::window_at`] takes the shorter.
    pub operator_max: Option<Duration>,
}

impl ReusePolicy {
    /// A policy with the operator's maximum.
    pub fn new(operator_max: Option<Duration>) -> Self {
        Self { operator_max }
    }

    /// The window for issuance at `at`: min(BR table at `at`, operator's maximum).
    pub fn window_at(&self, at: OffsetDateTime) -> Duration {
        let br = br_max_reuse(at);
        self.operator_max.map_or(br, |max| max.min(br))
    }

    /// Whether the operator's maximum is longer than the BR allows at `at` (and so is cut to
    /// the table): worth a warning at startup.
    pub fn operator_max_exceeds_br(&self, at: OffsetDateTime) -> bool {
        self.operator_max.is_some_and(|max| max > br_max_reuse(at))
    }

    /// The first instant at which a validation completed at `validated_at` may no longer be
    /// relied on: the earliest `t` with `t - validated_at >= window_at(t)`. Because the table
    /// only ever shrinks, this also accounts for a step of the table falling between now and
    /// `t` (a validation from 2027-01-01 is good for 200 days by the table of its day, but only
    /// until 2027-04-11 under the 100-day rule that starts on 2027-03-15).
    pub fn reusable_until(&self, validated_at: OffsetDateTime) -> OffsetDateTime {
        // The table as segments [start, end) of constant BR maximum; the first has no start,
        // the last no end.
        let starts = std::iter::once(None).chain(BR_TABLE.iter().map(|(from, _)| Some(*from)));
        let days = std::iter::once(BR_BEFORE_DAYS).chain(BR_TABLE.iter().map(|(_, d)| *d));
        let ends = BR_TABLE
            .iter()
            .map(|(from, _)| Some(*from))
            .chain(std::iter::once(None));
        let mut last = validated_at;
        for ((start, days), end) in starts.zip(days).zip(ends) {
            let window = self
                .operator_max
                .map_or(Duration::days(days), |max| max.min(Duration::days(days)));
            // In this segment the validation runs out at validated_at + window, or as soon as
            // the segment starts if it is already older than that.
            let mut until = validated_at.saturating_add(window);
            if let Some(start) = start {
                until = until.max(start);
            }
            if end.is_none_or(|end| until < end) {
                return until;
            }
            last = until;
        }
        last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn br_table_steps_on_its_dates() {
        let d = |days| Duration::days(days);
        assert_eq!(br_max_reuse(datetime!(2026-03-14 23:59:59 UTC)), d(398));
        assert_eq!(br_max_reuse(datetime!(2026-03-15 00:00 UTC)), d(200));
        assert_eq!(br_max_reuse(datetime!(2027-03-14 12:00 UTC)), d(200));
        assert_eq!(br_max_reuse(datetime!(2027-03-15 00:00 UTC)), d(100));
        assert_eq!(br_max_reuse(datetime!(2029-03-14 12:00 UTC)), d(100));
        assert_eq!(br_max_reuse(datetime!(2029-03-15 00:00 UTC)), d(10));
        assert_eq!(br_max_reuse(datetime!(2040-01-01 00:00 UTC)), d(10));
    }

    #[test]
    fn operator_can_shorten_never_lengthen() {
        let at = datetime!(2026-11-30 00:00 UTC);
        let short = ReusePolicy::new(Some(Duration::days(30)));
        assert_eq!(short.window_at(at), Duration::days(30));
        assert!(!short.operator_max_exceeds_br(at));
        let long = ReusePolicy::new(Some(Duration::days(400)));
        assert_eq!(long.window_at(at), Duration::days(200));
        assert!(long.operator_max_exceeds_br(at));
        assert_eq!(ReusePolicy::default().window_at(at), Duration::days(200));
        // 150 days is allowed today but not after 2027-03-15.
        let mid = ReusePolicy::new(Some(Duration::days(150)));
        assert_eq!(
            mid.window_at(datetime!(2027-06-01 00:00 UTC)),
            Duration::days(100)
        );
    }

    #[test]
    fn reusable_until_follows_the_table_across_its_steps() {
        let p = ReusePolicy::default();
        // Inside one step: validated_at + window.
        let v = datetime!(2026-06-01 10:00 UTC);
        assert_eq!(p.reusable_until(v), v + Duration::days(200));
        // 200 days from 2027-01-01 is past 2027-03-15, where 100 days apply: 2027-04-11.
        let v = datetime!(2027-01-01 00:00 UTC);
        assert_eq!(p.reusable_until(v), v + Duration::days(100));
        // Already older than 100 days when the 100-day rule starts: over at the step.
        let v = datetime!(2026-11-01 00:00 UTC);
        assert_eq!(p.reusable_until(v), datetime!(2027-03-15 00:00 UTC));
        // Before the first step: 398 days, unless the 200-day rule of 2026-03-15 ends it first.
        let v = datetime!(2025-01-01 00:00 UTC);
        assert_eq!(p.reusable_until(v), v + Duration::days(398));
        let v = datetime!(2025-06-01 00:00 UTC);
        assert_eq!(p.reusable_until(v), datetime!(2026-03-15 00:00 UTC));
        let v = datetime!(2026-03-01 00:00 UTC);
        assert_eq!(p.reusable_until(v), v + Duration::days(200));
        // The operator's limit applies everywhere.
        let short = ReusePolicy::new(Some(Duration::days(30)));
        let v = datetime!(2026-06-01 10:00 UTC);
        assert_eq!(short.reusable_until(v), v + Duration::days(30));
        // Far future: 10 days.
        let v = datetime!(2030-01-01 00:00 UTC);
        assert_eq!(p.reusable_until(v), v + Duration::days(10));
    }
}
