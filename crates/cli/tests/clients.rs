//! End to end with ACME clients nobody here wrote: lego (Debian) and certbot (PyPI) issue,
//! renew and revoke against a real `ferrite serve` process, over http-01 and dns-01, with
//! pebble-challtestsrv as the DNS Ferrite and lego resolve through. Every certificate they
//! receive must verify up to Ferrite's root with `openssl verify`.
//!
//! These tests need the tools the README's test command installs (`scripts/test.sh`), so they
//! are `#[ignore]`d for a plain `cargo test`; the script runs them with `--run-ignored all`.
//! Everything listens on 127.0.0.1; every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// Each test binary uses part of the shared support module.
#[allow(dead_code)]
mod support;

use support::{
    Challtestsrv, Ferrite, certbot, certbot_dirs, free_port, lego_http01, openssl_verify, run,
    run_failing,
};

/// The first start's command line for `client` (`certbot`, `lego`, `acme.sh`): its leading
/// `NAME=value` environment assignments, then its words.
fn first_start_command(ferrite: &Ferrite, client: &str) -> (Vec<(String, String)>, Vec<String>) {
    let line = ferrite
        .first_start
        .iter()
        .find(|l| {
            l.split_whitespace()
                .find(|w| !w.contains('='))
                .is_some_and(|w| w == client)
        })
        .unwrap_or_else(|| panic!("no {client} command in {:#?}", ferrite.first_start));
    let mut env = Vec::new();
    let mut words = Vec::new();
    for word in line.split_whitespace() {
        match word.split_once('=') {
            Some((name, value)) if words.is_empty() => {
                env.push((name.to_owned(), value.to_owned()))
            }
            _ => words.push(word.to_owned()),
        }
    }
    (env, words)
}

/// The commands the first start prints work when pasted: certbot registers and lego obtains a
/// certificate (for the placeholder example.com, which the test DNS points at lego), trusting
/// only the root the command names. lego without that root fails: the name is what makes the
/// command work. The test adds only where each client keeps its files and lego's port.
#[test]
#[ignore = "needs lego, certbot, pebble-challtestsrv: run scripts/test.sh"]
fn the_first_start_commands_work_when_pasted() {
    let dns = Challtestsrv::start();
    let http01 = free_port();
    let ferrite = Ferrite::start(dns.dns_port, http01);
    let tmp = tempfile::tempdir().unwrap();
    let root = ferrite.root.to_string_lossy().into_owned();
    let trust_vars = [
        "REQUESTS_CA_BUNDLE",
        "LEGO_CA_CERTIFICATES",
        "SSL_CERT_FILE",
    ];

    let (env, words) = first_start_command(&ferrite, "certbot");
    assert_eq!(env, [("REQUESTS_CA_BUNDLE".to_owned(), root.clone())]);
    let mut c = certbot();
    for var in trust_vars {
        c.env_remove(var);
    }
    c.envs(env).args(&words[1..]).arg("--non-interactive");
    certbot_dirs(&mut c, &tmp.path().join("certbot"));
    let out = run(c);
    assert!(out.contains("Account registered"), "{out}");

    let (env, words) = first_start_command(&ferrite, "lego");
    assert_eq!(env, [("LEGO_CA_CERTIFICATES".to_owned(), root.clone())]);
    let (run_command, flags) = words[1..].split_last().unwrap();
    let lego = |path: &str| {
        let mut c = std::process::Command::new(&words[0]);
        for var in trust_vars {
            c.env_remove(var);
        }
        c.args(flags)
            .args(["--http.port", &format!("127.0.0.1:{http01}")])
            .arg("--path")
            .arg(tmp.path().join(path))
            .arg(run_command);
        c
    };
    let out = run_failing(lego("untrusted"));
    assert!(out.contains("certificate"), "{out}");
    let mut c = lego("lego");
    c.envs(env);
    run(c);
    openssl_verify(
        &ferrite.root,
        &tmp.path().join("lego/certificates/example.com.crt"),
    );

    let (env, words) = first_start_command(&ferrite, "acme.sh");
    assert!(env.is_empty());
    assert_eq!(words[words.len() - 2..], ["--ca-bundle".to_owned(), root]);
}

#[test]
#[ignore = "needs lego, certbot, pebble-challtestsrv: run scripts/test.sh"]
fn lego_http01_issue_renew_revoke() {
    let dns = Challtestsrv::start();
    let http01 = free_port();
    let ferrite = Ferrite::start(dns.dns_port, http01);
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("lego");
    let lego = |command| {
        lego_http01(
            &ferrite,
            http01,
            &path,
            &["lego-http.example.com"],
            &[],
            command,
        )
    };
    run(lego("run"));
    let cert = path.join("certificates/lego-http.example.com.crt");
    openssl_verify(&ferrite.root, &cert);
    let first = std::fs::read(&cert).unwrap();

    let mut renew = lego("renew");
    renew.args(["--days", "365", "--no-random-sleep"]);
    run(renew);
    let second = std::fs::read(&cert).unwrap();
    assert_ne!(first, second, "renew must replace the certificate");
    openssl_verify(&ferrite.root, &cert);

    run(lego("revoke"));
}

#[test]
#[ignore = "needs lego, certbot, pebble-challtestsrv: run scripts/test.sh"]
fn lego_dns01_wildcard() {
    let dns = Challtestsrv::start();
    let ferrite = Ferrite::start(dns.dns_port, free_port());
    let tmp = tempfile::tempdir().unwrap();
    let hook = dns.exec_hook(tmp.path());
    let path = tmp.path().join("lego");
    let mut c = support::lego_dns01(
        &ferrite,
        &dns,
        &hook,
        &path,
        &["*.w.example.com", "w.example.com"],
    );
    c.arg("run");
    run(c);
    let cert = path.join("certificates/_.w.example.com.crt");
    openssl_verify(&ferrite.root, &cert);
    let text = support::cert_text(&cert);
    assert!(text.contains("DNS:*.w.example.com"), "{text}");
    assert!(text.contains("DNS:w.example.com"), "{text}");
}

#[test]
#[ignore = "needs lego, certbot, pebble-challtestsrv: run scripts/test.sh"]
fn certbot_http01_issue_renew_revoke() {
    let dns = Challtestsrv::start();
    let http01 = free_port();
    let ferrite = Ferrite::start(dns.dns_port, http01);
    let tmp = tempfile::tempdir().unwrap();
    let mut c = support::certbot_certonly_http01(&ferrite, http01);
    c.args(["-d", "certbot-http.example.com"]);
    certbot_dirs(&mut c, tmp.path());
    run(c);
    let live = tmp.path().join("config/live/certbot-http.example.com");
    openssl_verify(&ferrite.root, &live.join("fullchain.pem"));
    let first = std::fs::read(live.join("cert.pem")).unwrap();

    let mut renew = certbot();
    renew.env("REQUESTS_CA_BUNDLE", &ferrite.root).args([
        "renew",
        "--non-interactive",
        "--force-renewal",
        "--no-random-sleep-on-renew",
    ]);
    certbot_dirs(&mut renew, tmp.path());
    run(renew);
    let second = std::fs::read(live.join("cert.pem")).unwrap();
    assert_ne!(first, second, "renew must replace the certificate");
    openssl_verify(&ferrite.root, &live.join("fullchain.pem"));

    let mut revoke = certbot();
    revoke
        .env("REQUESTS_CA_BUNDLE", &ferrite.root)
        .args([
            "revoke",
            "--non-interactive",
            "--server",
            &ferrite.directory,
        ])
        .args([
            "--reason",
            "superseded",
            "--no-delete-after-revoke",
            "--cert-path",
        ])
        .arg(live.join("cert.pem"));
    certbot_dirs(&mut revoke, tmp.path());
    run(revoke);
    // The CRL shard its distribution point names now lists it.
    let crl = ferrite.crl_text(&support::crl_path_of(&live.join("cert.pem")));
    let serial = support::serial_of(&live.join("cert.pem"));
    assert!(
        crl.to_uppercase().contains(&serial.to_uppercase()),
        "serial {serial} not in CRL:\n{crl}"
    );
}

#[test]
#[ignore = "needs lego, certbot, pebble-challtestsrv: run scripts/test.sh"]
fn certbot_dns01_manual_hooks() {
    let dns = Challtestsrv::start();
    let ferrite = Ferrite::start(dns.dns_port, free_port());
    let tmp = tempfile::tempdir().unwrap();
    let (auth, cleanup) = dns.certbot_hooks(tmp.path());
    let mut c = certbot();
    c.env("REQUESTS_CA_BUNDLE", &ferrite.root)
        .args([
            "certonly",
            "--non-interactive",
            "--server",
            &ferrite.directory,
        ])
        .args([
            "--agree-tos",
            "--register-unsafely-without-email",
            "--manual",
        ])
        .args([
            "--eab-kid",
            &ferrite.eab_kid,
            "--eab-hmac-key",
            &ferrite.eab_hmac,
        ])
        .args(["--preferred-challenges", "dns-01", "--manual-auth-hook"])
        .arg(&auth)
        .arg("--manual-cleanup-hook")
        .arg(&cleanup)
        .args([
            "-d",
            "certbot-dns.example.com",
            "-d",
            "*.certbot-dns.example.com",
        ]);
    certbot_dirs(&mut c, tmp.path());
    run(c);
    let live = tmp.path().join("config/live/certbot-dns.example.com");
    openssl_verify(&ferrite.root, &live.join("fullchain.pem"));
}
