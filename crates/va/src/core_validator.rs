//! `impl ferrite_core::Validator for Va`: the engine's view of this crate. Failures become RFC
//! 8555 problems of the matching type; the record goes along either way as evidence.

use async_trait::async_trait;
use ferrite_core::{CaaEvidence, CaaRequest, ValidationRequest, Validator};
use ferrite_proto::{ChallengeType, Problem, ProblemType};

use crate::{FailureKind, Va, ValidationFailure};

#[async_trait]
impl Validator for Va {
    async fn validate(
        &self,
        request: &ValidationRequest,
    ) -> Result<serde_json::Value, (Problem, serde_json::Value)> {
        let outcome = match request.kind {
            ChallengeType::Http01 => {
                self.http01(&request.domain, &request.token, &request.key_authorization)
                    .await
            }
            ChallengeType::Dns01 => {
                self.dns01(&request.domain, &request.key_authorization)
                    .await
            }
            ChallengeType::TlsAlpn01 => {
                self.tlsalpn01(&request.domain, &request.key_authorization)
                    .await
            }
        };
        match outcome {
            Ok(record) => Ok(serde_json::to_value(&record).unwrap_or_default()),
            Err(failure) => Err(to_problem(failure)),
        }
    }

    async fn check_caa(&self, request: &CaaRequest) -> Result<CaaEvidence, (Problem, CaaEvidence)> {
        crate::caa::check(&self.inner, request).await
    }
}

fn to_problem(failure: ValidationFailure) -> (Problem, serde_json::Value) {
    let kind = match failure.kind {
        FailureKind::Dns => ProblemType::Dns,
        FailureKind::Connection => ProblemType::Connection,
        FailureKind::IncorrectResponse => ProblemType::IncorrectResponse,
        FailureKind::Tls => ProblemType::Tls,
        FailureKind::Unauthorized => ProblemType::Unauthorized,
    };
    let record = serde_json::to_value(&failure.record).unwrap_or_default();
    (Problem::new(kind, failure.detail), record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ValidationRecord;

    #[test]
    fn failure_kinds_map_to_problem_types() {
        for (kind, want) in [
            (FailureKind::Dns, ProblemType::Dns),
            (FailureKind::Connection, ProblemType::Connection),
            (
                FailureKind::IncorrectResponse,
                ProblemType::IncorrectResponse,
            ),
            (FailureKind::Tls, ProblemType::Tls),
            (FailureKind::Unauthorized, ProblemType::Unauthorized),
        ] {
            let (p, _) = to_problem(ValidationFailure {
                kind,
                detail: "d".into(),
                record: ValidationRecord::default(),
            });
            assert_eq!(p.kind, want);
            assert_eq!(p.kind.urn(), kind.problem_type());
        }
    }
}
