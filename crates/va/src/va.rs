//! [`Va`]: the shared state and the three public validation calls.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;

use crate::config::VaConfig;
use crate::error::VaError;
use crate::record::{FailureKind, Problem, ValidationFailure, ValidationRecord};
use crate::resolve::Resolve;
use crate::{dns01, http01, tls, tlsalpn01};

/// The validation authority. Cheap to clone and share between tasks.
#[derive(Clone)]
pub struct Va {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: VaConfig,
    pub(crate) resolve: Resolve,
    /// For tls-alpn-01: ALPN "acme-tls/1", any certificate.
    pub(crate) tlsalpn01: Arc<ClientConfig>,
    /// For https redirects of http-01: ALPN "http/1.1", any certificate.
    pub(crate) https: Arc<ClientConfig>,
    /// Bounds one connect so that an unreachable IPv6 address leaves time to
    /// fall back to IPv4.
    pub(crate) connect_timeout: Duration,
}

impl fmt::Debug for Va {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Va")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Va {
    /// Builds a VA: sets up the resolver (reading `/etc/resolv.conf` when
    /// `dns_resolver` is `None`) and the TLS clients. Makes no connection.
    pub fn new(config: VaConfig) -> Result<Va, VaError> {
        let resolve = Resolve::new(&config)?;
        let connect_timeout = (config.timeout / 2).max(Duration::from_millis(100));
        Ok(Va {
            inner: Arc::new(Inner {
                resolve,
                tlsalpn01: tls::tlsalpn01_config()?,
                https: tls::https_config()?,
                connect_timeout,
                config,
            }),
        })
    }

    /// The settings this VA was built with.
    pub fn config(&self) -> &VaConfig {
        &self.inner.config
    }

    /// RFC 8555 §8.3: GET
    /// `http://{domain}:{http01_port}/.well-known/acme-challenge/{token}`
    /// from an address of our own resolution (A and AAAA through the
    /// configured resolver; private, reserved and loopback addresses refused
    /// unless `allow_private_addresses`), with `Host: {domain}`. Follows at
    /// most 10 redirects, only to http on `http01_port` or https on
    /// `tlsalpn01_port` (any server certificate accepted, as Let's Encrypt
    /// does). The body (at most 64 KiB), trimmed of trailing whitespace, must
    /// equal `key_authorization`.
    pub async fn http01(
        &self,
        domain: &str,
        token: &str,
        key_authorization: &str,
    ) -> Result<ValidationRecord, ValidationFailure> {
        let mut record = ValidationRecord::new(http01::METHOD, domain);
        let outcome = tokio::time::timeout(
            self.inner.config.timeout,
            http01::validate(&self.inner, &mut record, domain, token, key_authorization),
        )
        .await;
        self.finish(record, outcome)
    }

    /// RFC 8555 §8.4: one TXT record at `_acme-challenge.{domain}` must hold
    /// base64url(SHA-256(key_authorization)) without padding. A leading `*.`
    /// is removed from `domain` first (RFC 8555 §7.1.3).
    pub async fn dns01(
        &self,
        domain: &str,
        key_authorization: &str,
    ) -> Result<ValidationRecord, ValidationFailure> {
        let mut record = ValidationRecord::new(dns01::METHOD, domain);
        let outcome = tokio::time::timeout(
            self.inner.config.timeout,
            dns01::validate(&self.inner, &mut record, domain, key_authorization),
        )
        .await;
        self.finish(record, outcome)
    }

    /// RFC 8737: TLS to `domain:tlsalpn01_port` with SNI `domain` and ALPN
    /// exactly "acme-tls/1"; the certificate presented must have exactly one
    /// subjectAltName, the dNSName `domain`, and a critical
    /// id-pe-acmeIdentifier (1.3.6.1.5.5.7.1.31) extension whose value is the
    /// DER OCTET STRING of SHA-256(key_authorization).
    pub async fn tlsalpn01(
        &self,
        domain: &str,
        key_authorization: &str,
    ) -> Result<ValidationRecord, ValidationFailure> {
        let mut record = ValidationRecord::new(tlsalpn01::METHOD, domain);
        let outcome = tokio::time::timeout(
            self.inner.config.timeout,
            tlsalpn01::validate(&self.inner, &mut record, domain, key_authorization),
        )
        .await;
        self.finish(record, outcome)
    }

    #[allow(
        clippy::result_large_err,
        reason = "the public calls return ValidationFailure by value, record included"
    )]
    fn finish(
        &self,
        record: ValidationRecord,
        outcome: Result<Result<(), Problem>, tokio::time::error::Elapsed>,
    ) -> Result<ValidationRecord, ValidationFailure> {
        match outcome {
            Ok(Ok(())) => Ok(record),
            Ok(Err(problem)) => Err(ValidationFailure {
                kind: problem.kind,
                detail: problem.detail,
                record,
            }),
            Err(_) => {
                let at = record
                    .address_used
                    .map(|ip| format!(" (last address tried: {ip})"))
                    .unwrap_or_default();
                Err(ValidationFailure {
                    kind: FailureKind::Connection,
                    detail: format!(
                        "{} validation of {} did not finish within {:?}{at}; check that your server answers promptly",
                        record.method, record.hostname, self.inner.config.timeout
                    ),
                    record,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shareable<T: Clone + Send + Sync + 'static>() {}

    #[test]
    fn va_is_cheap_to_share_between_tasks() {
        shareable::<Va>();
        let va = Va::new(VaConfig {
            dns_resolver: Some("127.0.0.1:53".parse().unwrap()),
            ..VaConfig::default()
        })
        .unwrap();
        let copy = va.clone();
        assert!(Arc::ptr_eq(&va.inner, &copy.inner));
    }

    #[test]
    fn defaults_are_production_settings() {
        let c = VaConfig::default();
        assert_eq!(c.dns_resolver, None);
        assert_eq!((c.http01_port, c.tlsalpn01_port), (80, 443));
        assert!(!c.allow_private_addresses);
        assert_eq!(c.timeout, Duration::from_secs(10));
    }

    #[test]
    fn failure_kinds_are_rfc8555_problem_types() {
        assert_eq!(
            FailureKind::IncorrectResponse.problem_type(),
            "urn:ietf:params:acme:error:incorrectResponse"
        );
        assert_eq!(
            FailureKind::Dns.to_string(),
            "urn:ietf:params:acme:error:dns"
        );
        assert_eq!(
            FailureKind::Unauthorized.problem_type(),
            "urn:ietf:params:acme:error:unauthorized"
        );
    }
}
