//! CA keys in a real PKCS#11 token (SoftHSM, Debian's `softhsm2`; `pkcs11-tool` from
//! `opensc`): the whole issuance path with `ca.keys = "pkcs11"` through the testkit, and the
//! token's session pool under parallel load and after token errors.
//!
//! Each test makes a throwaway token store with its own `SOFTHSM2_CONF` and runs in a process
//! of its own (`softhsm::in_own_process`). They need the tools `scripts/test.sh` installs, so
//! they are `#[ignore]`d for a plain `cargo test`. Only 127.0.0.1 is contacted; every wait is
//! bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use ferrite_jose::Algorithm;
use ferrite_pki::pkcs11::{Pkcs11Pin, Token, TokenSettings};
use ferrite_pki::{CaKeyType, CaSigner};
use ferrite_testkit::ca::pem_chain;
use ferrite_testkit::raw::http_get;
use ferrite_testkit::softhsm::{self, SoftHsm};
use ferrite_testkit::{RawAccount, TestCa, TestCaOptions, bounded};
use serde_json::json;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

fn settings(hsm: &SoftHsm, max_sessions: usize) -> TokenSettings {
    TokenSettings {
        module: softhsm::MODULE.into(),
        token: hsm.label.clone(),
        pin: Pkcs11Pin::new(softhsm::PIN),
        max_sessions,
    }
}

fn verify(key: &dyn CaSigner, message: &[u8], signature: &[u8]) {
    let (_, spki) =
        x509_parser::x509::SubjectPublicKeyInfo::from_der(key.public_key_der()).unwrap();
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
        &spki.subject_public_key.data,
    )
    .verify(message, signature)
    .expect("the token's signature verifies under its public key");
}

/// A second handle on the module in this process, as another part of the application (or
/// the device itself) would act on the token.
fn outside_handle() -> Pkcs11 {
    let ctx = Pkcs11::new(softhsm::MODULE).unwrap();
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(())
        | Err(cryptoki::error::Error::Pkcs11(
            cryptoki::error::RvError::CryptokiAlreadyInitialized,
            _,
        )) => {}
        Err(e) => panic!("{e}"),
    }
    ctx
}

/// Logs the application out of the token through a [`outside_handle`] (login state is the
/// application's, shared by all its sessions); returns the handle.
fn log_out_from_outside(hsm: &SoftHsm) -> Pkcs11 {
    let outside = outside_handle();
    let slot = outside
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| outside.get_token_info(*s).unwrap().label().trim_end() == hsm.label)
        .unwrap();
    outside.open_ro_session(slot).unwrap().logout().unwrap();
    outside
}

/// Signatures from eight threads at once open more than one session (they do not wait for
/// each other behind one) and never more than the pool's bound; after the application is
/// logged out of the token (CKR_USER_NOT_LOGGED_IN) and after the library is finalized under
/// the pool (every session gone, CKR_CRYPTOKI_NOT_INITIALIZED), the next signature works: the
/// pool logs in again or starts over instead of failing every later request. The generated key
/// is sensitive and never extractable, and nothing shows the PIN.
#[test]
#[ignore = "needs softhsm2 and opensc: run scripts/test.sh"]
fn the_session_pool_signs_in_parallel_and_recovers_from_token_errors() {
    let Some(hsm) = softhsm::in_own_process(
        "the_session_pool_signs_in_parallel_and_recovers_from_token_errors",
    ) else {
        return;
    };
    let settings = settings(&hsm, 4);
    let shown = format!("{settings:?}");
    assert!(
        !shown.contains(softhsm::PIN) && shown.contains("[redacted]"),
        "{shown}"
    );
    let token = Token::open(settings).unwrap();
    let key = Arc::new(
        token
            .generate_key(CaKeyType::EcdsaP256, "pool-test")
            .unwrap(),
    );
    assert!(key.protection().unwrap().is_locked_in());
    assert_eq!(
        token.open_sessions(),
        1,
        "one session from the login at open"
    );

    std::thread::scope(|s| {
        for t in 0..8u8 {
            let key = Arc::clone(&key);
            s.spawn(move || {
                for i in 0..25u8 {
                    let message = [t, i, 7];
                    verify(&*key, &message, &key.sign(&message).unwrap());
                }
            });
        }
    });
    let open = token.open_sessions();
    assert!(
        (2..=4).contains(&open),
        "eight signing threads used {open} sessions (want 2 to 4)"
    );

    // Logged out from outside.
    let outside = log_out_from_outside(&hsm);
    verify(&*key, b"after logout", &key.sign(b"after logout").unwrap());

    // The library finalized under the pool: every session and the login are gone.
    outside.finalize().unwrap();
    verify(
        &*key,
        b"after finalize",
        &key.sign(b"after finalize").unwrap(),
    );
    verify(&*key, b"and again", &key.sign(b"and again").unwrap());
    assert!(token.open_sessions() >= 1);

    let listing = softhsm::assert_private_keys_locked_in(&hsm, &hsm.label, 1);
    assert!(listing.contains("pool-test"), "{listing}");
}

/// The whole issuance path with the CA keys in a token, built by `ferrite_app` from a
/// `Config` with `ca.keys = "pkcs11"` (the testkit holds the key ceremony first): ACME
/// issuance, revocation and the CRL, signed by the intermediate's key in the token; the chain
/// verifies with `openssl verify`; the CRL verifies under the intermediate; both private keys
/// in the token are sensitive and never extractable (`pkcs11-tool`); the only private key PEM
/// under data_dir is the ACME listener's TLS key, which is not a CA key.
#[tokio::test]
#[ignore = "needs softhsm2 and opensc: run scripts/test.sh"]
async fn issuance_and_revocation_with_the_ca_keys_in_a_token() {
    let Some(hsm) = softhsm::in_own_process("issuance_and_revocation_with_the_ca_keys_in_a_token")
    else {
        return;
    };
    bounded(async {
        let mut opts = TestCaOptions::default();
        hsm.configure(&mut opts.config);
        opts.config.ca.organization = "Example Trust".into();
        opts.config.ca.intermediate_common_name = "Example Trust Issuing E1".into();
        let ca = TestCa::start_with(opts).await;
        let raw = ca.raw();
        let account = RawAccount::register(&raw, Algorithm::ES256).await;
        let issued = ca
            .raw_issue(&raw, &account, &["hsm.example.com", "www.hsm.example.com"])
            .await;
        // Several at once: each signature takes a session of the pool.
        let names: Vec<[&str; 1]> = [
            ["a.hsm.example.com"],
            ["b.hsm.example.com"],
            ["c.hsm.example.com"],
            ["d.hsm.example.com"],
        ]
        .to_vec();
        let more =
            futures::future::join_all(names.iter().map(|n| ca.raw_issue(&raw, &account, n))).await;
        assert_eq!(more.len(), 4);

        let chain = pem_chain(&issued.chain_pem);
        let (_, leaf) = X509Certificate::from_der(&chain[0]).unwrap();
        let (_, intermediate) = X509Certificate::from_der(&chain[1]).unwrap();
        assert_eq!(
            intermediate.subject().to_string(),
            "C=US, O=Example Trust, CN=Example Trust Issuing E1"
        );
        leaf.verify_signature(Some(intermediate.public_key()))
            .unwrap();

        ferrite_testkit::ca::openssl_verify_chain(&ca.root_pem_path, &issued.chain_pem);

        // Revocation, and the CRL signed in the token.
        let r = raw
            .post(
                &account.key,
                Some(account.kid.as_str()),
                &ca.url("/acme/revoke-cert"),
                Some(&json!({
                    "certificate": base64::Engine::encode(
                        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                        &issued.leaf_der
                    ),
                    "reason": 4
                })),
            )
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let r = http_get(&ferrite_testkit::ca::crl_url(&issued.leaf_der)).await;
        assert_eq!(r.status, 200);
        let (_, crl) = CertificateRevocationList::from_der(&r.body).unwrap();
        crl.verify_signature(intermediate.public_key())
            .expect("the CRL is signed by the intermediate's key in the token");
        assert!(
            crl.iter_revoked_certificates()
                .any(|e| e.raw_serial() == leaf.raw_serial()),
            "the revoked certificate is in the CRL"
        );

        // An RSA subscriber key gets the RSA intermediate's chain, signed in the token too.
        let rsa = ca
            .raw_issue_with(
                &raw,
                &account,
                &["rsa.hsm.example.com"],
                &ferrite_testkit::keys::rsa_2048(),
            )
            .await;
        let rsa_ders = pem_chain(&rsa.chain_pem);
        let (_, rsa_intermediate) = X509Certificate::from_der(&rsa_ders[1]).unwrap();
        assert_eq!(
            rsa_intermediate.subject().to_string(),
            "C=US, O=Example Trust, CN=Example Trust Issuing E1 RSA"
        );
        ferrite_testkit::ca::openssl_verify_chain(&ca.root_pem_path, &rsa.chain_pem);

        // The root's and both intermediates' keys.
        softhsm::assert_private_keys_locked_in(&hsm, &hsm.label, 3);
        let keys = softhsm::private_key_files(ca.data_dir());
        assert_eq!(
            keys,
            [ca.data_dir().join("ca/private/tls.key")],
            "the only private key file is the ACME listener's"
        );
        let tls = std::fs::read_to_string(ca.data_dir().join("ca/tls.pem")).unwrap();
        let tls = pem_chain(&tls);
        let (_, listener) = X509Certificate::from_der(&tls[0]).unwrap();
        assert!(!listener.is_ca(), "tls.key belongs to a leaf, not a CA");
    })
    .await;
}

/// A finalize that is refused by the signer: the problem a client sees.
async fn finalize_status(
    ca: &TestCa,
    raw: &ferrite_testkit::RawClient,
    account: &RawAccount,
    name: &str,
) -> (u16, String) {
    let (_, order) = ca.raw_ready_order(raw, account, &[name]).await;
    let key = rcgen::KeyPair::generate().unwrap();
    let r = ca
        .raw_finalize(
            raw,
            account,
            &order,
            &ferrite_testkit::ca::csr_der(&[name], &key),
        )
        .await;
    (r.status, String::from_utf8_lossy(&r.body).into_owned())
}

/// The token fails while `ferrite serve` runs, and service resumes without a restart: after
/// the application is logged out of the token and after the library is finalized under the
/// server, the next issuance works; while the token is gone (finalized, its directory moved
/// away, so that SoftHSM finds no such token when initialized again) a finalize gets
/// `serverInternal` with the request id; once the token is back (its directory restored, the
/// library finalized again, as SoftHSM discovers tokens only when initialized) the next
/// issuance works.
#[tokio::test]
#[ignore = "needs softhsm2 and opensc: run scripts/test.sh"]
async fn service_resumes_when_the_token_comes_back() {
    let Some(hsm) = softhsm::in_own_process("service_resumes_when_the_token_comes_back") else {
        return;
    };
    bounded(async {
        let mut opts = TestCaOptions::default();
        hsm.configure(&mut opts.config);
        let ca = TestCa::start_with(opts).await;
        let raw = ca.raw();
        let account = RawAccount::register(&raw, Algorithm::ES256).await;
        ca.raw_issue(&raw, &account, &["before.example.com"]).await;

        let outside = log_out_from_outside(&hsm);
        ca.raw_issue(&raw, &account, &["after-logout.example.com"])
            .await;
        outside.finalize().unwrap();
        ca.raw_issue(&raw, &account, &["after-finalize.example.com"])
            .await;

        // The token goes away.
        let tokens: Vec<_> = std::fs::read_dir(hsm.token_dir())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(tokens.len(), 1, "{tokens:?}");
        let away = tempfile::tempdir().unwrap();
        let moved = away.path().join("token");
        outside_handle().finalize().unwrap();
        std::fs::rename(&tokens[0], &moved).unwrap();
        for name in ["away-1.example.com", "away-2.example.com"] {
            let (status, body) = finalize_status(&ca, &raw, &account, name).await;
            assert_eq!(status, 500, "{body}");
            assert!(
                body.contains("serverInternal") && body.contains("requestId"),
                "{body}"
            );
        }

        // It comes back.
        std::fs::rename(&moved, &tokens[0]).unwrap();
        outside_handle().finalize().unwrap();
        let issued = ca.raw_issue(&raw, &account, &["back.example.com"]).await;
        let chain = pem_chain(&issued.chain_pem);
        let (_, leaf) = X509Certificate::from_der(&chain[0]).unwrap();
        let (_, intermediate) = X509Certificate::from_der(&chain[1]).unwrap();
        leaf.verify_signature(Some(intermediate.public_key()))
            .unwrap();
    })
    .await;
}

/// `ferrite ca import` with `ca.keys = "pkcs11"`: the certificates of a hierarchy whose
/// intermediate key is already in the token (here made by a ceremony on "another machine",
/// another data directory) are imported into a new data directory; a key file is refused
/// there, the intermediate's key is found in the token, and the CA issues under the imported
/// intermediate.
#[tokio::test]
#[ignore = "needs softhsm2 and opensc: run scripts/test.sh"]
async fn a_hierarchy_whose_key_is_in_the_token_is_imported() {
    let Some(hsm) = softhsm::in_own_process("a_hierarchy_whose_key_is_in_the_token_is_imported")
    else {
        return;
    };
    bounded(async {
        let tmp = tempfile::tempdir().unwrap();
        let mut old = ferrite_app::Config::default();
        hsm.configure(&mut old);
        old.data_dir = tmp.path().join("old");
        ferrite_app::ca::init(
            &old,
            &ferrite_pki::Ceremony::RootAndIntermediate,
            None,
            &ferrite_pki::NewIntermediate::defaults(),
        )
        .unwrap();
        let (root, intermediate) = (
            old.data_dir.join("ca/root.pem"),
            old.data_dir.join("ca/intermediate.pem"),
        );
        let mut new = old.clone();
        new.data_dir = tmp.path().join("new");
        let err = ferrite_app::ca::import(&new, &root, &intermediate, Some(&root)).unwrap_err();
        assert!(
            err.to_string().contains("already be in the token"),
            "{err:#}"
        );
        let report = ferrite_app::ca::import(&new, &root, &intermediate, None).unwrap();
        assert_eq!(report.keys, "pkcs11");
        assert!(report.certificates[1].key_present, "{report:?}");
        assert!(
            softhsm::private_key_files(&new.data_dir.join("ca"))
                .iter()
                .all(|f| f.ends_with("tls.key"))
        );

        let mut opts = TestCaOptions::default();
        hsm.configure(&mut opts.config);
        opts.data_dir = Some(new.data_dir.clone());
        let ca = TestCa::start_with(opts).await;
        let raw = ca.raw();
        let account = RawAccount::register(&raw, Algorithm::ES256).await;
        let issued = ca
            .raw_issue(&raw, &account, &["imported.hsm.example.com"])
            .await;
        let chain = pem_chain(&issued.chain_pem);
        assert_eq!(
            chain[1],
            pem_chain(&std::fs::read_to_string(&intermediate).unwrap())[0]
        );
    })
    .await;
}

/// Rotation: `ferrite ca init --intermediate-from root.pem --name intermediate-next` adds an
/// intermediate in the token beside the ones a CA has (the root key signs it, no certificate is
/// replaced); with `ca.active` naming it, ECDSA keys get its chain, while the intermediate it
/// replaces is retired and keeps signing the CRL of the certificates it issued, in the token;
/// `ferrite ca show` says which issues.
#[tokio::test]
#[ignore = "needs softhsm2 and opensc: run scripts/test.sh"]
async fn an_added_intermediate_takes_over_and_the_retired_one_signs_its_crls() {
    let Some(hsm) = softhsm::in_own_process(
        "an_added_intermediate_takes_over_and_the_retired_one_signs_its_crls",
    ) else {
        return;
    };
    bounded(async {
        let kept = tempfile::tempdir().unwrap();
        let mut opts = TestCaOptions::default();
        hsm.configure(&mut opts.config);
        opts.data_dir = Some(kept.path().to_owned());
        let config = opts.config.clone();
        let first = TestCa::start_with(opts).await;
        let raw = first.raw();
        let account = RawAccount::register(&raw, Algorithm::ES256).await;
        let old = first.raw_issue(&raw, &account, &["old.example.com"]).await;
        let old_chain = pem_chain(&old.chain_pem);
        drop(first);

        let mut config = config;
        config.data_dir = kept.path().to_owned();
        let root = kept.path().join("ca/root.pem");
        let next = ferrite_pki::NewIntermediate {
            name: "intermediate-next".to_owned(),
            key_type: CaKeyType::EcdsaP256,
        };
        // A name already taken is refused: a ceremony never replaces a certificate.
        let taken = ferrite_pki::NewIntermediate {
            name: "intermediate-rsa".to_owned(),
            key_type: CaKeyType::Rsa2048,
        };
        let ceremony = ferrite_app::ca::intermediate_from(&root).unwrap();
        let err = ferrite_app::ca::init(&config, &ceremony, None, &[taken])
            .err()
            .expect("a taken name is refused");
        assert!(format!("{err:#}").contains("exists already"), "{err:#}");
        let done = ferrite_app::ca::init(&config, &ceremony, None, &[next]).unwrap();
        let roles: Vec<&str> = done.record.keys.iter().map(|k| k.role.as_str()).collect();
        assert_eq!(roles, ["root", "intermediate-next"]);
        softhsm::assert_private_keys_locked_in(&hsm, &hsm.label, 4);

        config.ca.active = vec!["intermediate-next".into(), "intermediate-rsa".into()];
        let report = ferrite_app::ca::show(&config).unwrap();
        let issuing: Vec<(Option<&str>, Option<bool>)> = report
            .certificates
            .iter()
            .filter(|c| c.role == "intermediate")
            .map(|c| (c.name.as_deref(), c.active))
            .collect();
        assert_eq!(
            issuing,
            [
                (Some("intermediate"), Some(false)),
                (Some("intermediate-next"), Some(true)),
                (Some("intermediate-rsa"), Some(true)),
            ]
        );

        let ca = TestCa::start_with(TestCaOptions {
            config,
            data_dir: Some(kept.path().to_owned()),
            ..TestCaOptions::default()
        })
        .await;
        let raw = ca.raw();
        let account = RawAccount::register(&raw, Algorithm::ES256).await;
        let new = ca.raw_issue(&raw, &account, &["new.example.com"]).await;
        let new_chain = pem_chain(&new.chain_pem);
        let (_, next_cert) = X509Certificate::from_der(&new_chain[1]).unwrap();
        assert!(
            next_cert.subject().to_string().ends_with(" NEXT"),
            "{}",
            next_cert.subject()
        );
        assert_ne!(new_chain[1], old_chain[1]);

        // The old certificate, revoked now, is listed by its retired intermediate's CRL.
        // Its account was made on the first start (its kid names that listener's port):
        // revoked by the certificate's own key (RFC 8555 §7.6).
        let leaf_key =
            ferrite_jose::sign::SigningKey::from_pkcs8(Algorithm::ES256, &old.leaf_key_pkcs8)
                .unwrap();
        let r = raw
            .post(
                &leaf_key,
                None,
                &ca.url("/acme/revoke-cert"),
                Some(&json!({
                    "certificate": base64::Engine::encode(
                        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                        &old.leaf_der
                    ),
                    "reason": 4
                })),
            )
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let url = ferrite_testkit::ca::crl_url(&old.leaf_der);
        let path = &url[url.find("/crl/").unwrap()..];
        let r = http_get(&format!("{}{path}", ca.public_url)).await;
        assert_eq!(r.status, 200);
        let (_, crl) = CertificateRevocationList::from_der(&r.body).unwrap();
        let (_, retired) = X509Certificate::from_der(&old_chain[1]).unwrap();
        crl.verify_signature(retired.public_key())
            .expect("the retired intermediate signs its CRL in the token");
        let (_, old_leaf) = X509Certificate::from_der(&old.leaf_der).unwrap();
        assert!(
            crl.iter_revoked_certificates()
                .any(|e| e.raw_serial() == old_leaf.raw_serial()),
            "the revoked certificate is in its retired intermediate's CRL"
        );
    })
    .await;
}
