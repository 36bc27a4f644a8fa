//! Validation and identifier policy: which names this CA will authorize, which earlier
//! validations a new order may rely on, and for how long. Pure functions of their inputs (and
//! of the time passed in), so every rule is unit-tested without a store or a clock.
//!
//! # Layout
//! - `identifiers`: [`IdentifierPolicy`], names refused at newOrder (`rejectedIdentifier`).
//! - `public_suffix`: the ICANN section of the public suffix list.
//! - `reuse_window`: [`ReusePolicy`], the CA/Browser Forum reuse table and the operator's limit.
//! - `coverage`: which validated names authorize which requested names.

mod coverage;
mod identifiers;
mod public_suffix;
mod reuse_window;

pub use coverage::{candidate_domains, covers};
pub use identifiers::IdentifierPolicy;
pub use public_suffix::is_icann_public_suffix;
pub use reuse_window::{MIN_REUSE_REMAINING, ReusePolicy, br_max_reuse};
