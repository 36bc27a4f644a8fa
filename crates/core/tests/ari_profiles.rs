//! Certificate profiles (draft-ietf-acme-profiles) and renewal information (RFC 9773), called
//! on the engine directly: the profile an order names is fixed with it and issued at finalize;
//! unknown or forbidden profiles are `invalidProfile`; the suggested window of a fresh,
//! revoked and operator-advanced certificate; certIDs unknown and malformed; `replaces`
//! within a customer, `alreadyReplaced`, and the refusals.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Client, Engine, assert_problem, bounded, csr_der, dns_order, refused};
use ferrite_core::ca::Profiles;
use ferrite_core::ca::ari::{CertId, advance_renewal};
use ferrite_core::model::CertificateFilter;
use ferrite_core::{CaConfig, RevocationAuth};
use ferrite_pki::Profile;
use ferrite_proto::requests::NewOrder;
use ferrite_proto::{AuthorizationStatus, ProblemType};
use time::Duration;

/// DER of the CRL distribution points extension's OID (2.5.29.31).
const OID_CRL_DP: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x1f];
/// DER of the authority information access extension's OID (1.3.6.1.5.5.7.1.1).
const OID_AIA: &[u8] = &[0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01];

fn contains(der: &[u8], needle: &[u8]) -> bool {
    der.windows(needle.len()).any(|w| w == needle)
}

/// `tlsserver` (90 days, the default) and the built-in `shortlived`.
fn two_profiles() -> CaConfig {
    let mut default = Profile::tls_server();
    default.validity_seconds = 90 * 24 * 3600;
    let mut profiles = Profiles::new(default);
    profiles.offer(Profile::short_lived());
    CaConfig {
        profiles,
        renewal_explanation_url: Some("https://ca.test/incidents".into()),
        ..CaConfig::default()
    }
}

fn order_request(names: &[&str], profile: Option<&str>, replaces: Option<&str>) -> NewOrder {
    NewOrder {
        profile: profile.map(str::to_owned),
        replaces: replaces.map(str::to_owned),
        ..dns_order(names)
    }
}

/// newOrder with `profile`, validated and finalized; returns the leaf DER and its validity.
async fn issue_with_profile(
    engine: &Engine,
    client: &Client,
    names: &[&str],
    profile: Option<&str>,
) -> (Vec<u8>, Duration, Option<String>) {
    let order = engine
        .ca
        .new_order(&client.account, order_request(names, profile, None))
        .await
        .unwrap_or_else(|e| panic!("newOrder {profile:?}: {}", e.to_problem()));
    let fixed = order.order.profile.clone();
    for authz in &order.authorizations {
        if authz.status == AuthorizationStatus::Pending {
            engine.validate_http01(client, &authz.id).await;
        }
    }
    let key = rcgen::KeyPair::generate().unwrap();
    let done = engine
        .finalize(client, &order.order.id, &csr_der(names, &key))
        .await
        .unwrap_or_else(|e| panic!("finalize {profile:?}: {}", e.to_problem()));
    let cert = engine
        .ca
        .certificate(
            ferrite_core::Reader::Account(&client.account),
            done.order.certificate_serial.as_deref().unwrap(),
        )
        .await
        .unwrap();
    (cert.der, cert.not_after - cert.not_before, fixed)
}

/// The profile an order names is stored with it and decides the certificate: `shortlived` is
/// at most 6 days without a CRL distribution point (with AIA), the default 90 days with one.
/// An unknown name is `invalidProfile`, naming what is offered.
#[tokio::test]
async fn the_ordered_profile_is_issued() {
    bounded(async {
        let engine = Engine::start_with(two_profiles()).await;
        let client = engine.account().await;

        let (der, validity, fixed) =
            issue_with_profile(&engine, &client, &["short.example.com"], Some("shortlived")).await;
        assert_eq!(fixed.as_deref(), Some("shortlived"));
        assert!(validity <= Duration::days(6), "{validity}");
        assert!(validity > Duration::days(5), "{validity}");
        assert!(!contains(&der, OID_CRL_DP), "shortlived has no CRL DP");
        assert!(contains(&der, OID_AIA), "shortlived keeps AIA");

        let (der, validity, fixed) =
            issue_with_profile(&engine, &client, &["long.example.com"], None).await;
        assert_eq!(
            fixed.as_deref(),
            Some("tlsserver"),
            "the default is recorded"
        );
        assert!(validity > Duration::days(89), "{validity}");
        assert!(contains(&der, OID_CRL_DP));

        let p = refused(
            "unknown profile",
            engine
                .ca
                .new_order(
                    &client.account,
                    order_request(&["x.example.com"], Some("nosuch"), None),
                )
                .await,
        );
        assert_problem(
            "unknown profile",
            &p,
            ProblemType::InvalidProfile,
            Some("tlsserver, shortlived"),
        );
        assert_eq!(p.kind.http_status(), 400);
        // A notAfter beyond the named profile's validity is refused as for the default.
        let mut too_long = order_request(&["x.example.com"], Some("shortlived"), None);
        too_long.not_after = Some(
            (engine.now() + Duration::days(10))
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap(),
        );
        let p = refused(
            "notAfter beyond the profile",
            engine.ca.new_order(&client.account, too_long).await,
        );
        assert_problem("notAfter", &p, ProblemType::Malformed, Some("6 days"));
    })
    .await;
}

/// A customer limited to some profiles gets `invalidProfile` for the others, the default
/// included, with what it may order; lifting the limit lets them through.
#[tokio::test]
async fn a_customer_is_limited_to_its_profiles() {
    bounded(async {
        let engine = Engine::start_with(two_profiles()).await;
        let clients = engine.customer_accounts("limited", 1).await;
        let client = &clients[0];
        let registry = engine.ca.eab();
        let set = |names: Option<Vec<&'static str>>| async move {
            registry
                .set_customer_profiles(
                    "limited",
                    names.map(|n| n.into_iter().map(str::to_owned).collect()),
                )
                .await
                .unwrap()
        };
        let order = |profile: Option<&'static str>| {
            engine.ca.new_order(
                &client.account,
                order_request(&["c.example.com"], profile, None),
            )
        };

        let view = set(Some(vec!["tlsserver"])).await;
        assert_eq!(view.allowed_profiles, Some(vec!["tlsserver".to_owned()]));
        let p = refused("shortlived not allowed", order(Some("shortlived")).await);
        assert_problem(
            "shortlived not allowed",
            &p,
            ProblemType::InvalidProfile,
            Some("may order tlsserver"),
        );
        order(Some("tlsserver")).await.unwrap();
        order(None).await.unwrap();

        set(Some(vec!["shortlived"])).await;
        let p = refused("the default not allowed", order(None).await);
        assert_problem(
            "the default not allowed",
            &p,
            ProblemType::InvalidProfile,
            Some("\"tlsserver\""),
        );
        assert_eq!(
            order(Some("shortlived"))
                .await
                .unwrap()
                .order
                .profile
                .as_deref(),
            Some("shortlived")
        );

        set(None).await;
        order(None).await.unwrap();
        order(Some("shortlived")).await.unwrap();
        // Accounts without a customer are never limited.
        let free = engine.account().await;
        engine
            .ca
            .new_order(
                &free.account,
                order_request(&["f.example.com"], Some("shortlived"), None),
            )
            .await
            .unwrap();
    })
    .await;
}

/// RFC 9773 §4.2: a fresh certificate's window lies in the middle third of its validity,
/// the same at every request, with `Retry-After` 6 h; after `advance_renewal` (not in a dry
/// run) and after revocation the window is in the past with an explanation URL. Unknown
/// certIDs are 404, malformed ones `malformed`.
#[tokio::test]
async fn renewal_windows() {
    bounded(async {
        let engine = Engine::start_with(two_profiles()).await;
        let client = engine.account().await;
        let (cert, _) = engine.issue(&client, &["w.example.com"]).await;
        let id = CertId::of_certificate(&cert.der).unwrap();
        assert_eq!(id.serial_hex, cert.serial);
        let cert_id = id.encode();

        let info = engine.ca.renewal_info(&cert_id).await.unwrap();
        let lifetime = cert.not_after - cert.not_before;
        assert!(info.start >= cert.not_before + lifetime / 3, "{info:?}");
        assert!(info.end <= cert.not_before + lifetime * 2 / 3, "{info:?}");
        assert!(info.end > info.start);
        let width: Duration = info.end - info.start;
        let expected: Duration = lifetime * 2 / 9;
        assert!((width - expected).abs() < Duration::seconds(1), "{width}");
        assert!(info.start > engine.now(), "a fresh certificate is not due");
        assert_eq!(info.retry_after, Duration::hours(6));
        assert_eq!(info.explanation_url, None);
        assert_eq!(engine.ca.renewal_info(&cert_id).await.unwrap(), info);
        // Another certificate issued at the same moment gets another window.
        let (other, _) = engine.issue(&client, &["w2.example.com"]).await;
        let other_id = CertId::of_certificate(&other.der).unwrap().encode();
        assert_ne!(
            engine.ca.renewal_info(&other_id).await.unwrap().start,
            info.start
        );

        // A dry run changes nothing; a real one moves the window into the past.
        let store = engine.ca.store().as_ref();
        let filter = CertificateFilter::Serial(cert.serial.clone());
        let listed = advance_renewal(store, engine.now(), &filter, None, true)
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(engine.ca.renewal_info(&cert_id).await.unwrap(), info);
        let url = "https://ca.test/incidents/42";
        advance_renewal(store, engine.now(), &filter, Some(url), false)
            .await
            .unwrap();
        let advanced = engine.ca.renewal_info(&cert_id).await.unwrap();
        assert!(advanced.end < engine.now() && advanced.start < advanced.end);
        assert_eq!(advanced.explanation_url.as_deref(), Some(url));

        // Revoked: in the past too, with the configured page.
        engine
            .ca
            .revoke(
                &RevocationAuth::Account(client.account.clone()),
                &other.der,
                Some(4),
            )
            .await
            .unwrap();
        let revoked = engine.ca.renewal_info(&other_id).await.unwrap();
        assert!(revoked.end < engine.now());
        assert_eq!(
            revoked.explanation_url.as_deref(),
            Some("https://ca.test/incidents")
        );

        // Unknown: a serial this CA never issued, or another issuer's key identifier.
        let unknown_serial = CertId {
            serial_hex: "7f".repeat(16),
            ..id.clone()
        }
        .encode();
        let foreign = CertId {
            key_id: vec![1, 2, 3, 4],
            ..id.clone()
        }
        .encode();
        for (case, cert_id) in [("unknown serial", unknown_serial), ("foreign", foreign)] {
            let p = refused(case, engine.ca.renewal_info(&cert_id).await);
            assert_problem(
                case,
                &p,
                ProblemType::Malformed,
                Some("issued no certificate"),
            );
            assert_eq!(p.status, Some(404), "{case}");
        }
        let p = refused("malformed", engine.ca.renewal_info("not-a-cert-id").await);
        assert_problem("malformed", &p, ProblemType::Malformed, Some("RFC 9773"));
        assert_eq!(p.status, Some(400));
    })
    .await;
}

/// RFC 9773 §5: `replaces` names a certificate of the same customer sharing a name; the
/// order shows it; a second replacement is `alreadyReplaced` (409); another customer's, a
/// disjoint, an unknown or a malformed one is `malformed` with the reason.
#[tokio::test]
async fn replaces_rules() {
    bounded(async {
        let engine = Engine::start_with(two_profiles()).await;
        let team = engine.customer_accounts("team", 2).await;
        let (cert, _) = engine
            .issue(&team[0], &["a.example.com", "b.example.com"])
            .await;
        let cert_id = CertId::of_certificate(&cert.der).unwrap().encode();

        // Another account of the same customer, sharing one name.
        let order = engine
            .ca
            .new_order(
                &team[1].account,
                order_request(&["b.example.com", "c.example.com"], None, Some(&cert_id)),
            )
            .await
            .unwrap();
        assert_eq!(order.order.replaces.as_deref(), Some(cert_id.as_str()));
        let read = engine.order(&team[1], &order.order.id).await;
        assert_eq!(read.order.replaces.as_deref(), Some(cert_id.as_str()));

        let p = refused(
            "second replacement",
            engine
                .ca
                .new_order(
                    &team[0].account,
                    order_request(&["a.example.com"], None, Some(&cert_id)),
                )
                .await,
        );
        assert_problem("second replacement", &p, ProblemType::AlreadyReplaced, None);
        assert_eq!(p.kind.http_status(), 409);

        let outsider = engine.account().await;
        let unknown = CertId {
            serial_hex: "7f".repeat(16),
            ..CertId::parse(&cert_id).unwrap()
        }
        .encode();
        let cases = [
            (
                "another customer's",
                &outsider,
                vec!["a.example.com"],
                cert_id.clone(),
                "issued no such certificate",
            ),
            (
                "no shared name",
                &team[0],
                vec!["d.example.com"],
                cert_id.clone(),
                "shares no identifier",
            ),
            (
                "unknown",
                &team[0],
                vec!["a.example.com"],
                unknown,
                "issued no such certificate",
            ),
            (
                "malformed",
                &team[0],
                vec!["a.example.com"],
                "a.b.c".to_owned(),
                "RFC 9773",
            ),
        ];
        for (case, client, names, replaces, fragment) in cases {
            let p = refused(
                case,
                engine
                    .ca
                    .new_order(
                        &client.account,
                        order_request(&names, None, Some(&replaces)),
                    )
                    .await,
            );
            assert_problem(case, &p, ProblemType::Malformed, Some(fragment));
        }
    })
    .await;
}
