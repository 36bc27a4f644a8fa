//! One customer's slow validations do not hold another customer's: validations share the
//! instance's slots, each account and each customer within its own share.
//! Only loopback is contacted; every test is bounded in time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{Engine, bounded};
use ferrite_core::{CaConfig, Reader};
use ferrite_proto::{AuthorizationStatus, ChallengeType};

/// How long each of the slow customer's validations takes: its server answers late.
const SLOW: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_customer_waits_on_its_own_share_of_the_validation_slots() {
    bounded(async {
        // Four slots for the instance, two for any one account or customer.
        let engine = Engine::start_with(CaConfig {
            validations_at_once: 4,
            validations_per_account: 2,
            validations_per_customer: 2,
            ..CaConfig::default()
        })
        .await;
        let slow = engine.customer_accounts("slow-corp", 2).await;
        let fast = engine.customer_accounts("fast-corp", 1).await;

        // The slow customer's two accounts start eight http-01 validations against a server
        // that answers after two seconds: more than the instance has slots.
        engine.http01.set_delay(SLOW);
        let mut started = Vec::new();
        for (i, client) in slow.iter().enumerate() {
            let names: Vec<String> = (0..4).map(|n| format!("n{n}.a{i}.slow.example")).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let order = engine.new_order(client, &names).await;
            for authz in &order.authorizations {
                let challenge = authz
                    .challenges
                    .iter()
                    .find(|c| c.kind == ChallengeType::Http01)
                    .unwrap();
                engine.http01.set(
                    &challenge.token,
                    &client.key_authorization(&challenge.token),
                );
                engine
                    .ca
                    .respond_challenge(&client.account, &authz.id, &challenge.id)
                    .await
                    .unwrap();
                started.push((client, authz.id.clone()));
            }
        }

        // The other customer's dns-01 validation is not queued behind them.
        let order = engine.new_order(&fast[0], &["www.fast.example"]).await;
        let began = Instant::now();
        let view = engine
            .validate_dns01(&fast[0], &order.authorizations[0].id)
            .await;
        let took = began.elapsed();
        assert_eq!(view.status, AuthorizationStatus::Valid);
        assert!(
            took < SLOW / 2,
            "another customer's validation took {took:?}, queued behind the slow customer's"
        );

        // The slow customer's validations all finish, two at a time.
        for (client, authz_id) in started {
            let view = engine.decided(client, &authz_id).await;
            assert_eq!(view.status, AuthorizationStatus::Valid, "{authz_id}");
            let read = engine
                .ca
                .authorization(Reader::Account(&client.account), &authz_id)
                .await
                .unwrap();
            assert_eq!(read.status, AuthorizationStatus::Valid);
        }
    })
    .await;
}
