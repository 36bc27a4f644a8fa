//! Two instances of one CA on one PostgreSQL database, as several `ferrite serve` behind a
//! load balancer: both built by `ferrite_app` from the same configuration (the same
//! `database_url`, the same data directory with the CA material and the EAB key, the same
//! public `base_url`), the client choosing which instance gets each request
//! (`RawClient::through`). Each test runs on a fresh database of the server
//! `FERRITE_TEST_DATABASE_URL` names (`scripts/test.sh` starts one), and fails without it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use ferrite_app::config::DatabaseUrl;
use ferrite_core::model::CrlScope;
use ferrite_jose::Algorithm;
use ferrite_jose::sign::SigningKey;
use ferrite_store::testing::with_database;
use ferrite_testkit::ca::csr_der;
use ferrite_testkit::{RawAccount, TestCa, TestCaOptions, assert_problem, bounded};
use serde_json::json;

/// Instance A on `database_url`, then instance B beside it: B uses A's data directory and
/// A's base URL (the URL clients know).
async fn two_instances(database_url: &str, a: TestCaOptions) -> (TestCa, TestCa) {
    let mut a = a;
    a.config.database_url = DatabaseUrl(database_url.to_owned());
    let crl = a.config.crl.clone();
    let a = TestCa::start_with(a).await;
    let mut b = TestCaOptions::default();
    b.config.crl = crl;
    b.config.database_url = DatabaseUrl(database_url.to_owned());
    b.config.base_url = a.base_url.clone();
    b.data_dir = Some(a.data_dir().to_owned());
    let b = TestCa::start_with(b).await;
    (a, b)
}

/// A nonce handed out by one instance is good at the other, once: of one signed request sent
/// six times at once, alternately to each instance, exactly one is served and the other five
/// are `badNonce`, whichever instance issued the nonce.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nonce_from_one_instance_is_redeemed_by_the_other_exactly_once() {
    with_database(|url| async move {
        bounded(async {
            let (a, b) = two_instances(&url, TestCaOptions::default()).await;
            let via_a = a.raw();
            let via_b = via_a.through(b.addr);
            for (issuer, other) in [(&via_a, &via_b), (&via_b, &via_a)] {
                let nonce = issuer.nonce().await;
                let key = SigningKey::generate(Algorithm::ES256).unwrap();
                let jws = key
                    .sign(
                        None,
                        Some(&nonce),
                        &a.url("/acme/new-account"),
                        Some(&json!({"termsOfServiceAgreed": true})),
                    )
                    .unwrap();
                let new_account = a.url("/acme/new-account");
                let sends = (0..6).map(|i| {
                    let client = if i % 2 == 0 { other } else { issuer };
                    client.post_jws(&new_account, &jws)
                });
                let responses = futures::future::join_all(sends).await;
                let created = responses.iter().filter(|r| r.status == 201).count();
                assert_eq!(created, 1, "exactly one request is served");
                for r in responses.iter().filter(|r| r.status != 201) {
                    assert_problem(r, 400, "badNonce");
                }
            }
        })
        .await;
    })
    .await;
}

/// An order created and validated on one instance is finalized on the other; the
/// certificate is the same whichever instance serves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_created_on_one_instance_is_finalized_on_the_other() {
    with_database(|url| async move {
        bounded(async {
            let (a, b) = two_instances(&url, TestCaOptions::default()).await;
            let via_a = a.raw();
            let via_b = via_a.through(b.addr);
            let account = RawAccount::register(&via_a, Algorithm::ES256).await;
            let names = ["shared.example.com"];
            let (order_url, order) = a.raw_ready_order(&via_a, &account, &names).await;
            // The order as B shows it: ready.
            let shown = via_b
                .post_as_get(&account.key, &account.kid, &order_url)
                .await;
            assert_eq!(shown.json()["status"], "ready", "{}", shown.json());

            let leaf_key = rcgen::KeyPair::generate().unwrap();
            let r = b
                .raw_finalize(&via_b, &account, &order, &csr_der(&names, &leaf_key))
                .await;
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
            let order = via_b
                .poll(&account.key, &account.kid, &order_url, |o| {
                    o["status"] != "processing"
                })
                .await;
            assert_eq!(order["status"], "valid", "{order}");
            let cert_url = order["certificate"].as_str().unwrap();
            let from_b = via_b
                .post_as_get(&account.key, &account.kid, cert_url)
                .await;
            let from_a = via_a
                .post_as_get(&account.key, &account.kid, cert_url)
                .await;
            assert_eq!((from_a.status, from_b.status), (200, 200));
            assert_eq!(from_a.body, from_b.body);
            // A finalize of the same order on A now finds it valid, not ready.
            let again = a
                .raw_finalize(&via_a, &account, &order, &csr_der(&names, &leaf_key))
                .await;
            assert_problem(&again, 403, "orderNotReady");
        })
        .await;
    })
    .await;
}

/// A validation claimed by an instance that dies (its validation runtime and servers gone,
/// mid-lease) is taken over by the other once the lease has run out: until then the other
/// instance's reaper leaves the claim alone; after it, the challenge is `pending` again, and
/// a new response to it, on the surviving instance, validates it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validation_claimed_by_an_instance_that_dies_is_taken_over_after_the_lease() {
    const LEASE: Duration = Duration::from_secs(2);
    let validations = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let handle = validations.handle().clone();
    with_database(move |url| async move {
        bounded(async move {
            let a_options = TestCaOptions {
                validation_runtime: Some(handle),
                ..TestCaOptions::default()
            }
            .with_engine(|c| {
                c.validation_lease = time::Duration::try_from(LEASE).unwrap();
            });
            let (a, b) = two_instances(&url, a_options).await;
            let via_a = a.raw();
            let via_b = via_a.through(b.addr);
            let account = RawAccount::register(&via_a, Algorithm::ES256).await;
            let name = "stranded.example.com";
            let (_, order) = a.raw_new_order(&via_a, &account, &[name]).await;
            let authz_url = order["authorizations"][0].as_str().unwrap().to_owned();
            // A's validation waits for a DNS answer that never comes: it claims the challenge.
            a.dns.set_unresponsive(name);
            let (_, r) = via_a.start_challenge(&account, &order, "http-01").await;
            assert_eq!(r.json()["status"], "processing", "{}", r.json());
            let claimed_at = std::time::Instant::now();

            // A dies: its validation is dropped mid-flight, its servers stop.
            validations.shutdown_background();
            drop(a);

            let http01 = |authz: &serde_json::Value| {
                ferrite_testkit::challenge(authz, "http-01")["status"].clone()
            };
            b.ca.housekeeping().await.unwrap();
            let authz = via_b
                .post_as_get(&account.key, &account.kid, &authz_url)
                .await
                .json();
            assert!(
                claimed_at.elapsed() < LEASE,
                "the check before the lease ran out came too late to mean anything"
            );
            assert_eq!(
                http01(&authz),
                "processing",
                "reaped before its lease ran out: {authz}"
            );

            tokio::time::sleep(
                LEASE.saturating_sub(claimed_at.elapsed()) + Duration::from_millis(100),
            )
            .await;
            b.ca.housekeeping().await.unwrap();
            let authz = via_b
                .post_as_get(&account.key, &account.kid, &authz_url)
                .await
                .json();
            assert_eq!(http01(&authz), "pending", "{authz}");
            let authz = b.raw_validate_http01(&via_b, &account, &authz_url).await;
            assert_eq!(authz["status"], "valid", "{authz}");
        })
        .await;
    })
    .await;
}

/// The CRL shard 0's number and revoked serials, as an instance serves it over HTTP.
async fn served_crl(ca: &TestCa) -> (Vec<u8>, u64, Vec<Vec<u8>>) {
    use x509_parser::prelude::FromDer;
    let r = ferrite_testkit::raw::http_get(&ca.crl_shard_url(0)).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let (_, crl) =
        x509_parser::revocation_list::CertificateRevocationList::from_der(&r.body).unwrap();
    let number = crl.crl_number().unwrap().to_u64_digits();
    let serials = crl
        .iter_revoked_certificates()
        .map(|e| e.raw_serial().to_vec())
        .collect();
    (
        r.body.clone(),
        number.first().copied().unwrap_or(0),
        serials,
    )
}

fn serial(der: &[u8]) -> Vec<u8> {
    use x509_parser::prelude::FromDer;
    x509_parser::certificate::X509Certificate::from_der(der)
        .unwrap()
        .1
        .raw_serial()
        .to_vec()
}

/// The instances share each CRL, signed by one instance at a time: the CRL one instance signed
/// is the one the other serves (the same bytes, one CRL number used); a revocation through an
/// instance has its next CRL list it; while another holder has the lease to sign (an instance
/// signing, or one that died signing), an instance serves the last CRL stored and signs none,
/// and once the lease runs out the next is signed. One shard, so that both certificates are
/// in the same CRL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crl_is_signed_by_one_instance_at_a_time() {
    with_database(|url| async move {
        bounded(async {
            let mut one_shard = TestCaOptions::default();
            one_shard.config.crl.shards = 1;
            let (a, b) = two_instances(&url, one_shard).await;
            let via_a = a.raw();
            let via_b = via_a.through(b.addr);
            let account = RawAccount::register(&via_a, Algorithm::ES256).await;
            let first = a.raw_issue(&via_a, &account, &["crl1.example.com"]).await;
            let second = a.raw_issue(&via_a, &account, &["crl2.example.com"]).await;

            let (from_a, number, listed) = served_crl(&a).await;
            assert!(listed.is_empty());
            let (from_b, _, _) = served_crl(&b).await;
            assert_eq!(from_a, from_b, "B signed a CRL of its own");
            // One CRL number was used: the next is the one after it.
            let store = a.ca.store();
            assert_eq!(store.next_crl_number().await.unwrap(), number + 1);

            let revoke = |der: &[u8]| {
                json!({"certificate": base64::Engine::encode(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD, der), "reason": 4})
            };
            let r = via_b
                .post(
                    &account.key,
                    Some(&account.kid),
                    &a.url("/acme/revoke-cert"),
                    Some(&revoke(&first.leaf_der)),
                )
                .await;
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
            let (after, number_after, listed) = served_crl(&b).await;
            assert_eq!(listed, [serial(&first.leaf_der)]);
            // Signed once by whichever instance took the lease first (the one serving, or the
            // other's scheduled refresh).
            assert_eq!(number_after, number + 2);
            let scope = CrlScope::shard(a.ca.issuer().issuer_id(), 0);
            assert_eq!(
                store.shared_crl(&scope).await.unwrap().stored.unwrap().der,
                after
            );

            // Another holder has the lease (for eight seconds).
            let now = time::OffsetDateTime::now_utc();
            let lease_end = now + time::Duration::seconds(8);
            let lease = store
                .take_crl_lease(&scope, "another-instance", now, lease_end)
                .await
                .unwrap();
            assert_eq!(lease, Some(1));
            let r = via_b
                .post(
                    &account.key,
                    Some(&account.kid),
                    &a.url("/acme/revoke-cert"),
                    Some(&revoke(&second.leaf_der)),
                )
                .await;
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
            // B waits for the holder to sign the CRL listing the revocation, then serves the
            // stored one: it signs none while the lease runs.
            let waited = std::time::Instant::now();
            let (served, _, _) = served_crl(&b).await;
            assert_eq!(
                served, after,
                "signed while another instance held the lease"
            );
            assert!(
                waited.elapsed() >= Duration::from_secs(4),
                "{:?}",
                waited.elapsed()
            );
            // B serves that one, without waiting again, for as long as it waited; after
            // that, and once the lease has run out, it signs the next.
            let again = std::time::Instant::now();
            let (served, _, _) = served_crl(&b).await;
            assert_eq!(served, after);
            assert!(
                again.elapsed() < Duration::from_secs(2),
                "{:?}",
                again.elapsed()
            );
            let hold_end = time::OffsetDateTime::now_utc() + time::Duration::seconds(5);
            let left = lease_end.max(hold_end) - time::OffsetDateTime::now_utc()
                + time::Duration::milliseconds(300);
            tokio::time::sleep(left.try_into().unwrap_or_default()).await;
            let (_, number_last, mut listed) = served_crl(&b).await;
            listed.sort();
            let mut both = vec![serial(&first.leaf_der), serial(&second.leaf_der)];
            both.sort();
            assert_eq!(listed, both);
            assert!(
                number_last > number_after,
                "{number_last} <= {number_after}"
            );
        })
        .await;
    })
    .await;
}

/// An instance under another root than the one the database recorded (the first instance's)
/// refuses to start, naming the fingerprints on both sides and what to do; with the first
/// instance's `ca/` directory copied into its data directory, it starts; with a new
/// intermediate under that root, it starts too and the database records the new intermediate
/// beside the first, and an instance on the first still starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_with_other_ca_certificates_is_refused() {
    with_database(|url| async move {
        bounded(async {
            let mut a = TestCaOptions::default();
            a.config.database_url = DatabaseUrl(url.clone());
            let a = TestCa::start_with(a).await;
            let fingerprint = |path: &std::path::Path| {
                let pem = std::fs::read_to_string(path).unwrap();
                let der = ferrite_testkit::ca::pem_chain(&pem).remove(0);
                aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &der)
                    .as_ref()
                    .iter()
                    .map(|b| format!("{b:02X}"))
                    .collect::<Vec<_>>()
                    .join(":")
            };
            let recorded_root = fingerprint(&a.data_dir().join("ca/root.pem"));
            let recorded_intermediate = fingerprint(&a.data_dir().join("ca/intermediate.pem"));
            let recorded_rsa = fingerprint(&a.data_dir().join("ca/intermediate-rsa.pem"));

            let other = tempfile::tempdir().unwrap();
            let mut config = ferrite_app::Config::default();
            let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
            config.listen = loopback;
            config.public_listen = loopback;
            config.admin_listen = loopback;
            config.data_dir = other.path().join("data");
            config.database_url = DatabaseUrl(url.clone());
            config.validation.dns_resolver = a.dns.addr().to_string();
            config.validation.dnssec = false;
            let start = |config: ferrite_app::Config| async move {
                let listeners = ferrite_app::Listeners::bind(&config).await.unwrap();
                ferrite_app::Ferrite::build(&config, listeners, ferrite_app::Hooks::default()).await
            };
            let refused = match start(config.clone()).await {
                Ok(_) => panic!("an instance with another CA started"),
                Err(e) => format!("{e:#}"),
            };
            let own_root = fingerprint(&config.data_dir.join("ca/root.pem"));
            let own_intermediate = fingerprint(&config.data_dir.join("ca/intermediate.pem"));
            assert_ne!(own_root, recorded_root);
            for needle in [
                recorded_root.as_str(),
                recorded_intermediate.as_str(),
                own_root.as_str(),
                own_intermediate.as_str(),
                "copy data_dir/ca",
            ] {
                assert!(refused.contains(needle), "{needle:?} missing: {refused}");
            }
            assert!(!refused.contains(&url), "the URL leaked: {refused}");

            // The first instance's CA material copied over: the same deployment, it starts.
            let ca = config.data_dir.join("ca");
            std::fs::remove_dir_all(&ca).unwrap();
            copy_dir(&a.data_dir().join("ca"), &ca);
            let b = start(config.clone()).await.unwrap();
            assert_eq!(b.root_pem, a.root_pem);
            drop(b);

            // A new intermediate under the recorded root (an operator rolling one through the
            // instances): the instance starts, and the database records it beside the first.
            let new_intermediate = roll_intermediate(&ca);
            assert_ne!(new_intermediate, recorded_intermediate);
            let c = start(config.clone()).await.unwrap();
            let stranger = ferrite_core::model::CaCertificates {
                root_sha256: "00:11".to_owned(),
                intermediate_sha256: "22:33".to_owned(),
            };
            let now = time::OffsetDateTime::now_utc();
            match c
                .ca
                .store()
                .record_ca_certificates(&stranger, now)
                .await
                .unwrap()
            {
                ferrite_core::model::CaRecord::OtherRoot {
                    root_sha256,
                    intermediates,
                } => {
                    assert_eq!(root_sha256, recorded_root);
                    // Every intermediate the instances served, in the order recorded: the
                    // CA's two (recorded by one start), then the new one.
                    let mut first_two = intermediates[..2].to_vec();
                    first_two.sort();
                    let mut ours = vec![recorded_intermediate.clone(), recorded_rsa];
                    ours.sort();
                    assert_eq!(first_two, ours, "{intermediates:?}");
                    assert_eq!(intermediates[2..], [new_intermediate], "{intermediates:?}");
                }
                other => panic!("{other:?}"),
            }
            // Instance A, still on the first intermediate, restarts beside it.
            let a_config = ferrite_app::Config {
                data_dir: a.data_dir().to_owned(),
                ..config
            };
            start(a_config).await.unwrap();
        })
        .await;
    })
    .await;
}

/// Copies a directory tree (the CA material: files and `private/`).
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Replaces the intermediate in the CA directory `ca` with a new one signed by the same root
/// (`private/root.key`), and the listener certificate with one it issued, as an operator
/// rolling to a new intermediate does; returns the new intermediate's SHA-256 fingerprint.
fn roll_intermediate(ca: &std::path::Path) -> String {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose,
        PKCS_ECDSA_P256_SHA256,
    };
    let read = |name: &str| std::fs::read_to_string(ca.join(name)).unwrap();
    let root_key = KeyPair::from_pem(&read("private/root.key")).unwrap();
    let root = rcgen::Issuer::from_ca_cert_pem(&read("root.pem"), root_key).unwrap();

    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "Ferrite Test Intermediate R2");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.use_authority_key_identifier_extension = true;
    let intermediate = params.signed_by(&key, &root).unwrap();
    let intermediate_pem = intermediate.pem();
    let intermediate_issuer = rcgen::Issuer::new(params, &key);

    let tls_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut tls = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    tls.subject_alt_names.push(rcgen::SanType::IpAddress(
        std::net::Ipv4Addr::LOCALHOST.into(),
    ));
    tls.use_authority_key_identifier_extension = true;
    let leaf = tls.signed_by(&tls_key, &intermediate_issuer).unwrap();

    let write = |name: &str, content: &str| {
        use std::os::unix::fs::PermissionsExt;
        let path = ca.join(name);
        std::fs::write(&path, content).unwrap();
        if name.starts_with("private/") {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    };
    write("intermediate.pem", &intermediate_pem);
    write("private/intermediate.key", &key.serialize_pem());
    write("tls.pem", &format!("{}{intermediate_pem}", leaf.pem()));
    write("private/tls.key", &tls_key.serialize_pem());
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, intermediate.der())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}
