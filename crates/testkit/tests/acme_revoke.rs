//! Revocation (RFC 8555 §7.6) by hand with `RawClient`: by the ordering account, by the
//! certificate's own key, and each refusal (reason, already revoked, someone else's
//! certificate), checked against the CRL a relying party downloads.
//! Only 127.0.0.1 is contacted; every test is bounded in time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferrite_testkit::{assert_problem, bounded};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrite_jose::Algorithm;
use ferrite_jose::sign::SigningKey;
use ferrite_testkit::raw::http_get;
use ferrite_testkit::{RawAccount, RawClient, RawIssued, RawResponse, TestCa};
use serde_json::{Value, json};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

fn payload(cert_der: &[u8], reason: Option<u64>) -> Value {
    let mut p = json!({"certificate": URL_SAFE_NO_PAD.encode(cert_der)});
    if let Some(reason) = reason {
        p["reason"] = json!(reason);
    }
    p
}

/// Revokes with `key`: with `kid` as an account request, with `None` signed by the key's jwk.
async fn revoke(
    ca: &TestCa,
    raw: &RawClient,
    key: &SigningKey,
    kid: Option<&str>,
    cert_der: &[u8],
    reason: Option<u64>,
) -> RawResponse {
    raw.post(
        key,
        kid,
        &ca.url("/acme/revoke-cert"),
        Some(&payload(cert_der, reason)),
    )
    .await
}

/// The (serial, reason) pairs of the CRLs (every shard) as served over HTTP.
async fn crl(ca: &TestCa) -> Vec<(Vec<u8>, Option<u8>)> {
    let mut entries = Vec::new();
    for der in ca.crls().await {
        let (_, crl) = CertificateRevocationList::from_der(&der).unwrap();
        entries.extend(
            crl.iter_revoked_certificates()
                .map(|e| (e.raw_serial().to_vec(), e.reason_code().map(|(_, c)| c.0))),
        );
    }
    entries
}

fn serial(der: &[u8]) -> Vec<u8> {
    X509Certificate::from_der(der)
        .unwrap()
        .1
        .raw_serial()
        .to_vec()
}

fn leaf_key(issued: &RawIssued) -> SigningKey {
    SigningKey::from_pkcs8(Algorithm::ES256, &issued.leaf_key_pkcs8).unwrap()
}

#[tokio::test]
async fn revoke_by_certificate_key() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let first = ca.raw_issue(&raw, &a, &["k1.example.com"]).await;
        let second = ca.raw_issue(&raw, &a, &["k2.example.com"]).await;

        // The key of one certificate cannot revoke another, nor can an unrelated key.
        let r = revoke(
            &ca,
            &raw,
            &leaf_key(&second),
            None,
            &first.leaf_der,
            Some(1),
        )
        .await;
        assert_problem(&r, 403, "unauthorized");
        let stranger = SigningKey::generate(Algorithm::ES256).unwrap();
        let r = revoke(&ca, &raw, &stranger, None, &first.leaf_der, Some(1)).await;
        assert_problem(&r, 403, "unauthorized");
        // The account key as a bare jwk is not the certificate key either.
        let r = revoke(&ca, &raw, &a.key, None, &first.leaf_der, Some(1)).await;
        assert_problem(&r, 403, "unauthorized");
        assert!(crl(&ca).await.is_empty());

        // §7.6: the certificate's own key, as jwk, may revoke it.
        let r = revoke(&ca, &raw, &leaf_key(&first), None, &first.leaf_der, Some(1)).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert!(r.header("replay-nonce").is_some());
        assert_eq!(crl(&ca).await, vec![(serial(&first.leaf_der), Some(1))]);
        // And again: alreadyRevoked, the CRL unchanged.
        let r = revoke(&ca, &raw, &leaf_key(&first), None, &first.leaf_der, Some(4)).await;
        assert_problem(&r, 400, "alreadyRevoked");
        assert_eq!(crl(&ca).await, vec![(serial(&first.leaf_der), Some(1))]);
    })
    .await;
}

#[tokio::test]
async fn revoke_by_account_and_reasons() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let b = RawAccount::register(&raw, Algorithm::ES256).await;
        let issued = ca.raw_issue(&raw, &a, &["rv.example.com"]).await;

        // Reasons the Baseline Requirements do not allow for subscribers: 2 (cACompromise),
        // 6 (certificateHold), 7 (unused), 8 (removeFromCRL), 10 (aACompromise), 11 (undefined).
        for reason in [2, 6, 7, 8, 10, 11] {
            let r = revoke(
                &ca,
                &raw,
                &a.key,
                Some(&a.kid),
                &issued.leaf_der,
                Some(reason),
            )
            .await;
            assert_problem(&r, 400, "badRevocationReason");
        }
        // Not a number a CRL can hold at all.
        let r = revoke(&ca, &raw, &a.key, Some(&a.kid), &issued.leaf_der, Some(300)).await;
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));

        // Another account that did not order it: unauthorized (it holds no key of it either).
        let r = revoke(&ca, &raw, &b.key, Some(&b.kid), &issued.leaf_der, Some(4)).await;
        assert_problem(&r, 403, "unauthorized");
        assert!(crl(&ca).await.is_empty());

        // Not a certificate, not base64url, not one this CA issued.
        let r = revoke(&ca, &raw, &a.key, Some(&a.kid), b"junk", None).await;
        assert_problem(&r, 400, "malformed");
        let r = raw
            .post(
                &a.key,
                Some(&a.kid),
                &ca.url("/acme/revoke-cert"),
                Some(&json!({"certificate": "***"})),
            )
            .await;
        assert_problem(&r, 400, "malformed");
        let foreign = {
            let key = rcgen::KeyPair::generate().unwrap();
            let params = rcgen::CertificateParams::new(vec!["rv.example.com".to_owned()]).unwrap();
            params.self_signed(&key).unwrap().der().to_vec()
        };
        let r = revoke(&ca, &raw, &a.key, Some(&a.kid), &foreign, None).await;
        assert_problem(&r, 403, "unauthorized");

        // The owner, without a reason: unspecified (0), which a CRL entry leaves out
        // (RFC 5280 §5.3.1) or states.
        let r = revoke(&ca, &raw, &a.key, Some(&a.kid), &issued.leaf_der, None).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let listed = crl(&ca).await;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].0, serial(&issued.leaf_der));
        assert!(matches!(listed[0].1, None | Some(0)), "{listed:?}");
        let r = revoke(&ca, &raw, &a.key, Some(&a.kid), &issued.leaf_der, Some(1)).await;
        assert_problem(&r, 400, "alreadyRevoked");
        // The certificate stays downloadable for its owner.
        let r = raw.post_as_get(&a.key, &a.kid, &issued.cert_url).await;
        assert_eq!(r.status, 200);
    })
    .await;
}

#[tokio::test]
async fn every_accepted_reason_reaches_the_crl() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        // Every reason the CA accepts ends up in the CRL as sent.
        let mut want = Vec::new();
        for (i, reason) in [1u8, 3, 4, 5, 9].into_iter().enumerate() {
            let issued = ca
                .raw_issue(&raw, &a, &[&format!("r{i}.example.com")])
                .await;
            let r = revoke(
                &ca,
                &raw,
                &a.key,
                Some(&a.kid),
                &issued.leaf_der,
                Some(u64::from(reason)),
            )
            .await;
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
            want.push((serial(&issued.leaf_der), Some(reason)));
        }
        let mut got = crl(&ca).await;
        got.sort();
        want.sort();
        assert_eq!(got, want);
    })
    .await;
}

/// RFC 8555 §7.6: an account that holds authorizations for every name of a certificate may
/// revoke it, even though another account ordered it; holding only some of the names is not
/// enough.
#[tokio::test]
async fn revoke_by_an_account_that_validated_every_name() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let b = RawAccount::register(&raw, Algorithm::ES256).await;
        let issued = ca
            .raw_issue(&raw, &a, &["one.example.com", "two.example.com"])
            .await;

        // b validates one of the two names: not enough.
        ca.raw_ready_order(&raw, &b, &["one.example.com"]).await;
        let r = revoke(&ca, &raw, &b.key, Some(&b.kid), &issued.leaf_der, Some(1)).await;
        assert_problem(&r, 403, "unauthorized");
        assert!(crl(&ca).await.is_empty());

        // ... and then the other one too: now b may revoke a's certificate.
        ca.raw_ready_order(&raw, &b, &["two.example.com"]).await;
        let r = revoke(&ca, &raw, &b.key, Some(&b.kid), &issued.leaf_der, Some(1)).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(crl(&ca).await.len(), 1);
    })
    .await;
}

/// Fetching a CRL does not sign a new one each time (anyone can fetch it): the same bytes
/// come back until a revocation, after which the new CRL of the certificate's shard lists it.
#[tokio::test]
async fn the_crl_is_signed_once_until_a_revocation() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let issued = ca.raw_issue(&raw, &a, &["cached.example.com"]).await;
        let url = ferrite_testkit::ca::crl_url(&issued.leaf_der);
        let first = http_get(&url).await.body;
        let second = http_get(&url).await.body;
        assert_eq!(first, second, "two fetches signed two CRLs");

        let r = revoke(&ca, &raw, &a.key, Some(&a.kid), &issued.leaf_der, Some(4)).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let third = http_get(&url).await.body;
        assert_ne!(third, first);
        assert_eq!(crl(&ca).await, vec![(serial(&issued.leaf_der), Some(4))]);
    })
    .await;
}
