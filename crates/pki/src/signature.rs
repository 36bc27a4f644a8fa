//! [`SignatureAlgorithm`]: how a CSR is signed, and checking that signature with aws-lc-rs.

use std::fmt;

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use x509_parser::x509::AlgorithmIdentifier;

use crate::KeyKind;

/// A signature algorithm found in a CSR (RFC 4055, RFC 5758, RFC 8410 OIDs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    /// sha1WithRSAEncryption.
    RsaPkcs1Sha1,
    /// sha256WithRSAEncryption.
    RsaPkcs1Sha256,
    /// sha384WithRSAEncryption.
    RsaPkcs1Sha384,
    /// sha512WithRSAEncryption.
    RsaPkcs1Sha512,
    /// RSASSA-PSS, any parameters.
    RsaPss,
    /// ecdsa-with-SHA1.
    EcdsaSha1,
    /// ecdsa-with-SHA256.
    EcdsaSha256,
    /// ecdsa-with-SHA384.
    EcdsaSha384,
    /// ecdsa-with-SHA512.
    EcdsaSha512,
    /// Ed25519 (RFC 8410).
    Ed25519,
    /// Anything else, by dotted OID.
    Other(String),
}

impl SignatureAlgorithm {
    pub(crate) fn from_identifier(alg: &AlgorithmIdentifier<'_>) -> SignatureAlgorithm {
        let oid = alg.algorithm.to_id_string();
        match oid.as_str() {
            "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => SignatureAlgorithm::RsaPkcs1Sha1,
            "1.2.840.113549.1.1.11" => SignatureAlgorithm::RsaPkcs1Sha256,
            "1.2.840.113549.1.1.12" => SignatureAlgorithm::RsaPkcs1Sha384,
            "1.2.840.113549.1.1.13" => SignatureAlgorithm::RsaPkcs1Sha512,
            "1.2.840.113549.1.1.10" => SignatureAlgorithm::RsaPss,
            "1.2.840.10045.4.1" => SignatureAlgorithm::EcdsaSha1,
            "1.2.840.10045.4.3.2" => SignatureAlgorithm::EcdsaSha256,
            "1.2.840.10045.4.3.3" => SignatureAlgorithm::EcdsaSha384,
            "1.2.840.10045.4.3.4" => SignatureAlgorithm::EcdsaSha512,
            "1.3.101.112" => SignatureAlgorithm::Ed25519,
            _ => SignatureAlgorithm::Other(oid),
        }
    }

    /// A human name, for messages: "ECDSA with SHA-256", "RSA PKCS#1 v1.5 with SHA-1", ...
    pub fn name(&self) -> String {
        match self {
            SignatureAlgorithm::RsaPkcs1Sha1 => "RSA PKCS#1 v1.5 with SHA-1".into(),
            SignatureAlgorithm::RsaPkcs1Sha256 => "RSA PKCS#1 v1.5 with SHA-256".into(),
            SignatureAlgorithm::RsaPkcs1Sha384 => "RSA PKCS#1 v1.5 with SHA-384".into(),
            SignatureAlgorithm::RsaPkcs1Sha512 => "RSA PKCS#1 v1.5 with SHA-512".into(),
            SignatureAlgorithm::RsaPss => "RSA-PSS".into(),
            SignatureAlgorithm::EcdsaSha1 => "ECDSA with SHA-1".into(),
            SignatureAlgorithm::EcdsaSha256 => "ECDSA with SHA-256".into(),
            SignatureAlgorithm::EcdsaSha384 => "ECDSA with SHA-384".into(),
            SignatureAlgorithm::EcdsaSha512 => "ECDSA with SHA-512".into(),
            SignatureAlgorithm::Ed25519 => "Ed25519".into(),
            SignatureAlgorithm::Other(oid) => format!("an unknown signature algorithm (OID {oid})"),
        }
    }

    /// The aws-lc-rs verifier for this algorithm over this key, if there is one.
    ///
    /// RSA keys are verified with the 2048..=8192-bit verifiers: smaller keys are refused
    /// before this point (see `Csr::parse`).
    pub(crate) fn verifier(&self, key: &KeyKind) -> Option<&'static dyn VerificationAlgorithm> {
        use SignatureAlgorithm as S;
        Some(match (self, key) {
            (S::RsaPkcs1Sha1, KeyKind::Rsa { .. }) => {
                &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY
            }
            (S::RsaPkcs1Sha256, KeyKind::Rsa { .. }) => &signature::RSA_PKCS1_2048_8192_SHA256,
            (S::RsaPkcs1Sha384, KeyKind::Rsa { .. }) => &signature::RSA_PKCS1_2048_8192_SHA384,
            (S::RsaPkcs1Sha512, KeyKind::Rsa { .. }) => &signature::RSA_PKCS1_2048_8192_SHA512,
            (S::EcdsaSha1, KeyKind::EcP256) => &signature::ECDSA_P256_SHA1_ASN1,
            (S::EcdsaSha256, KeyKind::EcP256) => &signature::ECDSA_P256_SHA256_ASN1,
            (S::EcdsaSha384, KeyKind::EcP256) => &signature::ECDSA_P256_SHA384_ASN1,
            (S::EcdsaSha512, KeyKind::EcP256) => &signature::ECDSA_P256_SHA512_ASN1,
            (S::EcdsaSha256, KeyKind::EcP384) => &signature::ECDSA_P384_SHA256_ASN1,
            (S::EcdsaSha384, KeyKind::EcP384) => &signature::ECDSA_P384_SHA384_ASN1,
            (S::EcdsaSha512, KeyKind::EcP384) => &signature::ECDSA_P384_SHA512_ASN1,
            (S::EcdsaSha1, KeyKind::EcP521) => &signature::ECDSA_P521_SHA1_ASN1,
            (S::EcdsaSha256, KeyKind::EcP521) => &signature::ECDSA_P521_SHA256_ASN1,
            (S::EcdsaSha384, KeyKind::EcP521) => &signature::ECDSA_P521_SHA384_ASN1,
            (S::EcdsaSha512, KeyKind::EcP521) => &signature::ECDSA_P521_SHA512_ASN1,
            (S::Ed25519, KeyKind::Ed25519) => &signature::ED25519,
            _ => return None,
        })
    }
}

/// Verifies `sig` over `msg` with the raw subjectPublicKey bits `public_key`.
pub(crate) fn verify(
    verifier: &'static dyn VerificationAlgorithm,
    public_key: &[u8],
    msg: &[u8],
    sig: &[u8],
) -> bool {
    UnparsedPublicKey::new(verifier, public_key)
        .verify(msg, sig)
        .is_ok()
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}
