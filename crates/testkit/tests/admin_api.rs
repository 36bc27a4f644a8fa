//! The admin API over real HTTP on 127.0.0.1:0 (hyper client): bearer API credentials, a
//! credential confined to its own customer, problem documents that say what to do, and
//! secrets that appear only in the response that creates them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrite_jose::Algorithm;
use ferrite_jose::sign::{SigningKey, external_account_binding};
use ferrite_testkit::{RawClient, TestCa, TestCaOptions};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

struct Admin {
    ca: TestCa,
    base: String,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

struct Reply {
    status: u16,
    content_type: String,
    body: Value,
    text: String,
    retry_after: Option<String>,
}

/// A CA with its admin API (on the admin listener it serves, as `ferrite serve` does).
async fn start() -> Admin {
    start_with(TestCaOptions::default()).await
}

/// [`start`] with `options`.
async fn start_with(options: TestCaOptions) -> Admin {
    let ca = TestCa::start_with(options).await;
    let base = ca.admin_url.clone();
    let client = Client::builder(TokioExecutor::new()).build_http();
    Admin { ca, base, client }
}

impl Admin {
    async fn call(&self, method: &str, path: &str, bearer: Option<&str>, body: &str) -> Reply {
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(b) = bearer {
            req = req.header("authorization", format!("Bearer {b}"));
        }
        if !body.is_empty() {
            req = req.header("content-type", "application/json");
        }
        let req = req.body(Full::new(Bytes::from(body.to_owned()))).unwrap();
        let resp = tokio::time::timeout(Duration::from_secs(30), self.client.request(req))
            .await
            .expect("admin request timed out")
            .unwrap();
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            content_type,
            body,
            text,
            retry_after,
        }
    }

    /// A customer with one credential; returns (customer id, "id:secret").
    async fn customer(&self, name: &str) -> (String, String) {
        let eab = self.ca.ca.eab();
        let customer = eab.create_customer(name).await.unwrap();
        let cred = eab.create_credential(&customer.id).await.unwrap();
        (
            customer.id,
            format!("{}:{}", cred.credential.id, cred.secret.expose()),
        )
    }
}

fn id_of(bearer: &str) -> &str {
    bearer.split_once(':').unwrap().0
}

/// A problem document with `status` whose detail mentions `hint`.
fn assert_problem(r: &Reply, status: u16, hint: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.content_type, "application/problem+json", "{}", r.text);
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(hint), "detail {detail:?} lacks {hint:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_valid_credential_get_401_and_learn_nothing() {
    let admin = start().await;
    let (_, bearer) = admin.customer("initech").await;
    let id = id_of(&bearer);

    let none = admin.call("GET", "/admin/v1/credentials", None, "").await;
    assert_problem(&none, 401, "Authorization: Bearer ID:SECRET");
    let basic = admin.call("GET", "/admin/v1/mac-keys", None, "").await;
    assert_eq!(basic.status, 401);
    let wrong_secret = admin
        .call(
            "GET",
            "/admin/v1/credentials",
            Some(&format!("{id}:nope")),
            "",
        )
        .await;
    let unknown_id = admin
        .call("GET", "/admin/v1/credentials", Some("nobody:nope"), "")
        .await;
    let no_colon = admin
        .call("GET", "/admin/v1/accounts", Some("garbage"), "")
        .await;
    for r in [&wrong_secret, &unknown_id, &no_colon] {
        assert_problem(r, 401, "Bearer");
    }
    // Unknown id and wrong secret are indistinguishable.
    assert_eq!(wrong_secret.body["detail"], unknown_id.body["detail"]);
    assert!(!wrong_secret.text.contains("initech"));

    // A disabled credential no longer authenticates.
    admin
        .ca
        .ca
        .eab()
        .disable_credential(id, None)
        .await
        .unwrap();
    let r = admin
        .call("GET", "/admin/v1/credentials", Some(&bearer), "")
        .await;
    assert_problem(&r, 401, "Bearer");

    // Unknown routes and methods are problems too.
    let (_, other) = admin.customer("other").await;
    let r = admin.call("GET", "/admin/v1/nope", Some(&other), "").await;
    assert_problem(&r, 404, "/admin/v1/credentials");
    let r = admin
        .call("DELETE", "/admin/v1/mac-keys", Some(&other), "")
        .await;
    assert_problem(&r, 405, "GET");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_manages_its_own_customer_only() {
    let admin = start().await;
    let (_, mine) = admin.customer("initech").await;
    let (_, theirs) = admin.customer("globex").await;

    // Credentials: list own, create (secret once), the new one authenticates.
    let r = admin
        .call("GET", "/admin/v1/credentials", Some(&mine), "")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert_eq!(r.body[0]["id"], id_of(&mine));
    assert!(r.body[0].get("secret").is_none() && !r.text.contains("argon2"));
    let created = admin
        .call("POST", "/admin/v1/credentials", Some(&mine), "")
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let second = format!(
        "{}:{}",
        created.body["id"].as_str().unwrap(),
        created.body["secret"].as_str().unwrap()
    );
    let r = admin
        .call("GET", "/admin/v1/credentials", Some(&second), "")
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 2);

    // MAC keys: create for the caller (empty body) and for a named own credential; the HMAC
    // key appears only in the creating response; a new key disables the previous one.
    let k1 = admin
        .call("POST", "/admin/v1/mac-keys", Some(&mine), "")
        .await;
    assert_eq!(k1.status, 201, "{}", k1.text);
    let hmac = k1.body["hmac_key"].as_str().unwrap().to_owned();
    assert_eq!(URL_SAFE_NO_PAD.decode(&hmac).unwrap().len(), 32);
    assert_eq!(k1.body["bindings_remaining"], 1000);
    let body = json!({"credential": id_of(&mine)}).to_string();
    let k2 = admin
        .call("POST", "/admin/v1/mac-keys", Some(&second), &body)
        .await;
    assert_eq!(k2.status, 201, "{}", k2.text);
    let list = admin
        .call("GET", "/admin/v1/mac-keys", Some(&mine), "")
        .await;
    assert_eq!(list.status, 200);
    assert!(!list.text.contains(&hmac), "HMAC key listed: {}", list.text);
    let statuses: Vec<&str> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["disabled", "active"]);
    let bad = admin
        .call(
            "POST",
            "/admin/v1/mac-keys",
            Some(&mine),
            "{\"credentail\": 1}",
        )
        .await;
    assert_problem(&bad, 400, "{\"credential\": \"ID\"}");

    // The other customer sees none of it and can touch none of it.
    let r = admin
        .call("GET", "/admin/v1/mac-keys", Some(&theirs), "")
        .await;
    assert_eq!(r.body, json!([]));
    let r = admin
        .call("GET", "/admin/v1/credentials", Some(&theirs), "")
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    let path = format!("/admin/v1/mac-keys?credential={}", id_of(&mine));
    let r = admin.call("GET", &path, Some(&theirs), "").await;
    assert_problem(&r, 404, "no API credential");
    let r = admin
        .call("POST", "/admin/v1/mac-keys", Some(&theirs), &body)
        .await;
    assert_problem(&r, 404, "no API credential");
    let path = format!("/admin/v1/credentials/{}/disable", id_of(&mine));
    let r = admin.call("POST", &path, Some(&theirs), "").await;
    assert_problem(&r, 404, "no API credential");
    assert!(!r.text.contains("initech"));
    let r = admin
        .call("GET", "/admin/v1/credentials", Some(&mine), "")
        .await;
    assert_eq!(r.status, 200, "still active after the foreign attempt");

    // Disabling its own second credential works.
    let path = format!("/admin/v1/credentials/{}/disable", id_of(&second));
    let r = admin.call("POST", &path, Some(&mine), "").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "disabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_bound_with_a_key_are_listed_for_its_customer() {
    let admin = start().await;
    let (_, mine) = admin.customer("initech").await;
    let (_, theirs) = admin.customer("globex").await;
    let key = admin
        .call("POST", "/admin/v1/mac-keys", Some(&mine), "")
        .await;
    let kid = key.body["kid"].as_str().unwrap();
    let hmac = URL_SAFE_NO_PAD
        .decode(key.body["hmac_key"].as_str().unwrap())
        .unwrap();

    let raw = RawClient::new(&admin.ca.base_url, &admin.ca.root_pem);
    let account_key = SigningKey::generate(Algorithm::ES256).unwrap();
    let url = raw.url("/acme/new-account");
    let eab = external_account_binding(
        Algorithm::HS256,
        kid,
        &hmac,
        &url,
        &account_key.public_jwk(),
    )
    .unwrap();
    let r = raw
        .post(
            &account_key,
            None,
            &url,
            Some(&json!({"termsOfServiceAgreed": true, "externalAccountBinding": eab})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let account_url = r.header("location").unwrap();

    let r = admin
        .call("GET", "/admin/v1/accounts", Some(&mine), "")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let accounts = r.body.as_array().unwrap();
    assert_eq!(accounts.len(), 1);
    assert!(account_url.ends_with(accounts[0]["id"].as_str().unwrap()));
    assert_eq!(accounts[0]["eab_kid"], kid);
    let path = format!("/admin/v1/accounts?credential={}", id_of(&mine));
    let r = admin.call("GET", &path, Some(&mine), "").await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    let keys = admin
        .call("GET", "/admin/v1/mac-keys", Some(&mine), "")
        .await;
    assert_eq!(keys.body[0]["bindings_used"], 1);
    assert_eq!(keys.body[0]["bindings_remaining"], 999);

    let r = admin
        .call("GET", "/admin/v1/accounts", Some(&theirs), "")
        .await;
    assert_eq!(r.body, json!([]));
    let r = admin.call("GET", &path, Some(&theirs), "").await;
    assert_problem(&r, 404, "no API credential");
}

/// A suspended customer's credentials get 403 `unauthorized` (a problem naming the
/// suspension and whom to contact) on every route, once the secret is right; a wrong secret
/// still gets the 401 that says nothing; another customer is untouched; a resume restores
/// access. A MAC key shows what stops it: its customer suspended, its credential disabled,
/// with no uses left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_customers_credentials_are_refused_until_it_is_resumed() {
    let admin = start().await;
    let (_, mine) = admin.customer("initech").await;
    let (_, theirs) = admin.customer("globex").await;
    let second = admin
        .call("POST", "/admin/v1/credentials", Some(&mine), "")
        .await;
    let second = format!(
        "{}:{}",
        second.body["id"].as_str().unwrap(),
        second.body["secret"].as_str().unwrap()
    );
    let key = admin
        .call("POST", "/admin/v1/mac-keys", Some(&mine), "")
        .await;
    assert_eq!(key.status, 201, "{}", key.text);

    let eab = admin.ca.ca.eab();
    eab.suspend_customer("initech", Some("chargeback"))
        .await
        .unwrap();
    for (method, path) in [
        ("GET", "/admin/v1/credentials"),
        ("POST", "/admin/v1/credentials"),
        ("GET", "/admin/v1/mac-keys"),
        ("POST", "/admin/v1/mac-keys"),
        ("GET", "/admin/v1/accounts"),
        ("GET", "/admin/v1/profiles"),
    ] {
        let r = admin.call(method, path, Some(&mine), "").await;
        assert_problem(&r, 403, "customer \"initech\" is suspended");
        assert_eq!(
            r.body["type"], "urn:ietf:params:acme:error:unauthorized",
            "{method} {path}: {}",
            r.text
        );
        assert!(
            r.text
                .contains("contact the operator of this certificate authority")
                && !r.text.contains("chargeback"),
            "{method} {path}: {}",
            r.text
        );
    }
    let wrong = format!("{}:not-the-secret", id_of(&mine));
    let r = admin
        .call("GET", "/admin/v1/credentials", Some(&wrong), "")
        .await;
    assert_problem(&r, 401, "Bearer ID:SECRET");
    assert!(!r.text.contains("suspended"), "{}", r.text);
    let r = admin
        .call("GET", "/admin/v1/credentials", Some(&theirs), "")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    eab.resume_customer("initech").await.unwrap();
    let r = admin
        .call("GET", "/admin/v1/mac-keys", Some(&mine), "")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body[0]["status"], "active");
    assert_eq!(r.body[0]["bindings_remaining"], 1000);

    // The first credential disabled (by the second): its key shows why it binds nothing.
    let path = format!("/admin/v1/credentials/{}/disable", id_of(&mine));
    let r = admin.call("POST", &path, Some(&second), "").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = admin
        .call("GET", "/admin/v1/mac-keys", Some(&second), "")
        .await;
    assert_eq!(r.body[0]["kid"], key.body["kid"]);
    assert_eq!(r.body[0]["status"], "credential_disabled", "{}", r.text);
    assert_eq!(r.body[0]["bindings_remaining"], 0, "{}", r.text);
}

/// `GET /admin/v1/profiles`: the profiles offered with their descriptions, the default, and
/// those the caller's customer may order, as the operator set them; read-only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_show_what_the_customer_may_order() {
    let admin = start().await;
    let (_, bearer) = admin.customer("profiled").await;
    let r = admin
        .call("GET", "/admin/v1/profiles", Some(&bearer), "")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["default"], "tlsserver");
    assert_eq!(r.body["allowed"], Value::Null);
    let offered = r.body["offered"].as_object().unwrap();
    assert!(offered.contains_key("tlsserver") && offered.contains_key("shortlived"));

    admin
        .ca
        .ca
        .eab()
        .set_customer_profiles("profiled", Some(vec!["shortlived".to_owned()]))
        .await
        .unwrap();
    let r = admin
        .call("GET", "/admin/v1/profiles", Some(&bearer), "")
        .await;
    assert_eq!(r.body["allowed"], json!(["shortlived"]));

    let r = admin
        .call("POST", "/admin/v1/profiles", Some(&bearer), "{}")
        .await;
    assert_eq!(r.status, 405, "{}", r.text);
    let r = admin.call("GET", "/admin/v1/profiles", None, "").await;
    assert_eq!(r.status, 401);
}

/// A rate limit's refusal on the admin API: 429 `rateLimited` with `Retry-After` and a detail
/// naming the limit and its value.
fn assert_rate_limited(r: &Reply, limit: &str, value_text: &str) {
    assert_problem(r, 429, limit);
    assert_eq!(
        r.body["type"], "urn:ietf:params:acme:error:rateLimited",
        "{}",
        r.text
    );
    assert!(r.text.contains(value_text), "{}", r.text);
    let retry: u64 = r.retry_after.as_deref().unwrap().parse().unwrap();
    assert!(retry >= 1, "{}", r.text);
}

/// New credentials and MAC keys per customer per day, and failed authentications per client
/// address: the request past each limit is 429 `rateLimited`; a customer's own value raises
/// its limit at once; once an address has failed too often, even a right secret from it is
/// refused before it is checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_mac_keys_and_failed_authentications_are_rate_limited() {
    let mut options = TestCaOptions::default();
    options.config.rate_limits.new_credentials_per_customer = 2;
    options.config.rate_limits.new_mac_keys_per_customer = 2;
    options
        .config
        .rate_limits
        .failed_admin_authentications_per_address = 3;
    let admin = start_with(options).await;
    // The customer's first credential counts (made through the registry, as the CLI does).
    let (_, mine) = admin.customer("initech").await;
    let created = admin
        .call("POST", "/admin/v1/credentials", Some(&mine), "")
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let refused = admin
        .call("POST", "/admin/v1/credentials", Some(&mine), "")
        .await;
    assert_rate_limited(&refused, "new_credentials_per_customer", "2 per day");
    let listed = admin
        .call("GET", "/admin/v1/credentials", Some(&mine), "")
        .await;
    assert_eq!(listed.body.as_array().unwrap().len(), 2, "{}", listed.text);

    for _ in 0..2 {
        let k = admin
            .call("POST", "/admin/v1/mac-keys", Some(&mine), "")
            .await;
        assert_eq!(k.status, 201, "{}", k.text);
    }
    let refused = admin
        .call("POST", "/admin/v1/mac-keys", Some(&mine), "")
        .await;
    assert_rate_limited(&refused, "new_mac_keys_per_customer", "2 per day");
    // The operator raises this customer's limit: a new value counts afresh.
    admin
        .ca
        .ca
        .eab()
        .set_rate_limit("initech", "new_mac_keys_per_customer", Some(5))
        .await
        .unwrap();
    let k = admin
        .call("POST", "/admin/v1/mac-keys", Some(&mine), "")
        .await;
    assert_eq!(k.status, 201, "{}", k.text);

    // Three wrong secrets from 127.0.0.1 are 401; then the address is refused, even with the
    // right secret, without its secret being checked.
    let wrong = format!("{}:not-the-secret", id_of(&mine));
    for _ in 0..3 {
        let r = admin
            .call("GET", "/admin/v1/credentials", Some(&wrong), "")
            .await;
        assert_problem(&r, 401, "ID:SECRET");
    }
    let refused = admin
        .call("GET", "/admin/v1/credentials", Some(&mine), "")
        .await;
    assert_rate_limited(
        &refused,
        "failed_admin_authentications_per_address",
        "3 per hour",
    );
    assert!(refused.text.contains("127.0.0.1"), "{}", refused.text);
}
