//! What real clients send, read back by the parsers the fuzz targets in `fuzz/` exercise: an
//! instant-acme session (EAB newAccount, orders over http-01, dns-01 and tls-alpn-01, finalize,
//! key change, contact update, revocation, deactivation) recorded request by request, plus a
//! newAccount signed with each account-key algorithm. Every recorded JWS, payload, CSR and
//! certificate must parse. With `FERRITE_FUZZ_CORPUS=DIR` the recording is also written as the
//! fuzz targets' seed corpora, `DIR/<target>/<sha256 of the file>` (fuzz/seed-corpus.sh).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use ferrite_jose::eab::ExternalAccountBinding;
use ferrite_jose::sign::SigningKey;
use ferrite_jose::{ACCOUNT_KEY_ALGORITHMS, Jwk, Jws, KeyRef};
use ferrite_testkit::ca::{csr_der, csr_der_with, pem_chain};
use ferrite_testkit::eab::new_customer_key;
use ferrite_testkit::raw::RawClient;
use ferrite_testkit::{TestCa, TestCaOptions, bounded};
use http_body_util::{BodyExt, Full};
use instant_acme::{
    BodyWrapper, BytesResponse, ChallengeType, ExternalAccountKey, HttpClient, Identifier,
    NewAccount, NewOrder, OrderStatus, RetryPolicy, RevocationReason, RevocationRequest,
};
use rustls_pki_types::CertificateDer;
use serde_json::{Value, json};

/// An instant-acme HTTP client that sends each request through a [`RawClient`] and keeps
/// every request body it sent.
struct Recorder {
    raw: RawClient,
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl HttpClient for Recorder {
    fn request(
        &self,
        req: http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let raw = self.raw.clone();
        let bodies = self.bodies.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .expect("infallible")
                .to_bytes()
                .to_vec();
            let content_type = parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            if !body.is_empty() {
                bodies.lock().unwrap().push(body.clone());
            }
            let response = raw
                .send(
                    parts.method.as_str(),
                    &parts.uri.to_string(),
                    content_type,
                    body,
                )
                .await;
            let mut builder = http::Response::builder().status(response.status);
            for (name, value) in &response.headers {
                builder = builder.header(name, value);
            }
            let response = builder
                .body(Full::new(Bytes::from(response.body)))
                .expect("response");
            Ok(BytesResponse::from(response))
        })
    }
}

fn retry() -> RetryPolicy {
    RetryPolicy::new()
        .initial_delay(Duration::from_millis(100))
        .backoff(1.5)
        .timeout(Duration::from_secs(20))
}

/// The key authorization the VA targets expect (the RFC 8555 §8.3 example's shape).
const KEY_AUTHORIZATION: &str =
    "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";

/// Seed files by target.
#[derive(Default)]
struct Corpus(BTreeMap<&'static str, Vec<Vec<u8>>>);

impl Corpus {
    fn add(&mut self, target: &'static str, data: impl Into<Vec<u8>>) {
        self.0.entry(target).or_default().push(data.into());
    }

    fn write(&self, dir: &Path) {
        for (target, files) in &self.0 {
            let dir = dir.join(target);
            std::fs::create_dir_all(&dir).unwrap();
            for data in files {
                let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
                let name: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
                std::fs::write(dir.join(name), data).unwrap();
            }
        }
    }
}

/// The length-prefixed framing of `ferrite_fuzz::Input`.
fn framed(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        out.extend_from_slice(&u16::try_from(part.len()).unwrap().to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

/// A TXT RDATA: the value in character-strings of at most 255 bytes.
fn txt_rdata(value: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in value.as_bytes().chunks(255) {
        out.push(u8::try_from(chunk.len()).unwrap());
        out.extend_from_slice(chunk);
    }
    out
}

/// A CAA RDATA (RFC 8659 §4.1).
fn caa_rdata(flags: u8, tag: &str, value: &str) -> Vec<u8> {
    let mut out = vec![flags, u8::try_from(tag.len()).unwrap()];
    out.extend_from_slice(tag.as_bytes());
    out.extend_from_slice(value.as_bytes());
    out
}

/// Reads one recorded request body as the server does and files its parts under the targets
/// that parse them.
fn file_request(body: &[u8], corpus: &mut Corpus) {
    let jws = Jws::parse(body).unwrap_or_else(|e| {
        panic!(
            "a recorded request does not parse ({e}): {}",
            String::from_utf8_lossy(body)
        )
    });
    corpus.add("jws", body);
    if let KeyRef::Jwk(key) = &jws.protected.key {
        jws.verify(key).expect("a recorded jwk request verifies");
        corpus.add("jwk", serde_json::to_vec(&key.to_json()).unwrap());
        corpus.add("spki", key.to_spki_der());
    }
    if jws.payload.is_empty() {
        return;
    }
    corpus.add("request_json", jws.payload.clone());
    let payload: Value = jws.payload_json().expect("a recorded payload is JSON");
    if let Some(eab) = payload.get("externalAccountBinding") {
        ExternalAccountBinding::parse(eab).expect("a recorded EAB parses");
        corpus.add("eab", serde_json::to_vec(eab).unwrap());
    }
    if payload.get("identifiers").is_some() {
        corpus.add("identifiers", jws.payload.clone());
        for id in payload["identifiers"].as_array().unwrap() {
            corpus.add("dns_name", id["value"].as_str().unwrap());
        }
    }
    if let Some(csr) = payload.get("csr").and_then(Value::as_str) {
        let der = URL_SAFE_NO_PAD.decode(csr).unwrap();
        ferrite_pki::Csr::parse(&der).expect("a recorded CSR parses");
        corpus.add("csr", der);
    }
    if let Some(cert) = payload.get("certificate").and_then(Value::as_str) {
        let der = URL_SAFE_NO_PAD.decode(cert).unwrap();
        ferrite_pki::parse_certificate(&der).expect("a recorded certificate parses");
        corpus.add("certificate", der);
    }
    if payload.get("protected").is_some() && payload.get("externalAccountBinding").is_none() {
        // keyChange: the payload is the inner JWS.
        let inner = Jws::from_value(&payload).expect("a recorded inner JWS parses");
        assert!(matches!(inner.protected.key, KeyRef::Jwk(_)));
        corpus.add("key_change", jws.payload.clone());
        corpus.add("jws", jws.payload.clone());
    }
}

/// The tls-alpn-01 certificate of RFC 8737 §3 for `domain`, as a client's TLS server presents
/// it: self-signed, one dNSName, the critical acmeIdentifier extension.
fn tls_alpn_certificate(domain: &str, key_authorization: &str, critical: bool) -> Vec<u8> {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![domain.to_owned()]).unwrap();
    let digest = ferrite_va::tlsalpn01_digest(key_authorization);
    let mut extension = rcgen::CustomExtension::new_acme_identifier(&digest);
    extension.set_criticality(critical);
    params.custom_extensions.push(extension);
    params.self_signed(&key).unwrap().der().to_vec()
}

/// What the validation targets start from: answers a customer's servers give.
fn validation_seeds(corpus: &mut Corpus) {
    let digest = ferrite_va::dns01_txt_value(KEY_AUTHORIZATION);
    corpus.add("dns01", framed(&[&txt_rdata(&digest)]));
    corpus.add(
        "dns01",
        framed(&[&txt_rdata("v=spf1 -all"), &txt_rdata(&digest)]),
    );
    corpus.add("dns01", framed(&[&txt_rdata(&format!("{digest} "))]));
    corpus.add("dns01", framed(&[&[20, b'a', b'b'][..]]));

    let flags = |wildcard: bool, method: u8| u8::from(wildcard) | (method << 1);
    for (wildcard, method, records) in [
        (false, 1, vec![caa_rdata(0, "issue", "ca.example")]),
        (true, 0, vec![caa_rdata(0, "issuewild", ";")]),
        (
            false,
            2,
            vec![
                caa_rdata(
                    0,
                    "issue",
                    "ca.example; accounturi=https://ca.example/acme/account/1; validationmethods=dns-01",
                ),
                caa_rdata(0, "iodef", "mailto:security@example.com"),
            ],
        ),
        (false, 3, vec![caa_rdata(128, "tbs", "unknown")]),
        (false, 1, vec![caa_rdata(0, "issue", "other.example")]),
    ] {
        let rdatas: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        let mut data = vec![flags(wildcard, method)];
        data.extend(framed(&rdatas));
        corpus.add("caa", data);
    }

    let http = |status: u16, location: &str, body: &[u8]| {
        let mut data = status.to_be_bytes().to_vec();
        data.extend(framed(&[location.as_bytes()]));
        data.extend_from_slice(body);
        data
    };
    corpus.add("http01", http(200, "", KEY_AUTHORIZATION.as_bytes()));
    corpus.add(
        "http01",
        http(200, "", format!("{KEY_AUTHORIZATION}\r\n").as_bytes()),
    );
    corpus.add("http01", http(404, "", b"<html>Not Found</html>"));
    corpus.add(
        "http01",
        http(
            302,
            "https://www.example.com/.well-known/acme-challenge/token",
            b"",
        ),
    );
    corpus.add("http01", http(301, "/other/path?x=1#f", b""));
    corpus.add("http01", http(307, "http://192.0.2.1:8080/x", b""));

    for critical in [true, false] {
        corpus.add(
            "tlsalpn01",
            tls_alpn_certificate("www.example.com", KEY_AUTHORIZATION, critical),
        );
    }
    corpus.add(
        "tlsalpn01",
        tls_alpn_certificate("www.example.com", "another key authorization", true),
    );
}

/// Seeds the session above does not produce: CSRs of every key type and with what a CSR may
/// ask for beyond names (a commonName, an Extended Key Usage, an IP address), key changes
/// signed with every algorithm, and identifier values of every shape the LDH check judges.
fn fixture_seeds(corpus: &mut Corpus) {
    for alg in [
        &rcgen::PKCS_ECDSA_P256_SHA256,
        &rcgen::PKCS_ECDSA_P384_SHA384,
        &rcgen::PKCS_ED25519,
        &rcgen::PKCS_RSA_SHA256,
    ] {
        let key = rcgen::KeyPair::generate_for(alg).unwrap();
        corpus.add("csr", csr_der(&["www.example.com", "example.com"], &key));
    }
    let key = rcgen::KeyPair::generate().unwrap();
    for edit in [
        (|p: &mut rcgen::CertificateParams| {
            p.distinguished_name
                .push(rcgen::DnType::CommonName, "www.example.com");
        }) as fn(&mut rcgen::CertificateParams),
        |p| p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth],
        |p| {
            p.subject_alt_names
                .push(rcgen::SanType::IpAddress([192, 0, 2, 1].into()));
        },
    ] {
        let der = csr_der_with(&["www.example.com"], &key, edit);
        ferrite_pki::Csr::parse(&der).expect("a fixture CSR parses");
        corpus.add("csr", der);
    }

    let url = "https://ca.example/acme/key-change";
    let old = SigningKey::generate(ferrite_jose::Algorithm::ES256).unwrap();
    for alg in ACCOUNT_KEY_ALGORITHMS {
        let new = SigningKey::generate(*alg).unwrap();
        let payload = json!({
            "account": "https://ca.example/acme/account/1",
            "oldKey": old.public_jwk().to_json(),
        });
        let inner = new.sign(None, None, url, Some(&payload)).unwrap();
        corpus.add("key_change", serde_json::to_vec(&inner).unwrap());
        corpus.add(
            "jwk",
            serde_json::to_vec(&new.public_jwk().to_json()).unwrap(),
        );
    }

    for name in [
        "example.com",
        "*.example.com",
        "a-b.c0.example.co.uk",
        "xn--bcher-kva.example",
        "Example.COM",
        "example.com.",
        "1.2.0.192.in-addr.arpa",
        "*.com",
        "a..b",
        "-a.example",
        "localhost",
        "192.0.2.1",
    ] {
        corpus.add("dns_name", name);
    }
    corpus.add(
        "identifiers",
        serde_json::to_vec(&json!({"identifiers": [
            {"type": "dns", "value": "WWW.Example.com"},
            {"type": "dns", "value": "www.example.com"},
            {"type": "ip", "value": "192.0.2.1"},
            {"type": "dns", "value": "*.co.uk"},
            {"type": "dns", "value": "blocked.example"},
        ]}))
        .unwrap(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_client_traffic_parses() {
    bounded(async {
        let mut options = TestCaOptions::default();
        options.config.eab.required = true;
        let ca = TestCa::start_with(options).await;
        let issued = new_customer_key(&ca.ca, "example-corp").await;
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let recorder = Recorder {
            raw: ca.raw(),
            bodies: bodies.clone(),
        };
        let eab = ExternalAccountKey::new(issued.kid.clone(), &issued.hmac);
        let (mut account, _) = instant_acme::Account::builder_with_http(Box::new(recorder))
            .create(
                &NewAccount {
                    contact: &["mailto:ops@example.com"],
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                },
                ca.directory_url.clone(),
                Some(&eab),
            )
            .await
            .expect("newAccount with EAB");

        let mut certificates = Vec::new();
        for (names, kind) in [
            (&["www.example.com"][..], ChallengeType::Http01),
            (
                &["*.wild.example.org", "wild.example.org"][..],
                ChallengeType::Dns01,
            ),
            (&["tls.example.net"][..], ChallengeType::TlsAlpn01),
        ] {
            let ids: Vec<Identifier> = names.iter().map(|n| Identifier::Dns((*n).into())).collect();
            let mut order = account.new_order(&NewOrder::new(&ids)).await.unwrap();
            ca.answer(&mut order, kind).await;
            assert_eq!(
                order.poll_ready(&retry()).await.unwrap(),
                OrderStatus::Ready
            );
            order.finalize().await.unwrap();
            certificates.push(order.poll_certificate(&retry()).await.unwrap());
        }
        account
            .update_contacts(&["mailto:admin@example.com", "mailto:ops@example.org"])
            .await
            .unwrap();
        let _new_credentials = account.update_key().await.unwrap();
        let leaf = CertificateDer::from(pem_chain(&certificates[0])[0].clone());
        account
            .revoke(&RevocationRequest {
                certificate: &leaf,
                reason: Some(RevocationReason::Superseded),
            })
            .await
            .unwrap();
        account.deactivate().await.unwrap();

        let mut corpus = Corpus::default();
        let bodies = bodies.lock().unwrap().clone();
        assert!(
            bodies.len() >= 15,
            "only {} requests recorded",
            bodies.len()
        );
        for body in &bodies {
            file_request(body, &mut corpus);
        }

        // A newAccount signed with every account-key algorithm the CA accepts, as the
        // testkit's own client signs it.
        let raw = ca.raw();
        for alg in ACCOUNT_KEY_ALGORITHMS {
            let key = SigningKey::generate(*alg).unwrap();
            let url = raw.url("/acme/new-account");
            let payload = json!({
                "termsOfServiceAgreed": true,
                "contact": ["mailto:a@example.com"],
                "externalAccountBinding": issued.binding(&url, &key),
            });
            let jws = key
                .sign(None, Some(&raw.nonce().await), &url, Some(&payload))
                .unwrap();
            let body = serde_json::to_vec(&jws).unwrap();
            let response = raw.post_jws(&url, &jws).await;
            assert_eq!(response.status, 201, "{alg:?}: {:?}", response.json());
            file_request(&body, &mut corpus);
        }

        for chain in certificates.iter().chain([&ca.root_pem]) {
            for der in pem_chain(chain) {
                let parsed = ferrite_pki::parse_certificate(&der).expect("an issued cert parses");
                Jwk::from_spki_der(&parsed.spki_der).expect("its key reads as a JWK");
                corpus.add("spki", parsed.spki_der);
                corpus.add("certificate", der.clone());
                corpus.add("certificate_parts", der.clone());
                corpus.add("tlsalpn01", der);
            }
        }
        validation_seeds(&mut corpus);
        fixture_seeds(&mut corpus);

        for target in [
            "jws",
            "jwk",
            "spki",
            "eab",
            "key_change",
            "csr",
            "certificate",
            "certificate_parts",
            "dns_name",
            "identifiers",
            "request_json",
            "caa",
            "dns01",
            "http01",
            "tlsalpn01",
        ] {
            assert!(
                corpus.0.contains_key(target),
                "nothing recorded for {target}"
            );
        }
        if let Some(dir) = std::env::var_os("FERRITE_FUZZ_CORPUS") {
            corpus.write(Path::new(&dir));
        }
    })
    .await;
}
