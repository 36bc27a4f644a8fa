//! Issuance policy end to end through a whole `TestCa` with hand-signed
//! requests: weak RSA keys (small factors, Fermat-close primes) and blocklisted keys are
//! `badPublicKey`; the CSR rules and their config switches; certificate validity by issuance
//! date (Baseline Requirements §6.3.2, with a `TestClock`, no sleeping); and a lint failure
//! answered with `serverInternal` plus a `ferrite::audit` event, with nothing signed.
//! Only 127.0.0.1 is contacted; every test is bounded in time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferrite_testkit::{assert_problem, bounded};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ferrite_core::TestClock;
use ferrite_jose::Algorithm;
use ferrite_testkit::ca::{csr_der, pem_chain};
use ferrite_testkit::keys::{ChosenRsaKey, P_CLOSE};
use ferrite_testkit::{RawAccount, RawClient, TestCa, TestCaOptions};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer, X509Certificate};

/// Finalizes and waits for the certificate; returns the leaf, parsed fields owned.
async fn finalize_ok(
    ca: &TestCa,
    raw: &RawClient,
    a: &RawAccount,
    order_url: &str,
    order: &Value,
    csr: &[u8],
) -> Vec<u8> {
    let r = ca.raw_finalize(raw, a, order, csr).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let order = raw
        .poll(&a.key, &a.kid, order_url, |o| o["status"] != "processing")
        .await;
    assert_eq!(order["status"], "valid", "{order}");
    let cert_url = order["certificate"].as_str().unwrap();
    let r = raw.post_as_get(&a.key, &a.kid, cert_url).await;
    assert_eq!(r.status, 200);
    pem_chain(&String::from_utf8(r.body).unwrap()).remove(0)
}

// --- weak and compromised keys ----------------------------------------------------------------

#[tokio::test]
async fn weak_rsa_keys_are_bad_public_keys() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let names = ["weak-rsa.example.com"];
        let (order_url, order) = ca.raw_ready_order(&raw, &a, &names).await;

        // A 2048-bit modulus divisible by 9973, the largest prime below the bound.
        let small = ChosenRsaKey::small_factor();
        let r = ca
            .raw_finalize(&raw, &a, &order, &csr_der(&names, &small))
            .await;
        let detail = assert_problem(&r, 400, "badPublicKey");
        assert!(detail.contains("prime factor below 10000"), "{detail}");
        assert!(detail.contains("generate a new key pair"), "{detail}");

        // Two primes next to each other: Fermat's method splits the modulus at once.
        let close = ChosenRsaKey::close_primes();
        let r = ca
            .raw_finalize(&raw, &a, &order, &csr_der(&names, &close))
            .await;
        let detail = assert_problem(&r, 400, "badPublicKey");
        assert!(detail.contains("Fermat"), "{detail}");
        // The detail never leaks a factor.
        assert!(!detail.contains(&P_CLOSE[..16]), "{detail}");

        // Control: the same construction with primes 157 Fermat rounds apart (beyond the
        // default 100) is an acceptable key, so the refusals above are the weak-key checks.
        let far = ChosenRsaKey::far_primes();
        let leaf = finalize_ok(&ca, &raw, &a, &order_url, &order, &csr_der(&names, &far)).await;
        let (_, cert) = X509Certificate::from_der(&leaf).unwrap();
        assert_eq!(
            cert.public_key().raw,
            rcgen::PublicKeyData::subject_public_key_info(&far)
        );
    })
    .await;
}

#[tokio::test]
async fn fermat_rounds_are_configurable() {
    bounded(async {
        let ca = TestCa::start_with(options(|c| c.issuance.fermat_rounds = 200)).await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let names = ["fermat.example.com"];
        let (_, order) = ca.raw_ready_order(&raw, &a, &names).await;
        let far = ChosenRsaKey::far_primes();
        let r = ca
            .raw_finalize(&raw, &a, &order, &csr_der(&names, &far))
            .await;
        let detail = assert_problem(&r, 400, "badPublicKey");
        assert!(detail.contains("157 round"), "{detail}");
    })
    .await;
}

#[tokio::test]
async fn blocklisted_keys_are_refused_as_compromised() {
    bounded(async {
        let leaked = rcgen::KeyPair::generate().unwrap();
        let leaked_spki = rcgen::PublicKeyData::subject_public_key_info(&leaked);
        // The operator's file: the SHA-256 of the DER SubjectPublicKeyInfo, hex, one a line.
        let list = tempfile::NamedTempFile::new().unwrap();
        let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &leaked_spki);
        let hex: String = hash.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        std::fs::write(list.path(), format!("# leaked in a test\n{hex}\n")).unwrap();
        let path = list.path().to_string_lossy().into_owned();
        let ca = TestCa::start_with(options(move |c| c.issuance.blocked_keys_file = path)).await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let names = ["leaked.example.com"];
        let (order_url, order) = ca.raw_ready_order(&raw, &a, &names).await;

        let r = ca
            .raw_finalize(&raw, &a, &order, &csr_der(&names, &leaked))
            .await;
        let detail = assert_problem(&r, 400, "badPublicKey");
        let hash: String = ferrite_pki::spki_sha256(&leaked_spki)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(detail.contains("compromised"), "{detail}");
        assert!(detail.contains(&hash), "{detail}");

        let fresh = rcgen::KeyPair::generate().unwrap();
        finalize_ok(&ca, &raw, &a, &order_url, &order, &csr_der(&names, &fresh)).await;
    })
    .await;
}

// --- the CSR rules and their switches ---------------------------------------------------------

#[tokio::test]
async fn eku_in_a_csr_is_refused_unless_allowed() {
    bounded(async {
        let eku_csr = |names: &[&str], key: &rcgen::KeyPair| {
            let mut params = rcgen::CertificateParams::new(
                names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>(),
            )
            .unwrap();
            params.distinguished_name = rcgen::DistinguishedName::new();
            params.extended_key_usages = vec![
                rcgen::ExtendedKeyUsagePurpose::ServerAuth,
                rcgen::ExtendedKeyUsagePurpose::ClientAuth,
            ];
            params.serialize_request(key).unwrap().der().to_vec()
        };
        let key = rcgen::KeyPair::generate().unwrap();
        let names = ["eku.example.com"];

        let ca = TestCa::start().await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let (order_url, order) = ca.raw_ready_order(&raw, &a, &names).await;
        let r = ca
            .raw_finalize(&raw, &a, &order, &eku_csr(&names, &key))
            .await;
        let detail = assert_problem(&r, 400, "badCSR");
        assert!(detail.contains("Extended Key Usage"), "{detail}");
        assert!(detail.contains("sets key usages itself"), "{detail}");
        assert!(detail.contains("acme.sh"), "{detail}");
        // The same key without the EKU is fine: the refusal was the EKU.
        finalize_ok(&ca, &raw, &a, &order_url, &order, &csr_der(&names, &key)).await;

        // With the switch on, the CSR's EKU is ignored: the certificate is serverAuth only.
        let lenient =
            TestCa::start_with(options(|c| c.issuance.allow_csr_extended_key_usage = true)).await;
        let raw = lenient.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let (order_url, order) = lenient.raw_ready_order(&raw, &a, &names).await;
        let leaf = finalize_ok(
            &lenient,
            &raw,
            &a,
            &order_url,
            &order,
            &eku_csr(&names, &key),
        )
        .await;
        let (_, cert) = X509Certificate::from_der(&leaf).unwrap();
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && !eku.client_auth, "{eku:?}");
    })
    .await;
}

#[tokio::test]
async fn key_kinds_and_signature_algorithms() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let names = ["kinds.example.com"];
        let (order_url, order) = ca.raw_ready_order(&raw, &a, &names).await;

        // Ed25519 is not a TLS server certificate key.
        let ed = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let r = ca
            .raw_finalize(&raw, &a, &order, &csr_der(&names, &ed))
            .await;
        let detail = assert_problem(&r, 400, "badPublicKey");
        assert!(detail.contains("Ed25519"), "{detail}");

        // P-384 signs with SHA-384: badCSR naming the algorithm and the fix.
        let p384 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let r = ca
            .raw_finalize(&raw, &a, &order, &csr_der(&names, &p384))
            .await;
        let detail = assert_problem(&r, 400, "badCSR");
        assert!(detail.contains("ECDSA with SHA-384"), "{detail}");
        assert!(detail.contains("--key-type ec256"), "{detail}");

        // RSA 2048 with SHA-256 is accepted.
        let rsa = ferrite_testkit::keys::rsa_2048();
        finalize_ok(&ca, &raw, &a, &order_url, &order, &csr_der(&names, &rsa)).await;

        // With allow_sha384_sha512 the P-384/SHA-384 CSR is issued.
        let lenient =
            TestCa::start_with(options(|c| c.issuance.allow_sha384_sha512_csr = true)).await;
        let raw = lenient.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let (order_url, order) = lenient.raw_ready_order(&raw, &a, &names).await;
        finalize_ok(
            &lenient,
            &raw,
            &a,
            &order_url,
            &order,
            &csr_der(&names, &p384),
        )
        .await;
    })
    .await;
}

/// RFC 8555 §7.4: the CSR's names, commonName included, must equal the order's identifiers.
#[tokio::test]
async fn common_name_counts_as_a_requested_name() {
    bounded(async {
        let ca = TestCa::start().await;
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let names = ["cn.example.com"];
        let (order_url, order) = ca.raw_ready_order(&raw, &a, &names).await;
        let key = rcgen::KeyPair::generate().unwrap();
        let with_cn = |cn: &str| {
            let mut params = rcgen::CertificateParams::new(vec![names[0].to_owned()]).unwrap();
            params.distinguished_name = rcgen::DistinguishedName::new();
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, cn);
            params.serialize_request(&key).unwrap().der().to_vec()
        };
        let r = ca
            .raw_finalize(&raw, &a, &order, &with_cn("other.example.com"))
            .await;
        let detail = assert_problem(&r, 400, "badCSR");
        assert!(detail.contains("other.example.com"), "{detail}");
        // A commonName that is one of the identifiers (any case) is fine.
        finalize_ok(
            &ca,
            &raw,
            &a,
            &order_url,
            &order,
            &with_cn("CN.example.com"),
        )
        .await;
    })
    .await;
}

// --- validity by issuance date ----------------------------------------------------------------

/// A clock a minute ahead of the real one: the CA's intermediate is created at the real now,
/// and a leaf may not start before its issuer.
fn clock_from_now() -> Arc<TestClock> {
    Arc::new(TestClock::new(
        OffsetDateTime::now_utc() + Duration::minutes(1),
    ))
}

/// The validity period of a certificate, both ends counted (Baseline Requirements §6.3.2).
fn period(leaf: &[u8]) -> Duration {
    let (_, cert) = X509Certificate::from_der(leaf).unwrap();
    cert.validity().not_after.to_datetime() - cert.validity().not_before.to_datetime()
        + Duration::seconds(1)
}

async fn issue_period(ca: &TestCa, name: &str) -> Duration {
    let raw = ca.raw();
    let a = RawAccount::register(&raw, Algorithm::ES256).await;
    period(&ca.raw_issue(&raw, &a, &[name]).await.leaf_der)
}

#[tokio::test]
async fn default_validity_is_90_days() {
    bounded(async {
        let ca = TestCa::start().await;
        assert_eq!(
            issue_period(&ca, "ninety.example.com").await,
            Duration::days(90)
        );
    })
    .await;
}

/// A certificate profile is a configuration entry: a `[profiles.NAME]` table picked by
/// `issuance.profile` decides the validity and the keys certified, and the lint checks what
/// it says.
#[tokio::test]
async fn a_profile_from_configuration_issues_its_certificates() {
    bounded(async {
        let ca = TestCa::start_with(options(|c| {
            let mut shortlived = ferrite_pki::Profile::tls_server();
            shortlived.name = "shortlived".to_owned();
            shortlived.validity_seconds = 6 * 24 * 3600;
            shortlived.key_types = vec![ferrite_pki::KeyType::P256];
            c.profiles.insert("shortlived".to_owned(), shortlived);
            c.issuance.profile = "shortlived".to_owned();
        }))
        .await;
        assert_eq!(
            issue_period(&ca, "six.example.com").await,
            Duration::days(6)
        );
        // An RSA key, which the CSR policy accepts, is not one the profile certifies:
        // badPublicKey naming the profile and what it certifies.
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let names = ["rsa.example.com"];
        let (_, order) = ca.raw_ready_order(&raw, &a, &names).await;
        let rsa = ferrite_testkit::keys::rsa_2048();
        let r = ca
            .raw_finalize(&raw, &a, &order, &csr_der(&names, &rsa))
            .await;
        let detail = assert_problem(&r, 400, "badPublicKey");
        assert!(
            detail.contains("\"shortlived\"") && detail.contains("p256"),
            "{detail}"
        );
    })
    .await;
}

#[tokio::test]
async fn configured_validity_is_cut_to_the_br_maximum_of_the_issuance_date() {
    bounded(async {
        assert!(OffsetDateTime::now_utc() >= datetime!(2026-03-15 00:00 UTC));
        let clock = clock_from_now();
        let ca = TestCa::start_with(TestCaOptions {
            clock: clock.clone(),
            ..options(|c| c.issuance.validity_days = 200)
        })
        .await;
        // 2026-03-15 .. 2027-03-15: 200 days.
        assert_eq!(
            issue_period(&ca, "d200.example.com").await,
            Duration::days(200)
        );

        // From 2027-03-15: 100 days.
        let now = clock_now(&clock);
        clock.advance(datetime!(2027-04-01 00:00 UTC) - now);
        assert_eq!(
            issue_period(&ca, "d100.example.com").await,
            Duration::days(100)
        );

        // From 2029-03-15: 47 days.
        clock.advance(datetime!(2029-04-01 00:00 UTC) - datetime!(2027-04-01 00:00 UTC));
        assert_eq!(
            issue_period(&ca, "d47.example.com").await,
            Duration::days(47)
        );
    })
    .await;
}

/// The default options with `change` made to the configuration.
fn options(change: impl FnOnce(&mut ferrite_app::Config)) -> TestCaOptions {
    let mut options = TestCaOptions::default();
    change(&mut options.config);
    options
}

fn clock_now(clock: &TestClock) -> OffsetDateTime {
    ferrite_core::Clock::now(clock)
}

#[tokio::test]
async fn requested_not_after_beyond_the_maximum_is_malformed() {
    bounded(async {
        let clock = clock_from_now();
        let ca = TestCa::start_with(TestCaOptions {
            clock: clock.clone(),
            ..options(|c| c.issuance.validity_days = 200)
        })
        .await;
        let now = clock_now(&clock);
        clock.advance(datetime!(2027-06-01 00:00 UTC) - now);
        let now = clock_now(&clock);
        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let new_order = |not_after: OffsetDateTime| {
            let (raw, a, ca) = (&raw, &a, &ca);
            async move {
                raw.post(
                    &a.key,
                    Some(&a.kid),
                    &ca.url("/acme/new-order"),
                    Some(&json!({
                        "identifiers": [{"type": "dns", "value": "long.example.com"}],
                        "notAfter": not_after.format(&Rfc3339).unwrap(),
                    })),
                )
                .await
            }
        };
        // 100 days and one second, counted from now: one second too long.
        let r = new_order(now + Duration::days(100)).await;
        let detail = assert_problem(&r, 400, "malformed");
        assert!(detail.contains("maximum of 100 days"), "{detail}");
        // Exactly 100 days, both ends counted: accepted.
        let r = new_order(now + Duration::days(100) - Duration::seconds(1)).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    })
    .await;
}

// --- lint before sign: serverInternal and an audit event --------------------------------------

/// Records `ferrite::audit` events with their fields, plus the `request_id` of the span they
/// were emitted in.
#[derive(Clone, Default)]
struct AuditCapture {
    events: Arc<Mutex<Vec<BTreeMap<String, String>>>>,
}

struct Fields(BTreeMap<String, String>);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(
            field.name().to_owned(),
            format!("{value:?}").trim_matches('"').to_owned(),
        );
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S> tracing_subscriber::Layer<S> for AuditCapture
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut fields = Fields(BTreeMap::new());
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "ferrite::audit" {
            return;
        }
        let mut fields = Fields(BTreeMap::new());
        event.record(&mut fields);
        fields
            .0
            .insert("level".into(), event.metadata().level().to_string());
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                if let Some(id) = span
                    .extensions()
                    .get::<Fields>()
                    .and_then(|f| f.0.get("request_id").cloned())
                {
                    fields.0.insert("request_id".into(), id);
                }
            }
        }
        self.events.lock().unwrap().push(fields.0);
    }
}

/// The process-wide capture. A global subscriber, not a scoped one: a scoped dispatcher races
/// with the other tests' threads over tracing's per-callsite interest cache, and then misses
/// the request span now and then.
fn audit_capture() -> &'static AuditCapture {
    use tracing_subscriber::layer::SubscriberExt;
    static CAPTURE: std::sync::OnceLock<AuditCapture> = std::sync::OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = AuditCapture::default();
        tracing::subscriber::set_global_default(
            tracing_subscriber::registry().with(capture.clone()),
        )
        .expect("no other global subscriber in this test binary");
        capture
    })
}

/// Every intermediate has expired: nothing may sign. The client gets `serverInternal`, the
/// operator an audit event naming the order, the failed check and the request id, and no
/// certificate exists. (A leaf that would outlive its intermediate is cut to its notAfter
/// instead: `issuers.rs`; the lint's own refusals are `ferrite-pki`'s tests.)
#[tokio::test]
async fn a_refused_issuance_is_server_internal_with_an_audit_event() {
    let capture = audit_capture();
    bounded(async {
        let clock = clock_from_now();
        let ca = TestCa::start_with(TestCaOptions {
            clock: clock.clone(),
            ..TestCaOptions::default()
        })
        .await;
        let (_, intermediate) =
            X509Certificate::from_der(ca.ca.issuer().certificate_der()).unwrap();
        let expires = intermediate.validity().not_after.to_datetime();
        clock.advance(expires + Duration::days(1) - clock_now(&clock));

        let raw = ca.raw();
        let a = RawAccount::register(&raw, Algorithm::ES256).await;
        let names = ["late.example.com"];
        let (order_url, order) = ca.raw_ready_order(&raw, &a, &names).await;
        let key = rcgen::KeyPair::generate().unwrap();
        let r = ca
            .raw_finalize(&raw, &a, &order, &csr_der(&names, &key))
            .await;
        let detail = assert_problem(&r, 500, "serverInternal");
        assert!(detail.contains("request id"), "{detail}");
        let request_id = r.header("x-request-id").expect("X-Request-Id");

        // Nothing was signed: the order is invalid and has no certificate.
        let o = raw.post_as_get(&a.key, &a.kid, &order_url).await.json();
        assert_eq!(o["status"], "invalid", "{o}");
        assert!(o.get("certificate").is_none(), "{o}");
        let order_id = order_url.rsplit('/').next().unwrap().to_owned();

        let events: Vec<_> = capture
            .events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.get("order") == Some(&order_id))
            .cloned()
            .collect();
        assert_eq!(events.len(), 1, "{events:?}");
        let e = &events[0];
        assert_eq!(e["level"], "WARN", "{e:?}");
        assert_eq!(e["event"], "issuance_refused", "{e:?}");
        assert_eq!(e["check"], "issuer", "{e:?}");
        assert_eq!(e["order"], order_id, "{e:?}");
        assert_eq!(e["request_id"], request_id, "{e:?}");
        assert!(e["detail"].contains("intermediate"), "{e:?}");
    })
    .await;
}

/// Issues a certificate for `name` from an order that asked for `requested` as notBefore
/// (`between` runs after newOrder, before validation) and returns the certificate's notBefore.
async fn issued_not_before(
    ca: &TestCa,
    name: &str,
    requested: OffsetDateTime,
    between: impl FnOnce(),
) -> OffsetDateTime {
    let raw = ca.raw();
    let a = RawAccount::register(&raw, Algorithm::ES256).await;
    let r = raw
        .post(
            &a.key,
            Some(&a.kid),
            &ca.url("/acme/new-order"),
            Some(&json!({
                "identifiers": [{"type": "dns", "value": name}],
                "notBefore": requested.format(&Rfc3339).unwrap(),
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let order_url = r.header("location").unwrap();
    let order = r.json();
    between();
    let authz = order["authorizations"][0].as_str().unwrap();
    ca.raw_validate_http01(&raw, &a, authz).await;
    let key = rcgen::KeyPair::generate().unwrap();
    let r = ca
        .raw_finalize(&raw, &a, &order, &csr_der(&[name], &key))
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let order = raw.post_as_get(&a.key, &a.kid, &order_url).await.json();
    let cert = raw
        .post_as_get(&a.key, &a.kid, order["certificate"].as_str().unwrap())
        .await;
    let leaf = pem_chain(&String::from_utf8(cert.body).unwrap()).remove(0);
    let (_, x509) = X509Certificate::from_der(&leaf).unwrap();
    x509.validity().not_before.to_datetime()
}

/// No certificate starts before its intermediate: on a CA created moments ago, an order asking
/// for a notBefore of half an hour ago (allowed: up to an hour back) gets a certificate that
/// starts when the intermediate does, instead of one the lint must refuse.
#[tokio::test]
async fn a_requested_not_before_earlier_than_the_intermediate_starts_with_it() {
    bounded(async {
        let ca = TestCa::start().await;
        let (_, intermediate) =
            X509Certificate::from_der(ca.ca.issuer().certificate_der()).unwrap();
        let intermediate_starts = intermediate.validity().not_before.to_datetime();
        let requested = OffsetDateTime::now_utc() - Duration::minutes(30);
        assert!(requested < intermediate_starts);
        let not_before = issued_not_before(&ca, "early.example.com", requested, || {}).await;
        assert_eq!(not_before, intermediate_starts);
    })
    .await;
}

/// A notBefore accepted at newOrder is not honoured into a backdated certificate: an order
/// finalized three days later starts at most an hour before its issuance.
#[tokio::test]
async fn a_stale_requested_not_before_is_not_backdated() {
    bounded(async {
        let clock = clock_from_now();
        let ca = TestCa::start_with(TestCaOptions {
            clock: clock.clone(),
            ..TestCaOptions::default()
        })
        .await;
        let requested = clock_now(&clock);
        let not_before = issued_not_before(&ca, "late.example.com", requested, || {
            clock.advance(Duration::days(3))
        })
        .await;
        let issued_at = clock_now(&clock);
        assert!(
            // Certificates keep whole seconds.
            not_before >= issued_at - Duration::hours(1) - Duration::seconds(1)
                && not_before <= issued_at,
            "notBefore {not_before} for an issuance at {issued_at} (requested {requested})"
        );
    })
    .await;
}
