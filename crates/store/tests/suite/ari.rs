//! Conformance for certificate profiles (draft-ietf-acme-profiles) and renewal information
//! (RFC 9773): an order's profile and `replaces`, one live replacement per certificate,
//! certificates by serial, customer and name, the operator's renewal mark, and a customer's
//! profile limit.

use ferrite_core::ca::ari::CertId;
use ferrite_core::model::{CertificateFilter, Customer, Order, RenewalAdvance};
use ferrite_core::{OrderChecks, OrderInsert, Store};
use ferrite_proto::{AuthorizationStatus, OrderStatus};
use time::Duration;

use super::{
    FINALIZE_LEASE, RACERS, T0, account, authorization, begin_finalize, certificate, join_all,
    order, problem, processing_order,
};

fn cert_id(serial: &str) -> String {
    CertId {
        key_id: vec![0x69, 0x88, 0x5b],
        serial_hex: serial.to_owned(),
    }
    .encode()
}

/// A certificate `0a1b2c` (of [`processing_order`]'s account `acct`, for `example.org`),
/// stored; and its certID.
async fn issued(store: &dyn Store) -> String {
    let ord = processing_order(store).await;
    let cert = certificate("0a1b2c", &ord, T0 + Duration::days(90));
    store
        .complete_order(&ord.id, &cert, FINALIZE_LEASE, &[])
        .await
        .unwrap();
    cert_id("0a1b2c")
}

/// A new order `id` of `acct` for `example.org` replacing `replaces`, with its own
/// authorization.
fn replacing(id: &str, replaces: &str) -> (Order, ferrite_core::model::Authorization) {
    let authz = authorization(&format!("authz-{id}"), "acct", "example.org");
    let mut ord = order(id, "acct", &[&authz]);
    ord.replaces = Some(replaces.to_owned());
    ord.profile = Some("shortlived".to_owned());
    (ord, authz)
}

/// The profile and `replaces` of an order come back as stored, by either read.
pub(crate) async fn order_profile_and_replaces_round_trip(store: &dyn Store) {
    let id = issued(store).await;
    let (ord, authz) = replacing("o2", &id);
    store
        .insert_order(&ord, std::slice::from_ref(&authz))
        .await
        .unwrap();
    assert_eq!(store.order("o2").await.unwrap(), Some(ord.clone()));
    let (read, authzs) = store
        .order_with_authorizations("o2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, ord);
    assert_eq!(authzs, vec![authz]);
    // An order without them reads back without them.
    assert_eq!(store.order("order").await.unwrap().unwrap().profile, None);
    assert_eq!(store.order("order").await.unwrap().unwrap().replaces, None);
}

/// The check of an order replacing a certificate at `now`: no other live replacement.
fn replacing_at(now: time::OffsetDateTime) -> OrderChecks {
    OrderChecks {
        replacement_at: Some(now),
        ..OrderChecks::default()
    }
}

/// RFC 9773 §5: while one order replacing a certificate is live, another is refused and
/// nothing of it is stored; once that order can no longer be finalized (failed, expired, an
/// authorization invalid), another may replace the certificate.
pub(crate) async fn replacing_order_needs_no_live_replacement(store: &dyn Store) {
    let id = issued(store).await;
    let day = Duration::days(1);
    let insert = |ord: Order, authz: ferrite_core::model::Authorization, now| async move {
        store
            .insert_order_checked(&ord, std::slice::from_ref(&authz), replacing_at(now))
            .await
            .unwrap()
            == OrderInsert::Inserted
    };
    // r1 expires at T0 + 7 days (the fixture's order lifetime).
    let (r1, a1) = replacing("r1", &id);
    assert!(insert(r1, a1, T0).await);
    let (mut r2, a2) = replacing("r2", &id);
    r2.expires = T0 + 14 * day;
    assert!(!insert(r2.clone(), a2.clone(), T0).await);
    assert_eq!(store.order("r2").await.unwrap(), None);
    assert_eq!(store.authorization("authz-r2").await.unwrap(), None);
    // An order replacing another certificate is not affected.
    let (other, a_other) = replacing("other", &cert_id("ffee"));
    assert!(insert(other, a_other, T0).await);
    // Once r1 has expired it holds the certificate no more.
    assert!(insert(r2, a2, T0 + 7 * day).await);
    // A deactivated (or invalid) authorization frees it too.
    store
        .set_authorization_status(
            "authz-r2",
            AuthorizationStatus::Pending,
            AuthorizationStatus::Deactivated,
        )
        .await
        .unwrap();
    let (mut r3, a3) = replacing("r3", &id);
    r3.expires = T0 + 21 * day;
    assert!(insert(r3, a3, T0 + 7 * day).await);
    // So does an order the CA failed.
    assert!(begin_finalize(store, "r3").await);
    store
        .fail_finalize("r3", FINALIZE_LEASE, &problem())
        .await
        .unwrap();
    let (mut r4, a4) = replacing("r4", &id);
    r4.expires = T0 + 21 * day;
    assert!(insert(r4.clone(), a4, T0 + 7 * day).await);
    // A valid order holds it for good.
    assert!(begin_finalize(store, "r4").await);
    let cert = certificate("0d0e0f", &r4, T0 + Duration::days(90));
    store
        .complete_order("r4", &cert, FINALIZE_LEASE, &[])
        .await
        .unwrap();
    assert_eq!(
        store.order("r4").await.unwrap().unwrap().status,
        OrderStatus::Valid
    );
    let (r5, a5) = replacing("r5", &id);
    assert!(!insert(r5, a5, T0 + 30 * day).await);
}

/// Of orders racing to replace one certificate, exactly one is stored.
pub(crate) async fn concurrent_replacements_have_one_winner(store: &dyn Store) {
    let id = issued(store).await;
    let orders: Vec<_> = (0..RACERS)
        .map(|i| replacing(&format!("race{i}"), &id))
        .collect();
    let results = join_all(
        orders
            .iter()
            .map(|(ord, authz)| {
                store.insert_order_checked(ord, std::slice::from_ref(authz), replacing_at(T0))
            })
            .collect(),
    )
    .await;
    let won = results
        .into_iter()
        .filter(|r| *r.as_ref().unwrap() == OrderInsert::Inserted)
        .count();
    assert_eq!(won, 1);
}

/// Certificates by serial, by the customer of their account and by DNS name; expired ones
/// are left out, and the limit holds.
pub(crate) async fn certificates_match_serial_customer_and_name(store: &dyn Store) {
    store
        .insert_customer(&Customer {
            id: "cust".into(),
            name: "cust".into(),
            created_at: T0,
            allowed_profiles: None,
            suspension: None,
        })
        .await
        .unwrap();
    let mut owned = account("owned");
    owned.thumbprint = "thumb-owned".into();
    owned.customer_id = Some("cust".into());
    store.insert_account(&owned).await.unwrap();
    let _ = issued(store).await; // 0a1b2c, account acct (no customer), example.org
    // Two more for `owned`: one for www.example.org, one expired.
    for (serial, name, not_after) in [
        ("0b", "www.example.org", T0 + Duration::days(10)),
        ("0c", "example.org", T0 - Duration::seconds(1)),
    ] {
        let authz = authorization(&format!("authz-{serial}"), "owned", name);
        let ord = order(&format!("o-{serial}"), "owned", &[&authz]);
        store
            .insert_order(&ord, std::slice::from_ref(&authz))
            .await
            .unwrap();
        assert!(begin_finalize(store, &ord.id).await);
        store
            .complete_order(
                &ord.id,
                &certificate(serial, &ord, not_after),
                FINALIZE_LEASE,
                &[],
            )
            .await
            .unwrap();
    }
    let serials = |certs: Vec<ferrite_core::model::Certificate>| {
        certs.into_iter().map(|c| c.serial).collect::<Vec<_>>()
    };
    let find = |filter: CertificateFilter, limit| {
        let filter = filter.clone();
        async move {
            store
                .certificates_matching(&filter, T0, limit)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        serials(find(CertificateFilter::Serial("0a1b2c".into()), 10).await),
        ["0a1b2c"]
    );
    assert!(
        find(CertificateFilter::Serial("0c".into()), 10)
            .await
            .is_empty()
    );
    assert_eq!(
        serials(find(CertificateFilter::Customer("cust".into()), 10).await),
        ["0b"]
    );
    assert!(
        find(CertificateFilter::Customer("nobody".into()), 10)
            .await
            .is_empty()
    );
    assert_eq!(
        serials(find(CertificateFilter::Domain("example.org".into()), 10).await),
        ["0a1b2c"]
    );
    assert_eq!(
        serials(find(CertificateFilter::Domain("www.example.org".into()), 10).await),
        ["0b"]
    );
    // A name is matched whole, not as a suffix or pattern.
    assert!(
        find(CertificateFilter::Domain("%example.org".into()), 10)
            .await
            .is_empty()
    );
    assert!(
        find(CertificateFilter::Domain("org".into()), 10)
            .await
            .is_empty()
    );
    // Expired ones count again when `now` is before their notAfter; the limit holds.
    let earlier = store
        .certificates_matching(
            &CertificateFilter::Domain("example.org".into()),
            T0 - Duration::days(2),
            1,
        )
        .await
        .unwrap();
    assert_eq!(earlier.len(), 1);
}

/// The renewal mark is stored with its time and URL, replaces an earlier one, skips unknown
/// serials, and reads back with the certificate.
pub(crate) async fn renewal_advance_marks_certificates(store: &dyn Store) {
    let _ = issued(store).await;
    assert_eq!(
        store
            .certificate("0a1b2c")
            .await
            .unwrap()
            .unwrap()
            .renewal_advanced,
        None
    );
    let at = T0 + Duration::hours(1);
    let marked = store
        .advance_renewal(
            &["0a1b2c".to_owned(), "ffff".to_owned()],
            at,
            Some("https://status.example/incident-7"),
        )
        .await
        .unwrap();
    assert_eq!(marked, 1);
    assert_eq!(
        store
            .certificate("0a1b2c")
            .await
            .unwrap()
            .unwrap()
            .renewal_advanced,
        Some(RenewalAdvance {
            at,
            explanation_url: Some("https://status.example/incident-7".into()),
        })
    );
    let later = at + Duration::hours(1);
    store
        .advance_renewal(&["0a1b2c".to_owned()], later, None)
        .await
        .unwrap();
    assert_eq!(
        store
            .certificate("0a1b2c")
            .await
            .unwrap()
            .unwrap()
            .renewal_advanced,
        Some(RenewalAdvance {
            at: later,
            explanation_url: None,
        })
    );
}

/// A customer's profile limit: stored, replaced, lifted; unknown customers are reported.
pub(crate) async fn customer_profiles_round_trip(store: &dyn Store) {
    store
        .insert_customer(&Customer {
            id: "cust".into(),
            name: "cust".into(),
            created_at: T0,
            allowed_profiles: None,
            suspension: None,
        })
        .await
        .unwrap();
    let names = ["shortlived".to_owned(), "tlsserver".to_owned()];
    assert!(
        store
            .set_customer_profiles("cust", Some(&names))
            .await
            .unwrap()
    );
    let read = store.customer("cust").await.unwrap().unwrap();
    assert_eq!(read.allowed_profiles.as_deref(), Some(&names[..]));
    assert_eq!(store.customer_by_name("cust").await.unwrap().unwrap(), read);
    assert!(
        store
            .set_customer_profiles("cust", Some(&[]))
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .customer("cust")
            .await
            .unwrap()
            .unwrap()
            .allowed_profiles,
        Some(vec![])
    );
    assert!(store.set_customer_profiles("cust", None).await.unwrap());
    assert_eq!(store.customers().await.unwrap()[0].allowed_profiles, None);
    assert!(!store.set_customer_profiles("nobody", None).await.unwrap());
}
