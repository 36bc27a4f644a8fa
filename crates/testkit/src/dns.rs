//! [`MockDns`]: an in-process authoritative DNS server for tests, in the
//! spirit of pebble-challtestsrv. It answers every name: A queries with
//! 127.0.0.1 and AAAA queries with nothing (NOERROR), unless a test set
//! something else. Every answer has TTL 0.

use std::collections::{HashMap, HashSet};
use std::io;
use std::iter;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::proto::op::{Header, HeaderCounts, Metadata, ResponseCode};
use hickory_server::proto::rr::rdata::{A, AAAA, TXT};
use hickory_server::proto::rr::{Name, RData, Record, RecordType};
use hickory_server::proto::serialize::binary::{BinDecoder, Restrict};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use tokio::net::{TcpListener, UdpSocket};

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

    /// Undoes `set_servfail`, `set_nxdomain` and `set_unresponsive` for `name`.
    pub fn clear_faults(&self, name: &str) {
        let k = key(name);
        let mut zone = self.zone();
        zone.servfail.remove(&k);
        zone.nxdomain.remove(&k);
        zone.silent.remove(&k);
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
    Records(Vec<Record>),
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
        let record = |data: RData| Record::from_rdata(name.clone(), 0, data);
        let records = match record_type {
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
        Answer::Records(records)
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
            Answer::Records(records) => records,
        };
        let response = builder.build(
            metadata,
            records.iter(),
            iter::empty(),
            iter::empty(),
            iter::empty(),
        );
        response_handle
            .send_response(response)
            .await
            .unwrap_or(fallback)
    }
}
