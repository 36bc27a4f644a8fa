//! [`CaSigner`]: a CA private key wherever it lives, seen as what signing needs (the
//! algorithm, the public key, a signature over bytes), with [`FileKey`] for a PKCS#8 file and
//! `pkcs11::Pkcs11Key` for a key in a token. Certificates and CRLs are built and linted with a
//! placeholder signature ([`PlaceholderKey`]); the CA key then signs exactly the linted
//! to-be-signed bytes and [`replace_signature`] puts the signature in.

use std::fmt;
use std::path::PathBuf;

use rcgen::PublicKeyData;
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::PkiError;
use crate::der::{self, certificate_parts};

/// The signature algorithms a CA key of Ferrite signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CaKeyAlgorithm {
    /// ECDSA on P-256 with SHA-256 (the issuing intermediate).
    EcdsaP256Sha256,
    /// ECDSA on P-384 with SHA-384 (the root).
    EcdsaP384Sha384,
}

impl CaKeyAlgorithm {
    /// rcgen's algorithm, whose identifier goes into what is signed.
    pub(crate) fn rcgen(self) -> &'static rcgen::SignatureAlgorithm {
        match self {
            CaKeyAlgorithm::EcdsaP256Sha256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            CaKeyAlgorithm::EcdsaP384Sha384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        }
    }

    /// The algorithm of an rcgen key, if it is one of these.
    pub(crate) fn of_rcgen(alg: &'static rcgen::SignatureAlgorithm) -> Option<CaKeyAlgorithm> {
        [
            CaKeyAlgorithm::EcdsaP256Sha256,
            CaKeyAlgorithm::EcdsaP384Sha384,
        ]
        .into_iter()
        .find(|a| std::ptr::eq(a.rcgen(), alg) || a.rcgen() == alg)
    }

    /// aws-lc-rs's verification algorithm for signatures of this kind (ASN.1 ECDSA-Sig-Value).
    pub(crate) fn verification(self) -> &'static aws_lc_rs::signature::EcdsaVerificationAlgorithm {
        match self {
            CaKeyAlgorithm::EcdsaP256Sha256 => &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
            CaKeyAlgorithm::EcdsaP384Sha384 => &aws_lc_rs::signature::ECDSA_P384_SHA384_ASN1,
        }
    }

    /// The digest the signature is over.
    pub(crate) fn digest(self) -> &'static aws_lc_rs::digest::Algorithm {
        match self {
            CaKeyAlgorithm::EcdsaP256Sha256 => &aws_lc_rs::digest::SHA256,
            CaKeyAlgorithm::EcdsaP384Sha384 => &aws_lc_rs::digest::SHA384,
        }
    }

    /// The DER named-curve OID (RFC 5480 §2.1.1.1), as PKCS#11's CKA_EC_PARAMS holds it.
    pub(crate) fn curve_oid_der(self) -> Vec<u8> {
        match self {
            CaKeyAlgorithm::EcdsaP256Sha256 => der::oid(&[1, 2, 840, 10045, 3, 1, 7]),
            CaKeyAlgorithm::EcdsaP384Sha384 => der::oid(&[1, 3, 132, 0, 34]),
        }
    }

    /// Bytes of each of r and s in a signature.
    pub(crate) fn scalar_len(self) -> usize {
        match self {
            CaKeyAlgorithm::EcdsaP256Sha256 => 32,
            CaKeyAlgorithm::EcdsaP384Sha384 => 48,
        }
    }
}

impl fmt::Display for CaKeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CaKeyAlgorithm::EcdsaP256Sha256 => "ECDSA P-256 with SHA-256",
            CaKeyAlgorithm::EcdsaP384Sha384 => "ECDSA P-384 with SHA-384",
        })
    }
}

/// Where a CA key is: what `ferrite ca show` and the start-up log name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLocation {
    /// A PKCS#8 PEM file.
    File {
        /// The file.
        path: PathBuf,
    },
    /// A private key object in a PKCS#11 token.
    Token {
        /// The token's label (CKA_LABEL of the token, `ca.pkcs11_token`).
        token: String,
        /// The key object's CKA_LABEL.
        label: String,
        /// The key object's CKA_ID, lower-case hex.
        id_hex: String,
    },
}

impl fmt::Display for KeyLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyLocation::File { path } => write!(f, "file {}", path.display()),
            KeyLocation::Token {
                token,
                label,
                id_hex,
            } => {
                write!(f, "token {token:?}, key label {label:?}, id {id_hex}")
            }
        }
    }
}

/// A CA private key: signs to-be-signed certificates and CRLs. Implementations never put key
/// material in `Debug`, an error or a log line.
pub trait CaSigner: Send + Sync + fmt::Debug + 'static {
    /// The algorithm [`CaSigner::sign`] signs with.
    fn algorithm(&self) -> CaKeyAlgorithm;

    /// The public key, DER SubjectPublicKeyInfo.
    fn public_key_der(&self) -> &[u8];

    /// Signs `message` (a DER TBSCertificate or TBSCertList): the signatureValue's contents
    /// for [`CaSigner::algorithm`] (for ECDSA, a DER ECDSA-Sig-Value).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError>;

    /// Where the key is.
    fn location(&self) -> KeyLocation;

    /// Whether a signature may wait on a device (a PKCS#11 token): async callers then sign
    /// on a blocking thread rather than on the runtime's.
    fn may_block(&self) -> bool {
        false
    }
}

/// A CA key held in memory, read from a PKCS#8 PEM file (the quick start's keys).
pub struct FileKey {
    key: rcgen::KeyPair,
    algorithm: CaKeyAlgorithm,
    public_key_der: Vec<u8>,
    path: PathBuf,
}

impl fmt::Debug for FileKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileKey")
            .field("path", &self.path)
            .field("algorithm", &self.algorithm)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl FileKey {
    /// Reads a PKCS#8 PEM key (the file at `path`, for messages and [`KeyLocation`]).
    pub fn from_pem(pem: &str, path: PathBuf) -> Result<FileKey, PkiError> {
        let invalid = |reason: String| PkiError::InvalidCaFile {
            path: path.clone(),
            reason,
        };
        let key =
            rcgen::KeyPair::from_pem(pem).map_err(|e| invalid(format!("not a PKCS#8 key: {e}")))?;
        FileKey::from_key_pair(key, path)
    }

    /// Wraps a key generated in memory, to be written to `path`.
    pub(crate) fn from_key_pair(key: rcgen::KeyPair, path: PathBuf) -> Result<FileKey, PkiError> {
        let algorithm =
            CaKeyAlgorithm::of_rcgen(key.algorithm()).ok_or_else(|| PkiError::InvalidCaFile {
                path: path.clone(),
                reason: "not an ECDSA P-256 or P-384 key".into(),
            })?;
        Ok(FileKey {
            public_key_der: key.subject_public_key_info(),
            key,
            algorithm,
            path,
        })
    }

    /// The key as PKCS#8 PEM, for writing it to its 0600 file.
    pub(crate) fn serialize_pem(&self) -> String {
        self.key.serialize_pem()
    }
}

impl CaSigner for FileKey {
    fn algorithm(&self) -> CaKeyAlgorithm {
        self.algorithm
    }

    fn public_key_der(&self) -> &[u8] {
        &self.public_key_der
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        rcgen::SigningKey::sign(&self.key, message).map_err(|e| PkiError::Signing {
            action: "signing with the CA key file",
            detail: e.to_string(),
        })
    }

    fn location(&self) -> KeyLocation {
        KeyLocation::File {
            path: self.path.clone(),
        }
    }
}

/// What certificates and CRLs are built and linted with: a CA key's algorithm and public key,
/// no private key. Its "signature" is the ECDSA-Sig-Value r = 0, s = 0, which no verifier
/// accepts (both must be in [1, n − 1]), so a placeholder-signed certificate can never pass
/// for a real one. Boulder's linting signer signs with a throwaway key; the lint reads only the
/// TBS and the algorithm identifiers, so a placeholder does the same without a signature's
/// cost. The public key is never written into an issued TBS (the authority key identifier is
/// the issuer's subjectKeyIdentifier), so the linted TBS is the one the CA key signs.
pub(crate) struct PlaceholderKey {
    /// The subjectPublicKey BIT STRING's contents (what rcgen calls the raw public key).
    public_key: Vec<u8>,
    algorithm: CaKeyAlgorithm,
}

/// DER `SEQUENCE { INTEGER 0, INTEGER 0 }`.
pub(crate) const NO_SIGNATURE: [u8; 8] = [0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00];

impl PlaceholderKey {
    /// The placeholder of `signer`'s key.
    pub(crate) fn of(signer: &dyn CaSigner) -> Result<PlaceholderKey, PkiError> {
        Ok(PlaceholderKey {
            public_key: raw_public_key(signer.public_key_der())?,
            algorithm: signer.algorithm(),
        })
    }
}

impl rcgen::PublicKeyData for PlaceholderKey {
    fn der_bytes(&self) -> &[u8] {
        &self.public_key
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        self.algorithm.rcgen()
    }
}

impl rcgen::SigningKey for PlaceholderKey {
    fn sign(&self, _msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        Ok(NO_SIGNATURE.to_vec())
    }
}

/// The subjectPublicKey BIT STRING's contents of a DER SubjectPublicKeyInfo.
pub(crate) fn raw_public_key(spki_der: &[u8]) -> Result<Vec<u8>, PkiError> {
    let (_, spki) = SubjectPublicKeyInfo::from_der(spki_der).map_err(|e| PkiError::Signing {
        action: "reading a CA public key",
        detail: format!("the SubjectPublicKeyInfo does not parse: {e}"),
    })?;
    Ok(spki.subject_public_key.data.to_vec())
}

/// RFC 7093 §2 method 1: the leftmost 160 bits of the SHA-256 of the subjectPublicKey BIT
/// STRING's value: the subjectKeyIdentifier of a CA certificate, and the CKA_ID of its key in
/// a token.
pub(crate) fn key_identifier(raw_public_key: &[u8]) -> Vec<u8> {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, raw_public_key);
    digest.as_ref()[..20].to_vec()
}

/// Signs the to-be-signed part of `placeholder_signed` (a certificate or CRL signed with a
/// [`PlaceholderKey`] of `signer`) with `signer`, and returns it with that signature: the same
/// TBS and algorithm identifier, byte for byte.
pub(crate) fn replace_signature(
    placeholder_signed: &[u8],
    signer: &dyn CaSigner,
    action: &'static str,
) -> Result<Vec<u8>, PkiError> {
    let parts = certificate_parts(placeholder_signed).ok_or_else(|| PkiError::Signing {
        action,
        detail: "rcgen's output is not a DER SEQUENCE of three parts (nothing was signed); \
                 report this as a bug"
            .into(),
    })?;
    let signature = signer.sign(parts.tbs)?;
    Ok(der::signed(
        parts.tbs,
        parts.signature_algorithm,
        &signature,
    ))
}

/// An ECDSA signature as PKCS#11 returns it (r ‖ s, each `scalar_len` bytes) in the DER
/// ECDSA-Sig-Value X.509 carries (RFC 3279 §2.2.3).
pub(crate) fn ecdsa_raw_to_der(raw: &[u8], scalar_len: usize) -> Option<Vec<u8>> {
    if raw.len() != 2 * scalar_len {
        return None;
    }
    let (r, s) = raw.split_at(scalar_len);
    Some(der::sequence(
        &[der::unsigned_integer(r), der::unsigned_integer(s)].concat(),
    ))
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, UnparsedPublicKey};

    use super::*;

    #[test]
    fn a_raw_ecdsa_signature_verifies_once_in_der() {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        for (alg, fixed, len) in [
            (
                CaKeyAlgorithm::EcdsaP256Sha256,
                &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                32,
            ),
            (
                CaKeyAlgorithm::EcdsaP384Sha384,
                &aws_lc_rs::signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                48,
            ),
        ] {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(fixed, &rng).unwrap();
            let key = EcdsaKeyPair::from_pkcs8(fixed, pkcs8.as_ref()).unwrap();
            // Enough signatures that some r or s have a high bit set or a leading zero byte.
            for i in 0..64u8 {
                let message = [i; 7];
                let raw = key.sign(&rng, &message).unwrap();
                let der = ecdsa_raw_to_der(raw.as_ref(), len).unwrap();
                UnparsedPublicKey::new(alg.verification(), key.public_key().as_ref())
                    .verify(&message, &der)
                    .unwrap_or_else(|_| panic!("{alg} signature {i} does not verify"));
            }
            assert!(ecdsa_raw_to_der(&[1; 10], len).is_none());
        }
    }

    #[test]
    fn a_file_key_does_not_show_itself() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let pem = key.serialize_pem();
        let file = FileKey::from_pem(&pem, "k.pem".into()).unwrap();
        let shown = format!("{file:?}");
        assert!(
            shown.contains("[redacted]") && !shown.contains("PRIVATE"),
            "{shown}"
        );
        assert_eq!(file.algorithm(), CaKeyAlgorithm::EcdsaP256Sha256);
        let err = FileKey::from_pem(
            &rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)
                .unwrap()
                .serialize_pem(),
            "e.pem".into(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("P-256"), "{err}");
    }
}
