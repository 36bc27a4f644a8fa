//! A DNSSEC-signed DNS server on loopback for benchmarks (`bench/compare.sh --dnssec`): the
//! testkit's [`MockDns`], serving every name from one signed root zone (A → 127.0.0.1, no AAAA,
//! signed denials for the rest), so that `ferrite serve` can run with `validation.dnssec = true`
//! (its default) against it.
//!
//! ```text
//! ferrite-signed-dns --anchor-out FILE [--lifetime SECONDS] [--ttl SECONDS]
//! ```
//!
//! Writes the trust anchor (the root DNSKEY in zone-file form, for
//! `validation.dnssec_trust_anchor`) to FILE, prints `listening 127.0.0.1:PORT`, and serves until
//! killed or for `--lifetime` seconds (default 3600). Every record has TTL `--ttl` (default
//! 0: nothing may be cached; 3600 lets a validator cache the root key's validation and the
//! parents' denials as the public DNS would). It keeps every query it received in memory, so
//! it is for bounded runs only.

use std::time::Duration;

use ferrite_testkit::dns::MockDns;

const USAGE: &str =
    "usage: ferrite-signed-dns --anchor-out FILE [--lifetime SECONDS] [--ttl SECONDS]";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut anchor_out = None;
    let mut lifetime = Duration::from_secs(3600);
    let mut ttl = 0;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--anchor-out" => anchor_out = args.next(),
            "--lifetime" => {
                let secs = args.next().ok_or(USAGE)?.parse::<u64>()?;
                lifetime = Duration::from_secs(secs);
            }
            "--ttl" => ttl = args.next().ok_or(USAGE)?.parse::<u32>()?,
            _ => return Err(format!("unknown argument {arg:?}; {USAGE}").into()),
        }
    }
    let anchor_out = anchor_out.ok_or(USAGE)?;
    let dns = MockDns::start().await?;
    dns.set_ttl(ttl);
    std::fs::write(&anchor_out, dns.sign())?;
    println!("listening {}", dns.addr());
    tokio::time::sleep(lifetime).await;
    Ok(())
}
