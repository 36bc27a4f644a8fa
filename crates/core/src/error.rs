//! `CoreError`: why the engine refused or failed a request. Converted into an RFC 8555 problem
//! document in exactly one place ([`CoreError::to_problem`]); the errors of the layers below
//! (a JWS that does not verify, a CSR the policy refuses) become a `CoreError` here too, each
//! in one `From` impl, so every layer's errors map to problem types in this file.

use ferrite_jose::JoseError;
use ferrite_pki::CsrError;
use ferrite_proto::{Problem, ProblemType};

use crate::StoreError;
use crate::rate_limit::RateLimited;

/// Why the engine refused or failed a request.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The client's request breaks a rule; the problem says which and what to do. Client's
    /// fault.
    #[error("{0}")]
    Problem(Box<Problem>),
    /// The store failed. Operator's problem; the detail is logged, never shown.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// RFC 8555 §7.3.5: the new key of a key change already belongs to an account (409 with
    /// that account's URL in Location). Client's fault.
    #[error("key already in use by account {account_id}")]
    KeyInUse {
        /// The account that holds the key.
        account_id: String,
    },
    /// RFC 8555 §6.7 `rateLimited`: a rate limit ([`crate::rate_limit`]) refused the request.
    /// The client's doing (or its operator's limit): it retries after `Retry-After`, or asks
    /// the CA operator for a higher limit. Refused before the request's work is done.
    #[error("rate limited: {}", .0.detail())]
    RateLimited(Box<RateLimited>),
    /// Something that should not happen (a bug, a signing failure). Logged, never shown.
    #[error("internal: {0}")]
    Internal(String),
}

impl CoreError {
    /// A client-facing problem of `kind`.
    pub fn problem(kind: ProblemType, detail: impl Into<String>) -> Self {
        Self::Problem(Box::new(Problem::new(kind, detail)))
    }

    /// This error with `what` in front of a problem's detail ("invalid externalAccountBinding:
    /// …"), so a lower layer's message says where it applies. Other errors are unchanged.
    pub(crate) fn context(self, what: &str) -> Self {
        match self {
            Self::Problem(mut p) => {
                p.detail = format!("{what}: {}", p.detail);
                Self::Problem(p)
            }
            other => other,
        }
    }

    /// For a rate limit's refusal, the seconds the client should wait (`Retry-After`).
    pub fn retry_after_seconds(&self) -> Option<u64> {
        match self {
            Self::RateLimited(refusal) => Some(refusal.retry_after_seconds()),
            _ => None,
        }
    }

    /// The problem document to send. Store and internal errors become a generic
    /// `serverInternal` that reveals nothing but tells the client what to do.
    pub fn to_problem(&self) -> Problem {
        match self {
            Self::Problem(p) => (**p).clone(),
            // RFC 8555 §6.7: "rateLimited: The request exceeds a rate limit"; the server
            // renders `Retry-After` from `retry_after_seconds`.
            Self::RateLimited(refusal) => Problem::new(ProblemType::RateLimited, refusal.detail()),
            Self::Store(StoreError::Conflict(_)) => Problem::new(
                ProblemType::Malformed,
                "the request conflicts with a concurrent change; retry it",
            ),
            Self::KeyInUse { .. } => {
                let mut p = Problem::new(
                    ProblemType::Malformed,
                    "the new key is already used by another account (its URL is in the Location header); choose a different key",
                );
                p.status = Some(409);
                p
            }
            Self::Store(StoreError::Unavailable(_)) => {
                let mut p = Problem::internal(
                    "the CA's database is unavailable for a moment; retry after the number of seconds in Retry-After",
                );
                p.status = Some(503);
                p
            }
            Self::Store(_) | Self::Internal(_) => Problem::internal(
                "the CA could not complete the request; retry later and quote the request id to the operator if it persists",
            ),
        }
    }
}

impl From<Problem> for CoreError {
    fn from(p: Problem) -> Self {
        Self::Problem(Box::new(p))
    }
}

impl From<Box<Problem>> for CoreError {
    fn from(p: Box<Problem>) -> Self {
        Self::Problem(p)
    }
}

/// RFC 8555 §6.2, §6.7: a JWS or JWK the client sent. An algorithm the CA does not accept is
/// `badSignatureAlgorithm` listing the ones it does; a key it cannot use is `badPublicKey`;
/// a MAC that does not verify (EAB) is `unauthorized`; everything else the client got wrong is
/// `malformed`. A failure of the crypto library itself is internal.
impl From<JoseError> for CoreError {
    fn from(e: JoseError) -> Self {
        let kind = match &e {
            JoseError::BadSignatureAlgorithm { .. } | JoseError::AlgorithmKeyMismatch => {
                ProblemType::BadSignatureAlgorithm
            }
            JoseError::BadPublicKey { .. } => ProblemType::BadPublicKey,
            JoseError::EabBadSignature => ProblemType::Unauthorized,
            JoseError::Crypto { .. } => return Self::Internal(e.to_string()),
            _ => ProblemType::Malformed,
        };
        let mut problem = Problem::new(kind, e.to_string());
        if kind == ProblemType::BadSignatureAlgorithm {
            // RFC 8555 §6.2: badSignatureAlgorithm carries the supported algorithms.
            problem.algorithms = Some(
                ferrite_jose::ACCOUNT_KEY_ALGORITHMS
                    .iter()
                    .map(|a| a.name().to_owned())
                    .collect(),
            );
        }
        problem.into()
    }
}

/// RFC 8555 §7.4: a CSR the policy refuses is `badCSR`, or `badPublicKey` when the fault is
/// its key (weak, blocked, of a type or size not accepted).
impl From<CsrError> for CoreError {
    fn from(e: CsrError) -> Self {
        let kind = if e.is_bad_public_key() {
            ProblemType::BadPublicKey
        } else {
            ProblemType::BadCsr
        };
        Self::problem(kind, e.to_string())
    }
}
