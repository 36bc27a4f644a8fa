//! Authorizations (RFC 8555 §7.5): reading one, deactivating it (§7.5.2), and the pending
//! authorizations newOrder creates.

use ferrite_proto::requests::AuthorizationUpdate;
use ferrite_proto::{
    AuthorizationStatus, ChallengeStatus, ChallengeType, Identifier, Problem, ProblemType,
};
use time::OffsetDateTime;

use super::{Ca, Reader, not_found};
use crate::model::{Account, Authorization, Challenge, ValidationOwner};
use crate::{CoreError, ids, status};

/// An authorization as the client sees it.
#[derive(Clone, Debug)]
pub struct AuthorizationView {
    /// The stored authorization.
    pub authorization: Authorization,
    /// The status to show.
    pub status: AuthorizationStatus,
}

impl Ca {
    /// Loads an authorization (§7.5) for `reader`.
    pub async fn authorization(
        &self,
        reader: Reader<'_>,
        id: &str,
    ) -> Result<AuthorizationView, CoreError> {
        let authorization = self
            .inner
            .store
            .authorization(id)
            .await?
            .filter(|a| reader.may_read(&a.account_id))
            .ok_or_else(|| not_found("authorization"))?;
        let status = status::authorization_status(&authorization, self.now());
        let challenges = status::shown_challenges(&authorization);
        Ok(AuthorizationView {
            authorization: Authorization {
                challenges,
                ..authorization
            },
            status,
        })
    }

    /// RFC 8555 §7.5.2: an authorization update; the only one a client may ask for is
    /// `{"status": "deactivated"}` ([`Ca::deactivate_authorization`]).
    pub async fn update_authorization(
        &self,
        account: &Account,
        id: &str,
        update: AuthorizationUpdate,
    ) -> Result<AuthorizationView, CoreError> {
        if update.status != AuthorizationStatus::Deactivated {
            return Err(CoreError::problem(
                ProblemType::Malformed,
                format!(
                    "an authorization can only be updated to {{\"status\":\"deactivated\"}}, not \"{}\"",
                    update.status
                ),
            ));
        }
        self.deactivate_authorization(account, id).await
    }

    /// RFC 8555 §7.5.2: deactivates a pending or valid authorization.
    pub async fn deactivate_authorization(
        &self,
        account: &Account,
        id: &str,
    ) -> Result<AuthorizationView, CoreError> {
        let view = self.authorization(Reader::Account(account), id).await?;
        let from = view.status;
        if !matches!(
            from,
            AuthorizationStatus::Pending | AuthorizationStatus::Valid
        ) {
            return Err(CoreError::problem(
                ProblemType::Malformed,
                format!(
                    "the authorization is {from}; only pending or valid authorizations can be deactivated"
                ),
            ));
        }
        if !self
            .inner
            .store
            .set_authorization_status(id, from, AuthorizationStatus::Deactivated)
            .await?
        {
            // A validation finished (or another deactivation won) between the read and the
            // compare-and-set: report the conflict instead of a 200 that did nothing.
            let mut p = Problem::new(
                ProblemType::Malformed,
                "the authorization changed while it was being deactivated; fetch it and retry if it is still pending or valid",
            );
            p.status = Some(409);
            return Err(p.into());
        }
        // A deactivated authorization must not come back through reuse: a valid one handed
        // out from a kept validation is a copy, so the validations of exactly this name that
        // the owner holds end too (their own authorizations are deactivated). Validations of
        // parent domains (dns-01) are left alone: they prove control of a wider zone.
        if from == AuthorizationStatus::Valid {
            let authz = &view.authorization;
            let owner = ValidationOwner::of(account);
            let now = self.now();
            let since = now - self.inner.config.reuse.window_at(now);
            let kept = self
                .inner
                .store
                .reusable_domain_validations(
                    &owner,
                    std::slice::from_ref(&authz.identifier.value),
                    since,
                )
                .await?;
            for v in kept.iter().filter(|v| v.domain == authz.identifier.value) {
                self.inner
                    .store
                    .set_authorization_status(
                        &v.authorization_id,
                        AuthorizationStatus::Valid,
                        AuthorizationStatus::Deactivated,
                    )
                    .await?;
            }
        }
        self.authorization(Reader::Account(account), id).await
    }
}

pub(super) fn new_authorization(
    account: &Account,
    domain: &str,
    wildcard: bool,
    expires: OffsetDateTime,
) -> Authorization {
    let id = ids::random_id();
    // §7.1.3: a wildcard can only be validated with dns-01.
    let kinds: &[ChallengeType] = if wildcard {
        &[ChallengeType::Dns01]
    } else {
        &[
            ChallengeType::Http01,
            ChallengeType::Dns01,
            ChallengeType::TlsAlpn01,
        ]
    };
    let challenges = kinds
        .iter()
        .map(|&kind| Challenge {
            id: ids::random_id(),
            authorization_id: id.clone(),
            kind,
            token: ids::random_id(),
            status: ChallengeStatus::Pending,
            validated: None,
            error: None,
            record: None,
            lease_until: None,
        })
        .collect();
    Authorization {
        id,
        account_id: account.id.clone(),
        identifier: Identifier::dns(domain),
        wildcard,
        status: AuthorizationStatus::Pending,
        expires,
        challenges,
    }
}
