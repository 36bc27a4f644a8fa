//! Problem documents (RFC 7807 as profiled by RFC 8555 §6.7).

use serde::{Deserialize, Serialize};

use crate::Identifier;

/// The ACME error types of RFC 8555 §6.7 (and RFC 8555's registry), each serialized as
/// `urn:ietf:params:acme:error:<name>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProblemType {
    /// The request specified an account that does not exist.
    AccountDoesNotExist,
    /// The request specified a certificate to be revoked that has already been revoked.
    AlreadyRevoked,
    /// The newOrder's `replaces` names a certificate another order already replaces (RFC 9773
    /// §5).
    AlreadyReplaced,
    /// The CSR is unacceptable (e.g., due to a short key).
    BadCsr,
    /// The client sent an unacceptable anti-replay nonce.
    BadNonce,
    /// The JWS was signed by a public key the server does not support.
    BadPublicKey,
    /// The revocation reason provided is not allowed by the server.
    BadRevocationReason,
    /// The JWS was signed with an algorithm the server does not support.
    BadSignatureAlgorithm,
    /// CAA records forbid the CA from issuing a certificate.
    Caa,
    /// Specific error conditions are indicated in the "subproblems" array.
    Compound,
    /// The server could not connect to the validation target.
    Connection,
    /// There was a problem with a DNS query during identifier validation.
    Dns,
    /// The request must include a value for the "externalAccountBinding" field.
    ExternalAccountRequired,
    /// Response received didn't match the challenge's requirements.
    IncorrectResponse,
    /// A contact URL for an account was invalid.
    InvalidContact,
    /// The newOrder names a profile the server does not offer, or not to this account
    /// (draft-ietf-acme-profiles §5).
    InvalidProfile,
    /// The request message was malformed.
    Malformed,
    /// The request attempted to finalize an order that is not ready to be finalized.
    OrderNotReady,
    /// The request exceeds a rate limit.
    RateLimited,
    /// The server will not issue certificates for the identifier.
    RejectedIdentifier,
    /// The server experienced an internal error.
    ServerInternal,
    /// The server received a TLS error during validation.
    Tls,
    /// The client lacks sufficient authorization.
    Unauthorized,
    /// A contact URL for an account used an unsupported protocol scheme.
    UnsupportedContact,
    /// An identifier is of an unsupported type.
    UnsupportedIdentifier,
    /// Visit the "instance" URL and take actions specified there.
    UserActionRequired,
}

impl ProblemType {
    const ALL: [(Self, &'static str); 26] = [
        (Self::AccountDoesNotExist, "accountDoesNotExist"),
        (Self::AlreadyRevoked, "alreadyRevoked"),
        (Self::AlreadyReplaced, "alreadyReplaced"),
        (Self::BadCsr, "badCSR"),
        (Self::BadNonce, "badNonce"),
        (Self::BadPublicKey, "badPublicKey"),
        (Self::BadRevocationReason, "badRevocationReason"),
        (Self::BadSignatureAlgorithm, "badSignatureAlgorithm"),
        (Self::Caa, "caa"),
        (Self::Compound, "compound"),
        (Self::Connection, "connection"),
        (Self::Dns, "dns"),
        (Self::ExternalAccountRequired, "externalAccountRequired"),
        (Self::IncorrectResponse, "incorrectResponse"),
        (Self::InvalidContact, "invalidContact"),
        (Self::InvalidProfile, "invalidProfile"),
        (Self::Malformed, "malformed"),
        (Self::OrderNotReady, "orderNotReady"),
        (Self::RateLimited, "rateLimited"),
        (Self::RejectedIdentifier, "rejectedIdentifier"),
        (Self::ServerInternal, "serverInternal"),
        (Self::Tls, "tls"),
        (Self::Unauthorized, "unauthorized"),
        (Self::UnsupportedContact, "unsupportedContact"),
        (Self::UnsupportedIdentifier, "unsupportedIdentifier"),
        (Self::UserActionRequired, "userActionRequired"),
    ];

    /// The short name, e.g. `badNonce`.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(t, _)| *t == self)
            .map_or("serverInternal", |(_, n)| n)
    }

    /// The full URN, e.g. `urn:ietf:params:acme:error:badNonce`.
    pub fn urn(self) -> String {
        format!("urn:ietf:params:acme:error:{}", self.name())
    }

    /// Parses a full URN.
    pub fn from_urn(urn: &str) -> Option<Self> {
        let name = urn.strip_prefix("urn:ietf:params:acme:error:")?;
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(t, _)| *t)
    }

    /// The HTTP status a problem of this type is returned with (RFC 8555 §6.7 and common practice
    /// of Boulder and Pebble).
    pub fn http_status(self) -> u16 {
        match self {
            Self::Unauthorized => 403,
            Self::AccountDoesNotExist | Self::Caa | Self::RejectedIdentifier => 400,
            Self::OrderNotReady => 403,
            // RFC 9773 §5: "it MUST return an HTTP 409 (Conflict)".
            Self::AlreadyReplaced => 409,
            Self::RateLimited => 429,
            Self::ServerInternal => 500,
            Self::UserActionRequired => 403,
            Self::Connection | Self::Dns | Self::IncorrectResponse | Self::Tls | Self::Compound => {
                400
            }
            _ => 400,
        }
    }
}

impl Serialize for ProblemType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.urn())
    }
}

impl<'de> Deserialize<'de> for ProblemType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::from_urn(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown problem type {s}")))
    }
}

/// A problem document (`application/problem+json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The ACME error type.
    #[serde(rename = "type")]
    pub kind: ProblemType,
    /// What went wrong and what to do about it, for a person.
    pub detail: String,
    /// The HTTP status code (RFC 7807 §3.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The identifier this problem is about (in subproblems, RFC 8555 §6.7.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identifier: Option<Identifier>,
    /// Per-identifier problems (RFC 8555 §6.7.1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subproblems: Vec<Problem>,
    /// For `badSignatureAlgorithm`: the algorithms the server accepts (RFC 8555 §6.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithms: Option<Vec<String>>,
    /// The request id, so a customer can quote it to the operator (Ferrite extension).
    #[serde(rename = "requestId", default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl Problem {
    /// A problem of `kind` with `detail` and the type's HTTP status.
    pub fn new(kind: ProblemType, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            status: Some(kind.http_status()),
            identifier: None,
            subproblems: Vec::new(),
            algorithms: None,
            request_id: None,
        }
    }

    /// Shorthand for a `malformed` problem.
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(ProblemType::Malformed, detail)
    }

    /// Shorthand for a `serverInternal` problem. The detail must not leak internals: say what the
    /// client can do (retry, quote the request id).
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(ProblemType::ServerInternal, detail)
    }

    /// Sets the identifier the problem is about.
    pub fn with_identifier(mut self, identifier: Identifier) -> Self {
        self.identifier = Some(identifier);
        self
    }

    /// The HTTP status to answer with.
    pub fn http_status(&self) -> u16 {
        self.status.unwrap_or_else(|| self.kind.http_status())
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urn_round_trip_for_every_type() {
        for (t, name) in ProblemType::ALL {
            assert_eq!(t.name(), name);
            assert_eq!(ProblemType::from_urn(&t.urn()), Some(t));
        }
        assert_eq!(
            ProblemType::from_urn("urn:ietf:params:acme:error:nope"),
            None
        );
    }

    #[test]
    fn problem_json_shape() {
        let p = Problem::new(ProblemType::BadNonce, "stale nonce");
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type":"urn:ietf:params:acme:error:badNonce","detail":"stale nonce","status":400})
        );
        assert_eq!(
            Problem::new(ProblemType::Unauthorized, "x").http_status(),
            403
        );
        assert_eq!(
            Problem::new(ProblemType::RateLimited, "x").http_status(),
            429
        );
    }
}
