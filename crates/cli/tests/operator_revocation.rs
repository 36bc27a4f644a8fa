//! Revocation by the operator and key blocking, end to end: `ferrite serve` running, lego (and
//! certbot) obtaining and revoking certificates, the `ferrite cert` and `ferrite key` commands
//! beside the server on the same database, and the CRL the public listener serves, parsed.
//! Only 127.0.0.1 is used; every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Challtestsrv, Ferrite, free_port, lego_http01, run, run_failing, serial_of};

/// `ferrite ARGS` against `ferrite`'s configuration (stdin not a terminal), at most 2 minutes.
fn cli(ferrite: &Ferrite, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .arg("--config")
        .arg(&ferrite.config)
        .args(args)
        .env_remove("FERRITE_CONFIG")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "ferrite {args:?} took over 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Runs and expects success; returns (stdout, stderr).
fn ok(ferrite: &Ferrite, args: &[&str]) -> (String, String) {
    let out = cli(ferrite, args);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        out.status.success(),
        "ferrite {args:?} failed:\n{stdout}\n{stderr}"
    );
    (stdout, stderr)
}

fn json(ferrite: &Ferrite, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let (stdout, _) = ok(ferrite, &all);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// Runs and expects failure; returns stderr.
fn fails(ferrite: &Ferrite, args: &[&str]) -> String {
    let out = cli(ferrite, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "ferrite {args:?} should fail:\n{}\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

/// The serial octets of hex text (`openssl x509 -serial` form), leading zero octets dropped.
fn serial_octets(hex: &str) -> Vec<u8> {
    let hex: String = hex.chars().filter(|c| *c != ':').collect();
    let hex = if hex.len() % 2 == 1 {
        format!("0{hex}")
    } else {
        hex
    };
    let octets: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    octets.into_iter().skip_while(|b| *b == 0).collect()
}

/// The CRL at `path` (a certificate's shard, `support::crl_path_of`) the public listener
/// serves, parsed: each revoked serial's octets with its reason code (0 when the entry carries
/// none, as RFC 5280 recommends for unspecified).
fn served_crl(ferrite: &Ferrite, path: &str) -> Vec<(Vec<u8>, u8)> {
    let tmp = tempfile::tempdir().unwrap();
    let der_path = tmp.path().join("crl.der");
    ferrite.download_crl(path, &der_path);
    let der = std::fs::read(&der_path).unwrap();
    let (_, crl) = x509_parser::parse_x509_crl(&der).expect("the served CRL parses");
    crl.iter_revoked_certificates()
        .map(|entry| {
            let serial: Vec<u8> = entry
                .raw_serial()
                .iter()
                .copied()
                .skip_while(|b| *b == 0)
                .collect();
            let reason = entry.reason_code().map_or(0, |(_, r)| r.0);
            (serial, reason)
        })
        .collect()
}

/// Polls the CRL at `path` (up to 70 s: an instance notices a revocation made elsewhere within
/// a minute) until it lists `serial`; returns its reason code.
fn wait_for_crl_entry(ferrite: &Ferrite, path: &str, serial: &str) -> u8 {
    let octets = serial_octets(serial);
    support::wait_until(Duration::from_secs(70), || {
        served_crl(ferrite, path)
            .into_iter()
            .find(|(s, _)| *s == octets)
            .map(|(_, reason)| reason)
    })
    .unwrap_or_else(|| panic!("serial {serial} not in the served CRL after 70 s"))
}

/// `openssl x509 -serial` with colons every two digits, in lower case: how an operator may
/// paste it.
fn with_colons(serial: &str) -> String {
    let hex = if serial.len() % 2 == 1 {
        format!("0{serial}")
    } else {
        serial.to_owned()
    };
    hex.as_bytes()
        .chunks(2)
        .map(|p| String::from_utf8_lossy(p).to_lowercase())
        .collect::<Vec<_>>()
        .join(":")
}

/// lego `run` for `domains` (its account under `path`), the certificate file of the first.
fn obtain(ferrite: &Ferrite, http01: u16, path: &Path, domains: &[&str]) -> std::path::PathBuf {
    run(lego_http01(ferrite, http01, path, domains, &[], "run"));
    path.join(format!("certificates/{}.crt", domains[0]))
}

#[test]
#[ignore = "needs lego, pebble-challtestsrv, openssl, curl: run scripts/test.sh"]
fn an_operator_revocation_reaches_the_served_crl_and_bad_input_is_refused() {
    let dns = Challtestsrv::start();
    let http01 = free_port();
    let ferrite = Ferrite::start(dns.dns_port, http01);
    let tmp = tempfile::tempdir().unwrap();
    let cert = obtain(
        &ferrite,
        http01,
        &tmp.path().join("lego"),
        &["one.example.com"],
    );
    let serial = serial_of(&cert);
    let crl = support::crl_path_of(&cert);

    // The server signs and holds a CRL before the revocation.
    assert!(
        !served_crl(&ferrite, &crl)
            .iter()
            .any(|(s, _)| *s == serial_octets(&serial))
    );

    let listed = json(&ferrite, &["cert", "list", "--domain", "one.example.com"]);
    let rows = listed["certificates"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{listed}");
    assert_eq!(rows[0]["status"], "valid");
    assert_eq!(
        serial_octets(rows[0]["serial"].as_str().unwrap()),
        serial_octets(&serial)
    );
    let expiring = json(&ferrite, &["cert", "list", "--expiring", "365"]);
    assert_eq!(expiring["certificates"].as_array().unwrap().len(), 1);
    let soon = json(&ferrite, &["cert", "list", "--expiring", "1"]);
    assert!(
        soon["certificates"].as_array().unwrap().is_empty(),
        "{soon}"
    );

    let (shown, _) = ok(&ferrite, &["cert", "show", &serial]);
    assert!(shown.contains("one.example.com"), "{shown}");
    assert!(shown.contains("Customer:     default"), "{shown}");
    // The validation it was issued on, and the CRL shard that will list it.
    assert!(
        shown.contains("Validations:  one.example.com by http-01 at "),
        "{shown}"
    );
    assert!(shown.contains(&format!("({crl})")), "{shown}");
    assert!(!shown.contains("Precertificate"), "no CT logs: {shown}");
    let detail = json(&ferrite, &["cert", "show", &serial]);
    assert_eq!(
        detail["validations"][0]["name"], "one.example.com",
        "{detail}"
    );
    assert_eq!(detail["validations"][0]["method"], "http-01", "{detail}");
    assert!(detail["validations"][0]["reused"].is_null(), "{detail}");
    assert!(detail["precertificate_pem"].is_null(), "{detail}");
    assert!(shown.contains("Status:       valid"), "{shown}");
    assert!(shown.contains("-----BEGIN CERTIFICATE-----"), "{shown}");

    // Bad input: exit non-zero with what to do.
    let err = fails(
        &ferrite,
        &["cert", "revoke", "DEADBEEF01", "--reason", "keyCompromise"],
    );
    assert!(
        err.contains("no certificate with serial deadbeef01"),
        "{err}"
    );
    let err = fails(&ferrite, &["cert", "revoke", &serial, "--reason", "stolen"]);
    assert!(err.contains("not a revocation reason"), "{err}");
    assert!(err.contains("keyCompromise (1)"), "{err}");
    let err = fails(
        &ferrite,
        &["cert", "revoke", &serial, "--reason", "certificateHold"],
    );
    assert!(err.contains("not a revocation reason"), "{err}");
    let err = fails(&ferrite, &["cert", "revoke", "not-hex", "--reason", "1"]);
    assert!(err.contains("not a hexadecimal serial"), "{err}");
    let err = fails(&ferrite, &["cert", "show", "0bad"]);
    assert!(err.contains("no certificate with serial 0bad"), "{err}");
    let err = fails(
        &ferrite,
        &[
            "cert",
            "revoke",
            "--customer",
            "nosuch",
            "--reason",
            "1",
            "--yes",
        ],
    );
    assert!(err.contains("no customer named \"nosuch\""), "{err}");
    let err = fails(&ferrite, &["cert", "revoke", "--reason", "1"]);
    assert!(err.contains("say which certificates"), "{err}");
    // Bulk without a terminal to confirm on and without --yes: refused, nothing revoked.
    let err = fails(
        &ferrite,
        &[
            "cert",
            "revoke",
            "--domain",
            "one.example.com",
            "--reason",
            "superseded",
        ],
    );
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(
        json(&ferrite, &["cert", "list"])["certificates"][0]["status"],
        "valid"
    );

    // The serial as an operator pastes it: lower case, with colons.
    let (out, log) = ok(
        &ferrite,
        &[
            "cert",
            "revoke",
            &with_colons(&serial),
            "--reason",
            "superseded",
        ],
    );
    assert!(out.contains("Revoked certificate"), "{out}");
    assert!(
        log.contains("certificate_revoked_by_operator"),
        "no audit line: {log}"
    );
    // RFC 5280 superseded (4), in the CRL the running server serves.
    assert_eq!(wait_for_crl_entry(&ferrite, &crl, &serial), 4);
    let (shown, _) = ok(&ferrite, &["cert", "show", &serial]);
    assert!(shown.contains("revoked (superseded)"), "{shown}");
    // Again: already revoked, nothing changes.
    let (out, _) = ok(
        &ferrite,
        &["cert", "revoke", &serial, "--reason", "keyCompromise"],
    );
    assert!(out.contains("already revoked"), "{out}");
}

#[test]
#[ignore = "needs lego, pebble-challtestsrv, openssl, curl: run scripts/test.sh"]
fn bulk_revocation_by_customer_dry_runs_confirms_and_resumes() {
    let dns = Challtestsrv::start();
    let http01 = free_port();
    let ferrite = Ferrite::start(dns.dns_port, http01);
    let tmp = tempfile::tempdir().unwrap();

    // Another customer's certificate, which the bulk revocation must leave alone.
    json(&ferrite, &["customer", "create", "other"]);
    let credential = json(&ferrite, &["credential", "create", "--customer", "other"]);
    let key = json(
        &ferrite,
        &[
            "mac-key",
            "create",
            "--credential",
            credential["id"].as_str().unwrap(),
        ],
    );
    let mut other = Command::new("lego");
    other
        .env("LEGO_CA_CERTIFICATES", &ferrite.root)
        .args(["--server", &ferrite.directory, "--accept-tos"])
        .args(["--email", "b@example.com", "--eab"])
        .args(["--kid", key["kid"].as_str().unwrap()])
        .args(["--hmac", key["hmac_key"].as_str().unwrap()])
        .args(["--domains", "other.example.com", "--http", "--http.port"])
        .arg(format!("127.0.0.1:{http01}"))
        .arg("--path")
        .arg(tmp.path().join("other"))
        .arg("run");
    run(other);
    let other_cert = tmp.path().join("other/certificates/other.example.com.crt");
    let other_serial = serial_of(&other_cert);
    let other_crl = support::crl_path_of(&other_cert);

    // Three certificates of customer `default`, each with the CRL shard it names.
    let lego = tmp.path().join("lego");
    let issued: Vec<(String, String)> = ["a1.example.com", "a2.example.com", "a3.example.com"]
        .iter()
        .map(|d| {
            let cert = obtain(&ferrite, http01, &lego, &[d]);
            (serial_of(&cert), support::crl_path_of(&cert))
        })
        .collect();
    let serials: Vec<String> = issued.iter().map(|(s, _)| s.clone()).collect();

    let dry = json(
        &ferrite,
        &[
            "cert",
            "revoke",
            "--customer",
            "default",
            "--reason",
            "cessationOfOperation",
            "--dry-run",
        ],
    );
    assert_eq!(dry["dry_run"], true, "{dry}");
    assert_eq!(dry["would_revoke"], 3, "{dry}");
    assert_eq!(dry["already_revoked"], 0, "{dry}");
    let mut listed: Vec<Vec<u8>> = dry["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| serial_octets(c["serial"].as_str().unwrap()))
        .collect();
    let mut expected: Vec<Vec<u8>> = serials.iter().map(|s| serial_octets(s)).collect();
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected);
    // The dry run changed nothing.
    let all = json(&ferrite, &["cert", "list"]);
    assert!(
        all["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "valid"),
        "{all}"
    );

    // A run that stopped after the first certificate (as after a crash): one is revoked.
    ok(
        &ferrite,
        &[
            "cert",
            "revoke",
            &serials[0],
            "--reason",
            "cessationOfOperation",
        ],
    );
    // Running the bulk revocation finishes the rest and counts the one done before.
    let (out, progress) = ok(
        &ferrite,
        &[
            "cert",
            "revoke",
            "--customer",
            "default",
            "--reason",
            "cessationOfOperation",
            "--yes",
            "--json",
        ],
    );
    let done: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(done["revoked"], 2, "{done}");
    assert_eq!(done["already_revoked"], 1, "{done}");
    assert!(
        progress.contains("revoking: 3 examined of 3, 2 revoked, 1 already revoked"),
        "no progress line: {progress}"
    );
    // Once more: nothing left to do.
    let again = json(
        &ferrite,
        &[
            "cert",
            "revoke",
            "--customer",
            "default",
            "--reason",
            "cessationOfOperation",
            "--yes",
        ],
    );
    assert_eq!(again["revoked"], 0, "{again}");
    assert_eq!(again["already_revoked"], 3, "{again}");

    for (serial, crl) in &issued {
        // cessationOfOperation (5).
        assert_eq!(wait_for_crl_entry(&ferrite, crl, serial), 5);
    }
    let (shown, _) = ok(&ferrite, &["cert", "show", &other_serial]);
    assert!(shown.contains("Status:       valid"), "{shown}");
    assert!(
        !served_crl(&ferrite, &other_crl)
            .iter()
            .any(|(s, _)| *s == serial_octets(&other_serial))
    );
}

/// Two instances on one PostgreSQL database, each serving (and holding) its CRL: a revocation
/// by the operator's command reaches both instances' `/crl` within a minute.
#[test]
#[ignore = "needs lego, pebble-challtestsrv, curl and PostgreSQL: run scripts/test.sh"]
fn an_operator_revocation_reaches_every_instance_on_a_shared_database() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let database = runtime.block_on(ferrite_store::testing::TestDatabase::create());
    let top = format!("database_url = {:?}\n", database.url());
    let extra = "[database]\nmax_connections = 4\n";
    let dns = Challtestsrv::start();
    let http01 = free_port();
    let setup = |beside| support::Setup {
        http01_port: http01,
        tlsalpn01_port: None,
        top_config: &top,
        extra_config: extra,
        hsm: None,
        beside,
    };
    let a = Ferrite::start_with(dns.dns_port, &setup(None));
    let b = Ferrite::start_with(dns.dns_port, &setup(Some(&a)));
    let tmp = tempfile::tempdir().unwrap();
    let cert = obtain(
        &a,
        http01,
        &tmp.path().join("lego"),
        &["shared.example.com"],
    );
    let serial = serial_of(&cert);
    let crl = support::crl_path_of(&cert);
    // Both instances hold its CRL without it.
    for instance in [&a, &b] {
        assert!(
            !served_crl(instance, &crl)
                .iter()
                .any(|(s, _)| *s == serial_octets(&serial))
        );
    }
    ok(
        &b,
        &["cert", "revoke", &serial, "--reason", "privilegeWithdrawn"],
    );
    for instance in [&a, &b] {
        // privilegeWithdrawn (9).
        assert_eq!(wait_for_crl_entry(instance, &crl, &serial), 9);
    }
    drop((a, b));
    runtime.block_on(database.drop());
}

/// The SHA-256 of the public key of the PEM private key `key`, as the docs tell operators to
/// compute it.
fn spki_sha256_of_key(key: &Path) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl pkey -in '{}' -pubout -outform DER | openssl dgst -sha256 -r",
            key.display()
        ))
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[test]
#[ignore = "needs lego, certbot, pebble-challtestsrv, openssl, curl: run scripts/test.sh"]
fn key_compromise_blocks_the_key_and_the_operator_blocks_and_unblocks_keys() {
    let dns = Challtestsrv::start();
    let http01 = free_port();
    let ferrite = Ferrite::start(dns.dns_port, http01);
    let tmp = tempfile::tempdir().unwrap();
    let lego = tmp.path().join("lego");
    let domain = "kc.example.com";
    let key = tmp.path().join("kc.key");
    let csr = tmp.path().join("kc.csr");
    let mut c = Command::new("openssl");
    c.args(["req", "-new", "-newkey", "ec", "-pkeyopt"])
        .arg("ec_paramgen_curve:P-256")
        .args(["-nodes", "-sha256", "-subj", &format!("/CN={domain}")])
        .args(["-addext", &format!("subjectAltName=DNS:{domain}")])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&csr);
    run(c);
    let with_csr = || {
        lego_http01(
            &ferrite,
            http01,
            &lego,
            &[],
            &["--csr", csr.to_str().unwrap()],
            "run",
        )
    };
    run(with_csr());
    let cert = lego.join(format!("certificates/{domain}.crt"));
    let serial = serial_of(&cert);
    let crl = support::crl_path_of(&cert);
    let hash = spki_sha256_of_key(&key);

    let (out, log) = ok(
        &ferrite,
        &["cert", "revoke", &serial, "--reason", "keyCompromise"],
    );
    assert!(out.contains("Its key is blocked"), "{out}");
    assert!(log.contains("certificate_revoked_by_operator"), "{log}");
    let keys = json(&ferrite, &["key", "list"]);
    let blocked = &keys["blocked_keys"][0];
    assert_eq!(blocked["spki_sha256"], hash.as_str(), "{keys}");
    assert_eq!(
        serial_octets(blocked["serial"].as_str().unwrap()),
        serial_octets(&serial)
    );
    assert_eq!(wait_for_crl_entry(&ferrite, &crl, &serial), 1);

    // A new order finalized with the same key: badPublicKey, saying why and what to do.
    let out = run_failing(with_csr());
    assert!(out.contains("badPublicKey"), "{out}");
    assert!(out.contains("reported compromised"), "{out}");
    assert!(out.contains("generate a new key"), "{out}");

    // Unblocked, the key is certified again; blocked by hand, refused again.
    let (out, log) = ok(&ferrite, &["key", "unblock", &hash.to_uppercase()]);
    assert!(out.contains("Unblocked"), "{out}");
    assert!(log.contains("key_unblocked_by_operator"), "{log}");
    assert!(
        json(&ferrite, &["key", "list"])["blocked_keys"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    run(with_csr());
    let (out, log) = ok(
        &ferrite,
        &[
            "key",
            "block",
            "--spki-sha256",
            &hash,
            "--reason",
            "leaked in a public repository",
        ],
    );
    assert!(out.contains("Blocked key"), "{out}");
    assert!(log.contains("key_blocked_by_operator"), "{log}");
    let (out, _) = ok(&ferrite, &["key", "block", "--spki-sha256", &hash]);
    assert!(out.contains("already blocked"), "{out}");
    let (table, _) = ok(&ferrite, &["key", "list"]);
    assert!(table.contains("leaked in a public repository"), "{table}");
    let out = run_failing(with_csr());
    assert!(out.contains("badPublicKey"), "{out}");

    // Bad input.
    let err = fails(&ferrite, &["key", "block", "--spki-sha256", "xyz"]);
    assert!(err.contains("64 hex digits"), "{err}");
    let err = fails(&ferrite, &["key", "unblock", &"ab".repeat(32)]);
    assert!(err.contains("is not blocked"), "{err}");

    // RFC 8555 §7.6 revocation signed with the certificate's own key, reason keyCompromise:
    // that key is blocked too.
    let other = obtain(&ferrite, http01, &lego, &["kc2.example.com"]);
    let other_key = lego.join("certificates/kc2.example.com.key");
    support::revoke_with_certificate_key(&ferrite, &other, &other_key);
    let other_hash = spki_sha256_of_key(&other_key);
    let keys = json(&ferrite, &["key", "list"]);
    assert!(
        keys["blocked_keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["spki_sha256"] == other_hash.as_str()),
        "{keys}"
    );
}

/// A data directory whose database holds customer `bulk` with `n` unexpired certificates
/// (seeded in bulk, as after a long life), and a configuration pointing at it.
async fn seeded(dir: &Path, n: usize) -> std::path::PathBuf {
    use ferrite_core::Store;
    use ferrite_core::model::{Account, Certificate, CrlScope, Customer, Order};
    use ferrite_proto::{AccountStatus, Identifier, OrderStatus};
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let store = ferrite_store::SqliteStore::open(&data.join("ferrite.db"))
        .await
        .unwrap();
    let now = time::OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap();
    store
        .insert_customer(&Customer {
            id: "cust-bulk".into(),
            name: "bulk".into(),
            created_at: now,
            allowed_profiles: None,
            suspension: None,
        })
        .await
        .unwrap();
    let account = Account {
        id: "acct-bulk".into(),
        thumbprint: "thumb-bulk".into(),
        jwk: serde_json::json!({"kty": "EC", "crv": "P-256", "x": "x", "y": "y"}),
        contact: vec![],
        status: AccountStatus::Valid,
        terms_of_service_agreed: true,
        eab_kid: None,
        customer_id: Some("cust-bulk".into()),
        created_at: now,
    };
    let order = Order {
        id: "order-bulk".into(),
        account_id: account.id.clone(),
        status: OrderStatus::Valid,
        identifiers: vec![Identifier::dns("bulk.example.com")],
        authorization_ids: vec![],
        expires: now + time::Duration::days(7),
        not_before: None,
        not_after: None,
        error: None,
        certificate_serial: None,
        created_at: now,
        profile: None,
        replaces: None,
    };
    let certificates = (0..n)
        .map(|i| {
            (
                order.id.clone(),
                Certificate {
                    serial: format!("5e{i:08x}"),
                    account_id: account.id.clone(),
                    order_id: order.id.clone(),
                    der: vec![0x30, 0x03, 0x02, 0x01, 0x01],
                    chain_pem: String::new(),
                    dns_names: vec![format!("h{i}.bulk.example.com")],
                    not_before: now - time::Duration::days(1),
                    not_after: now + time::Duration::days(60),
                    revoked: None,
                    renewal_advanced: None,
                    crl: CrlScope::Unsharded,
                    precertificate: None,
                },
            )
        })
        .collect();
    store
        .bulk_insert(ferrite_store::BulkRows {
            accounts: vec![account],
            orders: vec![(order, vec![])],
            certificates,
            domain_validations: vec![],
        })
        .await
        .unwrap();
    store.close().await;
    let config = dir.join("ferrite.toml");
    std::fs::write(&config, format!("data_dir = {data:?}\n")).unwrap();
    config
}

/// How many of the seeded certificates are revoked.
async fn revoked_count(config_dir: &Path) -> u64 {
    use ferrite_core::Store;
    use ferrite_core::model::CrlScope;
    let store = ferrite_store::SqliteStore::open(&config_dir.join("data/ferrite.db"))
        .await
        .unwrap();
    let n = store
        .revoked_certificates(&CrlScope::Unsharded, time::OffsetDateTime::now_utc())
        .await
        .unwrap()
        .len() as u64;
    store.close().await;
    n
}

/// A bulk revocation killed (SIGKILL) partway leaves what it revoked revoked; the same
/// command again revokes exactly the rest and counts the others as already revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_revocation_killed_partway_is_finished_by_running_it_again() {
    use std::io::BufRead;
    const N: u64 = 20_000;
    let tmp = tempfile::tempdir().unwrap();
    let config = seeded(tmp.path(), N as usize).await;
    let revoke = move |json: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ferrite"));
        c.arg("--config")
            .arg(&config)
            .args([
                "cert",
                "revoke",
                "--customer",
                "bulk",
                "--reason",
                "superseded",
                "--yes",
            ])
            .env_remove("FERRITE_CONFIG")
            .env("RUST_LOG", "warn,ferrite::audit=off")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if json {
            c.arg("--json");
        }
        c
    };
    let mut child = revoke(false).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    // The first progress line: one page (500) revoked of 40. Then the crash.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("no progress line within 2 minutes");
        if line.starts_with("revoking: ") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let first = revoked_count(tmp.path()).await;
    eprintln!("the killed run revoked {first} of {N}");
    assert!(
        (500..N).contains(&first),
        "the killed run revoked {first} of {N}"
    );

    let mut again = revoke(true);
    let out = tokio::task::spawn_blocking(move || again.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["examined"], N, "{done}");
    assert_eq!(done["revoked"], N - first, "{done}");
    assert_eq!(done["already_revoked"], first, "{done}");
    assert_eq!(revoked_count(tmp.path()).await, N);
}

/// On a terminal, a bulk revocation says how many it would revoke and goes on only when the
/// operator types `yes` (here through a pseudo-terminal made by `script`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_revocation_on_a_terminal_asks_for_yes() {
    let tmp = tempfile::tempdir().unwrap();
    let config = seeded(tmp.path(), 3).await;
    // The dry run's table, written as it is read: a header, one line each, the counts.
    let dry = Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .arg("--config")
        .arg(&config)
        .args([
            "cert",
            "revoke",
            "--customer",
            "bulk",
            "--reason",
            "4",
            "--dry-run",
        ])
        .env_remove("FERRITE_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.status.success(), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(lines[0].starts_with("SERIAL"), "{text}");
    assert!(
        lines[1].starts_with("5e00000000") && lines[1].contains("valid"),
        "{text}"
    );
    assert!(lines[1].ends_with("h0.bulk.example.com"), "{text}");
    assert!(
        lines[4].starts_with(
            "Dry run: 3 certificate(s) would be revoked (superseded), 0 are already revoked"
        ),
        "{text}"
    );
    let on_terminal = move |answer: &str| {
        let command = format!(
            "{} --config {} cert revoke --customer bulk --reason superseded",
            env!("CARGO_BIN_EXE_ferrite"),
            config.display()
        );
        let mut child = Command::new("script")
            .args(["-q", "-e", "-c", &command, "/dev/null"])
            .env_remove("FERRITE_CONFIG")
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("script (util-linux) must be installed");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            writeln!(stdin, "{answer}").unwrap();
        }
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no answer in 60 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (succeeded, text) = tokio::task::spawn_blocking({
        let on_terminal = on_terminal.clone();
        move || on_terminal("no")
    })
    .await
    .unwrap();
    assert!(!succeeded, "{text}");
    assert!(
        text.contains("Revoke 3 certificate(s) with reason superseded"),
        "{text}"
    );
    assert!(text.contains("not confirmed; nothing revoked"), "{text}");
    assert_eq!(revoked_count(tmp.path()).await, 0);
    let (succeeded, text) = tokio::task::spawn_blocking(move || on_terminal("yes"))
        .await
        .unwrap();
    assert!(succeeded, "{text}");
    assert!(text.contains("Revoked 3 certificate(s)"), "{text}");
    assert_eq!(revoked_count(tmp.path()).await, 3);
}
