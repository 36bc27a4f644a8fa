//! Checking an `externalAccountBinding` (RFC 8555 §7.3.4) and explaining refusals.

use ferrite_jose::Jwk;
use ferrite_jose::eab::ExternalAccountBinding;
use ferrite_proto::ProblemType;

use super::registry::Registry;
use super::suspension::{check_in_service, suspended_problem};
use crate::CoreError;
use crate::model::{BindingRefusal, MacKey};

/// What to tell a customer whose MAC key cannot bind.
const NEW_KEY_HINT: &str = "create a new MAC key (operator: `ferrite mac-key create --credential ID`; admin API: POST /admin/v1/mac-keys) and register with it";

/// A binding whose MAC verified: bind the new account with this key.
#[derive(Clone, Debug)]
pub(crate) struct VerifiedBinding {
    /// The MAC key (with its limits, for error messages).
    pub(crate) key: MacKey,
    /// The customer the account will belong to.
    pub(crate) customer_id: String,
    /// That customer's name (a suspended customer's refusal names it).
    pub(crate) customer_name: String,
}

impl Registry {
    /// RFC 8555 §7.3.4: "the server MUST verify the external account binding": parse the inner
    /// JWS, find the MAC key by `kid`, check `url` and the payload key against the outer JWS,
    /// verify the MAC. Whether the key may still bind is decided atomically by the store when
    /// the account is inserted ([`refusal_problem`]).
    pub(crate) async fn verify_binding(
        &self,
        eab: &serde_json::Value,
        outer_url: &str,
        outer_jwk: &Jwk,
    ) -> Result<VerifiedBinding, CoreError> {
        let binding = ExternalAccountBinding::parse(eab)
            .map_err(|e| CoreError::from(e).context("invalid externalAccountBinding"))?;
        let Some(key) = self.store.mac_key(&binding.kid).await? else {
            return Err(unknown_kid(&binding.kid));
        };
        let raw = self.kek.open(&key.kid, &key.sealed_key)?;
        binding.verify(outer_url, outer_jwk, &raw).map_err(|e| {
            CoreError::from(e).context(&format!(
                "invalid externalAccountBinding of EAB key id {:?}",
                binding.kid
            ))
        })?;
        let credential = self
            .store
            .credential(&key.credential_id)
            .await?
            .ok_or_else(|| {
                CoreError::Internal(format!("MAC key {:?} has no credential", key.kid))
            })?;
        let customer = self
            .store
            .customer(&credential.customer_id)
            .await?
            .ok_or_else(|| {
                CoreError::Internal(format!("credential {:?} has no customer", credential.id))
            })?;
        // Refused here already to spare the binding transaction; the store checks again in
        // it, so a suspension that lands meanwhile still stops the binding.
        check_in_service(&customer, &self.settings)?;
        Ok(VerifiedBinding {
            key,
            customer_id: customer.id,
            customer_name: customer.name,
        })
    }

    /// The `unauthorized` problem for a store refusal of `binding`, naming which rule failed
    /// and what to do.
    pub(crate) fn refusal_problem(
        &self,
        refusal: BindingRefusal,
        binding: &VerifiedBinding,
    ) -> CoreError {
        match refusal {
            BindingRefusal::CustomerSuspended => {
                suspended_problem(&binding.customer_name, &self.settings)
            }
            other => refusal_problem(other, &binding.key),
        }
    }
}

/// An unknown key id gets a detail of its own, distinct from a known key id whose MAC does not
/// verify. That tells a prober which ids exist, which is harmless here: key ids are 128 random
/// bits (`ids::random_arg_safe_id`), so none can be guessed, and a key id is not a secret (the
/// HMAC key is). The distinction is what a customer needs to fix a client: a mistyped or
/// revoked kid calls for another kid, a bad MAC for the HMAC key that goes with it.
fn unknown_kid(kid: &str) -> CoreError {
    CoreError::problem(
        ProblemType::Unauthorized,
        format!("unknown EAB key id {kid:?}: check the kid you were given, or {NEW_KEY_HINT}"),
    )
}

/// The `unauthorized` problem for a store refusal about `key` or its credential, naming which
/// rule failed and what to do.
fn refusal_problem(refusal: BindingRefusal, key: &MacKey) -> CoreError {
    let kid = &key.kid;
    let detail = match refusal {
        BindingRefusal::UnknownKid => return unknown_kid(kid),
        BindingRefusal::KeyDisabled => format!(
            "EAB MAC key {kid:?} is disabled (a newer MAC key was created for its API credential, or the operator disabled it); use the newest key, or {NEW_KEY_HINT}"
        ),
        BindingRefusal::KeyExpired => {
            let when = key
                .expires_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            format!("EAB MAC key {kid:?} expired at {when}; {NEW_KEY_HINT}")
        }
        BindingRefusal::KeyExhausted => format!(
            "EAB MAC key {kid:?} is exhausted: it has bound its maximum of {} accounts; {NEW_KEY_HINT}",
            key.max_bindings
        ),
        BindingRefusal::CredentialDisabled => format!(
            "the API credential of EAB MAC key {kid:?} is disabled; ask the operator for a new credential and MAC key (`ferrite credential create --customer NAME`, then `ferrite mac-key create --credential ID`)"
        ),
        // Answered by `Registry::refusal_problem`, which knows the customer; kept generic here.
        BindingRefusal::CustomerSuspended => format!(
            "the customer of EAB MAC key {kid:?} is suspended; contact the operator of this certificate authority"
        ),
    };
    CoreError::problem(ProblemType::Unauthorized, detail)
}
