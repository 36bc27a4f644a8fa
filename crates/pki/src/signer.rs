//! [`CaSigner`]: a CA private key wherever it lives, seen as what signing needs (the
//! algorithm, the public key, a signature over bytes), with [`FileKey`] for a PKCS#8 file and
//! `pkcs11::Pkcs11Key` for a key in a token. Certificates and CRLs are built and linted with a
//! placeholder signature ([`PlaceholderKey`]); the CA key then signs exactly the linted
//! to-be-signed bytes and [`replace_signature`] puts the signature in.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use rcgen::PublicKeyData;
use serde::{Deserialize, Serialize};
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::der::{self, certificate_parts};
use crate::{KeyKind, PkiError, SecretPem};

/// The signature algorithms a CA key of Ferrite signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CaKeyAlgorithm {
    /// ECDSA on P-256 with SHA-256 (the issuing intermediate Ferrite creates).
    EcdsaP256Sha256,
    /// ECDSA on P-384 with SHA-384 (the root).
    EcdsaP384Sha384,
    /// sha256WithRSAEncryption: RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 §8.2), by an RSA key
    /// of 2048 to 4096 bits (an RSA issuing intermediate).
    RsaSha256,
}

/// The RSA modulus sizes a CA key may have, in bits: at least the Baseline Requirements
/// §6.1.5 minimum, at most what the CA's own verifiers and common HSMs handle.
const CA_RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=4096;

impl CaKeyAlgorithm {
    const ALL: [CaKeyAlgorithm; 3] = [
        CaKeyAlgorithm::EcdsaP256Sha256,
        CaKeyAlgorithm::EcdsaP384Sha384,
        CaKeyAlgorithm::RsaSha256,
    ];

    /// Whether the key is RSA (signatures are RSASSA-PKCS1-v1_5 rather than ECDSA).
    pub fn is_rsa(self) -> bool {
        matches!(self, CaKeyAlgorithm::RsaSha256)
    }

    /// rcgen's algorithm, whose identifier goes into what is signed.
    pub(crate) fn rcgen(self) -> &'static rcgen::SignatureAlgorithm {
        match self {
            CaKeyAlgorithm::EcdsaP256Sha256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            CaKeyAlgorithm::EcdsaP384Sha384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            CaKeyAlgorithm::RsaSha256 => &rcgen::PKCS_RSA_SHA256,
        }
    }

    /// The algorithm of an rcgen key, if it is one of these.
    pub(crate) fn of_rcgen(alg: &'static rcgen::SignatureAlgorithm) -> Option<CaKeyAlgorithm> {
        CaKeyAlgorithm::ALL
            .into_iter()
            .find(|a| std::ptr::eq(a.rcgen(), alg) || a.rcgen() == alg)
    }

    /// The algorithm a CA key of kind `key` signs with, or why such a key cannot be a CA key.
    pub(crate) fn of_key(key: &KeyKind) -> Result<CaKeyAlgorithm, String> {
        match key {
            KeyKind::EcP256 => Ok(CaKeyAlgorithm::EcdsaP256Sha256),
            KeyKind::EcP384 => Ok(CaKeyAlgorithm::EcdsaP384Sha384),
            // Baseline Requirements §6.1.5: the modulus size in bits is divisible by 8.
            KeyKind::Rsa { bits, .. } if CA_RSA_BITS.contains(bits) && bits % 8 == 0 => {
                Ok(CaKeyAlgorithm::RsaSha256)
            }
            other => Err(format!(
                "{other}: not an ECDSA P-256/P-384 or RSA 2048–4096 key"
            )),
        }
    }

    /// aws-lc-rs's verification algorithm for signatures of this kind (ASN.1 ECDSA-Sig-Value,
    /// or an RSASSA-PKCS1-v1_5 signature), over the subjectPublicKey BIT STRING's contents.
    pub(crate) fn verification(self) -> &'static dyn aws_lc_rs::signature::VerificationAlgorithm {
        match self {
            CaKeyAlgorithm::EcdsaP256Sha256 => &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
            CaKeyAlgorithm::EcdsaP384Sha384 => &aws_lc_rs::signature::ECDSA_P384_SHA384_ASN1,
            CaKeyAlgorithm::RsaSha256 => &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        }
    }

    /// The digest the signature is over.
    pub(crate) fn digest(self) -> &'static aws_lc_rs::digest::Algorithm {
        match self {
            CaKeyAlgorithm::EcdsaP256Sha256 | CaKeyAlgorithm::RsaSha256 => {
                &aws_lc_rs::digest::SHA256
            }
            CaKeyAlgorithm::EcdsaP384Sha384 => &aws_lc_rs::digest::SHA384,
        }
    }

    /// The DER named-curve OID (RFC 5480 §2.1.1.1), as PKCS#11's CKA_EC_PARAMS holds it;
    /// `None` for RSA.
    pub(crate) fn curve_oid_der(self) -> Option<Vec<u8>> {
        match self {
            CaKeyAlgorithm::EcdsaP256Sha256 => Some(der::oid(&[1, 2, 840, 10045, 3, 1, 7])),
            CaKeyAlgorithm::EcdsaP384Sha384 => Some(der::oid(&[1, 3, 132, 0, 34])),
            CaKeyAlgorithm::RsaSha256 => None,
        }
    }

    /// Bytes of each of r and s in an ECDSA signature; `None` for RSA.
    pub(crate) fn scalar_len(self) -> Option<usize> {
        match self {
            CaKeyAlgorithm::EcdsaP256Sha256 => Some(32),
            CaKeyAlgorithm::EcdsaP384Sha384 => Some(48),
            CaKeyAlgorithm::RsaSha256 => None,
        }
    }

    /// The DER AlgorithmIdentifier of the signatures, exactly as the Baseline Requirements
    /// §7.1.3.2.1 require it to be encoded: ECDSA without parameters, sha256WithRSAEncryption
    /// with NULL parameters. rcgen writes these bytes; the lint holds every certificate to
    /// them.
    pub(crate) fn algorithm_identifier_der(self) -> &'static [u8] {
        match self {
            // 300a06082a8648ce3d040302: ecdsa-with-SHA256.
            CaKeyAlgorithm::EcdsaP256Sha256 => &[
                0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
            ],
            // 300a06082a8648ce3d040303: ecdsa-with-SHA384.
            CaKeyAlgorithm::EcdsaP384Sha384 => &[
                0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03,
            ],
            // 300d06092a864886f70d01010b0500: sha256WithRSAEncryption, NULL.
            CaKeyAlgorithm::RsaSha256 => &[
                0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05,
                0x00,
            ],
        }
    }
}

impl fmt::Display for CaKeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CaKeyAlgorithm::EcdsaP256Sha256 => "ECDSA P-256 with SHA-256",
            CaKeyAlgorithm::EcdsaP384Sha384 => "ECDSA P-384 with SHA-384",
            CaKeyAlgorithm::RsaSha256 => "RSA with SHA-256",
        })
    }
}

/// The kind of CA key to generate (in a file or in a token), written in configuration as
/// `"ecdsa-p256"`, `"ecdsa-p384"`, `"rsa-2048"`, `"rsa-3072"` or `"rsa-4096"`. RSA keys have
/// the public exponent 65537 and sign with [`CaKeyAlgorithm::RsaSha256`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum CaKeyType {
    /// ECDSA on P-256 (`"ecdsa-p256"`): the issuing intermediate Ferrite creates.
    EcdsaP256,
    /// ECDSA on P-384 (`"ecdsa-p384"`): the root.
    EcdsaP384,
    /// RSA with a 2048-bit modulus (`"rsa-2048"`).
    Rsa2048,
    /// RSA with a 3072-bit modulus (`"rsa-3072"`).
    Rsa3072,
    /// RSA with a 4096-bit modulus (`"rsa-4096"`).
    Rsa4096,
}

impl CaKeyType {
    const ALL: [CaKeyType; 5] = [
        CaKeyType::EcdsaP256,
        CaKeyType::EcdsaP384,
        CaKeyType::Rsa2048,
        CaKeyType::Rsa3072,
        CaKeyType::Rsa4096,
    ];

    /// The algorithm a key of this type signs with.
    pub const fn algorithm(self) -> CaKeyAlgorithm {
        match self {
            CaKeyType::EcdsaP256 => CaKeyAlgorithm::EcdsaP256Sha256,
            CaKeyType::EcdsaP384 => CaKeyAlgorithm::EcdsaP384Sha384,
            CaKeyType::Rsa2048 | CaKeyType::Rsa3072 | CaKeyType::Rsa4096 => {
                CaKeyAlgorithm::RsaSha256
            }
        }
    }

    /// The name a configuration writes (what [`CaKeyType::from_str`] reads).
    pub fn name(self) -> &'static str {
        match self {
            CaKeyType::EcdsaP256 => "ecdsa-p256",
            CaKeyType::EcdsaP384 => "ecdsa-p384",
            CaKeyType::Rsa2048 => "rsa-2048",
            CaKeyType::Rsa3072 => "rsa-3072",
            CaKeyType::Rsa4096 => "rsa-4096",
        }
    }

    /// The modulus size of an RSA key type, in bits; `None` for ECDSA.
    pub(crate) fn rsa_bits(self) -> Option<usize> {
        match self {
            CaKeyType::EcdsaP256 | CaKeyType::EcdsaP384 => None,
            CaKeyType::Rsa2048 => Some(2048),
            CaKeyType::Rsa3072 => Some(3072),
            CaKeyType::Rsa4096 => Some(4096),
        }
    }

    /// A new key of this type, in memory.
    pub(crate) fn generate(self) -> Result<rcgen::KeyPair, PkiError> {
        let rsa = |size| rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, size);
        match self {
            CaKeyType::EcdsaP256 | CaKeyType::EcdsaP384 => {
                rcgen::KeyPair::generate_for(self.algorithm().rcgen())
            }
            CaKeyType::Rsa2048 => rsa(rcgen::RsaKeySize::_2048),
            CaKeyType::Rsa3072 => rsa(rcgen::RsaKeySize::_3072),
            CaKeyType::Rsa4096 => rsa(rcgen::RsaKeySize::_4096),
        }
        .map_err(|e| PkiError::Signing {
            action: "generating a CA key",
            detail: format!("{self}: {e}"),
        })
    }
}

impl fmt::Display for CaKeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CaKeyType {
    type Err = String;

    /// Exactly one of the names [`CaKeyType::name`] gives; the error lists them.
    fn from_str(s: &str) -> Result<CaKeyType, String> {
        CaKeyType::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                let names: Vec<String> = CaKeyType::ALL
                    .iter()
                    .map(|t| format!("{:?}", t.name()))
                    .collect();
                format!(
                    "{s:?} is not a CA key type; use one of {}",
                    names.join(", ")
                )
            })
    }
}

impl TryFrom<String> for CaKeyType {
    type Error = String;

    fn try_from(s: String) -> Result<CaKeyType, String> {
        s.parse()
    }
}

impl From<CaKeyType> for String {
    fn from(value: CaKeyType) -> String {
        value.name().to_owned()
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

/// A CA key held in memory, read from a PKCS#8 PEM file (the quick start's keys) or generated
/// ([`generate_file_key`]): ECDSA P-256 or P-384, or RSA of 2048 to 4096 bits.
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
    /// Reads a PKCS#8 PEM key (the file at `path`, for messages and [`KeyLocation`]): ECDSA
    /// P-256 or P-384, or RSA of 2048 to 4096 bits (which signs with
    /// [`CaKeyAlgorithm::RsaSha256`]).
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
    fn from_key_pair(key: rcgen::KeyPair, path: PathBuf) -> Result<FileKey, PkiError> {
        let invalid = |reason: String| PkiError::InvalidCaFile {
            path: path.clone(),
            reason,
        };
        let public_key_der = key.subject_public_key_info();
        let (_, spki) = SubjectPublicKeyInfo::from_der(&public_key_der)
            .map_err(|e| invalid(format!("its public key does not parse: {e}")))?;
        let kind = KeyKind::of(&spki).map_err(&invalid)?;
        let algorithm = CaKeyAlgorithm::of_key(&kind).map_err(&invalid)?;
        // rcgen signs with the algorithm it read the key as: it must be the one the key's
        // kind calls for (an RSA key with SHA-256, each curve with its own hash).
        if CaKeyAlgorithm::of_rcgen(key.algorithm()) != Some(algorithm) {
            return Err(invalid(format!(
                "{kind}: rcgen reads it as {:?}, not as {algorithm}",
                key.algorithm()
            )));
        }
        Ok(FileKey {
            public_key_der,
            key,
            algorithm,
            path,
        })
    }

    /// The key as PKCS#8 PEM, for writing it to its 0600 file (and nowhere else).
    pub fn to_pem(&self) -> SecretPem {
        SecretPem::new(self.key.serialize_pem())
    }
}

/// A new CA key of `key_type` in memory, to be written to `path` by the caller
/// ([`FileKey::to_pem`]); `path` names it in messages and [`KeyLocation`]. RSA keys have the
/// public exponent 65537.
pub fn generate_file_key(key_type: CaKeyType, path: PathBuf) -> Result<FileKey, PkiError> {
    FileKey::from_key_pair(key_type.generate()?, path)
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
/// no private key. Its "signature" is one no verifier accepts, so a placeholder-signed
/// certificate can never pass for a real one:
/// - ECDSA: the ECDSA-Sig-Value r = 0, s = 0; a verifier requires both in [1, n − 1].
/// - RSA: as many zero octets as the modulus has, the signature representative s = 0. Its
///   s^e mod n is 0, and RSASSA-PKCS1-v1_5 verification (RFC 8017 §8.2.2) compares that with
///   the EMSA-PKCS1-v1_5 encoding of the message, which always begins 0x00 0x01 0xFF: it
///   differs for every key and every message.
///
/// Boulder's linting signer signs with a throwaway key; the lint reads only the TBS and the
/// algorithm identifiers, so a placeholder does the same without a signature's cost. The
/// public key is never written into an issued TBS (the authority key identifier is the
/// issuer's subjectKeyIdentifier), so the linted TBS is the one the CA key signs.
pub(crate) struct PlaceholderKey {
    /// The subjectPublicKey BIT STRING's contents (what rcgen calls the raw public key).
    public_key: Vec<u8>,
    algorithm: CaKeyAlgorithm,
    /// The placeholder signature.
    signature: Vec<u8>,
}

/// DER `SEQUENCE { INTEGER 0, INTEGER 0 }`: the ECDSA placeholder signature.
pub(crate) const NO_SIGNATURE: [u8; 8] = [0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00];

impl PlaceholderKey {
    /// The placeholder of `signer`'s key.
    pub(crate) fn of(signer: &dyn CaSigner) -> Result<PlaceholderKey, PkiError> {
        let algorithm = signer.algorithm();
        let signature = if algorithm.is_rsa() {
            vec![0; rsa_modulus_len(signer.public_key_der())?]
        } else {
            NO_SIGNATURE.to_vec()
        };
        Ok(PlaceholderKey {
            public_key: raw_public_key(signer.public_key_der())?,
            algorithm,
            signature,
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
        Ok(self.signature.clone())
    }
}

/// The length in octets of the modulus of the RSA public key `spki_der` (a DER
/// SubjectPublicKeyInfo): the length of its signatures (RFC 8017 §8.2.1).
fn rsa_modulus_len(spki_der: &[u8]) -> Result<usize, PkiError> {
    let fail = |detail: String| PkiError::Signing {
        action: "reading a CA public key",
        detail,
    };
    let (_, spki) = SubjectPublicKeyInfo::from_der(spki_der)
        .map_err(|e| fail(format!("the SubjectPublicKeyInfo does not parse: {e}")))?;
    match spki.parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => {
            let leading_zeros = rsa.modulus.iter().take_while(|b| **b == 0).count();
            Ok(rsa.modulus.len() - leading_zeros)
        }
        _ => Err(fail("not an RSA public key".into())),
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
        assert!(
            err.to_string()
                .contains("not an ECDSA P-256/P-384 or RSA 2048–4096 key"),
            "{err}"
        );
    }

    /// Every key type reads back from its name and prints as it, in configuration (serde) as
    /// in `FromStr`; a name that is not one of them is refused with the list of those there
    /// are.
    #[test]
    fn ca_key_type_names_round_trip() {
        let names = [
            (
                CaKeyType::EcdsaP256,
                "ecdsa-p256",
                CaKeyAlgorithm::EcdsaP256Sha256,
            ),
            (
                CaKeyType::EcdsaP384,
                "ecdsa-p384",
                CaKeyAlgorithm::EcdsaP384Sha384,
            ),
            (CaKeyType::Rsa2048, "rsa-2048", CaKeyAlgorithm::RsaSha256),
            (CaKeyType::Rsa3072, "rsa-3072", CaKeyAlgorithm::RsaSha256),
            (CaKeyType::Rsa4096, "rsa-4096", CaKeyAlgorithm::RsaSha256),
        ];
        assert_eq!(names.len(), CaKeyType::ALL.len());
        for (key_type, name, algorithm) in names {
            assert_eq!(key_type.to_string(), name);
            assert_eq!(name.parse::<CaKeyType>(), Ok(key_type));
            assert_eq!(key_type.algorithm(), algorithm);
            assert_eq!(algorithm.is_rsa(), name.starts_with("rsa-"));
            assert_eq!(
                toml::Value::try_from(key_type).unwrap(),
                toml::Value::String(name.into())
            );
            let read: CaKeyType = toml::Value::String(name.into()).try_into().unwrap();
            assert_eq!(read, key_type);
        }
        assert_eq!(CaKeyAlgorithm::RsaSha256.to_string(), "RSA with SHA-256");

        for bad in ["rsa2048", "RSA-2048", "rsa-1024", "p256", "ecdsa-p256 ", ""] {
            let err = bad.parse::<CaKeyType>().unwrap_err();
            for (_, name, _) in names {
                assert!(err.contains(&format!("\"{name}\"")), "{bad:?}: {err}");
            }
            let serde_err = toml::Value::String(bad.into())
                .try_into::<CaKeyType>()
                .unwrap_err()
                .to_string();
            assert!(serde_err.contains("\"rsa-4096\""), "{bad:?}: {serde_err}");
        }
    }

    /// A key of each type is generated, signs what verifies under its public key with its
    /// algorithm, and reads back from its PEM as the same key; neither shows in `Debug`.
    #[test]
    fn generated_file_keys_sign_and_read_back() {
        for key_type in CaKeyType::ALL {
            let key = generate_file_key(key_type, "k.pem".into()).unwrap();
            assert_eq!(key.algorithm(), key_type.algorithm(), "{key_type}");
            let (_, spki) = SubjectPublicKeyInfo::from_der(key.public_key_der()).unwrap();
            let kind = KeyKind::of(&spki).unwrap();
            match key_type.rsa_bits() {
                Some(bits) => assert_eq!(
                    kind,
                    KeyKind::Rsa {
                        bits,
                        exponent_is_65537: true
                    },
                    "{key_type}"
                ),
                None => assert!(!kind.is_rsa(), "{key_type}: {kind}"),
            }
            let raw = raw_public_key(key.public_key_der()).unwrap();
            let pem = key.to_pem();
            assert_eq!(format!("{pem:?}"), "[redacted]");
            let shown = format!("{key:?}");
            assert!(
                shown.contains("[redacted]") && !shown.contains("PRIVATE"),
                "{shown}"
            );
            let read = FileKey::from_pem(pem.expose(), "k.pem".into()).unwrap();
            assert_eq!(read.public_key_der(), key.public_key_der(), "{key_type}");
            assert_eq!(read.algorithm(), key.algorithm(), "{key_type}");
            for signer in [&key, &read] {
                let message = format!("a TBS signed by {key_type}");
                let signature = signer.sign(message.as_bytes()).unwrap();
                UnparsedPublicKey::new(key_type.algorithm().verification(), &raw)
                    .verify(message.as_bytes(), &signature)
                    .unwrap_or_else(|_| panic!("{key_type}: the signature does not verify"));
                assert!(
                    UnparsedPublicKey::new(key_type.algorithm().verification(), &raw)
                        .verify(b"another message", &signature)
                        .is_err(),
                    "{key_type}"
                );
            }
        }
    }

    /// A CA key is ECDSA P-256 or P-384, or RSA of 2048 to 4096 bits in whole octets (Baseline
    /// Requirements §6.1.5); keys made by openssl outside that range, and a P-521 key, are
    /// refused with what they are.
    #[test]
    fn rsa_file_keys_must_be_2048_to_4096_bits() {
        let rsa = |bits| KeyKind::Rsa {
            bits,
            exponent_is_65537: true,
        };
        for bits in [2048, 2056, 3072, 4096] {
            assert_eq!(
                CaKeyAlgorithm::of_key(&rsa(bits)),
                Ok(CaKeyAlgorithm::RsaSha256),
                "{bits}"
            );
        }
        for bits in [1024, 2040, 2049, 4104, 8192] {
            let err = CaKeyAlgorithm::of_key(&rsa(bits)).unwrap_err();
            assert!(err.contains(&format!("RSA {bits}-bit")), "{err}");
        }
        assert!(CaKeyAlgorithm::of_key(&KeyKind::EcP521).is_err());

        let tmp = tempfile::tempdir().unwrap();
        for bits in [1024, 4104] {
            let path = tmp.path().join(format!("rsa{bits}.pem"));
            let out = std::process::Command::new("openssl")
                .args(["genpkey", "-quiet", "-algorithm", "RSA", "-pkeyopt"])
                .arg(format!("rsa_keygen_bits:{bits}"))
                .arg("-out")
                .arg(&path)
                .output()
                .expect("openssl must be installed");
            assert!(out.status.success(), "{out:?}");
            let pem = std::fs::read_to_string(&path).unwrap();
            let err = FileKey::from_pem(&pem, path.clone()).unwrap_err();
            let shown = err.to_string();
            // aws-lc-rs refuses to load an RSA key under 2048 bits at all.
            assert!(
                shown.contains("not an ECDSA P-256/P-384 or RSA 2048–4096 key")
                    || (bits < 2048 && shown.contains("not a PKCS#8 key")),
                "{bits}: {shown}"
            );
            assert!(!shown.contains("PRIVATE KEY"), "{shown}");
        }
        let p521 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
        let err = FileKey::from_pem(&p521.serialize_pem(), "p521.pem".into()).unwrap_err();
        assert!(err.to_string().contains("ECDSA P-521: not an"), "{err}");
    }

    /// An RSA key's placeholder signature is as long as a real one and all zeros, and it does
    /// not verify for the message it was made for (nor would it for any other).
    #[test]
    fn an_rsa_placeholder_signature_never_verifies() {
        let key = generate_file_key(CaKeyType::Rsa2048, "k.pem".into()).unwrap();
        let placeholder = PlaceholderKey::of(&key).unwrap();
        assert!(std::ptr::eq(
            rcgen::PublicKeyData::algorithm(&placeholder),
            &rcgen::PKCS_RSA_SHA256
        ));
        let message = b"a TBSCertificate";
        let signature = rcgen::SigningKey::sign(&placeholder, message).unwrap();
        assert_eq!(signature, vec![0; 256]);
        let raw = raw_public_key(key.public_key_der()).unwrap();
        let verifier = UnparsedPublicKey::new(CaKeyAlgorithm::RsaSha256.verification(), &raw);
        assert!(verifier.verify(message, &signature).is_err());
        verifier
            .verify(message, &key.sign(message).unwrap())
            .unwrap();

        let ecdsa = generate_file_key(CaKeyType::EcdsaP256, "e.pem".into()).unwrap();
        let placeholder = PlaceholderKey::of(&ecdsa).unwrap();
        assert_eq!(
            rcgen::SigningKey::sign(&placeholder, message).unwrap(),
            NO_SIGNATURE
        );
    }
}
