//! sign → parse → verify for every algorithm.
// Test helpers outside #[test] fns may unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use ferrite_jose::sign::SigningKey;
use ferrite_jose::{ACCOUNT_KEY_ALGORITHMS, Algorithm, JoseError, Jws, KeyRef};
use serde_json::{Value, json};

#[test]
fn every_algorithm_round_trips_with_jwk_and_kid() {
    let keys = all_keys();
    assert_eq!(keys.len(), 6);
    for k in &keys {
        let alg = k.algorithm();
        let payload = json!({"termsOfServiceAgreed": true, "contact": ["mailto:a@example.com"]});
        let body = k
            .sign(
                None,
                Some("nonce-1"),
                "https://ca.test/new-account",
                Some(&payload),
            )
            .unwrap();
        let jws = Jws::parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(jws.protected.alg, alg);
        assert_eq!(jws.protected.nonce.as_deref(), Some("nonce-1"));
        assert_eq!(
            jws.protected.url.as_deref(),
            Some("https://ca.test/new-account")
        );
        let KeyRef::Jwk(jwk) = &jws.protected.key else {
            panic!("{alg}: expected jwk");
        };
        assert_eq!(jwk, &k.public_jwk());
        jws.verify(jwk).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(jws.payload_json::<Value>().unwrap(), payload);
        assert!(!jws.is_post_as_get());

        // kid form, POST-as-GET
        let body = k
            .sign(
                Some("https://ca.test/acct/1"),
                Some("n2"),
                "https://ca.test/order/1",
                None,
            )
            .unwrap();
        assert_eq!(body["payload"], "");
        let jws = Jws::parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(
            jws.protected.key,
            KeyRef::Kid("https://ca.test/acct/1".into())
        );
        assert!(jws.payload.is_empty() && jws.is_post_as_get());
        jws.verify(&k.public_jwk()).unwrap();
        assert!(matches!(
            jws.payload_json::<Value>(),
            Err(JoseError::Malformed { .. })
        ));
    }
}

#[test]
fn ecdsa_signatures_are_fixed_length() {
    for (alg, len) in [
        (Algorithm::ES256, 64),
        (Algorithm::ES384, 96),
        (Algorithm::ES512, 132),
    ] {
        let k = key(alg);
        let body = k.sign(Some("k"), Some("n"), "https://u", None).unwrap();
        let jws = Jws::from_value(&body).unwrap();
        assert_eq!(jws.signature().len(), len, "{alg}");
    }
}

#[test]
fn verification_fails_for_tampering_wrong_key_and_wrong_alg() {
    let keys = all_keys();
    for k in &keys {
        let alg = k.algorithm();
        let body = k
            .sign(
                Some("kid"),
                Some("n"),
                "https://ca.test/x",
                Some(&json!({"a": 1})),
            )
            .unwrap();

        // Tampered payload: same header, different payload.
        let mut tampered = body.clone();
        tampered["payload"] = Value::String(b64(br#"{"a":2}"#));
        let jws = Jws::from_value(&tampered).unwrap();
        assert_eq!(
            jws.verify(&k.public_jwk()),
            Err(JoseError::BadSignature),
            "{alg}"
        );

        // Tampered signature.
        let mut sig = unb64(body["signature"].as_str().unwrap());
        sig[3] ^= 1;
        let mut tampered = body.clone();
        tampered["signature"] = Value::String(b64(&sig));
        let jws = Jws::from_value(&tampered).unwrap();
        assert_eq!(
            jws.verify(&k.public_jwk()),
            Err(JoseError::BadSignature),
            "{alg}"
        );

        // Truncated signature.
        let mut tampered = body.clone();
        tampered["signature"] = Value::String(b64(&sig[..sig.len() - 1]));
        let jws = Jws::from_value(&tampered).unwrap();
        assert_eq!(
            jws.verify(&k.public_jwk()),
            Err(JoseError::BadSignature),
            "{alg}"
        );

        // Another key of the same type.
        let other = SigningKey::generate(alg).unwrap();
        let jws = Jws::from_value(&body).unwrap();
        assert_eq!(
            jws.verify(&other.public_jwk()),
            Err(JoseError::BadSignature),
            "{alg}"
        );
        jws.verify(&k.public_jwk()).unwrap();

        // A key of another type (the kid case: stored key does not fit alg).
        for o in keys.iter().filter(|o| o.algorithm() != alg) {
            let expect = if o.public_jwk().supports(alg) {
                Err(JoseError::BadSignature) // RS256 vs PS256 share RSA keys
            } else {
                Err(JoseError::AlgorithmKeyMismatch)
            };
            assert_eq!(
                jws.verify(&o.public_jwk()),
                expect,
                "{alg} with {}",
                o.algorithm()
            );
        }
    }
}

#[test]
fn rs256_and_ps256_are_not_interchangeable() {
    let k = key(Algorithm::RS256);
    let pkcs8 = k.pkcs8_der();
    let ps = SigningKey::from_pkcs8(Algorithm::PS256, &pkcs8).unwrap();
    assert_eq!(ps.public_jwk(), k.public_jwk());
    let body = k.sign(Some("k"), Some("n"), "https://u", None).unwrap();
    let jws = Jws::from_value(&body).unwrap();
    let sig = jws.signature().to_vec();
    let jwk = k.public_jwk();
    jwk.verify(Algorithm::RS256, jws.signing_input(), &sig)
        .unwrap();
    assert_eq!(
        jwk.verify(Algorithm::PS256, jws.signing_input(), &sig),
        Err(JoseError::BadSignature)
    );
}

#[test]
fn pkcs8_reload_keeps_the_key() {
    for k in all_keys() {
        let again = SigningKey::from_pkcs8(k.algorithm(), &k.pkcs8_der()).unwrap();
        assert_eq!(again.public_jwk(), k.public_jwk());
        let body = again.sign(None, Some("n"), "https://u", None).unwrap();
        Jws::from_value(&body)
            .unwrap()
            .verify(&k.public_jwk())
            .unwrap();
    }
    // Wrong algorithm for the key.
    let ec = key(Algorithm::ES256);
    assert!(matches!(
        SigningKey::from_pkcs8(Algorithm::ES384, &ec.pkcs8_der()),
        Err(JoseError::BadPublicKey { .. })
    ));
    assert!(matches!(
        SigningKey::from_pkcs8(Algorithm::RS256, &ec.pkcs8_der()),
        Err(JoseError::BadPublicKey { .. })
    ));
}

#[test]
fn generate_refuses_mac_algorithms_and_debug_is_redacted() {
    for a in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        assert!(matches!(
            SigningKey::generate(a),
            Err(JoseError::BadSignatureAlgorithm { .. })
        ));
    }
    for k in all_keys() {
        let dbg = format!("{k:?}");
        assert!(dbg.contains("[redacted]"), "{dbg}");
        let pkcs8_b64 = b64(&k.pkcs8_der());
        assert!(!dbg.contains(&pkcs8_b64[..16]));
        assert!(dbg.len() < 100, "{dbg}");
    }
    assert_eq!(ACCOUNT_KEY_ALGORITHMS.len(), 6);
}

#[test]
fn key_change_inner_jws_parses_without_nonce() {
    // RFC 8555 §7.3.5: inner JWS has jwk (new key) and url, no nonce.
    let old = key(Algorithm::ES256);
    let new = key(Algorithm::EdDSA);
    let url = "https://ca.test/key-change";
    let inner = new
        .sign(
            None,
            None,
            url,
            Some(&json!({"account": "https://ca.test/acct/1", "oldKey": old.public_jwk()})),
        )
        .unwrap();
    let outer = old
        .sign(Some("https://ca.test/acct/1"), Some("n"), url, Some(&inner))
        .unwrap();
    let outer = Jws::parse(outer.to_string().as_bytes()).unwrap();
    outer.verify(&old.public_jwk()).unwrap();
    let inner_v: Value = outer.payload_json().unwrap();
    let inner = Jws::from_value(&inner_v).unwrap();
    assert_eq!(inner.protected.nonce, None);
    assert_eq!(inner.protected.url.as_deref(), Some(url));
    let KeyRef::Jwk(jwk) = &inner.protected.key else {
        panic!("jwk expected")
    };
    inner.verify(jwk).unwrap();
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct KeyChange {
        account: String,
        old_key: ferrite_jose::Jwk,
    }
    let kc: KeyChange = inner.payload_json().unwrap();
    assert_eq!(kc.account, "https://ca.test/acct/1");
    assert_eq!(kc.old_key, old.public_jwk());
}
