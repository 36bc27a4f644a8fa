//! The admin API over real HTTP on 127.0.0.1:0 (hyper client): bearer API credentials, a
//! credential confined to its own customer, problem documents that say what to do, secrets
//! that appear only in the response that creates them, and a customer's certificates and
//! domain validations issued through the real ACME flow.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrite_jose::Algorithm;
use ferrite_jose::sign::{SigningKey, external_account_binding};
use ferrite_testkit::eab::IssuedMacKey;
use ferrite_testkit::raw::http_get;
use ferrite_testkit::{RawAccount, RawClient, TestCa, TestCaOptions, bounded};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

struct Admin {
    ca: TestCa,
    base: String,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

struct Reply {
    status: u16,
    content_type: String,
    /// The `Link` header, if any.
    link: Option<String>,
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
        self.call_with(method, path, bearer, body, &[]).await
    }

    /// [`Admin::call`] with `extra` request headers.
    async fn call_with(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: &str,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (name, value) in extra {
            req = req.header(*name, *value);
        }
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
        let link = resp
            .headers()
            .get("link")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
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
            link,
            body,
            text,
            retry_after,
        }
    }

    /// `GET path` with `bearer`.
    async fn get(&self, path: &str, bearer: &str) -> Reply {
        self.call("GET", path, Some(bearer), "").await
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

impl Admin {
    /// An operator credential ("id:secret"), made as `ferrite credential create --operator`
    /// makes it.
    async fn operator(&self) -> String {
        let created = self.ca.ca.eab().create_operator_credential().await.unwrap();
        format!("{}:{}", created.credential.id, created.secret.expose())
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
    let body = json!({"credential_id": id_of(&mine)}).to_string();
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
    assert_problem(&bad, 400, "{\"credential_id\": \"ID\"}");

    // The other customer sees none of it and can touch none of it.
    let r = admin
        .call("GET", "/admin/v1/mac-keys", Some(&theirs), "")
        .await;
    assert_eq!(r.body, json!([]));
    let r = admin
        .call("GET", "/admin/v1/credentials", Some(&theirs), "")
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    let path = format!("/admin/v1/mac-keys?credential_id={}", id_of(&mine));
    let r = admin.call("GET", &path, Some(&theirs), "").await;
    assert_problem(&r, 404, "no API credential");
    let r = admin
        .call("POST", "/admin/v1/mac-keys", Some(&theirs), &body)
        .await;
    assert_problem(&r, 404, "no API credential");
    // The older name of the field is read as well.
    let old_name = json!({"credential": id_of(&mine)}).to_string();
    let r = admin
        .call("POST", "/admin/v1/mac-keys", Some(&theirs), &old_name)
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

/// A MAC key made through the admin API for the caller's credential, and an ACME account
/// bound with it.
async fn bound_account(admin: &Admin, bearer: &str) -> RawAccount {
    let key = admin
        .call("POST", "/admin/v1/mac-keys", Some(bearer), "")
        .await;
    assert_eq!(key.status, 201, "{}", key.text);
    let mac = IssuedMacKey {
        credential_id: id_of(bearer).to_owned(),
        kid: key.body["kid"].as_str().unwrap().to_owned(),
        hmac: URL_SAFE_NO_PAD
            .decode(key.body["hmac_key"].as_str().unwrap())
            .unwrap(),
    };
    RawAccount::register_bound(&admin.ca.raw(), &mac).await
}

/// A DER INTEGER's octets as the admin API shows a serial: lower-case hex without the sign
/// octet.
fn hex_serial(raw: &[u8]) -> String {
    let start = raw.iter().position(|b| *b != 0).unwrap_or(raw.len() - 1);
    raw[start..].iter().map(|b| format!("{b:02x}")).collect()
}

/// A CA with customers initech and globex, each with a credential ("id:secret") and an ACME
/// account bound through a MAC key of it: (admin, initech's, globex's, initech's account,
/// globex's account).
async fn two_customers() -> (Admin, String, String, RawAccount, RawAccount) {
    let admin = start().await;
    let (_, mine) = admin.customer("initech").await;
    let (_, theirs) = admin.customer("globex").await;
    let my_account = bound_account(&admin, &mine).await;
    let their_account = bound_account(&admin, &theirs).await;
    (admin, mine, theirs, my_account, their_account)
}

/// The serial of a DER certificate as the admin API shows it.
fn serial_of(der: &[u8]) -> String {
    let (_, cert) = X509Certificate::from_der(der).unwrap();
    hex_serial(cert.raw_serial())
}

/// The serials of a certificate listing.
fn serials(r: &Reply) -> Vec<String> {
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["serial"].as_str().unwrap().to_owned())
        .collect()
}

/// Two customers issue through ACME; one lists, searches, pages, downloads and revokes its
/// certificates through the admin API and sees the revocation in the CRL and in ACME, while
/// the other sees none of them and can touch none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_lists_downloads_and_revokes_its_own_certificates_only() {
    bounded(async {
        let (admin, mine, theirs, my_account, their_account) = two_customers().await;
        let raw = admin.ca.raw();
        let names = [
            "a.initech.example.com",
            "b.initech.example.com",
            "www.initech.example.com",
        ];
        let mut issued = Vec::new();
        for name in names {
            issued.push(admin.ca.raw_issue(&raw, &my_account, &[name]).await);
        }
        let theirs_issued = admin
            .ca
            .raw_issue(&raw, &their_account, &["a.globex.example.com"])
            .await;
        let mut my_serials: Vec<String> = issued.iter().map(|i| serial_of(&i.leaf_der)).collect();
        my_serials.sort();
        let their_serial = serial_of(&theirs_issued.leaf_der);

        // The whole list: the customer's three, by serial, with what a person needs.
        let r = admin.get("/admin/v1/certificates", &mine).await;
        assert_eq!(serials(&r), my_serials);
        assert_eq!(r.body["next"], Value::Null);
        assert!(r.link.is_none());
        let first = &r.body["certificates"][0];
        assert_eq!(first["status"], "valid", "{first}");
        assert_eq!(first["revocation"], Value::Null);
        assert!(
            my_account
                .kid
                .ends_with(first["account_id"].as_str().unwrap())
        );
        assert!(first["issuer"].as_str().unwrap().contains("CN="), "{first}");
        assert!(first["not_before"].as_str().unwrap() < first["not_after"].as_str().unwrap());
        assert_eq!(first["names"].as_array().unwrap().len(), 1);
        let r = admin.get("/admin/v1/certificates", &theirs).await;
        assert_eq!(serials(&r), [their_serial.as_str()]);

        // Search: one name, every name under a domain, a serial as openssl prints it,
        // expiry and status.
        let r = admin
            .get(
                "/admin/v1/certificates?domain=WWW.initech.example.com",
                &mine,
            )
            .await;
        assert_eq!(serials(&r), [serial_of(&issued[2].leaf_der)]);
        let r = admin
            .get("/admin/v1/certificates?domain=.initech.example.com", &mine)
            .await;
        assert_eq!(serials(&r), my_serials);
        for path in [
            "/admin/v1/certificates?domain=.globex.example.com",
            "/admin/v1/certificates?domain=a.globex.example.com",
            &format!("/admin/v1/certificates?serial={their_serial}"),
            "/admin/v1/certificates?expiring_days=1",
        ] {
            let r = admin.get(path, &mine).await;
            assert!(serials(&r).is_empty(), "{path}: {}", r.text);
        }
        let openssl_form = serial_of(&issued[0].leaf_der)
            .to_uppercase()
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(":");
        let r = admin
            .get(
                &format!("/admin/v1/certificates?serial={openssl_form}"),
                &mine,
            )
            .await;
        assert_eq!(serials(&r), [serial_of(&issued[0].leaf_der)]);
        let r = admin
            .get(
                "/admin/v1/certificates?expiring_days=3650&status=valid",
                &mine,
            )
            .await;
        assert_eq!(serials(&r), my_serials);

        // Paging: two, then the one after, following `next` (and the same URL in `Link`).
        let r = admin.get("/admin/v1/certificates?limit=2", &mine).await;
        assert_eq!(serials(&r), my_serials[..2]);
        let next = r.body["next"].as_str().unwrap().to_owned();
        assert_eq!(r.link.as_deref(), Some(&*format!("<{next}>; rel=\"next\"")));
        let r = admin.get(&next, &mine).await;
        assert_eq!(serials(&r), my_serials[2..]);
        assert_eq!(r.body["next"], Value::Null);
        // Another customer following the link gets its own certificates after that serial.
        let r = admin.get(&next, &theirs).await;
        assert!(!r.text.contains(&my_serials[2]), "{}", r.text);

        // One certificate, and its chain as ACME served it.
        let serial = serial_of(&issued[0].leaf_der);
        let r = admin
            .get(&format!("/admin/v1/certificates/{serial}"), &mine)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["serial"], serial);
        assert_eq!(r.body["names"], json!(["a.initech.example.com"]));
        let r = admin
            .get(&format!("/admin/v1/certificates/{serial}/pem"), &mine)
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type, "application/pem-certificate-chain");
        assert_eq!(r.text, issued[0].chain_pem);
        assert!(
            r.text.matches("BEGIN CERTIFICATE").count() >= 2,
            "leaf and chain"
        );

        // The other customer: not found, whatever it tries, and nothing revoked.
        for (method, path, body) in [
            ("GET", format!("/admin/v1/certificates/{serial}"), ""),
            ("GET", format!("/admin/v1/certificates/{serial}/pem"), ""),
            (
                "POST",
                format!("/admin/v1/certificates/{serial}/revoke"),
                "{\"reason\": \"keyCompromise\"}",
            ),
        ] {
            let r = admin.call(method, &path, Some(&theirs), body).await;
            assert_problem(&r, 404, "no certificate with serial");
            assert!(!r.text.contains("initech"), "{}", r.text);
        }
        let r = admin
            .get(&format!("/admin/v1/certificates/{their_serial}"), &mine)
            .await;
        assert_problem(&r, 404, "no certificate with serial");

        // Revocation: answered with the revoked certificate; a second time is 409.
        let revoke = format!("/admin/v1/certificates/{serial}/revoke");
        let r = admin
            .call("POST", &revoke, Some(&mine), "{\"reason\": \"sometimes\"}")
            .await;
        assert_problem(&r, 400, "superseded (4)");
        assert_eq!(
            r.body["type"],
            "urn:ietf:params:acme:error:badRevocationReason"
        );
        let r = admin.call("POST", &revoke, Some(&mine), "").await;
        assert_problem(&r, 400, "{\"reason\": \"keyCompromise\"}");
        let r = admin
            .call("POST", &revoke, Some(&mine), "{\"reason\": \"superseded\"}")
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["status"], "revoked");
        assert_eq!(r.body["revocation"]["reason"], "superseded");
        assert!(r.body["revocation"]["revoked_at"].is_string());
        let r = admin
            .call("POST", &revoke, Some(&mine), "{\"reason\": \"superseded\"}")
            .await;
        assert_problem(&r, 409, "already revoked");
        assert_eq!(r.body["type"], "urn:ietf:params:acme:error:alreadyRevoked");
        let r = admin
            .get("/admin/v1/certificates?status=revoked", &mine)
            .await;
        assert_eq!(serials(&r), [serial.as_str()]);
        assert_eq!(
            r.body["certificates"][0]["revocation"]["reason"],
            "superseded"
        );
        let r = admin
            .get("/admin/v1/certificates?status=valid", &mine)
            .await;
        assert_eq!(serials(&r).len(), 2);
        let r = admin
            .get("/admin/v1/certificates?status=revoked", &theirs)
            .await;
        assert!(serials(&r).is_empty());

        // A relying party sees it in the CRL, with its reason; ACME says it is revoked.
        let crl = http_get(&ferrite_testkit::ca::crl_url(&issued[0].leaf_der)).await;
        assert_eq!(crl.status, 200);
        let (_, crl) = CertificateRevocationList::from_der(&crl.body).unwrap();
        let listed: Vec<(String, Option<u8>)> = crl
            .iter_revoked_certificates()
            .map(|e| {
                (
                    hex_serial(e.raw_serial()),
                    e.reason_code().map(|(_, c)| c.0),
                )
            })
            .collect();
        assert_eq!(listed, [(serial.clone(), Some(4))]);
        let r = raw
            .post(
                &my_account.key,
                Some(&my_account.kid),
                &admin.ca.url("/acme/revoke-cert"),
                Some(&json!({"certificate": URL_SAFE_NO_PAD.encode(&issued[0].leaf_der)})),
            )
            .await;
        assert_eq!(
            r.problem_type(),
            "alreadyRevoked",
            "{}",
            String::from_utf8_lossy(&r.body)
        );

        // keyCompromise through the API blocks the key, as the operator's revocation does,
        // naming the credential that asked.
        let second = serial_of(&issued[1].leaf_der);
        let r = admin
            .call(
                "POST",
                &format!("/admin/v1/certificates/{second}/revoke"),
                Some(&mine),
                "{\"reason\": \"keyCompromise\"}",
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["revocation"]["reason"], "keyCompromise");
        let hash =
            ferrite_core::ca::key_block::certificate_spki_sha256(&issued[1].leaf_der).unwrap();
        let block = admin
            .ca
            .ca
            .store()
            .blocked_key(&hash)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(block.serial.as_deref(), Some(second.as_str()));
        assert!(block.reason.contains(id_of(&mine)), "{}", block.reason);
    })
    .await;
}

/// Query values the API does not accept are 400 problems saying the accepted form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_certificate_and_validation_queries_say_what_is_accepted() {
    let admin = start().await;
    let (_, mine) = admin.customer("initech").await;
    for (path, hint) in [
        ("/admin/v1/certificates?limit=0", "from 1 to 1000"),
        ("/admin/v1/certificates?limit=1001", "from 1 to 1000"),
        ("/admin/v1/certificates?limit=ten", "from 1 to 1000"),
        (
            "/admin/v1/certificates?expiring_days=soon",
            "number of days",
        ),
        (
            "/admin/v1/certificates?status=gone",
            "valid, revoked or expired",
        ),
        ("/admin/v1/certificates?domain=%25.com", "leading dot"),
        ("/admin/v1/certificates?serial=xyz", "hexadecimal"),
        ("/admin/v1/certificates?after=xyz", "query parameter after"),
        (
            "/admin/v1/certificates?colour=red",
            "accepted parameters: domain",
        ),
        ("/admin/v1/certificates/not-a-serial", "hexadecimal"),
        ("/admin/v1/validations?limit=-1", "from 1 to 1000"),
        ("/admin/v1/validations?after=a%20b", "validation id"),
        ("/admin/v1/validations?domain=a..b", "leading dot"),
        (
            "/admin/v1/validations?status=valid",
            "accepted parameters: domain",
        ),
    ] {
        let r = admin.get(path, &mine).await;
        assert_problem(&r, 400, hint);
        assert_eq!(
            r.body["type"], "urn:ietf:params:acme:error:malformed",
            "{path}: {}",
            r.text
        );
    }
    let r = admin.call("GET", "/admin/v1/certificates", None, "").await;
    assert_eq!(r.status, 401);
    let r = admin.get("/admin/v1/no-such-thing", &mine).await;
    assert_problem(&r, 404, "/admin/v1/certificates");
    assert_problem(&r, 404, "/admin/v1/validations");
}

/// A customer's domain validations: name, method, when, reuse until, account and evidence,
/// filtered by name and paged; another customer's are not among them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_lists_its_own_domain_validations() {
    bounded(async {
        let (admin, mine, theirs, my_account, their_account) = two_customers().await;
        let raw = admin.ca.raw();
        admin
            .ca
            .raw_ready_order(
                &raw,
                &my_account,
                &["a.initech.example.com", "b.initech.example.com"],
            )
            .await;
        admin
            .ca
            .raw_ready_order(&raw, &my_account, &["initech.example.com"])
            .await;
        admin
            .ca
            .raw_ready_order(&raw, &their_account, &["a.globex.example.com"])
            .await;

        let domains = |r: &Reply| -> Vec<String> {
            assert_eq!(r.status, 200, "{}", r.text);
            let mut d: Vec<String> = r.body["validations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["domain"].as_str().unwrap().to_owned())
                .collect();
            d.sort();
            d
        };
        let r = admin.get("/admin/v1/validations", &mine).await;
        assert_eq!(
            domains(&r),
            [
                "a.initech.example.com",
                "b.initech.example.com",
                "initech.example.com"
            ]
        );
        let v = &r.body["validations"][0];
        assert_eq!(v["domain"], "initech.example.com", "newest first: {v}");
        assert_eq!(v["method"], "http-01");
        assert!(my_account.kid.ends_with(v["account_id"].as_str().unwrap()));
        assert!(v["validated_at"].as_str().unwrap() < v["reuse_until"].as_str().unwrap());
        assert!(v["evidence"].is_object(), "{v}");
        assert!(!r.text.contains("globex"), "{}", r.text);

        let r = admin
            .get("/admin/v1/validations?domain=.initech.example.com", &mine)
            .await;
        assert_eq!(
            domains(&r),
            ["a.initech.example.com", "b.initech.example.com"]
        );
        let r = admin
            .get("/admin/v1/validations?domain=initech.example.com", &mine)
            .await;
        assert_eq!(domains(&r), ["initech.example.com"]);

        // One at a time, following `next` until there is none.
        let mut path = "/admin/v1/validations?limit=1".to_owned();
        let mut walked = Vec::new();
        for _ in 0..10 {
            let r = admin.get(&path, &mine).await;
            walked.extend(domains(&r));
            match r.body["next"].as_str() {
                Some(next) => {
                    assert!(r.link.as_deref().unwrap().contains(next));
                    path = next.to_owned();
                }
                None => break,
            }
        }
        walked.sort();
        assert_eq!(
            walked,
            [
                "a.initech.example.com",
                "b.initech.example.com",
                "initech.example.com"
            ]
        );

        let r = admin.get("/admin/v1/validations", &theirs).await;
        assert_eq!(domains(&r), ["a.globex.example.com"]);
    })
    .await;
}

/// The property names a schema of the OpenAPI document gives an object, following `$ref`,
/// `allOf` and `oneOf` (an optional body is one of the object or null).
fn schema_properties(doc: &Value, schema: &Value) -> Vec<String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap();
        return schema_properties(doc, &doc["components"]["schemas"][name]);
    }
    let mut names: Vec<String> = schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    for part in ["allOf", "oneOf"]
        .iter()
        .flat_map(|k| schema[*k].as_array().into_iter().flatten())
    {
        names.extend(schema_properties(doc, part));
    }
    names.sort();
    names
}

/// The keys of a JSON object, sorted.
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

/// `GET /admin/v1/openapi.json` is an OpenAPI 3.1 document that lists every admin route
/// (each path it names is routed, with every method it names), and its schemas name the
/// fields the responses carry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_every_route_and_its_fields() {
    let admin = start().await;
    let (_, mine) = admin.customer("initech").await;
    let r = admin.call("GET", "/admin/v1/openapi.json", None, "").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.content_type, "application/json");
    let doc = r.body.clone();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["servers"][0]["url"], "/admin/v1");
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());

    let paths = doc["paths"].as_object().unwrap();
    let mut listed: Vec<&str> = paths.keys().map(String::as_str).collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            "/accounts",
            "/accounts/{id}/deactivate",
            "/certificates",
            "/certificates/{serial}",
            "/certificates/{serial}/pem",
            "/certificates/{serial}/revoke",
            "/credentials",
            "/credentials/{id}/disable",
            "/customers",
            "/customers/{name}",
            "/customers/{name}/limits",
            "/customers/{name}/limits/{limit}",
            "/customers/{name}/profiles",
            "/customers/{name}/resume",
            "/customers/{name}/suspend",
            "/mac-keys",
            "/mac-keys/{kid}/disable",
            "/openapi.json",
            "/profiles",
            "/requests/{id}",
            "/usage",
            "/validations",
        ]
    );
    // Every path and method the document names is routed: never the fallback's 404 or 405.
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let Some(method) = ["get", "post", "put"].iter().find(|m| *m == method) else {
                continue;
            };
            let url = format!(
                "/admin/v1{}",
                path.replace("{serial}", "0a0b")
                    .replace("{id}", "nobody")
                    .replace("{kid}", "nobody")
                    .replace("{name}", "initech")
                    .replace("{limit}", "new_orders_per_account")
            );
            let r = admin
                .call(&method.to_uppercase(), &url, Some(&mine), "")
                .await;
            assert!(
                r.status != 405 && !r.text.contains("no such admin resource"),
                "{method} {url}: {} {}",
                r.status,
                r.text
            );
        }
    }

    // Request bodies and responses name fields alike, and the schemas name what is sent.
    let schema = |path: &str, method: &str, status: &str| {
        doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
            .clone()
    };
    let created = admin
        .call("POST", "/admin/v1/credentials", Some(&mine), "")
        .await;
    assert_eq!(
        keys(&created.body),
        schema_properties(&doc, &schema("/credentials", "post", "201"))
    );
    let key = admin
        .call("POST", "/admin/v1/mac-keys", Some(&mine), "")
        .await;
    assert_eq!(
        keys(&key.body),
        schema_properties(&doc, &schema("/mac-keys", "post", "201"))
    );
    let body =
        &doc["paths"]["/mac-keys"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    assert!(
        schema_properties(&doc, body).contains(&"credential_id".to_owned())
            && keys(&key.body).contains(&"credential_id".to_owned()),
        "{body}"
    );
    let profiles = admin.get("/admin/v1/profiles", &mine).await;
    assert_eq!(
        keys(&profiles.body),
        schema_properties(&doc, &schema("/profiles", "get", "200"))
    );
    let revoke = &doc["paths"]["/certificates/{serial}/revoke"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"];
    assert_eq!(schema_properties(&doc, revoke), ["reason"]);
    let cert = schema_properties(&doc, &doc["components"]["schemas"]["CertificateView"]);
    for field in [
        "serial",
        "names",
        "status",
        "revocation",
        "issuer",
        "profile",
        "account_id",
    ] {
        assert!(cert.contains(&field.to_owned()), "{field}: {cert:?}");
    }
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

/// Behind a proxy the operator names (`admin_trusted_proxies`, here 127.0.0.1),
/// `failed_admin_authentications_per_address` counts each client the proxy forwards: two
/// wrong secrets from 198.51.100.7 and its address is refused, while 198.51.100.8 behind the
/// same proxy still gets its secret checked; a forged first `X-Forwarded-For` hop does not
/// escape the count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_authentications_behind_a_trusted_proxy_count_each_client() {
    let mut options = TestCaOptions::default();
    options
        .config
        .rate_limits
        .failed_admin_authentications_per_address = 2;
    options.config.admin_trusted_proxies = vec!["127.0.0.1".to_owned()];
    let admin = start_with(options).await;
    let (_, mine) = admin.customer("initech").await;
    let wrong = format!("{}:not-the-secret", id_of(&mine));
    let from = |client: &'static str, bearer: &str| {
        let bearer = bearer.to_owned();
        let admin = &admin;
        async move {
            admin
                .call_with(
                    "GET",
                    "/admin/v1/credentials",
                    Some(&bearer),
                    "",
                    &[("x-forwarded-for", client)],
                )
                .await
        }
    };
    for _ in 0..2 {
        assert_problem(&from("198.51.100.7", &wrong).await, 401, "ID:SECRET");
    }
    for client in ["198.51.100.7", "203.0.113.9, 198.51.100.7"] {
        let refused = from(client, &mine).await;
        assert_rate_limited(
            &refused,
            "failed_admin_authentications_per_address",
            "2 per hour",
        );
        assert!(refused.text.contains("198.51.100.7"), "{}", refused.text);
    }
    let other = from("198.51.100.8", &mine).await;
    assert_eq!(other.status, 200, "{}", other.text);
    // The proxy's own address was never counted: a caller reaching the listener directly
    // still authenticates.
    let direct = admin
        .call("GET", "/admin/v1/credentials", Some(&mine), "")
        .await;
    assert_eq!(direct.status, 200, "{}", direct.text);
}

/// The operator's routes and the new changes are described with the bearer scheme and their
/// bodies, and an operator credential's usage answer has the fields its schema names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_the_operator_routes() {
    let admin = start().await;
    admin.customer("initech").await;
    let operator = admin.operator().await;
    let doc = admin
        .call("GET", "/admin/v1/openapi.json", None, "")
        .await
        .body;
    for (path, method) in [
        ("/customers", "get"),
        ("/customers", "post"),
        ("/customers/{name}/suspend", "post"),
        ("/customers/{name}/limits/{limit}", "put"),
        ("/customers/{name}/profiles", "put"),
        ("/usage", "get"),
        ("/requests/{id}", "get"),
        ("/mac-keys/{kid}/disable", "post"),
        ("/accounts/{id}/deactivate", "post"),
    ] {
        let op = &doc["paths"][path][method];
        assert_eq!(op["security"], json!([{"bearer": []}]), "{method} {path}");
    }
    let body = |path: &str, method: &str| {
        schema_properties(
            &doc,
            &doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"],
        )
    };
    assert_eq!(body("/customers", "post"), ["name"]);
    assert_eq!(
        body("/customers/{name}/limits/{limit}", "put"),
        ["default", "value"]
    );
    assert_eq!(
        body("/customers/{name}/profiles", "put"),
        ["all", "profiles"]
    );
    assert_eq!(
        body("/mac-keys/{kid}/disable", "post"),
        ["deactivate_accounts"]
    );
    assert_eq!(
        body("/credentials/{id}/disable", "post"),
        ["deactivate_accounts"]
    );
    let usage = admin
        .get("/admin/v1/usage?customer=initech", &operator)
        .await;
    assert_eq!(usage.status, 200, "{}", usage.text);
    let schema =
        &doc["paths"]["/usage"]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
    assert_eq!(keys(&usage.body), schema_properties(&doc, schema));
    let credentials = admin.get("/admin/v1/credentials", &operator).await;
    let view = schema_properties(&doc, &doc["components"]["schemas"]["CredentialView"]);
    for c in credentials.body.as_array().unwrap() {
        assert_eq!(keys(c), view, "{c}");
    }
}

/// The limit named `name` in a `GET /usage` answer.
fn usage_of<'a>(usage: &'a Value, name: &str) -> &'a Value {
    usage["limits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["limit"] == name)
        .unwrap_or_else(|| panic!("no {name} in {usage}"))
}

/// An operator credential does over HTTP what `ferrite customer | credential | mac-key |
/// account` do: creates a customer, a credential and a MAC key for it (never one for itself),
/// suspends and resumes the customer, sets its limits and profiles and reads them back in
/// `/usage`, deactivates an account. Each change is in the audit log, naming the operator
/// credential.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_credential_manages_any_customer() {
    bounded(async {
        let mut options = TestCaOptions::default();
        let limits = &mut options.config.rate_limits;
        limits.new_credentials_per_customer = 20;
        limits.new_mac_keys_per_customer = 100;
        limits.new_orders_per_account = 300;
        let admin = start_with(options).await;
        let op = admin.operator().await;

        // Customers.
        let r = admin
            .call(
                "POST",
                "/admin/v1/customers",
                Some(&op),
                r#"{"name": "initech"}"#,
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(
            (r.body["name"].as_str(), r.body["status"].as_str()),
            (Some("initech"), Some("active"))
        );
        let r = admin
            .call(
                "POST",
                "/admin/v1/customers",
                Some(&op),
                r#"{"name": "initech"}"#,
            )
            .await;
        assert_problem(&r, 409, "already exists");
        let r = admin
            .call("POST", "/admin/v1/customers", Some(&op), r#"{"nom": "x"}"#)
            .await;
        assert_problem(&r, 400, r#"{"name": "example-corp"}"#);
        let r = admin
            .call(
                "POST",
                "/admin/v1/customers",
                Some(&op),
                r#"{"name": "-bad"}"#,
            )
            .await;
        assert_problem(&r, 400, "starting with a letter or digit");
        let r = admin.get("/admin/v1/customers", &op).await;
        assert_eq!(r.body.as_array().unwrap().len(), 1, "{}", r.text);
        let r = admin.get("/admin/v1/customers/initech", &op).await;
        assert_eq!(r.body["name"], "initech", "{}", r.text);
        let r = admin.get("/admin/v1/customers/nobody", &op).await;
        assert_problem(&r, 404, "nobody");

        // A credential of the customer: it must be named; body and query both do.
        let r = admin
            .call("POST", "/admin/v1/credentials", Some(&op), "")
            .await;
        assert_problem(&r, 400, "?customer=NAME");
        let r = admin
            .call(
                "POST",
                "/admin/v1/credentials?customer=initech",
                Some(&op),
                "",
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["role"], "customer");
        let customer_id = r.body["customer_id"].as_str().unwrap().to_owned();
        let cred = format!(
            "{}:{}",
            r.body["id"].as_str().unwrap(),
            r.body["secret"].as_str().unwrap()
        );
        let r = admin
            .call(
                "POST",
                "/admin/v1/credentials",
                Some(&op),
                r#"{"customer": "initech"}"#,
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["customer_id"], customer_id.as_str());
        let r = admin.get("/admin/v1/credentials", &op).await;
        let roles: Vec<&str> = r
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles, ["customer", "customer", "operator"], "{}", r.text);

        // MAC keys belong to a customer's credential: never the operator's.
        for body in ["", &format!(r#"{{"credential_id": "{}"}}"#, id_of(&op))] {
            let r = admin
                .call("POST", "/admin/v1/mac-keys", Some(&op), body)
                .await;
            assert_problem(&r, 400, "MAC keys belong to a customer's credential");
            assert_eq!(r.body["type"], "urn:ietf:params:acme:error:malformed");
        }
        let body = format!(r#"{{"credential_id": "{}"}}"#, id_of(&cred));
        let key = admin
            .call("POST", "/admin/v1/mac-keys", Some(&op), &body)
            .await;
        assert_eq!(key.status, 201, "{}", key.text);
        let mac = IssuedMacKey {
            credential_id: id_of(&cred).to_owned(),
            kid: key.body["kid"].as_str().unwrap().to_owned(),
            hmac: URL_SAFE_NO_PAD
                .decode(key.body["hmac_key"].as_str().unwrap())
                .unwrap(),
        };
        let raw = admin.ca.raw();
        let account = RawAccount::register_bound(&raw, &mac).await;

        // Suspended: the customer's credential gets 403; resumed: it works again.
        let r = admin
            .call(
                "POST",
                "/admin/v1/customers/initech/suspend",
                Some(&op),
                r#"{"reason": "invoice 42"}"#,
            )
            .await;
        assert_eq!(
            (r.status, r.body["status"].as_str()),
            (200, Some("suspended")),
            "{}",
            r.text
        );
        assert_eq!(r.body["suspended_reason"], "invoice 42");
        let r = admin.get("/admin/v1/credentials", &cred).await;
        assert_problem(&r, 403, "customer \"initech\" is suspended");
        let r = admin
            .call("POST", "/admin/v1/customers/initech/resume", Some(&op), "")
            .await;
        assert_eq!(
            (r.status, r.body["status"].as_str()),
            (200, Some("active")),
            "{}",
            r.text
        );
        let r = admin.get("/admin/v1/credentials", &cred).await;
        assert_eq!(r.status, 200, "{}", r.text);

        // Limits: set, read back in /customers/{name}/limits and /usage, back to default.
        let path = "/admin/v1/customers/initech/limits/new_mac_keys_per_customer";
        let r = admin.call("PUT", path, Some(&op), r#"{"value": 7}"#).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let set = r
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["limit"] == "new_mac_keys_per_customer")
            .unwrap()
            .clone();
        assert_eq!(
            (set["override"].as_u64(), set["effective"].as_u64()),
            (Some(7), Some(7)),
            "{set}"
        );
        let r = admin
            .call("PUT", path, Some(&op), r#"{"value": 7, "default": true}"#)
            .await;
        assert_problem(&r, 400, "either a value or default");
        let r = admin
            .call(
                "PUT",
                "/admin/v1/customers/initech/limits/new_accounts_per_address",
                Some(&op),
                r#"{"value": 1}"#,
            )
            .await;
        assert_problem(&r, 400, "per client address");
        let r = admin.get("/admin/v1/customers/initech/limits", &op).await;
        assert_eq!(r.body.as_array().unwrap().len(), 9, "{}", r.text);
        let key2 = admin
            .call("POST", "/admin/v1/mac-keys", Some(&cred), "")
            .await;
        assert_eq!(key2.status, 201, "{}", key2.text);
        let usage = admin.get("/admin/v1/usage?customer=initech", &op).await;
        assert_eq!(usage.status, 200, "{}", usage.text);
        assert_eq!(usage.body["customer"], "initech");
        let keys_limit = usage_of(&usage.body, "new_mac_keys_per_customer");
        assert_eq!(keys_limit["value"], 7, "{keys_limit}");
        assert_eq!(keys_limit["used"], 1, "{keys_limit}");
        assert_eq!(keys_limit["window_seconds"], 86_400, "{keys_limit}");
        assert_eq!(keys_limit["counted_per"], "customer", "{keys_limit}");
        let creds_limit = usage_of(&usage.body, "new_credentials_per_customer");
        assert_eq!(
            (creds_limit["value"].as_u64(), creds_limit["used"].as_u64()),
            (Some(20), Some(2)),
            "{creds_limit}"
        );
        let orders = usage_of(&usage.body, "new_orders_per_account");
        assert_eq!(
            (orders["value"].as_u64(), orders["used"].as_u64()),
            (Some(300), Some(0)),
            "{orders}"
        );
        let pending = usage_of(&usage.body, "pending_authorizations_per_account");
        assert!(
            pending["used"].is_null() && pending["window_seconds"].is_null(),
            "{pending}"
        );
        // The first key was replaced by the second (disabled): only the second is shown.
        let keys_shown = usage.body["mac_keys"].as_array().unwrap();
        assert_eq!(keys_shown.len(), 1, "{}", usage.text);
        assert_eq!(keys_shown[0]["kid"], key2.body["kid"]);
        assert_eq!(
            (
                keys_shown[0]["bindings_used"].as_u64(),
                keys_shown[0]["max_bindings"].as_u64()
            ),
            (Some(0), Some(1000))
        );
        assert!(keys_shown[0]["expires_at"].is_string());
        // The customer's own credential reads the same; the operator must name a customer.
        let own = admin.get("/admin/v1/usage", &cred).await;
        assert_eq!(
            usage_of(&own.body, "new_mac_keys_per_customer")["value"],
            7,
            "{}",
            own.text
        );
        let r = admin.get("/admin/v1/usage", &op).await;
        assert_problem(&r, 400, "?customer=NAME");
        let r = admin
            .call("PUT", path, Some(&op), r#"{"default": true}"#)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let usage = admin.get("/admin/v1/usage?customer=initech", &op).await;
        assert_eq!(
            usage_of(&usage.body, "new_mac_keys_per_customer")["value"],
            100
        );

        // Profiles.
        let path = "/admin/v1/customers/initech/profiles";
        let r = admin
            .call("PUT", path, Some(&op), r#"{"profiles": ["nope"]}"#)
            .await;
        assert_problem(&r, 400, "offers no profile named \"nope\"");
        let r = admin
            .call(
                "PUT",
                path,
                Some(&op),
                r#"{"profiles": ["shortlived", "shortlived"]}"#,
            )
            .await;
        assert_eq!(
            r.body["allowed_profiles"],
            json!(["shortlived"]),
            "{}",
            r.text
        );
        let r = admin.get("/admin/v1/profiles?customer=initech", &op).await;
        assert_eq!(r.body["allowed"], json!(["shortlived"]), "{}", r.text);
        let r = admin.call("PUT", path, Some(&op), r#"{"all": true}"#).await;
        assert!(r.body["allowed_profiles"].is_null(), "{}", r.text);

        // Accounts: listed across customers, deactivated; ACME then refuses the account.
        let r = admin.get("/admin/v1/accounts", &op).await;
        let accounts = r.body.as_array().unwrap();
        assert_eq!(accounts.len(), 1, "{}", r.text);
        assert!(account.kid.ends_with(accounts[0]["id"].as_str().unwrap()));
        let path = format!(
            "/admin/v1/accounts/{}/deactivate",
            accounts[0]["id"].as_str().unwrap()
        );
        let r = admin.call("POST", &path, Some(&op), "").await;
        assert_eq!(
            (r.status, r.body["status"].as_str()),
            (200, Some("deactivated")),
            "{}",
            r.text
        );
        let r = raw
            .post_as_get(&account.key, &account.kid, &account.kid)
            .await;
        assert_eq!(r.problem_type(), "unauthorized");

        // Every change is in the audit log, as the CLI's commands are, naming the credential.
        let entries = admin
            .ca
            .ca
            .store()
            .audit_entries(time::OffsetDateTime::UNIX_EPOCH, 0, 1000)
            .await
            .unwrap();
        let commands: Vec<&str> = entries
            .iter()
            .filter(|e| e.event == "operator_command")
            .map(|e| e.subject.as_str())
            .collect();
        for command in [
            "customer create",
            "credential create",
            "mac-key create",
            "customer suspend",
            "customer resume",
            "customer set-limit",
            "customer set-profiles",
            "account deactivate",
        ] {
            assert!(commands.contains(&command), "{command}: {commands:?}");
        }
        let suspend = entries
            .iter()
            .find(|e| e.event == "operator_command" && e.subject == "customer suspend")
            .unwrap();
        let details: Value = serde_json::from_str(&suspend.details).unwrap();
        assert_eq!(details["operator_credential"], id_of(&op), "{details}");
        assert_eq!(
            details["request"], "POST /admin/v1/customers/initech/suspend",
            "{details}"
        );
        assert!(!suspend.details.contains(op.split_once(':').unwrap().1));
        for event in [
            "customer_suspended",
            "customer_resumed",
            "customer_limit_set",
            "account_deactivated",
        ] {
            assert!(entries.iter().any(|e| e.event == event), "{event}");
        }
    })
    .await;
}

/// A leaked MAC key contained through the API: the operator disables it with
/// `deactivate_accounts` (the account bound through it then gets `unauthorized` from ACME),
/// then the credential the same way; an operator credential disabled gets 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_contains_a_leaked_key_and_disables_a_credential() {
    bounded(async {
        let admin = start().await;
        let (_, mine) = admin.customer("initech").await;
        let (_, theirs) = admin.customer("globex").await;
        let op = admin.operator().await;
        let spare = admin.operator().await;
        let account = bound_account(&admin, &mine).await;
        let their_account = bound_account(&admin, &theirs).await;
        let raw = admin.ca.raw();

        let r = admin.get("/admin/v1/mac-keys", &op).await;
        assert_eq!(r.body.as_array().unwrap().len(), 2, "{}", r.text);
        let r = admin.get("/admin/v1/mac-keys?customer=initech", &op).await;
        let keys = r.body.as_array().unwrap();
        assert_eq!(keys.len(), 1, "{}", r.text);
        let kid = keys[0]["kid"].as_str().unwrap();

        let path = format!("/admin/v1/mac-keys/{kid}/disable");
        let r = admin
            .call("POST", &path, Some(&op), r#"{"deactivate": true}"#)
            .await;
        assert_problem(&r, 400, "deactivate_accounts");
        let r = admin
            .call("POST", &path, Some(&op), r#"{"deactivate_accounts": true}"#)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["status"], "disabled");
        let gone = r.body["deactivated_accounts"].as_array().unwrap();
        assert_eq!(gone.len(), 1, "{}", r.text);
        assert!(account.kid.ends_with(gone[0]["id"].as_str().unwrap()));
        let r = raw
            .post_as_get(&account.key, &account.kid, &account.kid)
            .await;
        assert_eq!(r.problem_type(), "unauthorized");
        // The other customer's account is untouched.
        let r = raw
            .post_as_get(&their_account.key, &their_account.kid, &their_account.kid)
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

        // The credential disabled with its accounts (none left valid), without a body a
        // plain disable.
        let path = format!("/admin/v1/credentials/{}/disable", id_of(&mine));
        let r = admin
            .call("POST", &path, Some(&op), r#"{"deactivate_accounts": true}"#)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            (
                r.body["status"].as_str(),
                r.body["deactivated_accounts"].clone()
            ),
            (Some("disabled"), json!([]))
        );
        let r = admin.get("/admin/v1/credentials", &mine).await;
        assert_problem(&r, 401, "Bearer");

        // An operator credential disabled (by another) no longer authenticates.
        let path = format!("/admin/v1/credentials/{}/disable", id_of(&spare));
        let r = admin.call("POST", &path, Some(&theirs), "").await;
        assert_problem(&r, 404, "no API credential");
        let r = admin.call("POST", &path, Some(&op), "").await;
        assert_eq!(
            (r.status, r.body["role"].as_str()),
            (200, Some("operator")),
            "{}",
            r.text
        );
        assert!(r.body.get("deactivated_accounts").is_none(), "{}", r.text);
        let r = admin.get("/admin/v1/customers", &spare).await;
        assert_problem(&r, 401, "Bearer");
    })
    .await;
}

/// A customer's credential gets 403 on the operator's routes and 404 for another customer's
/// `customer=`; its own name is accepted. It looks up its own refused requests, not
/// another's; the operator looks up any.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_credential_stays_confined_beside_the_operator_routes() {
    bounded(async {
        let admin = start().await;
        let (_, mine) = admin.customer("initech").await;
        let (_, theirs) = admin.customer("globex").await;
        let op = admin.operator().await;

        for (method, path, body) in [
            ("GET", "/admin/v1/customers", ""),
            ("POST", "/admin/v1/customers", r#"{"name": "mine"}"#),
            ("GET", "/admin/v1/customers/initech", ""),
            ("POST", "/admin/v1/customers/globex/suspend", ""),
            ("POST", "/admin/v1/customers/initech/resume", ""),
            ("GET", "/admin/v1/customers/initech/limits", ""),
            (
                "PUT",
                "/admin/v1/customers/initech/limits/new_orders_per_account",
                r#"{"value": 9}"#,
            ),
            (
                "PUT",
                "/admin/v1/customers/initech/profiles",
                r#"{"all": true}"#,
            ),
        ] {
            let r = admin.call(method, path, Some(&mine), body).await;
            assert_problem(
                &r,
                403,
                "needs an operator credential (`ferrite credential create --operator`)",
            );
            assert_eq!(
                r.body["type"], "urn:ietf:params:acme:error:unauthorized",
                "{method} {path}"
            );
        }
        let r = admin.get("/admin/v1/customers/globex", &op).await;
        assert_eq!(
            r.body["status"], "active",
            "globex was not suspended: {}",
            r.text
        );

        for path in [
            "/admin/v1/credentials?customer=globex",
            "/admin/v1/mac-keys?customer=globex",
            "/admin/v1/accounts?customer=globex",
            "/admin/v1/usage?customer=globex",
            "/admin/v1/certificates?customer=globex",
            "/admin/v1/validations?customer=globex",
            "/admin/v1/profiles?customer=globex",
        ] {
            let r = admin.get(path, &mine).await;
            assert_problem(&r, 404, "no customer \"globex\"");
            let unknown = admin.get(&path.replace("globex", "nobody"), &mine).await;
            assert_eq!(
                unknown.body["detail"]
                    .as_str()
                    .unwrap()
                    .replace("nobody", "globex"),
                r.body["detail"].as_str().unwrap()
            );
            let own = admin.get(&path.replace("globex", "initech"), &mine).await;
            assert_eq!(own.status, 200, "{path}: {}", own.text);
        }
        let r = admin
            .call(
                "POST",
                "/admin/v1/credentials",
                Some(&mine),
                r#"{"customer": "globex"}"#,
            )
            .await;
        assert_problem(&r, 404, "globex");

        // The support trail: a refused request of initech's credential.
        let refused = admin.get("/admin/v1/customers", &mine).await;
        let id = refused.body["requestId"].as_str().unwrap().to_owned();
        let path = format!("/admin/v1/requests/{id}");
        let mut found = None;
        for _ in 0..100 {
            let r = admin.get(&path, &mine).await;
            if r.status == 200 {
                found = Some(r);
                break;
            }
            assert_problem(&r, 404, "no refused request");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let found = found.expect("the refused request is kept within 10 s");
        assert_eq!(found.body["customer"], "initech", "{}", found.text);
        assert_eq!(found.body["status"], 403);
        assert_eq!(found.body["path"], "/admin/v1/customers");
        let r = admin.get(&path, &theirs).await;
        assert_problem(&r, 404, "no refused request");
        let r = admin.get(&path, &op).await;
        assert_eq!(r.body["request_id"], id.as_str(), "{}", r.text);
    })
    .await;
}

/// A burst of concurrent wrong secrets from one address passes
/// `failed_admin_authentications_per_address` by less than the verification slots (two): the
/// allowance is checked again once a slot is held, and each failure is counted before the slot
/// is let go. With 3 allowed, 30 at once: 3 or 4 get 401, the rest 429 before any argon2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_wrong_secrets_is_held_to_the_failed_authentication_limit() {
    let mut options = TestCaOptions::default();
    options
        .config
        .rate_limits
        .failed_admin_authentications_per_address = 3;
    let admin = start_with(options).await;
    let (_, mine) = admin.customer("initech").await;
    let wrong = format!("{}:not-the-secret", id_of(&mine));
    let replies = bounded(futures::future::join_all(
        (0..30).map(|_| admin.get("/admin/v1/credentials", &wrong)),
    ))
    .await;
    let unauthorized = replies.iter().filter(|r| r.status == 401).count();
    let limited = replies.iter().filter(|r| r.status == 429).count();
    assert_eq!(unauthorized + limited, 30, "other statuses");
    assert!(
        (3..=4).contains(&unauthorized),
        "{unauthorized} wrong secrets were verified, {limited} refused"
    );
    // The right secret from that address is refused too, until the allowance comes back.
    assert_eq!(admin.get("/admin/v1/credentials", &mine).await.status, 429);
}
