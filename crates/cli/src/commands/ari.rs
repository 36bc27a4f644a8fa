//! `ferrite ari advance --serial S | --customer NAME | --domain D [--reason URL] [--dry-run]`:
//! pulls renewal windows forward for incident response (RFC 9773 §4.2: renewal information
//! then shows a window in the past, so clients that check it renew at once).

use anyhow::Context;
use ferrite_core::model::CertificateFilter;
use serde_json::json;
use time::format_description::well_known::Rfc3339;

use super::{print_json, table};
use ferrite_app::Config;

/// The serial as `openssl x509 -serial` prints it, or as Ferrite stores it
/// ([`ferrite_core::ca::certificate_listing::parse_serial`]).
pub(super) fn normalize_serial(serial: &str) -> anyhow::Result<String> {
    ferrite_core::ca::certificate_listing::parse_serial(serial).map_err(super::operator_error)
}

pub(super) async fn advance(
    config: &Config,
    filter: Filter,
    reason: Option<&str>,
    dry_run: bool,
    json_out: bool,
) -> anyhow::Result<()> {
    if let Some(url) = reason {
        anyhow::ensure!(
            url.starts_with("https://") || url.starts_with("http://"),
            "--reason {url:?} is not a URL; give the http(s) address of a page that explains the early renewal"
        );
    }
    let store = ferrite_app::open_existing_store(config).await?;
    let filter = match filter {
        Filter::Serial(s) => CertificateFilter::Serial(normalize_serial(&s)?),
        Filter::Domain(d) => CertificateFilter::Domain(d.trim().to_ascii_lowercase()),
        Filter::Customer(name) => {
            let customer = store
                .customer_by_name(&name)
                .await
                .map_err(|e| anyhow::anyhow!(e.to_string()))?
                .with_context(|| {
                    format!("no customer named {name:?}; `ferrite customer list` shows them")
                })?;
            CertificateFilter::Customer(customer.id)
        }
    };
    let now = time::OffsetDateTime::now_utc();
    let certificates =
        ferrite_core::ca::ari::advance_renewal(store.as_ref(), now, &filter, reason, dry_run)
            .await
            .map_err(super::operator_error)?;
    if json_out {
        let rows: Vec<serde_json::Value> = certificates
            .iter()
            .map(|c| {
                json!({
                    "serial": c.serial,
                    "names": c.dns_names,
                    "not_after": c.not_after.format(&Rfc3339).unwrap_or_default(),
                })
            })
            .collect();
        return print_json(&json!({
            "dry_run": dry_run,
            "advanced": if dry_run { 0 } else { certificates.len() },
            "certificates": rows,
        }));
    }
    let rows: Vec<Vec<String>> = certificates
        .iter()
        .map(|c| {
            vec![
                c.serial.clone(),
                c.dns_names.join(","),
                table::time(c.not_after),
            ]
        })
        .collect();
    table::print(&["SERIAL", "NAMES", "NOT AFTER"], &rows);
    if dry_run {
        println!(
            "Dry run: {} certificate(s) would get a renewal window in the past; nothing changed",
            certificates.len()
        );
    } else if certificates.is_empty() {
        println!("No unexpired certificate matched; nothing changed");
    } else {
        println!(
            "Advanced the renewal window of {} certificate(s): clients that check renewal information renew them now",
            certificates.len()
        );
    }
    Ok(())
}

/// What `ari advance` selects.
pub(super) enum Filter {
    Serial(String),
    Customer(String),
    Domain(String),
}
