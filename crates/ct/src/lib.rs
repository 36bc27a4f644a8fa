//! Certificate Transparency (RFC 6962) for the issuer: [`LoggedIssuer`] wraps the engine's
//! [`CertificateIssuer`] so that every certificate is first signed as a precertificate,
//! submitted to the configured logs in parallel (`add-pre-chain`, RFC 6962 §4.1), and issued
//! only with enough verified SCTs embedded to meet the Chrome and Apple CT policies: at least
//! two SCTs from two distinct log operators for a validity of up to 180 days, three for a
//! longer one. Too few answers fail the issuance; a certificate never goes out without its
//! SCTs.
//!
//! What is signed and checked (the precertificate, its TBS, SCT encoding and verification) is
//! `ferrite_pki::ct`'s; this crate is the network side: the HTTP(S) client for the logs, the
//! timeouts and the choice of SCTs.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use ferrite_core::CertificateIssuer;
use ferrite_core::metrics::{CtMetrics, CtOutcome};
use ferrite_core::pool::IdlePool;
use ferrite_pki::ct::{self as pki_ct, Sct};
use ferrite_pki::{
    IssueRequest, IssuedCertificate, PkiError, Precertificate, Profile, RevokedEntry,
};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use time::OffsetDateTime;
use tokio::net::TcpStream;
use tracing::{info, warn};

/// A log's answer is a small JSON object; anything longer is refused.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Validity above which the CT policies ask for three SCTs instead of two (Chrome's and
/// Apple's policies: 180 days).
const LONG_VALIDITY: time::Duration = time::Duration::days(180);

/// One Certificate Transparency log.
#[derive(Debug, Clone)]
pub struct Log {
    /// The log's base URL (`https://ct.example/2026h2/`): `ct/v1/add-pre-chain` is below it.
    pub url: url::Url,
    /// The log's public key, a DER SubjectPublicKeyInfo (ECDSA P-256 or RSA).
    pub public_key: Vec<u8>,
    /// Who runs the log: the policies count distinct operators.
    pub operator: String,
}

impl Log {
    /// A log from its configured URL and base64 public key. Fails with a message naming what
    /// is wrong.
    pub fn new(url: &str, public_key_base64: &str, operator: &str) -> Result<Log, String> {
        let mut url = url::Url::parse(url).map_err(|e| format!("url {url:?}: {e}"))?;
        if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
            return Err(format!("url {url}: an http(s) URL with a host is needed"));
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        let public_key = BASE64
            .decode(public_key_base64.trim())
            .map_err(|e| format!("public_key of {url}: not base64 ({e})"))?;
        // A key the verifier cannot use is refused now, not at the first issuance.
        pki_ct::check_log_key(&public_key).map_err(|e| format!("public_key of {url}: {e}"))?;
        if operator.trim().is_empty() {
            return Err(format!("operator of {url}: name who runs the log"));
        }
        Ok(Log {
            url,
            public_key,
            operator: operator.trim().to_owned(),
        })
    }
}

/// Connections kept open to each log between submissions.
const POOL_SIZE: usize = 8;

/// How long a kept connection may sit idle before it is closed rather than used (below the
/// idle timeouts logs are seen to apply).
const POOL_IDLE: Duration = Duration::from_secs(30);

/// Why a log's answer gave no SCT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No answer within the timeout.
    Timeout(Duration),
    /// No connection, TLS or HTTP exchange.
    Unreachable(String),
    /// An HTTP error status.
    Refused(String),
    /// An answer that is not an SCT (or, once checked, whose signature does not verify).
    Invalid(String),
}

impl Failure {
    /// The metrics' outcome of this failure.
    pub fn outcome(&self) -> CtOutcome {
        match self {
            Failure::Timeout(_) => CtOutcome::Timeout,
            Failure::Unreachable(_) => CtOutcome::Unreachable,
            Failure::Refused(_) => CtOutcome::Refused,
            Failure::Invalid(_) => CtOutcome::Invalid,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Timeout(after) => write!(f, "no answer within {after:?}"),
            Failure::Unreachable(e) | Failure::Refused(e) | Failure::Invalid(e) => f.write_str(e),
        }
    }
}

/// One log's answer to a submission, and how long it took.
pub type Answer = (Result<Sct, Failure>, Duration);

/// A kept HTTP/1.1 connection to a log.
type Connection = SendRequest<Full<Bytes>>;

/// The logs and how to reach them.
#[derive(Clone)]
pub struct CtLogs {
    logs: Arc<[Log]>,
    timeout: Duration,
    tls: Option<tokio_rustls::TlsConnector>,
    /// Kept connections, one pool per log (in `logs` order).
    pools: Arc<[IdlePool<Connection>]>,
}

impl std::fmt::Debug for CtLogs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CtLogs")
            .field("logs", &self.logs)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl CtLogs {
    /// The logs, each submission bounded by `timeout`. HTTPS logs are verified against the
    /// system's trust store. Fails when fewer than two operators run the logs (no certificate
    /// could meet the policies) or an HTTPS log is configured and the trust store is empty.
    pub fn new(logs: Vec<Log>, timeout: Duration) -> Result<CtLogs, String> {
        let mut operators: Vec<&str> = logs.iter().map(|l| l.operator.as_str()).collect();
        operators.sort_unstable();
        operators.dedup();
        if operators.len() < 2 {
            return Err(format!(
                "the CT logs are run by {} operator(s); the CT policies need SCTs from at least two distinct operators, so configure logs of two or more",
                operators.len()
            ));
        }
        let tls = if logs.iter().any(|l| l.url.scheme() == "https") {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = rustls::RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(
                    "HTTPS CT logs are configured and the system's trust store has no CA certificate to verify them with".into(),
                );
            }
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS to the CT logs: {e}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Some(tokio_rustls::TlsConnector::from(Arc::new(config)))
        } else {
            None
        };
        let pools = logs.iter().map(|_| IdlePool::default()).collect();
        Ok(CtLogs {
            logs: logs.into(),
            timeout,
            tls,
            pools,
        })
    }

    /// The configured logs.
    pub fn logs(&self) -> &[Log] {
        &self.logs
    }

    /// New counts for these logs: each log's submissions by outcome and their latency, and
    /// the certificates logged or refused, for `/metrics`.
    pub fn new_metrics(&self) -> CtMetrics {
        CtMetrics::new(
            self.logs
                .iter()
                .map(|l| (l.url.to_string(), l.operator.clone())),
        )
    }

    /// Submits `chain` (the precertificate, then its issuer) to every log in parallel; one
    /// answer per log, in the configured order, with the time it took.
    pub async fn submit(&self, chain: &[&[u8]]) -> Vec<Answer> {
        let body = serde_json::json!({
            "chain": chain.iter().map(|der| BASE64.encode(der)).collect::<Vec<_>>(),
        })
        .to_string();
        let body = Bytes::from(body);
        futures::future::join_all(self.logs.iter().zip(self.pools.iter()).map(|(log, pool)| {
            let body = body.clone();
            async move {
                let started = std::time::Instant::now();
                let answer =
                    match tokio::time::timeout(self.timeout, self.add_pre_chain(log, pool, body))
                        .await
                    {
                        Ok(answer) => answer,
                        Err(_) => Err(Failure::Timeout(self.timeout)),
                    };
                (answer, started.elapsed())
            }
        }))
        .await
    }

    /// One `add-pre-chain` request (RFC 6962 §4.1), over a kept connection when one is open,
    /// else a new one (kept afterwards). A kept connection the log closed just as it was
    /// taken fails before any answer; the request then goes once more on a new connection
    /// (a log answers the same chain again with the same SCT).
    async fn add_pre_chain(
        &self,
        log: &Log,
        pool: &IdlePool<Connection>,
        body: Bytes,
    ) -> Result<Sct, Failure> {
        let unreachable = |e: String| Failure::Unreachable(e);
        let url = log
            .url
            .join("ct/v1/add-pre-chain")
            .map_err(|e| unreachable(e.to_string()))?;
        let host = url
            .host_str()
            .ok_or_else(|| unreachable("no host".into()))?
            .to_owned();
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        let request = || {
            http::Request::post(url.as_str())
                .header(http::header::HOST, authority.as_str())
                .header(http::header::CONTENT_TYPE, "application/json")
                .header(http::header::USER_AGENT, "ferrite-ct")
                .body(Full::new(body.clone()))
                .map_err(|e| unreachable(e.to_string()))
        };
        let mut sent = None;
        if let Some(mut sender) = pool.take(POOL_IDLE, |s| !s.is_closed())
            && sender.ready().await.is_ok()
            && let Ok(response) = sender.send_request(request()?).await
        {
            sent = Some((sender, response));
        }
        let (sender, response) = match sent {
            Some(sent) => sent,
            None => {
                let mut sender = self.connect(&url, &host).await?;
                let response = sender
                    .send_request(request()?)
                    .await
                    .map_err(|e| unreachable(format!("HTTP: {e}")))?;
                (sender, response)
            }
        };
        let status = response.status();
        let bytes = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| unreachable(format!("reading the answer: {e}")))?
            .to_bytes();
        // The whole answer is read: the connection is free for the next submission.
        pool.put(sender, POOL_SIZE, |s| !s.is_closed());
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
            return Err(Failure::Refused(format!("HTTP {status}: {text}")));
        }
        parse_answer(&bytes).map_err(Failure::Invalid)
    }

    /// A new HTTP/1.1 connection to the log of `url` (TLS for `https`).
    async fn connect(&self, url: &url::Url, host: &str) -> Result<Connection, Failure> {
        let unreachable = |e: String| Failure::Unreachable(e);
        let port = url
            .port_or_known_default()
            .ok_or_else(|| unreachable("no port".into()))?;
        // IPv6 literals come bracketed in URLs; the socket address wants them bare.
        let connect_host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let tcp = TcpStream::connect((connect_host.as_str(), port))
            .await
            .map_err(|e| unreachable(format!("connect: {e}")))?;
        if url.scheme() == "https" {
            let tls = self
                .tls
                .as_ref()
                .ok_or_else(|| unreachable("no TLS configuration".into()))?;
            let name = rustls_pki_types::ServerName::try_from(connect_host)
                .map_err(|e| unreachable(format!("server name: {e}")))?;
            let stream = tls
                .connect(name, tcp)
                .await
                .map_err(|e| unreachable(format!("TLS: {e}")))?;
            handshake(TokioIo::new(stream)).await
        } else {
            handshake(TokioIo::new(tcp)).await
        }
    }
}

/// The HTTP/1.1 handshake over `io`; the connection's task runs until it closes.
async fn handshake<S>(io: TokioIo<S>) -> Result<Connection, Failure>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| Failure::Unreachable(format!("HTTP: {e}")))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// The `add-pre-chain` answer (RFC 6962 §4.1).
#[derive(serde::Deserialize)]
struct AddChainResponse {
    sct_version: u8,
    id: String,
    timestamp: u64,
    #[serde(default)]
    extensions: String,
    signature: String,
}

fn parse_answer(bytes: &[u8]) -> Result<Sct, String> {
    let answer: AddChainResponse =
        serde_json::from_slice(bytes).map_err(|e| format!("not an add-pre-chain answer: {e}"))?;
    if answer.sct_version != 0 {
        return Err(format!(
            "SCT version {}, only v1 (0) is known",
            answer.sct_version
        ));
    }
    let decode = |field: &str, value: &str| {
        BASE64
            .decode(value)
            .map_err(|e| format!("{field} is not base64: {e}"))
    };
    Sct::from_parts(
        &decode("id", &answer.id)?,
        answer.timestamp,
        decode("extensions", &answer.extensions)?,
        &decode("signature", &answer.signature)?,
    )
}

/// How many SCTs a certificate of `validity` needs (Chrome's and Apple's CT policies).
pub fn required_scts(validity: time::Duration) -> usize {
    if validity <= LONG_VALIDITY { 2 } else { 3 }
}

/// Picks `needed` of the verified SCTs, one per operator first, so that at least two
/// operators are among them; `None` when the verified ones cannot meet the policies.
fn choose<'a>(verified: &[(&'a Log, Sct)], needed: usize) -> Option<Vec<(&'a Log, Sct)>> {
    let mut chosen: Vec<(&Log, Sct)> = Vec::with_capacity(needed);
    for (log, sct) in verified {
        if chosen.len() < needed && chosen.iter().all(|(l, _)| l.operator != log.operator) {
            chosen.push((log, sct.clone()));
        }
    }
    for (log, sct) in verified {
        if chosen.len() < needed && !chosen.iter().any(|(l, _)| std::ptr::eq(*l, *log)) {
            chosen.push((log, sct.clone()));
        }
    }
    let mut operators: Vec<&str> = chosen.iter().map(|(l, _)| l.operator.as_str()).collect();
    operators.sort_unstable();
    operators.dedup();
    (chosen.len() >= needed && operators.len() >= 2).then_some(chosen)
}

/// An issuer whose certificates are logged first (see the crate documentation).
pub struct LoggedIssuer {
    inner: Arc<dyn CertificateIssuer>,
    logs: CtLogs,
    metrics: Arc<CtMetrics>,
}

impl LoggedIssuer {
    /// `inner`'s certificates, logged in `logs` before they are issued, counted in `metrics`
    /// ([`CtLogs::new_metrics`]; the CA's intermediates share one).
    pub fn new(
        inner: Arc<dyn CertificateIssuer>,
        logs: CtLogs,
        metrics: Arc<CtMetrics>,
    ) -> LoggedIssuer {
        LoggedIssuer {
            inner,
            logs,
            metrics,
        }
    }
}

#[async_trait]
impl CertificateIssuer for LoggedIssuer {
    async fn issue(
        &self,
        profile: &Profile,
        request: &IssueRequest,
    ) -> Result<IssuedCertificate, PkiError> {
        let precert = self.inner.issue_precertificate(profile, request).await?;
        let issuer_der = self.inner.certificate_der();
        let ct_error = |detail: String| PkiError::CertificateTransparency { detail };
        let key_hash = pki_ct::issuer_key_hash(issuer_der)
            .ok_or_else(|| ct_error("the issuer certificate does not parse".into()))?;
        let tbs = pki_ct::precertificate_tbs(&precert.der)
            .ok_or_else(|| ct_error("the precertificate has no poison to take out".into()))?;
        let answers = self.logs.submit(&[&precert.der, issuer_der]).await;
        let mut verified = Vec::new();
        let mut refused = Vec::new();
        for (index, (log, (answer, latency))) in self.logs.logs().iter().zip(answers).enumerate() {
            let checked = answer.and_then(|sct| {
                sct.verify_precertificate(&log.public_key, &key_hash, &tbs)
                    .map(|()| sct)
                    .map_err(|e| Failure::Invalid(e.to_string()))
            });
            let outcome = match &checked {
                Ok(_) => CtOutcome::Logged,
                Err(failure) => failure.outcome(),
            };
            self.metrics.submission(index, outcome, latency);
            match checked {
                Ok(sct) => verified.push((log, sct)),
                Err(e) => refused.push(format!("{} ({}): {e}", log.url, log.operator)),
            }
        }
        let needed = required_scts(precert.validity());
        let serial = precert.serial_hex();
        let Some(chosen) = choose(&verified, needed) else {
            let detail = format!(
                "precertificate {serial}: {} verified SCT(s) from {} log(s), and the CT policies need {needed} from at least two operators; no answer from: {}",
                verified.len(),
                self.logs.logs().len(),
                if refused.is_empty() {
                    "none (too few operators among the answers)".to_owned()
                } else {
                    refused.join("; ")
                }
            );
            warn!(%serial, logs_refused = ?refused, "too few CT logs logged the precertificate; nothing issued");
            self.metrics.certificate(false);
            return Err(ct_error(detail));
        };
        if !refused.is_empty() {
            warn!(%serial, logs_refused = ?refused, "some CT logs did not log the precertificate");
        }
        let logs: Vec<&str> = chosen.iter().map(|(l, _)| l.url.as_str()).collect();
        info!(%serial, ?logs, "precertificate logged");
        let scts: Vec<Sct> = chosen.into_iter().map(|(_, sct)| sct).collect();
        let mut issued = self.inner.issue_with_scts(&precert, &scts).await?;
        self.metrics.certificate(true);
        // Kept with the certificate: what the logs hold, for audits and disputes.
        issued.precertificate_der = Some(precert.der);
        Ok(issued)
    }

    async fn issue_precertificate(
        &self,
        profile: &Profile,
        request: &IssueRequest,
    ) -> Result<Precertificate, PkiError> {
        self.inner.issue_precertificate(profile, request).await
    }

    async fn issue_with_scts(
        &self,
        precert: &Precertificate,
        scts: &[Sct],
    ) -> Result<IssuedCertificate, PkiError> {
        self.inner.issue_with_scts(precert, scts).await
    }

    async fn sign_crl(
        &self,
        shard: Option<u32>,
        revoked: &[RevokedEntry],
        number: u64,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Result<Vec<u8>, PkiError> {
        self.inner
            .sign_crl(shard, revoked, number, this_update, next_update)
            .await
    }

    fn certificate_pem(&self) -> &str {
        self.inner.certificate_pem()
    }

    fn certificate_der(&self) -> &[u8] {
        self.inner.certificate_der()
    }

    fn not_before(&self) -> OffsetDateTime {
        self.inner.not_before()
    }

    fn issuer_id(&self) -> &str {
        self.inner.issuer_id()
    }

    fn crl_shards(&self) -> u32 {
        self.inner.crl_shards()
    }

    fn name(&self) -> &str {
        self.inner.name()
    }

    fn key_is_rsa(&self) -> bool {
        self.inner.key_is_rsa()
    }

    fn not_after(&self) -> OffsetDateTime {
        self.inner.not_after()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(operator: &str) -> Log {
        Log {
            url: url::Url::parse(&format!("http://127.0.0.1/{operator}/")).unwrap(),
            public_key: Vec::new(),
            operator: operator.into(),
        }
    }

    fn sct(n: u8) -> Sct {
        Sct {
            log_id: [n; 32],
            timestamp: u64::from(n),
            extensions: Vec::new(),
            hash_algorithm: 4,
            signature_algorithm: 3,
            signature: vec![n],
        }
    }

    #[test]
    fn the_policy_counts_scts_and_operators() {
        assert_eq!(required_scts(time::Duration::days(90)), 2);
        assert_eq!(required_scts(time::Duration::days(180)), 2);
        assert_eq!(required_scts(time::Duration::days(181)), 3);
        let (a1, a2, b) = (log("a"), log("a"), log("b"));
        // Two of one operator do not do.
        assert!(choose(&[(&a1, sct(1)), (&a2, sct(2))], 2).is_none());
        // One per operator first, even when the same operator answered first twice.
        let chosen = choose(&[(&a1, sct(1)), (&a2, sct(2)), (&b, sct(3))], 2).unwrap();
        let ids: Vec<u8> = chosen.iter().map(|(_, s)| s.log_id[0]).collect();
        assert_eq!(ids, [1, 3]);
        // Three needed: the second of operator a fills in.
        let chosen = choose(&[(&a1, sct(1)), (&a2, sct(2)), (&b, sct(3))], 3).unwrap();
        assert_eq!(chosen.len(), 3);
        assert!(choose(&[(&a1, sct(1)), (&b, sct(3))], 3).is_none());
    }

    #[test]
    fn answers_parse_and_garbage_does_not() {
        let answer = serde_json::json!({
            "sct_version": 0,
            "id": BASE64.encode([5u8; 32]),
            "timestamp": 42,
            "extensions": "",
            "signature": BASE64.encode([4u8, 3, 0, 1, 9]),
        });
        let sct = parse_answer(answer.to_string().as_bytes()).unwrap();
        assert_eq!(
            (sct.log_id, sct.timestamp, sct.signature),
            ([5; 32], 42, vec![9])
        );
        assert!(parse_answer(b"{}").is_err());
        assert!(parse_answer(b"<html>").is_err());
        let mut v1 = answer.clone();
        v1["sct_version"] = 1.into();
        assert!(parse_answer(v1.to_string().as_bytes()).is_err());
        let mut short_id = answer;
        short_id["id"] = BASE64.encode([5u8; 31]).into();
        assert!(parse_answer(short_id.to_string().as_bytes()).is_err());
    }

    #[test]
    fn logs_are_checked_when_configured() {
        assert!(Log::new("ftp://log.example/", "", "a").is_err());
        assert!(Log::new("https://log.example/", "not base64!", "a").is_err());
        assert!(Log::new("https://log.example/", &BASE64.encode([0u8; 10]), "a").is_err());
        let one_operator = vec![log("a"), log("a")];
        assert!(
            CtLogs::new(one_operator, Duration::from_secs(1))
                .unwrap_err()
                .contains("two distinct operators")
        );
        assert!(CtLogs::new(vec![log("a"), log("b")], Duration::from_secs(1)).is_ok());
    }
}
