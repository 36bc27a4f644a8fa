//! Choosing an address and connecting to it.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpStream;

use crate::address::refusal_reason;
use crate::record::{FailureKind, Problem, ValidationRecord};

/// Filters `addresses` (unless `allow_private`), then connects to the first
/// that accepts, falling back to the next on failure (IPv6 comes first, so a
/// broken IPv6 setup falls back to IPv4 as at Let's Encrypt).
pub(crate) async fn connect(
    record: &mut ValidationRecord,
    host: &str,
    addresses: &[IpAddr],
    port: u16,
    allow_private: bool,
    attempt_timeout: Duration,
) -> Result<(TcpStream, SocketAddr), Problem> {
    record.addresses_resolved.extend_from_slice(addresses);
    let mut refused = Vec::new();
    let mut allowed = Vec::new();
    for &ip in addresses {
        match refusal_reason(ip) {
            Some(why) if !allow_private => refused.push(format!("{ip} ({why})")),
            _ => allowed.push(ip),
        }
    }
    if allowed.is_empty() {
        return Err(Problem::new(
            FailureKind::Dns,
            format!(
                "{host} resolves only to addresses this CA does not connect to: {}; publish the public address of your server in the A/AAAA records",
                refused.join(", ")
            ),
        ));
    }

    let mut errors = Vec::new();
    for ip in allowed {
        let target = SocketAddr::new(ip, port);
        record.address_used = Some(ip);
        match tokio::time::timeout(attempt_timeout, TcpStream::connect(target)).await {
            Ok(Ok(stream)) => return Ok((stream, target)),
            Ok(Err(err)) => errors.push(format!("{target}: {}", describe(&err))),
            Err(_) => errors.push(format!("{target}: timed out after {attempt_timeout:?}")),
        }
    }
    Err(Problem::new(
        FailureKind::Connection,
        format!(
            "Could not connect to {host} on port {port} ({}); check that your server listens there and that no firewall blocks it",
            errors.join("; ")
        ),
    ))
}

fn describe(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        io::ErrorKind::TimedOut => "timed out".to_owned(),
        io::ErrorKind::ConnectionReset => "connection reset".to_owned(),
        _ => err.to_string(),
    }
}
