//! The store conformance suite (`suite/`) on SQLite: every suite function on a fresh temp-file
//! database, plus SQLite-specific checks (durability across reopen, the in-memory store).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod suite;

use ferrite_core::Store;
use ferrite_store::SqliteStore;

/// A fresh database file in its own temp dir (removed when the dir guard drops).
async fn temp_store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("ferrite.db"))
        .await
        .unwrap();
    (dir, store)
}

macro_rules! conformance {
    ($($name:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (_dir, store) = temp_store().await;
                tokio::time::timeout(std::time::Duration::from_secs(60), suite::$name(&store))
                    .await
                    .expect("conformance test timed out");
            }
        )+
    };
}

suite::all!(conformance);

/// What a client was given survives closing the database and opening the file again.
#[tokio::test]
async fn data_survives_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferrite.db");
    let store = SqliteStore::open(&path).await.unwrap();
    suite::complete_order_stores_certificate(&store).await;
    assert!(
        store
            .revoke_certificate("0a1b2c", suite::T0, 1)
            .await
            .unwrap()
    );
    assert!(
        store
            .consume_nonce("kept", suite::T0 + time::Duration::minutes(5))
            .await
            .unwrap()
    );
    let nonce_key = store.nonce_key(&[3; 32]).await.unwrap();
    let crl = store.next_crl_number().await.unwrap();
    let order = store.order("order").await.unwrap().unwrap();
    let cert = store.certificate("0a1b2c").await.unwrap().unwrap();
    let account = store.account("acct").await.unwrap().unwrap();
    store.close().await;
    assert!(
        store.account("acct").await.is_err(),
        "a closed store must fail, not hang"
    );
    drop(store);

    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.order("order").await.unwrap(), Some(order));
    assert_eq!(store.certificate("0a1b2c").await.unwrap(), Some(cert));
    assert_eq!(store.account("acct").await.unwrap(), Some(account));
    assert!(
        !store
            .consume_nonce("kept", suite::T0 + time::Duration::minutes(5))
            .await
            .unwrap(),
        "a used nonce stays used across a restart"
    );
    assert_eq!(store.nonce_key(&[4; 32]).await.unwrap(), nonce_key);
    assert_eq!(store.next_crl_number().await.unwrap(), crl + 1);
}

/// Two stores on one file (two `ferrite serve` processes) see each other's writes and race
/// through the database, not through memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_file_share_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferrite.db");
    let a = SqliteStore::open(&path).await.unwrap();
    let b = SqliteStore::open(&path).await.unwrap();
    let expires = suite::T0 + time::Duration::minutes(5);
    let (ra, rb) = tokio::join!(
        a.consume_nonce("shared", expires),
        b.consume_nonce("shared", expires)
    );
    assert!(
        ra.unwrap() ^ rb.unwrap(),
        "exactly one instance redeems the nonce"
    );
    let na = a.next_crl_number().await.unwrap();
    let nb = b.next_crl_number().await.unwrap();
    assert_eq!(nb, na + 1);
}

/// 1,100 concurrent bindings of one 1,000-use MAC key spread over two stores on one file
/// bind exactly 1,000 accounts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_bindings_over_two_stores_stop_at_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferrite.db");
    let a = SqliteStore::open(&path).await.unwrap();
    let b = SqliteStore::open(&path).await.unwrap();
    suite::concurrent_bindings_over_instances_stop_at_the_limit(&[&a, &b]).await;
}

/// Concurrent spends of one rate limit from two stores on one file (two instances) allow
/// exactly the allowance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rate_limit_spends_over_two_stores() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferrite.db");
    let a = SqliteStore::open(&path).await.unwrap();
    let b = SqliteStore::open(&path).await.unwrap();
    suite::concurrent_rate_limit_spends_over_instances(&[&a, &b]).await;
}

/// The in-memory store (one connection) passes the parts of the suite that race, too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_store_conforms() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    suite::concurrent_nonce_redemption_has_one_winner(&store).await;
    suite::order_round_trip(&store).await;
    suite::crl_numbers_are_monotonic(&store).await;
    let other = SqliteStore::open_in_memory().await.unwrap();
    assert_eq!(
        other.account("acct").await.unwrap(),
        None,
        "in-memory stores are separate"
    );
}
