//! The customer portal in a real browser: headless Chromium (Debian `chromium`), driven over
//! WebDriver (`chromedriver`), walks what a customer's administrator does: sign in with the
//! first start's API credential → create a MAC key (the HMAC key and the client commands shown
//! once; its copy button, which the portal's script shows under its Content-Security-Policy,
//! copies or selects the key) → bind lego with
//! that key and get a certificate → see the account and the certificate → revoke it from its
//! page → see it revoked, and the overview count it and a failed validation by
//! its cause.
//! Signing out ends the session.
//!
//! A screenshot of each page is written to `$CARGO_TARGET_TMPDIR/portal-screenshots/` for a
//! human to look at. Everything runs on loopback; Chromium starts with its background
//! networking off, and every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// Each test binary uses part of the shared support module.
#[allow(dead_code)]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use support::{Challtestsrv, Ferrite, Killed, free_port, run, run_failing, wait_until};

/// chromedriver on a free loopback port, killed when dropped.
struct Chromedriver {
    url: String,
    _child: Killed,
}

impl Chromedriver {
    fn start() -> Self {
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian package chromium-driver) must be installed");
        let driver = Chromedriver {
            url: format!("http://127.0.0.1:{port}"),
            _child: Killed(child),
        };
        wait_until(Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        })
        .expect("chromedriver did not listen within 20 s");
        driver
    }

    /// A headless Chromium session with a fresh profile in `profile`, and nothing of its own
    /// on the network (no updates, sync or background requests).
    async fn browser(&self, profile: &Path) -> Client {
        let caps = json!({
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!()
        };
        tokio::time::timeout(
            Duration::from_secs(60),
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps)
                .connect(&self.url),
        )
        .await
        .expect("Chromium did not start within 60 s")
        .expect("chromedriver refused the session")
    }
}

/// Screenshots, numbered in the order taken.
struct Shots {
    dir: PathBuf,
    taken: usize,
}

impl Shots {
    fn new() -> Self {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("portal-screenshots");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Shots { dir, taken: 0 }
    }

    async fn take(&mut self, browser: &Client, name: &str) {
        self.taken += 1;
        let png = browser.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a screenshot is a PNG");
        let path = self.dir.join(format!("{:02}-{name}.png", self.taken));
        std::fs::write(&path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
    }
}

/// The text of the element with id `id`.
async fn text_of(browser: &Client, id: &str) -> String {
    browser
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("no #{id} on the page: {e}"))
        .text()
        .await
        .unwrap()
}

/// Waits (at most 20 s) for an element `locator` finds: the page a click or a form led to.
async fn arrive(browser: &Client, locator: Locator<'_>) {
    browser
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(locator)
        .await
        .unwrap_or_else(|e| panic!("the next page did not come within 20 s: {e}"));
}

/// The value the first start printed after `prefix`.
fn first_start_value(ferrite: &Ferrite, prefix: &str) -> String {
    ferrite
        .first_start
        .iter()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line in {:#?}", ferrite.first_start))
        .trim()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_signs_in_makes_a_mac_key_binds_lego_and_revokes_its_certificate() {
    let dns = Challtestsrv::start();
    let http01 = free_port();
    let ferrite = tokio::task::block_in_place(|| Ferrite::start(dns.dns_port, http01));
    let credential = first_start_value(&ferrite, "API credential id: ");
    let secret = first_start_value(&ferrite, "API credential secret: ");
    let driver = tokio::task::block_in_place(Chromedriver::start);
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.browser(profile.path()).await;
    let mut shots = Shots::new();
    let portal = ferrite.admin_url.clone();

    // Signed out, every page leads to the sign-in form.
    browser
        .goto(&format!("{portal}/certificates"))
        .await
        .unwrap();
    assert_eq!(browser.current_url().await.unwrap().path(), "/sign-in");
    shots.take(&browser, "sign-in").await;
    // A wrong secret is refused on the form itself, with a request id to quote.
    let form = browser
        .form(Locator::Css("form[action='/sign-in']"))
        .await
        .unwrap();
    form.set_by_name("credential", &credential).await.unwrap();
    form.set_by_name("secret", "not-the-secret").await.unwrap();
    form.submit().await.unwrap();
    arrive(&browser, Locator::Css("main .notice")).await;
    let refusal = text_of(&browser, "main").await;
    assert!(refusal.contains("the secret is wrong"), "{refusal}");
    assert!(refusal.contains("Request id"), "{refusal}");
    shots.take(&browser, "sign-in-refused").await;
    let form = browser
        .form(Locator::Css("form[action='/sign-in']"))
        .await
        .unwrap();
    form.set_by_name("credential", &credential).await.unwrap();
    form.set_by_name("secret", &secret).await.unwrap();
    form.submit().await.unwrap();
    arrive(&browser, Locator::Id("issued-30d")).await;
    assert_eq!(browser.current_url().await.unwrap().path(), "/");
    assert_eq!(text_of(&browser, "issued-30d").await, "0");
    shots.take(&browser, "overview-empty").await;

    // A new MAC key: its HMAC key and the client commands, shown once.
    browser.goto(&format!("{portal}/keys")).await.unwrap();
    shots.take(&browser, "keys").await;
    browser
        .find(Locator::Id("create-mac-key"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    arrive(&browser, Locator::Id("kid")).await;
    let kid = text_of(&browser, "kid").await;
    let hmac = text_of(&browser, "hmac").await;
    assert!(
        !kid.is_empty() && hmac.len() >= 43,
        "kid {kid:?}, hmac {hmac:?}"
    );
    let lego_line = text_of(&browser, "cmd-lego").await;
    assert!(
        lego_line.contains(&format!("--kid {kid} --hmac {hmac}"))
            && lego_line.starts_with("LEGO_CA_CERTIFICATES=ferrite-root.pem lego --server"),
        "{lego_line}"
    );
    assert!(
        text_of(&browser, "cmd-cert-manager")
            .await
            .contains(&format!("keyID: {kid}"))
    );
    // The portal's script ran under its Content-Security-Policy: it shows the copy buttons.
    let copy = browser
        .find(Locator::Css("button[data-copy='hmac']"))
        .await
        .unwrap();
    assert!(
        copy.is_displayed().await.unwrap(),
        "the copy button stays hidden"
    );
    // Clicked, it copies the key (the button says so) or, where the browser keeps the
    // clipboard to itself, selects it for the user to copy.
    copy.click().await.unwrap();
    let copied = browser
        .wait()
        .at_most(Duration::from_secs(5))
        .for_element(Locator::XPath(
            "//button[@data-copy='hmac' and text()='Copied']",
        ))
        .await
        .is_ok();
    let selected = browser
        .execute("return window.getSelection().toString();", vec![])
        .await
        .unwrap();
    assert!(
        copied || selected.as_str() == Some(hmac.as_str()),
        "the copy button neither copied nor selected the key (selection {selected})"
    );
    shots.take(&browser, "new-mac-key").await;
    // The key replaced the first start's: that one is disabled now.
    browser.goto(&format!("{portal}/keys")).await.unwrap();
    let keys = text_of(&browser, "main").await;
    assert!(
        keys.contains(&ferrite.eab_kid) && keys.contains("disabled"),
        "{keys}"
    );

    // lego binds an account with the key the portal showed, and gets a certificate.
    let lego_dir = tempfile::tempdir().unwrap();
    let mut lego = Command::new("lego");
    lego.env("LEGO_CA_CERTIFICATES", &ferrite.root)
        .args(["--server", &ferrite.directory, "--accept-tos"])
        .args([
            "--email",
            "admin@portal.test",
            "--eab",
            "--kid",
            &kid,
            "--hmac",
            &hmac,
        ])
        .args(["--domains", "www.portal.test", "--http", "--http.port"])
        .arg(format!("127.0.0.1:{http01}"))
        .arg("--path")
        .arg(lego_dir.path())
        .arg("run");
    tokio::task::block_in_place(|| run(lego));
    // A second name whose http-01 answer nobody serves (lego listens elsewhere): its
    // validation fails with `connection`, for the overview's failure chart.
    let failing_dir = tempfile::tempdir().unwrap();
    let mut failing = Command::new("lego");
    failing
        .env("LEGO_CA_CERTIFICATES", &ferrite.root)
        .args(["--server", &ferrite.directory, "--accept-tos"])
        .args([
            "--email",
            "admin@portal.test",
            "--eab",
            "--kid",
            &kid,
            "--hmac",
            &hmac,
        ])
        .args(["--domains", "down.portal.test", "--http", "--http.port"])
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--path")
        .arg(failing_dir.path())
        .arg("run");
    tokio::task::block_in_place(|| run_failing(failing));

    browser.goto(&format!("{portal}/accounts")).await.unwrap();
    let accounts = text_of(&browser, "main").await;
    assert!(
        accounts.contains(&kid) && accounts.contains("valid"),
        "{accounts}"
    );
    shots.take(&browser, "accounts").await;

    browser
        .goto(&format!("{portal}/certificates?domain=www.portal.test"))
        .await
        .unwrap();
    shots.take(&browser, "certificates").await;
    browser
        .find(Locator::Css("main table a"))
        .await
        .expect("the certificate is listed")
        .click()
        .await
        .unwrap();
    arrive(&browser, Locator::Id("serial")).await;
    let serial = text_of(&browser, "serial").await;
    assert_eq!(text_of(&browser, "status").await, "valid");
    shots.take(&browser, "certificate").await;

    // Revoke: the portal's script asks first; accepting sends the form.
    browser
        .find(Locator::Id("reason"))
        .await
        .unwrap()
        .select_by_value("keyCompromise")
        .await
        .unwrap();
    browser
        .find(Locator::Id("revoke"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .accept_alert()
        .await
        .expect("the revocation asks first");
    arrive(&browser, Locator::Id("revoked")).await;
    assert_eq!(text_of(&browser, "status").await, "revoked");
    assert!(text_of(&browser, "revoked").await.contains("keyCompromise"));
    shots.take(&browser, "certificate-revoked").await;
    // The list says so too, and the overview counts the issuance and the validation.
    browser
        .goto(&format!("{portal}/certificates"))
        .await
        .unwrap();
    let list = text_of(&browser, "main").await;
    assert!(list.contains(&serial) && list.contains("revoked"), "{list}");
    browser
        .goto(&format!("{portal}/validations"))
        .await
        .unwrap();
    let validations = text_of(&browser, "main").await;
    assert!(validations.contains("www.portal.test") && validations.contains("http-01"));
    shots.take(&browser, "validations").await;
    browser.goto(&format!("{portal}/")).await.unwrap();
    assert_eq!(text_of(&browser, "issued-30d").await, "1");
    assert_eq!(text_of(&browser, "failed-30d").await, "1");
    assert_eq!(text_of(&browser, "account-count").await, "2");
    let overview = browser.source().await.unwrap();
    assert!(overview.contains("1 in all. connection: 1."), "{overview}");
    shots.take(&browser, "overview").await;

    // Signing out ends the session: the pages lead to the sign-in form again.
    browser
        .find(Locator::Css("form.signout button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    arrive(&browser, Locator::Css("form[action='/sign-in']")).await;
    assert_eq!(browser.current_url().await.unwrap().path(), "/sign-in");
    browser.goto(&format!("{portal}/keys")).await.unwrap();
    assert_eq!(browser.current_url().await.unwrap().path(), "/sign-in");
    browser.close().await.unwrap();
    assert!(shots.taken >= 10);
}
