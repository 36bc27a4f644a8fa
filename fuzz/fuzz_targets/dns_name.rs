//! One identifier value (RFC 8555 §7.1.4): the LDH syntax check and the policy on names
//! (reverse zones, wildcards under a public suffix, the blocklist). A name the syntax accepts
//! has only the characters and shape the check promises.
#![no_main]

use std::sync::LazyLock;

use ferrite_core::policy::IdentifierPolicy;
use ferrite_proto::identifier::check_dns_name;
use libfuzzer_sys::fuzz_target;

static POLICY: LazyLock<IdentifierPolicy> =
    LazyLock::new(|| IdentifierPolicy::new(&["blocked.example", "*.Other.Example."]));

fuzz_target!(|data: &[u8]| {
    let Ok(name) = std::str::from_utf8(data) else {
        return;
    };
    if check_dns_name(name).is_err() {
        return;
    }
    assert!(name.len() <= 253, "{name:?} is too long");
    let base = name.strip_prefix("*.").unwrap_or(name);
    assert!(base.contains('.'), "{name:?} has one label");
    for label in base.split('.') {
        assert!((1..=63).contains(&label.len()), "{name:?}: label {label:?}");
        assert!(
            label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{name:?}: label {label:?}"
        );
        assert!(!label.starts_with('-') && !label.ends_with('-'));
    }
    if let Err(detail) = POLICY.check(name) {
        assert!(!detail.is_empty());
    }
});
