//! A dns-01 TXT RRset (RFC 8555 §8.4) as the resolver would receive it, in wire RDATA,
//! decoded by hickory and compared with the expected digest.
//!
//! Input: length-prefixed RDATAs (see `ferrite_fuzz::Input`).
#![no_main]

use ferrite_fuzz::Input;
use libfuzzer_sys::fuzz_target;

const KEY_AUTHORIZATION: &str =
    "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let mut rdatas = Vec::new();
    while !input.is_empty() && rdatas.len() < 64 {
        rdatas.push(input.bytes());
    }
    let (values, decision) = ferrite_va::fuzzing::dns01(&rdatas, KEY_AUTHORIZATION);
    let expected = ferrite_va::dns01_txt_value(KEY_AUTHORIZATION);
    assert_eq!(
        decision.is_ok(),
        values.iter().any(|v| v.trim() == expected),
        "{values:?}: {decision:?}"
    );
});
