//! A CAA RRset (RFC 8659, RFC 8657) as the resolver would receive it, in wire RDATA, decoded
//! by hickory and evaluated for this CA, an account and a method.
//!
//! Input: one flags byte (bit 0: the name is a wildcard; bits 1–2: the validation method),
//! then length-prefixed RDATAs (see `ferrite_fuzz::Input`).
#![no_main]

use ferrite_fuzz::Input;
use libfuzzer_sys::fuzz_target;

const ISSUERS: &[&str] = &["ca.example", "ferrite.test"];
const ACCOUNT: &str = "https://ca.example/acme/account/1";
const METHODS: [Option<&str>; 4] = [None, Some("http-01"), Some("dns-01"), Some("tls-alpn-01")];

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let flags = input.byte();
    let mut rdatas = Vec::new();
    while !input.is_empty() && rdatas.len() < 64 {
        rdatas.push(input.bytes());
    }
    let issuers: Vec<String> = ISSUERS.iter().map(|s| (*s).to_owned()).collect();
    let method = METHODS[usize::from(flags >> 1) & 3];
    let Some((shown, decision)) =
        ferrite_va::fuzzing::caa(&rdatas, &issuers, flags & 1 == 1, ACCOUNT, method)
    else {
        return;
    };
    assert_eq!(
        shown.len(),
        rdatas.len(),
        "one presentation form per record"
    );
    for record in &shown {
        assert!(record.is_ascii(), "{record:?} is shown as it arrived");
    }
    if let Err(detail) = decision {
        assert!(!detail.is_empty());
    }
});
