//! Containing a leaked key from the command line while `ferrite serve` runs: `ferrite account
//! deactivate ID` stops one account, `ferrite credential disable ID --deactivate-accounts`
//! stops every account bound through the credential's MAC keys, and accounts of other
//! credentials keep working. The accounts are real ones, bound over ACME with EAB.
//!
//! Runs the built binary on loopback ports only; every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// Each test binary uses part of the shared support module.
#[allow(dead_code)]
mod support;

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrite_jose::Algorithm;
use ferrite_jose::sign::SigningKey;
use ferrite_testkit::eab::IssuedMacKey;
use ferrite_testkit::{RawAccount, RawClient};
use serde_json::{Value, json};
use support::{Ferrite, free_port, run, run_failing};

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
        serde_json::from_str(&tokio::task::block_in_place(|| run(cli(&all)))).unwrap()
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
    assert!(unknown.contains("nope"), "{unknown}");

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
    let disabled = json(&["credential", "disable", &leaked, "--deactivate-accounts"]);
    assert_eq!(disabled["status"], "disabled", "{disabled}");
    let ids: Vec<&str> = disabled["deactivated_accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id_of(&b)], "{disabled}");
    assert_eq!(fetch(&client, &b).await.0, 403);
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
