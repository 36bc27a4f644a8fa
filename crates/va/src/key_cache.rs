//! DNSKEY and DS answers kept for their TTL, under hickory's DNSSEC validation.
//!
//! The resolver caches no answer (see `crate::resolve`): TXT, CAA and addresses must be fresh.
//! But validating any answer makes hickory's `DnssecDnsHandle` ask for the DNSKEY set of the
//! signing zone and, for each zone cut up to the trust anchor, the DS set at the parent and the
//! parent's DNSKEY set — on the public DNS several round trips per lookup, the same ones for
//! every name of a zone. Those answers are the zones' keys, published with TTLs of hours, and
//! every validating resolver caches them; so does this: [`KeyCachingProvider`] wraps each name
//! server connection, answers a DNSKEY or DS query from the cache while the answer's TTL
//! (at most [`MAX_TTL`]) lasts, and passes every other query through.
//!
//! The cache sits below the validation: a cached answer goes through it like a fresh one
//! (hickory reuses its own verdict for the same records within their TTL), so the cache can
//! never make an answer trusted. What it can do is keep a bad key set (a spoofed or broken
//! answer) for up to [`MAX_TTL`]; so a lookup that finds a bogus answer empties it
//! ([`KeyCache::clear`], called by `crate::resolve`) and the next lookup asks again. Only
//! complete `NOERROR` answers to validating questions are kept (DO set, CD clear, not
//! truncated, at most [`MAX_BYTES`]): a positive set, or a signed denial (an insecure
//! delegation's missing DS).

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt, TryStreamExt};
use hickory_resolver::config::ConnectionConfig;
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::xfer::{DnsExchange, DnsHandle};
use hickory_resolver::proto::op::{DnsRequest, DnsResponse, Query, ResponseCode};
use hickory_resolver::proto::rr::{DNSClass, RecordType};
use hickory_resolver::{ConnectionProvider, PoolContext};

/// The longest an answer is kept, whatever its TTL: a key set replaced at its zone (a rollover
/// done early, a bogus answer from the resolver) is asked for again within this time. RFC 9520
/// caps cached resolution failures at 5 minutes; a cached key set that no longer validates is
/// one.
pub(crate) const MAX_TTL: Duration = Duration::from_secs(300);

/// Most answers kept; zones validated within [`MAX_TTL`] rarely come near it. When it is full
/// the expired answers go, and if none has expired, all of them.
const MAX_ENTRIES: usize = 1024;

/// Largest answer kept, in wire bytes: a zone's key set with its signatures is well under it
/// (a few RSA-2048 keys: ~2 KB). Customers choose the names, so the zones too: with this bound
/// the cache holds at most [`MAX_ENTRIES`] × 8 KB however large the key sets they publish.
const MAX_BYTES: usize = 8 * 1024;

/// The answers, by question.
#[derive(Debug, Default)]
pub(crate) struct KeyCache {
    entries: Mutex<HashMap<Query, (Instant, DnsResponse)>>,
}

impl KeyCache {
    /// The cached answer to `query`, if it has not expired, with the message id of the
    /// request it answers.
    fn get(&self, query: &Query, id: u16) -> Option<DnsResponse> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (expires, response) = entries.get(query)?;
        if *expires <= Instant::now() {
            return None;
        }
        let mut response = response.clone();
        response.metadata.id = id;
        Some(response)
    }

    /// Keeps `response` to `query` for its smallest TTL (at most [`MAX_TTL`]), if it is a
    /// complete (not truncated: the TCP retry must reach the server) `NOERROR` answer with
    /// records, of at most [`MAX_BYTES`], and that TTL is not zero.
    fn insert(&self, query: Query, response: &DnsResponse) {
        if response.metadata.response_code != ResponseCode::NoError
            || response.metadata.truncation
            || response.as_buffer().len() > MAX_BYTES
        {
            return;
        }
        let Some(ttl) = response
            .answers
            .iter()
            .chain(response.authorities.iter())
            .map(|r| r.ttl)
            .min()
        else {
            return;
        };
        let ttl = Duration::from_secs(u64::from(ttl)).min(MAX_TTL);
        if ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (expires, _)| *expires > now);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(query, (now + ttl, response.clone()));
    }

    /// Forgets every answer (after a bogus lookup: the key set that made it bogus may be
    /// among them).
    pub(crate) fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// The question of `request` if it is one this cache answers: a single DNSKEY or DS question
/// of class IN, asked the way the validation asks (DO set, so the answer carries its
/// signatures; CD clear). hickory's `DnssecDnsHandle` asks every DNSKEY and DS that way.
fn cacheable(request: &DnsRequest) -> Option<Query> {
    let dnssec_ok = request.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok);
    if !dnssec_ok || request.metadata.checking_disabled {
        return None;
    }
    match request.queries.as_slice() {
        [query]
            if query.query_class() == DNSClass::IN
                && matches!(query.query_type(), RecordType::DNSKEY | RecordType::DS) =>
        {
            Some(query.clone())
        }
        _ => None,
    }
}

/// Opens name server connections as hickory does by itself (UDP and TCP on tokio), each
/// wrapped in a [`KeyCachingConnection`] sharing one [`KeyCache`].
///
/// A cache hit records a near-zero round trip in hickory's statistics of that server, which
/// only matters for the order of several configured servers.
#[derive(Clone)]
pub(crate) struct KeyCachingProvider {
    runtime: TokioRuntimeProvider,
    cache: Arc<KeyCache>,
}

impl KeyCachingProvider {
    pub(crate) fn new(cache: Arc<KeyCache>) -> Self {
        Self {
            runtime: TokioRuntimeProvider::default(),
            cache,
        }
    }
}

impl ConnectionProvider for KeyCachingProvider {
    type Conn = KeyCachingConnection;
    type FutureConn =
        Pin<Box<dyn Future<Output = Result<KeyCachingConnection, NetError>> + Send + 'static>>;
    type RuntimeProvider = TokioRuntimeProvider;

    fn new_connection(
        &self,
        ip: IpAddr,
        config: &ConnectionConfig,
        cx: &PoolContext,
    ) -> Result<Self::FutureConn, NetError> {
        let connecting = self.runtime.new_connection(ip, config, cx)?;
        let cache = Arc::clone(&self.cache);
        Ok(Box::pin(async move {
            Ok(KeyCachingConnection {
                inner: connecting.await?,
                cache,
            })
        }))
    }

    fn runtime_provider(&self) -> &TokioRuntimeProvider {
        &self.runtime
    }
}

/// One name server connection: DNSKEY and DS questions answered from the cache when it can,
/// everything else (and every miss) sent to the server.
#[derive(Clone)]
pub(crate) struct KeyCachingConnection {
    inner: DnsExchange<TokioRuntimeProvider>,
    cache: Arc<KeyCache>,
}

impl DnsHandle for KeyCachingConnection {
    type Response = Pin<Box<dyn Stream<Item = Result<DnsResponse, NetError>> + Send + 'static>>;
    type Runtime = TokioRuntimeProvider;

    fn is_verifying_dnssec(&self) -> bool {
        self.inner.is_verifying_dnssec()
    }

    fn is_using_edns(&self) -> bool {
        self.inner.is_using_edns()
    }

    fn send(&self, request: DnsRequest) -> Self::Response {
        let Some(query) = cacheable(&request) else {
            return self.inner.send(request).boxed();
        };
        if let Some(hit) = self.cache.get(&query, request.metadata.id) {
            return futures::stream::once(async { Ok(hit) }).boxed();
        }
        let cache = Arc::clone(&self.cache);
        self.inner
            .send(request)
            .inspect_ok(move |response| cache.insert(query.clone(), response))
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use hickory_resolver::proto::op::{Message, MessageType};
    use hickory_resolver::proto::rr::{Name, RData, Record};

    use super::*;

    fn dnskey_query() -> Query {
        Query::query(Name::from_ascii("example.").unwrap(), RecordType::DNSKEY)
    }

    /// A response to `query` with one record of `ttl` (an A record: the cache looks only at
    /// the code, the flags, the size and the TTLs).
    fn response(query: &Query, code: ResponseCode, ttl: Option<u32>) -> DnsResponse {
        let mut message = Message::query();
        message.metadata.message_type = MessageType::Response;
        message.metadata.response_code = code;
        message.queries.push(query.clone());
        if let Some(ttl) = ttl {
            message.answers.push(Record::from_rdata(
                query.name().clone(),
                ttl,
                RData::A("192.0.2.1".parse().unwrap()),
            ));
        }
        DnsResponse::from_message(message).unwrap()
    }

    #[test]
    fn keeps_noerror_answers_for_their_ttl_with_the_askers_id() {
        let cache = KeyCache::default();
        let query = dnskey_query();
        assert!(cache.get(&query, 1).is_none());
        cache.insert(
            query.clone(),
            &response(&query, ResponseCode::NoError, Some(3600)),
        );
        let hit = cache.get(&query, 42).unwrap();
        assert_eq!((hit.metadata.id, hit.answers.len()), (42, 1));
        let expires = cache.entries.lock().unwrap()[&query].0;
        assert!(expires <= Instant::now() + MAX_TTL, "capped at MAX_TTL");
        assert!(expires > Instant::now() + MAX_TTL - Duration::from_secs(5));
    }

    /// An answer is served until its TTL runs out, and not after.
    #[test]
    fn an_answer_expires_with_its_ttl() {
        let cache = KeyCache::default();
        let query = dnskey_query();
        cache.insert(
            query.clone(),
            &response(&query, ResponseCode::NoError, Some(1)),
        );
        assert!(cache.get(&query, 1).is_some());
        std::thread::sleep(Duration::from_millis(1100));
        assert!(cache.get(&query, 1).is_none(), "expired after 1 s");
    }

    fn numbered_query(i: usize) -> Query {
        Query::query(
            Name::from_ascii(format!("k{i}.example.")).unwrap(),
            RecordType::DNSKEY,
        )
    }

    /// A full cache makes room by dropping what expired; the answers still valid stay.
    #[test]
    fn a_full_cache_drops_what_expired_first() {
        let cache = KeyCache::default();
        for i in 0..MAX_ENTRIES {
            let q = numbered_query(i);
            let ttl = if i % 2 == 0 { 1 } else { 3600 };
            cache.insert(q.clone(), &response(&q, ResponseCode::NoError, Some(ttl)));
        }
        std::thread::sleep(Duration::from_millis(1100));
        let last = numbered_query(MAX_ENTRIES);
        cache.insert(
            last.clone(),
            &response(&last, ResponseCode::NoError, Some(3600)),
        );
        assert_eq!(cache.entries.lock().unwrap().len(), MAX_ENTRIES / 2 + 1);
        assert!(
            cache.get(&numbered_query(1), 1).is_some(),
            "still valid, kept"
        );
        assert!(cache.get(&last, 1).is_some());
    }

    /// When nothing has expired, a full cache forgets everything: it never holds more than
    /// MAX_ENTRIES answers.
    #[test]
    fn a_full_cache_never_grows_past_its_bound() {
        let cache = KeyCache::default();
        let query = numbered_query;
        for i in 0..MAX_ENTRIES {
            let q = query(i);
            cache.insert(q.clone(), &response(&q, ResponseCode::NoError, Some(3600)));
        }
        assert_eq!(cache.entries.lock().unwrap().len(), MAX_ENTRIES);
        let last = query(MAX_ENTRIES);
        cache.insert(
            last.clone(),
            &response(&last, ResponseCode::NoError, Some(3600)),
        );
        assert_eq!(cache.entries.lock().unwrap().len(), 1);
        assert!(cache.get(&last, 1).is_some());
        assert!(cache.get(&query(0), 1).is_none());
    }

    #[test]
    fn keeps_nothing_without_records_with_ttl_zero_or_an_error_code() {
        let cache = KeyCache::default();
        let query = dnskey_query();
        for (code, ttl) in [
            (ResponseCode::NoError, None),
            (ResponseCode::NoError, Some(0)),
            (ResponseCode::ServFail, Some(3600)),
            (ResponseCode::NXDomain, Some(3600)),
        ] {
            cache.insert(query.clone(), &response(&query, code, ttl));
            assert!(cache.get(&query, 1).is_none(), "{code:?} {ttl:?}");
        }
    }

    /// A truncated answer would be served again to the TCP retry that should complete it; an
    /// oversized one would make the cache's memory the zones' choice.
    #[test]
    fn keeps_no_truncated_or_oversized_answer_and_forgets_all_when_cleared() {
        let cache = KeyCache::default();
        let query = dnskey_query();
        let mut truncated = response(&query, ResponseCode::NoError, Some(3600)).into_message();
        truncated.metadata.truncation = true;
        cache.insert(
            query.clone(),
            &DnsResponse::from_message(truncated).unwrap(),
        );
        assert!(cache.get(&query, 1).is_none(), "truncated");
        let mut large = response(&query, ResponseCode::NoError, Some(3600)).into_message();
        for i in 0..=(MAX_BYTES / 16) {
            large.answers.push(Record::from_rdata(
                query.name().clone(),
                3600,
                RData::A(std::net::Ipv4Addr::from(u32::try_from(i).unwrap()).into()),
            ));
        }
        cache.insert(query.clone(), &DnsResponse::from_message(large).unwrap());
        assert!(cache.get(&query, 1).is_none(), "oversized");
        cache.insert(
            query.clone(),
            &response(&query, ResponseCode::NoError, Some(3600)),
        );
        assert!(cache.get(&query, 1).is_some());
        cache.clear();
        assert!(cache.get(&query, 1).is_none(), "cleared");
    }

    #[test]
    fn only_single_validating_dnskey_or_ds_questions_are_cacheable() {
        let name = Name::from_ascii("example.").unwrap();
        let asked = |types: &[RecordType], dnssec_ok: bool, checking_disabled: bool| {
            let mut message = Message::query();
            for t in types {
                message.queries.push(Query::query(name.clone(), *t));
            }
            let mut edns = hickory_resolver::proto::op::Edns::new();
            edns.flags_mut().dnssec_ok = dnssec_ok;
            message.edns = Some(edns);
            message.metadata.checking_disabled = checking_disabled;
            DnsRequest::new(message, Default::default())
        };
        let request = |types: &[RecordType]| asked(types, true, false);
        assert!(cacheable(&request(&[RecordType::DNSKEY])).is_some());
        assert!(cacheable(&request(&[RecordType::DS])).is_some());
        assert!(
            cacheable(&asked(&[RecordType::DNSKEY], false, false)).is_none(),
            "no DO"
        );
        assert!(
            cacheable(&asked(&[RecordType::DNSKEY], true, true)).is_none(),
            "CD"
        );
        for types in [
            &[RecordType::TXT][..],
            &[RecordType::CAA],
            &[RecordType::A],
            &[RecordType::DNSKEY, RecordType::DS],
            &[],
        ] {
            assert!(cacheable(&request(types)).is_none(), "{types:?}");
        }
    }
}
