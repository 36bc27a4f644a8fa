//! Responding to challenges and running validations (RFC 8555 §7.5.1, §8).

use ferrite_proto::{AuthorizationStatus, ChallengeStatus};
use tracing::{Instrument, info, warn};

use super::Ca;
use super::orders::{AuthorizationView, not_found};
use crate::model::{Account, Challenge, DomainValidation, ValidationResult};
use crate::{CoreError, StoreError, ValidationRequest, ids};

/// What a validation records its result against.
struct ValidationJob {
    challenge_id: String,
    authorization_id: String,
    /// The claim's lease: how long the challenge stays `processing` if this instance dies.
    lease_until: time::OffsetDateTime,
    subject: ValidationSubject,
}

/// Who a running validation is for: what the domain validation record needs besides the
/// request.
struct ValidationSubject {
    account_id: String,
    customer_id: Option<String>,
    wildcard: bool,
}

/// Most validations one instance runs at once. Each is one outbound connection or a few DNS
/// queries with a timeout; the bound keeps a burst of orders (100 names each) from opening
/// thousands of connections.
static VALIDATION_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(256);

impl Ca {
    /// RFC 8555 §7.5.1: the client says it is ready. The challenge moves to `processing` (one
    /// winner across instances), the validation runs as a background task, and the response
    /// shows the challenge as it is after the validation's head start
    /// ([`CaConfig::validation_head_start`](super::CaConfig)): final if the validation finished
    /// by then, `processing` otherwise. Repeating the request is harmless.
    pub async fn respond_challenge(
        &self,
        account: &Account,
        authorization_id: &str,
        challenge_id: &str,
    ) -> Result<(Challenge, AuthorizationView), CoreError> {
        let view = self.authorization(account, authorization_id).await?;
        let challenge = view
            .authorization
            .challenges
            .iter()
            .find(|c| c.id == challenge_id)
            .cloned()
            .ok_or_else(|| not_found("challenge"))?;
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
            lease_until: self.now() + self.inner.config.validation_lease,
            subject: ValidationSubject {
                account_id: account.id.clone(),
                customer_id: account.customer_id.clone(),
                wildcard: view.authorization.wildcard,
            },
        };
        // The task, not this request, owns the validation from here: a client that hangs up
        // does not cancel it. It tells this request whether it won the challenge.
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let ca = self.clone();
        let task =
            async move { ca.run_validation(request, job, started_tx).await }.in_current_span();
        let validation = match &self.inner.config.validation_runtime {
            Some(runtime) => runtime.spawn(task),
            None => tokio::spawn(task),
        };
        match started_rx.await {
            Ok(Ok(true)) => {
                // §7.5.1: the server answers with the challenge as it stands, "processing"
                // while the validation runs. A validation on a healthy network takes a few
                // milliseconds, so it gets a short head start: when it finishes within the
                // head start, this response (and the client's next poll) already shows the
                // final status, instead of a `processing` that makes the client sleep a whole
                // `Retry-After`. A slower validation keeps running in the background (dropping
                // the handle detaches it).
                let head_start = self.inner.config.validation_head_start;
                if !head_start.is_zero() {
                    let _finished_or_timed_out = tokio::time::timeout(head_start, validation).await;
                }
            }
            // Another request or instance runs (or ran) this validation.
            Ok(Ok(false)) => {}
            Ok(Err(e)) => return Err(e.into()),
            // The task ended without saying whether it claimed the challenge: its runtime is
            // shutting down, or it panicked. The challenge may be `processing` until its lease
            // runs out; the client should ask again rather than see a `pending` that never
            // moves.
            Err(_) => {
                return Err(CoreError::Internal(format!(
                    "the validation task of challenge {challenge_id} ended before it could claim the challenge (its runtime is shutting down, or it panicked)"
                )));
            }
        }
        let view = self.authorization(account, authorization_id).await?;
        let challenge = view
            .authorization
            .challenges
            .iter()
            .find(|c| c.id == challenge_id)
            .cloned()
            .ok_or_else(|| not_found("challenge"))?;
        Ok((challenge, view))
    }

    /// Claims the challenge (`pending` → `processing` with a lease, one winner across
    /// instances) and validates it, reporting the claim on `started` as soon as it is known.
    ///
    /// The claim's durable write and the validation's network round trips run at the same
    /// time: the client waits for the slower of the two instead of their sum. The result is
    /// recorded only by the winner, after its claim committed; a loser's validation is
    /// dropped as soon as the claim is lost (at worst its outbound request was already sent,
    /// which concurrent POSTs of one challenge may cause, bounded by the validation slots).
    async fn run_validation(
        &self,
        request: ValidationRequest,
        job: ValidationJob,
        started: tokio::sync::oneshot::Sender<Result<bool, StoreError>>,
    ) {
        let ValidationJob {
            challenge_id,
            authorization_id,
            lease_until,
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
        let validation = async {
            // Outbound validations (HTTP, DNS, TLS to addresses customers choose) are bounded
            // per instance; more wait for a slot while their challenges stay `processing`.
            // (The semaphore is never closed, so acquiring cannot fail.)
            let _slot = VALIDATION_SLOTS.acquire().await.ok();
            tokio::join!(
                self.inner.validator.validate(&request),
                self.inner.validator.check_caa(&caa_request)
            )
        };
        let mut validation = std::pin::pin!(validation);
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
        let _receiver_gone = started.send(claimed);
        if !won {
            return;
        }
        let (outcome, caa) = match finished {
            Some(outcome) => outcome,
            None => validation.await,
        };
        let outcome = match outcome {
            Ok(record) => match self.caa_after_validation(record, caa) {
                (record, None) => Ok(record),
                (record, Some(refusal)) => Err((refusal, record)),
            },
            Err(failure) => Err(failure),
        };
        let (outcome, record) = match outcome {
            Ok(record) => {
                info!(domain = %request.domain, method = %request.kind, "validation succeeded");
                (Ok(self.now()), record)
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
        if let Err(e) = self.inner.store.finish_validation(&result).await {
            // The lease will expire and the reaper hands the challenge back to pending.
            warn!(error = %e, "could not record validation result");
        }
    }
}
