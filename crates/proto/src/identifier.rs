//! Identifiers (RFC 8555 §7.1.4, §9.7.7).

use serde::{Deserialize, Serialize};

/// The kind of an identifier (the ACME Identifier Types registry, RFC 8555 §9.7.7).
///
/// Only `dns` is issued for. `ip` (RFC 8738) and any other type a client sends are parsed, so
/// that newOrder can refuse them with `unsupportedIdentifier` naming the identifier (§6.7)
/// instead of failing to parse the request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum IdentifierType {
    /// A fully qualified domain name (RFC 8555 §9.7.7).
    Dns,
    /// An IP address (RFC 8738).
    Ip,
    /// A type this CA does not know, as the client wrote it (e.g. `email`).
    Other(String),
}

impl IdentifierType {
    /// The registry name, e.g. `dns`.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Dns => "dns",
            Self::Ip => "ip",
            Self::Other(name) => name,
        }
    }

    /// The type named `name`.
    pub fn parse(name: &str) -> Self {
        match name {
            "dns" => Self::Dns,
            "ip" => Self::Ip,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl std::fmt::Display for IdentifierType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for IdentifierType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for IdentifierType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Ok(Self::parse(&name))
    }
}

/// An identifier object: `{"type": "dns", "value": "www.example.org"}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Identifier {
    /// The identifier type.
    #[serde(rename = "type")]
    pub kind: IdentifierType,
    /// The identifier value, e.g. a domain name or `*.example.org`.
    pub value: String,
}

impl Identifier {
    /// A `dns` identifier.
    pub fn dns(value: impl Into<String>) -> Self {
        Self {
            kind: IdentifierType::Dns,
            value: value.into(),
        }
    }

    /// Whether this is a wildcard name (`*.example.org`).
    pub fn is_wildcard(&self) -> bool {
        self.value.starts_with("*.")
    }

    /// The name without a leading `*.`: what is actually validated (RFC 8555 §7.1.3).
    pub fn base_domain(&self) -> &str {
        self.value.strip_prefix("*.").unwrap_or(&self.value)
    }
}

/// Why a DNS name was refused, as a sentence a person can act on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty or longer than 253 octets.
    #[error("the name is empty or longer than 253 characters")]
    Length,
    /// A label is empty or longer than 63 octets.
    #[error("the name has an empty label or a label longer than 63 characters")]
    LabelLength,
    /// A character outside letters, digits and hyphen (after an optional leading `*.`).
    #[error("the name contains a character other than letters, digits, hyphens and dots")]
    Character,
    /// A label starts or ends with a hyphen.
    #[error("a label starts or ends with a hyphen")]
    Hyphen,
    /// Fewer than two labels, or a top-level label that is all digits.
    #[error("the name is not a fully qualified domain name")]
    NotFqdn,
    /// `*` anywhere but as the whole leftmost label.
    #[error("a wildcard is only allowed as the whole leftmost label (*.example.com)")]
    Wildcard,
    /// Upper-case letters: RFC 8555 identifiers are compared in lower case.
    #[error("the name contains upper-case letters; send it in lower case")]
    UpperCase,
    /// A trailing dot.
    #[error("the name ends with a dot; send it without the trailing dot")]
    TrailingDot,
}

/// Checks that `name` is a lower-case LDH hostname with at least two labels, optionally with a
/// leading `*.` wildcard label (RFC 1123 §2.1, RFC 8555 §7.1.3).
pub fn check_dns_name(name: &str) -> Result<(), NameError> {
    if name.ends_with('.') {
        return Err(NameError::TrailingDot);
    }
    let base = name.strip_prefix("*.").unwrap_or(name);
    if base.contains('*') {
        return Err(NameError::Wildcard);
    }
    if base.is_empty() || name.len() > 253 {
        return Err(NameError::Length);
    }
    let labels: Vec<&str> = base.split('.').collect();
    if labels.len() < 2 {
        return Err(NameError::NotFqdn);
    }
    for label in &labels {
        if label.is_empty() || label.len() > 63 {
            return Err(NameError::LabelLength);
        }
        if label.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(NameError::UpperCase);
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(NameError::Character);
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(NameError::Hyphen);
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(NameError::NotFqdn);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ldh_names_and_wildcards() {
        for ok in [
            "example.com",
            "a-b.example.com",
            "*.example.com",
            "xn--bcher-kva.example",
        ] {
            assert_eq!(check_dns_name(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_bad_names() {
        let cases = [
            ("", NameError::Length),
            ("com", NameError::NotFqdn),
            ("1.2.3.4", NameError::NotFqdn),
            ("a..com", NameError::LabelLength),
            ("a_b.com", NameError::Character),
            ("-a.com", NameError::Hyphen),
            ("a.*.com", NameError::Wildcard),
            ("**.com", NameError::Wildcard),
            ("Example.com", NameError::UpperCase),
            ("example.com.", NameError::TrailingDot),
        ];
        for (name, want) in cases {
            assert_eq!(check_dns_name(name), Err(want), "{name}");
        }
    }

    #[test]
    fn unknown_identifier_types_parse_and_echo_as_sent() {
        for (json, kind) in [
            (r#"{"type":"ip","value":"192.0.2.1"}"#, IdentifierType::Ip),
            (
                r#"{"type":"email","value":"a@example.com"}"#,
                IdentifierType::Other("email".into()),
            ),
        ] {
            let id: Identifier = serde_json::from_str(json).unwrap();
            assert_eq!(id.kind, kind);
            assert_eq!(
                serde_json::to_value(&id).unwrap(),
                serde_json::from_str::<serde_json::Value>(json).unwrap()
            );
        }
        // The type is still a string: anything else is a parse error.
        assert!(serde_json::from_str::<Identifier>(r#"{"type":7,"value":"a"}"#).is_err());
    }

    #[test]
    fn identifier_json_shape() {
        let id: Identifier = serde_json::from_str(r#"{"type":"dns","value":"*.a.org"}"#).unwrap();
        assert!(id.is_wildcard());
        assert_eq!(id.base_domain(), "a.org");
        assert_eq!(
            serde_json::to_value(&id).unwrap(),
            serde_json::json!({"type":"dns","value":"*.a.org"})
        );
    }
}
