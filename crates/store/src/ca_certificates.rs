//! The CA certificates the deployment serves: its root, recorded by the first instance to
//! start, and the intermediates under it.

use ferrite_core::StoreError;
use ferrite_core::model::{CaCertificates, CaRecord};
use rusqlite::{Connection, params};
use time::OffsetDateTime;

use crate::codec::micros;
use crate::db::{at, execute, query_all, query_opt};
use crate::open::SqliteStore;

/// Records `offered` ([`ferrite_core::Store::record_ca_certificates`]) in one write job: jobs
/// run one after another, and two processes on one file queue on SQLite's write lock.
pub(crate) async fn record(
    store: &SqliteStore,
    offered: &CaCertificates,
    now: OffsetDateTime,
) -> Result<CaRecord, StoreError> {
    let offered = offered.clone();
    store
        .db
        .write(move |conn| {
            let root = query_opt(
                conn,
                "SELECT sha256 FROM ca_certificates WHERE role = 'root'",
                [],
                |row| at::<String>(row, 0, "sha256"),
            )?;
            let intermediates = query_all(
                conn,
                "SELECT sha256 FROM ca_certificates WHERE role = 'intermediate' \
                 ORDER BY recorded_at, sha256",
                [],
                |row| at::<String>(row, 0, "sha256"),
            )?;
            let insert = |conn: &Connection, sha256: &str, role: &str| {
                execute(
                    conn,
                    "INSERT INTO ca_certificates (sha256, role, recorded_at) VALUES (?, ?, ?)",
                    params![sha256, role, micros(now)],
                )
            };
            match root {
                None => {
                    insert(conn, &offered.root_sha256, "root")?;
                    insert(conn, &offered.intermediate_sha256, "intermediate")?;
                    Ok(CaRecord::Recorded)
                }
                Some(root) if root != offered.root_sha256 => Ok(CaRecord::OtherRoot {
                    root_sha256: root,
                    intermediates,
                }),
                Some(_) if intermediates.contains(&offered.intermediate_sha256) => {
                    Ok(CaRecord::Known)
                }
                Some(_) => {
                    insert(conn, &offered.intermediate_sha256, "intermediate")?;
                    Ok(CaRecord::NewIntermediate {
                        earlier: intermediates,
                    })
                }
            }
        })
        .await
}
