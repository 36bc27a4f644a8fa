//! Which validated names authorize which requested names.
//!
//! Every identifier is validated as written: an http-01 or tls-alpn-01 validation proves
//! control of exactly one host name. A dns-01 validation proves control of the DNS zone at
//! `_acme-challenge.<name>`; the Baseline Requirements (§3.2.2.4.7, DNS Change) let it cover
//! the name's subdomains and wildcards too: "the CA MAY also issue Certificates for other
//! FQDNs that end with all the Domain Labels of the validated FQDN". A public suffix never
//! covers anything below it: controlling `co.uk`'s TXT records says nothing about the
//! registrants under it.

use ferrite_proto::ChallengeType;

use super::identifiers::is_at_or_under;
use super::public_suffix::is_icann_public_suffix;

/// The names whose validation could authorize `base` (the requested name without `*.`): the
/// name itself, then each parent up to, but not including, its ICANN public suffix.
/// `a.b.example.com` → `[a.b.example.com, b.example.com, example.com]`.
pub fn candidate_domains(base: &str) -> Vec<String> {
    let mut out = vec![base.to_owned()];
    let mut rest = base;
    while let Some((_, parent)) = rest.split_once('.') {
        if is_icann_public_suffix(parent) {
            break;
        }
        out.push(parent.to_owned());
        rest = parent;
    }
    out
}

/// Whether a validation of `validated` by `method` authorizes the requested `base` name (as a
/// wildcard `*.base` when `wildcard`).
///
/// - http-01 / tls-alpn-01: exactly `validated`, never a wildcard (RFC 8555 §7.1.3: wildcards
///   need dns-01).
/// - dns-01: `validated`, `*.validated`, and every name under it with its wildcard, unless
///   `validated` is a public suffix (then only exactly it).
pub fn covers(validated: &str, method: ChallengeType, base: &str, wildcard: bool) -> bool {
    match method {
        ChallengeType::Dns01 => {
            base == validated
                || (is_at_or_under(base, validated) && !is_icann_public_suffix(validated))
        }
        ChallengeType::Http01 | ChallengeType::TlsAlpn01 => base == validated && !wildcard,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_climb_to_the_registrable_domain() {
        assert_eq!(
            candidate_domains("a.b.example.com"),
            ["a.b.example.com", "b.example.com", "example.com"]
        );
        assert_eq!(
            candidate_domains("www.example.co.uk"),
            ["www.example.co.uk", "example.co.uk"]
        );
        assert_eq!(candidate_domains("example.com"), ["example.com"]);
        // An unlisted TLD is not a public suffix: its names climb to it.
        assert_eq!(
            candidate_domains("a.example.test"),
            ["a.example.test", "example.test", "test"]
        );
    }

    #[test]
    fn dns01_covers_subdomains_and_wildcards_http01_and_tls_alpn01_only_the_exact_name() {
        use ChallengeType::{Dns01, Http01, TlsAlpn01};
        let parent = "example.com";
        for (base, wildcard) in [
            ("example.com", false),
            ("example.com", true),
            ("www.example.com", false),
            ("a.b.example.com", false),
            ("b.example.com", true),
        ] {
            assert!(covers(parent, Dns01, base, wildcard), "{base} {wildcard}");
        }
        assert!(!covers(parent, Dns01, "notexample.com", false));
        assert!(!covers(parent, Dns01, "example.org", false));
        assert!(!covers("www.example.com", Dns01, "example.com", false));
        for method in [Http01, TlsAlpn01] {
            assert!(covers(parent, method, "example.com", false));
            assert!(!covers(parent, method, "example.com", true));
            assert!(!covers(parent, method, "www.example.com", false));
            assert!(!covers(parent, method, "b.example.com", true));
        }
        // A validated public suffix covers nothing under it.
        assert!(!covers("co.uk", Dns01, "example.co.uk", false));
    }
}
