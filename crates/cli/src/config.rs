//! Configuration: embedded defaults, then an optional TOML file, then `FERRITE_*` environment
//! variables (`FERRITE_VALIDATION__DNS_RESOLVER` sets `validation.dns_resolver`). Unknown keys
//! are an error, so a typo never silently falls back to a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The whole configuration. Field docs are the reference (README "Configuration" mirrors them).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    /// ACME over HTTPS; the directory is at `https://HOST:PORT/directory`. Port 0 picks a free
    /// port (printed at start).
    pub(crate) listen: SocketAddr,
    /// Plain HTTP: issuer certificate, root, CRL, health (later also admin API and portal).
    pub(crate) admin_listen: SocketAddr,
    /// CA keys and certificates, the SQLite database, the listener's TLS certificate.
    pub(crate) data_dir: PathBuf,
    /// Empty: SQLite in `data_dir`. (PostgreSQL is not supported yet.)
    pub(crate) database_url: String,
    /// The ACME base URL clients use; empty: `https://{listen}`.
    pub(crate) base_url: String,
    /// The plain-HTTP base URL written into certificates (AIA, CRL DP); empty:
    /// `http://{admin_listen}`.
    pub(crate) public_base_url: String,
    /// `text` or `json` log lines; levels come from `RUST_LOG` (default `info`).
    pub(crate) log_format: String,
    /// Validation settings.
    pub(crate) validation: Validation,
    /// External account binding.
    pub(crate) eab: Eab,
    /// Issuance settings.
    pub(crate) issuance: Issuance,
}

/// `[validation]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Validation {
    /// Empty: the system resolver (/etc/resolv.conf); or `IP:PORT` of a DNS server.
    pub(crate) dns_resolver: String,
    /// Port http-01 fetches from (80 in production).
    pub(crate) http01_port: u16,
    /// Port tls-alpn-01 connects to (443 in production).
    pub(crate) tlsalpn01_port: u16,
    /// Allow validating names that resolve to private, loopback or reserved addresses. Only
    /// for tests on loopback.
    pub(crate) allow_private_addresses: bool,
}

/// `[eab]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Eab {
    /// Directory `meta.externalAccountRequired`: newAccount needs an external account binding.
    pub(crate) required: bool,
    /// The key-encryption key sealing MAC keys at rest: 32 bytes, base64url. Empty: the file
    /// `data_dir/eab.kek` (created with mode 0600 on first use). Prefer the environment
    /// (`FERRITE_EAB__KEK`) over a config file for this secret.
    pub(crate) kek: SecretSetting,
    /// Days a new MAC key may bind accounts.
    pub(crate) mac_key_lifetime_days: u32,
    /// Most accounts one MAC key may bind.
    pub(crate) max_bindings: u32,
}

/// A secret configuration value: `Debug` prints `[redacted]`, so printing the configuration
/// never shows it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct SecretSetting(pub(crate) String);

impl std::fmt::Debug for SecretSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `[issuance]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Issuance {
    /// Certificate validity in days.
    pub(crate) validity_days: u32,
    /// Accept CSRs signed with SHA-384/SHA-512 (default: SHA-256 only).
    pub(crate) allow_sha384_sha512_csr: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 14000)),
            admin_listen: SocketAddr::from(([127, 0, 0, 1], 14001)),
            data_dir: PathBuf::from("./ferrite-data"),
            database_url: String::new(),
            base_url: String::new(),
            public_base_url: String::new(),
            log_format: "text".into(),
            validation: Validation {
                dns_resolver: String::new(),
                http01_port: 80,
                tlsalpn01_port: 443,
                allow_private_addresses: false,
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
            },
        }
    }
}

impl Config {
    /// Defaults ← file (if given) ← environment.
    pub(crate) fn load(file: Option<&Path>) -> anyhow::Result<Self> {
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
            k != "config" && !k.starts_with("test_")
        }));
        let config: Config = figment
            .extract()
            .context("invalid configuration (see README, Configuration)")?;
        anyhow::ensure!(
            config.database_url.is_empty(),
            "database_url: only the embedded SQLite database is supported so far; leave it empty"
        );
        anyhow::ensure!(
            matches!(config.log_format.as_str(), "text" | "json"),
            "log_format must be \"text\" or \"json\""
        );
        anyhow::ensure!(
            (1..=200).contains(&config.issuance.validity_days),
            "issuance.validity_days must be between 1 and 200 (Baseline Requirements maximum)"
        );
        anyhow::ensure!(
            (1..=3650).contains(&config.eab.mac_key_lifetime_days),
            "eab.mac_key_lifetime_days must be between 1 and 3650"
        );
        anyhow::ensure!(
            config.eab.max_bindings >= 1,
            "eab.max_bindings must be at least 1"
        );
        Ok(config)
    }

    /// MAC key limits for the engine.
    pub(crate) fn eab_settings(&self) -> ferrite_core::eab::EabSettings {
        ferrite_core::eab::EabSettings {
            mac_key_lifetime: time::Duration::days(i64::from(self.eab.mac_key_lifetime_days)),
            max_bindings: self.eab.max_bindings,
        }
    }

    /// The ACME directory URL clients use (`base_url`, else `https://{listen}`).
    pub(crate) fn directory_url(&self) -> String {
        let base = if self.base_url.is_empty() {
            format!("https://{}", self.listen)
        } else {
            self.base_url.trim_end_matches('/').to_owned()
        };
        format!("{base}/directory")
    }

    /// The resolver address, if one is configured.
    pub(crate) fn dns_resolver(&self) -> anyhow::Result<Option<SocketAddr>> {
        let r = self.validation.dns_resolver.trim();
        if r.is_empty() {
            return Ok(None);
        }
        r.parse()
            .map(Some)
            .with_context(|| format!("validation.dns_resolver {r:?} is not IP:PORT"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
