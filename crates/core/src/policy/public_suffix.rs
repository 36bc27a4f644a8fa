//! The ICANN section of the public suffix list (<https://publicsuffix.org>), compiled into the
//! `psl` crate. The private section (e.g. `github.io`) is deliberately ignored: the Baseline
//! Requirements speak of registry-controlled names, which is the ICANN section.

/// Whether `name` (lower case, no trailing dot, no `*.`) is itself a public suffix listed in the
/// ICANN section, such as `com`, `co.uk` or `kawasaki.jp`'s children. Unlisted top-level labels
/// (`test`, `internal`) are not: the list's default rule is not a listing.
pub fn is_icann_public_suffix(name: &str) -> bool {
    match psl::suffix(name.as_bytes()) {
        Some(suffix) => {
            suffix.typ() == Some(psl::Type::Icann) && suffix.trim().as_bytes() == name.as_bytes()
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icann_suffixes_are_recognized_and_registrable_names_are_not() {
        for s in ["com", "co.uk", "org", "ac.jp", "arpa"] {
            assert!(is_icann_public_suffix(s), "{s}");
        }
        for s in [
            "example.com",
            "example.co.uk",
            "test",
            "example.test",
            // Private section: a suffix for cookies, not for certificate policy.
            "github.io",
            "www.example.com",
        ] {
            assert!(!is_icann_public_suffix(s), "{s}");
        }
    }
}
