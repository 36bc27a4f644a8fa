//! The CSR policy as a real client meets it: lego (Debian) against a real `ferrite serve`,
//! over http-01 with EAB. `--key-type ec384` makes lego sign its CSR with ECDSA SHA-384, which
//! the default policy refuses with a `badCSR` that names the algorithm and the fix; a CSR with
//! an Extended Key Usage extension handed to lego with `--csr` is refused with a `badCSR` that
//! explains why. A plain `ec256` run on the same server issues, so the refusals are the policy.
//!
//! acme.sh's own CSR asks for serverAuth and clientAuth, so docs/clients.md tells acme.sh users
//! to make their CSR with `openssl req` and pass it with `--signcsr`. acme.sh cannot be
//! installed here; the `openssl req` commands are read from the page and run as written, and
//! certbot submits each CSR with `--csr`. The operator switch
//! `issuance.allow_csr_extended_key_usage` is checked with such a CSR plus acme.sh's two EKUs.
//!
//! Like clients.rs these need the tools `scripts/test.sh` installs, so they are `#[ignore]`d
//! for a plain `cargo test`. Everything listens on 127.0.0.1; every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
mod support;

use std::process::Command;

use support::{Challtestsrv, Ferrite, free_port, lego_http01, openssl_verify, run, run_failing};

#[test]
#[ignore = "needs lego, pebble-challtestsrv, openssl: run scripts/test.sh"]
fn lego_ec384_gets_a_clear_bad_csr_and_ec256_issues() {
    let dns = Challtestsrv::start();
    let http01 = free_port();
    let ferrite = Ferrite::start(dns.dns_port, http01);
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("lego");

    let out = run_failing(lego_http01(
        &ferrite,
        http01,
        &path,
        &["ec384.example.com"],
        &["--key-type", "ec384"],
        "run",
    ));
    assert!(out.contains("badCSR"), "{out}");
    assert!(out.contains("ECDSA with SHA-384"), "{out}");
    assert!(out.contains("--key-type ec256"), "{out}");
    assert!(
        !path.join("certificates/ec384.example.com.crt").exists(),
        "no certificate may be issued"
    );

    run(lego_http01(
        &ferrite,
        http01,
        &path,
        &["ec256.example.com"],
        &["--key-type", "ec256"],
        "run",
    ));
    openssl_verify(
        &ferrite.root,
        &path.join("certificates/ec256.example.com.crt"),
    );
}

#[test]
#[ignore = "needs lego, pebble-challtestsrv, openssl: run scripts/test.sh"]
fn lego_with_an_eku_csr_gets_a_bad_csr_that_says_why() {
    let dns = Challtestsrv::start();
    let http01 = free_port();
    let ferrite = Ferrite::start(dns.dns_port, http01);
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("lego");
    let domain = "eku.example.com";

    // The CSR openssl makes when asked for serverAuth + clientAuth, as old acme.sh runs did.
    let csr_for = |name: &str, eku: bool| {
        let key = tmp.path().join(format!("{name}.key"));
        let csr = tmp.path().join(format!("{name}.csr"));
        let mut c = Command::new("openssl");
        c.args(["req", "-new", "-newkey", "ec", "-pkeyopt"])
            .arg("ec_paramgen_curve:P-256")
            .args(["-nodes", "-sha256", "-subj", &format!("/CN={domain}")])
            .args(["-addext", &format!("subjectAltName=DNS:{domain}")])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&csr);
        if eku {
            c.args(["-addext", "extendedKeyUsage=serverAuth,clientAuth"]);
        }
        run(c);
        csr
    };

    let with_eku = csr_for("with-eku", true);
    let out = run_failing(lego_http01(
        &ferrite,
        http01,
        &path,
        &[],
        &["--csr", with_eku.to_str().unwrap()],
        "run",
    ));
    assert!(out.contains("badCSR"), "{out}");
    assert!(out.contains("Extended Key Usage"), "{out}");
    assert!(out.contains("sets key usages itself"), "{out}");

    // The same request without the EKU issues.
    let plain = csr_for("plain", false);
    run(lego_http01(
        &ferrite,
        http01,
        &path,
        &[],
        &["--csr", plain.to_str().unwrap()],
        "run",
    ));
    openssl_verify(
        &ferrite.root,
        &path.join(format!("certificates/{domain}.crt")),
    );
}

/// The `openssl req` commands docs/clients.md gives acme.sh users, joined where a line ends in
/// `\`, exactly as the page shows them.
fn documented_openssl_req_commands() -> Vec<String> {
    let page = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/clients.md");
    let page = std::fs::read_to_string(&page).unwrap();
    let mut commands = Vec::new();
    let mut lines = page.lines();
    while let Some(line) = lines.next() {
        if !line.starts_with("openssl req -new") {
            continue;
        }
        let mut command = line.to_owned();
        while command.ends_with('\\') {
            command.pop();
            command.push_str(lines.next().expect("a continued line").trim_start());
        }
        commands.push(command);
    }
    commands
}

/// Runs a documented command with `sh` in `dir`; returns the CSR it wrote (`www.example.com.csr`)
/// after checking it has no Extended Key Usage and is signed with SHA-256.
fn documented_csr(command: &str, dir: &std::path::Path) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let mut c = Command::new("sh");
    c.args(["-c", command]).current_dir(dir);
    run(c);
    let csr = dir.join("www.example.com.csr");
    let mut c = Command::new("openssl");
    c.args(["req", "-noout", "-text", "-in"]).arg(&csr);
    let text = run(c);
    assert!(!text.contains("Extended Key Usage"), "{command}:\n{text}");
    assert!(
        text.contains("SHA256") || text.contains("sha256"),
        "{command}:\n{text}"
    );
    csr
}

/// `certbot certonly --csr` over http-01 (certbot's standalone server); the chain it saved.
fn certbot_csr(ferrite: &Ferrite, http01: u16, csr: &std::path::Path, out: &std::path::Path) {
    let mut c = support::certbot_certonly_http01(ferrite, http01);
    c.arg("--csr")
        .arg(csr)
        .arg("--cert-path")
        .arg(out.join("cert.pem"))
        .arg("--chain-path")
        .arg(out.join("chain.pem"))
        .arg("--fullchain-path")
        .arg(out.join("fullchain.pem"));
    support::certbot_dirs(&mut c, &out.join("certbot"));
    run(c);
}

#[test]
#[ignore = "needs certbot, pebble-challtestsrv, openssl: run scripts/test.sh"]
fn the_documented_openssl_req_csrs_for_acme_sh_issue() {
    let commands = documented_openssl_req_commands();
    assert_eq!(commands.len(), 2, "{commands:#?}");
    let dns = Challtestsrv::start();
    let http01 = free_port();
    let ferrite = Ferrite::start(dns.dns_port, http01);
    let tmp = tempfile::tempdir().unwrap();

    for (label, key_marker, key_text) in [
        ("ec", "ec_paramgen_curve:P-256", "Public-Key: (256 bit)"),
        ("rsa", "rsa:2048", "Public-Key: (2048 bit)"),
    ] {
        let command = commands
            .iter()
            .find(|c| c.contains(key_marker))
            .unwrap_or_else(|| panic!("no documented command with {key_marker}: {commands:#?}"));
        let dir = tmp.path().join(label);
        let csr = documented_csr(command, &dir);
        certbot_csr(&ferrite, http01, &csr, &dir);
        openssl_verify(&ferrite.root, &dir.join("fullchain.pem"));
        let text = support::cert_text(&dir.join("cert.pem"));
        assert!(text.contains("DNS:www.example.com"), "{text}");
        assert!(text.contains("DNS:example.com"), "{text}");
        assert!(text.contains(key_text), "{text}");
    }
}

#[test]
#[ignore = "needs certbot, pebble-challtestsrv, openssl: run scripts/test.sh"]
fn allow_csr_extended_key_usage_accepts_acme_sh_s_own_csr() {
    let dns = Challtestsrv::start();
    let http01 = free_port();
    let ferrite = Ferrite::start_with(
        dns.dns_port,
        &support::Setup {
            http01_port: http01,
            tlsalpn01_port: None,
            top_config: "",
            extra_config: "[issuance]\nallow_csr_extended_key_usage = true\n",
            hsm: None,
            beside: None,
        },
    );
    let tmp = tempfile::tempdir().unwrap();
    let command = documented_openssl_req_commands()
        .into_iter()
        .find(|c| c.contains("ec_paramgen_curve:P-256"))
        .unwrap();
    // The two Extended Key Usages acme.sh's own CSR asks for.
    let command = format!("{command} -addext extendedKeyUsage=serverAuth,clientAuth");
    let mut c = Command::new("sh");
    c.args(["-c", &command]).current_dir(tmp.path());
    run(c);
    let csr = tmp.path().join("www.example.com.csr");
    let mut c = Command::new("openssl");
    c.args(["req", "-noout", "-text", "-in"]).arg(&csr);
    let text = run(c);
    assert!(
        text.contains("TLS Web Client Authentication"),
        "the CSR should ask for clientAuth:\n{text}"
    );

    certbot_csr(&ferrite, http01, &csr, tmp.path());
    openssl_verify(&ferrite.root, &tmp.path().join("fullchain.pem"));
    let text = support::cert_text(&tmp.path().join("cert.pem"));
    assert!(text.contains("TLS Web Server Authentication"), "{text}");
    assert!(
        !text.contains("TLS Web Client Authentication"),
        "certificates are serverAuth only:\n{text}"
    );
}
