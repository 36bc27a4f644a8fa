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
//! A cached answer is still validated every time it is used (the cache sits below the
//! validation), so it can only save queries, never make an answer trusted. Only `NOERROR`
//! answers are kept: a positive set, or a signed denial (an insecure delegation's missing DS).

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
const MAX_ENTRIES: usize = 4096;

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
    /// `NOERROR` answer with records and that TTL is not zero.
    fn insert(&self, query: Query, response: &DnsResponse) {
        if response.metadata.response_code != ResponseCode::NoError {
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
}

/// The question of `request` if it is one this cache answers: a single DNSKEY or DS question
/// of class IN.
fn cacheable(request: &DnsRequest) -> Option<Query> {
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
#[derive(Clone, Default)]
pub(crate) struct KeyCachingProvider {
    runtime: TokioRuntimeProvider,
    cache: Arc<KeyCache>,
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
    /// the code and the TTLs).
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

    #[test]
    fn only_single_dnskey_or_ds_questions_are_cacheable() {
        let name = Name::from_ascii("example.").unwrap();
        let request = |types: &[RecordType]| {
            let mut message = Message::query();
            for t in types {
                message.queries.push(Query::query(name.clone(), *t));
            }
            DnsRequest::new(message, Default::default())
        };
        assert!(cacheable(&request(&[RecordType::DNSKEY])).is_some());
        assert!(cacheable(&request(&[RecordType::DS])).is_some());
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
