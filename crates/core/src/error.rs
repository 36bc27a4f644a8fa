//! `CoreError`: why the engine refused or failed a request. Converted into an RFC 8555 problem
//! document in exactly one place ([`CoreError::to_problem`]).

use ferrite_proto::{Problem, ProblemType};

use crate::StoreError;

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
    /// Something that should not happen (a bug, a signing failure). Logged, never shown.
    #[error("internal: {0}")]
    Internal(String),
}

impl CoreError {
    /// A client-facing problem of `kind`.
    pub fn problem(kind: ProblemType, detail: impl Into<String>) -> Self {
        Self::Problem(Box::new(Problem::new(kind, detail)))
    }

    /// The problem document to send. Store and internal errors become a generic
    /// `serverInternal` that reveals nothing but tells the client what to do.
    pub fn to_problem(&self) -> Problem {
        match self {
            Self::Problem(p) => (**p).clone(),
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
