//! The ACME listener behind a TLS-terminating proxy (`[tls] mode = "behind-proxy"`).
//!
//! The listener then speaks plain HTTP, and ACME is HTTPS only (RFC 8555 §6.1), so only a proxy
//! that terminated TLS may reach it: a request whose peer is not one of the configured proxies
//! is refused with a problem document, and so is a request the proxy says arrived over plain
//! HTTP (`Forwarded: proto=http`, `X-Forwarded-Proto: http`). The client's address is read from
//! what the proxies forward (RFC 7239 `Forwarded`, else `X-Forwarded-For`) and only from them:
//! walking the chain from the nearest hop, the first address that is not a trusted proxy is the
//! client. Anyone can write those headers; only the hops the proxies appended can be believed.
//!
//! The admin listener may have proxies in front of it too (`admin_trusted_proxies`), without
//! being reachable only through them: `forwarded_client` reads the client a proxy forwarded
//! and takes any other caller as its peer. `ClientIp` is the address either listener counts.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ferrite_proto::ProblemType;
use ipnet::IpNet;

use crate::listener::Peer;
use crate::problem::ApiError;

/// The addresses (single addresses or CIDR networks) of the proxies in front of the listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses each entry as an address (`10.0.0.7`, `::1`) or a network (`10.0.0.0/8`); the
    /// error names the entry that is neither.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        entries
            .iter()
            .map(|entry| {
                let text = entry.as_ref().trim();
                text.parse::<IpNet>()
                    .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!(
                            "{text:?} is neither an IP address nor a network such as 10.0.0.0/8"
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// Whether `ip` is one of the proxies (an IPv4-mapped IPv6 address counts as its IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address as the proxies forwarded it: the nearest hop of the chain in
    /// `headers` that is not a proxy. `None` when nothing was forwarded, or when the hop to take
    /// is not an address (`unknown`, an obfuscated name, a malformed value): then the peer is
    /// all that is known.
    fn client(&self, headers: &HeaderMap) -> Option<IpAddr> {
        let chain = forwarded_for(headers);
        for hop in chain.iter().rev() {
            match hop {
                Some(ip) if self.contains(*ip) => {}
                Some(ip) => return Some(ip.to_canonical()),
                None => return None,
            }
        }
        // Every hop is a proxy: the first one is as near to the client as the chain goes.
        chain.first().copied().flatten()
    }
}

/// The address a request came from: the client's as the trusted proxies forwarded it, or the
/// connection's peer. A request extension on the ACME listener behind a proxy, and on the
/// admin listener with `admin_trusted_proxies`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// Records the client's address on a listener that proxies may front without being the only
/// way in (the admin listener, `admin_trusted_proxies`): for a request from one of the proxies,
/// the client they forwarded (the proxy itself when they forwarded none); for any other, its
/// peer.
pub(crate) async fn forwarded_client(
    State(proxies): State<Arc<TrustedProxies>>,
    mut req: Request,
    next: Next,
) -> Response {
    if let Some(peer) = req.extensions().get::<Peer>().map(|p| p.0.ip()) {
        let client = if proxies.contains(peer) {
            proxies.client(req.headers()).unwrap_or(peer)
        } else {
            peer
        };
        crate::request_id::record_client(client);
        req.extensions_mut().insert(ClientAddress(client));
    }
    next.run(req).await
}

/// Refuses what did not come through a trusted proxy over HTTPS; records the client's address.
pub(crate) async fn guard(
    State(proxies): State<Arc<TrustedProxies>>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req.extensions().get::<Peer>().map(|p| p.0.ip());
    let Some(peer) = peer.filter(|ip| proxies.contains(*ip)) else {
        return ApiError::new(
            ProblemType::Unauthorized,
            "this listener takes requests only through the proxy that terminates TLS in front of it (tls.trusted_proxies); send them to the https:// directory URL",
        )
        .into_response();
    };
    if let Some(proto) = forwarded_proto(req.headers())
        && !proto.eq_ignore_ascii_case("https")
    {
        return ApiError::new(
            ProblemType::Malformed,
            format!(
                "ACME is served over HTTPS only (RFC 8555 §6.1) and this request reached the proxy over {proto}; use the https:// directory URL"
            ),
        )
        .into_response();
    }
    let client = proxies.client(req.headers()).unwrap_or(peer);
    crate::request_id::record_client(client);
    req.extensions_mut().insert(ClientAddress(client));
    next.run(req).await
}

/// The address the request came from: the client's as the trusted proxies forwarded it
/// ([`crate::proxy::ClientAddress`]), else the connection's peer; `None` if neither is known
/// (a router served without the listener). What `new_accounts_per_address` and
/// `failed_admin_authentications_per_address` count.
pub(crate) struct ClientIp(pub(crate) Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Self, std::convert::Infallible> {
        Ok(ClientIp(client_ip(&parts.extensions)))
    }
}

/// [`ClientIp`] from a request's extensions.
pub(crate) fn client_ip(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<ClientAddress>()
        .map(|c| c.0)
        .or_else(|| extensions.get::<Peer>().map(|p| p.0.ip()))
}

/// The `for` addresses of the forwarding chain, client first: from `Forwarded` when the request
/// has one, else from `X-Forwarded-For`. A hop that is not an address is `None`.
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let elements = forwarded_elements(headers);
    if !elements.is_empty() {
        return elements
            .iter()
            .map(|pairs| {
                pairs
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case("for"))
                    .and_then(|(_, node)| node_address(node))
            })
            .collect();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("").split(','))
        .map(|hop| node_address(hop.trim()))
        .collect()
}

/// The scheme the request reached the nearest proxy over: the last element's `proto` of
/// `Forwarded`, else the last `X-Forwarded-Proto` value.
fn forwarded_proto(headers: &HeaderMap) -> Option<String> {
    let elements = forwarded_elements(headers);
    if let Some(last) = elements.last() {
        return last
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("proto"))
            .map(|(_, proto)| proto.clone());
    }
    headers
        .get_all("x-forwarded-proto")
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("").split(','))
        .map(str::trim)
        .rfind(|p| !p.is_empty())
        .map(str::to_owned)
}

/// The elements of every `Forwarded` header, in order, each as its (name, value) pairs with
/// quoted strings unquoted (RFC 7239 §4).
fn forwarded_elements(headers: &HeaderMap) -> Vec<Vec<(String, String)>> {
    let mut elements = Vec::new();
    for value in headers.get_all("forwarded") {
        let Ok(text) = value.to_str() else { continue };
        let mut pairs = Vec::new();
        let mut rest = text;
        loop {
            let (pair, separator, after) = split_pair(rest);
            if let Some((name, value)) = pair.split_once('=') {
                pairs.push((name.trim().to_owned(), unquote(value.trim())));
            }
            if separator != Some(';') && !pairs.is_empty() {
                elements.push(std::mem::take(&mut pairs));
            }
            match separator {
                Some(_) => rest = after,
                None => break,
            }
        }
    }
    elements
}

/// Splits at the first `;` or `,` outside a quoted string: (before, the separator, after).
fn split_pair(text: &str) -> (&str, Option<char>, &str) {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' | ',' if !quoted => return (&text[..i], Some(c), &text[i + 1..]),
            _ => {}
        }
    }
    (text, None, "")
}

fn unquote(value: &str) -> String {
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => value.to_owned(),
    }
}

/// The address of a node (RFC 7239 §6): `192.0.2.43`, `192.0.2.43:4711`, `[2001:db8::1]`,
/// `[2001:db8::1]:4711`, or a bare IPv6 address as `X-Forwarded-For` writes it. `unknown` and
/// obfuscated identifiers are not addresses.
fn node_address(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(socket) = node.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    node.strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .and_then(|n| n.parse::<IpAddr>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn proxies_are_addresses_or_networks() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8", "192.0.2.7", "::1"]).unwrap();
        assert!(proxies.contains(ip("10.1.2.3")));
        assert!(proxies.contains(ip("192.0.2.7")));
        assert!(!proxies.contains(ip("192.0.2.8")));
        assert!(proxies.contains(ip("::1")));
        assert!(
            proxies.contains(ip("::ffff:10.9.9.9")),
            "an IPv4-mapped address is its IPv4"
        );
        let error = TrustedProxies::parse(&["10.0.0.0/8", "proxy.internal"]).unwrap_err();
        assert!(error.contains("\"proxy.internal\""), "{error}");
    }

    #[test]
    fn the_client_is_the_nearest_hop_that_is_not_a_proxy() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        // A client that wrote its own X-Forwarded-For is not believed past the proxies' hops.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.0.0.2")]);
        assert_eq!(proxies.client(&h), Some(ip("203.0.113.9")));
        let h = headers(&[
            (
                "forwarded",
                "for=\"[2001:db8::7]:4711\";proto=https, for=10.0.0.3",
            ),
            ("x-forwarded-for", "6.6.6.6"),
        ]);
        assert_eq!(
            proxies.client(&h),
            Some(ip("2001:db8::7")),
            "Forwarded wins over X-Forwarded-For"
        );
        let h = headers(&[("forwarded", "for=unknown, for=10.0.0.3")]);
        assert_eq!(proxies.client(&h), None, "an unknown hop leaves the peer");
        let h = headers(&[("x-forwarded-for", "10.0.0.9")]);
        assert_eq!(proxies.client(&h), Some(ip("10.0.0.9")));
        assert_eq!(proxies.client(&HeaderMap::new()), None);
    }

    #[test]
    fn the_scheme_is_the_nearest_proxys() {
        let h = headers(&[(
            "forwarded",
            "for=1.2.3.4;proto=http, for=10.0.0.1;proto=https",
        )]);
        assert_eq!(forwarded_proto(&h).as_deref(), Some("https"));
        let h = headers(&[("x-forwarded-proto", "https, http")]);
        assert_eq!(forwarded_proto(&h).as_deref(), Some("http"));
        assert_eq!(forwarded_proto(&HeaderMap::new()), None);
    }

    #[test]
    fn quoted_values_may_hold_separators() {
        let h = headers(&[("forwarded", "for=\"_a;b,c\";by=x, for=192.0.2.1")]);
        assert_eq!(
            forwarded_elements(&h),
            [
                vec![
                    ("for".to_owned(), "_a;b,c".to_owned()),
                    ("by".to_owned(), "x".to_owned())
                ],
                vec![("for".to_owned(), "192.0.2.1".to_owned())],
            ]
        );
    }
}
