//! JWK parsing, thumbprints and SPKI conversion.
// Test helpers outside #[test] fns may unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use common::*;
use ferrite_jose::{Algorithm, JoseError, Jwk};
use serde_json::{Value, json};

const RFC7638_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

fn bad_key(v: Value, what: &str) {
    match Jwk::from_json(&v) {
        Err(JoseError::BadPublicKey { detail }) => assert!(!detail.is_empty()),
        other => panic!("{what}: expected BadPublicKey, got {other:?}"),
    }
}

#[test]
fn rfc7638_section_3_1_thumbprint() {
    let jwk = Jwk::from_json(&json!({
        "kty": "RSA",
        "n": RFC7638_N,
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29"
    }))
    .unwrap();
    assert_eq!(
        jwk.thumbprint(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
    // Optional members are dropped; the canonical JSON has the required ones only.
    assert_eq!(
        jwk.to_json(),
        json!({"kty": "RSA", "n": RFC7638_N, "e": "AQAB"})
    );
    assert!(jwk.supports(Algorithm::RS256) && jwk.supports(Algorithm::PS256));
    assert!(!jwk.supports(Algorithm::ES256) && !jwk.supports(Algorithm::HS256));
}

#[test]
fn rsa_leading_zero_is_canonicalized() {
    let mut n = vec![0u8];
    n.extend(unb64(RFC7638_N));
    let jwk = Jwk::from_json(&json!({"kty": "RSA", "n": b64(&n), "e": "AAEAAQ"})).unwrap();
    assert_eq!(
        jwk.thumbprint(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

#[test]
fn thumbprints_match_a_hand_built_rfc7638_input() {
    for k in all_keys() {
        let jwk = k.public_jwk();
        let j = jwk.to_json();
        let input = match jwk.key_type() {
            "EC" => format!(
                r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                j["crv"].as_str().unwrap(),
                j["x"].as_str().unwrap(),
                j["y"].as_str().unwrap()
            ),
            "RSA" => format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                j["e"].as_str().unwrap(),
                j["n"].as_str().unwrap()
            ),
            _ => format!(
                r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                j["x"].as_str().unwrap()
            ),
        };
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, input.as_bytes());
        assert_eq!(jwk.thumbprint(), b64(d.as_ref()), "{}", k.algorithm());
        // JSON round trip and serde.
        assert_eq!(Jwk::from_json(&j).unwrap(), jwk);
        let via_serde: Jwk = serde_json::from_value(serde_json::to_value(&jwk).unwrap()).unwrap();
        assert_eq!(via_serde, jwk);
        assert!(format!("{jwk:?}").contains(&jwk.thumbprint()));
    }
}

#[test]
fn ec_coordinates_must_be_exact_length_and_on_curve() {
    for (alg, crv, len) in [
        (Algorithm::ES256, "P-256", 32),
        (Algorithm::ES384, "P-384", 48),
        (Algorithm::ES512, "P-521", 66),
    ] {
        let jwk = key(alg).public_jwk().to_json();
        assert_eq!(jwk["crv"], crv);
        let x = unb64(jwk["x"].as_str().unwrap());
        let y = unb64(jwk["y"].as_str().unwrap());
        assert_eq!((x.len(), y.len()), (len, len));

        let mut v = jwk.clone();
        v["x"] = json!(b64(&x[1..]));
        bad_key(v, "short x");
        let mut v = jwk.clone();
        v["y"] = json!(b64(&[&[0u8][..], &y].concat()));
        bad_key(v, "long y");
        let mut v = jwk.clone();
        let mut y2 = y.clone();
        y2[len - 1] ^= 1;
        v["y"] = json!(b64(&y2));
        bad_key(v, "off curve");
        let mut v = jwk.clone();
        v["x"] = json!(b64(&vec![0u8; len]));
        v["y"] = json!(b64(&vec![0u8; len]));
        bad_key(v, "zero point");
        let mut v = jwk.clone();
        v["crv"] = json!(if crv == "P-256" { "P-384" } else { "P-256" });
        bad_key(v, "wrong crv for length");
        let mut v = jwk.clone();
        v.as_object_mut().unwrap().remove("y");
        bad_key(v, "no y");
        let mut v = jwk.clone();
        v["x"] = json!(jwk["x"].as_str().unwrap().to_owned() + "=");
        bad_key(v, "padded x");
    }
}

#[test]
fn unsupported_and_private_keys_are_rejected() {
    let ec = key(Algorithm::ES256).public_jwk().to_json();
    for m in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
        let mut v = ec.clone();
        v[m] = json!("AQAB");
        bad_key(v, m);
    }
    let mut v = ec.clone();
    v["crv"] = json!("secp256k1");
    bad_key(v, "secp256k1");
    bad_key(json!({"kty": "oct", "k": "AAAA"}), "oct");
    bad_key(
        json!({"kty": "OKP", "crv": "X25519", "x": b64(&[9u8; 32])}),
        "X25519",
    );
    bad_key(
        json!({"kty": "OKP", "crv": "Ed448", "x": b64(&[9u8; 57])}),
        "Ed448",
    );
    bad_key(
        json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&[9u8; 31])}),
        "short Ed25519",
    );
    bad_key(json!({"kty": "ec"}), "lowercase kty");
    bad_key(json!({"kty": 1}), "kty number");
    bad_key(json!([]), "array");
    // RSA modulus size bounds.
    let n_1024 = {
        let mut n = vec![0xc5u8; 128];
        n[127] |= 1;
        n
    };
    bad_key(
        json!({"kty": "RSA", "n": b64(&n_1024), "e": "AQAB"}),
        "1024-bit",
    );
    let n_8200 = {
        let mut n = vec![0xc5u8; 1025];
        n[1024] |= 1;
        n
    };
    bad_key(
        json!({"kty": "RSA", "n": b64(&n_8200), "e": "AQAB"}),
        "8200-bit",
    );
    bad_key(json!({"kty": "RSA", "n": RFC7638_N, "e": ""}), "empty e");
    bad_key(json!({"kty": "RSA", "n": RFC7638_N, "e": "AAAA"}), "zero e");
    bad_key(json!({"kty": "RSA", "n": RFC7638_N, "e": "Ag"}), "even e");
    bad_key(json!({"kty": "RSA", "n": RFC7638_N}), "no e");
}

#[test]
fn spki_round_trip_matches_aws_lc_encoding() {
    for k in all_keys() {
        let jwk = k.public_jwk();
        let spki = jwk.to_spki_der();
        // aws-lc's own SubjectPublicKeyInfo for the same private key.
        let theirs: Vec<u8> = match k.algorithm() {
            Algorithm::ES256 | Algorithm::ES384 | Algorithm::ES512 => {
                let alg = match k.algorithm() {
                    Algorithm::ES256 => &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    Algorithm::ES384 => &aws_lc_rs::signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                    _ => &aws_lc_rs::signature::ECDSA_P521_SHA512_FIXED_SIGNING,
                };
                let pair = EcdsaKeyPair::from_pkcs8(alg, &k.pkcs8_der()).unwrap();
                pair.public_key().as_der().unwrap().as_ref().to_vec()
            }
            Algorithm::RS256 | Algorithm::PS256 => {
                let pair = RsaKeyPair::from_pkcs8(&k.pkcs8_der()).unwrap();
                pair.public_key().as_der().unwrap().as_ref().to_vec()
            }
            _ => {
                let pair = Ed25519KeyPair::from_pkcs8(&k.pkcs8_der()).unwrap();
                pair.public_key().as_der().unwrap().as_ref().to_vec()
            }
        };
        assert_eq!(spki, theirs, "{}", k.algorithm());
        assert_eq!(Jwk::from_spki_der(&spki).unwrap(), jwk, "{}", k.algorithm());
    }
    // The RFC 7638 RSA key, which has a high bit set in n (needs a DER leading zero).
    let jwk = Jwk::from_json(&json!({"kty": "RSA", "n": RFC7638_N, "e": "AQAB"})).unwrap();
    assert_eq!(Jwk::from_spki_der(&jwk.to_spki_der()).unwrap(), jwk);
}

#[test]
fn bad_spkis_are_rejected() {
    let spki = key(Algorithm::ES256).public_jwk().to_spki_der();
    let rejects = |der: &[u8], what: &str| match Jwk::from_spki_der(der) {
        Err(JoseError::BadPublicKey { .. }) => {}
        other => panic!("{what}: {other:?}"),
    };
    rejects(&[], "empty");
    rejects(&[spki.clone(), vec![0]].concat(), "trailing byte");
    rejects(&spki[..spki.len() - 1], "truncated");
    let mut off = spki.clone();
    let last = off.len() - 1;
    off[last] ^= 1;
    rejects(&off, "point off curve");
    let mut compressed = spki.clone();
    // Flip the 04 point prefix (located right after the BIT STRING's unused-bits octet).
    let bs = compressed.len() - 65;
    assert_eq!(compressed[bs], 0x04);
    compressed[bs] = 0x02;
    rejects(&compressed, "not uncompressed");
    for i in 0..spki.len() {
        let mut m = spki.clone();
        m[i] ^= 0x40;
        // Any single flip must give an error or (rarely) another valid key, never a panic.
        if let Ok(j) = Jwk::from_spki_der(&m) {
            assert_eq!(j.to_spki_der(), m);
        }
    }
}
