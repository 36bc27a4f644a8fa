//! The CA keys in a PKCS#11 token (SoftHSM), end to end with the binary: `ferrite ca init`
//! (the key ceremony, whole or in two steps), `ferrite ca show`, lego and certbot issuing
//! and revoking against `ferrite serve` that signs in the token, pkilint on what it made, and
//! `serve` refusing to start, with the reason and what to do, when the PIN, the token, the
//! module, the key or the ceremony is missing.
//!
//! Each test makes a throwaway SoftHSM token store with its own `SOFTHSM2_CONF`, passed to the
//! `ferrite` processes. The tests need the tools `scripts/test.sh` installs (softhsm2, opensc,
//! lego, certbot, pebble-challtestsrv, pkilint), so they are `#[ignore]`d for a plain
//! `cargo test`. Everything listens on 127.0.0.1; every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// Each test binary uses part of the shared support module.
#[allow(dead_code)]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use ferrite_testkit::softhsm::{self, SoftHsm};
use support::{
    Challtestsrv, Ferrite, Setup, certbot_dirs, free_port, lego_http01, openssl_verify, run,
    run_failing,
};

/// A pkilint tool of the venv `scripts/test.sh` makes; its exit code (the number of findings
/// at or above the threshold) and output.
fn pkilint(tool: &str, args: &[&str], files: &[&Path]) -> (Option<i32>, String) {
    let venv = std::env::var("FERRITE_TEST_VENV")
        .expect("FERRITE_TEST_VENV must point at a venv with pkilint (scripts/test.sh sets it)");
    let out = Command::new(format!("{venv}/bin/{tool}"))
        .args(args)
        .args(files)
        .output()
        .unwrap();
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The findings pkilint lists in `out`, except that the CRL and AIA URLs name a loopback
/// address (`cabf.internal_domain_name`): a test CA is only reachable there.
fn findings(out: &str) -> Vec<&str> {
    out.lines()
        .map(str::trim)
        .filter(|l| {
            ["cabf.", "pkix.", "msft.", "itu."]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .filter(|l| !l.starts_with("cabf.internal_domain_name"))
        .collect()
}

/// `openssl x509 -fingerprint -sha256` of a PEM certificate: `AB:CD:…`.
fn openssl_fingerprint(pem: &Path) -> String {
    let mut c = Command::new("openssl");
    c.args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(pem);
    run(c)
        .lines()
        .find_map(|l| l.split_once('=').map(|(_, v)| v.trim().to_owned()))
        .unwrap()
}

/// `ferrite` with the SoftHSM store's `SOFTHSM2_CONF`.
fn ferrite(hsm: &SoftHsm, args: &[&str], config: &Path) -> Command {
    let mut c = hsm.command(env!("CARGO_BIN_EXE_ferrite"));
    c.args(args).arg("--config").arg(config);
    c
}

/// The one ceremony record in `data_dir/ca/ceremonies`.
fn ceremony_record(data_dir: &Path) -> serde_json::Value {
    let records: Vec<PathBuf> = std::fs::read_dir(data_dir.join("ca/ceremonies"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(records.len(), 1, "{records:?}");
    serde_json::from_str(&std::fs::read_to_string(&records[0]).unwrap()).unwrap()
}

/// lego and certbot against `ferrite serve` whose keys are in a token: the ceremony's
/// record matches the certificates (openssl's fingerprints); `ca show` places every key in
/// the token, sensitive and never extractable; lego issues over http-01 (an ECDSA and an RSA
/// key, each getting its intermediate's chain) and revokes, certbot
/// issues and revokes with the certificate's key, and the CRL signed in the token lists
/// both; every chain verifies with `openssl verify`; pkilint is clean on the root, the
/// intermediate, the chain, a leaf and the CRL (but for the loopback address in their URLs); `pkcs11-tool` shows both private keys
/// sensitive and never extractable; no CA private key exists under data_dir (the only key
/// file is the ACME listener's).
#[test]
#[ignore = "needs softhsm2, opensc, lego, certbot, pebble-challtestsrv, pkilint: run scripts/test.sh"]
fn lego_and_certbot_with_the_ca_keys_in_a_token() {
    let hsm = SoftHsm::new("ferrite");
    let dns = Challtestsrv::start();
    let http01 = free_port();
    let ferrite_ca = Ferrite::start_with(
        dns.dns_port,
        &Setup {
            http01_port: http01,
            tlsalpn01_port: None,
            top_config: "",
            extra_config: "",
            hsm: Some(&hsm),
            beside: None,
        },
    );
    let ca_dir = ferrite_ca.data_dir.join("ca");

    // The ceremony record names what was made, with the certificates' fingerprints.
    let record = ceremony_record(&ferrite_ca.data_dir);
    assert_eq!(record["ceremony"], "root and intermediate", "{record}");
    assert_eq!(record["token"], "ferrite");
    for key in record["keys"].as_array().unwrap() {
        assert_eq!(key["sensitive"], true, "{record}");
        assert_eq!(key["extractable"], false, "{record}");
        assert_eq!(key["never_extractable"], true, "{record}");
    }
    let certificates = record["certificates"].as_array().unwrap();
    // The root, and the ECDSA and RSA intermediates.
    assert_eq!(certificates.len(), 3, "{record}");
    for cert in certificates {
        let file = Path::new(cert["file"].as_str().unwrap());
        assert_eq!(cert["sha256"], openssl_fingerprint(file), "{record}");
    }

    // ferrite ca show: the chain, and the three keys in the token.
    let show = run(ferrite(&hsm, &["ca", "show"], &ferrite_ca.config));
    assert!(show.contains("CA keys: pkcs11"), "{show}");
    assert_eq!(
        show.matches("key       token \"ferrite\"").count(),
        3,
        "{show}"
    );
    assert_eq!(
        show.matches("sensitive and never extractable").count(),
        3,
        "{show}"
    );
    assert!(
        show.contains("intermediate intermediate-rsa (") && show.contains("key type  RSA 2048"),
        "{show}"
    );
    assert!(show.contains("days left"), "{show}");
    assert!(
        show.contains(&openssl_fingerprint(&ca_dir.join("intermediate.pem"))),
        "{show}"
    );

    // lego: issue over http-01, revoke.
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("lego");
    let lego = |command| {
        lego_http01(
            &ferrite_ca,
            http01,
            &path,
            &["hsm-lego.example.com"],
            &[],
            command,
        )
    };
    run(lego("run"));
    let lego_cert = path.join("certificates/hsm-lego.example.com.crt");
    openssl_verify(&ferrite_ca.root, &lego_cert);
    // lego moves the certificate away when it revokes it.
    let lego_serial = support::serial_of(&lego_cert);
    let lego_crl = support::crl_path_of(&lego_cert);
    run(lego("revoke"));

    // lego with an RSA key: the RSA intermediate's chain, signed in the token.
    let rsa_path = tmp.path().join("lego-rsa");
    run(lego_http01(
        &ferrite_ca,
        http01,
        &rsa_path,
        &["hsm-rsa.example.com"],
        &["--key-type", "rsa2048"],
        "run",
    ));
    let rsa_cert = rsa_path.join("certificates/hsm-rsa.example.com.crt");
    openssl_verify(&ferrite_ca.root, &rsa_cert);
    let rsa_text = support::cert_text(&rsa_cert);
    assert!(
        rsa_text.contains("Signature Algorithm: sha256WithRSAEncryption")
            && rsa_text.contains("Issuing CA")
            && rsa_text.contains(" RSA\n"),
        "{rsa_text}"
    );

    // certbot: issue, revoke with the certificate's key (checks the CRL lists it).
    let mut c = support::certbot_certonly_http01(&ferrite_ca, http01);
    c.args(["-d", "hsm-certbot.example.com"]);
    certbot_dirs(&mut c, tmp.path());
    run(c);
    let live = tmp.path().join("config/live/hsm-certbot.example.com");
    openssl_verify(&ferrite_ca.root, &live.join("fullchain.pem"));
    support::revoke_with_certificate_key(
        &ferrite_ca,
        &live.join("cert.pem"),
        &live.join("privkey.pem"),
    );
    let crl = ferrite_ca.crl_text(&lego_crl);
    assert!(
        crl.to_uppercase().contains(&lego_serial.to_uppercase()),
        "{crl}"
    );

    // pkilint on what the token signed.
    let (code, out) = pkilint(
        "lint_cabf_serverauth_cert",
        &["lint", "-t", "ROOT-CA", "-s", "NOTICE"],
        &[&ca_dir.join("root.pem")],
    );
    assert!(code.is_some() && findings(&out).is_empty(), "root: {out}");
    let (code, out) = pkilint(
        "lint_cabf_serverauth_cert",
        &["lint", "-d", "-s", "NOTICE"],
        &[&ca_dir.join("intermediate.pem")],
    );
    assert!(
        code.is_some() && findings(&out).is_empty(),
        "intermediate: {out}"
    );
    let (code, out) = pkilint(
        "lint_cabf_serverauth_cert",
        &["lint", "-t", "DV-FINAL-CERTIFICATE", "-s", "WARNING"],
        &[&live.join("cert.pem")],
    );
    assert!(code.is_some() && findings(&out).is_empty(), "leaf: {out}");
    // The RSA chain: its intermediate and lego's RSA leaf (the leaf first in lego's file).
    let (code, out) = pkilint(
        "lint_cabf_serverauth_cert",
        &["lint", "-d", "-s", "NOTICE"],
        &[&ca_dir.join("intermediate-rsa.pem")],
    );
    assert!(
        code.is_some() && findings(&out).is_empty(),
        "RSA intermediate: {out}"
    );
    let (code, out) = pkilint(
        "lint_cabf_serverauth_cert",
        &["lint", "-t", "DV-FINAL-CERTIFICATE", "-s", "WARNING"],
        &[&rsa_cert],
    );
    assert!(
        code.is_some() && findings(&out).is_empty(),
        "RSA leaf: {out}"
    );
    let (code, out) = pkilint(
        "lint_pkix_signer_signee_cert_chain",
        &["lint", "-s", "WARNING"],
        &[&ca_dir.join("intermediate.pem"), &live.join("cert.pem")],
    );
    assert!(code.is_some() && findings(&out).is_empty(), "chain: {out}");
    let crl_der = tmp.path().join("crl.der");
    ferrite_ca.download_crl(&lego_crl, &crl_der);
    let (code, out) = pkilint(
        "lint_crl",
        &["lint", "-t", "CRL", "-p", "BR", "-s", "WARNING"],
        &[&crl_der],
    );
    assert!(code.is_some() && findings(&out).is_empty(), "CRL: {out}");

    softhsm::assert_private_keys_locked_in(&hsm, "ferrite", 3);
    assert_eq!(
        softhsm::private_key_files(&ferrite_ca.data_dir),
        [ca_dir.join("private/tls.key")],
        "the only private key file under data_dir is the ACME listener's"
    );
}

/// Writes the configuration file `dir/name`: data in `data_dir`, the `[ca]` table `ca` (to
/// which the CA names are added), a fixed public port; returns its path.
fn hsm_config(dir: &Path, name: &str, data_dir: &Path, ca: &str) -> PathBuf {
    let config = dir.join(name);
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\npublic_listen = \"127.0.0.1:{}\"\ndata_dir = \"{}\"\n\n{ca}organization = \"Example Trust\"\nroot_common_name = \"Example Trust Root R1\"\nintermediate_common_name = \"Example Trust Issuing E1\"\n",
            free_port(),
            data_dir.display()
        ),
    )
    .unwrap();
    config
}

/// `ferrite serve` refuses to start with the keys in a token, and says which thing is wrong
/// and what to do: a wrong PIN, a token that is not there, a module that is not there, a
/// token without the intermediate's key, and no ceremony yet. With all of it right it serves.
#[test]
#[ignore = "needs softhsm2 and opensc: run scripts/test.sh"]
fn serve_refuses_to_start_and_says_why() {
    let hsm = SoftHsm::new("ferrite");
    hsm.add_token("empty");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let good = hsm_config(tmp.path(), "good.toml", &data, &hsm.ca_toml("ferrite"));
    run(ferrite(&hsm, &["ca", "init"], &good));

    let wrong_pin = tmp.path().join("wrong-pin");
    std::fs::write(&wrong_pin, "11111111\n").unwrap();
    let with = |name: &str, ca: String| hsm_config(tmp.path(), name, &data, &ca);
    let cases = [
        (
            "wrong PIN",
            with(
                "pin.toml",
                hsm.ca_toml("ferrite").replace(
                    &hsm.pin_file().display().to_string(),
                    &wrong_pin.display().to_string(),
                ),
            ),
            vec![
                "refused the login",
                "the PIN is wrong",
                "ca.pkcs11_pin_file",
            ],
        ),
        (
            "missing token",
            with("token.toml", hsm.ca_toml("nosuch")),
            vec![
                "no token labelled \"nosuch\"",
                "tokens present: [",
                "\"empty\"",
                "fix ca.pkcs11_token",
            ],
        ),
        (
            "missing module",
            with(
                "module.toml",
                hsm.ca_toml("ferrite")
                    .replace(softhsm::MODULE, "/nonexistent/libvendor-pkcs11.so"),
            ),
            vec![
                "/nonexistent/libvendor-pkcs11.so (ca.pkcs11_module): cannot load it",
                "install the HSM vendor's PKCS#11 library",
            ],
        ),
        (
            "missing key",
            with("key.toml", hsm.ca_toml("empty")),
            vec![
                "token \"empty\" has no private key with id",
                "intermediate.pem",
                "point ca.pkcs11_token at the token that holds it",
            ],
        ),
        (
            "no ceremony",
            hsm_config(
                tmp.path(),
                "fresh.toml",
                &tmp.path().join("fresh"),
                &hsm.ca_toml("ferrite"),
            ),
            vec!["has no root.pem", "run `ferrite ca init"],
        ),
    ];
    for (case, config, want) in cases {
        let out = run_failing(ferrite(&hsm, &["serve"], &config));
        for w in want {
            assert!(out.contains(w), "{case}: want {w:?} in:\n{out}");
        }
        assert!(
            !out.contains(softhsm::PIN),
            "{case}: the PIN is shown:\n{out}"
        );
        assert!(
            !out.contains("Ferrite ACME directory"),
            "{case}: it started:\n{out}"
        );
    }
    // Nothing was created by the refused starts.
    assert!(!tmp.path().join("fresh/ca/root.pem").exists());

    // The PIN from the environment instead of a file.
    let env_pin = hsm_config(
        tmp.path(),
        "env.toml",
        &data,
        &hsm.ca_toml("ferrite").replace(
            &format!("pkcs11_pin_file = \"{}\"\n", hsm.pin_file().display()),
            "",
        ),
    );
    let mut show = ferrite(&hsm, &["ca", "show"], &env_pin);
    show.env("FERRITE_CA__PKCS11_PIN", softhsm::PIN);
    let out = run(show);
    assert!(out.contains("key label \"ferrite-intermediate-"), "{out}");
}

/// The ceremony in two steps, as with an offline root: `--root-only` makes the root and
/// nothing else; `--intermediate-from ROOT_CERT` in another data directory finds that root's
/// key in the token, makes the intermediate under it and copies the root certificate; the
/// intermediate verifies under the root; a second ceremony never replaces a certificate.
#[test]
#[ignore = "needs softhsm2 and opensc: run scripts/test.sh"]
fn root_only_then_intermediate_from_the_root_certificate() {
    let hsm = SoftHsm::new("ferrite");
    let tmp = tempfile::tempdir().unwrap();
    let offline = tmp.path().join("offline");
    let online = tmp.path().join("online");
    let ca = hsm.ca_toml("ferrite");
    let root_config = hsm_config(tmp.path(), "root.toml", &offline, &ca);
    let out = run(ferrite(&hsm, &["ca", "init", "--root-only"], &root_config));
    assert!(out.contains("--intermediate-from"), "{out}");
    let root = offline.join("ca/root.pem");
    assert!(root.exists() && !offline.join("ca/intermediate.pem").exists());
    assert_eq!(ceremony_record(&offline)["ceremony"], "root only");

    let intermediate_config = hsm_config(tmp.path(), "online.toml", &online, &ca);
    let root_arg = root.display().to_string();
    run(ferrite(
        &hsm,
        &["ca", "init", "--intermediate-from", &root_arg],
        &intermediate_config,
    ));
    let record = ceremony_record(&online);
    assert_eq!(
        record["ceremony"], "intermediate under an existing root",
        "{record}"
    );
    assert_eq!(record["keys"][0]["role"], "root", "{record}");
    assert_eq!(record["keys"][0]["generated"], false, "{record}");
    assert_eq!(record["keys"][1]["generated"], true, "{record}");
    assert_eq!(
        std::fs::read(online.join("ca/root.pem")).unwrap(),
        std::fs::read(&root).unwrap()
    );
    let mut c = Command::new("openssl");
    c.arg("verify")
        .arg("-CAfile")
        .arg(&root)
        .arg(online.join("ca/intermediate.pem"));
    assert!(run(c).contains(": OK"));
    let text = support::cert_text(&online.join("ca/intermediate.pem"));
    assert!(
        text.contains("Issuer: C = US, O = Example Trust, CN = Example Trust Root R1"),
        "{text}"
    );

    let out = run_failing(ferrite(
        &hsm,
        &["ca", "init", "--intermediate-from", &root_arg],
        &intermediate_config,
    ));
    assert!(out.contains("exists already"), "{out}");
    let out = run_failing(ferrite(&hsm, &["ca", "init"], &root_config));
    assert!(out.contains("exists already"), "{out}");
    // The root's, and the two intermediates' of the one ceremony that made them.
    softhsm::assert_private_keys_locked_in(&hsm, "ferrite", 3);
}

/// Runs `ferrite serve` until it prints its directory URL (at most 30 s), then stops it;
/// returns what it printed and logged.
fn serve_until_ready(mut serve: Command) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let child = serve
        .env("RUST_LOG", "info")
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let child = support::Killed(child);
    let ready = support::wait_until(std::time::Duration::from_secs(30), || {
        let printed = std::fs::read_to_string(&out).unwrap_or_default();
        printed.contains("Ferrite ACME directory").then_some(())
    });
    drop(child);
    let text = format!(
        "{}{}",
        std::fs::read_to_string(&out).unwrap_or_default(),
        std::fs::read_to_string(&err).unwrap_or_default()
    );
    assert!(ready.is_some(), "serve did not start within 30 s:\n{text}");
    text
}

/// Moving a quick-start deployment to the token, keeping its certificates (docs/ca-keys.md):
/// the intermediate's key file is imported into the token with its certificate's key
/// identifier as CKA_ID (`softhsm2-util --import`), the key files leave data_dir, and
/// `ferrite serve` with `ca.keys = "pkcs11"` signs with the imported key (and logs no PIN);
/// `ferrite ca show` names the key files before and says after that the key was not generated
/// in the token and that the root key is not there; `ca init` is refused with files.
#[test]
#[ignore = "needs softhsm2 and opensc: run scripts/test.sh"]
fn a_quick_start_ca_moves_its_intermediate_key_into_a_token() {
    let hsm = SoftHsm::new("ferrite");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let files = hsm_config(tmp.path(), "files.toml", &data, "[ca]\n");
    let started = serve_until_ready(ferrite(&hsm, &["serve"], &files));
    assert!(started.contains("file "), "{started}");
    let ca_dir = data.join("ca");
    // With keys in files, ca show names the files, and ca init is not the way.
    let show = run(ferrite(&hsm, &["ca", "show"], &files));
    assert!(show.contains("CA keys: files"), "{show}");
    for key in [
        "root.key",
        "intermediate.key",
        "intermediate-rsa.key",
        "tls.key",
    ] {
        assert!(
            show.contains(&format!(
                "key       file {}",
                ca_dir.join("private").join(key).display()
            )),
            "{show}"
        );
    }
    let out = run_failing(ferrite(&hsm, &["ca", "init"], &files));
    assert!(
        out.contains("makes the CA keys in a PKCS#11 token")
            && out.contains("the first `ferrite serve` creates the CA"),
        "{out}"
    );

    // Each intermediate's key into the token, with its certificate's key identifier as id.
    let mut skis = Vec::new();
    for name in ["intermediate", "intermediate-rsa"] {
        let mut c = Command::new("openssl");
        c.args(["x509", "-noout", "-ext", "subjectKeyIdentifier", "-in"])
            .arg(ca_dir.join(format!("{name}.pem")));
        // "X509v3 Subject Key Identifier:" then "    BB:43:…".
        let ski: String = run(c)
            .lines()
            .map(str::trim)
            .find(|l| l.len() == 59 && l.chars().all(|c| c == ':' || c.is_ascii_hexdigit()))
            .unwrap()
            .chars()
            .filter(char::is_ascii_hexdigit)
            .collect();
        assert_eq!(ski.len(), 40, "{ski}");
        let mut import = hsm.command("softhsm2-util");
        import
            .arg("--import")
            .arg(ca_dir.join(format!("private/{name}.key")))
            .args(["--token", "ferrite", "--label", &format!("ferrite-{name}")])
            .args(["--id", &ski, "--pin", softhsm::PIN]);
        run(import);
        skis.push(ski);
    }
    let ski = &skis[0];
    let offline = tmp.path().join("offline");
    std::fs::create_dir(&offline).unwrap();
    for key in ["root.key", "intermediate.key", "intermediate-rsa.key"] {
        std::fs::rename(ca_dir.join("private").join(key), offline.join(key)).unwrap();
    }

    let token = hsm_config(tmp.path(), "token.toml", &data, &hsm.ca_toml("ferrite"));
    let started = serve_until_ready(ferrite(&hsm, &["serve"], &token));
    assert!(
        started.contains(&format!(
            "key=token \"ferrite\", key label \"ferrite-intermediate\", id {}",
            ski.to_lowercase()
        )),
        "{started}"
    );
    assert!(
        started.contains(&format!(
            "key=token \"ferrite\", key label \"ferrite-intermediate-rsa\", id {}",
            skis[1].to_lowercase()
        )),
        "{started}"
    );
    assert!(
        !started.contains(softhsm::PIN),
        "the PIN is logged:\n{started}"
    );
    let show = run(ferrite(&hsm, &["ca", "show"], &token));
    assert!(
        show.contains("not generated in the token (imported)"),
        "{show}"
    );
    assert!(
        show.contains("not in token \"ferrite\" (kept offline"),
        "{show}"
    );
    assert_eq!(
        softhsm::private_key_files(&data),
        [ca_dir.join("private/tls.key")]
    );
}

/// The root key in a token of its own (kept offline): `--root-only` in the root's token,
/// then `--intermediate-from ROOT_CERT --root-token root` makes the intermediate's key in
/// `[ca]`'s token and signs it with the root key in the other. The online token then holds the
/// intermediate's key only, `serve` starts with it, and `ca show` says the root key is not in
/// the token serve uses.
#[test]
#[ignore = "needs softhsm2 and opensc: run scripts/test.sh"]
fn the_root_key_stays_in_a_token_of_its_own() {
    let hsm = SoftHsm::new("root");
    hsm.add_token("online");
    let tmp = tempfile::tempdir().unwrap();
    let offline = tmp.path().join("offline");
    let online = tmp.path().join("online");
    let root_config = hsm_config(tmp.path(), "root.toml", &offline, &hsm.ca_toml("root"));
    run(ferrite(&hsm, &["ca", "init", "--root-only"], &root_config));
    let root = offline.join("ca/root.pem").display().to_string();

    let online_config = hsm_config(tmp.path(), "online.toml", &online, &hsm.ca_toml("online"));
    let pin_file = hsm.pin_file().display().to_string();
    let out = run(ferrite(
        &hsm,
        &[
            "ca",
            "init",
            "--intermediate-from",
            &root,
            "--root-token",
            "root",
            "--root-pin-file",
            &pin_file,
        ],
        &online_config,
    ));
    assert!(
        out.contains("root key: existing in token \"root\""),
        "{out}"
    );
    assert!(
        out.contains("intermediate key: generated in token \"online\"")
            && out.contains("intermediate-rsa key: generated in token \"online\""),
        "{out}"
    );
    let record = ceremony_record(&online);
    assert_eq!(record["keys"][0]["token"], "root", "{record}");
    assert_eq!(record["keys"][1]["token"], "online", "{record}");
    assert_eq!(record["keys"][2]["token"], "online", "{record}");
    softhsm::assert_private_keys_locked_in(&hsm, "root", 1);
    let listing = softhsm::assert_private_keys_locked_in(&hsm, "online", 2);
    assert!(
        listing.contains("ferrite-intermediate-") && listing.contains("ferrite-intermediate-rsa-"),
        "{listing}"
    );

    let started = serve_until_ready(ferrite(&hsm, &["serve"], &online_config));
    assert!(started.contains("key=token \"online\""), "{started}");
    let show = run(ferrite(&hsm, &["ca", "show"], &online_config));
    assert!(
        show.contains("not in token \"online\" (kept offline"),
        "{show}"
    );
    let mut c = Command::new("openssl");
    c.arg("verify")
        .arg("-CAfile")
        .arg(&root)
        .arg(online.join("ca/intermediate.pem"));
    assert!(run(c).contains(": OK"));
}
