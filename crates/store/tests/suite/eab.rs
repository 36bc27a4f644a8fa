//! Conformance for the binding model: customers, API credentials, EAB MAC keys, and the
//! binding counter that moves only together with an account insert.

use ferrite_core::Store;
use ferrite_core::StoreError;
use ferrite_core::model::{
    Account, ApiCredential, BindingRefusal, CredentialStatus, Customer, MacKey, OperatorCredential,
    Scope, Suspension,
};
use time::Duration;

use super::{T0, account, join_all};

/// How many newAccounts race for a key limited to [`LIMIT`] bindings.
const RACERS: usize = 1_100;
const LIMIT: u32 = 1_000;

pub(crate) fn customer(id: &str) -> Customer {
    Customer {
        id: id.to_owned(),
        name: format!("name-{id}"),
        created_at: T0,
        allowed_profiles: None,
        suspension: None,
    }
}

pub(crate) fn credential(id: &str, customer_id: &str) -> ApiCredential {
    ApiCredential {
        id: id.to_owned(),
        customer_id: customer_id.to_owned(),
        secret_hash: format!("$argon2id$v=19$hash-of-{id}"),
        status: CredentialStatus::Active,
        created_at: T0,
    }
}

fn mac_key(kid: &str, credential_id: &str, max_bindings: u32) -> MacKey {
    MacKey {
        kid: kid.to_owned(),
        credential_id: credential_id.to_owned(),
        sealed_key: vec![1, 2, 3, kid.len() as u8],
        created_at: T0,
        expires_at: T0 + Duration::days(30),
        max_bindings,
        bindings_used: 0,
        status: CredentialStatus::Active,
    }
}

fn bound_account(id: &str, kid: &str, customer_id: &str) -> Account {
    let mut a = account(id);
    a.eab_kid = Some(kid.to_owned());
    a.customer_id = Some(customer_id.to_owned());
    a
}

/// customer c1 → credential k1 → MAC key `kid` (limit `max`).
async fn one_key(store: &dyn Store, kid: &str, max: u32) {
    store.insert_customer(&customer("c1")).await.unwrap();
    store
        .insert_credential(&credential("k1", "c1"))
        .await
        .unwrap();
    store
        .insert_mac_key(&mac_key(kid, "k1", max))
        .await
        .unwrap();
}

async fn used(store: &dyn Store, kid: &str) -> u32 {
    store.mac_key(kid).await.unwrap().unwrap().bindings_used
}

/// Customers read back by id and name, list oldest first, and names are unique.
pub(crate) async fn customers_round_trip_with_unique_names(store: &dyn Store) {
    assert!(store.customers().await.unwrap().is_empty());
    let a = customer("c1");
    let mut b = customer("c2");
    b.created_at = T0 + Duration::seconds(1);
    store.insert_customer(&a).await.unwrap();
    store.insert_customer(&b).await.unwrap();
    assert_eq!(store.customer("c1").await.unwrap(), Some(a.clone()));
    assert_eq!(
        store.customer_by_name("name-c2").await.unwrap(),
        Some(b.clone())
    );
    assert_eq!(store.customer_by_name("nobody").await.unwrap(), None);
    assert_eq!(store.customers().await.unwrap(), vec![a, b]);
    let mut dup = customer("c3");
    dup.name = "name-c1".into();
    let err = store.insert_customer(&dup).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.customer("c3").await.unwrap(), None);
}

/// Credentials read back, list per customer, and can be disabled.
pub(crate) async fn credentials_round_trip_scoped_and_disabled(store: &dyn Store) {
    store.insert_customer(&customer("c1")).await.unwrap();
    store.insert_customer(&customer("c2")).await.unwrap();
    let k1 = credential("k1", "c1");
    let k2 = credential("k2", "c2");
    let k3 = credential("k3", "c1");
    for k in [&k1, &k2, &k3] {
        store.insert_credential(k).await.unwrap();
    }
    assert_eq!(store.credential("k1").await.unwrap(), Some(k1.clone()));
    assert_eq!(store.credential("nope").await.unwrap(), None);
    assert_eq!(
        store.credentials(Some("c1")).await.unwrap(),
        vec![k1.clone(), k3.clone()]
    );
    assert_eq!(store.credentials(None).await.unwrap().len(), 3);
    let err = store.insert_credential(&k1).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    // A credential needs an existing customer.
    assert!(
        store
            .insert_credential(&credential("k9", "ghost"))
            .await
            .is_err()
    );

    assert!(
        store
            .set_credential_status("k1", CredentialStatus::Disabled)
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_credential_status("nope", CredentialStatus::Disabled)
            .await
            .unwrap()
    );
    let k1 = store.credential("k1").await.unwrap().unwrap();
    assert_eq!(k1.status, CredentialStatus::Disabled);
    assert_eq!(
        store.credential("k3").await.unwrap().unwrap().status,
        CredentialStatus::Active
    );
}

/// Operator credentials round-trip apart from customers' credentials (an id of one is not
/// found as the other), are unique by id, list oldest first, and their creation and status
/// changes are in the audit log.
pub(crate) async fn operator_credentials_round_trip_and_are_audited(store: &dyn Store) {
    store.insert_customer(&customer("c1")).await.unwrap();
    store
        .insert_credential(&credential("k1", "c1"))
        .await
        .unwrap();
    let operator = |id: &str| OperatorCredential {
        id: id.to_owned(),
        secret_hash: format!("$argon2id$v=19$hash-of-{id}"),
        status: CredentialStatus::Active,
        created_at: T0,
    };
    let (o1, o2) = (operator("o1"), operator("o2"));
    store.insert_operator_credential(&o1).await.unwrap();
    store.insert_operator_credential(&o2).await.unwrap();
    let err = store.insert_operator_credential(&o1).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    assert_eq!(
        store.operator_credential("o1").await.unwrap(),
        Some(o1.clone())
    );
    assert_eq!(store.operator_credential("k1").await.unwrap(), None);
    assert_eq!(store.credential("o1").await.unwrap(), None);
    assert_eq!(
        store.operator_credentials().await.unwrap(),
        vec![o1.clone(), o2.clone()]
    );
    assert_eq!(store.credentials(None).await.unwrap().len(), 1);

    assert!(
        store
            .set_operator_credential_status("o1", CredentialStatus::Disabled)
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_operator_credential_status("k1", CredentialStatus::Disabled)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .operator_credential("o1")
            .await
            .unwrap()
            .unwrap()
            .status,
        CredentialStatus::Disabled
    );
    assert_eq!(
        store.credential("k1").await.unwrap().unwrap().status,
        CredentialStatus::Active
    );
    // An operator credential holds no MAC key: the key's credential must be a customer's.
    assert!(
        store
            .insert_mac_key(&mac_key("kid-o", "o2", 5))
            .await
            .is_err()
    );

    let entries = store
        .audit_entries(time::OffsetDateTime::UNIX_EPOCH, 0, 100)
        .await
        .unwrap();
    let operator_events: Vec<(&str, &str)> = entries
        .iter()
        .filter(|e| e.event.starts_with("operator_credential"))
        .map(|e| (e.event.as_str(), e.subject.as_str()))
        .collect();
    assert_eq!(
        operator_events,
        [
            ("operator_credential_created", "o1"),
            ("operator_credential_created", "o2"),
            ("operator_credential_disabled", "o1"),
        ]
    );
    let details: serde_json::Value = serde_json::from_str(
        &entries
            .iter()
            .find(|e| e.event == "operator_credential_disabled")
            .unwrap()
            .details,
    )
    .unwrap();
    assert_eq!(details["role"], "operator", "{details}");
}

/// A new MAC key disables the credential's previous key (only that credential's), in the same
/// write; keys list by credential, by customer and all.
pub(crate) async fn new_mac_key_disables_previous_key(store: &dyn Store) {
    one_key(store, "m1", 10).await;
    store.insert_customer(&customer("c2")).await.unwrap();
    store
        .insert_credential(&credential("k2", "c2"))
        .await
        .unwrap();
    store
        .insert_mac_key(&mac_key("other", "k2", 10))
        .await
        .unwrap();
    assert_eq!(
        store.mac_key("m1").await.unwrap(),
        Some(mac_key("m1", "k1", 10))
    );

    store
        .insert_mac_key(&mac_key("m2", "k1", 10))
        .await
        .unwrap();
    let m1 = store.mac_key("m1").await.unwrap().unwrap();
    assert_eq!(m1.status, CredentialStatus::Disabled);
    assert_eq!(
        store.mac_key("m2").await.unwrap().unwrap().status,
        CredentialStatus::Active
    );
    assert_eq!(
        store.mac_key("other").await.unwrap().unwrap().status,
        CredentialStatus::Active,
        "another credential's key is untouched"
    );
    let kids = |keys: Vec<MacKey>| keys.into_iter().map(|k| k.kid).collect::<Vec<_>>();
    assert_eq!(
        kids(
            store
                .mac_keys(&Scope::Credential("k1".into()))
                .await
                .unwrap()
        ),
        ["m1", "m2"]
    );
    assert_eq!(
        kids(store.mac_keys(&Scope::Customer("c2".into())).await.unwrap()),
        ["other"]
    );
    assert_eq!(
        kids(store.mac_keys(&Scope::All).await.unwrap()),
        ["m1", "other", "m2"]
    );
    let err = store
        .insert_mac_key(&mac_key("m2", "k1", 10))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        store.mac_key("m2").await.unwrap().unwrap().status,
        CredentialStatus::Active,
        "a failed insert disables nothing"
    );
    assert_eq!(store.mac_key("nope").await.unwrap(), None);
}

/// A binding inserts the account and counts one use; accounts list by scope.
pub(crate) async fn binding_counts_and_inserts_the_account(store: &dyn Store) {
    one_key(store, "m1", 10).await;
    let a = bound_account("a1", "m1", "c1");
    assert_eq!(
        store
            .insert_account_with_binding(&a, "m1", T0)
            .await
            .unwrap(),
        Ok(())
    );
    assert_eq!(store.account("a1").await.unwrap(), Some(a.clone()));
    assert_eq!(used(store, "m1").await, 1);
    let mut plain = account("a2");
    plain.eab_kid = None;
    store.insert_account(&plain).await.unwrap();
    assert_eq!(
        store
            .accounts_in_scope(&Scope::Customer("c1".into()))
            .await
            .unwrap(),
        vec![a.clone()]
    );
    assert_eq!(
        store
            .accounts_in_scope(&Scope::Credential("k1".into()))
            .await
            .unwrap(),
        vec![a.clone()]
    );
    assert!(
        store
            .accounts_in_scope(&Scope::Credential("k2".into()))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.accounts_in_scope(&Scope::All).await.unwrap(),
        vec![a, plain]
    );
}

/// Each rule refuses with its own reason, and a refusal consumes nothing and creates nothing.
pub(crate) async fn binding_refusals_name_the_rule(store: &dyn Store) {
    one_key(store, "m1", 1).await;
    let refuse = |id: &'static str, kid: &'static str, now| async move {
        let r = store
            .insert_account_with_binding(&bound_account(id, kid, "c1"), kid, now)
            .await
            .unwrap();
        assert_eq!(store.account(id).await.unwrap(), None, "{id}: no account");
        r
    };
    assert_eq!(
        refuse("x1", "nope", T0).await,
        Err(BindingRefusal::UnknownKid)
    );
    // Expired: at and after expires_at.
    let expiry = T0 + Duration::days(30);
    assert_eq!(
        refuse("x2", "m1", expiry).await,
        Err(BindingRefusal::KeyExpired)
    );
    assert_eq!(used(store, "m1").await, 0);
    // Exhausted after its one binding.
    store
        .insert_account_with_binding(&bound_account("a1", "m1", "c1"), "m1", T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        refuse("x3", "m1", T0).await,
        Err(BindingRefusal::KeyExhausted)
    );
    assert_eq!(used(store, "m1").await, 1);
    // Disabled by a newer key.
    store.insert_mac_key(&mac_key("m2", "k1", 5)).await.unwrap();
    assert_eq!(
        refuse("x4", "m1", T0).await,
        Err(BindingRefusal::KeyDisabled)
    );
    // The credential disabled: its active key refuses too.
    store
        .set_credential_status("k1", CredentialStatus::Disabled)
        .await
        .unwrap();
    assert_eq!(
        refuse("x5", "m2", T0).await,
        Err(BindingRefusal::CredentialDisabled)
    );
    assert_eq!(used(store, "m2").await, 0);
}

/// "A newAccount that fails for any reason consumes nothing": an account insert that fails
/// (thumbprint taken) rolls the count back.
pub(crate) async fn failed_account_insert_consumes_nothing(store: &dyn Store) {
    one_key(store, "m1", 5).await;
    store
        .insert_account_with_binding(&bound_account("a1", "m1", "c1"), "m1", T0)
        .await
        .unwrap()
        .unwrap();
    let mut same_key = bound_account("a2", "m1", "c1");
    same_key.thumbprint = "thumb-a1".into();
    let err = store
        .insert_account_with_binding(&same_key, "m1", T0)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(used(store, "m1").await, 1);
    assert_eq!(store.account("a2").await.unwrap(), None);
}

/// 1,100 concurrent bindings on a key limited to 1,000: exactly 1,000 accounts, the rest are
/// refused as exhausted, and the counter ends at the limit.
pub(crate) async fn concurrent_bindings_stop_at_the_limit(store: &dyn Store) {
    concurrent_bindings_over_instances_stop_at_the_limit(&[store]).await;
}

/// [`concurrent_bindings_stop_at_the_limit`] with the bindings spread over `stores`, several
/// instances on one database: the limit holds across them.
pub(crate) async fn concurrent_bindings_over_instances_stop_at_the_limit(stores: &[&dyn Store]) {
    let store = stores[0];
    one_key(store, "m1", LIMIT).await;
    let accounts: Vec<Account> = (0..RACERS)
        .map(|i| bound_account(&format!("r{i}"), "m1", "c1"))
        .collect();
    let results = join_all(
        accounts
            .iter()
            .enumerate()
            .map(|(i, a)| stores[i % stores.len()].insert_account_with_binding(a, "m1", T0))
            .collect(),
    )
    .await;
    let mut created = 0;
    let mut exhausted = 0;
    for r in results {
        match r.unwrap() {
            Ok(()) => created += 1,
            Err(BindingRefusal::KeyExhausted) => exhausted += 1,
            Err(other) => panic!("unexpected refusal {other:?}"),
        }
    }
    assert_eq!(
        (created, exhausted),
        (LIMIT as usize, RACERS - LIMIT as usize)
    );
    for store in stores {
        assert_eq!(used(*store, "m1").await, LIMIT);
    }
    assert_eq!(
        store
            .accounts_in_scope(&Scope::Credential("k1".into()))
            .await
            .unwrap()
            .len(),
        LIMIT as usize
    );
}

/// A suspension is stored with its time and reason, read back by id, name and in the list,
/// replaced by a later one, and cleared by a resume; an unknown customer is `false`.
pub(crate) async fn customer_suspension_round_trip(store: &dyn Store) {
    store.insert_customer(&customer("c1")).await.unwrap();
    store.insert_customer(&customer("c2")).await.unwrap();
    let suspension = Suspension {
        at: T0 + Duration::seconds(5),
        reason: Some("invoice 42 unpaid".into()),
    };
    assert!(
        store
            .set_customer_suspension("c1", Some(&suspension))
            .await
            .unwrap()
    );
    let c1 = store.customer("c1").await.unwrap().unwrap();
    assert_eq!(c1.suspension.as_ref(), Some(&suspension));
    assert_eq!(
        store
            .customer_by_name("name-c1")
            .await
            .unwrap()
            .unwrap()
            .suspension,
        Some(suspension.clone())
    );
    let all = store.customers().await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0].suspension.is_some() && all[1].suspension.is_none());
    // Suspended again: the new time and reason (none) replace the old.
    let again = Suspension {
        at: T0 + Duration::seconds(9),
        reason: None,
    };
    assert!(
        store
            .set_customer_suspension("c1", Some(&again))
            .await
            .unwrap()
    );
    assert_eq!(
        store.customer("c1").await.unwrap().unwrap().suspension,
        Some(again)
    );
    assert!(store.set_customer_suspension("c1", None).await.unwrap());
    assert_eq!(store.customer("c1").await.unwrap().unwrap(), customer("c1"));
    assert!(
        !store
            .set_customer_suspension("nope", Some(&suspension))
            .await
            .unwrap()
    );
}

/// `account_with_customer` returns the account with its customer as stored, suspension
/// included; an account without a customer has none; an unknown id is `None`.
pub(crate) async fn account_with_customer_reads_the_suspension(store: &dyn Store) {
    one_key(store, "m1", 5).await;
    store
        .insert_account_with_binding(&bound_account("a1", "m1", "c1"), "m1", T0)
        .await
        .unwrap()
        .unwrap();
    let mut unbound = account("a2");
    unbound.eab_kid = None;
    store.insert_account(&unbound).await.unwrap();

    let (account, holder) = store.account_with_customer("a1").await.unwrap().unwrap();
    assert_eq!(account, bound_account("a1", "m1", "c1"));
    assert_eq!(holder, Some(customer("c1")));
    let suspension = Suspension {
        at: T0,
        reason: Some("abuse report".into()),
    };
    store
        .set_customer_suspension("c1", Some(&suspension))
        .await
        .unwrap();
    let (_, holder) = store.account_with_customer("a1").await.unwrap().unwrap();
    assert_eq!(holder.unwrap().suspension, Some(suspension));
    assert_eq!(
        store.account_with_customer("a2").await.unwrap(),
        Some((unbound, None))
    );
    assert_eq!(store.account_with_customer("nope").await.unwrap(), None);
}

/// A suspended customer's active key binds nothing (the refusal names the suspension first,
/// and counts nothing); resumed, it binds again.
pub(crate) async fn suspended_customer_binds_nothing(store: &dyn Store) {
    one_key(store, "m1", 5).await;
    let suspension = Suspension {
        at: T0,
        reason: None,
    };
    store
        .set_customer_suspension("c1", Some(&suspension))
        .await
        .unwrap();
    let refused = store
        .insert_account_with_binding(&bound_account("a1", "m1", "c1"), "m1", T0)
        .await
        .unwrap();
    assert_eq!(refused, Err(BindingRefusal::CustomerSuspended));
    assert_eq!(store.account("a1").await.unwrap(), None);
    assert_eq!(used(store, "m1").await, 0);
    // Named before a disabled credential.
    store
        .set_credential_status("k1", CredentialStatus::Disabled)
        .await
        .unwrap();
    assert_eq!(
        store
            .insert_account_with_binding(&bound_account("a1", "m1", "c1"), "m1", T0)
            .await
            .unwrap(),
        Err(BindingRefusal::CustomerSuspended)
    );
    store
        .set_credential_status("k1", CredentialStatus::Active)
        .await
        .unwrap();
    store.set_customer_suspension("c1", None).await.unwrap();
    store
        .insert_account_with_binding(&bound_account("a1", "m1", "c1"), "m1", T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(used(store, "m1").await, 1);
}

/// `disable_mac_key` disables that key only (its credential's other keys and the credential
/// stay as they are); the key binds nothing after; an unknown kid is `false`.
pub(crate) async fn disabled_mac_key_binds_nothing(store: &dyn Store) {
    one_key(store, "m1", 5).await;
    store
        .insert_credential(&credential("k2", "c1"))
        .await
        .unwrap();
    store.insert_mac_key(&mac_key("m2", "k2", 5)).await.unwrap();
    assert!(store.disable_mac_key("m1").await.unwrap());
    assert!(
        store.disable_mac_key("m1").await.unwrap(),
        "again: unchanged"
    );
    assert!(!store.disable_mac_key("nope").await.unwrap());
    let m1 = store.mac_key("m1").await.unwrap().unwrap();
    assert_eq!(m1.status, CredentialStatus::Disabled);
    assert_eq!(
        store.mac_key("m2").await.unwrap().unwrap().status,
        CredentialStatus::Active
    );
    assert_eq!(
        store.credential("k1").await.unwrap().unwrap().status,
        CredentialStatus::Active
    );
    assert_eq!(
        store
            .insert_account_with_binding(&bound_account("a1", "m1", "c1"), "m1", T0)
            .await
            .unwrap(),
        Err(BindingRefusal::KeyDisabled)
    );
    store
        .insert_account_with_binding(&bound_account("a2", "m2", "c1"), "m2", T0)
        .await
        .unwrap()
        .unwrap();
}
