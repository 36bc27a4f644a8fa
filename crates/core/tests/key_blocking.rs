//! Revocation by the operator and blocked keys, on the engine with a real store and issuer:
//! keyCompromise (signed with the certificate's key, or by the operator) blocks the key for
//! CSRs, new accounts and key changes with `badPublicKey`; an account's own keyCompromise
//! revocation does not; bulk revocation pages, skips what is revoked and counts; the CRL an
//! instance holds picks up a revocation made outside it once [`CRL_RECHECK`] has passed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Engine, assert_problem, bounded, refused};
use ferrite_core::RevocationAuth;
use ferrite_core::ca::key_block::{self, spki_sha256};
use ferrite_core::ca::operator_revoke::{self, BulkProgress};
use ferrite_core::model::CertificateQuery;
use ferrite_jose::Algorithm;
use ferrite_jose::sign::SigningKey;
use ferrite_proto::ProblemType;
use ferrite_testkit::ca::csr_der;

const CRL_RECHECK: time::Duration = ferrite_core::ca::CRL_RECHECK;

fn key_spki(key: &rcgen::KeyPair) -> Vec<u8> {
    rcgen::PublicKeyData::subject_public_key_info(key)
}

/// The serials (lower-case hex) and reason codes the engine's CRLs list (all its shards).
async fn crl_entries(engine: &Engine) -> Vec<(String, u8)> {
    let mut entries = Vec::new();
    for der in engine.crls().await {
        let (_, crl) = x509_parser::parse_x509_crl(&der).unwrap();
        entries.extend(crl.iter_revoked_certificates().map(|e| {
            let serial: String = e
                .raw_serial()
                .iter()
                .skip_while(|b| **b == 0)
                .map(|b| format!("{b:02x}"))
                .collect();
            (serial, e.reason_code().map_or(0, |(_, r)| r.0))
        }));
    }
    entries
}

#[tokio::test]
async fn key_compromise_signed_with_the_certificate_key_blocks_it_everywhere() {
    bounded(async {
        let engine = Engine::start().await;
        let client = engine.account().await;
        let (certificate, key) = engine.issue(&client, &["kc.example.com"]).await;
        let jwk = SigningKey::from_pkcs8(Algorithm::ES256, &key.serialize_der())
            .unwrap()
            .public_jwk();
        engine
            .ca
            .revoke(
                &RevocationAuth::CertificateKey(jwk),
                &certificate.der,
                Some(1),
            )
            .await
            .unwrap();
        let hash = spki_sha256(&key_spki(&key));
        let block = engine.ca.store().blocked_key(&hash).await.unwrap().unwrap();
        assert_eq!(block.serial.as_deref(), Some(certificate.serial.as_str()));
        assert!(
            block.reason.contains("signed with its key"),
            "{}",
            block.reason
        );

        // A new order finalized with the same key.
        let order = engine.ready_order(&client, &["kc.example.com"]).await;
        let p = refused(
            "finalize",
            engine
                .finalize(
                    &client,
                    &order.order.id,
                    &csr_der(&["kc.example.com"], &key),
                )
                .await,
        );
        assert_problem(
            "finalize",
            &p,
            ProblemType::BadPublicKey,
            Some("generate a new key"),
        );
        assert_eq!(p.status, Some(400));
        assert!(p.detail.contains("reported compromised"), "{p}");
        // The order stays ready: a CSR with a new key issues.
        let fresh = rcgen::KeyPair::generate().unwrap();
        engine
            .finalize(
                &client,
                &order.order.id,
                &csr_der(&["kc.example.com"], &fresh),
            )
            .await
            .unwrap();

        // The key as a new account's key, and as an account's new key.
        let as_account = SigningKey::from_pkcs8(Algorithm::ES256, &key.serialize_der()).unwrap();
        let p = refused(
            "newAccount",
            engine.new_account(&as_account, Default::default()).await,
        );
        assert_problem(
            "newAccount",
            &p,
            ProblemType::BadPublicKey,
            Some("account key is blocked"),
        );
        let p = refused(
            "keyChange",
            engine.key_change(&client, &as_account, |_, _| {}).await,
        );
        assert_problem(
            "keyChange",
            &p,
            ProblemType::BadPublicKey,
            Some("new account key is blocked"),
        );

        // Unblocked by the operator, the key registers again.
        key_block::unblock_key(engine.ca.store().as_ref(), &hash)
            .await
            .unwrap();
        assert!(
            engine
                .new_account(&as_account, Default::default())
                .await
                .unwrap()
                .created
        );
        let p = refused(
            "unblock twice",
            key_block::unblock_key(engine.ca.store().as_ref(), &hash).await,
        );
        assert_problem(
            "unblock twice",
            &p,
            ProblemType::Malformed,
            Some("is not blocked"),
        );
    })
    .await;
}

#[tokio::test]
async fn the_ordering_account_saying_key_compromise_blocks_nothing() {
    bounded(async {
        let engine = Engine::start().await;
        let client = engine.account().await;
        let (certificate, key) = engine.issue(&client, &["acct.example.com"]).await;
        engine
            .ca
            .revoke(
                &RevocationAuth::Account(client.account.clone()),
                &certificate.der,
                Some(1),
            )
            .await
            .unwrap();
        // RFC 8555 §7.6 allows it; only the key's holder proves the key is compromised.
        assert!(engine.ca.store().blocked_keys().await.unwrap().is_empty());
        let order = engine.ready_order(&client, &["acct.example.com"]).await;
        engine
            .finalize(
                &client,
                &order.order.id,
                &csr_der(&["acct.example.com"], &key),
            )
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn operator_revocations_block_keys_resume_and_reach_the_held_crl() {
    bounded(async {
        let engine = Engine::start().await;
        let corp = engine.customer_accounts("corp", 1).await;
        let other = engine.account().await;
        let mut corp_certs = Vec::new();
        for name in ["b1.example.com", "b2.example.com", "b3.example.com"] {
            corp_certs.push(engine.issue(&corp[0], &[name]).await);
        }
        let (outside, _) = engine.issue(&other, &["b4.example.com"]).await;
        let store = engine.ca.store().as_ref();

        // This instance signs and holds a CRL.
        assert!(crl_entries(&engine).await.is_empty());

        // One certificate by serial, keyCompromise: revoked and its key blocked.
        let (first, first_key) = &corp_certs[0];
        let (cert, revoked) = operator_revoke::revoke_serial(store, &first.serial, 1, engine.now())
            .await
            .unwrap();
        assert!(revoked);
        assert_eq!(cert.revoked.map(|(_, r)| r), Some(1));
        assert!(
            store
                .blocked_key(&spki_sha256(&key_spki(first_key)))
                .await
                .unwrap()
                .is_some()
        );
        // The held CRL is served until the recheck interval has passed, then the new one.
        assert!(crl_entries(&engine).await.is_empty());
        engine.clock.advance(CRL_RECHECK);
        assert_eq!(crl_entries(&engine).await, vec![(first.serial.clone(), 1)]);

        // The customer's certificates in bulk: the one already revoked is counted, not
        // changed; the other customer's is left alone.
        let customer = store.customer_by_name("corp").await.unwrap().unwrap();
        let query = CertificateQuery {
            customer_id: Some(customer.id),
            not_after_from: Some(engine.now()),
            ..CertificateQuery::default()
        };
        let mut reports = Vec::new();
        let done = operator_revoke::revoke_matching(
            store,
            query.clone(),
            5,
            engine.now(),
            &mut |p: &BulkProgress| reports.push(p.clone()),
        )
        .await
        .unwrap();
        assert_eq!(
            done,
            BulkProgress {
                examined: 3,
                revoked: 2,
                already_revoked: 1
            }
        );
        assert_eq!(reports.last(), Some(&done));
        let again = operator_revoke::revoke_matching(store, query, 5, engine.now(), &mut |_| {})
            .await
            .unwrap();
        assert_eq!((again.revoked, again.already_revoked), (0, 3));
        assert_eq!(
            store
                .certificate(&first.serial)
                .await
                .unwrap()
                .unwrap()
                .revoked
                .map(|(_, r)| r),
            Some(1),
            "a revocation keeps its first reason"
        );
        assert!(
            store
                .certificate(&outside.serial)
                .await
                .unwrap()
                .unwrap()
                .revoked
                .is_none()
        );
        engine.clock.advance(CRL_RECHECK);
        let mut listed = crl_entries(&engine).await;
        listed.sort();
        let mut expected: Vec<(String, u8)> = corp_certs
            .iter()
            .map(|(c, _)| {
                (
                    c.serial.clone(),
                    if c.serial == first.serial { 1 } else { 5 },
                )
            })
            .collect();
        expected.sort();
        assert_eq!(listed, expected);

        // By key: the certificates of one key only.
        let shared = rcgen::KeyPair::generate().unwrap();
        let mut of_key = Vec::new();
        for name in ["k1.example.com", "k2.example.com"] {
            let order = engine.ready_order(&other, &[name]).await;
            let done = engine
                .finalize(&other, &order.order.id, &csr_der(&[name], &shared))
                .await
                .unwrap();
            of_key.push(done.order.certificate_serial.unwrap());
        }
        let by_key = CertificateQuery {
            spki_sha256: Some(spki_sha256(&key_spki(&shared))),
            not_after_from: Some(engine.now()),
            ..CertificateQuery::default()
        };
        let done = operator_revoke::revoke_matching(store, by_key, 1, engine.now(), &mut |_| {})
            .await
            .unwrap();
        assert_eq!((done.examined, done.revoked), (2, 2));
        for serial in &of_key {
            assert!(
                store
                    .certificate(serial)
                    .await
                    .unwrap()
                    .unwrap()
                    .revoked
                    .is_some()
            );
        }
        assert!(
            store
                .certificate(&outside.serial)
                .await
                .unwrap()
                .unwrap()
                .revoked
                .is_none()
        );

        // Unknown serials are refused with what to do.
        let p = refused(
            "unknown serial",
            operator_revoke::revoke_serial(store, "0abc", 4, engine.now()).await,
        );
        assert_problem(
            "unknown serial",
            &p,
            ProblemType::Malformed,
            Some("ferrite cert list"),
        );
    })
    .await;
}

#[tokio::test]
async fn a_key_blocked_by_the_operator_is_refused_until_unblocked() {
    bounded(async {
        let engine = Engine::start().await;
        let key = SigningKey::generate(Algorithm::ES256).unwrap();
        let hash = spki_sha256(&key.public_jwk().to_spki_der());
        let store = engine.ca.store().as_ref();
        let (block, new) = key_block::block_key(store, &hash, Some("leaked"), engine.now())
            .await
            .unwrap();
        assert!(new);
        assert_eq!(block.reason, "leaked");
        let (again, new) = key_block::block_key(store, &hash, Some("twice"), engine.now())
            .await
            .unwrap();
        assert!(!new);
        assert_eq!(again.reason, "leaked", "the first block is kept");
        let p = refused(
            "blocked",
            engine.new_account(&key, Default::default()).await,
        );
        assert_problem(
            "blocked",
            &p,
            ProblemType::BadPublicKey,
            Some("reported compromised"),
        );
        key_block::unblock_key(store, &hash).await.unwrap();
        assert!(
            engine
                .new_account(&key, Default::default())
                .await
                .unwrap()
                .created
        );
    })
    .await;
}
