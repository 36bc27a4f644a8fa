//! RFC 5280 §5 CRLs signed by the intermediate.

use rcgen::{
    CertificateRevocationListParams, CrlDistributionPoint, CrlIssuingDistributionPoint, CrlScope,
    KeyIdMethod, RevocationReason, RevokedCertParams, SerialNumber,
};
use time::{Duration, OffsetDateTime};

use crate::params::whole_seconds;
use crate::serial::from_hex;
use crate::signer::replace_signature;
use crate::{Issuer, PkiError};

/// Baseline Requirements §4.9.7: a subscriber CRL's nextUpdate is at most 10 days after its
/// thisUpdate.
pub const MAX_CRL_VALIDITY: Duration = Duration::days(10);

/// The CRL shard (of `shards`) a certificate with serial `serial` (magnitude octets) is
/// listed in: its last eight octets, big-endian, modulo `shards`. Serials are random, so the
/// shards fill evenly; the precertificate and the certificate of one serial fall in the same
/// shard, and so does a certificate whose shard is computed again.
pub fn crl_shard_of(serial: &[u8], shards: u32) -> u32 {
    let tail = &serial[serial.len().saturating_sub(8)..];
    let value = tail.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    u32::try_from(value % u64::from(shards.max(1))).unwrap_or(0)
}

/// One revoked certificate in a CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedEntry {
    /// The certificate's serial, lowercase hex as in [`IssuedCertificate::serial_hex`](crate::IssuedCertificate).
    pub serial_hex: String,
    /// When it was revoked.
    pub revoked_at: OffsetDateTime,
    /// RFC 5280 §5.3.1 CRLReason code.
    pub reason: u8,
}

/// Whether a subscriber may ask for (and a subscriber CRL may carry) this RFC 5280 reason:
/// Baseline Requirements §7.2.2 allows unspecified (0), keyCompromise (1),
/// affiliationChanged (3), superseded (4), cessationOfOperation (5) and
/// privilegeWithdrawn (9). RFC 8555 §7.6 lets the server refuse others with
/// `badRevocationReason`.
pub fn is_subscriber_revocation_reason(reason: u8) -> bool {
    matches!(reason, 0 | 1 | 3 | 4 | 5 | 9)
}

/// RFC 5280 §5.3.1. `None` for unspecified (0): "the reason code CRL entry extension SHOULD be
/// absent instead of using the unspecified (0) reasonCode value" (Baseline Requirements
/// §7.2.2 makes that a MUST).
fn reason_code(reason: u8) -> Result<Option<RevocationReason>, PkiError> {
    use RevocationReason as R;
    Ok(Some(match reason {
        0 => return Ok(None),
        1 => R::KeyCompromise,
        2 => R::CaCompromise,
        3 => R::AffiliationChanged,
        4 => R::Superseded,
        5 => R::CessationOfOperation,
        6 => R::CertificateHold,
        8 => R::RemoveFromCrl,
        9 => R::PrivilegeWithdrawn,
        10 => R::AaCompromise,
        _ => return Err(PkiError::InvalidRevocationReason { reason }),
    }))
}

impl Issuer {
    /// Signs a complete CRL (RFC 5280 §5) of one scope of this intermediate's certificates:
    /// shard `shard` ([`Issuer::crl_url`]), or with `None` the unsharded CRL at `urls.crl`.
    /// CRL number `number` (monotonically increasing: the caller's counter), AKI, an issuing
    /// distribution point with that URL (what the certificates of the scope carry as their
    /// CRL distribution point) and onlyContainsUserCerts, and one entry with its reason code
    /// per revoked certificate, signed with the intermediate key's signature algorithm and
    /// verified under the intermediate's public key before it is returned. Returns DER.
    pub fn sign_crl(
        &self,
        shard: Option<u32>,
        revoked: &[RevokedEntry],
        number: u64,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Result<Vec<u8>, PkiError> {
        let this_update = whole_seconds(this_update);
        let next_update = whole_seconds(next_update);
        // RFC 5280 §5.1.2.5: nextUpdate is after thisUpdate.
        if next_update <= this_update {
            return Err(PkiError::InvalidCrlWindow {
                reason: format!("nextUpdate {next_update} is not after thisUpdate {this_update}"),
            });
        }
        if next_update - this_update > MAX_CRL_VALIDITY {
            return Err(PkiError::InvalidCrlWindow {
                reason: format!(
                    "nextUpdate {next_update} is more than {} days after thisUpdate {this_update}",
                    MAX_CRL_VALIDITY.whole_days()
                ),
            });
        }
        let revoked_certs = revoked
            .iter()
            .map(|entry| {
                Ok(RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&from_hex(&entry.serial_hex)?),
                    revocation_time: whole_seconds(entry.revoked_at),
                    reason_code: reason_code(entry.reason)?,
                    invalidity_date: None,
                })
            })
            .collect::<Result<Vec<_>, PkiError>>()?;
        let params = CertificateRevocationListParams {
            this_update,
            next_update,
            crl_number: SerialNumber::from(number),
            // RFC 5280 §5.2.5: scope of this CRL, matching the leaves' CRL DP.
            issuing_distribution_point: Some(CrlIssuingDistributionPoint {
                distribution_point: CrlDistributionPoint {
                    uris: vec![self.crl_url(shard)],
                },
                scope: Some(CrlScope::UserCertsOnly),
            }),
            revoked_certs,
            // RFC 5280 §5.2.1: AKI equals the intermediate's subjectKeyIdentifier.
            key_identifier_method: KeyIdMethod::PreSpecified(self.key_id().to_vec()),
        };
        // Built with the placeholder key, then the TBSCertList signed with the CA key.
        let placeholder = params
            .signed_by(self.lint_signer())
            .map_err(|e| PkiError::Signing {
                action: "building a CRL",
                detail: e.to_string(),
            })?;
        let crl = replace_signature(placeholder.der(), self.key(), "signing a CRL")?;
        self.check_signature(&crl, "verifying a signed CRL")?;
        tracing::info!(number, ?shard, entries = revoked.len(), "signed CRL");
        Ok(crl)
    }
}
