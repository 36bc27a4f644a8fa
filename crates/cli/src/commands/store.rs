//! `ferrite store copy`: a SQLite deployment moved to PostgreSQL (`ferrite_store::copy`),
//! with its progress on stderr and the rows of every table counted on both sides.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::Context;
use ferrite_app::Config;
use ferrite_store::copy::CopyProgress;

/// Copies the SQLite database in `from` into the empty PostgreSQL database `to` (else the
/// configuration's `database_url`), with the configuration's `[database]` settings (password
/// file, connections). Fails, naming the tables, when a count differs.
pub(crate) async fn copy(config: &Config, from: &Path, to: Option<&str>) -> anyhow::Result<()> {
    let url = to.unwrap_or(config.database_url.expose());
    anyhow::ensure!(
        ferrite_store::is_postgres_url(url),
        "the target must be a PostgreSQL database: give --to postgres://USER@HOST/DB, or set database_url in the configuration (a password belongs in database.password_file or PGPASSWORD, not on the command line)"
    );
    anyhow::ensure!(
        from.is_dir(),
        "--from {}: no such directory (give the data_dir of the SQLite deployment)",
        from.display()
    );
    let options = config.postgres_options()?;
    let terminal = std::io::stderr().is_terminal();
    let mut show = |p: &CopyProgress| {
        let mut err = std::io::stderr().lock();
        // Progress is a courtesy: a closed stderr does not stop the copy.
        let _ = if terminal {
            write!(
                err,
                "\r{:<22} {:>10} / {:<10}{}",
                p.table,
                p.copied,
                p.total,
                if p.done { "\n" } else { "" }
            )
        } else if p.done {
            writeln!(err, "{}: {} rows copied", p.table, p.copied)
        } else {
            Ok(())
        };
    };
    let report = ferrite_store::copy::sqlite_to_postgres(from, url, &options, &mut show)
        .await
        .context("store copy failed (the PostgreSQL database is left as it was before the copy)")?;
    println!("{:<22} {:>10} {:>10}", "TABLE", "SQLITE", "POSTGRESQL");
    for t in &report.tables {
        println!("{:<22} {:>10} {:>10}", t.table, t.source, t.target);
    }
    let differ: Vec<&str> = report
        .tables
        .iter()
        .filter(|t| t.source != t.target)
        .map(|t| t.table)
        .collect();
    anyhow::ensure!(
        differ.is_empty(),
        "the counts differ after the copy ({}): do not start Ferrite on this database; drop it, create an empty one and copy again with every instance stopped",
        differ.join(", ")
    );
    println!("copied and verified: every table holds as many rows in PostgreSQL as in SQLite");
    println!(
        "every instance on PostgreSQL needs this deployment's CA material ({}) and its EAB key-encryption key ({} or the eab.kek setting)",
        from.join("ca").display(),
        from.join("eab.kek").display()
    );
    Ok(())
}
