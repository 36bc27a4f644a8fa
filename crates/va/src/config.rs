//! What an operator can tune about validation (`[validation]` in `ferrite.toml`).

use std::net::SocketAddr;
use std::time::Duration;

use crate::dnssec::TrustAnchor;

/// Settings of a [`Va`](crate::Va).
///
/// The defaults are what a production CA uses: the system resolver, the
/// standard ports of RFC 8555 §8.3 (80) and RFC 8737 §3 (443), no private
/// addresses, ten seconds per validation, DNSSEC validated to the IANA root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaConfig {
    /// The recursive resolver to ask, or `None` for the nameservers listed in
    /// `/etc/resolv.conf`. Tests point this at a mock DNS on 127.0.0.1.
    pub dns_resolver: Option<SocketAddr>,
    /// The port http-01 connects to, and the only port an `http://` redirect
    /// may name. 80 outside tests.
    pub http01_port: u16,
    /// The port tls-alpn-01 connects to, and the only port an `https://`
    /// redirect may name. 443 outside tests.
    pub tlsalpn01_port: u16,
    /// Connect to loopback, private and reserved addresses. Only for tests:
    /// in production this would let a customer make the CA probe its own
    /// network.
    pub allow_private_addresses: bool,
    /// The whole of one validation (DNS, connects, redirects, body) must end
    /// within this time.
    pub timeout: Duration,
    /// Validate DNSSEC on every lookup made for a validation or a CAA check
    /// (required by the Baseline Requirements since 2026-03-15). A bogus
    /// answer fails with a `dns` problem; an answer proven to come from an
    /// unsigned zone is used. Off only for tests against an unsigned DNS.
    pub dnssec: bool,
    /// The keys DNSSEC answers must chain to: the IANA root by default.
    pub dnssec_trust_anchor: TrustAnchor,
}

impl Default for VaConfig {
    fn default() -> Self {
        Self {
            dns_resolver: None,
            http01_port: 80,
            tlsalpn01_port: 443,
            allow_private_addresses: false,
            timeout: Duration::from_secs(10),
            dnssec: true,
            dnssec_trust_anchor: TrustAnchor::IanaRoot,
        }
    }
}
