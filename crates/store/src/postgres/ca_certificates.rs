//! The CA certificates the deployment serves: its root, recorded by the first instance to
//! start, and the intermediates under it.

use ferrite_core::StoreError;
use ferrite_core::model::{CaCertificates, CaRecord};
use time::OffsetDateTime;

use super::{PostgresStore, at, db_error};
use crate::codec::micros;

/// Records `offered` ([`ferrite_core::Store::record_ca_certificates`]) in one transaction
/// that first locks the table: instances starting together on an empty database queue there,
/// and each reads what the one before it committed.
pub(crate) async fn record(
    store: &PostgresStore,
    offered: &CaCertificates,
    now: OffsetDateTime,
) -> Result<CaRecord, StoreError> {
    let mut conn = store.conn().await?;
    let tx = conn.transaction().await.map_err(db_error)?;
    tx.batch_execute("LOCK TABLE ca_certificates IN SHARE ROW EXCLUSIVE MODE")
        .await
        .map_err(db_error)?;
    let rows = tx
        .query(
            "SELECT sha256, role FROM ca_certificates ORDER BY recorded_at, sha256",
            &[],
        )
        .await
        .map_err(db_error)?;
    let mut root = None;
    let mut intermediates = Vec::new();
    for row in &rows {
        let sha256: String = at(row, 0, "sha256")?;
        let role: String = at(row, 1, "role")?;
        match role.as_str() {
            "root" => root = Some(sha256),
            _ => intermediates.push(sha256),
        }
    }
    let insert = "INSERT INTO ca_certificates (sha256, role, recorded_at) VALUES ($1, $2, $3)";
    let record = match root {
        None => {
            for (sha256, role) in [
                (&offered.root_sha256, "root"),
                (&offered.intermediate_sha256, "intermediate"),
            ] {
                tx.execute(insert, &[sha256, &role, &micros(now)])
                    .await
                    .map_err(db_error)?;
            }
            CaRecord::Recorded
        }
        Some(root) if root != offered.root_sha256 => CaRecord::OtherRoot {
            root_sha256: root,
            intermediates,
        },
        Some(_) if intermediates.contains(&offered.intermediate_sha256) => CaRecord::Known,
        Some(_) => {
            tx.execute(
                insert,
                &[&offered.intermediate_sha256, &"intermediate", &micros(now)],
            )
            .await
            .map_err(db_error)?;
            CaRecord::NewIntermediate {
                earlier: intermediates,
            }
        }
    };
    tx.commit().await.map_err(db_error)?;
    Ok(record)
}
