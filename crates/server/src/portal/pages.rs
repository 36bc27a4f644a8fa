//! One handler per portal page: read what the page shows through the engine, confined to
//! the signed-in customer, and render it. Forms post back here and answer with a page (a new
//! secret shown once) or a redirect to the page that shows the result.

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use ferrite_core::ca::certificate_listing::{NameFilter, parse_serial};
use ferrite_core::ca::customer_certificates::{
    CertificateView, ValidationView, parse_validation_id,
};
use ferrite_core::ca::operator_revoke::parse_reason;
use ferrite_core::eab::Principal;
use ferrite_core::model::{CertificateQuery, DomainValidationQuery, Scope};
use time::Duration;

use super::charts;
use super::html::{badge, copyable, csrf_field, esc, notice, page, table, url, when};
use super::session::{
    Fields, PortalError, QueryFields, SignedIn, check_signin_token, cleared_cookie,
    cleared_signin_cookie, cookie_token, held_signin_token, session_cookie, signin_cookie,
};
use crate::AppState;
use crate::client_commands::{cert_manager_issuer, client_commands};

/// How far back the overview's charts and counts reach.
const ACTIVITY_DAYS: i64 = 30;
/// Certificates and validations a listing page shows.
const PAGE_SIZE: u32 = 50;
/// The file name the root certificate downloads as, which the client commands name.
const ROOT_FILE: &str = "ferrite-root.pem";

fn ok_page(title: &str, signed: &SignedIn, current: &str, body: &str) -> Response {
    Html(page(title, Some(&signed.frame(current)), body)).into_response()
}

/// `GET /sign-in`.
pub(super) async fn sign_in_form(headers: axum::http::HeaderMap) -> Response {
    sign_in_page(StatusCode::OK, "", &headers)
}

/// The sign-in form with `error` above it, and its sign-in token: the one the browser's cookie
/// holds ([`held_signin_token`]) or a fresh one (128 random bits), in the cookie (its
/// lifetime renewed) and in the form, which `POST /sign-in` needs to match (the form has no
/// session's CSRF token yet).
fn sign_in_page(status: StatusCode, error: &str, headers: &axum::http::HeaderMap) -> Response {
    let token = held_signin_token(headers).unwrap_or_else(ferrite_core::ids::random_id);
    let body = format!(
        "{error}<p>Sign in with one of your organisation's API credentials: its id and secret \
         (the operator gives you the first one; you can make more here).</p>\n\
         <form class=\"stack\" method=\"post\" action=\"/sign-in\">\n\
         <input type=\"hidden\" name=\"signin\" value=\"{}\">\
         <label for=\"credential\">Credential id</label>\
         <input id=\"credential\" name=\"credential\" autocomplete=\"username\" required>\n\
         <label for=\"secret\">Secret</label>\
         <input id=\"secret\" name=\"secret\" type=\"password\" autocomplete=\"current-password\" required>\n\
         <button type=\"submit\">Sign in</button>\n</form>\n",
        esc(&token)
    );
    let mut response = (status, Html(page("Sign in", None, &body))).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, signin_cookie(&token));
    response
}

/// `POST /sign-in` (`credential`, `secret`, `signin`): a session cookie and on to the
/// overview, or the form again with why not.
pub(super) async fn sign_in(
    State(state): State<AppState>,
    crate::proxy::ClientIp(client): crate::proxy::ClientIp,
    headers: axum::http::HeaderMap,
    Fields(fields): Fields,
) -> Response {
    if let Err(refused) = check_signin_token(&headers, fields.get("signin").map(String::as_str)) {
        return refused_sign_in(refused, &headers);
    }
    let id = fields.get("credential").map(|s| s.trim()).unwrap_or("");
    let secret = fields.get("secret").map(|s| s.trim()).unwrap_or("");
    match state.ca.eab().sign_in(id, secret, client).await {
        Ok((new, principal)) => {
            if let Principal::Customer(c) = &principal {
                crate::request_id::record_customer(&c.customer_id);
            }
            tracing::info!(credential = %principal.credential_id(), "portal sign-in");
            let mut response = Redirect::to("/").into_response();
            let cookies = response.headers_mut();
            cookies.append(header::SET_COOKIE, session_cookie(new.token.expose()));
            cookies.append(header::SET_COOKIE, cleared_signin_cookie());
            response
        }
        Err(e) => refused_sign_in(PortalError::from(e), &headers),
    }
}

/// The sign-in form again, with why it was refused, marked as the refusal.
fn refused_sign_in(refused: PortalError, headers: &axum::http::HeaderMap) -> Response {
    let Some((status, error)) = refused.notice() else {
        return refused.into_response();
    };
    let mut response = sign_in_page(status, &error, headers);
    refused.mark(&mut response);
    response
}

/// `POST /sign-out`: ends the session here and in the store.
pub(super) async fn sign_out(
    State(state): State<AppState>,
    signed: SignedIn,
    headers: axum::http::HeaderMap,
    Fields(fields): Fields,
) -> Result<Response, PortalError> {
    signed.check_csrf(fields.get("csrf").map(String::as_str))?;
    if let Some(token) = cookie_token(&headers) {
        state.ca.eab().sign_out(&token).await?;
    }
    let mut response = Redirect::to("/sign-in").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cleared_cookie());
    Ok(response)
}

/// `GET /`: the customer's figures and the two charts (an operator's: every customer's).
pub(super) async fn overview(
    State(state): State<AppState>,
    signed: SignedIn,
) -> Result<Response, PortalError> {
    let eab = state.ca.eab();
    let now = state.ca.now();
    let since = now - Duration::days(ACTIVITY_DAYS - 1);
    let since_day = since.date().midnight().assume_utc();
    let activity = state
        .ca
        .store()
        .activity(signed.customer_id(), since_day)
        .await
        .map_err(ferrite_core::CoreError::from)?;
    let first_day = since_day.unix_timestamp().div_euclid(86_400);
    let per_day: HashMap<i64, u64> = activity.issued_per_day.iter().copied().collect();
    let days: Vec<(String, u64)> = (0..ACTIVITY_DAYS)
        .map(|i| {
            let day = first_day + i;
            let date = time::OffsetDateTime::from_unix_timestamp(day * 86_400)
                .map(|d| format!("{:02}-{:02}", u8::from(d.month()), d.day()))
                .unwrap_or_default();
            (date, per_day.get(&day).copied().unwrap_or(0))
        })
        .collect();
    let issued: u64 = days.iter().map(|(_, n)| n).sum();
    let failures: Vec<(String, u64)> = activity
        .failures_by_type
        .iter()
        .map(|(urn, n)| {
            let short = urn
                .strip_prefix("urn:ietf:params:acme:error:")
                .unwrap_or(if urn.is_empty() { "unknown" } else { urn });
            (short.to_owned(), *n)
        })
        .collect();
    let failed: u64 = failures.iter().map(|(_, n)| n).sum();
    // A customer's own keys and accounts are counted; an operator sees how many customers
    // there are instead of every account of every customer.
    let first_figures = match signed.customer_id() {
        Some(customer) => {
            let scope = Scope::Customer(customer.to_owned());
            let active_keys = eab
                .mac_keys(&scope)
                .await?
                .iter()
                .filter(|k| k.status == "active")
                .count();
            let accounts = eab.accounts(&scope).await?.len();
            format!(
                "<li><strong id=\"active-keys\">{active_keys}</strong> active MAC keys</li>\
                 <li><strong id=\"account-count\">{accounts}</strong> ACME accounts</li>"
            )
        }
        None => {
            let customers = eab.customers().await?;
            let suspended = customers
                .iter()
                .filter(|c| c.suspended_at.is_some())
                .count();
            format!(
                "<li><strong id=\"customer-count\">{}</strong> customers</li>\
                 <li><strong id=\"suspended-count\">{suspended}</strong> suspended</li>",
                customers.len()
            )
        }
    };
    let mut body = String::new();
    let _ = write!(
        body,
        "<ul class=\"figures\">{first_figures}\
         <li><strong id=\"issued-30d\">{issued}</strong> certificates issued in {ACTIVITY_DAYS} days</li>\
         <li><strong id=\"failed-30d\">{failed}</strong> failed validations in {ACTIVITY_DAYS} days</li></ul>\n\
         <h2>Certificates issued per day</h2>\n{}\
         <h2>Validation failures by cause</h2>\n{}",
        charts::columns(
            "issued",
            &format!(
                "Certificates issued per day (by the day their validity starts), last {ACTIVITY_DAYS} days (UTC)"
            ),
            &days,
            7
        ),
        if failures.is_empty() {
            format!("<p class=\"empty\">No failed validations in {ACTIVITY_DAYS} days.</p>\n")
        } else {
            charts::rows(
                "failures",
                &format!("Validation failures by cause, last {ACTIVITY_DAYS} days"),
                &failures,
            )
        }
    );
    Ok(ok_page("Overview", &signed, "/", &body))
}

/// `GET /keys`: credentials, MAC keys, and the forms that make new ones.
pub(super) async fn keys(
    State(state): State<AppState>,
    signed: SignedIn,
) -> Result<Response, PortalError> {
    let body = keys_body(&state, &signed, "").await?;
    Ok(ok_page("Credentials and MAC keys", &signed, "/keys", &body))
}

async fn keys_body(state: &AppState, signed: &SignedIn, top: &str) -> Result<String, PortalError> {
    let eab = state.ca.eab();
    let customer = signed.customer()?;
    let credentials = eab.credentials(Some(customer)).await?;
    let keys = eab.mac_keys(&Scope::Customer(customer.to_owned())).await?;
    let credential_rows: Vec<Vec<String>> = credentials
        .iter()
        .map(|c| {
            vec![
                format!("<code>{}</code>", esc(&c.id)),
                badge(c.status),
                when(c.created_at),
            ]
        })
        .collect();
    let key_rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            vec![
                format!("<code>{}</code>", esc(&k.kid)),
                format!("<code>{}</code>", esc(&k.credential_id)),
                badge(k.status),
                when(k.expires_at),
                format!("{} of {}", k.bindings_remaining, k.max_bindings),
                format!(
                    "<a href=\"/accounts?credential={}\">accounts</a>",
                    url(&k.credential_id)
                ),
            ]
        })
        .collect();
    let options: String = credentials
        .iter()
        .filter(|c| c.status == "active")
        .map(|c| {
            let selected = if c.id == signed.principal.credential_id() {
                " selected"
            } else {
                ""
            };
            format!(
                "<option value=\"{}\"{selected}>{}</option>",
                esc(&c.id),
                esc(&c.id)
            )
        })
        .collect();
    let csrf = csrf_field(&signed.session.csrf_token);
    Ok(format!(
        "{top}<h2>MAC keys</h2>\n<p>A MAC key binds ACME clients to your organisation: it binds at \
         most its number of accounts until it expires, and a new key disables its credential's \
         previous one.</p>\n{}\
         <form class=\"stack\" method=\"post\" action=\"/mac-keys\">{csrf}\
         <label for=\"mac-credential\">New MAC key for credential</label>\
         <select id=\"mac-credential\" name=\"credential\">{options}</select>\
         <button type=\"submit\" id=\"create-mac-key\">Create MAC key</button></form>\n\
         <h2>API credentials</h2>\n{}\
         <form method=\"post\" action=\"/credentials\">{csrf}\
         <button type=\"submit\" id=\"create-credential\">Create API credential</button></form>\n",
        table(
            "Every MAC key, oldest first",
            &[
                "Key id",
                "Credential",
                "Status",
                "Expires",
                "Bindings left",
                ""
            ],
            &key_rows,
            "No MAC keys yet.",
        ),
        table(
            "API credentials",
            &["Id", "Status", "Created"],
            &credential_rows,
            "No credentials.",
        ),
    ))
}

/// `POST /credentials`: a new API credential, its secret shown on this page only.
pub(super) async fn create_credential(
    State(state): State<AppState>,
    signed: SignedIn,
    Fields(fields): Fields,
) -> Result<Response, PortalError> {
    signed.check_csrf(fields.get("csrf").map(String::as_str))?;
    let created = state.ca.eab().create_credential(signed.customer()?).await?;
    let top = notice(
        "ok",
        &format!(
            "<p>API credential <code id=\"new-credential\">{}</code> created. Its secret is shown \
             this once: keep it now.</p>{}",
            esc(&created.credential.id),
            copyable("new-secret", "Secret", created.secret.expose())
        ),
    );
    let body = keys_body(&state, &signed, &top).await?;
    let mut response = (
        StatusCode::CREATED,
        Html(page(
            "Credentials and MAC keys",
            Some(&signed.frame("/keys")),
            &body,
        )),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `POST /mac-keys` (`credential`): a new MAC key, its HMAC key shown on this page only with
/// each client's command.
pub(super) async fn create_mac_key(
    State(state): State<AppState>,
    signed: SignedIn,
    Fields(fields): Fields,
) -> Result<Response, PortalError> {
    signed.check_csrf(fields.get("csrf").map(String::as_str))?;
    let customer = signed.customer()?;
    let credential = fields
        .get("credential")
        .map(String::as_str)
        .unwrap_or(signed.principal.credential_id());
    let created = state
        .ca
        .eab()
        .create_mac_key(credential, Some(customer))
        .await?;
    let directory = state.config.directory_url();
    let kid = &created.key.kid;
    let hmac = created.hmac_key.expose();
    let trust = state.config.clients_need_root.then_some(ROOT_FILE);
    let mut body = format!(
        "{}<dl class=\"facts\"><dt>Key id</dt><dd><code id=\"kid\">{}</code></dd>\
         <dt>Valid until</dt><dd>{}</dd><dt>Binds at most</dt><dd>{} accounts</dd></dl>\n{}",
        notice(
            "ok",
            "<p>The HMAC key is shown this once: copy it or a command below now. Any previous \
             MAC key of this credential is disabled.</p>"
        ),
        esc(kid),
        when(created.key.expires_at),
        created.key.max_bindings,
        copyable("hmac", "HMAC key", hmac),
    );
    let _ = write!(
        body,
        "<h2>Register a client</h2>\n<p>ACME directory: <code id=\"directory\">{}</code></p>\n",
        esc(&directory)
    );
    if trust.is_some() {
        let _ = writeln!(
            body,
            "<p>Clients must trust this CA's root certificate: <a href=\"/root.pem\" \
             download=\"{ROOT_FILE}\" id=\"root-download\">download {ROOT_FILE}</a> into the \
             directory you run the command in.</p>"
        );
    }
    for c in client_commands(&directory, kid, hmac, trust) {
        let id = format!("cmd-{}", c.client.replace('.', "-"));
        body.push_str(&copyable(&id, c.client, &c.command));
    }
    let root_pem = trust.map(|_| state.config.root_pem.as_str());
    body.push_str(&copyable(
        "cmd-cert-manager",
        "cert-manager (a ClusterIssuer)",
        &cert_manager_issuer(&directory, kid, hmac, root_pem),
    ));
    body.push_str("<p><a href=\"/keys\">Back to credentials and MAC keys</a></p>\n");
    Ok((
        StatusCode::CREATED,
        Html(page("New MAC key", Some(&signed.frame("/keys")), &body)),
    )
        .into_response())
}

/// `GET /accounts[?credential=ID]`: the ACME accounts bound through the customer's keys.
pub(super) async fn accounts(
    State(state): State<AppState>,
    signed: SignedIn,
    QueryFields(q): QueryFields,
) -> Result<Response, PortalError> {
    let eab = state.ca.eab();
    let customer = signed.customer()?;
    let scope = match q.get("credential").filter(|c| !c.is_empty()) {
        Some(id) => {
            eab.credential(id, Some(customer)).await?;
            Scope::Credential(id.clone())
        }
        None => Scope::Customer(customer.to_owned()),
    };
    let accounts = eab.accounts(&scope).await?;
    let rows: Vec<Vec<String>> = accounts
        .iter()
        .map(|a| {
            vec![
                format!("<code>{}</code>", esc(&a.id)),
                badge(&a.status),
                a.eab_kid
                    .as_deref()
                    .map(|k| format!("<code>{}</code>", esc(k)))
                    .unwrap_or_default(),
                esc(&a.contact.join(", ")),
                when(a.created_at),
            ]
        })
        .collect();
    let body = table(
        "ACME accounts, oldest first",
        &[
            "Account",
            "Status",
            "Bound with MAC key",
            "Contact",
            "Created",
        ],
        &rows,
        "No ACME account is bound yet: register a client with a MAC key (Credentials and MAC keys).",
    );
    Ok(ok_page("Accounts", &signed, "/accounts", &body))
}

/// `GET /certificates[?domain=&after=]`: the customer's certificates (an operator's: every
/// customer's), by serial.
pub(super) async fn certificates(
    State(state): State<AppState>,
    signed: SignedIn,
    QueryFields(q): QueryFields,
) -> Result<Response, PortalError> {
    let domain = q.get("domain").map(|d| d.trim()).filter(|d| !d.is_empty());
    // An operator may narrow the list to one customer (`?customer=NAME`); a customer's
    // credential always sees its own.
    let chosen = q
        .get("customer")
        .map(|c| c.trim())
        .filter(|c| !c.is_empty() && signed.customer_id().is_none());
    let within = match (signed.customer_id(), chosen) {
        (Some(own), _) => Some(own.to_owned()),
        (None, Some(name)) => Some(state.ca.eab().customer_by_name(name).await?.id),
        (None, None) => None,
    };
    let mut filter = CertificateQuery::default();
    if let Some(d) = domain {
        NameFilter::parse(d)?.apply(&mut filter);
    }
    let after = q
        .get("after")
        .filter(|a| !a.is_empty())
        .map(|a| parse_serial(a))
        .transpose()?;
    let page_ = state
        .ca
        .customer_certificates(within.as_deref(), filter, after.as_deref(), PAGE_SIZE)
        .await?;
    let now = state.ca.now();
    let rows: Vec<Vec<String>> = page_
        .items
        .iter()
        .map(|c| {
            let v = CertificateView::new(c, now);
            vec![
                format!(
                    "<a href=\"/certificates/{}\"><code>{}</code></a>",
                    url(&v.serial),
                    esc(&v.serial)
                ),
                esc(&v.names.join(", ")),
                when(v.not_after),
                badge(v.status),
            ]
        })
        .collect();
    let mut body = format!(
        "<form method=\"get\" action=\"/certificates\" role=\"search\">\
         <label for=\"domain\">Name</label> \
         <input id=\"domain\" name=\"domain\" value=\"{}\" placeholder=\"www.example.com or .example.com\"> \
         {}<button type=\"submit\">Search</button></form>\n{}",
        esc(domain.unwrap_or("")),
        if signed.customer_id().is_none() {
            format!(
                "<label for=\"customer\">Customer</label> <input id=\"customer\" name=\"customer\" value=\"{}\"> ",
                esc(chosen.unwrap_or(""))
            )
        } else {
            String::new()
        },
        table(
            "Certificates, by serial",
            &["Serial", "Names", "Expires", "Status"],
            &rows,
            if domain.is_some() {
                "No certificate of yours has that name."
            } else {
                "No certificates yet."
            },
        )
    );
    if let Some(next) = page_.next {
        let _ = writeln!(
            body,
            "<p><a href=\"/certificates?domain={}&amp;customer={}&amp;after={}\">Next page</a></p>",
            url(domain.unwrap_or("")),
            url(chosen.unwrap_or("")),
            url(&next)
        );
    }
    Ok(ok_page("Certificates", &signed, "/certificates", &body))
}

/// `GET /certificates/{serial}`: one certificate, with download and revoke.
pub(super) async fn certificate(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(serial): Path<String>,
) -> Result<Response, PortalError> {
    let serial = parse_serial(&serial)?;
    let found = state
        .ca
        .customer_certificate(signed.customer_id(), &serial)
        .await?;
    let v = CertificateView::new(&found, state.ca.now());
    Ok(ok_page(
        "Certificate",
        &signed,
        "/certificates",
        &certificate_body(&v, &signed.session.csrf_token, ""),
    ))
}

fn certificate_body(v: &CertificateView, csrf: &str, top: &str) -> String {
    let revocation = v
        .revocation
        .as_ref()
        .map(|r| {
            format!(
                "<dt>Revoked</dt><dd id=\"revoked\">{} ({})</dd>",
                when(r.revoked_at),
                esc(&r.reason)
            )
        })
        .unwrap_or_default();
    let mut body = format!(
        "{top}<dl class=\"facts\">\
         <dt>Serial</dt><dd><code id=\"serial\">{}</code></dd>\
         <dt>Status</dt><dd id=\"status\">{}</dd>{revocation}\
         <dt>Names</dt><dd>{}</dd>\
         <dt>Valid</dt><dd>{} to {}</dd>\
         <dt>Profile</dt><dd>{}</dd>\
         <dt>Issuer</dt><dd>{}</dd>\
         <dt>Account</dt><dd><code>{}</code></dd></dl>\n\
         <p><a href=\"/certificates/{}/pem\" download=\"{}.pem\" id=\"download\">Download the certificate and its chain (PEM)</a></p>\n",
        esc(&v.serial),
        badge(v.status),
        esc(&v.names.join(", ")),
        when(v.not_before),
        when(v.not_after),
        esc(v.profile.as_deref().unwrap_or("default")),
        esc(v.issuer.as_deref().unwrap_or("")),
        esc(&v.account_id),
        url(&v.serial),
        esc(&v.serial),
    );
    if v.revocation.is_none() && v.status != "expired" {
        let reasons: String = [
            ("unspecified", "Unspecified"),
            ("keyCompromise", "Key compromise"),
            ("superseded", "Superseded"),
            ("affiliationChanged", "Affiliation changed"),
            ("cessationOfOperation", "Cessation of operation"),
        ]
        .iter()
        .map(|(value, label)| format!("<option value=\"{value}\">{label}</option>"))
        .collect();
        let _ = write!(
            body,
            "<h2>Revoke</h2>\n<form class=\"stack\" method=\"post\" action=\"/certificates/{}/revoke\" \
             data-confirm=\"Revoke this certificate? This cannot be undone.\">{}\
             <label for=\"reason\">Reason</label><select id=\"reason\" name=\"reason\">{reasons}</select>\
             <button type=\"submit\" class=\"danger\" id=\"revoke\">Revoke certificate</button></form>\n",
            url(&v.serial),
            csrf_field(csrf)
        );
    }
    body
}

/// `GET /certificates/{serial}/pem`: the leaf and its chain.
pub(super) async fn download(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(serial): Path<String>,
) -> Result<Response, PortalError> {
    let serial = parse_serial(&serial)?;
    let found = state
        .ca
        .customer_certificate(signed.customer_id(), &serial)
        .await?;
    let disposition = format!("attachment; filename=\"{serial}.pem\"");
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pem-certificate-chain"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition)
                    .unwrap_or(HeaderValue::from_static("attachment")),
            ),
        ],
        found.certificate.chain_pem,
    )
        .into_response())
}

/// `POST /certificates/{serial}/revoke` (`reason`): revokes it as the admin API does, then
/// shows it.
pub(super) async fn revoke(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(serial): Path<String>,
    Fields(fields): Fields,
) -> Result<Response, PortalError> {
    signed.check_csrf(fields.get("csrf").map(String::as_str))?;
    let serial = parse_serial(&serial)?;
    let reason = parse_reason(fields.get("reason").map(String::as_str).unwrap_or(""))?;
    if let Principal::Operator(o) = &signed.principal {
        state
            .ca
            .eab()
            .record_operator_request(
                &o.id,
                "cert revoke",
                &format!("POST /certificates/{serial}/revoke"),
                "portal",
            )
            .await;
    }
    let by = signed.principal.revoker();
    let revoked = state
        .ca
        .revoke_customer_certificate(signed.customer_id(), by, &serial, reason)
        .await?;
    let v = CertificateView::new(&revoked, state.ca.now());
    let top = notice("ok", "<p>Revoked. Its CRL lists it within a minute.</p>");
    Ok(ok_page(
        "Certificate",
        &signed,
        "/certificates",
        &certificate_body(&v, &signed.session.csrf_token, &top),
    ))
}

/// `GET /validations[?domain=&after=]`: the customer's domain validations, newest first.
pub(super) async fn validations(
    State(state): State<AppState>,
    signed: SignedIn,
    QueryFields(q): QueryFields,
) -> Result<Response, PortalError> {
    let domain = q.get("domain").map(|d| d.trim()).filter(|d| !d.is_empty());
    let mut filter = DomainValidationQuery {
        customer_id: signed.customer()?.to_owned(),
        ..DomainValidationQuery::default()
    };
    if let Some(d) = domain {
        NameFilter::parse(d)?.apply_to_validations(&mut filter);
    }
    let after = q
        .get("after")
        .filter(|a| !a.is_empty())
        .map(|a| parse_validation_id(a))
        .transpose()?;
    let page_ = state
        .ca
        .customer_validations(&filter, after, PAGE_SIZE)
        .await?;
    let now = state.ca.now();
    let rows: Vec<Vec<String>> = page_
        .items
        .iter()
        .map(|v| {
            let v = ValidationView::from(v);
            let reuse = if v.reuse_until > now {
                when(v.reuse_until)
            } else {
                format!("{} (ended)", when(v.reuse_until))
            };
            vec![
                esc(&v.domain),
                esc(v.method),
                when(v.validated_at),
                reuse,
                format!("<code>{}</code>", esc(&v.account_id)),
            ]
        })
        .collect();
    let mut body = format!(
        "<p>Each name your clients proved control of, and until when new orders reuse the proof \
         without validating again.</p>\n\
         <form method=\"get\" action=\"/validations\" role=\"search\">\
         <label for=\"domain\">Name</label> \
         <input id=\"domain\" name=\"domain\" value=\"{}\" placeholder=\"www.example.com or .example.com\"> \
         <button type=\"submit\">Search</button></form>\n{}",
        esc(domain.unwrap_or("")),
        table(
            "Domain validations, newest first",
            &["Name", "Method", "Validated", "Reused until", "Account"],
            &rows,
            "No validations yet.",
        )
    );
    if let Some(next) = page_.next {
        let _ = writeln!(
            body,
            "<p><a href=\"/validations?domain={}&amp;after={}\">Next page</a></p>",
            url(domain.unwrap_or("")),
            url(&next)
        );
    }
    Ok(ok_page("Validations", &signed, "/validations", &body))
}

/// `GET /support[?request=ID]`: what a refused request of the customer's was told.
pub(super) async fn support(
    State(state): State<AppState>,
    signed: SignedIn,
    QueryFields(q): QueryFields,
) -> Result<Response, PortalError> {
    let id = q.get("request").map(|r| r.trim()).filter(|r| !r.is_empty());
    let mut body = format!(
        "<p>Every refused request's answer carries a request id (the <code>X-Request-Id</code> \
         header, <code>requestId</code> in the problem document). Refusals are kept for 30 days.</p>\n\
         <form method=\"get\" action=\"/support\" role=\"search\">\
         <label for=\"request\">Request id</label> \
         <input id=\"request\" name=\"request\" value=\"{}\"> \
         <button type=\"submit\">Find</button></form>\n",
        esc(id.unwrap_or(""))
    );
    if let Some(id) = id.filter(|id| id.len() <= 128) {
        match state
            .ca
            .eab()
            .refused_request(id, signed.customer_id())
            .await
        {
            Ok(r) => {
                let customer = match (&r.customer, signed.customer_id()) {
                    (Some(name), None) => format!("<dt>Customer</dt><dd>{}</dd>", esc(name)),
                    _ => String::new(),
                };
                let _ = writeln!(
                    body,
                    "<dl class=\"facts\" id=\"refusal\"><dt>When</dt><dd>{}</dd>\
                     <dt>Request</dt><dd><code>{} {}</code> ({} listener)</dd>\
                     <dt>Answer</dt><dd>{} <code>{}</code></dd>\
                     <dt>Detail</dt><dd>{}</dd>{customer}<dt>Account</dt><dd><code>{}</code></dd></dl>",
                    when(r.at),
                    esc(&r.method),
                    esc(&r.path),
                    esc(&r.listener),
                    r.status,
                    esc(&r.problem),
                    esc(&r.detail),
                    esc(r.account_id.as_deref().unwrap_or("none")),
                );
            }
            Err(ferrite_core::CoreError::Problem(p)) if p.status == Some(404) => {
                body.push_str(&notice(
                    "error",
                    "<p>No refused request of yours has that id in the last 30 days. Check the id \
                     (it is in the response's <code>X-Request-Id</code> header); a request that \
                     succeeded is not kept.</p>",
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(ok_page("Support", &signed, "/support", &body))
}

/// `GET /root.pem`: the root certificate clients trust.
pub(super) async fn root_pem(State(state): State<AppState>) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-pem-file"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"ferrite-root.pem\""),
            ),
        ],
        state.config.root_pem.clone(),
    )
        .into_response()
}

/// Any other path: a 404 page (with the portal's headers), pointing at the portal's pages.
pub(super) async fn not_found() -> Response {
    let body = notice(
        "error",
        "<p>There is no such page. The portal's pages are in its navigation once you sign in; \
         the admin API is under <code>/admin/v1</code>.</p>",
    ) + "<p><a href=\"/\">To the portal</a></p>\n";
    (StatusCode::NOT_FOUND, Html(page("Not found", None, &body))).into_response()
}

/// `GET /assets/portal.css`.
pub(super) async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", include_str!("assets/portal.css"))
}

/// `GET /assets/portal.js`.
pub(super) async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("assets/portal.js"),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        body,
    )
        .into_response()
}

/// `GET /customers`: every customer with its status, and the forms that suspend or resume it
/// (an operator credential's page).
pub(super) async fn customers(
    State(state): State<AppState>,
    signed: SignedIn,
) -> Result<Response, PortalError> {
    signed.operator()?;
    let body = customers_body(&state, &signed, "").await?;
    Ok(ok_page("Customers", &signed, "/customers", &body))
}

async fn customers_body(
    state: &AppState,
    signed: &SignedIn,
    top: &str,
) -> Result<String, PortalError> {
    let csrf = csrf_field(&signed.session.csrf_token);
    let rows: Vec<Vec<String>> = state
        .ca
        .eab()
        .customers()
        .await?
        .iter()
        .map(|c| {
            let action = if c.suspended_at.is_some() {
                format!(
                    "<form class=\"inline\" method=\"post\" action=\"/customers/{}/resume\">{csrf}\
                     <button type=\"submit\" id=\"resume-{}\">Resume</button></form>",
                    url(&c.name),
                    esc(&c.name)
                )
            } else {
                format!(
                    "<form class=\"inline\" method=\"post\" action=\"/customers/{}/suspend\">{csrf}\
                     <label for=\"reason-{n}\">Reason</label> <input id=\"reason-{n}\" name=\"reason\"> \
                     <button type=\"submit\" class=\"danger\" id=\"suspend-{n}\">Suspend</button></form>",
                    url(&c.name),
                    n = esc(&c.name)
                )
            };
            vec![
                esc(&c.name),
                badge(c.status),
                when(c.created_at),
                esc(c.suspended_reason.as_deref().unwrap_or("")),
                format!(
                    "<a href=\"/certificates?customer={}\">certificates</a>",
                    url(&c.name)
                ),
                action,
            ]
        })
        .collect();
    Ok(format!(
        "{top}<p>A suspended customer's ACME accounts, MAC keys and credentials are refused with \
         <code>unauthorized</code> until it is resumed; nothing else changes.</p>\n{}",
        table(
            "Customers",
            &["Name", "Status", "Created", "Suspended because", "", ""],
            &rows,
            "No customers yet (`ferrite customer create NAME`).",
        )
    ))
}

/// `POST /customers/{name}/suspend` (`reason`) and `/resume`: as `ferrite customer suspend`
/// and `resume`, recorded in the audit log as the operator credential's.
pub(super) async fn suspend_or_resume(
    State(state): State<AppState>,
    signed: SignedIn,
    Path((name, action)): Path<(String, String)>,
    Fields(fields): Fields,
) -> Result<Response, PortalError> {
    let operator = signed.operator()?.to_owned();
    signed.check_csrf(fields.get("csrf").map(String::as_str))?;
    let eab = state.ca.eab();
    let request = format!("POST /customers/{name}/{action}");
    let done = match action.as_str() {
        "suspend" => {
            eab.record_operator_request(&operator, "customer suspend", &request, "portal")
                .await;
            let reason = fields
                .get("reason")
                .map(|r| r.trim())
                .filter(|r| !r.is_empty());
            eab.suspend_customer(&name, reason).await?;
            "suspended"
        }
        "resume" => {
            eab.record_operator_request(&operator, "customer resume", &request, "portal")
                .await;
            eab.resume_customer(&name).await?;
            "resumed"
        }
        _ => {
            return Err(PortalError::problem(
                ferrite_proto::ProblemType::Malformed,
                404,
                "a customer is suspended with /customers/NAME/suspend or resumed with /customers/NAME/resume",
            ));
        }
    };
    let top = notice("ok", &format!("<p>Customer {} is {done}.</p>", esc(&name)));
    let body = customers_body(&state, &signed, &top).await?;
    Ok(ok_page("Customers", &signed, "/customers", &body))
}
