//! External account binding (RFC 8555 §7.3.4): success and each failure.
// Test helpers outside #[test] fns may unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use ferrite_jose::eab::ExternalAccountBinding;
use ferrite_jose::sign::external_account_binding;
use ferrite_jose::{Algorithm, JoseError, Jws, KeyRef};
use serde_json::{Value, json};

const URL: &str = "https://ca.test/acme/new-account";
const MAC_KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

#[test]
fn newaccount_with_eab_verifies_for_every_mac_alg() {
    for mac in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        let account = key(Algorithm::ES256);
        let eab =
            external_account_binding(mac, "kid-1", MAC_KEY, URL, &account.public_jwk()).unwrap();
        let body = account
            .sign(
                None,
                Some("n"),
                URL,
                Some(&json!({"termsOfServiceAgreed": true, "externalAccountBinding": eab})),
            )
            .unwrap();
        // The server's view: parse outer, verify, then the EAB.
        let outer = Jws::parse(body.to_string().as_bytes()).unwrap();
        let KeyRef::Jwk(jwk) = &outer.protected.key else {
            panic!()
        };
        outer.verify(jwk).unwrap();
        let payload: Value = outer.payload_json().unwrap();
        let eab = ExternalAccountBinding::parse(&payload["externalAccountBinding"]).unwrap();
        assert_eq!(eab.kid, "kid-1");
        assert_eq!(eab.alg, mac);
        assert_eq!(eab.url, URL);
        eab.verify(outer.protected.url.as_deref().unwrap(), jwk, MAC_KEY)
            .unwrap();
    }
}

fn eab_value() -> (ferrite_jose::sign::SigningKey, Value) {
    let account = key(Algorithm::EdDSA);
    let v = external_account_binding(
        Algorithm::HS256,
        "kid-1",
        MAC_KEY,
        URL,
        &account.public_jwk(),
    )
    .unwrap();
    (account, v)
}

fn resign(header: &Value, payload: &[u8], mac_key: &[u8]) -> Value {
    let p = b64(header.to_string().as_bytes());
    let pl = b64(payload);
    let tag = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, mac_key),
        format!("{p}.{pl}").as_bytes(),
    );
    json!({"protected": p, "payload": pl, "signature": b64(tag.as_ref())})
}

#[test]
fn url_mismatch() {
    let (account, v) = eab_value();
    let eab = ExternalAccountBinding::parse(&v).unwrap();
    assert_eq!(
        eab.verify(
            "https://ca.test/acme/new-acct",
            &account.public_jwk(),
            MAC_KEY
        ),
        Err(JoseError::EabUrlMismatch)
    );
}

#[test]
fn key_mismatch() {
    let (account, v) = eab_value();
    let eab = ExternalAccountBinding::parse(&v).unwrap();
    let other = key(Algorithm::EdDSA);
    assert_eq!(
        eab.verify(URL, &other.public_jwk(), MAC_KEY),
        Err(JoseError::EabKeyMismatch)
    );
    // Payload that is not a JWK at all, correctly MACed.
    let header = protected_of(&v);
    for payload in [b"".as_slice(), b"{}", b"\"jwk\"", b"not json"] {
        let forged = resign(&header, payload, MAC_KEY);
        let eab = ExternalAccountBinding::parse(&forged).unwrap();
        assert_eq!(
            eab.verify(URL, &account.public_jwk(), MAC_KEY),
            Err(JoseError::EabKeyMismatch)
        );
    }
    // The same key with reordered/extra members is still the same key.
    let mut jwk = account.public_jwk().to_json();
    jwk["kid"] = json!("whatever");
    let eab = ExternalAccountBinding::parse(&resign(&header, jwk.to_string().as_bytes(), MAC_KEY))
        .unwrap();
    eab.verify(URL, &account.public_jwk(), MAC_KEY).unwrap();
}

#[test]
fn bad_mac() {
    let (account, v) = eab_value();
    let eab = ExternalAccountBinding::parse(&v).unwrap();
    assert_eq!(
        eab.verify(
            URL,
            &account.public_jwk(),
            b"0123456789abcdef0123456789abcdeF"
        ),
        Err(JoseError::EabBadSignature)
    );
    assert_eq!(
        eab.verify(URL, &account.public_jwk(), b""),
        Err(JoseError::EabBadSignature)
    );
    let mut t = v.clone();
    let mut sig = unb64(v["signature"].as_str().unwrap());
    sig[0] ^= 1;
    t["signature"] = json!(b64(&sig));
    assert_eq!(
        ExternalAccountBinding::parse(&t)
            .unwrap()
            .verify(URL, &account.public_jwk(), MAC_KEY),
        Err(JoseError::EabBadSignature)
    );
    t["signature"] = json!(b64(&sig[..16]));
    assert_eq!(
        ExternalAccountBinding::parse(&t)
            .unwrap()
            .verify(URL, &account.public_jwk(), MAC_KEY),
        Err(JoseError::EabBadSignature)
    );
    // HS384 header with an HS256 tag: the MAC is computed with the header's alg.
    let mut h = protected_of(&v);
    h["alg"] = json!("HS384");
    let eab = ExternalAccountBinding::parse(&resign(
        &h,
        account.public_jwk().to_json().to_string().as_bytes(),
        MAC_KEY,
    ))
    .unwrap();
    assert_eq!(eab.alg, Algorithm::HS384);
    assert_eq!(
        eab.verify(URL, &account.public_jwk(), MAC_KEY),
        Err(JoseError::EabBadSignature)
    );
}

#[test]
fn parse_rejections() {
    let (account, v) = eab_value();
    let signed = account
        .sign(None, None, URL, Some(&account.public_jwk().to_json()))
        .unwrap();
    // An asymmetric signature instead of a MAC.
    let mut h = protected_of(&signed);
    h.as_object_mut().unwrap().remove("jwk");
    h["kid"] = json!("kid-1");
    let asym = with_protected(&signed, &h);
    assert_eq!(
        ExternalAccountBinding::parse(&asym).unwrap_err(),
        JoseError::EabNotMac
    );
    for alg in ["none", "ES256", "RS256", "hs256", "HS1"] {
        let mut h = protected_of(&v);
        h["alg"] = json!(alg);
        assert_eq!(
            ExternalAccountBinding::parse(&with_protected(&v, &h)).unwrap_err(),
            JoseError::EabNotMac,
            "{alg}"
        );
    }
    let mut h = protected_of(&v);
    h["nonce"] = json!("n");
    assert_eq!(
        ExternalAccountBinding::parse(&with_protected(&v, &h)).unwrap_err(),
        JoseError::EabNoncePresent
    );
    let malformed = |val: &Value, what: &str| match ExternalAccountBinding::parse(val) {
        Err(JoseError::Malformed { .. }) => {}
        other => panic!("{what}: {other:?}"),
    };
    for m in ["kid", "url"] {
        let mut h = protected_of(&v);
        h.as_object_mut().unwrap().remove(m);
        malformed(&with_protected(&v, &h), m);
        let mut h = protected_of(&v);
        h[m] = json!(1);
        malformed(&with_protected(&v, &h), m);
    }
    let mut h = protected_of(&v);
    h["jwk"] = account.public_jwk().to_json();
    malformed(&with_protected(&v, &h), "jwk in header");
    let mut t = v.clone();
    t["header"] = json!({});
    malformed(&t, "unprotected header");
    let mut t = v.clone();
    t["payload"] = json!(v["payload"].as_str().unwrap().to_owned() + "=");
    malformed(&t, "padding");
    malformed(&json!("string"), "not an object");
    malformed(&json!(null), "null");
    assert_eq!(
        external_account_binding(Algorithm::ES256, "k", MAC_KEY, URL, &account.public_jwk())
            .unwrap_err(),
        JoseError::EabNotMac
    );
}
