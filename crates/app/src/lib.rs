//! ferrite-app: a running Ferrite, assembled from its configuration in one place.
//!
//! `ferrite serve`, the operator commands and the testkit all build Ferrite here, so a test
//! runs the object graph production runs: the store the configuration names
//! ([`open_store`]), the CA certificates and keys, the validator, the engine, and the three
//! routers on their listeners ([`Ferrite`]). This is where the store is chosen (SQLite or
//! PostgreSQL) and where the CA keys are taken from files or a PKCS#11 token.
//!
//! What it must never do: hold a policy of its own (the engine decides), or print to stdout
//! (the binary decides what an operator sees; this crate logs).
//!
//! # Layout
//! - [`ca`]: the CA keys and certificates as `[ca]` places them (files or a PKCS#11 token):
//!   loading for `serve`, the key ceremony (`ferrite ca init`), the report (`ferrite ca show`).
//! - [`config`]: [`Config`], the file's shape, loading (defaults ← TOML ← `FERRITE_*`) and
//!   validation, and the engine settings derived from it.
//! - [`kek`]: the EAB key-encryption key (`eab.kek` or `data_dir/eab.kek`).
//! - [`data_dir`]: the data directory's permissions (private but for `ca/`).
//! - [`mpic`]: multi-perspective corroboration: the MPIC CA in `data_dir/mpic`, agent
//!   enrollment and bundles, the corroborated validator `[mpic]` describes.
//! - `instance`: [`Listeners`], [`Hooks`], [`Ferrite`] and [`Running`]: build and serve.
#![warn(missing_docs)]

pub mod ca;
pub mod config;
pub mod data_dir;
mod instance;
pub mod kek;
mod listener_cert;
pub mod mpic;

pub use config::Config;
pub use instance::{
    EngineChange, Ferrite, Hooks, Listeners, Running, ValidatorChange, migrate,
    open_existing_store, open_registry, open_store, raise_open_file_limit,
};
