//! RFC 8555 §7.4 CSRs: parsing, signature checks and policy, with CSRs from rcgen and openssl.
// Helpers here are test code too: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use ferrite_pki::{Csr, CsrError, CsrPolicy, KeyKind, SignatureAlgorithm};
use rcgen::ExtendedKeyUsagePurpose;

#[test]
fn p256_sha256_csr_is_accepted() {
    let der = rcgen_csr(
        &p256(),
        &["B.example.com", "a.example.com", "b.example.com"],
        |_| {},
    );
    let csr = Csr::parse(&der).unwrap();
    assert_eq!(csr.key, KeyKind::EcP256);
    assert_eq!(csr.signature_algorithm, SignatureAlgorithm::EcdsaSha256);
    assert_eq!(csr.names, ["a.example.com", "b.example.com"]);
    assert!(!csr.has_extended_key_usage);
    assert!(!csr.has_ip_addresses);
    CsrPolicy::default().check(&csr).unwrap();
}

#[test]
fn p384_sha384_csr_needs_the_sha384_option() {
    let der = rcgen_csr(&p384(), &["a.example.com"], |_| {});
    let csr = Csr::parse(&der).unwrap();
    assert_eq!(csr.key, KeyKind::EcP384);
    assert_eq!(csr.signature_algorithm, SignatureAlgorithm::EcdsaSha384);

    let err = CsrPolicy::default().check(&csr).unwrap_err();
    assert!(
        matches!(err, CsrError::DisallowedSignatureAlgorithm { .. }),
        "{err:?}"
    );
    assert!(!err.is_bad_public_key());
    let msg = err.to_string();
    assert!(msg.contains("ECDSA with SHA-384"), "{msg}");
    assert!(msg.contains("lego: --key-type ec256 or rsa2048"), "{msg}");

    let lenient = CsrPolicy {
        allow_sha384_sha512: true,
        ..CsrPolicy::default()
    };
    lenient.check(&csr).unwrap();
}

/// The rustls/rcgen#448 case: a P-384 key in a SHA-256-signed CSR must stay P-384.
#[test]
fn p384_sha256_csr_from_openssl_is_p384() {
    let tmp = tempfile::tempdir().unwrap();
    let der = openssl_csr(
        tmp.path(),
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        "-sha256",
        "p384.example.com",
    );
    let csr = Csr::parse(&der).unwrap();
    assert_eq!(csr.key, KeyKind::EcP384);
    assert_eq!(csr.signature_algorithm, SignatureAlgorithm::EcdsaSha256);
    assert_eq!(csr.names, ["p384.example.com"]);
    CsrPolicy::default().check(&csr).unwrap();
}

#[test]
fn rsa2048_csr_is_accepted() {
    let der = rcgen_csr(&rsa2048(), &["rsa.example.com"], |_| {});
    let csr = Csr::parse(&der).unwrap();
    assert_eq!(
        csr.key,
        KeyKind::Rsa {
            bits: 2048,
            exponent_is_65537: true
        }
    );
    assert_eq!(csr.signature_algorithm, SignatureAlgorithm::RsaPkcs1Sha256);
    CsrPolicy::default().check(&csr).unwrap();
}

#[test]
fn eku_csr_is_rejected_with_advice() {
    let der = rcgen_csr(&p256(), &["a.example.com"], |p| {
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    });
    let csr = Csr::parse(&der).unwrap();
    assert!(csr.has_extended_key_usage);
    let err = CsrPolicy::default().check(&csr).unwrap_err();
    assert_eq!(err, CsrError::ExtendedKeyUsagePresent);
    assert!(!err.is_bad_public_key());
    assert!(
        err.to_string()
            .contains("acme.sh users: do not reuse the auto-generated CSR")
    );
}

#[test]
fn ip_address_csr_is_rejected() {
    let der = rcgen_csr(&p256(), &["a.example.com"], ip_san);
    let csr = Csr::parse(&der).unwrap();
    assert!(csr.has_ip_addresses);
    assert_eq!(csr.names, ["a.example.com"]);
    let err = CsrPolicy::default().check(&csr).unwrap_err();
    assert_eq!(err, CsrError::IpAddressesUnsupported);
}

#[test]
fn common_name_is_a_requested_name() {
    let tmp = tempfile::tempdir().unwrap();
    let der = openssl_csr(
        tmp.path(),
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "-sha256",
        "CN.Example.com",
    );
    let csr = Csr::parse(&der).unwrap();
    assert_eq!(csr.names, ["cn.example.com"]);
}

#[test]
fn weak_and_unsupported_keys_are_bad_public_keys() {
    let tmp = tempfile::tempdir().unwrap();
    // RSA-1024: refused by parse itself (below the 2048-bit floor).
    let der = openssl_csr(
        tmp.path(),
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
        "-sha256",
        "rsa1024.example.com",
    );
    let err = Csr::parse(&der).unwrap_err();
    assert!(err.is_bad_public_key(), "{err:?}");
    assert!(err.to_string().contains("RSA 1024-bit"), "{err}");

    // RSA-2048 with e = 3: parses, refused by policy.
    let der = openssl_csr(
        tmp.path(),
        &[
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-pkeyopt",
            "rsa_keygen_pubexp:3",
        ],
        "-sha256",
        "rsa-e3.example.com",
    );
    let csr = Csr::parse(&der).unwrap();
    assert_eq!(
        csr.key,
        KeyKind::Rsa {
            bits: 2048,
            exponent_is_65537: false
        }
    );
    let err = CsrPolicy::default().check(&csr).unwrap_err();
    assert!(err.is_bad_public_key(), "{err:?}");

    // RSA-8192 parses but is above the default maximum.
    // (Generating it takes seconds; 6144 proves the same point faster.)
    let der = openssl_csr(
        tmp.path(),
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:6144"],
        "-sha256",
        "rsa6144.example.com",
    );
    let err = CsrPolicy::default()
        .check(&Csr::parse(&der).unwrap())
        .unwrap_err();
    assert!(err.is_bad_public_key(), "{err:?}");

    // P-521 and Ed25519: verified, then refused by policy.
    let der = openssl_csr(
        tmp.path(),
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"],
        "-sha512",
        "p521.example.com",
    );
    let csr = Csr::parse(&der).unwrap();
    assert_eq!(csr.key, KeyKind::EcP521);
    assert!(
        CsrPolicy::default()
            .check(&csr)
            .unwrap_err()
            .is_bad_public_key()
    );

    let ed = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let csr = Csr::parse(&rcgen_csr(&ed, &["ed.example.com"], |_| {})).unwrap();
    assert_eq!(csr.key, KeyKind::Ed25519);
    assert_eq!(csr.signature_algorithm, SignatureAlgorithm::Ed25519);
    assert!(
        CsrPolicy::default()
            .check(&csr)
            .unwrap_err()
            .is_bad_public_key()
    );
}

#[test]
fn sha1_csr_is_a_disallowed_algorithm() {
    let tmp = tempfile::tempdir().unwrap();
    let der = openssl_csr(
        tmp.path(),
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        "-sha1",
        "sha1.example.com",
    );
    let csr = Csr::parse(&der).unwrap();
    assert_eq!(csr.signature_algorithm, SignatureAlgorithm::RsaPkcs1Sha1);
    let err = CsrPolicy::default().check(&csr).unwrap_err();
    assert_eq!(
        err,
        CsrError::DisallowedSignatureAlgorithm {
            algorithm: SignatureAlgorithm::RsaPkcs1Sha1
        }
    );
    assert!(
        err.to_string().contains("RSA PKCS#1 v1.5 with SHA-1"),
        "{err}"
    );
}

#[test]
fn garbage_and_truncated_der_are_malformed() {
    let der = rcgen_csr(&p256(), &["a.example.com"], |_| {});
    for len in 0..der.len() {
        let err = Csr::parse(&der[..len]).unwrap_err();
        assert!(
            matches!(err, CsrError::Malformed { .. }),
            "prefix {len}: {err:?}"
        );
    }
    let mut trailing = der.clone();
    trailing.push(0);
    assert!(matches!(
        Csr::parse(&trailing),
        Err(CsrError::Malformed { .. })
    ));
    for garbage in [
        &b"hello"[..],
        &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
        &[0xff; 64],
    ] {
        assert!(matches!(
            Csr::parse(garbage),
            Err(CsrError::Malformed { .. })
        ));
    }
    // DER is what ACME sends; PEM text is garbage to the parser.
    assert!(matches!(
        Csr::parse(b"-----BEGIN CERTIFICATE REQUEST-----\n"),
        Err(CsrError::Malformed { .. })
    ));
}

#[test]
fn every_flipped_byte_is_refused_without_panic() {
    let der = rcgen_csr(&p256(), &["a.example.com"], |_| {});
    let original = Csr::parse(&der).unwrap();
    let mut refused = 0;
    for i in 0..der.len() {
        let mut bad = der.clone();
        bad[i] ^= 0x01;
        match Csr::parse(&bad) {
            // x509-parser tolerates a changed tag on the (unsigned) outer algorithm OID; what
            // matters is that no change yields a different accepted request.
            Ok(csr) => assert_eq!(csr, original, "flipping byte {i} changed the request"),
            Err(_) => refused += 1,
        }
    }
    assert!(
        refused >= der.len() - 2,
        "{refused} of {} refused",
        der.len()
    );
}

#[test]
fn tampered_name_breaks_the_signature() {
    let der = rcgen_csr(&p256(), &["a.example.com"], |_| {});
    let pos = der.windows(13).position(|w| w == b"a.example.com").unwrap();
    let mut bad = der.clone();
    bad[pos] = b'b';
    assert_eq!(Csr::parse(&bad).unwrap_err(), CsrError::BadSignature);
}

#[test]
fn error_messages_are_sentences() {
    let errors = [
        CsrError::Malformed { detail: "x".into() },
        CsrError::BadSignature,
        CsrError::DisallowedSignatureAlgorithm {
            algorithm: SignatureAlgorithm::Other("1.2.3".into()),
        },
        CsrError::ExtendedKeyUsagePresent,
        CsrError::IpAddressesUnsupported,
    ];
    for e in errors {
        let s = e.to_string();
        assert!(s.starts_with("The CSR"), "{s}");
        assert!(s.ends_with('.'), "{s}");
    }
}

/// A dNSName is an IA5String (RFC 5280 §4.2.1.6), but x509-parser reads it as UTF-8: a name
/// that is not ASCII, in the subjectAltName or the commonName, is refused as such, with the
/// advice to send the A-label, rather than reaching the comparison with the order.
#[test]
fn names_that_are_not_ascii_are_refused() {
    // subjectAltName with one dNSName ([2] IMPLICIT IA5String) holding UTF-8.
    let name = "bücher.example.com";
    let mut san = vec![0x82, u8::try_from(name.len()).unwrap()];
    san.extend_from_slice(name.as_bytes());
    san.splice(0..0, [0x30, u8::try_from(san.len()).unwrap()]);
    let der = rcgen_csr(&p256(), &[], |params| {
        params
            .custom_extensions
            .push(rcgen::CustomExtension::from_oid_content(
                &[2, 5, 29, 17],
                san,
            ));
    });
    assert_eq!(
        Csr::parse(&der).unwrap_err(),
        CsrError::NameNotAscii {
            field: "subjectAltName",
            name: name.to_owned(),
        }
    );

    let der = rcgen_csr(&p256(), &["xn--bcher-kva.example.com"], |params| {
        params.distinguished_name.push(
            rcgen::DnType::CommonName,
            rcgen::DnValue::Utf8String("BÜCHER.example.com".into()),
        );
    });
    let err = Csr::parse(&der).unwrap_err();
    assert_eq!(
        err,
        CsrError::NameNotAscii {
            field: "commonName",
            name: "BÜCHER.example.com".to_owned(),
        }
    );
    assert!(err.to_string().contains("A-label (xn--)"), "{err}");
    assert!(!err.is_bad_public_key());

    // The A-label form of the same names is accepted.
    let der = rcgen_csr(&p256(), &["xn--bcher-kva.example.com"], |params| {
        params.distinguished_name.push(
            rcgen::DnType::CommonName,
            rcgen::DnValue::Utf8String("XN--BCHER-KVA.example.com".into()),
        );
    });
    assert_eq!(
        Csr::parse(&der).unwrap().names,
        vec!["xn--bcher-kva.example.com".to_owned()]
    );
}
