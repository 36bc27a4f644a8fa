//! Engine objects → RFC 8555 JSON resources, with URLs under the base URL.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferrite_core::ca::{AuthorizationView, OrderView};
use ferrite_core::model::{Account, Challenge};
use ferrite_proto::{ChallengeStatus, OrderStatus, resources};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::paths;

pub(super) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

pub(super) struct Urls<'a>(pub(super) &'a str);

impl Urls<'_> {
    pub(super) fn account(&self, id: &str) -> String {
        format!("{}{}{id}", self.0, paths::ACCOUNT)
    }
    pub(super) fn orders(&self, account_id: &str) -> String {
        format!("{}{}{account_id}/orders", self.0, paths::ACCOUNT)
    }
    pub(super) fn order(&self, id: &str) -> String {
        format!("{}{}{id}", self.0, paths::ORDER)
    }
    pub(super) fn authz(&self, id: &str) -> String {
        format!("{}{}{id}", self.0, paths::AUTHZ)
    }
    pub(super) fn challenge(&self, authz: &str, id: &str) -> String {
        format!("{}{}{authz}/{id}", self.0, paths::CHALLENGE)
    }
    pub(super) fn cert(&self, serial: &str) -> String {
        format!("{}{}{serial}", self.0, paths::CERT)
    }
}

pub(super) fn account(urls: &Urls<'_>, a: &Account) -> resources::Account {
    resources::Account {
        status: a.status,
        contact: a.contact.clone(),
        terms_of_service_agreed: Some(a.terms_of_service_agreed),
        external_account_binding: None,
        orders: urls.orders(&a.id),
    }
}

pub(super) fn order(urls: &Urls<'_>, v: &OrderView) -> resources::Order {
    let o = &v.order;
    resources::Order {
        status: v.status,
        expires: Some(rfc3339(o.expires)),
        identifiers: o.identifiers.clone(),
        not_before: o.not_before.map(rfc3339),
        not_after: o.not_after.map(rfc3339),
        error: o.error.clone(),
        authorizations: o
            .authorization_ids
            .iter()
            .map(|id| urls.authz(id))
            .collect(),
        finalize: format!("{}/finalize", urls.order(&o.id)),
        certificate: o.certificate_serial.as_deref().map(|s| urls.cert(s)),
        profile: o.profile.clone(),
        replaces: o.replaces.clone(),
    }
}

pub(super) fn challenge(urls: &Urls<'_>, c: &Challenge) -> resources::Challenge {
    resources::Challenge {
        kind: c.kind.as_str().to_owned(),
        url: urls.challenge(&c.authorization_id, &c.id),
        status: c.status,
        token: c.token.clone(),
        validated: c.validated.map(rfc3339),
        error: c.error.clone(),
    }
}

pub(super) fn authorization(urls: &Urls<'_>, v: &AuthorizationView) -> resources::Authorization {
    let a = &v.authorization;
    resources::Authorization {
        identifier: a.identifier.clone(),
        status: v.status,
        expires: Some(rfc3339(a.expires)),
        challenges: a.challenges.iter().map(|c| challenge(urls, c)).collect(),
        wildcard: a.wildcard.then_some(true),
    }
}

/// A JSON response with a status and optional Location, plus `Retry-After: 1` when the client
/// should poll again soon (so clients do not fall back to multi-second default sleeps).
pub(super) fn json<T: serde::Serialize>(
    status: StatusCode,
    body: &T,
    location: Option<&str>,
    retry_after: bool,
) -> Response {
    let mut r = (status, Json(body)).into_response();
    if let Some(loc) = location.and_then(|l| HeaderValue::from_str(l).ok()) {
        r.headers_mut().insert(header::LOCATION, loc);
    }
    if retry_after {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

/// Adds a `Link: <url>;rel="up"` header.
pub(super) fn link_up(mut r: Response, url: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("<{url}>;rel=\"up\"")) {
        r.headers_mut().append(header::LINK, v);
    }
    r
}

pub(super) fn order_needs_poll(status: OrderStatus) -> bool {
    matches!(status, OrderStatus::Processing)
}

pub(super) fn authz_needs_poll(v: &AuthorizationView) -> bool {
    v.authorization
        .challenges
        .iter()
        .any(|c| c.status == ChallengeStatus::Processing)
}
