//! Generating MAC keys and API secrets, and hashing API secrets (argon2).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::secret::{SecretText, random_bytes};
use crate::CoreError;

/// Bytes of a MAC key: 256 bits, as HS256 wants at least the hash size (RFC 7518 §3.2).
pub const MAC_KEY_LEN: usize = 32;

/// Most attempts at a key whose text has no `-` or `_` (each attempt succeeds with
/// probability (62/64)^43 ≈ 0.26, so 200 failures in a row do not happen).
const MAX_ATTEMPTS: usize = 200;

/// A new MAC key: its raw bytes and its text, unpadded base64url without `-` or `_`, so that
/// base64 and base64url decoders, padded or not, all read the same bytes (some clients decode
/// the HMAC key as standard base64).
pub(crate) fn generate_mac_key() -> Result<([u8; MAC_KEY_LEN], SecretText), CoreError> {
    for _ in 0..MAX_ATTEMPTS {
        let bytes = random_bytes::<MAC_KEY_LEN>()?;
        let text = URL_SAFE_NO_PAD.encode(bytes);
        if !text.contains(['-', '_']) {
            return Ok((bytes, SecretText::new(text)));
        }
    }
    Err(CoreError::Internal(
        "could not generate a MAC key without '-' or '_'".into(),
    ))
}

/// A new API secret: 256 random bits, base64url.
pub(crate) fn generate_api_secret() -> Result<SecretText, CoreError> {
    Ok(SecretText::new(
        URL_SAFE_NO_PAD.encode(random_bytes::<32>()?),
    ))
}

/// The argon2id hash (default parameters, random salt) of an API secret, in PHC format.
pub(crate) fn hash_secret(secret: &SecretText) -> Result<String, CoreError> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?)
        .map_err(|e| CoreError::Internal(format!("argon2 salt: {e}")))?;
    argon2::Argon2::default()
        .hash_password(secret.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CoreError::Internal(format!("argon2 hash: {e}")))
}

/// Whether `secret` matches the PHC `hash` (constant-time comparison inside argon2).
pub(crate) fn verify_secret(secret: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(secret.as_bytes(), &h)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};

    use super::*;

    #[test]
    fn mac_keys_decode_the_same_in_every_base64_flavour() {
        for _ in 0..50 {
            let (bytes, text) = generate_mac_key().unwrap();
            let t = text.expose();
            assert_eq!(t.len(), 43);
            assert!(t.bytes().all(|c| c.is_ascii_alphanumeric()), "{t}");
            assert_eq!(URL_SAFE_NO_PAD.decode(t).unwrap(), bytes);
            assert_eq!(STANDARD_NO_PAD.decode(t).unwrap(), bytes);
            assert_eq!(STANDARD.decode(format!("{t}=")).unwrap(), bytes);
            assert_eq!(URL_SAFE.decode(format!("{t}=")).unwrap(), bytes);
        }
    }

    #[test]
    fn secret_hash_verifies_only_the_secret() {
        let secret = generate_api_secret().unwrap();
        let hash = hash_secret(&secret).unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(!hash.contains(secret.expose()));
        assert!(verify_secret(secret.expose(), &hash));
        assert!(!verify_secret("wrong", &hash));
        assert!(!verify_secret(secret.expose(), "not a hash"));
    }
}
