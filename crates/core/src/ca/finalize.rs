//! Finalize (RFC 8555 §7.4): CSR checks, then issuance in the request itself.

use std::collections::BTreeSet;

use ferrite_jose::Jwk;
use ferrite_pki::{Csr, IssueRequest, PkiError};
use ferrite_proto::{OrderStatus, Problem, ProblemType};
use time::{Duration, OffsetDateTime};
use tracing::{Instrument, error, info, warn};

use super::Ca;
use super::orders::OrderView;
use crate::model::{Account, Certificate, CrlScope, Order};
use crate::{CoreError, RateStep, StoreError};

impl Ca {
    /// RFC 8555 §7.4: finalizes a `ready` order with a DER CSR. A CSR that breaks a rule is
    /// `badCSR` / `badPublicKey` and leaves the order `ready` so the client can retry; once the
    /// CSR is accepted the certificate is issued before this returns.
    pub async fn finalize(
        &self,
        account: &Account,
        order_id: &str,
        csr_der: &[u8],
    ) -> Result<OrderView, CoreError> {
        let view = self
            .order(super::Reader::Account(account), order_id)
            .await?;
        if view.status != OrderStatus::Ready {
            // §7.4: "orderNotReady" when the order is not in the ready state.
            return Err(CoreError::problem(
                ProblemType::OrderNotReady,
                format!(
                    "the order is {}, not ready; complete its authorizations first (finalize only once)",
                    view.status
                ),
            ));
        }
        let OrderView {
            order,
            authorizations,
            ..
        } = view;
        let csr = Csr::parse(csr_der)?;
        self.inner.config.csr_policy.check(&csr)?;
        check_csr_names(&csr, &order.identifiers)?;
        // The profile names the subscriber keys it certifies: another kind is the client's
        // to change, not an issuance failure.
        let profile = self.issuing_profile(order.profile.as_deref())?;
        if !profile.allows_key(&csr.key) {
            return Err(CoreError::problem(
                ProblemType::BadPublicKey,
                format!(
                    "the CSR's key ({}) is not one this CA certifies under profile {:?}: use one of {}",
                    csr.key,
                    profile.name,
                    profile
                        .key_types
                        .iter()
                        .map(|k| k.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        // BR §6.1.1.3: a key the CA knows to be compromised is never certified again.
        self.refuse_blocked_key(&csr.spki_der, "CSR's public key")
            .await?;
        // A certificate for the account key would let whoever holds the certificate key act as
        // the account: refuse it.
        if let Ok(account_key) = Jwk::from_json(&account.jwk)
            && account_key.to_spki_der() == csr.spki_der
        {
            {
                return Err(CoreError::problem(
                    ProblemType::BadCsr,
                    "the CSR's public key is the account key; generate a separate key for the certificate",
                ));
            }
        }
        // RFC 8659 §3 / BR §3.2.2.8: CAA no older than 8 hours at issuance; a refusal leaves
        // the order ready so the client can finalize again once the records allow it.
        self.recheck_caa(account, &order, &authorizations).await?;
        // What the certificate counts against the issuance limits, decided now (reads) so that
        // the transaction recording it only writes, and a failure here leaves the order ready.
        let dns_names: Vec<String> = order.identifiers.iter().map(|i| i.value.clone()).collect();
        let counts = self
            .issuance_counts(
                account,
                &dns_names,
                order.replaces.as_deref(),
                order.created_at,
                self.now(),
            )
            .await?;
        // The readiness check and the move to `processing` are one store statement: an
        // authorization deactivated or expired during the CAA recheck stops issuance. The
        // lease bounds how long the order stays `processing` if this instance dies now.
        let now = self.now();
        let lease_until = now + self.inner.config.finalize_lease;
        if !self
            .inner
            .store
            .begin_finalize(&order.id, now, lease_until)
            .await?
        {
            let status = self
                .order(super::Reader::Account(account), order_id)
                .await?
                .status;
            let detail = if matches!(status, OrderStatus::Processing | OrderStatus::Valid) {
                "the order is already being finalized; poll the order URL for the certificate"
            } else {
                "the order stopped being ready while it was being finalized (an authorization was deactivated or expired, or the order expired); create a new order"
            };
            return Err(CoreError::problem(ProblemType::OrderNotReady, detail));
        }
        // From here the order is `processing`. Issuance runs as its own task, so a client that
        // disconnects cannot cancel it halfway, and every failure marks the order invalid.
        let ca = self.clone();
        let owner = account.clone();
        let profile = profile.clone();
        let completed = tokio::spawn(
            async move {
                ca.issue_order(&owner, order, &profile, csr, lease_until, &counts)
                    .await
            }
            .in_current_span(),
        )
        .await
        .map_err(|e| CoreError::Internal(format!("issuance task failed: {e}")))??;
        // Shown as the store now holds it (complete_order committed exactly this), with the
        // authorizations read at the start: finalize changes none of them, and reading both
        // back would be one more read transaction per issuance.
        Ok(OrderView::new(completed, authorizations, self.now()))
    }

    /// Signs the certificate of an order `processing` under `lease_until` and records it with
    /// its rate limit `counts`, returning the order as recorded (`valid`, with its
    /// certificate's serial), or marks the order `invalid`.
    async fn issue_order(
        &self,
        account: &Account,
        mut order: Order,
        profile: &ferrite_pki::Profile,
        csr: Csr,
        lease_until: OffsetDateTime,
        counts: &[RateStep],
    ) -> Result<Order, CoreError> {
        let began = std::time::Instant::now();
        let now = self.now();
        // The intermediate of the subscriber key's family the profile allows (an ECDSA key
        // gets the ECDSA chain, an RSA key the RSA chain), the newest of them.
        let Some(issuer) = self
            .inner
            .issuers
            .for_issuance(&profile.issuer, csr.key.is_rsa(), now)
            .cloned()
        else {
            let detail = format!(
                "no active intermediate valid now may sign profile {:?} (issuer = {:?}); check ca.active, the profile's issuer and the intermediates' validity (`ferrite ca show`)",
                profile.name, profile.issuer
            );
            return Err(self
                .refuse_issuance(account, &order, lease_until, "issuer", &detail)
                .await);
        };
        // BR §7.1.2.7 / §4.9: a certificate is not backdated. A notBefore accepted at newOrder
        // that has since fallen more than an hour behind (the order sat for days) is moved up,
        // and none starts before the intermediate does (RFC 5280 §6.1.3: it would not
        // validate, and the lint refuses it): on a CA created less than an hour ago, a
        // notBefore of "an hour ago" would.
        let not_before = order
            .not_before
            .map_or(now, |nb| nb.max(now - Duration::hours(1)))
            .max(issuer.not_before());
        // Baseline Requirements §6.3.2: the configured validity, never above the maximum for
        // the issuance date. The period counts both ends, hence the second off. A notAfter
        // accepted at newOrder is cut to the maximum if a new table came into force since.
        let validity = leaf_validity(profile.validity(), now, not_before);
        // RFC 5280 §6.1.3: a certificate is never valid beyond its issuer; in an
        // intermediate's last months its certificates are cut to its notAfter.
        let latest = (not_before + validity - Duration::seconds(1)).min(issuer.not_after());
        let not_after = order.not_after.map_or(latest, |na| na.min(latest));
        let request = IssueRequest {
            spki_der: csr.spki_der,
            dns_names: order.identifiers.iter().map(|i| i.value.clone()).collect(),
            not_before,
            not_after,
        };
        let issued = match issuer.issue(profile, &request).await {
            Ok(issued) => issued,
            Err(e) => {
                let check = match &e {
                    PkiError::Lint { check, .. } => *check,
                    PkiError::CertificateTransparency { .. } => "certificateTransparency",
                    _ => "signing",
                };
                return Err(self
                    .refuse_issuance(account, &order, lease_until, check, &e.to_string())
                    .await);
            }
        };
        let certificate = Certificate {
            serial: issued.serial_hex.clone(),
            account_id: account.id.clone(),
            order_id: order.id.clone(),
            der: issued.der,
            chain_pem: issued.chain_pem,
            dns_names: request.dns_names,
            not_before: issued.not_before,
            not_after: issued.not_after,
            revoked: None,
            renewal_advanced: None,
            crl: CrlScope::shard(&issued.issuer_id, issued.crl_shard),
            precertificate: issued.precertificate_der,
        };
        let store = &self.inner.store;
        let mut recorded = store
            .complete_order(&order.id, &certificate, lease_until, counts)
            .await;
        if let Err(StoreError::Backend(e)) = &recorded
            && !counts.is_empty()
        {
            // The certificate matters more than its count: a database error in the counts
            // (a lock timeout on a busy customer's row) stores it without them, and says so.
            warn!(
                order = %order.id,
                serial = %certificate.serial,
                error = %e,
                "the issuance could not be counted against the issuance rate limits; storing the certificate without the counts"
            );
            recorded = store
                .complete_order(&order.id, &certificate, lease_until, &[])
                .await;
        }
        if let Err(e) = recorded {
            // Signed but not recorded: say so where the operator looks, and release the order
            // so the client is not left polling a `processing` order forever.
            warn!(
                target: "ferrite::audit",
                event = "issued_not_recorded",
                order = %order.id,
                account = %account.id,
                serial = %certificate.serial,
                names = ?certificate.dns_names,
                not_after = %certificate.not_after,
                error = %e,
                "a certificate was signed but could not be stored; it was never delivered"
            );
            let problem = Problem::internal(
                "the CA could not record the certificate; create a new order and quote the request id to the operator",
            );
            if let Err(e) = self
                .inner
                .store
                .fail_finalize(&order.id, lease_until, &problem)
                .await
            {
                error!(error = %e, order = %order.id, "could not mark the order invalid");
            }
            return Err(e.into());
        }
        self.inner.metrics.issued(began.elapsed());
        info!(
            order = %order.id,
            serial = %certificate.serial,
            names = ?certificate.dns_names,
            not_after = %certificate.not_after,
            "certificate issued"
        );
        order.status = OrderStatus::Valid;
        order.certificate_serial = Some(certificate.serial);
        Ok(order)
    }

    /// Loads a certificate by serial (§7.4.2) for `reader`.
    pub async fn certificate(
        &self,
        reader: super::Reader<'_>,
        serial: &str,
    ) -> Result<Certificate, CoreError> {
        self.inner
            .store
            .certificate(serial)
            .await?
            .filter(|c| reader.may_read(&c.account_id))
            .ok_or_else(|| super::not_found("certificate"))
    }

    /// Refuses the issuance of `order` for `check` (no intermediate may sign, the lint, the
    /// signer, Certificate Transparency): one structured event under the `ferrite::audit`
    /// target, emitted inside the request's span, which carries the request id (the client
    /// sees the same id in its problem); the order becomes `invalid` with `serverInternal`.
    /// Returns the error to answer with (or the store's, if marking the order failed).
    async fn refuse_issuance(
        &self,
        account: &Account,
        order: &Order,
        lease_until: OffsetDateTime,
        check: &str,
        detail: &str,
    ) -> CoreError {
        warn!(
            target: "ferrite::audit",
            event = "issuance_refused",
            order = %order.id,
            account = %account.id,
            check,
            detail,
            "issuance refused before signing or by the signer; no certificate was issued"
        );
        error!(error = %detail, order = %order.id, check, "issuance refused");
        self.inner.metrics.issuance_refused();
        let problem = Problem::internal(
            "the CA could not issue this certificate; create a new order and quote the request id to the operator if it happens again",
        );
        match self
            .inner
            .store
            .fail_finalize(&order.id, lease_until, &problem)
            .await
        {
            Ok(_) => problem.into(),
            Err(e) => e.into(),
        }
    }
}

/// The validity period of a certificate issued at `issued_at` with `not_before`: the
/// configured one, cut to the Baseline Requirements §6.3.2 maximum in force at the issuance
/// date (and at notBefore, which the lint checks against). Both ends count: a certificate gets
/// `notAfter = notBefore + period − 1 s`.
pub(super) fn leaf_validity(
    configured: Duration,
    issued_at: OffsetDateTime,
    not_before: OffsetDateTime,
) -> Duration {
    configured
        .min(ferrite_pki::max_leaf_validity(issued_at))
        .min(ferrite_pki::max_leaf_validity(not_before))
}

/// RFC 8555 §7.4: the CSR's names must be exactly the order's identifiers.
fn check_csr_names(csr: &Csr, identifiers: &[ferrite_proto::Identifier]) -> Result<(), CoreError> {
    let want: BTreeSet<&str> = identifiers.iter().map(|i| i.value.as_str()).collect();
    let got: BTreeSet<&str> = csr.names.iter().map(String::as_str).collect();
    if want == got {
        return Ok(());
    }
    let missing: Vec<&str> = want.difference(&got).copied().collect();
    let extra: Vec<&str> = got.difference(&want).copied().collect();
    let mut detail = String::from("the CSR's names must equal the order's identifiers");
    if !missing.is_empty() {
        detail.push_str(&format!("; missing from the CSR: {}", missing.join(", ")));
    }
    if !extra.is_empty() {
        detail.push_str(&format!(
            "; in the CSR but not in the order: {}",
            extra.join(", ")
        ));
    }
    detail.push_str("; generate the CSR with exactly the order's names");
    Err(CoreError::problem(ProblemType::BadCsr, detail))
}
