//! A TLS listener's certificate while the instance serves: the ACME listener's is Ferrite's
//! own (issued by the intermediate into `data_dir/ca`, issued again [`LISTENER_RENEW_BEFORE`]
//! before it expires) or the operator's `tls.cert_file` and `tls.key_file`; the admin
//! listener's, when it has one, is the operator's `admin_cert_file` and `admin_key_file`.
//! Operator files are read again whenever either changes. Either way the new certificate is served from the next handshake on, without a
//! restart; a renewal or a file that fails leaves the current certificate served and says why
//! in the log.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use ferrite_core::Clock;
use ferrite_pki::{CaOptions, Issuer, LISTENER_RENEW_BEFORE, SecretPem};
use ferrite_server::tls::ListenerCertificate;
use time::OffsetDateTime;
use tokio::task::JoinHandle;

/// After a failed renewal of Ferrite's own certificate, the next try waits this long (the
/// certificate still has weeks left; a failing token is not hammered every few seconds).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(600);

/// Where the served certificate comes from, and what is needed to get the next one.
pub(crate) enum Source {
    /// Ferrite's own, in `dir` (`tls.pem`, `private/tls.key`), issued by `issuer`.
    Own {
        dir: PathBuf,
        issuer: Arc<Issuer>,
        opts: CaOptions,
    },
    /// The operator's files, and what they looked like when last read.
    Files {
        cert: PathBuf,
        key: PathBuf,
        seen: Option<Stamp>,
        keys: FileKeys,
    },
}

/// Which listener's files these are: the configuration keys that name them, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileKeys {
    /// The certificate chain's key (`tls.cert_file`).
    pub(crate) cert: &'static str,
    /// The private key's key (`tls.key_file`).
    pub(crate) key: &'static str,
    /// The listener, as log lines name it.
    pub(crate) listener: &'static str,
}

/// The ACME listener's files.
pub(crate) const ACME_FILES: FileKeys = FileKeys {
    cert: "tls.cert_file",
    key: "tls.key_file",
    listener: "ACME listener",
};

/// The admin listener's files.
pub(crate) const ADMIN_FILES: FileKeys = FileKeys {
    cert: "admin_cert_file",
    key: "admin_key_file",
    listener: "admin listener",
};

/// The modification times and sizes of the certificate and key files: a change in either
/// is a reason to read them again.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Stamp([(Option<SystemTime>, u64); 2]);

impl Stamp {
    fn of(cert: &Path, key: &Path) -> Option<Stamp> {
        let one = |p: &Path| {
            std::fs::metadata(p)
                .ok()
                .map(|m| (m.modified().ok(), m.len()))
        };
        Some(Stamp([one(cert)?, one(key)?]))
    }
}

/// The operator's certificate chain and key from `cert` and `key`, checked: they parse, the
/// key is the leaf's. Returns the served certificate's parts and the leaf's notAfter.
pub(crate) fn read_files(
    cert: &Path,
    key: &Path,
    keys: FileKeys,
) -> anyhow::Result<(String, SecretPem, OffsetDateTime)> {
    let chain_pem = std::fs::read_to_string(cert)
        .with_context(|| format!("{}: cannot read {}", keys.cert, cert.display()))?;
    let key_pem = SecretPem::new(
        std::fs::read_to_string(key)
            .with_context(|| format!("{}: cannot read {}", keys.key, key.display()))?,
    );
    let leaf = {
        use rustls_pki_types::pem::PemObject;
        rustls_pki_types::CertificateDer::pem_slice_iter(chain_pem.as_bytes())
            .next()
            .and_then(Result::ok)
            .with_context(|| {
                format!(
                    "{}: {} holds no PEM certificate; give the chain, leaf first",
                    keys.cert,
                    cert.display()
                )
            })?
    };
    let parsed = ferrite_pki::parse_certificate(&leaf).map_err(|e| {
        anyhow::anyhow!(
            "{}: the first certificate of {} does not parse: {e}",
            keys.cert,
            cert.display()
        )
    })?;
    // Checked here too (not only by rustls when served) so that the error names the files.
    ListenerCertificate::new(&chain_pem, key_pem.expose(), parsed.not_after).with_context(
        || {
            format!(
                "{} and {}: {} and {} are not a certificate chain and its key",
                keys.cert,
                keys.key,
                cert.display(),
                key.display()
            )
        },
    )?;
    Ok((chain_pem, key_pem, parsed.not_after))
}

/// Looks at the listener's certificate every `every` (with `clock`'s time) and replaces the
/// served one when its source has a new one, until the task is aborted.
pub(crate) fn spawn_watch(
    mut source: Source,
    served: Arc<ListenerCertificate>,
    clock: Arc<dyn Clock>,
    every: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut not_before = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(every).await;
            if tokio::time::Instant::now() < not_before {
                continue;
            }
            if !check(&mut source, &served, clock.now()).await {
                not_before = tokio::time::Instant::now() + RETRY_AFTER_FAILURE;
            }
        }
    })
}

/// One look; false when getting the next certificate failed (the current one stays).
pub(crate) async fn check(
    source: &mut Source,
    served: &ListenerCertificate,
    now: OffsetDateTime,
) -> bool {
    match source {
        Source::Own { dir, issuer, opts } => {
            let left = served.not_after() - now;
            if left >= LISTENER_RENEW_BEFORE {
                return true;
            }
            let (dir, issuer, opts) = (dir.clone(), issuer.clone(), opts.clone());
            let renewed = tokio::task::spawn_blocking(move || {
                ferrite_pki::renew_listener(&dir, &issuer, &opts, now)
            })
            .await;
            let renewed = match renewed {
                Ok(Ok(renewed)) => renewed,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, days_left = left.whole_days(), "cannot renew the ACME listener's certificate; the current one is served until it expires; retrying in 10 minutes");
                    return false;
                }
                Err(e) => {
                    tracing::error!(error = %e, "the ACME listener's certificate renewal stopped; retrying in 10 minutes");
                    return false;
                }
            };
            match served.replace(&renewed.chain_pem, renewed.key.expose(), renewed.not_after) {
                Ok(()) => {
                    tracing::info!(not_after = %renewed.not_after, "renewed the ACME listener's certificate; new connections get it");
                    true
                }
                Err(e) => {
                    tracing::error!(error = %e, "the renewed ACME listener certificate cannot be served; retrying in 10 minutes");
                    false
                }
            }
        }
        Source::Files {
            cert,
            key,
            seen,
            keys,
        } => {
            let now_seen = Stamp::of(cert, key);
            if now_seen == *seen {
                return true;
            }
            *seen = now_seen;
            let loaded = read_files(cert, key, *keys).and_then(|(chain, key_pem, not_after)| {
                served
                    .replace(&chain, key_pem.expose(), not_after)
                    .map(|()| not_after)
                    .map_err(anyhow::Error::from)
            });
            match loaded {
                Ok(not_after) => {
                    tracing::info!(file = %cert.display(), %not_after, listener = keys.listener, "read the listener's certificate again after a change; new connections get it");
                }
                // A pair caught mid-replacement (new certificate, old key) is read again
                // at the next change.
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), files = %format!("{} / {}", keys.cert, keys.key), "the changed certificate files cannot be served; the previous certificate still is");
                }
            }
            true
        }
    }
}

/// The operator's files as a [`Source`] with what they look like now.
pub(crate) fn files_source(cert: PathBuf, key: PathBuf, keys: FileKeys) -> Source {
    let seen = Stamp::of(&cert, &key);
    Source::Files {
        cert,
        key,
        seen,
        keys,
    }
}
