//! Rate limits over ACME (RFC 8555 §6.7), request by request with `RawClient`, each with a
//! small configured value: the request past the limit gets 429 `rateLimited` with
//! `Retry-After` and a detail naming the limit, its value and when it resets, and the refused
//! request leaves nothing behind; a customer's override (the operator's `set-limit`) raises
//! the limit at once and `--default` restores it. New orders per account (SQLite and
//! PostgreSQL), new accounts per client address (also the clients behind a proxy), failed
//! validations per account and name, pending authorizations per account (an order it refuses
//! spends no new order), and the issuance limits. Only 127.0.0.1 is contacted; every test is
//! bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferrite_app::config::{DatabaseUrl, TlsMode};
use ferrite_core::rate_limit::RateLimits;
use ferrite_jose::Algorithm;
use ferrite_jose::sign::SigningKey;
use ferrite_store::testing::with_database;
use ferrite_testkit::eab::new_customer_key;
use ferrite_testkit::{
    RawAccount, RawClient, RawResponse, TestCa, TestCaOptions, assert_case_problem, bounded,
    challenge,
};
use serde_json::json;

/// Options with every limit off but the ones `set` turns on.
fn options(set: impl FnOnce(&mut RateLimits)) -> TestCaOptions {
    let mut options = TestCaOptions::default();
    let mut limits = RateLimits::off();
    set(&mut limits);
    options.config.rate_limits = limits;
    options
}

/// newOrder for `names`, answered as it comes.
async fn new_order(
    ca: &TestCa,
    raw: &RawClient,
    account: &RawAccount,
    names: &[&str],
) -> RawResponse {
    let identifiers: Vec<_> = names
        .iter()
        .map(|n| json!({"type": "dns", "value": n}))
        .collect();
    raw.post(
        &account.key,
        Some(&account.kid),
        &ca.url("/acme/new-order"),
        Some(&json!({ "identifiers": identifiers })),
    )
    .await
}

/// Deactivates the authorization at `url` (RFC 8555 §7.5.2) and asserts a 200.
async fn deactivate(raw: &RawClient, account: &RawAccount, url: &str) {
    let r = raw
        .post(
            &account.key,
            Some(&account.kid),
            url,
            Some(&json!({"status": "deactivated"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// Asserts `r` is the refusal of rate limit `limit` (429 `rateLimited`, a `Retry-After` of
/// 1..=`max_retry` seconds, the detail naming the limit and `value_text`); returns the detail.
fn assert_rate_limited(
    case: &str,
    r: &RawResponse,
    limit: &str,
    value_text: &str,
    max_retry: u64,
) -> String {
    let detail = assert_case_problem(case, r, 429, "rateLimited");
    let retry: u64 = r
        .header("retry-after")
        .unwrap_or_else(|| panic!("{case}: no Retry-After"))
        .parse()
        .unwrap_or_else(|e| panic!("{case}: Retry-After is not seconds: {e}"));
    assert!(
        (1..=max_retry).contains(&retry),
        "{case}: Retry-After {retry}"
    );
    assert!(detail.contains(limit), "{case}: {detail}");
    assert!(detail.contains(value_text), "{case}: {detail}");
    assert!(detail.contains("retry after"), "{case}: {detail}");
    assert!(
        detail.contains("full allowance is back at"),
        "{case}: {detail}"
    );
    detail
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_orders_past_the_limit_are_rate_limited_until_the_customer_is_raised() {
    bounded(new_orders_per_account(options(|l| {
        l.new_orders_per_account = 3
    })))
    .await;
}

/// The same on PostgreSQL (`FERRITE_TEST_DATABASE_URL`), where the limit's row is shared by
/// every instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_orders_past_the_limit_are_rate_limited_on_postgresql() {
    with_database(|url| async move {
        let mut options = options(|l| l.new_orders_per_account = 3);
        options.config.database_url = DatabaseUrl(url);
        bounded(new_orders_per_account(options)).await;
    })
    .await;
}

/// Orders `n{i}.example.com` for each `i` in `range`, each answered 201.
async fn orders_allowed(
    ca: &TestCa,
    raw: &RawClient,
    account: &RawAccount,
    range: std::ops::Range<u32>,
) {
    for i in range {
        let r = new_order(ca, raw, account, &[&format!("n{i}.example.com")]).await;
        assert_eq!(
            r.status,
            201,
            "order {i}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
}

/// What `ferrite customer set-limit corp new_orders_per_account VALUE|--default` does.
async fn set_orders_limit(ca: &TestCa, value: Option<u32>) {
    ca.ca
        .eab()
        .set_rate_limit("corp", "new_orders_per_account", value)
        .await
        .unwrap();
}

/// Three orders per 3 hours: the fourth is refused and creates nothing; the customer's
/// override of 5 applies at once and counts afresh (a limit's state belongs to its value),
/// `--default` brings back 3 with its count as it was; 0 is off; another customer's account
/// counts apart.
async fn new_orders_per_account(options: TestCaOptions) {
    let ca = TestCa::start_with(options).await;
    let raw = ca.raw();
    let account = RawAccount::register_bound(&raw, &new_customer_key(&ca.ca, "corp").await).await;
    orders_allowed(&ca, &raw, &account, 0..3).await;
    let refused = new_order(&ca, &raw, &account, &["n3.example.com"]).await;
    // One more comes back every hour (3 per 3 hours).
    let detail = assert_rate_limited(
        "fourth order",
        &refused,
        "new_orders_per_account",
        "3 per 3 hours",
        3600,
    );
    assert!(detail.contains("new orders of this account"), "{detail}");
    // The refusal created no order.
    let kid = account.kid.clone();
    let orders_url = raw.post_as_get(&account.key, &kid, &kid).await.json()["orders"]
        .as_str()
        .unwrap()
        .to_owned();
    let orders = raw
        .post_as_get(&account.key, &kid, &orders_url)
        .await
        .json();
    assert_eq!(orders["orders"].as_array().unwrap().len(), 3, "{orders}");

    // The operator raises the customer's limit: applies at once, counted afresh.
    set_orders_limit(&ca, Some(5)).await;
    orders_allowed(&ca, &raw, &account, 3..8).await;
    let refused = new_order(&ca, &raw, &account, &["n8.example.com"]).await;
    assert_rate_limited(
        "sixth order with the override",
        &refused,
        "new_orders_per_account",
        "5 per 3 hours",
        3 * 3600,
    );
    // Back to the configured value, whose allowance is still spent.
    set_orders_limit(&ca, None).await;
    let refused = new_order(&ca, &raw, &account, &["n8.example.com"]).await;
    assert_rate_limited(
        "after --default",
        &refused,
        "new_orders_per_account",
        "3 per 3 hours",
        3 * 3600,
    );

    // Each refusal is counted under its limit in /metrics (three so far).
    let metrics = ferrite_testkit::raw::http_get(&format!("{}/metrics", ca.admin_url)).await;
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(
        text.lines()
            .any(|l| l == r#"ferrite_rate_limit_refusals_total{limit="new_orders_per_account"} 3"#),
        "{text}"
    );

    // 0 turns the limit off for the customer.
    set_orders_limit(&ca, Some(0)).await;
    let r = new_order(&ca, &raw, &account, &["n9.example.com"]).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));

    // Another customer's account has its own allowance.
    let other = RawAccount::register_bound(&raw, &new_customer_key(&ca.ca, "other").await).await;
    let r = new_order(&ca, &raw, &other, &["o.example.com"]).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));

    // A limit counted per address has no per-customer value.
    let err = ca
        .ca
        .eab()
        .set_rate_limit("corp", "new_accounts_per_address", Some(50))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("[rate_limits]"), "{err}");
}

/// Two new accounts per address: the third key from 127.0.0.1 is refused before anything is
/// stored; a key already registered is still found (200), which counts nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_accounts_past_the_limit_per_address_are_rate_limited() {
    bounded(async {
        let ca = TestCa::start_with(options(|l| l.new_accounts_per_address = 2)).await;
        let raw = ca.raw();
        let first = RawAccount::register(&raw, Algorithm::ES256).await;
        RawAccount::register(&raw, Algorithm::ES256).await;
        let url = ca.url("/acme/new-account");
        let third = SigningKey::generate(Algorithm::ES256).unwrap();
        let payload = json!({"termsOfServiceAgreed": true});
        let refused = raw.post(&third, None, &url, Some(&payload)).await;
        let detail = assert_rate_limited(
            "third account",
            &refused,
            "new_accounts_per_address",
            "2 per 3 hours",
            3 * 3600,
        );
        assert!(detail.contains("127.0.0.1"), "{detail}");
        // Nothing was stored for the refused key.
        let lookup = raw
            .post(
                &third,
                None,
                &url,
                Some(&json!({"onlyReturnExisting": true})),
            )
            .await;
        assert_case_problem("refused key", &lookup, 400, "accountDoesNotExist");
        // An existing account is found again, as often as asked.
        for _ in 0..3 {
            let again = raw.post(&first.key, None, &url, Some(&payload)).await;
            assert_eq!(
                again.status,
                200,
                "{}",
                String::from_utf8_lossy(&again.body)
            );
        }
    })
    .await;
}

/// Behind a TLS-terminating proxy (`tls.mode = "behind-proxy"`, the proxy 127.0.0.1), the
/// limit counts the clients the proxy forwards, not the proxy: two accounts from 198.51.100.7,
/// then the third refused naming that address, while 198.51.100.8 behind the same proxy
/// still registers; a client that writes its own `X-Forwarded-For` in front of the hop the
/// proxy appends is counted by that hop; IPv6 clients count by /64.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_accounts_per_address_count_the_clients_behind_a_proxy() {
    bounded(async {
        let mut opts = options(|l| l.new_accounts_per_address = 2);
        opts.config.base_url = "https://127.0.0.1:8443".to_owned();
        opts.config.tls.mode = TlsMode::BehindProxy;
        opts.config.tls.trusted_proxies = vec!["127.0.0.1".to_owned()];
        let ca = TestCa::start_with(opts).await;
        let url = &ca.url("/acme/new-account");
        let payload = &json!({"termsOfServiceAgreed": true});
        let register = |client: &'static str| {
            let raw = ca.raw().proxied(ca.addr, client);
            async move {
                let key = SigningKey::generate(Algorithm::ES256).unwrap();
                raw.post(&key, None, url, Some(payload)).await
            }
        };
        for (client, expected) in [
            ("198.51.100.7", 201),
            ("198.51.100.7", 201),
            ("198.51.100.8", 201),
            ("2001:db8:0:1::1", 201),
            ("2001:db8:0:1::2", 201),
        ] {
            let r = register(client).await;
            assert_eq!(
                r.status,
                expected,
                "{client}: {}",
                String::from_utf8_lossy(&r.body)
            );
        }
        for (client, subject) in [
            ("198.51.100.7", "198.51.100.7"),
            // A forged first hop: the proxy's hop (the client it saw) is the one counted.
            ("203.0.113.9, 198.51.100.7", "198.51.100.7"),
            ("2001:db8:0:1::3", "2001:db8:0:1::/64"),
        ] {
            let refused = register(client).await;
            let detail = assert_rate_limited(
                client,
                &refused,
                "new_accounts_per_address",
                "2 per 3 hours",
                3 * 3600,
            );
            assert!(detail.contains(subject), "{client}: {detail}");
        }
        let r = register("198.51.100.8").await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    })
    .await;
}

/// Two failed validations of one name per hour: once both failed, newOrder refuses that name
/// (and an order holding it) and names it; another name is still ordered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_validations_of_a_name_past_the_limit_are_rate_limited() {
    bounded(async {
        let ca = TestCa::start_with(options(|l| {
            l.failed_validations_per_account_and_name = 2;
        }))
        .await;
        let raw = ca.raw();
        let account = RawAccount::register(&raw, Algorithm::ES256).await;
        for attempt in 0..2 {
            let r = new_order(&ca, &raw, &account, &["fails.example.com"]).await;
            assert_eq!(
                r.status,
                201,
                "attempt {attempt}: {}",
                String::from_utf8_lossy(&r.body)
            );
            let authz_url = r.json()["authorizations"][0].as_str().unwrap().to_owned();
            let authz = raw
                .post_as_get(&account.key, &account.kid, &authz_url)
                .await
                .json();
            // The http-01 responder has no key authorization for this token: it fails.
            let url = challenge(&authz, "http-01")["url"]
                .as_str()
                .unwrap()
                .to_owned();
            let started = raw
                .post(&account.key, Some(&account.kid), &url, Some(&json!({})))
                .await;
            assert_eq!(
                started.status,
                200,
                "{}",
                String::from_utf8_lossy(&started.body)
            );
            let ended = raw
                .poll(&account.key, &account.kid, &authz_url, |a| {
                    a["status"] != "pending"
                })
                .await;
            assert_eq!(ended["status"], "invalid", "{ended}");
        }
        let refused = new_order(
            &ca,
            &raw,
            &account,
            &["fine.example.com", "fails.example.com"],
        )
        .await;
        let detail = assert_rate_limited(
            "third order of the name",
            &refused,
            "failed_validations_per_account_and_name",
            "2 per hour",
            3600,
        );
        assert!(detail.contains("(fails.example.com)"), "{detail}");
        let r = new_order(&ca, &raw, &account, &["fine.example.com"]).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        // Another account's failures are its own.
        let other = RawAccount::register(&raw, Algorithm::ES256).await;
        let r = new_order(&ca, &raw, &other, &["fails.example.com"]).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    })
    .await;
}

/// Three pending authorizations per account: an order that would hold a fourth is refused,
/// naming how many are pending; one that fits is taken; deactivating one makes room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_past_the_pending_authorizations_limit_are_rate_limited() {
    bounded(async {
        let ca = TestCa::start_with(options(|l| l.pending_authorizations_per_account = 3)).await;
        let raw = ca.raw();
        let account = RawAccount::register(&raw, Algorithm::ES256).await;
        let r = new_order(&ca, &raw, &account, &["a.example.com", "b.example.com"]).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let first_authz = r.json()["authorizations"][0].as_str().unwrap().to_owned();
        let refused = new_order(&ca, &raw, &account, &["c.example.com", "d.example.com"]).await;
        // The count comes back when the earliest pending authorization expires (7 days).
        let detail = assert_rate_limited(
            "a fourth pending authorization",
            &refused,
            "pending_authorizations_per_account",
            "3 at once",
            8 * 24 * 3600,
        );
        assert!(
            detail.contains("2 pending, this order would add up to 2"),
            "{detail}"
        );
        let r = new_order(&ca, &raw, &account, &["c.example.com"]).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let refused = new_order(&ca, &raw, &account, &["d.example.com"]).await;
        assert_case_problem("full", &refused, 429, "rateLimited");
        // §7.5.2: deactivating a pending authorization makes room for one more.
        deactivate(&raw, &account, &first_authz).await;
        let r = new_order(&ca, &raw, &account, &["d.example.com"]).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    })
    .await;
}

/// An order refused by another limit spends none of `new_orders_per_account`: with two new
/// orders per 3 hours and one pending authorization, three orders refused for the pending
/// authorization leave the second new order free, taken once the first authorization is
/// deactivated; only then is the third refused as a new order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_refused_for_pending_authorizations_spends_no_new_order() {
    bounded(async {
        let ca = TestCa::start_with(options(|l| {
            l.new_orders_per_account = 2;
            l.pending_authorizations_per_account = 1;
        }))
        .await;
        let raw = ca.raw();
        let account = RawAccount::register(&raw, Algorithm::ES256).await;
        let r = new_order(&ca, &raw, &account, &["a.example.com"]).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let first_authz = r.json()["authorizations"][0].as_str().unwrap().to_owned();
        for attempt in 0..3 {
            let refused = new_order(&ca, &raw, &account, &["b.example.com"]).await;
            assert_rate_limited(
                &format!("pending, attempt {attempt}"),
                &refused,
                "pending_authorizations_per_account",
                "1 at once",
                8 * 24 * 3600,
            );
        }
        deactivate(&raw, &account, &first_authz).await;
        let r = new_order(&ca, &raw, &account, &["b.example.com"]).await;
        assert_eq!(
            r.status,
            201,
            "the refused orders spent nothing: {}",
            String::from_utf8_lossy(&r.body)
        );
        let refused = new_order(&ca, &raw, &account, &["c.example.com"]).await;
        assert_rate_limited(
            "a third new order",
            &refused,
            "new_orders_per_account",
            "2 per 3 hours",
            3 * 3600,
        );
    })
    .await;
}

/// Two certificates per registered domain and one per set of names, per week: after
/// `a.example.com`, an order for the same set is refused as a duplicate (a different set is
/// not); after a second certificate under `example.com`, an order for another name under it
/// is refused naming the domain, while `example.org` (one spent) and another customer's
/// account (its own count) go through; the customer's override raises the limit at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_per_registered_domain_and_duplicates_are_rate_limited() {
    bounded(async {
        let ca = TestCa::start_with(options(|l| {
            l.certificates_per_registered_domain = 2;
            l.duplicate_certificates = 1;
        }))
        .await;
        let raw = ca.raw();
        let account =
            RawAccount::register_bound(&raw, &new_customer_key(&ca.ca, "corp").await).await;
        let week = 7 * 24 * 3600;
        ca.raw_issue(&raw, &account, &["a.example.com"]).await;
        let r = new_order(&ca, &raw, &account, &["a.example.com"]).await;
        let detail = assert_rate_limited(
            "duplicate",
            &r,
            "duplicate_certificates",
            "1 per week",
            week,
        );
        assert!(detail.contains("a.example.com"), "{detail}");

        ca.raw_issue(&raw, &account, &["b.example.com", "c.example.org"])
            .await;
        let r = new_order(&ca, &raw, &account, &["d.example.com"]).await;
        let detail = assert_rate_limited(
            "per domain",
            &r,
            "certificates_per_registered_domain",
            "2 per week",
            week,
        );
        assert!(detail.contains("(example.com)"), "{detail}");
        for (case, r) in [
            (
                "another registered domain",
                new_order(&ca, &raw, &account, &["e.example.org"]).await,
            ),
            (
                "another customer",
                new_order(
                    &ca,
                    &raw,
                    &RawAccount::register_bound(&raw, &new_customer_key(&ca.ca, "other").await)
                        .await,
                    &["d.example.com"],
                )
                .await,
            ),
        ] {
            assert_eq!(
                r.status,
                201,
                "{case}: {}",
                String::from_utf8_lossy(&r.body)
            );
        }
        ca.ca
            .eab()
            .set_rate_limit("corp", "certificates_per_registered_domain", Some(5))
            .await
            .unwrap();
        let r = new_order(&ca, &raw, &account, &["d.example.com"]).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    })
    .await;
}

/// A certificate is stored even when the database refuses its issuance counts: on
/// PostgreSQL with a trigger that fails every write of `rate_limits`, an order is issued and
/// its certificate served (the counts are lost, and logged), where dropping the signed
/// certificate for its count would fail the subscriber.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_is_stored_when_its_counts_cannot_be() {
    with_database(|url| async move {
        bounded(async {
            let mut options = options(|l| {
                l.certificates_per_registered_domain = 50;
                l.duplicate_certificates = 5;
            });
            options.config.database_url = DatabaseUrl(url.clone());
            let ca = TestCa::start_with(options).await;
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            let driver = tokio::spawn(connection);
            client
                .batch_execute(
                    "CREATE FUNCTION refuse() RETURNS TRIGGER LANGUAGE plpgsql AS \
                     $$ BEGIN RAISE EXCEPTION 'rate_limits refused by the test'; END $$; \
                     CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON rate_limits \
                     FOR EACH ROW EXECUTE FUNCTION refuse();",
                )
                .await
                .unwrap();
            let raw = ca.raw();
            let account = RawAccount::register(&raw, Algorithm::ES256).await;
            // Valid, and the certificate served from the database.
            let issued = ca.raw_issue(&raw, &account, &["counted.example.com"]).await;
            assert!(!issued.leaf_der.is_empty());
            let rows = client
                .query_one("SELECT count(*) FROM rate_limits", &[])
                .await
                .unwrap();
            assert_eq!(rows.get::<_, i64>(0), 0);
            drop(client);
            let _ = driver.await;
        })
        .await;
    })
    .await;
}

/// An ARI renewal (RFC 9773 `replaces`) inside its certificate's suggested window is exempt
/// from the issuance limits and not counted by them; before the window it is an ordinary
/// order. With 1 duplicate and 2 certificates of `example.com` a week: after
/// `a.example.com`, its renewal is refused as a duplicate until the operator pulls the
/// window forward, then issued; and it left the second certificate of `example.com` free for
/// `b.example.com`, after which `c.example.com` is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_inside_its_window_is_exempt_from_the_issuance_limits() {
    bounded(async {
        let ca = TestCa::start_with(options(|l| {
            l.certificates_per_registered_domain = 2;
            l.duplicate_certificates = 1;
            l.new_orders_per_account = 3;
        }))
        .await;
        let raw = ca.raw();
        let account =
            RawAccount::register_bound(&raw, &new_customer_key(&ca.ca, "corp").await).await;
        let week = 7 * 24 * 3600;
        let issued = ca.raw_issue(&raw, &account, &["a.example.com"]).await;
        let cert_id = ferrite_core::ca::ari::CertId::of_certificate(&issued.leaf_der)
            .unwrap()
            .encode();
        let renew = || async {
            raw.post(
                &account.key,
                Some(&account.kid),
                &ca.url("/acme/new-order"),
                Some(&json!({
                    "identifiers": [{"type": "dns", "value": "a.example.com"}],
                    "replaces": cert_id,
                })),
            )
            .await
        };
        let early = renew().await;
        assert_rate_limited(
            "renewal before its window",
            &early,
            "duplicate_certificates",
            "1 per week",
            week,
        );

        // The operator pulls the window forward (`ferrite ari advance`): the renewal is due.
        let serial = ferrite_pki::serial_to_hex(
            x509_parser::parse_x509_certificate(&issued.leaf_der)
                .unwrap()
                .1
                .raw_serial(),
        );
        ferrite_core::ca::ari::advance_renewal(
            ca.ca.store().as_ref(),
            ca.ca.now(),
            &ferrite_core::model::CertificateFilter::Serial(serial),
            None,
            false,
        )
        .await
        .unwrap();
        let r = renew().await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let order = r.json();
        assert_eq!(
            order["status"], "ready",
            "the validation is reused: {order}"
        );
        let key = rcgen::KeyPair::generate().unwrap();
        let f = ca
            .raw_finalize(
                &raw,
                &account,
                &order,
                &ferrite_testkit::ca::csr_der(&["a.example.com"], &key),
            )
            .await;
        assert_eq!(f.status, 200, "{}", String::from_utf8_lossy(&f.body));
        let order_url = r.header("location").unwrap();
        let done = raw
            .poll(&account.key, &account.kid, &order_url, |o| {
                o["status"] != "processing"
            })
            .await;
        assert_eq!(done["status"], "valid", "{done}");

        // The renewal did not spend the domain's second certificate.
        ca.raw_issue(&raw, &account, &["b.example.com"]).await;
        let r = new_order(&ca, &raw, &account, &["c.example.com"]).await;
        assert_rate_limited(
            "third certificate",
            &r,
            "certificates_per_registered_domain",
            "2 per week",
            week,
        );

        // A chain of replacements is no unlimited source: the renewal's own certificate,
        // replaced at once (its window a third of its lifetime away), is an ordinary order.
        let renewed = raw
            .post_as_get(
                &account.key,
                &account.kid,
                done["certificate"].as_str().unwrap(),
            )
            .await;
        let renewed_der =
            ferrite_testkit::ca::pem_chain(&String::from_utf8(renewed.body).unwrap()).remove(0);
        let renewed_id = ferrite_core::ca::ari::CertId::of_certificate(&renewed_der)
            .unwrap()
            .encode();
        let replace = |names: &[&str]| {
            let identifiers: Vec<_> = names
                .iter()
                .map(|n| json!({"type": "dns", "value": n}))
                .collect();
            let body = json!({"identifiers": identifiers, "replaces": renewed_id});
            let (raw, account, url) = (&raw, &account, ca.url("/acme/new-order"));
            async move {
                raw.post(&account.key, Some(&account.kid), &url, Some(&body))
                    .await
            }
        };
        assert_case_problem(
            "replacing the renewal at once",
            &replace(&["a.example.com"]).await,
            429,
            "rateLimited",
        );
        // Due (the operator advanced it), but asking for a name it lacks: not exempt, and
        // `example.com` has no certificate left this week.
        let serial = ferrite_pki::serial_to_hex(
            x509_parser::parse_x509_certificate(&renewed_der)
                .unwrap()
                .1
                .raw_serial(),
        );
        ferrite_core::ca::ari::advance_renewal(
            ca.ca.store().as_ref(),
            ca.ca.now(),
            &ferrite_core::model::CertificateFilter::Serial(serial),
            None,
            false,
        )
        .await
        .unwrap();
        assert_rate_limited(
            "a renewal adding a name",
            &replace(&["a.example.com", "x.example.com"]).await,
            "certificates_per_registered_domain",
            "2 per week",
            week,
        );
        let r = replace(&["a.example.com"]).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    })
    .await;
}
