//! Two instances of one CA on one PostgreSQL database, as several `ferrite serve` behind a
//! load balancer: both built by `ferrite_app` from the same configuration (the same
//! `database_url`, the same data directory with the CA material and the EAB key, the same
//! public `base_url`), the client choosing which instance gets each request
//! (`RawClient::through`). Each test runs on a fresh database of the server
//! `FERRITE_TEST_DATABASE_URL` names (`scripts/test.sh` starts one), and fails without it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use ferrite_app::config::DatabaseUrl;
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
    let a = TestCa::start_with(a).await;
    let mut b = TestCaOptions::default();
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
