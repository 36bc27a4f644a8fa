//! The `Validator` trait: proves control of an identifier over the network. `ferrite-va`
//! implements it; the engine only decides when to call it and records the result.

use async_trait::async_trait;
use ferrite_proto::{ChallengeType, Problem};

/// One validation to perform (RFC 8555 §8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationRequest {
    /// The domain to validate (without `*.`).
    pub domain: String,
    /// Which challenge.
    pub kind: ChallengeType,
    /// The challenge token.
    pub token: String,
    /// The key authorization (§8.1): token || '.' || thumbprint of the account key.
    pub key_authorization: String,
}

/// Performs validations.
#[async_trait]
pub trait Validator: Send + Sync + 'static {
    /// Validates; on success returns the evidence record, on failure a problem of type `dns`,
    /// `connection`, `incorrectResponse`, `tls` or `unauthorized` plus the evidence gathered.
    async fn validate(
        &self,
        request: &ValidationRequest,
    ) -> Result<serde_json::Value, (Problem, serde_json::Value)>;
}
