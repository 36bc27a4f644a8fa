//! [`BenchConfig`]: what one run does, and [`check_loopback`], which keeps the generator on
//! this machine.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use url::{Host, Url};

/// The subscriber key type of each CSR.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyType {
    /// ECDSA P-256 with SHA-256 (the default).
    P256,
    /// RSA 2048 with SHA-256.
    Rsa2048,
}

impl KeyType {
    /// Parses `p256` or `rsa2048`.
    pub fn parse(s: &str) -> Option<KeyType> {
        match s.to_ascii_lowercase().as_str() {
            "p256" | "p-256" | "ec" => Some(KeyType::P256),
            "rsa2048" | "rsa" => Some(KeyType::Rsa2048),
            _ => None,
        }
    }
}

/// An EAB MAC key; `Debug` never shows it.
#[derive(Clone)]
pub struct MacKey(pub Vec<u8>);

impl fmt::Debug for MacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// External account binding credentials (RFC 8555 §7.3.4).
#[derive(Clone, Debug)]
pub struct Eab {
    /// The key identifier the CA gave out.
    pub kid: String,
    /// The raw HMAC key (already base64url-decoded).
    pub mac_key: MacKey,
}

/// One run's settings.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// The ACME directory URL; must be on loopback (see [`check_loopback`]).
    pub directory_url: String,
    /// PEM file with the root(s) to trust for the server's TLS certificate.
    pub ca_cert: PathBuf,
    /// Concurrent clients.
    pub clients: usize,
    /// Total issuances to attempt (the run stops when they are done).
    pub issuances: u64,
    /// Maximum wall time; issuances still running then are cancelled.
    pub duration: Duration,
    /// Timeout of each HTTP request (connect + TLS + response body).
    pub request_timeout: Duration,
    /// Pause between polls of a pending authorization or processing order.
    pub poll_interval: Duration,
    /// Sleep for `Retry-After` (when the server sends one) instead of `poll_interval`.
    pub honour_retry_after: bool,
    /// Subscriber key type.
    pub key_type: KeyType,
    /// Parent domain of the random names (`<random>.{domain}`).
    pub domain: String,
    /// One account per client instead of one per issuance (needed when EAB keys allow only a
    /// limited number of bindings).
    pub account_per_client: bool,
    /// EAB credentials, when the CA requires them.
    pub eab: Option<Eab>,
    /// The servers' PIDs (one per instance of the CA), to read their CPU time and RSS from
    /// `/proc`; the report gives their sums.
    pub server_pids: Vec<u32>,
    /// Where the clients connect, spread round robin (client `i` to `connect[i % len]`, its
    /// requests' URLs staying the directory's), as a load balancer in front of several
    /// instances of one CA spreads them; each must be on loopback. Empty: the directory
    /// URL's own address.
    pub connect: Vec<SocketAddr>,
    /// Draw a progress bar on stderr.
    pub progress: bool,
}

impl BenchConfig {
    /// Defaults for everything but the target.
    pub fn new(directory_url: impl Into<String>, ca_cert: impl Into<PathBuf>) -> BenchConfig {
        BenchConfig {
            directory_url: directory_url.into(),
            ca_cert: ca_cert.into(),
            clients: 10,
            issuances: 1000,
            duration: Duration::from_secs(30),
            request_timeout: Duration::from_secs(10),
            poll_interval: Duration::from_millis(50),
            honour_retry_after: false,
            key_type: KeyType::P256,
            domain: "bench.example".into(),
            account_per_client: false,
            eab: None,
            server_pids: Vec::new(),
            connect: Vec::new(),
            progress: false,
        }
    }
}

/// Why a URL was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LoopbackError {
    /// The URL does not parse.
    #[error("{url:?} is not a URL ({reason}); give the directory as https://127.0.0.1:PORT/...")]
    NotAUrl {
        /// The URL as given.
        url: String,
        /// The parser's complaint.
        reason: String,
    },
    /// The scheme is not https.
    #[error("{url:?} is not https: ACME runs over HTTPS (RFC 8555 §6.1); use https://")]
    NotHttps {
        /// The URL as given.
        url: String,
    },
    /// The host is not a loopback address or `localhost`.
    #[error(
        "{url:?} is not on loopback: the generator only talks to 127.0.0.0/8, ::1 or localhost \
         so that a load test can never hit someone else's CA; run the CA under test locally"
    )]
    NotLoopback {
        /// The URL as given.
        url: String,
    },
}

/// Checks that `url` is `https://` on 127.0.0.0/8, `[::1]` or `localhost`, and returns the
/// socket address to connect to (`localhost` connects to 127.0.0.1).
pub fn check_loopback(url: &str) -> Result<(Url, SocketAddr), LoopbackError> {
    let parsed = Url::parse(url).map_err(|e| LoopbackError::NotAUrl {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    if parsed.scheme() != "https" {
        return Err(LoopbackError::NotHttps {
            url: url.to_owned(),
        });
    }
    let ip: IpAddr = match parsed.host() {
        Some(Host::Ipv4(v4)) if v4.is_loopback() => v4.into(),
        Some(Host::Ipv6(v6)) if v6.is_loopback() => v6.into(),
        Some(Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") => Ipv4Addr::LOCALHOST.into(),
        _ => {
            return Err(LoopbackError::NotLoopback {
                url: url.to_owned(),
            });
        }
    };
    let port = parsed.port_or_known_default().unwrap_or(443);
    Ok((parsed, SocketAddr::new(ip, port)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_are_accepted() {
        let (_, addr) = check_loopback("https://127.0.0.1:14000/directory").unwrap();
        assert_eq!(addr, "127.0.0.1:14000".parse().unwrap());
        let (_, addr) = check_loopback("https://127.8.9.10/dir").unwrap();
        assert_eq!(addr, "127.8.9.10:443".parse().unwrap());
        let (_, addr) = check_loopback("https://[::1]:8443/dir").unwrap();
        assert_eq!(addr, "[::1]:8443".parse().unwrap());
        let (_, addr) = check_loopback("https://LOCALHOST:14000/dir").unwrap();
        assert_eq!(addr, "127.0.0.1:14000".parse().unwrap());
    }

    #[test]
    fn other_hosts_are_refused() {
        for url in [
            "https://acme-v02.api.letsencrypt.org/directory",
            "https://10.0.0.1:14000/directory",
            "https://128.0.0.1/directory",
            "https://[::2]:14000/directory",
            "https://localhost.example.com/directory",
            "https://0.0.0.0:14000/directory",
        ] {
            assert!(
                matches!(check_loopback(url), Err(LoopbackError::NotLoopback { .. })),
                "{url} must be refused"
            );
        }
        assert!(matches!(
            check_loopback("http://127.0.0.1:14000/directory"),
            Err(LoopbackError::NotHttps { .. })
        ));
        assert!(matches!(
            check_loopback("not a url"),
            Err(LoopbackError::NotAUrl { .. })
        ));
    }

    #[test]
    fn mac_key_debug_is_redacted() {
        let eab = Eab {
            kid: "kid-1".into(),
            mac_key: MacKey(b"supersecret".to_vec()),
        };
        let shown = format!("{eab:?}");
        assert!(shown.contains("kid-1"));
        assert!(!shown.contains("supersecret"), "{shown}");
        assert!(
            !shown.contains("115"),
            "bytes must not leak either: {shown}"
        );
    }
}
