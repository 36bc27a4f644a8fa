//! End to end with web servers that get their own certificates over ACME: Caddy (Debian
//! `caddy`) and Apache httpd with mod_md (Debian `apache2`), each against a real `ferrite
//! serve`, with pebble-challtestsrv as the DNS Ferrite resolves through (every name is
//! 127.0.0.1). Ferrite validates http-01 and tls-alpn-01 on the web server's own ports. Each
//! server must obtain a certificate — which includes downloading the chain, following the
//! certificate's `rel="up"` link with POST-as-GET as both do — and serve it: curl, trusting only
//! Ferrite's root, completes a handshake that checks the host name, and the served chain holds
//! each certificate once. Neither server can revoke, so certbot revokes the certificate with
//! the certificate's own key, as docs/clients.md shows, and the CRL must list it.
//!
//! Apache starts as root with `User www-data`: mod_md then does its ACME work in a child
//! running as www-data, as in a Debian deployment, and reads `MDCACertificateFile` — the root
//! path Ferrite printed — as that user. `apache2 -d ROOT -f CONF -k graceful` is what Debian's
//! `apachectl -k graceful` runs, pointed at the test's own configuration.
//!
//! Like clients.rs these need the tools `scripts/test.sh` installs, so they are `#[ignore]`d
//! for a plain `cargo test`. Everything listens on 127.0.0.1, every wait is bounded, and every
//! process a test starts is stopped when the test ends, whether it passed or not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::{
    Challtestsrv, Ferrite, Killed, Setup, free_port, https_get, log_tail, openssl_verify,
    revoke_with_certificate_key, run, served_chain, spawn_caddy, wait_until,
};

/// How long a web server may take to obtain its certificate, or to serve it after a reload.
const DEADLINE: Duration = Duration::from_secs(60);

/// Ferrite and its DNS, with validation pointed at a web server's two ports.
struct Stack {
    ferrite: Ferrite,
    http_port: u16,
    https_port: u16,
    _dns: Challtestsrv,
}

impl Stack {
    fn start() -> Self {
        let dns = Challtestsrv::start();
        let http_port = free_port();
        let https_port = free_port();
        let ferrite = Ferrite::start_with(
            dns.dns_port,
            &Setup {
                http01_port: http_port,
                tlsalpn01_port: Some(https_port),
                top_config: "",
                extra_config: "",
                hsm: None,
                beside: None,
            },
        );
        Self {
            ferrite,
            http_port,
            https_port,
            _dns: dns,
        }
    }
}

/// The served chain must be the leaf, then the issuing CA: each certificate once. Both servers
/// append whatever the certificate's `rel="up"` link returns to the chain they downloaded, so a
/// chain that already holds the issuer and also links up to it gets the issuer twice.
fn assert_each_chain_certificate_once(chain: &[String], server: &str, log: &str) {
    for (i, cert) in chain.iter().enumerate() {
        assert!(
            !chain[..i].contains(cert),
            "{server} serves certificate {i} of its chain twice ({} certificates):\n{}\n{log}",
            chain.len(),
            chain.join("")
        );
    }
    assert_eq!(
        chain.len(),
        2,
        "{server} should serve the leaf and the issuing CA:\n{}",
        chain.join("")
    );
}

// --- Caddy -----------------------------------------------------------------------------------

/// `caddy run` with a Caddyfile whose global options are the ones docs/clients.md shows, plus
/// what a test needs: its own ports, storage and home, no admin endpoint, no system trust.
struct Caddy {
    name: &'static str,
    log: PathBuf,
    // Dropped (killed) before its directory is removed.
    _child: Killed,
    dir: tempfile::TempDir,
}

impl Caddy {
    fn start(stack: &Stack, name: &'static str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ferrite = &stack.ferrite;
        let caddyfile = dir.path().join("Caddyfile");
        std::fs::write(
            &caddyfile,
            format!(
                "{{
\t# The test's own ports, storage and nothing else of the machine's.
\tadmin off
\thttp_port {http}
\thttps_port {https}
\tstorage file_system {{
\t\troot {storage}
\t}}
\tskip_install_trust
\tservers {{
\t\tprotocols h1 h2
\t}}

\t# As in docs/clients.md.
\tacme_ca {directory}
\tacme_ca_root {root}
\tacme_eab {{
\t\tkey_id {kid}
\t\tmac_key {hmac}
\t}}
\temail admin@example.com
}}

{name} {{
\tbind 127.0.0.1
\trespond \"served by caddy\"
}}
",
                http = stack.http_port,
                https = stack.https_port,
                storage = dir.path().join("storage").display(),
                directory = ferrite.directory,
                root = ferrite.root.display(),
                kid = ferrite.eab_kid,
                hmac = ferrite.eab_hmac,
            ),
        )
        .unwrap();
        let log = dir.path().join("caddy.log");
        let child = spawn_caddy(dir.path(), &caddyfile, &log);
        Self {
            name,
            log,
            _child: child,
            dir,
        }
    }

    /// Waits until Caddy serves a certificate for its site that curl accepts with only
    /// Ferrite's root trusted.
    fn wait_until_served(&self, https_port: u16, root: &Path) -> String {
        wait_until(DEADLINE, || https_get(root, self.name, https_port, "/")).unwrap_or_else(|| {
            panic!(
                "Caddy served no certificate for {} that chains to Ferrite's root within {DEADLINE:?}; its log ends:\n{}",
                self.name,
                self.log_tail()
            )
        })
    }

    /// The certificate and key Caddy stored for its site.
    fn stored(&self) -> (PathBuf, PathBuf) {
        let crt = find_file(
            &self.dir.path().join("storage"),
            &format!("{}.crt", self.name),
        )
        .unwrap_or_else(|| panic!("no {}.crt in Caddy's storage", self.name));
        (crt.clone(), crt.with_extension("key"))
    }

    fn log_tail(&self) -> String {
        log_tail(&self.log, 40)
    }
}

fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()? {
        let path = entry.ok()?.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, name) {
                return Some(found);
            }
        } else if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
    }
    None
}

#[test]
#[ignore = "needs caddy, certbot, pebble-challtestsrv: run scripts/test.sh"]
fn caddy_obtains_and_serves_a_ferrite_certificate() {
    let stack = Stack::start();
    let caddy = Caddy::start(&stack, "caddy.example.com");
    let body = caddy.wait_until_served(stack.https_port, &stack.ferrite.root);
    assert_eq!(body, "served by caddy");

    let (cert, key) = caddy.stored();
    openssl_verify(&stack.ferrite.root, &cert);
    revoke_with_certificate_key(&stack.ferrite, &cert, &key);
}

#[test]
#[ignore = "needs caddy, pebble-challtestsrv: run scripts/test.sh"]
fn caddy_serves_each_chain_certificate_once() {
    let stack = Stack::start();
    let caddy = Caddy::start(&stack, "caddy-chain.example.com");
    caddy.wait_until_served(stack.https_port, &stack.ferrite.root);
    let chain = served_chain(stack.https_port, caddy.name);
    assert_each_chain_certificate_once(&chain, "Caddy", &caddy.log_tail());
}

// --- Apache httpd with mod_md ----------------------------------------------------------------

/// The challenge a test lets mod_md use.
enum Challenge {
    /// `Protocols … acme-tls/1`: mod_md's first choice when the https port is mapped.
    TlsAlpn01,
    /// `MDCAChallenges http-01`.
    Http01,
}

/// `apache2 -DFOREGROUND` with its own ServerRoot (a temporary directory) and configuration,
/// started as root with `User www-data`. Stopped with SIGTERM (the parent stops its children),
/// killed if it has not stopped 10 s later.
struct Apache {
    name: &'static str,
    conf: PathBuf,
    child: Option<Child>,
    // Removed after the server has stopped (fields drop after `drop` has run).
    root: tempfile::TempDir,
}

impl Apache {
    fn start(stack: &Stack, name: &'static str, challenge: Challenge) -> Self {
        assert_eq!(
            uid_of(None),
            0,
            "the Apache tests start apache2 as root so that mod_md's worker runs as www-data"
        );
        let root = tempfile::tempdir().unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            // www-data's worker writes mod_md's staging area below the ServerRoot.
            std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let r = root.path().display();
        std::fs::create_dir(root.path().join("run")).unwrap();
        std::fs::create_dir(root.path().join("htdocs")).unwrap();
        std::fs::write(root.path().join("htdocs/hello.txt"), "served by apache").unwrap();
        let ferrite = &stack.ferrite;
        let challenge = match challenge {
            Challenge::TlsAlpn01 => "Protocols http/1.1 acme-tls/1",
            Challenge::Http01 => "MDCAChallenges http-01",
        };
        let conf = root.path().join("apache2.conf");
        std::fs::write(
            &conf,
            format!(
                "# The test's own server root, runtime files, logs and loopback ports.
ServerRoot \"{r}\"
PidFile \"{r}/run/apache2.pid\"
DefaultRuntimeDir \"{r}/run\"
Mutex file:{r}/run default
ErrorLog \"{r}/error.log\"
LogLevel warn md:debug
ServerName localhost
DocumentRoot \"{r}/htdocs\"
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so
LoadModule md_module /usr/lib/apache2/modules/mod_md.so
Listen 127.0.0.1:{http}
Listen 127.0.0.1:{https}
# Ferrite validates on these ports; mod_md offers http-01 and tls-alpn-01 only for ports it
# knows are reached as 80 and 443.
MDPortMap http:{http} https:{https}

# As in docs/clients.md.
User www-data
Group www-data
MDCertificateAuthority {directory}
MDCACertificateFile {ca}
MDExternalAccountBinding {kid} {hmac}
MDCertificateAgreement accepted
MDContactEmail admin@example.com
{challenge}
MDomain {name}
<VirtualHost 127.0.0.1:{https}>
    ServerName {name}
    SSLEngine on
</VirtualHost>
",
                http = stack.http_port,
                https = stack.https_port,
                directory = ferrite.directory,
                ca = ferrite.root.display(),
                kid = ferrite.eab_kid,
                hmac = ferrite.eab_hmac,
            ),
        )
        .unwrap();
        let child = Command::new("apache2")
            .arg("-d")
            .arg(root.path())
            .arg("-f")
            .arg(&conf)
            .arg("-DFOREGROUND")
            .env("LANG", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("apache2 (Debian package apache2) must be installed");
        Self {
            name,
            conf,
            child: Some(child),
            root,
        }
    }

    fn md(&self, path: &str) -> PathBuf {
        self.root.path().join("md").join(path).join(self.name)
    }

    /// Waits until mod_md has staged a certificate (it is activated on the next reload).
    fn wait_until_staged(&self) -> PathBuf {
        let staged = self.md("staging").join("pubcert.pem");
        wait_until(DEADLINE, || staged.exists().then_some(())).unwrap_or_else(|| {
            panic!(
                "mod_md staged no certificate for {} within {DEADLINE:?}; the error log ends:\n{}",
                self.name,
                self.log_tail()
            )
        });
        staged
    }

    /// `apachectl -k graceful` for this server: mod_md activates the staged certificate.
    fn graceful(&self) {
        let mut c = Command::new("apache2");
        c.arg("-d")
            .arg(self.root.path())
            .arg("-f")
            .arg(&self.conf)
            .args(["-k", "graceful"]);
        run(c);
    }

    /// Waits until the https port serves `/hello.txt` with a certificate curl accepts with
    /// only Ferrite's root trusted.
    fn wait_until_served(&self, https_port: u16, root: &Path) -> String {
        wait_until(DEADLINE, || {
            https_get(root, self.name, https_port, "/hello.txt")
        })
        .unwrap_or_else(|| {
            panic!(
                "Apache served no certificate for {} that chains to Ferrite's root within {DEADLINE:?} of the reload; the error log ends:\n{}",
                self.name,
                self.log_tail()
            )
        })
    }

    fn log_tail(&self) -> String {
        log_tail(&self.root.path().join("error.log"), 40)
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let stopped = wait_until(Duration::from_secs(10), || {
            child.try_wait().ok().flatten().map(|_| ())
        });
        if stopped.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `id -u [user]`: the user's uid, or this process's.
fn uid_of(user: Option<&str>) -> u32 {
    let mut c = Command::new("id");
    c.arg("-u").args(user);
    run(c).trim().parse().unwrap()
}

#[test]
#[ignore = "needs apache2, certbot, pebble-challtestsrv: run scripts/test.sh"]
fn apache_mod_md_as_www_data_obtains_and_serves_a_ferrite_certificate() {
    use std::os::unix::fs::MetadataExt;

    let stack = Stack::start();
    let apache = Apache::start(&stack, "apache.example.com", Challenge::TlsAlpn01);
    let staged = apache.wait_until_staged();
    assert_eq!(
        std::fs::metadata(&staged).unwrap().uid(),
        uid_of(Some("www-data")),
        "mod_md's ACME work should run as www-data"
    );
    openssl_verify(&stack.ferrite.root, &staged);

    apache.graceful();
    let body = apache.wait_until_served(stack.https_port, &stack.ferrite.root);
    assert_eq!(body, "served by apache");

    let live = apache.md("domains");
    openssl_verify(&stack.ferrite.root, &live.join("pubcert.pem"));
    revoke_with_certificate_key(
        &stack.ferrite,
        &live.join("pubcert.pem"),
        &live.join("privkey.pem"),
    );
}

#[test]
#[ignore = "needs apache2, pebble-challtestsrv: run scripts/test.sh"]
fn apache_mod_md_http01_serves_each_chain_certificate_once() {
    let stack = Stack::start();
    let apache = Apache::start(&stack, "apache-chain.example.com", Challenge::Http01);
    apache.wait_until_staged();
    apache.graceful();
    apache.wait_until_served(stack.https_port, &stack.ferrite.root);
    let chain = served_chain(stack.https_port, apache.name);
    assert_each_chain_certificate_once(&chain, "Apache", &apache.log_tail());
}
