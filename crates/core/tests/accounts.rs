//! Account rules, called on the engine directly (RFC 8555 §7.3): newAccount and
//! `onlyReturnExisting`, contacts, deactivation and what a deactivated account may no longer
//! do, key change (the engine's part: the old key, the new key in use), and the external
//! account binding's refusals (§7.3.4). The inner JWS of a key change is checked by the HTTP
//! layer (crates/testkit/tests/acme_accounts.rs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{ACCOUNT_URL_PREFIX, Engine, NEW_ACCOUNT_URL, assert_problem, bounded, refused};
use ferrite_core::eab::EabSettings;
use ferrite_core::{CaConfig, CoreError};
use ferrite_jose::Algorithm;
use ferrite_jose::sign::SigningKey;
use ferrite_proto::requests::{AccountUpdate, NewAccount};
use ferrite_proto::{AccountStatus, ProblemType};
use ferrite_testkit::eab::{IssuedMacKey, new_credential_key, rekey};
use serde_json::Value;
use time::Duration;

/// `None` for success, or the problem type and a fragment of its detail.
type Refusal = Option<(ProblemType, &'static str)>;

#[tokio::test]
async fn contacts_are_checked() {
    bounded(async {
        let engine = Engine::start().await;
        let client = engine.account().await;
        let eleven: Vec<String> = (0..11)
            .map(|i| format!("mailto:a{i}@example.com"))
            .collect();
        let mailto = |s: &str| vec![s.to_owned()];
        // (case, contacts, None if accepted or the problem type and the detail's fragment)
        let cases: Vec<(&str, Vec<String>, Refusal)> = vec![
            ("one address", mailto("mailto:a@example.com"), None),
            ("none", vec![], None),
            ("ten", eleven[..10].to_vec(), None),
            (
                "eleven",
                eleven.clone(),
                Some((ProblemType::InvalidContact, "at most 10")),
            ),
            (
                "no address",
                mailto("mailto:"),
                Some((ProblemType::InvalidContact, "not a valid mailto: URL")),
            ),
            (
                "two @",
                mailto("mailto:a@b@example.com"),
                Some((ProblemType::InvalidContact, "not a valid mailto: URL")),
            ),
            (
                "header fields",
                mailto("mailto:a@example.com?subject=hi"),
                Some((ProblemType::InvalidContact, "no parameters")),
            ),
            (
                "two addresses in one URL",
                mailto("mailto:a@example.com,b@example.com"),
                Some((ProblemType::InvalidContact, "single address")),
            ),
            (
                "a single-label domain",
                mailto("mailto:a@localhost"),
                Some((ProblemType::InvalidContact, "not a valid mailto: URL")),
            ),
            (
                "tel:",
                mailto("tel:+15555550100"),
                Some((ProblemType::UnsupportedContact, "only mailto: URLs")),
            ),
            (
                "https:",
                mailto("https://example.com/me"),
                Some((ProblemType::UnsupportedContact, "only mailto: URLs")),
            ),
        ];
        for (case, contact, want) in cases {
            // At registration: a refusal creates nothing.
            let key = SigningKey::generate(Algorithm::ES256).unwrap();
            let payload = NewAccount {
                contact: Some(contact.clone()),
                ..NewAccount::default()
            };
            let registered = engine.new_account(&key, payload).await;
            // As an update of an existing account.
            let update = AccountUpdate {
                contact: Some(contact.clone()),
                status: None,
            };
            let updated = engine
                .ca
                .update_account(client.account.clone(), &client.account.id, update)
                .await;
            match want {
                None => {
                    assert_eq!(registered.unwrap().account.contact, contact, "{case}");
                    assert_eq!(updated.unwrap().contact, contact, "{case}");
                }
                Some((kind, detail)) => {
                    for (how, p) in [
                        ("newAccount", refused(case, registered)),
                        ("update", refused(case, updated)),
                    ] {
                        assert_problem(&format!("{case} ({how})"), &p, kind, Some(detail));
                    }
                    let only = NewAccount {
                        only_return_existing: Some(true),
                        ..NewAccount::default()
                    };
                    let p = refused(case, engine.new_account(&key, only).await);
                    assert_eq!(p.kind, ProblemType::AccountDoesNotExist, "{case}");
                }
            }
        }
    })
    .await;
}

#[tokio::test]
async fn new_account_and_deactivation() {
    bounded(async {
        let engine = Engine::start().await;
        let ca = &engine.ca;
        let client = engine.account().await;
        let only_existing = || NewAccount {
            only_return_existing: Some(true),
            ..NewAccount::default()
        };

        // §7.3: the same key again returns the account; §7.3.1: onlyReturnExisting finds it,
        // and for an unknown key is accountDoesNotExist.
        let again = engine
            .new_account(&client.key, NewAccount::default())
            .await
            .unwrap();
        assert!(!again.created);
        assert_eq!(again.account.id, client.account.id);
        let found = engine
            .new_account(&client.key, only_existing())
            .await
            .unwrap();
        assert_eq!(
            (found.created, found.account.id),
            (false, client.account.id.clone())
        );
        let stranger = SigningKey::generate(Algorithm::ES256).unwrap();
        let p = refused(
            "unknown key",
            engine.new_account(&stranger, only_existing()).await,
        );
        assert_problem(
            "unknown key",
            &p,
            ProblemType::AccountDoesNotExist,
            Some("no account exists for this key"),
        );
        let p = refused("unknown kid", ca.account_for_request("nope").await);
        assert_problem("unknown kid", &p, ProblemType::AccountDoesNotExist, None);

        // Only "deactivated" may be asked for.
        let update = |status: AccountStatus| AccountUpdate {
            contact: None,
            status: Some(status),
        };
        for status in [AccountStatus::Revoked, AccountStatus::Valid] {
            let case = status.as_str();
            let p = refused(
                case,
                ca.update_account(client.account.clone(), &client.account.id, update(status))
                    .await,
            );
            assert_problem(
                case,
                &p,
                ProblemType::Malformed,
                Some("can only be changed to \"deactivated\""),
            );
        }
        // An account changes only itself.
        let other = engine.account().await;
        let p = refused(
            "another account's URL",
            ca.update_account(
                client.account.clone(),
                &other.account.id,
                update(AccountStatus::Deactivated),
            )
            .await,
        );
        assert_problem(
            "another account's URL",
            &p,
            ProblemType::Unauthorized,
            Some("an account can only read or change itself"),
        );
        let other_now = ca.account_for_request(&other.account.id).await.unwrap();
        assert_eq!(other_now.status, AccountStatus::Valid);

        // §7.3.6: deactivation is final; every later use of the account is unauthorized.
        let deactivated = ca
            .update_account(
                client.account.clone(),
                &client.account.id,
                update(AccountStatus::Deactivated),
            )
            .await
            .unwrap();
        assert_eq!(deactivated.status, AccountStatus::Deactivated);
        let fresh = SigningKey::generate(Algorithm::ES256).unwrap();
        let cases: Vec<(&str, Result<(), CoreError>, &str)> = vec![
            (
                "a request signed by it",
                ca.account_for_request(&client.account.id).await.map(drop),
                "this account is deactivated",
            ),
            (
                "newAccount with its key",
                engine
                    .new_account(&client.key, NewAccount::default())
                    .await
                    .map(drop),
                "this account is deactivated",
            ),
            (
                "an update read before the deactivation",
                ca.update_account(
                    client.account.clone(),
                    &client.account.id,
                    update(AccountStatus::Deactivated),
                )
                .await
                .map(drop),
                "deactivated or its key changed by a concurrent request",
            ),
            (
                "a key change read before the deactivation",
                engine
                    .key_change(&client, &fresh, |_, _| {})
                    .await
                    .map(drop),
                "deactivated or its key changed by a concurrent request",
            ),
        ];
        for (case, result, detail) in cases {
            let p = refused(case, result);
            assert_problem(case, &p, ProblemType::Unauthorized, Some(detail));
        }
    })
    .await;
}

#[tokio::test]
async fn key_change_rules() {
    bounded(async {
        let engine = Engine::start().await;
        let ca = &engine.ca;
        let (a, b) = (engine.account().await, engine.account().await);
        let fresh = SigningKey::generate(Algorithm::EdDSA).unwrap();
        let b_url = format!("{ACCOUNT_URL_PREFIX}{}", b.account.id);
        let stranger = SigningKey::generate(Algorithm::EdDSA).unwrap();
        let stranger_jwk = stranger.public_jwk().to_json();

        type Tweak = Box<dyn FnOnce(&mut serde_json::Map<String, Value>, &mut Value)>;
        let none = || -> Tweak { Box::new(|_, _| {}) };
        // (case, new key, change to the inner JWS, refusal, detail fragment, key holder)
        type Case<'a> = (
            &'a str,
            &'a SigningKey,
            Tweak,
            ProblemType,
            &'a str,
            Option<&'a String>,
        );
        let cases: Vec<Case<'_>> = vec![
            (
                "the inner JWS has a nonce",
                &fresh,
                Box::new(|h, _| {
                    h.insert("nonce".into(), "abc".into());
                }),
                ProblemType::Malformed,
                "must not have a \"nonce\"",
                None,
            ),
            (
                "the inner url is not the outer url",
                &fresh,
                Box::new(|h, _| {
                    h.insert("url".into(), "https://ca.test/acme/new-order".into());
                }),
                ProblemType::Malformed,
                "must equal the outer JWS \"url\"",
                None,
            ),
            (
                "the inner JWS names the key by kid",
                &fresh,
                Box::new(|h, _| {
                    h.remove("jwk");
                    h.insert("kid".into(), "https://ca.test/acme/acct/x".into());
                }),
                ProblemType::Malformed,
                "must carry the new key in \"jwk\"",
                None,
            ),
            (
                "the inner jwk is not the key that signed",
                &fresh,
                Box::new(move |h, _| {
                    h.insert("jwk".into(), stranger_jwk);
                }),
                ProblemType::Malformed,
                "signature does not verify",
                None,
            ),
            (
                "the payload names another account",
                &fresh,
                Box::new(move |_, p| p["account"] = b_url.into()),
                ProblemType::Malformed,
                "must be the URL of the account signing the outer JWS",
                None,
            ),
            (
                "oldKey is another account's key",
                &fresh,
                {
                    let other = b.key.public_jwk().to_json();
                    Box::new(move |_, p| p["oldKey"] = other)
                },
                ProblemType::Unauthorized,
                "oldKey in the key change request is not this account's current key",
                None,
            ),
            (
                "the new key is another account's key",
                &b.key,
                none(),
                ProblemType::Malformed,
                "already used by another account",
                Some(&b.account.id),
            ),
            (
                "the new key is the account's current key",
                &a.key,
                none(),
                ProblemType::Malformed,
                "the new key is this account's current key",
                None,
            ),
        ];
        for (case, new, tweak, kind, detail, holder) in cases {
            let result = engine.key_change(&a, new, tweak).await;
            if let Err(CoreError::KeyInUse { account_id }) = &result {
                // §7.3.5: 409 with the holder's URL in Location (the HTTP layer adds it).
                assert_eq!(Some(account_id), holder, "{case}");
            } else {
                assert_eq!(holder, None, "{case}: {result:?}");
            }
            let p = refused(case, result);
            assert_problem(case, &p, kind, (!detail.is_empty()).then_some(detail));
            if holder.is_some() {
                assert_eq!(p.http_status(), 409, "{case}");
            }
        }

        // None of that changed A's key; a correct request does.
        let current = ca.account_for_request(&a.account.id).await.unwrap();
        assert_eq!(current.thumbprint, a.account.thumbprint);
        let changed = engine.key_change(&a, &fresh, |_, _| {}).await.unwrap();
        assert_eq!(changed.thumbprint, fresh.public_jwk().thumbprint());
        let current = ca.account_for_request(&a.account.id).await.unwrap();
        assert_eq!(
            (current.thumbprint, current.jwk),
            (changed.thumbprint, changed.jwk)
        );
        // The new key finds the account; the old one is free for a new account.
        let found = engine
            .new_account(&fresh, NewAccount::default())
            .await
            .unwrap();
        assert_eq!(
            (found.created, found.account.id),
            (false, a.account.id.clone())
        );
        let reused = engine
            .new_account(&a.key, NewAccount::default())
            .await
            .unwrap();
        assert!(reused.created);
        assert_ne!(reused.account.id, a.account.id);
    })
    .await;
}

#[tokio::test]
async fn external_account_binding_refusals() {
    bounded(async {
        let engine = Engine::start_with(CaConfig {
            eab_required: true,
            eab: EabSettings {
                max_bindings: 1,
                ..EabSettings::default()
            },
            ..CaConfig::default()
        })
        .await;
        let eab = engine.ca.eab();
        let customer = eab.create_customer("corp").await.unwrap();
        let good = new_credential_key(&engine.ca, &customer.id).await;
        // A key replaced by a newer one of its credential.
        let old = new_credential_key(&engine.ca, &customer.id).await;
        rekey(&engine.ca, &old.credential_id).await;
        // A key of a disabled credential.
        let off = new_credential_key(&engine.ca, &customer.id).await;
        eab.disable_credential(&off.credential_id, None)
            .await
            .unwrap();
        // A key that bound its one account.
        let used = new_credential_key(&engine.ca, &customer.id).await;
        let first = SigningKey::generate(Algorithm::ES256).unwrap();
        let bound = NewAccount {
            external_account_binding: Some(used.binding(NEW_ACCOUNT_URL, &first)),
            ..NewAccount::default()
        };
        engine.new_account(&first, bound).await.unwrap();

        let other = SigningKey::generate(Algorithm::ES256).unwrap();
        let key = SigningKey::generate(Algorithm::ES256).unwrap();
        let unknown_kid = IssuedMacKey {
            kid: "no-such-kid".to_owned(),
            ..good.clone()
        };
        let wrong_hmac = IssuedMacKey {
            hmac: old.hmac.clone(),
            ..good.clone()
        };
        let unauthorized = ProblemType::Unauthorized;
        // (case, the binding sent, the refusal and the detail's fragment)
        let cases: Vec<(&str, Option<serde_json::Value>, ProblemType, &str)> = vec![
            (
                "no binding",
                None,
                ProblemType::ExternalAccountRequired,
                "requires an external account binding",
            ),
            (
                "not a JWS",
                Some(serde_json::json!({"protected": "x"})),
                ProblemType::Malformed,
                "invalid externalAccountBinding",
            ),
            (
                "an unknown kid",
                Some(unknown_kid.binding(NEW_ACCOUNT_URL, &key)),
                unauthorized,
                "unknown EAB key id \"no-such-kid\"",
            ),
            (
                "the wrong HMAC key",
                Some(wrong_hmac.binding(NEW_ACCOUNT_URL, &key)),
                unauthorized,
                "does not verify with that key id's HMAC key",
            ),
            (
                "another URL",
                Some(good.binding("https://ca.test/acme/new-order", &key)),
                ProblemType::Malformed,
                "invalid externalAccountBinding",
            ),
            (
                "another account key",
                Some(good.binding(NEW_ACCOUNT_URL, &other)),
                ProblemType::Malformed,
                "invalid externalAccountBinding",
            ),
            (
                "a key replaced by a newer one",
                Some(old.binding(NEW_ACCOUNT_URL, &key)),
                unauthorized,
                "is disabled (a newer MAC key was created",
            ),
            (
                "a key of a disabled credential",
                Some(off.binding(NEW_ACCOUNT_URL, &key)),
                unauthorized,
                "the API credential of EAB MAC key",
            ),
            (
                "a key that bound its maximum",
                Some(used.binding(NEW_ACCOUNT_URL, &key)),
                unauthorized,
                "is exhausted: it has bound its maximum of 1 accounts",
            ),
        ];
        for (case, eab, kind, detail) in cases {
            let payload = NewAccount {
                external_account_binding: eab,
                ..NewAccount::default()
            };
            let p = refused(case, engine.new_account(&key, payload).await);
            assert_problem(case, &p, kind, Some(detail));
        }

        // A key past its lifetime; the same binding was good the moment before.
        engine
            .clock
            .advance(EabSettings::default().mac_key_lifetime);
        let payload = NewAccount {
            external_account_binding: Some(good.binding(NEW_ACCOUNT_URL, &key)),
            ..NewAccount::default()
        };
        let p = refused("expired", engine.new_account(&key, payload).await);
        assert_problem("expired", &p, unauthorized, Some("expired at"));
        engine.clock.advance(-Duration::seconds(1));
        let payload = NewAccount {
            external_account_binding: Some(good.binding(NEW_ACCOUNT_URL, &key)),
            ..NewAccount::default()
        };
        let created = engine.new_account(&key, payload).await.unwrap();
        assert_eq!(created.account.customer_id, Some(customer.id));
    })
    .await;
}
