//! One client and its full issuance flow (RFC 8555 §7), timing every request by endpoint.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrite_jose::Algorithm;
use ferrite_jose::sign::{SigningKey, external_account_binding};
use serde_json::{Value, json};

use crate::config::{BenchConfig, KeyType};
use crate::http::{HttpError, Https, Response};
use crate::responder::Http01Sink;

/// The endpoints whose latencies are reported, in flow order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Endpoint {
    Directory,
    NewNonce,
    NewAccount,
    NewOrder,
    Authorization,
    Challenge,
    PollAuthorization,
    Finalize,
    PollOrder,
    Certificate,
}

impl Endpoint {
    pub(crate) const ALL: [Endpoint; 10] = [
        Endpoint::Directory,
        Endpoint::NewNonce,
        Endpoint::NewAccount,
        Endpoint::NewOrder,
        Endpoint::Authorization,
        Endpoint::Challenge,
        Endpoint::PollAuthorization,
        Endpoint::Finalize,
        Endpoint::PollOrder,
        Endpoint::Certificate,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Endpoint::Directory => "directory",
            Endpoint::NewNonce => "new-nonce",
            Endpoint::NewAccount => "new-account",
            Endpoint::NewOrder => "new-order",
            Endpoint::Authorization => "authorization",
            Endpoint::Challenge => "challenge",
            Endpoint::PollAuthorization => "poll-authorization",
            Endpoint::Finalize => "finalize",
            Endpoint::PollOrder => "poll-order",
            Endpoint::Certificate => "certificate",
        }
    }
}

/// Why an issuance failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FlowError {
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("{endpoint}: HTTP {status} {problem_type}: {detail}")]
    Problem {
        endpoint: &'static str,
        status: u16,
        problem_type: String,
        detail: String,
    },
    #[error("{endpoint}: unexpected response: {what}")]
    Protocol {
        endpoint: &'static str,
        what: String,
    },
    #[error("{what} became invalid ({problem_type}): {detail}")]
    Invalid {
        what: &'static str,
        problem_type: String,
        detail: String,
    },
    #[error("cannot make a key, CSR or signature: {0}")]
    Crypto(String),
    #[error("gave up polling {what} after {polls} polls")]
    PollLimit { what: &'static str, polls: u32 },
}

const ACME_ERROR: &str = "urn:ietf:params:acme:error:";

impl FlowError {
    /// The key this failure is counted under in the report: the ACME problem type's short
    /// name (`badNonce`, `connection`, …) where there is one.
    pub(crate) fn kind(&self) -> String {
        match self {
            FlowError::Http(e) => e.kind().to_owned(),
            FlowError::Problem { problem_type, .. } | FlowError::Invalid { problem_type, .. } => {
                problem_type
                    .strip_prefix(ACME_ERROR)
                    .unwrap_or(problem_type)
                    .to_owned()
            }
            FlowError::Protocol { .. } => "protocol".into(),
            FlowError::Crypto(_) => "crypto".into(),
            FlowError::PollLimit { .. } => "pollLimit".into(),
        }
    }
}

/// Latency samples and problem counts a client collected.
#[derive(Default)]
pub(crate) struct Samples {
    pub(crate) latencies: BTreeMap<Endpoint, Vec<Duration>>,
    /// Problems seen, including ones retried (badNonce), by kind.
    pub(crate) problems: BTreeMap<String, u64>,
    /// Wall time of each successful issuance, from new-order (or new-account) to certificate.
    pub(crate) issuance: Vec<Duration>,
}

impl Samples {
    pub(crate) fn merge(&mut self, other: Samples) {
        for (e, v) in other.latencies {
            self.latencies.entry(e).or_default().extend(v);
        }
        for (k, n) in other.problems {
            *self.problems.entry(k).or_default() += n;
        }
        self.issuance.extend(other.issuance);
    }
}

struct Directory {
    new_nonce: String,
    new_account: String,
    new_order: String,
}

struct Account {
    key: SigningKey,
    kid: String,
    thumbprint: String,
}

/// Polls stop after this many attempts even before the run's deadline.
const MAX_POLLS: u32 = 2000;
/// `Retry-After` longer than this is capped (the run's deadline bounds it anyway).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
/// badNonce retries per request (RFC 8555 §6.5: the error carries a fresh nonce).
const BAD_NONCE_RETRIES: u32 = 3;

/// One ACME client: one keep-alive connection, its nonce, its account.
pub(crate) struct Client {
    config: Arc<BenchConfig>,
    directory_url: String,
    http: Https,
    sink: Arc<dyn Http01Sink>,
    directory: Option<Directory>,
    nonce: Option<String>,
    account: Option<Account>,
    pub(crate) samples: Samples,
}

fn random_label() -> Result<String, FlowError> {
    let mut bytes = [0u8; 8];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| FlowError::Crypto("random bytes".into()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn json_body(endpoint: &'static str, resp: &Response) -> Result<Value, FlowError> {
    serde_json::from_slice(&resp.body).map_err(|e| FlowError::Protocol {
        endpoint,
        what: format!("body is not JSON ({e})"),
    })
}

fn str_field(endpoint: &'static str, v: &Value, field: &str) -> Result<String, FlowError> {
    v[field]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| FlowError::Protocol {
            endpoint,
            what: format!("no {field:?} string in {v}"),
        })
}

fn problem_of(v: &Value) -> (String, String) {
    (
        v["type"].as_str().unwrap_or("unknown").to_owned(),
        v["detail"].as_str().unwrap_or_default().to_owned(),
    )
}

impl Client {
    pub(crate) fn new(config: Arc<BenchConfig>, http: Https, sink: Arc<dyn Http01Sink>) -> Client {
        Client {
            directory_url: config.directory_url.clone(),
            config,
            http,
            sink,
            directory: None,
            nonce: None,
            account: None,
            samples: Samples::default(),
        }
    }

    /// Connections this client opened (keep-alive health).
    pub(crate) fn connects(&self) -> u64 {
        self.http.connects
    }

    fn record(&mut self, endpoint: Endpoint, started: Instant) {
        self.samples
            .latencies
            .entry(endpoint)
            .or_default()
            .push(started.elapsed());
    }

    fn count_problem(&mut self, kind: String) {
        *self.samples.problems.entry(kind).or_default() += 1;
    }

    async fn directory(&mut self) -> Result<&Directory, FlowError> {
        if self.directory.is_none() {
            let started = Instant::now();
            let url = self.directory_url.clone();
            let resp = self
                .http
                .request(http::Method::GET, &url, None, Vec::new())
                .await?;
            self.record(Endpoint::Directory, started);
            let ep = Endpoint::Directory.name();
            if resp.status != 200 {
                return Err(FlowError::Protocol {
                    endpoint: ep,
                    what: format!("HTTP {}", resp.status),
                });
            }
            let v = json_body(ep, &resp)?;
            self.directory = Some(Directory {
                new_nonce: str_field(ep, &v, "newNonce")?,
                new_account: str_field(ep, &v, "newAccount")?,
                new_order: str_field(ep, &v, "newOrder")?,
            });
        }
        self.directory.as_ref().ok_or_else(|| FlowError::Protocol {
            endpoint: "directory",
            what: "no directory".into(),
        })
    }

    async fn fresh_nonce(&mut self) -> Result<String, FlowError> {
        if let Some(n) = self.nonce.take() {
            return Ok(n);
        }
        let url = self.directory().await?.new_nonce.clone();
        let started = Instant::now();
        let resp = self
            .http
            .request(http::Method::HEAD, &url, None, Vec::new())
            .await?;
        self.record(Endpoint::NewNonce, started);
        resp.header("replay-nonce")
            .map(str::to_owned)
            .ok_or_else(|| FlowError::Protocol {
                endpoint: Endpoint::NewNonce.name(),
                what: format!("HTTP {} without Replay-Nonce", resp.status),
            })
    }

    /// RFC 8555 §6.2: a JWS-signed POST (`payload` None = POST-as-GET, §6.3), with the
    /// account's `kid`, or with `jwk` (by `key`) for newAccount.
    async fn post(
        &mut self,
        endpoint: Endpoint,
        url: &str,
        payload: Option<&Value>,
        jwk_key: Option<&SigningKey>,
    ) -> Result<Response, FlowError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let nonce = self.fresh_nonce().await?;
            let jws = match (jwk_key, &self.account) {
                (Some(key), _) => key.sign(None, Some(&nonce), url, payload),
                (None, Some(acct)) => acct.key.sign(Some(&acct.kid), Some(&nonce), url, payload),
                (None, None) => {
                    return Err(FlowError::Protocol {
                        endpoint: endpoint.name(),
                        what: "no account to sign with".into(),
                    });
                }
            }
            .map_err(|e| FlowError::Crypto(e.to_string()))?;
            let body = serde_json::to_vec(&jws).map_err(|e| FlowError::Crypto(e.to_string()))?;
            let started = Instant::now();
            let resp = self
                .http
                .request(http::Method::POST, url, Some("application/jose+json"), body)
                .await?;
            self.record(endpoint, started);
            // RFC 8555 §6.5: every response carries a fresh nonce; keep it for the next
            // request instead of asking newNonce.
            self.nonce = resp.header("replay-nonce").map(str::to_owned);
            if resp.status < 400 {
                return Ok(resp);
            }
            let v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
            let (problem_type, detail) = problem_of(&v);
            if problem_type == format!("{ACME_ERROR}badNonce") && attempt <= BAD_NONCE_RETRIES {
                self.count_problem("badNonce".into());
                continue;
            }
            return Err(FlowError::Problem {
                endpoint: endpoint.name(),
                status: resp.status,
                problem_type,
                detail,
            });
        }
    }

    /// How long to wait before the next poll.
    fn poll_wait(&self, resp: &Response) -> Duration {
        if self.config.honour_retry_after {
            // RFC 8555 §7.5.1 / RFC 9110 §10.2.3: delay-seconds (HTTP-dates are not used here).
            if let Some(secs) = resp
                .header("retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok())
            {
                return Duration::from_secs(secs).min(MAX_RETRY_AFTER);
            }
        }
        self.config.poll_interval
    }

    async fn new_account(&mut self) -> Result<(), FlowError> {
        let key =
            SigningKey::generate(Algorithm::ES256).map_err(|e| FlowError::Crypto(e.to_string()))?;
        let url = self.directory().await?.new_account.clone();
        let mut payload = json!({"termsOfServiceAgreed": true});
        if let Some(eab) = &self.config.eab {
            // RFC 8555 §7.3.4: the inner JWS is MACed with the CA-issued key over the
            // account's public JWK, with the newAccount URL.
            let binding = external_account_binding(
                Algorithm::HS256,
                &eab.kid,
                &eab.mac_key.0,
                &url,
                &key.public_jwk(),
            )
            .map_err(|e| FlowError::Crypto(e.to_string()))?;
            payload["externalAccountBinding"] = binding;
        }
        let resp = self
            .post(Endpoint::NewAccount, &url, Some(&payload), Some(&key))
            .await?;
        let kid =
            resp.header("location")
                .map(str::to_owned)
                .ok_or_else(|| FlowError::Protocol {
                    endpoint: Endpoint::NewAccount.name(),
                    what: format!("HTTP {} without Location", resp.status),
                })?;
        let thumbprint = key.public_jwk().thumbprint();
        self.account = Some(Account {
            key,
            kid,
            thumbprint,
        });
        Ok(())
    }

    /// One full issuance: account (unless reused), order, http-01, finalize, download.
    pub(crate) async fn issue(&mut self) -> Result<(), FlowError> {
        let started = Instant::now();
        if self.account.is_none() || !self.config.account_per_client {
            self.new_account().await?;
        }
        let name = format!("{}.{}", random_label()?, self.config.domain);

        // RFC 8555 §7.4: newOrder → 201 with Location, authorizations and finalize.
        let new_order = self.directory().await?.new_order.clone();
        let payload = json!({"identifiers": [{"type": "dns", "value": name}]});
        let resp = self
            .post(Endpoint::NewOrder, &new_order, Some(&payload), None)
            .await?;
        let ep = Endpoint::NewOrder.name();
        let order_url =
            resp.header("location")
                .map(str::to_owned)
                .ok_or_else(|| FlowError::Protocol {
                    endpoint: ep,
                    what: "no Location".into(),
                })?;
        let order = json_body(ep, &resp)?;
        let finalize = str_field(ep, &order, "finalize")?;
        let authz_url = order["authorizations"][0]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| FlowError::Protocol {
                endpoint: ep,
                what: format!("no authorizations in {order}"),
            })?;

        self.authorize(&authz_url).await?;
        let cert_url = self.finalize(&name, &finalize, &order_url).await?;

        // RFC 8555 §7.4.2: download with POST-as-GET; the default format is a PEM chain.
        let resp = self
            .post(Endpoint::Certificate, &cert_url, None, None)
            .await?;
        if !resp.body.starts_with(b"-----BEGIN CERTIFICATE-----") {
            return Err(FlowError::Protocol {
                endpoint: Endpoint::Certificate.name(),
                what: "body is not a PEM certificate chain".into(),
            });
        }
        self.samples.issuance.push(started.elapsed());
        Ok(())
    }

    /// RFC 8555 §7.5 and §8.3: fetch the authorization, answer its http-01 challenge, poll
    /// until it is valid.
    async fn authorize(&mut self, authz_url: &str) -> Result<(), FlowError> {
        let ep = Endpoint::Authorization.name();
        let resp = self
            .post(Endpoint::Authorization, authz_url, None, None)
            .await?;
        let authz = json_body(ep, &resp)?;
        if authz["status"] == "valid" {
            return Ok(());
        }
        let challenge = authz["challenges"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == "http-01"))
            .ok_or_else(|| FlowError::Protocol {
                endpoint: ep,
                what: "no http-01 challenge offered".into(),
            })?;
        let token = str_field(ep, challenge, "token")?;
        let challenge_url = str_field(ep, challenge, "url")?;
        let thumbprint = self
            .account
            .as_ref()
            .map(|a| a.thumbprint.clone())
            .unwrap_or_default();
        // RFC 8555 §8.1: keyAuthorization = token || '.' || base64url(Thumbprint(accountKey)).
        self.sink.publish(&token, &format!("{token}.{thumbprint}"));
        let result = self.answer_and_poll(authz_url, &challenge_url).await;
        self.sink.withdraw(&token);
        result
    }

    async fn answer_and_poll(
        &mut self,
        authz_url: &str,
        challenge_url: &str,
    ) -> Result<(), FlowError> {
        // RFC 8555 §7.5.1: the client responds with an empty JSON object.
        let mut resp = self
            .post(Endpoint::Challenge, challenge_url, Some(&json!({})), None)
            .await?;
        let challenge = json_body(Endpoint::Challenge.name(), &resp)?;
        if challenge["status"] == "valid" {
            return Ok(());
        }
        for _ in 0..MAX_POLLS {
            tokio::time::sleep(self.poll_wait(&resp)).await;
            resp = self
                .post(Endpoint::PollAuthorization, authz_url, None, None)
                .await?;
            let authz = json_body(Endpoint::PollAuthorization.name(), &resp)?;
            match authz["status"].as_str() {
                Some("valid") => return Ok(()),
                Some("pending") | Some("processing") => {}
                _ => {
                    let error = authz["challenges"]
                        .as_array()
                        .and_then(|cs| cs.iter().find(|c| c["type"] == "http-01"))
                        .map(|c| c["error"].clone())
                        .unwrap_or(Value::Null);
                    let (problem_type, detail) = problem_of(&error);
                    return Err(FlowError::Invalid {
                        what: "authorization",
                        problem_type,
                        detail,
                    });
                }
            }
        }
        Err(FlowError::PollLimit {
            what: "authorization",
            polls: MAX_POLLS,
        })
    }

    /// RFC 8555 §7.4: finalize with a CSR for `name`, poll the order until valid; returns the
    /// certificate URL.
    async fn finalize(
        &mut self,
        name: &str,
        finalize_url: &str,
        order_url: &str,
    ) -> Result<String, FlowError> {
        let key_type = self.config.key_type;
        let csr = match key_type {
            KeyType::P256 => make_csr(key_type, name)?,
            // RSA key generation takes tens of milliseconds of CPU: off the async workers, so
            // other clients' requests and the run's deadline are not held up behind it.
            KeyType::Rsa2048 => {
                let name = name.to_owned();
                tokio::task::spawn_blocking(move || make_csr(key_type, &name))
                    .await
                    .map_err(|e| FlowError::Crypto(format!("key generation task: {e}")))??
            }
        };
        let payload = json!({"csr": URL_SAFE_NO_PAD.encode(csr)});
        let mut resp = self
            .post(Endpoint::Finalize, finalize_url, Some(&payload), None)
            .await?;
        let mut order = json_body(Endpoint::Finalize.name(), &resp)?;
        for _ in 0..MAX_POLLS {
            match order["status"].as_str() {
                Some("valid") => {
                    return str_field(Endpoint::PollOrder.name(), &order, "certificate");
                }
                Some("processing") | Some("ready") | Some("pending") => {}
                _ => {
                    let (problem_type, detail) = problem_of(&order["error"]);
                    return Err(FlowError::Invalid {
                        what: "order",
                        problem_type,
                        detail,
                    });
                }
            }
            tokio::time::sleep(self.poll_wait(&resp)).await;
            resp = self
                .post(Endpoint::PollOrder, order_url, None, None)
                .await?;
            order = json_body(Endpoint::PollOrder.name(), &resp)?;
        }
        Err(FlowError::PollLimit {
            what: "order",
            polls: MAX_POLLS,
        })
    }
}

/// A fresh subscriber key and a CSR (DER) for `name` with an empty subject.
fn make_csr(key_type: KeyType, name: &str) -> Result<Vec<u8>, FlowError> {
    let crypto = |e: rcgen::Error| FlowError::Crypto(e.to_string());
    let key = match key_type {
        KeyType::P256 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        KeyType::Rsa2048 => {
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        }
    }
    .map_err(crypto)?;
    let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).map_err(crypto)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    let csr = params.serialize_request(&key).map_err(crypto)?;
    Ok(csr.der().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrs_carry_the_requested_key_and_name() {
        for (kt, alg) in [
            (KeyType::P256, &rcgen::PKCS_ECDSA_P256_SHA256),
            (KeyType::Rsa2048, &rcgen::PKCS_RSA_SHA256),
        ] {
            let der = make_csr(kt, "a1.bench.example").unwrap();
            let csr = rcgen::CertificateSigningRequestParams::from_der(&der.into()).unwrap();
            assert_eq!(csr.public_key.algorithm(), alg, "{kt:?}");
            assert_eq!(
                csr.params.subject_alt_names,
                vec![rcgen::SanType::DnsName(
                    "a1.bench.example".try_into().unwrap()
                )]
            );
        }
    }

    #[test]
    fn problem_kinds_are_short_names() {
        let e = FlowError::Problem {
            endpoint: "new-order",
            status: 400,
            problem_type: "urn:ietf:params:acme:error:rejectedIdentifier".into(),
            detail: "no".into(),
        };
        assert_eq!(e.kind(), "rejectedIdentifier");
        let e = FlowError::Invalid {
            what: "authorization",
            problem_type: "unknown".into(),
            detail: String::new(),
        };
        assert_eq!(e.kind(), "unknown");
        assert_eq!(random_label().unwrap().len(), 16);
        assert_ne!(random_label().unwrap(), random_label().unwrap());
    }
}
