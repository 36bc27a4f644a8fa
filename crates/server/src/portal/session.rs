//! The portal's session cookie, the signed-in extractor, CSRF and cross-site checks, and the
//! HTML page a refusal is rendered as.

use std::collections::HashMap;

use axum::extract::{Form, FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use ferrite_core::CoreError;
use ferrite_core::eab::Principal;
use ferrite_core::model::PortalSession;
use ferrite_proto::{Problem, ProblemType};

use super::PORTAL_SESSION_LIFETIME;
use super::html::{self, esc};
use crate::AppState;

/// The session cookie's name.
const COOKIE: &str = "ferrite_portal";
/// The sign-in form's token cookie: the form carries the same value, so a sign-in posted from
/// anywhere but the form this browser was served is refused (the form has no session yet).
const SIGNIN_COOKIE: &str = "ferrite_portal_signin";
/// How long a sign-in form may be left open before it is sent.
const SIGNIN_MAX_AGE: u32 = 3600;

/// A signed-in request: its session, who signed in, and (for a customer's credential) the
/// customer's id and name.
pub(super) struct SignedIn {
    pub(super) session: PortalSession,
    pub(super) principal: Principal,
    customer: Option<(String, String)>,
}

impl SignedIn {
    /// The page frame for a page at `current`.
    pub(super) fn frame<'a>(&'a self, current: &'a str) -> html::Frame<'a> {
        html::Frame {
            customer: self.customer.as_ref().map(|(_, name)| name.as_str()),
            credential: self.principal.credential_id(),
            csrf: &self.session.csrf_token,
            current,
        }
    }

    /// The signed-in customer's id; `None` for an operator credential, which sees every
    /// customer.
    pub(super) fn customer_id(&self) -> Option<&str> {
        self.customer.as_ref().map(|(id, _)| id.as_str())
    }

    /// The customer's id, for a page that shows one customer's own things: an operator
    /// credential is sent to the pages it has.
    pub(super) fn customer(&self) -> Result<&str, PortalError> {
        self.customer_id().ok_or_else(|| {
            PortalError::problem(
                ProblemType::Unauthorized,
                403,
                "this page shows one customer's own keys, accounts and validations: sign in with that customer's API credential (an operator credential sees Customers, Certificates and Support)",
            )
        })
    }

    /// The operator credential's id, for an operator's page; a customer's credential is
    /// refused.
    pub(super) fn operator(&self) -> Result<&str, PortalError> {
        match &self.principal {
            Principal::Operator(o) => Ok(&o.id),
            Principal::Customer(_) => Err(PortalError::problem(
                ProblemType::Unauthorized,
                403,
                "this page is the operator's: sign in with an operator credential (`ferrite credential create --operator`)",
            )),
        }
    }

    /// Refuses a form whose `csrf` field is not this session's token (compared in constant
    /// time).
    pub(super) fn check_csrf(&self, sent: Option<&str>) -> Result<(), PortalError> {
        let expected = self.session.csrf_token.as_bytes();
        let ok = sent.is_some_and(|sent| {
            aws_lc_rs::constant_time::verify_slices_are_equal(sent.as_bytes(), expected).is_ok()
        });
        if ok {
            Ok(())
        } else {
            Err(PortalError::problem(
                ProblemType::Unauthorized,
                403,
                "the form's security token is missing or belongs to another session; reload the page and send the form again",
            ))
        }
    }
}

/// The session token in the request's cookies, if any.
pub(super) fn cookie_token(headers: &HeaderMap) -> Option<String> {
    cookie(headers, COOKIE)
}

/// The cookie `name`'s value in the request, if any (at most 128 bytes).
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// The sign-in form's token this browser already holds (its cookie), if it has the form of
/// one ([`ferrite_core::ids::random_id`]: 22 base64url characters). Every sign-in form the
/// browser opens while the cookie lasts carries it, so forms open in several tabs all match.
pub(super) fn held_signin_token(headers: &HeaderMap) -> Option<String> {
    cookie(headers, SIGNIN_COOKIE).filter(|token| {
        token.len() == 22
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// `Set-Cookie` for the sign-in form's token (sent back only to `/sign-in`).
pub(super) fn signin_cookie(token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{SIGNIN_COOKIE}={token}; Path=/sign-in; Max-Age={SIGNIN_MAX_AGE}; Secure; HttpOnly; SameSite=Strict"
    ))
    .unwrap_or_else(|_| cleared_signin_cookie())
}

/// `Set-Cookie` that removes the sign-in form's token.
pub(super) fn cleared_signin_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "ferrite_portal_signin=; Path=/sign-in; Max-Age=0; Secure; HttpOnly; SameSite=Strict",
    )
}

/// Refuses a sign-in whose form token (`sent`) is not the one in this browser's sign-in
/// cookie (compared in constant time).
pub(super) fn check_signin_token(
    headers: &HeaderMap,
    sent: Option<&str>,
) -> Result<(), PortalError> {
    let ok = match (cookie(headers, SIGNIN_COOKIE), sent) {
        (Some(kept), Some(sent)) if !sent.is_empty() => {
            aws_lc_rs::constant_time::verify_slices_are_equal(kept.as_bytes(), sent.as_bytes())
                .is_ok()
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(PortalError::problem(
            ProblemType::Unauthorized,
            403,
            "the sign-in form expired or was not sent from this portal's page; sign in again with the form below",
        ))
    }
}

/// `Set-Cookie` for a new session's token.
pub(super) fn session_cookie(token: &str) -> HeaderValue {
    let value = format!(
        "{COOKIE}={token}; Path=/; Max-Age={}; Secure; HttpOnly; SameSite=Strict",
        PORTAL_SESSION_LIFETIME.whole_seconds()
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| cleared_cookie())
}

/// `Set-Cookie` that removes the session cookie.
pub(super) fn cleared_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "ferrite_portal=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict",
    )
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = PortalError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = cookie_token(&parts.headers).ok_or(PortalError::SignIn)?;
        let signed = state
            .ca
            .eab()
            .portal_session(&token)
            .await?
            .ok_or(PortalError::SignIn)?;
        let customer = match (&signed.principal, signed.customer_name) {
            (Principal::Customer(c), Some(name)) => {
                crate::request_id::record_customer(&c.customer_id);
                Some((c.customer_id.clone(), name))
            }
            _ => None,
        };
        Ok(SignedIn {
            session: signed.session,
            principal: signed.principal,
            customer,
        })
    }
}

/// Refuses a POST another site's page sent, before its handler runs: one whose
/// `Sec-Fetch-Site` is `cross-site` or `same-site`, or whose `Origin` is not this listener's
/// (`Host`). Browsers that send neither header still meet the session's CSRF token (or the
/// sign-in form's) and the `SameSite=Strict` cookies.
pub(super) async fn refuse_cross_site(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let other_site =
        text("sec-fetch-site").is_some_and(|site| !matches!(site, "same-origin" | "none"));
    let other_origin = text("origin").is_some_and(|origin| {
        let authority = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
        // HTTP/2 carries the host in the URI's authority rather than a Host header.
        let host = text("host").or_else(|| request.uri().authority().map(|a| a.as_str()));
        Some(authority) != host
    });
    let cross_site = request.method() == Method::POST && (other_site || other_origin);
    if cross_site {
        return PortalError::problem(
            ProblemType::Unauthorized,
            403,
            "this form was sent from another site; open the portal itself and send it from there",
        )
        .into_response();
    }
    next.run(request).await
}

/// Why a portal request was not answered with its page.
#[derive(Debug)]
pub(super) enum PortalError {
    /// No session, or it ended: to the sign-in page.
    SignIn,
    /// A refusal, shown as a page.
    Problem {
        problem: Box<Problem>,
        retry_after: Option<u64>,
        rate_limit: Option<ferrite_core::rate_limit::LimitName>,
    },
}

impl PortalError {
    pub(super) fn problem(kind: ProblemType, status: u16, detail: impl Into<String>) -> Self {
        let mut problem = Problem::new(kind, detail);
        problem.status = Some(status);
        PortalError::Problem {
            problem: Box::new(problem),
            retry_after: None,
            rate_limit: None,
        }
    }

    /// The refusal's status, detail and request id as an HTML notice (for a form shown again
    /// with what went wrong), and the response's status; `None` for [`PortalError::SignIn`].
    pub(super) fn notice(&self) -> Option<(StatusCode, String)> {
        match self {
            PortalError::SignIn => None,
            PortalError::Problem { problem, .. } => Some((
                status_of(problem),
                html::notice("error", &describe(problem)),
            )),
        }
    }

    /// Marks `response` as this refusal for the metrics and the support trail.
    pub(super) fn mark(&self, response: &mut Response) {
        if let PortalError::Problem {
            problem,
            retry_after,
            rate_limit,
        } = self
        {
            if let Some(limit) = rate_limit {
                response
                    .extensions_mut()
                    .insert(crate::metrics::RateLimitKind(*limit));
            }
            response
                .extensions_mut()
                .insert(crate::metrics::ProblemKind(problem.kind));
            response
                .extensions_mut()
                .insert(crate::request_id::Refusal(problem.detail.clone()));
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*seconds));
            }
        }
    }
}

fn status_of(problem: &Problem) -> StatusCode {
    StatusCode::from_u16(problem.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A problem as a paragraph: what went wrong, its type and the request id to quote.
fn describe(problem: &Problem) -> String {
    let request = crate::request_id::current()
        .map(|id| format!(" Request id <code>{}</code>.", esc(&id)))
        .unwrap_or_default();
    format!(
        "<p>{}</p><p class=\"meta\">{} ({}).{request}</p>",
        esc(&problem.detail),
        esc(&problem.kind.urn()),
        problem.http_status()
    )
}

impl From<CoreError> for PortalError {
    fn from(e: CoreError) -> Self {
        let api = crate::problem::ApiError::from(e);
        PortalError::Problem {
            problem: api.problem,
            retry_after: api.retry_after,
            rate_limit: api.rate_limit,
        }
    }
}

impl IntoResponse for PortalError {
    fn into_response(self) -> Response {
        let Some((status, notice)) = self.notice() else {
            let mut response = Redirect::to("/sign-in").into_response();
            response
                .headers_mut()
                .insert(header::SET_COOKIE, cleared_cookie());
            return response;
        };
        let body = format!("{notice}<p><a href=\"/\">Back to the portal</a></p>\n");
        let mut response = (
            status,
            axum::response::Html(html::page("Not done", None, &body)),
        )
            .into_response();
        self.mark(&mut response);
        response
    }
}

/// A form's fields as sent (unknown fields ignored: each handler reads what it needs); a body
/// that is not a form is a 400 page.
pub(super) struct Fields(pub(super) HashMap<String, String>);

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = PortalError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Form::<HashMap<String, String>>::from_request(request, state).await {
            Ok(Form(fields)) => Ok(Fields(fields)),
            Err(e) => Err(PortalError::problem(
                ProblemType::Malformed,
                400,
                format!("the form could not be read ({e}); send it from the portal's own page"),
            )),
        }
    }
}

/// A page's query parameters; a query that does not decode is a 400 page.
pub(super) struct QueryFields(pub(super) HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryFields {
    type Rejection = PortalError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<HashMap<String, String>>::from_request_parts(parts, state).await {
            Ok(Query(fields)) => Ok(QueryFields(fields)),
            Err(e) => Err(PortalError::problem(
                ProblemType::Malformed,
                400,
                format!(
                    "the address's query could not be read ({e}); use the portal's links and forms"
                ),
            )),
        }
    }
}
