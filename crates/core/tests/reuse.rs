//! Validation reuse, called on the engine directly (RFC 8555 §7.1.4, BR §4.2.1, §3.2.2.4.7): a
//! dns-01 validation covers its name, its subdomains and their wildcards; http-01 and
//! tls-alpn-01 cover exactly their name; both for every account of the same customer (or only the account itself
//! without one), never for anyone else; within the window of the Baseline Requirements table
//! and the operator's limit, moved with the `TestClock`; and a deactivated authorization ends
//! the reuse of exactly its name.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Client, Engine, bounded};
use ferrite_core::policy::ReusePolicy;
use ferrite_core::{CaConfig, Reader};
use ferrite_proto::{AuthorizationStatus, ChallengeStatus, ChallengeType, OrderStatus};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// A date inside the 200-day rule, with no step of the table within 200 days after it.
const MID_2026: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

/// Validates `name` for `client` by `method` through a new order of its own.
async fn validate(engine: &Engine, client: &Client, name: &str, method: ChallengeType) {
    let order = engine.new_order(client, &[name]).await;
    let authz = &order.authorizations[0].id;
    let view = engine.validate(client, authz, method).await;
    assert_eq!(
        view.status,
        AuthorizationStatus::Valid,
        "{name} by {method}"
    );
}

/// For each name of a new order of `client` for `names`: the method of the validation its
/// authorization relies on when it is valid at creation, `None` when it needs a fresh
/// validation. The order is ready exactly when every name is covered.
async fn reused(engine: &Engine, client: &Client, names: &[&str]) -> Vec<Option<ChallengeType>> {
    let order = engine.new_order(client, names).await;
    let mut methods = Vec::new();
    for id in &order.order.authorization_ids {
        let view = engine
            .ca
            .authorization(Reader::Account(&client.account), id)
            .await
            .unwrap();
        let authz = &view.authorization;
        if view.status == AuthorizationStatus::Pending {
            methods.push(None);
            continue;
        }
        // Valid at creation: the one challenge shown is the method relied on, with its time.
        assert_eq!(view.status, AuthorizationStatus::Valid, "{names:?}");
        let [challenge] = authz.challenges.as_slice() else {
            panic!("{names:?}: {:?}", authz.challenges);
        };
        assert_eq!(challenge.status, ChallengeStatus::Valid, "{names:?}");
        let validated = challenge.validated.unwrap();
        assert!(
            authz.expires <= validated + Duration::days(200),
            "{names:?}"
        );
        assert!(order.order.expires <= authz.expires, "{names:?}");
        methods.push(Some(challenge.kind));
    }
    let ready = methods.iter().all(Option::is_some);
    assert_eq!(order.status == OrderStatus::Ready, ready, "{names:?}");
    methods
}

/// Per name of an order, the method of the validation it relies on, `None` for a fresh one.
type Covered = Vec<Option<ChallengeType>>;

#[tokio::test]
async fn what_a_validation_covers_and_for_whom() {
    bounded(async {
        let engine = Engine::start_at(CaConfig::default(), MID_2026).await;
        let corp = engine.customer_accounts("corp", 2).await;
        let other = engine.customer_accounts("other", 1).await;
        let (solo, solo2) = (engine.account().await, engine.account().await);
        validate(&engine, &corp[0], "zone.example.com", ChallengeType::Dns01).await;
        validate(&engine, &corp[0], "host.example.com", ChallengeType::Http01).await;
        validate(
            &engine,
            &corp[0],
            "alpn.example.com",
            ChallengeType::TlsAlpn01,
        )
        .await;
        validate(&engine, &solo, "solo.example.com", ChallengeType::Dns01).await;

        use ChallengeType::{Dns01, Http01, TlsAlpn01};
        // (case, who orders, names, per name the method relied on or None for a fresh
        // validation)
        let cases: Vec<(&str, &Client, &[&str], Covered)> = vec![
            (
                "dns-01: the name itself",
                &corp[0],
                &["zone.example.com"],
                vec![Some(Dns01)],
            ),
            (
                "dns-01: subdomains and wildcards",
                &corp[0],
                &[
                    "a.b.zone.example.com",
                    "*.zone.example.com",
                    "*.sub.zone.example.com",
                ],
                vec![Some(Dns01), Some(Dns01), Some(Dns01)],
            ),
            (
                "dns-01: another account of the customer",
                &corp[1],
                &["www.zone.example.com", "*.zone.example.com"],
                vec![Some(Dns01), Some(Dns01)],
            ),
            (
                "dns-01: another customer",
                &other[0],
                &["www.zone.example.com"],
                vec![None],
            ),
            (
                "dns-01: a name that only ends alike",
                &corp[0],
                &["notzone.example.com"],
                vec![None],
            ),
            (
                "dns-01: the parent domain",
                &corp[0],
                &["example.com"],
                vec![None],
            ),
            (
                "http-01: the name, another account of the customer",
                &corp[1],
                &["host.example.com"],
                vec![Some(Http01)],
            ),
            (
                "http-01: a subdomain",
                &corp[0],
                &["www.host.example.com"],
                vec![None],
            ),
            (
                "http-01: the wildcard",
                &corp[0],
                &["*.host.example.com"],
                vec![None],
            ),
            (
                "http-01: another customer",
                &other[0],
                &["host.example.com"],
                vec![None],
            ),
            (
                "tls-alpn-01: the name, another account of the customer",
                &corp[1],
                &["alpn.example.com"],
                vec![Some(TlsAlpn01)],
            ),
            (
                "tls-alpn-01: a subdomain and the wildcard",
                &corp[0],
                &["www.alpn.example.com", "*.alpn.example.com"],
                vec![None, None],
            ),
            (
                "a covered and an uncovered name",
                &corp[0],
                &["www.zone.example.com", "elsewhere.example.com"],
                vec![Some(Dns01), None],
            ),
            (
                "without a customer: its own validation",
                &solo,
                &["www.solo.example.com"],
                vec![Some(Dns01)],
            ),
            (
                "without a customer: another such account",
                &solo2,
                &["www.solo.example.com"],
                vec![None],
            ),
            (
                "without a customer: a customer's validation",
                &solo,
                &["www.zone.example.com"],
                vec![None],
            ),
            (
                "a customer: a validation of an account without one",
                &corp[0],
                &["www.solo.example.com"],
                vec![None],
            ),
        ];
        for (case, client, names, want) in cases {
            assert_eq!(reused(&engine, client, names).await, want, "{case}");
        }

        // The account's own authorization for exactly the name is handed out again.
        let first = engine.new_order(&corp[0], &["zone.example.com"]).await;
        let again = engine.new_order(&corp[0], &["zone.example.com"]).await;
        assert_eq!(first.order.authorization_ids, again.order.authorization_ids);
    })
    .await;
}

#[tokio::test]
async fn reuse_ends_with_the_window() {
    bounded(async {
        let days = Duration::days;
        let operator = |d: i64| ReusePolicy::new(Some(days(d)));
        // (case, the operator's limit, validated at, how long after, reused)
        let cases = [
            (
                "200 days, two left",
                ReusePolicy::default(),
                MID_2026,
                days(198),
                true,
            ),
            (
                "200 days, less than one left",
                ReusePolicy::default(),
                MID_2026,
                days(199) + Duration::hours(1),
                false,
            ),
            (
                // Validated under the 200-day rule, but from 2027-03-15 issuance allows 100
                // days: reuse ends on 2027-04-11.
                "across a step of the table, before its end",
                ReusePolicy::default(),
                datetime!(2027-01-01 00:00 UTC),
                days(98),
                true,
            ),
            (
                "across a step of the table, after its end",
                ReusePolicy::default(),
                datetime!(2027-01-01 00:00 UTC),
                days(101),
                false,
            ),
            (
                "operator's 30 days, inside",
                operator(30),
                MID_2026,
                days(28),
                true,
            ),
            (
                "operator's 30 days, past",
                operator(30),
                MID_2026,
                days(31),
                false,
            ),
            (
                "operator's 400 days are cut to 200, inside",
                operator(400),
                MID_2026,
                days(198),
                true,
            ),
            (
                "operator's 400 days are cut to 200, past",
                operator(400),
                MID_2026,
                days(201),
                false,
            ),
        ];
        for (case, reuse, validated_at, after, want) in cases {
            let engine = Engine::start_at(
                CaConfig {
                    reuse,
                    ..CaConfig::default()
                },
                validated_at,
            )
            .await;
            let client = engine.account().await;
            validate(&engine, &client, "example.com", ChallengeType::Dns01).await;
            engine.clock.advance(after);
            let order = engine.new_order(&client, &["www.example.com"]).await;
            let ready = order.status == OrderStatus::Ready;
            assert_eq!(ready, want, "{case}: {:?}", order.order);
            if ready {
                // The order expires no later than the validation may be relied on.
                let window = reuse.window_at(engine.now());
                assert!(
                    order.order.expires <= validated_at + window + Duration::seconds(1),
                    "{case}: {}",
                    order.order.expires
                );
            }
        }
    })
    .await;
}

#[tokio::test]
async fn deactivation_ends_the_reuse_of_exactly_that_name() {
    bounded(async {
        let engine = Engine::start_at(CaConfig::default(), MID_2026).await;
        let corp = engine.customer_accounts("corp", 2).await;
        validate(&engine, &corp[0], "gone.example.com", ChallengeType::Http01).await;
        validate(&engine, &corp[0], "zone.example.com", ChallengeType::Dns01).await;

        // A reused copy, deactivated by the customer's other account, ends the reuse of the
        // name for every account of the customer.
        let copy = engine.new_order(&corp[1], &["gone.example.com"]).await;
        assert_eq!(copy.status, OrderStatus::Ready);
        engine
            .ca
            .deactivate_authorization(&corp[1].account, &copy.authorizations[0].id)
            .await
            .unwrap();
        for client in &corp {
            assert_eq!(reused(&engine, client, &["gone.example.com"]).await, [None]);
        }

        // A subdomain's deactivation leaves the parent's dns-01 validation alone.
        let sub = engine.new_order(&corp[0], &["www.zone.example.com"]).await;
        assert_eq!(sub.status, OrderStatus::Ready);
        engine
            .ca
            .deactivate_authorization(&corp[0].account, &sub.authorizations[0].id)
            .await
            .unwrap();
        assert_eq!(
            reused(&engine, &corp[1], &["other.zone.example.com"]).await,
            [Some(ChallengeType::Dns01)]
        );
    })
    .await;
}
