//! The identifiers of a newOrder (RFC 8555 §7.4): their type and syntax, and the names this
//! CA refuses to authorize whoever asks (`rejectedIdentifier`).

use std::collections::BTreeSet;

use ferrite_proto::identifier::check_dns_name;
use ferrite_proto::{Identifier, IdentifierType, Problem, ProblemType};

use super::public_suffix::is_icann_public_suffix;

/// What an `unsupportedIdentifier` detail tells the client it may ask for.
const SUPPORTED_IDENTIFIERS: &str = "this CA issues for dns identifiers only ({\"type\":\"dns\",\"value\":\"www.example.com\"}); ip identifiers (RFC 8738) are not supported";

/// RFC 8555 §6.7.1: the identifiers newOrder refused, one subproblem each naming its
/// identifier. The top-level type is the subproblems' type when they share one
/// (`unsupportedIdentifier`, `rejectedIdentifier`), else `compound` ("specific error
/// conditions are indicated in the subproblems array", §6.7).
fn identifiers_refused(subproblems: Vec<Problem>) -> Problem {
    let first = subproblems[0].kind;
    let kind = if subproblems.iter().all(|p| p.kind == first) {
        first
    } else {
        ProblemType::Compound
    };
    let detail = match (subproblems.len(), kind) {
        (1, _) => subproblems[0].detail.clone(),
        (n, ProblemType::UnsupportedIdentifier) => {
            format!(
                "{n} identifiers are of types this CA does not issue for; {SUPPORTED_IDENTIFIERS}"
            )
        }
        (n, _) => format!("{n} identifiers were refused; see subproblems"),
    };
    let mut p = Problem::new(kind, detail);
    if let [only] = subproblems.as_slice() {
        // One identifier: the top level names it too, for clients that read only that.
        p.identifier = only.identifier.clone();
    }
    p.subproblems = subproblems;
    p
}

/// The reverse-mapping zones for IP addresses: a name under them names an address, not a host
/// (RFC 1035 §3.5, RFC 3596 §2.5); such names are never put into certificates.
const REVERSE_ZONES: [&str; 2] = ["in-addr.arpa", "ip6.arpa"];

/// What newOrder refuses beyond syntax: wildcards directly under a public suffix, names in the
/// IP reverse zones, and the operator's blocklist.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdentifierPolicy {
    /// Domains the operator refuses to issue for: each blocks itself and every name under it.
    /// Lower case, without `*.` or trailing dot (see [`IdentifierPolicy::new`]).
    blocked_domains: Vec<String>,
}

impl IdentifierPolicy {
    /// A policy with the operator's blocklist (`policy.blocked_domains`). Entries are
    /// normalized: lower-cased, a leading `*.` and surrounding dots removed, empty ones dropped.
    pub fn new<S: AsRef<str>>(blocked_domains: &[S]) -> Self {
        let blocked_domains = blocked_domains
            .iter()
            .map(|d| {
                let d = d.as_ref().trim().to_ascii_lowercase();
                let d = d.strip_prefix("*.").unwrap_or(&d);
                d.trim_matches('.').to_owned()
            })
            .filter(|d| !d.is_empty())
            .collect();
        Self { blocked_domains }
    }

    /// The normalized blocklist.
    pub fn blocked_domains(&self) -> &[String] {
        &self.blocked_domains
    }

    /// Checks and normalizes the identifiers of a newOrder (RFC 8555 §7.4): at least one, at
    /// most `max`, `dns` only (`unsupportedIdentifier`), valid LDH names, none this policy
    /// refuses (`rejectedIdentifier`); lower-cased and deduplicated. A refusal names every
    /// refused identifier in a subproblem.
    pub fn check_order(
        &self,
        identifiers: Vec<Identifier>,
        max: usize,
    ) -> Result<Vec<Identifier>, Box<Problem>> {
        if identifiers.is_empty() {
            return Err(Box::new(Problem::new(
                ProblemType::Malformed,
                "the order has no identifiers; list at least one {\"type\":\"dns\",\"value\":...}",
            )));
        }
        if identifiers.len() > max {
            return Err(Box::new(Problem::new(
                ProblemType::RejectedIdentifier,
                format!(
                    "the order has {} identifiers; at most {max} are allowed per order",
                    identifiers.len(),
                ),
            )));
        }
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        let mut subproblems = Vec::new();
        for id in identifiers {
            if id.kind != IdentifierType::Dns {
                subproblems.push(
                    Problem::new(
                        ProblemType::UnsupportedIdentifier,
                        format!(
                            "identifier type {:?} is not supported; {SUPPORTED_IDENTIFIERS}",
                            id.kind.as_str()
                        ),
                    )
                    .with_identifier(id),
                );
                continue;
            }
            let value = id.value.to_ascii_lowercase();
            if let Err(e) = check_dns_name(&value) {
                // A wildcard on a public suffix of one label (`*.com`) is not a valid name
                // either; the public-suffix rule says better what to order instead.
                let detail = match self.check(&value) {
                    Err(detail) if value.starts_with("*.") => detail,
                    _ => format!("{:?} is not a valid DNS name: {e}", id.value),
                };
                subproblems.push(
                    Problem::new(ProblemType::RejectedIdentifier, detail).with_identifier(id),
                );
                continue;
            }
            if let Err(detail) = self.check(&value) {
                subproblems.push(
                    Problem::new(ProblemType::RejectedIdentifier, detail).with_identifier(id),
                );
                continue;
            }
            if seen.insert(value.clone()) {
                out.push(Identifier::dns(value));
            }
        }
        if subproblems.is_empty() {
            return Ok(out);
        }
        Err(Box::new(identifiers_refused(subproblems)))
    }

    /// Checks one identifier value (lower case, LDH-valid, possibly `*.`-prefixed). On refusal,
    /// the detail to put in the `rejectedIdentifier` problem: what is wrong and what to do.
    pub fn check(&self, name: &str) -> Result<(), String> {
        let (wildcard, base) = match name.strip_prefix("*.") {
            Some(base) => (true, base),
            None => (false, name),
        };
        if let Some(zone) = REVERSE_ZONES.iter().find(|zone| is_at_or_under(base, zone)) {
            return Err(format!(
                "{name} is in the IP reverse-mapping zone {zone}, which names addresses, not \
                 hosts; this CA issues only for host names: order the server's DNS name instead"
            ));
        }
        // BR §3.2.2.6: a wildcard directly under a registry-controlled label would cover every
        // domain registered there.
        if wildcard && is_icann_public_suffix(base) {
            return Err(format!(
                "{name} is a wildcard directly under the public suffix {base:?}; it would cover \
                 domains of other registrants. Order a wildcard under your own registered domain \
                 (e.g. *.example.{base})"
            ));
        }
        if let Some(blocked) = self
            .blocked_domains
            .iter()
            .find(|b| is_at_or_under(base, b))
        {
            return Err(format!(
                "{name} is under {blocked}, which this CA's operator does not issue for \
                 (policy.blocked_domains); contact the operator if you control this domain"
            ));
        }
        Ok(())
    }
}

/// `name` equals `zone` or is a subdomain of it (label-wise: `notexample.com` is not under
/// `example.com`).
pub(super) fn is_at_or_under(name: &str, zone: &str) -> bool {
    name == zone
        || name
            .strip_suffix(zone)
            .is_some_and(|prefix| prefix.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_directly_under_an_icann_public_suffix_are_refused() {
        let p = IdentifierPolicy::default();
        for name in ["*.com", "*.co.uk", "*.org"] {
            let e = p.check(name).unwrap_err();
            assert!(e.contains("public suffix"), "{e}");
        }
        for name in [
            "*.example.com",
            "*.example.co.uk",
            "*.a.b.example.com",
            "co.uk.example.com",
            "*.example.test",
            "*.github.io",
        ] {
            assert_eq!(p.check(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn reverse_zone_names_are_refused() {
        let p = IdentifierPolicy::default();
        for name in [
            "1.0.0.127.in-addr.arpa",
            "in-addr.arpa",
            "*.0.0.127.in-addr.arpa",
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa",
        ] {
            let e = p.check(name).unwrap_err();
            assert!(e.contains("reverse-mapping"), "{e}");
        }
        assert_eq!(p.check("in-addr.arpa.example.com"), Ok(()));
        assert_eq!(p.check("notin-addr.arpa"), Ok(()));
    }

    #[test]
    fn blocklisted_domains_block_themselves_and_their_subdomains_only() {
        let p = IdentifierPolicy::new(&["Blocked.Example", "*.bank.test.", " "]);
        assert_eq!(p.blocked_domains(), ["blocked.example", "bank.test"]);
        for name in [
            "blocked.example",
            "www.blocked.example",
            "*.blocked.example",
            "a.b.bank.test",
            "bank.test",
        ] {
            let e = p.check(name).unwrap_err();
            assert!(e.contains("policy.blocked_domains"), "{e}");
        }
        for name in ["notblocked.example", "blocked.example.com", "bank.test.org"] {
            assert_eq!(p.check(name), Ok(()), "{name}");
        }
    }
}
