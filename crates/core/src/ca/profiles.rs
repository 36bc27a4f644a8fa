//! Certificate profiles offered to clients (draft-ietf-acme-profiles): which exist, which one
//! an order that names none gets, and which of them a customer's accounts may order.

use std::collections::BTreeMap;

use ferrite_pki::Profile;
use ferrite_proto::ProblemType;

use super::Ca;
use crate::CoreError;
use crate::model::Account;

/// The profiles a CA offers by name, one of them the default.
#[derive(Clone, Debug)]
pub struct Profiles {
    default: Profile,
    others: BTreeMap<String, Profile>,
}

impl Profiles {
    /// Offers `default` alone, as the default.
    pub fn new(default: Profile) -> Self {
        Self {
            default,
            others: BTreeMap::new(),
        }
    }

    /// Offers `profile` too (replacing one of the same name, the default included).
    pub fn offer(&mut self, profile: Profile) {
        if profile.name == self.default.name {
            self.default = profile;
        } else {
            self.others.insert(profile.name.clone(), profile);
        }
    }

    /// The profile of orders that name none.
    pub fn default_profile(&self) -> &Profile {
        &self.default
    }

    /// The profile called `name`.
    pub fn get(&self, name: &str) -> Option<&Profile> {
        if name == self.default.name {
            Some(&self.default)
        } else {
            self.others.get(name)
        }
    }

    /// Every offered profile, the default first.
    pub fn iter(&self) -> impl Iterator<Item = &Profile> {
        std::iter::once(&self.default).chain(self.others.values())
    }

    /// Every offered name, comma-separated (for messages).
    pub fn names(&self) -> String {
        self.iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Ca {
    /// The profile a newOrder of `account` gets: the one it names, or the default.
    /// draft-ietf-acme-profiles §5: a name the server does not offer is `invalidProfile`, and
    /// so is one the account's customer may not order (`ferrite customer set-profiles`).
    pub(super) async fn order_profile(
        &self,
        account: &Account,
        requested: Option<&str>,
    ) -> Result<Profile, CoreError> {
        let profiles = &self.inner.config.profiles;
        let profile = match requested {
            None => profiles.default_profile(),
            Some(name) => profiles.get(name).ok_or_else(|| {
                CoreError::problem(
                    ProblemType::InvalidProfile,
                    format!(
                        "this CA offers no profile named {name:?}; the directory's meta.profiles lists those it does ({}), or leave profile out for the default",
                        profiles.names()
                    ),
                )
            })?,
        };
        if let Some(customer_id) = &account.customer_id
            && let Some(customer) = self.inner.store.customer(customer_id).await?
            && let Some(allowed) = &customer.allowed_profiles
            && !allowed.contains(&profile.name)
        {
            let allowed_text = if allowed.is_empty() {
                "none".to_owned()
            } else {
                allowed.join(", ")
            };
            let how = if requested.is_some() {
                "name one of those"
            } else {
                "name one of those in the order's profile field"
            };
            return Err(CoreError::problem(
                ProblemType::InvalidProfile,
                format!(
                    "this account's customer may not order profile {:?}; it may order {allowed_text}: {how}, or ask the CA operator",
                    profile.name
                ),
            ));
        }
        Ok(profile.clone())
    }

    /// The profile finalize issues an order under: the one fixed at newOrder, or, for an
    /// order that has none, the default.
    pub(super) fn issuing_profile(&self, name: Option<&str>) -> Result<&Profile, CoreError> {
        let profiles = &self.inner.config.profiles;
        match name {
            None => Ok(profiles.default_profile()),
            Some(name) => profiles.get(name).ok_or_else(|| {
                CoreError::problem(
                    ProblemType::InvalidProfile,
                    format!(
                        "this order was created for profile {name:?}, which this CA no longer offers; create a new order"
                    ),
                )
            }),
        }
    }
}
