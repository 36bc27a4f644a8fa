//! The Ferrite engine: the ACME domain model, its state machines and the flows of RFC 8555
//! (accounts, orders, authorizations, challenges, finalize, revocation).
//!
//! `core` decides; it does no network or SQL itself, and holds no key. It defines the traits
//! the crates around it implement: [`Store`] (ferrite-store), [`Validator`] (ferrite-va),
//! [`CertificateIssuer`] (ferrite-pki's issuer, or a signer holding its key elsewhere) and
//! [`Clock`]. The HTTP layer
//! (ferrite-server) parses and verifies requests, calls [`Ca`] and renders what comes back.
//!
//! # Layout
//! - [`model`]: accounts, orders, authorizations, challenges, certificates.
//! - [`store`]: the `Store` trait and its error.
//! - [`validator`]: the `Validator` trait.
//! - [`issuer`]: the `CertificateIssuer` trait, implemented here for `ferrite_pki::Issuer`.
//! - [`clock`]: `Clock`, `SystemClock`, `TestClock`.
//! - [`status`]: derived statuses (order `ready`, expiry).
//! - [`policy`]: identifier policy, validation reuse window and coverage (dns-01 parents).
//! - [`ca`]: the engine and its configuration.
//! - [`audit`]: the tamper-evident audit log's entries and hash chain.
//! - [`rate_limit`]: the rate limits, their values and the GCRA arithmetic.
//! - [`eab`]: customers, API credentials, EAB MAC keys (the binding model, §7.3.4).
//! - [`support_trail`]: a refused request as the operator (and its customer) looks it up.
//! - [`error`]: `CoreError`, mapped to problem documents.
//! - [`metrics`]: what the engine counts for the operator's `/metrics`.
//! - [`ids`]: random identifiers and tokens.
//! - [`pool`]: connections kept open between requests to one peer.
//! - `nonce`: anti-replay nonces that carry their expiry and a MAC (RFC 8555 §6.5).
//! - `fuzzing` (only with `--cfg fuzzing`): entry points for the fuzz targets in `fuzz/`.
#![warn(missing_docs)]

pub mod audit;
pub mod ca;
pub mod clock;
pub mod eab;
pub mod error;
#[cfg(fuzzing)]
pub mod fuzzing;
pub mod ids;
pub mod issuer;
pub mod metrics;
pub mod model;
mod nonce;
pub mod policy;
pub mod pool;
pub mod rate_limit;
pub mod status;
pub mod store;
pub mod support_trail;
pub mod validator;

pub use ca::{Ca, CaConfig, Reader, RevocationAuth};
pub use clock::{Clock, SystemClock, TestClock};
pub use error::CoreError;
pub use issuer::CertificateIssuer;
pub use store::{OrderChecks, OrderInsert, RateStep, Store, StoreError};
pub use validator::{CaaEvidence, CaaRequest, ValidationRequest, Validator};
