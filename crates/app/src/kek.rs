//! The EAB key-encryption key: from `eab.kek` (base64url, usually via `FERRITE_EAB__KEK`) or the
//! file `data_dir/eab.kek` (32 raw bytes, created with mode 0600 on first use). Core receives
//! bytes; only this module touches the file.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrite_core::eab::{KEK_LEN, Kek};

use crate::config::Config;

/// Where the KEK file lives.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("eab.kek")
}

/// The KEK set in the configuration, if one is.
fn configured(config: &Config) -> anyhow::Result<Option<Kek>> {
    let configured = config.eab.kek.0.trim();
    if configured.is_empty() {
        return Ok(None);
    }
    URL_SAFE_NO_PAD
        .decode(configured.trim_end_matches('='))
        .ok()
        .and_then(|b| Kek::from_bytes(&b))
        .map(Some)
        .context(
            "eab.kek (FERRITE_EAB__KEK) must be 32 bytes in base64url; generate one with `head -c 32 /dev/urandom | basenc --base64url`",
        )
}

/// The configured KEK, or the data directory's, created if missing.
pub fn load_or_create(config: &Config) -> anyhow::Result<Kek> {
    if let Some(kek) = configured(config)? {
        return Ok(kek);
    }
    let path = path(&config.data_dir);
    match read(&path) {
        Ok(kek) => return Ok(kek),
        Err(e)
            if e.downcast_ref::<std::io::Error>().map(std::io::Error::kind)
                == Some(std::io::ErrorKind::NotFound) => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data_dir {}", config.data_dir.display()))?;
    let kek = Kek::generate().context("cannot generate the EAB key-encryption key")?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            file.write_all(kek.expose())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(kek)
        }
        // Another process (a second `ferrite` command) created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(&path),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}

fn read(path: &Path) -> anyhow::Result<Kek> {
    let bytes = std::fs::read(path).map_err(anyhow::Error::from)?;
    Kek::from_bytes(&bytes).with_context(|| {
        format!(
            "{} must hold exactly {KEK_LEN} bytes; restore it from backup (MAC keys sealed under another key cannot be used)",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_is_created_once_with_mode_0600_and_config_wins() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        let a = load_or_create(&config).unwrap();
        let b = load_or_create(&config).unwrap();
        assert_eq!(a, b);
        let file = path(&config.data_dir);
        assert_eq!(std::fs::read(&file).unwrap().len(), KEK_LEN);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        config.eab.kek.0 = URL_SAFE_NO_PAD.encode([7u8; 32]);
        assert_eq!(load_or_create(&config).unwrap(), Kek::new([7; 32]));
        config.eab.kek.0 = "too-short".into();
        let err = format!("{:#}", load_or_create(&config).unwrap_err());
        assert!(err.contains("32 bytes"), "{err}");
        std::fs::write(&file, b"short").unwrap();
        config.eab.kek.0 = String::new();
        let err = format!("{:#}", load_or_create(&config).unwrap_err());
        assert!(err.contains("exactly 32 bytes"), "{err}");
    }
}
