//! Processes for the client tests: `ferrite serve` and pebble-challtestsrv, each killed when
//! dropped, and small helpers around openssl, curl and certbot.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferrite_testkit::softhsm::SoftHsm;

/// A port that was free a moment ago (for tools that cannot report the port they bound),
/// chosen at random below the kernel's ephemeral range: a server of the test that binds port 0
/// (as `ferrite serve` does) gets a port from that range, so it can never be handed the same
/// port between this check and the tool binding it.
pub(crate) fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (low, high) = (10_000u16, ephemeral_low.max(10_100));
    for _ in 0..1000 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(u64::from(std::process::id()));
        let port = low + (hasher.finish() % u64::from(high - low)) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port below the ephemeral range ({low}..{high}) in 1000 tries")
}

/// Runs a command to completion (at most 3 minutes); its exit status and stdout + stderr.
fn finish(cmd: &mut Command) -> (std::process::ExitStatus, String) {
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
    (out.status, text)
}

/// Runs a command that must succeed; returns its output.
pub(crate) fn run(mut cmd: Command) -> String {
    let (status, text) = finish(&mut cmd);
    assert!(status.success(), "{cmd:?} failed ({status}):\n{text}");
    text
}

/// Runs a command that must fail; returns its output.
pub(crate) fn run_failing(mut cmd: Command) -> String {
    let (status, text) = finish(&mut cmd);
    assert!(!status.success(), "{cmd:?} succeeded:\n{text}");
    text
}

/// `lego` against `ferrite` trusting its root, with its EAB key, for `domains`.
fn lego(ferrite: &Ferrite, domains: &[&str]) -> Command {
    let mut c = Command::new("lego");
    c.env("LEGO_CA_CERTIFICATES", &ferrite.root)
        .args(["--server", &ferrite.directory, "--accept-tos"])
        .args(["--email", "a@example.com"])
        .args(["--eab", "--kid", &ferrite.eab_kid])
        .args(["--hmac", &ferrite.eab_hmac])
        .args(domains.iter().flat_map(|d| ["--domains", d]));
    c
}

/// `lego` against `ferrite` over http-01 (lego listens on 127.0.0.1:`http01`), storing in
/// `path`, with EAB (lego 4.9 wants the EAB flags on every command when the directory requires
/// EAB), for `domains` (none: the names of a `--csr` in `extra`), then `extra`, then `command`.
/// Command flags (`renew --days …`) go after, on the returned `Command`.
pub(crate) fn lego_http01(
    ferrite: &Ferrite,
    http01: u16,
    path: &Path,
    domains: &[&str],
    extra: &[&str],
    command: &str,
) -> Command {
    let mut c = lego(ferrite, domains);
    c.args(["--http", "--http.port"])
        .arg(format!("127.0.0.1:{http01}"))
        .arg("--path")
        .arg(path)
        .args(extra)
        .arg(command);
    c
}

/// `caddy run` with `caddyfile`, its home and data under `dir` (nothing of the machine's), its
/// output to `log`.
pub(crate) fn spawn_caddy(dir: &Path, caddyfile: &Path, log: &Path) -> Killed {
    let out = std::fs::File::create(log).unwrap();
    let child = Command::new("caddy")
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(caddyfile)
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("caddy (Debian package caddy) must be installed");
    Killed(child)
}

/// `lego` against `ferrite` for `domains` over dns-01, the TXT records set through `dns`'s
/// exec `hook` ([`Challtestsrv::exec_hook`]) and checked at `dns` itself, storing in `path`;
/// the caller adds the command (`run`, `revoke`).
pub(crate) fn lego_dns01(
    ferrite: &Ferrite,
    dns: &Challtestsrv,
    hook: &Path,
    path: &Path,
    domains: &[&str],
) -> Command {
    let mut c = lego(ferrite, domains);
    c.env("EXEC_PATH", hook)
        .env("EXEC_SEQUENCE_INTERVAL", "1")
        .env("EXEC_POLLING_INTERVAL", "1")
        .env("EXEC_PROPAGATION_TIMEOUT", "30")
        .args(["--dns", "exec", "--dns.disable-cp", "--dns.resolvers"])
        .arg(format!("127.0.0.1:{}", dns.dns_port))
        .arg("--path")
        .arg(path);
    c
}

/// A child process, killed (and reaped) when dropped.
pub(crate) struct Killed(pub(crate) Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// pebble-challtestsrv as a mock DNS (every A query answers 127.0.0.1) with its management API.
pub(crate) struct Challtestsrv {
    pub(crate) dns_port: u16,
    pub(crate) mgmt_port: u16,
    _child: Killed,
}

impl Challtestsrv {
    pub(crate) fn start() -> Self {
        let dns_port = free_port();
        let mgmt_port = free_port();
        let child = Command::new("pebble-challtestsrv")
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .arg("-dns01")
            .arg(format!("127.0.0.1:{dns_port}"))
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .arg("-management")
            .arg(format!("127.0.0.1:{mgmt_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble-challtestsrv (Debian package pebble) must be installed");
        let srv = Self {
            dns_port,
            mgmt_port,
            _child: Killed(child),
        };
        wait_for_tcp(mgmt_port);
        srv
    }

    /// A lego `exec` provider script: `present|cleanup FQDN VALUE`.
    pub(crate) fn exec_hook(&self, dir: &Path) -> PathBuf {
        let script = format!(
            "#!/bin/sh\nset -e\ncase \"$1\" in\n present) curl -sf -X POST -d \"{{\\\"host\\\":\\\"$2\\\",\\\"value\\\":\\\"$3\\\"}}\" http://127.0.0.1:{port}/set-txt ;;\n cleanup) curl -sf -X POST -d \"{{\\\"host\\\":\\\"$2\\\"}}\" http://127.0.0.1:{port}/clear-txt ;;\nesac\n",
            port = self.mgmt_port
        );
        write_script(dir, "lego-exec.sh", &script)
    }

    /// certbot manual auth and cleanup hooks.
    pub(crate) fn certbot_hooks(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let auth = format!(
            "#!/bin/sh\nset -e\ncurl -sf -X POST -d \"{{\\\"host\\\":\\\"_acme-challenge.$CERTBOT_DOMAIN.\\\",\\\"value\\\":\\\"$CERTBOT_VALIDATION\\\"}}\" http://127.0.0.1:{port}/set-txt\n",
            port = self.mgmt_port
        );
        let cleanup = format!(
            "#!/bin/sh\ncurl -sf -X POST -d \"{{\\\"host\\\":\\\"_acme-challenge.$CERTBOT_DOMAIN.\\\"}}\" http://127.0.0.1:{port}/clear-txt\nexit 0\n",
            port = self.mgmt_port
        );
        (
            write_script(dir, "auth.sh", &auth),
            write_script(dir, "cleanup.sh", &cleanup),
        )
    }
}

fn write_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn wait_for_tcp(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("nothing listens on 127.0.0.1:{port} after 10 s");
}

/// Starts `ferrite` (a command for the binary) as `serve --config CONFIG`, logging at info to
/// the test's stderr; its stdout lines arrive on the channel.
fn spawn_serve(mut ferrite: Command, config: &Path) -> (Killed, std::sync::mpsc::Receiver<String>) {
    let mut child = ferrite
        .arg("serve")
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (Killed(child), rx)
}

/// Polls `probe` every 250 ms until it returns a value or `timeout` has passed.
pub(crate) fn wait_until<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The last `n` lines of a log file (for failure messages).
pub(crate) fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// What a test sets in Ferrite's configuration beyond `Ferrite::start`.
pub(crate) struct Setup<'a> {
    /// The port http-01 validation connects to.
    pub(crate) http01_port: u16,
    /// The port tls-alpn-01 validation connects to; unset: Ferrite's default (443).
    pub(crate) tlsalpn01_port: Option<u16>,
    /// Top-level TOML keys put before the tables (`base_url = …`); a `listen` key here replaces
    /// the ACME listener's `127.0.0.1:0`.
    pub(crate) top_config: &'a str,
    /// TOML appended to the configuration file, each table with its own `[header]`.
    pub(crate) extra_config: &'a str,
    /// Keep the CA keys in this SoftHSM store's first token: `ferrite ca init` runs before
    /// `ferrite serve` (the public listener then gets a fixed port, which the intermediate
    /// names), and both get its `SOFTHSM2_CONF`.
    pub(crate) hsm: Option<&'a SoftHsm>,
    /// Another instance of the same CA beside this one: its data directory is shared (as on a
    /// shared mount: the same CA files and EAB key-encryption key) and its first start's MAC
    /// key is this one's too. Give both the same `database_url` (PostgreSQL) in `top_config`.
    pub(crate) beside: Option<&'a Ferrite>,
}

/// A `ferrite serve` process on ports chosen by the OS, with the EAB key its first start
/// printed (EAB is required by default).
pub(crate) struct Ferrite {
    pub(crate) directory: String,
    pub(crate) eab_kid: String,
    pub(crate) eab_hmac: String,
    pub(crate) root: PathBuf,
    pub(crate) public_url: String,
    /// The admin API's base URL (`http://127.0.0.1:PORT`).
    pub(crate) admin_url: String,
    /// The lines of the first start's credentials file (the MAC key and client commands).
    pub(crate) first_start: Vec<String>,
    /// The configuration file.
    pub(crate) config: PathBuf,
    /// The data directory.
    pub(crate) data_dir: PathBuf,
    _dir: tempfile::TempDir,
    /// The running `ferrite serve`; `None` only while it is restarted.
    child: Option<Killed>,
}

/// The `[rate_limits]` of every `ferrite serve` these tests start: all off. The clients
/// (lego, certbot, Caddy, …) each register their accounts and order from 127.0.0.1 on one
/// server, more than `new_accounts_per_address` allows one address in 3 hours, and some fail
/// validations of one name on purpose; the limits have tests of their own
/// (crates/testkit/tests/rate_limits.rs).
const RATE_LIMITS_OFF: &str = "[rate_limits]\nnew_orders_per_account = 0\npending_authorizations_per_account = 0\nfailed_validations_per_account_and_name = 0\nnew_accounts_per_address = 0\ncertificates_per_registered_domain = 0\nduplicate_certificates = 0\n\n";

impl Ferrite {
    pub(crate) fn start(dns_port: u16, http01_port: u16) -> Self {
        Self::start_with(
            dns_port,
            &Setup {
                http01_port,
                tlsalpn01_port: None,
                top_config: "",
                extra_config: "",
                hsm: None,
                beside: None,
            },
        )
    }

    pub(crate) fn start_with(dns_port: u16, setup: &Setup<'_>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // Other users may pass through the temporary directory, as through /var/lib on a server:
        // what a web server's unprivileged worker (mod_md's, as www-data) can read in the data
        // directory is then up to Ferrite's own permissions there.
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let config = dir.path().join("ferrite.toml");
        let tlsalpn01 = setup
            .tlsalpn01_port
            .map(|p| format!("tlsalpn01_port = {p}\n"))
            .unwrap_or_default();
        let data_dir = setup
            .beside
            .map_or_else(|| dir.path().join("data"), |other| other.data_dir.clone());
        let public_listen = match setup.hsm {
            Some(_) => format!("127.0.0.1:{}", free_port()),
            None => "127.0.0.1:0".to_owned(),
        };
        let listen = if setup
            .top_config
            .lines()
            .any(|l| l.trim_start().starts_with("listen "))
        {
            ""
        } else {
            "listen = \"127.0.0.1:0\"\n"
        };
        let ca = setup
            .hsm
            .map(|hsm| hsm.ca_toml(&hsm.label))
            .unwrap_or_default();
        std::fs::write(
            &config,
            format!(
                "{top}{listen}admin_listen = \"127.0.0.1:0\"\npublic_listen = \"{public_listen}\"\ndata_dir = \"{}\"\n\n[validation]\ndns_resolver = \"127.0.0.1:{dns_port}\"\nhttp01_port = {}\n{tlsalpn01}allow_private_addresses = true\n# pebble-challtestsrv serves no DNSSEC signatures\ndnssec = false\n\n{RATE_LIMITS_OFF}{ca}{}",
                data_dir.display(),
                setup.http01_port,
                setup.extra_config,
                top = setup.top_config,
            ),
        )
        .unwrap();
        let ferrite = |hsm: Option<&SoftHsm>| match hsm {
            Some(hsm) => hsm.command(env!("CARGO_BIN_EXE_ferrite")),
            None => Command::new(env!("CARGO_BIN_EXE_ferrite")),
        };
        if setup.hsm.is_some() {
            let mut init = ferrite(setup.hsm);
            init.args(["ca", "init", "--config"]).arg(&config);
            run(init);
        }
        let (child, rx) = spawn_serve(ferrite(setup.hsm), &config);
        let (mut directory, mut root, mut public_url) = (None, None, None);
        let mut admin_url = None;
        let (mut eab_kid, mut eab_hmac) = (
            setup.beside.map(|other| other.eab_kid.clone()),
            setup.beside.map(|other| other.eab_hmac.clone()),
        );
        let mut first_start = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while directory.is_none() || root.is_none() || public_url.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .expect("ferrite serve did not print its directory URL within 30 s");
            if let Some(file) = line.strip_prefix("First-start credentials file: ") {
                // Not a terminal: the secrets are in a file only this user can read.
                let secrets = std::fs::read_to_string(file.trim()).unwrap();
                for line in secrets.lines() {
                    if let Some(v) = line.strip_prefix("EAB key id: ") {
                        eab_kid = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("EAB HMAC key: ") {
                        eab_hmac = Some(v.trim().to_owned());
                    }
                    first_start.push(line.to_owned());
                }
            } else if let Some(v) = line.strip_prefix("Ferrite ACME directory: ") {
                directory = Some(v.trim().to_owned());
            } else if let Some(v) = line.strip_prefix("Root certificate clients must trust: ") {
                root = Some(PathBuf::from(v.trim()));
            } else if let Some(v) = line.strip_prefix("Admin API: ") {
                admin_url = Some(v.trim().to_owned());
            } else if let Some(v) = line.strip_prefix("CRL and issuer certificate: ") {
                public_url = Some(v.trim().to_owned());
            }
        }
        Self {
            eab_kid: eab_kid.expect("first start printed no `EAB key id:` line"),
            eab_hmac: eab_hmac.expect("first start printed no `EAB HMAC key:` line"),
            directory: directory.unwrap(),
            root: root.unwrap(),
            public_url: public_url.unwrap(),
            admin_url: admin_url.expect("ferrite serve printed no `Admin API:` line"),
            first_start,
            config,
            data_dir,
            _dir: dir,
            child: Some(child),
        }
    }

    /// The MAC key the first start printed, as the testkit's ACME helpers take it.
    pub(crate) fn first_mac_key(&self) -> ferrite_testkit::eab::IssuedMacKey {
        use base64::Engine as _;
        ferrite_testkit::eab::IssuedMacKey {
            credential_id: String::new(),
            kid: self.eab_kid.clone(),
            hmac: base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&self.eab_hmac)
                .expect("the printed HMAC key is base64url"),
        }
    }

    /// Kills `ferrite serve` with SIGKILL, as a crash would, and starts it again on the same
    /// configuration and data directory. The ACME and public listeners keep their ports (the
    /// first restart writes them into the configuration), so account and order URLs stay
    /// valid. Not for a CA whose keys are in a token.
    pub(crate) fn crash_and_restart(&mut self) {
        let port = |url: &str| {
            url.rsplit(':')
                .next()
                .and_then(|rest| rest.split('/').next())
                .and_then(|p| p.parse::<u16>().ok())
                .unwrap_or_else(|| panic!("no port in {url}"))
        };
        let pinned: Vec<String> = std::fs::read_to_string(&self.config)
            .unwrap()
            .lines()
            .map(|line| match line {
                "listen = \"127.0.0.1:0\"" => {
                    format!("listen = \"127.0.0.1:{}\"", port(&self.directory))
                }
                "public_listen = \"127.0.0.1:0\"" => {
                    format!("public_listen = \"127.0.0.1:{}\"", port(&self.public_url))
                }
                other => other.to_owned(),
            })
            .collect();
        let text = pinned.join("\n") + "\n";
        std::fs::write(&self.config, text).unwrap();
        // Killed's drop: SIGKILL, then reaped.
        drop(self.child.take());
        let (child, rx) = spawn_serve(Command::new(env!("CARGO_BIN_EXE_ferrite")), &self.config);
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .expect("ferrite serve did not start again within 30 s");
            if let Some(v) = line.strip_prefix("Ferrite ACME directory: ") {
                assert_eq!(v.trim(), self.directory, "the directory moved");
                break;
            }
        }
    }

    /// Downloads the CRL at `path` (a certificate's, [`crl_path_of`]) (DER) from this
    /// instance's public listener to `to`.
    pub(crate) fn download_crl(&self, path: &str, to: &Path) {
        let mut c = Command::new("curl");
        c.args(["-sf", "-o"])
            .arg(to)
            .arg(format!("{}{path}", self.public_url));
        run(c);
    }

    /// The CRL at `path` ([`crl_path_of`]) as `openssl crl -text`.
    pub(crate) fn crl_text(&self, path: &str) -> String {
        let tmp = tempfile::tempdir().unwrap();
        let der = tmp.path().join("crl.der");
        self.download_crl(path, &der);
        let mut c = Command::new("openssl");
        c.args(["crl", "-inform", "DER", "-noout", "-text", "-in"])
            .arg(&der);
        run(c)
    }
}

/// `openssl verify -CAfile root -untrusted chain chain` (the leaf is the chain's first PEM).
pub(crate) fn openssl_verify(root: &Path, chain: &Path) {
    let mut c = Command::new("openssl");
    c.arg("verify")
        .arg("-CAfile")
        .arg(root)
        .arg("-untrusted")
        .arg(chain)
        .arg(chain);
    let out = run(c);
    assert!(out.contains(": OK"), "{out}");
}

/// `openssl x509 -text` of the first certificate in a PEM file.
pub(crate) fn cert_text(pem: &Path) -> String {
    let mut c = Command::new("openssl");
    c.args(["x509", "-noout", "-text", "-in"]).arg(pem);
    run(c)
}

/// The serial of a PEM certificate, as openssl prints it (hex).
pub(crate) fn serial_of(pem: &Path) -> String {
    let mut c = Command::new("openssl");
    c.args(["x509", "-noout", "-serial", "-in"]).arg(pem);
    run(c)
        .lines()
        .find_map(|l| l.strip_prefix("serial="))
        .unwrap()
        .trim()
        .to_owned()
}

/// The certbot of the venv `scripts/test.sh` makes (`FERRITE_TEST_VENV`).
pub(crate) fn certbot() -> Command {
    let venv = std::env::var("FERRITE_TEST_VENV")
        .expect("FERRITE_TEST_VENV must point at a venv with certbot (scripts/test.sh sets it)");
    Command::new(format!("{venv}/bin/certbot"))
}

/// `certbot certonly` against `ferrite` with its EAB key, answering http-01 with certbot's
/// standalone server on 127.0.0.1:`http01`; the caller adds the names or the CSR.
pub(crate) fn certbot_certonly_http01(ferrite: &Ferrite, http01: u16) -> Command {
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
            "--standalone",
        ])
        .args([
            "--eab-kid",
            &ferrite.eab_kid,
            "--eab-hmac-key",
            &ferrite.eab_hmac,
        ])
        .args([
            "--http-01-address",
            "127.0.0.1",
            "--http-01-port",
            &http01.to_string(),
        ]);
    c
}

/// certbot's configuration, work and log directories, all under `tmp`.
pub(crate) fn certbot_dirs(c: &mut Command, tmp: &Path) {
    c.arg("--config-dir")
        .arg(tmp.join("config"))
        .arg("--work-dir")
        .arg(tmp.join("work"))
        .arg("--logs-dir")
        .arg(tmp.join("logs"));
}

/// The path of the CRL distribution point of the certificate (PEM) `cert`: its issuer's CRL
/// shard, `/crl/{16 hex digits}/{shard}.crl` on the public listener (checked).
pub(crate) fn crl_path_of(cert: &Path) -> String {
    let mut c = Command::new("openssl");
    c.args(["x509", "-noout", "-ext", "crlDistributionPoints", "-in"])
        .arg(cert);
    let out = run(c);
    let url = out
        .split_whitespace()
        .find_map(|w| w.strip_prefix("URI:"))
        .unwrap_or_else(|| panic!("no CRL distribution point in {}:\n{out}", cert.display()));
    let path = url
        .strip_prefix("http://")
        .and_then(|rest| rest.find('/').map(|i| rest[i..].to_owned()))
        .unwrap_or_else(|| panic!("{url} is not an http:// URL"));
    let parts: Vec<&str> = path.split('/').collect();
    assert!(
        matches!(parts.as_slice(), ["", "crl", issuer, file]
            if issuer.len() == 16
                && issuer.bytes().all(|b| b.is_ascii_hexdigit())
                && file.strip_suffix(".crl").is_some_and(|n| n.parse::<u32>().is_ok())),
        "{url} is not a CRL shard's URL"
    );
    path
}

/// Revokes `cert` with certbot, signing with the certificate's own key (RFC 8555 §7.6), the way
/// to revoke a certificate a client without a revoke command obtained, with reason
/// keyCompromise; then checks that the CRL shard its distribution point names lists it, fetched
/// over HTTP at once.
pub(crate) fn revoke_with_certificate_key(ferrite: &Ferrite, cert: &Path, key: &Path) {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = certbot();
    c.env("REQUESTS_CA_BUNDLE", &ferrite.root)
        .args(["revoke", "--non-interactive", "--server"])
        .arg(&ferrite.directory)
        .arg("--cert-path")
        .arg(cert)
        .arg("--key-path")
        .arg(key)
        .args(["--reason", "keycompromise", "--no-delete-after-revoke"]);
    certbot_dirs(&mut c, tmp.path());
    run(c);
    let crl = ferrite.crl_text(&crl_path_of(cert));
    let serial = serial_of(cert);
    assert!(
        crl.to_uppercase().contains(&serial.to_uppercase()),
        "serial {serial} not in CRL:\n{crl}"
    );
}

/// `GET https://{name}:{port}{path}` on 127.0.0.1 with curl, trusting only `root` and checking
/// the certificate names `name`: the body, or `None` if the handshake or the request failed.
pub(crate) fn https_get(root: &Path, name: &str, port: u16, path: &str) -> Option<String> {
    let out = Command::new("curl")
        .args(["-sf", "--max-time", "5", "--cacert"])
        .arg(root)
        .arg("--resolve")
        .arg(format!("{name}:{port}:127.0.0.1"))
        .arg(format!("https://{name}:{port}{path}"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The certificates a TLS server on 127.0.0.1:`port` presents for `name`, as PEM, in the
/// order it sends them.
pub(crate) fn served_chain(port: u16, name: &str) -> Vec<String> {
    let mut c = Command::new("openssl");
    c.args(["s_client", "-showcerts", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-servername", name]);
    pem_certificates(&run(c))
}

/// The PEM certificate blocks in `text`.
pub(crate) fn pem_certificates(text: &str) -> Vec<String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut certs = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let Some(len) = rest[start..].find(END) else {
            break;
        };
        let end = start + len + END.len();
        certs.push(format!("{}\n", &rest[start..end]));
        rest = &rest[end..];
    }
    certs
}
