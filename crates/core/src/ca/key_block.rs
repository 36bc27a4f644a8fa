//! Blocked public keys: a key reported compromised (a keyCompromise revocation by the
//! operator or signed with the certificate's own key, or `ferrite key block`) is never
//! certified or accepted as an account key again. RFC 8555 §7.3 and §7.4 name the refusal
//! `badPublicKey`; the Baseline Requirements (§6.1.1.3) require rejecting a CSR whose key the
//! CA knows to be compromised.

use ferrite_proto::ProblemType;
use time::OffsetDateTime;

use super::Ca;
use crate::model::BlockedKey;
use crate::{CoreError, Store};

/// The SHA-256 of a DER SubjectPublicKeyInfo, lower-case hex: how blocked keys are named.
pub fn spki_sha256(spki_der: &[u8]) -> String {
    crate::ids::sha256_hex(spki_der)
}

/// The [`spki_sha256`] of a DER certificate's public key, or `None` if it does not parse.
pub fn certificate_spki_sha256(der: &[u8]) -> Option<String> {
    ferrite_pki::parse_certificate(der)
        .ok()
        .map(|c| spki_sha256(&c.spki_der))
}

/// Reads a key hash as an operator types it: 64 hex digits, case and colons ignored.
pub fn parse_spki_sha256(text: &str) -> Result<String, CoreError> {
    let hex = super::certificate_listing::typed_hex(text);
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(hex);
    }
    Err(CoreError::problem(
        ProblemType::Malformed,
        format!(
            "{text:?} is not a SHA-256 key hash; give the SHA-256 of the key's DER SubjectPublicKeyInfo as 64 hex digits (openssl x509 -in cert.pem -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum)"
        ),
    ))
}

/// The refusal of a blocked key: `badPublicKey` (400) saying why and what to do.
pub fn blocked_key_problem(what: &str) -> CoreError {
    CoreError::problem(
        ProblemType::BadPublicKey,
        format!(
            "the {what} is blocked: it was reported compromised (a keyCompromise revocation or the CA operator); generate a new key and use that instead"
        ),
    )
}

impl Ca {
    /// `Err(badPublicKey)` if the key `spki_der` is blocked; `what` names it for the client
    /// ("CSR's public key", "account key", "new account key").
    pub(super) async fn refuse_blocked_key(
        &self,
        spki_der: &[u8],
        what: &str,
    ) -> Result<(), CoreError> {
        let hash = spki_sha256(spki_der);
        match self.inner.store.blocked_key(&hash).await? {
            Some(_) => Err(blocked_key_problem(what)),
            None => Ok(()),
        }
    }
}

/// `ferrite key block`: blocks the key `spki_sha256` (already parsed by
/// [`parse_spki_sha256`]) with the operator's `reason`, and records it in the audit log.
/// Returns the block (the earlier one if the key was blocked already) and whether it is new.
pub async fn block_key(
    store: &dyn Store,
    spki_sha256: &str,
    reason: Option<&str>,
    now: OffsetDateTime,
) -> Result<(BlockedKey, bool), CoreError> {
    let key = BlockedKey {
        spki_sha256: spki_sha256.to_owned(),
        blocked_at: crate::model::stored_precision(now),
        reason: reason.unwrap_or("blocked by the operator").to_owned(),
        serial: None,
    };
    let new = store.block_key(&key).await?;
    if new {
        tracing::warn!(
            target: "ferrite::audit",
            event = "key_blocked_by_operator",
            spki_sha256 = %key.spki_sha256,
            reason = %key.reason,
            "public key blocked by the operator"
        );
        return Ok((key, true));
    }
    let existing = store.blocked_key(spki_sha256).await?.unwrap_or(key);
    Ok((existing, false))
}

/// `ferrite key unblock`: lifts the block on `spki_sha256` and records it in the audit log.
/// `Err(malformed)` if the key is not blocked.
pub async fn unblock_key(store: &dyn Store, spki_sha256: &str) -> Result<(), CoreError> {
    if !store.unblock_key(spki_sha256).await? {
        return Err(CoreError::problem(
            ProblemType::Malformed,
            format!("key {spki_sha256} is not blocked; `ferrite key list` shows the blocked keys"),
        ));
    }
    tracing::warn!(
        target: "ferrite::audit",
        event = "key_unblocked_by_operator",
        spki_sha256 = %spki_sha256,
        "public key unblocked by the operator"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_hashes_are_read_leniently_and_refused_clearly() {
        let hash = spki_sha256(b"key");
        assert_eq!(hash.len(), 64);
        assert_eq!(parse_spki_sha256(&hash.to_uppercase()).unwrap(), hash);
        let colons: Vec<String> = hash
            .as_bytes()
            .chunks(2)
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        assert_eq!(parse_spki_sha256(&colons.join(":")).unwrap(), hash);
        for bad in ["", "abc", &hash[..62], &format!("{}zz", &hash[..62])] {
            let p = parse_spki_sha256(bad).unwrap_err().to_problem();
            assert_eq!(p.kind, ProblemType::Malformed);
            assert!(p.detail.contains("sha256sum"), "{}", p.detail);
        }
    }

    #[test]
    fn the_refusal_is_bad_public_key_and_says_what_to_do() {
        let p = blocked_key_problem("CSR's public key").to_problem();
        assert_eq!(p.kind, ProblemType::BadPublicKey);
        assert_eq!(p.status, Some(400));
        assert!(p.detail.contains("compromised"));
        assert!(p.detail.contains("generate a new key"));
    }
}
