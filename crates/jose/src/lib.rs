//! JOSE for Ferrite: parsing and verifying the JWS that carries every ACME request
//! (RFC 8555 §6.2, RFC 7515), public JWKs (RFC 7517/7518, RFC 8037), RFC 7638 thumbprints,
//! external account binding (RFC 8555 §7.3.4), and signers for tests.
//!
//! All cryptography is aws-lc-rs. Supported account-key algorithms are ES256, ES384, ES512
//! (fixed-length `R || S` signatures), RS256, PS256 and EdDSA (Ed25519); HS256/384/512 only
//! inside an externalAccountBinding.
//!
//! What this crate must never do:
//! - perform I/O (no network, no files, no clock): it is a pure function of its inputs;
//! - accept `alg: none`, a MAC on a request, an unprotected header, padded base64url, or a
//!   JWK with private members;
//! - let a secret (private key, EAB MAC key) reach a `Debug` or error message;
//! - decide ACME policy: nonce redemption, URL matching and account lookup belong to the
//!   caller, which gets every header member it needs from [`ProtectedHeader`].
//!
//! Typical use on the server: [`Jws::parse`] the body, take the key from
//! [`KeyRef::Jwk`] or look up the account for [`KeyRef::Kid`], then [`Jws::verify`].
//!
//! # Layout
//! - `algorithm` — [`Algorithm`], [`ACCOUNT_KEY_ALGORITHMS`], [`MAC_ALGORITHMS`].
//! - `base64url` — strict unpadded base64url.
//! - `der` — the minimal DER reader/writer SPKIs need.
//! - `envelope` — the flattened JWS JSON object, shared by requests and EAB.
//! - `error` — [`JoseError`].
//! - `jwk` — [`Jwk`]: parsing, validation, thumbprints, signature verification.
//! - `jws` — [`Jws`], [`ProtectedHeader`], [`KeyRef`].
//! - `spki` — [`Jwk::to_spki_der`] / [`Jwk::from_spki_der`].
//! - [`eab`] — [`eab::ExternalAccountBinding`].
//! - [`sign`] — [`sign::SigningKey`] and [`sign::external_account_binding`], for tests.
#![warn(missing_docs)]

mod algorithm;
mod base64url;
mod der;
pub mod eab;
mod envelope;
mod error;
mod jwk;
mod jws;
pub mod sign;
mod spki;

pub use algorithm::{ACCOUNT_KEY_ALGORITHMS, Algorithm, MAC_ALGORITHMS};
pub use error::JoseError;
pub use jwk::Jwk;
pub use jws::{Jws, KeyRef, ProtectedHeader};
