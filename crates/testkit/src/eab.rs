//! MAC keys as an operator hands them out (RFC 8555 §7.3.4), made through the engine's
//! registry, for tests that bind accounts to a customer.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrite_core::Ca;
use ferrite_jose::Algorithm;
use ferrite_jose::sign::{SigningKey, external_account_binding};

/// A MAC key as the operator hands it out: the key id and the raw HMAC key, with the API
/// credential it belongs to.
#[derive(Clone, Debug)]
pub struct IssuedMacKey {
    /// The API credential the key belongs to.
    pub credential_id: String,
    /// The EAB key id.
    pub kid: String,
    /// The HMAC key, decoded.
    pub hmac: Vec<u8>,
}

impl IssuedMacKey {
    /// The `externalAccountBinding` of a newAccount request to `url` for `key` (HS256).
    pub fn binding(&self, url: &str, key: &SigningKey) -> serde_json::Value {
        external_account_binding(
            Algorithm::HS256,
            &self.kid,
            &self.hmac,
            url,
            &key.public_jwk(),
        )
        .expect("HMAC signing")
    }
}

/// Creates customer `name` with one API credential and one MAC key.
pub async fn new_customer_key(ca: &Ca, name: &str) -> IssuedMacKey {
    let customer = ca.eab().create_customer(name).await.expect("customer");
    new_credential_key(ca, &customer.id).await
}

/// Creates an API credential of customer `customer_id` with one MAC key.
pub async fn new_credential_key(ca: &Ca, customer_id: &str) -> IssuedMacKey {
    let credential = ca
        .eab()
        .create_credential(customer_id)
        .await
        .expect("credential");
    rekey(ca, &credential.credential.id).await
}

/// A new MAC key for the credential `credential_id` (which disables its previous key).
pub async fn rekey(ca: &Ca, credential_id: &str) -> IssuedMacKey {
    let key = ca
        .eab()
        .create_mac_key(credential_id, None)
        .await
        .expect("MAC key");
    IssuedMacKey {
        credential_id: credential_id.to_owned(),
        kid: key.key.kid,
        hmac: URL_SAFE_NO_PAD
            .decode(key.hmac_key.expose())
            .expect("the HMAC key is base64url"),
    }
}
