//! `ferrite va-agent enroll` and `ferrite va-agent run` as an operator runs them: the binary
//! enrolls an agent into the primary's data directory and serves as a remote perspective to a
//! CA (the testkit's, built as `ferrite serve` builds it) with `[mpic] mode = "enforce"`.
//! Only 127.0.0.1 is contacted; the agent process is killed at the end, every wait bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use ferrite_app::config::Mpic;
use ferrite_app::mpic::{MpicMode, PerspectiveConfig};
use ferrite_jose::Algorithm;
use ferrite_testkit::RawAccount;
use ferrite_testkit::dns::MockDns;
use ferrite_testkit::responders::Http01Responder;
use ferrite_testkit::{TestCa, TestCaOptions, bounded};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_ferrite");
const DOMAIN: &str = "agent.example.com";

/// Kills the agent process when the test ends, however it ends.
struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Orders `DOMAIN` over http-01, serving the key authorization on `responders`; `Ok` when
/// the authorization became valid, else the refusal as the client saw it.
async fn order(ca: &TestCa, responders: &[&Http01Responder]) -> Result<(), String> {
    let raw = ca.raw();
    let account = RawAccount::register(&raw, Algorithm::ES256).await;
    let (_, order) = ca.raw_new_order(&raw, &account, &[DOMAIN]).await;
    let authz_url = order["authorizations"][0].as_str().unwrap().to_owned();
    let authz = raw
        .post_as_get(&account.key, &account.kid, &authz_url)
        .await
        .json();
    let challenge = ferrite_testkit::challenge(&authz, "http-01");
    let token = challenge["token"].as_str().unwrap();
    for r in responders {
        r.set(token, &account.key_authorization(token));
    }
    let url = challenge["url"].as_str().unwrap();
    let r = raw
        .post(&account.key, Some(&account.kid), url, Some(&json!({})))
        .await;
    if r.status != 200 {
        return Err(String::from_utf8_lossy(&r.body).into_owned());
    }
    let authz = raw
        .poll(&account.key, &account.kid, &authz_url, |a| {
            a["status"] != "pending"
        })
        .await;
    if authz["status"] == "valid" {
        Ok(())
    } else {
        Err(authz.to_string())
    }
}

#[tokio::test]
async fn an_enrolled_agent_corroborates_and_its_absence_refuses() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let primary_toml = dir.path().join("primary.toml");
        std::fs::write(&primary_toml, format!("data_dir = {:?}\n", data)).unwrap();
        let bundle = dir.path().join("bundle");
        let enroll = Command::new(BIN)
            .args(["--config"])
            .arg(&primary_toml)
            .args(["va-agent", "enroll", "--id", "p0", "--region", "eu-west", "--out"])
            .arg(&bundle)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&enroll.stdout);
        assert!(enroll.status.success(), "{stdout}{}", String::from_utf8_lossy(&enroll.stderr));
        assert!(stdout.contains("enrolled perspective p0 (region eu-west)"), "{stdout}");
        assert!(stdout.contains("[[mpic.perspectives]]"), "{stdout}");
        assert!(data.join("mpic/agents/p0.pem").exists());

        // The agent: its own DNS and http-01 responder, its own [validation] table.
        let dns = MockDns::start().await.unwrap();
        let http01 = Http01Responder::start().await.unwrap();
        let agent_toml = dir.path().join("agent.toml");
        std::fs::write(
            &agent_toml,
            format!(
                "[validation]\ndns_resolver = \"{}\"\nhttp01_port = {}\nallow_private_addresses = true\ndnssec = false\n",
                dns.addr(),
                http01.port()
            ),
        )
        .unwrap();
        let mut child = Command::new(BIN)
            .args(["--config"])
            .arg(&agent_toml)
            .args(["va-agent", "run", "--listen", "127.0.0.1:0", "--bundle"])
            .arg(&bundle)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let agent = Agent(child);
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).unwrap();
            line
        })
        .await
        .unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("https://"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"))
            .to_owned();

        let mut opts = TestCaOptions::default();
        opts.config.mpic = Mpic {
            mode: MpicMode::Enforce,
            timeout_ms: 3000,
            perspectives: vec![PerspectiveConfig {
                id: "p0".into(),
                region: "eu-west".into(),
                url,
            }],
            ..Mpic::default()
        };
        opts.data_dir = Some(data.clone());
        let ca = TestCa::start_with(opts).await;
        order(&ca, &[&ca.http01, &http01]).await.unwrap();
        assert!(!http01.requests().is_empty(), "the agent never fetched the challenge");

        // Without the agent, the one perspective cannot corroborate: refused.
        drop(agent);
        let refused = order(&ca, &[&ca.http01, &http01]).await.unwrap_err();
        assert!(refused.contains("p0 (eu-west)"), "{refused}");
    })
    .await;
}
