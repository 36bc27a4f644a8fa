//! SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) encoding and decoding of [`Jwk`]s, so a key from a
//! JWS can be compared with the key in a certificate or CSR.

use crate::der::{self, Reader};
use crate::jwk::{Curve, KeyData};
use crate::{JoseError, Jwk};

/// id-ecPublicKey, 1.2.840.10045.2.1 (RFC 5480 §2.1.1).
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// secp256r1, 1.2.840.10045.3.1.7 (RFC 5480 §2.1.1.1).
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// secp384r1, 1.3.132.0.34.
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
/// secp521r1, 1.3.132.0.35.
const OID_P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
/// rsaEncryption, 1.2.840.113549.1.1.1 (RFC 3279 §2.3.1).
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// id-Ed25519, 1.3.101.112 (RFC 8410 §3).
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

fn curve_oid(curve: Curve) -> &'static [u8] {
    match curve {
        Curve::P256 => OID_P256,
        Curve::P384 => OID_P384,
        Curve::P521 => OID_P521,
    }
}

impl Jwk {
    /// The DER SubjectPublicKeyInfo of this key, in the encoding certificates and CSRs use:
    /// EC as id-ecPublicKey + named curve with an uncompressed point (RFC 5480), RSA as
    /// rsaEncryption with NULL parameters (RFC 3279), Ed25519 without parameters (RFC 8410).
    pub fn to_spki_der(&self) -> Vec<u8> {
        let oid = |o: &[u8]| der::tlv(der::OID, o);
        let (algorithm, key) = match &self.key {
            KeyData::Ec { curve, .. } => (
                der::sequence(&[&oid(OID_EC_PUBLIC_KEY), &oid(curve_oid(*curve))]),
                self.sec1_point(),
            ),
            KeyData::Rsa { n, e } => (
                der::sequence(&[&oid(OID_RSA), &der::tlv(der::NULL, &[])]),
                der::sequence(&[&der::unsigned(n), &der::unsigned(e)]),
            ),
            KeyData::Ed25519 { x } => (der::sequence(&[&oid(OID_ED25519)]), x.clone()),
        };
        der::sequence(&[&algorithm, &der::bit_string(&key)])
    }

    /// Parses a DER SubjectPublicKeyInfo holding an EC (P-256/P-384/P-521, uncompressed
    /// point), RSA or Ed25519 key, with the same validation as [`Jwk::from_json`].
    ///
    /// Errors with [`JoseError::BadPublicKey`] for anything else, including trailing bytes
    /// and compressed EC points.
    pub fn from_spki_der(der: &[u8]) -> Result<Jwk, JoseError> {
        let bad = || JoseError::bad_key("SubjectPublicKeyInfo is not valid DER");
        let mut outer = Reader::new(der);
        let spki = outer.read(der::SEQUENCE).ok_or_else(bad)?;
        if !outer.is_empty() {
            return Err(bad());
        }
        let mut spki = Reader::new(spki);
        let algorithm = spki.read(der::SEQUENCE).ok_or_else(bad)?;
        let key = spki.read_bit_string().ok_or_else(bad)?;
        if !spki.is_empty() {
            return Err(bad());
        }
        let mut algorithm = Reader::new(algorithm);
        let oid = algorithm.read(der::OID).ok_or_else(bad)?;
        let jwk = match oid {
            OID_EC_PUBLIC_KEY => {
                let curve = match algorithm.read(der::OID).ok_or_else(bad)? {
                    OID_P256 => Curve::P256,
                    OID_P384 => Curve::P384,
                    OID_P521 => Curve::P521,
                    _ => {
                        return Err(JoseError::bad_key(
                            "EC curve is not supported; use P-256, P-384 or P-521",
                        ));
                    }
                };
                let n = curve.field_len();
                match key {
                    [0x04, xy @ ..] if xy.len() == 2 * n => {
                        let (x, y) = xy.split_at(n);
                        Jwk::ec(curve, x.to_vec(), y.to_vec())?
                    }
                    _ => {
                        return Err(JoseError::bad_key(
                            "EC public key must be an uncompressed point of the curve's size",
                        ));
                    }
                }
            }
            OID_RSA => {
                // RFC 3279 §2.3.1: parameters MUST be NULL; tolerate absent ones as many
                // parsers do.
                if algorithm.peek_tag() == Some(der::NULL) {
                    let null = algorithm.read(der::NULL).ok_or_else(bad)?;
                    if !null.is_empty() {
                        return Err(bad());
                    }
                }
                let mut key = Reader::new(key);
                let rsa = key.read(der::SEQUENCE).ok_or_else(bad)?;
                if !key.is_empty() {
                    return Err(bad());
                }
                let mut rsa = Reader::new(rsa);
                let n = rsa.read_unsigned().ok_or_else(bad)?;
                let e = rsa.read_unsigned().ok_or_else(bad)?;
                if !rsa.is_empty() {
                    return Err(bad());
                }
                Jwk::rsa(n, e)?
            }
            // RFC 8410 §3: "the parameters MUST be absent".
            OID_ED25519 => Jwk::ed25519(key.to_vec())?,
            _ => {
                return Err(JoseError::bad_key(
                    "public key algorithm is not supported; use EC, RSA or Ed25519",
                ));
            }
        };
        if !algorithm.is_empty() {
            return Err(bad());
        }
        Ok(jwk)
    }
}
