//! Status rules, called on the engine directly (RFC 8555 §7.1.6, §7.4, §7.5.1, §7.5.2): which
//! authorizations may be deactivated, which orders may be finalized (only `ready`; a pending,
//! processing, valid, invalid or expired one is `orderNotReady`), and what responding to a
//! challenge does once its authorization is decided.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Client, Engine, assert_problem, bounded, csr_der, refused};
use ferrite_core::{CaConfig, Reader};
use ferrite_proto::{
    AuthorizationStatus, ChallengeStatus, ChallengeType, OrderStatus, ProblemType,
};
use time::Duration;

/// The state an authorization is brought into before a case acts on it.
#[derive(Clone, Copy, Debug)]
enum Authz {
    Pending,
    Valid,
    Deactivated,
    /// Its http-01 validation failed.
    Invalid,
    /// Pending past its expiry.
    Expired,
}

/// Lifetime of a pending authorization in these tests; `Authz::Expired` moves the clock past it.
const PENDING_LIFETIME: Duration = Duration::days(1);

fn config() -> CaConfig {
    CaConfig {
        pending_authorization_lifetime: PENDING_LIFETIME,
        ..CaConfig::default()
    }
}

/// A new order for `name` whose authorization is in `state`; returns the order and
/// authorization ids.
async fn authorization_in(
    engine: &Engine,
    client: &Client,
    name: &str,
    state: Authz,
) -> (String, String) {
    let order = engine.new_order(client, &[name]).await;
    let authz = order.authorizations[0].id.clone();
    match state {
        Authz::Pending => {}
        Authz::Valid => {
            engine.validate_http01(client, &authz).await;
        }
        Authz::Deactivated => {
            engine
                .ca
                .deactivate_authorization(&client.account, &authz)
                .await
                .unwrap();
        }
        Authz::Invalid => {
            let challenge = &order.authorizations[0].challenges[0];
            assert_eq!(challenge.kind, ChallengeType::Http01);
            engine
                .http01
                .set(&challenge.token, "not-the-key-authorization");
            engine
                .ca
                .respond_challenge(&client.account, &authz, &challenge.id)
                .await
                .unwrap();
            engine.decided(client, &authz).await;
        }
        Authz::Expired => engine
            .clock
            .advance(PENDING_LIFETIME + Duration::seconds(1)),
    }
    (order.order.id, authz)
}

#[tokio::test]
async fn only_pending_and_valid_authorizations_are_deactivated() {
    bounded(async {
        let engine = Engine::start_with(config()).await;
        let client = engine.account().await;
        // (case, state before, None if deactivated or the malformed detail's fragment)
        let cases = [
            ("pending", Authz::Pending, None),
            ("valid", Authz::Valid, None),
            (
                "already deactivated",
                Authz::Deactivated,
                Some("the authorization is deactivated; only pending or valid"),
            ),
            (
                "failed validation",
                Authz::Invalid,
                Some("the authorization is invalid; only pending or valid"),
            ),
            (
                "expired",
                Authz::Expired,
                Some("the authorization is expired; only pending or valid"),
            ),
        ];
        for (i, (case, state, want)) in cases.into_iter().enumerate() {
            let name = format!("d{i}.example.com");
            let (order_id, authz_id) = authorization_in(&engine, &client, &name, state).await;
            let result = engine
                .ca
                .deactivate_authorization(&client.account, &authz_id)
                .await;
            match want {
                None => {
                    let view = result.unwrap_or_else(|e| panic!("{case}: {}", e.to_problem()));
                    assert_eq!(view.status, AuthorizationStatus::Deactivated, "{case}");
                    // §7.1.6: an order with a deactivated authorization is invalid.
                    let order = engine.order(&client, &order_id).await;
                    assert_eq!(order.status, OrderStatus::Invalid, "{case}");
                }
                Some(detail) => {
                    let p = refused(case, result);
                    assert_problem(case, &p, ProblemType::Malformed, Some(detail));
                }
            }
        }
    })
    .await;
}

/// The state an order is brought into before finalize.
#[derive(Clone, Copy, Debug)]
enum Order {
    Pending,
    Ready,
    /// Being finalized: moved to `processing` in the store, as a concurrent finalize does.
    Processing,
    /// Processing past its expiry (an issuance that failed without recording it).
    ProcessingExpired,
    Valid,
    /// Its authorization was deactivated.
    Invalid,
    /// Ready, then past its expiry.
    Expired,
}

const ORDER_LIFETIME: Duration = Duration::days(2);

/// A new order for `name` in `state`; returns its id.
async fn order_in(engine: &Engine, client: &Client, name: &str, state: Order) -> String {
    let ready = || async { engine.ready_order(client, &[name]).await.order.id };
    match state {
        Order::Pending => engine.new_order(client, &[name]).await.order.id,
        Order::Ready => ready().await,
        Order::Processing | Order::ProcessingExpired => {
            let id = ready().await;
            assert!(
                engine
                    .ca
                    .store()
                    .begin_finalize(&id, engine.now(), engine.now() + time::Duration::minutes(2))
                    .await
                    .unwrap()
            );
            if matches!(state, Order::ProcessingExpired) {
                engine.clock.advance(ORDER_LIFETIME);
            }
            id
        }
        Order::Valid => engine.issue(client, &[name]).await.0.order_id,
        Order::Invalid => {
            let order = engine.new_order(client, &[name]).await;
            engine
                .ca
                .deactivate_authorization(&client.account, &order.authorizations[0].id)
                .await
                .unwrap();
            order.order.id
        }
        Order::Expired => {
            let id = ready().await;
            engine.clock.advance(ORDER_LIFETIME);
            id
        }
    }
}

#[tokio::test]
async fn only_ready_orders_are_finalized() {
    bounded(async {
        let engine = Engine::start_with(CaConfig {
            order_lifetime: ORDER_LIFETIME,
            ..CaConfig::default()
        })
        .await;
        let client = engine.account().await;
        // (case, state before, shown status, None if issued or the orderNotReady detail's
        // fragment)
        let cases = [
            (
                "pending",
                Order::Pending,
                OrderStatus::Pending,
                Some("the order is pending, not ready"),
            ),
            ("ready", Order::Ready, OrderStatus::Ready, None),
            (
                "processing",
                Order::Processing,
                OrderStatus::Processing,
                Some("the order is processing, not ready"),
            ),
            (
                "processing past its expiry",
                Order::ProcessingExpired,
                OrderStatus::Invalid,
                Some("the order is invalid, not ready"),
            ),
            (
                "valid",
                Order::Valid,
                OrderStatus::Valid,
                Some("the order is valid, not ready"),
            ),
            (
                "invalid",
                Order::Invalid,
                OrderStatus::Invalid,
                Some("the order is invalid, not ready"),
            ),
            (
                "expired",
                Order::Expired,
                OrderStatus::Invalid,
                Some("the order is invalid, not ready"),
            ),
        ];
        for (i, (case, state, shown, want)) in cases.into_iter().enumerate() {
            let name = format!("f{i}.example.com");
            let id = order_in(&engine, &client, &name, state).await;
            assert_eq!(engine.order(&client, &id).await.status, shown, "{case}");
            let key = rcgen::KeyPair::generate().unwrap();
            let result = engine
                .finalize(&client, &id, &csr_der(&[&name], &key))
                .await;
            match want {
                None => {
                    let view = result.unwrap_or_else(|e| panic!("{case}: {}", e.to_problem()));
                    assert_eq!(view.status, OrderStatus::Valid, "{case}");
                    assert!(view.order.certificate_serial.is_some(), "{case}");
                }
                Some(detail) => {
                    let p = refused(case, result);
                    assert_problem(case, &p, ProblemType::OrderNotReady, Some(detail));
                    assert_eq!(p.http_status(), 403, "{case}");
                    // A refused finalize changes nothing.
                    assert_eq!(engine.order(&client, &id).await.status, shown, "{case}");
                }
            }
        }
    })
    .await;
}

#[tokio::test]
async fn responding_to_a_decided_authorization_starts_nothing() {
    bounded(async {
        let engine = Engine::start_with(config()).await;
        let client = engine.account().await;
        // (case, state before, the challenge's status after the response, None if it is
        // reported or the malformed detail's fragment when the challenge is hidden)
        let cases = [
            (
                "deactivated",
                Authz::Deactivated,
                Some(ChallengeStatus::Pending),
                AuthorizationStatus::Deactivated,
            ),
            (
                "expired",
                Authz::Expired,
                Some(ChallengeStatus::Pending),
                AuthorizationStatus::Expired,
            ),
            (
                "failed: the failed challenge stays failed",
                Authz::Invalid,
                Some(ChallengeStatus::Invalid),
                AuthorizationStatus::Invalid,
            ),
            (
                "valid by http-01: dns-01 is no longer offered",
                Authz::Valid,
                None,
                AuthorizationStatus::Valid,
            ),
        ];
        for (i, (case, state, want, authz_status)) in cases.into_iter().enumerate() {
            let name = format!("c{i}.example.com");
            let (_, authz_id) = authorization_in(&engine, &client, &name, state).await;
            let stored = engine
                .ca
                .store()
                .authorization(&authz_id)
                .await
                .unwrap()
                .unwrap();
            // The http-01 challenge of a failed authorization, dns-01 otherwise.
            let kind = match state {
                Authz::Invalid => ChallengeType::Http01,
                _ => ChallengeType::Dns01,
            };
            let challenge = stored.challenges.iter().find(|c| c.kind == kind).unwrap();
            let result = engine
                .ca
                .respond_challenge(&client.account, &authz_id, &challenge.id)
                .await;
            match want {
                Some(status) => {
                    let (seen, view) =
                        result.unwrap_or_else(|e| panic!("{case}: {}", e.to_problem()));
                    assert_eq!(seen.status, status, "{case}");
                    assert_eq!(view.status, authz_status, "{case}");
                }
                None => {
                    // §7.1.4: a valid authorization shows only the challenge that decided it.
                    let p = refused(case, result);
                    assert_problem(case, &p, ProblemType::Malformed, Some("no such challenge"));
                    assert_eq!(p.http_status(), 404, "{case}");
                }
            }
            let view = engine
                .ca
                .authorization(Reader::Account(&client.account), &authz_id)
                .await
                .unwrap();
            assert_eq!(view.status, authz_status, "{case}: nothing changed");
        }
    })
    .await;
}
