//! newOrder's rules, called on the engine directly (RFC 8555 §7.4, §6.7.1): identifier syntax,
//! wildcard placement, the identifier policy (public-suffix wildcards, the IP reverse zones,
//! the operator's blocklist), unsupported identifier types with their subproblems, the limit
//! on identifiers, normalisation of case and duplicates, and the requested validity.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Engine, assert_problem, bounded, refused};
use ferrite_core::CaConfig;
use ferrite_core::policy::IdentifierPolicy;
use ferrite_proto::requests::NewOrder;
use ferrite_proto::{ChallengeType, Identifier, IdentifierType, ProblemType};
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

fn dns(value: &str) -> Identifier {
    Identifier::dns(value)
}

fn typed(kind: &str, value: &str) -> Identifier {
    Identifier {
        kind: IdentifierType::parse(kind),
        value: value.to_owned(),
    }
}

/// What newOrder answers to a case's identifiers.
enum Want {
    /// An order for these identifiers (normalised, in order), one authorization each.
    Order(&'static [&'static str]),
    /// A refusal of `kind` whose detail contains `detail`, with one subproblem per refused
    /// identifier: its type and the identifier's value.
    Refused {
        kind: ProblemType,
        detail: &'static str,
        subproblems: &'static [(ProblemType, &'static str)],
    },
}

const REJECTED: ProblemType = ProblemType::RejectedIdentifier;
const UNSUPPORTED: ProblemType = ProblemType::UnsupportedIdentifier;

#[tokio::test]
async fn identifiers_are_checked() {
    bounded(async {
        let engine = Engine::start_with(CaConfig {
            identifier_policy: IdentifierPolicy::new(&["blocked.example"]),
            ..CaConfig::default()
        })
        .await;
        let client = engine.account().await;
        let too_long = format!("{}.example.com", vec!["a".repeat(60); 4].join("."));
        let too_many: Vec<Identifier> = (0..101)
            .map(|i| dns(&format!("n{i}.example.com")))
            .collect();

        let cases: Vec<(&str, Vec<Identifier>, Want)> = vec![
            // Syntax (checked after lower-casing).
            (
                "underscore",
                vec![dns("under_score.example.com")],
                Want::Refused {
                    kind: REJECTED,
                    detail: "not a valid DNS name",
                    subproblems: &[(REJECTED, "under_score.example.com")],
                },
            ),
            (
                "single label",
                vec![dns("com")],
                Want::Refused {
                    kind: REJECTED,
                    detail: "not a fully qualified domain name",
                    subproblems: &[(REJECTED, "com")],
                },
            ),
            (
                "all-digit top-level label",
                vec![dns("192.0.2.1")],
                Want::Refused {
                    kind: REJECTED,
                    detail: "not a fully qualified domain name",
                    subproblems: &[(REJECTED, "192.0.2.1")],
                },
            ),
            (
                "empty label",
                vec![dns("a..example.com")],
                Want::Refused {
                    kind: REJECTED,
                    detail: "empty label",
                    subproblems: &[(REJECTED, "a..example.com")],
                },
            ),
            (
                "leading hyphen",
                vec![dns("-a.example.com")],
                Want::Refused {
                    kind: REJECTED,
                    detail: "hyphen",
                    subproblems: &[(REJECTED, "-a.example.com")],
                },
            ),
            (
                "trailing dot",
                vec![dns("example.com.")],
                Want::Refused {
                    kind: REJECTED,
                    detail: "without the trailing dot",
                    subproblems: &[(REJECTED, "example.com.")],
                },
            ),
            (
                "longer than 253 characters",
                vec![dns(&too_long)],
                Want::Refused {
                    kind: REJECTED,
                    detail: "longer than 253",
                    subproblems: &[(REJECTED, "")],
                },
            ),
            // Wildcard placement.
            (
                "two wildcard labels",
                vec![dns("*.*.example.com")],
                Want::Refused {
                    kind: REJECTED,
                    detail: "only allowed as the whole leftmost label",
                    subproblems: &[(REJECTED, "*.*.example.com")],
                },
            ),
            (
                "wildcard in the middle",
                vec![dns("a.*.example.com")],
                Want::Refused {
                    kind: REJECTED,
                    detail: "only allowed as the whole leftmost label",
                    subproblems: &[(REJECTED, "a.*.example.com")],
                },
            ),
            (
                "wildcard inside a label",
                vec![dns("*a.example.com")],
                Want::Refused {
                    kind: REJECTED,
                    detail: "only allowed as the whole leftmost label",
                    subproblems: &[(REJECTED, "*a.example.com")],
                },
            ),
            // The identifier policy.
            (
                // Its base is a single label, so not a valid name either; the public-suffix
                // rule says what to order instead.
                "wildcard of a top-level domain",
                vec![dns("*.com")],
                Want::Refused {
                    kind: REJECTED,
                    detail: "a wildcard directly under the public suffix \"com\"",
                    subproblems: &[(REJECTED, "*.com")],
                },
            ),
            (
                "wildcard directly under a two-label public suffix",
                vec![dns("*.co.uk")],
                Want::Refused {
                    kind: REJECTED,
                    detail: "public suffix",
                    subproblems: &[(REJECTED, "*.co.uk")],
                },
            ),
            (
                "wildcard under a registered domain",
                vec![dns("*.example.co.uk")],
                Want::Order(&["*.example.co.uk"]),
            ),
            (
                "wildcard under a private-section suffix",
                vec![dns("*.github.io")],
                Want::Order(&["*.github.io"]),
            ),
            (
                "IPv4 reverse zone",
                vec![dns("4.3.2.1.in-addr.arpa")],
                Want::Refused {
                    kind: REJECTED,
                    detail: "reverse-mapping zone in-addr.arpa",
                    subproblems: &[(REJECTED, "4.3.2.1.in-addr.arpa")],
                },
            ),
            (
                "IPv6 reverse zone",
                vec![dns("1.0.0.0.ip6.arpa")],
                Want::Refused {
                    kind: REJECTED,
                    detail: "reverse-mapping zone ip6.arpa",
                    subproblems: &[(REJECTED, "1.0.0.0.ip6.arpa")],
                },
            ),
            (
                "a name under a blocked domain",
                vec![dns("www.blocked.example")],
                Want::Refused {
                    kind: REJECTED,
                    detail: "policy.blocked_domains",
                    subproblems: &[(REJECTED, "www.blocked.example")],
                },
            ),
            (
                "a wildcard of a blocked domain",
                vec![dns("*.blocked.example")],
                Want::Refused {
                    kind: REJECTED,
                    detail: "policy.blocked_domains",
                    subproblems: &[(REJECTED, "*.blocked.example")],
                },
            ),
            (
                "a name merely resembling a blocked domain",
                vec![dns("notblocked.example")],
                Want::Order(&["notblocked.example"]),
            ),
            (
                "several policy refusals",
                vec![
                    dns("*.com"),
                    dns("4.3.2.1.in-addr.arpa"),
                    dns("blocked.example"),
                    dns("ok.example.com"),
                ],
                Want::Refused {
                    kind: REJECTED,
                    detail: "3 identifiers were refused",
                    subproblems: &[
                        (REJECTED, "*.com"),
                        (REJECTED, "4.3.2.1.in-addr.arpa"),
                        (REJECTED, "blocked.example"),
                    ],
                },
            ),
            // Identifier types.
            (
                "ip identifier",
                vec![typed("ip", "192.0.2.1")],
                Want::Refused {
                    kind: UNSUPPORTED,
                    detail: "dns identifiers only",
                    subproblems: &[(UNSUPPORTED, "192.0.2.1")],
                },
            ),
            (
                "email identifier",
                vec![typed("email", "a@example.com")],
                Want::Refused {
                    kind: UNSUPPORTED,
                    detail: "RFC 8738",
                    subproblems: &[(UNSUPPORTED, "a@example.com")],
                },
            ),
            (
                "two unsupported identifiers",
                vec![typed("ip", "192.0.2.1"), typed("email", "a@example.com")],
                Want::Refused {
                    kind: UNSUPPORTED,
                    detail: "2 identifiers are of types this CA does not issue for",
                    subproblems: &[(UNSUPPORTED, "192.0.2.1"), (UNSUPPORTED, "a@example.com")],
                },
            ),
            (
                "refused for different reasons",
                vec![
                    dns("ok.example.com"),
                    dns("bad_one.example.com"),
                    typed("ip", "192.0.2.1"),
                ],
                Want::Refused {
                    kind: ProblemType::Compound,
                    detail: "2 identifiers were refused",
                    subproblems: &[
                        (REJECTED, "bad_one.example.com"),
                        (UNSUPPORTED, "192.0.2.1"),
                    ],
                },
            ),
            // Counting and normalising.
            (
                "no identifiers",
                vec![],
                Want::Refused {
                    kind: ProblemType::Malformed,
                    detail: "no identifiers",
                    subproblems: &[],
                },
            ),
            (
                "more than 100 identifiers",
                too_many,
                Want::Refused {
                    kind: REJECTED,
                    detail: "the order has 101 identifiers; at most 100",
                    subproblems: &[],
                },
            ),
            (
                "upper case is lowered",
                vec![dns("WWW.Example.COM")],
                Want::Order(&["www.example.com"]),
            ),
            (
                "duplicates after lowering are merged",
                vec![
                    dns("Mixed.Example.com"),
                    dns("mixed.example.com"),
                    dns("other.example.com"),
                    dns("MIXED.example.com"),
                ],
                Want::Order(&["mixed.example.com", "other.example.com"]),
            ),
            (
                "a wildcard and its base are two identifiers",
                vec![dns("*.w.example.com"), dns("w.example.com")],
                Want::Order(&["*.w.example.com", "w.example.com"]),
            ),
        ];

        for (case, identifiers, want) in cases {
            let request = NewOrder {
                identifiers: identifiers.clone(),
                not_before: None,
                not_after: None,
                profile: None,
                replaces: None,
            };
            let result = engine.ca.new_order(&client.account, request).await;
            match want {
                Want::Order(names) => {
                    let view =
                        result.unwrap_or_else(|e| panic!("{case}: refused: {}", e.to_problem()));
                    let got: Vec<&str> = view
                        .order
                        .identifiers
                        .iter()
                        .map(|i| i.value.as_str())
                        .collect();
                    assert_eq!(got, names, "{case}");
                    assert_eq!(view.authorizations.len(), names.len(), "{case}");
                    for (authz, name) in view.authorizations.iter().zip(names) {
                        // RFC 8555 §7.1.3: the authorization names the base domain; a wildcard
                        // is validated by dns-01 only.
                        assert_eq!(
                            authz.identifier.value,
                            name.trim_start_matches("*."),
                            "{case}"
                        );
                        assert_eq!(authz.wildcard, name.starts_with("*."), "{case}");
                        let kinds: Vec<ChallengeType> =
                            authz.challenges.iter().map(|c| c.kind).collect();
                        if authz.wildcard {
                            assert_eq!(kinds, [ChallengeType::Dns01], "{case}");
                        } else {
                            assert_eq!(kinds.len(), 3, "{case}: {kinds:?}");
                        }
                    }
                }
                Want::Refused {
                    kind,
                    detail,
                    subproblems,
                } => {
                    let p = refused(case, result);
                    assert_problem(case, &p, kind, Some(detail));
                    assert_eq!(p.http_status(), 400, "{case}");
                    let got: Vec<(ProblemType, &str)> = p
                        .subproblems
                        .iter()
                        .map(|s| (s.kind, s.identifier.as_ref().map_or("", |i| &i.value)))
                        .collect();
                    let want: Vec<(ProblemType, &str)> = subproblems
                        .iter()
                        .zip(&identifiers)
                        .map(|(&(kind, value), sent)| {
                            // The one over-long name is too long to write out in the table.
                            (kind, if value.is_empty() { &sent.value } else { value })
                        })
                        .collect();
                    assert_eq!(got, want, "{case}: {p}");
                    // Each subproblem names the identifier as sent, type included (§6.7.1).
                    for sub in &p.subproblems {
                        let named = sub.identifier.as_ref().unwrap();
                        assert!(identifiers.contains(named), "{case}: {named:?}");
                    }
                    // One refused identifier: the top level names it too.
                    if let [only] = p.subproblems.as_slice() {
                        assert_eq!(p.identifier, only.identifier, "{case}");
                    } else {
                        assert_eq!(p.identifier, None, "{case}");
                    }
                }
            }
        }
    })
    .await;
}

/// A date under the 100-day rule of the Baseline Requirements (§6.3.2), far from its steps.
const MID_2027: OffsetDateTime = datetime!(2027-06-01 12:00 UTC);

/// A requested notBefore or notAfter as sent, if any.
type Timestamp = Option<String>;

#[tokio::test]
async fn requested_validity_is_checked() {
    bounded(async {
        // The default 90-day validity is the maximum here (the BR allow 100 days).
        let engine = Engine::start_at(CaConfig::default(), MID_2027).await;
        let client = engine.account().await;
        let now = MID_2027;
        let at = |t: OffsetDateTime| Some(t.format(&Rfc3339).unwrap());
        let text = |s: &str| Some(s.to_owned());
        let hours = Duration::hours;
        let days = Duration::days;

        // (case, notBefore, notAfter, None if accepted or the malformed detail's fragment)
        let cases: Vec<(&str, Timestamp, Timestamp, Option<&str>)> = vec![
            (
                "notBefore not a timestamp",
                text("yesterday"),
                None,
                Some("notBefore \"yesterday\" is not an RFC 3339 timestamp"),
            ),
            (
                "notAfter not a timestamp",
                None,
                text("2026-13-45T00:00:00Z"),
                Some("notAfter \"2026-13-45T00:00:00Z\" is not an RFC 3339 timestamp"),
            ),
            (
                "notBefore more than seven days ahead",
                at(now + days(7) + Duration::seconds(1)),
                None,
                Some("between one hour ago and seven days from now"),
            ),
            (
                "notBefore more than an hour back",
                at(now - hours(1) - Duration::seconds(1)),
                None,
                Some("between one hour ago and seven days from now"),
            ),
            ("notBefore an hour back", at(now - hours(1)), None, None),
            ("notBefore seven days ahead", at(now + days(7)), None, None),
            (
                "notAfter before notBefore",
                at(now + days(5)),
                at(now + hours(2)),
                Some("later than notBefore"),
            ),
            (
                "notAfter now",
                None,
                at(now),
                Some("later than notBefore (or now)"),
            ),
            (
                "notAfter one second past the maximum",
                None,
                at(now + days(90)),
                Some("maximum of 90 days (the Baseline Requirements allow 100 days"),
            ),
            (
                "notAfter far past the maximum",
                None,
                at(now + days(400)),
                Some("maximum of 90 days"),
            ),
            (
                "notAfter exactly the maximum, both ends counted",
                None,
                at(now + days(90) - Duration::seconds(1)),
                None,
            ),
            (
                "the maximum counted from a later notBefore",
                at(now + days(2)),
                at(now + days(92) - Duration::seconds(1)),
                None,
            ),
            (
                "one second more from a later notBefore",
                at(now + days(2)),
                at(now + days(92)),
                Some("maximum of 90 days"),
            ),
        ];
        for (case, not_before, not_after, want) in cases {
            let request = NewOrder {
                identifiers: vec![dns("v.example.com")],
                not_before: not_before.clone(),
                not_after: not_after.clone(),
                profile: None,
                replaces: None,
            };
            let result = engine.ca.new_order(&client.account, request).await;
            match want {
                None => {
                    let view =
                        result.unwrap_or_else(|e| panic!("{case}: refused: {}", e.to_problem()));
                    // The order keeps what was asked for.
                    let parse = |t: &Option<String>| {
                        t.as_deref()
                            .map(|t| OffsetDateTime::parse(t, &Rfc3339).unwrap())
                    };
                    assert_eq!(view.order.not_before, parse(&not_before), "{case}");
                    assert_eq!(view.order.not_after, parse(&not_after), "{case}");
                }
                Some(detail) => {
                    let p = refused(case, result);
                    assert_problem(case, &p, ProblemType::Malformed, Some(detail));
                }
            }
        }
    })
    .await;
}
