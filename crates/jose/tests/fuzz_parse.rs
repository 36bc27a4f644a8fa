//! Bounded random-mutation fuzzing of the parsers: no input may panic.
// Test helpers outside #[test] fns may unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use ferrite_jose::eab::ExternalAccountBinding;
use ferrite_jose::sign::external_account_binding;
use ferrite_jose::{Algorithm, Jwk, Jws, KeyRef};
use serde_json::{Value, json};

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..=rng.below(4) {
        let i = rng.below(v.len());
        match rng.below(5) {
            0 if !v.is_empty() => v[i] ^= 1 << rng.below(8),
            1 if !v.is_empty() => v[i] = rng.next() as u8,
            2 => v.insert(i.min(v.len()), b"={}[]\",:.-_A0\\"[rng.below(14)]),
            3 if !v.is_empty() => {
                v.remove(i);
            }
            _ => v.truncate(i),
        }
    }
    v
}

/// Parses and, if that succeeds, verifies; the result is irrelevant, the absence of panics is
/// the property. Returns whether the mutant still verified.
fn exercise(bytes: &[u8], key: &Jwk) -> bool {
    exercise_counting(bytes, key, &mut 0)
}

/// As [`exercise`], counting in `parsed` the inputs that got past parsing.
fn exercise_counting(bytes: &[u8], key: &Jwk, parsed: &mut usize) -> bool {
    match Jws::parse(bytes) {
        Ok(j) => {
            *parsed += 1;
            let _ = j.payload_json::<Value>();
            let k = match &j.protected.key {
                KeyRef::Jwk(k) => k.clone(),
                KeyRef::Kid(_) => key.clone(),
            };
            j.verify(&k).is_ok()
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            false
        }
    }
}

#[test]
fn mutated_bodies_never_panic_and_rarely_verify() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for alg in [Algorithm::ES256, Algorithm::EdDSA, Algorithm::ES512] {
        let k = key(alg);
        let seeds = [
            k.sign(None, Some("n"), "https://u/x", Some(&json!({"a": [1, 2]})))
                .unwrap(),
            k.sign(Some("https://u/acct/1"), Some("n"), "https://u/x", None)
                .unwrap(),
        ];
        for seed in &seeds {
            let bytes = seed.to_string().into_bytes();
            assert!(exercise(&bytes, &k.public_jwk()));
            let (mut verified, mut parsed) = (0, 0);
            for _ in 0..1500 {
                let m = mutate(&mut rng, &bytes);
                if exercise_counting(&m, &k.public_jwk(), &mut parsed) && m != bytes {
                    verified += 1;
                }
            }
            // The mutations must reach past parsing into verification, or this tests little.
            assert!(parsed >= 5, "{alg}: only {parsed} mutants parsed");
            // JSON whitespace/escape mutations can keep the JWS identical; anything else
            // must fail.
            assert!(verified < 30, "{alg}: {verified} mutants verified");
        }
    }
}

#[test]
fn mutated_protected_headers_never_panic() {
    // Mutate the decoded header and re-encode, to reach the header rules past base64.
    let mut rng = Rng(42);
    let k = key(Algorithm::ES384);
    let body = k
        .sign(None, Some("n"), "https://u/x", Some(&json!({})))
        .unwrap();
    let header = unb64(body["protected"].as_str().unwrap());
    for _ in 0..2000 {
        let mut b = body.clone();
        b["protected"] = Value::String(b64(&mutate(&mut rng, &header)));
        exercise(b.to_string().as_bytes(), &k.public_jwk());
        let _ = ExternalAccountBinding::parse(&b);
    }
}

#[test]
fn random_garbage_never_panics() {
    let mut rng = Rng(7);
    let k = key(Algorithm::ES256);
    for _ in 0..3000 {
        let len = rng.below(200);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        assert!(!exercise(&bytes, &k.public_jwk()));
        let _ = Jwk::from_spki_der(&bytes);
    }
}

#[test]
fn mutated_jwks_spkis_and_eabs_never_panic() {
    let mut rng = Rng(1234);
    let k = key(Algorithm::RS256);
    let jwk_bytes = k.public_jwk().to_json().to_string().into_bytes();
    let spki = k.public_jwk().to_spki_der();
    let eab = external_account_binding(
        Algorithm::HS512,
        "kid",
        b"key",
        "https://u",
        &k.public_jwk(),
    )
    .unwrap()
    .to_string()
    .into_bytes();
    for _ in 0..300 {
        if let Ok(v) = serde_json::from_slice::<Value>(&mutate(&mut rng, &jwk_bytes)) {
            let _ = Jwk::from_json(&v);
        }
        let _ = Jwk::from_spki_der(&mutate(&mut rng, &spki));
        if let Ok(v) = serde_json::from_slice::<Value>(&mutate(&mut rng, &eab))
            && let Ok(e) = ExternalAccountBinding::parse(&v)
        {
            let _ = e.verify("https://u", &k.public_jwk(), b"key");
        }
    }
}
