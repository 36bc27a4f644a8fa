//! RFC 8555 wire types: the JSON objects an ACME client and server exchange, identifiers, statuses
//! and problem documents.
//!
//! This crate does no I/O and no cryptography: it only names things the way RFC 8555 names them,
//! so that every other crate speaks the same words. Timestamps are RFC 3339 strings here; the
//! engine (`ferrite-core`) formats them.
//!
//! # Layout
//! - [`identifier`]: `Identifier` and its validation as an LDH DNS name.
//! - [`status`]: the status enums of §7.1.6.
//! - [`problem`]: problem documents (§6.7) and their HTTP statuses.
//! - [`resources`]: directory, account, order, authorization and challenge objects (§7.1).
//! - [`requests`]: request payloads (§7.3–§7.6).
#![warn(missing_docs)]

pub mod identifier;
pub mod problem;
pub mod requests;
pub mod resources;
pub mod status;

pub use identifier::{Identifier, IdentifierType};
pub use problem::{Problem, ProblemType};
pub use status::{AccountStatus, AuthorizationStatus, ChallengeStatus, ChallengeType, OrderStatus};
