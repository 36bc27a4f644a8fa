//! [`KeyKind`]: what kind of public key a SubjectPublicKeyInfo holds (RFC 5480, RFC 8410,
//! RFC 3279).

use std::fmt;

use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_P521: &str = "1.3.132.0.35";
const OID_ED25519: &str = "1.3.101.112";

/// The kind of a subject public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA (rsaEncryption).
    Rsa {
        /// Modulus length in bits.
        bits: usize,
        /// Whether the public exponent is 65537 (F4).
        exponent_is_65537: bool,
    },
    /// ECDSA on NIST P-256 (secp256r1).
    EcP256,
    /// ECDSA on NIST P-384 (secp384r1).
    EcP384,
    /// ECDSA on NIST P-521 (secp521r1).
    EcP521,
    /// Ed25519 (RFC 8410).
    Ed25519,
    /// Anything else: the algorithm OID (and curve OID for other EC keys).
    Other(String),
}

impl KeyKind {
    /// Classifies a parsed SubjectPublicKeyInfo. Fails only when an RSA key's inner structure
    /// does not parse.
    pub(crate) fn of(spki: &SubjectPublicKeyInfo<'_>) -> Result<KeyKind, String> {
        let alg = spki.algorithm.algorithm.to_id_string();
        match alg.as_str() {
            OID_RSA_ENCRYPTION => match spki.parsed() {
                Ok(PublicKey::RSA(rsa)) => Ok(KeyKind::Rsa {
                    bits: modulus_bits(rsa.modulus),
                    exponent_is_65537: rsa.try_exponent().ok() == Some(65537),
                }),
                _ => Err("the RSA public key does not parse".to_owned()),
            },
            OID_EC_PUBLIC_KEY => {
                // RFC 5480 §2.1.1: parameters is namedCurve; implicit and explicit curves are
                // not supported (RFC 5480 says they MUST NOT be used).
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|o| o.to_id_string());
                Ok(match curve.as_deref() {
                    Some(OID_P256) => KeyKind::EcP256,
                    Some(OID_P384) => KeyKind::EcP384,
                    Some(OID_P521) => KeyKind::EcP521,
                    Some(other) => KeyKind::Other(format!("EC curve {other}")),
                    None => KeyKind::Other("EC key without a named curve".to_owned()),
                })
            }
            OID_ED25519 => Ok(KeyKind::Ed25519),
            _ => Ok(KeyKind::Other(alg)),
        }
    }

    /// True for RSA keys (which may also get keyEncipherment).
    pub fn is_rsa(&self) -> bool {
        matches!(self, KeyKind::Rsa { .. })
    }

    /// The kind of the key in the DER SubjectPublicKeyInfo `spki_der` ([`KeyKind::of`]); an
    /// error says what does not parse.
    pub fn of_spki_der(spki_der: &[u8]) -> Result<KeyKind, String> {
        use x509_parser::prelude::FromDer;
        let (_, spki) = SubjectPublicKeyInfo::from_der(spki_der)
            .map_err(|e| format!("the SubjectPublicKeyInfo does not parse: {e}"))?;
        KeyKind::of(&spki)
    }
}

/// Bit length of a big-endian unsigned integer, ignoring leading zero bytes and bits.
fn modulus_bits(modulus: &[u8]) -> usize {
    let mut m = modulus;
    while let [0, rest @ ..] = m {
        m = rest;
    }
    match m.first() {
        Some(first) => m.len() * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyKind::Rsa {
                bits,
                exponent_is_65537: true,
            } => write!(f, "RSA {bits}-bit"),
            KeyKind::Rsa { bits, .. } => {
                write!(f, "RSA {bits}-bit with an exponent other than 65537")
            }
            KeyKind::EcP256 => f.write_str("ECDSA P-256"),
            KeyKind::EcP384 => f.write_str("ECDSA P-384"),
            KeyKind::EcP521 => f.write_str("ECDSA P-521"),
            KeyKind::Ed25519 => f.write_str("Ed25519"),
            KeyKind::Other(oid) => write!(f, "unsupported key type {oid}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modulus_bits_ignores_sign_byte() {
        assert_eq!(modulus_bits(&[0x00, 0x80, 0, 0]), 24);
        assert_eq!(modulus_bits(&[0x01, 0, 0]), 17);
        assert_eq!(modulus_bits(&[]), 0);
        let mut m = vec![0u8; 257];
        m[1] = 0xc3;
        assert_eq!(modulus_bits(&m), 2048);
    }
}
