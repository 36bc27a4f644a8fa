//! The CA's intermediates: an ECDSA one (`intermediate.pem`) and an RSA one
//! (`intermediate-rsa.pem`) made with the CA; a subscriber ECDSA key gets the ECDSA chain and
//! an RSA key the RSA chain, each certificate pointing (AIA caIssuers, CRL distribution point)
//! at its own intermediate, whose CRLs list its revocations. `ca.active` retires an
//! intermediate: it issues nothing more, and keeps signing its CRLs. A profile's `issuer` pins
//! a chain. Only 127.0.0.1 is contacted; every test is bounded in time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrite_core::TestClock;
use ferrite_core::ca::ari::CertId;
use ferrite_jose::Algorithm;
use ferrite_testkit::ca::{crl_url, openssl_verify_chain, pem_chain, serial_octets};
use ferrite_testkit::raw::http_get;
use ferrite_testkit::{RawAccount, RawClient, TestCa, TestCaOptions, bounded};
use serde_json::json;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

/// ecdsa-with-SHA256 (RFC 5758 §3.2).
const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
/// sha256WithRSAEncryption (RFC 4055 §5).
const RSA_SHA256: &str = "1.2.840.113549.1.1.11";

/// A certificate issued for `names` to a CSR of `key`: the chain as downloaded, PEM and DER.
async fn issue(
    ca: &TestCa,
    raw: &RawClient,
    account: &RawAccount,
    names: &[&str],
    key: &rcgen::KeyPair,
) -> (String, Vec<Vec<u8>>) {
    let issued = ca.raw_issue_with(raw, account, names, key).await;
    let chain = pem_chain(&issued.chain_pem);
    (issued.chain_pem, chain)
}

/// The DER certificate of the intermediate `name`.
fn intermediate(ca: &TestCa, name: &str) -> Vec<u8> {
    ca.ca
        .issuers()
        .all()
        .find(|e| e.issuer.name() == name)
        .unwrap_or_else(|| panic!("no intermediate {name}"))
        .issuer
        .certificate_der()
        .to_vec()
}

/// The certificate's signatureAlgorithm OID, and whether its parameters are absent or NULL
/// (as RFC 4055 §5 has them for sha256WithRSAEncryption: NULL).
fn signature_algorithm(der: &[u8]) -> (String, Option<bool>) {
    let (_, cert) = X509Certificate::from_der(der).unwrap();
    let alg = &cert.signature_algorithm;
    (
        alg.algorithm.to_id_string(),
        alg.parameters
            .as_ref()
            .map(|p| p.header.tag() == x509_parser::der_parser::asn1_rs::Tag::Null),
    )
}

/// The leaf's AIA caIssuers URL.
fn ca_issuers_url(der: &[u8]) -> String {
    let (_, cert) = X509Certificate::from_der(der).unwrap();
    cert.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityInfoAccess(aia) => {
                aia.accessdescs
                    .iter()
                    .find_map(|d| match &d.access_location {
                        x509_parser::extensions::GeneralName::URI(uri) => Some((*uri).to_owned()),
                        _ => None,
                    })
            }
            _ => None,
        })
        .expect("authorityInfoAccess caIssuers")
}

/// The serials (octets, no leading zeros) a DER CRL lists, after checking it is signed by
/// `issuer_der`.
fn crl_serials(crl_der: &[u8], issuer_der: &[u8]) -> Vec<Vec<u8>> {
    let (_, crl) = CertificateRevocationList::from_der(crl_der).unwrap();
    let (_, issuer) = X509Certificate::from_der(issuer_der).unwrap();
    crl.verify_signature(issuer.public_key())
        .expect("the CRL is signed by the certificate's intermediate");
    assert_eq!(crl.issuer(), issuer.subject());
    crl.iter_revoked_certificates()
        .map(|e| {
            e.raw_serial()
                .iter()
                .copied()
                .skip_while(|b| *b == 0)
                .collect()
        })
        .collect()
}

/// Each subscriber key gets the chain of its family, signed with that family's algorithm;
/// each chain verifies to the one root; each leaf's AIA serves its own intermediate and its
/// CRL distribution point a CRL that intermediate signed, which lists the leaf once revoked.
#[tokio::test]
async fn each_key_type_gets_the_chain_of_its_family() {
    bounded(async {
        let ca = TestCa::start().await;
        let names: Vec<&str> = ca.ca.issuers().all().map(|e| e.issuer.name()).collect();
        assert_eq!(names, ["intermediate", "intermediate-rsa"]);
        assert!(!ca.ca.issuers().primary().key_is_rsa());
        let raw = ca.raw();
        let account = RawAccount::register(&raw, Algorithm::ES256).await;

        let ecdsa_key = rcgen::KeyPair::generate().unwrap();
        let (ecdsa_pem, ecdsa) = issue(&ca, &raw, &account, &["ec.example.com"], &ecdsa_key).await;
        let rsa_key = ferrite_testkit::keys::rsa_2048();
        let (rsa_pem, rsa) = issue(&ca, &raw, &account, &["rsa.example.com"], &rsa_key).await;

        assert_eq!(ecdsa.len(), 2, "leaf and intermediate");
        assert_eq!(rsa.len(), 2, "leaf and intermediate");
        assert_eq!(ecdsa[1], intermediate(&ca, "intermediate"));
        assert_eq!(rsa[1], intermediate(&ca, "intermediate-rsa"));
        assert_eq!(signature_algorithm(&ecdsa[0]), (ECDSA_SHA256.into(), None));
        // Baseline Requirements §7.1.3.2.1: the RSA algorithm identifier carries NULL.
        assert_eq!(
            signature_algorithm(&rsa[0]),
            (RSA_SHA256.into(), Some(true))
        );
        openssl_verify_chain(&ca.root_pem_path, &ecdsa_pem);
        openssl_verify_chain(&ca.root_pem_path, &rsa_pem);

        // AIA caIssuers: each leaf's URL serves its own intermediate.
        for (leaf, name, path) in [
            (&ecdsa[0], "intermediate", "/ca/intermediate.der"),
            (&rsa[0], "intermediate-rsa", "/ca/intermediate-rsa.der"),
        ] {
            let url = ca_issuers_url(leaf);
            assert_eq!(url, format!("{}{path}", ca.public_url));
            let r = http_get(&url).await;
            assert_eq!(r.status, 200);
            assert_eq!(r.body, intermediate(&ca, name));
        }
        let r = http_get(&format!("{}/ca/intermediate-rsa.pem", ca.public_url)).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            pem_chain(&String::from_utf8(r.body).unwrap()),
            [intermediate(&ca, "intermediate-rsa")]
        );
        for missing in ["/ca/intermediate-nosuch.der", "/ca/intermediate-rsa.txt"] {
            let r = http_get(&format!("{}{missing}", ca.public_url)).await;
            assert_eq!(r.status, 404, "{missing}");
        }

        // Renewal information (RFC 9773): each leaf's certID (its issuer's key id and its
        // serial) is found; one intermediate's key id with the other's serial is no
        // certificate of this CA.
        let ecdsa_id = CertId::of_certificate(&ecdsa[0]).unwrap();
        let rsa_id = CertId::of_certificate(&rsa[0]).unwrap();
        assert_ne!(ecdsa_id.key_id, rsa_id.key_id);
        let mixed = CertId {
            serial_hex: ecdsa_id.serial_hex.clone(),
            ..rsa_id.clone()
        };
        for (id, status) in [(&ecdsa_id, 200), (&rsa_id, 200), (&mixed, 404)] {
            let url = ca.url(&format!("/acme/renewal-info/{}", id.encode()));
            let r = raw.send("GET", &url, None, Vec::new()).await;
            assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
        }

        // Revoke the RSA leaf: its intermediate's CRL lists it, the ECDSA one's does not.
        let r = ca
            .raw()
            .post(
                &account.key,
                Some(&account.kid),
                &ca.url("/acme/revoke-cert"),
                Some(&json!({"certificate": URL_SAFE_NO_PAD.encode(&rsa[0]), "reason": 4})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let rsa_crl = http_get(&crl_url(&rsa[0])).await;
        assert_eq!(rsa_crl.status, 200);
        assert_eq!(
            crl_serials(&rsa_crl.body, &rsa[1]),
            [serial_octets(&rsa[0])]
        );
        let ecdsa_crl = http_get(&crl_url(&ecdsa[0])).await;
        assert_eq!(ecdsa_crl.status, 200);
        assert!(crl_serials(&ecdsa_crl.body, &ecdsa[1]).is_empty());
        // The scheduled refresh signs and stores every shard of both intermediates, each
        // listing what its scope revoked.
        ca.ca.refresh_crls().await.unwrap();
        for entry in ca.ca.issuers().all() {
            let issuer = &entry.issuer;
            let statuses = ca
                .ca
                .store()
                .crl_statuses(issuer.issuer_id())
                .await
                .unwrap();
            for shard in 0..issuer.crl_shards() {
                let scope = ferrite_core::model::CrlScope::shard(issuer.issuer_id(), shard);
                let status = statuses
                    .iter()
                    .find(|(s, _)| *s == scope)
                    .map(|(_, status)| status)
                    .unwrap_or_else(|| panic!("no CRL of {scope:?} ({})", issuer.name()));
                assert_eq!(
                    status.stored.map(|(_, generation)| generation),
                    Some(status.generation),
                    "{scope:?} of {}",
                    issuer.name()
                );
            }
        }
    })
    .await;
}

/// `ca.active = ["intermediate"]` retires the RSA intermediate: an RSA key then gets the
/// ECDSA chain, the retired intermediate still signs its CRLs (its certificates may be
/// revoked), and `/metrics` says which is which. A profile naming the retired one refuses
/// to start, saying why.
#[tokio::test]
async fn a_retired_intermediate_only_signs_its_crls() {
    bounded(async {
        // One data directory (CA and SQLite database) for both starts.
        let kept = tempfile::tempdir().unwrap();
        let data_dir = kept.path().to_owned();
        let first = TestCa::start_with(TestCaOptions {
            data_dir: Some(data_dir.clone()),
            ..TestCaOptions::default()
        })
        .await;
        let raw = first.raw();
        let account = RawAccount::register(&raw, Algorithm::ES256).await;
        let rsa_key = ferrite_testkit::keys::rsa_2048();
        let (_, before) = issue(&first, &raw, &account, &["old.example.com"], &rsa_key).await;
        assert_eq!(before[1], intermediate(&first, "intermediate-rsa"));
        drop(first);

        // The same CA (data directory, database) with the RSA intermediate retired.
        let mut options = TestCaOptions::default();
        options.config.ca.active = vec!["intermediate".to_owned()];
        options.data_dir = Some(data_dir.clone());
        let ca = TestCa::start_with(options).await;
        let raw = ca.raw();
        let account = RawAccount::register(&raw, Algorithm::ES256).await;
        let (_, after) = issue(&ca, &raw, &account, &["new.example.com"], &rsa_key).await;
        assert_eq!(
            after[1],
            intermediate(&ca, "intermediate"),
            "the ECDSA chain"
        );
        assert_eq!(signature_algorithm(&after[0]).0, ECDSA_SHA256);
        // The path of the old certificate's CRL distribution point, on this instance (the
        // first one listened on another port).
        let url = crl_url(&before[0]);
        let path = &url[url.find("/crl/").unwrap()..];
        let crl = http_get(&format!("{}{path}", ca.public_url)).await;
        assert_eq!(crl.status, 200, "{}", String::from_utf8_lossy(&crl.body));
        assert!(crl_serials(&crl.body, &before[1]).is_empty());
        let metrics = http_get(&format!("{}/metrics", ca.admin_url)).await;
        let text = String::from_utf8_lossy(&metrics.body);
        for series in [
            r#"certificate="issuer",name="intermediate",active="true""#,
            r#"certificate="issuer",name="intermediate-rsa",active="false""#,
        ] {
            assert!(text.contains(series), "{series} in:\n{text}");
        }
        drop(ca);

        // A profile that names the retired intermediate would fail every finalize.
        let mut config = TestCaOptions::default().config;
        config.data_dir = data_dir;
        config.ca.active = vec!["intermediate".to_owned()];
        let mut profile = ferrite_pki::Profile::tls_server();
        profile.name = "rsaonly".to_owned();
        profile.issuer = "intermediate-rsa".to_owned();
        config.profiles.insert("rsaonly".to_owned(), profile);
        let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        (config.listen, config.public_listen, config.admin_listen) = (loopback, loopback, loopback);
        let listeners = ferrite_app::Listeners::bind(&config).await.unwrap();
        let err = ferrite_app::Ferrite::build(&config, listeners, ferrite_app::Hooks::default())
            .await
            .err()
            .expect("a profile without an active intermediate refuses to start");
        let err = format!("{err:#}");
        assert!(
            err.contains("profile \"rsaonly\" has issuer = \"intermediate-rsa\""),
            "{err}"
        );
        assert!(err.contains("ca.active"), "{err}");

        // ca.active naming an intermediate that is not there refuses to start too.
        config.profiles.clear();
        config.ca.active = vec!["intermediate-nosuch".to_owned()];
        let listeners = ferrite_app::Listeners::bind(&config).await.unwrap();
        let err = ferrite_app::Ferrite::build(&config, listeners, ferrite_app::Hooks::default())
            .await
            .err()
            .expect("an unknown active intermediate refuses to start");
        let err = format!("{err:#}");
        assert!(
            err.contains("ca.active names \"intermediate-nosuch\""),
            "{err}"
        );
    })
    .await;
}

/// A profile with `issuer = "ecdsa"` gives every key the ECDSA chain; one with `"rsa"` the RSA
/// chain, an ECDSA key included.
#[tokio::test]
async fn a_profile_pins_a_chain() {
    bounded(async {
        let mut options = TestCaOptions::default();
        for (name, issuer) in [("ecdsaonly", "ecdsa"), ("rsaonly", "rsa")] {
            let mut profile = ferrite_pki::Profile::tls_server();
            profile.name = name.to_owned();
            profile.issuer = issuer.to_owned();
            options.config.profiles.insert(name.to_owned(), profile);
        }
        let ca = TestCa::start_with(options).await;
        let raw = ca.raw();
        let account = RawAccount::register(&raw, Algorithm::ES256).await;
        for (profile, rsa_key, want) in [
            ("ecdsaonly", true, "intermediate"),
            ("rsaonly", false, "intermediate-rsa"),
        ] {
            let name = format!("{profile}.example.com");
            let r = raw
                .post(
                    &account.key,
                    Some(&account.kid),
                    &ca.url("/acme/new-order"),
                    Some(&json!({
                        "identifiers": [{"type": "dns", "value": name}],
                        "profile": profile,
                    })),
                )
                .await;
            assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
            let order_url = r.header("location").unwrap();
            let authz = r.json()["authorizations"][0].as_str().unwrap().to_owned();
            let authz = ca.raw_validate_http01(&raw, &account, &authz).await;
            assert_eq!(authz["status"], "valid", "{authz}");
            let order = raw
                .poll(&account.key, &account.kid, &order_url, |o| {
                    o["status"] != "pending"
                })
                .await;
            let leaf_key = if rsa_key {
                ferrite_testkit::keys::rsa_2048()
            } else {
                rcgen::KeyPair::generate().unwrap()
            };
            let issued = ca
                .raw_complete(&raw, &account, &order_url, &order, &[&name], &leaf_key)
                .await;
            let chain = pem_chain(&issued.chain_pem);
            assert_eq!(chain[1], intermediate(&ca, want), "{profile}");
        }
    })
    .await;
}

/// In an intermediate's last months its certificates end with it (RFC 5280 §6.1.3: a
/// certificate is not valid beyond its issuer), rather than being refused by the lint.
#[tokio::test]
async fn certificates_end_with_their_intermediate() {
    bounded(async {
        let clock = Arc::new(TestClock::new(time::OffsetDateTime::now_utc()));
        let ca = TestCa::start_with(TestCaOptions {
            clock: clock.clone(),
            ..TestCaOptions::default()
        })
        .await;
        let ends = ca.ca.issuer().not_after();
        clock.advance(ends - ca.ca.now() - time::Duration::days(30));
        let raw = ca.raw();
        let account = RawAccount::register(&raw, Algorithm::ES256).await;
        let key = rcgen::KeyPair::generate().unwrap();
        let (_, chain) = issue(&ca, &raw, &account, &["late.example.com"], &key).await;
        assert_eq!(chain[1], intermediate(&ca, "intermediate"));
        let (_, leaf) = X509Certificate::from_der(&chain[0]).unwrap();
        assert_eq!(leaf.validity().not_after.to_datetime(), ends);
    })
    .await;
}
