//! ferrite-bench: a load generator that drives any ACME directory (Ferrite, Pebble, another
//! CA) with N concurrent clients, each running full RFC 8555 flows — new account (optionally
//! with EAB), new order, authorization, http-01 answered by the generator's own responder,
//! finalize with a fresh P-256 or RSA-2048 key, polling, download — and measures issuances per
//! second, per-endpoint latency, errors by problem type and, given the server's PID, its CPU
//! time and peak RSS from `/proc`.
//!
//! What it must never do:
//! - talk to anything but loopback: a directory URL whose host is not 127.0.0.0/8, `::1` or
//!   `localhost` is refused, and every URL the server hands out must have the directory's
//!   origin;
//! - run unbounded: issuances, wall time and every request have limits;
//! - print an EAB MAC key (it is held in [`config::MacKey`], whose `Debug` is redacted).
//!
//! Performance is measured by running this tool, never by timed assertions in tests.
//!
//! # Layout
//! - [`config`] — [`BenchConfig`] and the loopback check.
//! - `http` — one keep-alive HTTPS connection per client (rustls over aws-lc-rs).
//! - `flow` — one full issuance, timing each endpoint.
//! - [`responder`] — the http-01 responder and the [`responder::Http01Sink`] trait.
//! - [`stats`] — percentiles and latency summaries.
//! - [`procfs`] — CPU seconds and RSS of a process from `/proc`.
//! - [`report`] — [`Report`] (JSON) and the summary table.
//! - `progress` — the progress bar on stderr.
//! - `run` — [`run()`]: clients, bounds, collection.
#![warn(missing_docs)]

pub mod config;
mod flow;
mod http;
pub mod procfs;
mod progress;
pub mod report;
pub mod responder;
mod run;
pub mod stats;

pub use config::{BenchConfig, KeyType};
pub use report::Report;
pub use run::{BenchError, ISSUANCE, endpoint_order, run};
