//! External account binding end to end (RFC 8555 §7.3.4) against a whole CA on 127.0.0.1:
//! every rule of the binding model as a client sees it (status, problem type, detail), the
//! 30-day expiry with a moved clock, and 1,100 parallel newAccounts on a 1,000-binding key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferrite_testkit::bounded;
use std::sync::Arc;
use std::time::Duration;

use ferrite_core::TestClock;
use ferrite_core::model::Scope;
use ferrite_jose::Algorithm;
use ferrite_jose::sign::{SigningKey, external_account_binding};
use ferrite_testkit::eab::{IssuedMacKey as Issued, new_customer_key, rekey};
use ferrite_testkit::{RawClient, RawResponse, TestCa, TestCaOptions};
use serde_json::{Value, json};

/// A CA that requires EAB, with MAC keys binding at most `max_bindings` accounts (the
/// default: 1000) and a movable clock.
async fn start(max_bindings: Option<u32>) -> (TestCa, Arc<TestClock>) {
    let clock = Arc::new(TestClock::new(time::OffsetDateTime::now_utc()));
    let mut options = TestCaOptions {
        clock: clock.clone(),
        ..TestCaOptions::default()
    };
    options.config.eab.required = true;
    if let Some(max) = max_bindings {
        options.config.eab.max_bindings = max;
    }
    let ca = TestCa::start_with(options).await;
    (ca, clock)
}

fn eab_for(raw: &RawClient, alg: Algorithm, issued: &Issued, key: &SigningKey) -> Value {
    external_account_binding(
        alg,
        &issued.kid,
        &issued.hmac,
        &raw.url("/acme/new-account"),
        &key.public_jwk(),
    )
    .unwrap()
}

async fn new_account(raw: &RawClient, key: &SigningKey, eab: Option<Value>) -> RawResponse {
    let mut payload = json!({"termsOfServiceAgreed": true, "contact": ["mailto:ops@example.com"]});
    if let Some(eab) = eab {
        payload["externalAccountBinding"] = eab;
    }
    bounded(raw.post(key, None, &raw.url("/acme/new-account"), Some(&payload))).await
}

fn es256() -> SigningKey {
    SigningKey::generate(Algorithm::ES256).unwrap()
}

/// Asserts an `unauthorized` problem whose detail contains every one of `words`.
fn assert_problem(r: &RawResponse, status: u16, kind: &str, words: &[&str]) {
    let body = String::from_utf8_lossy(&r.body).into_owned();
    assert_eq!(r.status, status, "{body}");
    assert_eq!(r.problem_type(), kind, "{body}");
    let detail = r.json()["detail"].as_str().unwrap_or_default().to_owned();
    for w in words {
        assert!(detail.contains(w), "detail {detail:?} lacks {w:?}");
    }
}

async fn bindings_used(ca: &TestCa, kid: &str) -> u32 {
    ca.ca
        .store()
        .mac_key(kid)
        .await
        .unwrap()
        .unwrap()
        .bindings_used
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eab_is_required_and_advertised() {
    let (ca, _) = start(None).await;
    let raw = RawClient::new(&ca.base_url, &ca.root_pem);
    let dir = bounded(raw.send("GET", &raw.url("/directory"), None, Vec::new())).await;
    assert_eq!(dir.json()["meta"]["externalAccountRequired"], true);
    let r = new_account(&raw, &es256(), None).await;
    assert_problem(&r, 400, "externalAccountRequired", &["--eab-kid"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hs256_hs384_hs512_bind_accounts_to_the_customer() {
    let (ca, _) = start(None).await;
    let raw = RawClient::new(&ca.base_url, &ca.root_pem);
    let issued = new_customer_key(&ca.ca, "example-corp").await;
    let mut urls = Vec::new();
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        let key = es256();
        let r = new_account(&raw, &key, Some(eab_for(&raw, alg, &issued, &key))).await;
        assert_eq!(
            r.status,
            201,
            "{alg:?}: {}",
            String::from_utf8_lossy(&r.body)
        );
        urls.push(r.header("location").unwrap());
    }
    let customer = ca.ca.eab().customer_by_name("example-corp").await.unwrap();
    for url in &urls {
        let id = url.rsplit('/').next().unwrap();
        let account = ca.ca.store().account(id).await.unwrap().unwrap();
        assert_eq!(account.customer_id.as_deref(), Some(customer.id.as_str()));
        assert_eq!(account.eab_kid.as_deref(), Some(issued.kid.as_str()));
    }
    let keys = ca
        .ca
        .eab()
        .mac_keys(&Scope::Credential(issued.credential_id.clone()))
        .await
        .unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(
        (
            keys[0].status,
            keys[0].bindings_used,
            keys[0].bindings_remaining
        ),
        ("active", 3, 997)
    );
    let accounts = ca
        .ca
        .eab()
        .accounts(&Scope::Credential(issued.credential_id))
        .await
        .unwrap();
    assert_eq!(accounts.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_key_gets_its_account_without_consuming_the_key() {
    let (ca, _) = start(None).await;
    let raw = RawClient::new(&ca.base_url, &ca.root_pem);
    let issued = new_customer_key(&ca.ca, "example-corp").await;
    let key = es256();
    let first = new_account(
        &raw,
        &key,
        Some(eab_for(&raw, Algorithm::HS256, &issued, &key)),
    )
    .await;
    assert_eq!(first.status, 201);
    // Same key again: with the EAB, without it, and with one for an unknown kid.
    let again = new_account(
        &raw,
        &key,
        Some(eab_for(&raw, Algorithm::HS256, &issued, &key)),
    )
    .await;
    let bare = new_account(&raw, &key, None).await;
    let bogus = Issued {
        credential_id: String::new(),
        kid: "no-such-kid".into(),
        hmac: vec![0; 32],
    };
    let junk = new_account(
        &raw,
        &key,
        Some(eab_for(&raw, Algorithm::HS256, &bogus, &key)),
    )
    .await;
    for r in [&again, &bare, &junk] {
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.header("location"), first.header("location"));
    }
    assert_eq!(bindings_used(&ca, &issued.kid).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_binding_rule_has_its_own_error_and_consumes_nothing() {
    let (ca, _) = start(None).await;
    let raw = RawClient::new(&ca.base_url, &ca.root_pem);
    let issued = new_customer_key(&ca.ca, "example-corp").await;
    let key = es256();

    // Unknown kid.
    let unknown = Issued {
        credential_id: String::new(),
        kid: "no-such-kid".into(),
        hmac: issued.hmac.clone(),
    };
    let r = new_account(
        &raw,
        &key,
        Some(eab_for(&raw, Algorithm::HS256, &unknown, &key)),
    )
    .await;
    assert_problem(
        &r,
        403,
        "unauthorized",
        &["unknown EAB key id", "create a new MAC key"],
    );

    // Wrong HMAC key.
    let wrong = Issued {
        credential_id: String::new(),
        kid: issued.kid.clone(),
        hmac: vec![7; 32],
    };
    let r = new_account(
        &raw,
        &key,
        Some(eab_for(&raw, Algorithm::HS256, &wrong, &key)),
    )
    .await;
    assert_problem(&r, 403, "unauthorized", &["MAC does not verify"]);

    // Inner url differs from the outer url.
    let eab = external_account_binding(
        Algorithm::HS256,
        &issued.kid,
        &issued.hmac,
        &raw.url("/acme/new-order"),
        &key.public_jwk(),
    )
    .unwrap();
    let r = new_account(&raw, &key, Some(eab)).await;
    assert_problem(&r, 400, "malformed", &["url"]);

    // Inner payload is another key than the outer jwk.
    let other = es256();
    let r = new_account(
        &raw,
        &key,
        Some(eab_for(&raw, Algorithm::HS256, &issued, &other)),
    )
    .await;
    assert_problem(&r, 400, "malformed", &["public key"]);

    // Not a MAC algorithm: the inner JWS signed like a request.
    let inner = key
        .sign(
            None,
            None,
            &raw.url("/acme/new-account"),
            Some(&key.public_jwk().to_json()),
        )
        .unwrap();
    let r = new_account(&raw, &key, Some(inner)).await;
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.problem_type(), "malformed");

    // A valid binding in a newAccount that fails for another reason (bad contact).
    let mut payload = json!({
        "contact": ["mailto:not an address"],
        "externalAccountBinding": eab_for(&raw, Algorithm::HS256, &issued, &key),
    });
    payload["termsOfServiceAgreed"] = json!(true);
    let r = bounded(raw.post(&key, None, &raw.url("/acme/new-account"), Some(&payload))).await;
    assert_eq!(r.problem_type(), "invalidContact");

    assert_eq!(bindings_used(&ca, &issued.kid).await, 0);
    assert!(
        ca.ca
            .store()
            .account_by_thumbprint(&key.public_jwk().thumbprint())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_expired_exhausted_and_credential_disabled_are_named() {
    let (ca, clock) = start(Some(1)).await;
    let raw = RawClient::new(&ca.base_url, &ca.root_pem);
    let first = new_customer_key(&ca.ca, "example-corp").await;
    let key = es256();
    let r = new_account(
        &raw,
        &key,
        Some(eab_for(&raw, Algorithm::HS256, &first, &key)),
    )
    .await;
    assert_eq!(r.status, 201);

    // Exhausted: its one binding is used.
    let key = es256();
    let r = new_account(
        &raw,
        &key,
        Some(eab_for(&raw, Algorithm::HS256, &first, &key)),
    )
    .await;
    assert_problem(
        &r,
        403,
        "unauthorized",
        &["exhausted", "create a new MAC key"],
    );

    // Disabled: a newer key was made for the credential.
    let second = rekey(&ca.ca, &first.credential_id).await;
    let r = new_account(
        &raw,
        &key,
        Some(eab_for(&raw, Algorithm::HS256, &first, &key)),
    )
    .await;
    assert_problem(
        &r,
        403,
        "unauthorized",
        &["disabled", "newer MAC key", "create a new MAC key"],
    );
    let views = ca
        .ca
        .eab()
        .mac_keys(&Scope::Credential(first.credential_id.clone()))
        .await
        .unwrap();
    let statuses: Vec<_> = views.iter().map(|k| k.status).collect();
    assert_eq!(statuses, ["disabled", "active"]);

    // Expired: 30 days later the new key binds nothing.
    clock.advance(time::Duration::days(30));
    let r = new_account(
        &raw,
        &key,
        Some(eab_for(&raw, Algorithm::HS256, &second, &key)),
    )
    .await;
    assert_problem(
        &r,
        403,
        "unauthorized",
        &["expired", "create a new MAC key"],
    );
    let views = ca
        .ca
        .eab()
        .mac_keys(&Scope::Credential(first.credential_id.clone()))
        .await
        .unwrap();
    assert_eq!(views[1].status, "expired");

    // A fresh key works, until its credential is disabled.
    let third = rekey(&ca.ca, &first.credential_id).await;
    ca.ca
        .eab()
        .disable_credential(&first.credential_id, None)
        .await
        .unwrap();
    let r = new_account(
        &raw,
        &key,
        Some(eab_for(&raw, Algorithm::HS256, &third, &key)),
    )
    .await;
    assert_problem(&r, 403, "unauthorized", &["credential", "disabled"]);
    assert_eq!(bindings_used(&ca, &second.kid).await, 0);
    assert_eq!(bindings_used(&ca, &third.kid).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instant_acme_registers_with_eab() {
    let (ca, _) = start(None).await;
    let issued = new_customer_key(&ca.ca, "example-corp").await;
    let eab = instant_acme::ExternalAccountKey::new(issued.kid.clone(), &issued.hmac);
    let (account, _) = bounded(ca.acme_builder().create(
        &instant_acme::NewAccount {
            contact: &["mailto:ops@example.com"],
            terms_of_service_agreed: true,
            only_return_existing: false,
        },
        ca.directory_url.clone(),
        Some(&eab),
    ))
    .await
    .expect("instant-acme newAccount with EAB");
    let stored = ca
        .ca
        .store()
        .account(account.id().rsplit('/').next().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.eab_kid.as_deref(), Some(issued.kid.as_str()));
    assert_eq!(bindings_used(&ca, &issued.kid).await, 1);
}

/// 1,100 newAccount requests at once, over HTTPS, on one MAC key limited to 1,000 bindings:
/// exactly 1,000 accounts, every other request gets the exhausted error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_new_accounts_stop_at_the_binding_limit() {
    const RACERS: usize = 1_100;
    const LIMIT: u32 = 1_000;
    let (ca, _) = start(Some(LIMIT)).await;
    let raw = RawClient::new(&ca.base_url, &ca.root_pem);
    let issued = Arc::new(new_customer_key(&ca.ca, "example-corp").await);
    let mut tasks = Vec::with_capacity(RACERS);
    for _ in 0..RACERS {
        let raw = raw.clone();
        let issued = issued.clone();
        tasks.push(tokio::spawn(async move {
            let key = es256();
            let eab = eab_for(&raw, Algorithm::HS256, &issued, &key);
            new_account(&raw, &key, Some(eab)).await
        }));
    }
    let (mut created, mut exhausted) = (0, 0);
    for task in tasks {
        let r = tokio::time::timeout(Duration::from_secs(240), task)
            .await
            .expect("parallel newAccount timed out")
            .unwrap();
        match r.status {
            201 => created += 1,
            403 if r.problem_type() == "unauthorized"
                && r.json()["detail"].as_str().unwrap().contains("exhausted") =>
            {
                exhausted += 1
            }
            _ => panic!(
                "unexpected answer {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ),
        }
    }
    assert_eq!(
        (created, exhausted),
        (LIMIT as usize, RACERS - LIMIT as usize)
    );
    assert_eq!(bindings_used(&ca, &issued.kid).await, LIMIT);
    let accounts = ca
        .ca
        .eab()
        .accounts(&Scope::Credential(issued.credential_id.clone()))
        .await
        .unwrap();
    assert_eq!(accounts.len(), LIMIT as usize);
}
