//! [`SecretPem`]: private key PEM text that never reaches a log line.

use std::fmt;

/// A PEM-encoded private key. `Debug` prints `[redacted]`; read it with [`SecretPem::expose`]
/// only where it is handed to TLS or written to a 0600 file.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretPem(String);

impl SecretPem {
    /// Wraps PEM text.
    pub fn new(pem: String) -> Self {
        SecretPem(pem)
    }

    /// The PEM text. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = SecretPem::new("-----BEGIN PRIVATE KEY-----\nAAAA\n".into());
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&s)), "Some([redacted])");
        assert!(s.expose().starts_with("-----BEGIN"));
    }
}
