//! Responding to challenges and running validations (RFC 8555 §7.5.1, §8).

use ferrite_proto::{AuthorizationStatus, ChallengeStatus};
use tracing::{Instrument, info, warn};

use super::Ca;
use super::authorizations::AuthorizationView;
use super::not_found;
use crate::model::{
    Account, Authorization, Challenge, DomainValidation, ValidationResult, stored_precision,
};
use crate::{CoreError, StoreError, ValidationRequest, ids, status};

/// What a validation records its result against.
struct ValidationJob {
    challenge_id: String,
    authorization_id: String,
    /// How long a claim keeps the challenge `processing` if this instance dies.
    lease: time::Duration,
    /// When the validation, if still running, claims the challenge (see
    /// [`Ca::run_validation`]).
    claim_by: tokio::time::Instant,
    subject: ValidationSubject,
}

/// Who a running validation is for: what the domain validation record needs besides the
/// request.
struct ValidationSubject {
    account_id: String,
    customer_id: Option<String>,
    wildcard: bool,
}

/// What a validation task reports once its first write committed.
enum Started {
    /// Another validation decides, or decided, this challenge.
    Lost,
    /// This one claimed the challenge (it was slow) and goes on.
    Claimed,
    /// This one recorded its result without a claim: what it recorded (boxed: it is large,
    /// and the other answers are empty).
    Recorded(Box<ValidationResult>),
}

impl Ca {
    /// A challenge (§7.5.1, read without responding to it) with its authorization, for
    /// `reader`. Once the authorization is decided only the challenge that decided it is
    /// shown (§7.1.4), so the others are reported missing.
    pub async fn challenge(
        &self,
        reader: super::Reader<'_>,
        authorization_id: &str,
        challenge_id: &str,
    ) -> Result<(Challenge, AuthorizationView), CoreError> {
        let view = self.authorization(reader, authorization_id).await?;
        let challenge = view
            .authorization
            .challenges
            .iter()
            .find(|c| c.id == challenge_id)
            .cloned()
            .ok_or_else(|| not_found("challenge"))?;
        Ok((challenge, view))
    }

    /// RFC 8555 §7.5.1: the client says it is ready. The validation runs as a background task
    /// that records its result, or first moves the challenge to `processing` when it is slow
    /// (one winner across instances, see [`Ca::run_validation`]). The response shows the
    /// challenge as it is after the validation's head start
    /// ([`CaConfig::validation_head_start`](super::CaConfig)): final if the validation finished
    /// by then, `processing` otherwise. Repeating the request is harmless.
    pub async fn respond_challenge(
        &self,
        account: &Account,
        authorization_id: &str,
        challenge_id: &str,
    ) -> Result<(Challenge, AuthorizationView), CoreError> {
        let head_start = self.inner.config.validation_head_start;
        let received = tokio::time::Instant::now();
        let answer_by = received + head_start;
        let (challenge, view) = self
            .challenge(
                super::Reader::Account(account),
                authorization_id,
                challenge_id,
            )
            .await?;
        if view.status != AuthorizationStatus::Pending
            || challenge.status != ChallengeStatus::Pending
        {
            // Nothing to start: a finished or running validation is reported as it stands.
            return Ok((challenge, view));
        }
        let request = ValidationRequest {
            domain: view.authorization.identifier.value.clone(),
            kind: challenge.kind,
            token: challenge.token.clone(),
            key_authorization: format!("{}.{}", challenge.token, account.thumbprint),
        };
        let job = ValidationJob {
            challenge_id: challenge.id.clone(),
            authorization_id: view.authorization.id.clone(),
            lease: self.inner.config.validation_lease,
            // Half the head start after the request arrived: a slow validation's claim
            // commits, and the response can show `processing`, before the head start is over
            // (unless the commit itself takes the other half).
            claim_by: received + head_start / 2,
            subject: ValidationSubject {
                account_id: account.id.clone(),
                customer_id: account.customer_id.clone(),
                wildcard: view.authorization.wildcard,
            },
        };
        // The task, not this request, owns the validation from here: a client that hangs up
        // does not cancel it. It tells this request once its first write committed.
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let ca = self.clone();
        let task =
            async move { ca.run_validation(request, job, started_tx).await }.in_current_span();
        let validation = match &self.inner.config.validation_runtime {
            Some(runtime) => runtime.spawn(task),
            None => tokio::spawn(task),
        };
        match started_rx.await {
            // The usual case: the validation finished and its result was recorded. The
            // response shows what was recorded, without reading it back.
            Ok(Ok(Started::Recorded(result))) => {
                return recorded_view(view.authorization, &result, self.now());
            }
            Ok(Ok(Started::Claimed)) => {
                // §7.5.1: the server answers with the challenge as it stands, "processing"
                // while the validation runs. A validation on a healthy network takes a few
                // milliseconds, so it gets a short head start: when it finishes within the
                // head start, this response (and the client's next poll) already shows the
                // final status, instead of a `processing` that makes the client sleep a whole
                // `Retry-After`. A slower validation keeps running in the background (dropping
                // the handle detaches it).
                let _finished_or_timed_out = tokio::time::timeout_at(answer_by, validation).await;
            }
            // Another request or instance runs (or ran) this validation.
            Ok(Ok(Started::Lost)) => {}
            Ok(Err(e)) => return Err(e.into()),
            // The task ended before its first write said how it went: its runtime is shutting
            // down, or it panicked. The challenge is still `pending`, or, if it was claimed,
            // `processing` until its lease runs out; the client should ask again rather than
            // see a `pending` that never moves.
            Err(_) => {
                return Err(CoreError::Internal(format!(
                    "the validation task of challenge {challenge_id} ended before it could record anything (its runtime is shutting down, or it panicked)"
                )));
            }
        }
        self.challenge(
            super::Reader::Account(account),
            authorization_id,
            challenge_id,
        )
        .await
    }

    /// Validates the challenge and records the result, reporting on `started` once its first
    /// write committed (see [`Started`]).
    ///
    /// - A validation that finishes by `claim_by` (the usual case: a few milliseconds)
    ///   records its result in one write that is also its claim: it applies only while the
    ///   challenge and its authorization are still `pending`, so of concurrent validations of
    ///   one challenge (on any instance) exactly one result counts.
    /// - A slower one then claims the challenge (`pending` → `processing` with a lease, one
    ///   winner across instances) while it goes on, so that polls and other instances see it
    ///   running, and records its result under that lease. A loser's validation is dropped as
    ///   soon as the claim is lost.
    ///
    /// Concurrent POSTs of one challenge may each fetch the customer's resource once (bounded
    /// by the validation slots); only one result is recorded. Claiming only slow validations
    /// saves the writer a durable commit per challenge; the client saved only the time by which
    /// the claim's commit outlasted the validation it overlapped.
    async fn run_validation(
        &self,
        request: ValidationRequest,
        job: ValidationJob,
        started: tokio::sync::oneshot::Sender<Result<Started, StoreError>>,
    ) {
        let ValidationJob {
            challenge_id,
            authorization_id,
            lease,
            claim_by,
            subject,
        } = job;
        // RFC 8659 / BR §3.2.2.8: CAA is checked with every validation, so a refusal reaches
        // the client before it finalizes (finalize checks again when this is stale). The
        // lookups run alongside the validation: neither depends on the other. A failed
        // validation discards the CAA answer.
        let caa_request = self.caa_request(
            &request.domain,
            subject.wildcard,
            &subject.account_id,
            Some(request.kind),
        );
        let owner = subject
            .customer_id
            .clone()
            .unwrap_or_else(|| subject.account_id.clone());
        let account_id = subject.account_id.clone();
        let customer_id = subject.customer_id.clone();
        let validation = async {
            // Outbound validations (HTTP, DNS, TLS to addresses customers choose) are bounded
            // per instance, and within that per account and per customer (the account itself
            // without one), taken in that order so a validation waiting on its owner's share
            // holds none of the instance's; more wait for a slot (their challenges `pending`
            // until `claim_by`, then `processing`).
            let _account = self.inner.account_slots.acquire(&account_id).await;
            let _customer = self.inner.customer_slots.acquire(&owner).await;
            // (The semaphore is never closed, so acquiring cannot fail.)
            let _slot = self.inner.validation_slots.acquire().await.ok();
            let began = std::time::Instant::now();
            let (outcome, caa) = tokio::join!(
                self.inner.validator.validate(&request),
                self.inner.validator.check_caa(&caa_request)
            );
            (outcome, caa, began.elapsed())
        };
        let mut validation = std::pin::pin!(validation);
        let quick = if claim_by <= tokio::time::Instant::now() {
            None
        } else {
            tokio::time::timeout_at(claim_by, &mut validation)
                .await
                .ok()
        };
        let (lease_until, (outcome, caa, took), started) = match quick {
            Some(finished) => (None, finished, Some(started)),
            None => {
                // Slow: claim while the validation goes on (the client waits for the slower of
                // the two, not their sum).
                let lease_until = self.now() + lease;
                let mut finished = None;
                let claimed = {
                    let mut claim = std::pin::pin!(
                        self.inner
                            .store
                            .start_validation(&challenge_id, lease_until)
                    );
                    loop {
                        tokio::select! {
                            claimed = &mut claim => break claimed,
                            outcome = &mut validation, if finished.is_none() => finished = Some(outcome),
                        }
                    }
                };
                let won = matches!(claimed, Ok(true));
                let _receiver_gone = started
                    .send(claimed.map(|won| if won { Started::Claimed } else { Started::Lost }));
                if !won {
                    return;
                }
                let finished = match finished {
                    Some(finished) => finished,
                    None => validation.await,
                };
                (Some(lease_until), finished, None)
            }
        };
        let outcome = match outcome {
            Ok(record) => match self.caa_after_validation(record, caa) {
                (record, None) => Ok(record),
                (record, Some(refusal)) => Err((refusal, record)),
            },
            Err(failure) => Err(failure),
        };
        self.inner.metrics.validation(
            request.kind.as_str(),
            match &outcome {
                Ok(_) => "valid",
                Err((problem, _)) => problem.kind.name(),
            },
            took,
        );
        let (outcome, record) = match outcome {
            Ok(record) => {
                info!(domain = %request.domain, method = %request.kind, "validation succeeded");
                // As the store keeps it: the response may show this result without reading
                // it back.
                (Ok(stored_precision(self.now())), record)
            }
            Err((problem, record)) => {
                info!(domain = %request.domain, method = %request.kind, problem = %problem, "validation failed");
                (Err(problem), record)
            }
        };
        // BR §4.2.1: a success is kept for the customer, with its evidence, so later orders
        // may reuse it inside the window.
        let domain_validation = outcome.as_ref().ok().map(|&validated_at| DomainValidation {
            id: ids::random_id(),
            customer_id: subject.customer_id,
            account_id: subject.account_id,
            domain: request.domain.clone(),
            wildcard: subject.wildcard,
            method: request.kind,
            validated_at,
            reuse_until: self.inner.config.reuse.reusable_until(validated_at),
            authorization_id: authorization_id.clone(),
            record: record.clone(),
        });
        let result = ValidationResult {
            challenge_id,
            authorization_id,
            lease_until,
            outcome,
            record,
            domain_validation,
        };
        let failed = result.outcome.is_err();
        let recorded = self.inner.store.finish_validation(&result).await;
        // Counted before the client hears of the failure, so a newOrder it sends right after
        // already sees it: newOrder refuses the name once its failures fill
        // `failed_validations_per_account_and_name`.
        if failed && matches!(recorded, Ok(true)) {
            self.count_failed_validation(&account_id, customer_id.as_deref(), &request.domain)
                .await;
        }
        if let Err(e) = &recorded {
            // Claimed: the lease will expire and the reaper hands the challenge back to
            // pending. Unclaimed: it is still pending, and the client hears of the error.
            warn!(error = %e, "could not record validation result");
        }
        if let Some(started) = started {
            let _receiver_gone = started.send(recorded.map(|applied| {
                if applied {
                    Started::Recorded(Box::new(result))
                } else {
                    Started::Lost
                }
            }));
        }
    }
}

/// The challenge and its authorization as the store holds them once `result` applied to
/// `authorization` as it was read before the validation (challenge and authorization
/// `pending`): what `Store::finish_validation` writes, applied in memory, so the challenge
/// response needs no second read. Test: `acme_prompt_validation`, the response equals a
/// later read.
fn recorded_view(
    mut authorization: Authorization,
    result: &ValidationResult,
    now: time::OffsetDateTime,
) -> Result<(Challenge, AuthorizationView), CoreError> {
    let (challenge_status, authorization_status) = match &result.outcome {
        Ok(_) => (ChallengeStatus::Valid, AuthorizationStatus::Valid),
        Err(_) => (ChallengeStatus::Invalid, AuthorizationStatus::Invalid),
    };
    let recorded = authorization
        .challenges
        .iter_mut()
        .find(|c| c.id == result.challenge_id)
        .ok_or_else(|| not_found("challenge"))?;
    recorded.status = challenge_status;
    recorded.validated = result.outcome.as_ref().ok().copied();
    recorded.error = result.outcome.as_ref().err().cloned();
    // A JSON null is stored as SQL NULL, which reads back as no record.
    recorded.record = Some(result.record.clone()).filter(|r| !r.is_null());
    recorded.lease_until = None;
    let challenge = recorded.clone();
    authorization.status = authorization_status;
    // A success is kept for reuse, and the authorization expires with the reuse window.
    if let (Ok(_), Some(v)) = (&result.outcome, &result.domain_validation) {
        authorization.expires = v.reuse_until;
    }
    let status = status::authorization_status(&authorization, now);
    let challenges = status::shown_challenges(&authorization);
    Ok((
        challenge,
        AuthorizationView {
            authorization: Authorization {
                challenges,
                ..authorization
            },
            status,
        },
    ))
}
