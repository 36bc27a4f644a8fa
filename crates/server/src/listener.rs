//! Serving a router on a listener so that no client can hold it: every listener (ACME over
//! TLS, the public and the admin listener over plain HTTP) runs this one accept loop.
//!
//! - At most [`ConnectionLimits::max_connections`] connections at once; further clients wait
//!   in the kernel's accept queue, and the other listeners, with caps of their own, go on.
//! - At most [`ConnectionLimits::max_connections_per_address`] from one client address; a
//!   connection over that is closed at once, so one client cannot take every slot.
//! - The TLS handshake within [`ConnectionLimits::tls_handshake_timeout`], each request's
//!   headers within [`ConnectionLimits::header_read_timeout`] (hyper's timer, HTTP/1.1), and a
//!   connection with no request in flight is closed after [`ConnectionLimits::idle_timeout`]
//!   (HTTP/1.1 keep-alive and HTTP/2 alike). A request body is bounded by the body guard
//!   (`body_guard`), whole, not per byte.
//! - On shutdown the loop stops accepting, tells every connection to finish its requests and
//!   close, and waits for them at most [`SHUTDOWN_GRACE`].

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tower::Service;

/// How long connections get to finish their requests once the listener shuts down, or once
/// one is told to close for being idle.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The address a request's connection comes from: a request extension on every listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer(pub SocketAddr);

/// The bounds of one listener's connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// How long a client may take to complete the TLS handshake (TLS listeners only).
    pub tls_handshake_timeout: Duration,
    /// How long a client may take to send a request's headers once it started one, and how
    /// long a new HTTP/1.1 connection may wait for its first request.
    pub header_read_timeout: Duration,
    /// How long a connection may stay open with no request in flight.
    pub idle_timeout: Duration,
    /// Most connections served at once.
    pub max_connections: usize,
    /// Most connections served at once from one client address.
    pub max_connections_per_address: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            tls_handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            max_connections_per_address: 256,
        }
    }
}

/// Serves `router` on an already-bound listener until `shutdown` completes: over TLS with
/// `tls`, plain HTTP without; HTTP/1.1 and HTTP/2 either way (ALPN picks over TLS).
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = tls.map(TlsAcceptor::from);
    let max = limits.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(max));
    let addresses = Arc::new(PerAddress::default());
    let (closing_tx, closing_rx) = watch::channel(false);
    let local = listener.local_addr()?;
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(%local, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(address_slot) =
            PerAddress::take(&addresses, peer.ip(), limits.max_connections_per_address)
        else {
            tracing::debug!(%local, %peer, "connection refused: too many from this address");
            continue;
        };
        // Responses go out as soon as they are written: with Nagle's algorithm a response
        // written in pieces (the TLS handshake's flights, a record after the headers) waits
        // for the client's delayed ACK, ~40 ms on Linux.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(%peer, error = %e, "cannot set TCP_NODELAY");
        }
        let connection = Connection {
            peer,
            router: router.clone(),
            limits,
            closing: closing_rx.clone(),
            _slots: (slot, address_slot),
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            match acceptor {
                Some(acceptor) => {
                    let handshake = acceptor.accept(stream);
                    match tokio::time::timeout(limits.tls_handshake_timeout, handshake).await {
                        Ok(Ok(tls)) => connection.serve(tls).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
                None => connection.serve(stream).await,
            }
        });
    }
    let _ = closing_tx.send(true);
    // Every connection holds a slot until it ends: all slots back means all are closed.
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, slots.acquire_many(all)).await;
    Ok(())
}

/// Connections per client address.
#[derive(Default)]
struct PerAddress(Mutex<HashMap<IpAddr, usize>>);

impl PerAddress {
    /// A slot for one more connection from `address`, if it has fewer than `max`.
    fn take(this: &Arc<Self>, address: IpAddr, max: usize) -> Option<AddressSlot> {
        let mut counts = this.lock();
        let count = counts.entry(address).or_insert(0);
        if *count >= max.max(1) {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            owner: Arc::clone(this),
            address,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One connection's place in its address's count, given back when the connection ends.
struct AddressSlot {
    owner: Arc<PerAddress>,
    address: IpAddr,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut counts = self.owner.lock();
        if let Some(count) = counts.get_mut(&self.address) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.address);
            }
        }
    }
}

/// One accepted connection and what bounds it.
struct Connection {
    peer: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    /// Turns true when the listener shuts down.
    closing: watch::Receiver<bool>,
    /// Released when the connection ends.
    _slots: (OwnedSemaphorePermit, AddressSlot),
}

impl Connection {
    /// Serves HTTP/1.1 or HTTP/2 on `io` until the client closes, the connection has been idle
    /// for `idle_timeout`, or the listener shuts down (then requests in flight get
    /// [`SHUTDOWN_GRACE`] to finish).
    async fn serve<I>(mut self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let activity = Arc::new(Activity::new());
        let service = TowerToHyperService::new(Tracked {
            router: self.router.clone(),
            activity: Arc::clone(&activity),
            peer: Peer(self.peer),
        });
        let mut builder = Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_read_timeout);
        builder
            .http2()
            .timer(TokioTimer::new())
            // Pings find a peer that vanished without closing (the idle check below finds
            // one that is there but sends nothing).
            .keep_alive_interval(Some(self.limits.idle_timeout))
            .keep_alive_timeout(self.limits.header_read_timeout);
        let conn = builder.serve_connection(TokioIo::new(io), service);
        tokio::pin!(conn);
        let check_every = (self.limits.idle_timeout / 4)
            .clamp(Duration::from_millis(100), Duration::from_secs(5));
        let mut check = tokio::time::interval(check_every);
        let mut closing_since: Option<Instant> = None;
        loop {
            let give_up = closing_since.map(|since| since + SHUTDOWN_GRACE);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(peer = %self.peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
                _ = check.tick(), if closing_since.is_none() => {
                    if activity.idle_for() >= self.limits.idle_timeout {
                        tracing::debug!(peer = %self.peer, "closing an idle connection");
                        conn.as_mut().graceful_shutdown();
                        closing_since = Some(Instant::now());
                    }
                }
                changed = self.closing.changed(), if closing_since.is_none() => {
                    // A closed channel means the listener is gone: close as well.
                    if changed.is_err() || *self.closing.borrow() {
                        conn.as_mut().graceful_shutdown();
                        closing_since = Some(Instant::now());
                    }
                }
                () = sleep_until_or_never(give_up) => {
                    tracing::debug!(peer = %self.peer, "connection closed after the grace period");
                    return;
                }
            }
        }
    }
}

async fn sleep_until_or_never(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Requests in flight on one connection, and when the last one finished.
struct Activity {
    in_flight: AtomicUsize,
    last: Mutex<Instant>,
}

impl Activity {
    fn new() -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            last: Mutex::new(Instant::now()),
        }
    }

    /// How long the connection has had no request in flight (zero while one is).
    fn idle_for(&self) -> Duration {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return Duration::ZERO;
        }
        self.lock().elapsed()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Instant> {
        self.last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Counts a request in flight until dropped.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        *self.0.lock() = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The router, counting the requests in flight on its connection and giving each the
/// connection's [`Peer`].
#[derive(Clone)]
struct Tracked {
    router: Router,
    activity: Arc<Activity>,
    peer: Peer,
}

impl Service<Request<Incoming>> for Tracked {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        self.activity.in_flight.fetch_add(1, Ordering::AcqRel);
        let in_flight = InFlight(Arc::clone(&self.activity));
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(self.peer);
        let response = self.router.call(req);
        Box::pin(async move {
            let response = response.await;
            drop(in_flight);
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_at_most_its_share_of_connections() {
        let addresses = Arc::new(PerAddress::default());
        let a: IpAddr = [127, 0, 0, 2].into();
        let b: IpAddr = [127, 0, 0, 3].into();
        let first = PerAddress::take(&addresses, a, 2).unwrap();
        let second = PerAddress::take(&addresses, a, 2).unwrap();
        assert!(PerAddress::take(&addresses, a, 2).is_none());
        // Another address is counted apart.
        let other = PerAddress::take(&addresses, b, 2).unwrap();
        // A closed connection frees its place; the last one forgets the address.
        drop(first);
        let third = PerAddress::take(&addresses, a, 2).unwrap();
        drop((second, third, other));
        assert!(addresses.lock().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_is_idle_only_with_no_request_in_flight() {
        let activity = Arc::new(Activity::new());
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(activity.idle_for() >= Duration::from_secs(5));
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        let request = InFlight(Arc::clone(&activity));
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(activity.idle_for(), Duration::ZERO);
        drop(request);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let idle = activity.idle_for();
        assert!(
            idle >= Duration::from_secs(1) && idle < Duration::from_secs(2),
            "{idle:?}"
        );
    }
}
