//! [`SoftHsm`]: a throwaway SoftHSM token store (Debian's `softhsm2`) in a temporary
//! directory with its own `SOFTHSM2_CONF`, for tests that keep CA keys in a real PKCS#11
//! token.
//!
//! SoftHSM reads `SOFTHSM2_CONF` once, when the module is initialized in a process, and a
//! test cannot set an environment variable of its own process safely. A test that loads the
//! module in-process therefore runs its body in a child process of its own ([`in_own_process`]):
//! the parent makes the token and starts the same test binary for that one test with the
//! variable set. Tests that start `ferrite` as a process pass the variable to it
//! ([`SoftHsm::command`]).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferrite_app::Config;
use ferrite_app::config::CaKeys;

/// Debian's SoftHSM module.
pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// The variable that tells a child test process where its token store is.
const DIR_VARIABLE: &str = "FERRITE_TEST_SOFTHSM_DIR";

/// The user PIN of every test token.
pub const PIN: &str = "20261204";
/// The security officer PIN of every test token.
pub const SO_PIN: &str = "87654321";

/// A SoftHSM token store in a directory of its own, with one token (`label`) to start with.
pub struct SoftHsm {
    dir: PathBuf,
    /// Removes the directory when the store's creator drops it (a child process borrows it).
    _owned: Option<tempfile::TempDir>,
    /// The first token's label.
    pub label: String,
}

impl SoftHsm {
    /// A new store in a temporary directory with a token labelled `label` (user PIN [`PIN`]).
    pub fn new(label: &str) -> SoftHsm {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_owned();
        std::fs::create_dir(dir.join("tokens")).expect("tokens dir");
        std::fs::write(
            dir.join("softhsm2.conf"),
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                dir.join("tokens").display()
            ),
        )
        .expect("softhsm2.conf");
        std::fs::write(dir.join("pin"), format!("{PIN}\n")).expect("pin file");
        let hsm = SoftHsm {
            dir,
            _owned: Some(tmp),
            label: label.to_owned(),
        };
        hsm.add_token(label);
        hsm
    }

    /// The store a parent test made for this child process, if this is one.
    fn inherited() -> Option<SoftHsm> {
        let dir = PathBuf::from(std::env::var_os(DIR_VARIABLE)?);
        let label = std::fs::read_to_string(dir.join("label")).expect("label file");
        Some(SoftHsm {
            dir,
            _owned: None,
            label,
        })
    }

    /// Initializes another token labelled `label` in a free slot (`softhsm2-util
    /// --init-token --free`).
    pub fn add_token(&self, label: &str) {
        let out = self
            .command("softhsm2-util")
            .args(["--init-token", "--free", "--label", label])
            .args(["--so-pin", SO_PIN, "--pin", PIN])
            .output()
            .expect(
                "softhsm2-util (Debian package softhsm2) must be installed: run scripts/test.sh",
            );
        assert!(
            out.status.success(),
            "softhsm2-util --init-token failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The `SOFTHSM2_CONF` file.
    pub fn conf(&self) -> PathBuf {
        self.dir.join("softhsm2.conf")
    }

    /// The directory SoftHSM keeps the tokens in, one subdirectory each.
    pub fn token_dir(&self) -> PathBuf {
        self.dir.join("tokens")
    }

    /// A file holding the user PIN, as `ca.pkcs11_pin_file` names it.
    pub fn pin_file(&self) -> PathBuf {
        self.dir.join("pin")
    }

    /// `program` with `SOFTHSM2_CONF` set to this store.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("SOFTHSM2_CONF", self.conf());
        c
    }

    /// Puts the CA keys of `config` in this store's first token.
    pub fn configure(&self, config: &mut Config) {
        config.ca.keys = CaKeys::Pkcs11;
        config.ca.pkcs11_module = MODULE.to_owned();
        config.ca.pkcs11_token = self.label.clone();
        config.ca.pkcs11_pin_file = self.pin_file().display().to_string();
    }

    /// The `[ca]` table that puts the CA keys in the token `label` of this store.
    pub fn ca_toml(&self, label: &str) -> String {
        format!(
            "[ca]\nkeys = \"pkcs11\"\npkcs11_module = \"{MODULE}\"\npkcs11_token = \"{label}\"\npkcs11_pin_file = \"{}\"\n",
            self.pin_file().display()
        )
    }

    /// `pkcs11-tool --list-objects` of the token `label`, logged in (OpenSC's tool, an
    /// independent reading of what the token holds).
    pub fn list_objects(&self, label: &str) -> String {
        let out = self
            .command("pkcs11-tool")
            .args(["--module", MODULE, "--token-label", label])
            .args(["--login", "--pin", PIN, "--list-objects"])
            .output()
            .expect("pkcs11-tool (Debian package opensc) must be installed: run scripts/test.sh");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "pkcs11-tool failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    }
}

/// Checks, with `pkcs11-tool --list-objects`, that the token `label` holds `expected` private
/// keys and that each is sensitive and has never been extractable; returns the listing.
pub fn assert_private_keys_locked_in(hsm: &SoftHsm, label: &str, expected: usize) -> String {
    let listing = hsm.list_objects(label);
    let keys: Vec<&str> = listing
        .split("Private Key Object")
        .skip(1)
        .map(|k| k.split("Public Key Object").next().unwrap_or(k))
        .collect();
    assert_eq!(keys.len(), expected, "{listing}");
    for key in keys {
        let access: Vec<&str> = key
            .lines()
            .find_map(|l| l.trim().strip_prefix("Access:"))
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .collect();
        assert!(
            access.contains(&"sensitive")
                && access.contains(&"always sensitive")
                && access.contains(&"never extractable")
                && !access.contains(&"extractable"),
            "a private key that may leave the token:\n{listing}"
        );
    }
    listing
}

/// Runs the calling test's body in a child process that has a SoftHSM store of its own (one
/// token labelled `ferrite`). In the parent: makes the store, runs the test binary for
/// exactly `test` with `SOFTHSM2_CONF` set (at most 200 s), checks it passed, and returns
/// `None`. In the child: returns the store. So a test reads
/// `let Some(hsm) = in_own_process("name") else { return };`.
pub fn in_own_process(test: &str) -> Option<SoftHsm> {
    if let Some(hsm) = SoftHsm::inherited() {
        return Some(hsm);
    }
    let hsm = SoftHsm::new("ferrite");
    std::fs::write(hsm.dir.join("label"), &hsm.label).expect("label file");
    let exe = std::env::current_exe().expect("the test binary");
    let mut child = hsm
        .command(exe)
        .args([test, "--exact", "--nocapture", "--include-ignored"])
        .env(DIR_VARIABLE, &hsm.dir)
        .env_remove("NEXTEST_EXECUTION_MODE")
        .stdin(Stdio::null())
        .spawn()
        .expect("start the test binary again");
    let deadline = Instant::now() + Duration::from_secs(200);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child test") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{test} did not finish within 200 s in its own process");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "{test} failed in its own process ({status}); its output is above"
    );
    None
}

/// Every file under `dir` (recursively) whose content holds a PEM private key.
pub fn private_key_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path)
                .map(|b| b.windows(11).any(|w| w == b"PRIVATE KEY"))
                .unwrap_or(false)
            {
                found.push(path);
            }
        }
    }
    found
}
