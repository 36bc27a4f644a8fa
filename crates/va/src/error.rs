//! The crate's one error type, for building a [`Va`](crate::Va).
//!
//! A validation that does not succeed is not an error of the VA: it is a
//! [`ValidationFailure`](crate::ValidationFailure), the customer's to fix.

use std::path::PathBuf;

/// Why a [`Va`](crate::Va) could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaError {
    /// No resolver was configured and the system's resolver configuration
    /// could not be read. Operator's fault: fix the file or set
    /// `validation.dns_resolver`.
    #[error(
        "cannot read the system resolver configuration {path}: {source}; set validation.dns_resolver to a resolver address"
    )]
    ResolvConfUnreadable {
        /// The file that was read.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// No resolver was configured and the system's resolver configuration
    /// names no usable `nameserver`. Operator's fault.
    #[error("{path} lists no nameserver; set validation.dns_resolver to a resolver address")]
    NoNameserver {
        /// The file that was read.
        path: PathBuf,
    },
    /// The resolver could not be set up. Internal fault (a hickory-resolver
    /// option this crate sets was refused).
    #[error("cannot set up the DNS resolver: {reason}")]
    Resolver {
        /// What hickory-resolver said.
        reason: String,
    },
    /// The DNSSEC trust anchor could not be read or holds no usable key.
    /// Operator's fault: fix the file named by
    /// `validation.dnssec_trust_anchor`.
    #[error(
        "cannot use the DNSSEC trust anchor {anchor}: {reason}; validation.dnssec_trust_anchor must name a file of DNSKEY or DS records (zone-file form), or leave it empty for the IANA root keys"
    )]
    TrustAnchor {
        /// The file (or "the configured records").
        anchor: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The TLS client configuration could not be built. Internal fault.
    #[error("cannot set up the TLS client: {source}")]
    Tls {
        /// What rustls said.
        #[from]
        source: rustls::Error,
    },
}
