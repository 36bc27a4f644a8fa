//! Anti-replay nonces (RFC 8555 §6.5) that cost no write to issue.
//!
//! A nonce is `base64url(expires ‖ random ‖ tag)`: the expiry in Unix seconds (8 bytes, big
//! endian), 8 random bytes, and the first 16 bytes of HMAC-SHA256 over the first 16 under a
//! key every instance shares (kept in the Store, see [`crate::Store::nonce_key`]). Issuing one
//! is a MAC; redeeming one checks the MAC and the expiry here and then records the nonce as
//! used in the Store (`consume_nonce`, one insert that fails for a nonce already there), so any
//! instance can redeem any instance's nonce, and exactly once. The used-nonce records expire
//! with the nonces and are purged by housekeeping.
//!
//! So issuing a nonce writes nothing, and a POST costs one statement (docs/performance.md).

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::OffsetDateTime;

use crate::eab::secret::random_bytes;
use crate::error::CoreError;

/// Length of the shared nonce key.
pub(crate) const NONCE_KEY_LEN: usize = 32;

const BODY_LEN: usize = 16;
const TAG_LEN: usize = 16;

/// The key nonces are authenticated with. Its `Debug` never shows the key.
pub(crate) struct NonceKey(hmac::Key);

impl std::fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceKey(..)")
    }
}

impl NonceKey {
    /// A key from its bytes (as stored).
    pub(crate) fn new(bytes: &[u8]) -> Self {
        NonceKey(hmac::Key::new(hmac::HMAC_SHA256, bytes))
    }

    /// A fresh nonce that expires at `expires`.
    pub(crate) fn issue(&self, expires: OffsetDateTime) -> Result<String, CoreError> {
        let mut bytes = [0u8; BODY_LEN + TAG_LEN];
        bytes[..8].copy_from_slice(&expires.unix_timestamp().to_be_bytes());
        bytes[8..BODY_LEN].copy_from_slice(&random_bytes::<8>()?);
        let tag = hmac::sign(&self.0, &bytes[..BODY_LEN]);
        bytes[BODY_LEN..].copy_from_slice(&tag.as_ref()[..TAG_LEN]);
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The expiry of `nonce` if this key issued it and it has not expired at `now`; `None` for
    /// anything else (malformed, forged, expired), in time independent of where the tag
    /// differs.
    pub(crate) fn check(&self, nonce: &str, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let bytes = URL_SAFE_NO_PAD.decode(nonce).ok()?;
        if bytes.len() != BODY_LEN + TAG_LEN {
            return None;
        }
        let tag = hmac::sign(&self.0, &bytes[..BODY_LEN]);
        aws_lc_rs::constant_time::verify_slices_are_equal(
            &tag.as_ref()[..TAG_LEN],
            &bytes[BODY_LEN..],
        )
        .ok()?;
        let mut secs = [0u8; 8];
        secs.copy_from_slice(&bytes[..8]);
        let expires = OffsetDateTime::from_unix_timestamp(i64::from_be_bytes(secs)).ok()?;
        (expires > now).then_some(expires)
    }
}

/// A new random key for [`crate::Store::nonce_key`] to keep if the store has none yet.
pub(crate) fn generate_key() -> Result<[u8; NONCE_KEY_LEN], CoreError> {
    random_bytes::<NONCE_KEY_LEN>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-30 08:00 UTC);

    #[test]
    fn an_issued_nonce_checks_until_it_expires() {
        let key = NonceKey::new(&[7; 32]);
        let expires = NOW + time::Duration::hours(1);
        let nonce = key.issue(expires).unwrap();
        assert_eq!(nonce.len(), 43, "32 bytes of base64url");
        assert_eq!(key.check(&nonce, NOW), Some(expires));
        assert_eq!(key.check(&nonce, expires), None, "expired at its expiry");
        assert_ne!(key.issue(expires).unwrap(), nonce, "random part");
    }

    #[test]
    fn forged_foreign_and_malformed_nonces_fail() {
        let key = NonceKey::new(&[7; 32]);
        let nonce = key.issue(NOW + time::Duration::hours(1)).unwrap();
        assert_eq!(
            NonceKey::new(&[8; 32]).check(&nonce, NOW),
            None,
            "other key"
        );
        // Pushing the expiry forward breaks the tag.
        let mut bytes = URL_SAFE_NO_PAD.decode(&nonce).unwrap();
        bytes[7] ^= 1;
        assert_eq!(key.check(&URL_SAFE_NO_PAD.encode(&bytes), NOW), None);
        for bad in [
            "",
            "not base64!",
            "AAAA",
            &nonce[..42],
            &format!("{nonce}A"),
        ] {
            assert_eq!(key.check(bad, NOW), None, "{bad:?}");
        }
    }

    #[test]
    fn debug_hides_the_key() {
        assert_eq!(format!("{:?}", NonceKey::new(&[7; 32])), "NonceKey(..)");
    }
}
