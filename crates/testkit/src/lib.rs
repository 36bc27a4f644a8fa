//! ferrite-testkit: dev-only fixtures for Ferrite's tests. Everything here
//! listens on 127.0.0.1 port 0 (or, in a namespace a test made with `netns`, on the
//! addresses the test gave it) and stops when dropped; nothing contacts another host.
//!
//! What it must never do: be a dependency of a shipped crate, or reach any
//! address outside loopback and the test's own namespaces.
//!
//! # Layout
//! - `ca`: [`ca::TestCa`], the whole CA in-process on 127.0.0.1:0 with the fixtures below.
//! - `checks`: [`bounded`], [`assert_problem`] and [`assert_case_problem`], shared by the
//!   scenario tests.
//! - `eab`: [`eab::IssuedMacKey`], MAC keys made through the engine for EAB-bound accounts.
//! - `keys`: [`keys::ChosenRsaKey`], RSA keys from chosen primes for weak-key and SHA-1 CSRs.
//! - `raw`: [`raw::RawClient`], hand-built signed requests for the cases real clients never send.
//! - `dns`: [`dns::MockDns`], an authoritative mock DNS (UDP and TCP) whose
//!   answers tests set, like pebble-challtestsrv; it can serve a signed zone
//!   (`dnssec`: the signing key, NSEC denials, injected faults).
//! - `responders`: [`responders::Http01Responder`] and
//!   [`responders::TlsAlpn01Responder`], challenge servers a test fills in.
//! - `netns`: [`netns::Netns`], network namespaces a test makes and links with veth pairs,
//!   with runtimes whose sockets live inside them (separate network perspectives).
//! - `postgres`: [`postgres::PgCluster`], a PostgreSQL cluster of a test's own, to stop and
//!   start under load.
//! - `softhsm`: [`softhsm::SoftHsm`], a throwaway SoftHSM token store with its own
//!   `SOFTHSM2_CONF`, and [`softhsm::in_own_process`] for tests that load the module.
#![warn(missing_docs)]
// Dev-only fixtures: failing loudly is what a test wants.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod ca;
pub mod checks;
pub mod ct_log;
pub mod dns;
mod dnssec;
pub mod eab;
pub mod keys;
pub mod netns;
pub mod postgres;
pub mod raw;
pub mod responders;
pub mod softhsm;

pub use ca::{RawIssued, TestCa, TestCaOptions};
pub use checks::{assert_case_problem, assert_problem, bounded, challenge};
pub use raw::{RawAccount, RawClient, RawResponse};
