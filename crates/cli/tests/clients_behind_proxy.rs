//! Ferrite behind a proxy that terminates TLS (`[tls] mode = "behind-proxy"`), the proxy being
//! Caddy (Debian `caddy`, `reverse_proxy`): lego obtains a certificate through the proxy at
//! `base_url`, while the ACME listener itself answers plain HTTP to the proxy's address only,
//! refuses any other peer, and refuses what the proxy says arrived over plain HTTP. And two
//! instances on one PostgreSQL database behind Caddy's round robin, one killed with SIGKILL in
//! the middle of the load of lego, certbot and `ferrite-bench` and started again: every client
//! run finishes (retried as a cron job would; the generator's issuances each end, completed or
//! failed, within its bounds), every certificate received is in the database and revocable (by
//! the client that got it), no serial repeats, and no authorization is left `processing`.
//!
//! Like clients.rs this needs the tools `scripts/test.sh` installs, so it is `#[ignore]`d for a
//! plain `cargo test`. Everything listens on loopback (the refused peer is 127.0.0.2), every wait
//! is bounded, and every process is stopped when the test ends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{
    Challtestsrv, Ferrite, Killed, Setup, certbot, certbot_dirs, free_port, https_get, lego_dns01,
    lego_http01, log_tail, openssl_verify, run, serial_of, spawn_caddy, wait_until,
};

/// The `[tls]` table of an instance behind Caddy on 127.0.0.1.
const BEHIND_CADDY: &str = "[tls]\nmode = \"behind-proxy\"\ntrusted_proxies = [\"127.0.0.1\"]\n";

/// Caddy on 127.0.0.1:`proxy_port` for `https://localhost:PORT`, with the certificate Ferrite
/// issued for its own names (localhost among them) under `ferrite`'s data directory, forwarding
/// round robin to the ACME listeners on `upstreams` over plain HTTP (Caddy sets
/// X-Forwarded-For and X-Forwarded-Proto for every upstream). A request whose upstream
/// refuses the connection is tried on the next one for up to 10 s. Killed when dropped; its
/// log is `dir/caddy.log`.
fn start_caddy(dir: &Path, ferrite: &Ferrite, proxy_port: u16, upstreams: &[u16]) -> Killed {
    let caddyfile = dir.join("Caddyfile");
    let upstreams: Vec<String> = upstreams.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    std::fs::write(
        &caddyfile,
        format!(
            "{{
\tadmin off
\thttp_port {http}
\thttps_port {proxy_port}
\tstorage file_system {{
\t\troot {storage}
\t}}
\tskip_install_trust
\tauto_https disable_redirects
}}

https://localhost:{proxy_port} {{
\tbind 127.0.0.1
\ttls {cert} {key}
\treverse_proxy {upstreams} {{
\t\tlb_policy round_robin
\t\tlb_try_duration 10s
\t\tlb_try_interval 250ms
\t\tfail_duration 2s
\t}}
}}
",
            http = free_port(),
            storage = dir.join("storage").display(),
            cert = ferrite.data_dir.join("ca/tls.pem").display(),
            key = ferrite.data_dir.join("ca/private/tls.key").display(),
            upstreams = upstreams.join(" "),
        ),
    )
    .unwrap();
    let log = dir.join("caddy.log");
    let caddy = spawn_caddy(dir, &caddyfile, &log);
    wait_until(Duration::from_secs(30), || {
        https_get(&ferrite.root, "localhost", proxy_port, "/directory")
    })
    .unwrap_or_else(|| {
        panic!(
            "no directory through Caddy within 30 s; its log ends:\n{}",
            log_tail(&log, 40)
        )
    });
    caddy
}

/// `curl` a plain-HTTP URL from `source` with `headers`: (status, body).
fn curl(source: &str, url: &str, headers: &[&str]) -> (u16, String) {
    let mut c = Command::new("curl");
    c.args(["-s", "--max-time", "10", "--interface", source])
        .args(["-w", "\n%{http_code}"]);
    for header in headers {
        c.args(["-H", header]);
    }
    let out = c.arg(url).stdin(Stdio::null()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap();
    (status.parse().unwrap_or(0), body.to_owned())
}

#[test]
#[ignore = "needs caddy, lego, pebble-challtestsrv: run scripts/test.sh"]
fn lego_through_a_tls_terminating_proxy() {
    let dns = Challtestsrv::start();
    let http01 = free_port();
    let (proxy_port, backend_port) = (free_port(), free_port());
    let ferrite = Ferrite::start_with(
        dns.dns_port,
        &Setup {
            http01_port: http01,
            tlsalpn01_port: None,
            top_config: &format!(
                "base_url = \"https://localhost:{proxy_port}\"\nlisten = \"127.0.0.1:{backend_port}\"\n"
            ),
            extra_config: BEHIND_CADDY,
            hsm: None,
            beside: None,
        },
    );
    assert_eq!(
        ferrite.directory,
        format!("https://localhost:{proxy_port}/directory")
    );
    // The commands printed at first start name no root: the proxy's certificate is served.
    assert!(
        !ferrite
            .first_start
            .join("\n")
            .contains("LEGO_CA_CERTIFICATES"),
        "{:#?}",
        ferrite.first_start
    );

    let dir = tempfile::tempdir().unwrap();
    let _caddy = start_caddy(dir.path(), &ferrite, proxy_port, &[backend_port]);
    let directory = https_get(&ferrite.root, "localhost", proxy_port, "/directory").unwrap();
    assert!(
        directory.contains(&format!(
            "\"https://localhost:{proxy_port}/acme/new-order\""
        )),
        "{directory}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("lego");
    run(lego_http01(
        &ferrite,
        http01,
        &path,
        &["proxied.example.com"],
        &[],
        "run",
    ));
    openssl_verify(
        &ferrite.root,
        &path.join("certificates/proxied.example.com.crt"),
    );

    // The listener itself: plain HTTP to the proxy's address only.
    let backend = format!("http://127.0.0.1:{backend_port}/directory");
    let (status, body) = curl("127.0.0.1", &backend, &[]);
    assert_eq!(status, 200, "{body}");
    let (status, body) = curl("127.0.0.2", &backend, &["X-Forwarded-For: 127.0.0.1"]);
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("urn:ietf:params:acme:error:unauthorized")
            && body.contains("tls.trusted_proxies"),
        "{body}"
    );
    let (status, body) = curl("127.0.0.1", &backend, &["X-Forwarded-Proto: http"]);
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("urn:ietf:params:acme:error:malformed") && body.contains("HTTPS only"),
        "{body}"
    );
}

/// Runs `command` until it succeeds, at most `attempts` times (as a cron job would run a
/// client again); the attempts it took.
fn run_retried(mut command: impl FnMut() -> Command, attempts: u32) -> u32 {
    let mut last = String::new();
    for attempt in 1..=attempts {
        let out = command()
            .stdin(Stdio::null())
            .output()
            .expect("the client must be installed (scripts/test.sh installs lego and certbot)");
        if out.status.success() {
            return attempt;
        }
        last = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    panic!("still failing after {attempts} attempts; the last said:\n{last}");
}

/// `certbot` against `ferrite` (its directory, root and first start's EAB key) with its
/// configuration under `dir`, answering dns-01 through `dns`'s hooks; the caller adds the
/// subcommand's arguments after `subcommand`.
fn certbot_through(ferrite: &Ferrite, dns: &Challtestsrv, dir: &Path, subcommand: &str) -> Command {
    let (auth, cleanup) = dns.certbot_hooks(dir);
    let mut c = certbot();
    c.env("REQUESTS_CA_BUNDLE", &ferrite.root)
        .args([
            subcommand,
            "--non-interactive",
            "--server",
            &ferrite.directory,
        ])
        .args(["--agree-tos", "--register-unsafely-without-email"])
        .args([
            "--eab-kid",
            &ferrite.eab_kid,
            "--eab-hmac-key",
            &ferrite.eab_hmac,
        ]);
    if subcommand == "certonly" {
        c.args(["--manual", "--preferred-challenges", "dns-01"])
            .arg("--manual-auth-hook")
            .arg(auth)
            .arg("--manual-cleanup-hook")
            .arg(cleanup);
    }
    certbot_dirs(&mut c, dir);
    c
}

/// One SQL query's single value, with psql on the test's database.
fn psql(url: &str, query: &str) -> String {
    let out = Command::new("psql")
        .args(["-X", "-A", "-t", "-c", query, url])
        .stdin(Stdio::null())
        .output()
        .expect("psql (Debian package postgresql-client) must be installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
#[ignore = "needs caddy, lego, pebble-challtestsrv and PostgreSQL: run scripts/test.sh"]
fn two_instances_behind_caddy_lose_nothing_when_one_is_killed() {
    const CLIENTS: usize = 3;
    const NAMES_EACH: usize = 3;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let database = runtime.block_on(ferrite_store::testing::TestDatabase::create());
    let url = database.url().to_owned();
    let dns = Challtestsrv::start();
    let proxy_port = free_port();
    let (port_a, port_b) = (free_port(), free_port());
    // Both instances validate http-01 at the load generator's responder (lego and certbot
    // answer dns-01).
    let bench_http01 = free_port();
    let top = |port: u16| {
        format!(
            "base_url = \"https://localhost:{proxy_port}\"\nlisten = \"127.0.0.1:{port}\"\ndatabase_url = {url:?}\n"
        )
    };
    let extra = format!("{BEHIND_CADDY}[database]\nmax_connections = 4\n");
    let a = Ferrite::start_with(
        dns.dns_port,
        &Setup {
            http01_port: bench_http01,
            tlsalpn01_port: None,
            top_config: &top(port_a),
            extra_config: &extra,
            hsm: None,
            beside: None,
        },
    );
    let mut b = Ferrite::start_with(
        dns.dns_port,
        &Setup {
            http01_port: bench_http01,
            tlsalpn01_port: None,
            top_config: &top(port_b),
            extra_config: &extra,
            hsm: None,
            beside: Some(&a),
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let caddy = start_caddy(dir.path(), &a, proxy_port, &[port_a, port_b]);
    let hook = dns.exec_hook(dir.path());

    let tmp = tempfile::tempdir().unwrap();
    let jobs: Vec<(PathBuf, String)> = (0..CLIENTS)
        .flat_map(|client| {
            let path = tmp.path().join(format!("lego-{client}"));
            (0..NAMES_EACH).map(move |n| (path.clone(), format!("c{client}-n{n}.example.com")))
        })
        .collect();
    let certbot_dir = tempfile::tempdir().unwrap();
    let certbot_names: Vec<String> = (0..NAMES_EACH)
        .map(|n| format!("certbot-n{n}.example.com"))
        .collect();
    let (attempts, generated): (Vec<u32>, ferrite_bench::Report) = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let (a, dns, hook) = (&a, &dns, &hook);
                let mine: Vec<_> = jobs
                    .iter()
                    .skip(client * NAMES_EACH)
                    .take(NAMES_EACH)
                    .collect();
                scope.spawn(move || {
                    mine.into_iter()
                        .map(|(path, name)| {
                            run_retried(
                                || {
                                    let mut c = lego_dns01(a, dns, hook, path, &[name]);
                                    c.arg("run");
                                    c
                                },
                                3,
                            )
                        })
                        .collect::<Vec<u32>>()
                })
            })
            .collect();
        // certbot beside the lego clients: one account, a certificate per name, in turn.
        let certbot_client = {
            let (a, dns, names, dir) = (&a, &dns, &certbot_names, certbot_dir.path());
            scope.spawn(move || {
                names
                    .iter()
                    .map(|name| {
                        run_retried(
                            || {
                                let mut c = certbot_through(a, dns, dir, "certonly");
                                c.args(["-d", name]);
                                c
                            },
                            3,
                        )
                    })
                    .collect::<Vec<u32>>()
            })
        };
        // ferrite-bench beside them: 2 clients, 30 full http-01 issuances (an account each),
        // through the proxy.
        let generator = {
            let (a, runtime) = (&a, &runtime);
            scope.spawn(move || {
                runtime.block_on(async {
                    use base64::Engine as _;
                    let mut config =
                        ferrite_bench::BenchConfig::new(a.directory.clone(), a.root.clone());
                    config.clients = 2;
                    config.issuances = 30;
                    config.duration = Duration::from_secs(120);
                    config.request_timeout = Duration::from_secs(30);
                    config.domain = "bench.example.com".into();
                    config.progress = false;
                    config.eab = Some(ferrite_bench::config::Eab {
                        kid: a.eab_kid.clone(),
                        mac_key: ferrite_bench::config::MacKey(
                            base64::engine::general_purpose::URL_SAFE_NO_PAD
                                .decode(&a.eab_hmac)
                                .unwrap(),
                        ),
                    });
                    let responder = ferrite_bench::responder::Http01Server::start(
                        std::net::SocketAddr::from(([127, 0, 0, 1], bench_http01)),
                    )
                    .await
                    .unwrap();
                    ferrite_bench::run(config, std::sync::Arc::new(responder))
                        .await
                        .unwrap()
                })
            })
        };
        // In the middle of the load: once the first certificate has arrived.
        let first = wait_until(Duration::from_secs(120), || {
            jobs.iter()
                .any(|(path, name)| path.join(format!("certificates/{name}.crt")).exists())
                .then_some(())
        });
        assert!(first.is_some(), "no certificate within 120 s");
        b.crash_and_restart();
        let attempts = clients
            .into_iter()
            .chain(std::iter::once(certbot_client))
            .flat_map(|c| c.join().unwrap())
            .collect();
        (attempts, generator.join().unwrap())
    });
    let retried = attempts.iter().filter(|a| **a > 1).count();
    eprintln!(
        "{} lego and certbot runs over two instances, one killed and restarted: {retried} needed a second attempt",
        attempts.len()
    );

    let mut serials = std::collections::BTreeSet::new();
    for (path, name) in &jobs {
        let cert = path.join(format!("certificates/{name}.crt"));
        openssl_verify(&a.root, &cert);
        let serial = serial_of(&cert).to_ascii_lowercase();
        assert_eq!(
            psql(
                &url,
                &format!("SELECT count(*) FROM certificates WHERE lower(serial) = '{serial}'")
            ),
            "1",
            "{name}'s certificate {serial} is not in the database"
        );
        assert!(serials.insert(serial.clone()), "serial {serial} repeats");
    }
    // The generator's issuances all ended within its bounds; those the kill cut off failed
    // (a generator does not retry), and most completed.
    eprintln!(
        "ferrite-bench: {} completed, {} failed, errors {:?}",
        generated.issuances_completed, generated.issuances_failed, generated.errors
    );
    assert_eq!(generated.issuances_cancelled, 0, "{:?}", generated.errors);
    assert_eq!(
        generated.issuances_completed + generated.issuances_failed,
        30,
        "{:?}",
        generated.errors
    );
    assert!(
        generated.issuances_completed >= 15,
        "{:?}",
        generated.errors
    );
    let certbot_certs: Vec<PathBuf> = certbot_names
        .iter()
        .map(|name| {
            certbot_dir
                .path()
                .join(format!("config/live/{name}/cert.pem"))
        })
        .collect();
    for cert in &certbot_certs {
        openssl_verify(&a.root, &cert.with_file_name("fullchain.pem"));
        let serial = serial_of(cert).to_ascii_lowercase();
        assert_eq!(
            psql(
                &url,
                &format!("SELECT count(*) FROM certificates WHERE lower(serial) = '{serial}'")
            ),
            "1",
            "certbot's certificate {serial} is not in the database"
        );
        assert!(serials.insert(serial.clone()), "serial {serial} repeats");
    }
    let stuck = Instant::now() + Duration::from_secs(30);
    loop {
        let processing = psql(
            &url,
            "SELECT count(*) FROM authorizations WHERE status = 'processing'",
        );
        if processing == "0" {
            break;
        }
        assert!(
            Instant::now() < stuck,
            "{processing} authorizations still processing after 30 s"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // Revocable through either instance: each certificate is found in the shared database.
    for (path, name) in &jobs {
        run_retried(
            || {
                let mut c = lego_dns01(&a, &dns, &hook, path, &[name]);
                c.arg("revoke");
                c
            },
            1,
        );
    }
    for cert in &certbot_certs {
        run_retried(
            || {
                let mut c = certbot_through(&a, &dns, certbot_dir.path(), "revoke");
                c.arg("--cert-path")
                    .arg(cert)
                    .arg("--no-delete-after-revoke");
                c
            },
            1,
        );
    }
    assert_eq!(
        psql(
            &url,
            "SELECT count(*) FROM certificates WHERE revoked_at IS NOT NULL"
        ),
        (jobs.len() + certbot_certs.len()).to_string()
    );
    // Every certificate the generator downloaded is stored too (one it lost to the kill
    // after the server stored it may be there as well).
    let stored: u64 = psql(&url, "SELECT count(*) FROM certificates")
        .parse()
        .unwrap();
    let received = (jobs.len() + certbot_certs.len()) as u64 + generated.issuances_completed;
    assert!(stored >= received, "{stored} stored, {received} received");
    drop(caddy);
    drop(b);
    drop(a);
    runtime.block_on(database.drop());
}
