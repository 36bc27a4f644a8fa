//! The `CertificateIssuer` trait: what the engine asks of the CA that holds the signing key,
//! as Boulder's registration authority asks its CA. `ferrite_pki::Issuer` implements it,
//! signing inline (a key in memory signs in tens of microseconds); [`OnBlockingThreads`]
//! implements it for an issuer whose key may wait on a device (a PKCS#11 token), signing on
//! tokio's blocking threads so that a slow token never holds a runtime thread. A remote
//! signing service stands behind the same trait, and the engine can be tested without keys.

use std::sync::Arc;

use async_trait::async_trait;
use ferrite_pki::{
    IssueRequest, IssuedCertificate, PkiError, Precertificate, Profile, RevokedEntry, Sct,
};
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

    /// Signs the precertificate (RFC 6962 §3.1) of the certificate [`issue`] would sign for
    /// `request`, for Certificate Transparency logs.
    ///
    /// [`issue`]: CertificateIssuer::issue
    async fn issue_precertificate(
        &self,
        profile: &Profile,
        request: &IssueRequest,
    ) -> Result<Precertificate, PkiError>;

    /// Signs the certificate of `precert` with the (verified) `scts` embedded.
    async fn issue_with_scts(
        &self,
        precert: &Precertificate,
        scts: &[Sct],
    ) -> Result<IssuedCertificate, PkiError>;

    /// Signs a complete CRL of `revoked` with CRL number `number` (RFC 5280 §5) for CRL
    /// shard `shard` of this issuer, or with `None` for the unsharded CRL (its issuing
    /// distribution point names the shard's URL, as the shard's certificates do).
    async fn sign_crl(
        &self,
        shard: Option<u32>,
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

    /// The issuing CA's [`ferrite_pki::Issuer::id`]: what names its CRL shards.
    fn issuer_id(&self) -> &str;

    /// How many CRL shards the certificates this issuer signs are spread over now.
    fn crl_shards(&self) -> u32;

    /// The intermediate's name (`intermediate`, `intermediate-rsa`, …): what the
    /// configuration's `ca.active` and a profile's `issuer` name.
    fn name(&self) -> &str;

    /// Whether the intermediate's key is RSA (else ECDSA): subscriber RSA keys get its chain.
    fn key_is_rsa(&self) -> bool;

    /// The issuing CA's notAfter: it issues nothing after it, and its CRLs are signed until it.
    fn not_after(&self) -> OffsetDateTime;
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

    async fn issue_precertificate(
        &self,
        profile: &Profile,
        request: &IssueRequest,
    ) -> Result<Precertificate, PkiError> {
        ferrite_pki::Issuer::issue_precertificate(self, profile, request)
    }

    async fn issue_with_scts(
        &self,
        precert: &Precertificate,
        scts: &[Sct],
    ) -> Result<IssuedCertificate, PkiError> {
        ferrite_pki::Issuer::issue_with_scts(self, precert, scts)
    }

    async fn sign_crl(
        &self,
        shard: Option<u32>,
        revoked: &[RevokedEntry],
        number: u64,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Result<Vec<u8>, PkiError> {
        ferrite_pki::Issuer::sign_crl(self, shard, revoked, number, this_update, next_update)
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

    fn issuer_id(&self) -> &str {
        self.id()
    }

    fn crl_shards(&self) -> u32 {
        self.urls().crl_shards
    }

    fn name(&self) -> &str {
        ferrite_pki::Issuer::name(self)
    }

    fn key_is_rsa(&self) -> bool {
        ferrite_pki::Issuer::key_is_rsa(self)
    }

    fn not_after(&self) -> OffsetDateTime {
        ferrite_pki::Issuer::not_after(self)
    }
}

/// An issuer whose key may block (a PKCS#11 token): every signature runs on tokio's blocking
/// threads, so signatures proceed in parallel (the token's session pool bounds them) while the
/// runtime threads keep serving.
pub struct OnBlockingThreads(pub Arc<ferrite_pki::Issuer>);

impl OnBlockingThreads {
    async fn run<T: Send + 'static>(
        &self,
        action: &'static str,
        f: impl FnOnce(&ferrite_pki::Issuer) -> Result<T, PkiError> + Send + 'static,
    ) -> Result<T, PkiError> {
        let issuer = Arc::clone(&self.0);
        tokio::task::spawn_blocking(move || f(&issuer))
            .await
            .unwrap_or_else(|e| {
                Err(PkiError::Signing {
                    action,
                    detail: format!("the signing task failed: {e}"),
                })
            })
    }
}

#[async_trait]
impl CertificateIssuer for OnBlockingThreads {
    async fn issue(
        &self,
        profile: &Profile,
        request: &IssueRequest,
    ) -> Result<IssuedCertificate, PkiError> {
        let (profile, request) = (profile.clone(), request.clone());
        self.run("signing a certificate", move |issuer| {
            issuer.issue_with(&profile, &request)
        })
        .await
    }

    async fn issue_precertificate(
        &self,
        profile: &Profile,
        request: &IssueRequest,
    ) -> Result<Precertificate, PkiError> {
        let (profile, request) = (profile.clone(), request.clone());
        self.run("signing a precertificate", move |issuer| {
            issuer.issue_precertificate(&profile, &request)
        })
        .await
    }

    async fn issue_with_scts(
        &self,
        precert: &Precertificate,
        scts: &[Sct],
    ) -> Result<IssuedCertificate, PkiError> {
        let (precert, scts) = (precert.clone(), scts.to_vec());
        self.run("signing a certificate", move |issuer| {
            issuer.issue_with_scts(&precert, &scts)
        })
        .await
    }

    async fn sign_crl(
        &self,
        shard: Option<u32>,
        revoked: &[RevokedEntry],
        number: u64,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Result<Vec<u8>, PkiError> {
        let revoked = revoked.to_vec();
        self.run("signing a CRL", move |issuer| {
            issuer.sign_crl(shard, &revoked, number, this_update, next_update)
        })
        .await
    }

    fn certificate_pem(&self) -> &str {
        self.0.intermediate_pem()
    }

    fn certificate_der(&self) -> &[u8] {
        self.0.intermediate_der()
    }

    fn not_before(&self) -> OffsetDateTime {
        self.0.not_before()
    }

    fn issuer_id(&self) -> &str {
        self.0.id()
    }

    fn crl_shards(&self) -> u32 {
        self.0.urls().crl_shards
    }

    fn name(&self) -> &str {
        self.0.name()
    }

    fn key_is_rsa(&self) -> bool {
        self.0.key_is_rsa()
    }

    fn not_after(&self) -> OffsetDateTime {
        self.0.not_after()
    }
}

/// The CA's issuing intermediates: the ones that issue (`ca.active`) and the retired ones,
/// which only sign the CRLs of the certificates they issued until their own notAfter (by then
/// every one of those has expired: a certificate never outlives its issuer). The first is the
/// primary intermediate (`intermediate.pem`): it signs the unsharded CRL and is what
/// `/ca/intermediate.der` serves.
#[derive(Clone)]
pub struct Issuers {
    entries: Vec<IssuerEntry>,
}

/// One intermediate of [`Issuers`].
#[derive(Clone)]
pub struct IssuerEntry {
    /// Signs for it.
    pub issuer: Arc<dyn CertificateIssuer>,
    /// Whether it issues certificates (else it only signs its CRLs).
    pub active: bool,
}

impl From<Arc<dyn CertificateIssuer>> for Issuers {
    /// One intermediate, active.
    fn from(issuer: Arc<dyn CertificateIssuer>) -> Issuers {
        Issuers {
            entries: vec![IssuerEntry {
                issuer,
                active: true,
            }],
        }
    }
}

impl<T: CertificateIssuer> From<Arc<T>> for Issuers {
    /// One intermediate, active.
    fn from(issuer: Arc<T>) -> Issuers {
        let issuer: Arc<dyn CertificateIssuer> = issuer;
        Issuers::from(issuer)
    }
}

impl Issuers {
    /// The intermediates, the primary first. `None` when `entries` is empty or none is
    /// active.
    pub fn new(entries: Vec<IssuerEntry>) -> Option<Issuers> {
        entries
            .iter()
            .any(|e| e.active)
            .then_some(Issuers { entries })
    }

    /// The primary intermediate (`intermediate.pem`).
    pub fn primary(&self) -> &Arc<dyn CertificateIssuer> {
        &self.entries[0].issuer
    }

    /// Every intermediate, the primary first.
    pub fn all(&self) -> impl Iterator<Item = &IssuerEntry> {
        self.entries.iter()
    }

    /// The intermediate whose [`CertificateIssuer::issuer_id`] is `id`.
    pub fn by_id(&self, id: &str) -> Option<&Arc<dyn CertificateIssuer>> {
        self.entries
            .iter()
            .map(|e| &e.issuer)
            .find(|i| i.issuer_id() == id)
    }

    /// The intermediate that signs a certificate of a profile whose `issuer` is `selector`
    /// ([`ferrite_pki::issuer_selected`]) for a subscriber key that is RSA or not, at `now`:
    /// among the active intermediates the selector allows that have not expired at `now`, one
    /// of the key's family if there is one, else any; of those the newest (latest notBefore),
    /// so an intermediate added by a ceremony takes over from the one it replaces. `None`: no
    /// active intermediate fits. (A certificate never starts before its intermediate:
    /// finalize moves its notBefore up.)
    pub fn for_issuance(
        &self,
        selector: &str,
        subscriber_rsa: bool,
        now: OffsetDateTime,
    ) -> Option<&Arc<dyn CertificateIssuer>> {
        let candidates: Vec<&Arc<dyn CertificateIssuer>> = self
            .entries
            .iter()
            .filter(|e| e.active)
            .map(|e| &e.issuer)
            .filter(|i| {
                ferrite_pki::issuer_selected(selector, i.name(), i.key_is_rsa())
                    && now < i.not_after()
            })
            .collect();
        let same_family = candidates
            .iter()
            .filter(|i| i.key_is_rsa() == subscriber_rsa)
            .max_by_key(|i| i.not_before());
        same_family
            .or_else(|| candidates.iter().max_by_key(|i| i.not_before()))
            .copied()
    }

    /// The intermediates that sign CRLs at `now`: every one whose notAfter has not passed
    /// (a retired one included: its certificates may still be revoked).
    pub fn signing_crls(
        &self,
        now: OffsetDateTime,
    ) -> impl Iterator<Item = &Arc<dyn CertificateIssuer>> {
        self.entries
            .iter()
            .map(|e| &e.issuer)
            .filter(move |i| now < i.not_after())
    }
}
