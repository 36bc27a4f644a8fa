//! The data directory's permissions: everything in it is private to Ferrite's user — the
//! database and its nonce file, the EAB key-encryption key, the CA keys — except the CA
//! certificates in `ca/`, which every local user must be able to read (a web server's
//! unprivileged ACME worker trusts the root from there).
//!
//! So the directory is 0711: other users may pass through it to `ca/root.pem` by name, but not
//! list it or open anything else; every file Ferrite creates is 0600 (the umask 077 that
//! [`restrict_new_files`] sets at start), and `ca/` sets its own modes explicitly. A directory
//! made by an earlier, looser setup is tightened the same way when it is opened.

use std::path::Path;

use anyhow::Context;

/// The data directory's mode: traversable by others (for `ca/root.pem`), nothing more.
const DIR_MODE: u32 = 0o711;

/// Files Ferrite creates from now on are readable by its user only (umask 077). Process-wide:
/// the binary calls it once at start.
pub fn restrict_new_files() {
    #[cfg(unix)]
    {
        let _previous = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    }
}

/// Creates `data_dir` (0711) if it is missing; otherwise takes the group's and others' read
/// and write bits away from it and from every file directly in it (the database, its WAL and
/// shared-memory files, the nonce file, `eab.kek`, the first start's credentials), logging what
/// changed. `ca/` keeps its own modes (`ferrite_pki::CaBundle`).
pub(crate) fn prepare(data_dir: &Path) -> anyhow::Result<()> {
    let existed = data_dir.is_dir();
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create data_dir {}", data_dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let set = |path: &Path, mode: u32| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .with_context(|| format!("cannot restrict the permissions of {}", path.display()))
        };
        if !existed {
            return set(data_dir, DIR_MODE);
        }
        let mut tightened = Vec::new();
        let mode = std::fs::metadata(data_dir)?.permissions().mode() & 0o7777;
        if mode & 0o066 != 0 {
            set(data_dir, mode & !0o066)?;
            tightened.push(data_dir.to_owned());
        }
        let entries = std::fs::read_dir(data_dir)
            .with_context(|| format!("cannot read data_dir {}", data_dir.display()))?;
        for entry in entries {
            let entry = entry?;
            // Regular files only: `ca/` keeps its modes, and a symbolic link's target is the
            // operator's business.
            let meta = std::fs::symlink_metadata(entry.path())?;
            if meta.is_file() && meta.permissions().mode() & 0o077 != 0 {
                set(&entry.path(), meta.permissions().mode() & 0o700)?;
                tightened.push(entry.path());
            }
        }
        if !tightened.is_empty() {
            tracing::info!(
                paths = ?tightened,
                "made readable by Ferrite's user only (the data directory stays passable for ca/)"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_new_data_directory_is_passable_only_and_an_old_one_is_tightened() {
        let tmp = tempfile::tempdir().unwrap();
        let fresh = tmp.path().join("fresh");
        prepare(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o711);

        // A directory and files as a looser setup left them; ca/ with its own modes.
        let old = tmp.path().join("old");
        std::fs::create_dir(&old).unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
        for (name, m) in [
            ("ferrite.db", 0o644),
            ("ferrite.db-wal", 0o664),
            ("eab.kek", 0o600),
        ] {
            std::fs::write(old.join(name), b"x").unwrap();
            std::fs::set_permissions(old.join(name), std::fs::Permissions::from_mode(m)).unwrap();
        }
        std::fs::create_dir(old.join("ca")).unwrap();
        std::fs::set_permissions(old.join("ca"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(old.join("ca/root.pem"), b"x").unwrap();
        std::fs::set_permissions(
            old.join("ca/root.pem"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        prepare(&old).unwrap();
        assert_eq!(mode(&old), 0o711);
        for name in ["ferrite.db", "ferrite.db-wal", "eab.kek"] {
            assert_eq!(mode(&old.join(name)), 0o600, "{name}");
        }
        assert_eq!(mode(&old.join("ca")), 0o755);
        assert_eq!(mode(&old.join("ca/root.pem")), 0o644);
    }
}
