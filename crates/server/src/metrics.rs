//! Metrics for the operator, in the Prometheus text format (version 0.0.4) at `/metrics` on the
//! admin listener: requests by listener, route and status with their duration, problem
//! documents by type, rate-limit refusals by limit, time spent on the database, what the
//! engine counts (validations by method and outcome, issuances,
//! refused issuances, bindings), the remote perspectives of multi-perspective corroboration
//! (answer latency and requests by outcome per perspective, corroborations by result),
//! Certificate Transparency (submission latency and outcome per log, certificates logged or
//! refused), and the
//! days left of the issuing CA's and the ACME listener's certificates and the oldest CRL's age. One
//! set per instance ([`crate::AppState`]); no metric carries a secret, an account or a name,
//! and perspective labels come from the configuration only.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ferrite_core::metrics::{CtMetrics, Histogram, HistogramSnapshot, MpicMetrics};
use ferrite_proto::ProblemType;

use crate::AppState;

/// A request's labels: listener, method, route, status.
type RequestLabels = (&'static str, &'static str, String, u16);

/// Requests and problems, counted by the middleware of every router.
#[derive(Debug, Default)]
pub(crate) struct HttpMetrics {
    /// Requests by (listener, method, route, status).
    requests: Mutex<BTreeMap<RequestLabels, u64>>,
    /// Request durations by (listener, route).
    durations: Mutex<BTreeMap<(&'static str, String), Histogram>>,
    /// Problem documents by type.
    problems: Mutex<BTreeMap<&'static str, u64>>,
    /// `rateLimited` refusals by the limit that refused.
    rate_limited: Mutex<BTreeMap<&'static str, u64>>,
}

/// The problem type of a response that carries a problem document, set where the document is
/// made (`problem::ApiError`) so the metrics need not parse the body.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ProblemKind(pub(crate) ProblemType);

/// The rate limit that refused a request (a `rateLimited` problem's), set with
/// [`ProblemKind`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct RateLimitKind(pub(crate) ferrite_core::rate_limit::LimitName);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The middleware: counts the request under `listener` once it is answered.
pub(crate) async fn track(
    State((state, listener)): State<(AppState, &'static str)>,
    req: Request,
    next: Next,
) -> Response {
    // The route as declared (`/acme/order/{id}`), never the path a client sent: ids would
    // make a series per order.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    // A fixed set: hyper accepts any token as a method, and a label per token would let a
    // client grow this map (and the scrape) without end.
    let method = match *req.method() {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    };
    let began = Instant::now();
    let response = next.run(req).await;
    let metrics = &state.metrics;
    *lock(&metrics.requests)
        .entry((listener, method, route.clone(), response.status().as_u16()))
        .or_default() += 1;
    lock(&metrics.durations)
        .entry((listener, route))
        .or_default()
        .observe(began.elapsed());
    if let Some(ProblemKind(kind)) = response.extensions().get::<ProblemKind>() {
        *lock(&metrics.problems).entry(kind.name()).or_default() += 1;
    }
    if let Some(RateLimitKind(limit)) = response.extensions().get::<RateLimitKind>() {
        *lock(&metrics.rate_limited)
            .entry(limit.as_str())
            .or_default() += 1;
    }
    response
}

/// `GET /metrics`.
pub(crate) async fn render(State(state): State<AppState>) -> Response {
    let mut out = String::new();
    let m = &state.metrics;

    help(
        &mut out,
        "ferrite_http_requests_total",
        "counter",
        "HTTP requests answered, by listener, method, route and status.",
    );
    for ((listener, method, route, status), n) in lock(&m.requests).iter() {
        let _ = writeln!(
            out,
            "ferrite_http_requests_total{{listener=\"{listener}\",method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
            escape(method),
            escape(route)
        );
    }
    help(
        &mut out,
        "ferrite_http_request_duration_seconds",
        "histogram",
        "Time to answer an HTTP request, by listener and route.",
    );
    for ((listener, route), h) in lock(&m.durations).iter() {
        let labels = format!("listener=\"{listener}\",route=\"{}\"", escape(route));
        histogram(
            &mut out,
            "ferrite_http_request_duration_seconds",
            &labels,
            &h.snapshot(),
        );
    }
    help(
        &mut out,
        "ferrite_problems_total",
        "counter",
        "Problem documents sent, by type (RFC 8555 §6.7).",
    );
    for (kind, n) in lock(&m.problems).iter() {
        let _ = writeln!(out, "ferrite_problems_total{{type=\"{kind}\"}} {n}");
    }
    help(
        &mut out,
        "ferrite_rate_limit_refusals_total",
        "counter",
        "Requests refused with rateLimited, by the limit that refused them (every limit listed, at 0 until one refuses).",
    );
    {
        let refused = lock(&m.rate_limited);
        for limit in ferrite_core::rate_limit::LimitName::ALL {
            let name = limit.as_str();
            let _ = writeln!(
                out,
                "ferrite_rate_limit_refusals_total{{limit=\"{name}\"}} {}",
                refused.get(name).copied().unwrap_or(0)
            );
        }
    }
    if let Some(store) = state.ca.store().metrics() {
        help(
            &mut out,
            "ferrite_database_seconds",
            "histogram",
            "Time spent on the database, by backend and kind: SQLite reads and writes (a write until its commit is durable), PostgreSQL uses of a pooled connection (the wait for one included).",
        );
        for (kind, h) in store.snapshot() {
            histogram(
                &mut out,
                "ferrite_database_seconds",
                &format!("backend=\"{}\",kind=\"{kind}\"", store.backend()),
                &h,
            );
        }
    }
    help(
        &mut out,
        "ferrite_refused_requests_dropped_total",
        "counter",
        "Refused requests not kept in the support trail because its queue was full (still logged).",
    );
    let _ = writeln!(
        out,
        "ferrite_refused_requests_dropped_total {}",
        state.support_trail.dropped()
    );

    let engine = state.ca.metrics();
    help(
        &mut out,
        "ferrite_validation_duration_seconds",
        "histogram",
        "Validations, by method and outcome (valid, or the problem type that failed them), and how long they took.",
    );
    for (method, outcome, h) in engine.validations() {
        let labels = format!("method=\"{method}\",outcome=\"{outcome}\"");
        histogram(&mut out, "ferrite_validation_duration_seconds", &labels, &h);
    }
    help(
        &mut out,
        "ferrite_issuance_duration_seconds",
        "histogram",
        "Certificates issued, and the time from finalize to the certificate stored.",
    );
    histogram(
        &mut out,
        "ferrite_issuance_duration_seconds",
        "",
        &engine.issuance(),
    );
    help(
        &mut out,
        "ferrite_issuance_refused_total",
        "counter",
        "Issuances refused by lint before signing or by the signer (each also an audit event).",
    );
    let _ = writeln!(
        out,
        "ferrite_issuance_refused_total {}",
        engine.issuance_refused_total()
    );
    help(
        &mut out,
        "ferrite_eab_bindings_total",
        "counter",
        "ACME accounts bound to a customer through an EAB MAC key.",
    );
    let _ = writeln!(
        out,
        "ferrite_eab_bindings_total {}",
        engine.bindings_total()
    );

    if let Some(mpic) = &state.config.mpic_metrics {
        render_mpic(&mut out, mpic);
    }
    if let Some(ct) = &state.config.ct_metrics {
        render_ct(&mut out, ct);
    }

    let now = state.ca.now();
    help(
        &mut out,
        "ferrite_certificate_expiry_seconds",
        "gauge",
        "Seconds until the intermediates' (certificate=\"issuer\", by name, active or retired) and the ACME listener's certificates expire.",
    );
    for entry in state.ca.issuers().all() {
        let _ = writeln!(
            out,
            "ferrite_certificate_expiry_seconds{{certificate=\"issuer\",name=\"{}\",active=\"{}\"}} {}",
            entry.issuer.name(),
            entry.active,
            (entry.issuer.not_after() - now).whole_seconds()
        );
    }
    if let Some(not_after) = state.config.listener.as_ref().map(|l| l.not_after()) {
        let _ = writeln!(
            out,
            "ferrite_certificate_expiry_seconds{{certificate=\"acme_listener\"}} {}",
            (not_after - now).whole_seconds()
        );
    }
    if let Some(age) = state.ca.crl_age().await {
        help(
            &mut out,
            "ferrite_crl_age_seconds",
            "gauge",
            "Age of the oldest CRL of this instance's issuer (its shards and the unsharded CRL), as the last scheduled refresh found it.",
        );
        let _ = writeln!(out, "ferrite_crl_age_seconds {}", age.whole_seconds());
    }

    let mut r = out.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

/// The remote perspectives' series: every configured perspective and outcome is listed, at
/// zero until counted, so a perspective that never answers shows.
fn render_mpic(out: &mut String, mpic: &MpicMetrics) {
    let perspectives: Vec<_> = mpic
        .perspectives()
        .into_iter()
        .map(|p| (perspective_labels(&p.id, &p.region), p))
        .collect();
    help(
        out,
        "ferrite_mpic_perspective_latency_seconds",
        "histogram",
        "Time from a corroboration request to a remote perspective's answer, by perspective and region (a timeout counts the whole timeout).",
    );
    for (labels, p) in &perspectives {
        histogram(
            out,
            "ferrite_mpic_perspective_latency_seconds",
            labels,
            &p.latency,
        );
    }
    help(
        out,
        "ferrite_mpic_perspective_requests_total",
        "counter",
        "Corroboration requests to a remote perspective, by perspective, region and outcome (agree, disagree, unreachable, timeout, refused, invalid, not_awaited).",
    );
    for (labels, p) in &perspectives {
        for (outcome, n) in &p.outcomes {
            let _ = writeln!(
                out,
                "ferrite_mpic_perspective_requests_total{{{labels},outcome=\"{}\"}} {n}",
                outcome.label()
            );
        }
    }
    help(
        out,
        "ferrite_mpic_corroborations_total",
        "counter",
        "Corroborations decided, by check, mode and result (corroborated, or refused by the quorum; in mode log the primary's result still decides).",
    );
    for (check, mode, result, n) in mpic.corroborations() {
        let _ = writeln!(
            out,
            "ferrite_mpic_corroborations_total{{check=\"{check}\",mode=\"{mode}\",result=\"{result}\"}} {n}"
        );
    }
}

/// Certificate Transparency's series: every configured log and outcome is listed, at zero
/// until counted, so a log that never answers shows.
fn render_ct(out: &mut String, ct: &CtMetrics) {
    let logs: Vec<_> = ct
        .logs()
        .into_iter()
        .map(|l| {
            let labels = format!(
                "log=\"{}\",operator=\"{}\"",
                escape(&l.url),
                escape(&l.operator)
            );
            (labels, l)
        })
        .collect();
    help(
        out,
        "ferrite_ct_submission_latency_seconds",
        "histogram",
        "Time from submitting a precertificate to a CT log to its answer, by log and operator (a timeout counts the whole timeout).",
    );
    for (labels, l) in &logs {
        histogram(
            out,
            "ferrite_ct_submission_latency_seconds",
            labels,
            &l.latency,
        );
    }
    help(
        out,
        "ferrite_ct_submissions_total",
        "counter",
        "Precertificate submissions to a CT log, by log, operator and outcome (logged: a verified SCT; invalid, refused, unreachable, timeout).",
    );
    for (labels, l) in &logs {
        for (outcome, n) in &l.outcomes {
            let _ = writeln!(
                out,
                "ferrite_ct_submissions_total{{{labels},outcome=\"{}\"}} {n}",
                outcome.label()
            );
        }
    }
    let (logged, refused) = ct.certificates();
    help(
        out,
        "ferrite_ct_certificates_total",
        "counter",
        "Certificates issued with the SCTs the CT policies need (result logged), and issuances refused for too few (result too_few_scts).",
    );
    let _ = writeln!(
        out,
        "ferrite_ct_certificates_total{{result=\"logged\"}} {logged}"
    );
    let _ = writeln!(
        out,
        "ferrite_ct_certificates_total{{result=\"too_few_scts\"}} {refused}"
    );
}

fn perspective_labels(id: &str, region: &str) -> String {
    format!(
        "perspective=\"{}\",region=\"{}\"",
        escape(id),
        escape(region)
    )
}

fn help(out: &mut String, name: &str, kind: &str, text: &str) {
    let _ = writeln!(out, "# HELP {name} {text}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn histogram(out: &mut String, name: &str, labels: &str, h: &HistogramSnapshot) {
    let sep = if labels.is_empty() { "" } else { "," };
    for (bound, count) in &h.cumulative {
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {count}");
    }
    let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", h.count);
    let braces = |l: &str| {
        if l.is_empty() {
            String::new()
        } else {
            format!("{{{l}}}")
        }
    };
    let _ = writeln!(out, "{name}_sum{} {}", braces(labels), h.sum_seconds);
    let _ = writeln!(out, "{name}_count{} {}", braces(labels), h.count);
}

/// A label value as the text format wants it: backslash, quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
