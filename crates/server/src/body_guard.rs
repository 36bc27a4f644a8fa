//! The request-body guard: a response sent before its request body has arrived still reaches
//! the client, and the connection it came on stays usable.
//!
//! Many answers need no body: a wrong `Content-Type` (415), a body over the size cap (413), an
//! unknown path (404), a wrong method (405), a path that does not decode. The handler answers
//! and drops the body while the client may still be sending it. HTTP/2 (RFC 9113 §8.1) then
//! ends the request stream with `RST_STREAM(NO_ERROR)` after the response, and HTTP/1.1 has to
//! close the connection. Both are allowed, but several clients lose the response when they are
//! still uploading: curl 7.88 fails with "Stream error in the HTTP/2 framing layer" (exit 92)
//! or "Send failure: Broken pipe", Python's httpx with `LocalProtocolError`, Go over HTTP/1.1
//! with "broken pipe".
//!
//! So the guard wraps every request body. When the handler drops it unfinished, the rest is
//! handed back, and once the handler has returned a task reads and discards it — at most
//! [`Limits::drain_bytes`] within [`Limits::drain_timeout`] — while the response goes out. A
//! client that sends its whole body sees a stream that ends normally (HTTP/2) or a connection
//! kept alive (HTTP/1.1). A larger or endless body is dropped at the bound: HTTP/2 then ends
//! the stream with `NO_ERROR` once the response is complete (hyper's stream keeps a reference
//! of its own until the response is sent, so h2 never picks `CANCEL` here), and HTTP/1.1
//! closes the connection after the response.
//!
//! Every wait is bounded: a handler reading the body gets an error after
//! [`Limits::read_timeout`] (from the request's start), so a client trickling a body cannot
//! hold a task, and the drain stops at its own bounds.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use hyper::body::{Frame, SizeHint};
use tokio::sync::oneshot;
use tokio::time::Sleep;
use tracing::Instrument;

/// The guard's bounds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// How long a handler may wait for the whole request body, counted from the request's
    /// start; then reading fails.
    pub(crate) read_timeout: Duration,
    /// Most bytes read and discarded after the handler returns. Above every body a client
    /// sends by mistake (ACME bodies are capped at 64 KiB; HTTP/2's stream window here is
    /// 1 MiB), small enough that discarding costs little.
    pub(crate) drain_bytes: u64,
    /// How long discarding may take after the handler returns.
    pub(crate) drain_timeout: Duration,
}

impl Limits {
    /// The bounds every router uses.
    pub(crate) const DEFAULT: Limits = Limits {
        // As long as a client may take to send the request headers (`listener`).
        read_timeout: Duration::from_secs(30),
        drain_bytes: 4 * 1024 * 1024,
        drain_timeout: Duration::from_secs(10),
    };
}

/// The middleware: guards the request body, runs the handler, and discards whatever of the
/// body the handler left unread.
pub(crate) async fn guard(State(limits): State<Limits>, req: Request, next: Next) -> Response {
    let expects_continue = req
        .headers()
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let (unread_tx, mut unread_rx) = oneshot::channel();
    let req = req.map(|body| Body::new(Guarded::new(body, limits.read_timeout, unread_tx)));
    let response = next.run(req).await;
    // The handler has returned and dropped its request; a body it left unfinished is here
    // now. (A handler that kept the body elsewhere has not dropped it: nothing to do.)
    if let Ok(unread) = unread_rx.try_recv() {
        if expects_continue && !unread.polled {
            // RFC 9110 §10.1.1: this client waits for `100 Continue` before it sends the
            // body, and hyper sends that only when the body is read. It was not read, so the
            // client sends nothing: reading now would only ask for a body nobody wants.
        } else {
            tokio::spawn(drain(unread.body, limits).instrument(tracing::Span::current()));
        }
    }
    response
}

/// Reads and discards `body` until it ends or a bound of `limits` is reached, then drops it.
async fn drain(mut body: Body, limits: Limits) {
    let mut read: u64 = 0;
    let ended = tokio::time::timeout(limits.drain_timeout, async {
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            let Ok(frame) = frame else {
                // The client reset the stream or closed the connection: nothing left to read.
                return true;
            };
            if let Some(data) = frame.data_ref() {
                read = read.saturating_add(data.len() as u64);
                if read > limits.drain_bytes {
                    return false;
                }
            }
        }
        true
    })
    .await
    .unwrap_or(false);
    if !ended {
        tracing::debug!(
            discarded_bytes = read,
            "request body still arriving at the drain bound; \
             the stream or connection ends after the response"
        );
    }
}

/// What a handler left of the request body.
struct Unread {
    body: Body,
    /// Whether the handler read from it at all (for `Expect: 100-continue`).
    polled: bool,
}

/// The request body a handler sees: the real body, plus a read deadline, plus handing back
/// whatever is left when dropped unfinished.
struct Guarded {
    /// The real body; `None` once it ended, failed or timed out (nothing left to discard).
    inner: Option<Body>,
    /// When reading gives up (`read_timeout` after the request's start).
    deadline: Pin<Box<Sleep>>,
    read_timeout: Duration,
    /// Where an unfinished body goes when the handler drops it.
    unread: Option<oneshot::Sender<Unread>>,
    polled: bool,
}

impl Guarded {
    fn new(body: Body, read_timeout: Duration, unread: oneshot::Sender<Unread>) -> Self {
        Self {
            inner: Some(body),
            deadline: Box::pin(tokio::time::sleep(read_timeout)),
            read_timeout,
            unread: Some(unread),
            polled: false,
        }
    }
}

/// The client did not send the whole body within `Limits::read_timeout`.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}; send it at once with the headers")]
struct ReadTimeout(Duration);

/// Whether `e`, an error reading a guarded body, is the guard's read timeout (so a handler
/// can answer 408 rather than blame the body).
pub(crate) fn is_read_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(e) = next {
        if e.is::<ReadTimeout>() {
            return true;
        }
        next = e.source();
    }
    false
}

impl HttpBody for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        this.polled = true;
        match Pin::new(&mut *inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if inner.is_end_stream() {
                    this.inner = None;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(other) => {
                // Ended, or failed (a failed body cannot be read any further).
                this.inner = None;
                Poll::Ready(other)
            }
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                // Too slow to be worth discarding either: dropped, it ends the stream or
                // connection after the response.
                this.inner = None;
                Poll::Ready(Some(Err(axum::Error::new(ReadTimeout(this.read_timeout)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), HttpBody::size_hint)
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if let (Some(body), Some(unread)) = (self.inner.take(), self.unread.take())
            && !body.is_end_stream()
        {
            let _ = unread.send(Unread {
                body,
                polled: self.polled,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::post;
    use tokio::sync::mpsc;
    use tower::ServiceExt as _;

    use super::*;

    const LIMITS: Limits = Limits {
        read_timeout: Duration::from_millis(300),
        drain_bytes: 64 * 1024,
        drain_timeout: Duration::from_millis(300),
    };

    /// What became of a [`ChannelBody`] when it was dropped.
    #[derive(Debug, PartialEq, Eq)]
    struct Fate {
        /// Read to its end.
        ended: bool,
        /// Read from at all.
        polled: bool,
    }

    /// A request body the test sends chunk by chunk, which reports its [`Fate`].
    struct ChannelBody {
        chunks: mpsc::Receiver<Bytes>,
        fate: Option<oneshot::Sender<Fate>>,
        ended: bool,
        polled: bool,
    }

    impl HttpBody for ChannelBody {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            self.polled = true;
            let frame = std::task::ready!(self.chunks.poll_recv(cx));
            self.ended = frame.is_none();
            Poll::Ready(frame.map(|chunk| Ok(Frame::data(chunk))))
        }
    }

    impl Drop for ChannelBody {
        fn drop(&mut self) {
            if let Some(fate) = self.fate.take() {
                let _ = fate.send(Fate {
                    ended: self.ended,
                    polled: self.polled,
                });
            }
        }
    }

    /// A POST to `path` of a body fed through the returned sender; its fate is reported on
    /// the returned receiver.
    fn request(
        path: &str,
        expect_continue: bool,
    ) -> (Request, mpsc::Sender<Bytes>, oneshot::Receiver<Fate>) {
        let (tx, chunks) = mpsc::channel(1);
        let (fate_tx, fate) = oneshot::channel();
        let body = ChannelBody {
            chunks,
            fate: Some(fate_tx),
            ended: false,
            polled: false,
        };
        let mut req = Request::post(path);
        if expect_continue {
            req = req.header(header::EXPECT, "100-continue");
        }
        (req.body(Body::new(body)).unwrap(), tx, fate)
    }

    /// `/ignore` answers 415 without looking at the body; `/read` reads at most 1 KiB of it,
    /// answering 413 for more and 408 when it does not come in time.
    fn app() -> Router {
        Router::new()
            .route(
                "/ignore",
                post(|| async { StatusCode::UNSUPPORTED_MEDIA_TYPE }),
            )
            .route(
                "/read",
                post(|body: Body| async move {
                    match axum::body::to_bytes(body, 1024).await {
                        Ok(bytes) => (StatusCode::OK, bytes.len().to_string()),
                        Err(e) if is_read_timeout(&e) => {
                            (StatusCode::REQUEST_TIMEOUT, e.to_string())
                        }
                        Err(e) => (StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
                    }
                }),
            )
            .layer(axum::middleware::from_fn_with_state(LIMITS, guard))
    }

    async fn fate_within(fate: oneshot::Receiver<Fate>, wait: Duration) -> Fate {
        tokio::time::timeout(wait, fate)
            .await
            .expect("the body is still held")
            .expect("fate reported")
    }

    #[tokio::test]
    async fn a_body_sent_after_the_response_is_read_to_its_end() {
        let (req, tx, fate) = request("/ignore", false);
        let response = app().oneshot(req).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        // The whole body arrives after the response, and is taken.
        for _ in 0..3 {
            let sent = tokio::time::timeout(Duration::from_secs(1), tx.send(Bytes::from("x")));
            sent.await.unwrap().unwrap();
        }
        drop(tx);
        let fate = fate_within(fate, Duration::from_secs(1)).await;
        assert_eq!(
            fate,
            Fate {
                ended: true,
                polled: true
            }
        );
    }

    #[tokio::test]
    async fn the_rest_of_an_oversized_body_is_read_to_its_end() {
        let (req, tx, fate) = request("/read", false);
        let feeder = tokio::spawn(async move {
            for _ in 0..8 {
                tx.send(Bytes::from(vec![b'x'; 1000])).await.unwrap();
            }
        });
        let response = app().oneshot(req).await.unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        feeder.await.unwrap();
        assert!(fate_within(fate, Duration::from_secs(1)).await.ended);
    }

    #[tokio::test]
    async fn an_endless_body_is_dropped_at_the_byte_bound() {
        let (req, tx, fate) = request("/ignore", false);
        let response = app().oneshot(req).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let mut sent = 0;
        let chunk = Bytes::from(vec![b'x'; 1024]);
        while tokio::time::timeout(Duration::from_secs(1), tx.send(chunk.clone()))
            .await
            .unwrap()
            .is_ok()
        {
            sent += chunk.len() as u64;
            assert!(
                sent <= 2 * LIMITS.drain_bytes,
                "still reading at {sent} bytes"
            );
        }
        assert!(sent > LIMITS.drain_bytes, "dropped after {sent} bytes");
        assert!(!fate_within(fate, Duration::from_secs(1)).await.ended);
    }

    #[tokio::test]
    async fn a_silent_body_is_dropped_at_the_time_bound() {
        let (req, _tx, fate) = request("/ignore", false);
        let response = app().oneshot(req).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let started = tokio::time::Instant::now();
        let fate = fate_within(fate, Duration::from_secs(5)).await;
        assert!(started.elapsed() >= LIMITS.drain_timeout / 2);
        assert!(!fate.ended);
    }

    #[tokio::test]
    async fn a_handler_waiting_for_a_body_that_does_not_come_gets_an_error() {
        let (req, _tx, fate) = request("/read", false);
        let response = tokio::time::timeout(Duration::from_secs(5), app().oneshot(req))
            .await
            .expect("the handler is still waiting")
            .unwrap();
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        let detail = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert!(
            String::from_utf8_lossy(&detail).contains("did not arrive within 300ms"),
            "{detail:?}"
        );
        // Not drained either: the client is too slow for that.
        assert!(!fate_within(fate, Duration::from_secs(1)).await.ended);
    }

    #[tokio::test]
    async fn a_body_waiting_for_100_continue_is_not_asked_for() {
        let (req, _tx, fate) = request("/ignore", true);
        let response = app().oneshot(req).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let fate = fate_within(fate, Duration::from_secs(1)).await;
        assert_eq!(
            fate,
            Fate {
                ended: false,
                polled: false
            }
        );
    }
}
