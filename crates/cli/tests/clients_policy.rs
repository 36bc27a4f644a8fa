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
