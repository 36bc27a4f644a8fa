//! Producing JWS: key pairs for every account-key algorithm and EAB MACs, for the testkit,
//! the bench and tests. The CA itself never signs a JWS.

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use serde_json::{Map, Value, json};

use crate::der::{self, Reader};
use crate::jwk::Curve;
use crate::{Algorithm, JoseError, Jwk, base64url};

/// PKCS#8 private key bytes; `Debug` never shows them.
struct Pkcs8(Vec<u8>);

impl fmt::Debug for Pkcs8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

enum Pair {
    Ecdsa(EcdsaKeyPair),
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A private key that signs JWS with one [`Algorithm`] (ES256/384/512, RS256, PS256, EdDSA).
///
/// `Debug` prints the algorithm and `[redacted]`, never key material.
pub struct SigningKey {
    alg: Algorithm,
    pair: Pair,
    pkcs8: Pkcs8,
    /// Cached: computing it for RSA means DER-parsing the public key.
    jwk: Jwk,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("private_key", &self.pkcs8)
            .finish()
    }
}

fn crypto(detail: &'static str) -> impl Fn(aws_lc_rs::error::Unspecified) -> JoseError {
    move |_| JoseError::Crypto { detail }
}

fn ecdsa_signing(alg: Algorithm) -> Option<(&'static signature::EcdsaSigningAlgorithm, Curve)> {
    match alg {
        Algorithm::ES256 => Some((&signature::ECDSA_P256_SHA256_FIXED_SIGNING, Curve::P256)),
        Algorithm::ES384 => Some((&signature::ECDSA_P384_SHA384_FIXED_SIGNING, Curve::P384)),
        Algorithm::ES512 => Some((&signature::ECDSA_P521_SHA512_FIXED_SIGNING, Curve::P521)),
        _ => None,
    }
}

impl SigningKey {
    /// Generates a fresh key: P-256/P-384/P-521 for ES256/ES384/ES512, RSA 2048 for
    /// RS256/PS256, Ed25519 for EdDSA.
    ///
    /// Errors: [`JoseError::BadSignatureAlgorithm`] for HS256/384/512 (use
    /// [`external_account_binding`] for MACs), [`JoseError::Crypto`] if generation fails.
    pub fn generate(alg: Algorithm) -> Result<SigningKey, JoseError> {
        let pkcs8 = match alg {
            Algorithm::ES256 | Algorithm::ES384 | Algorithm::ES512 => {
                let (signing, _) = ecdsa_signing(alg).ok_or(JoseError::Crypto {
                    detail: "no ECDSA parameters",
                })?;
                EcdsaKeyPair::generate(signing)
                    .and_then(|k| k.to_pkcs8v1())
                    .map_err(crypto("ECDSA key generation"))?
                    .as_ref()
                    .to_vec()
            }
            Algorithm::RS256 | Algorithm::PS256 => RsaKeyPair::generate(KeySize::Rsa2048)
                .and_then(|k| k.as_der())
                .map_err(crypto("RSA key generation"))?
                .as_ref()
                .to_vec(),
            Algorithm::EdDSA => Ed25519KeyPair::generate()
                .and_then(|k| k.to_pkcs8v1())
                .map_err(crypto("Ed25519 key generation"))?
                .as_ref()
                .to_vec(),
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                return Err(JoseError::BadSignatureAlgorithm {
                    alg: alg.name().to_owned(),
                });
            }
        };
        SigningKey::from_pkcs8(alg, &pkcs8)
    }

    /// Loads a PKCS#8 private key (as [`SigningKey::pkcs8_der`] returns) for `alg`.
    ///
    /// Errors: [`JoseError::BadSignatureAlgorithm`] for MAC algorithms,
    /// [`JoseError::BadPublicKey`] if the key does not parse or does not fit `alg`.
    pub fn from_pkcs8(alg: Algorithm, pkcs8: &[u8]) -> Result<SigningKey, JoseError> {
        let rejected = |_| JoseError::bad_key(format!("PKCS#8 key is not a valid {alg} key"));
        let (pair, jwk) = match alg {
            Algorithm::ES256 | Algorithm::ES384 | Algorithm::ES512 => {
                let (signing, curve) = ecdsa_signing(alg).ok_or(JoseError::Crypto {
                    detail: "no ECDSA parameters",
                })?;
                let pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8).map_err(rejected)?;
                // The public key is the uncompressed point 04 || x || y.
                let point = pair.public_key().as_ref();
                let n = curve.field_len();
                let jwk = match point {
                    [0x04, xy @ ..] if xy.len() == 2 * n => {
                        Jwk::ec(curve, xy[..n].to_vec(), xy[n..].to_vec())?
                    }
                    _ => return Err(JoseError::bad_key("unexpected EC public key encoding")),
                };
                (Pair::Ecdsa(pair), jwk)
            }
            Algorithm::RS256 | Algorithm::PS256 => {
                let pair = RsaKeyPair::from_pkcs8(pkcs8).map_err(rejected)?;
                // RFC 8017 RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
                let bad = || JoseError::bad_key("unexpected RSA public key encoding");
                let mut outer = Reader::new(pair.public_key().as_ref());
                let mut seq = Reader::new(outer.read(der::SEQUENCE).ok_or_else(bad)?);
                let n = seq.read_unsigned().ok_or_else(bad)?;
                let e = seq.read_unsigned().ok_or_else(bad)?;
                let jwk = Jwk::rsa(n, e)?;
                (Pair::Rsa(pair), jwk)
            }
            Algorithm::EdDSA => {
                let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(rejected)?;
                let jwk = Jwk::ed25519(pair.public_key().as_ref().to_vec())?;
                (Pair::Ed25519(pair), jwk)
            }
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                return Err(JoseError::BadSignatureAlgorithm {
                    alg: alg.name().to_owned(),
                });
            }
        };
        Ok(SigningKey {
            alg,
            pair,
            pkcs8: Pkcs8(pkcs8.to_vec()),
            jwk,
        })
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The public key as a JWK.
    pub fn public_jwk(&self) -> Jwk {
        self.jwk.clone()
    }

    /// The private key as PKCS#8 DER, for tests that need the key elsewhere (e.g. to build a
    /// CSR or certificate with the same key).
    pub fn pkcs8_der(&self) -> Vec<u8> {
        self.pkcs8.0.clone()
    }

    /// Signs `message` and returns the JWS signature bytes (fixed-length `R || S` for ECDSA,
    /// RFC 7518 §3.4).
    pub fn sign_bytes(&self, message: &[u8]) -> Result<Vec<u8>, JoseError> {
        let rng = SystemRandom::new();
        match &self.pair {
            Pair::Ecdsa(k) => Ok(k
                .sign(&rng, message)
                .map_err(crypto("ECDSA signing"))?
                .as_ref()
                .to_vec()),
            Pair::Rsa(k) => {
                let padding: &'static dyn signature::RsaEncoding = if self.alg == Algorithm::PS256 {
                    &signature::RSA_PSS_SHA256
                } else {
                    &signature::RSA_PKCS1_SHA256
                };
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(padding, &rng, message, &mut sig)
                    .map_err(crypto("RSA signing"))?;
                Ok(sig)
            }
            Pair::Ed25519(k) => Ok(k.sign(message).as_ref().to_vec()),
        }
    }

    /// Builds a flattened JWS (RFC 7515 §7.2.2) as RFC 8555 §6.2 wants it.
    ///
    /// The header is `{alg, kid | jwk, nonce?, url}`: `kid` when `kid` is `Some`, otherwise this
    /// key's `jwk`. `payload` `None` gives POST-as-GET (the empty string); `Some(v)` the JSON
    /// serialization of `v`.
    pub fn sign(
        &self,
        kid: Option<&str>,
        nonce: Option<&str>,
        url: &str,
        payload: Option<&Value>,
    ) -> Result<Value, JoseError> {
        let mut header = Map::new();
        header.insert("alg".into(), self.alg.name().into());
        match kid {
            Some(kid) => header.insert("kid".into(), kid.into()),
            None => header.insert("jwk".into(), self.jwk.to_json()),
        };
        if let Some(nonce) = nonce {
            header.insert("nonce".into(), nonce.into());
        }
        header.insert("url".into(), url.into());
        let payload = payload.map(Value::to_string).unwrap_or_default();
        self.sign_raw(&header, payload.as_bytes())
    }

    /// Builds a flattened JWS with exactly the given protected header and payload bytes, for
    /// tests that need requests [`SigningKey::sign`] would never make.
    pub fn sign_raw(
        &self,
        protected: &Map<String, Value>,
        payload: &[u8],
    ) -> Result<Value, JoseError> {
        let protected = base64url::encode(Value::Object(protected.clone()).to_string().as_bytes());
        let payload = base64url::encode(payload);
        let signature = self.sign_bytes(format!("{protected}.{payload}").as_bytes())?;
        Ok(json!({
            "protected": protected,
            "payload": payload,
            "signature": base64url::encode(&signature),
        }))
    }
}

/// Builds an `externalAccountBinding` JWS value (RFC 8555 §7.3.4): protected header
/// `{alg, kid, url}`, payload the account's JWK, MAC with `mac_key`.
///
/// Errors with [`JoseError::EabNotMac`] unless `alg` is HS256, HS384 or HS512.
pub fn external_account_binding(
    alg: Algorithm,
    kid: &str,
    mac_key: &[u8],
    url: &str,
    account_jwk: &Jwk,
) -> Result<Value, JoseError> {
    let algorithm = alg.hmac().ok_or(JoseError::EabNotMac)?;
    let protected = base64url::encode(
        json!({"alg": alg.name(), "kid": kid, "url": url})
            .to_string()
            .as_bytes(),
    );
    let payload = base64url::encode(account_jwk.to_json().to_string().as_bytes());
    let tag = hmac::sign(
        &hmac::Key::new(algorithm, mac_key),
        format!("{protected}.{payload}").as_bytes(),
    );
    Ok(json!({
        "protected": protected,
        "payload": payload,
        "signature": base64url::encode(tag.as_ref()),
    }))
}
