//! Ferrite behind a proxy that terminates TLS (`[tls] mode = "behind-proxy"`), the proxy being
//! Caddy (Debian `caddy`, `reverse_proxy`): lego obtains a certificate through the proxy at
//! `base_url`, while the ACME listener itself answers plain HTTP to the proxy's address only,
//! refuses any other peer, and refuses what the proxy says arrived over plain HTTP.
//!
//! Like clients.rs this needs the tools `scripts/test.sh` installs, so it is `#[ignore]`d for a
//! plain `cargo test`. Everything listens on loopback (the refused peer is 127.0.0.2), every wait
//! is bounded, and every process is stopped when the test ends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::{
    Challtestsrv, Ferrite, Setup, free_port, https_get, lego_http01, log_tail, openssl_verify, run,
    spawn_caddy, wait_until,
};

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
            extra_config: "[tls]\nmode = \"behind-proxy\"\ntrusted_proxies = [\"127.0.0.1\"]\n",
            hsm: None,
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

    // Caddy terminates TLS with the certificate Ferrite issued for its own names (localhost
    // among them), and forwards to the ACME listener over plain HTTP, setting
    // X-Forwarded-For and X-Forwarded-Proto as it does for every upstream.
    let dir = tempfile::tempdir().unwrap();
    let caddyfile = dir.path().join("Caddyfile");
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
\treverse_proxy 127.0.0.1:{backend_port}
}}
",
            http = free_port(),
            storage = dir.path().join("storage").display(),
            cert = ferrite.data_dir.join("ca/tls.pem").display(),
            key = ferrite.data_dir.join("ca/private/tls.key").display(),
        ),
    )
    .unwrap();
    let log = dir.path().join("caddy.log");
    let _caddy = spawn_caddy(dir.path(), &caddyfile, &log);
    let proxied_directory = || https_get(&ferrite.root, "localhost", proxy_port, "/directory");
    let directory = wait_until(Duration::from_secs(30), proxied_directory).unwrap_or_else(|| {
        panic!(
            "no directory through Caddy within 30 s; its log ends:\n{}",
            log_tail(&log, 40)
        )
    });
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
