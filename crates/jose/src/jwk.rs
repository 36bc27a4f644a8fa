//! Public JWKs (RFC 7517, RFC 7518 §6, RFC 8037 §2), RFC 7638 thumbprints and signature
//! verification.

use std::fmt;

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::{Map, Value};

use crate::{Algorithm, JoseError, base64url};

/// A NIST curve an EC key can be on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    /// The JWK `crv` name (RFC 7518 §6.2.1.1).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        [Curve::P256, Curve::P384, Curve::P521]
            .into_iter()
            .find(|c| c.name() == name)
    }

    /// Coordinate length in octets. RFC 7518 §6.2.1.2: "The length of this octet string MUST
    /// be the full size of a coordinate for the curve specified in the "crv" parameter."
    pub(crate) fn field_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    /// The one JWS algorithm that uses this curve (RFC 7518 §3.4).
    pub(crate) fn algorithm(self) -> Algorithm {
        match self {
            Curve::P256 => Algorithm::ES256,
            Curve::P384 => Algorithm::ES384,
            Curve::P521 => Algorithm::ES512,
        }
    }

    /// Verification with the fixed-length `R || S` signature form of RFC 7518 §3.4.
    fn verification(self) -> &'static signature::EcdsaVerificationAlgorithm {
        match self {
            Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED,
            Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED,
            Curve::P521 => &signature::ECDSA_P521_SHA512_FIXED,
        }
    }
}

/// The key material; every byte string is in its one canonical form.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum KeyData {
    /// `kty: "EC"`: affine coordinates, each exactly `curve.field_len()` octets.
    Ec {
        curve: Curve,
        x: Vec<u8>,
        y: Vec<u8>,
    },
    /// `kty: "RSA"`: modulus and exponent, big-endian without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// `kty: "OKP", crv: "Ed25519"`: the 32-byte public key.
    Ed25519 { x: Vec<u8> },
}

/// A parsed, validated public JWK: EC P-256/P-384/P-521, RSA (2048..=8192-bit modulus) or
/// OKP Ed25519.
///
/// Construction validates the key fully (lengths, point on the curve, RSA modulus size and
/// exponent), so a `Jwk` value is always usable for [`Jwk::verify`]. Two `Jwk`s are equal when
/// they are the same key, whatever optional members (`kid`, `use`, ...) their JSON carried.
#[derive(Clone, PartialEq, Eq)]
pub struct Jwk {
    pub(crate) key: KeyData,
}

/// JWK members that only a private key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// RSA modulus sizes accepted, in bits (RFC 7518 §3.3 sets the floor; 8192 bounds the work a
/// client can make the server do).
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

impl Jwk {
    /// Parses a public JWK.
    ///
    /// Errors with [`JoseError::BadPublicKey`] for: not an object, private members (`d`, `p`,
    /// ...), unknown `kty` or `crv`, missing or non-string members, bad base64url, EC
    /// coordinates not exactly the field size, a point not on the curve, an RSA modulus outside
    /// 2048..=8192 bits or an invalid exponent, an Ed25519 key that is not 32 bytes. Members
    /// other than the key's own (`kid`, `use`, `alg`, ...) are ignored.
    pub fn from_json(v: &Value) -> Result<Jwk, JoseError> {
        let obj = v
            .as_object()
            .ok_or_else(|| JoseError::bad_key("JWK is not a JSON object"))?;
        if let Some(m) = PRIVATE_MEMBERS.iter().find(|m| obj.contains_key(**m)) {
            return Err(JoseError::bad_key(format!(
                "JWK contains the private member {m:?}; send only the public key"
            )));
        }
        let kty = str_member(obj, "kty")?;
        match kty {
            // RFC 7518 §6.2.1: crv, x, y.
            "EC" => {
                let crv = str_member(obj, "crv")?;
                let curve = Curve::from_name(crv).ok_or_else(|| {
                    JoseError::bad_key(format!(
                        "EC curve {crv:?} is not supported; use P-256, P-384 or P-521"
                    ))
                })?;
                Jwk::ec(curve, b64_member(obj, "x")?, b64_member(obj, "y")?)
            }
            // RFC 7518 §6.3.1: n, e.
            "RSA" => Jwk::rsa(&b64_member(obj, "n")?, &b64_member(obj, "e")?),
            // RFC 8037 §2: crv, x.
            "OKP" => {
                let crv = str_member(obj, "crv")?;
                if crv != "Ed25519" {
                    return Err(JoseError::bad_key(format!(
                        "OKP curve {crv:?} is not supported; use Ed25519"
                    )));
                }
                Jwk::ed25519(b64_member(obj, "x")?)
            }
            other => Err(JoseError::bad_key(format!(
                "key type {other:?} is not supported; use EC, RSA or OKP"
            ))),
        }
    }

    /// Builds and validates an EC key from its affine coordinates.
    pub(crate) fn ec(curve: Curve, x: Vec<u8>, y: Vec<u8>) -> Result<Jwk, JoseError> {
        let want = curve.field_len();
        if x.len() != want || y.len() != want {
            return Err(JoseError::bad_key(format!(
                "{} coordinates must be exactly {want} bytes (x has {}, y has {})",
                curve.name(),
                x.len(),
                y.len()
            )));
        }
        let jwk = Jwk {
            key: KeyData::Ec { curve, x, y },
        };
        // aws-lc checks that the point is on the curve and not the point at infinity.
        ParsedPublicKey::new(curve.verification(), jwk.sec1_point())
            .map_err(|_| JoseError::bad_key(format!("point is not on {}", curve.name())))?;
        Ok(jwk)
    }

    /// Builds and validates an RSA key. Leading zero octets are dropped: RFC 7518 §6.3.1.1
    /// says they MUST NOT be there, and the thumbprint must be the same as a canonical
    /// encoder (Boulder, Pebble) computes.
    pub(crate) fn rsa(n: &[u8], e: &[u8]) -> Result<Jwk, JoseError> {
        let n = strip_zeros(n);
        let e = strip_zeros(e);
        let bits = n
            .first()
            .map_or(0, |b| (n.len() - 1) * 8 + (8 - b.leading_zeros() as usize));
        if !RSA_BITS.contains(&bits) {
            return Err(JoseError::bad_key(format!(
                "RSA modulus has {bits} bits; use 2048 to 8192"
            )));
        }
        if e.is_empty() || e.len() > 8 {
            return Err(JoseError::bad_key("RSA exponent is out of range"));
        }
        let jwk = Jwk {
            key: KeyData::Rsa {
                n: n.to_vec(),
                e: e.to_vec(),
            },
        };
        // aws-lc's RSA_check_key: odd exponent > 1 of sane size, odd modulus.
        ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, jwk.to_spki_der())
            .map_err(|_| JoseError::bad_key("RSA public key is invalid"))?;
        Ok(jwk)
    }

    /// Builds and validates an Ed25519 key.
    pub(crate) fn ed25519(x: Vec<u8>) -> Result<Jwk, JoseError> {
        if x.len() != 32 {
            return Err(JoseError::bad_key(format!(
                "Ed25519 key must be 32 bytes, not {}",
                x.len()
            )));
        }
        ParsedPublicKey::new(&signature::ED25519, &x)
            .map_err(|_| JoseError::bad_key("Ed25519 public key is invalid"))?;
        Ok(Jwk {
            key: KeyData::Ed25519 { x },
        })
    }

    /// The JWK as JSON with only its required public members (the ones RFC 7638 §3.2 lists),
    /// e.g. `{"kty":"EC","crv":"P-256","x":"...","y":"..."}`.
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.members()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), Value::String(v)))
                .collect(),
        )
    }

    /// RFC 7638 JWK thumbprint with SHA-256, base64url without padding. This is the
    /// thumbprint in RFC 8555 §8.1 key authorizations.
    pub fn thumbprint(&self) -> String {
        // RFC 7638 §3.2: the required members only, in lexicographic order, no whitespace.
        // Every value is a base64url string or a fixed name, so no JSON escaping is needed;
        // `members()` already returns them sorted.
        let body = self
            .members()
            .iter()
            .map(|(k, v)| format!("\"{k}\":\"{v}\""))
            .collect::<Vec<_>>()
            .join(",");
        let hash = digest::digest(&digest::SHA256, format!("{{{body}}}").as_bytes());
        base64url::encode(hash.as_ref())
    }

    /// The required members in lexicographic order (RFC 7638 §3.2, §3.3).
    fn members(&self) -> Vec<(&'static str, String)> {
        match &self.key {
            KeyData::Ec { curve, x, y } => vec![
                ("crv", curve.name().to_owned()),
                ("kty", "EC".to_owned()),
                ("x", base64url::encode(x)),
                ("y", base64url::encode(y)),
            ],
            KeyData::Rsa { n, e } => vec![
                ("e", base64url::encode(e)),
                ("kty", "RSA".to_owned()),
                ("n", base64url::encode(n)),
            ],
            KeyData::Ed25519 { x } => vec![
                ("crv", "Ed25519".to_owned()),
                ("kty", "OKP".to_owned()),
                ("x", base64url::encode(x)),
            ],
        }
    }

    /// The JWK `kty`: `"EC"`, `"RSA"` or `"OKP"`.
    pub fn key_type(&self) -> &'static str {
        match self.key {
            KeyData::Ec { .. } => "EC",
            KeyData::Rsa { .. } => "RSA",
            KeyData::Ed25519 { .. } => "OKP",
        }
    }

    /// Whether `alg` can be used with this key: ES256 ↔ P-256, ES384 ↔ P-384, ES512 ↔ P-521,
    /// RS256/PS256 ↔ RSA, EdDSA ↔ Ed25519. Never true for a MAC algorithm.
    pub fn supports(&self, alg: Algorithm) -> bool {
        match &self.key {
            KeyData::Ec { curve, .. } => curve.algorithm() == alg,
            KeyData::Rsa { .. } => matches!(alg, Algorithm::RS256 | Algorithm::PS256),
            KeyData::Ed25519 { .. } => alg == Algorithm::EdDSA,
        }
    }

    /// Verifies a JWS signature over `signing_input` (RFC 7515 §5.2 step 8).
    ///
    /// ECDSA signatures are the fixed-length `R || S` form of RFC 7518 §3.4 (not DER).
    /// Errors: [`JoseError::AlgorithmKeyMismatch`] when the key does not
    /// [support](Jwk::supports) `alg`, [`JoseError::BadSignature`] when the signature is wrong.
    pub fn verify(
        &self,
        alg: Algorithm,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<(), JoseError> {
        if !self.supports(alg) {
            return Err(JoseError::AlgorithmKeyMismatch);
        }
        let result = match &self.key {
            KeyData::Ec { curve, .. } => {
                UnparsedPublicKey::new(curve.verification(), self.sec1_point())
                    .verify(signing_input, signature)
            }
            KeyData::Rsa { n, e } => {
                let params = if alg == Algorithm::PS256 {
                    &signature::RSA_PSS_2048_8192_SHA256
                } else {
                    &signature::RSA_PKCS1_2048_8192_SHA256
                };
                RsaPublicKeyComponents { n, e }.verify(params, signing_input, signature)
            }
            KeyData::Ed25519 { x } => {
                UnparsedPublicKey::new(&signature::ED25519, x).verify(signing_input, signature)
            }
        };
        result.map_err(|_| JoseError::BadSignature)
    }

    /// The uncompressed SEC1 point `04 || x || y` of an EC key; empty for other key types.
    pub(crate) fn sec1_point(&self) -> Vec<u8> {
        match &self.key {
            KeyData::Ec { x, y, .. } => [&[0x04][..], x, y].concat(),
            _ => Vec::new(),
        }
    }
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Jwk");
        d.field("kty", &self.key_type());
        match &self.key {
            KeyData::Ec { curve, .. } => d.field("crv", &curve.name()),
            KeyData::Rsa { n, .. } => d.field("bits", &(n.len() * 8)),
            KeyData::Ed25519 { .. } => d.field("crv", &"Ed25519"),
        };
        d.field("thumbprint", &self.thumbprint()).finish()
    }
}

impl serde::Serialize for Jwk {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Jwk {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Jwk::from_json(&v).map_err(serde::de::Error::custom)
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let skip = b.iter().take_while(|x| **x == 0).count();
    &b[skip..]
}

fn str_member<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, JoseError> {
    match obj.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(JoseError::bad_key(format!(
            "JWK member {name:?} must be a string"
        ))),
        None => Err(JoseError::bad_key(format!(
            "JWK member {name:?} is missing"
        ))),
    }
}

fn b64_member(obj: &Map<String, Value>, name: &str) -> Result<Vec<u8>, JoseError> {
    base64url::decode(str_member(obj, name)?, &format!("JWK member {name:?}")).map_err(
        |e| match e {
            JoseError::Malformed { detail } => JoseError::BadPublicKey { detail },
            other => other,
        },
    )
}
