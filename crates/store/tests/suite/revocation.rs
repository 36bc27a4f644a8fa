//! Conformance for revocation by the operator and blocked keys: certificates walked a page at
//! a time by every condition of a query, keyCompromise revocation blocking the key in the
//! same transaction, blocked keys' round trip, the CRL generation, and the key hash recorded
//! at issuance.

use ferrite_core::Store;
use ferrite_core::ca::key_block::spki_sha256;
use ferrite_core::model::{BlockedKey, Certificate, CertificateQuery, Customer};
use time::Duration;

use super::{FINALIZE_LEASE, T0, account, authorization, begin_finalize, certificate, order};

/// Stores a certificate `serial` for `name` of account `acct_id`, valid until `not_after`.
pub(crate) async fn issue(
    store: &dyn Store,
    acct_id: &str,
    serial: &str,
    name: &str,
    not_after: time::OffsetDateTime,
    der: Option<Vec<u8>>,
) -> Certificate {
    let authz = authorization(&format!("authz-{serial}"), acct_id, name);
    let ord = order(&format!("o-{serial}"), acct_id, &[&authz]);
    store
        .insert_order(&ord, std::slice::from_ref(&authz))
        .await
        .unwrap();
    assert!(begin_finalize(store, &ord.id).await);
    let mut cert = certificate(serial, &ord, not_after);
    if let Some(der) = der {
        cert.der = der;
    }
    store
        .complete_order(&ord.id, &cert, FINALIZE_LEASE, &[])
        .await
        .unwrap();
    cert
}

/// Customer `cust` with account `owned`, and account `other` without a customer; certificates
/// 01 (owned, a.example, 10 days), 02 (owned, b.example, 80 days), 03 (other, a.example,
/// expired), 04 (owned, a.example, 30 days).
pub(crate) async fn fleet(store: &dyn Store) {
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
    owned.customer_id = Some("cust".into());
    store.insert_account(&owned).await.unwrap();
    store.insert_account(&account("other")).await.unwrap();
    issue(
        store,
        "owned",
        "01",
        "a.example",
        T0 + Duration::days(10),
        None,
    )
    .await;
    issue(
        store,
        "owned",
        "02",
        "b.example",
        T0 + Duration::days(80),
        None,
    )
    .await;
    issue(
        store,
        "other",
        "03",
        "a.example",
        T0 - Duration::days(1),
        None,
    )
    .await;
    issue(
        store,
        "owned",
        "04",
        "a.example",
        T0 + Duration::days(30),
        None,
    )
    .await;
}

async fn serials(store: &dyn Store, query: &CertificateQuery) -> Vec<String> {
    store
        .certificates_page(query, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.serial)
        .collect()
}

/// Every condition of a query selects what it says, conditions combine, and pages of one walk
/// every certificate once in serial order.
pub(crate) async fn certificates_page_filters_and_pages(store: &dyn Store) {
    fleet(store).await;
    let all = CertificateQuery::default();
    assert_eq!(serials(store, &all).await, ["01", "02", "03", "04"]);
    let q = |f: fn(&mut CertificateQuery)| {
        let mut q = CertificateQuery::default();
        f(&mut q);
        q
    };
    assert_eq!(
        serials(store, &q(|q| q.customer_id = Some("cust".into()))).await,
        ["01", "02", "04"]
    );
    assert_eq!(
        serials(store, &q(|q| q.domain = Some("a.example".into()))).await,
        ["01", "03", "04"]
    );
    assert_eq!(
        serials(store, &q(|q| q.serial = Some("02".into()))).await,
        ["02"]
    );
    assert!(
        serials(store, &q(|q| q.serial = Some("99".into())))
            .await
            .is_empty()
    );
    // Unexpired at T0, and expiring within 31 days.
    assert_eq!(
        serials(
            store,
            &q(|q| {
                q.not_after_from = Some(T0);
                q.not_after_until = Some(T0 + Duration::days(31));
            })
        )
        .await,
        ["01", "04"]
    );
    // notBefore is notAfter − 90 days in the fixture: 02's is T0 − 10 days.
    assert_eq!(
        serials(
            store,
            &q(|q| {
                q.issued_from = Some(T0 - Duration::days(11));
                q.issued_before = Some(T0 - Duration::days(9));
            })
        )
        .await,
        ["02"]
    );
    // Combined: the customer's certificates for a.example.
    assert_eq!(
        serials(
            store,
            &q(|q| {
                q.customer_id = Some("cust".into());
                q.domain = Some("a.example".into());
            })
        )
        .await,
        ["01", "04"]
    );
    // Keyset paging: one at a time, each page after the last serial of the one before.
    let mut after: Option<String> = None;
    let mut walked = Vec::new();
    for _ in 0..10 {
        let page = store
            .certificates_page(&all, after.as_deref(), 1)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        assert_eq!(page.len(), 1);
        after = Some(last.serial.clone());
        walked.push(last.serial.clone());
    }
    assert_eq!(walked, ["01", "02", "03", "04"]);
}

/// The hash of a certificate's key is recorded at issuance: a key query finds its
/// certificates, not another key's; certificates whose DER does not parse (no hash recorded)
/// come back for any key, for the caller to check.
pub(crate) async fn key_hash_is_recorded_at_issuance(store: &dyn Store) {
    store.insert_account(&account("acct")).await.unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let real = rcgen::CertificateParams::new(vec!["k.example".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let hash = spki_sha256(&rcgen::PublicKeyData::subject_public_key_info(&key));
    issue(
        store,
        "acct",
        "0a",
        "k.example",
        T0 + Duration::days(5),
        Some(real.der().to_vec()),
    )
    .await;
    issue(
        store,
        "acct",
        "0b",
        "k.example",
        T0 + Duration::days(5),
        None,
    )
    .await;
    let by_key = |h: String| CertificateQuery {
        spki_sha256: Some(h),
        ..CertificateQuery::default()
    };
    assert_eq!(serials(store, &by_key(hash)).await, ["0a", "0b"]);
    assert_eq!(serials(store, &by_key("00".repeat(32))).await, ["0b"]);
}

fn blocked(hash: &str, reason: &str, serial: Option<&str>) -> BlockedKey {
    BlockedKey {
        spki_sha256: hash.to_owned(),
        blocked_at: T0,
        reason: reason.to_owned(),
        serial: serial.map(str::to_owned),
    }
}

/// A keyCompromise revocation revokes (compare-and-set, bumping the CRL generation once) and
/// blocks the key in one transaction; on an already revoked certificate it still blocks the
/// key and changes nothing else; an earlier block is kept as it was.
pub(crate) async fn revocation_blocking_key_is_one_transaction(store: &dyn Store) {
    fleet(store).await;
    let g0 = store.crl_generation(&super::shard0()).await.unwrap();
    assert_eq!(
        g0,
        store.shared_crl(&super::shard0()).await.unwrap().generation
    );
    let at = T0 + Duration::hours(1);
    let first = blocked(&"aa".repeat(32), "first", Some("01"));
    assert!(
        store
            .revoke_certificate_blocking_key("01", at, 1, &first)
            .await
            .unwrap()
    );
    assert_eq!(
        store.certificate("01").await.unwrap().unwrap().revoked,
        Some((at, 1))
    );
    assert_eq!(
        store.blocked_key(&first.spki_sha256).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store.crl_generation(&super::shard0()).await.unwrap(),
        g0 + 1
    );
    // Again, with another reason text: nothing changes, the first block stays.
    assert!(
        !store
            .revoke_certificate_blocking_key(
                "01",
                at + Duration::hours(1),
                1,
                &blocked(&first.spki_sha256, "second", None)
            )
            .await
            .unwrap()
    );
    assert_eq!(
        store.blocked_key(&first.spki_sha256).await.unwrap(),
        Some(first)
    );
    assert_eq!(
        store.crl_generation(&super::shard0()).await.unwrap(),
        g0 + 1
    );
    // A certificate revoked earlier for another reason: its key is blocked all the same.
    assert!(store.revoke_certificate("02", at, 4).await.unwrap());
    assert_eq!(
        store.crl_generation(&super::shard0()).await.unwrap(),
        g0 + 2
    );
    let later = blocked(&"bb".repeat(32), "later", Some("02"));
    assert!(
        !store
            .revoke_certificate_blocking_key("02", at, 1, &later)
            .await
            .unwrap()
    );
    assert_eq!(
        store.certificate("02").await.unwrap().unwrap().revoked,
        Some((at, 4))
    );
    assert_eq!(
        store.blocked_key(&later.spki_sha256).await.unwrap(),
        Some(later)
    );
    assert_eq!(
        store.crl_generation(&super::shard0()).await.unwrap(),
        g0 + 2
    );
}

/// Blocked keys: a second block of a key is refused and keeps the first; listed oldest first;
/// unblocked once.
pub(crate) async fn blocked_keys_round_trip(store: &dyn Store) {
    assert!(store.blocked_keys().await.unwrap().is_empty());
    let a = blocked(&"0a".repeat(32), "operator", None);
    let mut b = blocked(&"0b".repeat(32), "keyCompromise of 01", Some("01"));
    b.blocked_at = T0 - Duration::days(1);
    assert!(store.block_key(&a).await.unwrap());
    assert!(store.block_key(&b).await.unwrap());
    assert!(
        !store
            .block_key(&blocked(&a.spki_sha256, "again", None))
            .await
            .unwrap()
    );
    assert_eq!(
        store.blocked_key(&a.spki_sha256).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(store.blocked_key(&"0c".repeat(32)).await.unwrap(), None);
    assert_eq!(
        store.blocked_keys().await.unwrap(),
        vec![b.clone(), a.clone()]
    );
    assert!(store.unblock_key(&a.spki_sha256).await.unwrap());
    assert!(!store.unblock_key(&a.spki_sha256).await.unwrap());
    assert_eq!(store.blocked_key(&a.spki_sha256).await.unwrap(), None);
    assert_eq!(store.blocked_keys().await.unwrap(), vec![b]);
}

/// The admin API's conditions: names under a domain (a suffix that begins with a dot, so the
/// domain itself and look-alikes are not under it), revoked or never revoked, each combined
/// with the customer; and the profile each certificate's order named.
pub(crate) async fn certificates_page_by_name_suffix_revocation_and_profile(store: &dyn Store) {
    fleet(store).await;
    issue(
        store,
        "owned",
        "05",
        "*.b.example",
        T0 + Duration::days(60),
        None,
    )
    .await;
    issue(
        store,
        "owned",
        "06",
        "notb.example",
        T0 + Duration::days(60),
        None,
    )
    .await;
    let q = |f: &dyn Fn(&mut CertificateQuery)| {
        let mut q = CertificateQuery {
            customer_id: Some("cust".into()),
            ..CertificateQuery::default()
        };
        f(&mut q);
        q
    };
    assert_eq!(
        serials(store, &q(&|q| q.domain_suffix = Some(".b.example".into()))).await,
        ["05"]
    );
    assert_eq!(
        serials(store, &q(&|q| q.domain_suffix = Some(".example".into()))).await,
        ["01", "02", "04", "05", "06"]
    );
    assert!(
        serials(store, &q(&|q| q.domain_suffix = Some(".c.example".into())))
            .await
            .is_empty()
    );
    // Another customer's certificate of the same name is not the customer's.
    let all_a = CertificateQuery {
        domain_suffix: Some(".example".into()),
        ..CertificateQuery::default()
    };
    assert_eq!(
        serials(store, &all_a).await,
        ["01", "02", "03", "04", "05", "06"]
    );

    assert!(store.revoke_certificate("04", T0, 4).await.unwrap());
    assert_eq!(
        serials(store, &q(&|q| q.revoked = Some(true))).await,
        ["04"]
    );
    assert_eq!(
        serials(store, &q(&|q| q.revoked = Some(false))).await,
        ["01", "02", "05", "06"]
    );
    assert_eq!(
        serials(
            store,
            &q(&|q| {
                q.revoked = Some(false);
                q.domain = Some("a.example".into());
            })
        )
        .await,
        ["01"]
    );

    // The order's profile, for the orders that exist.
    let authz = super::authorization("authz-prof", "owned", "p.example");
    let mut ord = order("o-prof", "owned", &[&authz]);
    ord.profile = Some("shortlived".into());
    store
        .insert_order(&ord, std::slice::from_ref(&authz))
        .await
        .unwrap();
    let mut profiles = store
        .order_profiles(&["o-prof".into(), "o-01".into(), "o-missing".into()])
        .await
        .unwrap();
    profiles.sort();
    assert_eq!(
        profiles,
        [
            ("o-01".to_owned(), None),
            ("o-prof".to_owned(), Some("shortlived".to_owned()))
        ]
    );
    assert!(store.order_profiles(&[]).await.unwrap().is_empty());
}
