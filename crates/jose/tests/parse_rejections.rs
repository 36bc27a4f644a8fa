//! Every rule `Jws::parse` enforces, each shown to reject.
// Test helpers outside #[test] fns may unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use ferrite_jose::{Algorithm, JoseError, Jws};
use serde_json::{Value, json};

fn valid() -> (ferrite_jose::sign::SigningKey, Value) {
    let k = key(Algorithm::ES256);
    let body = k
        .sign(
            None,
            Some("n"),
            "https://ca.test/new-account",
            Some(&json!({"a": 1})),
        )
        .unwrap();
    (k, body)
}

fn parse(v: &Value) -> Result<Jws, JoseError> {
    Jws::parse(v.to_string().as_bytes())
}

fn assert_malformed(r: Result<Jws, JoseError>, what: &str) {
    match r {
        Err(JoseError::Malformed { detail }) => assert!(!detail.is_empty()),
        other => panic!("{what}: expected Malformed, got {other:?}"),
    }
}

#[test]
fn the_valid_body_parses() {
    let (_, body) = valid();
    parse(&body).unwrap();
}

#[test]
fn body_must_be_a_json_object() {
    assert_malformed(Jws::parse(b""), "empty");
    assert_malformed(Jws::parse(b"not json"), "text");
    assert_malformed(Jws::parse(b"[]"), "array");
    assert_malformed(Jws::parse(b"\"x\""), "string");
    let (_, body) = valid();
    // Compact serialization is not accepted.
    let compact = format!(
        "{}.{}.{}",
        body["protected"].as_str().unwrap(),
        body["payload"].as_str().unwrap(),
        body["signature"].as_str().unwrap()
    );
    assert_malformed(Jws::parse(compact.as_bytes()), "compact");
}

#[test]
fn exactly_three_members() {
    let (_, body) = valid();
    for m in ["protected", "payload", "signature"] {
        let mut b = body.clone();
        b.as_object_mut().unwrap().remove(m);
        assert_malformed(parse(&b), m);
        let mut b = body.clone();
        b[m] = json!(1);
        assert_malformed(parse(&b), &format!("{m} not a string"));
        let mut b = body.clone();
        b[m] = Value::Null;
        assert_malformed(parse(&b), &format!("{m} null"));
    }
    let mut b = body.clone();
    b["header"] = json!({"kid": "x"});
    assert_malformed(parse(&b), "unprotected header");
    let mut b = body.clone();
    b["signatures"] = json!([]);
    assert_malformed(parse(&b), "general serialization");
    let mut b = body.clone();
    b["extra"] = json!("x");
    assert_malformed(parse(&b), "extra member");
}

#[test]
fn base64url_must_be_unpadded_and_valid() {
    let (_, body) = valid();
    for m in ["protected", "payload", "signature"] {
        let s = body[m].as_str().unwrap().to_owned();
        // A prefix whose length is 1 mod 4 can never be valid base64.
        let cut = (1..s.len()).rev().find(|l| l % 4 == 1).unwrap();
        let bad = [
            format!("{s}="),
            format!("{s}=="),
            format!("{s}!"),
            format!("{s} "),
            format!(" {s}"),
            format!("+{}", &s[1..]),
            format!("/{}", &s[1..]),
            s[..cut].to_string(),
        ];
        for variant in bad {
            let mut b = body.clone();
            b[m] = Value::String(variant.clone());
            assert_malformed(parse(&b), &format!("{m} = {variant:?}"));
        }
    }
}

#[test]
fn padding_is_rejected_where_it_would_be_legal_base64() {
    let (_, body) = valid();
    // "{}" encodes to "e30" (3 chars) -> padded "e30=".
    let mut b = body.clone();
    b["payload"] = json!("e30=");
    assert_malformed(parse(&b), "padded payload");
    let mut b = body.clone();
    b["payload"] = json!("e30");
    assert_eq!(parse(&b).unwrap().payload, b"{}");
    // Non-canonical trailing bits: "e31" also decodes to "{}" in lax decoders.
    let mut b = body.clone();
    b["payload"] = json!("e31");
    assert_malformed(parse(&b), "trailing bits");
}

#[test]
fn protected_header_must_be_an_object_with_alg() {
    let (_, body) = valid();
    for bad in [b"not json".as_slice(), b"[1]", b"\"alg\"", b"null", b""] {
        let mut b = body.clone();
        b["protected"] = Value::String(b64(bad));
        assert_malformed(parse(&b), &String::from_utf8_lossy(bad));
    }
    let mut h = protected_of(&body);
    h.as_object_mut().unwrap().remove("alg");
    assert_malformed(parse(&with_protected(&body, &h)), "no alg");
    let mut h = protected_of(&body);
    h["alg"] = json!(256);
    assert_malformed(parse(&with_protected(&body, &h)), "alg not a string");
    let mut h = protected_of(&body);
    h["crit"] = json!(["b64"]);
    h["b64"] = json!(false);
    assert_malformed(parse(&with_protected(&body, &h)), "crit");
}

#[test]
fn exactly_one_of_jwk_and_kid() {
    let (_, body) = valid();
    let mut h = protected_of(&body);
    h["kid"] = json!("https://ca.test/acct/1");
    assert_malformed(parse(&with_protected(&body, &h)), "both");
    let mut h = protected_of(&body);
    h.as_object_mut().unwrap().remove("jwk");
    assert_malformed(parse(&with_protected(&body, &h)), "neither");
    let mut h = protected_of(&body);
    h.as_object_mut().unwrap().remove("jwk");
    h["kid"] = json!("");
    assert_malformed(parse(&with_protected(&body, &h)), "empty kid");
    h["kid"] = json!(7);
    assert_malformed(parse(&with_protected(&body, &h)), "kid number");
    h["kid"] = json!("https://ca.test/acct/1");
    parse(&with_protected(&body, &h)).unwrap();
}

#[test]
fn nonce_and_url_must_be_strings_when_present() {
    let (_, body) = valid();
    for m in ["nonce", "url"] {
        let mut h = protected_of(&body);
        h[m] = json!(1);
        assert_malformed(parse(&with_protected(&body, &h)), m);
        let mut h = protected_of(&body);
        h.as_object_mut().unwrap().remove(m);
        let j = parse(&with_protected(&body, &h)).unwrap();
        assert!(if m == "nonce" {
            j.protected.nonce.is_none()
        } else {
            j.protected.url.is_none()
        });
    }
}

#[test]
fn none_unknown_and_mac_algorithms_are_bad_signature_algorithm() {
    let (_, body) = valid();
    for alg in [
        "none", "None", "RS512", "ES256K", "", "HS256", "HS384", "HS512", "es256",
    ] {
        let mut h = protected_of(&body);
        h["alg"] = json!(alg);
        match parse(&with_protected(&body, &h)) {
            Err(JoseError::BadSignatureAlgorithm { alg: a }) => assert_eq!(a, alg),
            other => panic!("{alg}: {other:?}"),
        }
    }
    // With kid too (no jwk to blame).
    let mut h = protected_of(&body);
    h.as_object_mut().unwrap().remove("jwk");
    h["kid"] = json!("k");
    h["alg"] = json!("HS256");
    assert!(matches!(
        parse(&with_protected(&body, &h)),
        Err(JoseError::BadSignatureAlgorithm { .. })
    ));
}

#[test]
fn unparseable_jwk_is_bad_public_key() {
    let (_, body) = valid();
    let good = protected_of(&body)["jwk"].clone();
    let mut private = good.clone();
    private["d"] = json!(b64(&[1u8; 32]));
    let mut short_x = good.clone();
    short_x["x"] = json!(b64(&[1u8; 31]));
    let mut off_curve = good.clone();
    let mut y = unb64(good["y"].as_str().unwrap());
    y[31] ^= 1;
    off_curve["y"] = json!(b64(&y));
    for (what, jwk) in [
        ("not an object", json!("jwk")),
        ("private", private),
        ("short x", short_x),
        ("off curve", off_curve),
        ("kty oct", json!({"kty": "oct", "k": "AAAA"})),
        ("kty unknown", json!({"kty": "XYZ"})),
        ("no kty", json!({"crv": "P-256"})),
    ] {
        let mut h = protected_of(&body);
        h["jwk"] = jwk;
        match parse(&with_protected(&body, &h)) {
            Err(JoseError::BadPublicKey { .. }) => {}
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[test]
fn jwk_that_does_not_fit_alg_is_algorithm_key_mismatch() {
    let (_, body) = valid(); // P-256 jwk
    for alg in ["ES384", "ES512", "RS256", "PS256", "EdDSA"] {
        let mut h = protected_of(&body);
        h["alg"] = json!(alg);
        assert_eq!(
            parse(&with_protected(&body, &h)).unwrap_err(),
            JoseError::AlgorithmKeyMismatch,
            "{alg}"
        );
    }
    let rsa = key(Algorithm::RS256);
    let mut h = protected_of(&body);
    h["jwk"] = rsa.public_jwk().to_json();
    assert_eq!(
        parse(&with_protected(&body, &h)).unwrap_err(),
        JoseError::AlgorithmKeyMismatch
    );
}

#[test]
fn payload_json_reports_serde_message() {
    let (k, _) = valid();
    let body = k.sign_raw(&header(&k), b"{\"a\": ").unwrap();
    let jws = parse(&body).unwrap();
    jws.verify(&k.public_jwk()).unwrap();
    match jws.payload_json::<Value>() {
        Err(JoseError::Malformed { detail }) => assert!(detail.contains("EOF"), "{detail}"),
        other => panic!("{other:?}"),
    }
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Needs {
        contact: Vec<String>,
    }
    let body = k.sign_raw(&header(&k), br#"{"contact": 5}"#).unwrap();
    match parse(&body).unwrap().payload_json::<Needs>() {
        Err(JoseError::Malformed { detail }) => {
            assert!(detail.contains("invalid type"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
}
