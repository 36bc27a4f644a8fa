//! Responding to challenges and running validations (RFC 8555 §7.5.1, §8).

use ferrite_proto::{AuthorizationStatus, ChallengeStatus};
use tracing::{Instrument, info, warn};

use super::Ca;
use super::orders::{AuthorizationView, not_found};
use crate::model::{Account, Challenge, ValidationResult};
use crate::{CoreError, ValidationRequest};

impl Ca {
    /// RFC 8555 §7.5.1: the client says it is ready. The challenge moves to `processing` (one
    /// winner across instances), the validation runs as a background task, and the response
    /// shows the challenge as it is now. Repeating the request is harmless.
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
        let lease_until = self.now() + self.inner.config.validation_lease;
        if self
            .inner
            .store
            .start_validation(challenge_id, lease_until)
            .await?
        {
            let request = ValidationRequest {
                domain: view.authorization.identifier.value.clone(),
                kind: challenge.kind,
                token: challenge.token.clone(),
                key_authorization: format!("{}.{}", challenge.token, account.thumbprint),
            };
            let ca = self.clone();
            let result_ids = (challenge.id.clone(), view.authorization.id.clone());
            tokio::spawn(
                async move { ca.run_validation(request, result_ids.0, result_ids.1).await }
                    .in_current_span(),
            );
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

    async fn run_validation(
        &self,
        request: ValidationRequest,
        challenge_id: String,
        authorization_id: String,
    ) {
        let outcome = self.inner.validator.validate(&request).await;
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
        let result = ValidationResult {
            challenge_id,
            authorization_id,
            outcome,
            record,
        };
        if let Err(e) = self.inner.store.finish_validation(&result).await {
            // The lease will expire and the reaper hands the challenge back to pending.
            warn!(error = %e, "could not record validation result");
        }
    }
}
