//! When the engine asks CAA (RFC 8659): right after a validation succeeds, and again at
//! finalize for every name whose last check is older than `caa_recheck_after` (8 hours by
//! default, the Baseline Requirements' limit) or was made for another name.
//!
//! The check's time and what it saw are kept in the challenge's validation record under
//! `"caa"` (a [`CaaCheck`]), so no extra column is needed and the evidence stays with the
//! authorization. A check finalize repeats is kept in the audit log (`caa_rechecked`, subject
//! the order): what it saw, every remote perspective's answer when corroborated, and the
//! refusal if it refused (BR §3.2.2.8 asks a CA to document issuance CAA prevented).

use ferrite_proto::{ChallengeStatus, Problem};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::info;

use super::Ca;
use crate::model::{Account, Authorization, Order};
use crate::{CaaEvidence, CaaRequest, CoreError};

/// The `"caa"` member of a challenge's validation record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CaaCheck {
    /// When the check was made (the engine's clock).
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) checked_at: OffsetDateTime,
    /// What it saw.
    #[serde(flatten)]
    pub(crate) record: CaaEvidence,
}

impl CaaCheck {
    /// The check stored in a validation record, if any.
    pub(crate) fn from_validation_record(record: &serde_json::Value) -> Option<Self> {
        serde_json::from_value(record.get("caa")?.clone()).ok()
    }
}

impl Ca {
    /// The account URL that CAA `accounturi` parameters name (RFC 8657 §3).
    pub(super) fn account_uri(&self, account_id: &str) -> String {
        format!("{}{account_id}", self.inner.config.account_url_prefix)
    }

    /// What CAA must allow for `domain` (of a wildcard authorization if `wildcard`) on behalf
    /// of `account_id`, validated by `method` (RFC 8657 `validationmethods`; `None` when unknown).
    pub(super) fn caa_request(
        &self,
        domain: &str,
        wildcard: bool,
        account_id: &str,
        method: Option<ferrite_proto::ChallengeType>,
    ) -> CaaRequest {
        CaaRequest {
            domain: domain.to_owned(),
            wildcard,
            account_uri: self.account_uri(account_id),
            method,
            issuer_domains: self.inner.config.caa_identities.clone(),
        }
    }

    /// Combines a successful validation's `record` with the CAA check that ran alongside it
    /// (`caa`, the answer to the validation's [`Ca::caa_request`]): the record with the check
    /// in it, and the refusal if CAA refused (`caa` or `dns`), which turns the validation into
    /// a failure so the client learns at once, before it finalizes.
    pub(super) fn caa_after_validation(
        &self,
        record: serde_json::Value,
        caa: Result<CaaEvidence, (Problem, CaaEvidence)>,
    ) -> (serde_json::Value, Option<Problem>) {
        let (refusal, caa_record) = match caa {
            Ok(seen) => (None, seen),
            Err((problem, seen)) => (Some(problem), seen),
        };
        let check = CaaCheck {
            checked_at: self.now(),
            record: caa_record,
        };
        (with_caa(record, &check), refusal)
    }

    /// Finalize's CAA step: every authorization of the order whose CAA check is missing, made
    /// for another name or account, or older than `caa_recheck_after` is checked again now. The first
    /// refusal is returned (`caa` or `dns`, naming the identifier); the order stays `ready`
    /// so the client can finalize again once the records allow it.
    ///
    /// `authorizations` are the order's, as read with it at the start of the request (the
    /// store's `begin_finalize` checks their status again when the order moves on).
    pub(super) async fn recheck_caa(
        &self,
        account: &Account,
        order: &Order,
        authorizations: &[Authorization],
    ) -> Result<(), CoreError> {
        let now = self.now();
        for authorization in authorizations {
            let valid = authorization
                .challenges
                .iter()
                .find(|c| c.status == ChallengeStatus::Valid);
            let method = valid.map(|c| c.kind);
            let last = valid
                .and_then(|c| c.record.as_ref())
                .and_then(CaaCheck::from_validation_record);
            let request = self.caa_request(
                &authorization.identifier.value,
                authorization.wildcard,
                &account.id,
                method,
            );
            // A check made for another name, wildcard flag, method or account (a validation
            // reused from a parent domain or from another account of the customer) says
            // nothing about this one.
            if let Some(last) = last
                && last.record.domain == request.domain
                && last.record.wildcard == request.wildcard
                && last.record.account_uri == request.account_uri
                && last.record.method == method.map(|m| m.to_string())
                && last.checked_at <= now
                && now - last.checked_at < self.inner.config.caa_recheck_after
            {
                continue;
            }
            let (seen, refusal) = match self.inner.validator.check_caa(&request).await {
                Ok(seen) => (seen, None),
                Err((problem, seen)) => (seen, Some(problem)),
            };
            self.record_recheck(order, authorization, seen, refusal.as_ref())
                .await?;
            if let Some(problem) = refusal {
                info!(order = %order.id, domain = %request.domain, problem = %problem, "CAA recheck at finalize refused issuance");
                return Err(problem
                    .with_identifier(authorization.identifier.clone())
                    .into());
            }
        }
        Ok(())
    }

    /// Appends finalize's CAA check of `authorization` to the audit log, before the order
    /// moves on: a certificate is never issued on a check that left no record.
    async fn record_recheck(
        &self,
        order: &Order,
        authorization: &Authorization,
        seen: CaaEvidence,
        refusal: Option<&Problem>,
    ) -> Result<(), CoreError> {
        let check = CaaCheck {
            checked_at: self.now(),
            record: seen,
        };
        let details = serde_json::json!({
            "authorization": authorization.id,
            "outcome": if refusal.is_some() { "refused" } else { "allowed" },
            "caa": check,
            "problem": refusal,
        });
        self.inner
            .store
            .append_audit(
                check.checked_at,
                "caa_rechecked",
                &order.id,
                &details.to_string(),
            )
            .await?;
        Ok(())
    }
}

/// `record` with `"caa"` set to `check` (a record that is not a JSON object is kept under
/// `"validation"`).
fn with_caa(record: serde_json::Value, check: &CaaCheck) -> serde_json::Value {
    let caa = serde_json::to_value(check).unwrap_or_default();
    match record {
        serde_json::Value::Object(mut map) => {
            map.insert("caa".to_owned(), caa);
            serde_json::Value::Object(map)
        }
        other => serde_json::json!({ "validation": other, "caa": caa }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_round_trips_through_a_validation_record() {
        let check = CaaCheck {
            checked_at: time::macros::datetime!(2026-04-01 12:00 UTC),
            record: CaaEvidence {
                domain: "example.com".into(),
                wildcard: false,
                account_uri: "https://ca.test/acme/acct/1".into(),
                method: Some("http-01".into()),
                found_at: Some("example.com".into()),
                records: vec!["0 issue \"ferrite.test\"".into()],
                mpic: None,
            },
        };
        let record = with_caa(serde_json::json!({"method": "http-01"}), &check);
        assert_eq!(record["method"], "http-01");
        assert_eq!(record["caa"]["checked_at"], "2026-04-01T12:00:00Z");
        assert_eq!(record["caa"]["found_at"], "example.com");
        assert_eq!(
            CaaCheck::from_validation_record(&record),
            Some(check.clone())
        );
        let wrapped = with_caa(serde_json::Value::Null, &check);
        assert_eq!(CaaCheck::from_validation_record(&wrapped), Some(check));
        assert_eq!(
            CaaCheck::from_validation_record(&serde_json::json!({})),
            None
        );
    }
}
