//! `ferrite store copy` (`ferrite_store::copy`): a SQLite deployment with real issuance moved
//! to PostgreSQL, then served from there. Each test runs on a fresh database of the server
//! `FERRITE_TEST_DATABASE_URL` names (`scripts/test.sh` starts one), and fails without it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrite_app::config::DatabaseUrl;
use ferrite_core::model::Scope;
use ferrite_jose::Algorithm;
use ferrite_jose::sign::SigningKey;
use ferrite_store::PostgresOptions;
use ferrite_store::copy::{CopyProgress, sqlite_to_postgres};
use ferrite_store::testing::with_database;
use ferrite_testkit::eab::new_customer_key;
use ferrite_testkit::{RawAccount, RawClient, TestCa, TestCaOptions, assert_problem, bounded};
use serde_json::json;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

/// The serials every CRL `ca` serves lists, and the highest CRL number among them.
async fn crl(ca: &TestCa) -> (Vec<Vec<u8>>, u64) {
    let mut serials = Vec::new();
    let mut highest = 0;
    for der in ca.crls().await {
        let (_, crl) = CertificateRevocationList::from_der(&der).unwrap();
        serials.extend(
            crl.iter_revoked_certificates()
                .map(|e| e.raw_serial().to_vec()),
        );
        let number = crl.crl_number().unwrap().to_u64_digits();
        highest = highest.max(number.first().copied().unwrap_or(0));
    }
    (serials, highest)
}

fn serial(der: &[u8]) -> Vec<u8> {
    X509Certificate::from_der(der)
        .unwrap()
        .1
        .raw_serial()
        .to_vec()
}

async fn revoke(raw: &RawClient, account: &RawAccount, der: &[u8]) -> ferrite_testkit::RawResponse {
    raw.post(
        &account.key,
        Some(&account.kid),
        &raw.url("/acme/revoke-cert"),
        Some(&json!({"certificate": URL_SAFE_NO_PAD.encode(der), "reason": 4})),
    )
    .await
}

/// The order URLs of an account's orders list (RFC 8555 §7.1.2.1).
async fn orders(raw: &RawClient, account: &RawAccount) -> Vec<String> {
    let r = raw
        .post_as_get(&account.key, &account.kid, &account.kid)
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let list = r.json()["orders"].as_str().unwrap().to_owned();
    let r = raw.post_as_get(&account.key, &account.kid, &list).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap().to_owned())
        .collect()
}

/// A SQLite deployment (three accounts, one bound to a customer's MAC key, four certificates,
/// one revoked, a CRL published) copied into an empty PostgreSQL database: every table counts
/// the same on both sides, and an instance on PostgreSQL with the same CA material and base
/// URL serves the same deployment: each account key finds its account, its orders list is the
/// same, its certificates download and revoke, the revoked one is `alreadyRevoked`, the CRL
/// lists both revoked serials under a higher CRL number, and the MAC key's binding count
/// carried over, and so did the rate limit rows and the customer's override. A second copy into the now non-empty database is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_deployment_copied_to_postgres_serves_the_same_accounts() {
    with_database(|url| async move {
        bounded(async {
            let dir = tempfile::tempdir().unwrap();
            let data_dir = dir.path().join("data");
            std::fs::create_dir(&data_dir).unwrap();
            let mut options = TestCaOptions {
                data_dir: Some(data_dir.clone()),
                ..TestCaOptions::default()
            };
            // Orders are counted, so each account's rate limit row is there to copy.
            options.config.rate_limits.new_orders_per_account = 100;
            let a = TestCa::start_with(options).await;
            let base_url = a.base_url.clone();
            let raw = a.raw();

            let mac = new_customer_key(&a.ca, "copied-customer").await;
            a.ca.eab()
                .set_rate_limit("copied-customer", "new_orders_per_account", Some(500))
                .await
                .unwrap();
            let key = SigningKey::generate(Algorithm::ES256).unwrap();
            let new_account = raw.url("/acme/new-account");
            let r = raw
                .post(
                    &key,
                    None,
                    &new_account,
                    Some(&json!({
                        "termsOfServiceAgreed": true,
                        "externalAccountBinding": mac.binding(&new_account, &key),
                    })),
                )
                .await;
            assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
            let bound = RawAccount {
                key,
                kid: r.header("location").unwrap(),
            };
            let plain = RawAccount::register(&raw, Algorithm::ES256).await;
            let rsa = RawAccount::register(&raw, Algorithm::RS256).await;

            let first = a.raw_issue(&raw, &bound, &["one.example.com"]).await;
            let second = a.raw_issue(&raw, &bound, &["two.example.com"]).await;
            let third = a.raw_issue(&raw, &plain, &["three.example.com"]).await;
            let fourth = a.raw_issue(&raw, &rsa, &["four.example.com"]).await;
            let r = revoke(&raw, &plain, &third.leaf_der).await;
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
            let (revoked, sqlite_crl_number) = crl(&a).await;
            assert_eq!(revoked, [serial(&third.leaf_der)]);
            let bound_orders = orders(&raw, &bound).await;
            assert_eq!(bound_orders.len(), 2);
            let mac_before = a.ca.eab().mac_keys(&Scope::All).await.unwrap();
            drop(a);

            let mut seen: Vec<CopyProgress> = Vec::new();
            let report = sqlite_to_postgres(
                &data_dir,
                &url,
                &PostgresOptions::default(),
                &mut |p: &CopyProgress| seen.push(p.clone()),
            )
            .await
            .unwrap();
            assert!(report.matches(), "{report:?}");
            let count = |table: &str| {
                let t = report.tables.iter().find(|t| t.table == table).unwrap();
                (t.source, t.target)
            };
            assert_eq!(count("accounts"), (3, 3));
            assert_eq!(count("certificates"), (4, 4));
            assert_eq!(count("orders"), (4, 4));
            assert_eq!(count("customers"), (1, 1));
            assert_eq!(count("eab_mac_keys"), (1, 1));
            // The root's and each intermediate's (ECDSA and RSA) records.
            assert_eq!(count("ca_certificates"), (3, 3));
            // One new-order row per account; the customer's own value of the limit.
            assert_eq!(count("rate_limits"), (3, 3));
            assert_eq!(count("rate_limit_overrides"), (1, 1));
            assert_eq!(count("crl_number"), (sqlite_crl_number, sqlite_crl_number));
            assert!(count("authorizations").0 >= 4);
            assert!(count("challenges").0 >= 4);
            assert!(count("domain_validations").0 >= 4);
            // One final report per table, with its whole count.
            for t in &report.tables[..report.tables.len() - 1] {
                assert!(
                    seen.iter().any(|p| p.done
                        && p.table == t.table
                        && p.copied == t.source
                        && p.total == t.source),
                    "{seen:?}"
                );
            }

            // An instance on PostgreSQL with the same data directory (CA material, KEK) and
            // the same public base URL.
            let mut opts = TestCaOptions::default();
            opts.config.database_url = DatabaseUrl(url.clone());
            opts.config.base_url = base_url.clone();
            opts.data_dir = Some(data_dir.clone());
            let b = TestCa::start_with(opts).await;
            let raw = RawClient::new(&base_url, &b.root_pem).through(b.addr);

            for account in [&bound, &plain, &rsa] {
                let r = raw
                    .post(
                        &account.key,
                        None,
                        &raw.url("/acme/new-account"),
                        Some(&json!({"onlyReturnExisting": true})),
                    )
                    .await;
                assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
                assert_eq!(r.header("location").unwrap(), account.kid);
            }
            assert_eq!(orders(&raw, &bound).await, bound_orders);
            let r = raw
                .post_as_get(&bound.key, &bound.kid, &first.cert_url)
                .await;
            assert_eq!(r.status, 200);
            assert_eq!(String::from_utf8(r.body).unwrap(), first.chain_pem);

            let r = revoke(&raw, &plain, &third.leaf_der).await;
            assert_problem(&r, 400, "alreadyRevoked");
            let r = revoke(&raw, &bound, &second.leaf_der).await;
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
            let (mut revoked, number) = crl(&b).await;
            revoked.sort();
            let mut expected = vec![serial(&third.leaf_der), serial(&second.leaf_der)];
            expected.sort();
            assert_eq!(revoked, expected);
            assert!(
                number > sqlite_crl_number,
                "{number} <= {sqlite_crl_number}"
            );
            // The other certificates still download, and are not on the CRL.
            let r = raw.post_as_get(&rsa.key, &rsa.kid, &fourth.cert_url).await;
            assert_eq!(r.status, 200);

            let mac_after = b.ca.eab().mac_keys(&Scope::All).await.unwrap();
            assert_eq!(mac_after.len(), 1);
            assert_eq!(mac_after[0].kid, mac_before[0].kid);
            assert_eq!(mac_after[0].bindings_used, 1);
            assert_eq!(mac_after[0].bindings_used, mac_before[0].bindings_used);
            assert_eq!(mac_after[0].max_bindings, mac_before[0].max_bindings);

            // Copying again into the database now in use is refused, and changes nothing.
            let refused = sqlite_to_postgres(
                &data_dir,
                &url,
                &PostgresOptions::default(),
                &mut |_: &CopyProgress| {},
            )
            .await
            .unwrap_err()
            .to_string();
            assert!(refused.contains("not empty"), "{refused}");
            assert!(refused.contains("accounts: 3"), "{refused}");
            assert!(!refused.contains(&url), "{refused}");
        })
        .await;
    })
    .await;
}
