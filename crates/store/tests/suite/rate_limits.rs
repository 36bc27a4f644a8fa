//! Conformance for rate limits: the GCRA step moves a key's time on only within the
//! allowance (also under concurrent spends), past rows are purged, customers' overrides round
//! trip, an account's pending authorizations are counted, and the steps taken with an order's
//! insert or a certificate's record are taken only when the change is stored.

use ferrite_core::model::{Authorization, Customer, Order};
use ferrite_core::rate_limit::Gcra;
use ferrite_core::{OrderChecks, OrderInsert, RateStep, Store};
use ferrite_proto::AuthorizationStatus;
use time::Duration;

use super::{
    FINALIZE_LEASE, T0, account, authorization, certificate, join_all, order, processing_order,
};

/// How many spends race for an allowance of [`ALLOWANCE`].
const SPENDERS: usize = 60;
const ALLOWANCE: u32 = 25;

/// Three per hour: the allowance at once, refused then, one back every 20 minutes, all of it
/// back after the hour; the stored time reads back; purging drops only past rows.
pub(crate) async fn rate_limit_spends_stop_at_the_allowance(store: &dyn Store) {
    let gcra = Gcra::new(3, Duration::hours(1)).unwrap();
    let key = "new_orders_per_account:acct".to_owned();
    assert!(
        store
            .rate_limit_tats(std::slice::from_ref(&key))
            .await
            .unwrap()
            .is_empty()
    );
    for i in 1..=3 {
        assert_eq!(
            store.spend_rate_limit(&key, T0, &gcra).await.unwrap(),
            Ok(T0 + Duration::minutes(20 * i))
        );
    }
    let full = T0 + Duration::hours(1);
    assert_eq!(
        store.spend_rate_limit(&key, T0, &gcra).await.unwrap(),
        Err(full),
        "the fourth at once is refused with the stored time"
    );
    assert_eq!(
        store
            .rate_limit_tats(std::slice::from_ref(&key))
            .await
            .unwrap(),
        vec![(key.clone(), full)]
    );
    // Just before 20 minutes: still refused. At 20 minutes: one more, and only one.
    let early = T0 + Duration::minutes(20) - Duration::microseconds(1);
    assert!(
        store
            .spend_rate_limit(&key, early, &gcra)
            .await
            .unwrap()
            .is_err()
    );
    let later = T0 + Duration::minutes(20);
    assert_eq!(
        store.spend_rate_limit(&key, later, &gcra).await.unwrap(),
        Ok(full + Duration::minutes(20))
    );
    assert!(
        store
            .spend_rate_limit(&key, later, &gcra)
            .await
            .unwrap()
            .is_err()
    );
    // Other keys are counted apart; several are read in one call.
    let other = "new_orders_per_account:other".to_owned();
    assert!(
        store
            .spend_rate_limit(&other, T0, &gcra)
            .await
            .unwrap()
            .is_ok()
    );
    let mut both = store
        .rate_limit_tats(&[key.clone(), other.clone(), "none".to_owned()])
        .await
        .unwrap();
    both.sort();
    assert_eq!(
        both,
        vec![
            (key.clone(), full + Duration::minutes(20)),
            (other.clone(), T0 + Duration::minutes(20)),
        ]
    );
    // After the whole period the whole allowance is back: a past time counts as nothing.
    let much_later = T0 + Duration::hours(3);
    for _ in 0..3 {
        assert!(
            store
                .spend_rate_limit(&other, much_later, &gcra)
                .await
                .unwrap()
                .is_ok()
        );
    }
    assert!(
        store
            .spend_rate_limit(&other, much_later, &gcra)
            .await
            .unwrap()
            .is_err()
    );
    // Purging at T0 + 2h drops `key` (its time is past) and keeps `other`.
    assert_eq!(
        store
            .purge_rate_limits(T0 + Duration::hours(2))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .rate_limit_tats(&[key.clone(), other.clone()])
            .await
            .unwrap(),
        vec![(other, much_later + Duration::hours(1))]
    );
}

/// Of many concurrent spends of one key, exactly the allowance is allowed.
pub(crate) async fn concurrent_rate_limit_spends_allow_exactly_the_allowance(store: &dyn Store) {
    concurrent_rate_limit_spends_over_instances(&[store]).await;
}

/// [`concurrent_rate_limit_spends_allow_exactly_the_allowance`] spread over `stores`, several
/// instances on one database.
pub(crate) async fn concurrent_rate_limit_spends_over_instances(stores: &[&dyn Store]) {
    let gcra = Gcra::new(ALLOWANCE, Duration::hours(3)).unwrap();
    let key = "new_accounts_per_address:192.0.2.1";
    let results = join_all(
        (0..SPENDERS)
            .map(|i| stores[i % stores.len()].spend_rate_limit(key, T0, &gcra))
            .collect(),
    )
    .await;
    let allowed = results
        .into_iter()
        .map(|r| r.unwrap())
        .filter(Result::is_ok)
        .count();
    assert_eq!(allowed, ALLOWANCE as usize);
    assert_eq!(
        stores[0].rate_limit_tats(&[key.to_owned()]).await.unwrap(),
        vec![(key.to_owned(), T0 + gcra.tolerance)]
    );
}

/// A customer's overrides are set, replaced, listed by name and removed; a customer that does
/// not exist gets none.
pub(crate) async fn rate_limit_overrides_round_trip(store: &dyn Store) {
    store
        .insert_customer(&Customer {
            id: "c1".to_owned(),
            name: "acme-corp".to_owned(),
            created_at: T0,
            allowed_profiles: None,
            suspension: None,
        })
        .await
        .unwrap();
    assert!(store.rate_limit_overrides("c1").await.unwrap().is_empty());
    store
        .set_rate_limit_override("c1", "new_orders_per_account", Some(10))
        .await
        .unwrap();
    store
        .set_rate_limit_override("c1", "failed_validations_per_account_and_name", Some(0))
        .await
        .unwrap();
    store
        .set_rate_limit_override("c1", "new_orders_per_account", Some(5000))
        .await
        .unwrap();
    assert_eq!(
        store.rate_limit_overrides("c1").await.unwrap(),
        vec![
            ("failed_validations_per_account_and_name".to_owned(), 0),
            ("new_orders_per_account".to_owned(), 5000),
        ]
    );
    store
        .set_rate_limit_override("c1", "new_orders_per_account", None)
        .await
        .unwrap();
    // Removing what is not there changes nothing.
    store
        .set_rate_limit_override("c1", "new_orders_per_account", None)
        .await
        .unwrap();
    assert_eq!(
        store.rate_limit_overrides("c1").await.unwrap(),
        vec![("failed_validations_per_account_and_name".to_owned(), 0)]
    );
    assert!(
        store
            .set_rate_limit_override("nosuch", "new_orders_per_account", Some(1))
            .await
            .is_err(),
        "an override needs its customer"
    );
    assert!(
        store
            .rate_limit_overrides("nosuch")
            .await
            .unwrap()
            .is_empty()
    );
}

/// Only the account's own pending, unexpired authorizations are counted, with the earliest
/// expiry among them.
pub(crate) async fn pending_authorizations_are_counted(store: &dyn Store) {
    store.insert_account(&account("acct")).await.unwrap();
    store.insert_account(&account("other")).await.unwrap();
    assert_eq!(
        store.pending_authorizations("acct", T0).await.unwrap(),
        (0, None)
    );
    let a1 = authorization("a1", "acct", "one.example");
    let mut a2 = authorization("a2", "acct", "two.example");
    a2.expires = T0 + Duration::days(2);
    let mut expired = authorization("a3", "acct", "three.example");
    expired.expires = T0 - Duration::seconds(1);
    let decided = authorization("a4", "acct", "four.example");
    let foreign = authorization("a5", "other", "five.example");
    store
        .insert_order(&order("o1", "acct", &[&a1, &a2]), &[a1.clone(), a2.clone()])
        .await
        .unwrap();
    store
        .insert_order(
            &order("o2", "acct", &[&expired, &decided]),
            &[expired.clone(), decided.clone()],
        )
        .await
        .unwrap();
    store
        .insert_order(
            &order("o3", "other", &[&foreign]),
            std::slice::from_ref(&foreign),
        )
        .await
        .unwrap();
    assert!(
        store
            .set_authorization_status(
                "a4",
                AuthorizationStatus::Pending,
                AuthorizationStatus::Deactivated
            )
            .await
            .unwrap()
    );
    assert_eq!(
        store.pending_authorizations("acct", T0).await.unwrap(),
        (2, Some(T0 + Duration::days(2)))
    );
    assert_eq!(
        store.pending_authorizations("other", T0).await.unwrap(),
        (1, Some(T0 + Duration::days(7)))
    );
}

/// `OrderChecks::max_pending`: an order whose new pending authorizations would take the
/// account past the cap is refused with the count, storing nothing; of orders racing for the
/// last places (on any number of connections), exactly as many as fit are stored.
pub(crate) async fn orders_stop_at_the_pending_cap_even_when_racing(store: &dyn Store) {
    store.insert_account(&account("acct")).await.unwrap();
    let cap = |max: u64| OrderChecks {
        max_pending: Some((max, T0)),
        ..OrderChecks::default()
    };
    let (o0, a0) = one_name_order(0);
    assert_eq!(
        store
            .insert_order_checked(&o0, std::slice::from_ref(&a0), cap(1))
            .await
            .unwrap(),
        OrderInsert::Inserted
    );
    let (o1, a1) = one_name_order(1);
    assert_eq!(
        store
            .insert_order_checked(&o1, std::slice::from_ref(&a1), cap(1))
            .await
            .unwrap(),
        OrderInsert::TooManyPending {
            pending: 1,
            earliest: Some(a0.expires)
        }
    );
    assert_eq!(store.order("o1").await.unwrap(), None);
    assert_eq!(store.authorization("az1").await.unwrap(), None);

    // 20 orders of one authorization each race for the 4 places left under a cap of 5.
    assert_eq!(race_twenty_orders(store, cap(5)).await, 4);
    assert_eq!(store.pending_authorizations("acct", T0).await.unwrap().0, 5);
}

/// A step of `allowance` per hour for `key` at [`T0`].
fn step(key: &str, allowance: u32) -> RateStep {
    RateStep {
        key: key.to_owned(),
        gcra: Gcra::new(allowance, Duration::hours(1)).unwrap(),
        now: T0,
    }
}

/// `OrderChecks::spend`: an order stored has spent its step; one refused by another check
/// (the pending cap) has not; one whose allowance is used up is refused with the stored time
/// and nothing of it is stored; of orders racing for the allowance, exactly as many are
/// stored as it allows.
pub(crate) async fn orders_spend_their_step_only_when_stored(store: &dyn Store) {
    store.insert_account(&account("acct")).await.unwrap();
    let key = "new_orders_per_account:acct";
    let checks = |max_pending: Option<u64>| OrderChecks {
        max_pending: max_pending.map(|max| (max, T0)),
        spend: Some(step(key, 2)),
        ..OrderChecks::default()
    };
    let insert = |i: usize, checks: OrderChecks| async move {
        let (o, a) = one_name_order(i);
        store
            .insert_order_checked(&o, std::slice::from_ref(&a), checks)
            .await
            .unwrap()
    };
    let tat = || async move { store.rate_limit_tats(&[key.to_owned()]).await.unwrap() };

    assert_eq!(insert(0, checks(None)).await, OrderInsert::Inserted);
    assert_eq!(
        tat().await,
        vec![(key.to_owned(), T0 + Duration::minutes(30))]
    );

    // Refused by the pending cap: the step is not taken.
    assert!(matches!(
        insert(1, checks(Some(1))).await,
        OrderInsert::TooManyPending { .. }
    ));
    assert_eq!(
        tat().await,
        vec![(key.to_owned(), T0 + Duration::minutes(30))]
    );

    assert_eq!(insert(2, checks(None)).await, OrderInsert::Inserted);
    let full = T0 + Duration::hours(1);
    assert_eq!(
        insert(3, checks(None)).await,
        OrderInsert::RateLimited { tat: full }
    );
    assert_eq!(store.order("o3").await.unwrap(), None);
    assert_eq!(store.authorization("az3").await.unwrap(), None);
    assert_eq!(tat().await, vec![(key.to_owned(), full)]);

    // 20 orders race for a fresh allowance of 5 (another key).
    let racing = OrderChecks {
        spend: Some(step("new_orders_per_account:racing", 5)),
        ..OrderChecks::default()
    };
    assert_eq!(race_twenty_orders(store, racing).await, 5);
}

/// Orders `o10`…`o29` of account `acct` (one new authorization each) inserted at once, each
/// with `checks`: how many were stored. Each order is in the store exactly when its insert
/// said `Inserted`.
async fn race_twenty_orders(store: &dyn Store, checks: OrderChecks) -> usize {
    let racers: Vec<_> = (10..30).map(one_name_order).collect();
    let results = join_all(
        racers
            .iter()
            .map(|(o, a)| store.insert_order_checked(o, std::slice::from_ref(a), checks.clone()))
            .collect(),
    )
    .await;
    for ((o, _), r) in racers.iter().zip(&results) {
        let inserted = *r.as_ref().unwrap() == OrderInsert::Inserted;
        assert_eq!(
            store.order(&o.id).await.unwrap().is_some(),
            inserted,
            "{results:?}"
        );
    }
    results
        .iter()
        .filter(|r| *r.as_ref().unwrap() == OrderInsert::Inserted)
        .count()
}

/// `complete_order`'s counts: taken with the certificate, each only if its allowance has
/// room (a full one stays full and does not fail the completion), and none when the
/// completion is refused.
pub(crate) async fn complete_order_counts_only_what_it_records(store: &dyn Store) {
    let ord = processing_order(store).await;
    let domain = "certificates_per_registered_domain:customer:c1:example.org";
    let duplicate = "duplicate_certificates:customer:c1:example.org";
    // The duplicate allowance (one per hour) is used up already.
    let full = step(duplicate, 1);
    assert!(
        store
            .spend_rate_limit(duplicate, T0, &full.gcra)
            .await
            .unwrap()
            .is_ok()
    );
    let counts = [step(domain, 50), full];
    let keys = &[domain.to_owned(), duplicate.to_owned()];
    let tats = || async move {
        let mut tats = store.rate_limit_tats(keys).await.unwrap();
        tats.sort();
        tats
    };
    let before = tats().await;
    assert_eq!(
        before,
        vec![(duplicate.to_owned(), T0 + Duration::hours(1))]
    );

    // Not under the finalize's lease: refused, nothing counted.
    let cert = certificate("0c", &ord, T0 + Duration::days(90));
    assert!(
        store
            .complete_order(&ord.id, &cert, T0, &counts)
            .await
            .is_err()
    );
    assert_eq!(tats().await, before);

    store
        .complete_order(&ord.id, &cert, FINALIZE_LEASE, &counts)
        .await
        .unwrap();
    assert_eq!(store.certificate("0c").await.unwrap(), Some(cert));
    let mut counted = before;
    counted.push((domain.to_owned(), T0 + Duration::hours(1) / 50));
    counted.sort();
    assert_eq!(tats().await, counted);
}

/// Order `o{i}` of account `acct` for `n{i}.example`, with its one new authorization `az{i}`.
fn one_name_order(i: usize) -> (Order, Authorization) {
    let authz = authorization(&format!("az{i}"), "acct", &format!("n{i}.example"));
    (order(&format!("o{i}"), "acct", &[&authz]), authz)
}
