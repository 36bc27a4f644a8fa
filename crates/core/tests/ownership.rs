//! Ownership, called on the engine directly (RFC 8555 §6.3, §7.1): every method that takes an
//! account finds only that account's orders, authorizations, challenges and certificates;
//! another account's are missing exactly as an unknown id is, and acting on them changes
//! nothing. `Reader::Url` (a plain GET of a URL the CA handed out) finds them all.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::future::Future;
use std::pin::Pin;

use common::{Engine, bounded, csr_der, refused};
use ferrite_core::{CoreError, Reader};
use ferrite_proto::{AuthorizationStatus, ChallengeStatus, OrderStatus, ProblemType};

type Call<'a> = Pin<Box<dyn Future<Output = Result<(), CoreError>> + 'a>>;

/// The detail the engine gives for an id of `what` that does not exist.
const MISSING: &str = "use the URLs this server returned, with the account that created them";

#[tokio::test]
async fn another_accounts_objects_are_not_found() {
    bounded(async {
        let engine = Engine::start().await;
        let (ca, a, b) = (&engine.ca, engine.account().await, engine.account().await);
        let (certificate, _) = engine.issue(&a, &["mine.example.com"]).await;
        let issued = certificate.order_id.clone();
        let pending = engine.new_order(&a, &["pending.example.com"]).await;
        let authz = pending.authorizations[0].clone();
        let challenge = authz.challenges[0].clone();
        let ready = engine.ready_order(&a, &["ready.example.com"]).await;
        let key = rcgen::KeyPair::generate().unwrap();
        let csr = csr_der(&["ready.example.com"], &key);
        let (pending_id, ready_id, serial) = (
            pending.order.id.as_str(),
            ready.order.id.as_str(),
            certificate.serial.as_str(),
        );
        let by_b = Reader::Account(&b.account);

        // (case, the call by B, the kind of object it names)
        let cases: Vec<(&str, Call<'_>, &str)> = vec![
            (
                "read an issued order",
                Box::pin(async { ca.order(by_b, &issued).await.map(drop) }),
                "order",
            ),
            (
                "read a pending order",
                Box::pin(async { ca.order(by_b, pending_id).await.map(drop) }),
                "order",
            ),
            (
                "read an authorization",
                Box::pin(async { ca.authorization(by_b, &authz.id).await.map(drop) }),
                "authorization",
            ),
            (
                "read a challenge",
                Box::pin(async { ca.challenge(by_b, &authz.id, &challenge.id).await.map(drop) }),
                "authorization",
            ),
            (
                "read a certificate",
                Box::pin(async { ca.certificate(by_b, serial).await.map(drop) }),
                "certificate",
            ),
            (
                "respond to a challenge",
                Box::pin(async {
                    ca.respond_challenge(&b.account, &authz.id, &challenge.id)
                        .await
                        .map(drop)
                }),
                "authorization",
            ),
            (
                "deactivate an authorization",
                Box::pin(async {
                    ca.deactivate_authorization(&b.account, &authz.id)
                        .await
                        .map(drop)
                }),
                "authorization",
            ),
            (
                "finalize a ready order",
                Box::pin(async { ca.finalize(&b.account, ready_id, &csr).await.map(drop) }),
                "order",
            ),
            (
                "finalize an issued order",
                Box::pin(async { ca.finalize(&b.account, &issued, &csr).await.map(drop) }),
                "order",
            ),
        ];
        for (case, call, what) in cases {
            let p = refused(case, call.await);
            // Exactly what an unknown id gets: the answer leaks nothing.
            assert_eq!(
                (p.kind, p.http_status(), p.detail.as_str()),
                (
                    ProblemType::Malformed,
                    404,
                    format!("no such {what}; {MISSING}").as_str()
                ),
                "{case}"
            );
        }
        let unknown = [
            (
                "unknown order",
                refused(
                    "unknown order",
                    ca.order(by_b, "AAAAAAAAAAAAAAAAAAAAAA").await,
                ),
            ),
            (
                "unknown challenge",
                refused(
                    "unknown challenge",
                    ca.challenge(Reader::Account(&a.account), &authz.id, "nope")
                        .await,
                ),
            ),
        ];
        for (case, p) in unknown {
            assert_eq!(
                (p.kind, p.http_status()),
                (ProblemType::Malformed, 404),
                "{case}"
            );
            assert!(p.detail.ends_with(MISSING), "{case}: {p}");
        }

        // Nothing B did changed A's objects: no validation ran, nothing was deactivated or
        // issued.
        let by_a = Reader::Account(&a.account);
        let (seen, view) = ca.challenge(by_a, &authz.id, &challenge.id).await.unwrap();
        assert_eq!(seen.status, ChallengeStatus::Pending);
        assert_eq!(view.status, AuthorizationStatus::Pending);
        assert_eq!(
            ca.order(by_a, ready_id).await.unwrap().status,
            OrderStatus::Ready
        );
        // B's orders list holds none of A's orders; A's holds all three.
        let (listed, _) = ca
            .orders_page(&b.account, &b.account.id, None)
            .await
            .unwrap();
        assert!(listed.is_empty(), "{listed:?}");
        // And B cannot list A's.
        let p = refused(
            "B lists A's orders",
            ca.orders_page(&b.account, &a.account.id, None).await,
        );
        assert_eq!(p.kind, ProblemType::Unauthorized, "{p:?}");
        let (mut listed, _) = ca
            .orders_page(&a.account, &a.account.id, None)
            .await
            .unwrap();
        listed.sort();
        let mut mine = vec![issued.clone(), pending_id.to_owned(), ready_id.to_owned()];
        mine.sort();
        assert_eq!(listed, mine);

        // The URL alone finds every one of them (RFC 8555 §7.4.2; ids are 128-bit random).
        let by_url = Reader::Url;
        assert_eq!(
            ca.order(by_url, &issued).await.unwrap().status,
            OrderStatus::Valid
        );
        assert_eq!(
            ca.order(by_url, pending_id).await.unwrap().order.account_id,
            a.account.id
        );
        assert_eq!(
            ca.authorization(by_url, &authz.id)
                .await
                .unwrap()
                .authorization
                .id,
            authz.id
        );
        let (seen, _) = ca
            .challenge(by_url, &authz.id, &challenge.id)
            .await
            .unwrap();
        assert_eq!(seen.id, challenge.id);
        assert_eq!(ca.certificate(by_url, serial).await.unwrap(), certificate);
    })
    .await;
}
