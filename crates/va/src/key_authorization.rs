//! The values derived from a key authorization that dns-01 and tls-alpn-01
//! compare against. Public so responders and clients compute them the same
//! way.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// RFC 8737 §6.2: the ALPN protocol name a tls-alpn-01 handshake negotiates.
pub const ACME_TLS_1_ALPN: &[u8] = b"acme-tls/1";

/// RFC 8737 §6.1: id-pe-acmeIdentifier, dotted.
pub const ID_PE_ACME_IDENTIFIER: &str = "1.3.6.1.5.5.7.1.31";

/// RFC 8555 §8.4: the TXT value a dns-01 challenge expects,
/// base64url(SHA-256(key authorization)) without padding.
pub fn dns01_txt_value(key_authorization: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, key_authorization.as_bytes()))
}

/// RFC 8737 §3: the SHA-256 digest of the key authorization that the
/// acmeIdentifier extension carries.
pub fn tlsalpn01_digest(key_authorization: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, key_authorization.as_bytes()).as_ref());
    out
}

/// RFC 8737 §3: the extnValue of the acmeIdentifier extension, the DER
/// encoding of `Authorization ::= OCTET STRING (SIZE (32))`.
pub fn tlsalpn01_extension_value(key_authorization: &str) -> Vec<u8> {
    let mut der = vec![0x04, 0x20];
    der.extend_from_slice(&tlsalpn01_digest(key_authorization));
    der
}

#[cfg(test)]
mod tests {
    use super::*;

    // SHA-256("abc") is the FIPS 180-2 vector ba7816bf…15ad, here in base64url.
    #[test]
    fn dns01_value_is_unpadded_base64url_sha256() {
        assert_eq!(
            dns01_txt_value("abc"),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
        assert_eq!(dns01_txt_value("token.thumbprint").len(), 43);
    }

    #[test]
    fn extension_value_is_der_octet_string() {
        let v = tlsalpn01_extension_value("abc");
        assert_eq!(&v[..2], &[0x04, 0x20]);
        assert_eq!(v.len(), 34);
        assert_eq!(&v[2..], &tlsalpn01_digest("abc"));
    }
}
