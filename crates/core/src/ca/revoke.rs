//! Revocation (RFC 8555 §7.6) and CRLs (RFC 5280 §5).

use ferrite_jose::Jwk;
use ferrite_pki::{RevokedEntry, parse_certificate};
use ferrite_proto::ProblemType;
use time::Duration;
use tracing::info;

use super::Ca;
use crate::model::{Account, BlockedKey, CrlScope, CrlStatus, StoredCrl, ValidationOwner};
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

/// How often `ferrite serve` has each instance look for out-of-date CRLs of its issuer and
/// sign them ([`Ca::refresh_crls`]).
pub const CRL_SCHEDULE: std::time::Duration = std::time::Duration::from_secs(15);

/// A CRL's nextUpdate is this long after its thisUpdate (Baseline Requirements §4.9.7: at
/// most 10 days), so a CRL outlives an outage of the signing instances by days.
pub const CRL_VALIDITY: Duration = Duration::days(7);

/// How often, and how many times, an instance looks for the CRL another instance is signing
/// (the first of a scope, or one listing a new revocation) before it serves what is stored.
const CRL_WAIT: std::time::Duration = std::time::Duration::from_millis(50);
const CRL_WAIT_ROUNDS: u32 = 100;
/// The whole of that wait.
const CRL_WAIT_TOTAL: Duration = Duration::milliseconds(50 * CRL_WAIT_ROUNDS as i64);

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
        // The next request for its CRL signs a new one that lists it.
        self.forget_crl(&stored.crl).await;
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

    /// The CRL of `scope` to serve (RFC 5280 §5): every revoked, unexpired certificate of the
    /// scope, valid for [`CRL_VALIDITY`] (BR §4.9.7). `None` when there is no such CRL: a
    /// shard of one of its intermediates above the shard count that never held a certificate,
    /// or a shard of another intermediate that no instance of that intermediate has stored.
    ///
    /// The instances of a deployment share one CRL per scope ([`Store::shared_crl`]): the
    /// stored one is served while it lists every revocation of its scope and is younger than
    /// [`CRL_REFRESH`]; otherwise the one instance that takes the scope's lease
    /// ([`Store::take_crl_lease`], [`CRL_LEASE`]) signs the next and stores it, and the others
    /// serve the stored one meanwhile. Only an instance of the scope's issuer signs. Each
    /// instance keeps what it served, so fetching a CRL costs no signature and no database
    /// write; a revocation through this instance drops the scope's CRL at once, and every
    /// [`CRL_RECHECK`] the instance compares the scope's revocation generation with the
    /// database's ([`Store::crl_generation`]), so a revocation through another instance or
    /// by the operator's command reaches this one within a minute.
    ///
    /// [`Store::shared_crl`]: crate::Store::shared_crl
    /// [`Store::take_crl_lease`]: crate::Store::take_crl_lease
    /// [`Store::crl_generation`]: crate::Store::crl_generation
    pub async fn crl(&self, scope: &CrlScope) -> Result<Option<ServedCrl>, CoreError> {
        // Only the CRLs this instance signs on demand are kept (a bounded set: the shard count
        // plus the unsharded CRL). Another intermediate's shard, or one of this intermediate
        // above the count (left by a count lowered since), is served as stored, read from the
        // database each time, so that requests for made-up shards leave nothing behind;
        // `refresh_crls` keeps this intermediate's such shards fresh, under their locks.
        let now = self.now();
        let mut signing = self.inner.issuers.signing_crls(now);
        let ours = match scope {
            CrlScope::Unsharded => {
                let primary = self.inner.issuers.primary().issuer_id();
                signing.any(|i| i.issuer_id() == primary)
            }
            CrlScope::Shard { issuer_id, shard } => {
                signing.any(|i| i.issuer_id() == issuer_id && *shard < i.crl_shards())
            }
        };
        if !ours {
            let stored = self.inner.store.shared_crl(scope).await?.stored;
            return Ok(stored.map(|s| ServedCrl::of(s.der, s.signed_at)));
        }
        let slot = self.crl_slot(scope);
        let mut held = slot.lock().await;
        let now = self.now();
        if let Some(current) = held.as_mut()
            && now - current.crl.this_update < CRL_REFRESH
            && now >= current.crl.this_update
        {
            if now - current.checked < current.hold && now >= current.checked {
                return Ok(Some(current.crl.clone()));
            }
            // Revocations through other instances or the operator's command bump the scope's
            // generation.
            if self.inner.store.crl_generation(scope).await? == current.generation {
                current.checked = now;
                return Ok(Some(current.crl.clone()));
            }
        }
        let (crl, generation, keep) = self.shared_crl(scope, now).await?;
        // Held from when the answer came (a wait for another signer may have taken seconds).
        let answered = self.now();
        *held = keep.map(|hold| HeldCrl {
            checked: answered,
            hold,
            crl: crl.clone(),
            generation,
        });
        Ok(Some(crl))
    }

    /// Signs every CRL of this CA's intermediates that is out of date (a revocation it does
    /// not list, or older than [`CRL_REFRESH`]) and that no other instance is signing: of each
    /// intermediate valid now (a retired one too: its certificates may still be revoked),
    /// shards 0 to the shard count and any higher shard the database knows; and the primary
    /// intermediate's unsharded CRL.
    /// `ferrite serve` calls it every [`CRL_SCHEDULE`], so every CRL is fresh, and lists a
    /// revocation within about a minute, whether or not anyone fetches it. Returns how many
    /// it signed.
    pub async fn refresh_crls(&self) -> Result<usize, CoreError> {
        let now = self.now();
        let primary = self.inner.issuers.primary().issuer_id().to_owned();
        let mut scopes: Vec<CrlScope> = Vec::new();
        // One read of every CRL's state per intermediate; only the out-of-date ones are read
        // whole, locked and signed.
        let mut statuses: std::collections::HashMap<CrlScope, CrlStatus> =
            std::collections::HashMap::new();
        for issuer in self.inner.issuers.signing_crls(now) {
            let issuer_id = issuer.issuer_id().to_owned();
            let ours = issuer_id == primary;
            let known: Vec<(CrlScope, CrlStatus)> = self
                .inner
                .store
                .crl_statuses(&issuer_id)
                .await?
                .into_iter()
                // The unsharded CRL (of certificates that record no shard) is the primary
                // intermediate's.
                .filter(|(scope, _)| ours || *scope != CrlScope::Unsharded)
                .collect();
            if ours {
                scopes.push(CrlScope::Unsharded);
            }
            scopes.extend((0..issuer.crl_shards()).map(|s| CrlScope::shard(&issuer_id, s)));
            for (scope, status) in known {
                if !scopes.contains(&scope) {
                    scopes.push(scope.clone());
                }
                statuses.insert(scope, status);
            }
        }
        let mut signed = 0;
        // The thisUpdate of the oldest CRL this CA publishes, for `crl_age`.
        let mut oldest: Option<time::OffsetDateTime> = None;
        let mut failed = false;
        let mut published = |at: time::OffsetDateTime| {
            oldest = Some(oldest.map_or(at, |o| o.min(at)));
        };
        for scope in scopes {
            if let Some(status) = statuses.get(&scope)
                && is_current(status, self.now())
                && let Some((at, _)) = status.stored
            {
                published(at);
                continue;
            }
            // Under the scope's slot lock, so that this instance never signs one scope twice
            // at once (a fetch signing it waits, then finds it current).
            let slot = self.crl_slot(&scope);
            let mut held = slot.lock().await;
            match self.refresh_crl(&scope).await {
                Ok(Refreshed::Current(at) | Refreshed::SignedElsewhere(Some(at))) => published(at),
                Ok(Refreshed::SignedElsewhere(None)) => {}
                Ok(Refreshed::Signed(at)) => {
                    signed += 1;
                    published(at);
                    // The next fetch here reads the new one.
                    *held = None;
                }
                // One CRL failing (a database error, the signer) leaves the others to do; its
                // lease runs out and the next round tries again.
                Err(e) => {
                    failed = true;
                    tracing::warn!(?scope, error = %e, "refreshing a CRL failed");
                }
            }
        }
        // After a failure the age of the last complete round stays, and grows.
        if !failed {
            *self
                .inner
                .crl_published
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = oldest;
        }
        Ok(signed)
    }

    /// Signs and stores the CRL of `scope` if it is out of date and nobody else is signing it.
    async fn refresh_crl(&self, scope: &CrlScope) -> Result<Refreshed, CoreError> {
        let now = self.now();
        let status = self.inner.store.shared_crl(scope).await?.status();
        let stored_at = status.stored.map(|(at, _)| at);
        if is_current(&status, now)
            && let Some(at) = stored_at
        {
            return Ok(Refreshed::Current(at));
        }
        Ok(match self.sign_under_lease(scope, now).await? {
            Some((_, true)) => Refreshed::Signed(now),
            Some((_, false)) | None => Refreshed::SignedElsewhere(stored_at),
        })
    }

    /// Takes the lease to sign the CRL of `scope` and, if this instance got it, signs the
    /// next CRL at `now` and stores it, releasing the lease. `None` while another instance
    /// holds the lease; with the CRL, whether it was stored (not when the lease ran out while
    /// this instance signed: it is then logged, and served by this instance only).
    async fn sign_under_lease(
        &self,
        scope: &CrlScope,
        now: time::OffsetDateTime,
    ) -> Result<Option<(StoredCrl, bool)>, CoreError> {
        let store = &self.inner.store;
        let holder = &self.inner.instance;
        let Some(generation) = store
            .take_crl_lease(scope, holder, now, now + CRL_LEASE)
            .await?
        else {
            return Ok(None);
        };
        let crl = StoredCrl {
            der: self.sign_crl(scope, now).await?,
            signed_at: now,
            generation,
        };
        let stored = store.store_crl(scope, holder, &crl).await?;
        if !stored {
            tracing::warn!(
                ?scope,
                "the CRL lease ran out while this instance signed; serving its CRL without storing it"
            );
        }
        Ok(Some((crl, stored)))
    }

    /// Drops this instance's copy of the CRL of `scope`: a revocation through this instance
    /// is listed by the next fetch.
    pub(crate) async fn forget_crl(&self, scope: &CrlScope) {
        *self.crl_slot(scope).lock().await = None;
    }

    /// The slot holding this instance's copy of the CRL of `scope` (one lock per scope, so
    /// signing one shard never holds up the others).
    fn crl_slot(&self, scope: &CrlScope) -> std::sync::Arc<tokio::sync::Mutex<Option<HeldCrl>>> {
        let mut slots = self
            .inner
            .crl
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        std::sync::Arc::clone(slots.entry(scope.clone()).or_default())
    }

    /// The CRL of `scope` to serve at `now`, the revocation generation it lists, and how long
    /// to keep it before asking the database again: a current one [`CRL_RECHECK`]; the last
    /// one stored, when another instance's signing of the next did not finish within the
    /// wait, as long as that wait (so the requests queued behind this one do not each wait
    /// again); else not at all. Only for the CRLs this instance signs (see [`Ca::crl`]).
    async fn shared_crl(
        &self,
        scope: &CrlScope,
        now: time::OffsetDateTime,
    ) -> Result<(ServedCrl, u64, Option<Duration>), CoreError> {
        let store = &self.inner.store;
        for round in 1..=CRL_WAIT_ROUNDS {
            let shared = store.shared_crl(scope).await?;
            if is_current(&shared.status(), now)
                && let Some(stored) = shared.stored
            {
                return Ok((
                    ServedCrl::of(stored.der, stored.signed_at),
                    stored.generation,
                    Some(CRL_RECHECK),
                ));
            }
            if let Some((crl, _)) = self.sign_under_lease(scope, now).await? {
                return Ok((
                    ServedCrl::of(crl.der, now),
                    crl.generation,
                    Some(CRL_RECHECK),
                ));
            }
            // Another instance is signing. A stored CRL that is only old is served meanwhile;
            // one that misses a revocation only once the signer has had its time (it may have
            // died holding the lease), so that a revocation is listed as soon as it is signed.
            // That one is then kept as long as the wait, so the requests queued behind this
            // one do not each wait again.
            if let Some(stored) = shared.stored
                && (stored.generation == shared.generation || round == CRL_WAIT_ROUNDS)
            {
                return Ok((
                    ServedCrl::of(stored.der, stored.signed_at),
                    stored.generation,
                    (round == CRL_WAIT_ROUNDS).then_some(CRL_WAIT_TOTAL),
                ));
            }
            tokio::time::sleep(CRL_WAIT).await;
        }
        Err(CoreError::Internal(format!(
            "no CRL for {scope:?} yet: another instance holds the lease to sign the first one and has not stored it"
        )))
    }

    async fn sign_crl(
        &self,
        scope: &CrlScope,
        now: time::OffsetDateTime,
    ) -> Result<Vec<u8>, CoreError> {
        let entries: Vec<RevokedEntry> = self
            .inner
            .store
            .revoked_certificates(scope, now)
            .await?
            .into_iter()
            .map(|(serial_hex, revoked_at, reason)| RevokedEntry {
                serial_hex,
                revoked_at,
                reason,
            })
            .collect();
        let number = self.inner.store.next_crl_number().await?;
        let (issuer, shard) = match scope {
            CrlScope::Unsharded => (Some(self.inner.issuers.primary()), None),
            CrlScope::Shard { issuer_id, shard } => {
                (self.inner.issuers.by_id(issuer_id), Some(*shard))
            }
        };
        let issuer = issuer.ok_or_else(|| {
            CoreError::Internal(format!(
                "no intermediate of this CA signs the CRL {scope:?}"
            ))
        })?;
        issuer
            .sign_crl(shard, &entries, number, now, now + CRL_VALIDITY)
            .await
            .map_err(|e| CoreError::Internal(format!("CRL signing failed: {e}")))
    }

    /// How old the oldest CRL of this CA is, as the last [`Ca::refresh_crls`]
    /// that finished left them (a refresh that fails leaves the value, so the age grows);
    /// before the first refresh, the oldest CRL this instance holds; `None` when it knows of
    /// none.
    pub async fn crl_age(&self) -> Option<time::Duration> {
        let published = *self
            .inner
            .crl_published
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(oldest) = published {
            return Some(self.now() - oldest);
        }
        let slots: Vec<_> = self
            .inner
            .crl
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        let mut oldest: Option<time::OffsetDateTime> = None;
        for slot in slots {
            if let Some(held) = slot.lock().await.as_ref() {
                let made = held.crl.this_update;
                oldest = Some(oldest.map_or(made, |o| o.min(made)));
            }
        }
        oldest.map(|made| self.now() - made)
    }
}

/// What [`Ca::refresh_crl`] found or did, with the thisUpdate of the CRL published after it.
enum Refreshed {
    /// The stored CRL is current.
    Current(time::OffsetDateTime),
    /// This instance signed and stored a new one.
    Signed(time::OffsetDateTime),
    /// Another instance holds the lease (or took it over): what is stored, if anything.
    SignedElsewhere(Option<time::OffsetDateTime>),
}

/// Whether the stored CRL lists every revocation of its scope and is younger than
/// [`CRL_REFRESH`] at `now`.
fn is_current(status: &CrlStatus, now: time::OffsetDateTime) -> bool {
    status.stored.is_some_and(|(signed_at, generation)| {
        generation == status.generation && now - signed_at < CRL_REFRESH && now >= signed_at
    })
}

/// A CRL as served: its DER, its thisUpdate (`Last-Modified`) and an entity tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServedCrl {
    /// The CRL, DER.
    pub der: Vec<u8>,
    /// When it was signed: its thisUpdate.
    pub this_update: time::OffsetDateTime,
    /// A strong entity tag (quoted): the first 16 octets of the SHA-256 of the DER, hex.
    pub etag: String,
}

impl ServedCrl {
    fn of(der: Vec<u8>, this_update: time::OffsetDateTime) -> ServedCrl {
        let hash = crate::ids::sha256_hex(&der);
        ServedCrl {
            etag: format!("\"{}\"", &hash[..32]),
            der,
            this_update,
        }
    }
}

/// The CRL of one scope an instance serves without asking the database again.
pub(crate) struct HeldCrl {
    /// When this instance last read the scope's revocation generation.
    checked: time::OffsetDateTime,
    /// How long after `checked` it is served without reading it again.
    hold: Duration,
    crl: ServedCrl,
    /// The scope's revocation generation it lists.
    generation: u64,
}
