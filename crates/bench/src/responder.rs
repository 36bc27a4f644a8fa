//! http-01 (RFC 8555 §8.3): the generator's own responder, and [`Http01Sink`], the one thing
//! a flow needs from it (so a test can hand the key authorizations to another responder).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// RFC 8555 §8.3: the path the CA fetches, followed by the token.
pub const CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

/// Where a flow publishes key authorizations for the CA to fetch.
pub trait Http01Sink: Send + Sync {
    /// Serve `key_authorization` at `/.well-known/acme-challenge/{token}` from now on.
    fn publish(&self, token: &str, key_authorization: &str);
    /// Stop serving `token`.
    fn withdraw(&self, token: &str);
}

type Tokens = Arc<Mutex<HashMap<String, String>>>;

fn lock(tokens: &Mutex<HashMap<String, String>>) -> MutexGuard<'_, HashMap<String, String>> {
    tokens.lock().unwrap_or_else(|p| p.into_inner())
}

/// A plain-HTTP http-01 responder on a loopback address. Stops when dropped.
#[derive(Debug)]
pub struct Http01Server {
    addr: SocketAddr,
    tokens: Tokens,
    task: tokio::task::JoinHandle<()>,
}

impl Http01Server {
    /// Binds `listen` (must be a loopback address; port 0 picks one) and starts serving.
    pub async fn start(listen: SocketAddr) -> std::io::Result<Http01Server> {
        if !listen.ip().is_loopback() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "--http01-listen {listen} is not a loopback address; use 127.0.0.1:PORT \
                     (the port the CA under test validates on)"
                ),
            ));
        }
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let tokens: Tokens = Arc::default();
        let shared = tokens.clone();
        let task = tokio::spawn(async move {
            loop {
                let (tcp, _) = match listener.accept().await {
                    Ok(c) => c,
                    Err(_) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let tokens = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let resp = respond(&tokens, req.uri().path());
                        async move { Ok::<_, Infallible>(resp) }
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service);
                    // Bounded: a validator that holds a connection open cannot pile them up.
                    let _ = tokio::time::timeout(Duration::from_secs(30), conn).await;
                });
            }
        });
        Ok(Http01Server { addr, tokens, task })
    }

    /// The address listened on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Http01Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn respond(tokens: &Mutex<HashMap<String, String>>, path: &str) -> Response<Full<Bytes>> {
    let found = path
        .strip_prefix(CHALLENGE_PREFIX)
        .and_then(|token| lock(tokens).get(token).cloned());
    let mut resp = Response::new(Full::new(Bytes::new()));
    match found {
        Some(key_authorization) => {
            *resp.body_mut() = Full::new(Bytes::from(key_authorization));
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/octet-stream"),
            );
        }
        None => *resp.status_mut() = StatusCode::NOT_FOUND,
    }
    resp
}

impl Http01Sink for Http01Server {
    fn publish(&self, token: &str, key_authorization: &str) {
        lock(&self.tokens).insert(token.to_owned(), key_authorization.to_owned());
    }

    fn withdraw(&self, token: &str) {
        lock(&self.tokens).remove(token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn get(addr: SocketAddr, path: &str) -> (u16, Vec<u8>) {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .unwrap();
        tokio::spawn(conn);
        let req = Request::get(path)
            .header("host", "x.bench.example")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let resp = tokio::time::timeout(Duration::from_secs(5), sender.send_request(req))
            .await
            .unwrap()
            .unwrap();
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, body.to_vec())
    }

    #[tokio::test]
    async fn serves_published_tokens_only() {
        let server = Http01Server::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let addr = server.addr();
        assert_ne!(addr.port(), 0);
        server.publish("tok1", "tok1.thumb");
        assert_eq!(
            get(addr, "/.well-known/acme-challenge/tok1").await,
            (200, b"tok1.thumb".to_vec())
        );
        assert_eq!(get(addr, "/.well-known/acme-challenge/tok2").await.0, 404);
        assert_eq!(get(addr, "/tok1").await.0, 404);
        server.withdraw("tok1");
        assert_eq!(get(addr, "/.well-known/acme-challenge/tok1").await.0, 404);
    }

    #[tokio::test]
    async fn refuses_non_loopback_listen_addresses() {
        let err = Http01Server::start("0.0.0.0:0".parse().unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("loopback"), "{err}");
    }
}
