//! What a validation did ([`ValidationRecord`]) and why it failed
//! ([`ValidationFailure`], [`FailureKind`]).

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// What was done during a validation, kept as evidence with the
/// authorization (Boulder keeps the same facts in its `validationRecord`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationRecord {
    /// `"http-01"`, `"dns-01"` or `"tls-alpn-01"`.
    pub method: String,
    /// The name being validated, as given by the caller.
    pub hostname: String,
    /// The port connected to (None for dns-01).
    pub port: Option<u16>,
    /// The first URL fetched (http-01 only).
    pub url: Option<String>,
    /// Every address the name (and each redirect target) resolved to, before
    /// filtering, in the order they were tried.
    pub addresses_resolved: Vec<IpAddr>,
    /// The address of the last connection made.
    pub address_used: Option<IpAddr>,
    /// The TXT values seen (dns-01 only).
    pub dns_answers: Vec<String>,
    /// The URLs redirected to, in order (http-01 only).
    pub redirects: Vec<String>,
}

impl ValidationRecord {
    pub(crate) fn new(method: &str, hostname: &str) -> Self {
        Self {
            method: method.to_owned(),
            hostname: hostname.to_owned(),
            ..Self::default()
        }
    }
}

/// The RFC 8555 §6.7 problem type a failed validation is reported with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FailureKind {
    /// `urn:ietf:params:acme:error:dns`: the name did not resolve (NXDOMAIN,
    /// no records, SERVFAIL, timeout) or resolved only to refused addresses.
    Dns,
    /// `urn:ietf:params:acme:error:connection`: no connection could be made or
    /// kept (refused, reset, timed out, bad redirect).
    Connection,
    /// `urn:ietf:params:acme:error:incorrectResponse`: an answer came, but not
    /// the expected one (wrong key authorization, wrong TXT, wrong certificate).
    IncorrectResponse,
    /// `urn:ietf:params:acme:error:tls`: the TLS handshake failed or did not
    /// negotiate what the challenge needs.
    Tls,
    /// `urn:ietf:params:acme:error:unauthorized`: the server answered with an
    /// HTTP error status instead of the key authorization.
    Unauthorized,
}

impl FailureKind {
    /// The problem type URN (RFC 8555 §6.7).
    pub fn problem_type(self) -> &'static str {
        match self {
            Self::Dns => "urn:ietf:params:acme:error:dns",
            Self::Connection => "urn:ietf:params:acme:error:connection",
            Self::IncorrectResponse => "urn:ietf:params:acme:error:incorrectResponse",
            Self::Tls => "urn:ietf:params:acme:error:tls",
            Self::Unauthorized => "urn:ietf:params:acme:error:unauthorized",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.problem_type())
    }
}

/// A validation that did not succeed: the customer's to fix, with the
/// evidence gathered until it stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind}: {detail}")]
pub struct ValidationFailure {
    /// The problem type to report.
    pub kind: FailureKind,
    /// A sentence a customer can act on: it names the URL, name or address
    /// and says what was seen.
    pub detail: String,
    /// What was done before the failure.
    pub record: ValidationRecord,
}

/// A failure before it is joined with its record: what the validation steps
/// return.
#[derive(Debug)]
pub(crate) struct Problem {
    pub(crate) kind: FailureKind,
    pub(crate) detail: String,
}

impl Problem {
    pub(crate) fn new(kind: FailureKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }
}

/// Shows at most the first 64 bytes of what a server sent, escaped, so a
/// detail stays one readable line whatever the server sent.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(64)];
    format!("{:?}", String::from_utf8_lossy(cut))
}
