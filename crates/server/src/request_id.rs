//! Request ids: one per request, in the `X-Request-Id` response header, in every problem
//! document and in every log line of the request (a tracing span around the handler, with the
//! peer's address and, behind a proxy, the client's). A refused request is also handed to the
//! [`SupportTrail`] with the account and customer it was for.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use ferrite_core::model::RefusedRequest;
use tracing::Instrument;

use crate::support_trail::SupportTrail;

/// What is known of the current request beyond its id, filled in as the handler learns it.
#[derive(Debug)]
struct RequestScope {
    id: String,
    account: OnceLock<String>,
    customer: OnceLock<String>,
    client: OnceLock<IpAddr>,
}

tokio::task_local! {
    static REQUEST: Arc<RequestScope>;
}

/// The current request's id, if called inside a request.
pub(crate) fn current() -> Option<String> {
    REQUEST.try_with(|r| r.id.clone()).ok()
}

/// A problem document's detail, on the response that carries it: the request's one log line
/// names why it was refused.
#[derive(Clone, Debug)]
pub(crate) struct Refusal(pub(crate) String);

/// Records on the current request's span the account a request names (its `kid`), so the
/// request's log lines (a refusal's among them) say whose it was.
pub(crate) fn record_account(account: &str) {
    tracing::Span::current().record("account", tracing::field::display(account));
    let _ = REQUEST.try_with(|r| r.account.set(account.to_owned()));
}

/// Records on the current request's span the customer of the request's account.
pub(crate) fn record_customer(customer: &str) {
    tracing::Span::current().record("customer", tracing::field::display(customer));
    let _ = REQUEST.try_with(|r| r.customer.set(customer.to_owned()));
}

/// Records on the current request's span the client a trusted proxy forwarded the request for.
pub(crate) fn record_client(client: IpAddr) {
    tracing::Span::current().record("client", tracing::field::display(client));
    let _ = REQUEST.try_with(|r| r.client.set(client));
}

/// Assigns the id, opens the span, logs the outcome (a refusal with its problem type and
/// detail) and keeps a refusal in the support trail, sets the header.
pub(crate) async fn middleware(
    State((trail, listener)): State<(Arc<SupportTrail>, &'static str)>,
    req: Request,
    next: Next,
) -> Response {
    let id = ferrite_core::ids::random_id();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
        peer = tracing::field::Empty,
        client = tracing::field::Empty,
        account = tracing::field::Empty,
        customer = tracing::field::Empty,
    );
    // The connection's peer; behind a proxy (the peer is the proxy), the proxy guard records the
    // client the proxy forwarded for.
    let peer = req
        .extensions()
        .get::<crate::listener::Peer>()
        .map(|peer| peer.0.ip());
    if let Some(peer) = peer {
        span.record("peer", tracing::field::display(peer));
    }
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let scope = Arc::new(RequestScope {
        id: id.clone(),
        account: OnceLock::new(),
        customer: OnceLock::new(),
        client: OnceLock::new(),
    });
    let started = std::time::Instant::now();
    let mut response = REQUEST
        .scope(scope.clone(), next.run(req).instrument(span.clone()))
        .await;
    span.in_scope(|| {
        let status = response.status().as_u16();
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        let problem = response
            .extensions()
            .get::<crate::metrics::ProblemKind>()
            .map(|k| k.0);
        match (problem, response.extensions().get::<Refusal>()) {
            (Some(kind), Some(Refusal(detail))) => {
                tracing::info!(
                    status,
                    elapsed_ms,
                    problem = %kind.urn(),
                    detail = %detail,
                    "request refused"
                );
                trail.keep(RefusedRequest {
                    request_id: scope.id.clone(),
                    at: time::OffsetDateTime::now_utc(),
                    listener: listener.to_owned(),
                    method,
                    path,
                    status,
                    problem: kind.urn(),
                    detail: detail.clone(),
                    account_id: scope.account.get().cloned(),
                    customer_id: scope.customer.get().cloned(),
                    client: scope
                        .client
                        .get()
                        .copied()
                        .or(peer)
                        .map(|ip| ip.to_string()),
                });
            }
            _ => tracing::info!(status, elapsed_ms, "request finished"),
        }
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}
