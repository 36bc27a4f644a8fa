//! `ferrite validation list`, run as the built binary: the operator sees each kept domain
//! validation (name, method, time, reuse limit, owner, authorization, what the remote
//! perspectives answered) and, with `--json`, the validator's evidence and every perspective's
//! answer. The database is prepared through the store, as `ferrite serve` would leave it after
//! a successful dns-01 validation and a corroborated http-01 validation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferrite_core::Store;
use ferrite_core::model::{
    Account, Authorization, Challenge, Customer, DomainValidation, Order, ValidationResult,
};
use ferrite_proto::{
    AccountStatus, AuthorizationStatus, ChallengeStatus, ChallengeType, Identifier, OrderStatus,
};
use serde_json::{Value, json};
use time::macros::datetime;

const BIN: &str = env!("CARGO_BIN_EXE_ferrite");

/// One customer whose account validated `example.com` by dns-01, and later
/// `mpic.example.com` by http-01 corroborated from five perspectives, one of which saw
/// another answer.
async fn prepare(db: &Path) {
    let store = ferrite_store::SqliteStore::open(db).await.unwrap();
    let t0 = datetime!(2026-06-01 12:00 UTC);
    store
        .insert_customer(&Customer {
            id: "cust-1".into(),
            name: "corp".into(),
            created_at: t0,
            allowed_profiles: None,
            suspension: None,
        })
        .await
        .unwrap();
    store
        .insert_account(&Account {
            id: "acct-1".into(),
            thumbprint: "thumb".into(),
            jwk: json!({"kty": "EC"}),
            contact: vec![],
            status: AccountStatus::Valid,
            terms_of_service_agreed: true,
            eab_kid: None,
            customer_id: Some("cust-1".into()),
            created_at: t0,
        })
        .await
        .unwrap();
    let record = json!({"method": "dns-01", "hostname": "example.com",
                        "dns_answers": ["txt-answer-seen"]});
    validated(&store, 1, "example.com", ChallengeType::Dns01, t0, record).await;
    let answer = |i: usize, outcome: &str| {
        let mut a = json!({"perspective": format!("p{i}"), "region": format!("region-{i}"),
                           "outcome": outcome, "latencyMs": 10 + i,
                           "evidence": {"addresses": [format!("192.0.2.{i}")]}});
        if outcome == "disagreed" {
            a["problem"] = json!({"type": "urn:ietf:params:acme:error:incorrectResponse",
                                  "detail": "the key authorization does not match"});
        }
        a
    };
    let record = json!({"method": "http-01", "hostname": "mpic.example.com",
        "mpic": {"mode": "enforce", "corroborated": true, "perspectives": 5,
                 "allowedNonCorroborations": 1,
                 "answers": [answer(0, "agreed"), answer(1, "agreed"), answer(2, "disagreed"),
                             answer(3, "agreed"), answer(4, "agreed")]},
        "caa": {"checked_at": "2026-06-01T13:00:00Z", "domain": "mpic.example.com",
                "wildcard": false, "records": [],
                "mpic": {"mode": "enforce", "corroborated": true, "perspectives": 5,
                         "allowedNonCorroborations": 1,
                         "answers": [answer(0, "agreed"), answer(1, "agreed"),
                                     answer(2, "agreed"), answer(3, "agreed"),
                                     answer(4, "timeout")]}}});
    validated(
        &store,
        2,
        "mpic.example.com",
        ChallengeType::Http01,
        t0 + time::Duration::hours(1),
        record,
    )
    .await;
    store.close().await;
}

/// Order, authorization and challenge number `n` for `domain`, validated by `kind` at `t0`
/// with `record` and kept for reuse.
async fn validated(
    store: &ferrite_store::SqliteStore,
    n: u32,
    domain: &str,
    kind: ChallengeType,
    t0: time::OffsetDateTime,
    record: Value,
) {
    let challenge = Challenge {
        id: format!("ch-{n}"),
        authorization_id: format!("authz-{n}"),
        kind,
        token: "token".into(),
        status: ChallengeStatus::Pending,
        validated: None,
        error: None,
        record: None,
        lease_until: None,
    };
    let authz = Authorization {
        id: format!("authz-{n}"),
        account_id: "acct-1".into(),
        identifier: Identifier::dns(domain),
        wildcard: false,
        status: AuthorizationStatus::Pending,
        expires: t0 + time::Duration::days(7),
        challenges: vec![challenge],
    };
    let order = Order {
        id: format!("order-{n}"),
        account_id: "acct-1".into(),
        status: OrderStatus::Pending,
        identifiers: vec![Identifier::dns(domain)],
        authorization_ids: vec![format!("authz-{n}")],
        expires: t0 + time::Duration::days(7),
        not_before: None,
        not_after: None,
        error: None,
        certificate_serial: None,
        created_at: t0,
        profile: None,
        replaces: None,
    };
    store.insert_order(&order, &[authz]).await.unwrap();
    assert!(
        store
            .start_validation(&format!("ch-{n}"), t0 + time::Duration::minutes(2))
            .await
            .unwrap()
    );
    store
        .finish_validation(&ValidationResult {
            challenge_id: format!("ch-{n}"),
            authorization_id: format!("authz-{n}"),
            lease_until: Some(t0 + time::Duration::minutes(2)),
            outcome: Ok(t0),
            record: record.clone(),
            domain_validation: Some(DomainValidation {
                id: format!("dv-{n}"),
                customer_id: Some("cust-1".into()),
                account_id: "acct-1".into(),
                domain: domain.into(),
                wildcard: false,
                method: kind,
                validated_at: t0,
                reuse_until: t0 + time::Duration::days(200),
                authorization_id: format!("authz-{n}"),
                record,
            }),
        })
        .await
        .unwrap();
}

fn run(config: &Path, args: &[&str]) -> (bool, String, String) {
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("FERRITE_CONFIG")
        .env_remove("FERRITE_EAB__KEK")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "ferrite {args:?} took over 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn validation_list_shows_the_kept_validations_with_their_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let config = dir.path().join("ferrite.toml");
    std::fs::write(&config, format!("data_dir = {data:?}\n")).unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(prepare(&data.join("ferrite.db")));

    let (ok, table, err) = run(&config, &["validation", "list"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    for word in [
        "DOMAIN",
        "METHOD",
        "VALIDATED",
        "REUSE UNTIL",
        "AUTHORIZATION",
        "PERSPECTIVES",
    ] {
        assert!(lines[0].contains(word), "{table}");
    }
    // Newest first: the corroborated one names the perspective that disagreed.
    assert!(lines[1].starts_with("mpic.example.com"), "{table}");
    assert!(
        lines[1]
            .trim_end()
            .ends_with("4/5 agree (p2 disagreed); CAA 4/5 agree (p4 timeout)"),
        "{table}"
    );
    // Not corroborated (validated without [mpic]).
    assert_eq!(lines[2].split_whitespace().last(), Some("-"), "{table}");
    for cell in [
        "example.com",
        "dns-01",
        "2026-06-01 12:00:00Z",
        "2026-12-18 12:00:00Z",
        "cust-1",
        "authz-1",
    ] {
        assert!(lines[2].contains(cell), "{cell} missing: {table}");
    }

    let (ok, out, err) = run(
        &config,
        &["validation", "list", "--customer", "corp", "--json"],
    );
    assert!(ok, "{err}");
    let rows: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rows[1]["domain"], "example.com");
    assert_eq!(rows[1]["method"], "dns-01");
    assert_eq!(rows[1]["validated_at"], "2026-06-01T12:00:00Z");
    assert_eq!(rows[1]["record"]["dns_answers"][0], "txt-answer-seen");
    assert_eq!(rows[1]["perspectives"], json!([]));
    assert_eq!(rows[1]["caa_perspectives"], json!([]));
    assert_eq!(rows[0]["caa_perspectives"][4]["outcome"], "timeout");
    // Every perspective's answer, with what it saw.
    let answers = rows[0]["perspectives"].as_array().unwrap();
    assert_eq!(answers.len(), 5, "{out}");
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(a["perspective"], format!("p{i}"));
        assert_eq!(a["region"], format!("region-{i}"));
        assert_eq!(a["evidence"]["addresses"][0], format!("192.0.2.{i}"));
    }
    assert_eq!(answers[2]["outcome"], "disagreed");
    assert_eq!(
        answers[2]["problem"]["detail"],
        "the key authorization does not match"
    );

    let (ok, _, err) = run(&config, &["validation", "list", "--customer", "nobody"]);
    assert!(!ok);
    assert!(err.contains("no customer named \"nobody\""), "{err}");
}
