//! http-01 (RFC 8555 §8.3): our own resolution, our own connection, the
//! hyper client connection API on top, redirects followed by hand.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use http::header::{ACCEPT, HOST, LOCATION, USER_AGENT};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;
use url::{Host, Url};

use crate::dial;
use crate::record::{FailureKind, Problem, ValidationRecord, excerpt};
use crate::va::Inner;

pub(crate) const METHOD: &str = "http-01";

/// Let's Encrypt follows at most 10 redirects.
pub(crate) const MAX_REDIRECTS: usize = 10;

/// A key authorization is under 200 bytes; anything near this is not one.
pub(crate) const BODY_CAP: usize = 64 * 1024;

const AGENT: &str = concat!("ferrite-va/", env!("CARGO_PKG_VERSION"));

pub(crate) async fn validate(
    va: &Inner,
    record: &mut ValidationRecord,
    domain: &str,
    token: &str,
    key_authorization: &str,
) -> Result<(), Problem> {
    check_token(token)?;
    let port = va.config.http01_port;
    record.port = Some(port);
    // RFC 8555 §8.3: "Construct a URL by populating the URL template
    // http://{domain}/.well-known/acme-challenge/{token}"
    let mut url = Url::parse(&format!(
        "http://{domain}:{port}/.well-known/acme-challenge/{token}"
    ))
    .map_err(|err| {
        Problem::new(
            FailureKind::Dns,
            format!("{domain:?} is not a valid host name for http-01: {err}"),
        )
    })?;
    let first = url.to_string();
    record.url = Some(first.clone());
    // The first request names the identifier itself, without a port.
    let mut host_header = domain.to_owned();

    let mut hops = 0;
    loop {
        let Fetched {
            target,
            response,
            _driver,
        } = fetch(va, record, &url, &host_header).await?;
        let status = response.status();
        if is_redirect(status) {
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok());
            let ports = (va.config.http01_port, va.config.tlsalpn01_port);
            let next = redirect_target(&url, target, status, location, hops, &first, ports)?;
            record.redirects.push(next.to_string());
            host_header = host_header_for(&next);
            url = next;
            hops += 1;
            continue;
        }

        let (body, truncated) = read_body(response.into_body(), &url, target).await?;
        return check_body(&url, target, status, &body, truncated, key_authorization);
    }
}

/// The URL a redirect answer (`status` with `location`, the `hops`-th redirect after `first`)
/// sends the validation to, if it is one to follow (see [`follow`]).
pub(crate) fn redirect_target(
    url: &Url,
    target: SocketAddr,
    status: StatusCode,
    location: Option<&str>,
    hops: usize,
    first: &str,
    ports: (u16, u16),
) -> Result<Url, Problem> {
    let Some(location) = location else {
        return Err(Problem::new(
            FailureKind::IncorrectResponse,
            format!(
                "{url} ({target}) answered HTTP {status} without a usable Location header; serve the key authorization there with status 200"
            ),
        ));
    };
    if hops == MAX_REDIRECTS {
        return Err(Problem::new(
            FailureKind::Connection,
            format!(
                "Too many redirects: more than {MAX_REDIRECTS} following {first}, the last from {url} to {location:?}; redirect at most {MAX_REDIRECTS} times"
            ),
        ));
    }
    follow(ports, url, location)
}

/// RFC 8555 §8.3 on a final (non-redirect) answer from `url`: status 200 and a body that is
/// the key authorization, `truncated` when it was longer than [`BODY_CAP`].
pub(crate) fn check_body(
    url: &Url,
    target: SocketAddr,
    status: StatusCode,
    body: &[u8],
    truncated: bool,
    key_authorization: &str,
) -> Result<(), Problem> {
    if status != StatusCode::OK {
        return Err(Problem::new(
            FailureKind::Unauthorized,
            format!(
                "Invalid response from {url} ({target}): HTTP {status}, body {} (first 64 bytes); serve the key authorization there with status 200",
                excerpt(body)
            ),
        ));
    }
    if truncated {
        return Err(Problem::new(
            FailureKind::IncorrectResponse,
            format!(
                "The body at {url} ({target}) is larger than {BODY_CAP} bytes; it must be the key authorization alone"
            ),
        ));
    }
    // RFC 8555 §8.3: "Verify that key authorization provided by the HTTP
    // server matches the key authorization stored by the server. The
    // server SHOULD ignore whitespace characters at the end of the body."
    let trimmed = body.trim_ascii_end();
    if trimmed == key_authorization.as_bytes() {
        return Ok(());
    }
    Err(Problem::new(
        FailureKind::IncorrectResponse,
        format!(
            "The key authorization at {url} ({target}) does not match: expected {key_authorization:?}, got {} (first 64 bytes)",
            excerpt(trimmed)
        ),
    ))
}

/// RFC 8555 §8.3: the token is base64url; anything else could change the
/// path we fetch.
fn check_token(token: &str) -> Result<(), Problem> {
    let ok = !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Problem::new(
            FailureKind::IncorrectResponse,
            format!("The challenge token {token:?} is not base64url; it cannot be fetched"),
        ))
    }
}

pub(crate) fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// A redirect's target, if it is one we follow: http on the http-01 port or
/// https on the tls-alpn-01 port (`ports`), to a domain name (as Let's Encrypt).
fn follow(
    (http01_port, tlsalpn01_port): (u16, u16),
    from: &Url,
    location: &str,
) -> Result<Url, Problem> {
    let mut next = from.join(location).map_err(|err| {
        Problem::new(
            FailureKind::Connection,
            format!("{from} redirected to {location:?}, which is not a valid URL: {err}"),
        )
    })?;
    next.set_fragment(None);
    let allowed = match next.scheme() {
        "http" => http01_port,
        "https" => tlsalpn01_port,
        other => {
            return Err(Problem::new(
                FailureKind::Connection,
                format!(
                    "{from} redirected to {next}, whose scheme {other:?} is not followed; redirect only to http or https"
                ),
            ));
        }
    };
    let port = next.port_or_known_default().unwrap_or(0);
    if port != allowed {
        return Err(Problem::new(
            FailureKind::Connection,
            format!(
                "{from} redirected to {next}, on port {port}; only port {http01_port} (http) and port {tlsalpn01_port} (https) may be redirected to"
            ),
        ));
    }
    match next.host() {
        Some(Host::Domain(_)) => Ok(next),
        _ => Err(Problem::new(
            FailureKind::Connection,
            format!("{from} redirected to {next}; redirects must name a domain, not an IP address"),
        )),
    }
}

pub(crate) fn host_header_for(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// Resolves, connects (TLS for https) and sends one GET.
async fn fetch(
    va: &Inner,
    record: &mut ValidationRecord,
    url: &Url,
    host_header: &str,
) -> Result<Fetched, Problem> {
    let port = url.port_or_known_default().unwrap_or(80);
    let (host, addresses): (String, Vec<IpAddr>) = match url.host() {
        Some(Host::Domain(name)) => (name.to_owned(), va.resolve.addresses(name).await?),
        Some(Host::Ipv4(ip)) => (ip.to_string(), vec![IpAddr::V4(ip)]),
        Some(Host::Ipv6(ip)) => (ip.to_string(), vec![IpAddr::V6(ip)]),
        None => {
            return Err(Problem::new(
                FailureKind::Connection,
                format!("{url} has no host"),
            ));
        }
    };
    let (tcp, target) = dial::connect(
        record,
        &host,
        &addresses,
        port,
        va.config.allow_private_addresses,
        va.connect_timeout,
    )
    .await?;
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };

    if url.scheme() == "https" {
        let server_name = ServerName::try_from(host.clone()).map_err(|err| {
            Problem::new(
                FailureKind::Tls,
                format!("{host:?} cannot be used as a TLS server name: {err}"),
            )
        })?;
        let tls = TlsConnector::from(va.https.clone())
            .connect(server_name, tcp)
            .await
            .map_err(|err| {
                Problem::new(
                    FailureKind::Tls,
                    format!("TLS handshake with {url} ({target}) failed: {err}"),
                )
            })?;
        get(tls, url, target, &path, host_header).await
    } else {
        get(tcp, url, target, &path, host_header).await
    }
}

/// Aborts the connection task when the exchange is done or abandoned.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

/// A response whose body is still to be read, with the task driving its
/// connection (aborted when this is dropped).
struct Fetched {
    target: SocketAddr,
    response: hyper::Response<Incoming>,
    _driver: AbortOnDrop,
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn get<IO>(
    io: IO,
    url: &Url,
    target: SocketAddr,
    path: &str,
    host_header: &str,
) -> Result<Fetched, Problem>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let connection_problem = |err: &dyn std::fmt::Display| {
        Problem::new(
            FailureKind::Connection,
            format!("Fetching {url} ({target}) failed: {err}"),
        )
    };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|err| connection_problem(&err))?;
    let driver = AbortOnDrop(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let request = Request::get(path)
        .header(HOST, host_header)
        .header(USER_AGENT, AGENT)
        .header(ACCEPT, "*/*")
        .body(Empty::<Bytes>::new())
        .map_err(|err| connection_problem(&err))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|err| connection_problem(&err))?;
    Ok(Fetched {
        target,
        response,
        _driver: driver,
    })
}

/// Reads at most [`BODY_CAP`] bytes; says whether there was more.
async fn read_body(
    mut body: Incoming,
    url: &Url,
    target: SocketAddr,
) -> Result<(Vec<u8>, bool), Problem> {
    let mut buf = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| {
            Problem::new(
                FailureKind::Connection,
                format!("Reading the body of {url} ({target}) failed: {err}"),
            )
        })?;
        if let Ok(data) = frame.into_data() {
            buf.extend_from_slice(&data);
            if buf.len() > BODY_CAP {
                buf.truncate(BODY_CAP);
                return Ok((buf, true));
            }
        }
    }
    Ok((buf, false))
}
