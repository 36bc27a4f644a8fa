//! The `Validator` trait: proves control of an identifier over the network and asks DNS whether
//! this CA may issue for it (CAA). `ferrite-va` implements it; the engine only decides when to
//! call it and records the result.

use async_trait::async_trait;
use ferrite_proto::{ChallengeType, Problem};
use serde::{Deserialize, Serialize};

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

/// One CAA check to perform (RFC 8659, with the RFC 8657 parameters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaaRequest {
    /// The name the certificate will carry, without `*.`.
    pub domain: String,
    /// The certificate will carry `*.{domain}`: `issuewild` records apply (RFC 8659 §4.3).
    pub wildcard: bool,
    /// The account URL, compared with an `accounturi` parameter (RFC 8657 §3).
    pub account_uri: String,
    /// The validation method used, compared with a `validationmethods` parameter (RFC 8657
    /// §4). `None` when the method is not known: a record with `validationmethods` then does
    /// not authorize this CA.
    pub method: Option<ChallengeType>,
    /// The issuer domain names this CA recognizes as its own (`caa_identities`, also shown as
    /// `meta.caaIdentities` in the directory).
    pub issuer_domains: Vec<String>,
}

/// What a CAA check saw: kept with the authorization as evidence, and its time decides
/// whether finalize must check again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaaEvidence {
    /// The name checked (without `*.`).
    pub domain: String,
    /// Whether `issuewild` applied.
    pub wildcard: bool,
    /// The account URL the check was made for (`accounturi` parameters compare with it).
    #[serde(default)]
    pub account_uri: String,
    /// The method the check was made for (`"dns-01"`, …), if known.
    pub method: Option<String>,
    /// The name where the relevant CAA RRset was found (the domain or a parent); `None` when
    /// no name up to the top-level domain has CAA records, which allows any CA.
    pub found_at: Option<String>,
    /// The relevant RRset in presentation form (`0 issue "ca.example; accounturi=…"`).
    pub records: Vec<String>,
    /// Multi-perspective corroboration of this check, when it was corroborated: the mode,
    /// the decision and every remote perspective's answer (`mpic::Corroboration` of the VA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mpic: Option<serde_json::Value>,
}

/// Performs validations and CAA checks.
#[async_trait]
pub trait Validator: Send + Sync + 'static {
    /// Validates; on success returns the evidence record, on failure a problem of type `dns`,
    /// `connection`, `incorrectResponse`, `tls` or `unauthorized` plus the evidence gathered.
    async fn validate(
        &self,
        request: &ValidationRequest,
    ) -> Result<serde_json::Value, (Problem, serde_json::Value)>;

    /// RFC 8659: may this CA issue for `request.domain`? On refusal the problem is `caa`
    /// (naming the record and where it was found) or `dns` when the lookup failed (§5.3: a CA
    /// must not issue when it cannot tell), along with what was seen.
    async fn check_caa(&self, request: &CaaRequest) -> Result<CaaEvidence, (Problem, CaaEvidence)>;
}
