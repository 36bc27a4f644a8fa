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

conformance!(
    nonce_is_redeemed_once,
    expired_nonces_are_refused_and_purged,
    nonce_key_is_kept,
    concurrent_nonce_redemption_has_one_winner,
    account_round_trip,
    duplicate_account_is_conflict,
    update_account_replaces_contact_and_status,
    change_account_key,
    order_round_trip,
    order_reuses_existing_authorization,
    insert_order_is_atomic,
    order_listing_is_newest_first_and_paginated,
    set_authorization_status_is_compare_and_set,
    start_validation_is_compare_and_set,
    concurrent_start_validation_has_one_winner,
    finish_validation_success,
    finish_validation_failure,
    finish_validation_applies_only_while_processing,
    finish_validation_without_claim_applies_only_while_pending,
    reaper_resets_expired_leases,
    begin_finalize_is_compare_and_set,
    begin_finalize_requires_a_ready_order,
    complete_order_stores_certificate,
    complete_order_requires_processing_and_unique_serial,
    fail_order_from_pending_or_processing,
    revocation_is_compare_and_set,
    revoked_certificates_for_crl,
    crl_numbers_are_monotonic,
    customers_round_trip_with_unique_names,
    credentials_round_trip_scoped_and_disabled,
    new_mac_key_disables_previous_key,
    binding_counts_and_inserts_the_account,
    binding_refusals_name_the_rule,
    failed_account_insert_consumes_nothing,
    concurrent_bindings_stop_at_the_limit,
    finish_validation_records_domain_validation,
    domain_validation_only_with_an_applied_success,
    reusable_validations_by_owner_age_and_authorization,
);

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
