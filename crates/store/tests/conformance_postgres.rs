//! The store conformance suite (`suite/`) on PostgreSQL: every suite function on a fresh
//! database of the server `FERRITE_TEST_DATABASE_URL` names (each test creates its own and
//! drops it), plus PostgreSQL-specific checks: migrations under concurrent starts, a schema
//! newer than the binary, two stores on one database, the password's sources.
//!
//! Without `FERRITE_TEST_DATABASE_URL` every test here fails with a message saying so:
//! `scripts/test.sh` always sets it, so a passing run proves they ran.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod suite;

use ferrite_core::{Store, StoreError};
use ferrite_store::testing::{TestDatabase, with_database};
use ferrite_store::{DatabasePassword, PostgresOptions, PostgresStore};

fn options() -> PostgresOptions {
    PostgresOptions::default()
}

macro_rules! conformance {
    ($($name:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                with_database(|url| async move {
                    let store = PostgresStore::open(&url, &options()).await.unwrap();
                    tokio::time::timeout(std::time::Duration::from_secs(60), suite::$name(&store))
                        .await
                        .expect("conformance test timed out");
                    store.close();
                })
                .await;
            }
        )+
    };
}

suite::all!(conformance);

/// Instances starting together migrate the database once: every open succeeds, and the schema
/// holds each migration once. Opening again changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_migrate_once() {
    with_database(|url| async move {
        let opens: Vec<_> = (0..6)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move { PostgresStore::open(&url, &options()).await })
            })
            .collect();
        let mut stores = Vec::new();
        for open in opens {
            stores.push(open.await.unwrap().unwrap());
        }
        let version = stores[0].schema_version().await.unwrap();
        assert_eq!(version, ferrite_store::POSTGRES_SCHEMA_VERSION);
        let again = PostgresStore::open(&url, &options()).await.unwrap();
        assert_eq!(again.schema_version().await.unwrap(), version);
        // The seed row of the first migration is there once.
        assert_eq!(again.next_crl_number().await.unwrap(), 1);
        for store in stores.iter().chain([&again]) {
            store.close();
        }
    })
    .await;
}

/// A database migrated by a newer Ferrite is refused with a message that says so, and left
/// as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_newer_than_the_binary_is_refused() {
    with_database(|url| async move {
        let store = PostgresStore::open(&url, &options()).await.unwrap();
        store
            .insert_customer(&ferrite_core::model::Customer {
                id: "c1".into(),
                name: "kept".into(),
                created_at: suite::T0,
                allowed_profiles: None,
                suspension: None,
            })
            .await
            .unwrap();
        store.close();
        raw(&url, "INSERT INTO ferrite_schema (version) VALUES (99)").await;
        let err = PostgresStore::open(&url, &options()).await.unwrap_err();
        let StoreError::Backend(message) = err else {
            panic!("not a backend error: {err:?}");
        };
        assert!(
            message.contains("newer") && message.contains("99"),
            "{message}"
        );
        raw(&url, "DELETE FROM ferrite_schema WHERE version = 99").await;
        let store = PostgresStore::open(&url, &options()).await.unwrap();
        assert_eq!(
            store.customer_by_name("kept").await.unwrap().map(|c| c.id),
            Some("c1".to_owned())
        );
        store.close();
    })
    .await;
}

/// Two stores on one database (two `ferrite serve` instances) race through the database, not
/// through memory: one nonce, one winner; CRL numbers continue across them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_database_share_state() {
    with_database(|url| async move {
        let a = PostgresStore::open(&url, &options()).await.unwrap();
        let b = PostgresStore::open(&url, &options()).await.unwrap();
        let expires = suite::T0 + time::Duration::minutes(5);
        let (ra, rb) = tokio::join!(
            a.consume_nonce("shared", expires),
            b.consume_nonce("shared", expires)
        );
        assert!(
            ra.unwrap() ^ rb.unwrap(),
            "exactly one instance redeems the nonce"
        );
        assert_eq!(
            a.nonce_key(&[1; 32]).await.unwrap(),
            b.nonce_key(&[2; 32]).await.unwrap()
        );
        let na = a.next_crl_number().await.unwrap();
        let nb = b.next_crl_number().await.unwrap();
        assert_eq!(nb, na + 1);
        a.close();
        b.close();
    })
    .await;
}

/// Two instances redeeming the same 300 nonces at once, in opposite orders, in batches: each
/// nonce has one winner over both, and neither batch fails (rows are inserted in key order,
/// so the two never wait for each other in a cycle).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_redeeming_the_same_nonces_in_opposite_orders() {
    with_database(|url| async move {
        let a = PostgresStore::open(&url, &options()).await.unwrap();
        let b = PostgresStore::open(&url, &options()).await.unwrap();
        let expires = suite::T0 + time::Duration::minutes(5);
        let names: Vec<String> = (0..300).map(|i| format!("n-{i:03}")).collect();
        let forward = suite::join_all(names.iter().map(|n| a.consume_nonce(n, expires)).collect());
        let backward = suite::join_all(
            names
                .iter()
                .rev()
                .map(|n| b.consume_nonce(n, expires))
                .collect(),
        );
        let (forward, mut backward) = tokio::join!(forward, backward);
        backward.reverse();
        for ((name, ra), rb) in names.iter().zip(forward).zip(backward) {
            assert!(
                ra.unwrap() ^ rb.unwrap(),
                "{name}: exactly one instance redeems it"
            );
        }
        a.close();
        b.close();
    })
    .await;
}

/// 1,100 concurrent bindings of one 1,000-use MAC key, spread over two instances (two stores,
/// each with its own pool), bind exactly 1,000 accounts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_bindings_over_two_instances_stop_at_the_limit() {
    with_database(|url| async move {
        let a = PostgresStore::open(&url, &options()).await.unwrap();
        let b = PostgresStore::open(&url, &options()).await.unwrap();
        tokio::time::timeout(
            std::time::Duration::from_secs(120),
            suite::concurrent_bindings_over_instances_stop_at_the_limit(&[&a, &b]),
        )
        .await
        .expect("timed out");
        a.close();
        b.close();
    })
    .await;
}

/// Concurrent spends of one rate limit from two instances (two stores, each with its own
/// pool) allow exactly the allowance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rate_limit_spends_over_two_instances() {
    with_database(|url| async move {
        let a = PostgresStore::open(&url, &options()).await.unwrap();
        let b = PostgresStore::open(&url, &options()).await.unwrap();
        tokio::time::timeout(
            std::time::Duration::from_secs(120),
            suite::concurrent_rate_limit_spends_over_instances(&[&a, &b]),
        )
        .await
        .expect("timed out");
        a.close();
        b.close();
    })
    .await;
}

/// Housekeeping's purge of past rate limit rows skips a row another transaction holds (a
/// certificate's completion locks several, in key order) instead of waiting for it, so the
/// two cannot deadlock; the row goes with the next purge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_purge_skips_rows_a_transaction_holds() {
    with_database(|url| async move {
        let store = PostgresStore::open(&url, &options()).await.unwrap();
        let gcra = ferrite_core::rate_limit::Gcra::new(10, time::Duration::hours(1)).unwrap();
        for key in ["held", "free"] {
            assert!(
                store
                    .spend_rate_limit(key, suite::T0, &gcra)
                    .await
                    .unwrap()
                    .is_ok()
            );
        }
        let (holder, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        let driver = tokio::spawn(connection);
        holder
            .batch_execute("BEGIN; SELECT 1 FROM rate_limits WHERE key = 'held' FOR UPDATE")
            .await
            .unwrap();
        let later = suite::T0 + time::Duration::hours(2);
        let purged = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            store.purge_rate_limits(later),
        )
        .await
        .expect("the purge waited for the held row")
        .unwrap();
        assert_eq!(purged, 1);
        holder.batch_execute("COMMIT").await.unwrap();
        assert_eq!(store.purge_rate_limits(later).await.unwrap(), 1);
        assert!(
            store
                .rate_limit_tats(&["held".to_owned(), "free".to_owned()])
                .await
                .unwrap()
                .is_empty()
        );
        drop(holder);
        let _ = driver.await;
        store.close();
    })
    .await;
}

/// The password may come from the URL, from `database.password_file` (`password`) or from
/// the environment (`fallback_password`); a wrong one is refused with the server's word, and
/// no error quotes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_may_come_from_a_file_or_the_environment() {
    let database = TestDatabase::create().await;
    let with_password = url::Url::parse(database.url()).unwrap();
    let password = with_password
        .password()
        .expect("the test URL carries a password")
        .to_owned();
    let mut without = with_password.clone();
    without.set_password(None).unwrap();
    let secret = |p: &str| Some(DatabasePassword::new(p.to_owned()));

    for given in [
        PostgresOptions {
            password: secret(&password),
            ..options()
        },
        PostgresOptions {
            fallback_password: secret(&password),
            ..options()
        },
    ] {
        let store = PostgresStore::open(without.as_str(), &given).await.unwrap();
        assert!(store.next_crl_number().await.unwrap() > 0);
        store.close();
    }
    let wrong = PostgresOptions {
        password: secret("not-the-password-7f3a"),
        ..options()
    };
    let err = PostgresStore::open(without.as_str(), &wrong)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("password"), "{err}");
    assert!(
        !err.contains("not-the-password-7f3a") && !err.contains(&password),
        "{err}"
    );
    let both = PostgresOptions {
        password: secret(&password),
        ..options()
    };
    let err = PostgresStore::open(with_password.as_str(), &both)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("password_file") && !err.contains(&password),
        "{err}"
    );
    database.drop().await;
}

/// Runs `sql` on the database at `url`.
async fn raw(url: &str, sql: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let driver = tokio::spawn(connection);
    client.batch_execute(sql).await.unwrap();
    drop(client);
    let _ = driver.await;
}
