//! Containment from the command line while `ferrite serve` runs: `ferrite account deactivate
//! ID` stops one account, `ferrite credential disable ID --deactivate-accounts` and `ferrite
//! mac-key disable KID --deactivate-accounts` stop every account bound through the
//! credential's or the key's MAC keys while others keep working, and `ferrite customer
//! suspend NAME` stops a customer's ACME clients and admin API credentials until `resume`.
//! The accounts are real ones, bound over ACME with EAB (lego, and a raw client for exact
//! status codes); every change is audited on stderr.
//!
//! Runs the built binary on loopback ports only; every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// Each test binary uses part of the shared support module.
#[allow(dead_code)]
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrite_jose::Algorithm;
use ferrite_jose::sign::SigningKey;
use ferrite_testkit::eab::IssuedMacKey;
use ferrite_testkit::{RawAccount, RawClient};
use serde_json::{Value, json};
use support::{
    Challtestsrv, Ferrite, Setup, free_port, lego_http01, revoke_with_certificate_key, run,
    run_failing,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_deactivates_an_account_or_every_account_of_a_credential() {
    // No validation runs here: the DNS and http-01 ports are never contacted.
    let ferrite = tokio::task::block_in_place(|| Ferrite::start(free_port(), free_port()));
    let cli = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ferrite"));
        c.args(args).arg("--config").arg(&ferrite.config);
        c
    };
    let json = |args: &[&str]| -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let (stdout, _) = tokio::task::block_in_place(|| ok(cli(&all)));
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
    };
    let base = ferrite.directory.trim_end_matches("/directory").to_owned();
    let client = RawClient::new(&base, &std::fs::read_to_string(&ferrite.root).unwrap());

    // Two accounts through the first start's MAC key, one through another customer's.
    let first = ferrite.first_mac_key();
    let a = RawAccount::register_bound(&client, &first).await;
    let b = RawAccount::register_bound(&client, &first).await;
    json(&["customer", "create", "other"]);
    let other_credential = json(&["credential", "create", "--customer", "other"]);
    let other_credential = other_credential["id"].as_str().unwrap();
    let other_key = json(&["mac-key", "create", "--credential", other_credential]);
    let c = RawAccount::register_bound(
        &client,
        &IssuedMacKey {
            credential_id: other_credential.to_owned(),
            kid: other_key["kid"].as_str().unwrap().to_owned(),
            hmac: URL_SAFE_NO_PAD
                .decode(other_key["hmac_key"].as_str().unwrap())
                .unwrap(),
        },
    )
    .await;
    for account in [&a, &b, &c] {
        assert_eq!(fetch(&client, account).await.0, 200);
    }

    // One account.
    let deactivated = json(&["account", "deactivate", id_of(&a)]);
    assert_eq!(deactivated["status"], "deactivated", "{deactivated}");
    let (status, body) = fetch(&client, &a).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (403, Some("urn:ietf:params:acme:error:unauthorized")),
        "{body}"
    );
    assert!(
        body["detail"].as_str().unwrap().contains("deactivated"),
        "{body}"
    );
    assert_eq!(fetch(&client, &b).await.0, 200);
    // Again: already deactivated, unchanged.
    assert_eq!(
        json(&["account", "deactivate", id_of(&a)])["status"],
        "deactivated"
    );
    let unknown =
        tokio::task::block_in_place(|| run_failing(cli(&["account", "deactivate", "nope"])));
    assert!(
        unknown.contains("nope") && unknown.contains("ferrite credential accounts"),
        "{unknown}"
    );
    let unknown = tokio::task::block_in_place(|| {
        run_failing(cli(&[
            "credential",
            "disable",
            "nope",
            "--deactivate-accounts",
        ]))
    });
    assert!(
        unknown.contains("nope") && unknown.contains("ferrite credential list"),
        "{unknown}"
    );

    // The first start's credential, with every account bound through it.
    let credentials = json(&["credential", "list"]);
    let leaked = credentials
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .find(|id| *id != other_credential)
        .unwrap()
        .to_owned();
    let (stdout, audit) = tokio::task::block_in_place(|| {
        ok(cli(&[
            "credential",
            "disable",
            &leaked,
            "--deactivate-accounts",
            "--json",
        ]))
    });
    let disabled: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(disabled["status"], "disabled", "{disabled}");
    for event in ["credential_disabled", "account_deactivated_by_operator"] {
        assert!(audit.contains(event), "no {event} audit line: {audit}");
    }
    let ids: Vec<&str> = disabled["deactivated_accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id_of(&b)], "{disabled}");
    assert_eq!(fetch(&client, &b).await.0, 403);
    // Its key says why it binds nothing, with no uses left.
    let keys = json(&["mac-key", "list", "--credential", &leaked]);
    assert_eq!(keys[0]["kid"], first.kid.as_str(), "{keys}");
    assert_eq!(keys[0]["status"], "credential_disabled", "{keys}");
    assert_eq!(keys[0]["bindings_remaining"], 0, "{keys}");
    // The other customer's account is untouched, and the leaked key binds no more.
    assert_eq!(fetch(&client, &c).await.0, 200);
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let url = client.url("/acme/new-account");
    let refused = client
        .post(
            &key,
            None,
            &url,
            Some(&json!({
                "termsOfServiceAgreed": true,
                "externalAccountBinding": first.binding(&url, &key),
            })),
        )
        .await;
    let body = String::from_utf8_lossy(&refused.body);
    assert!(
        refused.status == 403 && body.contains("is disabled"),
        "{} {body}",
        refused.status
    );
}

/// A leaked MAC key contained in one step: `ferrite mac-key disable KID
/// --deactivate-accounts` disables it and deactivates the accounts bound through it (their
/// requests get `unauthorized`), the key shows `disabled` with 0 uses left, and an account
/// bound through another key of the same customer keeps working. Audited on stderr.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_disables_a_leaked_mac_key_and_its_accounts() {
    let ferrite = tokio::task::block_in_place(|| Ferrite::start(free_port(), free_port()));
    let cli = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ferrite"));
        c.args(args).arg("--config").arg(&ferrite.config);
        c
    };
    let json = |args: &[&str]| -> (Value, String) {
        let mut all = args.to_vec();
        all.push("--json");
        let (stdout, stderr) = tokio::task::block_in_place(|| ok(cli(&all)));
        let value =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
        (value, stderr)
    };
    let base = ferrite.directory.trim_end_matches("/directory").to_owned();
    let client = RawClient::new(&base, &std::fs::read_to_string(&ferrite.root).unwrap());

    let leaked = ferrite.first_mac_key();
    let a = RawAccount::register_bound(&client, &leaked).await;
    let b = RawAccount::register_bound(&client, &leaked).await;
    // Another credential of the same customer, with its own key and account.
    let (other_credential, _) = json(&["credential", "create", "--customer", "default"]);
    let other_credential = other_credential["id"].as_str().unwrap().to_owned();
    let (other_key, _) = json(&["mac-key", "create", "--credential", &other_credential]);
    let c = RawAccount::register_bound(
        &client,
        &IssuedMacKey {
            credential_id: other_credential.clone(),
            kid: other_key["kid"].as_str().unwrap().to_owned(),
            hmac: URL_SAFE_NO_PAD
                .decode(other_key["hmac_key"].as_str().unwrap())
                .unwrap(),
        },
    )
    .await;

    let (disabled, audit) = json(&["mac-key", "disable", &leaked.kid, "--deactivate-accounts"]);
    assert_eq!(disabled["kid"], leaked.kid.as_str(), "{disabled}");
    assert_eq!(disabled["status"], "disabled", "{disabled}");
    assert_eq!(disabled["bindings_used"], 2, "{disabled}");
    assert_eq!(disabled["bindings_remaining"], 0, "{disabled}");
    let mut ids: Vec<&str> = disabled["deactivated_accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut expected = [id_of(&a), id_of(&b)];
    expected.sort_unstable();
    assert_eq!(ids, expected, "{disabled}");
    for event in ["mac_key_disabled", "account_deactivated_by_operator"] {
        assert!(
            audit.contains("ferrite::audit") && audit.contains(event),
            "no {event} audit line: {audit}"
        );
    }
    assert!(
        !audit.contains(other_key["hmac_key"].as_str().unwrap()),
        "a secret in the audit: {audit}"
    );

    // The accounts bound through it are stopped; the other key's is not.
    for account in [&a, &b] {
        let (status, body) = fetch(&client, account).await;
        assert_eq!(
            (status, body["type"].as_str()),
            (403, Some("urn:ietf:params:acme:error:unauthorized")),
            "{body}"
        );
        assert!(
            body["detail"].as_str().unwrap().contains("deactivated"),
            "{body}"
        );
    }
    assert_eq!(fetch(&client, &c).await.0, 200);
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let url = client.url("/acme/new-account");
    let refused = client
        .post(
            &key,
            None,
            &url,
            Some(&json!({
                "termsOfServiceAgreed": true,
                "externalAccountBinding": leaked.binding(&url, &key),
            })),
        )
        .await;
    let body = String::from_utf8_lossy(&refused.body);
    assert!(
        refused.status == 403 && body.contains("is disabled"),
        "{} {body}",
        refused.status
    );

    // Listed and shown as it is: disabled, no uses left.
    let (keys, _) = json(&["mac-key", "list"]);
    let listed = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == leaked.kid.as_str())
        .unwrap();
    assert_eq!(
        (&listed["status"], &listed["bindings_remaining"]),
        (&json!("disabled"), &json!(0)),
        "{keys}"
    );
    let (shown, _) = json(&["mac-key", "show", &leaked.kid]);
    assert_eq!(&shown, listed);
    let (table, _) = tokio::task::block_in_place(|| ok(cli(&["mac-key", "show", &leaked.kid])));
    assert!(
        table.contains("REMAINING") && table.contains("disabled"),
        "{table}"
    );
    // Again: nothing left to deactivate.
    let (again, _) = json(&["mac-key", "disable", &leaked.kid, "--deactivate-accounts"]);
    assert_eq!(again["deactivated_accounts"], json!([]), "{again}");

    // Unknown ids say what to do.
    let unknown =
        tokio::task::block_in_place(|| run_failing(cli(&["mac-key", "disable", "no-such-kid"])));
    assert!(
        unknown.contains("no-such-kid") && unknown.contains("ferrite mac-key list"),
        "{unknown}"
    );
    let unknown =
        tokio::task::block_in_place(|| run_failing(cli(&["mac-key", "show", "no-such-kid"])));
    assert!(unknown.contains("ferrite mac-key list"), "{unknown}");
}

/// `ferrite customer suspend NAME`: the customer's ACME clients get 403 `unauthorized`
/// naming the suspension and `customers.suspended_contact` (lego's newOrder, a raw client's
/// newOrder), its admin API credentials get 403, while a certificate's holder may still revoke
/// it with the certificate's key; `ferrite customer resume NAME` and lego issues again, the
/// admin API answers. Audited on stderr.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_customer_is_refused_until_resumed() {
    const CONTACT: &str = "abuse@ca.example";
    let dns = Challtestsrv::start();
    let http01 = free_port();
    let ferrite = tokio::task::block_in_place(|| {
        Ferrite::start_with(
            dns.dns_port,
            &Setup {
                http01_port: http01,
                tlsalpn01_port: None,
                top_config: "",
                extra_config: &format!("[customers]\nsuspended_contact = \"{CONTACT}\"\n"),
                hsm: None,
                beside: None,
            },
        )
    });
    let cli = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ferrite"));
        c.args(args).arg("--config").arg(&ferrite.config);
        c
    };
    let json = |args: &[&str]| -> (Value, String) {
        let mut all = args.to_vec();
        all.push("--json");
        let (stdout, stderr) = tokio::task::block_in_place(|| ok(cli(&all)));
        let value =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
        (value, stderr)
    };
    let tmp = tempfile::tempdir().unwrap();
    let lego_path = tmp.path().join("lego");
    let lego = |domain: &str| lego_http01(&ferrite, http01, &lego_path, &[domain], &[], "run");
    let base = ferrite.directory.trim_end_matches("/directory").to_owned();
    let client = RawClient::new(&base, &std::fs::read_to_string(&ferrite.root).unwrap());
    let raw = RawAccount::register_bound(&client, &ferrite.first_mac_key()).await;
    let admin = |path: &str| admin_get(&ferrite, path);

    // In service: lego issues, the raw client orders, the admin API answers.
    tokio::task::block_in_place(|| run(lego("before.example.com")));
    assert_eq!(new_order(&client, &raw, "raw.example.com").await.0, 201);
    assert_eq!(admin("/admin/v1/credentials").0, 200);

    let (suspended, audit) = json(&[
        "customer",
        "suspend",
        "default",
        "--reason",
        "invoice 42 unpaid",
    ]);
    assert_eq!(suspended["status"], "suspended", "{suspended}");
    assert_eq!(suspended["suspended_reason"], "invoice 42 unpaid");
    assert!(suspended["suspended_at"].is_string(), "{suspended}");
    assert!(
        audit.contains("ferrite::audit") && audit.contains("customer_suspended"),
        "{audit}"
    );
    let (customers, _) = json(&["customer", "list"]);
    assert_eq!(customers[0]["status"], "suspended", "{customers}");
    let (table, _) = tokio::task::block_in_place(|| ok(cli(&["customer", "list"])));
    assert!(
        table.contains("suspended since") && table.contains("invoice 42 unpaid"),
        "{table}"
    );

    // The raw client's newOrder: 403 unauthorized, naming whom to contact, not the reason.
    let (status, body) = new_order(&client, &raw, "raw2.example.com").await;
    assert_eq!(
        (status, body["type"].as_str()),
        (403, Some("urn:ietf:params:acme:error:unauthorized")),
        "{body}"
    );
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("customer \"default\" is suspended") && detail.contains(CONTACT),
        "{detail}"
    );
    assert!(!detail.contains("invoice"), "{detail}");
    // lego (its account exists): refused, and it shows the client why.
    let refused = tokio::task::block_in_place(|| run_failing(lego("during.example.com")));
    assert!(
        refused.contains("unauthorized") && refused.contains(CONTACT),
        "{refused}"
    );
    // The admin API with the customer's credential.
    let (status, body) = admin("/admin/v1/mac-keys");
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("is suspended") && body.contains(CONTACT),
        "{body}"
    );
    // Its MAC key shows why it binds nothing.
    let (keys, _) = json(&["mac-key", "list"]);
    assert_eq!(keys[0]["status"], "customer_suspended", "{keys}");
    // A certificate's holder can still revoke it with the certificate's own key (certbot).
    let certificates = lego_path.join("certificates");
    tokio::task::block_in_place(|| {
        revoke_with_certificate_key(
            &ferrite,
            &certificates.join("before.example.com.crt"),
            &certificates.join("before.example.com.key"),
        )
    });
    assert_eq!(keys[0]["bindings_remaining"], 0, "{keys}");

    // Resumed: everything works again.
    let (resumed, audit) = json(&["customer", "resume", "default"]);
    assert_eq!(resumed["status"], "active", "{resumed}");
    assert_eq!(resumed["suspended_at"], Value::Null, "{resumed}");
    assert!(audit.contains("customer_resumed"), "{audit}");
    tokio::task::block_in_place(|| run(lego("after.example.com")));
    assert!(
        lego_path
            .join("certificates/after.example.com.crt")
            .is_file()
    );
    assert_eq!(new_order(&client, &raw, "raw3.example.com").await.0, 201);
    assert_eq!(admin("/admin/v1/mac-keys").0, 200);
    let (keys, _) = json(&["mac-key", "list"]);
    assert_eq!(keys[0]["status"], "active", "{keys}");

    // An unknown customer says what to do.
    let unknown =
        tokio::task::block_in_place(|| run_failing(cli(&["customer", "suspend", "nobody"])));
    assert!(
        unknown.contains("\"nobody\"") && unknown.contains("ferrite customer list"),
        "{unknown}"
    );
    let unknown =
        tokio::task::block_in_place(|| run_failing(cli(&["customer", "resume", "nobody"])));
    assert!(unknown.contains("ferrite customer list"), "{unknown}");
}

/// Runs a command that must succeed within 60 s; its stdout and stderr apart (stdout is the
/// JSON or table, stderr the audit lines).
fn ok(mut cmd: Command) -> (String, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{cmd:?} took over 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{cmd:?} failed: {stdout}\n{stderr}");
    (stdout, stderr)
}

/// `GET` on the admin API with the first start's API credential: status and body.
fn admin_get(ferrite: &Ferrite, path: &str) -> (u16, String) {
    let value = |prefix: &str| {
        ferrite
            .first_start
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in {:#?}", ferrite.first_start))
            .trim()
            .to_owned()
    };
    let bearer = format!(
        "Authorization: Bearer {}:{}",
        value("API credential id: "),
        value("API credential secret: ")
    );
    let mut curl = Command::new("curl");
    curl.args(["-s", "--max-time", "30", "-w", "\n%{http_code}", "-H"])
        .arg(bearer)
        .arg(format!("{}{path}", ferrite.admin_url));
    let (out, _) = ok(curl);
    let (body, status) = out.trim_end().rsplit_once('\n').unwrap();
    (status.parse().unwrap(), body.to_owned())
}

/// newOrder for `name` signed by `account`: status code and body.
async fn new_order(client: &RawClient, account: &RawAccount, name: &str) -> (u16, Value) {
    let url = client.url("/acme/new-order");
    let r = client
        .post(
            &account.key,
            Some(&account.kid),
            &url,
            Some(&json!({"identifiers": [{"type": "dns", "value": name}]})),
        )
        .await;
    (
        r.status,
        serde_json::from_slice(&r.body).unwrap_or(Value::Null),
    )
}

/// The account id: the last segment of its URL.
fn id_of(account: &RawAccount) -> &str {
    account.kid.rsplit('/').next().unwrap()
}

/// POST-as-GET of the account's own URL: its status code and body.
async fn fetch(client: &RawClient, account: &RawAccount) -> (u16, Value) {
    let r = client
        .post_as_get(&account.key, &account.kid, &account.kid)
        .await;
    (
        r.status,
        serde_json::from_slice(&r.body).unwrap_or(Value::Null),
    )
}
