//! The CSR policy as a real client meets it: lego (Debian) against a real `ferrite serve`,
//! over http-01 with EAB. `--key-type ec384` makes lego sign its CSR with ECDSA SHA-384, which
//! the default policy refuses with a `badCSR` that names the algorithm and the fix; a CSR with
//! an Extended Key Usage extension handed to lego with `--csr` is refused with a `badCSR` that
//! explains why. A plain `ec256` run on the same server issues, so the refusals are the policy.
//!
//! Like clients.rs these need the tools `scripts/test.sh` installs, so they are `#[ignore]`d
//! for a plain `cargo test`. Everything listens on 127.0.0.1; every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Challtestsrv, Ferrite, free_port, openssl_verify, run};

/// Runs a command that must fail (at most 3 minutes); returns stdout and stderr.
fn run_failing(mut cmd: Command) -> String {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(180) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{cmd:?} succeeded:\n{text}");
    text
}

/// `lego … run` over http-01 on `http01`, with EAB, for `domain` (or, with `None`, for the
/// names of the CSR given in `extra` as `--csr`: lego ignores `--csr` when `--domains` is set);
/// `extra` goes before `run`.
fn lego(
    ferrite: &Ferrite,
    http01: u16,
    path: &Path,
    domain: Option<&str>,
    extra: &[&str],
) -> Command {
    let mut c = Command::new("lego");
    c.env("LEGO_CA_CERTIFICATES", &ferrite.root)
        .args([
            "--server",
            &ferrite.directory,
            "--accept-tos",
            "--email",
            "a@example.com",
        ])
        .args(domain.map(|d| ["--domains", d]).into_iter().flatten())
        .args(["--http", "--http.port"])
        .arg(format!("127.0.0.1:{http01}"))
        .arg("--path")
        .arg(path)
        .args([
            "--eab",
            "--kid",
            &ferrite.eab_kid,
            "--hmac",
            &ferrite.eab_hmac,
        ])
        .args(extra)
        .arg("run");
    c
}

#[test]
#[ignore = "needs lego, pebble-challtestsrv, openssl: run scripts/test.sh"]
fn lego_ec384_gets_a_clear_bad_csr_and_ec256_issues() {
    let dns = Challtestsrv::start();
    let http01 = free_port();
    let ferrite = Ferrite::start(dns.dns_port, http01);
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("lego");

    let out = run_failing(lego(
        &ferrite,
        http01,
        &path,
        Some("ec384.example.com"),
        &["--key-type", "ec384"],
    ));
    assert!(out.contains("badCSR"), "{out}");
    assert!(out.contains("ECDSA with SHA-384"), "{out}");
    assert!(out.contains("--key-type ec256"), "{out}");
    assert!(
        !path.join("certificates/ec384.example.com.crt").exists(),
        "no certificate may be issued"
    );

    run(lego(
        &ferrite,
        http01,
        &path,
        Some("ec256.example.com"),
        &["--key-type", "ec256"],
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
    let out = run_failing(lego(
        &ferrite,
        http01,
        &path,
        None,
        &["--csr", with_eku.to_str().unwrap()],
    ));
    assert!(out.contains("badCSR"), "{out}");
    assert!(out.contains("Extended Key Usage"), "{out}");
    assert!(out.contains("sets key usages itself"), "{out}");

    // The same request without the EKU issues.
    let plain = csr_for("plain", false);
    run(lego(
        &ferrite,
        http01,
        &path,
        None,
        &["--csr", plain.to_str().unwrap()],
    ));
    openssl_verify(
        &ferrite.root,
        &path.join(format!("certificates/{domain}.crt")),
    );
}
