//! From `database_url` to a connection configuration: the password's source, TLS, timeouts.
//!
//! The URL is libpq's (`postgres://user:password@host:port/dbname?sslmode=require`), read by
//! tokio-postgres except for the TLS parameters, which Ferrite reads itself so that every mode
//! that uses TLS also verifies the server:
//!
//! - `sslmode` absent or `disable`: no TLS (a database on loopback or a private network);
//! - `prefer` or `allow`: TLS when the server offers it, plaintext when it does not;
//! - `require`, `verify-ca` or `verify-full`: TLS or no connection.
//!
//! Whenever TLS is used, the server's certificate must chain to `sslrootcert` (a PEM file of
//! CA certificates, in the URL) or, without it, to the system's trust store, and name the host
//! (libpq's `verify-full`). TLS is rustls on aws-lc-rs, like every other TLS in Ferrite.
//!
//! No error message here quotes the URL: it may carry the password.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ferrite_core::StoreError;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// How long opening one connection may take, unless the URL sets `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A database password. `Debug` prints `[redacted]`, so it never reaches a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabasePassword(String);

impl DatabasePassword {
    /// Wraps a password (a file's trailing newline already removed by the caller).
    pub fn new(password: String) -> DatabasePassword {
        DatabasePassword(password)
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DatabasePassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// How to reach a PostgreSQL database beyond its URL.
#[derive(Clone, Debug)]
pub struct PostgresOptions {
    /// Most connections the pool keeps open; requests wait for a free one.
    pub max_connections: usize,
    /// A password given apart from the URL (`database.password_file`). A URL that carries a
    /// password too is refused: two sources, and no way to tell which one the operator meant.
    pub password: Option<DatabasePassword>,
    /// The password when neither the URL nor `password` gives one (libpq's `PGPASSWORD`).
    pub fallback_password: Option<DatabasePassword>,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            password: None,
            fallback_password: None,
        }
    }
}

/// Whether `database_url` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres_url(database_url: &str) -> bool {
    let url = database_url.trim_start();
    ["postgres://", "postgresql://"]
        .iter()
        .any(|scheme| url.len() >= scheme.len() && url[..scheme.len()].eq_ignore_ascii_case(scheme))
}

/// What the pool connects with.
pub(crate) struct Target {
    pub(crate) config: tokio_postgres::Config,
    pub(crate) tls: MakeRustlsConnect,
}

/// Reads `database_url` and `options` into a connection configuration. Errors name the part
/// to fix, never the URL's text.
pub(crate) fn target(database_url: &str, options: &PostgresOptions) -> Result<Target, StoreError> {
    let bad = |what: String| StoreError::Backend(format!("database_url: {what}"));
    let mut url = url::Url::parse(database_url.trim()).map_err(|e| {
        bad(format!(
            "not a valid URL ({e}); write postgres://USER@HOST:PORT/DBNAME"
        ))
    })?;
    if !is_postgres_url(url.as_str()) {
        return Err(bad(
            "only postgres:// URLs name a PostgreSQL database".to_owned()
        ));
    }
    let mut ssl_mode = None;
    let mut root_file = None;
    let rest: Vec<(String, String)> = url
        .query_pairs()
        .filter_map(|(key, value)| match key.as_ref() {
            "sslmode" => {
                ssl_mode = Some(value.into_owned());
                None
            }
            "sslrootcert" => {
                root_file = Some(value.into_owned());
                None
            }
            _ => Some((key.into_owned(), value.into_owned())),
        })
        .collect();
    if rest.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(rest);
    }
    let mut config: tokio_postgres::Config = url.as_str().parse().map_err(|e| {
        bad(format!(
            "{e}; see the libpq connection URI format (postgres://USER@HOST:PORT/DBNAME?PARAM=VALUE)"
        ))
    })?;

    match (config.get_password().is_some(), &options.password) {
        (true, Some(_)) => {
            return Err(bad(
                "the URL carries a password and database.password_file gives one too; keep one of them"
                    .to_owned(),
            ));
        }
        (false, Some(password)) => {
            config.password(password.expose());
        }
        (false, None) => {
            if let Some(password) = &options.fallback_password {
                config.password(password.expose());
            }
        }
        (true, None) => {}
    }

    let ssl_mode = match ssl_mode.as_deref() {
        None | Some("disable") => SslMode::Disable,
        Some("allow" | "prefer") => SslMode::Prefer,
        Some("require" | "verify-ca" | "verify-full") => SslMode::Require,
        Some(other) => {
            return Err(bad(format!(
                "sslmode={other} is not one of disable, allow, prefer, require, verify-ca, verify-full"
            )));
        }
    };
    config.ssl_mode(ssl_mode);
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("ferrite");
    }
    let roots = match ssl_mode {
        SslMode::Disable => rustls::RootCertStore::empty(),
        _ => trust_roots(root_file.as_deref().map(Path::new))?,
    };
    Ok(Target {
        config,
        tls: MakeRustlsConnect::new(client_config(roots)?),
    })
}

/// The CA certificates a database server's certificate must chain to: the PEM file
/// `sslrootcert`, or the system's trust store.
fn trust_roots(file: Option<&Path>) -> Result<rustls::RootCertStore, StoreError> {
    let mut roots = rustls::RootCertStore::empty();
    let certificates: Vec<CertificateDer<'static>> = match file {
        Some(path) => CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<_, _>>())
            .map_err(|e| {
                StoreError::Backend(format!(
                    "database_url: sslrootcert {}: {e}; name a PEM file of the CA certificates that sign the database server's certificate",
                    path.display()
                ))
            })?,
        None => {
            let found = rustls_native_certs::load_native_certs();
            if found.certs.is_empty() {
                return Err(StoreError::Backend(format!(
                    "database_url asks for TLS, and the system's trust store has no CA certificate ({:?}); add sslrootcert=/path/to/ca.pem to the URL",
                    found.errors
                )));
            }
            found.certs
        }
    };
    let (added, _ignored) = roots.add_parsable_certificates(certificates);
    if added == 0 {
        return Err(StoreError::Backend(
            "database_url: no usable CA certificate to verify the database server with; check sslrootcert".to_owned(),
        ));
    }
    Ok(roots)
}

/// TLS 1.2 and 1.3 on aws-lc-rs, verifying the server against `roots`.
fn client_config(roots: rustls::RootCertStore) -> Result<rustls::ClientConfig, StoreError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Backend(format!("cannot set up TLS to the database: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(password: Option<&str>, fallback: Option<&str>) -> PostgresOptions {
        PostgresOptions {
            max_connections: 4,
            password: password.map(|p| DatabasePassword::new(p.to_owned())),
            fallback_password: fallback.map(|p| DatabasePassword::new(p.to_owned())),
        }
    }

    #[test]
    fn only_postgres_urls_are_postgres() {
        assert!(is_postgres_url("postgres://db/ferrite"));
        assert!(is_postgres_url("PostgreSQL://db/ferrite"));
        assert!(!is_postgres_url(""));
        assert!(!is_postgres_url("mysql://db/ferrite"));
        assert!(!is_postgres_url("sqlite:ferrite.db"));
    }

    #[test]
    fn the_password_comes_from_one_source() {
        let password = |t: &Target| t.config.get_password().map(<[u8]>::to_vec);
        let url = "postgres://ferrite:from-url@127.0.0.1:5433/ferrite";
        let t = target(url, &options(None, Some("from-env"))).unwrap();
        assert_eq!(
            password(&t),
            Some(b"from-url".to_vec()),
            "the URL wins over the environment"
        );
        let err = target(url, &options(Some("from-file"), None))
            .err()
            .unwrap();
        let message = err.to_string();
        assert!(message.contains("password_file"), "{message}");
        assert!(
            !message.contains("from-url") && !message.contains("from-file"),
            "{message}"
        );

        let url = "postgres://ferrite@127.0.0.1:5433/ferrite";
        let t = target(url, &options(Some("from-file"), Some("from-env"))).unwrap();
        assert_eq!(password(&t), Some(b"from-file".to_vec()));
        let t = target(url, &options(None, Some("from-env"))).unwrap();
        assert_eq!(password(&t), Some(b"from-env".to_vec()));
        let t = target(url, &options(None, None)).unwrap();
        assert_eq!(password(&t), None);
    }

    #[test]
    fn sslmode_is_read_here_and_other_parameters_pass_through() {
        let t = target(
            "postgres://ferrite@db.internal/ferrite?sslmode=verify-full&application_name=edge-1",
            &PostgresOptions::default(),
        );
        // The system trust store may be empty on a minimal machine; either way, TLS is required.
        if let Ok(t) = t {
            assert_eq!(t.config.get_ssl_mode(), SslMode::Require);
            assert_eq!(t.config.get_application_name(), Some("edge-1"));
            assert_eq!(t.config.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        }
        let t = target(
            "postgres://ferrite@127.0.0.1/ferrite",
            &PostgresOptions::default(),
        )
        .unwrap();
        assert_eq!(t.config.get_ssl_mode(), SslMode::Disable);
        assert_eq!(t.config.get_application_name(), Some("ferrite"));

        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = target(
            &format!(
                "postgres://ferrite:s3cret@127.0.0.1/ferrite?sslmode=require&sslrootcert={}",
                missing.display()
            ),
            &PostgresOptions::default(),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            err.contains("sslrootcert") && !err.contains("s3cret"),
            "{err}"
        );
        let err = target(
            "postgres://ferrite:s3cret@127.0.0.1/ferrite?sslmode=sometimes",
            &PostgresOptions::default(),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            err.contains("sslmode=sometimes") && !err.contains("s3cret"),
            "{err}"
        );
    }

    #[test]
    fn the_password_never_reaches_debug_output() {
        let shown = format!("{:?}", options(Some("hunter2"), Some("hunter3")));
        assert!(!shown.contains("hunter"), "{shown}");
    }
}
