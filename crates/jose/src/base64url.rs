//! Strict base64url (RFC 7515 §2: "base64url encoding ... with all trailing '=' characters
//! omitted").

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::JoseError;

/// Encodes without padding.
pub(crate) fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url, rejecting padding, the standard alphabet's `+` and `/`, whitespace,
/// truncated input (length ≡ 1 mod 4) and non-zero trailing bits (so every value has exactly
/// one accepted encoding). `what` names the field for the error message.
pub(crate) fn decode(text: &str, what: &str) -> Result<Vec<u8>, JoseError> {
    URL_SAFE_NO_PAD.decode(text).map_err(|e| {
        JoseError::malformed(format!(
            "{what} is not base64url without padding (RFC 7515 §2): {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict() {
        assert_eq!(decode("", "x").unwrap(), b"");
        assert_eq!(decode("YQ", "x").unwrap(), b"a");
        assert!(decode("YQ==", "x").is_err(), "padding");
        assert!(decode("Y", "x").is_err(), "truncated");
        assert!(decode("YR", "x").is_err(), "trailing bits");
        assert!(decode("+/8", "x").is_err(), "standard alphabet");
        assert!(decode("-_8", "x").is_ok(), "url alphabet");
        assert!(decode("YW J", "x").is_err(), "whitespace");
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
    }
}
