//! [`MockDns`]: an in-process authoritative DNS server for tests, in the
//! spirit of pebble-challtestsrv. It answers every name: A queries with
//! 127.0.0.1 and AAAA queries with nothing (NOERROR), unless a test set
//! something else. Every answer has TTL 0 (unless `set_ttl`).
//!
//! [`MockDns::sign`] turns DNSSEC on: the namespace becomes one signed root
//! zone whose key is the test's trust anchor, [`MockDns::add_unsigned_zone`]
//! delegates an unsigned (provably insecure) zone from it, and
//! [`MockDns::set_dnssec_fault`] breaks one name's signatures (see
//! `crate::dnssec`).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io;
use std::iter;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::proto::op::{Edns, Header, HeaderCounts, Metadata, ResponseCode};
use hickory_server::proto::rr::rdata::{A, AAAA, NS, TXT};
use hickory_server::proto::rr::{Name, RData, Record, RecordType};
use hickory_server::proto::serialize::binary::{BinDecoder, Restrict};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use tokio::net::{TcpListener, UdpSocket};

pub use crate::dnssec::DnssecFault;
use crate::dnssec::Signing;

/// What the server answers for one name (lower-case, no trailing dot).
#[derive(Default)]
struct Zone {
    addresses: HashMap<String, Vec<IpAddr>>,
    txt: HashMap<String, Vec<String>>,
    caa: HashMap<String, Vec<Record>>,
    servfail: HashSet<String>,
    nxdomain: HashSet<String>,
    silent: HashSet<String>,
    queries: Vec<String>,
    /// Set by [`MockDns::sign`]: the root zone's key.
    signing: Option<Arc<Signing>>,
    /// Apexes of unsigned zones delegated from the signed root.
    unsigned_zones: HashSet<String>,
    dnssec_faults: HashMap<String, DnssecFault>,
    /// The TTL of every answer (0 unless [`MockDns::set_ttl`]).
    ttl: u32,
}

/// A mock authoritative DNS server on 127.0.0.1 (UDP and TCP, same port).
/// Stops when dropped.
pub struct MockDns {
    addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    server: Server<Handler>,
}

impl std::fmt::Debug for MockDns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockDns").field("addr", &self.addr).finish()
    }
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl MockDns {
    /// Binds UDP and TCP on the same port of 127.0.0.1 and starts answering.
    pub async fn start() -> io::Result<MockDns> {
        let (udp, tcp) = bind_pair().await?;
        let addr = udp.local_addr()?;
        let zone = Arc::new(Mutex::new(Zone::default()));
        let mut server = Server::new(Handler { zone: zone.clone() });
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 64 * 1024);
        Ok(MockDns { addr, zone, server })
    }

    /// Where to send queries (give this to `VaConfig::dns_resolver`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn zone(&self) -> MutexGuard<'_, Zone> {
        self.zone
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Answers A and AAAA queries for `name` with `addrs` (IPv4 ones for A,
    /// IPv6 ones for AAAA) instead of the default 127.0.0.1 / nothing.
    pub fn set_a(&self, name: &str, addrs: Vec<IpAddr>) {
        self.zone().addresses.insert(key(name), addrs);
    }

    /// Answers TXT queries for `name` with `values`, one record each.
    pub fn set_txt(&self, name: &str, values: Vec<String>) {
        self.zone().txt.insert(key(name), values);
    }

    /// Removes the TXT records of `name`.
    pub fn clear_txt(&self, name: &str) {
        self.zone().txt.remove(&key(name));
    }

    /// Adds a CAA record (RFC 8659 §4.1: flags, tag, value) to `name`.
    pub fn add_caa(&self, name: &str, flags: u8, tag: &str, value: &str) {
        let Some(record) = caa_record(name, flags, tag, value) else {
            tracing::warn!(name, tag, value, "MockDns: CAA record could not be built");
            return;
        };
        self.zone().caa.entry(key(name)).or_default().push(record);
    }

    /// Removes the CAA records of `name`.
    pub fn clear_caa(&self, name: &str) {
        self.zone().caa.remove(&key(name));
    }

    /// Answers every query for `name` with SERVFAIL.
    pub fn set_servfail(&self, name: &str) {
        self.zone().servfail.insert(key(name));
    }

    /// Answers every query for `name` with NXDOMAIN.
    pub fn set_nxdomain(&self, name: &str) {
        self.zone().nxdomain.insert(key(name));
    }

    /// Never answers queries for `name` (to test resolver timeouts).
    pub fn set_unresponsive(&self, name: &str) {
        self.zone().silent.insert(key(name));
    }

    /// Undoes `set_servfail`, `set_nxdomain`, `set_unresponsive` and
    /// `set_dnssec_fault` for `name`.
    pub fn clear_faults(&self, name: &str) {
        let k = key(name);
        let mut zone = self.zone();
        zone.servfail.remove(&k);
        zone.nxdomain.remove(&k);
        zone.silent.remove(&k);
        zone.dnssec_faults.remove(&k);
    }

    /// Serves DNSSEC from now on: every name is in one root zone `.` signed
    /// with a fresh ECDSA P-256 key (RRSIGs on answers, signed NSEC denials
    /// for missing types). Returns the trust anchor that validates it: the
    /// root DNSKEY in zone-file form, for `ferrite_va::TrustAnchor::Records`
    /// or a trust anchor file. Calling it again returns the same anchor.
    ///
    /// NXDOMAIN from `set_nxdomain` is served without a denial proof, so a
    /// validator finds it bogus.
    pub fn sign(&self) -> String {
        let mut zone = self.zone();
        let signing = zone
            .signing
            .get_or_insert_with(|| Arc::new(Signing::generate()));
        signing.trust_anchor()
    }

    /// Like [`MockDns::sign`], but returns the trust anchor as the SHA-256
    /// DS record of the root key (`. 0 IN DS tag 13 2 HEX`), as operators
    /// usually hold it.
    pub fn sign_ds(&self) -> String {
        self.sign();
        let zone = self.zone();
        zone.signing
            .as_ref()
            .map(|signing| signing.trust_anchor_ds())
            .unwrap_or_default()
    }

    /// Makes `zone` an unsigned zone delegated from the signed root: `zone
    /// NS` exists, `zone DS` is denied by a signed NSEC (which proves the
    /// zone insecure, RFC 4035 §5.2), and names at and below `zone` are
    /// answered without signatures. Only meaningful after [`MockDns::sign`].
    pub fn add_unsigned_zone(&self, zone: &str) {
        self.zone().unsigned_zones.insert(key(zone));
    }

    /// Breaks the DNSSEC signatures served for `name` (every type), to test
    /// bogus answers; `clear_faults` undoes it.
    pub fn set_dnssec_fault(&self, name: &str, fault: DnssecFault) {
        self.zone().dnssec_faults.insert(key(name), fault);
    }

    /// Serves every record (answers, signatures, denials, the root key) with TTL `secs`
    /// instead of 0. For benchmarks (`ferrite-signed-dns --ttl`), where a validator may cache
    /// what the public DNS would let it cache; tests that change records keep TTL 0.
    pub fn set_ttl(&self, secs: u32) {
        self.zone().ttl = secs;
    }

    /// Every query received so far, as `"TYPE name"` (e.g. `"TXT
    /// _acme-challenge.example.com"`).
    pub fn queries(&self) -> Vec<String> {
        self.zone().queries.clone()
    }
}

impl Drop for MockDns {
    fn drop(&mut self) {
        // Dropping the server aborts its tasks too; cancelling first lets
        // them end cleanly.
        self.server.shutdown_token().cancel();
    }
}

/// UDP and TCP sockets on the same loopback port (retried: another process
/// may hold the TCP port the kernel gave us for UDP).
async fn bind_pair() -> io::Result<(UdpSocket, TcpListener)> {
    let mut last_error = None;
    for _ in 0..20 {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let port = udp.local_addr()?.port();
        match TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(err) => last_error = Some(err),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no free port pair")))
}

/// RFC 8659 §4.1 wire form (flags, tag length, tag, value), decoded by
/// hickory so that any value, even a malformed one, can be served.
fn caa_record(name: &str, flags: u8, tag: &str, value: &str) -> Option<Record> {
    let mut wire = vec![flags, u8::try_from(tag.len()).ok()?];
    wire.extend_from_slice(tag.as_bytes());
    wire.extend_from_slice(value.as_bytes());
    let length = u16::try_from(wire.len()).ok()?;
    let rdata = RData::read(
        &mut BinDecoder::new(&wire),
        RecordType::CAA,
        Restrict::new(length),
    )
    .ok()?;
    let name = Name::from_ascii(format!("{}.", key(name))).ok()?;
    Some(Record::from_rdata(name, 0, rdata))
}

enum Answer {
    Silent,
    Code(ResponseCode),
    /// The answer section and the authority section.
    Records(Vec<Record>, Vec<Record>),
}

impl Zone {
    /// The unsigned zone `k` is in (at or below its apex), if any.
    fn unsigned_zone_of(&self, k: &str) -> Option<&str> {
        self.unsigned_zones
            .iter()
            .find(|apex| k == apex.as_str() || k.ends_with(&format!(".{apex}")))
            .map(String::as_str)
    }

    /// The types that exist at `k`, for an NSEC type map.
    fn types_at(&self, k: &str) -> BTreeSet<RecordType> {
        let mut types = BTreeSet::new();
        match self.addresses.get(k) {
            None => {
                types.insert(RecordType::A);
            }
            Some(addrs) => {
                if addrs.iter().any(IpAddr::is_ipv4) {
                    types.insert(RecordType::A);
                }
                if addrs.iter().any(IpAddr::is_ipv6) {
                    types.insert(RecordType::AAAA);
                }
            }
        }
        if self.txt.get(k).is_some_and(|v| !v.is_empty()) {
            types.insert(RecordType::TXT);
        }
        if self.caa.get(k).is_some_and(|v| !v.is_empty()) {
            types.insert(RecordType::CAA);
        }
        types
    }
}

struct Handler {
    zone: Arc<Mutex<Zone>>,
}

impl Handler {
    fn answer(&self, name: &Name, record_type: RecordType) -> Answer {
        let k = key(&name.to_ascii());
        let mut zone = self.zone.lock().unwrap_or_else(|p| p.into_inner());
        zone.queries.push(format!("{record_type} {k}"));
        if zone.silent.contains(&k) {
            return Answer::Silent;
        }
        if zone.servfail.contains(&k) {
            return Answer::Code(ResponseCode::ServFail);
        }
        if zone.nxdomain.contains(&k) {
            return Answer::Code(ResponseCode::NXDomain);
        }
        let ttl = zone.ttl;
        let record = |data: RData| Record::from_rdata(name.clone(), ttl, data);
        let unsigned_zone = zone.unsigned_zone_of(&k).map(str::to_owned);
        let signing = match (&zone.signing, &unsigned_zone) {
            (Some(signing), None) => Some(signing.clone()),
            // RFC 4035 §5.2: the delegation's DS (absent) is the parent's, signed.
            (Some(signing), Some(apex)) if *apex == k && record_type == RecordType::DS => {
                Some(signing.clone())
            }
            _ => None,
        };
        let records = match record_type {
            RecordType::DNSKEY if name.is_root() => match &signing {
                Some(signing) => vec![signing.dnskey_record(ttl)],
                None => Vec::new(),
            },
            RecordType::NS if unsigned_zone.as_deref() == Some(k.as_str()) => {
                match Name::from_ascii(format!("ns.{k}.")) {
                    Ok(ns) => vec![record(RData::NS(NS(ns)))],
                    Err(_) => Vec::new(),
                }
            }
            RecordType::A => match zone.addresses.get(&k) {
                Some(addrs) => addrs
                    .iter()
                    .filter_map(|ip| match ip {
                        IpAddr::V4(v4) => Some(record(RData::A(A(*v4)))),
                        IpAddr::V6(_) => None,
                    })
                    .collect(),
                None => vec![record(RData::A(A(Ipv4Addr::LOCALHOST)))],
            },
            RecordType::AAAA => zone
                .addresses
                .get(&k)
                .into_iter()
                .flatten()
                .filter_map(|ip| match ip {
                    IpAddr::V6(v6) => Some(record(RData::AAAA(AAAA(*v6)))),
                    IpAddr::V4(_) => None,
                })
                .collect(),
            RecordType::TXT => zone
                .txt
                .get(&k)
                .into_iter()
                .flatten()
                .map(|value| record(RData::TXT(TXT::new(vec![value.clone()]))))
                .collect(),
            RecordType::CAA => zone
                .caa
                .get(&k)
                .into_iter()
                .flatten()
                .map(|r| record(r.data.clone()))
                .collect(),
            _ => Vec::new(),
        };
        let Some(signing) = signing else {
            return Answer::Records(records, Vec::new());
        };
        let fault = zone.dnssec_faults.get(&k).copied();
        if records.is_empty() {
            // At an unsigned delegation the parent knows only the NS RRset.
            let present = if unsigned_zone.is_some() {
                BTreeSet::from([RecordType::NS])
            } else {
                zone.types_at(&k)
            };
            let denial = signing.denial(name, present, fault, ttl);
            return Answer::Records(Vec::new(), denial);
        }
        Answer::Records(signing.signed(records, fault), Vec::new())
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = true;
        let fallback = ResponseInfo::from(Header {
            metadata,
            counts: HeaderCounts::default(),
        });
        let builder = MessageResponseBuilder::from_message_request(request);
        let Ok(info) = request.request_info() else {
            let response = builder.error_msg(&request.metadata, ResponseCode::FormErr);
            return response_handle
                .send_response(response)
                .await
                .unwrap_or(fallback);
        };
        let name = info.query.original().name().clone();
        let records = match self.answer(&name, info.query.query_type()) {
            Answer::Silent => return fallback,
            Answer::Code(code) => {
                let response = builder.error_msg(&request.metadata, code);
                return response_handle
                    .send_response(response)
                    .await
                    .unwrap_or(fallback);
            }
            Answer::Records(answers, authorities) => (answers, authorities),
        };
        // RFC 6891: answer EDNS with EDNS, so signed answers are not cut to
        // 512 bytes (RFC 3225: the DO bit echoed).
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        edns.set_dnssec_ok(request.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok));
        let mut response = builder.build(
            metadata,
            records.0.iter(),
            records.1.iter(),
            iter::empty(),
            iter::empty(),
        );
        if request.edns.is_some() {
            response.set_edns(&edns);
        }
        response_handle
            .send_response(response)
            .await
            .unwrap_or(fallback)
    }
}
