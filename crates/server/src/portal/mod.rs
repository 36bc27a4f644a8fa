//! The customer portal: server-rendered pages at `/` of the admin listener for a customer's
//! administrator, usable without JavaScript. Signing in with an API credential's id and secret
//! (`POST /sign-in`, checked as the admin API checks a bearer credential) sets a session
//! cookie (`Secure`, `HttpOnly`, `SameSite=Strict`, 8 hours: [`PORTAL_SESSION_LIFETIME`]);
//! every page then reads the customer's data through the engine and registry calls the admin
//! API makes (the overview's charts through `Store::activity`), confined to the signed-in
//! credential's customer.
//!
//! Protections: every POST form carries the session's CSRF token and is refused without it;
//! the sign-in form, which has no session yet, carries a token that must match its own
//! `SameSite=Strict` cookie; a POST whose `Sec-Fetch-Site` says another site sent it, or whose
//! `Origin` is not this listener, is refused before anything else; every response (an unknown
//! path's 404 page too) has a Content-Security-Policy that allows only this origin's stylesheet
//! and script (no inline script or style), cannot be framed and sends no referrer to other sites (`same-origin`: a form
//! posted here still carries its `Origin`, which `no-referrer` would blank); pages are
//! not cached (the stylesheet and script are, for an hour).
//! A refusal is an HTML page with the problem's type, detail and request id (the support
//! trail keeps it, as it keeps the API's).
//!
//! Pages: `/` (overview: counts, issuance per day and validation failures by cause over 30
//! days as SVG charts), `/keys` (credentials and MAC keys; `POST /credentials`,
//! `POST /mac-keys` show the new secret once, with ready-to-paste client commands),
//! `/accounts`, `/certificates` (search by name; `/certificates/{serial}` with download and
//! revoke), `/validations`, `/support` (a refused request by its id).
//!
//! An operator credential (`ferrite credential create --operator`) signs in to a view over
//! every customer: the overview and certificates of all of them (`/certificates?customer=NAME`
//! narrows to one), `/customers` (suspend,
//! resume; each recorded in the audit log as the operator credential's), and any refused
//! request on `/support`. The pages of one customer's own keys, accounts and validations are
//! the customer's.
//!
//! # Layout
//! - `session`: the cookie, the signed-in extractor, CSRF and origin checks, error pages.
//! - `pages`: one handler per page.
//! - `html`: escaping and the page frame; `charts`: the SVG charts.

mod charts;
mod html;
mod pages;
mod session;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use ferrite_core::eab::PORTAL_SESSION_LIFETIME;

use crate::AppState;

/// The portal's Content-Security-Policy: this origin's stylesheet and script only, forms
/// posted only here, never framed.
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The portal's routes, for the admin listener.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(pages::overview))
        .route("/sign-in", get(pages::sign_in_form).post(pages::sign_in))
        .route("/sign-out", post(pages::sign_out))
        .route("/keys", get(pages::keys))
        .route("/credentials", post(pages::create_credential))
        .route("/mac-keys", post(pages::create_mac_key))
        .route("/accounts", get(pages::accounts))
        .route("/certificates", get(pages::certificates))
        .route("/certificates/{serial}", get(pages::certificate))
        .route("/certificates/{serial}/pem", get(pages::download))
        .route("/certificates/{serial}/revoke", post(pages::revoke))
        .route("/validations", get(pages::validations))
        .route("/support", get(pages::support))
        .route("/customers", get(pages::customers))
        .route("/customers/{name}/{action}", post(pages::suspend_or_resume))
        .route("/root.pem", get(pages::root_pem))
        .route("/assets/portal.css", get(pages::stylesheet))
        .route("/assets/portal.js", get(pages::script))
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn(session::refuse_cross_site))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(state)
}

/// The headers of every portal response.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
