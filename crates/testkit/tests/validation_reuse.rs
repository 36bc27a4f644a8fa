//! Validation reuse end to end (RFC 8555 §7.1.4, BR §4.2.1, §3.2.2.4.7): validations belong to
//! the customer; a dns-01 validation of a domain authorizes its subdomains and wildcards for
//! every account of that customer and for nobody else; http-01 authorizes exactly its name; the
//! reuse window follows the CA/B Forum table and the operator's shorter limit, moved with a
//! `TestClock`. Also the identifier policy (`rejectedIdentifier` with subproblems).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferrite_testkit::bounded;
use std::sync::Arc;

use ferrite_app::Config;
use ferrite_core::TestClock;
use ferrite_core::model::Scope;
use ferrite_jose::Algorithm;
use ferrite_jose::sign::SigningKey;
use ferrite_testkit::eab::new_customer_key;
use ferrite_testkit::{RawAccount, RawClient, RawResponse, TestCa, TestCaOptions, challenge};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// A CA requiring EAB, with `config` and a clock standing at `start`.
async fn start(mut config: Config, start: OffsetDateTime) -> (TestCa, Arc<TestClock>) {
    let clock = Arc::new(TestClock::new(start));
    config.eab.required = true;
    let ca = TestCa::start_with(TestCaOptions {
        config,
        clock: clock.clone(),
        ..TestCaOptions::default()
    })
    .await;
    (ca, clock)
}

/// The testkit's default configuration.
fn defaults() -> Config {
    TestCaOptions::default().config
}

/// Creates customer `name` and registers `n` ACME accounts bound to it through EAB.
async fn customer_accounts(ca: &TestCa, raw: &RawClient, name: &str, n: usize) -> Vec<RawAccount> {
    let mac = new_customer_key(&ca.ca, name).await;
    let mut accounts = Vec::new();
    for _ in 0..n {
        let key = SigningKey::generate(Algorithm::ES256).unwrap();
        let binding = mac.binding(&raw.url("/acme/new-account"), &key);
        let r = raw
            .post(
                &key,
                None,
                &raw.url("/acme/new-account"),
                Some(&json!({"termsOfServiceAgreed": true, "externalAccountBinding": binding})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let kid = r.header("location").unwrap();
        accounts.push(RawAccount { key, kid });
    }
    accounts
}

/// Answers the dns-01 challenge of the order's only authorization through the mock DNS and
/// waits for the result; returns the authorization.
async fn validate_dns01(
    ca: &TestCa,
    raw: &RawClient,
    account: &RawAccount,
    order: &Value,
) -> Value {
    let authz_url = order["authorizations"][0].as_str().unwrap();
    let authz = raw
        .post_as_get(&account.key, &account.kid, authz_url)
        .await
        .json();
    assert_eq!(authz["status"], "pending", "{authz}");
    let challenge = challenge(&authz, "dns-01");
    let token = challenge["token"].as_str().unwrap();
    let domain = authz["identifier"]["value"].as_str().unwrap();
    ca.dns.set_txt(
        &format!("_acme-challenge.{domain}"),
        vec![ferrite_va::dns01_txt_value(
            &account.key_authorization(token),
        )],
    );
    let r = raw
        .post(
            &account.key,
            Some(&account.kid),
            challenge["url"].as_str().unwrap(),
            Some(&json!({})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let authz = raw
        .poll(&account.key, &account.kid, authz_url, |a| {
            a["status"] != "pending"
        })
        .await;
    assert_eq!(authz["status"], "valid", "{authz}");
    authz
}

/// A new order's status and its authorizations as the client sees them.
async fn order_for(
    ca: &TestCa,
    raw: &RawClient,
    account: &RawAccount,
    names: &[&str],
) -> (Value, Vec<Value>) {
    let (_, order) = ca.raw_new_order(raw, account, names).await;
    let mut authzs = Vec::new();
    for url in order["authorizations"].as_array().unwrap() {
        let a = raw
            .post_as_get(&account.key, &account.kid, url.as_str().unwrap())
            .await;
        assert_eq!(a.status, 200);
        authzs.push(a.json());
    }
    (order, authzs)
}

fn time_of(v: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(v.as_str().unwrap(), &Rfc3339).unwrap()
}

/// A clock date inside the 200-day rule, with no step of the table within 200 days after it.
const MID_2026: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns01_of_a_parent_authorizes_subdomains_and_wildcards_for_the_customer_only() {
    bounded(async {
        let (ca, _clock) = start(defaults(), MID_2026).await;
        let raw = ca.raw();
        let corp = customer_accounts(&ca, &raw, "corp", 2).await;
        let other = customer_accounts(&ca, &raw, "other", 1).await;

        let (_, order) = ca.raw_new_order(&raw, &corp[0], &["example.com"]).await;
        let authz = validate_dns01(&ca, &raw, &corp[0], &order).await;
        let validated = time_of(&authz["challenges"][0]["validated"]);
        // The valid authorization lives as long as the validation may be relied on.
        assert_eq!(time_of(&authz["expires"]), validated + Duration::days(200));

        // A subdomain, for the same account and for another account of the same customer:
        // valid at creation, no challenge to answer, the order ready at once.
        for account in &corp {
            let (order, authzs) = order_for(
                &ca,
                &raw,
                account,
                &["a.b.example.com", "*.example.com", "*.sub.example.com"],
            )
            .await;
            assert_eq!(order["status"], "ready", "{order}");
            for a in &authzs {
                assert_eq!(a["status"], "valid", "{a}");
                let challenges = a["challenges"].as_array().unwrap();
                assert_eq!(challenges.len(), 1, "{a}");
                assert_eq!(challenges[0]["type"], "dns-01");
                assert_eq!(challenges[0]["status"], "valid");
                assert_eq!(time_of(&challenges[0]["validated"]), validated);
                assert!(time_of(&a["expires"]) <= validated + Duration::days(200));
            }
            assert!(time_of(&order["expires"]) <= validated + Duration::days(200));
        }
        // Another customer, and names the validation does not cover, start pending.
        let (order, _) = order_for(&ca, &raw, &other[0], &["a.b.example.com"]).await;
        assert_eq!(order["status"], "pending", "{order}");
        for name in ["notexample.com", "example.org"] {
            let (order, _) = order_for(&ca, &raw, &corp[1], &[name]).await;
            assert_eq!(order["status"], "pending", "{name}: {order}");
        }

        // The operator sees what was validated, how, when, and what DNS answered.
        let customer = ca.ca.eab().customer_by_name("corp").await.unwrap();
        let kept = ca
            .ca
            .store()
            .domain_validations(&Scope::Customer(customer.id))
            .await
            .unwrap();
        assert_eq!(kept.len(), 1, "{kept:?}");
        let v = &kept[0];
        assert_eq!(v.domain, "example.com");
        assert_eq!(v.method.as_str(), "dns-01");
        assert_eq!(v.validated_at, validated);
        assert_eq!(v.record["method"], "dns-01");
        assert!(
            !v.record["dns_answers"].as_array().unwrap().is_empty(),
            "{}",
            v.record
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http01_of_a_parent_authorizes_exactly_that_name() {
    bounded(async {
        let (ca, _clock) = start(defaults(), MID_2026).await;
        let raw = ca.raw();
        let corp = customer_accounts(&ca, &raw, "corp", 2).await;
        let other = customer_accounts(&ca, &raw, "other", 1).await;
        let (_, order) = ca.raw_new_order(&raw, &corp[0], &["example.com"]).await;
        let authz = ca
            .raw_validate_http01(&raw, &corp[0], order["authorizations"][0].as_str().unwrap())
            .await;
        assert_eq!(authz["status"], "valid", "{authz}");

        // The subdomain and the wildcard still need their own validation.
        for names in [&["www.example.com"][..], &["*.example.com"][..]] {
            let (order, authzs) = order_for(&ca, &raw, &corp[0], names).await;
            assert_eq!(order["status"], "pending", "{names:?}: {order}");
            assert_eq!(authzs[0]["status"], "pending");
        }
        // The exact name is reused by the customer's other account, with the method it used.
        let (order, authzs) = order_for(&ca, &raw, &corp[1], &["example.com"]).await;
        assert_eq!(order["status"], "ready", "{order}");
        assert_eq!(authzs[0]["challenges"][0]["type"], "http-01");
        // Never by another customer.
        let (order, _) = order_for(&ca, &raw, &other[0], &["example.com"]).await;
        assert_eq!(order["status"], "pending", "{order}");
    })
    .await;
}

/// Validates example.com by dns-01 at the clock's time; returns a closure-friendly tuple.
async fn validated_customer(
    config: Config,
    at: OffsetDateTime,
) -> (TestCa, Arc<TestClock>, RawClient, RawAccount) {
    let (ca, clock) = start(config, at).await;
    let raw = ca.raw();
    let account = customer_accounts(&ca, &raw, "corp", 1).await.remove(0);
    let (_, order) = ca.raw_new_order(&raw, &account, &["example.com"]).await;
    validate_dns01(&ca, &raw, &account, &order).await;
    (ca, clock, raw, account)
}

async fn status_after(ca: &TestCa, raw: &RawClient, account: &RawAccount) -> String {
    let (order, _) = order_for(ca, raw, account, &["www.example.com"]).await;
    order["status"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reuse_ends_with_the_br_window() {
    bounded(async {
        // 200 days in mid-2026; a validation with less than a day left is not handed out.
        let (ca, clock, raw, account) = validated_customer(defaults(), MID_2026).await;
        clock.advance(Duration::days(198));
        assert_eq!(status_after(&ca, &raw, &account).await, "ready");
        clock.advance(Duration::days(1) + Duration::hours(1));
        assert_eq!(status_after(&ca, &raw, &account).await, "pending");
        drop(ca);

        // Across a step of the table: validated 2027-01-01 under the 200-day rule, but
        // issuance from 2027-03-15 allows 100 days, so reuse ends on 2027-04-11.
        let (ca, clock, raw, account) =
            validated_customer(defaults(), datetime!(2027-01-01 00:00 UTC)).await;
        clock.advance(Duration::days(98));
        let (order, _) = order_for(&ca, &raw, &account, &["www.example.com"]).await;
        assert_eq!(order["status"], "ready", "{order}");
        assert!(
            time_of(&order["expires"]) <= datetime!(2027-04-11 00:00:01 UTC),
            "{order}"
        );
        clock.advance(Duration::days(3));
        assert_eq!(status_after(&ca, &raw, &account).await, "pending");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_can_shorten_the_window_but_not_lengthen_it() {
    bounded(async {
        let mut short = defaults();
        short.validation.reuse_days = Some(30);
        let (ca, clock, raw, account) = validated_customer(short, MID_2026).await;
        clock.advance(Duration::days(28));
        assert_eq!(status_after(&ca, &raw, &account).await, "ready");
        clock.advance(Duration::days(3));
        assert_eq!(status_after(&ca, &raw, &account).await, "pending");
        drop(ca);

        let mut long = defaults();
        long.validation.reuse_days = Some(400);
        let (ca, clock, raw, account) = validated_customer(long, MID_2026).await;
        clock.advance(Duration::days(198));
        assert_eq!(status_after(&ca, &raw, &account).await, "ready");
        clock.advance(Duration::days(3));
        assert_eq!(status_after(&ca, &raw, &account).await, "pending");
    })
    .await;
}

fn assert_rejected(r: &RawResponse) -> Value {
    let body = String::from_utf8_lossy(&r.body).into_owned();
    assert_eq!(r.status, 400, "{body}");
    assert_eq!(r.problem_type(), "rejectedIdentifier", "{body}");
    r.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identifier_policy_refuses_with_rejected_identifier() {
    bounded(async {
        let mut config = defaults();
        config.policy.blocked_domains = vec!["blocked.example".to_owned()];
        let (ca, _clock) = start(config, MID_2026).await;
        let raw = ca.raw();
        let account = customer_accounts(&ca, &raw, "corp", 1).await.remove(0);
        let new_order = |names: &[&str]| {
            let ids: Vec<Value> = names
                .iter()
                .map(|n| json!({"type": "dns", "value": n}))
                .collect();
            let (raw, account, url) = (&raw, &account, ca.url("/acme/new-order"));
            async move {
                raw.post(
                    &account.key,
                    Some(&account.kid),
                    &url,
                    Some(&json!({"identifiers": ids})),
                )
                .await
            }
        };

        let one = assert_rejected(&new_order(&["*.co.uk"]).await);
        assert!(
            one["detail"].as_str().unwrap().contains("public suffix"),
            "{one}"
        );
        let one = assert_rejected(&new_order(&["www.blocked.example"]).await);
        assert!(
            one["detail"]
                .as_str()
                .unwrap()
                .contains("policy.blocked_domains"),
            "{one}"
        );

        let several = assert_rejected(
            &new_order(&[
                "*.com",
                "4.3.2.1.in-addr.arpa",
                "blocked.example",
                "ok.example.com",
            ])
            .await,
        );
        let subs = several["subproblems"].as_array().unwrap();
        let refused: Vec<&str> = subs
            .iter()
            .map(|p| p["identifier"]["value"].as_str().unwrap())
            .collect();
        assert_eq!(
            refused,
            ["*.com", "4.3.2.1.in-addr.arpa", "blocked.example"],
            "{several}"
        );
        for p in subs {
            assert_eq!(
                p["type"], "urn:ietf:params:acme:error:rejectedIdentifier",
                "{p}"
            );
        }

        // Wildcards under one's own domain and names merely resembling blocked ones are fine.
        let (_, order) = ca
            .raw_new_order(&raw, &account, &["*.example.co.uk", "notblocked.example"])
            .await;
        assert_eq!(order["status"], "pending");
    })
    .await;
}

/// Deactivating an authorization handed out from a kept validation ends that reuse for the
/// customer: the name needs a new validation (RFC 8555 §7.5.2), for every account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivating_a_reused_authorization_ends_the_reuse() {
    bounded(async {
        let (ca, _clock) = start(defaults(), MID_2026).await;
        let raw = ca.raw();
        let corp = customer_accounts(&ca, &raw, "corp", 2).await;
        let (_, order) = ca
            .raw_new_order(&raw, &corp[0], &["gone.example.com"])
            .await;
        ca.raw_validate_http01(&raw, &corp[0], order["authorizations"][0].as_str().unwrap())
            .await;
        let (order, authzs) = order_for(&ca, &raw, &corp[1], &["gone.example.com"]).await;
        assert_eq!(order["status"], "ready", "{order}");
        assert_eq!(authzs[0]["status"], "valid");

        let r = raw
            .post(
                &corp[1].key,
                Some(&corp[1].kid),
                order["authorizations"][0].as_str().unwrap(),
                Some(&serde_json::json!({"status": "deactivated"})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["status"], "deactivated");

        for account in &corp {
            let (order, authzs) = order_for(&ca, &raw, account, &["gone.example.com"]).await;
            assert_eq!(order["status"], "pending", "{order}");
            assert_eq!(authzs[0]["status"], "pending");
        }
    })
    .await;
}
