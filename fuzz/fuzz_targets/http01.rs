//! What a customer's web server answers an http-01 request (RFC 8555 §8.3): a status, a
//! Location and a body, read as the validation reads them. A redirect followed goes only to the
//! http-01 or tls-alpn-01 port; an answer accepted is the key authorization.
//!
//! Input: a 2-byte status, a length-prefixed Location (absent when empty), then the body
//! (see `ferrite_fuzz::Input`).
#![no_main]

use ferrite_fuzz::Input;
use libfuzzer_sys::fuzz_target;

const KEY_AUTHORIZATION: &str =
    "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let status = input.u16();
    let location = input.string();
    let location = (!location.is_empty()).then_some(location.as_str());
    let body = input.rest();
    match ferrite_va::fuzzing::http01(status, location, body, KEY_AUTHORIZATION) {
        Ok(Some((url, host))) => {
            let url = url::Url::parse(&url).expect("a followed redirect is a URL");
            match url.scheme() {
                "http" => assert_eq!(url.port_or_known_default(), Some(80), "{url}"),
                "https" => assert_eq!(url.port_or_known_default(), Some(443), "{url}"),
                other => panic!("redirect followed to scheme {other}: {url}"),
            }
            assert!(url.fragment().is_none(), "{url}");
            let name = url.host_str().expect("a followed redirect has a host");
            assert!(host.starts_with(name), "Host {host:?} for {url}");
        }
        Ok(None) => assert_eq!(body.trim_ascii_end(), KEY_AUTHORIZATION.as_bytes()),
        Err(detail) => assert!(!detail.is_empty()),
    }
});
