//! End to end with certbot (PyPI, 4.0 or later: profiles and renewal information) against a
//! real `ferrite serve`: `--preferred-profile shortlived` gets a certificate of at most six
//! days without a CRL distribution point; `--required-profile nosuch` fails with
//! `invalidProfile`, and so does a profile the operator took from the customer with
//! `ferrite customer set-profiles`; `certbot renew` without `--force-renewal` leaves a fresh
//! certificate alone because its renewal information says it is not due, and renews it once
//! `ferrite ari advance --serial` has moved its window into the past.
//!
//! `#[ignore]`d for a plain `cargo test`: `scripts/test.sh` runs them with the tools they
//! need. Everything listens on 127.0.0.1; every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
mod support;

use std::process::Command;

use support::{
    Challtestsrv, Ferrite, Setup, cert_text, certbot, certbot_certonly_http01, certbot_dirs,
    free_port, openssl_verify, run, run_failing, serial_of,
};

const BIN: &str = env!("CARGO_BIN_EXE_ferrite");

/// `ferrite ARGS --config …` against the running instance's configuration.
fn ferrite_cmd(ferrite: &Ferrite, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args).arg("--config").arg(&ferrite.config);
    c
}

/// Whether the certificate at `pem` expires within `seconds` (`openssl x509 -checkend`).
fn expires_within(pem: &std::path::Path, seconds: u64) -> bool {
    let status = Command::new("openssl")
        .args(["x509", "-noout", "-checkend", &seconds.to_string(), "-in"])
        .arg(pem)
        .output()
        .unwrap()
        .status;
    !status.success()
}

/// certbot prints a problem's detail only; its debug log (under `tmp`) has the whole
/// response: the text from the last problem type on.
fn last_problem(tmp: &std::path::Path) -> String {
    let log = std::fs::read_to_string(tmp.join("logs/letsencrypt.log")).unwrap();
    let at = log
        .rfind("urn:ietf:params:acme:error:")
        .unwrap_or_else(|| panic!("no problem document in certbot's log:\n{log}"));
    log[at..].lines().next().unwrap_or_default().to_owned()
}

#[test]
#[ignore = "needs certbot, pebble-challtestsrv: run scripts/test.sh"]
fn certbot_profiles() {
    let dns = Challtestsrv::start();
    let http01 = free_port();
    let ferrite = Ferrite::start(dns.dns_port, http01);
    let tmp = tempfile::tempdir().unwrap();

    let mut c = certbot_certonly_http01(&ferrite, http01);
    c.args([
        "-d",
        "short.example.com",
        "--preferred-profile",
        "shortlived",
    ]);
    certbot_dirs(&mut c, tmp.path());
    run(c);
    let cert = tmp.path().join("config/live/short.example.com/cert.pem");
    openssl_verify(
        &ferrite.root,
        &tmp.path()
            .join("config/live/short.example.com/fullchain.pem"),
    );
    assert!(expires_within(&cert, 6 * 86_400), "at most 6 days");
    assert!(!expires_within(&cert, 5 * 86_400), "more than 5 days");
    let text = cert_text(&cert);
    assert!(!text.contains("CRL Distribution Points"), "{text}");
    assert!(text.contains("CA Issuers - URI:"), "{text}");

    let mut c = certbot_certonly_http01(&ferrite, http01);
    c.args(["-d", "nosuch.example.com", "--required-profile", "nosuch"]);
    certbot_dirs(&mut c, tmp.path());
    let out = run_failing(c);
    assert!(out.contains("offers no profile named \"nosuch\""), "{out}");
    assert!(last_problem(tmp.path()).contains("invalidProfile"));

    // The operator limits the first-start customer to tlsserver: shortlived is refused, the
    // default still issued; --all lifts the limit.
    let out = run(ferrite_cmd(
        &ferrite,
        &["customer", "set-profiles", "default", "tlsserver"],
    ));
    assert!(out.contains("may order profiles: tlsserver"), "{out}");
    let out = run_failing(ferrite_cmd(
        &ferrite,
        &["customer", "set-profiles", "default", "nosuch"],
    ));
    assert!(out.contains("offers no profile named \"nosuch\""), "{out}");
    let mut c = certbot_certonly_http01(&ferrite, http01);
    c.args([
        "-d",
        "limited.example.com",
        "--required-profile",
        "shortlived",
    ]);
    certbot_dirs(&mut c, tmp.path());
    let out = run_failing(c);
    assert!(out.contains("may order tlsserver"), "{out}");
    assert!(last_problem(tmp.path()).contains("invalidProfile"));
    run(ferrite_cmd(
        &ferrite,
        &["customer", "set-profiles", "default", "--all"],
    ));
    let mut c = certbot_certonly_http01(&ferrite, http01);
    c.args([
        "-d",
        "limited.example.com",
        "--required-profile",
        "shortlived",
    ]);
    certbot_dirs(&mut c, tmp.path());
    run(c);
}

#[test]
#[ignore = "needs certbot, pebble-challtestsrv: run scripts/test.sh"]
fn certbot_renews_when_renewal_information_says_so() {
    let dns = Challtestsrv::start();
    let http01 = free_port();
    // certbot asks again only after the Retry-After it was given: one second here.
    let ferrite = Ferrite::start_with(
        dns.dns_port,
        &Setup {
            http01_port: http01,
            tlsalpn01_port: None,
            top_config: "",
            extra_config: "[ari]\nretry_after_seconds = 1\n",
            hsm: None,
            beside: None,
        },
    );
    let tmp = tempfile::tempdir().unwrap();
    let mut c = certbot_certonly_http01(&ferrite, http01);
    c.args(["-d", "ari.example.com"]);
    certbot_dirs(&mut c, tmp.path());
    run(c);
    let live = tmp.path().join("config/live/ari.example.com");
    let first = std::fs::read(live.join("cert.pem")).unwrap();

    let renew = || {
        let mut r = certbot();
        r.env("REQUESTS_CA_BUNDLE", &ferrite.root).args([
            "renew",
            "--non-interactive",
            "--no-random-sleep-on-renew",
        ]);
        certbot_dirs(&mut r, tmp.path());
        r
    };
    let out = run(renew());
    assert!(out.contains("not yet due for renewal"), "{out}");
    assert_eq!(std::fs::read(live.join("cert.pem")).unwrap(), first);

    let serial = serial_of(&live.join("cert.pem"));
    let dry = run(ferrite_cmd(
        &ferrite,
        &["ari", "advance", "--serial", &serial, "--dry-run"],
    ));
    assert!(dry.contains("Dry run: 1 certificate(s)"), "{dry}");
    let out = run(ferrite_cmd(
        &ferrite,
        &[
            "ari",
            "advance",
            "--serial",
            &serial,
            "--reason",
            "https://ca.example/incident",
        ],
    ));
    assert!(
        out.contains("Advanced the renewal window of 1 certificate(s)"),
        "{out}"
    );
    // Past the Retry-After certbot recorded at its last check.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let out = run(renew());
    assert!(!out.contains("not yet due"), "{out}");
    assert!(out.contains("Renewing an existing certificate"), "{out}");
    let second = std::fs::read(live.join("cert.pem")).unwrap();
    assert_ne!(first, second, "renew must replace the certificate");
    openssl_verify(&ferrite.root, &live.join("fullchain.pem"));
    // The new certificate is fresh again: not due.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let out = run(renew());
    assert!(out.contains("not yet due for renewal"), "{out}");
}
