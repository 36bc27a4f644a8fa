//! CAA end to end (RFC 8659, RFC 8657) through a whole `TestCa` and hand-signed requests.
//!
//! Where the refusal shows: CAA is checked as soon as a validation succeeds, so a name whose
//! records forbid this CA gets an `invalid` authorization whose challenge error is `caa`
//! (the client learns before it sends a CSR, as with Let's Encrypt). Finalize checks again
//! when that check is older than 8 hours and then refuses with a `caa` problem, leaving the
//! order `ready`. Time moves with a `TestClock`; only 127.0.0.1 is contacted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferrite_testkit::{assert_problem, bounded, challenge};
use std::sync::Arc;

use ferrite_core::TestClock;
use ferrite_jose::Algorithm;
use ferrite_jose::sign::SigningKey;
use ferrite_testkit::ca::csr_der;
use ferrite_testkit::eab::new_customer_key;
use ferrite_testkit::{RawAccount, RawClient, RawResponse, TestCa, TestCaOptions};
use serde_json::{Value, json};
use time::OffsetDateTime;

const CAA_IDENTITY: &str = "ferrite.test";

/// A CA whose CAA identity is [`CAA_IDENTITY`], requiring EAB when `eab_required`, with a
/// movable clock.
async fn start_with(eab_required: bool) -> (TestCa, Arc<TestClock>) {
    let clock = Arc::new(TestClock::new(OffsetDateTime::now_utc()));
    let mut options = TestCaOptions {
        clock: clock.clone(),
        ..TestCaOptions::default()
    };
    options.config.validation.caa_identities = vec![CAA_IDENTITY.to_owned()];
    options.config.eab.required = eab_required;
    (TestCa::start_with(options).await, clock)
}

async fn start() -> (TestCa, Arc<TestClock>) {
    start_with(false).await
}

/// Registers `n` ACME accounts bound through EAB to one new customer.
async fn customer_accounts(ca: &TestCa, raw: &RawClient, n: usize) -> Vec<RawAccount> {
    let mac = new_customer_key(&ca.ca, "caa-customer").await;
    let mut accounts = Vec::new();
    for _ in 0..n {
        let key = SigningKey::generate(Algorithm::ES256).unwrap();
        let url = raw.url("/acme/new-account");
        let binding = mac.binding(&url, &key);
        let payload = json!({"termsOfServiceAgreed": true, "externalAccountBinding": binding});
        let r = raw.post(&key, None, &url, Some(&payload)).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let kid = r.header("location").unwrap();
        accounts.push(RawAccount { key, kid });
    }
    accounts
}

/// The one challenge of `authz` that decided it (a valid or invalid authorization shows
/// only that one).
fn decided_challenge(authz: &Value) -> &Value {
    let challenges = authz["challenges"].as_array().expect("challenges");
    challenges
        .iter()
        .find(|c| c["status"] != "pending")
        .unwrap_or_else(|| panic!("no decided challenge in {authz}"))
}

/// Validates the single authorization of a new order for `name` by http-01; returns the
/// order URL, the order and the authorization as it ended.
async fn order_validated_http01(
    ca: &TestCa,
    raw: &RawClient,
    a: &RawAccount,
    name: &str,
) -> (String, Value, Value) {
    let (order_url, order) = ca.raw_new_order(raw, a, &[name]).await;
    let authz_url = order["authorizations"][0].as_str().unwrap().to_owned();
    let authz = ca.raw_validate_http01(raw, a, &authz_url).await;
    (order_url, order, authz)
}

/// Validates the single authorization of `order` by dns-01 through the mock DNS.
async fn validate_dns01(ca: &TestCa, raw: &RawClient, a: &RawAccount, order: &Value) -> Value {
    let authz_url = order["authorizations"][0].as_str().unwrap();
    let authz = raw.post_as_get(&a.key, &a.kid, authz_url).await.json();
    let challenge = challenge(&authz, "dns-01");
    let token = challenge["token"].as_str().unwrap();
    let base = authz["identifier"]["value"].as_str().unwrap();
    ca.dns.set_txt(
        &format!("_acme-challenge.{base}"),
        vec![ferrite_va::dns01_txt_value(&a.key_authorization(token))],
    );
    let r = raw
        .post(
            &a.key,
            Some(&a.kid),
            challenge["url"].as_str().unwrap(),
            Some(&json!({})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    raw.poll(&a.key, &a.kid, authz_url, |z| z["status"] != "pending")
        .await
}

async fn finalize(ca: &TestCa, raw: &RawClient, a: &RawAccount, order: &Value) -> RawResponse {
    let names: Vec<&str> = order["identifiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["value"].as_str().unwrap())
        .collect();
    let key = rcgen::KeyPair::generate().unwrap();
    ca.raw_finalize(raw, a, order, &csr_der(&names, &key)).await
}

async fn order_status(raw: &RawClient, a: &RawAccount, order_url: &str) -> Value {
    raw.post_as_get(&a.key, &a.kid, order_url).await.json()
}

fn caa_queries(ca: &TestCa) -> usize {
    ca.dns
        .queries()
        .iter()
        .filter(|q| q.starts_with("CAA "))
        .count()
}

#[track_caller]
fn assert_caa_failure(authz: &Value, needle: &str) {
    assert_eq!(authz["status"], "invalid", "{authz}");
    let error = &decided_challenge(authz)["error"];
    assert_eq!(error["type"], "urn:ietf:params:acme:error:caa", "{authz}");
    let detail = error["detail"].as_str().unwrap();
    assert!(detail.contains(needle), "{detail}");
}

#[tokio::test]
async fn directory_shows_the_configured_caa_identities() {
    bounded(async {
        let (ca, _) = start().await;
        let r = ca
            .raw()
            .send("GET", &ca.directory_url, None, Vec::new())
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["meta"]["caaIdentities"], json!([CAA_IDENTITY]));
    })
    .await;
}

#[tokio::test]
async fn issue_record_naming_this_ca_allows_and_the_check_is_kept() {
    bounded(async {
        let (ca, _) = start().await;
        ca.dns.add_caa("example.com", 0, "issue", CAA_IDENTITY);
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let issued = ca.raw_issue(&raw, &a, &["www.example.com"]).await;
        assert!(!issued.leaf_der.is_empty());
        // The evidence of the check is kept with the authorization (the challenge record).
        let stored = ca
            .ca
            .store()
            .order(issued.order_url.rsplit('/').next().unwrap())
            .await
            .unwrap()
            .unwrap();
        let authz = ca
            .ca
            .store()
            .authorization(&stored.authorization_ids[0])
            .await
            .unwrap()
            .unwrap();
        let record = authz
            .challenges
            .iter()
            .find_map(|c| c.record.clone())
            .unwrap();
        assert_eq!(record["caa"]["found_at"], "example.com", "{record}");
        assert_eq!(
            record["caa"]["records"],
            json!(["0 issue \"ferrite.test\""])
        );
        assert!(record["caa"]["checked_at"].is_string(), "{record}");
    })
    .await;
}

#[tokio::test]
async fn issue_record_for_another_ca_fails_the_validation_with_caa() {
    bounded(async {
        let (ca, _) = start().await;
        ca.dns
            .add_caa("example.com", 0, "issue", "other-ca.example");
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let (order_url, _, authz) = order_validated_http01(&ca, &raw, &a, "www.example.com").await;
        assert_caa_failure(&authz, "0 issue \"other-ca.example\"");
        assert_caa_failure(&authz, "at example.com");
        let order = order_status(&raw, &a, &order_url).await;
        assert_eq!(order["status"], "invalid", "{order}");
    })
    .await;
}

#[tokio::test]
async fn empty_issuer_and_unknown_critical_tags_forbid() {
    bounded(async {
        let (ca, _) = start().await;
        ca.dns.add_caa("nobody.example", 0, "issue", ";");
        ca.dns.add_caa("critical.example", 0, "issue", CAA_IDENTITY);
        ca.dns
            .add_caa("critical.example", 128, "tbs", "must understand");
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let (_, _, authz) = order_validated_http01(&ca, &raw, &a, "nobody.example").await;
        assert_caa_failure(&authz, "forbids every CA");
        let (_, _, authz) = order_validated_http01(&ca, &raw, &a, "critical.example").await;
        assert_caa_failure(&authz, "128 tbs \"must understand\"");
    })
    .await;
}

#[tokio::test]
async fn accounturi_allows_only_the_named_account() {
    bounded(async {
        let (ca, _) = start().await;
        let raw = ca.raw();
        let owner = RawAccount::register(&raw, Algorithm::ES256).await;
        let other = RawAccount::register(&raw, Algorithm::ES256).await;
        // The account URL as the client sees it (the newAccount Location).
        ca.dns.add_caa(
            "example.com",
            0,
            "issue",
            &format!("{CAA_IDENTITY}; accounturi={}", owner.kid),
        );
        ca.raw_issue(&raw, &owner, &["example.com"]).await;
        let (_, _, authz) = order_validated_http01(&ca, &raw, &other, "example.com").await;
        assert_caa_failure(&authz, &owner.kid);
        assert_caa_failure(&authz, &other.kid);
    })
    .await;
}

#[tokio::test]
async fn validationmethods_must_include_the_method_used() {
    bounded(async {
        let (ca, _) = start().await;
        ca.dns.add_caa(
            "example.com",
            0,
            "issue",
            &format!("{CAA_IDENTITY}; validationmethods=dns-01"),
        );
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let (_, _, authz) = order_validated_http01(&ca, &raw, &a, "www.example.com").await;
        assert_caa_failure(&authz, "validated with http-01");

        let (order_url, order) = ca.raw_new_order(&raw, &a, &["api.example.com"]).await;
        let authz = validate_dns01(&ca, &raw, &a, &order).await;
        assert_eq!(authz["status"], "valid", "{authz}");
        let r = finalize(&ca, &raw, &a, &order).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let order = order_status(&raw, &a, &order_url).await;
        assert_eq!(order["status"], "valid", "{order}");
    })
    .await;
}

#[tokio::test]
async fn wildcards_are_checked_against_issuewild() {
    bounded(async {
        let (ca, _) = start().await;
        ca.dns.add_caa("example.com", 0, "issue", CAA_IDENTITY);
        ca.dns
            .add_caa("example.com", 0, "issuewild", "other-ca.example");
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let (_, order) = ca.raw_new_order(&raw, &a, &["*.example.com"]).await;
        let authz = validate_dns01(&ca, &raw, &a, &order).await;
        assert_caa_failure(&authz, "0 issuewild \"other-ca.example\"");
        assert_caa_failure(&authz, "*.example.com");
    })
    .await;
}

#[tokio::test]
async fn a_caa_lookup_failure_fails_the_validation_with_dns() {
    bounded(async {
        let (ca, _) = start().await;
        // The name itself resolves (http-01 succeeds); its parent's CAA lookup fails.
        ca.dns.set_servfail("example.com");
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let (_, _, authz) = order_validated_http01(&ca, &raw, &a, "www.example.com").await;
        assert_eq!(authz["status"], "invalid", "{authz}");
        let error = &decided_challenge(&authz)["error"];
        assert_eq!(error["type"], "urn:ietf:params:acme:error:dns", "{authz}");
        assert!(error["detail"].as_str().unwrap().contains("CAA"), "{authz}");
    })
    .await;
}

#[tokio::test]
async fn finalize_rechecks_caa_older_than_8_hours() {
    bounded(async {
        let (ca, clock) = start().await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let (order_url, order) = ca.raw_ready_order(&raw, &a, &["www.example.com"]).await;

        // The records change after validation; 9 hours later finalize sees them.
        ca.dns
            .add_caa("example.com", 0, "issue", "other-ca.example");
        clock.advance(time::Duration::hours(9));
        let r = finalize(&ca, &raw, &a, &order).await;
        assert_problem(&r, 400, "caa");
        let problem = r.json();
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains("0 issue \"other-ca.example\"") && detail.contains("at example.com"),
            "{detail}"
        );
        assert_eq!(
            problem["identifier"]["value"], "www.example.com",
            "{problem}"
        );
        // The order stays ready: once the records allow it, finalize succeeds.
        assert_eq!(order_status(&raw, &a, &order_url).await["status"], "ready");
        ca.dns.clear_caa("example.com");
        ca.dns.add_caa("example.com", 0, "issue", CAA_IDENTITY);
        let r = finalize(&ca, &raw, &a, &order).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

        // Both checks are in the audit log, with what they saw, under the order.
        let rechecks = ca.audit_events("caa_rechecked").await;
        assert_eq!(rechecks.len(), 2, "{rechecks:?}");
        for (subject, _) in &rechecks {
            assert!(order_url.ends_with(&format!("/{subject}")), "{subject}");
        }
        let (refused, allowed) = (&rechecks[0].1, &rechecks[1].1);
        assert_eq!(refused["outcome"], "refused", "{refused}");
        assert_eq!(refused["problem"]["type"], "urn:ietf:params:acme:error:caa");
        assert_eq!(refused["caa"]["domain"], "www.example.com", "{refused}");
        assert_eq!(refused["caa"]["found_at"], "example.com", "{refused}");
        assert!(
            refused["caa"]["records"]
                .to_string()
                .contains("other-ca.example")
        );
        assert_eq!(allowed["outcome"], "allowed", "{allowed}");
        assert!(allowed["problem"].is_null(), "{allowed}");
        assert!(allowed["caa"]["records"].to_string().contains(CAA_IDENTITY));
    })
    .await;
}

#[tokio::test]
async fn finalize_within_8_hours_uses_the_check_made_at_validation() {
    bounded(async {
        let (ca, clock) = start().await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let (order_url, order) = ca.raw_ready_order(&raw, &a, &["www.example.com"]).await;
        let before = caa_queries(&ca);
        assert!(before > 0, "validation must have checked CAA");
        clock.advance(time::Duration::hours(7));
        let r = finalize(&ca, &raw, &a, &order).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(caa_queries(&ca), before, "no CAA lookup within 8 hours");
        assert!(ca.audit_events("caa_rechecked").await.is_empty());
        assert_eq!(order_status(&raw, &a, &order_url).await["status"], "valid");
    })
    .await;
}

#[tokio::test]
async fn reused_validations_are_checked_for_the_new_name_and_account_at_finalize() {
    bounded(async {
        let (ca, _) = start_with(true).await;
        let raw = ca.raw();
        let accounts = customer_accounts(&ca, &raw, 2).await;
        let (first, second) = (&accounts[0], &accounts[1]);
        ca.dns.add_caa(
            "example.com",
            0,
            "issue",
            &format!("{CAA_IDENTITY}; accounturi={}", first.kid),
        );
        ca.dns
            .add_caa("blocked.example.com", 0, "issue", "other-ca.example");
        let (_, order) = ca.raw_new_order(&raw, first, &["example.com"]).await;
        let authz = validate_dns01(&ca, &raw, first, &order).await;
        assert_eq!(authz["status"], "valid", "{authz}");

        // dns-01 of example.com covers its subdomains: the new order is ready at once, but
        // the subdomain's own CAA records forbid this CA, and finalize checks them.
        let (order_url, order) = ca
            .raw_new_order(&raw, first, &["blocked.example.com"])
            .await;
        assert_eq!(order["status"], "ready", "{order}");
        let r = finalize(&ca, &raw, first, &order).await;
        assert_problem(&r, 400, "caa");
        assert!(
            r.json()["detail"]
                .as_str()
                .unwrap()
                .contains("at blocked.example.com"),
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(
            order_status(&raw, first, &order_url).await["status"],
            "ready"
        );

        // Another account of the customer reuses the validation of example.com, but the
        // record's accounturi names the first account only.
        let (_, order) = ca.raw_new_order(&raw, second, &["example.com"]).await;
        assert_eq!(order["status"], "ready", "{order}");
        let r = finalize(&ca, &raw, second, &order).await;
        assert_problem(&r, 400, "caa");
        let detail = r.json()["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains(&second.kid), "{detail}");

        // The first account itself may still issue for example.com.
        let (_, order) = ca.raw_new_order(&raw, first, &["example.com"]).await;
        let r = finalize(&ca, &raw, first, &order).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    })
    .await;
}
