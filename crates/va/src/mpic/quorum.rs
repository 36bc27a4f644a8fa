//! The Baseline Requirements §3.2.2.9 quorum: how many remote perspectives may fail to
//! corroborate the primary's result, and when the outcome is certain.
//!
//! | remote perspectives | allowed non-corroborations |
//! |---|---|
//! | 1 | 0 |
//! | 2–5 | 1 |
//! | 6 or more | 2 |
//!
//! The primary perspective's own result must pass as well; that is checked by the caller.

/// How many of `remote` perspectives may disagree (or not answer) while issuance goes ahead
/// (BR §3.2.2.9, "Quorum Requirements").
pub fn allowed_non_corroborations(remote: usize) -> usize {
    match remote {
        0 | 1 => 0,
        2..=5 => 1,
        _ => 2,
    }
}

/// Where a corroboration stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Enough perspectives have not answered yet for either outcome to be certain.
    Pending,
    /// Enough perspectives agreed: the remaining answers cannot change the outcome.
    Corroborated,
    /// More perspectives disagreed than the quorum allows: no answer still outstanding can
    /// change that.
    NotCorroborated,
}

/// Counts the remote perspectives' answers as they arrive and decides as early as the
/// outcome is certain.
#[derive(Clone, Debug)]
pub struct Tally {
    total: usize,
    allowed: usize,
    agreed: usize,
    disagreed: usize,
}

impl Tally {
    /// A tally for `total` remote perspectives.
    pub fn new(total: usize) -> Tally {
        Tally {
            total,
            allowed: allowed_non_corroborations(total),
            agreed: 0,
            disagreed: 0,
        }
    }

    /// Counts one answer (`agreed`: the perspective saw what the primary saw; an unreachable
    /// or late perspective, or one whose result could not be verified, did not) and returns
    /// the decision so far. Answers beyond `total` are ignored.
    pub fn record(&mut self, agreed: bool) -> Decision {
        if self.agreed + self.disagreed < self.total {
            if agreed {
                self.agreed += 1;
            } else {
                self.disagreed += 1;
            }
        }
        self.decision()
    }

    /// The decision so far; a perspective that has not answered when the caller gives up
    /// counts as disagreeing (see [`Tally::give_up`]).
    pub fn decision(&self) -> Decision {
        if self.disagreed > self.allowed {
            Decision::NotCorroborated
        } else if self.agreed + self.allowed >= self.total {
            Decision::Corroborated
        } else {
            Decision::Pending
        }
    }

    /// The final decision when the remaining perspectives will not answer (timeout): each
    /// counts as disagreeing.
    pub fn give_up(&mut self) -> Decision {
        while self.decision() == Decision::Pending {
            self.record(false);
        }
        self.decision()
    }

    /// The perspectives counted as agreeing.
    pub fn agreed(&self) -> usize {
        self.agreed
    }

    /// The perspectives counted as disagreeing.
    pub fn disagreed(&self) -> usize {
        self.disagreed
    }

    /// How many may disagree.
    pub fn allowed(&self) -> usize {
        self.allowed
    }

    /// How many remote perspectives take part.
    pub fn total(&self) -> usize {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_table_follows_the_baseline_requirements() {
        for (remote, allowed) in [
            (1, 0),
            (2, 1),
            (3, 1),
            (4, 1),
            (5, 1),
            (6, 2),
            (7, 2),
            (10, 2),
        ] {
            assert_eq!(allowed_non_corroborations(remote), allowed, "{remote}");
        }
    }

    /// Every order of agreeing and disagreeing answers, for 1 to 7 perspectives: the final
    /// decision is corroborated exactly when at most the allowed number disagree.
    #[test]
    fn final_decision_matches_the_table_for_every_answer_pattern() {
        for total in 1..=7usize {
            for pattern in 0u32..(1 << total) {
                let mut tally = Tally::new(total);
                let mut decided = None;
                for i in 0..total {
                    let d = tally.record(pattern & (1 << i) == 0);
                    if d != Decision::Pending && decided.is_none() {
                        decided = Some(d);
                    }
                }
                let disagreeing = pattern.count_ones() as usize;
                let want = if disagreeing <= allowed_non_corroborations(total) {
                    Decision::Corroborated
                } else {
                    Decision::NotCorroborated
                };
                assert_eq!(tally.decision(), want, "{total} perspectives, {pattern:b}");
                // The early decision never differs from the final one.
                assert_eq!(decided, Some(want), "{total} perspectives, {pattern:b}");
            }
        }
    }

    #[test]
    fn five_perspectives_decide_after_four_agree() {
        let mut tally = Tally::new(5);
        for _ in 0..3 {
            assert_eq!(tally.record(true), Decision::Pending);
        }
        assert_eq!(tally.record(true), Decision::Corroborated);
    }

    #[test]
    fn five_perspectives_refuse_at_the_second_disagreement() {
        let mut tally = Tally::new(5);
        assert_eq!(tally.record(false), Decision::Pending);
        assert_eq!(tally.record(true), Decision::Pending);
        assert_eq!(tally.record(false), Decision::NotCorroborated);
        // Later answers do not change a certain outcome.
        assert_eq!(tally.record(true), Decision::NotCorroborated);
    }

    #[test]
    fn six_perspectives_allow_two_disagreements() {
        let mut tally = Tally::new(6);
        assert_eq!(tally.record(false), Decision::Pending);
        assert_eq!(tally.record(false), Decision::Pending);
        for _ in 0..3 {
            assert_eq!(tally.record(true), Decision::Pending);
        }
        assert_eq!(tally.record(true), Decision::Corroborated);
        let mut tally = Tally::new(6);
        for _ in 0..3 {
            tally.record(false);
        }
        assert_eq!(tally.decision(), Decision::NotCorroborated);
    }

    #[test]
    fn giving_up_counts_the_silent_as_disagreeing() {
        let mut tally = Tally::new(5);
        tally.record(true);
        tally.record(true);
        tally.record(true);
        // Two silent perspectives: more than one non-corroboration.
        assert_eq!(tally.give_up(), Decision::NotCorroborated);
        let mut tally = Tally::new(5);
        for _ in 0..4 {
            tally.record(true);
        }
        assert_eq!(tally.give_up(), Decision::Corroborated);
    }

    #[test]
    fn answers_beyond_the_total_are_ignored() {
        let mut tally = Tally::new(2);
        tally.record(true);
        tally.record(true);
        tally.record(false);
        tally.record(false);
        assert_eq!((tally.agreed(), tally.disagreed()), (2, 0));
        assert_eq!(tally.decision(), Decision::Corroborated);
    }
}
