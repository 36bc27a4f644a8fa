//! A newOrder payload (RFC 8555 §7.4): its identifiers checked and normalized by the engine's
//! identifier policy. What is accepted is valid, lower case and unique; what is refused is a
//! problem naming each refused identifier.
#![no_main]

use std::collections::BTreeSet;
use std::sync::LazyLock;

use ferrite_core::policy::IdentifierPolicy;
use ferrite_fuzz::assert_client_problem;
use ferrite_proto::identifier::check_dns_name;
use ferrite_proto::requests::NewOrder;
use ferrite_proto::{IdentifierType, ProblemType};
use libfuzzer_sys::fuzz_target;

static POLICY: LazyLock<IdentifierPolicy> =
    LazyLock::new(|| IdentifierPolicy::new(&["blocked.example"]));

/// The most identifiers an order may have in this target.
const MAX: usize = 20;

fuzz_target!(|data: &[u8]| {
    let Ok(order) = serde_json::from_slice::<NewOrder>(data) else {
        return;
    };
    let sent = order.identifiers.len();
    match POLICY.check_order(order.identifiers, MAX) {
        Ok(identifiers) => {
            assert!((1..=sent).contains(&identifiers.len()));
            let mut seen = BTreeSet::new();
            for id in &identifiers {
                assert_eq!(id.kind, IdentifierType::Dns);
                assert!(check_dns_name(&id.value).is_ok(), "{:?} accepted", id.value);
                assert!(POLICY.check(&id.value).is_ok(), "{:?} accepted", id.value);
                assert!(seen.insert(id.value.clone()), "{:?} twice", id.value);
            }
        }
        Err(problem) => {
            assert_client_problem(&problem);
            if sent > 0 && sent <= MAX {
                assert!(!problem.subproblems.is_empty());
                for sub in &problem.subproblems {
                    assert!(
                        sub.identifier.is_some(),
                        "a subproblem without its identifier"
                    );
                }
                if problem.subproblems.len() > 1 {
                    let first = problem.subproblems[0].kind;
                    if problem.subproblems.iter().any(|p| p.kind != first) {
                        assert_eq!(problem.kind, ProblemType::Compound);
                    }
                }
            }
        }
    }
});
