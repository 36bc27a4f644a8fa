//! Customer portal sign-ins: an API credential's id and secret (a customer's, or an
//! operator credential's), checked once (argon2, the failed-authentication limit per address,
//! as the admin API checks them), buy a session token for a cookie. The token is 256 random
//! bits; the store keeps only its SHA-256, so a copy of the database signs nobody in. Every
//! page load checks that the session has not expired and that its credential is still active and its customer in service; disabling the
//! credential or suspending the customer also deletes its sessions
//! ([`crate::Store::end_portal_sessions`]), so they end at once on every instance and a resume
//! does not bring them back.

use time::Duration;

use super::Registry;
use super::registry::Principal;
use super::secret::{SecretText, random_bytes};
use super::suspension::check_in_service;
use crate::CoreError;
use crate::ids::sha256_hex;
use crate::model::{CredentialStatus, PortalSession};

/// How long a portal session lasts from sign-in, whatever the browser keeps.
pub const PORTAL_SESSION_LIFETIME: Duration = Duration::hours(8);

/// A session just made: the token for the cookie (shown to this browser only) and the row.
pub struct NewSession {
    /// The cookie's value. Never log it.
    pub token: SecretText,
    /// The session as stored.
    pub session: PortalSession,
}

/// A live portal session: the row, who signed in, and for a customer's credential its
/// customer's name (read with the suspension check, for the page frame).
pub struct SignedInSession {
    /// The session as stored.
    pub session: PortalSession,
    /// The credential that signed in.
    pub principal: Principal,
    /// The customer's name; `None` for an operator credential.
    pub customer_name: Option<String>,
}

/// The store key of a cookie token.
fn token_hash(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

/// 256 random bits as unpadded base64url.
fn random_token() -> Result<String, CoreError> {
    use base64::Engine;
    let bytes = random_bytes::<32>()?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

impl Registry {
    /// Signs API credential `id` in with `secret` from `client` (see
    /// [`Registry::authenticate_from`] for what is refused and how), and keeps a new session
    /// for it.
    pub async fn sign_in(
        &self,
        id: &str,
        secret: &str,
        client: Option<std::net::IpAddr>,
    ) -> Result<(NewSession, Principal), CoreError> {
        let principal = self.authenticate_from(id, secret, client).await?;
        let token = random_token()?;
        let now = crate::model::stored_precision(self.clock.now());
        let session = PortalSession {
            token_hash: token_hash(&token),
            credential_id: principal.credential_id().to_owned(),
            csrf_token: random_token()?,
            created_at: now,
            expires_at: now + PORTAL_SESSION_LIFETIME,
        };
        self.store.insert_portal_session(&session).await?;
        Ok((
            NewSession {
                token: SecretText::new(token),
                session,
            },
            principal,
        ))
    }

    /// The session of cookie token `token` and who signed in, if the session has not expired
    /// and the credential is still active. `Ok(None)`: sign in again. A suspended customer's
    /// session gets the suspension's `unauthorized` problem.
    pub async fn portal_session(&self, token: &str) -> Result<Option<SignedInSession>, CoreError> {
        let now = self.clock.now();
        let Some(session) = self.store.portal_session(&token_hash(token), now).await? else {
            return Ok(None);
        };
        let id = &session.credential_id;
        if let Some(c) = self.store.credential(id).await? {
            if c.status != CredentialStatus::Active {
                return Ok(None);
            }
            let customer = self.store.customer(&c.customer_id).await?.ok_or_else(|| {
                CoreError::Internal(format!("credential {:?} has no customer", c.id))
            })?;
            check_in_service(&customer, &self.settings)?;
            return Ok(Some(SignedInSession {
                session,
                principal: Principal::Customer(c),
                customer_name: Some(customer.name),
            }));
        }
        Ok(match self.store.operator_credential(id).await? {
            Some(o) if o.status == CredentialStatus::Active => Some(SignedInSession {
                session,
                principal: Principal::Operator(o),
                customer_name: None,
            }),
            _ => None,
        })
    }

    /// Ends the session of cookie token `token` (signing out); nothing if there is none.
    pub async fn sign_out(&self, token: &str) -> Result<(), CoreError> {
        self.store.delete_portal_session(&token_hash(token)).await?;
        Ok(())
    }
}
