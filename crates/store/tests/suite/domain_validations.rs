//! Conformance for domain validations (BR §4.2.1 reuse): written only together with a
//! successful, applied validation result; found again per owner (customer, or account without
//! one), per name, by age; given up when their authorization is deactivated; listed per scope.

use ferrite_core::Store;
use ferrite_core::model::{
    Account, Authorization, Customer, DomainValidation, DomainValidationQuery, Scope,
    ValidationOwner, ValidationResult,
};
use ferrite_proto::{AuthorizationStatus, ChallengeType};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::{LEASE, T0, account, authorization, order, problem, start_and_finish};

fn customer(id: &str) -> Customer {
    Customer {
        id: id.to_owned(),
        name: format!("name-{id}"),
        created_at: T0,
        allowed_profiles: None,
        suspension: None,
    }
}

fn customer_account(id: &str, customer_id: Option<&str>) -> Account {
    let mut a = account(id);
    a.customer_id = customer_id.map(str::to_owned);
    a
}

/// An order of `account_id` for `name` (its authorization id is `authz_id`), stored.
async fn pending_authz(
    store: &dyn Store,
    authz_id: &str,
    account_id: &str,
    name: &str,
) -> Authorization {
    let authz = authorization(authz_id, account_id, name);
    let ord = order(&format!("order-{authz_id}"), account_id, &[&authz]);
    store
        .insert_order(&ord, std::slice::from_ref(&authz))
        .await
        .unwrap();
    authz
}

fn validation(
    id: &str,
    account: &Account,
    authz: &Authorization,
    method: ChallengeType,
    at: OffsetDateTime,
) -> DomainValidation {
    DomainValidation {
        id: id.to_owned(),
        customer_id: account.customer_id.clone(),
        account_id: account.id.clone(),
        domain: authz.identifier.value.clone(),
        wildcard: authz.wildcard,
        method,
        validated_at: at,
        reuse_until: at + Duration::days(200),
        authorization_id: authz.id.clone(),
        record: json!({"method": method.as_str(), "addresses_resolved": ["192.0.2.1"],
                       "dns_answers": ["txt-value"]}),
    }
}

/// Runs `method`'s challenge of `authz` to success with `v` attached.
async fn succeed(store: &dyn Store, authz: &Authorization, v: &DomainValidation) {
    let ch = authz
        .challenges
        .iter()
        .find(|c| c.kind == v.method)
        .unwrap();
    start_and_finish(
        store,
        ValidationResult {
            challenge_id: ch.id.clone(),
            authorization_id: authz.id.clone(),
            lease_until: Some(LEASE),
            outcome: Ok(v.validated_at),
            record: v.record.clone(),
            domain_validation: Some(v.clone()),
        },
    )
    .await;
}

fn ids(found: &[DomainValidation]) -> Vec<&str> {
    found.iter().map(|v| v.id.as_str()).collect()
}

/// A success stores its domain validation (with the evidence) in the same transaction, and the
/// authorization expires with the validation's reuse window; the owner finds it, nobody else.
pub(crate) async fn finish_validation_records_domain_validation(store: &dyn Store) {
    store.insert_customer(&customer("c1")).await.unwrap();
    store.insert_customer(&customer("c2")).await.unwrap();
    let a = customer_account("a", Some("c1"));
    let other = customer_account("b", Some("c2"));
    store.insert_account(&a).await.unwrap();
    store.insert_account(&other).await.unwrap();
    let authz = pending_authz(store, "z1", "a", "example.org").await;
    let v = validation("dv1", &a, &authz, ChallengeType::Dns01, T0);
    succeed(store, &authz, &v).await;

    let stored = store.authorization("z1").await.unwrap().unwrap();
    assert_eq!(stored.status, AuthorizationStatus::Valid);
    assert_eq!(stored.expires, v.reuse_until);
    assert_eq!(
        store.domain_validations(&Scope::All).await.unwrap(),
        vec![v.clone()]
    );

    let names = vec!["www.example.org".to_owned(), "example.org".to_owned()];
    let since = T0 - Duration::days(1);
    let mine = ValidationOwner::Customer("c1".into());
    let found = store
        .reusable_domain_validations(&mine, &names, since)
        .await
        .unwrap();
    assert_eq!(found, vec![v]);
    for owner in [
        ValidationOwner::Customer("c2".into()),
        // A customer's validation is not an account-scoped one, even for its own account.
        ValidationOwner::Account("a".into()),
    ] {
        let found = store
            .reusable_domain_validations(&owner, &names, since)
            .await
            .unwrap();
        assert!(found.is_empty(), "{owner:?}: {found:?}");
    }
    // Other names and validations older than `since` are not returned.
    let found = store
        .reusable_domain_validations(&mine, &["example.com".to_owned()], since)
        .await
        .unwrap();
    assert!(found.is_empty());
    let found = store
        .reusable_domain_validations(&mine, &names, T0)
        .await
        .unwrap();
    assert!(found.is_empty(), "validated_at must be after since");
}

/// No domain validation is written by a failure, or by a result that does not apply (the
/// challenge is not processing).
pub(crate) async fn domain_validation_only_with_an_applied_success(store: &dyn Store) {
    let a = customer_account("a", None);
    store.insert_account(&a).await.unwrap();
    let authz = pending_authz(store, "z1", "a", "example.org").await;
    let v = validation("dv1", &a, &authz, ChallengeType::Http01, T0);
    // Not processing: ignored.
    store
        .finish_validation(&ValidationResult {
            challenge_id: authz.challenges[0].id.clone(),
            authorization_id: authz.id.clone(),
            lease_until: Some(LEASE),
            outcome: Ok(T0),
            record: json!({}),
            domain_validation: Some(v.clone()),
        })
        .await
        .unwrap();
    // A failure carrying one (a caller bug) stores none.
    let ch = &authz.challenges[0];
    start_and_finish(
        store,
        ValidationResult {
            challenge_id: ch.id.clone(),
            authorization_id: authz.id.clone(),
            lease_until: Some(LEASE),
            outcome: Err(problem()),
            record: json!({}),
            domain_validation: Some(v),
        },
    )
    .await;
    assert!(
        store
            .domain_validations(&Scope::All)
            .await
            .unwrap()
            .is_empty()
    );
    let stored = store.authorization("z1").await.unwrap().unwrap();
    assert_eq!(stored.status, AuthorizationStatus::Invalid);
    assert_eq!(stored.expires, authz.expires);
}

/// Account-scoped validations (no customer) belong to their account only; results are newest
/// first; a deactivated authorization's validation is no longer offered; the operator listing
/// filters by customer and by credential.
pub(crate) async fn reusable_validations_by_owner_age_and_authorization(store: &dyn Store) {
    store.insert_customer(&customer("c1")).await.unwrap();
    let solo = customer_account("solo", None);
    let other_solo = customer_account("other", None);
    let bound = customer_account("bound", Some("c1"));
    for a in [&solo, &other_solo, &bound] {
        store.insert_account(a).await.unwrap();
    }
    let z1 = pending_authz(store, "z1", "solo", "a.example.org").await;
    let z2 = pending_authz(store, "z2", "solo", "example.org").await;
    let z3 = pending_authz(store, "z3", "bound", "example.org").await;
    let v1 = validation("dv1", &solo, &z1, ChallengeType::Http01, T0);
    let v2 = validation(
        "dv2",
        &solo,
        &z2,
        ChallengeType::Dns01,
        T0 + Duration::hours(1),
    );
    let v3 = validation("dv3", &bound, &z3, ChallengeType::Dns01, T0);
    succeed(store, &z1, &v1).await;
    succeed(store, &z2, &v2).await;
    succeed(store, &z3, &v3).await;

    let names = vec!["a.example.org".to_owned(), "example.org".to_owned()];
    let since = T0 - Duration::days(1);
    let found = store
        .reusable_domain_validations(&ValidationOwner::Account("solo".into()), &names, since)
        .await
        .unwrap();
    assert_eq!(ids(&found), ["dv2", "dv1"], "newest first");
    let found = store
        .reusable_domain_validations(&ValidationOwner::Account("other".into()), &names, since)
        .await
        .unwrap();
    assert!(found.is_empty());

    // RFC 8555 §7.5.2: the client gave the authorization up; its validation goes with it.
    assert!(
        store
            .set_authorization_status(
                "z2",
                AuthorizationStatus::Valid,
                AuthorizationStatus::Deactivated
            )
            .await
            .unwrap()
    );
    let found = store
        .reusable_domain_validations(&ValidationOwner::Account("solo".into()), &names, since)
        .await
        .unwrap();
    assert_eq!(ids(&found), ["dv1"]);

    // Operator listing: all newest first, per customer, per credential.
    let all = store.domain_validations(&Scope::All).await.unwrap();
    assert_eq!(ids(&all), ["dv3", "dv2", "dv1"]);
    let c1 = store
        .domain_validations(&Scope::Customer("c1".into()))
        .await
        .unwrap();
    assert_eq!(ids(&c1), ["dv3"]);
    let none = store
        .domain_validations(&Scope::Credential("k-unknown".into()))
        .await
        .unwrap();
    assert!(none.is_empty());
}

/// The admin API's listing: one customer's validations, newest first, by the name as shown
/// (`*.` for a wildcard) or every name under a domain, a page at a time after an id; a cursor
/// of another customer's validation yields nothing.
pub(crate) async fn domain_validations_page_by_customer_name_and_cursor(store: &dyn Store) {
    store.insert_customer(&customer("c1")).await.unwrap();
    store.insert_customer(&customer("c2")).await.unwrap();
    let a = customer_account("a", Some("c1"));
    let b = customer_account("b", Some("c2"));
    store.insert_account(&a).await.unwrap();
    store.insert_account(&b).await.unwrap();
    let z1 = pending_authz(store, "z1", "a", "example.org").await;
    let z2 = pending_authz(store, "z2", "a", "www.example.org").await;
    let z3 = pending_authz(store, "z3", "a", "*.example.org").await;
    let z4 = pending_authz(store, "z4", "b", "example.org").await;
    let z5 = pending_authz(store, "z5", "a", "notexample.org").await;
    for (id, account, authz) in [
        ("dv1", &a, &z1),
        ("dv2", &a, &z2),
        ("dv3", &a, &z3),
        ("dv4", &b, &z4),
        ("dv5", &a, &z5),
    ] {
        let v = validation(id, account, authz, ChallengeType::Dns01, T0);
        succeed(store, authz, &v).await;
    }
    let page = |domain: Option<&str>, suffix: Option<&str>, customer: &str| DomainValidationQuery {
        customer_id: customer.to_owned(),
        domain: domain.map(str::to_owned),
        domain_suffix: suffix.map(str::to_owned),
    };
    let list = |q: DomainValidationQuery, after: Option<&'static str>, limit: u32| async move {
        store
            .domain_validations_page(&q, after, limit)
            .await
            .unwrap()
            .into_iter()
            .map(|v| v.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        list(page(None, None, "c1"), None, 10).await,
        ["dv5", "dv3", "dv2", "dv1"]
    );
    assert_eq!(list(page(None, None, "c2"), None, 10).await, ["dv4"]);
    assert_eq!(
        list(page(Some("example.org"), None, "c1"), None, 10).await,
        ["dv1"]
    );
    assert_eq!(
        list(page(Some("*.example.org"), None, "c1"), None, 10).await,
        ["dv3"]
    );
    assert_eq!(
        list(page(None, Some(".example.org"), "c1"), None, 10).await,
        ["dv3", "dv2"]
    );
    // Keyset paging, newest first.
    assert_eq!(list(page(None, None, "c1"), None, 2).await, ["dv5", "dv3"]);
    assert_eq!(
        list(page(None, None, "c1"), Some("dv3"), 2).await,
        ["dv2", "dv1"]
    );
    assert!(
        list(page(None, None, "c1"), Some("dv1"), 2)
            .await
            .is_empty()
    );
    assert!(
        list(page(None, None, "c1"), Some("dv4"), 2)
            .await
            .is_empty()
    );
    assert!(
        list(page(None, None, "c1"), Some("unknown"), 2)
            .await
            .is_empty()
    );
}
