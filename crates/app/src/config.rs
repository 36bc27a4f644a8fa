//! Configuration: embedded defaults, then an optional TOML file, then `FERRITE_*` environment
//! variables (`FERRITE_VALIDATION__DNS_RESOLVER` sets `validation.dns_resolver`). Unknown keys
//! are an error, so a typo never silently falls back to a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The host of an `https://` URL with a host, parsed as a URL; `None` for anything else.
fn https_host(url: &str) -> Option<url::Host> {
    let parsed = url::Url::parse(url).ok()?;
    if parsed.scheme() != "https" {
        return None;
    }
    parsed.host().map(|h| h.to_owned())
}

/// The environment variables (after `FERRITE_`, lower case) of secret settings, and their keys.
const SECRET_VARIABLES: [(&str, &str); 2] =
    [("eab__kek", "eab.kek"), ("ca__pkcs11_pin", "ca.pkcs11_pin")];

/// The built-in certificate profile's name.
pub const BUILT_IN_PROFILE: &str = "tlsserver";

/// The built-in Short-lived Subscriber Certificate profile's name.
pub const SHORT_LIVED_PROFILE: &str = "shortlived";

/// The whole configuration. Field docs are the reference (README "Configuration" mirrors them).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// ACME over HTTPS; the directory is at `https://HOST:PORT/directory`. Port 0 picks a free
    /// port (printed at start).
    pub listen: SocketAddr,
    /// Plain HTTP for relying parties: issuer certificate, root, CRL, health. Certificates
    /// point here (`public_base_url`), so in production it is reachable from everywhere.
    pub public_listen: SocketAddr,
    /// The admin API, `/metrics` and the customer portal: plain HTTP (keep it on loopback), or
    /// HTTPS with `admin_cert_file` and `admin_key_file`.
    pub admin_listen: SocketAddr,
    /// `admin_listen` may be an address other than loopback without its own certificate only
    /// when this says the network between the admin listener and its callers is trusted: plain
    /// HTTP admin requests carry bearer secrets and session cookies.
    pub admin_trusted_network: bool,
    /// The admin listener's certificate chain (PEM, leaf first), from a CA the operator's and
    /// customers' browsers trust: with `admin_key_file`, the admin listener serves HTTPS (read
    /// again whenever either file changes). Empty: plain HTTP.
    pub admin_cert_file: String,
    /// The private key of `admin_cert_file` (PEM; readable by Ferrite's user only).
    pub admin_key_file: String,
    /// The proxies in front of the admin listener (addresses or networks: `10.0.0.7`,
    /// `10.0.0.0/8`, `::1`), whose `Forwarded` / `X-Forwarded-For` client addresses are
    /// believed, so that `rate_limits.failed_admin_authentications_per_address` counts each
    /// client behind them rather than the proxy. Other callers still reach the listener
    /// directly, as themselves. Empty: every caller is its connection's peer.
    pub admin_trusted_proxies: Vec<String>,
    /// CA keys and certificates, the SQLite database, the listener's TLS certificate.
    pub data_dir: PathBuf,
    /// Empty: SQLite in `data_dir`. Or a PostgreSQL URL
    /// (`postgres://USER@HOST:PORT/DBNAME?sslmode=verify-full`) that several instances share.
    /// `Debug` hides its password; prefer `database.password_file` or `PGPASSWORD` for it.
    pub database_url: DatabaseUrl,
    /// The ACME base URL clients use; empty: `https://{listen}`.
    pub base_url: String,
    /// The plain-HTTP base URL written into certificates (AIA, CRL DP); empty:
    /// `http://{public_listen}`.
    pub public_base_url: String,
    /// `text` or `json` log lines; levels come from `RUST_LOG` (default `info`).
    pub log_format: String,
    /// PostgreSQL connection settings (unused with SQLite).
    pub database: Database,
    /// Validation settings.
    pub validation: Validation,
    /// External account binding.
    pub eab: Eab,
    /// Issuance settings.
    pub issuance: Issuance,
    /// Identifier policy.
    pub policy: Policy,
    /// What no client may hold: connection and time limits of every listener.
    pub limits: Limits,
    /// Where the CA keys are, and the CA's names.
    pub ca: CaSection,
    /// Certificate profiles beyond the built-in `tlsserver` (90 days by default, from
    /// `issuance.validity_days`) and `shortlived` (6 days, no CRL distribution point), one
    /// `[profiles.NAME]` table each (the fields of [`ferrite_pki::Profile`]; a field left out
    /// is `tlsserver`'s). A table named like a built-in one replaces it. Every profile is
    /// offered to clients (directory `meta.profiles`, newOrder `profile`);
    /// `issuance.profile` picks the one of orders that name none.
    #[serde(default)]
    pub profiles: std::collections::BTreeMap<String, ferrite_pki::Profile>,
    /// ACME Renewal Information (RFC 9773).
    #[serde(default)]
    pub ari: Ari,
    /// The ACME listener's certificate.
    #[serde(default)]
    pub tls: Tls,
    /// Multi-perspective issuance corroboration (docs/mpic.md).
    #[serde(default)]
    pub mpic: Mpic,
    /// What suspended customers are told.
    #[serde(default)]
    pub customers: Customers,
    /// `[rate_limits]`: how much one account or client address may ask for, shared by every
    /// instance through the database; 0 turns a limit off. Defaults like Let's Encrypt's:
    /// `new_orders_per_account` 300 per 3 hours, `pending_authorizations_per_account` 1000
    /// at once, `failed_validations_per_account_and_name` 5 per hour,
    /// `new_accounts_per_address` 10 per 3 hours (IPv6 by /64); and
    /// `new_credentials_per_customer` 20 and `new_mac_keys_per_customer` 100 per day,
    /// `failed_admin_authentications_per_address` 20 per hour; per customer (or account
    /// without one) `certificates_per_registered_domain` 50 and `duplicate_certificates` 5 per
    /// week. `ferrite customer set-limit` gives a customer other values (not the limits per
    /// address).
    #[serde(default)]
    pub rate_limits: ferrite_core::rate_limit::RateLimits,
    /// Certificate Transparency logs.
    #[serde(default)]
    pub ct: Ct,
    /// CRLs.
    #[serde(default)]
    pub crl: Crl,
}

/// `[crl]`: how revocations are published. Each issuing intermediate's certificates are
/// spread over `shards` CRLs, each certificate's shard fixed by its serial at issuance and
/// written in its CRL distribution point (`{public_base_url}/crl/{issuer id}/{shard}.crl`), so
/// that every CRL stays small however many certificates are revoked. A changed count applies
/// to certificates issued from then on; the shards earlier certificates name keep being
/// published.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Crl {
    /// How many CRL shards (1 to 1024).
    pub shards: u32,
}

impl Default for Crl {
    fn default() -> Self {
        Self { shards: 16 }
    }
}

/// `[ct]`: Certificate Transparency (RFC 6962). With no logs (the default, as a private CA
/// needs none) certificates carry no SCTs. With logs, every certificate is first signed as a
/// precertificate and submitted to all of them in parallel; it is issued only with enough
/// verified SCTs from distinct operators to meet the Chrome and Apple CT policies (two for a
/// validity of up to 180 days, three beyond), and otherwise the order fails with
/// `serverInternal` and a log line naming the logs.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ct {
    /// `[[ct.logs]]` with `url` (the log's base URL, e.g. `https://ct.example/2026h2/`),
    /// `public_key` (the log's key, base64 DER SubjectPublicKeyInfo, as log lists publish it)
    /// and `operator` (who runs it). At least two operators.
    pub logs: Vec<CtLog>,
    /// Seconds every log has to answer one submission.
    pub timeout_seconds: u64,
}

impl Default for Ct {
    fn default() -> Self {
        Self {
            logs: Vec::new(),
            timeout_seconds: 10,
        }
    }
}

/// One `[[ct.logs]]` entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CtLog {
    /// The log's base URL; `ct/v1/add-pre-chain` is below it.
    pub url: String,
    /// The log's public key: base64 of its DER SubjectPublicKeyInfo.
    pub public_key: String,
    /// Who runs the log.
    pub operator: String,
}

impl Ct {
    /// The logs to submit to, or `None` when none are configured.
    pub fn logs(&self) -> anyhow::Result<Option<ferrite_ct::CtLogs>> {
        if self.logs.is_empty() {
            return Ok(None);
        }
        anyhow::ensure!(
            (1..=60).contains(&self.timeout_seconds),
            "ct.timeout_seconds must be between 1 and 60"
        );
        let logs = self
            .logs
            .iter()
            .map(|log| ferrite_ct::Log::new(&log.url, &log.public_key, &log.operator))
            .collect::<Result<Vec<_>, String>>()
            .map_err(|e| anyhow::anyhow!("[[ct.logs]]: {e}"))?;
        let logs =
            ferrite_ct::CtLogs::new(logs, std::time::Duration::from_secs(self.timeout_seconds))
                .map_err(|e| anyhow::anyhow!("[ct]: {e}"))?;
        Ok(Some(logs))
    }
}

/// `[mpic]`: every validation and CAA check corroborated from remote perspectives
/// (`ferrite va-agent`), decided by the Baseline Requirements §3.2.2.9 quorum.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mpic {
    /// `off` (default): the primary alone. `log`: ask every perspective and log, issue on the
    /// primary's result (rollout). `enforce`: issue only when the quorum corroborates.
    pub mode: ferrite_va::mpic::MpicMode,
    /// Milliseconds every perspective has to answer one check; one that has not answered
    /// counts as disagreeing.
    pub timeout_ms: u64,
    /// The remote perspectives, `[[mpic.perspectives]]` with `id`, `region` (distinct) and
    /// `url` (`https://HOST:PORT`), each enrolled with `ferrite va-agent enroll`.
    pub perspectives: Vec<ferrite_va::mpic::PerspectiveConfig>,
    /// Milliseconds to open a new connection to a perspective (TCP and TLS); past it the
    /// perspective counts as unreachable.
    pub connect_timeout_ms: u64,
    /// Idle connections kept per perspective for the next requests (0: a new connection
    /// per request).
    pub pool_size: usize,
    /// Milliseconds an idle connection is kept; below the agents' 30 s idle limit.
    pub pool_idle_timeout_ms: u64,
}

impl Default for Mpic {
    fn default() -> Self {
        let connections = ferrite_va::mpic::ConnectionSettings::default();
        Self {
            mode: ferrite_va::mpic::MpicMode::Off,
            timeout_ms: 5000,
            perspectives: Vec::new(),
            connect_timeout_ms: u64::try_from(connections.connect_timeout.as_millis())
                .unwrap_or(u64::MAX),
            pool_size: connections.pool_size,
            pool_idle_timeout_ms: u64::try_from(connections.pool_idle_timeout.as_millis())
                .unwrap_or(u64::MAX),
        }
    }
}

impl Mpic {
    /// How the primary connects to each perspective.
    pub fn connections(&self) -> ferrite_va::mpic::ConnectionSettings {
        ferrite_va::mpic::ConnectionSettings {
            connect_timeout: std::time::Duration::from_millis(self.connect_timeout_ms),
            pool_size: self.pool_size,
            pool_idle_timeout: std::time::Duration::from_millis(self.pool_idle_timeout_ms),
        }
    }
}

/// `[customers]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Customers {
    /// Whom a suspended customer's refusals (ACME `unauthorized`, admin API 403) tell it to
    /// contact: an email address or a URL, e.g. `billing@ca.example` or
    /// `https://ca.example/support`. Empty: "the operator of this certificate authority".
    pub suspended_contact: String,
}

/// `[tls]`: how the ACME listener speaks HTTPS. Either it terminates TLS itself with a
/// certificate Ferrite issues (with its intermediate, for `names`) and issues again before it
/// expires, or with the operator's (`cert_file`, `key_file`), read again whenever either file
/// changes; or a proxy in front of it terminates TLS (`mode = "behind-proxy"`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tls {
    /// `tls` (default): the listener terminates TLS. `behind-proxy`: it speaks plain HTTP to
    /// the proxies in `trusted_proxies` only, which terminate TLS for `base_url`.
    pub mode: TlsMode,
    /// With `mode = "behind-proxy"`: the proxies' addresses or networks (`10.0.0.7`,
    /// `10.0.0.0/8`, `::1`); requests from anywhere else are refused, and only these may tell
    /// the client's address (`Forwarded`, `X-Forwarded-For`).
    pub trusted_proxies: Vec<String>,
    /// DNS names and IP addresses of the certificate Ferrite issues its listener; empty:
    /// `localhost`, `127.0.0.1`, `::1` and `base_url`'s host. Must cover `base_url`'s host.
    pub names: Vec<String>,
    /// The operator's certificate chain for the listener (PEM, leaf first), e.g. from
    /// another CA that the clients already trust; with `key_file`, instead of Ferrite's own.
    pub cert_file: String,
    /// The private key of `cert_file` (PEM; readable by Ferrite's user only).
    pub key_file: String,
    /// Seconds between looks at `cert_file` and `key_file` for a change, or at Ferrite's own
    /// certificate for its renewal; 0: the default, 30.
    pub check_seconds: u64,
}

/// `tls.mode`: who terminates TLS for the ACME listener.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// The listener itself.
    #[default]
    Tls,
    /// A proxy in front of it (`tls.trusted_proxies`).
    BehindProxy,
}

/// How often the listener certificate is looked at when `tls.check_seconds` is 0.
const DEFAULT_TLS_CHECK_SECONDS: u64 = 30;

impl Tls {
    /// Whether the operator's files are served (rather than Ferrite's own certificate).
    pub fn operator_files(&self) -> bool {
        !self.cert_file.trim().is_empty()
    }

    /// Whether a proxy terminates TLS in front of the listener.
    pub fn behind_proxy(&self) -> bool {
        self.mode == TlsMode::BehindProxy
    }

    /// How often the listener certificate is looked at.
    pub fn check_every(&self) -> std::time::Duration {
        std::time::Duration::from_secs(if self.check_seconds == 0 {
            DEFAULT_TLS_CHECK_SECONDS
        } else {
            self.check_seconds
        })
    }
}

/// `[ari]`: renewal information (RFC 9773).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ari {
    /// Seconds a client should wait before asking for a certificate's renewal information
    /// again (`Retry-After`; RFC 9773 §4.3). 1 to 604800.
    pub retry_after_seconds: u32,
    /// The page renewal information points to (`explanationURL`) for a certificate to renew
    /// early: revoked, or marked by `ferrite ari advance` without `--reason`. Empty: none.
    pub explanation_url: String,
}

impl Default for Ari {
    fn default() -> Self {
        Self {
            retry_after_seconds: 6 * 3600,
            explanation_url: String::new(),
        }
    }
}

/// `[validation]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validation {
    /// Empty: the system resolver (/etc/resolv.conf); or `IP:PORT` of a DNS server.
    pub dns_resolver: String,
    /// Port http-01 fetches from (80 in production).
    pub http01_port: u16,
    /// Port tls-alpn-01 connects to (443 in production).
    pub tlsalpn01_port: u16,
    /// Allow validating names that resolve to private, loopback or reserved addresses. Only
    /// for tests on loopback.
    pub allow_private_addresses: bool,
    /// Days a successful validation is reused for new orders of the same customer. Unset: the
    /// CA/Browser Forum maximum for the issuance date (200 days from 2026-03-15, 100 from
    /// 2027-03-15, 10 from 2029-03-15). A value can only shorten that; a longer one is cut to
    /// the table (with a warning at startup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reuse_days: Option<u32>,
    /// The issuer domain names that identify this CA in CAA `issue` / `issuewild` records
    /// (RFC 8659 §4.2), also shown as `meta.caaIdentities` in the directory. Empty (the
    /// default): names whose CAA records authorize any CA are refused; names without CAA
    /// records are issued as usual.
    pub caa_identities: Vec<String>,
    /// Validate DNSSEC on every validation and CAA lookup (Baseline Requirements since
    /// 2026-03-15): a bogus answer fails with a `dns` problem, an unsigned zone proceeds. Off
    /// only for tests against an unsigned DNS server (pebble-challtestsrv).
    pub dnssec: bool,
    /// Empty: the IANA root zone keys built in. Or a file of DNSKEY and/or DS records in
    /// zone-file form (`. 172800 IN DNSKEY 257 3 8 AwEAA…`, `. 172800 IN DS 38696 8 2 683D…`),
    /// e.g. unbound's `root.key`, a private root or a test zone.
    pub dnssec_trust_anchor: String,
    /// Most validations this instance runs at once (each an outbound connection or a few
    /// DNS queries); more wait for a slot.
    pub max_concurrent: usize,
    /// Most of them one account runs at once.
    pub max_concurrent_per_account: usize,
    /// Most of them the accounts of one customer run at once: a customer whose validations
    /// are slow waits on its own share and leaves the rest to the others.
    pub max_concurrent_per_customer: usize,
}

/// `[limits]`: the bounds of every listener's connections. Each listener has its own cap, so
/// one flooded listener never stops the others; the caps together stay below the process's
/// open-file limit (cut at start, with a warning, when they would not).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Seconds a client may take to complete the TLS handshake (ACME listener).
    pub tls_handshake_timeout_seconds: u64,
    /// Seconds a client may take to send a request's headers.
    pub header_read_timeout_seconds: u64,
    /// Seconds a client may take to send a whole request body, from the request's start.
    pub body_read_timeout_seconds: u64,
    /// Seconds a connection may stay open with no request in flight (keep-alive, HTTP/2).
    pub idle_timeout_seconds: u64,
    /// Most connections one client address may hold on one listener.
    pub max_connections_per_address: usize,
    /// Most connections on the ACME listener.
    pub acme_max_connections: usize,
    /// Most connections on the public listener (CRL, issuer certificate, root, health).
    pub public_max_connections: usize,
    /// Most connections on the admin listener.
    pub admin_max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            tls_handshake_timeout_seconds: 10,
            header_read_timeout_seconds: 30,
            body_read_timeout_seconds: 30,
            idle_timeout_seconds: 60,
            max_connections_per_address: 256,
            acme_max_connections: 10_000,
            public_max_connections: 10_000,
            admin_max_connections: 256,
        }
    }
}

impl Limits {
    /// A listener's connection limits, with `max_connections` for its cap.
    pub fn connections(
        &self,
        max_connections: usize,
    ) -> ferrite_server::listener::ConnectionLimits {
        let secs = std::time::Duration::from_secs;
        ferrite_server::listener::ConnectionLimits {
            tls_handshake_timeout: secs(self.tls_handshake_timeout_seconds),
            header_read_timeout: secs(self.header_read_timeout_seconds),
            idle_timeout: secs(self.idle_timeout_seconds),
            max_connections,
            max_connections_per_address: self.max_connections_per_address,
        }
    }
}

/// `database_url`: a string whose `Debug` prints the URL with its password replaced by
/// `[redacted]`, so printing the configuration never shows it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(pub String);

impl DatabaseUrl {
    /// The URL as configured (with its password, if it carries one).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether no URL is set (the embedded SQLite database).
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match url::Url::parse(&self.0) {
            Ok(mut url) if url.password().is_some() || url.query().is_some() => {
                // Only fails for URLs that cannot have a password, and this one has one.
                if url.password().is_some() {
                    let _ = url.set_password(Some("redacted"));
                }
                // libpq URLs may carry the password as `?password=…`: no parameter is shown.
                if url.query().is_some() {
                    url.set_query(Some("redacted"));
                }
                write!(f, "{:?}", url.as_str())
            }
            Ok(_) => write!(f, "{:?}", self.0),
            Err(_) if self.is_empty() => write!(f, "{:?}", self.0),
            Err(_) => f.write_str("[redacted]"),
        }
    }
}

/// `[database]`: how to reach the PostgreSQL database `database_url` names.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// Most connections this instance opens; requests wait for a free one (at most 30 s).
    /// Every instance opens up to this many: keep their sum under the server's
    /// `max_connections`.
    pub max_connections: u32,
    /// A file holding the database password (a trailing newline is ignored), for a URL
    /// without one. Empty: the URL's password, else the `PGPASSWORD` environment variable.
    pub password_file: String,
}

impl Default for Database {
    fn default() -> Self {
        Self {
            max_connections: 16,
            password_file: String::new(),
        }
    }
}

/// Where the CA's private keys live (`ca.keys`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaKeys {
    /// PKCS#8 files in `data_dir/ca/private`, made by the first start (the quick start).
    Files,
    /// A PKCS#11 token (an HSM), made by `ferrite ca init`.
    Pkcs11,
}

/// `[ca]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaSection {
    /// `files` (default: keys in `data_dir/ca/private`, created on the first start) or
    /// `pkcs11` (keys in a token, made by `ferrite ca init`; `serve` uses only the
    /// intermediates').
    pub keys: CaKeys,
    /// The HSM vendor's PKCS#11 module, e.g. `/usr/lib/softhsm/libsofthsm2.so`.
    pub pkcs11_module: String,
    /// The token's label.
    pub pkcs11_token: String,
    /// A file holding the token's user PIN (trailing newline ignored); or set
    /// `FERRITE_CA__PKCS11_PIN`. Never logged.
    pub pkcs11_pin_file: String,
    /// The user PIN itself: meant for the environment (`FERRITE_CA__PKCS11_PIN`), not a
    /// configuration file.
    pub pkcs11_pin: SecretSetting,
    /// Most PKCS#11 sessions open at once for signing; they are opened as concurrent
    /// signatures need them.
    pub pkcs11_sessions: u32,
    /// organizationName of the root and the intermediate.
    pub organization: String,
    /// countryName of the root and the intermediate (two upper-case letters).
    pub country: String,
    /// The root's commonName; empty: "{organization} Root CA {random id}".
    pub root_common_name: String,
    /// The intermediate's commonName; empty: "{organization} Issuing CA {random id}".
    pub intermediate_common_name: String,
    /// The intermediates that issue certificates, by name (`intermediate`,
    /// `intermediate-rsa`, … as `ferrite ca show` lists them). Empty: every intermediate in
    /// `data_dir/ca`. The others are retired: they sign only the CRLs of the certificates
    /// they issued, until their own notAfter.
    pub active: Vec<String>,
}

/// `[policy]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Domains this CA never issues for: each blocks itself and all its subdomains
    /// (`rejectedIdentifier` at newOrder).
    pub blocked_domains: Vec<String>,
}

/// `[eab]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Eab {
    /// Directory `meta.externalAccountRequired`: newAccount needs an external account binding.
    pub required: bool,
    /// The key-encryption key sealing MAC keys at rest: 32 bytes, base64url. Empty: the file
    /// `data_dir/eab.kek` (created with mode 0600 on first use). Prefer the environment
    /// (`FERRITE_EAB__KEK`) over a config file for this secret.
    pub kek: SecretSetting,
    /// Days a new MAC key may bind accounts.
    pub mac_key_lifetime_days: u32,
    /// Most accounts one MAC key may bind.
    pub max_bindings: u32,
}

/// A secret configuration value: `Debug` prints `[redacted]`, so printing the configuration
/// never shows it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretSetting(pub String);

impl std::fmt::Debug for SecretSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `[issuance]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Issuance {
    /// Certificate validity in days, cut at issuance to the Baseline Requirements maximum for
    /// the issuance date (200 days from 2026-03-15, 100 from 2027-03-15, 47 from 2029-03-15).
    pub validity_days: u32,
    /// Accept CSRs signed with SHA-384/SHA-512 (default: SHA-256 only).
    pub allow_sha384_sha512_csr: bool,
    /// Accept (and ignore) an Extended Key Usage extension in CSRs (default: refused with
    /// `badCSR`; certificates are serverAuth only either way).
    pub allow_csr_extended_key_usage: bool,
    /// Smallest accepted RSA modulus in bits (2048 to 8192, a multiple of 8).
    pub rsa_min_bits: u32,
    /// Largest accepted RSA modulus in bits (2048 to 8192, a multiple of 8).
    pub rsa_max_bits: u32,
    /// Rounds of Fermat factorization tried on RSA moduli (close primes); 0 switches it off.
    pub fermat_rounds: u32,
    /// A file of SHA-256 hashes (hex, one per line, `#` comments) of the DER
    /// SubjectPublicKeyInfo of known-compromised keys; empty: none.
    pub blocked_keys_file: String,
    /// The certificate profile every order is issued with: `tlsserver` (built in:
    /// serverAuth, digitalSignature, CRL DP and AIA, `validity_days`) or the name of a
    /// `[profiles.NAME]` table.
    pub profile: String,
    /// Seconds a finalize may hold its order in `processing`. An instance that dies
    /// mid-issuance leaves the order there; after this long housekeeping (every 30 s, and at
    /// start) hands it back so the client can finalize again. Longer than any issuance,
    /// HSM signing included.
    pub finalize_lease_seconds: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 14000)),
            admin_listen: SocketAddr::from(([127, 0, 0, 1], 14001)),
            admin_trusted_network: false,
            admin_cert_file: String::new(),
            admin_key_file: String::new(),
            admin_trusted_proxies: Vec::new(),
            public_listen: SocketAddr::from(([127, 0, 0, 1], 14002)),
            data_dir: PathBuf::from("./ferrite-data"),
            database_url: DatabaseUrl::default(),
            database: Database::default(),
            base_url: String::new(),
            public_base_url: String::new(),
            log_format: "text".into(),
            validation: Validation {
                dns_resolver: String::new(),
                http01_port: 80,
                tlsalpn01_port: 443,
                allow_private_addresses: false,
                reuse_days: None,
                caa_identities: Vec::new(),
                dnssec: true,
                dnssec_trust_anchor: String::new(),
                max_concurrent: 256,
                max_concurrent_per_account: 16,
                max_concurrent_per_customer: 32,
            },
            // A commercial CA binds every account to a customer; the first start prints a
            // MAC key so the quick start still works.
            eab: Eab {
                required: true,
                kek: SecretSetting::default(),
                mac_key_lifetime_days: 30,
                max_bindings: 1000,
            },
            issuance: Issuance {
                validity_days: 90,
                allow_sha384_sha512_csr: false,
                allow_csr_extended_key_usage: false,
                rsa_min_bits: 2048,
                rsa_max_bits: 4096,
                fermat_rounds: ferrite_pki::DEFAULT_FERMAT_ROUNDS,
                blocked_keys_file: String::new(),
                profile: BUILT_IN_PROFILE.to_owned(),
                finalize_lease_seconds: 120,
            },
            policy: Policy::default(),
            limits: Limits::default(),
            ca: CaSection {
                keys: CaKeys::Files,
                pkcs11_module: String::new(),
                pkcs11_token: String::new(),
                pkcs11_pin_file: String::new(),
                pkcs11_pin: SecretSetting::default(),
                pkcs11_sessions: 16,
                organization: "Ferrite".to_owned(),
                country: "US".to_owned(),
                root_common_name: String::new(),
                intermediate_common_name: String::new(),
                active: Vec::new(),
            },
            profiles: std::collections::BTreeMap::new(),
            ari: Ari::default(),
            tls: Tls::default(),
            mpic: Mpic::default(),
            customers: Customers::default(),
            rate_limits: ferrite_core::rate_limit::RateLimits::default(),
            ct: Ct::default(),
            crl: Crl::default(),
        }
    }
}

impl Config {
    /// Whether the admin listener serves HTTPS (`admin_cert_file` and `admin_key_file`).
    pub fn admin_tls(&self) -> bool {
        !self.admin_cert_file.trim().is_empty()
    }

    /// Defaults ← file (if given) ← environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            anyhow::ensure!(
                file.exists(),
                "config file {} does not exist",
                file.display()
            );
            figment = figment.merge(Toml::file(file));
        }
        // FERRITE_CONFIG is the --config flag's variable and FERRITE_TEST_* belong to the test
        // suite; every other FERRITE_* variable is configuration and must name a real key.
        figment = figment.merge(Env::prefixed("FERRITE_").split("__").filter(|k| {
            let k = k.as_str().to_ascii_lowercase();
            k != "config"
                && !k.starts_with("test_")
                && !SECRET_VARIABLES.iter().any(|(v, _)| *v == k)
        }));
        // Secrets are taken verbatim: figment would read a PIN of digits as a number (and drop
        // its leading zeros).
        for (variable, key) in SECRET_VARIABLES {
            if let Ok(value) = std::env::var(format!("FERRITE_{}", variable.to_ascii_uppercase())) {
                figment = figment.merge(Serialized::default(key, value));
            }
        }
        let config: Config = figment
            .extract()
            .context("invalid configuration (see README, Configuration)")?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every setting a type cannot: ranges, names, what is supported. Each error names
    /// the key and says what to set.
    pub fn validate(&self) -> anyhow::Result<()> {
        let config = self;
        config.ct.logs()?;
        anyhow::ensure!(
            (1..=ferrite_pki::MAX_CRL_SHARDS).contains(&config.crl.shards),
            "crl.shards must be between 1 and {} (each shard is signed again every hour)",
            ferrite_pki::MAX_CRL_SHARDS
        );
        anyhow::ensure!(
            config.database_url.is_empty()
                || ferrite_store::is_postgres_url(config.database_url.expose()),
            "database_url must be a postgres:// URL (postgres://USER@HOST:PORT/DBNAME), or empty for the embedded SQLite database in data_dir"
        );
        anyhow::ensure!(
            (1..=1000).contains(&config.database.max_connections),
            "database.max_connections must be between 1 and 1000"
        );
        anyhow::ensure!(
            config.database.password_file.trim().is_empty() || !config.database_url.is_empty(),
            "database.password_file is set but database_url is empty: the embedded SQLite database needs no password; set database_url or leave password_file empty"
        );
        anyhow::ensure!(
            matches!(config.log_format.as_str(), "text" | "json"),
            "log_format must be \"text\" or \"json\""
        );
        anyhow::ensure!(
            (1..=200).contains(&config.issuance.validity_days),
            "issuance.validity_days must be between 1 and 200 (Baseline Requirements maximum)"
        );
        let rsa = config.issuance.rsa_min_bits..=config.issuance.rsa_max_bits;
        anyhow::ensure!(
            !rsa.is_empty()
                && [rsa.start(), rsa.end()]
                    .iter()
                    .all(|b| (2048..=8192).contains(*b) && *b % 8 == 0),
            "issuance.rsa_min_bits and rsa_max_bits must be multiples of 8 between 2048 and 8192 (Baseline Requirements §6.1.5), min no larger than max"
        );
        anyhow::ensure!(
            (1..=3600).contains(&config.issuance.finalize_lease_seconds),
            "issuance.finalize_lease_seconds must be between 1 and 3600 (longer than any issuance; default 120)"
        );
        anyhow::ensure!(
            config.issuance.fermat_rounds <= 100_000,
            "issuance.fermat_rounds must be at most 100000 (Let's Encrypt uses 100; 0 switches the check off)"
        );
        if let Some(bad) = config
            .validation
            .caa_identities
            .iter()
            .find(|d| !ferrite_va::is_issuer_domain_name(d))
        {
            anyhow::bail!(
                "validation.caa_identities: {bad:?} is not a domain name; list the issuer domain names your customers put in CAA issue records, e.g. [\"ca.example.com\"]"
            );
        }
        anyhow::ensure!(
            config.validation.reuse_days != Some(0),
            "validation.reuse_days must be at least 1; leave it unset for the Baseline Requirements maximum"
        );
        for d in &config.policy.blocked_domains {
            let normalized = ferrite_core::policy::IdentifierPolicy::new(&[d]);
            let ok = normalized
                .blocked_domains()
                .first()
                .is_some_and(|n| ferrite_proto::identifier::check_dns_name(n).is_ok());
            anyhow::ensure!(
                ok,
                "policy.blocked_domains: {d:?} is not a DNS name; list domains such as \"example.com\" (each blocks itself and its subdomains)"
            );
        }
        anyhow::ensure!(
            (1..=3650).contains(&config.eab.mac_key_lifetime_days),
            "eab.mac_key_lifetime_days must be between 1 and 3650"
        );
        anyhow::ensure!(
            config.eab.max_bindings >= 1,
            "eab.max_bindings must be at least 1"
        );
        anyhow::ensure!(
            config.base_url.is_empty() || https_host(&config.base_url).is_some(),
            "base_url = {:?}: ACME is served over HTTPS only (RFC 8555 §6.1); give the https:// URL clients reach, e.g. \"https://acme.example.com\", or leave it empty for https://{{listen}}",
            config.base_url
        );
        config.validate_tls()?;
        anyhow::ensure!(
            config.admin_cert_file.trim().is_empty() == config.admin_key_file.trim().is_empty(),
            "admin_cert_file and admin_key_file go together: set both (the admin listener then serves HTTPS) or neither (plain HTTP)"
        );
        ferrite_server::proxy::TrustedProxies::parse(&config.admin_trusted_proxies)
            .map_err(|e| anyhow::anyhow!("admin_trusted_proxies: {e}"))?;
        anyhow::ensure!(
            config.admin_listen.ip().is_loopback()
                || config.admin_trusted_network
                || config.admin_tls(),
            "admin_listen = {} is not a loopback address, and the admin listener is plain HTTP whose requests carry bearer secrets and session cookies: give it a certificate (admin_cert_file and admin_key_file), keep admin_listen on loopback and reach it through an SSH tunnel or a TLS-terminating proxy, or set admin_trusted_network = true if the network between it and its callers is trusted",
            config.admin_listen
        );
        let v = &config.validation;
        for (key, max) in [
            ("max_concurrent", v.max_concurrent),
            ("max_concurrent_per_account", v.max_concurrent_per_account),
            ("max_concurrent_per_customer", v.max_concurrent_per_customer),
        ] {
            anyhow::ensure!(
                (1..=100_000).contains(&max),
                "validation.{key} must be between 1 and 100000"
            );
        }
        let l = &config.limits;
        for (key, seconds) in [
            (
                "tls_handshake_timeout_seconds",
                l.tls_handshake_timeout_seconds,
            ),
            ("header_read_timeout_seconds", l.header_read_timeout_seconds),
            ("body_read_timeout_seconds", l.body_read_timeout_seconds),
            ("idle_timeout_seconds", l.idle_timeout_seconds),
        ] {
            anyhow::ensure!(
                (1..=3600).contains(&seconds),
                "limits.{key} must be between 1 and 3600 seconds"
            );
        }
        for (key, max) in [
            ("max_connections_per_address", l.max_connections_per_address),
            ("acme_max_connections", l.acme_max_connections),
            ("public_max_connections", l.public_max_connections),
            ("admin_max_connections", l.admin_max_connections),
        ] {
            anyhow::ensure!(
                (1..=1_000_000).contains(&max),
                "limits.{key} must be between 1 and 1000000"
            );
        }
        for name in config.profiles.keys() {
            config.profile(name)?;
        }
        self.issuing_profile()?;
        anyhow::ensure!(
            (1..=604_800).contains(&self.ari.retry_after_seconds),
            "ari.retry_after_seconds must be between 1 and 604800 (a week)"
        );
        let url = self.ari.explanation_url.trim();
        anyhow::ensure!(
            url.is_empty() || url.starts_with("https://") || url.starts_with("http://"),
            "ari.explanation_url must be an http:// or https:// URL, or empty"
        );
        self.validate_ca()?;
        ferrite_va::mpic::check_perspectives(
            self.mpic.mode,
            &self.mpic.perspectives,
            std::time::Duration::from_millis(self.mpic.timeout_ms),
        )
        .map_err(|e| anyhow::anyhow!(e))?;
        self.mpic
            .connections()
            .check()
            .map_err(|e| anyhow::anyhow!(e))?;
        Ok(())
    }

    /// How the store connects to PostgreSQL: `database.max_connections`, the password from
    /// `database.password_file` (read now) and `PGPASSWORD` as the fallback for a URL without
    /// one.
    pub fn postgres_options(&self) -> anyhow::Result<ferrite_store::PostgresOptions> {
        let file = self.database.password_file.trim();
        let password = if file.is_empty() {
            None
        } else {
            let text = std::fs::read_to_string(file).with_context(|| {
                format!(
                    "database.password_file: cannot read {file}; fix the path or leave it empty"
                )
            })?;
            let password = text.trim_end_matches(['\n', '\r']);
            anyhow::ensure!(
                !password.is_empty(),
                "database.password_file {file} is empty; write the database password into it"
            );
            Some(ferrite_store::DatabasePassword::new(password.to_owned()))
        };
        let fallback_password = std::env::var("PGPASSWORD")
            .ok()
            .filter(|p| !p.is_empty())
            .map(ferrite_store::DatabasePassword::new);
        Ok(ferrite_store::PostgresOptions {
            max_connections: self.database.max_connections as usize,
            password,
            fallback_password,
        })
    }

    /// `[ca]`: the names are valid for a certificate, and the token settings are complete
    /// when the keys are in a token.
    fn validate_ca(&self) -> anyhow::Result<()> {
        let placeholder = ferrite_pki::IssuerUrls {
            ca_issuers: "http://ca.invalid/i".to_owned(),
            crl: "http://ca.invalid/c".to_owned(),
            crl_shards: 1,
        };
        self.ca_options(placeholder)
            .validate()
            .map_err(|e| anyhow::anyhow!("[ca]: {e}"))?;
        let ca = &self.ca;
        if let Some(bad) = ca.active.iter().find(|n| {
            n.as_str() != ferrite_pki::PRIMARY_ISSUER_NAME && !ferrite_pki::is_intermediate_name(n)
        }) {
            anyhow::bail!(
                "ca.active: {bad:?} is not an intermediate's name; name them as `ferrite ca show` lists them: \"intermediate\" (intermediate.pem) or \"intermediate-NAME\" (intermediate-NAME.pem)"
            );
        }
        if ca.keys == CaKeys::Pkcs11 {
            anyhow::ensure!(
                !ca.pkcs11_module.trim().is_empty(),
                "ca.keys = \"pkcs11\" needs ca.pkcs11_module: the path of the HSM vendor's PKCS#11 library (SoftHSM: /usr/lib/softhsm/libsofthsm2.so)"
            );
            anyhow::ensure!(
                !ca.pkcs11_token.trim().is_empty(),
                "ca.keys = \"pkcs11\" needs ca.pkcs11_token: the label of the token holding the CA keys"
            );
            let (file, env) = (
                !ca.pkcs11_pin_file.trim().is_empty(),
                !ca.pkcs11_pin.0.is_empty(),
            );
            anyhow::ensure!(
                file != env,
                "ca.keys = \"pkcs11\" needs the token's user PIN from exactly one of ca.pkcs11_pin_file (a file readable only by Ferrite's user) and FERRITE_CA__PKCS11_PIN"
            );
            anyhow::ensure!(
                (1..=1024).contains(&ca.pkcs11_sessions),
                "ca.pkcs11_sessions must be between 1 and 1024"
            );
        }
        Ok(())
    }

    /// The CA's names and the listener's, with `urls` for what is issued.
    pub fn ca_options(&self, urls: ferrite_pki::IssuerUrls) -> ferrite_pki::CaOptions {
        let (dns, ips) = self.listener_names();
        let optional = |s: &str| {
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_owned())
        };
        ferrite_pki::CaOptions {
            organization: self.ca.organization.clone(),
            country: self.ca.country.clone(),
            root_common_name: optional(&self.ca.root_common_name),
            intermediate_common_name: optional(&self.ca.intermediate_common_name),
            tls_dns_names: dns,
            tls_ips: ips,
            ..ferrite_pki::CaOptions::new(urls)
        }
    }

    /// The DNS names and IP addresses of the certificate Ferrite issues its ACME listener:
    /// `tls.names`, else `localhost`, `127.0.0.1`, `::1` and `base_url`'s host.
    pub fn listener_names(&self) -> (Vec<String>, Vec<std::net::IpAddr>) {
        use std::net::IpAddr;
        let mut names: Vec<String> = self.tls.names.iter().map(|n| n.trim().to_owned()).collect();
        if names.is_empty() {
            names = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
            match https_host(&self.base_url) {
                Some(url::Host::Domain(d)) => names.push(d),
                Some(url::Host::Ipv4(ip)) => names.push(ip.to_string()),
                Some(url::Host::Ipv6(ip)) => names.push(ip.to_string()),
                None => {}
            }
        }
        let (mut dns, mut ips) = (Vec::new(), Vec::<IpAddr>::new());
        for name in names {
            match name.parse::<IpAddr>() {
                Ok(ip) if !ips.contains(&ip) => ips.push(ip),
                Ok(_) => {}
                Err(_) => {
                    let name = name.to_ascii_lowercase();
                    if !dns.contains(&name) {
                        dns.push(name);
                    }
                }
            }
        }
        (dns, ips)
    }

    /// `[tls]`: one source of the listener certificate, names that cover `base_url`.
    fn validate_tls(&self) -> anyhow::Result<()> {
        let tls = &self.tls;
        if tls.behind_proxy() {
            anyhow::ensure!(
                !tls.trusted_proxies.is_empty(),
                "tls.mode = \"behind-proxy\" needs tls.trusted_proxies: the addresses or networks of the proxies that terminate TLS in front of the ACME listener (only they are answered)"
            );
            ferrite_server::proxy::TrustedProxies::parse(&tls.trusted_proxies)
                .map_err(|e| anyhow::anyhow!("tls.trusted_proxies: {e}"))?;
            anyhow::ensure!(
                !self.base_url.is_empty(),
                "tls.mode = \"behind-proxy\" needs base_url: the https:// URL the proxy serves the ACME API at (the listener itself speaks plain HTTP)"
            );
            anyhow::ensure!(
                tls.names.is_empty() && !tls.operator_files(),
                "tls.mode = \"behind-proxy\": the proxy holds the certificate, so tls.names, tls.cert_file and tls.key_file have no use; remove them"
            );
            return Ok(());
        }
        anyhow::ensure!(
            tls.trusted_proxies.is_empty(),
            "tls.trusted_proxies is set but tls.mode is \"tls\" (the listener terminates TLS and takes requests from anyone): set tls.mode = \"behind-proxy\" or remove tls.trusted_proxies"
        );
        anyhow::ensure!(
            tls.cert_file.trim().is_empty() == tls.key_file.trim().is_empty(),
            "tls.cert_file and tls.key_file go together: set both (the operator's certificate for the ACME listener) or neither (Ferrite issues it)"
        );
        anyhow::ensure!(
            !tls.operator_files() || tls.names.is_empty(),
            "tls.names is for the certificate Ferrite issues its listener, and tls.cert_file is set: the names are the file's; remove one of them"
        );
        anyhow::ensure!(
            tls.check_seconds <= 86_400,
            "tls.check_seconds must be at most 86400 (a day); 0 is the default, 30"
        );
        for name in &tls.names {
            let n = name.trim();
            anyhow::ensure!(
                !n.is_empty()
                    && n.len() <= 253
                    && (n.parse::<std::net::IpAddr>().is_ok()
                        || n.split('.').enumerate().all(|(i, label)| {
                            (1..=63).contains(&label.len())
                                && (label
                                    .bytes()
                                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                                    || (i == 0 && label == "*"))
                        })),
                "tls.names: {name:?} is neither a DNS name nor an IP address"
            );
        }
        if !tls.names.is_empty()
            && let Some(host) = https_host(&self.base_url)
        {
            let (dns, ips) = self.listener_names();
            let covered = match &host {
                url::Host::Domain(d) => dns.iter().any(|n| {
                    n == d
                        || n.strip_prefix("*.").is_some_and(|parent| {
                            d.split_once('.').is_some_and(|(_, rest)| rest == parent)
                        })
                }),
                url::Host::Ipv4(ip) => ips.contains(&std::net::IpAddr::V4(*ip)),
                url::Host::Ipv6(ip) => ips.contains(&std::net::IpAddr::V6(*ip)),
            };
            anyhow::ensure!(
                covered,
                "tls.names = {:?} does not cover base_url's host {host}: clients would refuse the listener's certificate; add it to tls.names",
                tls.names
            );
        }
        Ok(())
    }

    /// How to reach the token (`ca.pkcs11_*`); reads the PIN file.
    pub fn token_settings(&self) -> anyhow::Result<ferrite_pki::pkcs11::TokenSettings> {
        let ca = &self.ca;
        let pin = if ca.pkcs11_pin.0.is_empty() {
            let path = Path::new(ca.pkcs11_pin_file.trim());
            let text = std::fs::read_to_string(path).with_context(|| {
                format!(
                    "ca.pkcs11_pin_file: cannot read {}; fix the path or its permissions, or set FERRITE_CA__PKCS11_PIN instead",
                    path.display()
                )
            })?;
            ferrite_pki::pkcs11::Pkcs11Pin::new(&text)
        } else {
            ferrite_pki::pkcs11::Pkcs11Pin::new(&ca.pkcs11_pin.0)
        };
        Ok(ferrite_pki::pkcs11::TokenSettings {
            module: PathBuf::from(ca.pkcs11_module.trim()),
            token: ca.pkcs11_token.clone(),
            pin,
            max_sessions: ca.pkcs11_sessions as usize,
        })
    }

    /// The profile `name`: a `[profiles.NAME]` table (its name is the key), or the built-in
    /// `tlsserver` with `issuance.validity_days`. Checked against the Baseline Requirements.
    pub fn profile(&self, name: &str) -> anyhow::Result<ferrite_pki::Profile> {
        let profile = match self.profiles.get(name) {
            Some(table) => {
                let mut profile = table.clone();
                anyhow::ensure!(
                    profile.name.is_empty() || profile.name == name,
                    "profiles.{name}: name = {:?} differs from the table's name; leave it out",
                    profile.name
                );
                profile.name = name.to_owned();
                profile
            }
            None if name == BUILT_IN_PROFILE => {
                let mut profile = ferrite_pki::Profile::tls_server();
                profile.validity_seconds = self.issuance.validity_days * 24 * 3600;
                profile.description = format!(
                    "TLS server certificates for {} days (the default)",
                    self.issuance.validity_days
                );
                profile
            }
            None if name == SHORT_LIVED_PROFILE => {
                let mut profile = ferrite_pki::Profile::short_lived();
                profile.description = "Short-lived TLS server certificates: 6 days, without a CRL distribution point (Baseline Requirements short-lived subscriber certificates)".to_owned();
                profile
            }
            None => anyhow::bail!(
                "issuance.profile = {name:?}: there is no [profiles.{name}] table; name one, or use {BUILT_IN_PROFILE:?} or {SHORT_LIVED_PROFILE:?}"
            ),
        };
        profile
            .validate()
            .map_err(|e| anyhow::anyhow!("profiles.{name}: {e}"))?;
        Ok(profile)
    }

    /// The profile orders are issued with (`issuance.profile`).
    pub fn issuing_profile(&self) -> anyhow::Result<ferrite_pki::Profile> {
        self.profile(&self.issuance.profile)
    }

    /// Every profile clients may order: the built-in ones and each `[profiles.NAME]` table,
    /// `issuance.profile` the default.
    pub fn offered_profiles(&self) -> anyhow::Result<ferrite_core::ca::Profiles> {
        let mut profiles = ferrite_core::ca::Profiles::new(self.issuing_profile()?);
        let names = [BUILT_IN_PROFILE, SHORT_LIVED_PROFILE]
            .into_iter()
            .chain(self.profiles.keys().map(String::as_str));
        for name in names {
            if name != self.issuance.profile {
                profiles.offer(self.profile(name)?);
            }
        }
        Ok(profiles)
    }

    /// The CSR policy for the engine; reads `issuance.blocked_keys_file` if one is set.
    pub fn csr_policy(&self) -> anyhow::Result<ferrite_pki::CsrPolicy> {
        let i = &self.issuance;
        let blocked_keys = if i.blocked_keys_file.trim().is_empty() {
            ferrite_pki::KeyBlocklist::default()
        } else {
            let path = Path::new(i.blocked_keys_file.trim());
            let text = std::fs::read_to_string(path).with_context(|| {
                format!(
                    "issuance.blocked_keys_file: cannot read {}; fix the path or leave it empty",
                    path.display()
                )
            })?;
            ferrite_pki::KeyBlocklist::parse(&text).map_err(|e| {
                anyhow::anyhow!("issuance.blocked_keys_file {}: {e}", path.display())
            })?
        };
        Ok(ferrite_pki::CsrPolicy {
            allow_sha384_sha512: i.allow_sha384_sha512_csr,
            allow_extended_key_usage: i.allow_csr_extended_key_usage,
            rsa_min_bits: i.rsa_min_bits as usize,
            rsa_max_bits: i.rsa_max_bits as usize,
            fermat_rounds: i.fermat_rounds,
            blocked_keys,
        })
    }

    /// The validation reuse policy for the engine, and a warning to log when
    /// `validation.reuse_days` is longer than the Baseline Requirements allow at `now` (it is
    /// cut to the table then, and again on each later step of the table).
    pub fn reuse_policy(
        &self,
        now: time::OffsetDateTime,
    ) -> (ferrite_core::policy::ReusePolicy, Option<String>) {
        use ferrite_core::policy::{ReusePolicy, br_max_reuse};
        let configured = self
            .validation
            .reuse_days
            .map(|d| time::Duration::days(i64::from(d)));
        let policy = ReusePolicy::new(configured);
        if !policy.operator_max_exceeds_br(now) {
            return (policy, None);
        }
        let br = br_max_reuse(now);
        let warning = format!(
            "validation.reuse_days = {} is longer than the Baseline Requirements allow today ({} days); validations are reused for at most {} days",
            self.validation.reuse_days.unwrap_or_default(),
            br.whole_days(),
            br.whole_days()
        );
        (ReusePolicy::new(Some(br)), Some(warning))
    }

    /// The identifier policy for the engine (`policy.blocked_domains`).
    pub fn identifier_policy(&self) -> ferrite_core::policy::IdentifierPolicy {
        ferrite_core::policy::IdentifierPolicy::new(&self.policy.blocked_domains)
    }

    /// MAC key limits and the suspended customers' contact, for the engine.
    pub fn eab_settings(&self) -> ferrite_core::eab::EabSettings {
        ferrite_core::eab::EabSettings {
            mac_key_lifetime: time::Duration::days(i64::from(self.eab.mac_key_lifetime_days)),
            max_bindings: self.eab.max_bindings,
            suspended_contact: Some(self.customers.suspended_contact.trim())
                .filter(|c| !c.is_empty())
                .map(str::to_owned),
        }
    }

    /// The public listener's base URL as certificates name it (their CRL and AIA URLs):
    /// `public_base_url`, else `http://{public}`, `public` being the address the listener is
    /// bound to.
    pub fn public_base_url(&self, public: SocketAddr) -> String {
        if self.public_base_url.is_empty() {
            format!("http://{public}")
        } else {
            self.public_base_url.trim_end_matches('/').to_owned()
        }
    }

    /// The ACME directory URL clients use (`base_url`, else `https://{listen}`).
    pub fn directory_url(&self) -> String {
        let base = if self.base_url.is_empty() {
            format!("https://{}", self.listen)
        } else {
            self.base_url.trim_end_matches('/').to_owned()
        };
        format!("{base}/directory")
    }

    /// The resolver address, if one is configured.
    pub fn dns_resolver(&self) -> anyhow::Result<Option<SocketAddr>> {
        let r = self.validation.dns_resolver.trim();
        if r.is_empty() {
            return Ok(None);
        }
        r.parse()
            .map(Some)
            .with_context(|| format!("validation.dns_resolver {r:?} is not IP:PORT"))
    }

    /// The validator's settings (`[validation]`).
    pub fn validator_config(&self) -> anyhow::Result<ferrite_va::VaConfig> {
        Ok(ferrite_va::VaConfig {
            dns_resolver: self.dns_resolver()?,
            http01_port: self.validation.http01_port,
            tlsalpn01_port: self.validation.tlsalpn01_port,
            allow_private_addresses: self.validation.allow_private_addresses,
            dnssec: self.validation.dnssec,
            dnssec_trust_anchor: self.dnssec_trust_anchor(),
            ..ferrite_va::VaConfig::default()
        })
    }

    /// The engine's settings as of `now`: EAB, issuance, validation reuse, identifier
    /// policy and CAA identities from the file, the KEK, and the account URL prefix the ACME
    /// router serves (for CAA `accounturi`). Logs a warning for each setting that the
    /// Baseline Requirements cut or that refuses more than the operator may expect.
    pub fn engine_config(
        &self,
        now: time::OffsetDateTime,
        eab_kek: ferrite_core::eab::Kek,
        account_url_prefix: String,
    ) -> anyhow::Result<ferrite_core::CaConfig> {
        // Baseline Requirements §6.3.2: finalize cuts the validity to the table's maximum for
        // the issuance date; say so at start rather than surprise the operator.
        let br_max = ferrite_pki::max_leaf_validity(now).whole_days();
        if i64::from(self.issuance.validity_days) > br_max {
            tracing::warn!(
                "issuance.validity_days = {} is above the Baseline Requirements maximum of {br_max} days for certificates issued now; certificates get {br_max} days",
                self.issuance.validity_days
            );
        }
        let (reuse, reuse_warning) = self.reuse_policy(now);
        if let Some(warning) = reuse_warning {
            tracing::warn!("{warning}");
        }
        if self.validation.caa_identities.is_empty() {
            tracing::warn!(
                "validation.caa_identities is empty: names whose CAA records authorize any CA will be refused; set it to the issuer domain name your customers publish in CAA issue records"
            );
        }
        Ok(ferrite_core::CaConfig {
            eab_required: self.eab.required,
            eab: self.eab_settings(),
            eab_kek: Some(eab_kek),
            caa_identities: self.validation.caa_identities.clone(),
            account_url_prefix,
            profiles: self.offered_profiles()?,
            renewal_info_retry_after: time::Duration::seconds(i64::from(
                self.ari.retry_after_seconds,
            )),
            renewal_explanation_url: Some(self.ari.explanation_url.trim().to_owned())
                .filter(|u| !u.is_empty()),
            validations_at_once: self.validation.max_concurrent,
            validations_per_account: self.validation.max_concurrent_per_account,
            validations_per_customer: self.validation.max_concurrent_per_customer,
            csr_policy: self.csr_policy()?,
            reuse,
            identifier_policy: self.identifier_policy(),
            finalize_lease: time::Duration::seconds(i64::from(
                self.issuance.finalize_lease_seconds,
            )),
            rate_limits: self.rate_limits.clone(),
            ..ferrite_core::CaConfig::default()
        })
    }

    /// The DNSSEC trust anchor: the IANA root keys, or the file `validation.dnssec_trust_anchor`
    /// names (read, and refused if it holds no DNSKEY or DS record, when the validator is built).
    pub fn dnssec_trust_anchor(&self) -> ferrite_va::TrustAnchor {
        match self.validation.dnssec_trust_anchor.trim() {
            "" => ferrite_va::TrustAnchor::IanaRoot,
            path => ferrite_va::TrustAnchor::File(PathBuf::from(path)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_default_like_lets_encrypt_and_reject_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f.toml");
        let c = Config::load(None).unwrap();
        assert_eq!(
            c.rate_limits,
            ferrite_core::rate_limit::RateLimits::default()
        );
        assert_eq!(c.rate_limits.new_orders_per_account, 300);
        std::fs::write(&f, "[rate_limits]\nnew_orders_per_account = 0\n").unwrap();
        let c = Config::load(Some(&f)).unwrap();
        assert_eq!(c.rate_limits.new_orders_per_account, 0);
        assert_eq!(c.rate_limits.new_accounts_per_address, 10);
        std::fs::write(&f, "[rate_limits]\nnew_orders_per_acount = 5\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&f)).unwrap_err());
        assert!(err.contains("new_orders_per_acount"), "{err}");
    }

    #[test]
    fn file_and_env_override_defaults_and_unknown_keys_fail() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f.toml");
        std::fs::write(
            &f,
            "listen = \"127.0.0.1:0\"\n[validation]\nhttp01_port = 5002\n",
        )
        .unwrap();
        let c = Config::load(Some(&f)).unwrap();
        assert_eq!(c.listen.port(), 0);
        assert_eq!(c.validation.http01_port, 5002);
        assert_eq!(c.validation.tlsalpn01_port, 443);

        std::fs::write(&f, "lisen = \"127.0.0.1:0\"\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&f)).unwrap_err());
        assert!(err.contains("lisen"), "{err}");
    }

    #[test]
    fn issuance_policy_keys_reach_the_csr_policy() {
        let c = Config::default();
        let p = c.csr_policy().unwrap();
        assert_eq!(p, ferrite_pki::CsrPolicy::default());
        assert_eq!(c.issuance.validity_days, 90);

        let dir = tempfile::tempdir().unwrap();
        let blocked = dir.path().join("blocked.txt");
        let hash = "ab".repeat(32);
        std::fs::write(&blocked, format!("# leaked keys\n{hash}\n")).unwrap();
        let f = dir.path().join("f.toml");
        std::fs::write(
            &f,
            format!(
                "[issuance]\nallow_csr_extended_key_usage = true\nrsa_min_bits = 3072\nfermat_rounds = 0\nblocked_keys_file = \"{}\"\n",
                blocked.display()
            ),
        )
        .unwrap();
        let p = Config::load(Some(&f)).unwrap().csr_policy().unwrap();
        assert!(p.allow_extended_key_usage);
        assert_eq!((p.rsa_min_bits, p.rsa_max_bits), (3072, 4096));
        assert_eq!(p.fermat_rounds, 0);
        assert_eq!(p.blocked_keys.len(), 1);

        // A bad line names the file and the line; a missing file names the key.
        std::fs::write(&blocked, "nothex\n").unwrap();
        let err = format!(
            "{:#}",
            Config::load(Some(&f)).unwrap().csr_policy().unwrap_err()
        );
        assert!(err.contains("line 1") && err.contains("blocked"), "{err}");
        std::fs::remove_file(&blocked).unwrap();
        let err = format!(
            "{:#}",
            Config::load(Some(&f)).unwrap().csr_policy().unwrap_err()
        );
        assert!(err.contains("issuance.blocked_keys_file"), "{err}");

        std::fs::write(&f, "[issuance]\nrsa_min_bits = 1024\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&f)).unwrap_err());
        assert!(err.contains("rsa_min_bits"), "{err}");
    }

    #[test]
    fn caa_identities_default_to_none_and_must_be_domain_names() {
        assert!(Config::default().validation.caa_identities.is_empty());
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f.toml");
        std::fs::write(
            &f,
            "[validation]\ncaa_identities = [\"ca.example.com\", \"ferrite.test\"]\n",
        )
        .unwrap();
        let c = Config::load(Some(&f)).unwrap();
        assert_eq!(
            c.validation.caa_identities,
            vec!["ca.example.com".to_owned(), "ferrite.test".to_owned()]
        );
        std::fs::write(&f, "[validation]\ncaa_identities = [\"ca example\"]\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&f)).unwrap_err());
        assert!(err.contains("caa_identities"), "{err}");
    }

    #[test]
    fn reuse_days_shortens_and_is_clamped_and_blocked_domains_reach_the_policy() {
        use time::macros::datetime;
        let now = datetime!(2026-11-30 00:00 UTC);
        let c = Config::default();
        let (p, warning) = c.reuse_policy(now);
        assert_eq!(p.operator_max, None);
        assert_eq!(p.window_at(now), time::Duration::days(200));
        assert!(warning.is_none());
        assert!(c.identifier_policy().blocked_domains().is_empty());

        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f.toml");
        std::fs::write(
            &f,
            "[validation]\nreuse_days = 30\n[policy]\nblocked_domains = [\"Bank.Example\", \"*.gov.test\"]\n",
        )
        .unwrap();
        let c = Config::load(Some(&f)).unwrap();
        let (p, warning) = c.reuse_policy(now);
        assert_eq!(p.window_at(now), time::Duration::days(30));
        assert!(warning.is_none());
        assert_eq!(
            c.identifier_policy().blocked_domains(),
            ["bank.example", "gov.test"]
        );

        std::fs::write(&f, "[validation]\nreuse_days = 400\n").unwrap();
        let (p, warning) = Config::load(Some(&f)).unwrap().reuse_policy(now);
        assert_eq!(p.window_at(now), time::Duration::days(200));
        let warning = warning.unwrap();
        assert!(
            warning.contains("400") && warning.contains("200 days"),
            "{warning}"
        );

        std::fs::write(&f, "[validation]\nreuse_days = 0\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&f)).unwrap_err());
        assert!(err.contains("reuse_days"), "{err}");
        std::fs::write(&f, "[policy]\nblocked_domains = [\"not a name\"]\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&f)).unwrap_err());
        assert!(err.contains("blocked_domains"), "{err}");
    }

    #[test]
    fn dnssec_is_on_by_default_with_the_iana_root_and_a_file_can_replace_it() {
        let c = Config::default();
        assert!(c.validation.dnssec);
        assert_eq!(c.dnssec_trust_anchor(), ferrite_va::TrustAnchor::IanaRoot);

        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f.toml");
        std::fs::write(
            &f,
            "[validation]\ndnssec = false\ndnssec_trust_anchor = \"/etc/ferrite/root.key\"\n",
        )
        .unwrap();
        let c = Config::load(Some(&f)).unwrap();
        assert!(!c.validation.dnssec);
        assert_eq!(
            c.dnssec_trust_anchor(),
            ferrite_va::TrustAnchor::File("/etc/ferrite/root.key".into())
        );
    }

    #[test]
    fn eab_is_required_by_default_with_30_day_1000_binding_keys() {
        let c = Config::default();
        assert!(c.eab.required);
        assert!(c.eab.kek.0.is_empty());
        let shown = format!(
            "{:?}",
            Config {
                eab: Eab {
                    kek: SecretSetting("c2VjcmV0".into()),
                    ..c.eab.clone()
                },
                ..c.clone()
            }
        );
        assert!(
            shown.contains("[redacted]") && !shown.contains("c2VjcmV0"),
            "{shown}"
        );
        let s = c.eab_settings();
        assert_eq!(s.mac_key_lifetime, time::Duration::days(30));
        assert_eq!(s.max_bindings, 1000);
        assert_eq!(s.suspended_contact, None);
    }

    #[test]
    fn the_suspended_contact_reaches_the_engine() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f.toml");
        std::fs::write(
            &f,
            "[customers]\nsuspended_contact = \" billing@ca.example \"\n",
        )
        .unwrap();
        let c = Config::load(Some(&f)).unwrap();
        assert_eq!(
            c.eab_settings().suspended_contact.as_deref(),
            Some("billing@ca.example")
        );
        std::fs::write(&f, "[customers]\nsuspended_contac = \"x\"\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&f)).unwrap_err());
        assert!(err.contains("suspended_contac"), "{err}");
    }
    #[test]
    fn database_settings_load_and_the_password_stays_out_of_debug() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f.toml");
        let password_file = dir.path().join("db.password");
        std::fs::write(&password_file, "file-secret-8c1\n").unwrap();
        std::fs::write(
            &f,
            "database_url = \"postgres://ferrite:url-secret-5e2@db.internal:5432/ferrite\"\n[database]\nmax_connections = 8\n",
        )
        .unwrap();
        let c = Config::load(Some(&f)).unwrap();
        assert_eq!(c.database.max_connections, 8);
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("url-secret-5e2") && shown.contains("db.internal"),
            "{shown}"
        );
        assert_eq!(c.postgres_options().unwrap().max_connections, 8);
        // libpq also takes the password as a query parameter.
        let in_query =
            DatabaseUrl("postgres://ferrite@db.internal/ferrite?password=q-secret-71".into());
        let shown = format!("{in_query:?}");
        assert!(
            !shown.contains("q-secret-71") && shown.contains("db.internal"),
            "{shown}"
        );

        std::fs::write(
            &f,
            format!(
                "database_url = \"postgres://ferrite@db.internal/ferrite\"\n[database]\npassword_file = \"{}\"\n",
                password_file.display()
            ),
        )
        .unwrap();
        let c = Config::load(Some(&f)).unwrap();
        let options = c.postgres_options().unwrap();
        assert_eq!(
            options.password,
            Some(ferrite_store::DatabasePassword::new(
                "file-secret-8c1".into()
            ))
        );
        let shown = format!("{c:?} {options:?}");
        assert!(!shown.contains("file-secret-8c1"), "{shown}");

        for (toml, want) in [
            ("database_url = \"mysql://db/ferrite\"\n", "postgres://"),
            ("[database]\nmax_connections = 0\n", "max_connections"),
            ("[database]\npassword_file = \"/x\"\n", "password_file"),
        ] {
            std::fs::write(&f, toml).unwrap();
            let err = format!("{:#}", Config::load(Some(&f)).unwrap_err());
            assert!(err.contains(want), "{toml}: {err}");
        }
    }

    #[test]
    fn a_profile_is_a_configuration_entry() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f.toml");
        std::fs::write(
            &f,
            "[issuance]\nprofile = \"shortlived\"\n[profiles.shortlived]\nvalidity_seconds = 518400\nkey_types = [\"p256\", \"p384\"]\n",
        )
        .unwrap();
        let c = Config::load(Some(&f)).unwrap();
        let p = c.issuing_profile().unwrap();
        assert_eq!(p.name, "shortlived");
        assert_eq!(p.validity(), time::Duration::days(6));
        assert_eq!(p.key_types.len(), 2);
        // The rest is the built-in profile's.
        assert_eq!(
            p.certificate_policies,
            ferrite_pki::Profile::tls_server().certificate_policies
        );
        // Without a table, the built-in profile with issuance.validity_days.
        let builtin = Config::default().issuing_profile().unwrap();
        assert_eq!(builtin.name, BUILT_IN_PROFILE);
        assert_eq!(builtin.validity(), time::Duration::days(90));

        // Each mistake names the key to fix.
        for (toml, want) in [
            (
                "[issuance]\nprofile = \"nosuch\"\n",
                "issuance.profile = \"nosuch\"",
            ),
            (
                "[profiles.long]\nvalidity_seconds = 86400000\n",
                "profiles.long",
            ),
            (
                "[profiles.x]\nname = \"y\"\n",
                "differs from the table's name",
            ),
            ("[profiles.x]\nkey_types = [\"p521\"]\n", "p521"),
        ] {
            std::fs::write(&f, toml).unwrap();
            let err = format!("{:#}", Config::load(Some(&f)).unwrap_err());
            assert!(err.contains(want), "{toml}: {err}");
        }
    }

    #[test]
    fn a_plain_http_admin_listener_stays_on_loopback_unless_the_network_is_trusted() {
        let mut c = Config {
            admin_listen: "0.0.0.0:14001".parse().unwrap(),
            ..Config::default()
        };
        let err = format!("{:#}", c.validate().unwrap_err());
        assert!(err.contains("admin_trusted_network"), "{err}");
        c.admin_trusted_network = true;
        c.validate().unwrap();
        c.admin_listen = "[::1]:14001".parse().unwrap();
        c.admin_trusted_network = false;
        c.validate().unwrap();
        // With its own certificate it may listen beyond loopback; the two files go together.
        c.admin_listen = "0.0.0.0:14001".parse().unwrap();
        c.admin_cert_file = "/etc/ferrite/admin.pem".into();
        let err = format!("{:#}", c.validate().unwrap_err());
        assert!(err.contains("go together"), "{err}");
        c.admin_key_file = "/etc/ferrite/admin.key".into();
        c.validate().unwrap();
    }

    #[test]
    fn admin_trusted_proxies_are_addresses_or_networks() {
        let mut c = Config {
            admin_trusted_proxies: vec!["10.0.0.0/8".into(), "::1".into()],
            ..Config::default()
        };
        c.validate().unwrap();
        c.admin_trusted_proxies.push("proxy.internal".into());
        let err = format!("{:#}", c.validate().unwrap_err());
        assert!(
            err.contains("admin_trusted_proxies") && err.contains("proxy.internal"),
            "{err}"
        );
    }

    #[test]
    fn base_url_is_an_https_url() {
        for bad in [
            "http://acme.example.com",
            "acme.example.com",
            "https://",
            "ftp://x",
        ] {
            let c = Config {
                base_url: bad.to_owned(),
                ..Config::default()
            };
            let err = format!("{:#}", c.validate().unwrap_err());
            assert!(err.contains("HTTPS only"), "{bad}: {err}");
        }
        for good in ["", "https://acme.example.com", "https://127.0.0.1:14000/"] {
            let c = Config {
                base_url: good.to_owned(),
                ..Config::default()
            };
            c.validate().unwrap();
        }
    }

    #[test]
    fn the_listener_names_default_to_loopback_and_base_urls_host() {
        let names = |base_url: &str, names: &[&str]| {
            let mut c = Config {
                base_url: base_url.to_owned(),
                ..Config::default()
            };
            c.tls.names = names.iter().map(|n| (*n).to_owned()).collect();
            c.listener_names()
        };
        let loopback: Vec<std::net::IpAddr> = vec![
            std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::Ipv6Addr::LOCALHOST.into(),
        ];
        assert_eq!(
            names("", &[]),
            (vec!["localhost".to_owned()], loopback.clone())
        );
        assert_eq!(
            names("https://ACME.example.com:8443/x", &[]),
            (
                vec!["localhost".to_owned(), "acme.example.com".to_owned()],
                loopback.clone()
            )
        );
        assert_eq!(
            names("https://127.0.0.1:14000", &[]),
            (vec!["localhost".to_owned()], loopback)
        );
        assert_eq!(
            names(
                "https://acme.example.com",
                &["acme.example.com", "192.0.2.1"]
            ),
            (
                vec!["acme.example.com".to_owned()],
                vec![std::net::Ipv4Addr::new(192, 0, 2, 1).into()]
            )
        );
    }

    #[test]
    fn tls_settings_name_one_source_that_covers_base_url() {
        let check = |base_url: &str, f: &dyn Fn(&mut Tls)| {
            let mut c = Config {
                base_url: base_url.to_owned(),
                ..Config::default()
            };
            f(&mut c.tls);
            c.validate().map_err(|e| format!("{e:#}"))
        };
        let err = check("", &|t| t.cert_file = "/etc/acme.pem".into()).unwrap_err();
        assert!(err.contains("go together"), "{err}");
        let err = check("", &|t| {
            t.cert_file = "/etc/acme.pem".into();
            t.key_file = "/etc/acme.key".into();
            t.names = vec!["acme.example.com".into()];
        })
        .unwrap_err();
        assert!(err.contains("remove one"), "{err}");
        let err = check("https://acme.example.com", &|t| {
            t.names = vec!["other.example.com".into()]
        })
        .unwrap_err();
        assert!(
            err.contains("does not cover base_url's host acme.example.com"),
            "{err}"
        );
        let err = check("", &|t| t.names = vec!["not a name".into()]).unwrap_err();
        assert!(
            err.contains("neither a DNS name nor an IP address"),
            "{err}"
        );
        let err = check("", &|t| t.check_seconds = 100_000).unwrap_err();
        assert!(err.contains("tls.check_seconds"), "{err}");
        check("https://acme.example.com", &|t| {
            t.names = vec!["*.example.com".into()]
        })
        .unwrap();
        check("https://[::1]:8443", &|t| t.names = vec!["::1".into()]).unwrap();
        check("https://acme.example.com", &|t| {
            t.cert_file = "/etc/acme.pem".into();
            t.key_file = "/etc/acme.key".into();
        })
        .unwrap();
    }

    #[test]
    fn behind_a_proxy_the_proxies_and_base_url_are_named() {
        let check = |base_url: &str, toml_tls: &str| {
            let mut c = Config {
                base_url: base_url.to_owned(),
                ..Config::default()
            };
            c.tls = Figment::from(Toml::string(toml_tls)).extract().unwrap();
            c.validate().map_err(|e| format!("{e:#}"))
        };
        let proxied = "mode = \"behind-proxy\"\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n";
        check("https://acme.example.com", proxied).unwrap();
        let err = check("", proxied).unwrap_err();
        assert!(err.contains("needs base_url"), "{err}");
        let err = check("https://acme.example.com", "mode = \"behind-proxy\"\n").unwrap_err();
        assert!(err.contains("needs tls.trusted_proxies"), "{err}");
        let err = check(
            "https://acme.example.com",
            "mode = \"behind-proxy\"\ntrusted_proxies = [\"lb.internal\"]\n",
        )
        .unwrap_err();
        assert!(err.contains("\"lb.internal\""), "{err}");
        let err = check(
            "https://acme.example.com",
            &format!("{proxied}names = [\"acme.example.com\"]\n"),
        )
        .unwrap_err();
        assert!(err.contains("have no use"), "{err}");
        let err = check("", "trusted_proxies = [\"10.0.0.1\"]\n").unwrap_err();
        assert!(err.contains("set tls.mode = \"behind-proxy\""), "{err}");
        assert!(
            Figment::from(Toml::string("mode = \"proxy\"\n"))
                .extract::<Tls>()
                .is_err()
        );
    }

    #[test]
    fn ca_keys_in_a_token_need_a_module_a_token_and_one_pin() {
        let c = Config::default();
        assert_eq!(c.ca.keys, CaKeys::Files);
        assert_eq!(c.ca.organization, "Ferrite");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f.toml");
        let pin = dir.path().join("pin");
        std::fs::write(&pin, "0042\n").unwrap();
        let complete = format!(
            "[ca]\nkeys = \"pkcs11\"\npkcs11_module = \"/usr/lib/softhsm/libsofthsm2.so\"\npkcs11_token = \"ferrite\"\npkcs11_pin_file = \"{}\"\norganization = \"Example Trust\"\nroot_common_name = \"Example Root R1\"\n",
            pin.display()
        );
        std::fs::write(&f, &complete).unwrap();
        let c = Config::load(Some(&f)).unwrap();
        let settings = c.token_settings().unwrap();
        assert_eq!(settings.token, "ferrite");
        assert_eq!(settings.max_sessions, 16);
        assert!(!format!("{settings:?} {c:?}").contains("0042"));
        let opts = c.ca_options(ferrite_pki::IssuerUrls {
            ca_issuers: "http://ca.example.com/i".into(),
            crl: "http://ca.example.com/c".into(),
            crl_shards: 1,
        });
        assert_eq!(opts.root_common_name.as_deref(), Some("Example Root R1"));
        assert_eq!(opts.intermediate_common_name, None);

        for (remove, add, want) in [
            ("pkcs11_module", "", "needs ca.pkcs11_module"),
            ("pkcs11_token", "", "needs ca.pkcs11_token"),
            ("pkcs11_pin_file", "", "exactly one of ca.pkcs11_pin_file"),
            (
                "",
                "pkcs11_pin = \"1\"\n",
                "exactly one of ca.pkcs11_pin_file",
            ),
            ("", "pkcs11_sessions = 0\n", "ca.pkcs11_sessions"),
            ("", "country = \"usa\"\n", "country"),
            ("", "keys = \"cloud\"\n", "keys"),
        ] {
            let mut toml: String = complete
                .lines()
                .filter(|l| remove.is_empty() || !l.starts_with(remove))
                .filter(|l| !(add.starts_with("keys") && l.starts_with("keys")))
                .map(|l| format!("{l}\n"))
                .collect();
            toml.push_str(add);
            std::fs::write(&f, &toml).unwrap();
            let err = format!("{:#}", Config::load(Some(&f)).unwrap_err());
            assert!(err.contains(want), "{toml}: {err}");
        }
    }
}
