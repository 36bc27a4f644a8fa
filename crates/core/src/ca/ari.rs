//! ACME Renewal Information (RFC 9773): the certID, the suggested renewal window of a
//! certificate, `replaces` in newOrder, and the operator pulling windows forward.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrite_proto::{Identifier, ProblemType};
use time::{Duration, OffsetDateTime};

use super::Ca;
use crate::model::{Account, Certificate, CertificateFilter, CrlScope};
use crate::{CoreError, Store};

/// Most certificates one `advance_renewal` covers.
pub const MAX_ADVANCE: u32 = 1_000_000;

/// A certificate's identity for RFC 9773 (§4.1): the keyIdentifier of its
/// authorityKeyIdentifier and its serial number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertId {
    /// The issuer's key identifier, as the certificate's authorityKeyIdentifier states it.
    pub key_id: Vec<u8>,
    /// The serial, in the lower-case hex form the store keys certificates by.
    pub serial_hex: String,
}

impl CertId {
    /// Parses `base64url(keyIdentifier) "." base64url(serial)` (RFC 9773 §4.1: unpadded
    /// base64url; the serial is the DER INTEGER's content octets, so a first octet with its
    /// top bit set is a negative number, which no certificate has; redundant leading zero
    /// octets are tolerated). A malformed one is `malformed` with what is wrong.
    pub fn parse(text: &str) -> Result<CertId, CoreError> {
        let bad = |what: &str| {
            CoreError::problem(
                ProblemType::Malformed,
                format!(
                    "the certID {text:?} is malformed: {what}; a certID is base64url(authorityKeyIdentifier keyIdentifier) \".\" base64url(serial number octets), unpadded (RFC 9773 §4.1)"
                ),
            )
        };
        let (key_id, serial) = text.split_once('.').ok_or_else(|| bad("it has no \".\""))?;
        if key_id.is_empty() || serial.is_empty() {
            return Err(bad("a part is empty"));
        }
        let key_id = URL_SAFE_NO_PAD
            .decode(key_id)
            .map_err(|_| bad("the key identifier is not unpadded base64url"))?;
        let serial = URL_SAFE_NO_PAD
            .decode(serial)
            .map_err(|_| bad("the serial is not unpadded base64url"))?;
        // RFC 5280 §4.1.2.2: serials are positive and at most 20 octets (one more for the
        // DER sign octet).
        if serial.len() > 21 || serial[0] & 0x80 != 0 {
            return Err(bad(
                "the serial is not a positive integer of at most 20 octets",
            ));
        }
        let magnitude: Vec<u8> = serial.iter().copied().skip_while(|b| *b == 0).collect();
        if magnitude.is_empty() || magnitude.len() > 20 {
            return Err(bad(
                "the serial is not a positive integer of at most 20 octets",
            ));
        }
        Ok(CertId {
            key_id,
            serial_hex: ferrite_pki::serial_to_hex(&magnitude),
        })
    }

    /// The certID of a DER certificate (its authorityKeyIdentifier and serial), as clients
    /// compute it.
    pub fn of_certificate(der: &[u8]) -> Result<CertId, CoreError> {
        let parsed = ferrite_pki::parse_certificate(der).map_err(|e| {
            CoreError::problem(
                ProblemType::Malformed,
                format!("not a DER certificate: {e}"),
            )
        })?;
        let key_id = parsed.authority_key_id.ok_or_else(|| {
            CoreError::problem(
                ProblemType::Malformed,
                "the certificate has no authorityKeyIdentifier, so it has no certID",
            )
        })?;
        Ok(CertId {
            key_id,
            serial_hex: parsed.serial_hex,
        })
    }

    /// The canonical text: unpadded base64url, the serial in its shortest DER form (a zero
    /// octet first only when the top bit is set), as RFC 9773 §4.1 and its clients write it.
    pub fn encode(&self) -> String {
        // Serials come from the store, which holds only valid ones.
        let mut serial = ferrite_pki::serial_from_hex(&self.serial_hex).unwrap_or_default();
        if serial.first().is_some_and(|b| b & 0x80 != 0) {
            serial.insert(0, 0);
        }
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&self.key_id),
            URL_SAFE_NO_PAD.encode(serial)
        )
    }
}

/// What a renewal information request answers (RFC 9773 §4.2).
#[derive(Clone, Debug, PartialEq)]
pub struct RenewalInfoView {
    /// The suggested window's start.
    pub start: OffsetDateTime,
    /// Its end (after `start`).
    pub end: OffsetDateTime,
    /// A page explaining an early window, if there is one.
    pub explanation_url: Option<String>,
    /// When the client should ask again (`Retry-After`).
    pub retry_after: Duration,
}

/// The window of a certificate nobody asked to renew early: inside the middle third of its
/// validity, [notBefore + L/3, notBefore + 2L/3], a window of 2L/9 whose start is moved by a
/// per-certificate offset in [0, L/9) derived from the serial. The same certificate always
/// gets the same window; a fleet issued together is spread over a ninth of the lifetime
/// before each client picks its own random moment inside its window (RFC 9773 §4.3).
pub fn default_window(cert: &Certificate) -> (OffsetDateTime, OffsetDateTime) {
    let lifetime = cert.not_after - cert.not_before;
    let third = lifetime / 3;
    let slack = third / 3;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert.serial.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_ref()[..8]);
    // A fraction in [0, 1) from 53 bits of the digest.
    let fraction = (u64::from_be_bytes(first) >> 11) as f64 / (1u64 << 53) as f64;
    let offset = slack * fraction;
    let start = cert.not_before + third + offset;
    (start, start + third - slack)
}

/// How long after its notBefore a certificate's renewal can be exempt from the issuance rate
/// limits at the earliest (unless the operator advanced it): one exempt renewal a day per
/// chain of replacements, whatever validity the client asked for.
pub const RENEWAL_EXEMPT_AFTER: Duration = Duration::days(1);

/// A window that has already passed at `since` (RFC 9773 §4.2: "a window in the past" tells
/// clients to renew at once).
fn past_window(since: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
    (since - Duration::hours(2), since - Duration::hours(1))
}

impl Ca {
    /// The issuer id of the intermediate whose subjectKeyIdentifier is `key_id` (what the
    /// certificates it issued carry as their authorityKeyIdentifier), if it is this CA's.
    fn issuer_of_key_id(&self, key_id: &[u8]) -> Option<&str> {
        self.inner
            .issuer_key_ids
            .iter()
            .find(|(k, _)| k == key_id)
            .map(|(_, id)| id.as_str())
    }

    /// The certificate `cert_id` names, if this CA issued it; `Err(malformed)` for a
    /// malformed certID, `Ok(None)` for one of another issuer or an unknown serial.
    async fn certificate_by_cert_id(
        &self,
        cert_id: &str,
    ) -> Result<Option<(CertId, Certificate)>, CoreError> {
        let id = CertId::parse(cert_id)?;
        let Some(issuer_id) = self.issuer_of_key_id(&id.key_id) else {
            return Ok(None);
        };
        // The serial must be one this intermediate issued: a certID pairing one
        // intermediate's key id with another's serial names no certificate. A certificate of
        // the unsharded CRL records no issuer: it is the primary intermediate's.
        let primary = self.inner.issuers.primary().issuer_id();
        Ok(self
            .inner
            .store
            .certificate(&id.serial_hex)
            .await?
            .filter(|c| match &c.crl {
                CrlScope::Shard { issuer_id: of, .. } => of == issuer_id,
                CrlScope::Unsharded => issuer_id == primary,
            })
            .map(|c| (id, c)))
    }

    /// The suggested renewal window of `cert` (start, end) and the page explaining it: in the
    /// past once it was revoked or the operator advanced it, else [`default_window`].
    fn window_of(&self, cert: &Certificate) -> (OffsetDateTime, OffsetDateTime, Option<String>) {
        let revoked = cert.revoked.map(|(at, _)| at);
        let advanced = cert.renewal_advanced.as_ref().map(|a| a.at);
        let early = match (revoked, advanced) {
            (Some(r), Some(a)) => Some(r.min(a)),
            (r, a) => r.or(a),
        };
        match early {
            Some(since) => {
                let (start, end) = past_window(since);
                let url = cert
                    .renewal_advanced
                    .as_ref()
                    .and_then(|a| a.explanation_url.clone())
                    .or_else(|| self.inner.config.renewal_explanation_url.clone());
                (start, end, url)
            }
            None => {
                let (start, end) = default_window(cert);
                (start, end, None)
            }
        }
    }

    /// Whether an order for `names`, made at `at`, that replaces the certificate `cert_id` (as
    /// [`Ca::check_replaces`] accepted it) is a renewal exempt from the issuance rate limits
    /// ([`super::rate_limits`]). It is when it asks for no name the certificate lacks, and
    /// either the operator advanced the certificate's renewal (`ferrite ari advance`) before
    /// `at`, or the certificate is unrevoked, `at` is inside or after its default window and at
    /// least [`RENEWAL_EXEMPT_AFTER`] after its notBefore. So neither a short validity the
    /// client asked for, nor revoking its own certificate, nor adding names makes a chain of
    /// replacements an unlimited source of certificates; and the answer depends only on what
    /// was so at `at`, so finalize gets the one newOrder got. An unknown certificate is not.
    pub(super) async fn renewal_exempt(
        &self,
        cert_id: &str,
        names: &[&str],
        at: OffsetDateTime,
    ) -> Result<bool, CoreError> {
        let Some((_, cert)) = self.certificate_by_cert_id(cert_id).await? else {
            return Ok(false);
        };
        if !names.iter().all(|n| cert.dns_names.iter().any(|d| d == n)) {
            return Ok(false);
        }
        if cert.renewal_advanced.as_ref().is_some_and(|a| a.at <= at) {
            return Ok(true);
        }
        Ok(cert.revoked.is_none()
            && at >= default_window(&cert).0
            && at - cert.not_before >= RENEWAL_EXEMPT_AFTER)
    }

    /// RFC 9773 §4.2: the renewal information of the certificate `cert_id` names. Unknown
    /// (another issuer's, or no such serial): `404 malformed`.
    pub async fn renewal_info(&self, cert_id: &str) -> Result<RenewalInfoView, CoreError> {
        let (_, cert) = self
            .certificate_by_cert_id(cert_id)
            .await?
            .ok_or_else(|| {
                let mut p = ferrite_proto::Problem::new(
                    ProblemType::Malformed,
                    format!(
                        "this CA issued no certificate with certID {cert_id:?}; compute it from a certificate this CA issued (RFC 9773 §4.1)"
                    ),
                );
                p.status = Some(404);
                CoreError::from(p)
            })?;
        let (start, end, explanation_url) = self.window_of(&cert);
        let cfg = &self.inner.config;
        Ok(RenewalInfoView {
            start,
            end,
            explanation_url,
            retry_after: cfg.renewal_info_retry_after,
        })
    }

    /// RFC 9773 §5: checks a newOrder's `replaces` and returns its canonical certID. The
    /// certificate must be this CA's, of the same account or of an account of the same
    /// customer, and share at least one identifier with the order; anything else is
    /// `malformed` with the reason. Whether another order already replaces it is decided when
    /// the order is stored.
    pub(super) async fn check_replaces(
        &self,
        account: &Account,
        cert_id: &str,
        identifiers: &[Identifier],
    ) -> Result<String, CoreError> {
        let refuse = |why: &str| {
            CoreError::problem(
                ProblemType::Malformed,
                format!(
                    "replaces {cert_id:?}: {why}; name a certificate of this account (or of its customer) that shares a name with the order, or leave replaces out"
                ),
            )
        };
        let Some((id, cert)) = self.certificate_by_cert_id(cert_id).await? else {
            return Err(refuse("this CA issued no such certificate"));
        };
        let same_owner = cert.account_id == account.id
            || match &account.customer_id {
                Some(customer) => self
                    .inner
                    .store
                    .account(&cert.account_id)
                    .await?
                    .is_some_and(|owner| owner.customer_id.as_ref() == Some(customer)),
                None => false,
            };
        if !same_owner {
            // Reported like an unknown one: whose certificates exist is nobody else's business.
            return Err(refuse("this CA issued no such certificate"));
        }
        if !identifiers
            .iter()
            .any(|i| cert.dns_names.contains(&i.value))
        {
            return Err(refuse(
                "the certificate shares no identifier with this order",
            ));
        }
        Ok(id.encode())
    }
}

/// `ferrite ari advance`: marks the certificates `filter` covers that have not expired at
/// `now` (at most [`MAX_ADVANCE`]) for renewal now, so their renewal information shows a
/// window in the past with `explanation_url`. With `dry_run`, marks nothing. Returns the
/// certificates covered.
pub async fn advance_renewal(
    store: &dyn Store,
    now: OffsetDateTime,
    filter: &CertificateFilter,
    explanation_url: Option<&str>,
    dry_run: bool,
) -> Result<Vec<Certificate>, CoreError> {
    let certificates = store
        .certificates_matching(filter, now, MAX_ADVANCE)
        .await?;
    if !dry_run {
        let at = crate::model::stored_precision(now);
        for chunk in certificates.chunks(1_000) {
            let serials: Vec<String> = chunk.iter().map(|c| c.serial.clone()).collect();
            store.advance_renewal(&serials, at, explanation_url).await?;
        }
        tracing::warn!(
            target: "ferrite::audit",
            event = "renewal_advanced",
            filter = ?filter,
            certificates = certificates.len(),
            explanation_url,
            "renewal windows pulled forward"
        );
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cert_ids_round_trip_and_refuse_garbage() {
        // RFC 9773 §4.1's example: keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4,
        // serial 00:87:65:43:21.
        let id = CertId::parse("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE").unwrap();
        assert_eq!(id.serial_hex, "87654321");
        assert_eq!(id.key_id[0], 0x69);
        assert_eq!(id.encode(), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
        // With a redundant zero octet it names the same certificate, and encodes canonically.
        let loose = CertId::parse("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AACHZUMh").unwrap();
        assert_eq!(loose, id);
        assert_eq!(loose.encode(), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
        for bad in [
            "",
            "nodot",
            ".AIdlQyE",
            "aYhba4dGQEHhs3uEe6CuLN4ByNQ.",
            "aYhb=.AIdlQyE",
            "aYhba4dGQEHhs3uEe6CuLN4ByNQ.gA",
            // Without its sign octet the serial reads as negative.
            "aYhba4dGQEHhs3uEe6CuLN4ByNQ.h2VDIQ",
            "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AA",
            "a+b/.AIdlQyE",
        ] {
            let err = CertId::parse(bad).unwrap_err().to_problem();
            assert_eq!(err.kind, ProblemType::Malformed, "{bad:?}");
            assert!(err.detail.contains("RFC 9773"), "{bad:?}: {}", err.detail);
        }
    }
}
