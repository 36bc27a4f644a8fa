//! Conformance for the customer portal's tables: sessions found by token hash until they
//! expire, deleted on sign-out and purged by age; and the activity its charts draw
//! (certificates per day by notBefore, failed challenges by problem type), per customer.

use ferrite_core::Store;
use ferrite_core::StoreError;
use ferrite_core::model::{PortalSession, Scope, ValidationResult};
use serde_json::json;
use time::Duration;

use super::eab::{credential, customer};
use super::revocation::fleet;
use super::{LEASE, T0, authorization, order, problem, start_and_finish};

fn session(hash: &str, expires: time::OffsetDateTime) -> PortalSession {
    session_of(hash, "cred", expires)
}

fn session_of(hash: &str, credential: &str, expires: time::OffsetDateTime) -> PortalSession {
    PortalSession {
        token_hash: hash.to_owned(),
        credential_id: credential.to_owned(),
        csrf_token: format!("csrf-{hash}"),
        created_at: T0,
        expires_at: expires,
    }
}

pub(crate) async fn portal_sessions_expire_end_and_are_purged(store: &dyn Store) {
    let a = session("aa", T0 + Duration::hours(8));
    let b = session("bb", T0 + Duration::hours(1));
    store.insert_portal_session(&a).await.unwrap();
    store.insert_portal_session(&b).await.unwrap();
    assert!(matches!(
        store.insert_portal_session(&a).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.portal_session("aa", T0).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(store.portal_session("zz", T0).await.unwrap(), None);
    // Not found from its expiry on, whether or not it was purged yet.
    let later = T0 + Duration::hours(1);
    assert_eq!(store.portal_session("bb", later).await.unwrap(), None);
    assert_eq!(store.purge_portal_sessions(later).await.unwrap(), 1);
    assert_eq!(store.purge_portal_sessions(later).await.unwrap(), 0);
    // Signing out deletes it at once.
    assert!(store.delete_portal_session("aa").await.unwrap());
    assert!(!store.delete_portal_session("aa").await.unwrap());
    assert_eq!(store.portal_session("aa", T0).await.unwrap(), None);

    // Ended together: a customer's (through its credentials), or one credential's.
    store.insert_customer(&customer("c1")).await.unwrap();
    store
        .insert_credential(&credential("k1", "c1"))
        .await
        .unwrap();
    store
        .insert_credential(&credential("k2", "c1"))
        .await
        .unwrap();
    let later = T0 + Duration::hours(8);
    for (hash, cred) in [("s1", "k1"), ("s2", "k2"), ("s3", "op"), ("s4", "op")] {
        store
            .insert_portal_session(&session_of(hash, cred, later))
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .end_portal_sessions(&Scope::Customer("c1".into()))
            .await
            .unwrap(),
        2
    );
    assert_eq!(store.portal_session("s1", T0).await.unwrap(), None);
    assert!(store.portal_session("s3", T0).await.unwrap().is_some());
    assert_eq!(
        store
            .end_portal_sessions(&Scope::Credential("op".into()))
            .await
            .unwrap(),
        2
    );
    assert_eq!(store.portal_session("s4", T0).await.unwrap(), None);
}

pub(crate) async fn activity_counts_issuance_per_day_and_failures_by_type(store: &dyn Store) {
    // Customer `cust`'s account `owned` holds certificates with notBefore T0-80d, T0-10d and
    // T0-60d; account `other` (no customer) one with notBefore T0-91d.
    fleet(store).await;
    let day = |t: time::OffsetDateTime| t.unix_timestamp().div_euclid(86_400);
    let since = T0 - Duration::days(70);
    let mine = store.activity(Some("cust"), since).await.unwrap();
    assert_eq!(
        mine.issued_per_day,
        [
            (day(T0 - Duration::days(60)), 1),
            (day(T0 - Duration::days(10)), 1)
        ]
    );
    assert!(mine.failures_by_type.is_empty());
    let everyone = store
        .activity(None, T0 - Duration::days(100))
        .await
        .unwrap();
    assert_eq!(
        everyone.issued_per_day.iter().map(|(_, n)| n).sum::<u64>(),
        4
    );
    assert!(
        store
            .activity(Some("nobody"), since)
            .await
            .unwrap()
            .issued_per_day
            .is_empty()
    );

    // A failed challenge of `owned`, timed by the database's clock when it failed.
    let authz = authorization("authz-failed", "owned", "failed.example");
    let ord = order("o-failed", "owned", &[&authz]);
    store
        .insert_order(&ord, std::slice::from_ref(&authz))
        .await
        .unwrap();
    start_and_finish(
        store,
        ValidationResult {
            challenge_id: authz.challenges[0].id.clone(),
            authorization_id: authz.id.clone(),
            lease_until: Some(LEASE),
            outcome: Err(problem()),
            record: json!({}),
            domain_validation: None,
        },
    )
    .await;
    let now = time::OffsetDateTime::now_utc();
    let failed = store
        .activity(Some("cust"), now - Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        failed.failures_by_type,
        [("urn:ietf:params:acme:error:incorrectResponse".to_owned(), 1)]
    );
    assert!(
        store
            .activity(Some("cust"), now + Duration::hours(1))
            .await
            .unwrap()
            .failures_by_type
            .is_empty()
    );
    assert!(
        store
            .activity(Some("nobody"), now - Duration::hours(1))
            .await
            .unwrap()
            .failures_by_type
            .is_empty()
    );
}
