//! [`Corroborator`]: the primary's validator with every validation and CAA check corroborated
//! by the remote perspectives (Baseline Requirements §3.2.2.9).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use ferrite_core::metrics::{MpicMetrics, PerspectiveOutcome};
use ferrite_core::{CaaEvidence, CaaRequest, ValidationRequest, Validator};
use ferrite_proto::{Identifier, Problem, ProblemType};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde::Serialize;
use tracing::{info, warn};

use super::agent::{check_name, unix_now};
use super::client::{AskError, RemotePerspective};
use super::config::MpicMode;
use super::quorum::{Decision, Tally};
use super::wire::{Check, Outcome, PerspectiveRequest};

/// Seconds a request stays valid beyond the corroboration timeout: room for clocks that
/// differ between the primary and an agent.
const CLOCK_ALLOWANCE_SECS: u64 = 60;

/// What one perspective contributed, as kept in the validation record (`"mpic"`) and logged.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PerspectiveAnswer {
    /// The perspective's id.
    pub perspective: String,
    /// Its region.
    pub region: String,
    /// `agreed`, `disagreed`, `unreachable`, `refused`, `invalid` (its result did not
    /// verify), `timeout`, or `not-awaited` (the outcome was certain before it answered).
    pub outcome: &'static str,
    /// Milliseconds until it answered (or was given up).
    pub latency_ms: u64,
    /// What it saw or why it gave no answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
    /// Its evidence (addresses, DNS answers), when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<serde_json::Value>,
}

impl PerspectiveAnswer {
    fn agreed(&self) -> bool {
        self.outcome == "agreed"
    }

    /// The outcome as the metrics count it.
    fn metric_outcome(&self) -> PerspectiveOutcome {
        match self.outcome {
            "agreed" => PerspectiveOutcome::Agree,
            "disagreed" => PerspectiveOutcome::Disagree,
            "unreachable" => PerspectiveOutcome::Unreachable,
            "timeout" => PerspectiveOutcome::Timeout,
            "refused" => PerspectiveOutcome::Refused,
            "invalid" => PerspectiveOutcome::Invalid,
            _ => PerspectiveOutcome::NotAwaited,
        }
    }
}

/// One corroboration's outcome.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Corroboration {
    /// `off`, `log` or `enforce`.
    pub mode: &'static str,
    /// Whether the quorum corroborated the primary.
    pub corroborated: bool,
    /// Remote perspectives asked.
    pub perspectives: usize,
    /// How many may fail to corroborate (BR §3.2.2.9).
    pub allowed_non_corroborations: usize,
    /// Every perspective's answer, in configuration order.
    pub answers: Vec<PerspectiveAnswer>,
}

/// The primary's validator, corroborated: implements [`Validator`] around another one.
pub struct Corroborator {
    primary: Arc<dyn Validator>,
    perspectives: Vec<RemotePerspective>,
    mode: MpicMode,
    timeout: Duration,
    /// Per perspective (configuration order) answers and latency; corroborations decided.
    metrics: Arc<MpicMetrics>,
}

impl std::fmt::Debug for Corroborator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Corroborator")
            .field("perspectives", &self.perspectives)
            .field("mode", &self.mode)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Corroborator {
    /// `primary` corroborated by `perspectives` in `mode`; every perspective must answer
    /// within `timeout` (one not answering counts as disagreeing).
    pub fn new(
        primary: Arc<dyn Validator>,
        perspectives: Vec<RemotePerspective>,
        mode: MpicMode,
        timeout: Duration,
    ) -> Corroborator {
        let metrics = Arc::new(MpicMetrics::new(
            perspectives
                .iter()
                .map(|p| (p.id.clone(), p.region.clone())),
        ));
        Corroborator {
            primary,
            perspectives,
            mode,
            timeout,
            metrics,
        }
    }

    /// What the perspectives answered so far, for `/metrics`.
    pub fn metrics(&self) -> Arc<MpicMetrics> {
        self.metrics.clone()
    }

    /// Asks every perspective to perform `check` on `identifier`, in parallel, and returns
    /// as soon as the quorum's outcome is certain (or the timeout passes). In `log` mode it
    /// waits for every answer (up to the timeout) instead: nothing is decided by the quorum
    /// there, and the record is what an operator reads to learn what each perspective would
    /// have decided before enforcing.
    pub async fn corroborate(&self, identifier: &str, check: &Check) -> Corroboration {
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + self.timeout;
        let expires = unix_now() + self.timeout.as_secs() + 1 + CLOCK_ALLOWANCE_SECS;
        let mut answers: Vec<Option<PerspectiveAnswer>> = vec![None; self.perspectives.len()];
        let mut tally = Tally::new(self.perspectives.len());
        let mut pending: FuturesUnordered<_> = self
            .perspectives
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let request = PerspectiveRequest {
                    // Random per request and perspective: an agent answers an id once.
                    request_id: ferrite_core::ids::random_id(),
                    identifier: identifier.to_owned(),
                    check: check.clone(),
                    expires,
                };
                let body = Bytes::from(serde_json::to_vec(&request).unwrap_or_default());
                async move {
                    let asked = Instant::now();
                    let answer = p.ask(body, &request.request_id).await;
                    (i, answer, asked.elapsed())
                }
            })
            .collect();
        let await_all = self.mode == MpicMode::Log;
        let mut decision = tally.decision();
        while decision == Decision::Pending || (await_all && !pending.is_empty()) {
            match tokio::time::timeout_at(deadline, pending.next()).await {
                Ok(Some((i, answer, took))) => {
                    let Some(p) = self.perspectives.get(i) else {
                        continue;
                    };
                    let answer = classify(p, answer, took);
                    self.metrics.answer(i, answer.metric_outcome(), Some(took));
                    decision = tally.record(answer.agreed());
                    log_answer(identifier, check, &answer);
                    if let Some(slot) = answers.get_mut(i) {
                        *slot = Some(answer);
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    if decision == Decision::Pending {
                        decision = tally.give_up();
                    }
                    break;
                }
            }
        }
        let timed_out = tokio::time::Instant::now() >= deadline;
        let answers = answers
            .into_iter()
            .zip(&self.perspectives)
            .enumerate()
            .map(|(i, (answer, p))| {
                answer.unwrap_or_else(|| {
                    let answer = PerspectiveAnswer {
                        perspective: p.id.clone(),
                        region: p.region.clone(),
                        outcome: if timed_out { "timeout" } else { "not-awaited" },
                        latency_ms: millis(started.elapsed()),
                        problem: timed_out.then(|| {
                            Problem::new(
                                ProblemType::Connection,
                                format!(
                                    "perspective {} ({}) did not answer within {} ms",
                                    p.id,
                                    p.region,
                                    self.timeout.as_millis()
                                ),
                            )
                        }),
                        evidence: None,
                    };
                    if timed_out {
                        log_answer(identifier, check, &answer);
                    }
                    self.metrics.answer(
                        i,
                        answer.metric_outcome(),
                        timed_out.then_some(self.timeout),
                    );
                    answer
                })
            })
            .collect();
        Corroboration {
            mode: self.mode.as_str(),
            corroborated: decision == Decision::Corroborated,
            perspectives: tally.total(),
            allowed_non_corroborations: tally.allowed(),
            answers,
        }
    }

    /// Runs the primary's check and the corroboration together. `Err` with the primary's
    /// failure as soon as the primary fails (the outcome is then certain); else the primary's
    /// success and the corroboration.
    async fn both<T, E>(
        &self,
        primary: impl std::future::Future<Output = Result<T, E>>,
        identifier: &str,
        check: &Check,
    ) -> Result<(T, Corroboration), E> {
        let mut primary = std::pin::pin!(primary);
        let mut remote = std::pin::pin!(self.corroborate(identifier, check));
        let mut remote_done = None;
        loop {
            tokio::select! {
                outcome = &mut primary => {
                    let passed = outcome?;
                    let corroboration = match remote_done.take() {
                        Some(c) => c,
                        None => remote.await,
                    };
                    return Ok((passed, corroboration));
                }
                c = &mut remote, if remote_done.is_none() => remote_done = Some(c),
            }
        }
    }

    /// The problem a failed corroboration is refused with: `kind` at the top, one
    /// subproblem per perspective that did not corroborate.
    fn refusal(
        &self,
        kind: ProblemType,
        what: &str,
        identifier: &str,
        c: &Corroboration,
    ) -> Problem {
        let dissenting: Vec<&PerspectiveAnswer> =
            c.answers.iter().filter(|a| a.outcome != "agreed").collect();
        let names: Vec<String> = dissenting
            .iter()
            .filter(|a| a.outcome != "not-awaited")
            .map(|a| format!("{} ({})", a.perspective, a.region))
            .collect();
        let mut problem = Problem::new(
            kind,
            format!(
                "{what} for {identifier} passed from this CA's primary network perspective but was not corroborated from enough remote perspectives: {} of {} did not corroborate it, and at most {} may disagree or not answer (CA/Browser Forum Baseline Requirements §3.2.2.9). Not corroborated by: {}. Each subproblem says what that perspective saw; make sure your DNS and servers give the same answer to every network (no geo-DNS, anycast or firewall rules that differ by region), then try again",
                names.len(),
                c.perspectives,
                c.allowed_non_corroborations,
                names.join(", ")
            ),
        );
        problem.subproblems = dissenting
            .iter()
            .filter(|a| a.outcome != "not-awaited")
            .map(|a| {
                let (kind, detail) = match &a.problem {
                    Some(p) => (p.kind, p.detail.clone()),
                    None => (ProblemType::ServerInternal, a.outcome.to_owned()),
                };
                Problem::new(
                    kind,
                    format!(
                        "perspective {} ({}) {}: {detail}",
                        a.perspective, a.region, a.outcome
                    ),
                )
                .with_identifier(Identifier::dns(identifier))
            })
            .collect();
        problem
    }

    /// Logs and counts a decided corroboration.
    fn decided(&self, identifier: &str, check: &Check, c: &Corroboration) {
        self.metrics
            .decision(check_name(check), c.mode, c.corroborated);
        let agreed = c.answers.iter().filter(|a| a.agreed()).count();
        if c.corroborated {
            info!(target: "ferrite::mpic", identifier, check = check_name(check), agreed, perspectives = c.perspectives, mode = c.mode, "corroborated");
        } else {
            warn!(target: "ferrite::mpic", identifier, check = check_name(check), agreed, perspectives = c.perspectives, mode = c.mode,
                decision = if self.mode == MpicMode::Enforce { "refused" } else { "issued on the primary's result (mode = log)" },
                "not corroborated");
        }
    }
}

#[async_trait]
impl Validator for Corroborator {
    async fn validate(
        &self,
        request: &ValidationRequest,
    ) -> Result<serde_json::Value, (Problem, serde_json::Value)> {
        if self.mode == MpicMode::Off || self.perspectives.is_empty() {
            return self.primary.validate(request).await;
        }
        let check = Check::Validation {
            method: request.kind,
            token: request.token.clone(),
            key_authorization: request.key_authorization.clone(),
        };
        let (record, c) = self
            .both(self.primary.validate(request), &request.domain, &check)
            .await?;
        self.decided(&request.domain, &check, &c);
        let record = with_corroboration(record, &c);
        if !c.corroborated && self.mode == MpicMode::Enforce {
            let what = format!("{} validation", request.kind);
            return Err((
                self.refusal(ProblemType::Unauthorized, &what, &request.domain, &c),
                record,
            ));
        }
        Ok(record)
    }

    async fn check_caa(&self, request: &CaaRequest) -> Result<CaaEvidence, (Problem, CaaEvidence)> {
        if self.mode == MpicMode::Off || self.perspectives.is_empty() {
            return self.primary.check_caa(request).await;
        }
        let check = Check::Caa {
            wildcard: request.wildcard,
            account_uri: request.account_uri.clone(),
            method: request.method,
            issuer_domains: request.issuer_domains.clone(),
        };
        let (mut evidence, c) = self
            .both(self.primary.check_caa(request), &request.domain, &check)
            .await?;
        self.decided(&request.domain, &check, &c);
        // Kept with the check in the validation record (`"caa"`), as the validation's own
        // corroboration is (`"mpic"`).
        evidence.mpic = serde_json::to_value(&c).ok();
        if !c.corroborated && self.mode == MpicMode::Enforce {
            return Err((
                self.refusal(ProblemType::Caa, "The CAA check", &request.domain, &c),
                evidence,
            ));
        }
        Ok(evidence)
    }
}

/// `record` with `"mpic"` set to the corroboration (a record that is not a JSON object is
/// kept under `"validation"`).
fn with_corroboration(record: serde_json::Value, c: &Corroboration) -> serde_json::Value {
    let value = serde_json::to_value(c).unwrap_or_default();
    match record {
        serde_json::Value::Object(mut map) => {
            map.insert("mpic".to_owned(), value);
            serde_json::Value::Object(map)
        }
        other => serde_json::json!({ "validation": other, "mpic": value }),
    }
}

fn classify(
    p: &RemotePerspective,
    answer: Result<super::PerspectiveResult, AskError>,
    took: Duration,
) -> PerspectiveAnswer {
    let (outcome, problem, evidence) = match answer {
        Ok(result) if result.region != p.region => (
            "invalid",
            Some(Problem::new(
                ProblemType::ServerInternal,
                format!(
                    "signed as region {:?}, configured as {:?}",
                    result.region, p.region
                ),
            )),
            None,
        ),
        Ok(result) => match result.outcome {
            Outcome::Pass => ("agreed", None, Some(result.evidence)),
            Outcome::Fail => (
                "disagreed",
                Some(result.problem.unwrap_or_else(|| {
                    Problem::new(ProblemType::Unauthorized, "the check failed")
                })),
                Some(result.evidence),
            ),
        },
        Err(AskError::Invalid(e)) => (
            "invalid",
            Some(Problem::new(ProblemType::ServerInternal, e.to_string())),
            None,
        ),
        Err(AskError::Refused { status, detail }) => (
            "refused",
            Some(Problem::new(
                ProblemType::ServerInternal,
                format!("HTTP {status}: {detail}"),
            )),
            None,
        ),
        Err(AskError::Unreachable(why)) => (
            "unreachable",
            Some(Problem::new(ProblemType::Connection, why)),
            None,
        ),
    };
    PerspectiveAnswer {
        perspective: p.id.clone(),
        region: p.region.clone(),
        outcome,
        latency_ms: millis(took),
        problem,
        evidence,
    }
}

/// One log line per perspective answer: latency and outcome, so a sick perspective shows.
fn log_answer(identifier: &str, check: &Check, a: &PerspectiveAnswer) {
    let detail = a.problem.as_ref().map(|p| p.detail.as_str()).unwrap_or("");
    match a.outcome {
        "agreed" | "disagreed" => info!(
            target: "ferrite::mpic",
            perspective = %a.perspective, region = %a.region, identifier, check = check_name(check),
            outcome = a.outcome, latency_ms = a.latency_ms, detail, "perspective answer"
        ),
        _ => warn!(
            target: "ferrite::mpic",
            perspective = %a.perspective, region = %a.region, identifier, check = check_name(check),
            outcome = a.outcome, latency_ms = a.latency_ms, detail, "perspective failed"
        ),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
