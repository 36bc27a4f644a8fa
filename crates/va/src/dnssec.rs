//! DNSSEC: the trust anchor lookups are validated to ([`TrustAnchor`]), and
//! the explanation of a bogus answer.
//!
//! A trust anchor is DNSKEY records (used as they are) or DS records (RFC
//! 4034 §5: a digest of the key). hickory only takes keys, so a DS anchor is
//! turned into the keys it names on the first lookup: the DNSKEY RRset of
//! the DS owner is fetched (DO+CD, unvalidated: the digest authenticates it)
//! and every key whose digest matches becomes an anchor ([`resolve_ds`]).
//!
//! The validation itself is hickory-resolver's (`dnssec-aws-lc-rs`): every
//! answer must chain, RRSIG by RRSIG and DS by DS, to a key of the trust
//! anchor (RFC 4035 §5), or be proven to lie in an unsigned zone (a signed
//! NSEC/NSEC3 proving that a delegation has no DS, RFC 4035 §5.2). hickory
//! reports a bogus answer without saying why, so [`explain_bogus`] asks the
//! resolver again, with the DO bit and without validation, and looks at the
//! signatures itself: the customer is told whether the RRSIG is missing,
//! expired, not yet valid, made by a key the zone does not publish, or
//! wrong.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hickory_resolver::proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS, RRSIG};
use hickory_resolver::proto::dnssec::{Algorithm, DigestType, TrustAnchors, Verifier};
use hickory_resolver::proto::op::{Edns, Message, Query};
use hickory_resolver::proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::error::VaError;

/// The keys that DNSSEC answers must chain to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrustAnchor {
    /// The IANA root zone key-signing keys built into hickory (KSK-2017, key
    /// tag 20326, and KSK-2024, key tag 38696). What a public CA uses.
    #[default]
    IanaRoot,
    /// A file of DNSKEY and/or DS records in zone-file form, one a line
    /// (`. 172800 IN DNSKEY 257 3 8 AwEAA…`, `. 172800 IN DS 38696 8 2
    /// 683D…`); read when the VA is built.
    File(PathBuf),
    /// DNSKEY and/or DS records in zone-file form, as a
    /// [`TrustAnchor::File`] holds them. Tests use this for the key of their
    /// own signed zone.
    Records(String),
}

/// A trust anchor, parsed: keys ready to use, and DS records still to be
/// matched against the keys their owner serves.
pub(crate) struct Anchors {
    pub(crate) keys: TrustAnchors,
    pub(crate) ds: Vec<(Name, DS)>,
}

impl TrustAnchor {
    /// The records, parsed. Fails with the file and what is wrong with it.
    pub(crate) fn load(&self) -> Result<Anchors, VaError> {
        let (source, text) = match self {
            Self::IanaRoot => {
                return Ok(Anchors {
                    keys: TrustAnchors::default(),
                    ds: Vec::new(),
                });
            }
            Self::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|err| VaError::TrustAnchor {
                    anchor: path.display().to_string(),
                    reason: err.to_string(),
                })?;
                (path.display().to_string(), text)
            }
            Self::Records(text) => ("the configured records".to_owned(), text.clone()),
        };
        // DS lines are ours to parse; the rest goes to hickory's DNSKEY parser.
        let mut ds = Vec::new();
        let mut dnskey_lines = String::new();
        for (n, line) in text.lines().enumerate() {
            let data = line.split(';').next().unwrap_or("");
            match parse_ds(data) {
                Some(Ok(record)) => ds.push(record),
                Some(Err(reason)) => {
                    return Err(VaError::TrustAnchor {
                        anchor: source,
                        reason: format!("line {}: {reason}", n + 1),
                    });
                }
                None => {
                    dnskey_lines.push_str(data);
                    dnskey_lines.push('\n');
                }
            }
        }
        let keys = TrustAnchors::from_str(&dnskey_lines).map_err(|err| VaError::TrustAnchor {
            anchor: source.clone(),
            reason: err.to_string(),
        })?;
        // TrustAnchors::len counts only keys of the root; an anchor for a
        // lower zone is valid too, so look for DNSKEY lines instead.
        if ds.is_empty() && keys.is_empty() && !dnskey_lines.contains("DNSKEY") {
            return Err(VaError::TrustAnchor {
                anchor: source,
                reason: "it holds no DNSKEY or DS record".to_owned(),
            });
        }
        Ok(Anchors { keys, ds })
    }
}

/// One DS record in zone-file form (`owner [ttl] [class] DS key-tag
/// algorithm digest-type hex-digest`, RFC 4034 §5.3): `None` when the line
/// is not a DS record.
fn parse_ds(line: &str) -> Option<Result<(Name, DS), String>> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = (1..words.len().min(4)).find(|&i| words[i].eq_ignore_ascii_case("DS"))?;
    Some((|| {
        let owner = words[0];
        let owner = Name::from_ascii(if owner.ends_with('.') {
            owner.to_owned()
        } else {
            format!("{owner}.")
        })
        .map_err(|err| format!("owner {owner:?}: {err}"))?;
        let field = |i: usize, what: &str| {
            words
                .get(at + i)
                .copied()
                .ok_or_else(|| format!("DS record without its {what}"))
        };
        let key_tag: u16 = field(1, "key tag")?
            .parse()
            .map_err(|_| "DS key tag is not a number 0-65535".to_owned())?;
        let algorithm: u8 = field(2, "algorithm")?
            .parse()
            .map_err(|_| "DS algorithm is not a number 0-255".to_owned())?;
        let digest_type: u8 = field(3, "digest type")?
            .parse()
            .map_err(|_| "DS digest type is not a number 0-255".to_owned())?;
        field(4, "digest")?;
        let digest = hex(&words[at + 4..].concat())
            .ok_or_else(|| "DS digest is not hexadecimal".to_owned())?;
        Ok((
            owner,
            DS::new(
                key_tag,
                Algorithm::from_u8(algorithm),
                DigestType::from(digest_type),
                digest,
            ),
        ))
    })())
}

fn hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// RFC 4034 §5: the keys the DS anchors name, fetched from `server`. Every
/// DNSKEY of a DS owner whose digest matches one of its DS records becomes a
/// trust anchor of that owner. Fails (a sentence for a `dns` problem) when a
/// DS owner serves no matching key.
pub(crate) async fn resolve_ds(
    server: Option<SocketAddr>,
    mut keys: TrustAnchors,
    ds: &[(Name, DS)],
    timeout: Duration,
) -> Result<TrustAnchors, String> {
    let mut owners: Vec<&Name> = ds.iter().map(|(owner, _)| owner).collect();
    owners.sort();
    owners.dedup();
    for owner in owners {
        let served = match server {
            Some(server) => query_with_do(server, owner, RecordType::DNSKEY, timeout).await,
            None => None,
        }
        .ok_or_else(|| {
            format!("cannot fetch the DNSKEY records of {owner} that the DS trust anchor names")
        })?;
        let mut matched = false;
        for key in served.answers.iter().filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::DNSKEY(key)) if r.name == *owner => Some(key),
            _ => None,
        }) {
            let covered = ds
                .iter()
                .filter(|(name, _)| name == owner)
                .any(|(_, ds)| ds.covers(owner, key).unwrap_or(false));
            if covered {
                keys.insert_with_name(key.public_key(), owner.clone().into());
                matched = true;
            }
        }
        if !matched {
            return Err(format!(
                "the DNSSEC trust anchor's DS record for {owner} matches no DNSKEY that {owner} serves (validation.dnssec_trust_anchor is out of date, or the zone's key changed)"
            ));
        }
    }
    Ok(keys)
}

/// Why the answer for `record_type` at `name` is bogus, as one clause
/// ("the RRSIG … expired at …"). Best effort: asks `server` again with the
/// DO bit set and no validation, and falls back to a general reason when
/// that answer says nothing more.
pub(crate) async fn explain_bogus(
    server: Option<SocketAddr>,
    name: &Name,
    record_type: RecordType,
    timeout: Duration,
) -> String {
    const GENERAL: &str = "its signatures do not chain to the trust anchor (a DS record at the parent zone matches no DNSKEY, or a DNSKEY does not sign the zone's records)";
    let Some(server) = server else {
        return GENERAL.to_owned();
    };
    let Some(answer) = query_with_do(server, name, record_type, timeout).await else {
        return GENERAL.to_owned();
    };
    let records: Vec<&Record> = answer
        .answers
        .iter()
        .filter(|r| r.name == *name && r.record_type() == record_type)
        .collect();
    if records.is_empty() {
        return "the zone is signed but the answer carries no valid proof (NSEC/NSEC3) that the record does not exist".to_owned();
    }
    let rrsigs: Vec<&RRSIG> = answer
        .answers
        .iter()
        .filter(|r| r.name == *name)
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::RRSIG(sig)) if sig.input().type_covered == record_type => {
                Some(sig)
            }
            _ => None,
        })
        .collect();
    let Some(rrsig) = rrsigs.first() else {
        return format!(
            "the zone is signed (a DS record says so) but the {record_type} records carry no RRSIG signature"
        );
    };
    let now = unix_now();
    let input = rrsig.input();
    if input.sig_expiration.get() < now {
        return format!(
            "the RRSIG over the {record_type} records expired at {} (signature expiration, RFC 4034 §3.1.5)",
            unix_time(input.sig_expiration.get())
        );
    }
    if input.sig_inception.get() > now {
        return format!(
            "the RRSIG over the {record_type} records is not valid before {} (signature inception, RFC 4034 §3.1.5)",
            unix_time(input.sig_inception.get())
        );
    }
    let signer = input.signer_name.clone();
    let Some(keys) = query_with_do(server, &signer, RecordType::DNSKEY, timeout).await else {
        return GENERAL.to_owned();
    };
    let dnskeys: Vec<&DNSKEY> = keys
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::DNSKEY(key)) => Some(key),
            _ => None,
        })
        .filter(|key| key.calculate_key_tag().ok() == Some(input.key_tag))
        .collect();
    if dnskeys.is_empty() {
        return format!(
            "the RRSIG over the {record_type} records names key tag {} of {signer}, which {signer} does not publish as a DNSKEY",
            input.key_tag
        );
    }
    let owned: Vec<Record> = records.into_iter().cloned().collect();
    let verifies = dnskeys.iter().any(|key| {
        key.verify_rrsig(name, DNSClass::IN, rrsig, owned.iter())
            .is_ok()
    });
    if !verifies {
        return format!(
            "the RRSIG over the {record_type} records (key tag {} of {signer}) does not verify: the signature is wrong",
            input.key_tag
        );
    }
    if signer.is_root() {
        return format!(
            "the RRSIG over the {record_type} records verifies with key tag {} of the root zone, but that key is not a configured trust anchor (validation.dnssec_trust_anchor)",
            input.key_tag
        );
    }
    format!(
        "the RRSIG over the {record_type} records verifies with key tag {} of {signer}, but that key does not chain to the trust anchor (check the DS record of {signer} at its parent)",
        input.key_tag
    )
}

/// One UDP exchange with the DO bit (RFC 3225), no validation. `None` on
/// any failure, timeout or truncation: the caller then gives the general
/// reason.
async fn query_with_do(
    server: SocketAddr,
    name: &Name,
    record_type: RecordType,
    timeout: Duration,
) -> Option<Message> {
    let mut message = Message::query();
    message.metadata.recursion_desired = true;
    // CD (RFC 4035 §3.2.2): a validating upstream would answer SERVFAIL
    // instead of showing the signatures that failed.
    message.metadata.checking_disabled = true;
    message.add_query(Query::query(name.clone(), record_type));
    let mut edns = Edns::new();
    edns.set_dnssec_ok(true);
    edns.set_max_payload(4096);
    message.set_edns(edns);
    let id = message.metadata.id;
    let wire = message.to_vec().ok()?;
    let bind: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let exchange = async {
        let socket = tokio::net::UdpSocket::bind(bind).await.ok()?;
        socket.connect(server).await.ok()?;
        socket.send(&wire).await.ok()?;
        let mut buf = vec![0u8; 65_535];
        // Bounded: the outer timeout ends the loop; stray datagrams with
        // another id are skipped at most 8 times.
        for _ in 0..8 {
            let n = socket.recv(&mut buf).await.ok()?;
            let answer = Message::from_vec(&buf[..n]).ok()?;
            if answer.metadata.id == id {
                return (!answer.metadata.truncation).then_some(answer);
            }
        }
        None
    };
    tokio::time::timeout(timeout, exchange).await.ok().flatten()
}

fn unix_now() -> u32 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    u32::try_from(secs).unwrap_or(u32::MAX)
}

/// RFC 3339, UTC, for a detail a person reads.
fn unix_time(secs: u32) -> String {
    let days = i64::from(secs) / 86_400;
    let rest = i64::from(secs) % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iana_root_is_the_default_anchor() {
        assert_eq!(TrustAnchor::default(), TrustAnchor::IanaRoot);
        let anchors = TrustAnchor::IanaRoot.load().unwrap();
        assert_eq!((anchors.keys.len(), anchors.ds.len()), (2, 0));
    }

    #[test]
    fn dnskey_records_are_an_anchor() {
        // The root KSK-2024 (key tag 38696) as IANA publishes it.
        let text = ". 172800 IN DNSKEY 257 3 8 AwEAAa96jeuknZlaeSrvyAJj6ZHv28hhOKkx3rLGXVaC6rXTsDc449/cidltpkyGwCJNnOAlFNKF2jBosZBU5eeHspaQWOmOElZsjICMQMC3aeHbGiShvZsx4wMYSjH8e7Vrhbu6irwCzVBApESjbUdpWWmEnhathWu1jo+siFUiRAAxm9qyJNg/wOZqqzL/dL/q8PkcRU5oUKEpUge71M3ej2/7CPqpdVwuMoTvoB+ZOT4YeGyxMvHmbrxlFzGOHOijtzN+u1TQNatX2XBuzZNQ1K+s2CXkPIZo7s6JgZyvaBevYtxPvYLw4z9mR7K2vaF18UYH9Z9GNUUeayffKC73PYc=\n";
        let anchors = TrustAnchor::Records(text.to_owned()).load().unwrap();
        assert_eq!((anchors.keys.len(), anchors.ds.len()), (1, 0));
    }

    #[test]
    fn ds_records_are_an_anchor() {
        // The root KSK-2024 DS as IANA publishes it (root-anchors.xml), with a comment line.
        let text = "; root\n. 172800 IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16\nexample. DS 1 13 2 ab CD ; split digest\n";
        let anchors = TrustAnchor::Records(text.to_owned()).load().unwrap();
        assert_eq!(anchors.keys.len(), 0);
        assert_eq!(anchors.ds.len(), 2);
        let (owner, ds) = &anchors.ds[0];
        assert!(owner.is_root());
        assert_eq!(ds.key_tag(), 38696);
        assert_eq!(ds.algorithm(), Algorithm::RSASHA256);
        assert_eq!(ds.digest_type(), DigestType::SHA256);
        assert_eq!(ds.digest().len(), 32);
        assert_eq!(anchors.ds[1].1.digest(), &[0xab, 0xcd]);

        let err = TrustAnchor::Records(". IN DS 1 8 2 xyz\n".to_owned())
            .load()
            .err()
            .unwrap();
        assert!(err.to_string().contains("line 1"), "{err}");
        assert!(err.to_string().contains("hexadecimal"), "{err}");
    }

    #[test]
    fn a_file_without_keys_is_an_operator_error() {
        let err = TrustAnchor::Records("; nothing here\n".to_owned())
            .load()
            .err()
            .unwrap();
        assert!(err.to_string().contains("no DNSKEY"), "{err}");
        let err = TrustAnchor::File("/nonexistent/anchor.key".into())
            .load()
            .err()
            .unwrap();
        assert!(err.to_string().contains("/nonexistent/anchor.key"), "{err}");
    }

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(unix_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(unix_time(1_773_532_800), "2026-03-15T00:00:00Z");
    }
}
