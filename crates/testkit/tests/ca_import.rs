//! `ferrite ca import` (`ferrite_app::ca::import`): a hierarchy made elsewhere — here by the
//! openssl command line, as an operator's existing CA would be — is brought into an empty data
//! directory, and the CA then issues under it: the chain a client downloads verifies with
//! openssl against the imported root. Every refusal leaves the data directory without a CA.
//! Only 127.0.0.1 is contacted; every test is bounded in time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use ferrite_testkit::{RawAccount, TestCa, TestCaOptions, bounded};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A root (`{name}-root.pem`, P-384) and an issuing intermediate under it
/// (`{name}-int.pem`, P-256, key `{name}-int.key` in PKCS#8), made with openssl.
fn hierarchy(dir: &Path, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    std::fs::write(
        dir.join("ext.cnf"),
        "[v3]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,digitalSignature,keyCertSign,cRLSign\nextendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n",
    )
    .unwrap();
    let (root_key, root, int_key, csr, int) = (
        format!("{name}-root.key"),
        format!("{name}-root.pem"),
        format!("{name}-int.key"),
        format!("{name}-int.csr"),
        format!("{name}-int.pem"),
    );
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
            "-out",
            &root_key,
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            &root_key,
            "-sha384",
            "-days",
            "3650",
            "-subj",
            &format!("/C=DE/O=Example Trust {name}/CN=Example Root {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
            "-out",
            &root,
        ],
    );
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            &int_key,
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            &int_key,
            "-subj",
            &format!("/C=DE/O=Example Trust {name}/CN=Example Issuing {name}"),
            "-out",
            &csr,
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &root,
            "-CAkey",
            &root_key,
            "-set_serial",
            "4242",
            "-days",
            "1000",
            "-sha384",
            "-extfile",
            "ext.cnf",
            "-extensions",
            "v3",
            "-out",
            &int,
        ],
    );
    (dir.join(root), dir.join(int), dir.join(int_key))
}

fn config(data_dir: &Path) -> ferrite_app::Config {
    ferrite_app::Config {
        data_dir: data_dir.to_owned(),
        ..Default::default()
    }
}

#[tokio::test]
async fn an_openssl_hierarchy_is_imported_and_issued_under() {
    bounded(async {
        let tmp = tempfile::tempdir().unwrap();
        let (root, int, key) = hierarchy(tmp.path(), "a");
        let data_dir = tmp.path().join("data");
        let report = ferrite_app::ca::import(&config(&data_dir), &root, &int, Some(&key)).unwrap();
        let roles: Vec<&str> = report
            .certificates
            .iter()
            .map(|c| c.role.as_str())
            .collect();
        assert_eq!(roles, ["root", "intermediate", "listener"]);
        assert!(
            report.certificates[0].subject.contains("Example Root a"),
            "{report:?}"
        );
        assert!(report.certificates[1].key_present, "{report:?}");
        assert!(
            !report.certificates[0].key_present,
            "the root key is never imported"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(data_dir.join("ca/private/intermediate.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        let opts = TestCaOptions {
            data_dir: Some(data_dir.clone()),
            ..Default::default()
        };
        let ca = TestCa::start_with(opts).await;
        assert_eq!(
            ferrite_testkit::ca::pem_chain(&ca.root_pem),
            ferrite_testkit::ca::pem_chain(&std::fs::read_to_string(&root).unwrap())
        );
        let raw = ca.raw();
        let account = RawAccount::register(&raw, ferrite_jose::Algorithm::ES256).await;
        let issued = ca
            .raw_issue(&raw, &account, &["imported.example.com"])
            .await;
        let chain = ferrite_testkit::ca::pem_chain(&issued.chain_pem);
        assert_eq!(chain.len(), 2);
        let leaf = tmp.path().join("leaf.der");
        std::fs::write(&leaf, &chain[0]).unwrap();
        openssl(
            tmp.path(),
            &[
                "x509", "-inform", "DER", "-in", "leaf.der", "-out", "leaf.pem",
            ],
        );
        let out = Command::new("openssl")
            .current_dir(tmp.path())
            .args([
                "verify",
                "-CAfile",
                "a-root.pem",
                "-untrusted",
                "a-int.pem",
                "leaf.pem",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    })
    .await;
}

#[test]
fn a_wrong_chain_a_wrong_key_or_a_second_import_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (root_a, int_a, key_a) = hierarchy(tmp.path(), "a");
    let (root_b, _int_b, key_b) = hierarchy(tmp.path(), "b");
    let data_dir = tmp.path().join("data");
    let config = config(&data_dir);
    let refused = |root: &Path, int: &Path, key: Option<&Path>, expect: &str| {
        let err = format!(
            "{:#}",
            ferrite_app::ca::import(&config, root, int, key).unwrap_err()
        );
        assert!(err.contains(expect), "{expect:?} not in: {err}");
        assert!(
            !data_dir.join("ca/root.pem").exists(),
            "written after: {err}"
        );
    };
    refused(&root_b, &int_a, Some(&key_a), "not signed by its issuer");
    refused(&root_a, &int_a, Some(&key_b), "does not belong");
    refused(&root_a, &int_a, None, "--intermediate-key");
    refused(&int_a, &int_a, Some(&key_a), "root");
    refused(&root_a, &root_a, Some(&key_a), "");
    ferrite_app::ca::import(&config, &root_a, &int_a, Some(&key_a)).unwrap();
    let err = format!(
        "{:#}",
        ferrite_app::ca::import(&config, &root_a, &int_a, Some(&key_a)).unwrap_err()
    );
    assert!(err.contains("already holds a CA"), "{err}");
}
