//! The key-encryption key (KEK) that seals EAB MAC keys at rest with AES-256-GCM.
//!
//! HMAC verification needs the raw MAC key, so a hash will not do; the database holds only
//! `nonce || ciphertext || tag`, sealed with the MAC key's `kid` as associated data so a sealed
//! key copied onto another row does not open. The KEK itself comes from the caller (the CLI
//! reads `data_dir/eab.kek` or the `eab.kek` setting): core does no file I/O.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use super::secret::random_bytes;
use crate::CoreError;

/// Length of a KEK in bytes (AES-256).
pub const KEK_LEN: usize = 32;

/// A 256-bit key-encryption key. `Debug` prints `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Kek([u8; KEK_LEN]);

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Kek {
    /// A KEK from its bytes.
    pub fn new(bytes: [u8; KEK_LEN]) -> Kek {
        Kek(bytes)
    }

    /// A KEK from exactly 32 bytes; `None` for any other length.
    pub fn from_bytes(bytes: &[u8]) -> Option<Kek> {
        <[u8; KEK_LEN]>::try_from(bytes).ok().map(Kek)
    }

    /// A fresh random KEK.
    pub fn generate() -> Result<Kek, CoreError> {
        Ok(Kek(random_bytes::<KEK_LEN>()?))
    }

    /// The raw bytes, for writing the KEK file (0600). Never log them.
    pub fn expose(&self) -> &[u8; KEK_LEN] {
        &self.0
    }

    fn key(&self) -> Result<LessSafeKey, CoreError> {
        UnboundKey::new(&AES_256_GCM, &self.0)
            .map(LessSafeKey::new)
            .map_err(|_| CoreError::Internal("cannot build the AES-256-GCM key".into()))
    }

    /// Seals `plaintext` bound to `aad` (the kid): `nonce || ciphertext || tag`.
    pub(crate) fn seal(&self, aad: &str, plaintext: &[u8]) -> Result<Vec<u8>, CoreError> {
        let nonce_bytes = random_bytes::<NONCE_LEN>()?;
        let mut in_out = plaintext.to_vec();
        self.key()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(aad.as_bytes()),
                &mut in_out,
            )
            .map_err(|_| CoreError::Internal("sealing the MAC key failed".into()))?;
        let mut sealed = nonce_bytes.to_vec();
        sealed.extend_from_slice(&in_out);
        Ok(sealed)
    }

    /// Opens what [`seal`](Self::seal) produced for the same `aad`. Fails when the KEK is not
    /// the one the key was sealed with (the operator changed `eab.kek` or lost `eab.kek`).
    pub(crate) fn open(&self, aad: &str, sealed: &[u8]) -> Result<Vec<u8>, CoreError> {
        let wrong = || {
            CoreError::Internal(format!(
                "the MAC key {aad:?} cannot be decrypted: the key-encryption key (data_dir/eab.kek or eab.kek) is not the one it was created with"
            ))
        };
        if sealed.len() < NONCE_LEN {
            return Err(wrong());
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| wrong())?;
        let mut in_out = ciphertext.to_vec();
        let plain = self
            .key()?
            .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut in_out)
            .map_err(|_| wrong())?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_binding() {
        let kek = Kek::generate().unwrap();
        let sealed = kek.seal("kid-1", b"secret mac key").unwrap();
        assert!(!sealed.windows(14).any(|w| w == b"secret mac key"));
        assert_eq!(kek.open("kid-1", &sealed).unwrap(), b"secret mac key");
        // Another kid (a row swap) or another KEK does not open it.
        assert!(kek.open("kid-2", &sealed).is_err());
        assert!(Kek::generate().unwrap().open("kid-1", &sealed).is_err());
        assert!(kek.open("kid-1", &sealed[..5]).is_err());
        assert_eq!(format!("{kek:?}"), "[redacted]");
        assert!(Kek::from_bytes(&[0u8; 31]).is_none());
    }
}
