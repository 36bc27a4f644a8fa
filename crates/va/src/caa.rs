//! CAA (RFC 8659, with the RFC 8657 parameters `accounturi` and
//! `validationmethods`): may this CA issue for a name?
//!
//! [`check`] finds the relevant RRset by climbing from the name towards the
//! root (RFC 8659 §3); [`evaluate`] decides on it without any I/O, so every
//! rule is unit-tested below.

use std::fmt::Write as _;

use ferrite_core::{CaaEvidence, CaaRequest};
use ferrite_proto::{Problem, ProblemType};
use futures::StreamExt as _;
use futures::stream::FuturesOrdered;

use crate::va::Inner;

/// One CAA property as served (RFC 8659 §4.1: flags, tag, value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Property {
    /// The issuer-critical flag (bit 0 of the flags, 128).
    pub(crate) critical: bool,
    /// The tag as served (matched case-insensitively).
    pub(crate) tag: String,
    /// The value's raw octets.
    pub(crate) value: Vec<u8>,
}

impl Property {
    /// Zone-file presentation form: `0 issue "ca.example; accounturi=…"`.
    pub(crate) fn presentation(&self) -> String {
        let mut value = String::new();
        for &b in &self.value {
            match b {
                b'"' | b'\\' => {
                    value.push('\\');
                    value.push(char::from(b));
                }
                0x20..=0x7e => value.push(char::from(b)),
                _ => {
                    let _ = write!(value, "\\{b:03}");
                }
            }
        }
        let flags = if self.critical { 128 } else { 0 };
        format!("{flags} {} \"{value}\"", self.tag)
    }

    fn has_tag(&self, tag: &str) -> bool {
        self.tag.eq_ignore_ascii_case(tag)
    }
}

impl From<hickory_resolver::proto::rr::rdata::CAA> for Property {
    fn from(caa: hickory_resolver::proto::rr::rdata::CAA) -> Self {
        Self {
            critical: caa.issuer_critical,
            tag: caa.tag,
            value: caa.value,
        }
    }
}

/// The tags this CA understands (RFC 8659 §4.2–§4.4). A critical property
/// with any other tag forbids issuance (§4.1).
const UNDERSTOOD_TAGS: [&str; 3] = ["issue", "issuewild", "iodef"];

/// Who is asking, in the terms CAA records use.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Policy<'a> {
    /// This CA's issuer domain names (`caa_identities`).
    pub(crate) issuer_domains: &'a [String],
    /// The certificate name is `*.{domain}`.
    pub(crate) wildcard: bool,
    /// The ACME account URL (RFC 8657 §3).
    pub(crate) account_uri: &'a str,
    /// The validation method (RFC 8657 §4), `None` when unknown.
    pub(crate) method: Option<&'a str>,
}

/// RFC 8659 §3: climbs from `request.domain` to its parents until a name
/// has a CAA RRset, then evaluates it. No RRset anywhere allows issuance; a
/// lookup failure other than NXDOMAIN or an empty answer is a `dns` problem.
pub(crate) async fn check(
    va: &Inner,
    request: &CaaRequest,
) -> Result<CaaEvidence, (Problem, CaaEvidence)> {
    let domain = request.domain.strip_prefix("*.").unwrap_or(&request.domain);
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let mut record = CaaEvidence {
        domain: domain.clone(),
        wildcard: request.wildcard,
        account_uri: request.account_uri.clone(),
        method: request.method.map(|m| m.to_string()),
        found_at: None,
        records: Vec::new(),
        mpic: None,
    };
    let found = match tokio::time::timeout(va.config.timeout, relevant_rrset(va, &domain)).await {
        Ok(Ok(found)) => found,
        Ok(Err(problem)) => return Err((problem, record)),
        Err(_) => {
            let detail = format!(
                "DNS problem: the CAA lookup for {domain} did not finish within {:?}; the CA must not issue without an answer (RFC 8659 §5.3) - check that the domain's nameservers answer CAA queries",
                va.config.timeout
            );
            return Err((Problem::new(ProblemType::Dns, detail), record));
        }
    };
    let Some((at, rrset)) = found else {
        return Ok(record);
    };
    record.found_at = Some(at.clone());
    record.records = rrset.iter().map(Property::presentation).collect();
    let method = request.method.map(|m| m.to_string());
    let policy = Policy {
        issuer_domains: &request.issuer_domains,
        wildcard: request.wildcard,
        account_uri: &request.account_uri,
        method: method.as_deref(),
    };
    match evaluate(&rrset, &at, &domain, &policy) {
        Ok(()) => Ok(record),
        Err(detail) => Err((Problem::new(ProblemType::Caa, detail), record)),
    }
}

/// The first name, from `domain` up to its top-level domain, that has CAA
/// records, with those records.
///
/// Every level is asked at once (as Boulder does) and the answers are read
/// in climbing order as they arrive, so the result is the sequential
/// climb's: the closest RRset wins, and a failure at a level decides only if
/// no closer level had records. The climb costs one round trip instead of
/// one per label; the parents are asked even when a closer name has records,
/// but their answers are not awaited once it does.
async fn relevant_rrset(
    va: &Inner,
    domain: &str,
) -> Result<Option<(String, Vec<Property>)>, Problem> {
    let labels: Vec<&str> = domain.split('.').filter(|l| !l.is_empty()).collect();
    let mut answers: FuturesOrdered<_> = (0..labels.len())
        .map(|start| {
            let name = labels[start..].join(".");
            async move {
                let answer = va.resolve.caa(&name).await;
                (name, answer)
            }
        })
        .collect();
    while let Some((name, answer)) = answers.next().await {
        let rrset = answer.map_err(|p| Problem::new(ProblemType::Dns, p.detail))?;
        match rrset {
            None => continue,
            Some(rrset) if rrset.is_empty() => {
                return Err(Problem::new(
                    ProblemType::Dns,
                    format!(
                        "DNS problem: the CAA records of {name} could not be read; the CA must not issue without understanding them (RFC 8659 §5.3) - check the records' syntax"
                    ),
                ));
            }
            Some(rrset) => {
                return Ok(Some((
                    name,
                    rrset.into_iter().map(Property::from).collect(),
                )));
            }
        }
    }
    Ok(None)
}

/// RFC 8659 §4 on the relevant RRset found at `at` for `domain`: `Ok` when
/// this CA may issue, otherwise a detail naming the record that forbids it
/// and what the domain owner can do.
pub(crate) fn evaluate(
    rrset: &[Property],
    at: &str,
    domain: &str,
    policy: &Policy<'_>,
) -> Result<(), String> {
    // RFC 8659 §4.1: "If the Issuer Critical Flag is set, an issuer MUST NOT
    // issue certificates for a domain if the Relevant RRset for that domain
    // contains a CAA critical Property for an unknown or unsupported
    // Property Tag."
    if let Some(p) = rrset
        .iter()
        .find(|p| p.critical && !UNDERSTOOD_TAGS.iter().any(|t| p.has_tag(t)))
    {
        return Err(format!(
            "CAA record {} at {at} marks the tag {:?} critical, and this CA does not understand it, so it must not issue for {domain} (RFC 8659 §4.1); remove that record or clear its critical flag",
            p.presentation(),
            p.tag
        ));
    }
    // RFC 8659 §4.3: "issuewild properties MUST be ignored when processing
    // a request for a Domain Name that is not a Wildcard Domain Name", and
    // for a wildcard, "If at least one issuewild Property is specified in
    // the Relevant RRset for a Wildcard Domain Name, each issue Property MUST
    // be ignored".
    let issuewild: Vec<&Property> = rrset.iter().filter(|p| p.has_tag("issuewild")).collect();
    let (tag, relevant): (&str, Vec<&Property>) = if policy.wildcard && !issuewild.is_empty() {
        ("issuewild", issuewild)
    } else {
        (
            "issue",
            rrset.iter().filter(|p| p.has_tag("issue")).collect(),
        )
    };
    // RFC 8659 §4.2: no property restricting issuance means any CA may.
    if relevant.is_empty() {
        return Ok(());
    }
    let name = if policy.wildcard {
        format!("*.{domain}")
    } else {
        domain.to_owned()
    };
    let mut closest: Option<String> = None;
    for p in &relevant {
        let Some(value) = IssueValue::parse(&p.value) else {
            continue;
        };
        let Some(issuer) = value.issuer else {
            continue;
        };
        if !policy
            .issuer_domains
            .iter()
            .any(|d| d.trim_end_matches('.').eq_ignore_ascii_case(issuer))
        {
            continue;
        }
        match value.check_parameters(policy) {
            Ok(()) => return Ok(()),
            Err(why) => {
                closest.get_or_insert_with(|| {
                    format!(
                        "CAA record {} at {at} names this CA but {why}, so it does not allow issuance for {name} (RFC 8657)",
                        p.presentation()
                    )
                });
            }
        }
    }
    if let Some(detail) = closest {
        return Err(detail);
    }
    let shown: Vec<String> = relevant.iter().take(5).map(|p| p.presentation()).collect();
    let shown = shown.join(", ");
    let forbid_all = relevant
        .iter()
        .all(|p| IssueValue::parse(&p.value).is_some_and(|v| v.issuer.is_none()));
    if forbid_all {
        return Err(format!(
            "CAA record {shown} at {at} forbids every CA to issue for {name} (RFC 8659 §4.2); replace it with {tag} records naming the CAs you use"
        ));
    }
    match policy.issuer_domains.first() {
        Some(ours) => Err(format!(
            "CAA {tag} records at {at} do not authorize this CA ({}) to issue for {name}: {shown}; add the record `{at}. CAA 0 {tag} \"{ours}\"` if you want this CA to issue",
            policy.issuer_domains.join(", ")
        )),
        None => Err(format!(
            "CAA {tag} records at {at} restrict issuance for {name} to other CAs: {shown}; this CA has no CAA identity configured (caa_identities), so only names without such records can be issued - ask the CA operator"
        )),
    }
}

/// An `issue` / `issuewild` value (RFC 8659 §4.2):
/// `[issuer-domain-name] [";" [parameter *(";" parameter)]]`.
#[derive(Debug, PartialEq, Eq)]
struct IssueValue<'a> {
    /// `None` for an empty issuer (`";"`): no CA may issue.
    issuer: Option<&'a str>,
    /// `(tag, value)` in record order, tags lower-cased by comparison only.
    parameters: Vec<(&'a str, &'a str)>,
}

impl<'a> IssueValue<'a> {
    /// `None` when the value does not follow the grammar: such a record
    /// authorizes no CA (failing closed, as Boulder does).
    fn parse(raw: &'a [u8]) -> Option<Self> {
        let text = std::str::from_utf8(raw).ok()?;
        let is_wsp = |c: char| c == ' ' || c == '\t';
        let (issuer, rest) = match text.split_once(';') {
            Some((issuer, rest)) => (issuer, Some(rest)),
            None => (text, None),
        };
        let issuer = issuer.trim_matches(is_wsp);
        let issuer = if issuer.is_empty() {
            None
        } else {
            is_issuer_domain_name(issuer).then_some(issuer)?;
            Some(issuer)
        };
        let mut parameters = Vec::new();
        for parameter in rest.into_iter().flat_map(|r| r.split(';')) {
            let parameter = parameter.trim_matches(is_wsp);
            if parameter.is_empty() {
                continue;
            }
            let (tag, value) = parameter.split_once('=')?;
            let (tag, value) = (tag.trim_matches(is_wsp), value.trim_matches(is_wsp));
            if !is_label(tag)
                || !value
                    .bytes()
                    .all(|b| matches!(b, 0x21..=0x3a | 0x3c..=0x7e))
            {
                return None;
            }
            parameters.push((tag, value));
        }
        Some(Self { issuer, parameters })
    }

    fn values(&self, tag: &str) -> Vec<&'a str> {
        self.parameters
            .iter()
            .filter(|(t, _)| t.eq_ignore_ascii_case(tag))
            .map(|(_, v)| *v)
            .collect()
    }

    /// RFC 8657 on a record that names this CA. Parameters this CA does
    /// not know are ignored (RFC 8659 §4.2): they restrict nothing here.
    fn check_parameters(&self, policy: &Policy<'_>) -> Result<(), String> {
        // RFC 8657 §3: a record with an accounturi parameter authorizes
        // only the ACME account with exactly that URI.
        match self.values("accounturi").as_slice() {
            [] => {}
            [uri] if *uri == policy.account_uri => {}
            [uri] => {
                return Err(format!(
                    "only for the ACME account {uri} (this order's account is {}); add a record with this account's URL or remove the accounturi parameter",
                    policy.account_uri
                ));
            }
            _ => {
                return Err(
                    "it carries more than one accounturi parameter, which this CA treats as matching no account; keep one per record".to_owned(),
                );
            }
        }
        // RFC 8657 §4: a record with a validationmethods parameter
        // authorizes only validations by one of the listed methods.
        match self.values("validationmethods").as_slice() {
            [] => Ok(()),
            [methods] => {
                let allowed = methods.split(',').map(str::trim);
                match policy.method {
                    Some(m) if allowed.clone().any(|a| a == m) => Ok(()),
                    Some(m) => Err(format!(
                        "only through the validation methods {methods} (this authorization was validated with {m}); validate with one of those methods or add {m} to validationmethods"
                    )),
                    None => Err(format!(
                        "only through the validation methods {methods}, and the method this authorization was validated with is not known; validate the name again"
                    )),
                }
            }
            _ => Err(
                "it carries more than one validationmethods parameter; keep one per record"
                    .to_owned(),
            ),
        }
    }
}

/// RFC 8659 §4.2 `issuer-domain-name`: `label *("." label)`, what a CAA `issue` value names
/// and what the operator lists in `validation.caa_identities`.
pub fn is_issuer_domain_name(s: &str) -> bool {
    s.split('.').all(is_label)
}

/// RFC 8659 §4.2: `(ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT))`, also the
/// grammar of a parameter tag.
fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "https://ca.test/acme/acct/1";

    fn prop(flags: u8, tag: &str, value: &str) -> Property {
        Property {
            critical: flags & 128 != 0,
            tag: tag.to_owned(),
            value: value.as_bytes().to_vec(),
        }
    }

    fn identities() -> Vec<String> {
        vec!["ferrite.test".to_owned(), "alt.ferrite.test".to_owned()]
    }

    fn eval(rrset: &[Property], wildcard: bool, method: Option<&str>) -> Result<(), String> {
        let ids = identities();
        evaluate(
            rrset,
            "example.com",
            "example.com",
            &Policy {
                issuer_domains: &ids,
                wildcard,
                account_uri: ACCOUNT,
                method,
            },
        )
    }

    fn allowed(rrset: &[Property]) -> bool {
        eval(rrset, false, Some("http-01")).is_ok()
    }

    #[test]
    fn issue_naming_this_ca_allows_and_others_forbid() {
        assert!(allowed(&[prop(0, "issue", "ferrite.test")]));
        assert!(allowed(&[prop(0, "ISSUE", " Ferrite.Test ")]));
        assert!(allowed(&[prop(0, "issue", "alt.ferrite.test;")]));
        assert!(allowed(&[
            prop(0, "issue", "other.ca"),
            prop(0, "issue", "ferrite.test")
        ]));
        let err = eval(&[prop(0, "issue", "other.ca")], false, None).unwrap_err();
        assert!(err.contains("0 issue \"other.ca\""), "{err}");
        assert!(err.contains("at example.com"), "{err}");
        assert!(err.contains("CAA 0 issue \"ferrite.test\""), "{err}");
    }

    #[test]
    fn empty_issuer_forbids_every_ca() {
        let err = eval(&[prop(0, "issue", ";")], false, None).unwrap_err();
        assert!(err.contains("forbids every CA"), "{err}");
        assert!(err.contains("0 issue \";\""), "{err}");
        assert!(!allowed(&[prop(0, "issue", "")]));
    }

    #[test]
    fn records_without_issue_tags_allow() {
        assert!(allowed(&[]));
        assert!(allowed(&[prop(0, "iodef", "mailto:sec@example.com")]));
        // issuewild does not apply to a non-wildcard name.
        assert!(allowed(&[prop(0, "issuewild", ";")]));
        // Unknown tags without the critical flag are ignored.
        assert!(allowed(&[prop(0, "tbs", "whatever")]));
    }

    #[test]
    fn unknown_critical_tag_forbids() {
        let err = eval(
            &[prop(0, "issue", "ferrite.test"), prop(128, "tbs", "x")],
            false,
            None,
        )
        .unwrap_err();
        assert!(
            err.contains("128 tbs \"x\"") && err.contains("critical"),
            "{err}"
        );
        // Known tags may be critical.
        assert!(allowed(&[
            prop(128, "issue", "ferrite.test"),
            prop(128, "iodef", "mailto:a@example.com")
        ]));
    }

    #[test]
    fn wildcards_use_issuewild_then_issue() {
        let wild = |rrset: &[Property]| eval(rrset, true, Some("dns-01"));
        // issuewild present: issue ignored.
        assert!(wild(&[prop(0, "issue", ";"), prop(0, "issuewild", "ferrite.test")]).is_ok());
        let err = wild(&[prop(0, "issue", "ferrite.test"), prop(0, "issuewild", ";")]).unwrap_err();
        assert!(
            err.contains("issuewild") && err.contains("*.example.com"),
            "{err}"
        );
        // No issuewild: fall back to issue.
        assert!(wild(&[prop(0, "issue", "ferrite.test")]).is_ok());
        assert!(wild(&[prop(0, "issue", "other.ca")]).is_err());
    }

    #[test]
    fn accounturi_must_equal_the_account_url() {
        let ok = format!("ferrite.test; accounturi={ACCOUNT}");
        assert!(allowed(&[prop(0, "issue", &ok)]));
        let other = "ferrite.test; accounturi=https://ca.test/acme/acct/2";
        let err = eval(&[prop(0, "issue", other)], false, Some("http-01")).unwrap_err();
        assert!(err.contains("acct/2") && err.contains(ACCOUNT), "{err}");
        // A matching record elsewhere in the set still allows.
        assert!(allowed(&[prop(0, "issue", other), prop(0, "issue", &ok)]));
        let twice = format!("ferrite.test; accounturi={ACCOUNT}; accounturi={ACCOUNT}");
        assert!(!allowed(&[prop(0, "issue", &twice)]));
    }

    #[test]
    fn validationmethods_must_include_the_method_used() {
        let rr = [prop(
            0,
            "issue",
            "ferrite.test; validationmethods=dns-01,tls-alpn-01",
        )];
        assert!(eval(&rr, false, Some("dns-01")).is_ok());
        assert!(eval(&rr, false, Some("tls-alpn-01")).is_ok());
        let err = eval(&rr, false, Some("http-01")).unwrap_err();
        assert!(
            err.contains("dns-01,tls-alpn-01") && err.contains("http-01"),
            "{err}"
        );
        assert!(eval(&rr, false, None).is_err());
    }

    #[test]
    fn unknown_parameters_are_ignored() {
        assert!(allowed(&[prop(
            0,
            "issue",
            "ferrite.test; policy=ev; x-future=1"
        )]));
    }

    #[test]
    fn malformed_values_authorize_nobody() {
        for bad in [
            "ferrite.test; accounturi",
            "ferrite.test; bad tag=1",
            "ferrite.test; a=b c",
            "-ferrite.test",
            "ferrite..test",
        ] {
            assert!(!allowed(&[prop(0, "issue", bad)]), "{bad}");
        }
        assert!(
            !allowed(&[Property {
                critical: false,
                tag: "issue".into(),
                value: vec![0xff, b'a'],
            }]),
            "non-UTF-8"
        );
    }

    #[test]
    fn no_identities_configured_forbids_any_issue_record() {
        let err = evaluate(
            &[prop(0, "issue", "ferrite.test")],
            "example.com",
            "www.example.com",
            &Policy {
                issuer_domains: &[],
                wildcard: false,
                account_uri: ACCOUNT,
                method: Some("http-01"),
            },
        )
        .unwrap_err();
        assert!(err.contains("caa_identities"), "{err}");
    }

    #[test]
    fn issue_values_parse_per_rfc8659() {
        let v = IssueValue::parse(b"ca.example ; a=1;b = x=y ;").unwrap();
        assert_eq!(v.issuer, Some("ca.example"));
        assert_eq!(v.parameters, vec![("a", "1"), ("b", "x=y")]);
        assert_eq!(IssueValue::parse(b" ; ").unwrap().issuer, None);
    }

    #[test]
    fn presentation_escapes_quotes() {
        let p = prop(128, "issue", "a\"b\\");
        assert_eq!(p.presentation(), "128 issue \"a\\\"b\\\\\"");
    }
}
