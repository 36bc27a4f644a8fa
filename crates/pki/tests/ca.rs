//! The CA data directory, issuance with the exact BR profile, openssl verification, CRLs and
//! certificate parsing.
// Helpers here are test code too: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs;

use ::time::{Duration, OffsetDateTime};
use common::*;
use ferrite_pki::{
    CaBundle, Csr, IssueRequest, Issuer, KeyType, PkiError, RevokedEntry, parse_certificate,
};
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::prelude::{X509Certificate, X509Version, parse_x509_certificate, parse_x509_crl};

const FILES: [&str; 8] = [
    "root.pem",
    "private/root.key",
    "intermediate.pem",
    "private/intermediate.key",
    "intermediate-rsa.pem",
    "private/intermediate-rsa.key",
    "tls.pem",
    "private/tls.key",
];

fn snapshot(dir: &std::path::Path) -> Vec<Vec<u8>> {
    FILES
        .iter()
        .map(|f| fs::read(dir.join(f)).unwrap())
        .collect()
}

#[test]
fn load_or_create_twice_regenerates_nothing() {
    let (_tmp, dir, first) = new_ca();
    let before = snapshot(&dir);

    let (second, created) = CaBundle::load_or_create(&dir, &options()).unwrap();
    assert!(!created);
    assert_eq!(snapshot(&dir), before);
    assert_eq!(second.root_pem, first.root_pem);
    assert_eq!(second.intermediate_pem, first.intermediate_pem);
    assert_eq!(second.tls_chain_pem, first.tls_chain_pem);
    assert_eq!(second.tls_key, first.tls_key);
    assert_eq!(
        second.issuer.intermediate_der(),
        first.issuer.intermediate_der()
    );
    assert_eq!(
        fs::read_to_string(CaBundle::root_path(&dir)).unwrap(),
        first.root_pem
    );
    assert_eq!(
        fs::read_to_string(dir.join("private/tls.key")).unwrap(),
        first.tls_key.expose()
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &str| fs::metadata(dir.join(p)).unwrap().permissions().mode() & 0o777;
        // The certificates are readable by everyone, the keys only by their owner.
        assert_eq!(mode(""), 0o755);
        for cert in [
            "root.pem",
            "intermediate.pem",
            "intermediate-rsa.pem",
            "tls.pem",
        ] {
            assert_eq!(mode(cert), 0o644, "{cert}");
        }
        assert_eq!(mode("private"), 0o700);
        for key in [
            "private/root.key",
            "private/intermediate.key",
            "private/intermediate-rsa.key",
            "private/tls.key",
        ] {
            assert_eq!(mode(key), 0o600, "{key}");
            assert!(
                fs::read_to_string(dir.join(key))
                    .unwrap()
                    .starts_with("-----BEGIN PRIVATE KEY-----")
            );
        }
    }
    // No temporary files left behind: four certificates and the key directory.
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 5);
    assert_eq!(fs::read_dir(dir.join("private")).unwrap().count(), 4);
    // The two intermediates: ECDSA (the primary) and RSA, under the one root.
    assert!(!second.issuer.key_is_rsa());
    let rsa: Vec<(&str, bool)> = second
        .others
        .iter()
        .map(|i| (i.name(), i.key_is_rsa()))
        .collect();
    assert_eq!(rsa, [("intermediate-rsa", true)]);
}

/// A user other than the CA's reads the root (a web server's ACME worker drops privileges)
/// and cannot read a key. Needs root to run a command as `nobody`; skipped otherwise.
#[cfg(unix)]
#[test]
fn another_user_reads_the_root_but_no_key() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let (tmp, dir, _) = new_ca();
    // The effective uid: /proc/self belongs to it.
    let uid = std::os::unix::fs::MetadataExt::uid(&fs::metadata("/proc/self").unwrap());
    if uid != 0 {
        eprintln!("skipped: running a command as another user needs root");
        return;
    }
    // A data directory as an operator has it: traversable by others.
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let cat_as_nobody = |path: &std::path::Path| {
        std::process::Command::new("cat")
            .arg(path)
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap()
    };
    let out = cat_as_nobody(&CaBundle::root_path(&dir));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("-----BEGIN CERTIFICATE-----"));
    for key in [
        "private/root.key",
        "private/intermediate.key",
        "private/tls.key",
    ] {
        let out = cat_as_nobody(&dir.join(key));
        assert!(!out.status.success(), "{key} is readable by nobody");
    }
}

#[test]
fn keys_beside_the_certificates_move_into_the_private_directory() {
    let (_tmp, dir, first) = new_ca();
    // The layout that kept the keys beside the certificates, in a 0700 directory (of a CA
    // with one intermediate).
    fs::remove_file(dir.join("intermediate-rsa.pem")).unwrap();
    fs::remove_file(dir.join("private/intermediate-rsa.key")).unwrap();
    let before: Vec<Vec<u8>> = FILES
        .iter()
        .filter(|f| !f.contains("-rsa"))
        .map(|f| fs::read(dir.join(f)).unwrap())
        .collect();
    for key in ["root.key", "intermediate.key", "tls.key"] {
        fs::rename(dir.join("private").join(key), dir.join(key)).unwrap();
    }
    fs::remove_dir(dir.join("private")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    }
    let (second, created) = CaBundle::load_or_create(&dir, &options()).unwrap();
    assert!(!created);
    assert_eq!(second.root_pem, first.root_pem);
    let after: Vec<Vec<u8>> = FILES
        .iter()
        .filter(|f| !f.contains("-rsa"))
        .map(|f| fs::read(dir.join(f)).unwrap())
        .collect();
    assert_eq!(after, before);
    assert!(second.others.is_empty());
    assert!(!dir.join("tls.key").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &str| fs::metadata(dir.join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(""), 0o755);
        assert_eq!(mode("private"), 0o700);
        assert_eq!(mode("private/tls.key"), 0o600);
    }
    // A key in both places is an error that names both, not a guess.
    fs::copy(dir.join("private/tls.key"), dir.join("tls.key")).unwrap();
    let err = CaBundle::load_or_create(&dir, &options()).unwrap_err();
    assert!(err.to_string().contains("exists too"), "{err}");
}

#[test]
fn a_partial_directory_is_an_error_not_a_new_ca() {
    let (_tmp, dir, _) = new_ca();
    fs::remove_file(dir.join("private/intermediate.key")).unwrap();
    let before: Vec<_> = ["root.pem", "intermediate.pem", "tls.pem"]
        .iter()
        .map(|f| fs::read(dir.join(f)).unwrap())
        .collect();
    let err = CaBundle::load_or_create(&dir, &options()).unwrap_err();
    match &err {
        PkiError::IncompleteDataDir { missing, .. } => {
            assert_eq!(missing, &["private/intermediate.key"])
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("restore the missing files"),
        "{err}"
    );
    let after: Vec<_> = ["root.pem", "intermediate.pem", "tls.pem"]
        .iter()
        .map(|f| fs::read(dir.join(f)).unwrap())
        .collect();
    assert_eq!(before, after);
    assert!(!dir.join("private/intermediate.key").exists());
}

#[test]
fn the_root_key_may_be_moved_offline() {
    let (_tmp, dir, first) = new_ca();
    fs::remove_file(dir.join("private/root.key")).unwrap();
    let (second, created) = CaBundle::load_or_create(&dir, &options()).unwrap();
    assert!(!created);
    assert_eq!(second.root_pem, first.root_pem);
}

#[test]
fn a_foreign_key_is_refused() {
    let (_tmp, dir, _) = new_ca();
    fs::write(dir.join("private/intermediate.key"), p256().serialize_pem()).unwrap();
    let err = CaBundle::load_or_create(&dir, &options()).unwrap_err();
    assert!(
        matches!(&err, PkiError::InvalidCaFile { reason, .. } if reason.contains("does not belong")),
        "{err:?}"
    );
}

#[test]
fn bad_options_are_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ca");
    let mut opts = options();
    opts.country = "USA".into();
    assert!(matches!(
        CaBundle::load_or_create(&dir, &opts),
        Err(PkiError::InvalidOptions {
            field: "country",
            ..
        })
    ));
    let mut opts = options();
    opts.urls.crl = "https://x.example/crl".into();
    assert!(matches!(
        CaBundle::load_or_create(&dir, &opts),
        Err(PkiError::InvalidOptions {
            field: "urls.crl",
            ..
        })
    ));
    assert!(!dir.exists());
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let (_tmp, _dir, bundle) = new_ca();
    let debug = format!("{bundle:?}");
    assert!(!debug.contains("PRIVATE KEY"), "{debug}");
    assert!(debug.contains("[redacted]"));
    assert!(!debug.contains(&bundle.tls_key.expose()[30..60]));
}

#[test]
fn issuer_is_shareable_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Issuer>();
    assert_send_sync::<CaBundle>();
}

#[test]
fn ca_certificates_have_the_ca_profiles() {
    let (_tmp, _dir, bundle) = new_ca();
    let root_der = pem_der(&bundle.root_pem);
    let (_, root) = parse_x509_certificate(&root_der).unwrap();
    let (_, inter) = parse_x509_certificate(bundle.issuer.intermediate_der()).unwrap();

    // Root: self-signed P-384, CA without path length, keyCertSign + cRLSign.
    assert_eq!(root.subject(), root.issuer());
    root.verify_signature(None).unwrap();
    let bc = root.basic_constraints().unwrap().unwrap();
    assert!(bc.critical && bc.value.ca && bc.value.path_len_constraint.is_none());
    let ku = root.key_usage().unwrap().unwrap();
    assert!(ku.critical && ku.value.key_cert_sign() && ku.value.crl_sign());
    let validity =
        root.validity().not_after.to_datetime() - root.validity().not_before.to_datetime();
    assert!(validity >= Duration::days(2922) && validity <= Duration::days(9132));

    // Intermediate: the Baseline Requirements §7.1.2.10 profile.
    inter.verify_signature(Some(root.public_key())).unwrap();
    assert_eq!(inter.issuer(), root.subject());
    assert_eq!(inter.subject().iter_country().count(), 1);
    assert_eq!(
        inter
            .subject()
            .iter_organization()
            .next()
            .unwrap()
            .as_str()
            .unwrap(),
        "Ferrite"
    );
    assert!(inter.subject().iter_common_name().next().is_some());
    let bc = inter.basic_constraints().unwrap().unwrap();
    assert!(bc.critical && bc.value.ca && bc.value.path_len_constraint == Some(0));
    let ku = inter.key_usage().unwrap().unwrap();
    assert!(
        ku.critical
            && ku.value.key_cert_sign()
            && ku.value.crl_sign()
            && ku.value.digital_signature()
    );
    let eku = inter.extended_key_usage().unwrap().unwrap();
    assert!(eku.value.server_auth && !eku.value.client_auth);
    assert_eq!(bundle.intermediate_pem, bundle.issuer.intermediate_pem());
}

fn pem_der(pem: &str) -> Vec<u8> {
    let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
    p.contents
}

fn issue(bundle: &CaBundle, csr_der: &[u8]) -> (Csr, ferrite_pki::IssuedCertificate) {
    let csr = Csr::parse(csr_der).unwrap();
    let issued = bundle.issuer.issue(&request_for(&csr, 90)).unwrap();
    (csr, issued)
}

/// The OIDs of a certificate's extensions, sorted.
fn extension_oids(cert: &X509Certificate<'_>) -> Vec<String> {
    let mut oids: Vec<String> = cert
        .extensions()
        .iter()
        .map(|e| e.oid.to_id_string())
        .collect();
    oids.sort();
    oids
}

/// The extensions of a subscriber certificate, sorted: no SKI, nothing else.
fn leaf_extensions(crl_distribution_point: bool) -> Vec<&'static str> {
    [
        ("1.3.6.1.5.5.7.1.1", true),           // AIA
        ("2.5.29.15", true),                   // keyUsage
        ("2.5.29.17", true),                   // SAN
        ("2.5.29.19", true),                   // basicConstraints
        ("2.5.29.31", crl_distribution_point), // CRL DP
        ("2.5.29.32", true),                   // certificatePolicies
        ("2.5.29.35", true),                   // AKI
        ("2.5.29.37", true),                   // EKU
    ]
    .into_iter()
    .filter_map(|(oid, present)| present.then_some(oid))
    .collect()
}

/// Checks every field of the subscriber profile on a re-parsed leaf.
fn assert_leaf_profile(
    bundle: &CaBundle,
    csr: &Csr,
    issued: &ferrite_pki::IssuedCertificate,
    rsa: bool,
) {
    let (rest, cert) = parse_x509_certificate(&issued.der).unwrap();
    assert!(rest.is_empty());
    let (_, inter) = parse_x509_certificate(bundle.issuer.intermediate_der()).unwrap();
    cert.verify_signature(Some(inter.public_key())).unwrap();
    assert_eq!(cert.version(), X509Version::V3);
    assert_eq!(
        cert.signature_algorithm.algorithm.to_id_string(),
        "1.2.840.10045.4.3.2"
    );
    assert_eq!(
        cert.tbs_certificate.issuer.as_raw(),
        inter.subject().as_raw()
    );
    assert_eq!(cert.subject().as_raw(), [0x30, 0x00], "empty subject");
    assert_eq!(
        cert.public_key().raw,
        csr.spki_der.as_slice(),
        "exact SPKI bytes"
    );

    // Serial: 128 random bits, positive, the hex we were given.
    let serial = cert.raw_serial();
    assert!(serial.len() == 16 || (serial.len() == 17 && serial[0] == 0));
    assert_eq!(format!("{:032x}", cert.serial), issued.serial_hex);
    assert_eq!(issued.serial_hex.len(), 32);

    // Validity as issued, whole seconds.
    assert_eq!(cert.validity().not_before.to_datetime(), issued.not_before);
    assert_eq!(cert.validity().not_after.to_datetime(), issued.not_after);
    assert_eq!(issued.not_before.nanosecond(), 0);

    assert_eq!(
        extension_oids(&cert),
        leaf_extensions(true),
        "no SKI, nothing else"
    );
    let inter_ski = inter
        .iter_extensions()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        })
        .unwrap();
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                assert!(ext.critical);
                let mut names: Vec<String> = san
                    .general_names
                    .iter()
                    .map(|n| match n {
                        GeneralName::DNSName(d) => d.to_string(),
                        other => panic!("{other:?}"),
                    })
                    .collect();
                names.sort();
                assert_eq!(names, csr.names);
            }
            ParsedExtension::BasicConstraints(bc) => {
                assert!(ext.critical && !bc.ca && bc.path_len_constraint.is_none());
            }
            ParsedExtension::KeyUsage(ku) => {
                assert!(ext.critical && ku.digital_signature());
                // keyEncipherment is NOT RECOMMENDED with digitalSignature, even for RSA.
                assert!(!ku.key_encipherment(), "rsa: {rsa}");
                assert!(!ku.key_cert_sign() && !ku.crl_sign() && !ku.non_repudiation());
            }
            ParsedExtension::ExtendedKeyUsage(eku) => {
                assert!(
                    !ext.critical && eku.server_auth && !eku.client_auth && eku.other.is_empty()
                );
            }
            ParsedExtension::CertificatePolicies(p) => {
                assert_eq!(p.len(), 1);
                assert_eq!(p[0].policy_id.to_id_string(), "2.23.140.1.2.1");
            }
            ParsedExtension::CRLDistributionPoints(dp) => {
                // The serial's shard of the issuer's CRLs.
                let shard = ferrite_pki::crl_shard_of(serial, 16);
                assert_eq!(issued.crl_shard, shard);
                assert_eq!(issued.issuer_id, bundle.issuer.id());
                let url = format!("{CRL_URL}/{}/{shard}.crl", bundle.issuer.id());
                assert_eq!(dp.points.len(), 1);
                assert_eq!(
                    dp.points[0].distribution_point,
                    Some(DistributionPointName::FullName(vec![GeneralName::URI(
                        &url
                    )]))
                );
            }
            ParsedExtension::AuthorityInfoAccess(aia) => {
                assert_eq!(aia.accessdescs.len(), 1);
                assert_eq!(
                    aia.accessdescs[0].access_method.to_id_string(),
                    "1.3.6.1.5.5.7.48.2"
                );
                assert_eq!(
                    aia.accessdescs[0].access_location,
                    GeneralName::URI(CA_ISSUERS_URL)
                );
            }
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                assert_eq!(aki.key_identifier.as_ref().unwrap().0, inter_ski.as_slice());
                assert!(aki.authority_cert_issuer.is_none());
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    // The chain is the leaf then the intermediate.
    assert_eq!(
        issued
            .chain_pem
            .matches("-----BEGIN CERTIFICATE-----")
            .count(),
        2
    );
    assert!(issued.chain_pem.ends_with(bundle.issuer.intermediate_pem()));
    assert_eq!(pem_der(&issued.chain_pem), issued.der);
}

#[test]
fn issued_leaves_have_the_exact_profile_and_verify_with_openssl() {
    let (tmp, _dir, bundle) = new_ca();
    let cases = [
        (
            "p256",
            rcgen_csr(&p256(), &["www.example.com", "example.com"], |_| {}),
            false,
        ),
        (
            "p384",
            rcgen_csr(&p384(), &["*.example.org"], |_| {}),
            false,
        ),
        (
            "rsa2048",
            rcgen_csr(&rsa2048(), &["rsa.example.net"], |_| {}),
            true,
        ),
        (
            "p384-sha256",
            openssl_csr(
                tmp.path(),
                &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
                "-sha256",
                "openssl.example.com",
            ),
            false,
        ),
    ];
    for (name, csr_der, rsa) in cases {
        let (csr, issued) = issue(&bundle, &csr_der);
        assert_leaf_profile(&bundle, &csr, &issued, rsa);
        let (ok, out) = openssl_verify(tmp.path(), &bundle, &leaf_pem(&issued), name);
        assert!(ok && out.contains(": OK"), "{name}: {out}");
    }
}

/// Profiles read from TOML tables issue certificates of their own shape, which verify like the
/// default's, and refuse what they do not allow.
#[test]
fn a_second_profile_is_a_config_entry() {
    let (tmp, _dir, bundle) = new_ca();
    let second = Duration::seconds(1);
    for profile in [configured("shortlived"), configured("shortlived-nocrl")] {
        for (key_name, key) in [("p256", p256()), ("rsa2048", rsa2048())] {
            let name = format!("{}-{key_name}", profile.name);
            let csr = Csr::parse(&rcgen_csr(&key, &["short.example.com"], |_| {})).unwrap();
            let request = request_for(&csr, 6);
            let issued = bundle.issuer.issue_with(&profile, &request).unwrap();
            assert_eq!(
                issued.not_after - issued.not_before + second,
                Duration::days(6)
            );
            let (_, cert) = parse_x509_certificate(&issued.der).unwrap();
            assert_eq!(
                extension_oids(&cert),
                leaf_extensions(profile.crl_distribution_point),
                "{name}"
            );
            let ku = cert.key_usage().unwrap().unwrap();
            assert!(
                ku.critical && ku.value.flags == 1,
                "{name}: digitalSignature only"
            );
            let (ok, out) = openssl_verify(tmp.path(), &bundle, &leaf_pem(&issued), &name);
            assert!(ok && out.contains(": OK"), "{name}: {out}");

            // One second longer than the profile's six days is refused, and nothing is signed.
            let too_long = IssueRequest {
                not_after: request.not_after + second,
                ..request.clone()
            };
            let err = bundle.issuer.issue_with(&profile, &too_long).unwrap_err();
            assert!(
                matches!(
                    err,
                    PkiError::Lint {
                        check: "validity",
                        ..
                    }
                ),
                "{name}: {err:?}"
            );
            assert!(err.to_string().contains("exceeds 6 days"), "{err}");
        }
    }

    let csr = Csr::parse(&rcgen_csr(&rsa2048(), &["rsa.example.com"], |_| {})).unwrap();
    let mut ecdsa_only = configured("shortlived");
    ecdsa_only.key_types = vec![KeyType::P256, KeyType::P384];
    let err = bundle
        .issuer
        .issue_with(&ecdsa_only, &request_for(&csr, 6))
        .unwrap_err();
    assert!(
        matches!(&err, PkiError::KeyTypeNotInProfile { allowed, .. } if allowed.len() == 2),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(
            "\"shortlived\" does not certify RSA 2048-bit keys; it certifies P-256 and P-384"
        ),
        "{err}"
    );

    // A profile naming another issuer, and one that breaks a rule, are refused before
    // anything is built.
    let mut elsewhere = configured("shortlived");
    elsewhere.issuer = "other".into();
    let mut long_without_crl = configured("shortlived-nocrl");
    long_without_crl.validity_seconds = 90 * 86_400;
    for (profile, field) in [
        (elsewhere, "issuer"),
        (long_without_crl, "crl_distribution_point"),
    ] {
        let err = bundle
            .issuer
            .issue_with(&profile, &request_for(&csr, 6))
            .unwrap_err();
        assert!(
            matches!(&err, PkiError::InvalidProfile { field: f, .. } if *f == field),
            "{err:?}"
        );
    }
}

#[test]
fn openssl_rejects_a_leaf_under_a_foreign_root() {
    // Proves the verify helper can fail: same leaf, another CA's root.
    let (tmp, _dir, bundle) = new_ca();
    let (_tmp2, _dir2, other) = new_ca();
    let (_, issued) = issue(&bundle, &rcgen_csr(&p256(), &["a.example.com"], |_| {}));
    let mixed = CaBundleView {
        root_pem: &other.root_pem,
        intermediate_pem: &bundle.intermediate_pem,
    };
    let root = tmp.path().join("foreign-root.pem");
    let inter = tmp.path().join("foreign-inter.pem");
    let leaf = tmp.path().join("foreign-leaf.pem");
    fs::write(&root, mixed.root_pem).unwrap();
    fs::write(&inter, mixed.intermediate_pem).unwrap();
    fs::write(&leaf, leaf_pem(&issued)).unwrap();
    let (ok, out) = run(std::process::Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(&root)
        .arg("-untrusted")
        .arg(&inter)
        .arg(&leaf));
    assert!(!ok, "{out}");
}

struct CaBundleView<'a> {
    root_pem: &'a str,
    intermediate_pem: &'a str,
}

#[test]
fn the_listener_certificate_chains_to_the_root() {
    let (tmp, _dir, bundle) = new_ca();
    let leaf = bundle
        .tls_chain_pem
        .split_inclusive("-----END CERTIFICATE-----\n")
        .next()
        .unwrap()
        .to_owned();
    let (ok, out) = openssl_verify(tmp.path(), &bundle, &leaf, "tls");
    assert!(ok, "{out}");
    let leaf_der = pem_der(&leaf);
    let (_, cert) = parse_x509_certificate(&leaf_der).unwrap();
    let san = cert.subject_alternative_name().unwrap().unwrap();
    let names = &san.value.general_names;
    assert!(san.critical);
    assert!(
        names.contains(&GeneralName::DNSName("localhost")),
        "{names:?}"
    );
    assert!(
        names.contains(&GeneralName::IPAddress(&[127, 0, 0, 1])),
        "{names:?}"
    );
    let mut v6 = [0u8; 16];
    v6[15] = 1;
    assert!(names.contains(&GeneralName::IPAddress(&v6)), "{names:?}");
    // The listener key is the certificate's.
    let key = rcgen::KeyPair::from_pem(bundle.tls_key.expose()).unwrap();
    use rcgen::PublicKeyData;
    assert_eq!(key.subject_public_key_info(), cert.public_key().raw);
}

/// The leaf of a listener chain, parsed: (DNS names, IP addresses as octets, notAfter).
fn listener_leaf(chain_pem: &str) -> (Vec<String>, Vec<Vec<u8>>, OffsetDateTime) {
    let leaf = chain_pem
        .split_inclusive("-----END CERTIFICATE-----\n")
        .next()
        .unwrap();
    let der = pem_der(leaf);
    let (_, cert) = parse_x509_certificate(&der).unwrap();
    let (mut dns, mut ips) = (Vec::new(), Vec::new());
    for name in &cert
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names
    {
        match name {
            GeneralName::DNSName(n) => dns.push((*n).to_owned()),
            GeneralName::IPAddress(o) => ips.push(o.to_vec()),
            _ => {}
        }
    }
    (dns, ips, cert.validity().not_after.to_datetime())
}

/// The listener certificate follows the configured names: other names at the next load get
/// a new certificate and key (files replaced, the CA untouched); the same names keep it.
#[test]
fn the_listener_certificate_is_issued_again_for_other_names() {
    let (_tmp, dir, first) = new_ca();
    let mut opts = options();
    opts.tls_dns_names = vec!["acme.example.com".into(), "localhost".into()];
    opts.tls_ips = vec![std::net::Ipv4Addr::new(192, 0, 2, 7).into()];
    let (second, created) = CaBundle::load_or_create(&dir, &opts).unwrap();
    assert!(!created);
    assert_ne!(second.tls_chain_pem, first.tls_chain_pem);
    assert_ne!(second.tls_key, first.tls_key);
    assert_eq!(second.root_pem, first.root_pem);
    assert_eq!(second.intermediate_pem, first.intermediate_pem);
    let (dns, ips, _) = listener_leaf(&second.tls_chain_pem);
    assert_eq!(dns, ["acme.example.com", "localhost"]);
    assert_eq!(ips, [vec![192, 0, 2, 7]]);
    assert_eq!(
        fs::read_to_string(dir.join("tls.pem")).unwrap(),
        second.tls_chain_pem
    );
    assert_eq!(
        fs::read_to_string(dir.join("private/tls.key")).unwrap(),
        second.tls_key.expose()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &str| fs::metadata(dir.join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("tls.pem"), 0o644);
        assert_eq!(mode("private/tls.key"), 0o600);
    }
    let (third, _) = CaBundle::load_or_create(&dir, &opts).unwrap();
    assert_eq!(third.tls_chain_pem, second.tls_chain_pem);
    assert_eq!(third.tls_key, second.tls_key);
}

/// A listener certificate within 30 days of its end, or whose key file holds another key, or
/// that is missing, is issued again at load; a fresh one is good for a year.
#[test]
fn an_expiring_mismatched_or_missing_listener_certificate_is_issued_again() {
    let (_tmp, dir, first) = new_ca();
    let opts = options();
    let now = OffsetDateTime::now_utc();
    let fault = |chain: &str, key: &ferrite_pki::SecretPem, at| {
        ferrite_pki::listener_fault(chain, key, &first.issuer, &opts, at)
    };
    assert!(fault(&first.tls_chain_pem, &first.tls_key, now).is_ok());
    // 370 days on, 27 are left: due.
    let later = now + Duration::days(370);
    let why = fault(&first.tls_chain_pem, &first.tls_key, later).unwrap_err();
    assert!(why.contains("expires"), "{why}");
    let renewed = ferrite_pki::renew_listener(&dir, &first.issuer, &opts, later).unwrap();
    assert_eq!(
        fault(&renewed.chain_pem, &renewed.key, later),
        Ok(renewed.not_after)
    );
    let (_, _, not_after) = listener_leaf(&renewed.chain_pem);
    assert_eq!(renewed.not_after, not_after);
    assert!(not_after - later > Duration::days(390), "{not_after}");
    assert_eq!(
        fs::read_to_string(dir.join("tls.pem")).unwrap(),
        renewed.chain_pem
    );
    // Valid only from 370 days on: issued again for today.
    let why = fault(&renewed.chain_pem, &renewed.key, now).unwrap_err();
    assert!(why.contains("valid only from"), "{why}");
    let today = CaBundle::load_or_create(&dir, &opts).unwrap().0;
    assert_ne!(today.tls_chain_pem, renewed.chain_pem);
    assert_eq!(
        fs::read_to_string(dir.join("tls.pem")).unwrap(),
        today.tls_chain_pem
    );
    let renewed = today;

    let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    fs::write(dir.join("private/tls.key"), other.serialize_pem()).unwrap();
    let why = ferrite_pki::listener_fault(
        &renewed.tls_chain_pem,
        &ferrite_pki::SecretPem::new(other.serialize_pem()),
        &first.issuer,
        &opts,
        now,
    )
    .unwrap_err();
    assert!(why.contains("does not belong"), "{why}");
    let (rekeyed, _) = CaBundle::load_or_create(&dir, &opts).unwrap();
    assert_ne!(rekeyed.tls_chain_pem, renewed.tls_chain_pem);
    assert_ne!(rekeyed.tls_key.expose(), other.serialize_pem());

    fs::remove_file(dir.join("tls.pem")).unwrap();
    let (again, _) = CaBundle::load_or_create(&dir, &opts).unwrap();
    assert!(dir.join("tls.pem").exists());
    assert_ne!(again.tls_chain_pem, rekeyed.tls_chain_pem);
}

/// Baseline Requirements §6.3.2 by date: the lint applies the table in force at notBefore.
#[test]
fn lint_applies_the_validity_table_of_the_issuance_date() {
    let (_tmp, _dir, bundle) = new_ca();
    let csr = Csr::parse(&rcgen_csr(&p256(), &["a.example.com"], |_| {})).unwrap();
    let second = Duration::seconds(1);
    for (at, days) in [
        (time::macros::datetime!(2027-04-01 00:00 UTC), 100),
        (time::macros::datetime!(2029-04-01 00:00 UTC), 47),
    ] {
        assert_eq!(ferrite_pki::max_leaf_validity(at), Duration::days(days));
        let ok = IssueRequest {
            not_before: at,
            not_after: at + Duration::days(days) - second,
            ..request_for(&csr, 90)
        };
        let issued = bundle.issuer.issue(&ok).unwrap();
        assert_eq!(
            issued.not_after - issued.not_before + second,
            Duration::days(days)
        );
        let too_long = IssueRequest {
            not_after: at + Duration::days(days),
            ..ok
        };
        let err = bundle.issuer.issue(&too_long).unwrap_err();
        assert!(
            matches!(
                err,
                PkiError::Lint {
                    check: "validity",
                    ..
                }
            ),
            "{at}: {err:?}"
        );
        assert!(
            err.to_string().contains(&format!("exceeds {days} days")),
            "{err}"
        );
    }
}

#[test]
fn lint_failures_sign_nothing() {
    let (_tmp, _dir, bundle) = new_ca();
    let csr = Csr::parse(&rcgen_csr(&p256(), &["a.example.com"], |_| {})).unwrap();
    let now = OffsetDateTime::now_utc();

    // 200 days exactly (counting both ends) is fine; one second more is not.
    let ok = IssueRequest {
        not_before: now,
        not_after: now + Duration::days(200) - Duration::seconds(1),
        ..request_for(&csr, 90)
    };
    bundle.issuer.issue(&ok).unwrap();
    let too_long = IssueRequest {
        not_after: now + Duration::days(200),
        ..ok.clone()
    };
    let err = bundle.issuer.issue(&too_long).unwrap_err();
    assert!(
        matches!(
            err,
            PkiError::Lint {
                check: "validity",
                ..
            }
        ),
        "{err:?}"
    );

    let backwards = IssueRequest {
        not_before: now,
        not_after: now - Duration::hours(1),
        ..ok.clone()
    };
    assert!(matches!(
        bundle.issuer.issue(&backwards),
        Err(PkiError::Lint {
            check: "validity",
            ..
        })
    ));

    for names in [
        vec![],
        vec!["UPPER.example.com".to_string()],
        vec!["a..example".into()],
        vec!["127.0.0.1".into()],
        vec!["bad name.example".into()],
    ] {
        let req = IssueRequest {
            dns_names: names.clone(),
            ..ok.clone()
        };
        let err = bundle.issuer.issue(&req).unwrap_err();
        assert!(
            matches!(
                err,
                PkiError::Lint {
                    check: "subjectAltName",
                    ..
                }
            ),
            "{names:?}: {err:?}"
        );
    }

    // An Ed25519 key never gets a certificate.
    let ed = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let req = IssueRequest {
        spki_der: rcgen::PublicKeyData::subject_public_key_info(&ed),
        ..ok.clone()
    };
    assert!(matches!(
        bundle.issuer.issue(&req),
        Err(PkiError::UnsupportedPublicKey { .. })
    ));
    let req = IssueRequest {
        spki_der: vec![0x30, 0x00],
        ..ok
    };
    assert!(matches!(
        bundle.issuer.issue(&req),
        Err(PkiError::UnsupportedPublicKey { .. })
    ));
}

#[test]
fn serials_are_random_and_duplicate_names_collapse() {
    let (_tmp, _dir, bundle) = new_ca();
    let csr = Csr::parse(&rcgen_csr(&p256(), &["a.example.com"], |_| {})).unwrap();
    let mut req = request_for(&csr, 90);
    req.dns_names = vec![
        "a.example.com".into(),
        "b.example.com".into(),
        "a.example.com".into(),
    ];
    let a = bundle.issuer.issue(&req).unwrap();
    let b = bundle.issuer.issue(&req).unwrap();
    assert_ne!(a.serial_hex, b.serial_hex);
    assert_eq!(
        parse_certificate(&a.der).unwrap().dns_names,
        ["a.example.com", "b.example.com"]
    );
}

#[test]
fn parse_certificate_reads_what_was_issued() {
    let (_tmp, _dir, bundle) = new_ca();
    let (csr, issued) = issue(
        &bundle,
        &rcgen_csr(&p256(), &["x.example.com", "y.example.com"], |_| {}),
    );
    let parsed = parse_certificate(&issued.der).unwrap();
    assert_eq!(parsed.serial_hex, issued.serial_hex);
    assert_eq!(parsed.spki_der, csr.spki_der);
    assert_eq!(parsed.dns_names, ["x.example.com", "y.example.com"]);
    assert_eq!(parsed.not_after, issued.not_after);
    let (_, inter) = parse_x509_certificate(bundle.issuer.intermediate_der()).unwrap();
    assert_eq!(parsed.issuer_der, inter.subject().as_raw());

    for bad in [&issued.der[..issued.der.len() - 1], &b"garbage"[..], &[]] {
        assert!(matches!(
            parse_certificate(bad),
            Err(PkiError::MalformedCertificate { .. })
        ));
    }
    let mut trailing = issued.der.clone();
    trailing.push(0);
    assert!(matches!(
        parse_certificate(&trailing),
        Err(PkiError::MalformedCertificate { .. })
    ));
}

#[test]
fn crl_lists_entries_with_reasons() {
    let (tmp, _dir, bundle) = new_ca();
    let csr = Csr::parse(&rcgen_csr(&p256(), &["a.example.com"], |_| {})).unwrap();
    let a = bundle.issuer.issue(&request_for(&csr, 90)).unwrap();
    let b = bundle.issuer.issue(&request_for(&csr, 90)).unwrap();
    let c = bundle.issuer.issue(&request_for(&csr, 90)).unwrap();
    let now = OffsetDateTime::now_utc();
    let entries = [
        RevokedEntry {
            serial_hex: a.serial_hex.clone(),
            revoked_at: now - Duration::hours(2),
            reason: 1,
        },
        RevokedEntry {
            serial_hex: b.serial_hex.clone(),
            revoked_at: now - Duration::hours(1),
            reason: 4,
        },
        RevokedEntry {
            serial_hex: c.serial_hex.clone(),
            revoked_at: now,
            reason: 0,
        },
    ];
    let der = bundle
        .issuer
        .sign_crl(Some(3), &entries, 42, now, now + Duration::days(7))
        .unwrap();

    let (rest, crl) = parse_x509_crl(&der).unwrap();
    assert!(rest.is_empty());
    let (_, inter) = parse_x509_certificate(bundle.issuer.intermediate_der()).unwrap();
    crl.verify_signature(inter.public_key()).unwrap();
    assert_eq!(crl.issuer(), inter.subject());
    assert_eq!(crl.crl_number().unwrap().to_string(), "42");
    assert_eq!(
        crl.next_update().unwrap().to_datetime() - crl.last_update().to_datetime(),
        Duration::days(7)
    );
    let listed: Vec<(String, Option<u8>, i64)> = crl
        .iter_revoked_certificates()
        .map(|r| {
            (
                format!("{:032x}", r.user_certificate),
                r.reason_code().map(|(_, code)| code.0),
                r.revocation_date.timestamp(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (
                a.serial_hex.clone(),
                Some(1),
                (now - Duration::hours(2)).unix_timestamp()
            ),
            (
                b.serial_hex.clone(),
                Some(4),
                (now - Duration::hours(1)).unix_timestamp()
            ),
            // RFC 5280 §5.3.1: unspecified is written as no reason code.
            (c.serial_hex.clone(), None, now.unix_timestamp()),
        ]
    );
    let idp = crl
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::IssuingDistributionPoint(idp) => Some(idp.clone()),
            _ => None,
        })
        .unwrap();
    assert!(idp.only_contains_user_certs);
    // The shard's URL, as its certificates' distribution point names it.
    let shard_url = format!("{CRL_URL}/{}/3.crl", bundle.issuer.id());
    assert_eq!(bundle.issuer.crl_url(Some(3)), shard_url);
    assert!(
        matches!(
            &idp.distribution_point,
            Some(DistributionPointName::FullName(names))
                if names.as_slice() == [GeneralName::URI(shard_url.as_str())]
        ),
        "{idp:?}"
    );

    // openssl agrees the CRL is signed by the intermediate.
    let crl_path = tmp.path().join("crl.der");
    let inter_path = tmp.path().join("crl-issuer.pem");
    fs::write(&crl_path, &der).unwrap();
    fs::write(&inter_path, &bundle.intermediate_pem).unwrap();
    let (ok, out) = run(std::process::Command::new("openssl")
        .args(["crl", "-inform", "DER", "-noout", "-in"])
        .arg(&crl_path)
        .arg("-CAfile")
        .arg(&inter_path));
    assert!(ok && out.contains("verify OK"), "{out}");

    // An empty CRL is valid too.
    let empty = bundle
        .issuer
        .sign_crl(None, &[], 43, now, now + Duration::days(1))
        .unwrap();
    assert_eq!(
        parse_x509_crl(&empty)
            .unwrap()
            .1
            .iter_revoked_certificates()
            .count(),
        0
    );
}

#[test]
fn crl_refuses_bad_input() {
    let (_tmp, _dir, bundle) = new_ca();
    let now = OffsetDateTime::now_utc();
    let entry = |serial: &str, reason| RevokedEntry {
        serial_hex: serial.into(),
        revoked_at: now,
        reason,
    };
    let sign = |e: &[RevokedEntry], next| bundle.issuer.sign_crl(None, e, 1, now, next);
    assert!(matches!(
        sign(&[entry("0a", 7)], now + Duration::days(1)),
        Err(PkiError::InvalidRevocationReason { reason: 7 })
    ));
    assert!(matches!(
        sign(&[entry("0a", 11)], now + Duration::days(1)),
        Err(PkiError::InvalidRevocationReason { reason: 11 })
    ));
    assert!(matches!(
        sign(&[entry("xyz", 1)], now + Duration::days(1)),
        Err(PkiError::InvalidSerial { .. })
    ));
    assert!(matches!(
        sign(&[], now),
        Err(PkiError::InvalidCrlWindow { .. })
    ));
    assert!(matches!(
        sign(&[], now + Duration::days(11)),
        Err(PkiError::InvalidCrlWindow { .. })
    ));
    assert!(ferrite_pki::is_subscriber_revocation_reason(1));
    assert!(!ferrite_pki::is_subscriber_revocation_reason(2));
}
