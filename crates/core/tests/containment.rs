//! The operator's containment, called on the engine directly: a suspended customer's
//! accounts, bindings and API credentials are refused (naming whom to contact) until it is
//! resumed; a leaked MAC key is disabled and the accounts bound through it deactivated in one
//! step; and a MAC key's status says what a binding would meet (its credential's and
//! customer's state included), with no uses left unless it can bind. The same over HTTP with
//! real clients: crates/cli/tests/operator_containment.rs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Engine, NEW_ACCOUNT_URL, assert_problem, bounded, refused};
use ferrite_core::CaConfig;
use ferrite_core::eab::{EabSettings, MacKeyView};
use ferrite_core::model::Scope;
use ferrite_jose::Algorithm;
use ferrite_jose::sign::SigningKey;
use ferrite_proto::requests::NewAccount;
use ferrite_proto::{AccountStatus, ProblemType};
use ferrite_testkit::eab::{IssuedMacKey, new_credential_key, rekey};

const CONTACT: &str = "support@ca.test";

fn engine_config() -> CaConfig {
    CaConfig {
        eab_required: true,
        eab: EabSettings {
            suspended_contact: Some(CONTACT.to_owned()),
            ..EabSettings::default()
        },
        ..CaConfig::default()
    }
}

/// newAccount for a new key bound through `mac`.
async fn bind(engine: &Engine, mac: &IssuedMacKey) -> Result<String, ferrite_core::CoreError> {
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let payload = NewAccount {
        external_account_binding: Some(mac.binding(NEW_ACCOUNT_URL, &key)),
        ..NewAccount::default()
    };
    engine
        .new_account(&key, payload)
        .await
        .map(|o| o.account.id)
}

async fn key_view(engine: &Engine, kid: &str) -> MacKeyView {
    engine.ca.eab().mac_key(kid, None).await.unwrap()
}

#[tokio::test]
async fn a_suspended_customer_is_refused_everywhere_until_resumed() {
    bounded(async {
        let engine = Engine::start_with(engine_config()).await;
        let eab = engine.ca.eab();
        let corp = engine.customer_accounts("corp", 1).await.remove(0);
        let other = engine.customer_accounts("other", 1).await.remove(0);
        let customer = eab.customer_by_name("corp").await.unwrap();
        let spare = new_credential_key(&engine.ca, &customer.id).await;
        let admin = eab.create_credential(&customer.id).await.unwrap();
        let admin_id = admin.credential.id.clone();
        eab.authenticate(&admin_id, admin.secret.expose())
            .await
            .unwrap();

        let suspended = eab
            .suspend_customer("corp", Some("  invoice 42 unpaid "))
            .await
            .unwrap();
        assert_eq!(suspended.status, "suspended");
        assert_eq!(
            suspended.suspended_reason.as_deref(),
            Some("invoice 42 unpaid")
        );
        assert!(suspended.suspended_at.is_some());
        let listed = eab.customers().await.unwrap();
        let listed = listed.iter().find(|c| c.name == "corp").unwrap();
        assert_eq!(listed, &suspended);

        let says_whom = |case: &str, p: &ferrite_proto::Problem| {
            assert_problem(
                case,
                p,
                ProblemType::Unauthorized,
                Some("customer \"corp\" is suspended"),
            );
            assert!(p.detail.ends_with(CONTACT), "{case}: {p}");
            assert!(
                !p.detail.contains("invoice"),
                "{case}: the reason leaked: {p}"
            );
            assert_eq!(p.status.unwrap_or(403), 403, "{case}: {p}");
        };
        // Every request signed by the account (kid), newAccount with its key, a new binding.
        let p = refused(
            "a signed request",
            engine.ca.account_for_request(&corp.account.id).await,
        );
        says_whom("a signed request", &p);
        let p = refused(
            "newAccount with an existing key",
            engine.new_account(&corp.key, NewAccount::default()).await,
        );
        says_whom("newAccount with an existing key", &p);
        let p = refused("a new binding", bind(&engine, &spare).await);
        says_whom("a new binding", &p);
        let view = key_view(&engine, &spare.kid).await;
        assert_eq!(
            (view.status, view.bindings_used, view.bindings_remaining),
            ("customer_suspended", 0, 0),
            "{view:?}"
        );
        // The admin API: the right secret learns of the suspension (403); a wrong one gets
        // the usual 401 and learns nothing.
        let p = refused(
            "admin API",
            eab.authenticate(&admin_id, admin.secret.expose()).await,
        );
        says_whom("admin API", &p);
        let p = refused("wrong secret", eab.authenticate(&admin_id, "nope").await);
        assert_eq!(p.status, Some(401), "{p}");
        assert!(!p.detail.contains("suspended"), "{p}");
        // Another customer is untouched.
        engine
            .ca
            .account_for_request(&other.account.id)
            .await
            .unwrap();

        // Resumed: everything as before.
        let resumed = eab.resume_customer("corp").await.unwrap();
        assert_eq!(
            (
                resumed.status,
                resumed.suspended_at,
                resumed.suspended_reason
            ),
            ("active", None, None)
        );
        let account = engine
            .ca
            .account_for_request(&corp.account.id)
            .await
            .unwrap();
        assert_eq!(account.status, AccountStatus::Valid);
        assert!(
            !engine
                .new_account(&corp.key, NewAccount::default())
                .await
                .unwrap()
                .created
        );
        bind(&engine, &spare).await.unwrap();
        let view = key_view(&engine, &spare.kid).await;
        assert_eq!((view.status, view.bindings_used), ("active", 1));
        assert_eq!(view.bindings_remaining, view.max_bindings - 1);
        eab.authenticate(&admin_id, admin.secret.expose())
            .await
            .unwrap();

        // An unknown customer says how to find the right name.
        let p = refused(
            "unknown customer",
            eab.suspend_customer("nobody", None).await,
        );
        assert_eq!(p.status, Some(404));
        assert!(p.detail.contains("ferrite customer list"), "{p}");
        let p = refused("unknown customer", eab.resume_customer("nobody").await);
        assert_eq!(p.status, Some(404));
    })
    .await;
}

#[tokio::test]
async fn without_a_configured_contact_the_operator_is_named() {
    bounded(async {
        let engine = Engine::start_with(CaConfig {
            eab_required: true,
            ..CaConfig::default()
        })
        .await;
        let corp = engine.customer_accounts("corp", 1).await.remove(0);
        engine
            .ca
            .eab()
            .suspend_customer("corp", None)
            .await
            .unwrap();
        let p = refused(
            "no contact",
            engine.ca.account_for_request(&corp.account.id).await,
        );
        assert_problem(
            "no contact",
            &p,
            ProblemType::Unauthorized,
            Some("contact the operator of this certificate authority"),
        );
    })
    .await;
}

#[tokio::test]
async fn a_leaked_mac_key_is_contained_in_one_step() {
    bounded(async {
        let engine = Engine::start_with(engine_config()).await;
        let eab = engine.ca.eab();
        let customer = eab.create_customer("corp").await.unwrap();
        let leaked = new_credential_key(&engine.ca, &customer.id).await;
        let a = bind(&engine, &leaked).await.unwrap();
        let b = bind(&engine, &leaked).await.unwrap();
        // The same credential's newer key, and another credential's.
        let newer = rekey(&engine.ca, &leaked.credential_id).await;
        let c = bind(&engine, &newer).await.unwrap();
        let elsewhere = new_credential_key(&engine.ca, &customer.id).await;
        let d = bind(&engine, &elsewhere).await.unwrap();

        // A key of another customer is not found through that customer's credentials.
        let stranger = eab.create_customer("stranger").await.unwrap();
        let p = refused(
            "another customer's key",
            eab.disable_mac_key(&leaked.kid, Some(&stranger.id)).await,
        );
        assert_eq!(p.status, Some(404), "{p}");

        let view = eab.disable_mac_key(&leaked.kid, None).await.unwrap();
        assert_eq!(
            (view.status, view.bindings_used, view.bindings_remaining),
            ("disabled", 2, 0)
        );
        let mut deactivated: Vec<String> = eab
            .deactivate_accounts_of_key(&leaked.kid)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect();
        deactivated.sort();
        let mut expected = vec![a.clone(), b.clone()];
        expected.sort();
        assert_eq!(deactivated, expected);
        for id in [&a, &b] {
            let p = refused("deactivated", engine.ca.account_for_request(id).await);
            assert_problem(
                "deactivated",
                &p,
                ProblemType::Unauthorized,
                Some("deactivated"),
            );
        }
        for id in [&c, &d] {
            engine.ca.account_for_request(id).await.unwrap();
        }
        // Again: nothing left to deactivate.
        assert!(
            eab.deactivate_accounts_of_key(&leaked.kid)
                .await
                .unwrap()
                .is_empty()
        );
        let p = refused(
            "unknown kid",
            eab.disable_mac_key("no-such-kid", None).await,
        );
        assert_eq!(p.status, Some(404));
        assert!(p.detail.contains("ferrite mac-key list"), "{p}");

        // The credential disabled with its accounts: its other key shows it, with no uses.
        eab.disable_credential(&leaked.credential_id, None)
            .await
            .unwrap();
        let gone = eab
            .deactivate_accounts(&Scope::Credential(leaked.credential_id.clone()))
            .await
            .unwrap();
        assert_eq!(
            gone.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            [c.as_str()]
        );
        let keys = eab
            .mac_keys(&Scope::Customer(customer.id.clone()))
            .await
            .unwrap();
        let shown: Vec<(&str, &str, u32)> = keys
            .iter()
            .map(|k| (k.kid.as_str(), k.status, k.bindings_remaining))
            .collect();
        assert_eq!(
            shown,
            [
                (leaked.kid.as_str(), "credential_disabled", 0),
                (newer.kid.as_str(), "credential_disabled", 0),
                (elsewhere.kid.as_str(), "active", 999),
            ]
        );
        assert_eq!(
            eab.mac_keys(&Scope::All).await.unwrap(),
            keys,
            "the operator's list says the same"
        );
        assert_eq!(
            key_view(&engine, &newer.kid).await.status,
            "credential_disabled"
        );
        engine.ca.account_for_request(&d).await.unwrap();
    })
    .await;
}
