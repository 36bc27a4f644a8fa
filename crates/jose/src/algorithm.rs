//! JWS `alg` values (RFC 7518 §3.1, RFC 8037 §3.1).

use std::fmt;

/// A JWS signature or MAC algorithm this crate implements.
///
/// `none` is deliberately absent: RFC 8555 §6.2 forbids it, and an `alg` that does not parse
/// into this enum is rejected before anything else is looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// ECDSA on P-256 with SHA-256 (RFC 7518 §3.4).
    ES256,
    /// ECDSA on P-384 with SHA-384 (RFC 7518 §3.4).
    ES384,
    /// ECDSA on P-521 with SHA-512 (RFC 7518 §3.4).
    ES512,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3).
    RS256,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256, 32-byte salt (RFC 7518 §3.5).
    PS256,
    /// Ed25519 (RFC 8037 §3.1).
    EdDSA,
    /// HMAC with SHA-256 (RFC 7518 §3.2); only for the EAB inner JWS.
    HS256,
    /// HMAC with SHA-384 (RFC 7518 §3.2); only for the EAB inner JWS.
    HS384,
    /// HMAC with SHA-512 (RFC 7518 §3.2); only for the EAB inner JWS.
    HS512,
}

/// The asymmetric algorithms allowed on the outer JWS, for the `algorithms` field of
/// badSignatureAlgorithm (RFC 8555 §6.2).
pub const ACCOUNT_KEY_ALGORITHMS: &[Algorithm] = &[
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::ES512,
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::EdDSA,
];

/// The MAC algorithms an externalAccountBinding may use (RFC 8555 §7.3.4).
pub const MAC_ALGORITHMS: &[Algorithm] = &[Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];

const ALL: &[Algorithm] = &[
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::ES512,
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::EdDSA,
    Algorithm::HS256,
    Algorithm::HS384,
    Algorithm::HS512,
];

impl Algorithm {
    /// Parses an `alg` header value. Case-sensitive, as RFC 7515 §4.1.1 requires; returns
    /// `None` for `none` and for anything unknown.
    pub fn from_name(name: &str) -> Option<Self> {
        ALL.iter().copied().find(|a| a.name() == name)
    }

    /// The registered `alg` name (RFC 7518 §3.1), e.g. `"ES256"`.
    pub fn name(&self) -> &'static str {
        match self {
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::ES512 => "ES512",
            Algorithm::RS256 => "RS256",
            Algorithm::PS256 => "PS256",
            Algorithm::EdDSA => "EdDSA",
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
        }
    }

    /// True for the HMAC algorithms (HS256/HS384/HS512).
    pub fn is_mac(&self) -> bool {
        matches!(self, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
    }

    /// The aws-lc-rs HMAC algorithm, for the MAC algorithms only.
    pub(crate) fn hmac(&self) -> Option<aws_lc_rs::hmac::Algorithm> {
        match self {
            Algorithm::HS256 => Some(aws_lc_rs::hmac::HMAC_SHA256),
            Algorithm::HS384 => Some(aws_lc_rs::hmac::HMAC_SHA384),
            Algorithm::HS512 => Some(aws_lc_rs::hmac::HMAC_SHA512),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for Algorithm {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Algorithm {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Algorithm::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown JWS algorithm {name:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_none_is_unknown() {
        for a in ALL {
            assert_eq!(Algorithm::from_name(a.name()), Some(*a));
        }
        assert_eq!(Algorithm::from_name("none"), None);
        assert_eq!(Algorithm::from_name("es256"), None);
        assert_eq!(Algorithm::from_name("RS512"), None);
    }

    #[test]
    fn mac_split() {
        assert!(ACCOUNT_KEY_ALGORITHMS.iter().all(|a| !a.is_mac()));
        assert!(
            MAC_ALGORITHMS
                .iter()
                .all(|a| a.is_mac() && a.hmac().is_some())
        );
        assert_eq!(
            ACCOUNT_KEY_ALGORITHMS.len() + MAC_ALGORITHMS.len(),
            ALL.len()
        );
    }
}
