//! Request ids: one per request, in the `X-Request-Id` response header, in every problem
//! document and in every log line of the request (a tracing span around the handler, with the
//! peer's address and, behind a proxy, the client's).

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The current request's id, if called inside a request.
pub(crate) fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// A problem document's detail, on the response that carries it: the request's one log line
/// names why it was refused.
#[derive(Clone, Debug)]
pub(crate) struct Refusal(pub(crate) String);

/// Records on the current request's span the account a request names (its `kid`), so the
/// request's log lines (a refusal's among them) say whose it was.
pub(crate) fn record_account(account: &str) {
    tracing::Span::current().record("account", tracing::field::display(account));
}

/// Records on the current request's span the customer of the request's account.
pub(crate) fn record_customer(customer: &str) {
    tracing::Span::current().record("customer", tracing::field::display(customer));
}

/// Assigns the id, opens the span, logs the outcome (a refusal with its problem type and
/// detail), sets the header.
pub(crate) async fn middleware(req: Request, next: Next) -> Response {
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
    if let Some(peer) = req.extensions().get::<crate::listener::Peer>() {
        span.record("peer", tracing::field::display(peer.0.ip()));
    }
    let started = std::time::Instant::now();
    let mut response = REQUEST_ID
        .scope(id.clone(), next.run(req).instrument(span.clone()))
        .await;
    span.in_scope(|| {
        let status = response.status().as_u16();
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        let problem = response
            .extensions()
            .get::<crate::metrics::ProblemKind>()
            .map(|k| k.0);
        match (problem, response.extensions().get::<Refusal>()) {
            (Some(kind), Some(Refusal(detail))) => tracing::info!(
                status,
                elapsed_ms,
                problem = %kind.urn(),
                detail = %detail,
                "request refused"
            ),
            _ => tracing::info!(status, elapsed_ms, "request finished"),
        }
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}
