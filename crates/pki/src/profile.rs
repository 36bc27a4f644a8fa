//! [`Profile`]: the shape of a subscriber certificate as data. The certificate builder
//! (`params::leaf`) and the lint (`lint::check_leaf`) both read it, so they cannot disagree,
//! and another kind of certificate is another value, not more code.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::der;
use crate::validity::{MAX_LEAF_VALIDITY, SHORT_LIVED_MAX_VALIDITY, max_leaf_validity};
use crate::{KeyKind, PkiError};

/// [`Profile::issuer`] for "the active intermediate of the subscriber key's family": an ECDSA
/// key gets the ECDSA chain and an RSA key the RSA chain (as Let's Encrypt does), or the chain
/// there is when the CA has intermediates of one family only.
pub const DEFAULT_ISSUER: &str = "default";
/// [`Profile::issuer`] for "the active ECDSA intermediate", whatever the subscriber's key.
pub const ECDSA_ISSUERS: &str = "ecdsa";
/// [`Profile::issuer`] for "the active RSA intermediate", whatever the subscriber's key.
pub const RSA_ISSUERS: &str = "rsa";

/// Whether an intermediate named `name` (RSA key when `is_rsa`) may sign for a profile whose
/// [`Profile::issuer`] is `selector`: [`DEFAULT_ISSUER`] takes any, [`ECDSA_ISSUERS`] and
/// [`RSA_ISSUERS`] those of one family, any other value the intermediate of that name.
pub fn issuer_selected(selector: &str, name: &str, is_rsa: bool) -> bool {
    match selector {
        DEFAULT_ISSUER => true,
        ECDSA_ISSUERS => !is_rsa,
        RSA_ISSUERS => is_rsa,
        named => named == name,
    }
}

/// The ACME listener's own certificate: 397 days (the longest any TLS client accepts).
const LISTENER_VALIDITY: Duration = Duration::days(397);

/// `anyPolicy` (RFC 5280 §4.2.1.4): never in a subscriber certificate (Baseline Requirements
/// §7.1.2.7.9).
const OID_ANY_POLICY: &[u64] = &[2, 5, 29, 32, 0];
/// The CA/Browser Forum's arc of Reserved Certificate Policy Identifiers (Baseline
/// Requirements §7.1.6.1).
const OID_CABF_RESERVED_POLICIES: &[u64] = &[2, 23, 140, 1];

/// What a subscriber certificate looks like: validity, key usages, extended key usages, policy
/// OIDs, which of CRL DP and AIA it carries, which subscriber keys it certifies and which
/// issuer signs it.
///
/// Every certificate also has what no profile changes: an empty subject with a critical
/// subjectAltName of the request's names, basicConstraints critical CA:FALSE, the issuer's
/// authorityKeyIdentifier, no subjectKeyIdentifier, a random 128-bit serial
/// (Baseline Requirements §7.1.2.7, §7.1.2.11).
///
/// The operator's configuration holds profiles as tables (serde); a field left out takes
/// [`Profile::tls_server`]'s value, an unknown field is refused:
///
/// ```toml
/// name = "shortlived"
/// validity_seconds = 518400              # 6 days
/// key_types = ["p256", "p384", "rsa"]
/// key_usage = { ecdsa = ["digitalSignature"], rsa = ["digitalSignature"] }
/// extended_key_usages = ["serverAuth"]
/// certificate_policies = ["2.23.140.1.2.1"]
/// crl_distribution_point = true          # may be false up to 7 days (see the field)
/// aia_ca_issuers = true
/// issuer = "default"
/// ```
///
/// A value comes from a constructor or from configuration and is then changed field by field
/// (one private field keeps the listener's rules out of reach). [`Profile::validate`] checks
/// it against the Baseline Requirements; the issuer checks it again before every issuance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The name ACME clients ask for (the ACME profiles extension): lower-case letters,
    /// digits, `-` and `_`. May be left out of a table its name is the key of; it must be set
    /// before [`Profile::validate`].
    #[serde(default)]
    pub name: String,
    /// What the profile is for, in a sentence for people: the ACME directory shows it beside
    /// the name (`meta.profiles`). Empty: the directory describes the profile from its fields.
    #[serde(default)]
    pub description: String,
    /// The longest validity period of the profile's certificates, in seconds, both ends
    /// counted (`notAfter − notBefore + 1 s`, Baseline Requirements §6.3.2). Seconds, because
    /// the Baseline Requirements measure the short-lived limit in seconds (604,800) and a
    /// period need not be whole days. At issuance it is cut to the maximum for the
    /// issuance date ([`max_leaf_validity`](crate::max_leaf_validity)); a request may ask for
    /// less (core: `issuance.validity_days`, an order's notAfter).
    #[serde(default = "default_validity_seconds")]
    pub validity_seconds: u32,
    /// The subscriber keys the profile certifies. Only their kind: RSA sizes and exponents
    /// are [`CsrPolicy`](crate::CsrPolicy)'s (`rsa_min_bits`, `rsa_max_bits`), within what
    /// the issuer certifies at all (2048 to 8192 bits, e = 65537).
    #[serde(default = "default_key_types")]
    pub key_types: Vec<KeyType>,
    /// The keyUsage bits, by kind of subscriber key (Baseline Requirements §7.1.2.7.11).
    #[serde(default)]
    pub key_usage: KeyUsages,
    /// The extendedKeyUsage purposes; serverAuth is required (Baseline Requirements
    /// §7.1.2.7.10).
    #[serde(default = "default_extended_key_usages")]
    pub extended_key_usages: Vec<ExtendedKeyUsage>,
    /// The certificatePolicies, in order: the domain-validated Reserved Certificate Policy
    /// Identifier 2.23.140.1.2.1 first (the subject is empty, so every certificate is DV),
    /// then any of the operator's own (Baseline Requirements §7.1.2.7.9).
    #[serde(default = "default_certificate_policies")]
    pub certificate_policies: Vec<PolicyOid>,
    /// Whether certificates carry the CRL distribution point (`IssuerUrls::crl`). Only
    /// Short-lived Subscriber Certificates, at most 7 days, may leave it out (Baseline
    /// Requirements §7.1.2.11.2; this CA writes no OCSP URL). The Microsoft Root Program
    /// (§3.1.10) has no such exception: pkilint reports a certificate without it as
    /// `msft.end_entity.revocation_information_absent` (ERROR).
    #[serde(default = "yes")]
    pub crl_distribution_point: bool,
    /// Whether certificates carry authorityInfoAccess with the issuer's certificate URL
    /// (`IssuerUrls::ca_issuers`). The Baseline Requirements (§7.1.2.7.6) make
    /// authorityInformationAccess a MUST and this CA has no other access method for it, so
    /// [`Profile::validate`] refuses `false`.
    #[serde(default = "yes")]
    pub aia_ca_issuers: bool,
    /// Which intermediate signs the profile's certificates: [`DEFAULT_ISSUER`] (the active one
    /// of the subscriber key's family), [`ECDSA_ISSUERS`] or [`RSA_ISSUERS`] (the active one
    /// of that family for every key), or one intermediate's name (`intermediate`,
    /// `intermediate-rsa`, … as `ferrite ca show` lists them). See [`issuer_selected`].
    #[serde(default = "default_issuer")]
    pub issuer: String,
    /// Which rules apply beyond the fields; never from configuration.
    #[serde(skip)]
    scope: Scope,
}

/// Which rules a profile's certificates follow beyond its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Scope {
    /// Publicly-trusted TLS server certificates: validity cut to the Baseline Requirements
    /// maximum for the date, DNS names of two labels or more.
    #[default]
    Subscriber,
    /// The ACME listener's own certificate, relied on only by this CA's ACME clients: also
    /// single-label names (`localhost`) and IP addresses, 397 days.
    AcmeListener,
}

/// keyUsage bits by kind of subscriber key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyUsages {
    /// For ECDSA keys: digitalSignature is required, keyEncipherment not permitted.
    #[serde(default = "digital_signature")]
    pub ecdsa: Vec<KeyUsage>,
    /// For RSA keys: at least one. keyEncipherment is permitted but NOT RECOMMENDED with
    /// digitalSignature (TLS 1.2 RSA key transport only; pkilint warns).
    #[serde(default = "digital_signature")]
    pub rsa: Vec<KeyUsage>,
}

impl Default for KeyUsages {
    /// digitalSignature alone, for every key.
    fn default() -> Self {
        KeyUsages {
            ecdsa: digital_signature(),
            rsa: digital_signature(),
        }
    }
}

impl KeyUsages {
    /// The bits for `key`: none for a kind no profile certifies.
    pub fn for_key(&self, key: &KeyKind) -> &[KeyUsage] {
        match KeyType::of(key) {
            Some(KeyType::P256 | KeyType::P384) => &self.ecdsa,
            Some(KeyType::Rsa) => &self.rsa,
            None => &[],
        }
    }
}

/// How a configuration writes the values of an enum: `name()`, and the serde conversions
/// from and to that string, whose error lists the names there are.
macro_rules! config_names {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// The name a configuration writes.
            pub fn name(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }

        impl TryFrom<String> for $ty {
            type Error = String;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                match s.as_str() {
                    $($name => Ok($ty::$variant),)+
                    _ => Err(format!(
                        "{s:?} is not one of {}",
                        [$(concat!("\"", $name, "\"")),+].join(", ")
                    )),
                }
            }
        }

        impl From<$ty> for String {
            fn from(value: $ty) -> String {
                value.name().to_owned()
            }
        }
    };
}

config_names!(KeyUsage {
    DigitalSignature => "digitalSignature",
    KeyEncipherment => "keyEncipherment",
});
config_names!(ExtendedKeyUsage {
    ServerAuth => "serverAuth",
    ClientAuth => "clientAuth",
});
config_names!(KeyType {
    P256 => "p256",
    P384 => "p384",
    Rsa => "rsa",
});

/// A keyUsage bit a subscriber certificate may assert (RFC 5280 §4.2.1.3), written as the RFC
/// names it (`"digitalSignature"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum KeyUsage {
    /// `digitalSignature`: TLS 1.3 and every ECDHE handshake.
    DigitalSignature,
    /// `keyEncipherment`: RSA key transport (TLS 1.2 RSA key exchange); RSA keys only.
    KeyEncipherment,
}

/// An extendedKeyUsage purpose (RFC 5280 §4.2.1.12), written as the RFC names it
/// (`"serverAuth"`). The Baseline Requirements (§7.1.2.7.10) forbid the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ExtendedKeyUsage {
    /// `id-kp-serverAuth`: required.
    ServerAuth,
    /// `id-kp-clientAuth`: permitted.
    ClientAuth,
}

/// A kind of subscriber key a profile certifies (Baseline Requirements §6.1.5, Mozilla Root
/// Store Policy §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum KeyType {
    /// ECDSA on P-256 (`"p256"`).
    P256,
    /// ECDSA on P-384 (`"p384"`).
    P384,
    /// RSA (`"rsa"`), of the sizes [`CsrPolicy`](crate::CsrPolicy) accepts.
    Rsa,
}

impl KeyType {
    /// The kind of `key`, if a profile can certify it at all.
    pub fn of(key: &KeyKind) -> Option<KeyType> {
        match key {
            KeyKind::EcP256 => Some(KeyType::P256),
            KeyKind::EcP384 => Some(KeyType::P384),
            KeyKind::Rsa { .. } => Some(KeyType::Rsa),
            _ => None,
        }
    }

    fn is_ecdsa(self) -> bool {
        matches!(self, KeyType::P256 | KeyType::P384)
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyType::P256 => "P-256",
            KeyType::P384 => "P-384",
            KeyType::Rsa => "RSA",
        })
    }
}

/// A certificate policy object identifier, written in dotted form (`"2.23.140.1.2.1"`). Arcs
/// are at most 2³² − 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PolicyOid(Vec<u64>);

impl PolicyOid {
    /// The OID's arcs.
    pub fn arcs(&self) -> &[u64] {
        &self.0
    }
}

impl FromStr for PolicyOid {
    type Err = String;

    /// X.660: two arcs or more, the first 0, 1 or 2, the second below 40 under 0 and 1;
    /// decimal arcs without leading zeros.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wrong = || {
            format!("{s:?} is not an object identifier in dotted form such as \"2.23.140.1.2.1\"")
        };
        let mut arcs = Vec::new();
        for arc in s.split('.') {
            let digits = !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit());
            if !digits || (arc.len() > 1 && arc.starts_with('0')) {
                return Err(wrong());
            }
            let value = arc.parse::<u32>().map_err(|_| wrong())?;
            arcs.push(u64::from(value));
        }
        match arcs[..] {
            [0 | 1, second, ..] if second < 40 => Ok(PolicyOid(arcs)),
            [2, _, ..] => Ok(PolicyOid(arcs)),
            _ => Err(wrong()),
        }
    }
}

impl TryFrom<String> for PolicyOid {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<PolicyOid> for String {
    fn from(oid: PolicyOid) -> String {
        oid.to_string()
    }
}

impl fmt::Display for PolicyOid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arc) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{arc}")?;
        }
        Ok(())
    }
}

fn default_validity_seconds() -> u32 {
    duration_seconds(MAX_LEAF_VALIDITY)
}

fn default_key_types() -> Vec<KeyType> {
    vec![KeyType::P256, KeyType::P384, KeyType::Rsa]
}

fn digital_signature() -> Vec<KeyUsage> {
    vec![KeyUsage::DigitalSignature]
}

fn default_extended_key_usages() -> Vec<ExtendedKeyUsage> {
    vec![ExtendedKeyUsage::ServerAuth]
}

fn default_certificate_policies() -> Vec<PolicyOid> {
    vec![PolicyOid(der::OID_BR_DOMAIN_VALIDATED.to_vec())]
}

fn yes() -> bool {
    true
}

fn default_issuer() -> String {
    DEFAULT_ISSUER.to_owned()
}

/// A positive duration of at most 2³² − 1 seconds (every validity a profile may have).
fn duration_seconds(d: Duration) -> u32 {
    u32::try_from(d.whole_seconds()).unwrap_or(u32::MAX)
}

impl Profile {
    /// `tlsserver`: the Baseline Requirements domain-validated TLS server certificate
    /// (Baseline Requirements §7.1.2.7; pkilint's CA/Browser Forum linter reports it clean). Up to 200 days
    /// ([`MAX_LEAF_VALIDITY`](crate::MAX_LEAF_VALIDITY), cut by date), P-256, P-384 and RSA
    /// keys, keyUsage digitalSignature for every key (keyEncipherment with digitalSignature
    /// is NOT RECOMMENDED by §7.1.2.7.11), EKU serverAuth, policy 2.23.140.1.2.1, CRL DP and
    /// AIA caIssuers, issued by [`DEFAULT_ISSUER`].
    pub fn tls_server() -> Profile {
        Profile {
            name: "tlsserver".to_owned(),
            description: String::new(),
            validity_seconds: default_validity_seconds(),
            key_types: default_key_types(),
            key_usage: KeyUsages::default(),
            extended_key_usages: default_extended_key_usages(),
            certificate_policies: default_certificate_policies(),
            crl_distribution_point: true,
            aia_ca_issuers: true,
            issuer: default_issuer(),
            scope: Scope::Subscriber,
        }
    }

    /// `shortlived`: a Short-lived Subscriber Certificate (Baseline Requirements §1.6.1,
    /// §7.1.2.11.2): [`Profile::tls_server`] for 6 days, without the CRL distribution point
    /// (optional for certificates of at most 7 days), with AIA caIssuers. pkilint's CA/Browser
    /// Forum rules report nothing; its Microsoft Root Program rule reports the missing
    /// revocation information (`msft.end_entity.revocation_information_absent`), which the
    /// Microsoft program asks of every end-entity certificate.
    pub fn short_lived() -> Profile {
        Profile {
            name: "shortlived".to_owned(),
            validity_seconds: 6 * 24 * 3600,
            crl_distribution_point: false,
            ..Profile::tls_server()
        }
    }

    /// The description to show clients: [`Profile::description`], or one made from the
    /// validity and whether certificates carry a CRL distribution point.
    pub fn describe(&self) -> String {
        if !self.description.is_empty() {
            return self.description.clone();
        }
        let period = if self.validity_seconds.is_multiple_of(86_400) {
            format!("{} days", self.validity_seconds / 86_400)
        } else {
            format!("{} hours", self.validity_seconds / 3_600)
        };
        let revocation = if self.crl_distribution_point {
            "with a CRL distribution point"
        } else {
            "without a CRL distribution point"
        };
        format!("TLS server certificates valid for up to {period}, {revocation}")
    }

    /// `acme-listener`: the certificate of the ACME listener itself, [`Profile::tls_server`]
    /// but for 397 days, not cut by date, and with single-label names (`localhost`) and IP
    /// addresses allowed. Its relying parties are this CA's own ACME clients; no
    /// configuration makes a profile like it.
    pub fn acme_listener() -> Profile {
        Profile {
            name: "acme-listener".to_owned(),
            validity_seconds: duration_seconds(LISTENER_VALIDITY),
            scope: Scope::AcmeListener,
            ..Profile::tls_server()
        }
    }

    /// The validity period as a duration.
    pub fn validity(&self) -> Duration {
        Duration::seconds(i64::from(self.validity_seconds))
    }

    /// The longest validity period (both ends counted) of a certificate of this profile
    /// starting at `not_before`: the profile's, cut to the Baseline Requirements §6.3.2
    /// maximum in force at `not_before` (the issuance date the certificate states).
    pub fn max_validity(&self, not_before: OffsetDateTime) -> Duration {
        match self.scope {
            Scope::Subscriber => self.validity().min(max_leaf_validity(not_before)),
            Scope::AcmeListener => self.validity(),
        }
    }

    /// Whether the profile certifies this kind of key (its size is the CSR policy's).
    pub fn allows_key(&self, key: &KeyKind) -> bool {
        KeyType::of(key).is_some_and(|t| self.key_types.contains(&t))
    }

    /// Whether a dNSName may have a single label (`localhost`).
    pub(crate) fn allows_single_label_names(&self) -> bool {
        self.scope == Scope::AcmeListener
    }

    /// Whether the subjectAltName may hold IP addresses.
    pub(crate) fn allows_ip_addresses(&self) -> bool {
        self.scope == Scope::AcmeListener
    }

    /// Checks the profile against the Baseline Requirements and what this CA can issue. The
    /// error names the field and says what to write instead.
    pub fn validate(&self) -> Result<(), PkiError> {
        let invalid = |field: &'static str, reason: String| PkiError::InvalidProfile {
            profile: self.name.clone(),
            field,
            reason,
        };
        check_name(&self.name).map_err(|r| invalid("name", r))?;

        let max = match self.scope {
            Scope::Subscriber => MAX_LEAF_VALIDITY,
            Scope::AcmeListener => LISTENER_VALIDITY,
        };
        let max_seconds = duration_seconds(max);
        if self.validity_seconds == 0 || self.validity_seconds > max_seconds {
            return Err(invalid(
                "validity_seconds",
                format!(
                    "{} is outside 1 to {max_seconds} ({} days, the Baseline Requirements \
                     §6.3.2 maximum; issuance cuts it further to the maximum for the date): \
                     write a number of seconds within it (86400 a day)",
                    self.validity_seconds,
                    max.whole_days()
                ),
            ));
        }

        if self.key_types.is_empty() {
            return Err(invalid(
                "key_types",
                "is empty, so nothing could be certified: list one or more of \"p256\", \
                 \"p384\", \"rsa\""
                    .into(),
            ));
        }
        no_duplicates(&self.key_types, |t| t.name()).map_err(|r| invalid("key_types", r))?;
        if self.key_types.iter().any(|t| t.is_ecdsa()) {
            let ecdsa = &self.key_usage.ecdsa;
            no_duplicates(ecdsa, |u| u.name()).map_err(|r| invalid("key_usage.ecdsa", r))?;
            // Baseline Requirements §7.1.2.7.11, ECC keys: digitalSignature MUST,
            // keyEncipherment not permitted.
            if !ecdsa.contains(&KeyUsage::DigitalSignature)
                || ecdsa.contains(&KeyUsage::KeyEncipherment)
            {
                return Err(invalid(
                    "key_usage.ecdsa",
                    format!(
                        "{}: ECDSA keys must have digitalSignature and may not have \
                         keyEncipherment (Baseline Requirements §7.1.2.7.11): write \
                         [\"digitalSignature\"]",
                        list(ecdsa, |u| u.name())
                    ),
                ));
            }
        }
        if self.key_types.contains(&KeyType::Rsa) {
            let rsa = &self.key_usage.rsa;
            no_duplicates(rsa, |u| u.name()).map_err(|r| invalid("key_usage.rsa", r))?;
            // Baseline Requirements §7.1.2.7.11, RSA keys: at least one key usage.
            if rsa.is_empty() {
                return Err(invalid(
                    "key_usage.rsa",
                    "is empty; RSA keys need at least one key usage (Baseline Requirements \
                     §7.1.2.7.11): write [\"digitalSignature\"]"
                        .into(),
                ));
            }
        }

        no_duplicates(&self.extended_key_usages, |p| p.name())
            .map_err(|r| invalid("extended_key_usages", r))?;
        // Baseline Requirements §7.1.2.7.10: id-kp-serverAuth MUST be present.
        if !self
            .extended_key_usages
            .contains(&ExtendedKeyUsage::ServerAuth)
        {
            return Err(invalid(
                "extended_key_usages",
                format!(
                    "{} lacks serverAuth, which every TLS server certificate must have \
                     (Baseline Requirements §7.1.2.7.10): add \"serverAuth\"",
                    list(&self.extended_key_usages, |p| p.name())
                ),
            ));
        }

        check_policies(&self.certificate_policies)
            .map_err(|r| invalid("certificate_policies", r))?;

        // Baseline Requirements §7.1.2.11.2: without an OCSP URL, only a Short-lived
        // Subscriber Certificate may leave out the CRL distribution point.
        let short_lived = duration_seconds(SHORT_LIVED_MAX_VALIDITY);
        if !self.crl_distribution_point && self.validity_seconds > short_lived {
            return Err(invalid(
                "crl_distribution_point",
                format!(
                    "is off for certificates of {} seconds; only Short-lived Subscriber \
                     Certificates (at most {short_lived} seconds, 7 days) may leave it out \
                     (Baseline Requirements §7.1.2.11.2): turn it on or shorten \
                     validity_seconds",
                    self.validity_seconds
                ),
            ));
        }
        // Baseline Requirements §7.1.2.7.6: authorityInformationAccess MUST be present.
        if !self.aia_ca_issuers {
            return Err(invalid(
                "aia_ca_issuers",
                "is off, but subscriber certificates must carry authorityInformationAccess \
                 (Baseline Requirements §7.1.2.7.6) and caIssuers is the only access method \
                 this CA writes (it runs no OCSP responder): turn it on"
                    .into(),
            ));
        }

        check_name(&self.issuer).map_err(|r| invalid("issuer", r))
    }
}

/// A profile or issuer name: 1 to 64 lower-case letters, digits, `-` and `_`.
fn check_name(name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not 1 to 64 lower-case letters, digits, '-' and '_': write a name \
             such as \"shortlived\""
        ))
    }
}

fn no_duplicates<T: PartialEq, N: fmt::Display>(
    items: &[T],
    name: impl Fn(&T) -> N,
) -> Result<(), String> {
    match items
        .iter()
        .enumerate()
        .find(|(i, item)| items[..*i].contains(item))
    {
        Some((_, item)) => Err(format!("lists \"{}\" twice: write each once", name(item))),
        None => Ok(()),
    }
}

/// `["a", "b"]`, as the configuration writes a list.
fn list<T, N: fmt::Display>(items: &[T], name: impl Fn(&T) -> N) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("\"{}\"", name(i))).collect();
    format!("[{}]", quoted.join(", "))
}

/// Baseline Requirements §7.1.2.7.9 for a certificate with an empty subject (DV): exactly one
/// Reserved Certificate Policy Identifier, 2.23.140.1.2.1, first; no anyPolicy.
fn check_policies(policies: &[PolicyOid]) -> Result<(), String> {
    no_duplicates(policies, ToString::to_string)?;
    if policies.first().map(PolicyOid::arcs) != Some(der::OID_BR_DOMAIN_VALIDATED) {
        return Err(format!(
            "{} does not start with 2.23.140.1.2.1, the domain-validated policy every \
             certificate with an empty subject asserts: put \"2.23.140.1.2.1\" first",
            list(policies, ToString::to_string)
        ));
    }
    for oid in &policies[1..] {
        if oid.arcs() == OID_ANY_POLICY || oid.arcs().starts_with(OID_CABF_RESERVED_POLICIES) {
            return Err(format!(
                "{oid} may not be asserted beside 2.23.140.1.2.1 (anyPolicy and a second \
                 CA/Browser Forum reserved policy are forbidden): remove it"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_constructors_are_valid() {
        Profile::tls_server().validate().unwrap();
        Profile::short_lived().validate().unwrap();
        Profile::acme_listener().validate().unwrap();
    }

    #[test]
    fn a_table_with_only_a_name_is_the_default_profile() {
        let p: Profile = toml::from_str("name = \"tlsserver\"").unwrap();
        assert_eq!(p, Profile::tls_server());
        let written = toml::to_string(&Profile::tls_server()).unwrap();
        assert!(
            written.contains("certificate_policies = [\"2.23.140.1.2.1\"]"),
            "{written}"
        );
        assert_eq!(
            toml::from_str::<Profile>(&written).unwrap(),
            Profile::tls_server()
        );
        // The listener's rules never come from configuration: written out and read back, its
        // profile is an ordinary one, and 397 days is too long for that.
        let listener = toml::to_string(&Profile::acme_listener()).unwrap();
        let read: Profile = toml::from_str(&listener).unwrap();
        assert!(!read.allows_ip_addresses() && !read.allows_single_label_names());
        assert!(matches!(
            read.validate(),
            Err(PkiError::InvalidProfile {
                field: "validity_seconds",
                ..
            })
        ));
    }

    /// Every rule of `validate`, each broken alone in a TOML table, is refused with an error
    /// that names the field and says what to write instead.
    #[test]
    fn validation_names_the_field() {
        let cases = [
            ("validity_seconds = 0", "validity_seconds"),
            // 200 days and one second.
            ("validity_seconds = 17280001", "validity_seconds"),
            ("key_types = []", "key_types"),
            ("key_types = [\"p256\", \"p256\"]", "key_types"),
            ("key_usage = { ecdsa = [] }", "key_usage.ecdsa"),
            (
                "key_usage = { ecdsa = [\"digitalSignature\", \"keyEncipherment\"] }",
                "key_usage.ecdsa",
            ),
            ("key_usage = { rsa = [] }", "key_usage.rsa"),
            (
                "extended_key_usages = [\"clientAuth\"]",
                "extended_key_usages",
            ),
            (
                "extended_key_usages = [\"serverAuth\", \"serverAuth\"]",
                "extended_key_usages",
            ),
            ("certificate_policies = []", "certificate_policies"),
            (
                "certificate_policies = [\"1.3.6.1.4.1.99999.1\"]",
                "certificate_policies",
            ),
            (
                "certificate_policies = [\"2.23.140.1.2.1\", \"2.5.29.32.0\"]",
                "certificate_policies",
            ),
            (
                "certificate_policies = [\"2.23.140.1.2.1\", \"2.23.140.1.2.2\"]",
                "certificate_policies",
            ),
            // Long-lived (the default 200 days) without a CRL DP, and one second over 7 days.
            ("crl_distribution_point = false", "crl_distribution_point"),
            (
                "validity_seconds = 604801\ncrl_distribution_point = false",
                "crl_distribution_point",
            ),
            ("aia_ca_issuers = false", "aia_ca_issuers"),
            ("issuer = \"\"", "issuer"),
            ("name = \"\"", "name"),
            ("name = \"Short Lived\"", "name"),
        ];
        for (table, field) in cases {
            let mut profile: Profile = toml::from_str(table).unwrap();
            if !table.contains("name") {
                profile.name = "x".into();
            }
            let err = profile.validate().unwrap_err();
            let message = err.to_string();
            assert!(
                matches!(&err, PkiError::InvalidProfile { field: f, .. } if *f == field),
                "{table}: {err:?}"
            );
            assert!(message.contains(&format!("invalid {field}: ")), "{message}");
            let advice = ["write", "turn", "add", "put", "list", "remove", "shorten"];
            assert!(
                advice.iter().any(|verb| message.contains(verb)),
                "{table}: no advice in {message}"
            );
        }
        // 7 days exactly is short-lived.
        let week: Profile = toml::from_str(
            "name = \"week\"\nvalidity_seconds = 604800\ncrl_distribution_point = false",
        )
        .unwrap();
        week.validate().unwrap();
    }

    /// What serde refuses itself: names this CA does not know, and fields that do not exist.
    /// The error shows the field.
    #[test]
    fn unknown_names_are_refused_when_read() {
        for (table, field, value) in [
            (
                "extended_key_usages = [\"serverAuth\", \"codeSigning\"]",
                "extended_key_usages",
                "codeSigning",
            ),
            ("key_types = [\"p521\"]", "key_types", "p521"),
            (
                "key_usage = { rsa = [\"dataEncipherment\"] }",
                "key_usage",
                "dataEncipherment",
            ),
            (
                "certificate_policies = [\"2.23.x\"]",
                "certificate_policies",
                "2.23.x",
            ),
            ("validity_days = 6", "validity_days", "validity_days"),
        ] {
            let err = toml::from_str::<Profile>(table).unwrap_err().to_string();
            assert!(err.contains(field) && err.contains(value), "{table}: {err}");
        }
    }

    #[test]
    fn policy_oids_parse_and_print() {
        for ok in ["2.23.140.1.2.1", "1.3.6.1.4.1.44947.1.1.1", "2.999", "0.39"] {
            assert_eq!(ok.parse::<PolicyOid>().unwrap().to_string(), ok);
        }
        for bad in [
            "",
            "2",
            "3.1",
            "1.40",
            "2.23.x",
            "2..1",
            "2.023",
            "1.2.4294967296",
            " 2.5",
        ] {
            assert!(bad.parse::<PolicyOid>().is_err(), "{bad:?}");
        }
    }
}
