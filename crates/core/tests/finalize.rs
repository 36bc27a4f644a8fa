//! Finalize's CSR refusals, called on the engine directly (RFC 8555 §7.4): names that differ
//! from the order's identifiers, an Extended Key Usage or IP address request, signature
//! algorithms other than SHA-256 and signatures that do not verify (`badCSR`); key types,
//! sizes and weak or compromised keys (`badPublicKey`); the account key as the certificate key.
//! None of them spends the order: it stays `ready` and a good CSR is then issued once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Engine, assert_problem, bounded, csr_der, refused};
use ferrite_core::CaConfig;
use ferrite_pki::{CsrPolicy, KeyBlocklist};
use ferrite_proto::{OrderStatus, ProblemType};
use ferrite_testkit::ca::csr_der_with;
use ferrite_testkit::keys::ChosenRsaKey;

const BAD_CSR: ProblemType = ProblemType::BadCsr;
const BAD_KEY: ProblemType = ProblemType::BadPublicKey;

#[tokio::test]
async fn csr_refusals() {
    bounded(async {
        let leaked = rcgen::KeyPair::generate().unwrap();
        let engine = Engine::start_with(CaConfig {
            csr_policy: CsrPolicy {
                blocked_keys: KeyBlocklist::from_spkis([rcgen::PublicKeyData::subject_public_key_info(
                    &leaked,
                )
                .as_slice()]),
                ..CsrPolicy::default()
            },
            ..CaConfig::default()
        })
        .await;
        let client = engine.account().await;
        let names = ["f.example.com", "g.example.com"];
        let order = engine.ready_order(&client, &names).await;
        let id = order.order.id.as_str();
        let key = rcgen::KeyPair::generate().unwrap();
        let good = csr_der(&names, &key);
        let tampered = {
            let mut der = good.clone();
            let at = der
                .windows(13)
                .position(|w| w == b"f.example.com")
                .unwrap();
            der[at] = b'e';
            der
        };
        let account_key = rcgen::KeyPair::try_from(client.key.pkcs8_der().as_slice()).unwrap();
        let p384 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let p521 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
        let ed25519 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();

        // (case, CSR, problem type, fragment of the detail the customer acts on)
        let cases: Vec<(&str, Vec<u8>, ProblemType, &str)> = vec![
            // The names must be exactly the identifiers.
            (
                "a name missing",
                csr_der(&["f.example.com"], &key),
                BAD_CSR,
                "missing from the CSR: g.example.com",
            ),
            (
                "an extra name",
                csr_der(&["f.example.com", "g.example.com", "h.example.com"], &key),
                BAD_CSR,
                "in the CSR but not in the order: h.example.com",
            ),
            (
                "a wildcard for a name",
                csr_der(&["f.example.com", "*.g.example.com"], &key),
                BAD_CSR,
                "missing from the CSR: g.example.com; in the CSR but not in the order: *.g.example.com",
            ),
            (
                "a commonName outside the order",
                csr_der_with(&names, &key, |p| {
                    p.distinguished_name
                        .push(rcgen::DnType::CommonName, "other.example.com")
                }),
                BAD_CSR,
                "in the CSR but not in the order: other.example.com",
            ),
            // What the CSR asks for beyond names.
            (
                "an Extended Key Usage",
                csr_der_with(&names, &key, |p| {
                    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth]
                }),
                BAD_CSR,
                "Extended Key Usage extension; this CA sets key usages itself",
            ),
            (
                "an IP address",
                csr_der_with(&names, &key, |p| {
                    p.subject_alt_names
                        .push(rcgen::SanType::IpAddress([192, 0, 2, 1].into()))
                }),
                BAD_CSR,
                "IP address subject alternative names",
            ),
            // Signatures.
            (
                "SHA-384 (P-384)",
                csr_der(&names, &p384),
                BAD_CSR,
                "signed with ECDSA with SHA-384, which this CA does not accept",
            ),
            (
                "SHA-1 (RSA)",
                ChosenRsaKey::far_primes().sha1_csr(&names),
                BAD_CSR,
                "signed with RSA PKCS#1 v1.5 with SHA-1, which this CA does not accept",
            ),
            (
                "a signature that does not verify",
                tampered,
                BAD_CSR,
                "signature does not verify",
            ),
            (
                "not DER",
                b"not a csr".to_vec(),
                BAD_CSR,
                "not a valid DER-encoded PKCS#10 request",
            ),
            (
                "PEM instead of DER",
                b"-----BEGIN CERTIFICATE REQUEST-----\n".to_vec(),
                BAD_CSR,
                "not PEM",
            ),
            (
                "the account key",
                csr_der(&names, &account_key),
                BAD_CSR,
                "the CSR's public key is the account key",
            ),
            // Keys.
            (
                "Ed25519",
                csr_der(&names, &ed25519),
                BAD_KEY,
                "Ed25519 keys are not allowed",
            ),
            (
                "P-521",
                csr_der(&names, &p521),
                BAD_KEY,
                "the P-521 curve is not supported",
            ),
            (
                "RSA 1024",
                csr_der(&names, &ChosenRsaKey::rsa_1024()),
                BAD_KEY,
                "a 1024-bit RSA modulus is outside 2048..=8192 bits",
            ),
            (
                "RSA with a small prime factor",
                csr_der(&names, &ChosenRsaKey::small_factor()),
                BAD_KEY,
                "prime factor below 10000",
            ),
            (
                "RSA with close primes",
                csr_der(&names, &ChosenRsaKey::close_primes()),
                BAD_KEY,
                "Fermat",
            ),
            (
                "a blocklisted key",
                csr_der(&names, &leaked),
                BAD_KEY,
                "known to be compromised",
            ),
        ];
        for (case, csr, kind, detail) in cases {
            let p = refused(case, engine.finalize(&client, id, &csr).await);
            assert_problem(case, &p, kind, Some(detail));
            assert_eq!(p.http_status(), 400, "{case}");
            // The client may retry with a better CSR.
            let status = engine.order(&client, id).await.status;
            assert_eq!(status, OrderStatus::Ready, "{case}");
        }

        // A good CSR is issued, once.
        let view = engine.finalize(&client, id, &good).await.unwrap();
        assert_eq!(view.status, OrderStatus::Valid);
        let p = refused("again", engine.finalize(&client, id, &good).await);
        assert_problem("again", &p, ProblemType::OrderNotReady, Some("is valid"));
    })
    .await;
}
