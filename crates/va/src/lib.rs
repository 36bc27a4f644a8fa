//! ferrite-va: the validation authority. It proves that whoever asks for a
//! certificate controls the names in it, by the challenges of RFC 8555 §8.3
//! (http-01), §8.4 (dns-01) and RFC 8737 (tls-alpn-01).
//!
//! Every call resolves names itself (hickory-resolver, pointed at the
//! configured resolver or the one in `/etc/resolv.conf`), connects to an
//! address it chose, and returns either a [`ValidationRecord`] (the evidence
//! kept with the authorization) or a [`ValidationFailure`] whose detail a
//! customer can act on and whose [`FailureKind`] is the RFC 8555 problem type.
//!
//! What it must never do:
//! - connect to a loopback, private or reserved address unless
//!   [`VaConfig::allow_private_addresses`] says so (the CA would probe its own
//!   network for whoever asks);
//! - follow a redirect to any port but the http-01 / tls-alpn-01 ports, or
//!   more than 10 of them;
//! - cache a DNS answer (a customer's fresh TXT record must be seen);
//! - use an answer whose DNSSEC validation failed (bogus), unless
//!   [`VaConfig::dnssec`] is off;
//! - read a database: results go back to the engine through
//!   `ferrite-core`'s `Validator` trait, implemented in `core_validator`.
//!
//! Crypto is aws-lc-rs only, through rustls's aws-lc-rs provider.
//!
//! # Layout
//! - `va`: [`Va`], the shared state and the three public calls.
//! - `config`: [`VaConfig`].
//! - `record`: [`ValidationRecord`], [`ValidationFailure`], [`FailureKind`].
//! - `error`: [`VaError`], for building a [`Va`].
//! - `http01`, `dns01`, `tlsalpn01`: one challenge each.
//! - `caa`: CAA lookup (climbing to the parents) and evaluation (RFC 8659, RFC 8657).
//! - `resolve`: DNS lookups and their failures; resolv.conf parsing.
//! - `dnssec`: [`TrustAnchor`], and why an answer is bogus.
//! - `dial`: address filtering and connecting, IPv6 first.
//! - `address`: the special-purpose address ranges that are refused.
//! - `tls`: rustls client configs accepting any certificate ([`any_certificate_client_config`]).
//! - `key_authorization`: the digests compared by dns-01 and tls-alpn-01.
//! - `core_validator`: `impl ferrite_core::Validator for Va`.
//! - `mpic`: multi-perspective corroboration: the remote perspectives' wire types, the
//!   quorum, the agent and the primary's [`mpic::Corroborator`].
//! - `fuzzing` (only with `--cfg fuzzing`): entry points for the fuzz targets in `fuzz/`.
#![warn(missing_docs)]

mod address;
mod caa;
mod config;
mod core_validator;
mod dial;
mod dns01;
mod dnssec;
mod error;
#[cfg(fuzzing)]
pub mod fuzzing;
mod http01;
mod key_authorization;
mod key_cache;
pub mod mpic;
mod record;
mod resolve;
mod tls;
mod tlsalpn01;
mod va;

pub use caa::is_issuer_domain_name;
pub use config::VaConfig;
pub use dnssec::TrustAnchor;
pub use error::VaError;
pub use key_authorization::{
    ACME_TLS_1_ALPN, ID_PE_ACME_IDENTIFIER, dns01_txt_value, tlsalpn01_digest,
    tlsalpn01_extension_value,
};
pub use record::{FailureKind, ValidationFailure, ValidationRecord};
pub use tls::any_certificate_client_config;
pub use va::Va;
