//! An RSA issuing intermediate under an ECDSA P-384 root, its key in a file or in a PKCS#11
//! token (SoftHSM): imported into a CA directory, it issues certificates and CRLs signed with
//! sha256WithRSAEncryption that `openssl verify` accepts.
//!
//! The token test makes a throwaway SoftHSM token store with its own `SOFTHSM2_CONF` and runs
//! in a process of its own (SoftHSM reads the variable once per process). It needs `softhsm2`
//! and `opensc` (`pkcs11-tool`), which the project's test command installs, so it is
//! `#[ignore]`d for a plain `cargo test`: `cargo test -p ferrite-pki --test rsa --
//! --include-ignored` runs it.
// Helpers here are test code too: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration as StdDuration, Instant};

use ::time::{Duration, OffsetDateTime};
use common::*;
use ferrite_pki::pkcs11::{Pkcs11Pin, Token, TokenSettings};
use ferrite_pki::{
    CaBundle, CaKeyAlgorithm, CaKeyType, CaSigner, Csr, ImportedKey, KeyLocation, PkiError,
    RevokedEntry, generate_file_key,
};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, PublicKeyData,
};
use x509_parser::prelude::{FromDer, parse_x509_certificate};
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

/// sha256WithRSAEncryption with NULL parameters, as the Baseline Requirements §7.1.3.2.1
/// require it to be encoded (`300d06092a864886f70d01010b0500`).
const SHA256_WITH_RSA_NULL: [u8; 15] = [
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00,
];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An operator's existing hierarchy, made with rcgen rather than by the CA: an ECDSA P-384
/// root (its key in memory only) and an issuing intermediate over `intermediate_spki` signed
/// by it, valid from an hour ago for five years. Returns both certificates, PEM.
fn hierarchy(intermediate_spki: &[u8]) -> (String, String) {
    let not_before = OffsetDateTime::now_utc() - Duration::hours(1);
    let ca = |name: &str, path_len: BasicConstraints| {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CountryName, "US");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Example Trust");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(path_len);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        params.not_before = not_before;
        params.not_after = not_before + Duration::days(1826);
        params
    };
    let root_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let root_params = ca("Example Root E9", BasicConstraints::Unconstrained);
    let root = root_params.self_signed(&root_key).unwrap();
    let root_issuer = rcgen::Issuer::new(root_params, root_key);
    let mut intermediate = ca("Example Issuing R9", BasicConstraints::Constrained(0));
    intermediate.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    intermediate.use_authority_key_identifier_extension = true;
    let public_key = rcgen::SubjectPublicKeyInfo::from_der(intermediate_spki).unwrap();
    let intermediate = intermediate.signed_by(&public_key, &root_issuer).unwrap();
    (root.pem(), intermediate.pem())
}

/// Runs `openssl` with `args`; returns whether it succeeded and what it printed.
fn openssl(args: &[&std::ffi::OsStr]) -> (bool, String) {
    run(Command::new("openssl").args(args))
}

/// The issuer of `bundle` (an RSA intermediate) issues a certificate for a P-256 and for an
/// RSA subscriber key, and a CRL revoking the first: each is signed with
/// sha256WithRSAEncryption (NULL parameters); `openssl verify` accepts both leaves up to the
/// root, `openssl crl` accepts the CRL's signature, and `openssl verify -crl_check` finds the
/// first leaf revoked in it.
fn issue_and_verify(scratch: &Path, bundle: &CaBundle) {
    let issuer = &bundle.issuer;
    assert_eq!(issuer.key().algorithm(), CaKeyAlgorithm::RsaSha256);
    let mut issued = Vec::new();
    for (key, name) in [(p256(), "ec.example.com"), (rsa2048(), "rsa.example.com")] {
        let csr = Csr::parse(&rcgen_csr(&key, &[name], |_| {})).unwrap();
        let leaf = issuer.issue(&request_for(&csr, 90)).unwrap();
        let (_, cert) = parse_x509_certificate(&leaf.der).unwrap();
        let (_, algorithm) =
            x509_parser::x509::AlgorithmIdentifier::from_der(&SHA256_WITH_RSA_NULL).unwrap();
        assert_eq!(cert.signature_algorithm, algorithm, "{name}");
        assert_eq!(cert.tbs_certificate.signature, algorithm, "{name}");
        let (ok, out) = openssl_verify(scratch, bundle, &leaf_pem(&leaf), name);
        assert!(ok && out.contains(": OK"), "{name}: {out}");
        issued.push(leaf);
    }

    let now = OffsetDateTime::now_utc();
    let revoked = &issued[0];
    let crl = issuer
        .sign_crl(
            Some(revoked.crl_shard),
            &[RevokedEntry {
                serial_hex: revoked.serial_hex.clone(),
                revoked_at: now,
                reason: 1,
            }],
            1,
            now,
            now + Duration::days(1),
        )
        .unwrap();
    let crl_file = scratch.join("crl.der");
    std::fs::write(&crl_file, &crl).unwrap();
    let chain = scratch.join("ca-chain.pem");
    std::fs::write(
        &chain,
        format!("{}{}", bundle.root_pem, bundle.intermediate_pem),
    )
    .unwrap();
    let (ok, out) = openssl(&[
        "crl".as_ref(),
        "-inform".as_ref(),
        "DER".as_ref(),
        "-in".as_ref(),
        crl_file.as_os_str(),
        "-CAfile".as_ref(),
        chain.as_os_str(),
        "-noout".as_ref(),
    ]);
    assert!(ok && out.contains("verify OK"), "{out}");
    let crl_pem = scratch.join("crl.pem");
    let (ok, out) = openssl(&[
        "crl".as_ref(),
        "-inform".as_ref(),
        "DER".as_ref(),
        "-in".as_ref(),
        crl_file.as_os_str(),
        "-out".as_ref(),
        crl_pem.as_os_str(),
    ]);
    assert!(ok, "{out}");
    let leaf = scratch.join("revoked.pem");
    std::fs::write(&leaf, leaf_pem(revoked)).unwrap();
    let intermediate = scratch.join("intermediate-only.pem");
    std::fs::write(&intermediate, &bundle.intermediate_pem).unwrap();
    let root = scratch.join("root-only.pem");
    std::fs::write(&root, &bundle.root_pem).unwrap();
    let (ok, out) = openssl(&[
        "verify".as_ref(),
        "-crl_check".as_ref(),
        "-CRLfile".as_ref(),
        crl_pem.as_os_str(),
        "-CAfile".as_ref(),
        root.as_os_str(),
        "-untrusted".as_ref(),
        intermediate.as_os_str(),
        leaf.as_os_str(),
    ]);
    assert!(!ok && out.contains("certificate revoked"), "{out}");
}

/// An RSA 2048 intermediate key generated in memory, written by `CaBundle::import` next to
/// the certificates of an existing hierarchy: the CA directory loads again with it, and it
/// issues what openssl verifies.
#[test]
fn an_imported_rsa_intermediate_with_its_key_in_a_file_issues_what_openssl_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ca");
    let key = generate_file_key(CaKeyType::Rsa2048, dir.join("private/intermediate.key")).unwrap();
    assert_eq!(key.algorithm(), CaKeyAlgorithm::RsaSha256);
    let (root_pem, intermediate_pem) = hierarchy(key.public_key_der());
    let bundle = CaBundle::import(
        &dir,
        &options(),
        &root_pem,
        &intermediate_pem,
        ImportedKey::File(&key.to_pem()),
    )
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("private/intermediate.key")).unwrap(),
        key.to_pem().expose()
    );
    let (again, created) = CaBundle::load_or_create(&dir, &options()).unwrap();
    assert!(!created);
    assert_eq!(again.issuer.key().public_key_der(), key.public_key_der());
    issue_and_verify(tmp.path(), &again);
    issue_and_verify(tmp.path(), &bundle);
}

/// The variable that tells a child test process it is one (its value: the store's directory).
const SOFTHSM_DIR: &str = "FERRITE_PKI_TEST_SOFTHSM_DIR";
/// Debian's SoftHSM module.
const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// The user PIN of the test token.
const PIN: &str = "20261204";
/// The test token's label.
const TOKEN: &str = "ferrite";

/// Runs the calling test's body in a child process with a SoftHSM token store of its own
/// (one token, [`TOKEN`], user PIN [`PIN`]). In the parent: makes the store, runs this test
/// binary for exactly `test` with `SOFTHSM2_CONF` set (at most 200 s), checks it passed, and
/// returns `None`. In the child: returns the store's directory.
fn in_own_process(test: &str) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(SOFTHSM_DIR) {
        return Some(dir.into());
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("tokens")).unwrap();
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            dir.join("tokens").display()
        ),
    )
    .unwrap();
    let (ok, out) = run(Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", &conf)
        .args(["--init-token", "--free", "--label", TOKEN])
        .args(["--so-pin", "87654321", "--pin", PIN]));
    assert!(
        ok,
        "softhsm2-util --init-token (Debian package softhsm2) failed: {out}"
    );
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--include-ignored"])
        .env("SOFTHSM2_CONF", &conf)
        .env(SOFTHSM_DIR, dir)
        .env_remove("NEXTEST_EXECUTION_MODE")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + StdDuration::from_secs(200);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{test} did not finish within 200 s in its own process");
        }
        std::thread::sleep(StdDuration::from_millis(50));
    };
    assert!(
        status.success(),
        "{test} failed in its own process ({status}); its output is above"
    );
    None
}

/// `pkcs11-tool` (OpenSC) on the test token, logged in: an independent tool acting on it.
fn pkcs11_tool(args: &[&str]) -> String {
    let (ok, out) = run(Command::new("pkcs11-tool")
        .args([
            "--module",
            MODULE,
            "--token-label",
            TOKEN,
            "--login",
            "--pin",
            PIN,
        ])
        .args(args));
    assert!(
        ok,
        "pkcs11-tool (Debian package opensc) {args:?} failed: {out}"
    );
    out
}

/// Checks that `signer` signs with RSASSA-PKCS1-v1_5 SHA-256 under its public key: 256-octet
/// signatures that verify for their message and not for another.
fn signs_under_its_public_key(signer: &dyn CaSigner) {
    let (_, spki) = SubjectPublicKeyInfo::from_der(signer.public_key_der()).unwrap();
    let verifier = aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        spki.subject_public_key.data.to_vec(),
    );
    for i in 0..4u8 {
        let message = [b'm', i];
        let signature = signer.sign(&message).unwrap();
        assert_eq!(signature.len(), 256);
        verifier.verify(&message, &signature).unwrap();
        assert!(verifier.verify(b"another message", &signature).is_err());
    }
}

/// An RSA 2048 key generated in a token: private, sensitive and never extractable; its
/// SubjectPublicKeyInfo is rsaEncryption with NULL parameters over its modulus and exponent
/// 65537, and its CKA_ID the RFC 7093 key identifier; `find_key` finds it from that SPKI and
/// `key_info` reports it; it signs what verifies. A key made by `pkcs11-tool` with an id of
/// its own is found through its public key object's modulus. As the intermediate of an
/// imported hierarchy, the token key issues certificates and a CRL that openssl verifies.
#[test]
#[ignore = "needs softhsm2 and opensc: run scripts/test.sh"]
fn an_rsa_key_in_a_token_is_locked_in_found_by_its_public_key_and_issues() {
    let Some(store) =
        in_own_process("an_rsa_key_in_a_token_is_locked_in_found_by_its_public_key_and_issues")
    else {
        return;
    };
    let token = Token::open(TokenSettings {
        module: MODULE.into(),
        token: TOKEN.into(),
        pin: Pkcs11Pin::new(PIN),
        max_sessions: 2,
    })
    .unwrap();
    let key = token
        .generate_key(CaKeyType::Rsa2048, "rsa-intermediate")
        .unwrap();
    assert_eq!(key.algorithm(), CaKeyAlgorithm::RsaSha256);
    let protection = key.protection().unwrap();
    assert!(
        protection.sensitive
            && !protection.extractable
            && protection.always_sensitive
            && protection.never_extractable,
        "{protection:?}"
    );

    let spki_der = key.public_key_der().to_vec();
    let (rest, spki) = SubjectPublicKeyInfo::from_der(&spki_der).unwrap();
    assert!(rest.is_empty());
    assert_eq!(
        spki.algorithm.algorithm.to_id_string(),
        "1.2.840.113549.1.1.1"
    );
    assert!(
        spki.algorithm
            .parameters
            .as_ref()
            .is_some_and(|p| p.tag() == x509_parser::der_parser::asn1_rs::Tag::Null),
        "{:?}",
        spki.algorithm.parameters
    );
    let Ok(PublicKey::RSA(rsa)) = spki.parsed() else {
        panic!("not an RSA key: {spki:?}");
    };
    assert_eq!(rsa.key_size(), 2048);
    assert_eq!(rsa.try_exponent().unwrap(), 65537);
    // DER exactly as rcgen writes the same key.
    assert_eq!(
        rcgen::SubjectPublicKeyInfo::from_der(&spki_der)
            .unwrap()
            .subject_public_key_info(),
        spki_der
    );
    let digest =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &spki.subject_public_key.data);
    assert_eq!(key.id(), &digest.as_ref()[..20]);
    signs_under_its_public_key(&key);

    let found = token.find_key(&spki_der, "intermediate.pem").unwrap();
    assert_eq!((found.id(), found.label()), (key.id(), "rsa-intermediate"));
    assert_eq!(found.algorithm(), CaKeyAlgorithm::RsaSha256);
    signs_under_its_public_key(&found);
    let info = token.key_info(&spki_der).unwrap().unwrap();
    assert_eq!(info.label, "rsa-intermediate");
    assert_eq!(info.id_hex, hex(key.id()));
    assert!(info.protection.is_locked_in(), "{info:?}");

    // A key the token does not hold.
    let absent = rsa2048().subject_public_key_info();
    assert_eq!(token.key_info(&absent).unwrap(), None);
    let err = token.find_key(&absent, "other.pem").unwrap_err();
    assert!(matches!(err, PkiError::TokenKeyNotFound { .. }), "{err:?}");

    // A key made elsewhere, whose CKA_ID is not its key identifier.
    pkcs11_tool(&[
        "--keypairgen",
        "--key-type",
        "rsa:2048",
        "--id",
        "0102",
        "--label",
        "elsewhere",
    ]);
    let elsewhere_file = store.join("elsewhere.der");
    pkcs11_tool(&[
        "--read-object",
        "--type",
        "pubkey",
        "--id",
        "0102",
        "--output-file",
        elsewhere_file.to_str().unwrap(),
    ]);
    let elsewhere_spki = std::fs::read(&elsewhere_file).unwrap();
    let elsewhere = token.find_key(&elsewhere_spki, "elsewhere.pem").unwrap();
    assert_eq!(
        (elsewhere.id(), elsewhere.label()),
        (&[1u8, 2][..], "elsewhere")
    );
    signs_under_its_public_key(&elsewhere);
    assert_eq!(
        token.key_info(&elsewhere_spki).unwrap().unwrap().id_hex,
        "0102"
    );

    // A vendor's tool that gave another key (an EC one, then an RSA one) the same id: each
    // lookup finds the key of its own public key, whatever else shares the id.
    for (key_type, label) in [("EC:prime256v1", "same-id-ec"), ("rsa:2048", "same-id-rsa")] {
        pkcs11_tool(&[
            "--keypairgen",
            "--key-type",
            key_type,
            "--id",
            "0102",
            "--label",
            label,
        ]);
    }
    let again = token.find_key(&elsewhere_spki, "elsewhere.pem").unwrap();
    assert_eq!(again.label(), "elsewhere");
    signs_under_its_public_key(&again);
    let same_id_file = store.join("same-id.der");
    pkcs11_tool(&[
        "--read-object",
        "--type",
        "pubkey",
        "--label",
        "same-id-rsa",
        "--output-file",
        same_id_file.to_str().unwrap(),
    ]);
    let same_id = token
        .find_key(&std::fs::read(&same_id_file).unwrap(), "same-id.pem")
        .unwrap();
    assert_eq!(same_id.label(), "same-id-rsa");
    signs_under_its_public_key(&same_id);

    // The intermediate of an imported hierarchy, its key staying in the token.
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("ca");
    let (root_pem, intermediate_pem) = hierarchy(&spki_der);
    let bundle = CaBundle::import(
        &dir,
        &options(),
        &root_pem,
        &intermediate_pem,
        ImportedKey::Token(&token),
    )
    .unwrap();
    assert_eq!(
        bundle.issuer.key().location(),
        KeyLocation::Token {
            token: TOKEN.into(),
            label: "rsa-intermediate".into(),
            id_hex: hex(key.id()),
        }
    );
    assert!(!dir.join("private/intermediate.key").exists());
    // The ACME listener's certificate, issued at import, is the token key's too.
    let (_, listener) = x509_parser::pem::parse_x509_pem(bundle.tls_chain_pem.as_bytes()).unwrap();
    let (_, listener) = parse_x509_certificate(&listener.contents).unwrap();
    assert_eq!(
        listener.signature_algorithm.algorithm.to_id_string(),
        "1.2.840.113549.1.1.11"
    );
    issue_and_verify(scratch.path(), &bundle);
}

/// ECDSA keys in a token beside the RSA ones: a P-256 and a P-384 key are generated locked in,
/// found again from their SubjectPublicKeyInfo, and sign DER ECDSA-Sig-Values that verify.
#[test]
#[ignore = "needs softhsm2 and opensc: run scripts/test.sh"]
fn ecdsa_keys_in_a_token_are_generated_found_and_sign() {
    if in_own_process("ecdsa_keys_in_a_token_are_generated_found_and_sign").is_none() {
        return;
    }
    let token = Token::open(TokenSettings {
        module: MODULE.into(),
        token: TOKEN.into(),
        pin: Pkcs11Pin::new(PIN),
        max_sessions: 2,
    })
    .unwrap();
    for (key_type, verification) in [
        (
            CaKeyType::EcdsaP256,
            &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
        ),
        (
            CaKeyType::EcdsaP384,
            &aws_lc_rs::signature::ECDSA_P384_SHA384_ASN1,
        ),
    ] {
        let key = token.generate_key(key_type, &key_type.to_string()).unwrap();
        assert_eq!(key.algorithm(), key_type.algorithm());
        assert!(key.protection().unwrap().is_locked_in(), "{key_type}");
        let found = token
            .find_key(key.public_key_der(), "intermediate.pem")
            .unwrap();
        assert_eq!(found.id(), key.id());
        let (_, spki) = SubjectPublicKeyInfo::from_der(key.public_key_der()).unwrap();
        let message = b"a TBSCertList";
        aws_lc_rs::signature::UnparsedPublicKey::new(verification, &spki.subject_public_key.data)
            .verify(message, &found.sign(message).unwrap())
            .unwrap_or_else(|_| panic!("{key_type}: the signature does not verify"));
    }
}
