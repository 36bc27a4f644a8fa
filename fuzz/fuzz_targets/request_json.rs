//! The JSON payloads of ACME requests (RFC 8555 §7.3–§7.6), read as the handlers read them:
//! each request type that accepts the input serializes and reads back equal, and a
//! newAccount's contacts go through the engine's contact check.
#![no_main]

use ferrite_fuzz::assert_client_problem;
use ferrite_proto::requests::{
    AccountUpdate, AuthorizationUpdate, Finalize, KeyChange, NewAccount, NewOrder, Revocation,
};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// `data` as a `T`, if it is one; then written and read back, it is the same `T`.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
    data: &[u8],
) -> Option<T> {
    let value: T = serde_json::from_slice(data).ok()?;
    let json = serde_json::to_vec(&value).expect("a request serializes");
    let back: T = serde_json::from_slice(&json).expect("a serialized request parses");
    // JSON numbers in free-form members (an EAB object) read back as the closest float,
    // which may differ in the last bit; what the server itself defines must be exact.
    if !json_has_float(&json) {
        assert_eq!(back, value);
    }
    Some(value)
}

fn json_has_float(json: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(json).is_ok_and(|v| has_float(&v))
}

fn has_float(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Number(n) => n.is_f64(),
        serde_json::Value::Array(a) => a.iter().any(has_float),
        serde_json::Value::Object(o) => o.values().any(has_float),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some(account) = round_trip::<NewAccount>(data)
        && let Some(contact) = account.contact
    {
        let sent = contact.len();
        match ferrite_core::fuzzing::contacts(contact) {
            Ok(accepted) => {
                assert!(accepted.len() <= sent);
                for c in &accepted {
                    assert!(c.starts_with("mailto:"), "contact {c:?} accepted");
                }
            }
            Err(problem) => assert_client_problem(&problem),
        }
    }
    round_trip::<AccountUpdate>(data);
    round_trip::<NewOrder>(data);
    round_trip::<Finalize>(data);
    round_trip::<AuthorizationUpdate>(data);
    round_trip::<Revocation>(data);
    round_trip::<KeyChange>(data);
});
