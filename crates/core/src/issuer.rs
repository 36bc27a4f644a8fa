//! The `CertificateIssuer` trait: what the engine asks of the CA that holds the signing key,
//! as Boulder's registration authority asks its CA. `ferrite_pki::Issuer` implements it with
//! the intermediate's key in a file; a key in an HSM or a remote signing service stands behind
//! the same trait, and the engine can be tested without keys.

use async_trait::async_trait;
use ferrite_pki::{IssueRequest, IssuedCertificate, PkiError, Profile, RevokedEntry};
use time::OffsetDateTime;

/// Issues subscriber certificates and signs CRLs for one issuing CA.
#[async_trait]
pub trait CertificateIssuer: Send + Sync + 'static {
    /// Builds the certificate `request` asks for under `profile`, lints it, signs it and
    /// checks the signature (lint before sign: a certificate that breaks the profile is never
    /// signed). The caller has already checked the CSR and the order.
    async fn issue(
        &self,
        profile: &Profile,
        request: &IssueRequest,
    ) -> Result<IssuedCertificate, PkiError>;

    /// Signs a full CRL of `revoked` with CRL number `number` (RFC 5280 §5).
    async fn sign_crl(
        &self,
        revoked: &[RevokedEntry],
        number: u64,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Result<Vec<u8>, PkiError>;

    /// The issuing CA's certificate, PEM: what the certificate chain ends with.
    fn certificate_pem(&self) -> &str;

    /// The issuing CA's certificate, DER (served for AIA caIssuers).
    fn certificate_der(&self) -> &[u8];

    /// The issuing CA's notBefore: no certificate it issues may start earlier.
    fn not_before(&self) -> OffsetDateTime;
}

/// Signs inline: with the key in memory a signature takes tens of microseconds.
#[async_trait]
impl CertificateIssuer for ferrite_pki::Issuer {
    async fn issue(
        &self,
        profile: &Profile,
        request: &IssueRequest,
    ) -> Result<IssuedCertificate, PkiError> {
        self.issue_with(profile, request)
    }

    async fn sign_crl(
        &self,
        revoked: &[RevokedEntry],
        number: u64,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Result<Vec<u8>, PkiError> {
        ferrite_pki::Issuer::sign_crl(self, revoked, number, this_update, next_update)
    }

    fn certificate_pem(&self) -> &str {
        self.intermediate_pem()
    }

    fn certificate_der(&self) -> &[u8] {
        self.intermediate_der()
    }

    fn not_before(&self) -> OffsetDateTime {
        ferrite_pki::Issuer::not_before(self)
    }
}
