//! A certificate presented for revocation (RFC 8555 §7.6), parsed as revokeCert parses it,
//! and its key read as a revocation signed by the certificate key reads it.
#![no_main]

use ferrite_jose::Jwk;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(cert) = ferrite_pki::parse_certificate(data) else {
        return;
    };
    assert!(
        cert.serial_hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "serial {:?} is not lower-case hex",
        cert.serial_hex
    );
    if let Ok(key) = Jwk::from_spki_der(&cert.spki_der) {
        assert_eq!(Jwk::from_spki_der(&key.to_spki_der()).ok(), Some(key));
    }
});
