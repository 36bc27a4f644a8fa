//! The ACME listener's TLS configuration (served by [`crate::listener::serve`]) and its
//! certificate, which can be replaced while the listener serves ([`ListenerCertificate`]).

use std::fmt;
use std::sync::{Arc, RwLock};

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use time::OffsetDateTime;

/// Errors building the TLS configuration. Operator's fault (bad certificate or key files).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate chain or key PEM did not parse.
    #[error("TLS certificate or key does not parse: {0}")]
    Pem(String),
    /// rustls refused the configuration (or the key is not the certificate's).
    #[error("TLS configuration refused: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The ACME listener's certificate chain and key. [`ListenerCertificate::replace`] swaps
/// them while the listener serves: every handshake after it gets the new certificate,
/// connections already open keep theirs.
pub struct ListenerCertificate {
    provider: Arc<CryptoProvider>,
    current: RwLock<Current>,
}

#[derive(Clone)]
struct Current {
    key: Arc<CertifiedKey>,
    not_after: OffsetDateTime,
}

impl fmt::Debug for ListenerCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenerCertificate")
            .field("not_after", &self.not_after())
            .finish_non_exhaustive()
    }
}

impl ListenerCertificate {
    /// The chain `chain_pem` (leaf first) with its PKCS#8 (or SEC1, PKCS#1) key `key_pem`,
    /// whose leaf expires at `not_after`. Fails when either does not parse or the key is not
    /// the leaf's.
    pub fn new(
        chain_pem: &str,
        key_pem: &str,
        not_after: OffsetDateTime,
    ) -> Result<Arc<Self>, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let key = certified_key(&provider, chain_pem, key_pem)?;
        Ok(Arc::new(Self {
            provider,
            current: RwLock::new(Current { key, not_after }),
        }))
    }

    /// Serves `chain_pem` and `key_pem` from the next handshake on; on an error the current
    /// certificate stays.
    pub fn replace(
        &self,
        chain_pem: &str,
        key_pem: &str,
        not_after: OffsetDateTime,
    ) -> Result<(), TlsError> {
        let key = certified_key(&self.provider, chain_pem, key_pem)?;
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        *current = Current { key, not_after };
        Ok(())
    }

    /// The served leaf's notAfter.
    pub fn not_after(&self) -> OffsetDateTime {
        self.current().not_after
    }

    fn current(&self) -> Current {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A rustls server config (aws-lc-rs provider, ALPN h2 and http/1.1) serving this
    /// certificate, whatever it is at each handshake.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<ServerConfig>, TlsError> {
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for ListenerCertificate {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current().key)
    }
}

fn certified_key(
    provider: &CryptoProvider,
    chain_pem: &str,
    key_pem: &str,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem(format!("certificate chain: {e}")))?;
    if certs.is_empty() {
        return Err(TlsError::Pem(
            "the certificate file holds no certificate".into(),
        ));
    }
    // The key's parse error is not shown: it could quote key material.
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|_| TlsError::Pem("the private key is not a PEM private key".into()))?;
    Ok(Arc::new(CertifiedKey::from_der(certs, key, provider)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(name: &str) -> (String, String, OffsetDateTime) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let (_, parsed) = x509_parser::parse_x509_certificate(cert.der()).unwrap();
        (
            cert.pem(),
            key.serialize_pem(),
            parsed.validity().not_after.to_datetime(),
        )
    }

    #[test]
    fn a_replacement_is_served_and_a_bad_one_keeps_the_current() {
        let (chain, key, not_after) = pair("a.example");
        let listener = ListenerCertificate::new(&chain, &key, not_after).unwrap();
        let first = listener.current().key;
        let (chain2, key2, _) = pair("b.example");
        let later = not_after + time::Duration::days(1);
        listener.replace(&chain2, &key2, later).unwrap();
        assert_ne!(listener.current().key.cert, first.cert);
        assert_eq!(listener.not_after(), later);

        // Another certificate's key, an empty chain, a non-key: refused, nothing changes.
        for (c, k) in [(&chain, &key2), (&String::new(), &key2), (&chain2, &chain2)] {
            assert!(listener.replace(c, k, not_after).is_err());
            assert_eq!(listener.not_after(), later);
        }
        assert!(!format!("{listener:?}").contains("PRIVATE"));
    }
}
