//! A crash in the middle of finalize loses no order: `ferrite serve` is killed with SIGKILL
//! while finalizes are in flight and started again on the same data directory. Every order
//! then ends `valid` with its certificate, or — once the finalize lease of the dead process
//! expired and housekeeping handed it back — `ready`, and is finalized again. None stays
//! `processing`.
//!
//! Needs pebble-challtestsrv (the DNS Ferrite resolves through), so it is `#[ignore]`d for a
//! plain `cargo test`; `scripts/test.sh` runs it. Everything listens on 127.0.0.1; every wait
//! is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// Each test binary uses part of the shared support module.
#[allow(dead_code)]
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrite_testkit::responders::Http01Responder;
use ferrite_testkit::{RawAccount, RawClient, challenge};
use serde_json::{Value, json};
use support::{Challtestsrv, Ferrite, Setup};

/// Orders finalized at once in each round.
const ORDERS_PER_ROUND: usize = 8;
/// Rounds at most: each kills the server at another moment after the finalizes start, from
/// before the first request arrives to after the first certificates are recorded. The test
/// runs at least [`MIN_ROUNDS`] and goes on until some round caught an order mid-finalize
/// (timing on a loaded machine varies).
const ROUNDS: usize = 24;
/// Rounds always run.
const MIN_ROUNDS: usize = 4;
/// The finalize lease: longer than a restart takes, so that an order caught mid-finalize is
/// still `processing` when the restarted server is asked.
const LEASE_SECONDS: u64 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs pebble-challtestsrv: run scripts/test.sh"]
async fn orders_killed_mid_finalize_end_valid_or_are_finalized_again() {
    let dns = Challtestsrv::start();
    let http01 = Http01Responder::start().await.unwrap();
    let mut ferrite = tokio::task::block_in_place(|| {
        Ferrite::start_with(
            dns.dns_port,
            &Setup {
                http01_port: http01.port(),
                tlsalpn01_port: None,
                top_config: "",
                extra_config: &format!("[issuance]\nfinalize_lease_seconds = {LEASE_SECONDS}\n"),
                hsm: None,
                beside: None,
            },
        )
    });
    let base = ferrite.directory.trim_end_matches("/directory").to_owned();
    let client = RawClient::new(&base, &std::fs::read_to_string(&ferrite.root).unwrap());
    let account =
        std::sync::Arc::new(RawAccount::register_bound(&client, &ferrite.first_mac_key()).await);

    // Every order made, with the key its CSR is signed with.
    let mut orders: BTreeMap<String, (String, Vec<u8>)> = BTreeMap::new();
    let mut caught = 0;
    for round in 0..ROUNDS {
        let mut finalizes = Vec::new();
        let mut ready = Vec::new();
        for i in 0..ORDERS_PER_ROUND {
            let name = format!("crash-{round}-{i}.example.com");
            let (url, order) = ready_order(&client, &account, &http01, &name).await;
            let csr = ferrite_testkit::ca::csr_der(&[&name], &rcgen::KeyPair::generate().unwrap());
            orders.insert(url.clone(), (name, csr.clone()));
            ready.push((url, order, csr));
        }
        for (_, order, csr) in &ready {
            let (client, account) = (client.clone(), account.clone());
            let finalize = order["finalize"].as_str().unwrap().to_owned();
            let payload = json!({ "csr": URL_SAFE_NO_PAD.encode(csr) });
            // A request cut by the kill panics in its own task; its result does not matter.
            finalizes.push(tokio::spawn(async move {
                client
                    .post(&account.key, Some(&account.kid), &finalize, Some(&payload))
                    .await
            }));
        }
        // Kill at a different moment each round: from as the requests go out to well into
        // signing.
        tokio::time::sleep(Duration::from_millis(2 + (7 * round as u64) % 60)).await;
        tokio::task::block_in_place(|| ferrite.crash_and_restart());
        for f in finalizes {
            let _ = tokio::time::timeout(Duration::from_secs(30), f).await;
        }
        // Restarted before the dead finalizes' leases expired: what was caught mid-way is
        // still `processing`.
        for (url, _, _) in &ready {
            let order = client
                .post_as_get(&account.key, &account.kid, url)
                .await
                .json();
            if order["status"] == "processing" {
                caught += 1;
            }
        }
        if caught > 0 && round + 1 >= MIN_ROUNDS {
            break;
        }
    }
    assert!(
        caught > 0,
        "no order was caught mid-finalize in {ROUNDS} rounds: the test exercised nothing"
    );

    // The leases have expired; the start's housekeeping hands the caught orders back. It runs
    // beside the listeners, so an order may still read `processing` for a moment after the
    // restarted server first answers: poll (bounded) until it is not.
    tokio::time::sleep(Duration::from_millis(LEASE_SECONDS * 1000 + 500)).await;
    tokio::task::block_in_place(|| ferrite.crash_and_restart());
    let (mut valid, mut finalized_again) = (0, 0);
    let mut serials = std::collections::BTreeSet::new();
    for (url, (name, csr)) in &orders {
        let mut order = client
            .poll(&account.key, &account.kid, url, |o| {
                o["status"] != "processing"
            })
            .await;
        match order["status"].as_str().unwrap() {
            "valid" => valid += 1,
            "ready" => {
                let finalize = order["finalize"].as_str().unwrap().to_owned();
                let r = client
                    .post(
                        &account.key,
                        Some(&account.kid),
                        &finalize,
                        Some(&json!({ "csr": URL_SAFE_NO_PAD.encode(csr) })),
                    )
                    .await;
                assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
                order = client
                    .poll(&account.key, &account.kid, url, |o| o["status"] == "valid")
                    .await;
                finalized_again += 1;
            }
            other => panic!("order for {name} is {other} after the crashes: {order}"),
        }
        let cert_url = order["certificate"].as_str().unwrap();
        let pem = client
            .post_as_get(&account.key, &account.kid, cert_url)
            .await;
        assert_eq!(pem.status, 200);
        let chain = ferrite_testkit::ca::pem_chain(&String::from_utf8(pem.body).unwrap());
        let (_, leaf) = x509_parser::parse_x509_certificate(&chain[0]).unwrap();
        let san = leaf.subject_alternative_name().unwrap().unwrap();
        assert_eq!(
            format!("{:?}", san.value.general_names),
            format!("[DNSName({name:?})]")
        );
        assert!(serials.insert(leaf.raw_serial().to_vec()), "a serial twice");
    }
    assert!(
        finalized_again >= caught,
        "{finalized_again} finalized again, {caught} caught"
    );
    eprintln!(
        "{} orders: {valid} valid through the crashes, {finalized_again} finalized again after their lease expired ({caught} seen processing after a restart)",
        orders.len()
    );
}

/// A new order for `name`, validated over http-01: its URL and body, `ready`.
async fn ready_order(
    client: &RawClient,
    account: &RawAccount,
    http01: &Http01Responder,
    name: &str,
) -> (String, Value) {
    let r = client
        .post(
            &account.key,
            Some(&account.kid),
            &client.url("/acme/new-order"),
            Some(&json!({ "identifiers": [{ "type": "dns", "value": name }] })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let url = r.header("location").unwrap();
    let order = r.json();
    let authz_url = order["authorizations"][0].as_str().unwrap();
    let authz = client
        .post_as_get(&account.key, &account.kid, authz_url)
        .await
        .json();
    let token = challenge(&authz, "http-01")["token"]
        .as_str()
        .unwrap()
        .to_owned();
    http01.set(&token, &account.key_authorization(&token));
    client.start_challenge(account, &order, "http-01").await;
    let order = client
        .poll(&account.key, &account.kid, &url, |o| o["status"] == "ready")
        .await;
    (url, order)
}
