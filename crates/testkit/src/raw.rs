//! [`RawClient`]: hand-built ACME requests, for the cases a well-behaved client never sends
//! (bad nonces, wrong URLs, garbage bodies, every JWS algorithm). One TLS connection per
//! request, trusting only the test CA's root, to 127.0.0.1 only.

use std::sync::Arc;
use std::time::Duration;

use ferrite_jose::sign::SigningKey;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use tokio::net::TcpStream;

/// A response, fully read.
#[derive(Debug)]
pub struct RawResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: http::HeaderMap,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The body as JSON (panics if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// A header as a string.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The target of the `Link: <URL>;rel="REL"` header, if there is one.
    pub fn link(&self, rel: &str) -> Option<String> {
        let suffix = format!(">;rel=\"{rel}\"");
        self.headers.get_all("link").iter().find_map(|l| {
            l.to_str()
                .ok()?
                .strip_suffix(suffix.as_str())?
                .strip_prefix('<')
                .map(str::to_owned)
        })
    }

    /// The problem type's short name (after `urn:ietf:params:acme:error:`).
    pub fn problem_type(&self) -> String {
        let v = self.json();
        v["type"]
            .as_str()
            .unwrap_or_default()
            .trim_start_matches("urn:ietf:params:acme:error:")
            .to_owned()
    }
}

/// A raw HTTPS client for a [`crate::ca::TestCa`].
#[derive(Clone)]
pub struct RawClient {
    base_url: String,
    tls: Arc<rustls::ClientConfig>,
    /// Where every request goes (`127.0.0.1:PORT`) whatever its URL says, as a load balancer
    /// in front of several instances of one CA would send it; `None`: the URL's own address.
    connect_to: Option<String>,
    /// The client address a TLS-terminating proxy in front of the listener forwards
    /// (`X-Forwarded-For`, with `X-Forwarded-Proto: https`); set, requests go to `connect_to`
    /// over plain HTTP, as that proxy sends them.
    forwarded_for: Option<String>,
}

impl RawClient {
    /// A client trusting `root_pem`, for `base_url` (`https://127.0.0.1:PORT`).
    pub fn new(base_url: &str, root_pem: &str) -> RawClient {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(root_pem.as_bytes()) {
            roots.add(cert.expect("root pem")).expect("add root");
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("tls versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        RawClient {
            base_url: base_url.trim_end_matches('/').to_owned(),
            tls: Arc::new(tls),
            connect_to: None,
            forwarded_for: None,
        }
    }

    /// This client, sending every request to the instance at `addr` (on loopback) while the
    /// URLs it signs stay under the base URL: instances of one CA share one public URL, and
    /// any of them answers any request.
    pub fn through(&self, addr: std::net::SocketAddr) -> RawClient {
        assert!(addr.ip().is_loopback(), "tests only talk to loopback");
        RawClient {
            connect_to: Some(addr.to_string()),
            ..self.clone()
        }
    }

    /// This client as a TLS-terminating proxy on loopback relays it to the plain-HTTP
    /// listener at `addr` (`tls.mode = "behind-proxy"`): every request goes there over plain
    /// HTTP with `X-Forwarded-For: forwarded_for` (the client chain the proxy passes on, its
    /// own hop last) and `X-Forwarded-Proto: https`; the URLs it signs stay under the base URL.
    pub fn proxied(&self, addr: std::net::SocketAddr, forwarded_for: &str) -> RawClient {
        assert!(addr.ip().is_loopback(), "tests only talk to loopback");
        RawClient {
            connect_to: Some(addr.to_string()),
            forwarded_for: Some(forwarded_for.to_owned()),
            ..self.clone()
        }
    }

    /// The full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Sends one request. `url` must be under the base URL (127.0.0.1 only).
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> RawResponse {
        let authority = loopback_authority(url, "https://");
        let target = self
            .connect_to
            .clone()
            .unwrap_or_else(|| authority.to_owned());
        let tls = self.tls.clone();
        let forwarded_for = self.forwarded_for.clone();
        bounded_request(async move {
            let tcp = TcpStream::connect(target).await.expect("connect");
            match forwarded_for {
                // Plain HTTP, as a TLS-terminating proxy relays it.
                Some(client) => {
                    let headers = [
                        ("x-forwarded-for", client.as_str()),
                        ("x-forwarded-proto", "https"),
                    ];
                    exchange(tcp, method, url, authority, content_type, &headers, body).await
                }
                None => {
                    let connector = tokio_rustls::TlsConnector::from(tls);
                    let name = ServerName::try_from("127.0.0.1").expect("name").to_owned();
                    let stream = connector.connect(name, tcp).await.expect("tls");
                    exchange(stream, method, url, authority, content_type, &[], body).await
                }
            }
        })
        .await
    }

    /// A fresh nonce from newNonce.
    pub async fn nonce(&self) -> String {
        let r = self
            .send("HEAD", &self.url("/acme/new-nonce"), None, Vec::new())
            .await;
        r.header("replay-nonce").expect("Replay-Nonce")
    }

    /// Signs `payload` (None = POST-as-GET) with `key` (kid = account URL or None for jwk)
    /// using a fresh nonce, and posts it to `url`.
    pub async fn post(
        &self,
        key: &SigningKey,
        kid: Option<&str>,
        url: &str,
        payload: Option<&Value>,
    ) -> RawResponse {
        let nonce = self.nonce().await;
        let jws = key.sign(kid, Some(&nonce), url, payload).expect("sign");
        self.post_jws(url, &jws).await
    }

    /// Posts a ready-made flattened JWS to `url` as `application/jose+json`.
    pub async fn post_jws(&self, url: &str, jws: &Value) -> RawResponse {
        self.send(
            "POST",
            url,
            Some("application/jose+json"),
            serde_json::to_vec(jws).expect("json"),
        )
        .await
    }

    /// A POST-as-GET (empty payload) of `url`, signed with the account `kid`.
    pub async fn post_as_get(&self, key: &SigningKey, kid: &str, url: &str) -> RawResponse {
        self.post(key, Some(kid), url, None).await
    }

    /// Responds (`{}`, RFC 8555 §7.5.1) to the `kind` challenge of the order's first
    /// authorization and asserts a 200; returns the authorization URL and the response.
    pub async fn start_challenge(
        &self,
        account: &RawAccount,
        order: &Value,
        kind: &str,
    ) -> (String, RawResponse) {
        let authz_url = order["authorizations"][0]
            .as_str()
            .unwrap_or_else(|| panic!("no authorization in {order}"))
            .to_owned();
        let authz = self
            .post_as_get(&account.key, &account.kid, &authz_url)
            .await
            .json();
        let url = crate::challenge(&authz, kind)["url"]
            .as_str()
            .expect("challenge url")
            .to_owned();
        let r = self
            .post(
                &account.key,
                Some(&account.kid),
                &url,
                Some(&serde_json::json!({})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        (authz_url, r)
    }

    /// Polls `url` with POST-as-GET until `done` holds for the JSON body; at most 100 polls
    /// over 20 s (panics otherwise, with the last body). Returns the last body.
    pub async fn poll(
        &self,
        key: &SigningKey,
        kid: &str,
        url: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let mut last = Value::Null;
        for _ in 0..100 {
            let r = self.post_as_get(key, kid, url).await;
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
            last = r.json();
            if done(&last) || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(done(&last), "gave up polling {url}: {last}");
        last
    }

    /// Registers an account for `key`; returns its URL (kid).
    pub async fn new_account(&self, key: &SigningKey) -> String {
        self.new_account_bound(key, None).await
    }

    /// Registers an account for `key`, bound to the customer of `mac` when given (RFC 8555
    /// §7.3.4 external account binding); asserts a 201 and returns its URL (kid).
    pub async fn new_account_bound(
        &self,
        key: &SigningKey,
        mac: Option<&crate::eab::IssuedMacKey>,
    ) -> String {
        let url = self.url("/acme/new-account");
        let mut payload = serde_json::json!({"termsOfServiceAgreed": true});
        if let Some(mac) = mac {
            payload["externalAccountBinding"] = mac.binding(&url, key);
        }
        let r = self.post(key, None, &url, Some(&payload)).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        r.header("location").expect("Location")
    }
}

/// A plain-HTTP GET of `url` (`http://127.0.0.1:PORT/...`, e.g. the CRL on
/// [`crate::TestCa::public_url`]), bounded to 20 s.
pub async fn http_get(url: &str) -> RawResponse {
    http_get_with(url, &[]).await
}

/// [`http_get`] with extra request headers (`If-None-Match`, `If-Modified-Since`, …).
pub async fn http_get_with(url: &str, headers: &[(&str, &str)]) -> RawResponse {
    let authority = loopback_authority(url, "http://");
    bounded_request(async move {
        let tcp = TcpStream::connect(authority).await.expect("connect");
        exchange(tcp, "GET", url, authority, None, headers, Vec::new()).await
    })
    .await
}

/// The `127.0.0.1:PORT` of `url`, which must start with `scheme`: tests only talk to loopback.
fn loopback_authority<'a>(url: &'a str, scheme: &str) -> &'a str {
    let rest = url
        .strip_prefix(scheme)
        .unwrap_or_else(|| panic!("{url} is not a {scheme} URL"));
    let (authority, _) = rest.split_once('/').unwrap_or((rest, ""));
    assert!(
        authority.starts_with("127.0.0.1:"),
        "tests only talk to loopback"
    );
    authority
}

/// At most 20 seconds for one request.
async fn bounded_request(fut: impl std::future::Future<Output = RawResponse>) -> RawResponse {
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .expect("request timed out")
}

/// One HTTP/1.1 request over an open connection (plain TCP or TLS), fully read.
async fn exchange<S>(
    stream: S,
    method: &str,
    url: &str,
    authority: &str,
    content_type: Option<&str>,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> RawResponse
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
    tokio::spawn(conn);
    let mut req = http::Request::builder()
        .method(method)
        .uri(url)
        .header("host", authority);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let req = req.body(Full::new(Bytes::from(body))).expect("request");
    let resp = sender.send_request(req).await.expect("send");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    RawResponse {
        status,
        headers,
        body,
    }
}

/// An account registered through a [`RawClient`]: its key and URL (the `kid`).
pub struct RawAccount {
    /// The account key.
    pub key: SigningKey,
    /// The account URL, used as `kid`.
    pub kid: String,
}

impl RawAccount {
    /// Generates a key of `alg` and registers it.
    pub async fn register(client: &RawClient, alg: ferrite_jose::Algorithm) -> RawAccount {
        let key = SigningKey::generate(alg).expect("generate key");
        let kid = client.new_account(&key).await;
        RawAccount { key, kid }
    }

    /// Generates an ES256 key and registers it bound to `mac` (the MAC key an operator
    /// handed out).
    pub async fn register_bound(client: &RawClient, mac: &crate::eab::IssuedMacKey) -> RawAccount {
        let key = SigningKey::generate(ferrite_jose::Algorithm::ES256).expect("generate key");
        let kid = client.new_account_bound(&key, Some(mac)).await;
        RawAccount { key, kid }
    }

    /// The key authorization of `token` for this account (RFC 8555 §8.1).
    pub fn key_authorization(&self, token: &str) -> String {
        format!("{token}.{}", self.key.public_jwk().thumbprint())
    }
}
