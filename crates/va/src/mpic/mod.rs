//! Multi-perspective issuance corroboration (Baseline Requirements §3.2.2.9): every
//! validation and CAA check the primary makes is made again from remote network
//! perspectives, so that one hijacked route cannot get a certificate issued.
//!
//! A remote perspective is a `ferrite va-agent`: it runs this crate's [`Va`](crate::Va) with
//! its own resolver and no shared cache, holds no CA key and no database, and answers the
//! primary over mutual TLS with a result signed by its own key. The primary's
//! [`Corroborator`] wraps its own validator, asks every perspective in parallel with a
//! timeout, and decides by the quorum table ([`quorum`]).
//!
//! What it must never do: accept a result whose signature does not verify with the
//! perspective's enrolled certificate, or that answers another request; let an agent answer a
//! request twice or after its expiry.
//!
//! # Layout
//! - `quorum`: the BR quorum table and [`Tally`], which decides as soon as the outcome is
//!   certain.
//! - `wire`: [`PerspectiveRequest`], [`PerspectiveResult`], [`SignedResult`], signing and
//!   verifying.
//! - `config`: [`MpicMode`], [`PerspectiveConfig`] and their checks.
//! - `tls`: the mutual TLS configurations of both ends.
//! - `agent`: [`Agent`] and [`serve`]: the remote perspective's server.
//! - `client`: [`RemotePerspective`]: the primary's side of one perspective.
//! - `corroborate`: [`Corroborator`], the primary's corroborated validator.

mod agent;
mod client;
mod config;
mod corroborate;
pub mod quorum;
pub mod tls;
mod wire;

pub use agent::{Agent, Refusal, serve};
pub use client::{AskError, ConnectionSettings, RemotePerspective};
pub use corroborate::{Corroboration, Corroborator, PerspectiveAnswer};

pub use config::{MpicMode, PerspectiveConfig, check_perspectives, is_perspective_id};
pub use quorum::{Decision, Tally, allowed_non_corroborations};
pub use wire::{
    CHECK_PATH, Check, MAX_REQUEST_LIFETIME_SECS, Outcome, PerspectiveRequest, PerspectiveResult,
    ResultError, ResultSigner, ResultVerifier, SignedResult, request_digest,
};
