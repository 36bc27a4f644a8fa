//! The store conformance suite: every function takes `&dyn Store` and checks one part of the
//! contract in `ferrite_core::store`. Each backend's test file (`conformance.rs` for SQLite, a
//! later one for PostgreSQL) runs every function on a fresh, empty database.
//!
//! Times are whole microseconds so that they survive every backend's storage unchanged.

mod ari;
mod domain_validations;
mod eab;
mod portal;
mod rate_limits;
mod revocation;
mod support_trail;

// The binding-model and domain-validation functions, listed with the rest in `all!`.
pub(crate) use ari::*;
pub(crate) use domain_validations::*;
pub(crate) use eab::*;
pub(crate) use portal::*;
pub(crate) use rate_limits::*;
pub(crate) use revocation::*;
pub(crate) use support_trail::*;

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use ferrite_core::Store;
use ferrite_core::StoreError;
use ferrite_core::model::{
    Account, Authorization, CaCertificates, CaRecord, Certificate, Challenge, CrlScope, Order,
    SharedCrl, StoredCrl, ValidationResult,
};
use ferrite_proto::{
    AccountStatus, AuthorizationStatus, ChallengeStatus, ChallengeType, Identifier, OrderStatus,
    Problem, ProblemType,
};
use serde_json::json;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// Calls `$backend!(every suite function's name, …)`: each backend's test file turns the list
/// into one test per function, so both backends run the whole suite, unchanged.
macro_rules! all {
    ($backend:ident) => {
        $backend!(
            nonce_is_redeemed_once,
            expired_nonces_are_refused_and_purged,
            nonce_key_is_kept,
            ca_certificates_record_one_root_and_its_intermediates,
            the_crl_lease_has_one_holder,
            concurrent_nonce_redemption_has_one_winner,
            concurrent_redemptions_of_many_nonces_have_one_winner_each,
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
            fail_finalize_needs_the_lease,
            stale_finalizations_are_handed_back,
            revocation_is_compare_and_set,
            revoked_certificates_for_crl,
            the_audit_log_follows_changes_and_seals_a_chain,
            crl_numbers_are_monotonic,
            customers_round_trip_with_unique_names,
            credentials_round_trip_scoped_and_disabled,
            operator_credentials_round_trip_and_are_audited,
            new_mac_key_disables_previous_key,
            binding_counts_and_inserts_the_account,
            binding_refusals_name_the_rule,
            failed_account_insert_consumes_nothing,
            concurrent_bindings_stop_at_the_limit,
            finish_validation_records_domain_validation,
            domain_validation_only_with_an_applied_success,
            reusable_validations_by_owner_age_and_authorization,
            order_profile_and_replaces_round_trip,
            replacing_order_needs_no_live_replacement,
            concurrent_replacements_have_one_winner,
            certificates_match_serial_customer_and_name,
            renewal_advance_marks_certificates,
            customer_profiles_round_trip,
            refused_requests_are_kept_found_and_purged,
            customer_suspension_round_trip,
            account_with_customer_reads_the_suspension,
            suspended_customer_binds_nothing,
            disabled_mac_key_binds_nothing,
            certificates_page_filters_and_pages,
            key_hash_is_recorded_at_issuance,
            revocation_blocking_key_is_one_transaction,
            blocked_keys_round_trip,
            certificates_page_by_name_suffix_revocation_and_profile,
            domain_validations_page_by_customer_name_and_cursor,
            rate_limit_spends_stop_at_the_allowance,
            concurrent_rate_limit_spends_allow_exactly_the_allowance,
            rate_limit_overrides_round_trip,
            pending_authorizations_are_counted,
            orders_stop_at_the_pending_cap_even_when_racing,
            orders_spend_their_step_only_when_stored,
            complete_order_counts_only_what_it_records,
            portal_sessions_expire_end_and_are_purged,
            activity_counts_issuance_per_day_and_failures_by_type,
        );
    };
}
pub(crate) use all;

/// A fixed "now" for every test.
pub(crate) const T0: OffsetDateTime = datetime!(2026-04-01 12:00:00.123_456 UTC);

/// The finalize lease the suite's `begin_finalize` calls take: two minutes after [`T0`].
pub(crate) const FINALIZE_LEASE: OffsetDateTime = datetime!(2026-04-01 12:02:00.123_456 UTC);
/// The lease `start_and_finish` claims challenges with (and its results carry).
pub(crate) const LEASE: OffsetDateTime = datetime!(2026-04-01 12:01:00.123_456 UTC);

/// How many callers race in the concurrency tests.
const RACERS: usize = 20;

/// Polls all futures together on this task (the races happen in the database, which runs them on
/// its own threads) and returns their outputs in order.
pub(crate) async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(v) => *output = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(|o| o.unwrap()).collect()
}

// ---------------------------------------------------------------- fixtures

fn account(id: &str) -> Account {
    Account {
        id: id.to_owned(),
        thumbprint: format!("thumb-{id}"),
        jwk: json!({"kty": "EC", "crv": "P-256", "x": format!("x-{id}"), "y": "y"}),
        contact: vec![format!("mailto:{id}@example.org")],
        status: AccountStatus::Valid,
        terms_of_service_agreed: true,
        eab_kid: Some("kid-1".to_owned()),
        customer_id: None,
        created_at: T0,
    }
}

fn challenge(authz_id: &str, kind: ChallengeType) -> Challenge {
    Challenge {
        id: format!("{authz_id}-{}", kind.as_str()),
        authorization_id: authz_id.to_owned(),
        kind,
        token: format!("token-{authz_id}-{}", kind.as_str()),
        status: ChallengeStatus::Pending,
        validated: None,
        error: None,
        record: None,
        lease_until: None,
    }
}

fn authorization(id: &str, account_id: &str, name: &str) -> Authorization {
    let wildcard = name.starts_with("*.");
    let mut challenges = vec![challenge(id, ChallengeType::Dns01)];
    if !wildcard {
        // Out of alphabetical order on purpose: the stored order must be the given order.
        challenges.insert(0, challenge(id, ChallengeType::TlsAlpn01));
        challenges.insert(0, challenge(id, ChallengeType::Http01));
    }
    Authorization {
        id: id.to_owned(),
        account_id: account_id.to_owned(),
        identifier: Identifier::dns(name.strip_prefix("*.").unwrap_or(name)),
        wildcard,
        status: AuthorizationStatus::Pending,
        expires: T0 + Duration::days(7),
        challenges,
    }
}

fn order(id: &str, account_id: &str, authzs: &[&Authorization]) -> Order {
    Order {
        id: id.to_owned(),
        account_id: account_id.to_owned(),
        status: OrderStatus::Pending,
        identifiers: authzs
            .iter()
            .map(|a| {
                if a.wildcard {
                    Identifier::dns(format!("*.{}", a.identifier.value))
                } else {
                    a.identifier.clone()
                }
            })
            .collect(),
        authorization_ids: authzs.iter().map(|a| a.id.clone()).collect(),
        expires: T0 + Duration::days(7),
        not_before: None,
        not_after: None,
        error: None,
        certificate_serial: None,
        created_at: T0,
        profile: None,
        replaces: None,
    }
}

/// The issuer id the suite's certificates name.
const ISSUER: &str = "00000000000000aa";

/// Shard 0 of [`ISSUER`]: the CRL of the suite's certificates.
fn shard0() -> CrlScope {
    CrlScope::shard(ISSUER, 0)
}

fn certificate(serial: &str, order: &Order, not_after: OffsetDateTime) -> Certificate {
    Certificate {
        serial: serial.to_owned(),
        account_id: order.account_id.clone(),
        order_id: order.id.clone(),
        der: vec![0x30, 0x82, 0x01, 0x00, 0xff, serial.len() as u8],
        chain_pem: format!("-----BEGIN CERTIFICATE-----\n{serial}\n-----END CERTIFICATE-----\n"),
        dns_names: order.identifiers.iter().map(|i| i.value.clone()).collect(),
        not_before: not_after - Duration::days(90),
        not_after,
        revoked: None,
        renewal_advanced: None,
        crl: shard0(),
        precertificate: None,
    }
}

/// An account `acct` with one order `order` for `example.org` (authorization `authz`), stored.
async fn one_order(store: &dyn Store) -> (Account, Order, Authorization) {
    let acct = account("acct");
    store.insert_account(&acct).await.unwrap();
    let authz = authorization("authz", "acct", "example.org");
    let ord = order("order", "acct", &[&authz]);
    store
        .insert_order(&ord, std::slice::from_ref(&authz))
        .await
        .unwrap();
    (acct, ord, authz)
}

/// Makes every authorization of `order_id` valid (as validation would) and calls
/// `begin_finalize` at [`T0`].
async fn begin_finalize(store: &dyn Store, order_id: &str) -> bool {
    if let Some(order) = store.order(order_id).await.unwrap() {
        for id in &order.authorization_ids {
            store
                .set_authorization_status(
                    id,
                    AuthorizationStatus::Pending,
                    AuthorizationStatus::Valid,
                )
                .await
                .unwrap();
        }
    }
    store
        .begin_finalize(order_id, T0, FINALIZE_LEASE)
        .await
        .unwrap()
}

/// [`one_order`] moved to `processing` by `begin_finalize`.
async fn processing_order(store: &dyn Store) -> Order {
    let (_, ord, _) = one_order(store).await;
    assert!(begin_finalize(store, &ord.id).await);
    ord
}

fn problem() -> Problem {
    Problem::new(ProblemType::IncorrectResponse, "the token did not match")
}

// ---------------------------------------------------------------- nonces (RFC 8555 §6.5)

/// A nonce is consumed once: the first use is recorded, a second use is refused.
pub(crate) async fn nonce_is_redeemed_once(store: &dyn Store) {
    let expires = T0 + Duration::minutes(5);
    assert!(store.consume_nonce("n1", expires).await.unwrap());
    assert!(!store.consume_nonce("n1", expires).await.unwrap());
    assert!(store.consume_nonce("n2", expires).await.unwrap());
}

/// Purge removes exactly the records that expired at or before `now`; a purged nonce could
/// be recorded again (core refuses it first, as expired).
pub(crate) async fn expired_nonces_are_refused_and_purged(store: &dyn Store) {
    assert!(store.consume_nonce("old", T0).await.unwrap());
    assert!(
        store
            .consume_nonce("older", T0 - Duration::seconds(1))
            .await
            .unwrap()
    );
    assert!(
        store
            .consume_nonce("fresh", T0 + Duration::minutes(5))
            .await
            .unwrap()
    );
    assert_eq!(store.purge_nonces(T0).await.unwrap(), 2);
    assert_eq!(store.purge_nonces(T0).await.unwrap(), 0);
    assert!(
        !store
            .consume_nonce("fresh", T0 + Duration::minutes(5))
            .await
            .unwrap(),
        "an unexpired record survives the purge"
    );
}

/// The nonce key is kept: the first candidate is stored, later candidates get it back.
pub(crate) async fn nonce_key_is_kept(store: &dyn Store) {
    let first = store.nonce_key(&[1; 32]).await.unwrap();
    assert_eq!(first, vec![1; 32]);
    assert_eq!(store.nonce_key(&[2; 32]).await.unwrap(), first);
}

/// Of concurrent first offers of CA certificates under different roots, one records its root
/// and intermediate and the others are told the recorded root (nothing of theirs stored); an
/// offer under the recorded root with a new intermediate records it, once; an offer under
/// another root is then told every recorded intermediate, oldest first.
pub(crate) async fn ca_certificates_record_one_root_and_its_intermediates(store: &dyn Store) {
    let ca = |root: u8, intermediate: u8| CaCertificates {
        root_sha256: format!("{root:02X}:AA"),
        intermediate_sha256: format!("{intermediate:02X}:BB"),
    };
    let offers: Vec<CaCertificates> = (0..RACERS as u8).map(|n| ca(n, n)).collect();
    let answers = join_all(
        offers
            .iter()
            .map(|offer| store.record_ca_certificates(offer, T0))
            .collect(),
    )
    .await;
    let answers: Vec<CaRecord> = answers.into_iter().map(Result::unwrap).collect();
    let winners: Vec<usize> = (0..RACERS)
        .filter(|i| answers[*i] == CaRecord::Recorded)
        .collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    let w = winners[0] as u8;
    let recorded = CaRecord::OtherRoot {
        root_sha256: ca(w, w).root_sha256,
        intermediates: vec![ca(w, w).intermediate_sha256],
    };
    for (i, answer) in answers.iter().enumerate() {
        if i != winners[0] {
            assert_eq!(*answer, recorded, "offer {i}");
        }
    }

    let known = store.record_ca_certificates(&ca(w, w), T0).await.unwrap();
    assert_eq!(known, CaRecord::Known);
    let later = T0 + time::Duration::seconds(1);
    let rolled = store
        .record_ca_certificates(&ca(w, 200), later)
        .await
        .unwrap();
    assert_eq!(
        rolled,
        CaRecord::NewIntermediate {
            earlier: vec![ca(w, w).intermediate_sha256]
        }
    );
    let again = store
        .record_ca_certificates(&ca(w, 200), later)
        .await
        .unwrap();
    assert_eq!(again, CaRecord::Known);
    let old = store
        .record_ca_certificates(&ca(w, w), later)
        .await
        .unwrap();
    assert_eq!(old, CaRecord::Known);
    let other = store
        .record_ca_certificates(&ca(201, 201), later)
        .await
        .unwrap();
    assert_eq!(
        other,
        CaRecord::OtherRoot {
            root_sha256: ca(w, w).root_sha256,
            intermediates: vec![ca(w, w).intermediate_sha256, ca(w, 200).intermediate_sha256],
        }
    );
}

/// Of 20 concurrent uses of one nonce exactly one is accepted.
pub(crate) async fn concurrent_nonce_redemption_has_one_winner(store: &dyn Store) {
    let results = join_all(
        (0..RACERS)
            .map(|_| store.consume_nonce("race", T0 + Duration::minutes(5)))
            .collect(),
    )
    .await;
    let won = results
        .into_iter()
        .map(Result::unwrap)
        .filter(|w| *w)
        .count();
    assert_eq!(won, 1);
}

/// 1,200 concurrent redemptions, three of each of 400 nonces (more than a store writes in one
/// statement), interleaved: each nonce is accepted exactly once, and a nonce already used
/// before is accepted by none.
pub(crate) async fn concurrent_redemptions_of_many_nonces_have_one_winner_each(store: &dyn Store) {
    let expires = T0 + Duration::minutes(5);
    assert!(store.consume_nonce("n-7", expires).await.unwrap());
    let names: Vec<String> = (0..1200).map(|i| format!("n-{}", i % 400)).collect();
    let results = join_all(
        names
            .iter()
            .map(|name| store.consume_nonce(name, expires))
            .collect(),
    )
    .await;
    let mut winners = std::collections::HashMap::<&str, usize>::new();
    for (name, result) in names.iter().zip(results) {
        if result.unwrap() {
            *winners.entry(name).or_default() += 1;
        }
    }
    assert_eq!(winners.get("n-7"), None, "a nonce used before is refused");
    assert_eq!(winners.len(), 399);
    assert!(winners.values().all(|&n| n == 1), "{winners:?}");
}

// ---------------------------------------------------------------- accounts (§7.3)

/// An account reads back unchanged by id and by thumbprint.
pub(crate) async fn account_round_trip(store: &dyn Store) {
    let mut acct = account("a1");
    acct.eab_kid = None;
    acct.contact = vec![];
    store.insert_account(&acct).await.unwrap();
    let other = account("a2");
    store.insert_account(&other).await.unwrap();
    assert_eq!(store.account("a1").await.unwrap(), Some(acct.clone()));
    assert_eq!(
        store.account_by_thumbprint("thumb-a1").await.unwrap(),
        Some(acct)
    );
    assert_eq!(store.account("a2").await.unwrap(), Some(other));
    assert_eq!(store.account("nobody").await.unwrap(), None);
    assert_eq!(
        store.account_by_thumbprint("thumb-nobody").await.unwrap(),
        None
    );
}

/// A second account with a taken thumbprint (or id) is a conflict and changes nothing.
pub(crate) async fn duplicate_account_is_conflict(store: &dyn Store) {
    let acct = account("a1");
    store.insert_account(&acct).await.unwrap();
    let mut same_key = account("a2");
    same_key.thumbprint = acct.thumbprint.clone();
    let err = store.insert_account(&same_key).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.account("a2").await.unwrap(), None);
    let mut same_id = account("a1");
    same_id.thumbprint = "another".to_owned();
    let err = store.insert_account(&same_id).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.account("a1").await.unwrap(), Some(acct));
}

/// `update_account` replaces contact and status only; an unknown id is an error.
pub(crate) async fn update_account_replaces_contact_and_status(store: &dyn Store) {
    let acct = account("a1");
    store.insert_account(&acct).await.unwrap();
    let mut changed = acct.clone();
    changed.contact = vec![
        "mailto:new@example.org".to_owned(),
        "mailto:b@example.org".to_owned(),
    ];
    changed.status = AccountStatus::Deactivated;
    // Fields update_account does not own are ignored.
    changed.thumbprint = "ignored".to_owned();
    changed.terms_of_service_agreed = false;
    store.update_account(&changed).await.unwrap();
    let stored = store.account("a1").await.unwrap().unwrap();
    assert_eq!(stored.contact, changed.contact);
    assert_eq!(stored.status, AccountStatus::Deactivated);
    assert_eq!(stored.thumbprint, acct.thumbprint);
    assert!(stored.terms_of_service_agreed);
    assert!(store.update_account(&account("nobody")).await.is_err());
    // Deactivation is final: an update racing it (read while still valid) changes nothing.
    let mut stale = acct.clone();
    stale.contact = vec!["mailto:late@example.org".to_owned()];
    let err = store.update_account(&stale).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let stored = store.account("a1").await.unwrap().unwrap();
    assert_eq!(stored.status, AccountStatus::Deactivated);
    assert_eq!(stored.contact, changed.contact);
}

/// Key rollover (§7.3.5) moves the thumbprint; a taken thumbprint is a conflict.
pub(crate) async fn change_account_key(store: &dyn Store) {
    store.insert_account(&account("a1")).await.unwrap();
    store.insert_account(&account("a2")).await.unwrap();
    let new_jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": "new"});
    store
        .change_account_key("a1", "thumb-a1", "thumb-new", &new_jwk)
        .await
        .unwrap();
    let stored = store
        .account_by_thumbprint("thumb-new")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.id, "a1");
    assert_eq!(stored.jwk, new_jwk);
    assert_eq!(store.account_by_thumbprint("thumb-a1").await.unwrap(), None);

    let err = store
        .change_account_key("a1", "thumb-new", "thumb-a2", &json!({"kty": "EC"}))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let stored = store.account("a1").await.unwrap().unwrap();
    assert_eq!(
        (stored.thumbprint.as_str(), &stored.jwk),
        ("thumb-new", &new_jwk)
    );
    assert_eq!(
        store
            .account_by_thumbprint("thumb-a2")
            .await
            .unwrap()
            .unwrap()
            .id,
        "a2"
    );

    assert!(
        store
            .change_account_key("nobody", "thumb-nobody", "thumb-x", &new_jwk)
            .await
            .is_err()
    );
    // Of two rollovers from the same old key, the second finds the key changed.
    let err = store
        .change_account_key("a1", "thumb-a1", "thumb-other", &new_jwk)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        store.account_by_thumbprint("thumb-other").await.unwrap(),
        None
    );
}

// ---------------------------------------------------------------- orders and authorizations

/// An order with its new authorizations and their challenges reads back unchanged.
pub(crate) async fn order_round_trip(store: &dyn Store) {
    store.insert_account(&account("acct")).await.unwrap();
    let a = authorization("a", "acct", "example.org");
    let b = authorization("b", "acct", "*.example.org");
    let mut ord = order("o1", "acct", &[&a, &b]);
    ord.not_before = Some(T0 + Duration::hours(1));
    ord.not_after = Some(T0 + Duration::days(30));
    store
        .insert_order(&ord, &[a.clone(), b.clone()])
        .await
        .unwrap();

    assert_eq!(store.order("o1").await.unwrap(), Some(ord));
    assert_eq!(store.order("missing").await.unwrap(), None);
    let stored = store.authorization("a").await.unwrap().unwrap();
    assert_eq!(stored, a);
    let kinds: Vec<_> = stored.challenges.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        [
            ChallengeType::Http01,
            ChallengeType::TlsAlpn01,
            ChallengeType::Dns01
        ]
    );
    assert_eq!(store.authorization("b").await.unwrap(), Some(b.clone()));
    assert_eq!(store.authorization("missing").await.unwrap(), None);
    let ids = ["b".to_owned(), "missing".to_owned(), "a".to_owned()];
    assert_eq!(
        store.authorizations(&ids).await.unwrap(),
        vec![b.clone(), a.clone()]
    );
    assert_eq!(store.authorizations(&[]).await.unwrap(), vec![]);
    // An order's authorizations keep the order's order, not the ids' sort order.
    let reversed = order("o2", "acct", &[&b, &a]);
    store.insert_order(&reversed, &[]).await.unwrap();
    assert_eq!(
        store.order("o2").await.unwrap().unwrap().authorization_ids,
        ["b", "a"]
    );
    // Read together, the order and its authorizations are what the two reads give.
    assert_eq!(
        store.order_with_authorizations("o2").await.unwrap(),
        Some((reversed.clone(), vec![b.clone(), a.clone()]))
    );
    assert_eq!(
        store.order_with_authorizations("o1").await.unwrap(),
        Some((
            store.order("o1").await.unwrap().unwrap(),
            vec![a.clone(), b.clone()]
        ))
    );
    assert_eq!(
        store.order_with_authorizations("missing").await.unwrap(),
        None
    );
}

/// A new order may reuse existing authorizations: only the new ones are passed in.
pub(crate) async fn order_reuses_existing_authorization(store: &dyn Store) {
    let (_, first, reused) = one_order(store).await;
    let fresh = authorization("fresh", "acct", "www.example.org");
    let second = order("o2", "acct", &[&fresh, &reused]);
    store
        .insert_order(&second, std::slice::from_ref(&fresh))
        .await
        .unwrap();
    let stored = store.order("o2").await.unwrap().unwrap();
    assert_eq!(stored.authorization_ids, ["fresh", "authz"]);
    assert_eq!(
        store
            .order(&first.id)
            .await
            .unwrap()
            .unwrap()
            .authorization_ids,
        ["authz"]
    );
    assert_eq!(store.authorization("fresh").await.unwrap(), Some(fresh));
}

/// A failing `insert_order` leaves nothing behind (one transaction).
pub(crate) async fn insert_order_is_atomic(store: &dyn Store) {
    let (_, first, existing) = one_order(store).await;
    // A new authorization, then one whose id is taken: the first must not survive.
    let new = authorization("new", "acct", "new.example.org");
    let clash = authorization(&existing.id, "acct", "clash.example.org");
    let ord = order("o2", "acct", &[&new, &clash]);
    let err = store
        .insert_order(&ord, &[new.clone(), clash])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.authorization("new").await.unwrap(), None);
    assert_eq!(store.order("o2").await.unwrap(), None);
    assert_eq!(
        store.authorization(&existing.id).await.unwrap(),
        Some(existing)
    );

    // A taken order id: the new authorization is rolled back too.
    let dup = order(&first.id, "acct", &[&new]);
    assert!(store.insert_order(&dup, &[new]).await.is_err());
    assert_eq!(store.authorization("new").await.unwrap(), None);
    assert_eq!(store.order(&first.id).await.unwrap(), Some(first));
}

/// The orders list (§7.1.2.1) is newest first, paginated by cursor, per account — even when
/// every order was created in the same instant.
pub(crate) async fn order_listing_is_newest_first_and_paginated(store: &dyn Store) {
    store.insert_account(&account("acct")).await.unwrap();
    store.insert_account(&account("other")).await.unwrap();
    for i in 1..=5 {
        let authz = authorization(&format!("a{i}"), "acct", "example.org");
        store
            .insert_order(&order(&format!("o{i}"), "acct", &[&authz]), &[authz])
            .await
            .unwrap();
        if i == 2 {
            let authz = authorization("x1", "other", "example.net");
            store
                .insert_order(&order("x1", "other", &[&authz]), &[authz])
                .await
                .unwrap();
        }
    }
    let page =
        |after: Option<&'static str>, limit| store.order_ids_by_account("acct", after, limit);
    assert_eq!(page(None, 2).await.unwrap(), ["o5", "o4"]);
    assert_eq!(page(Some("o4"), 2).await.unwrap(), ["o3", "o2"]);
    assert_eq!(page(Some("o2"), 2).await.unwrap(), ["o1"]);
    assert!(page(Some("o1"), 2).await.unwrap().is_empty());
    assert_eq!(
        page(None, 100).await.unwrap(),
        ["o5", "o4", "o3", "o2", "o1"]
    );
    assert!(page(None, 0).await.unwrap().is_empty());
    // Another account's order is not a cursor into this list.
    assert!(page(Some("x1"), 2).await.unwrap().is_empty());
    assert_eq!(
        store.order_ids_by_account("other", None, 10).await.unwrap(),
        ["x1"]
    );
    assert!(
        store
            .order_ids_by_account("nobody", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Deactivation (§7.5.2) is a compare-and-set on the authorization status.
pub(crate) async fn set_authorization_status_is_compare_and_set(store: &dyn Store) {
    let (_, _, authz) = one_order(store).await;
    use AuthorizationStatus::{Deactivated, Pending, Valid};
    assert!(
        !store
            .set_authorization_status(&authz.id, Valid, Deactivated)
            .await
            .unwrap()
    );
    assert!(
        store
            .set_authorization_status(&authz.id, Pending, Deactivated)
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_authorization_status(&authz.id, Pending, Deactivated)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .authorization(&authz.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        Deactivated
    );
    assert!(
        !store
            .set_authorization_status("missing", Pending, Deactivated)
            .await
            .unwrap()
    );
}

// ---------------------------------------------------------------- validation (§7.5.1)

/// `start_validation` moves a pending challenge of a pending authorization to processing with
/// its lease, once.
pub(crate) async fn start_validation_is_compare_and_set(store: &dyn Store) {
    let (_, _, authz) = one_order(store).await;
    let ch = &authz.challenges[0].id;
    let lease = T0 + Duration::seconds(60);
    assert!(store.start_validation(ch, lease).await.unwrap());
    assert!(!store.start_validation(ch, lease).await.unwrap());
    let stored = store.authorization(&authz.id).await.unwrap().unwrap();
    assert_eq!(stored.challenges[0].status, ChallengeStatus::Processing);
    assert_eq!(stored.challenges[0].lease_until, Some(lease));
    assert_eq!(stored.challenges[1].status, ChallengeStatus::Pending);
    assert_eq!(stored.status, AuthorizationStatus::Pending);
    assert!(!store.start_validation("missing", lease).await.unwrap());

    // Not while the authorization is not pending.
    use AuthorizationStatus::{Deactivated, Pending};
    assert!(
        store
            .set_authorization_status(&authz.id, Pending, Deactivated)
            .await
            .unwrap()
    );
    assert!(
        !store
            .start_validation(&authz.challenges[1].id, lease)
            .await
            .unwrap()
    );
}

/// Of 20 concurrent `start_validation` calls exactly one wins.
pub(crate) async fn concurrent_start_validation_has_one_winner(store: &dyn Store) {
    let (_, _, authz) = one_order(store).await;
    let ch = &authz.challenges[0].id;
    let lease = T0 + Duration::seconds(60);
    let results = join_all(
        (0..RACERS)
            .map(|_| store.start_validation(ch, lease))
            .collect(),
    )
    .await;
    let won = results
        .into_iter()
        .map(Result::unwrap)
        .filter(|w| *w)
        .count();
    assert_eq!(won, 1);
}

/// A successful validation makes the challenge and the authorization valid, with the record.
pub(crate) async fn finish_validation_success(store: &dyn Store) {
    let (_, _, authz) = one_order(store).await;
    let ch = &authz.challenges[0];
    let record = json!({"url": "http://example.org/.well-known/acme-challenge/t", "addresses": ["127.0.0.1"]});
    let validated = T0 + Duration::seconds(3);
    start_and_finish(
        store,
        ValidationResult {
            challenge_id: ch.id.clone(),
            authorization_id: authz.id.clone(),
            lease_until: Some(LEASE),
            outcome: Ok(validated),
            record: record.clone(),
            domain_validation: None,
        },
    )
    .await;
    let stored = store.authorization(&authz.id).await.unwrap().unwrap();
    assert_eq!(stored.status, AuthorizationStatus::Valid);
    let c = &stored.challenges[0];
    assert_eq!(c.status, ChallengeStatus::Valid);
    assert_eq!(c.validated, Some(validated));
    assert_eq!(c.record, Some(record));
    assert_eq!((c.error.as_ref(), c.lease_until), (None, None));
    // The other challenges are untouched.
    assert_eq!(stored.challenges[1], authz.challenges[1]);
}

/// Starts the validation of `result.challenge_id` (asserting this caller won the lease) and
/// writes `result`.
pub(crate) async fn start_and_finish(store: &dyn Store, result: ValidationResult) {
    assert!(
        store
            .start_validation(
                &result.challenge_id,
                result.lease_until.expect("a claimed result has a lease")
            )
            .await
            .unwrap()
    );
    assert!(store.finish_validation(&result).await.unwrap());
}

/// A failed validation makes the challenge and the authorization invalid, with the problem.
pub(crate) async fn finish_validation_failure(store: &dyn Store) {
    let (_, _, authz) = one_order(store).await;
    let ch = &authz.challenges[1];
    start_and_finish(
        store,
        ValidationResult {
            challenge_id: ch.id.clone(),
            authorization_id: authz.id.clone(),
            lease_until: Some(LEASE),
            outcome: Err(problem()),
            record: json!({"error": "timeout"}),
            domain_validation: None,
        },
    )
    .await;
    let stored = store.authorization(&authz.id).await.unwrap().unwrap();
    assert_eq!(stored.status, AuthorizationStatus::Invalid);
    let c = &stored.challenges[1];
    assert_eq!(c.status, ChallengeStatus::Invalid);
    assert_eq!(c.error, Some(problem()));
    assert_eq!(c.validated, None);
    assert_eq!(c.record, Some(json!({"error": "timeout"})));
}

/// A result for challenge `i` of `authz` under the claim `lease_until` (`None`: unclaimed), with
/// the record `{"challenge": i}` and no domain validation.
fn result_for(
    authz: &Authorization,
    i: usize,
    lease_until: Option<OffsetDateTime>,
    outcome: Result<OffsetDateTime, Problem>,
) -> ValidationResult {
    ValidationResult {
        challenge_id: authz.challenges[i].id.clone(),
        authorization_id: authz.id.clone(),
        lease_until,
        outcome,
        record: json!({"challenge": i}),
        domain_validation: None,
    }
}

/// A result for a challenge that is not processing changes nothing; a late failure of a second
/// challenge does not turn a valid authorization invalid.
pub(crate) async fn finish_validation_applies_only_while_processing(store: &dyn Store) {
    let (_, _, authz) = one_order(store).await;
    let result = |i: usize, outcome| result_for(&authz, i, Some(LEASE), outcome);
    // Never started: ignored.
    assert!(!store.finish_validation(&result(0, Ok(T0))).await.unwrap());
    assert_eq!(
        store.authorization(&authz.id).await.unwrap(),
        Some(authz.clone())
    );
    // Wrong authorization id: ignored.
    let lease = LEASE;
    assert!(
        store
            .start_validation(&authz.challenges[0].id, lease)
            .await
            .unwrap()
    );
    assert!(
        store
            .start_validation(&authz.challenges[2].id, lease)
            .await
            .unwrap()
    );
    let mut wrong = result(0, Ok(T0));
    wrong.authorization_id = "other".to_owned();
    assert!(!store.finish_validation(&wrong).await.unwrap());
    let stored = store.authorization(&authz.id).await.unwrap().unwrap();
    assert_eq!(stored.challenges[0].status, ChallengeStatus::Processing);
    // First success wins; a later failure only marks its own challenge.
    store.finish_validation(&result(0, Ok(T0))).await.unwrap();
    store
        .finish_validation(&result(2, Err(problem())))
        .await
        .unwrap();
    let stored = store.authorization(&authz.id).await.unwrap().unwrap();
    assert_eq!(stored.status, AuthorizationStatus::Valid);
    assert_eq!(stored.challenges[0].status, ChallengeStatus::Valid);
    assert_eq!(stored.challenges[2].status, ChallengeStatus::Invalid);
    // Finished challenges stay finished.
    store
        .finish_validation(&result(0, Err(problem())))
        .await
        .unwrap();
    let again = store.authorization(&authz.id).await.unwrap().unwrap();
    assert_eq!(again, stored);
}

/// A result without a claim (its validation finished before it claimed the challenge) is the
/// claim: it applies once, only while the challenge and its authorization are `pending`.
pub(crate) async fn finish_validation_without_claim_applies_only_while_pending(store: &dyn Store) {
    let (_, _, authz) = one_order(store).await;
    let unclaimed = |i: usize, outcome| result_for(&authz, i, None, outcome);
    // A challenge claimed by another validation waits for that one's result.
    assert!(
        store
            .start_validation(&authz.challenges[1].id, FINALIZE_LEASE)
            .await
            .unwrap()
    );
    assert!(
        !store
            .finish_validation(&unclaimed(1, Ok(T0)))
            .await
            .unwrap()
    );
    // The wrong authorization changes nothing.
    let mut wrong = unclaimed(0, Ok(T0));
    wrong.authorization_id = "other".to_owned();
    assert!(!store.finish_validation(&wrong).await.unwrap());
    let stored = store.authorization(&authz.id).await.unwrap().unwrap();
    assert_eq!(stored.challenges[0].status, ChallengeStatus::Pending);
    // Of concurrent results exactly one applies.
    let racers: Vec<ValidationResult> = (0..RACERS).map(|_| unclaimed(0, Ok(T0))).collect();
    let results = join_all(
        racers
            .iter()
            .map(|result| store.finish_validation(result))
            .collect(),
    )
    .await;
    let applied = results
        .into_iter()
        .map(Result::unwrap)
        .filter(|a| *a)
        .count();
    assert_eq!(applied, 1);
    let stored = store.authorization(&authz.id).await.unwrap().unwrap();
    assert_eq!(stored.status, AuthorizationStatus::Valid);
    let c = &stored.challenges[0];
    assert_eq!(
        (c.status, c.validated, c.record.clone(), c.lease_until),
        (
            ChallengeStatus::Valid,
            Some(T0),
            Some(json!({"challenge": 0})),
            None
        )
    );
    // Once the authorization is valid, another pending challenge's result is ignored.
    assert!(
        !store
            .finish_validation(&unclaimed(2, Err(problem())))
            .await
            .unwrap()
    );
    let again = store.authorization(&authz.id).await.unwrap().unwrap();
    assert_eq!(again.challenges[2].status, ChallengeStatus::Pending);
    assert_eq!(again, stored);
}

/// The reaper hands expired leases back to pending; a dead validator's late result is ignored.
pub(crate) async fn reaper_resets_expired_leases(store: &dyn Store) {
    let (_, _, authz) = one_order(store).await;
    let ch = &authz.challenges[0].id;
    let lease = T0 + Duration::seconds(60);
    assert!(store.start_validation(ch, lease).await.unwrap());
    assert!(
        store
            .start_validation(&authz.challenges[1].id, T0 + Duration::hours(1))
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .reap_stale_validations(T0 + Duration::seconds(30))
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.reap_stale_validations(lease).await.unwrap(), 0);
    assert_eq!(
        store
            .reap_stale_validations(lease + Duration::seconds(1))
            .await
            .unwrap(),
        1
    );
    let stored = store.authorization(&authz.id).await.unwrap().unwrap();
    assert_eq!(stored.challenges[0].status, ChallengeStatus::Pending);
    assert_eq!(stored.challenges[0].lease_until, None);
    assert_eq!(stored.challenges[1].status, ChallengeStatus::Processing);

    let late = ValidationResult {
        challenge_id: ch.clone(),
        authorization_id: authz.id.clone(),
        lease_until: Some(lease),
        outcome: Ok(T0),
        record: json!({}),
        domain_validation: None,
    };
    assert!(!store.finish_validation(&late).await.unwrap());
    let stored = store.authorization(&authz.id).await.unwrap().unwrap();
    assert_eq!(stored.status, AuthorizationStatus::Pending);
    assert_eq!(stored.challenges[0].status, ChallengeStatus::Pending);
    // It can be started again; the first claim's late result still changes nothing, the new
    // claim's result applies.
    let second = lease + Duration::minutes(5);
    assert!(store.start_validation(ch, second).await.unwrap());
    store.finish_validation(&late).await.unwrap();
    let stored = store.authorization(&authz.id).await.unwrap().unwrap();
    assert_eq!(stored.challenges[0].status, ChallengeStatus::Processing);
    assert_eq!(stored.challenges[0].lease_until, Some(second));
    store
        .finish_validation(&ValidationResult {
            lease_until: Some(second),
            ..late
        })
        .await
        .unwrap();
    let stored = store.authorization(&authz.id).await.unwrap().unwrap();
    assert_eq!(stored.challenges[0].status, ChallengeStatus::Valid);
    assert_eq!(stored.status, AuthorizationStatus::Valid);
}

// ---------------------------------------------------------------- finalize and certificates

/// `begin_finalize` lets exactly one caller through, sequentially and concurrently.
pub(crate) async fn begin_finalize_is_compare_and_set(store: &dyn Store) {
    let (_, ord, _) = one_order(store).await;
    assert!(begin_finalize(store, &ord.id).await);
    assert!(!begin_finalize(store, &ord.id).await);
    assert_eq!(
        store.order(&ord.id).await.unwrap().unwrap().status,
        OrderStatus::Processing
    );
    assert!(!begin_finalize(store, "missing").await);

    let authz = authorization("a2", "acct", "race.example.org");
    store
        .insert_order(&order("o2", "acct", &[&authz]), &[authz])
        .await
        .unwrap();
    assert!(
        !store
            .begin_finalize("o2", T0, FINALIZE_LEASE)
            .await
            .unwrap(),
        "its authorization is pending"
    );
    store
        .set_authorization_status(
            "a2",
            AuthorizationStatus::Pending,
            AuthorizationStatus::Valid,
        )
        .await
        .unwrap();
    let results = join_all(
        (0..RACERS)
            .map(|_| store.begin_finalize("o2", T0, FINALIZE_LEASE))
            .collect(),
    )
    .await;
    let won = results
        .into_iter()
        .map(Result::unwrap)
        .filter(|w| *w)
        .count();
    assert_eq!(won, 1);
}

/// `begin_finalize` checks readiness in its own statement: every authorization valid and
/// unexpired, the order unexpired.
pub(crate) async fn begin_finalize_requires_a_ready_order(store: &dyn Store) {
    let (_, ord, authz) = one_order(store).await;
    // Pending authorization: not ready.
    assert!(
        !store
            .begin_finalize(&ord.id, T0, FINALIZE_LEASE)
            .await
            .unwrap()
    );
    // Deactivated: not ready.
    store
        .set_authorization_status(
            &authz.id,
            AuthorizationStatus::Pending,
            AuthorizationStatus::Deactivated,
        )
        .await
        .unwrap();
    assert!(
        !store
            .begin_finalize(&ord.id, T0, FINALIZE_LEASE)
            .await
            .unwrap()
    );

    // Valid, but past the authorization's expiry (7 days) or the order's.
    let a2 = authorization("a2", "acct", "two.example.org");
    store
        .insert_order(&order("o2", "acct", &[&a2]), &[a2])
        .await
        .unwrap();
    store
        .set_authorization_status(
            "a2",
            AuthorizationStatus::Pending,
            AuthorizationStatus::Valid,
        )
        .await
        .unwrap();
    assert!(
        !store
            .begin_finalize("o2", T0 + Duration::days(8), FINALIZE_LEASE)
            .await
            .unwrap()
    );
    assert_eq!(
        store.order("o2").await.unwrap().unwrap().status,
        OrderStatus::Pending
    );
    assert!(
        store
            .begin_finalize("o2", T0, FINALIZE_LEASE)
            .await
            .unwrap()
    );
}

/// `complete_order` stores the certificate and makes the order valid with its serial.
pub(crate) async fn complete_order_stores_certificate(store: &dyn Store) {
    let ord = processing_order(store).await;
    let cert = certificate("0a1b2c", &ord, T0 + Duration::days(90));
    store
        .complete_order(&ord.id, &cert, FINALIZE_LEASE, &[])
        .await
        .unwrap();
    let stored = store.order(&ord.id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Valid);
    assert_eq!(stored.certificate_serial.as_deref(), Some("0a1b2c"));
    assert_eq!(
        store.certificate("0a1b2c").await.unwrap(),
        Some(cert.clone())
    );
    assert_eq!(store.certificate("ffff").await.unwrap(), None);
    // Once valid, the order cannot be completed again.
    let again = certificate("0d0e0f", &ord, T0 + Duration::days(90));
    assert!(
        store
            .complete_order(&ord.id, &again, FINALIZE_LEASE, &[])
            .await
            .is_err()
    );
    assert_eq!(store.certificate("0d0e0f").await.unwrap(), None);
    assert_eq!(
        store
            .order(&ord.id)
            .await
            .unwrap()
            .unwrap()
            .certificate_serial
            .as_deref(),
        Some("0a1b2c")
    );
}

/// `complete_order` on an order that is not processing, or with a taken serial, writes nothing.
pub(crate) async fn complete_order_requires_processing_and_unique_serial(store: &dyn Store) {
    let (_, ord, _) = one_order(store).await;
    let cert = certificate("01", &ord, T0 + Duration::days(90));
    assert!(
        store
            .complete_order(&ord.id, &cert, FINALIZE_LEASE, &[])
            .await
            .is_err()
    );
    assert_eq!(store.certificate("01").await.unwrap(), None);
    assert_eq!(
        store.order(&ord.id).await.unwrap().unwrap().status,
        OrderStatus::Pending
    );

    assert!(begin_finalize(store, &ord.id).await);
    store
        .complete_order(&ord.id, &cert, FINALIZE_LEASE, &[])
        .await
        .unwrap();
    let authz = authorization("a2", "acct", "two.example.org");
    let second = order("o2", "acct", &[&authz]);
    store.insert_order(&second, &[authz]).await.unwrap();
    assert!(begin_finalize(store, "o2").await);
    let err = store
        .complete_order(
            "o2",
            &certificate("01", &second, T0 + Duration::days(90)),
            FINALIZE_LEASE,
            &[],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let stored = store.order("o2").await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.certificate_serial),
        (OrderStatus::Processing, None)
    );
    assert_eq!(
        store.certificate("01").await.unwrap().unwrap().order_id,
        ord.id
    );
}

/// `fail_finalize` makes an order invalid with the error only while it is processing under
/// the given lease: a pending order, another finalize's order and final orders stay.
pub(crate) async fn fail_finalize_needs_the_lease(store: &dyn Store) {
    let (_, ord, _) = one_order(store).await;
    let err = Problem::new(ProblemType::BadCsr, "CSR names do not match the order");
    store
        .fail_finalize(&ord.id, FINALIZE_LEASE, &err)
        .await
        .unwrap();
    assert_eq!(
        store.order(&ord.id).await.unwrap().unwrap().status,
        OrderStatus::Pending
    );
    assert!(begin_finalize(store, &ord.id).await);
    let other = FINALIZE_LEASE + Duration::seconds(1);
    store.fail_finalize(&ord.id, other, &err).await.unwrap();
    assert_eq!(
        store.order(&ord.id).await.unwrap().unwrap().status,
        OrderStatus::Processing
    );
    store
        .fail_finalize(&ord.id, FINALIZE_LEASE, &err)
        .await
        .unwrap();
    let stored = store.order(&ord.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.error),
        (OrderStatus::Invalid, Some(err.clone()))
    );
    // Invalid is final: not finalizable, not re-failed.
    assert!(!begin_finalize(store, &ord.id).await);
    store
        .fail_finalize(&ord.id, FINALIZE_LEASE, &problem())
        .await
        .unwrap();
    assert_eq!(
        store.order(&ord.id).await.unwrap().unwrap().error,
        Some(err.clone())
    );

    let authz = authorization("a3", "acct", "three.example.org");
    let o3 = order("o3", "acct", &[&authz]);
    store.insert_order(&o3, &[authz]).await.unwrap();
    assert!(begin_finalize(store, "o3").await);
    store
        .complete_order(
            "o3",
            &certificate("03", &o3, T0 + Duration::days(1)),
            FINALIZE_LEASE,
            &[],
        )
        .await
        .unwrap();
    store
        .fail_finalize("o3", FINALIZE_LEASE, &err)
        .await
        .unwrap();
    assert_eq!(
        store.order("o3").await.unwrap().unwrap().status,
        OrderStatus::Valid
    );
}

/// An order whose finalize lease expired (its instance died) goes back to `pending`; the dead
/// finalize can no longer record its certificate, a new finalize can. Valid orders and live
/// leases are left alone.
pub(crate) async fn stale_finalizations_are_handed_back(store: &dyn Store) {
    let ord = processing_order(store).await;
    assert_eq!(
        store
            .reap_stale_finalizations(FINALIZE_LEASE)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store.order(&ord.id).await.unwrap().unwrap().status,
        OrderStatus::Processing
    );
    let after = FINALIZE_LEASE + Duration::seconds(1);
    assert_eq!(store.reap_stale_finalizations(after).await.unwrap(), 1);
    assert_eq!(
        store.order(&ord.id).await.unwrap().unwrap().status,
        OrderStatus::Pending
    );
    let late = certificate("0d", &ord, T0 + Duration::days(1));
    assert!(matches!(
        store
            .complete_order(&ord.id, &late, FINALIZE_LEASE, &[])
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store.certificate("0d").await.unwrap().is_none());

    let second = after + Duration::minutes(2);
    assert!(store.begin_finalize(&ord.id, T0, second).await.unwrap());
    assert!(matches!(
        store
            .complete_order(&ord.id, &late, FINALIZE_LEASE, &[])
            .await,
        Err(StoreError::Conflict(_))
    ));
    let cert = certificate("0e", &ord, T0 + Duration::days(1));
    store
        .complete_order(&ord.id, &cert, second, &[])
        .await
        .unwrap();
    assert_eq!(
        store
            .reap_stale_finalizations(second + Duration::hours(1))
            .await
            .unwrap(),
        0
    );
    let stored = store.order(&ord.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.certificate_serial.as_deref()),
        (OrderStatus::Valid, Some("0e"))
    );
}

/// Revocation is a compare-and-set: the first reason and time stick.
pub(crate) async fn revocation_is_compare_and_set(store: &dyn Store) {
    let ord = processing_order(store).await;
    store
        .complete_order(
            &ord.id,
            &certificate("aa", &ord, T0 + Duration::days(90)),
            FINALIZE_LEASE,
            &[],
        )
        .await
        .unwrap();
    let at = T0 + Duration::hours(1);
    assert!(store.revoke_certificate("aa", at, 1).await.unwrap());
    assert!(
        !store
            .revoke_certificate("aa", at + Duration::hours(1), 4)
            .await
            .unwrap()
    );
    assert_eq!(
        store.certificate("aa").await.unwrap().unwrap().revoked,
        Some((at, 1))
    );
    assert!(!store.revoke_certificate("missing", at, 1).await.unwrap());

    let results = join_all(
        (0..RACERS)
            .map(|i| store.revoke_certificate("aa", at, i as u8))
            .collect(),
    )
    .await;
    assert!(results.into_iter().all(|r| !r.unwrap()));
}

/// The shared CRL's lease is one holder's at a time (of concurrent takers exactly one gets
/// it), until it stores its CRL or the lease runs out; a CRL is stored only by the lease's
/// holder; every revocation, and only a revocation that happened, bumps the generation.
pub(crate) async fn the_crl_lease_has_one_holder(store: &dyn Store) {
    let scope = shard0();
    // Another CRL (shard 3, and the unsharded one) has a lease and a generation of its own.
    let elsewhere = CrlScope::shard(ISSUER, 3);
    assert_eq!(
        store
            .take_crl_lease(&elsewhere, "elsewhere", T0, LEASE)
            .await
            .unwrap(),
        Some(0)
    );
    assert_eq!(
        store
            .take_crl_lease(&CrlScope::Unsharded, "elsewhere", T0, LEASE)
            .await
            .unwrap(),
        Some(0)
    );
    let empty = store.shared_crl(&scope).await.unwrap();
    assert_eq!(
        empty,
        SharedCrl {
            generation: 0,
            stored: None
        }
    );
    let holders: Vec<String> = (0..RACERS).map(|i| format!("instance-{i}")).collect();
    let taken = join_all(
        holders
            .iter()
            .map(|h| store.take_crl_lease(&scope, h, T0, LEASE))
            .collect(),
    )
    .await;
    let winners: Vec<usize> = (0..RACERS)
        .filter(|i| taken[*i].as_ref().unwrap().is_some())
        .collect();
    assert_eq!(winners.len(), 1, "{taken:?}");
    let (winner, other) = (&holders[winners[0]], &holders[(winners[0] + 1) % RACERS]);
    assert_eq!(
        store
            .take_crl_lease(&scope, winner, T0, LEASE)
            .await
            .unwrap(),
        Some(0)
    );
    assert_eq!(
        store
            .take_crl_lease(&scope, other, T0, LEASE)
            .await
            .unwrap(),
        None
    );

    let crl = |der: u8, generation: u64| StoredCrl {
        der: vec![der; 3],
        signed_at: T0,
        generation,
    };
    assert!(!store.store_crl(&scope, other, &crl(1, 0)).await.unwrap());
    assert!(store.store_crl(&scope, winner, &crl(2, 0)).await.unwrap());
    assert_eq!(
        store.shared_crl(&scope).await.unwrap().stored,
        Some(crl(2, 0))
    );
    // Stored: the lease is free again, and storing again without it does nothing.
    assert!(!store.store_crl(&scope, winner, &crl(3, 0)).await.unwrap());
    assert_eq!(
        store
            .take_crl_lease(&scope, other, T0, LEASE)
            .await
            .unwrap(),
        Some(0)
    );
    // A lease that ran out (its holder died while signing) is taken over.
    assert_eq!(
        store
            .take_crl_lease(&scope, winner, T0, LEASE)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .take_crl_lease(&scope, winner, LEASE, LEASE + Duration::minutes(1))
            .await
            .unwrap(),
        Some(0)
    );
    assert!(!store.store_crl(&scope, other, &crl(4, 0)).await.unwrap());

    let ord = processing_order(store).await;
    store
        .complete_order(
            &ord.id,
            &certificate("cc", &ord, T0 + Duration::days(90)),
            FINALIZE_LEASE,
            &[],
        )
        .await
        .unwrap();
    assert!(store.revoke_certificate("cc", T0, 1).await.unwrap());
    assert!(!store.revoke_certificate("cc", T0, 1).await.unwrap());
    assert!(!store.revoke_certificate("missing", T0, 1).await.unwrap());
    let shared = store.shared_crl(&scope).await.unwrap();
    assert_eq!(shared.generation, 1);
    assert_eq!(
        shared.stored,
        Some(crl(2, 0)),
        "the stored CRL is kept, out of date"
    );
    assert_eq!(
        store
            .take_crl_lease(&scope, winner, LEASE, LEASE + Duration::minutes(1))
            .await
            .unwrap(),
        Some(1)
    );
    assert!(store.store_crl(&scope, winner, &crl(5, 1)).await.unwrap());
    let shared = store.shared_crl(&scope).await.unwrap();
    assert_eq!(shared.stored, Some(crl(5, 1)));
    assert_eq!(shared.generation, 1);
    // The revocation was in shard 0 only; the shards the database knows are listed.
    assert_eq!(store.crl_generation(&elsewhere).await.unwrap(), 0);
    assert_eq!(store.crl_generation(&CrlScope::Unsharded).await.unwrap(), 0);
    let statuses = store.crl_statuses(ISSUER).await.unwrap();
    let scopes: Vec<&CrlScope> = statuses.iter().map(|(scope, _)| scope).collect();
    assert_eq!(
        scopes,
        [&CrlScope::Unsharded, &scope, &elsewhere],
        "the unsharded CRL, then shards 0 and 3"
    );
    assert_eq!(
        statuses[1].1,
        store.shared_crl(&scope).await.unwrap().status()
    );
    assert_eq!(
        statuses[1].1.stored,
        Some((T0, 1)),
        "metadata of the stored CRL, not its DER"
    );
    let others = store.crl_statuses("00000000000000bb").await.unwrap();
    assert_eq!(
        others.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>(),
        [CrlScope::Unsharded],
        "no shard of another issuer"
    );
    assert!(
        store
            .store_crl(&elsewhere, "elsewhere", &crl(6, 0))
            .await
            .unwrap()
    );
    assert_eq!(
        store.shared_crl(&scope).await.unwrap().stored,
        Some(crl(5, 1))
    );
}

/// Each CRL lists the revoked certificates of its own scope until (and including) their
/// notAfter; a certificate reads back with its scope and precertificate.
pub(crate) async fn revoked_certificates_for_crl(store: &dyn Store) {
    store.insert_account(&account("acct")).await.unwrap();
    let mut serials = Vec::new();
    for (i, not_after) in [
        T0 - Duration::seconds(1),
        T0,
        T0 + Duration::days(1),
        T0 + Duration::days(2),
    ]
    .into_iter()
    .enumerate()
    {
        let authz = authorization(&format!("a{i}"), "acct", "example.org");
        let ord = order(&format!("o{i}"), "acct", &[&authz]);
        store.insert_order(&ord, &[authz]).await.unwrap();
        assert!(begin_finalize(store, &ord.id).await);
        let serial = format!("0{i}");
        store
            .complete_order(
                &ord.id,
                &certificate(&serial, &ord, not_after),
                FINALIZE_LEASE,
                &[],
            )
            .await
            .unwrap();
        serials.push(serial);
    }
    // Two more in other CRLs: shard 1 of the issuer, and the unsharded CRL.
    for (serial, scope) in [
        ("10", CrlScope::shard(ISSUER, 1)),
        ("11", CrlScope::Unsharded),
    ] {
        let authz = authorization(&format!("a{serial}"), "acct", "example.org");
        let ord = order(&format!("o{serial}"), "acct", &[&authz]);
        store.insert_order(&ord, &[authz]).await.unwrap();
        assert!(begin_finalize(store, &ord.id).await);
        let mut cert = certificate(serial, &ord, T0 + Duration::days(1));
        cert.crl = scope.clone();
        // A certificate logged in CT keeps its precertificate.
        cert.precertificate = Some(vec![0x30, 0x03, 0x02, 0x01, serial.len() as u8]);
        store
            .complete_order(&ord.id, &cert, FINALIZE_LEASE, &[])
            .await
            .unwrap();
        assert_eq!(store.certificate(serial).await.unwrap().unwrap(), cert);
        assert!(store.revoke_certificate(serial, T0, 5).await.unwrap());
        assert_eq!(
            store.revoked_certificates(&scope, T0).await.unwrap(),
            [(serial.to_owned(), T0, 5)]
        );
        assert_eq!(store.crl_generation(&scope).await.unwrap(), 1);
    }
    let scope = shard0();
    assert!(
        store
            .revoked_certificates(&scope, T0)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.crl_generation(&scope).await.unwrap(), 0);
    let r = |h| T0 - Duration::hours(h);
    // Revoked: expired one, one expiring now, one valid; the last stays unrevoked.
    assert!(store.revoke_certificate("00", r(3), 1).await.unwrap());
    assert!(store.revoke_certificate("02", r(2), 4).await.unwrap());
    assert!(store.revoke_certificate("01", r(1), 0).await.unwrap());
    assert_eq!(store.crl_generation(&scope).await.unwrap(), 3);
    let mut list = store.revoked_certificates(&scope, T0).await.unwrap();
    list.sort();
    assert_eq!(
        list,
        vec![("01".to_owned(), r(1), 0), ("02".to_owned(), r(2), 4)]
    );
    let later = store
        .revoked_certificates(&scope, T0 + Duration::days(1) + Duration::seconds(1))
        .await
        .unwrap();
    assert!(later.is_empty());
}

/// Changes append audit entries in their own transaction (a change that fails appends
/// none), with what an auditor asks about; sealing, by concurrent sealers in small batches,
/// puts every entry once in a hash chain that verifies, and later entries continue it.
pub(crate) async fn the_audit_log_follows_changes_and_seals_a_chain(store: &dyn Store) {
    use ferrite_core::audit::{self, ChainHead};
    let ord = processing_order(store).await;
    // Not under the finalize's lease: refused, and nothing of it is in the audit log.
    assert!(
        store
            .complete_order(
                &ord.id,
                &certificate("dd", &ord, T0 + Duration::days(90)),
                T0,
                &[]
            )
            .await
            .is_err()
    );
    store
        .complete_order(
            &ord.id,
            &certificate("cc", &ord, T0 + Duration::days(90)),
            FINALIZE_LEASE,
            &[],
        )
        .await
        .unwrap();
    assert!(store.revoke_certificate("cc", T0, 4).await.unwrap());
    assert!(!store.revoke_certificate("cc", T0, 4).await.unwrap());
    store
        .append_audit(T0, "operator_command", "cert revoke", "{\"argv\":[]}")
        .await
        .unwrap();
    let entries = store
        .audit_entries(OffsetDateTime::UNIX_EPOCH, 0, 100)
        .await
        .unwrap();
    let events: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.event.as_str(), e.subject.as_str()))
        .collect();
    assert_eq!(
        events,
        [
            // The suite's account was bound with an EAB MAC key.
            ("account_bound", "acct"),
            ("certificate_issued", "cc"),
            ("certificate_revoked", "cc"),
            ("operator_command", "cert revoke"),
        ]
    );
    let issued: serde_json::Value = serde_json::from_str(&entries[1].details).unwrap();
    assert_eq!(
        issued["names"],
        serde_json::json!(["example.org"]),
        "{issued}"
    );
    assert_eq!(issued["account"], "acct", "{issued}");
    assert_eq!(issued["issuer"], ISSUER, "{issued}");
    let revoked: serde_json::Value = serde_json::from_str(&entries[2].details).unwrap();
    assert_eq!(revoked["reason"], 4, "{revoked}");
    assert_eq!(entries[3].at, T0);
    assert!(entries.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(entries.iter().all(|e| e.sealed.is_none()));
    assert_eq!(store.audit_unsealed().await.unwrap(), 4);

    let sealed: u64 = join_all((0..RACERS).map(|_| store.seal_audit_log(1)).collect())
        .await
        .into_iter()
        .map(Result::unwrap)
        .sum();
    assert_eq!(sealed, 4, "each entry sealed once");
    assert_eq!(store.seal_audit_log(10).await.unwrap(), 0);
    assert_eq!(store.audit_unsealed().await.unwrap(), 0);
    let chain = store.audit_chain(0, 100).await.unwrap();
    let mut head = ChainHead::start();
    audit::verify(&mut head, &chain).unwrap();
    assert_eq!((head.entries, head.chain), (4, 4));
    let in_order: Vec<i64> = chain.iter().map(|e| e.seq).collect();
    assert_eq!(in_order, entries.iter().map(|e| e.seq).collect::<Vec<_>>());

    // Later entries continue the chain from its head, read a page at a time.
    store
        .append_audit(T0, "operator_command", "key block", "{}")
        .await
        .unwrap();
    assert_eq!(store.seal_audit_log(10).await.unwrap(), 1);
    let rest = store.audit_chain(head.chain, 100).await.unwrap();
    assert_eq!(rest.len(), 1);
    audit::verify(&mut head, &rest).unwrap();
    assert_eq!(head.chain, 5);
    let first_two = store.audit_chain(0, 2).await.unwrap();
    assert_eq!(first_two.len(), 2);
    let since = store.audit_entries(T0, 0, 100).await.unwrap();
    assert!(since.iter().all(|e| e.at >= T0));
}

/// CRL numbers strictly increase, and concurrent callers never get the same one.
pub(crate) async fn crl_numbers_are_monotonic(store: &dyn Store) {
    let first = store.next_crl_number().await.unwrap();
    let second = store.next_crl_number().await.unwrap();
    assert!(first >= 1 && second > first, "{first} then {second}");
    let mut numbers: Vec<u64> = join_all((0..RACERS).map(|_| store.next_crl_number()).collect())
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), RACERS);
    assert!(numbers[0] > second);
}
