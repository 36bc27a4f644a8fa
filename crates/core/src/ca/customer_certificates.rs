//! A customer's own certificates and domain validations, for the admin API: listed a page at a
//! time, looked up by serial, revoked. Every lookup is confined to the customer's accounts in
//! the store query itself, so another customer's certificate is "not found" and nothing says
//! whether it exists. Revocation goes through the operator's path
//! ([`operator_revoke::revoke_certificate`]): the same transaction, key block, CRL generation
//! bump and audit line, naming the credential that asked. An operator credential sees every
//! customer's (`None` for the customer).

use ferrite_proto::{Problem, ProblemType};
use time::OffsetDateTime;

use super::Ca;
use super::certificate_listing::{CertificateStatus, issuer_name};
use super::operator_revoke::{self, Revoker};
use crate::CoreError;
use crate::model::{Certificate, CertificateQuery, DomainValidation, DomainValidationQuery};

/// One page of a listing, and the cursor of the next (`None`: this is the last).
#[derive(Clone, Debug)]
pub struct Page<T> {
    /// The items, in the listing's order.
    pub items: Vec<T>,
    /// What to pass as `after` for the next page.
    pub next: Option<String>,
}

/// A certificate with the profile its order named (`None`: the default profile at issuance).
#[derive(Clone, Debug)]
pub struct CustomerCertificate {
    /// The certificate as stored.
    pub certificate: Certificate,
    /// The profile the order asked for.
    pub profile: Option<String>,
}

/// "Not found" for a serial the customer has no certificate with: the same answer whether
/// the serial is unknown or another customer's.
fn no_such_certificate(serial: &str) -> CoreError {
    let mut p = Problem::new(
        ProblemType::Malformed,
        format!(
            "your accounts have no certificate with serial {serial}; GET /admin/v1/certificates lists them (serials are hex, as `openssl x509 -noout -serial` prints them)"
        ),
    );
    p.status = Some(404);
    p.into()
}

impl Ca {
    /// The certificates of `customer_id`'s accounts (`None`: every customer's, for an
    /// operator credential) that `query` selects (its `customer_id` is set here), ordered by
    /// serial, after the serial `after`, at most `limit`.
    pub async fn customer_certificates(
        &self,
        customer_id: Option<&str>,
        mut query: CertificateQuery,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<CustomerCertificate>, CoreError> {
        query.customer_id = customer_id.map(str::to_owned);
        let store = self.store();
        let mut certs = store
            .certificates_page(&query, after, limit.saturating_add(1))
            .await?;
        let next = if certs.len() > limit as usize {
            certs.truncate(limit as usize);
            certs.last().map(|c| c.serial.clone())
        } else {
            None
        };
        let orders: Vec<String> = certs.iter().map(|c| c.order_id.clone()).collect();
        let profiles: std::collections::HashMap<String, Option<String>> =
            store.order_profiles(&orders).await?.into_iter().collect();
        let items = certs
            .into_iter()
            .map(|certificate| CustomerCertificate {
                profile: profiles.get(&certificate.order_id).cloned().flatten(),
                certificate,
            })
            .collect();
        Ok(Page { items, next })
    }

    /// The certificate with serial `serial` (as stored: see
    /// [`super::certificate_listing::parse_serial`]) if one of `customer_id`'s accounts holds
    /// it (`None`: any account); 404 otherwise.
    pub async fn customer_certificate(
        &self,
        customer_id: Option<&str>,
        serial: &str,
    ) -> Result<CustomerCertificate, CoreError> {
        let query = CertificateQuery {
            serial: Some(serial.to_owned()),
            ..CertificateQuery::default()
        };
        self.customer_certificates(customer_id, query, None, 1)
            .await?
            .items
            .pop()
            .ok_or_else(|| no_such_certificate(serial))
    }

    /// Revokes the certificate `serial` of `customer_id`'s accounts (`None`: any account)
    /// with `reason` (an RFC 5280 code that [`operator_revoke::parse_reason`] accepted) as the
    /// operator's `ferrite cert revoke` does, on behalf of `by` (a customer's API credential or
    /// an operator credential), and returns it as it is now. 404 if it is not the customer's;
    /// 409 `alreadyRevoked` if it was revoked before.
    pub async fn revoke_customer_certificate(
        &self,
        customer_id: Option<&str>,
        by: Revoker<'_>,
        serial: &str,
        reason: u8,
    ) -> Result<CustomerCertificate, CoreError> {
        let found = self.customer_certificate(customer_id, serial).await?;
        let revoked = operator_revoke::revoke_certificate(
            self.store().as_ref(),
            &found.certificate,
            reason,
            self.now(),
            by,
        )
        .await?;
        if !revoked {
            let mut p = Problem::new(
                ProblemType::AlreadyRevoked,
                format!(
                    "certificate {serial} is already revoked; GET /admin/v1/certificates/{serial} shows when and why"
                ),
            );
            p.status = Some(409);
            return Err(p.into());
        }
        // This instance's CRL lists it at its next request; the others notice the bumped
        // revocation generation within CRL_RECHECK.
        self.forget_crl(&found.certificate.crl).await;
        self.customer_certificate(customer_id, serial).await
    }

    /// The domain validations `query` selects, newest first, after the validation `after`,
    /// at most `limit`.
    pub async fn customer_validations(
        &self,
        query: &DomainValidationQuery,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<DomainValidation>, CoreError> {
        let mut items = self
            .store()
            .domain_validations_page(query, after, limit.saturating_add(1))
            .await?;
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|v| v.id.clone())
        } else {
            None
        };
        Ok(Page { items, next })
    }
}

/// Checks a validation listing's cursor (`after`: the id of the last validation a page
/// showed); anything that cannot be an id is `malformed` saying what to pass.
pub fn parse_validation_id(text: &str) -> Result<&str, CoreError> {
    let ok = !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(text)
    } else {
        Err(CoreError::problem(
            ProblemType::Malformed,
            format!(
                "{text:?} is not a validation id: pass the `next` URL a page returned, or the id of the last validation on it"
            ),
        ))
    }
}

/// A certificate as the admin API shows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct CertificateView {
    /// Lower-case hex, as stored (`openssl x509 -noout -serial` prints it upper-case).
    pub serial: String,
    /// The DNS names it certifies.
    pub names: Vec<String>,
    /// Validity start (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// Validity end (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// The profile its order asked for; `null`: the default profile at issuance.
    pub profile: Option<String>,
    /// Its issuer's name (RFC 4514); `null` if the stored DER does not parse.
    pub issuer: Option<String>,
    /// `valid`, `revoked` or `expired` ([`CertificateStatus`]).
    pub status: &'static str,
    /// When and why it was revoked; `null` unless revoked.
    pub revocation: Option<RevocationView>,
    /// The ACME account that ordered it.
    pub account_id: String,
    /// The order it was issued for.
    pub order_id: String,
}

/// A revocation as the admin API shows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct RevocationView {
    /// The RFC 5280 reason name (`keyCompromise`, `superseded`, …).
    pub reason: String,
    /// When (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub revoked_at: OffsetDateTime,
}

impl CertificateView {
    /// `c` as it stands at `now`.
    pub fn new(c: &CustomerCertificate, now: OffsetDateTime) -> CertificateView {
        let cert = &c.certificate;
        CertificateView {
            serial: cert.serial.clone(),
            names: cert.dns_names.clone(),
            not_before: cert.not_before,
            not_after: cert.not_after,
            profile: c.profile.clone(),
            issuer: issuer_name(&cert.der),
            status: CertificateStatus::of(cert, now).as_str(),
            revocation: cert.revoked.map(|(at, reason)| RevocationView {
                reason: operator_revoke::reason_name(reason),
                revoked_at: at,
            }),
            account_id: cert.account_id.clone(),
            order_id: cert.order_id.clone(),
        }
    }
}

/// A domain validation as the admin API shows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct ValidationView {
    /// Id.
    pub id: String,
    /// The validated name, `*.` in front for a wildcard authorization.
    pub domain: String,
    /// The challenge type that succeeded (`http-01`, `dns-01`, `tls-alpn-01`).
    pub method: &'static str,
    /// When it completed (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub validated_at: OffsetDateTime,
    /// Until when new orders may reuse it (RFC 3339, BR §4.2.1).
    #[serde(with = "time::serde::rfc3339")]
    pub reuse_until: OffsetDateTime,
    /// The account that answered the challenge.
    pub account_id: String,
    /// The authorization it made valid.
    pub authorization_id: String,
    /// The validator's evidence: addresses resolved and contacted, DNS answers.
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
}

impl From<&DomainValidation> for ValidationView {
    fn from(v: &DomainValidation) -> ValidationView {
        ValidationView {
            id: v.id.clone(),
            domain: if v.wildcard {
                format!("*.{}", v.domain)
            } else {
                v.domain.clone()
            },
            method: v.method.as_str(),
            validated_at: v.validated_at,
            reuse_until: v.reuse_until,
            account_id: v.account_id.clone(),
            authorization_id: v.authorization_id.clone(),
            evidence: v.record.clone(),
        }
    }
}
