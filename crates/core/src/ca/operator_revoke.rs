//! Revocation by the operator (`ferrite cert revoke`): one certificate by serial, or every
//! certificate a [`CertificateQuery`] selects, walked a page at a time and revoked one
//! certificate per transaction, so a run stopped halfway (a crash, Ctrl-C) leaves what it
//! revoked revoked and a second run finishes the rest. A keyCompromise revocation also blocks
//! the certificate's key ([`super::key_block`]). Every revocation bumps the shared CRL
//! generation of its CRL scope, which every instance's copy of that CRL notices within
//! [`super::revoke::CRL_RECHECK`].

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use ferrite_proto::ProblemType;
use time::OffsetDateTime;

use super::key_block::certificate_spki_sha256;
use crate::model::{BlockedKey, Certificate, CertificateQuery};
use crate::{CoreError, Store};

/// Certificates read per page by [`CertificatePages`].
pub const PAGE: u32 = 500;

/// RFC 5280 §5.3.1 reason codes and their names.
const REASONS: [(u8, &str); 10] = [
    (0, "unspecified"),
    (1, "keyCompromise"),
    (2, "cACompromise"),
    (3, "affiliationChanged"),
    (4, "superseded"),
    (5, "cessationOfOperation"),
    (6, "certificateHold"),
    (8, "removeFromCRL"),
    (9, "privilegeWithdrawn"),
    (10, "aACompromise"),
];

/// The reasons the Baseline Requirements (§7.2.2) allow for a subscriber certificate.
const ALLOWED: [u8; 6] = [0, 1, 3, 4, 5, 9];

/// The RFC 5280 keyCompromise reason code.
pub const KEY_COMPROMISE: u8 = 1;

/// The RFC 5280 name of a reason code ("reason 7" for one RFC 5280 does not define).
pub fn reason_name(code: u8) -> String {
    REASONS
        .iter()
        .find(|(c, _)| *c == code)
        .map_or_else(|| format!("reason {code}"), |(_, n)| (*n).to_owned())
}

/// Reads a revocation reason as an operator gives it: an RFC 5280 name (`keyCompromise`, case
/// ignored) or its code. Only the reasons the Baseline Requirements allow for subscriber
/// certificates are accepted; anything else is `badRevocationReason` listing them.
pub fn parse_reason(text: &str) -> Result<u8, CoreError> {
    let text = text.trim();
    let code = match text.parse::<u8>() {
        Ok(code) => Some(code),
        Err(_) => REASONS
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(text))
            .map(|(c, _)| *c),
    };
    match code {
        Some(code) if ALLOWED.contains(&code) => Ok(code),
        _ => Err(CoreError::problem(
            ProblemType::BadRevocationReason,
            format!(
                "{text:?} is not a revocation reason this CA uses for subscriber certificates; give one of {}",
                ALLOWED
                    .iter()
                    .map(|c| format!("{} ({c})", reason_name(*c)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// The certificates a query selects, a page at a time in serial order (keyset paging: each
/// page starts after the last serial of the one before, so none is read twice and no more than
/// [`PAGE`] are held at once).
pub struct CertificatePages<'a> {
    store: &'a dyn Store,
    query: CertificateQuery,
    after: Option<String>,
    done: bool,
}

impl<'a> CertificatePages<'a> {
    /// Pages over the certificates `query` selects.
    pub fn new(store: &'a dyn Store, query: CertificateQuery) -> Self {
        CertificatePages {
            store,
            query,
            after: None,
            done: false,
        }
    }

    /// The next non-empty page, or `None` when every certificate has been read.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Certificate>>, CoreError> {
        while !self.done {
            let page = self
                .store
                .certificates_page(&self.query, self.after.as_deref(), PAGE)
                .await?;
            self.done = page.len() < PAGE as usize;
            let Some(last) = page.last() else {
                return Ok(None);
            };
            self.after = Some(last.serial.clone());
            // Certificates stored before their key's hash was recorded come back for any key:
            // their DER decides.
            let page: Vec<Certificate> = match &self.query.spki_sha256 {
                Some(hash) => page
                    .into_iter()
                    .filter(|c| certificate_spki_sha256(&c.der).as_deref() == Some(hash.as_str()))
                    .collect(),
                None => page,
            };
            if !page.is_empty() {
                return Ok(Some(page));
            }
        }
        Ok(None)
    }
}

/// Who revokes a certificate outside ACME: named in the audit log and in the reason a
/// blocked key is kept for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revoker<'a> {
    /// The operator, with `ferrite cert revoke`.
    Operator,
    /// An operator credential, through the admin API.
    OperatorCredential {
        /// The operator credential that asked.
        credential_id: &'a str,
    },
    /// A customer's API credential, through the admin API.
    Customer {
        /// The customer whose certificate it is.
        customer_id: &'a str,
        /// The API credential that asked.
        credential_id: &'a str,
    },
}

/// Revokes `cert` with `reason` at `now` in one transaction (with keyCompromise, its key is
/// blocked in the same transaction, even if it was already revoked) and records it in the
/// audit log as done `by`. Returns whether it was revoked now (`false`: it already was).
pub async fn revoke_certificate(
    store: &dyn Store,
    cert: &Certificate,
    reason: u8,
    now: OffsetDateTime,
    by: Revoker<'_>,
) -> Result<bool, CoreError> {
    let at = crate::model::stored_precision(now);
    let revoked = if reason == KEY_COMPROMISE {
        let hash = certificate_spki_sha256(&cert.der).ok_or_else(|| {
            CoreError::Internal(format!(
                "certificate {} is stored with a DER that does not parse; its key cannot be blocked",
                cert.serial
            ))
        })?;
        let block = BlockedKey {
            spki_sha256: hash,
            blocked_at: at,
            reason: match by {
                Revoker::Operator => format!(
                    "keyCompromise revocation of certificate {} by the operator",
                    cert.serial
                ),
                Revoker::OperatorCredential { credential_id } => format!(
                    "keyCompromise revocation of certificate {} by the operator credential {credential_id}",
                    cert.serial
                ),
                Revoker::Customer { credential_id, .. } => format!(
                    "keyCompromise revocation of certificate {} by the customer's API credential {credential_id}",
                    cert.serial
                ),
            },
            serial: Some(cert.serial.clone()),
        };
        store
            .revoke_certificate_blocking_key(&cert.serial, at, reason, &block)
            .await?
    } else {
        store.revoke_certificate(&cert.serial, at, reason).await?
    };
    match by {
        _ if !revoked => {}
        Revoker::Operator => tracing::warn!(
            target: "ferrite::audit",
            event = "certificate_revoked_by_operator",
            serial = %cert.serial,
            reason = %reason_name(reason),
            names = %cert.dns_names.join(","),
            "certificate revoked by the operator"
        ),
        Revoker::OperatorCredential { credential_id } => tracing::warn!(
            target: "ferrite::audit",
            event = "certificate_revoked_by_operator",
            serial = %cert.serial,
            reason = %reason_name(reason),
            names = %cert.dns_names.join(","),
            credential = %credential_id,
            "certificate revoked by the operator through the admin API"
        ),
        Revoker::Customer {
            customer_id,
            credential_id,
        } => tracing::warn!(
            target: "ferrite::audit",
            event = "certificate_revoked_by_customer",
            serial = %cert.serial,
            reason = %reason_name(reason),
            names = %cert.dns_names.join(","),
            customer = %customer_id,
            credential = %credential_id,
            "certificate revoked by the customer through the admin API"
        ),
    }
    Ok(revoked)
}

/// `ferrite cert revoke SERIAL`: the certificate with lower-case hex `serial`, revoked as
/// [`revoke_certificate`] does. `Err(malformed)` for an unknown serial; `Ok(false)` if it was
/// already revoked. Returns the certificate as it is now.
pub async fn revoke_serial(
    store: &dyn Store,
    serial: &str,
    reason: u8,
    now: OffsetDateTime,
) -> Result<(Certificate, bool), CoreError> {
    let cert = store.certificate(serial).await?.ok_or_else(|| {
        CoreError::problem(
            ProblemType::Malformed,
            format!(
                "this CA has no certificate with serial {serial}; `ferrite cert list` shows them (the serial is hex, as `openssl x509 -noout -serial` prints it)"
            ),
        )
    })?;
    let revoked = revoke_certificate(store, &cert, reason, now, Revoker::Operator).await?;
    let cert = store.certificate(serial).await?.unwrap_or(cert);
    Ok((cert, revoked))
}

/// How far a bulk revocation has come.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BulkProgress {
    /// Certificates selected so far.
    pub examined: u64,
    /// Revoked by this run.
    pub revoked: u64,
    /// Found already revoked (by an earlier run, or otherwise) and left as they were.
    pub already_revoked: u64,
}

/// `ferrite cert revoke --customer | --domain | --issued-between | --key-spki`: revokes every
/// certificate `query` selects, page by page, each in its own transaction (16 at
/// once), calling `progress` after each page. Certificates already revoked are skipped (with keyCompromise their key is
/// still blocked), so running it again after an interruption finishes the rest.
pub async fn revoke_matching(
    store: &dyn Store,
    query: CertificateQuery,
    reason: u8,
    now: OffsetDateTime,
    progress: &mut (dyn FnMut(&BulkProgress) + Send),
) -> Result<BulkProgress, CoreError> {
    let mut pages = CertificatePages::new(store, query.clone());
    let mut done = BulkProgress::default();
    while let Some(page) = pages.next_page().await? {
        done.examined += page.len() as u64;
        let (skipped, todo): (Vec<&Certificate>, Vec<&Certificate>) = page
            .iter()
            .partition(|c| c.revoked.is_some() && reason != KEY_COMPROMISE);
        done.already_revoked += skipped.len() as u64;
        for chunk in todo.chunks(IN_FLIGHT) {
            let results = join_all(
                chunk
                    .iter()
                    .map(|cert| revoke_certificate(store, cert, reason, now, Revoker::Operator))
                    .collect(),
            )
            .await;
            for result in results {
                if result? {
                    done.revoked += 1;
                } else {
                    done.already_revoked += 1;
                }
            }
        }
        progress(&done);
    }
    tracing::warn!(
        target: "ferrite::audit",
        event = "bulk_revocation_by_operator",
        query = ?query,
        reason = %reason_name(reason),
        examined = done.examined,
        revoked = done.revoked,
        already_revoked = done.already_revoked,
        "bulk revocation by the operator finished"
    );
    Ok(done)
}

/// Revocations a bulk run has in flight at once: each is its own transaction, and the
/// SQLite writer commits those waiting together (one fsync for the group), PostgreSQL runs
/// them on pooled connections.
const IN_FLIGHT: usize = 16;

/// Runs `futures` together on this task and returns their outputs in order.
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(v) => *output = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_read_by_name_or_code() {
        assert_eq!(parse_reason("keyCompromise").unwrap(), 1);
        assert_eq!(parse_reason("keycompromise").unwrap(), 1);
        assert_eq!(parse_reason("1").unwrap(), 1);
        assert_eq!(parse_reason("superseded").unwrap(), 4);
        assert_eq!(parse_reason("9").unwrap(), 9);
        assert_eq!(parse_reason(" cessationOfOperation ").unwrap(), 5);
        for bad in [
            "2",
            "cACompromise",
            "certificateHold",
            "7",
            "256",
            "",
            "stolen",
        ] {
            let p = parse_reason(bad).unwrap_err().to_problem();
            assert_eq!(p.kind, ProblemType::BadRevocationReason, "{bad:?}");
            assert!(p.detail.contains("keyCompromise (1)"), "{}", p.detail);
        }
        assert_eq!(reason_name(1), "keyCompromise");
        assert_eq!(reason_name(7), "reason 7");
    }
}
