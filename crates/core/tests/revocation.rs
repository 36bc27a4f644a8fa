//! Revocation rules, called on the engine directly (RFC 8555 §7.6): the reasons the Baseline
//! Requirements allow for subscriber certificates, and who may revoke (the ordering account,
//! an account holding validations for every name, the certificate's key), with the CRL
//! listing what was revoked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Client, Engine, assert_problem, bounded, refused};
use ferrite_core::RevocationAuth;
use ferrite_jose::Algorithm;
use ferrite_jose::sign::SigningKey;
use ferrite_proto::ProblemType;

/// The serials and reasons the store lists for the CRLs now, each in the shard of the
/// certificate's CRL distribution point.
async fn revoked(engine: &Engine) -> Vec<(String, u8)> {
    let store = engine.ca.store();
    let mut all = Vec::new();
    for scope in engine.crl_scopes() {
        for (serial, _, reason) in store
            .revoked_certificates(&scope, engine.now())
            .await
            .unwrap()
        {
            let stored = store.certificate(&serial).await.unwrap().unwrap();
            assert_eq!(stored.crl, scope, "{serial} is listed in its own CRL only");
            all.push((serial, reason));
        }
    }
    all
}

#[tokio::test]
async fn only_the_allowed_reasons_are_accepted() {
    bounded(async {
        let engine = Engine::start().await;
        let client = engine.account().await;
        let by_owner = RevocationAuth::Account(client.account.clone());
        // (reason sent, accepted)
        let cases = [
            (None, true),
            (Some(0), true),
            (Some(1), true),
            (Some(2), false),
            (Some(3), true),
            (Some(4), true),
            (Some(5), true),
            (Some(6), false),
            (Some(7), false),
            (Some(8), false),
            (Some(9), true),
            (Some(10), false),
            (Some(255), false),
        ];
        for (reason, accepted) in cases {
            let case = format!("reason {reason:?}");
            let (certificate, _) = engine.issue(&client, &["r.example.com"]).await;
            let result = engine.ca.revoke(&by_owner, &certificate.der, reason).await;
            if accepted {
                result.unwrap_or_else(|e| panic!("{case}: {}", e.to_problem()));
                // No reason is reason 0, unspecified.
                let listed = (certificate.serial.clone(), reason.unwrap_or(0));
                assert!(revoked(&engine).await.contains(&listed), "{case}");
            } else {
                let p = refused(&case, result);
                let detail = format!("revocation reason {} is not accepted", reason.unwrap());
                assert_problem(&case, &p, ProblemType::BadRevocationReason, Some(&detail));
                let listed = revoked(&engine).await;
                assert!(
                    listed.iter().all(|(s, _)| *s != certificate.serial),
                    "{case}"
                );
            }
        }
    })
    .await;
}

/// Who signs a revocation request in a case.
enum Signer<'a> {
    Account(&'a Client),
    /// The key of the certificate being revoked.
    CertificateKey,
    /// Some other key, signing with its own JWK.
    OtherKey,
}

/// What a case asks to revoke.
#[derive(Clone, Copy)]
enum Target {
    /// A certificate just issued to the ordering account.
    Fresh,
    /// One already revoked.
    Revoked,
    /// Bytes that are no certificate.
    Garbage,
    /// A certificate this CA did not issue.
    Foreign,
}

/// `None` for a revocation, or the problem type and a fragment of its detail.
type Refusal = Option<(ProblemType, &'static str)>;

#[tokio::test]
async fn who_may_revoke() {
    bounded(async {
        let engine = Engine::start().await;
        let corp = engine.customer_accounts("corp", 2).await;
        let other = engine.customer_accounts("other", 1).await;
        let (owner, sibling, stranger) = (&corp[0], &corp[1], &other[0]);
        let names = ["w1.example.com", "w2.example.com"];
        // An account without a customer that validated both names itself, and one that
        // validated only the first.
        let validator = engine.account().await;
        engine.ready_order(&validator, &names).await;
        let partial = engine.account().await;
        engine.ready_order(&partial, &names[..1]).await;
        // Accounts that validated the parent domain: by http-01 (that name only) and by
        // dns-01 (every name under it).
        let parent_http = engine.account().await;
        engine.ready_order(&parent_http, &["example.com"]).await;
        let parent_dns = engine.account().await;
        let order = engine.new_order(&parent_dns, &["example.com"]).await;
        engine
            .validate_dns01(&parent_dns, &order.authorizations[0].id)
            .await;
        let foreign = {
            let key = rcgen::KeyPair::generate().unwrap();
            let params = rcgen::CertificateParams::new(vec![names[0].to_owned()]).unwrap();
            params.self_signed(&key).unwrap().der().to_vec()
        };

        let unauthorized = ProblemType::Unauthorized;
        // (case, signer, target, None if revoked or the refusal and the detail's fragment)
        let cases: Vec<(&str, Signer<'_>, Target, Refusal)> = vec![
            (
                "the ordering account",
                Signer::Account(owner),
                Target::Fresh,
                None,
            ),
            (
                "another account of the customer (its validations cover every name)",
                Signer::Account(sibling),
                Target::Fresh,
                None,
            ),
            (
                "an account that validated every name",
                Signer::Account(&validator),
                Target::Fresh,
                None,
            ),
            (
                "an account that validated one of the names",
                Signer::Account(&partial),
                Target::Fresh,
                Some((
                    unauthorized,
                    "neither ordered that certificate nor holds valid authorizations",
                )),
            ),
            (
                "an account that validated the parent domain by http-01",
                Signer::Account(&parent_http),
                Target::Fresh,
                Some((
                    unauthorized,
                    "neither ordered that certificate nor holds valid authorizations",
                )),
            ),
            (
                "an account that validated the parent domain by dns-01",
                Signer::Account(&parent_dns),
                Target::Fresh,
                None,
            ),
            (
                "another customer's account",
                Signer::Account(stranger),
                Target::Fresh,
                Some((unauthorized, "neither ordered that certificate")),
            ),
            (
                "the certificate's key",
                Signer::CertificateKey,
                Target::Fresh,
                None,
            ),
            (
                "another key",
                Signer::OtherKey,
                Target::Fresh,
                Some((unauthorized, "not the certificate's public key")),
            ),
            (
                "a certificate already revoked",
                Signer::Account(owner),
                Target::Revoked,
                Some((ProblemType::AlreadyRevoked, "already revoked")),
            ),
            (
                "not a certificate",
                Signer::Account(owner),
                Target::Garbage,
                Some((ProblemType::Malformed, "not a DER X.509 certificate")),
            ),
            (
                "a certificate of another CA",
                Signer::Account(owner),
                Target::Foreign,
                Some((unauthorized, "this CA did not issue that certificate")),
            ),
        ];
        for (case, signer, target, want) in cases {
            let (certificate, key) = engine.issue(owner, &names).await;
            if matches!(target, Target::Revoked) {
                let auth = RevocationAuth::Account(owner.account.clone());
                engine
                    .ca
                    .revoke(&auth, &certificate.der, None)
                    .await
                    .unwrap();
            }
            let der = match target {
                Target::Fresh | Target::Revoked => certificate.der.clone(),
                Target::Garbage => b"not a certificate".to_vec(),
                Target::Foreign => foreign.clone(),
            };
            let auth = match signer {
                Signer::Account(client) => RevocationAuth::Account(client.account.clone()),
                Signer::CertificateKey => RevocationAuth::CertificateKey(
                    SigningKey::from_pkcs8(Algorithm::ES256, &key.serialize_der())
                        .unwrap()
                        .public_jwk(),
                ),
                Signer::OtherKey => RevocationAuth::CertificateKey(
                    SigningKey::generate(Algorithm::ES256).unwrap().public_jwk(),
                ),
            };
            let result = engine.ca.revoke(&auth, &der, Some(4)).await;
            let listed = revoked(&engine).await;
            match want {
                None => {
                    result.unwrap_or_else(|e| panic!("{case}: {}", e.to_problem()));
                    assert!(listed.contains(&(certificate.serial, 4)), "{case}");
                }
                Some((kind, detail)) => {
                    let p = refused(case, result);
                    assert_problem(case, &p, kind, Some(detail));
                    if matches!(target, Target::Fresh) {
                        assert!(
                            listed.iter().all(|(s, _)| *s != certificate.serial),
                            "{case}"
                        );
                    }
                }
            }
        }
    })
    .await;
}
