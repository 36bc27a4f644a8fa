//! What the primary and a remote perspective say to each other.
//!
//! The primary POSTs a [`PerspectiveRequest`] as JSON to `{url}/mpic/v1/check` over mutual
//! TLS. The agent answers with a [`SignedResult`]: the JSON of a [`PerspectiveResult`] and an
//! ECDSA P-256 signature over exactly those bytes by the agent's key, the key of the
//! certificate the primary holds for it. The result names the request id and the SHA-256 of
//! the request's bytes, so it is bound to that request (challenge token, identifier, method,
//! key authorization, expiry): a result cannot be moved to another request, and a forged one
//! fails the signature check.

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrite_proto::{ChallengeType, Problem};
use serde::{Deserialize, Serialize};
use x509_parser::prelude::{FromDer, X509Certificate};

/// The path an agent serves checks on.
pub const CHECK_PATH: &str = "/mpic/v1/check";

/// Longest a request may be valid for: an agent remembers request ids until they expire, so
/// this bounds that memory.
pub const MAX_REQUEST_LIFETIME_SECS: u64 = 600;

/// Which check a perspective performs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "kebab-case")]
pub enum Check {
    /// A challenge (RFC 8555 §8): http-01, dns-01 or tls-alpn-01.
    Validation {
        /// The challenge type.
        method: ChallengeType,
        /// The challenge token.
        token: String,
        /// The key authorization the customer's server must present (the expected value).
        key_authorization: String,
    },
    /// A CAA check (RFC 8659, RFC 8657).
    Caa {
        /// `issuewild` records apply.
        wildcard: bool,
        /// The account URL (`accounturi`).
        account_uri: String,
        /// The validation method (`validationmethods`), if known.
        method: Option<ChallengeType>,
        /// The CA's issuer domain names.
        issuer_domains: Vec<String>,
    },
}

/// One request from the primary to a remote perspective.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerspectiveRequest {
    /// Random, unique per request and perspective: an agent refuses an id it has seen (a
    /// replayed request).
    pub request_id: String,
    /// The DNS name checked (without `*.`).
    pub identifier: String,
    /// What to check.
    #[serde(flatten)]
    pub check: Check,
    /// Seconds since the Unix epoch after which the agent refuses the request.
    pub expires: u64,
}

/// What a perspective saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The check passed: the challenge was answered, or CAA allows issuance.
    Pass,
    /// The check failed; `problem` says how.
    Fail,
}

/// A remote perspective's answer, signed by it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PerspectiveResult {
    /// The request answered.
    pub request_id: String,
    /// base64url(SHA-256(request bytes as received)): binds the result to that request.
    pub request_sha256: String,
    /// The perspective's id, as enrolled.
    pub perspective: String,
    /// Its region, as enrolled.
    pub region: String,
    /// Pass or fail.
    pub outcome: Outcome,
    /// Why it failed (`None` on a pass).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
    /// The evidence: the validation record (addresses resolved and used, URLs, DNS answers)
    /// or the CAA check (where the records were found, which).
    pub evidence: serde_json::Value,
    /// Seconds since the Unix epoch when the check finished.
    pub checked_at: u64,
}

/// A [`PerspectiveResult`] as sent: its JSON and the agent's signature over it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedResult {
    /// base64url of the result's JSON.
    pub payload: String,
    /// base64url of the ECDSA P-256 SHA-256 signature (ASN.1 DER) over the JSON bytes.
    pub signature: String,
}

/// base64url(SHA-256(`bytes`)), as [`PerspectiveResult::request_sha256`] carries it.
pub fn request_digest(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, bytes))
}

/// Why a result was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResultError {
    /// Not the JSON or base64url a result is sent as.
    #[error("the result is not well formed: {0}")]
    Malformed(String),
    /// The signature does not verify with the perspective's enrolled certificate: forged, or
    /// signed by another key.
    #[error(
        "the result's signature does not verify with the perspective's enrolled certificate (forged, or the agent runs with another bundle)"
    )]
    BadSignature,
    /// Signed correctly but for another request or perspective (a replayed result).
    #[error("the result answers another request or perspective: {0}")]
    NotBound(String),
}

/// Signs results with an agent's key (ECDSA P-256). `Debug` shows no key material.
pub struct ResultSigner {
    key: EcdsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for ResultSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResultSigner([redacted])")
    }
}

impl ResultSigner {
    /// The signer for a PKCS#8 (DER) ECDSA P-256 key.
    pub fn from_pkcs8(der: &[u8]) -> Result<ResultSigner, String> {
        let key = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, der)
            .map_err(|e| format!("not an ECDSA P-256 PKCS#8 key: {e}"))?;
        Ok(ResultSigner {
            key,
            rng: SystemRandom::new(),
        })
    }

    /// The public key (uncompressed point), for comparing with a certificate.
    pub fn public_key(&self) -> &[u8] {
        self.key.public_key().as_ref()
    }

    /// `result` serialized and signed.
    pub fn sign(&self, result: &PerspectiveResult) -> Result<SignedResult, String> {
        let json = serde_json::to_vec(result).map_err(|e| e.to_string())?;
        let sig = self
            .key
            .sign(&self.rng, &json)
            .map_err(|e| format!("signing failed: {e}"))?;
        Ok(SignedResult {
            payload: URL_SAFE_NO_PAD.encode(&json),
            signature: URL_SAFE_NO_PAD.encode(sig.as_ref()),
        })
    }
}

/// Verifies results with the public key of a perspective's enrolled certificate.
#[derive(Clone, Debug)]
pub struct ResultVerifier {
    public_key: Vec<u8>,
}

impl ResultVerifier {
    /// The verifier for the certificate (DER) enrolled for a perspective; its key must be
    /// ECDSA P-256.
    pub fn from_certificate(der: &[u8]) -> Result<ResultVerifier, String> {
        let (_, cert) =
            X509Certificate::from_der(der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
        let spki = &cert.tbs_certificate.subject_pki;
        let point = spki.subject_public_key.data.as_ref();
        if point.len() != 65 || point.first() != Some(&4) {
            return Err("the certificate's key is not an ECDSA P-256 key".to_owned());
        }
        Ok(ResultVerifier {
            public_key: point.to_vec(),
        })
    }

    /// The certificate's public key (uncompressed point).
    pub fn public_key(&self) -> &[u8] {
        &self.public_key
    }

    /// The result in `signed`, if its signature verifies and it answers `request_id`, whose
    /// bytes hash to `request_sha256`, from `perspective`.
    pub fn verify(
        &self,
        signed: &SignedResult,
        request_id: &str,
        request_sha256: &str,
        perspective: &str,
    ) -> Result<PerspectiveResult, ResultError> {
        let malformed = |what: &str| ResultError::Malformed(what.to_owned());
        let json = URL_SAFE_NO_PAD
            .decode(&signed.payload)
            .map_err(|_| malformed("payload is not base64url"))?;
        let sig = URL_SAFE_NO_PAD
            .decode(&signed.signature)
            .map_err(|_| malformed("signature is not base64url"))?;
        UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, &self.public_key)
            .verify(&json, &sig)
            .map_err(|_| ResultError::BadSignature)?;
        let result: PerspectiveResult = serde_json::from_slice(&json)
            .map_err(|e| ResultError::Malformed(format!("payload: {e}")))?;
        if result.request_id != request_id {
            return Err(ResultError::NotBound(format!(
                "request id {:?}, expected {request_id:?}",
                result.request_id
            )));
        }
        if result.request_sha256 != request_sha256 {
            return Err(ResultError::NotBound(
                "the request digest differs from the request sent".to_owned(),
            ));
        }
        if result.perspective != perspective {
            return Err(ResultError::NotBound(format!(
                "signed as perspective {:?}, expected {perspective:?}",
                result.perspective
            )));
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::EcdsaKeyPair;

    fn key() -> Vec<u8> {
        EcdsaKeyPair::generate_pkcs8(
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &SystemRandom::new(),
        )
        .unwrap()
        .as_ref()
        .to_vec()
    }

    fn verifier_for(signer: &ResultSigner) -> ResultVerifier {
        ResultVerifier {
            public_key: signer.public_key().to_vec(),
        }
    }

    fn request() -> (PerspectiveRequest, Vec<u8>) {
        let r = PerspectiveRequest {
            request_id: "r1".into(),
            identifier: "a.example".into(),
            check: Check::Validation {
                method: ChallengeType::Http01,
                token: "tok".into(),
                key_authorization: "tok.thumb".into(),
            },
            expires: 2_000_000_000,
        };
        let bytes = serde_json::to_vec(&r).unwrap();
        (r, bytes)
    }

    fn result(req: &PerspectiveRequest, bytes: &[u8]) -> PerspectiveResult {
        PerspectiveResult {
            request_id: req.request_id.clone(),
            request_sha256: request_digest(bytes),
            perspective: "p1".into(),
            region: "eu".into(),
            outcome: Outcome::Pass,
            problem: None,
            evidence: serde_json::json!({"addressUsed": "192.0.2.1"}),
            checked_at: 1,
        }
    }

    #[test]
    fn request_round_trips_with_the_check_flattened() {
        let (r, bytes) = request();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["check"], "validation");
        assert_eq!(v["method"], "http-01");
        assert_eq!(
            serde_json::from_slice::<PerspectiveRequest>(&bytes).unwrap(),
            r
        );
    }

    #[test]
    fn a_signed_result_verifies_and_is_bound_to_its_request() {
        let signer = ResultSigner::from_pkcs8(&key()).unwrap();
        let (req, bytes) = request();
        let signed = signer.sign(&result(&req, &bytes)).unwrap();
        let digest = request_digest(&bytes);
        let got = verifier_for(&signer)
            .verify(&signed, "r1", &digest, "p1")
            .unwrap();
        assert_eq!(got.outcome, Outcome::Pass);
        assert!(matches!(
            verifier_for(&signer).verify(&signed, "r2", &digest, "p1"),
            Err(ResultError::NotBound(_))
        ));
        assert!(matches!(
            verifier_for(&signer).verify(&signed, "r1", &request_digest(b"other"), "p1"),
            Err(ResultError::NotBound(_))
        ));
        assert!(matches!(
            verifier_for(&signer).verify(&signed, "r1", &digest, "p2"),
            Err(ResultError::NotBound(_))
        ));
    }

    #[test]
    fn another_key_or_an_altered_payload_is_refused() {
        let signer = ResultSigner::from_pkcs8(&key()).unwrap();
        let other = ResultSigner::from_pkcs8(&key()).unwrap();
        let (req, bytes) = request();
        let digest = request_digest(&bytes);
        let forged = other.sign(&result(&req, &bytes)).unwrap();
        assert_eq!(
            verifier_for(&signer).verify(&forged, "r1", &digest, "p1"),
            Err(ResultError::BadSignature)
        );
        let mut altered = signer.sign(&result(&req, &bytes)).unwrap();
        let mut fail = result(&req, &bytes);
        fail.outcome = Outcome::Fail;
        altered.payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&fail).unwrap());
        assert_eq!(
            verifier_for(&signer).verify(&altered, "r1", &digest, "p1"),
            Err(ResultError::BadSignature)
        );
    }

    #[test]
    fn signer_debug_shows_no_key() {
        let signer = ResultSigner::from_pkcs8(&key()).unwrap();
        assert_eq!(format!("{signer:?}"), "ResultSigner([redacted])");
    }
}
