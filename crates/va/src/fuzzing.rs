//! Entry points for the fuzz targets in `fuzz/`, compiled only with `--cfg fuzzing` (as
//! `cargo fuzz` builds): the pure steps between what a customer's DNS or web server answers
//! and the validation's outcome, which are private in a normal build. Records arrive as wire
//! RDATA and are decoded by hickory, as the resolver decodes them.

use std::net::SocketAddr;

use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::proto::serialize::binary::{BinDecoder, Restrict};
use http::StatusCode;
use url::Url;

use crate::caa::{Policy, Property, evaluate};
use crate::http01::{BODY_CAP, check_body, host_header_for, is_redirect, redirect_target};
use crate::key_authorization::dns01_txt_value;
use crate::resolve::txt_value;

/// The http-01 port and the tls-alpn-01 port redirects may go to.
const PORTS: (u16, u16) = (80, 443);

/// The URL and address the http-01 answer comes from.
const URL: &str = "http://example.com/.well-known/acme-challenge/token";
const TARGET: ([u8; 4], u16) = ([192, 0, 2, 1], 80);

fn decode(rdata: &[u8], record_type: RecordType) -> Option<RData> {
    let length = u16::try_from(rdata.len()).ok()?;
    RData::read(
        &mut BinDecoder::new(rdata),
        record_type,
        Restrict::new(length),
    )
    .ok()
}

/// CAA (RFC 8659, RFC 8657) for `example.com` (`*.example.com` when `wildcard`) on the RRset
/// whose RDATAs are `rdatas`: each record's presentation form, as kept in the evidence, and
/// the decision (`Err` with the detail). `None` when a record does not decode (the resolver
/// would not have read the answer) or there is none (no RRset is looked at).
pub fn caa(
    rdatas: &[&[u8]],
    issuer_domains: &[String],
    wildcard: bool,
    account_uri: &str,
    method: Option<&str>,
) -> Option<(Vec<String>, Result<(), String>)> {
    let rrset = rdatas
        .iter()
        .map(|rdata| match decode(rdata, RecordType::CAA)? {
            RData::CAA(caa) => Some(Property::from(caa)),
            _ => None,
        })
        .collect::<Option<Vec<Property>>>()?;
    if rrset.is_empty() {
        return None;
    }
    let policy = Policy {
        issuer_domains,
        wildcard,
        account_uri,
        method,
    };
    let shown = rrset.iter().map(Property::presentation).collect();
    Some((
        shown,
        evaluate(&rrset, "example.com", "example.com", &policy),
    ))
}

/// dns-01 (RFC 8555 §8.4) on the TXT RRset whose RDATAs are `rdatas`, expecting the record
/// for `key_authorization`: the values as read, and the decision.
pub fn dns01(rdatas: &[&[u8]], key_authorization: &str) -> (Vec<String>, Result<(), String>) {
    let values: Vec<String> = rdatas
        .iter()
        .filter_map(|rdata| match decode(rdata, RecordType::TXT)? {
            RData::TXT(txt) => Some(txt_value(&txt)),
            _ => None,
        })
        .collect();
    let expected = dns01_txt_value(key_authorization);
    let outcome = crate::dns01::check_txt("_acme-challenge.example.com", &expected, &values)
        .map_err(|p| p.detail);
    (values, outcome)
}

/// What an http-01 answer with `status`, `location` and `body` from
/// `http://example.com/.well-known/acme-challenge/token` leads to, as the validation reads it
/// (at most [`BODY_CAP`] bytes of the body): `Ok(Some((url, host header)))` for a redirect to
/// follow, `Ok(None)` when the body is `key_authorization`, else the failure's detail.
pub fn http01(
    status: u16,
    location: Option<&str>,
    body: &[u8],
    key_authorization: &str,
) -> Result<Option<(String, String)>, String> {
    let url = Url::parse(URL).map_err(|e| e.to_string())?;
    let target = SocketAddr::from(TARGET);
    let status = StatusCode::from_u16(status).map_err(|e| e.to_string())?;
    if is_redirect(status) {
        let next =
            redirect_target(&url, target, status, location, 0, URL, PORTS).map_err(|p| p.detail)?;
        let host = host_header_for(&next);
        return Ok(Some((next.to_string(), host)));
    }
    let truncated = body.len() > BODY_CAP;
    let body = &body[..body.len().min(BODY_CAP)];
    check_body(&url, target, status, body, truncated, key_authorization)
        .map(|()| None)
        .map_err(|p| p.detail)
}

/// The tls-alpn-01 checks (RFC 8737 §3) on the certificate a server presented for `domain`.
pub fn tlsalpn01(der: &[u8], domain: &str, key_authorization: &str) -> Result<(), String> {
    crate::tlsalpn01::check_certificate(der, domain, key_authorization)
}
