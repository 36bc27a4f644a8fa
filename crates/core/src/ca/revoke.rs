//! Revocation (RFC 8555 §7.6) and CRLs (RFC 5280 §5).

use ferrite_jose::Jwk;
use ferrite_pki::{RevokedEntry, parse_certificate};
use ferrite_proto::ProblemType;
use time::Duration;
use tracing::info;

use super::Ca;
use crate::model::{Account, BlockedKey, StoredCrl, ValidationOwner};
use crate::{CoreError, policy};

/// Who signed a revocation request (§7.6).
#[derive(Clone, Debug)]
pub enum RevocationAuth {
    /// An account (kid): it must own the certificate.
    Account(Account),
    /// The certificate's own key (jwk): it must match the certificate's public key.
    CertificateKey(Jwk),
}

/// How long a signed CRL is served before a fresh one is signed.
pub const CRL_REFRESH: Duration = Duration::hours(1);

/// How long an instance serves the CRL it holds before it asks the database whether a
/// revocation made elsewhere (another instance, `ferrite cert revoke`) has made it out of date:
/// one small read per interval, and a revocation reaches every instance's `/crl` within it
/// (plus the time to sign).
pub const CRL_RECHECK: Duration = Duration::seconds(20);

/// How long the instance that takes the lease to sign the next CRL holds it: if it dies while
/// signing, another takes over after this.
pub const CRL_LEASE: Duration = Duration::seconds(30);

/// How often, and how many times, an instance looks for the first CRL while another signs it.
const CRL_WAIT: std::time::Duration = std::time::Duration::from_millis(50);
const CRL_WAIT_ROUNDS: u32 = 100;

/// RFC 5280 §5.3.1 reasons the Baseline Requirements (§7.2.2) allow for subscriber
/// certificates: unspecified (0), keyCompromise (1), affiliationChanged (3), superseded (4),
/// cessationOfOperation (5), privilegeWithdrawn (9).
const ALLOWED_REASONS: [u8; 6] = [0, 1, 3, 4, 5, 9];

impl Ca {
    /// RFC 8555 §7.6 revokeCert.
    pub async fn revoke(
        &self,
        auth: &RevocationAuth,
        certificate_der: &[u8],
        reason: Option<u8>,
    ) -> Result<(), CoreError> {
        let reason = reason.unwrap_or(0);
        if !ALLOWED_REASONS.contains(&reason) {
            return Err(CoreError::problem(
                ProblemType::BadRevocationReason,
                format!(
                    "revocation reason {reason} is not accepted; use one of 0 (unspecified), 1 (keyCompromise), 3 (affiliationChanged), 4 (superseded), 5 (cessationOfOperation), 9 (privilegeWithdrawn)"
                ),
            ));
        }
        let parsed = parse_certificate(certificate_der).map_err(|e| {
            CoreError::problem(
                ProblemType::Malformed,
                format!("the certificate field is not a DER X.509 certificate: {e}"),
            )
        })?;
        let unknown = || {
            CoreError::problem(
                ProblemType::Unauthorized,
                "this CA did not issue that certificate",
            )
        };
        let stored = self
            .inner
            .store
            .certificate(&parsed.serial_hex)
            .await?
            .ok_or_else(unknown)?;
        if stored.der != certificate_der {
            return Err(unknown());
        }
        match auth {
            RevocationAuth::Account(account) if account.id == stored.account_id => {}
            // RFC 8555 §7.6: the server MUST also accept "an account that holds
            // authorizations for all of the identifiers in the certificate".
            RevocationAuth::Account(account)
                if self
                    .holds_authorizations_for(account, &stored.dns_names)
                    .await? => {}
            RevocationAuth::Account(_) => {
                return Err(CoreError::problem(
                    ProblemType::Unauthorized,
                    "this account neither ordered that certificate nor holds valid authorizations for all of its names; sign the request with the account that ordered it, or with the certificate's key, or validate every name first",
                ));
            }
            RevocationAuth::CertificateKey(jwk) => {
                if jwk.to_spki_der() != parsed.spki_der {
                    return Err(CoreError::problem(
                        ProblemType::Unauthorized,
                        "the JWS key is not the certificate's public key",
                    ));
                }
            }
        }
        if stored.revoked.is_some() {
            return Err(CoreError::problem(
                ProblemType::AlreadyRevoked,
                "the certificate is already revoked",
            ));
        }
        let now = crate::model::stored_precision(self.now());
        // The holder of the certificate's key says it is compromised: block the key (in the
        // revoking transaction), so no CSR or account uses it again.
        let changed = match auth {
            RevocationAuth::CertificateKey(_)
                if reason == super::operator_revoke::KEY_COMPROMISE =>
            {
                let block = BlockedKey {
                    spki_sha256: super::key_block::spki_sha256(&parsed.spki_der),
                    blocked_at: now,
                    reason: format!(
                        "keyCompromise revocation of certificate {} signed with its key",
                        stored.serial
                    ),
                    serial: Some(stored.serial.clone()),
                };
                self.inner
                    .store
                    .revoke_certificate_blocking_key(&stored.serial, now, reason, &block)
                    .await?
            }
            _ => {
                self.inner
                    .store
                    .revoke_certificate(&stored.serial, now, reason)
                    .await?
            }
        };
        if !changed {
            return Err(CoreError::problem(
                ProblemType::AlreadyRevoked,
                "the certificate is already revoked",
            ));
        }
        info!(serial = %stored.serial, reason, "certificate revoked");
        // The next CRL request signs a new CRL that lists it.
        *self.inner.crl.lock().await = None;
        Ok(())
    }

    /// Whether `account` (through its customer's validations, or its own without a customer)
    /// currently holds a validation covering every one of `names`, by the same rules and
    /// window as authorization reuse.
    async fn holds_authorizations_for(
        &self,
        account: &Account,
        names: &[String],
    ) -> Result<bool, CoreError> {
        let now = self.now();
        let reuse = &self.inner.config.reuse;
        let since = now - reuse.window_at(now);
        let owner = ValidationOwner::of(account);
        for name in names {
            let (base, wildcard) = match name.strip_prefix("*.") {
                Some(base) => (base, true),
                None => (name.as_str(), false),
            };
            let candidates = policy::candidate_domains(base);
            let found = self
                .inner
                .store
                .reusable_domain_validations(&owner, &candidates, since)
                .await?;
            let covered = found.iter().any(|v| {
                policy::covers(&v.domain, v.method, base, wildcard)
                    && reuse.reusable_until(v.validated_at) > now
            });
            if !covered {
                return Ok(false);
            }
        }
        Ok(!names.is_empty())
    }

    /// The current CRL (DER) listing every revoked, unexpired certificate, valid for seven
    /// days (BR §4.9.7). The instances of a deployment share one ([`Store::shared_crl`]): the
    /// stored CRL is served while it lists every revocation and is younger than
    /// [`CRL_REFRESH`]; otherwise the one instance that takes the lease
    /// ([`Store::take_crl_lease`], [`CRL_LEASE`]) signs the next and stores it, and the
    /// others serve the stored one meanwhile. Each instance keeps what it served for up to
    /// [`CRL_REFRESH`] after it was signed, so fetching the CRL costs no signature and no
    /// database write; a revocation through this instance drops it at once, and every
    /// [`CRL_RECHECK`] the instance compares the revocation generation it lists with the
    /// database's ([`Store::crl_generation`]), so a revocation through another instance or
    /// by the operator's command reaches this one within a minute.
    ///
    /// [`Store::shared_crl`]: crate::Store::shared_crl
    /// [`Store::take_crl_lease`]: crate::Store::take_crl_lease
    /// [`Store::crl_generation`]: crate::Store::crl_generation
    pub async fn crl(&self) -> Result<Vec<u8>, CoreError> {
        let mut cached = self.inner.crl.lock().await;
        let now = self.now();
        if let Some(held) = cached.as_mut()
            && now - held.made < CRL_REFRESH
            && now >= held.made
        {
            if now - held.checked < CRL_RECHECK && now >= held.checked {
                return Ok(held.der.clone());
            }
            // Revocations through other instances or the operator's command bump the shared
            // generation.
            if self.inner.store.crl_generation().await? == held.generation {
                held.checked = now;
                return Ok(held.der.clone());
            }
        }
        let (made, der, generation, current) = self.shared_crl(now).await?;
        *cached = current.then(|| HeldCrl {
            made: made.min(now),
            checked: now,
            der: der.clone(),
            generation,
        });
        Ok(der)
    }

    /// The CRL to serve at `now`, when it was signed, the revocation generation it lists, and
    /// whether it is current (else it is the last one stored, served while another instance
    /// signs the next, and not kept).
    async fn shared_crl(
        &self,
        now: time::OffsetDateTime,
    ) -> Result<(time::OffsetDateTime, Vec<u8>, u64, bool), CoreError> {
        let store = &self.inner.store;
        let holder = &self.inner.instance;
        for _ in 0..CRL_WAIT_ROUNDS {
            let shared = store.shared_crl().await?;
            if let Some(stored) = &shared.stored
                && stored.generation == shared.generation
                && now - stored.signed_at < CRL_REFRESH
            {
                return Ok((
                    stored.signed_at,
                    stored.der.clone(),
                    stored.generation,
                    true,
                ));
            }
            if let Some(generation) = store.take_crl_lease(holder, now, now + CRL_LEASE).await? {
                let der = self.sign_crl(now).await?;
                let crl = StoredCrl {
                    der,
                    signed_at: now,
                    generation,
                };
                if !store.store_crl(holder, &crl).await? {
                    tracing::warn!(
                        "the CRL lease ran out while this instance signed; serving its CRL without storing it"
                    );
                }
                return Ok((now, crl.der, generation, true));
            }
            if let Some(stored) = shared.stored {
                return Ok((stored.signed_at, stored.der, stored.generation, false));
            }
            // The very first CRL, being signed by another instance.
            tokio::time::sleep(CRL_WAIT).await;
        }
        Err(CoreError::Internal(
            "no CRL yet: another instance holds the lease to sign the first one and has not stored it".to_owned(),
        ))
    }

    async fn sign_crl(&self, now: time::OffsetDateTime) -> Result<Vec<u8>, CoreError> {
        let entries: Vec<RevokedEntry> = self
            .inner
            .store
            .revoked_certificates(now)
            .await?
            .into_iter()
            .map(|(serial_hex, revoked_at, reason)| RevokedEntry {
                serial_hex,
                revoked_at,
                reason,
            })
            .collect();
        let number = self.inner.store.next_crl_number().await?;
        self.inner
            .issuer
            .sign_crl(&entries, number, now, now + Duration::days(7))
            .await
            .map_err(|e| CoreError::Internal(format!("CRL signing failed: {e}")))
    }
}

/// The CRL an instance serves without asking the database again.
pub(crate) struct HeldCrl {
    /// When it was signed (its thisUpdate).
    pub(super) made: time::OffsetDateTime,
    /// When this instance last found it listing every revocation.
    checked: time::OffsetDateTime,
    der: Vec<u8>,
    /// The shared revocation generation it lists.
    generation: u64,
}
