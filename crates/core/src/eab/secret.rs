//! Secret values that must never reach a log line, an error or a `Debug` print: the KEK, MAC
//! keys and API credential secrets.

use std::fmt;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::CoreError;

/// Secret text shown to a person exactly once (an HMAC key, an API secret). `Debug` prints
/// `[redacted]`; read it with [`SecretText::expose`] only to print it for the operator.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretText(String);

impl SecretText {
    /// Wraps secret text.
    pub fn new(text: String) -> Self {
        SecretText(text)
    }

    /// The text. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `N` bytes from the aws-lc-rs CSPRNG. Fails (instead of returning predictable bytes) when the
/// OS RNG is unavailable: secrets must never be guessable.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], CoreError> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| CoreError::Internal("the system random number generator failed".into()))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = SecretText::new("hunter2".into());
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(s.expose(), "hunter2");
    }
}
