//! [`max_leaf_validity`]: the longest subscriber certificate validity the Baseline
//! Requirements allow on a given issuance date.

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// Baseline Requirements §6.3.2, as (first issuance instant, maximum validity period), newest
/// last. "Validity period" counts both ends: `notAfter − notBefore + 1 s`.
const TABLE: [(OffsetDateTime, Duration); 3] = [
    // "issued on or after March 15, 2026 and before March 15, 2027: 200 days"
    (datetime!(2026-03-15 00:00 UTC), Duration::days(200)),
    // "issued on or after March 15, 2027 and before March 15, 2029: 100 days"
    (datetime!(2027-03-15 00:00 UTC), Duration::days(100)),
    // "issued on or after March 15, 2029: 47 days"
    (datetime!(2029-03-15 00:00 UTC), Duration::days(47)),
];

/// "issued before March 15, 2026: 398 days".
const BEFORE_TABLE: Duration = Duration::days(398);

/// The longest subscriber certificate validity this CA signs on any date: 200 days (Baseline
/// Requirements §6.3.2 from 2026-03-15; shorter from 2027-03-15, see [`max_leaf_validity`],
/// which issuance applies). Validity counts both ends, so `not_after - not_before + 1s`.
pub const MAX_LEAF_VALIDITY: Duration = Duration::days(200);

/// The longest Short-lived Subscriber Certificate (Baseline Requirements §1.6.1): 7 days
/// (604,800 s) for certificates issued from 2026-03-15, 10 days before. The shorter limit is
/// applied on every date. Only such a certificate may go without a CRL distribution point when
/// it has no OCSP URL (§7.1.2.11.2).
pub(crate) const SHORT_LIVED_MAX_VALIDITY: Duration = Duration::days(7);

/// Baseline Requirements §6.3.2: the maximum validity period of a subscriber certificate
/// issued at `issued_at` (398 days before 2026-03-15, 200 days from then, 100 days from
/// 2027-03-15, 47 days from 2029-03-15). The period includes both ends, so a certificate
/// with `notBefore = t` may have at most `notAfter = t + max − 1 s`.
pub fn max_leaf_validity(issued_at: OffsetDateTime) -> Duration {
    TABLE
        .iter()
        .rev()
        .find(|(from, _)| issued_at >= *from)
        .map_or(BEFORE_TABLE, |(_, max)| *max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_steps_down_on_the_br_dates() {
        let second = Duration::seconds(1);
        let cases = [
            (datetime!(2025-12-01 00:00 UTC), 398),
            (datetime!(2026-03-15 00:00 UTC) - second, 398),
            (datetime!(2026-03-15 00:00 UTC), 200),
            (datetime!(2026-11-30 12:00 UTC), 200),
            (datetime!(2027-03-15 00:00 UTC) - second, 200),
            (datetime!(2027-03-15 00:00 UTC), 100),
            (datetime!(2029-03-15 00:00 UTC) - second, 100),
            (datetime!(2029-03-15 00:00 UTC), 47),
            (datetime!(2040-01-01 00:00 UTC), 47),
        ];
        for (at, days) in cases {
            assert_eq!(max_leaf_validity(at), Duration::days(days), "{at}");
        }
    }
}
