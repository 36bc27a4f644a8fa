//! Our own DNS resolution: A, AAAA and TXT through hickory-resolver, with
//! every failure turned into a [`Problem`] a customer can act on.
//!
//! No answer is cached: a customer publishes a record moments before asking
//! for validation, and a cached (negative) answer from a minute ago would
//! fail them for no reason. The zones' keys are (DNSKEY and DS, which DNSSEC
//! validation asks for with every lookup; see `crate::key_cache`).
//!
//! With [`VaConfig::dnssec`] on, every answer is DNSSEC-validated to the
//! configured trust anchor; a bogus one is a `dns` problem that says why
//! (see `crate::dnssec`), an insecure one (unsigned zone) is used.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::Resolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::dnssec::TrustAnchors;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::rdata::TXT;
use hickory_resolver::proto::rr::{Name, RData, RecordType};

use crate::config::VaConfig;
use crate::dnssec;
use crate::error::VaError;
use crate::key_cache::{KeyCache, KeyCachingProvider};
use crate::record::{FailureKind, Problem};

const RESOLV_CONF: &str = "/etc/resolv.conf";

/// The resolver and the time one lookup may take.
pub(crate) struct Resolve {
    /// Built with the VA, or on the first lookup when the trust anchor has
    /// DS records (their keys must be fetched first).
    resolver: tokio::sync::OnceCell<Resolver<KeyCachingProvider>>,
    /// What that first lookup needs to build it.
    pending_ds: Option<PendingDs>,
    /// Bounds each lookup so a silent server gives a DNS problem, not the
    /// validation-wide timeout.
    lookup_timeout: Duration,
    /// Asked again, with the DO bit, to explain a bogus answer.
    first_server: Option<SocketAddr>,
    /// The zones' keys the resolver's connections keep; emptied after a bogus answer.
    key_cache: Arc<KeyCache>,
}

impl Resolve {
    pub(crate) fn new(config: &VaConfig) -> Result<Self, VaError> {
        let servers: Vec<SocketAddr> = match config.dns_resolver {
            Some(addr) => vec![addr],
            None => system_nameservers(Path::new(RESOLV_CONF))?,
        };
        let name_servers = servers
            .iter()
            .map(|addr| {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
            })
            .collect();
        let resolver_config = ResolverConfig::from_name_servers(name_servers);

        // Half the validation time for one lookup, at most 5 s (resolv.conf's
        // default): http-01 needs time left to connect after resolving.
        let lookup_timeout = (config.timeout / 2).min(Duration::from_secs(5));
        let mut opts = ResolverOpts::default();
        opts.timeout = lookup_timeout;
        opts.attempts = 1;
        opts.cache_size = 0;
        opts.positive_max_ttl = Some(Duration::ZERO);
        opts.negative_max_ttl = Some(Duration::ZERO);
        opts.use_hosts_file = ResolveHosts::Never;
        opts.try_tcp_on_error = true;
        opts.ndots = 0;
        // RFC 4035 §4: a security-aware resolver sets DO and checks the
        // chain from the trust anchor down to every answer.
        opts.validate = config.dnssec;

        let anchors = if config.dnssec {
            Some(config.dnssec_trust_anchor.load()?)
        } else {
            None
        };
        let key_cache = Arc::new(KeyCache::default());
        let (resolver, pending_ds) = match anchors {
            Some(anchors) if !anchors.ds.is_empty() => (
                tokio::sync::OnceCell::new(),
                Some(PendingDs {
                    config: resolver_config,
                    opts,
                    anchors,
                }),
            ),
            anchors => (
                tokio::sync::OnceCell::new_with(Some(build(
                    resolver_config,
                    opts,
                    anchors.map(|a| a.keys),
                    &key_cache,
                )?)),
                None,
            ),
        };
        Ok(Self {
            resolver,
            pending_ds,
            lookup_timeout,
            first_server: servers.first().copied(),
            key_cache,
        })
    }

    /// The A and AAAA addresses of `host`, IPv6 first (as Boulder tries
    /// them). Fails when neither lookup gives an address.
    pub(crate) async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, Problem> {
        let name = fqdn(host)?;
        let (v6, v4) = tokio::join!(
            self.lookup(&name, RecordType::AAAA),
            self.lookup(&name, RecordType::A)
        );
        let mut addresses = Vec::new();
        let mut errors = Vec::new();
        for (record_type, result) in [(RecordType::AAAA, v6), (RecordType::A, v4)] {
            match result {
                Ok(rdata) => addresses.extend(rdata.into_iter().filter_map(|r| match r {
                    RData::A(a) => Some(IpAddr::V4(a.0)),
                    RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                    _ => None,
                })),
                Err(err) => errors.push((record_type, err)),
            }
        }
        // A bogus answer for either type fails the lookup, even if the other
        // gave addresses: the zone's signatures are broken or forged.
        if let Some((record_type, err)) = errors
            .iter()
            .find(|(_, err)| matches!(err, LookupError::DnssecBogus(_)))
        {
            return Err(describe(host, *record_type, err));
        }
        if !addresses.is_empty() {
            return Ok(addresses);
        }
        // Report the most telling failure: NXDOMAIN or a server failure
        // before "no records".
        let worst = errors
            .iter()
            .max_by_key(|(_, err)| severity(err))
            .map(|(record_type, err)| describe(host, *record_type, err));
        Err(worst.unwrap_or_else(|| {
            Problem::new(
                FailureKind::Dns,
                format!(
                    "DNS problem: no A or AAAA records found for {host} - add an A or AAAA record for this name"
                ),
            )
        }))
    }

    /// The CAA RRset at `name` (CNAMEs followed by the resolver): `None`
    /// when the name does not exist or has no CAA records, so the caller
    /// climbs to the parent (RFC 8659 §3). Any other failure is a DNS
    /// problem: RFC 8659 §5.3 forbids issuing when the answer is unknown.
    pub(crate) async fn caa(
        &self,
        name: &str,
    ) -> Result<Option<Vec<hickory_resolver::proto::rr::rdata::CAA>>, Problem> {
        let fq = fqdn(name)?;
        match self.lookup(&fq, RecordType::CAA).await {
            Ok(rdata) => Ok(Some(
                rdata
                    .into_iter()
                    .filter_map(|r| match r {
                        RData::CAA(caa) => Some(caa),
                        _ => None,
                    })
                    .collect(),
            )),
            Err(LookupError::NxDomain | LookupError::NoRecords) => Ok(None),
            Err(err) => Err(describe(name, RecordType::CAA, &err)),
        }
    }

    /// Every TXT value at `name` (each record's strings joined, RFC 7208
    /// §3.3 style).
    pub(crate) async fn txt(&self, name: &str) -> Result<Vec<String>, Problem> {
        let fq = fqdn(name)?;
        let rdata = self
            .lookup(&fq, RecordType::TXT)
            .await
            .map_err(|err| describe(name, RecordType::TXT, &err))?;
        let values: Vec<String> = rdata
            .into_iter()
            .filter_map(|r| match r {
                RData::TXT(txt) => Some(txt_value(&txt)),
                _ => None,
            })
            .collect();
        if values.is_empty() {
            return Err(describe(name, RecordType::TXT, &LookupError::NoRecords));
        }
        Ok(values)
    }

    /// The resolver, built on first use when DS anchors must be resolved.
    /// A failure is not kept: the next lookup tries again.
    async fn resolver(&self) -> Result<&Resolver<KeyCachingProvider>, LookupError> {
        self.resolver
            .get_or_try_init(|| async {
                let Some(pending) = &self.pending_ds else {
                    return Err(LookupError::Other("the resolver was not built".to_owned()));
                };
                let keys = dnssec::resolve_ds(
                    self.first_server,
                    pending.anchors.keys.clone(),
                    &pending.anchors.ds,
                    self.lookup_timeout,
                )
                .await
                .map_err(LookupError::Other)?;
                build(
                    pending.config.clone(),
                    pending.opts.clone(),
                    Some(keys),
                    &self.key_cache,
                )
                .map_err(|err| LookupError::Other(err.to_string()))
            })
            .await
    }

    async fn lookup(
        &self,
        name: &Name,
        record_type: RecordType,
    ) -> Result<Vec<RData>, LookupError> {
        let resolver = self.resolver().await?;
        let lookup = tokio::time::timeout(
            self.lookup_timeout,
            resolver.lookup(name.clone(), record_type),
        )
        .await
        .map_err(|_| LookupError::Timeout(self.lookup_timeout))?;
        let lookup = match lookup {
            Ok(lookup) => lookup,
            Err(err) => {
                return Err(match LookupError::from(err) {
                    LookupError::DnssecBogus(_) => {
                        // A cached key set may be why: the next lookup asks for the keys again.
                        self.key_cache.clear();
                        LookupError::DnssecBogus(
                            dnssec::explain_bogus(
                                self.first_server,
                                name,
                                record_type,
                                self.lookup_timeout,
                            )
                            .await,
                        )
                    }
                    other => other,
                });
            }
        };
        let rdata: Vec<RData> = lookup
            .answers()
            .iter()
            .filter(|r| r.record_type() == record_type)
            .map(|r| r.data.clone())
            .collect();
        if rdata.is_empty() {
            return Err(LookupError::NoRecords);
        }
        Ok(rdata)
    }
}

/// What building the resolver waits for when the trust anchor has DS records.
struct PendingDs {
    config: ResolverConfig,
    opts: ResolverOpts,
    anchors: dnssec::Anchors,
}

/// The resolver; validating DNSSEC to `trust_anchor` when there is one.
fn build(
    config: ResolverConfig,
    opts: ResolverOpts,
    trust_anchor: Option<TrustAnchors>,
    key_cache: &Arc<KeyCache>,
) -> Result<Resolver<KeyCachingProvider>, VaError> {
    let provider = KeyCachingProvider::new(Arc::clone(key_cache));
    let mut builder = Resolver::builder_with_config(config, provider).with_options(opts);
    if let Some(anchor) = trust_anchor {
        builder = builder.with_trust_anchor(Arc::new(anchor));
    }
    builder.build().map_err(|err| VaError::Resolver {
        reason: err.to_string(),
    })
}

/// A lookup's failure, sorted into what a customer can tell apart.
#[derive(Debug)]
enum LookupError {
    NxDomain,
    NoRecords,
    Code(ResponseCode),
    Timeout(Duration),
    /// DNSSEC validation failed: the reason, once explained.
    DnssecBogus(String),
    Other(String),
}

impl From<NetError> for LookupError {
    fn from(err: NetError) -> Self {
        if err.is_nx_domain() {
            return Self::NxDomain;
        }
        match err {
            NetError::Dns(DnsError::NoRecordsFound(no)) => match no.response_code {
                ResponseCode::NoError => Self::NoRecords,
                ResponseCode::NXDomain => Self::NxDomain,
                code => Self::Code(code),
            },
            NetError::Dns(DnsError::ResponseCode(code)) => Self::Code(code),
            NetError::Dns(DnsError::DnssecBogus) => Self::DnssecBogus(String::new()),
            NetError::Dns(DnsError::Nsec { proof, .. }) if proof.is_bogus() => {
                Self::DnssecBogus(String::new())
            }
            NetError::Timeout => Self::Timeout(Duration::ZERO),
            other => Self::Other(other.to_string()),
        }
    }
}

fn severity(err: &LookupError) -> u8 {
    match err {
        LookupError::NoRecords => 0,
        LookupError::Other(_) => 1,
        LookupError::Timeout(_) => 2,
        LookupError::Code(_) => 3,
        LookupError::NxDomain => 4,
        LookupError::DnssecBogus(_) => 5,
    }
}

fn describe(name: &str, record_type: RecordType, err: &LookupError) -> Problem {
    let detail = match err {
        LookupError::NxDomain => format!(
            "DNS problem: NXDOMAIN looking up {record_type} for {name} - check that a DNS record exists for this domain"
        ),
        LookupError::NoRecords => format!(
            "DNS problem: no {record_type} records found for {name} - add a {record_type} record for this name"
        ),
        LookupError::Code(code) => format!(
            "DNS problem: {} looking up {record_type} for {name} - the domain's nameservers may be malfunctioning",
            // The mnemonics of RFC 1035 §4.1.1 / RFC 6895 (SERVFAIL, REFUSED).
            format!("{code:?}").to_ascii_uppercase()
        ),
        LookupError::Timeout(after) if after.is_zero() => format!(
            "DNS problem: query timed out looking up {record_type} for {name} - the domain's nameservers did not answer"
        ),
        LookupError::Timeout(after) => format!(
            "DNS problem: query timed out after {after:?} looking up {record_type} for {name} - the domain's nameservers did not answer"
        ),
        LookupError::DnssecBogus(why) => format!(
            "DNS problem: DNSSEC validation failed for {record_type} {name}: {why} - the answer is bogus; the domain's DNS operator must fix the zone's signatures (re-sign it, or remove the DS record at the parent to make it unsigned)"
        ),
        LookupError::Other(what) => {
            format!("DNS problem: looking up {record_type} for {name} failed: {what}")
        }
    };
    Problem::new(FailureKind::Dns, detail)
}

/// One TXT record's value: its character-strings joined (RFC 8555 §8.4 leaves the split to
/// the publisher), each read as UTF-8 with invalid bytes replaced.
pub(crate) fn txt_value(txt: &TXT) -> String {
    txt.txt_data
        .iter()
        .map(|part| String::from_utf8_lossy(part))
        .collect()
}

/// `host` as an absolute name, so no search domain is ever appended.
fn fqdn(host: &str) -> Result<Name, Problem> {
    let absolute = if host.ends_with('.') {
        host.to_owned()
    } else {
        format!("{host}.")
    };
    Name::from_ascii(&absolute).map_err(|err| {
        Problem::new(
            FailureKind::Dns,
            format!("DNS problem: {host:?} is not a valid DNS name: {err}"),
        )
    })
}

fn system_nameservers(path: &Path) -> Result<Vec<SocketAddr>, VaError> {
    let text = std::fs::read_to_string(path).map_err(|source| VaError::ResolvConfUnreadable {
        path: path.to_owned(),
        source,
    })?;
    let servers = parse_resolv_conf(&text);
    if servers.is_empty() {
        return Err(VaError::NoNameserver {
            path: path.to_owned(),
        });
    }
    Ok(servers)
}

/// The `nameserver` lines of a resolv.conf(5), on port 53. Zone-scoped
/// IPv6 addresses (`fe80::1%eth0`) are skipped: hickory cannot use the scope.
fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .map(|line| line.split(['#', ';']).next().unwrap_or(""))
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            match (words.next(), words.next()) {
                (Some("nameserver"), Some(addr)) => addr.parse::<IpAddr>().ok(),
                _ => None,
            }
        })
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_nameservers() {
        let text = "# generated\nsearch example.com\nnameserver 10.0.0.2\nnameserver ::1 # local\n\
                    nameserver fe80::1%eth0\noptions ndots:2\n;nameserver 1.2.3.4\n";
        let got = parse_resolv_conf(text);
        assert_eq!(
            got,
            vec![
                "10.0.0.2:53".parse::<SocketAddr>().unwrap(),
                "[::1]:53".parse().unwrap()
            ]
        );
    }

    #[test]
    fn missing_resolv_conf_is_an_operator_error() {
        let err = system_nameservers(Path::new("/nonexistent/resolv.conf")).unwrap_err();
        assert!(matches!(err, VaError::ResolvConfUnreadable { .. }), "{err}");
    }

    #[test]
    fn names_are_made_absolute() {
        assert!(fqdn("example.com").unwrap().is_fqdn());
        assert!(fqdn("example.com.").unwrap().is_fqdn());
        assert_eq!(fqdn("a b.example").unwrap_err().kind, FailureKind::Dns);
    }
}
