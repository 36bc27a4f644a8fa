//! `ferrite cert list | show | revoke`: the certificates Ferrite issued, and revocation by the
//! operator — one certificate by serial, or in bulk (a customer's, a name's, those issued in a
//! period, those of one key) with a dry run, a confirmation and a progress line, resumable
//! after an interruption (each certificate is revoked in its own transaction; a second run
//! skips those already revoked and finishes the rest).

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context;
use ferrite_core::Store;
use ferrite_core::ca::certificate_listing::validations_used;
use ferrite_core::ca::certificate_listing::{CertificateStatus, NameFilter};
use ferrite_core::ca::key_block::parse_spki_sha256;
use ferrite_core::ca::operator_revoke::{
    self, BulkProgress, CertificatePages, parse_reason, reason_name,
};
use ferrite_core::model::{Certificate, CertificateQuery, CrlScope};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::ari::normalize_serial;
use super::{operator_error, print_json, table};
use ferrite_app::Config;

/// What `cert list` selects.
pub(super) struct ListFilter {
    pub(super) customer: Option<String>,
    pub(super) domain: Option<String>,
    pub(super) serial: Option<String>,
    pub(super) expiring_days: Option<u32>,
    pub(super) limit: u32,
}

/// What a bulk `cert revoke` selects (exactly one).
pub(super) enum BulkFilter {
    Customer(String),
    Domain(String),
    IssuedBetween(String, String),
    KeySpki(String),
}

fn status(cert: &Certificate, now: OffsetDateTime) -> String {
    match cert.revoked {
        Some((_, reason)) => format!("revoked ({})", reason_name(reason)),
        None => CertificateStatus::of(cert, now).as_str().to_owned(),
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn json_row(cert: &Certificate, now: OffsetDateTime) -> serde_json::Value {
    json!({
        "serial": cert.serial,
        "names": cert.dns_names,
        "account": cert.account_id,
        "order": cert.order_id,
        "not_before": rfc3339(cert.not_before),
        "not_after": rfc3339(cert.not_after),
        "status": CertificateStatus::of(cert, now).as_str(),
        "revoked_at": cert.revoked.map(|(at, _)| rfc3339(at)),
        "revocation_reason": cert.revoked.map(|(_, r)| reason_name(r)),
    })
}

fn table_row(cert: &Certificate, now: OffsetDateTime) -> Vec<String> {
    vec![
        cert.serial.clone(),
        cert.dns_names.join(","),
        table::time(cert.not_after),
        status(cert, now),
    ]
}

const HEADER: [&str; 4] = ["SERIAL", "NAMES", "NOT AFTER", "STATUS"];

async fn customer_id(store: &dyn Store, name: &str) -> anyhow::Result<String> {
    let customer = store
        .customer_by_name(name)
        .await
        .map_err(|e| anyhow::anyhow!(e.to_string()))?
        .with_context(|| {
            format!("no customer named {name:?}; `ferrite customer list` shows them")
        })?;
    Ok(customer.id)
}

/// `ferrite cert list`.
pub(super) async fn list(
    config: &Config,
    filter: ListFilter,
    json_out: bool,
) -> anyhow::Result<()> {
    let store = ferrite_app::open_existing_store(config).await?;
    let now = OffsetDateTime::now_utc();
    let mut query = CertificateQuery {
        serial: filter.serial.as_deref().map(normalize_serial).transpose()?,
        ..CertificateQuery::default()
    };
    if let Some(domain) = &filter.domain {
        NameFilter::parse(domain)
            .map_err(operator_error)?
            .apply(&mut query);
    }
    if let Some(name) = &filter.customer {
        query.customer_id = Some(customer_id(store.as_ref(), name).await?);
    }
    if let Some(days) = filter.expiring_days {
        query.not_after_from = Some(now);
        query.not_after_until = Some(now + time::Duration::days(i64::from(days)));
    }
    let mut pages = CertificatePages::new(store.as_ref(), query);
    let mut certs = Vec::new();
    let mut more = false;
    while let Some(page) = pages.next_page().await.map_err(operator_error)? {
        for cert in page {
            if certs.len() as u64 >= u64::from(filter.limit) {
                more = true;
                break;
            }
            certs.push(cert);
        }
        if more {
            break;
        }
    }
    if json_out {
        let rows: Vec<_> = certs.iter().map(|c| json_row(c, now)).collect();
        return print_json(&json!({ "certificates": rows, "truncated": more }));
    }
    let rows: Vec<Vec<String>> = certs.iter().map(|c| table_row(c, now)).collect();
    table::print(&HEADER, &rows);
    if more {
        println!(
            "Only the first {} shown (by serial); narrow the selection or raise --limit",
            filter.limit
        );
    }
    Ok(())
}

/// `ferrite cert show SERIAL`.
pub(super) async fn show(config: &Config, serial: &str, json_out: bool) -> anyhow::Result<()> {
    let serial = normalize_serial(serial)?;
    let store = ferrite_app::open_existing_store(config).await?;
    let cert = store
        .certificate(&serial)
        .await
        .map_err(|e| anyhow::anyhow!(e.to_string()))?
        .with_context(|| {
            format!(
                "this CA has no certificate with serial {serial}; `ferrite cert list` shows them"
            )
        })?;
    let account = store
        .account(&cert.account_id)
        .await
        .map_err(|e| anyhow::anyhow!(e.to_string()))?;
    let customer = match account.as_ref().and_then(|a| a.customer_id.clone()) {
        Some(id) => store
            .customer(&id)
            .await
            .map_err(|e| anyhow::anyhow!(e.to_string()))?
            .map(|c| c.name),
        None => None,
    };
    let now = OffsetDateTime::now_utc();
    let spki = ferrite_core::ca::key_block::certificate_spki_sha256(&cert.der);
    let validations = validations_used(store.as_ref(), &cert)
        .await
        .map_err(operator_error)?;
    let crl = match &cert.crl {
        CrlScope::Unsharded => "the unsharded CRL (/crl)".to_owned(),
        CrlScope::Shard { issuer_id, shard } => {
            format!("shard {shard} of issuer {issuer_id} (/crl/{issuer_id}/{shard}.crl)")
        }
    };
    let precertificate = cert
        .precertificate
        .as_deref()
        .map(ferrite_pki::certificate_pem);
    if json_out {
        let mut row = json_row(&cert, now);
        row["customer"] = json!(customer);
        row["key_spki_sha256"] = json!(spki);
        row["validations"] = json!(validations);
        row["crl"] = json!(crl);
        row["precertificate_pem"] = json!(precertificate);
        row["pem"] = json!(cert.chain_pem);
        return print_json(&row);
    }
    println!("Serial:       {}", cert.serial);
    println!("Names:        {}", cert.dns_names.join(", "));
    println!("Customer:     {}", customer.as_deref().unwrap_or("(none)"));
    println!("Account:      {}", cert.account_id);
    println!("Order:        {}", cert.order_id);
    println!("Not before:   {}", table::time(cert.not_before));
    println!("Not after:    {}", table::time(cert.not_after));
    println!("Status:       {}", status(&cert, now));
    if let Some((at, reason)) = cert.revoked {
        println!(
            "Revoked:      {} ({})",
            table::time(at),
            reason_name(reason)
        );
    }
    println!(
        "Key SHA-256:  {}",
        spki.as_deref().unwrap_or("(unreadable)")
    );
    println!("CRL:          {crl}");
    if validations.is_empty() {
        println!("Validations:  (none recorded)");
    }
    for (i, v) in validations.iter().enumerate() {
        let label = if i == 0 { "Validations:" } else { "" };
        let reused = v.reused.as_ref().map_or(String::new(), |r| {
            format!(
                ", reusing validation {} of {} by account {}",
                r.id, r.domain, r.account
            )
        });
        println!(
            "{label:<13} {} by {} at {} (authorization {}{reused})",
            v.name,
            v.method,
            table::time(v.validated_at),
            v.authorization
        );
    }
    if let Some(pem) = &precertificate {
        println!("Precertificate (logged in Certificate Transparency):");
        print!("{pem}");
    }
    print!("{}", cert.chain_pem);
    Ok(())
}

/// `ferrite cert revoke SERIAL --reason R`.
pub(super) async fn revoke_one(
    config: &Config,
    serial: &str,
    reason: &str,
    json_out: bool,
) -> anyhow::Result<()> {
    let reason = parse_reason(reason).map_err(operator_error)?;
    let serial = normalize_serial(serial)?;
    let store = ferrite_app::open_existing_store(config).await?;
    let (cert, revoked) =
        operator_revoke::revoke_serial(store.as_ref(), &serial, reason, OffsetDateTime::now_utc())
            .await
            .map_err(operator_error)?;
    if json_out {
        return print_json(&json!({
            "serial": cert.serial,
            "revoked": revoked,
            "revoked_at": cert.revoked.map(|(at, _)| rfc3339(at)),
            "revocation_reason": cert.revoked.map(|(_, r)| reason_name(r)),
            "key_blocked": reason == operator_revoke::KEY_COMPROMISE,
        }));
    }
    match (revoked, cert.revoked) {
        (true, _) => println!(
            "Revoked certificate {} ({}): every instance's CRL lists it within a minute",
            cert.serial,
            reason_name(reason)
        ),
        (false, Some((at, was))) => println!(
            "Certificate {} was already revoked at {} ({}); nothing changed",
            cert.serial,
            table::time(at),
            reason_name(was)
        ),
        (false, None) => println!("Certificate {} was not revoked", cert.serial),
    }
    if reason == operator_revoke::KEY_COMPROMISE {
        println!(
            "Its key is blocked: CSRs and account keys with it get badPublicKey (`ferrite key list`)"
        );
    }
    Ok(())
}

/// Reads a time of `--issued-between`: RFC 3339, or a date (midnight UTC).
fn parse_time(text: &str) -> anyhow::Result<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t);
    }
    let date = time::Date::parse(text, time::macros::format_description!("[year]-[month]-[day]"))
        .with_context(|| {
            format!("--issued-between: {text:?} is neither a date (2026-04-01) nor an RFC 3339 time (2026-04-01T12:00:00Z)")
        })?;
    Ok(date.midnight().assume_utc())
}

/// `ferrite cert revoke --customer | --domain | --issued-between | --key-spki`.
pub(super) async fn revoke_bulk(
    config: &Config,
    filter: BulkFilter,
    reason: &str,
    dry_run: bool,
    yes: bool,
    json_out: bool,
) -> anyhow::Result<()> {
    let reason = parse_reason(reason).map_err(operator_error)?;
    let now = OffsetDateTime::now_utc();
    // Expired certificates are left alone: no CRL lists them, and no relying party accepts
    // them anyway.
    let mut query = CertificateQuery {
        not_after_from: Some(now),
        ..CertificateQuery::default()
    };
    let store = match &filter {
        BulkFilter::KeySpki(hash) => {
            query.spki_sha256 = Some(parse_spki_sha256(hash).map_err(operator_error)?);
            ferrite_app::open_existing_store(config).await?
        }
        BulkFilter::IssuedBetween(a, b) => {
            let (from, until) = (parse_time(a)?, parse_time(b)?);
            anyhow::ensure!(
                from < until,
                "--issued-between {a} {b}: the first time must be before the second"
            );
            query.issued_from = Some(from);
            query.issued_before = Some(until);
            ferrite_app::open_existing_store(config).await?
        }
        BulkFilter::Domain(d) => {
            query.domain = Some(d.trim().to_ascii_lowercase());
            ferrite_app::open_existing_store(config).await?
        }
        BulkFilter::Customer(name) => {
            let store = ferrite_app::open_existing_store(config).await?;
            query.customer_id = Some(customer_id(store.as_ref(), name).await?);
            store
        }
    };
    let store = store.as_ref();
    if dry_run {
        return dry_run_list(store, query, reason, now, json_out).await;
    }
    // The progress line counts against the total selected (one count query, also with --yes).
    let total = if yes {
        let (to_revoke, already) = count(store, &query).await?;
        to_revoke + already
    } else {
        anyhow::ensure!(
            std::io::stdin().is_terminal(),
            "bulk revocation needs a confirmation: pass --yes (stdin is not a terminal to type it on), or run with --dry-run first to see what it would revoke"
        );
        let (to_revoke, already) = count(store, &query).await?;
        if to_revoke + already == 0 {
            println!("No unexpired certificate matched; nothing revoked");
            return Ok(());
        }
        eprint!(
            "Revoke {to_revoke} certificate(s) with reason {} ({already} selected are already revoked)? Type yes to go on: ",
            reason_name(reason)
        );
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        anyhow::ensure!(answer.trim() == "yes", "not confirmed; nothing revoked");
        to_revoke + already
    };
    let on_terminal = std::io::stderr().is_terminal();
    let mut report = |p: &BulkProgress| {
        let line = format!(
            "revoking: {} examined of {total}, {} revoked, {} already revoked",
            p.examined, p.revoked, p.already_revoked
        );
        if on_terminal {
            eprint!("\r{line}");
        } else {
            eprintln!("{line}");
        }
    };
    let done = operator_revoke::revoke_matching(store, query, reason, now, &mut report)
        .await
        .map_err(operator_error)?;
    if on_terminal {
        eprintln!();
    }
    if json_out {
        return print_json(&json!({
            "dry_run": false,
            "reason": reason_name(reason),
            "examined": done.examined,
            "revoked": done.revoked,
            "already_revoked": done.already_revoked,
        }));
    }
    println!(
        "Revoked {} certificate(s) ({}); {} were already revoked. Every instance's CRL lists them within a minute",
        done.revoked,
        reason_name(reason),
        done.already_revoked
    );
    if reason == operator_revoke::KEY_COMPROMISE {
        println!("Their keys are blocked: CSRs and account keys with them get badPublicKey");
    }
    Ok(())
}

/// How many selected certificates a run would revoke, and how many are already revoked.
async fn count(store: &dyn Store, query: &CertificateQuery) -> anyhow::Result<(u64, u64)> {
    let mut pages = CertificatePages::new(store, query.clone());
    let (mut to_revoke, mut already) = (0u64, 0u64);
    while let Some(page) = pages.next_page().await.map_err(operator_error)? {
        for cert in page {
            if cert.revoked.is_some() {
                already += 1;
            } else {
                to_revoke += 1;
            }
        }
    }
    Ok((to_revoke, already))
}

/// The dry run: every selected certificate, written a page at a time as it is read (a mass
/// incident may select millions), then the counts. JSON is one object whose `certificates`
/// array is streamed, followed by `would_revoke` and `already_revoked`.
async fn dry_run_list(
    store: &dyn Store,
    query: CertificateQuery,
    reason: u8,
    now: OffsetDateTime,
    json_out: bool,
) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut pages = CertificatePages::new(store, query);
    let (mut to_revoke, mut already) = (0u64, 0u64);
    if json_out {
        write!(
            out,
            "{{\n  \"dry_run\": true,\n  \"reason\": {},\n  \"certificates\": [",
            serde_json::to_string(&reason_name(reason))?
        )?;
    } else {
        writeln!(
            out,
            "{:<42}  {:<20}  {:<28}  NAMES",
            HEADER[0], HEADER[2], HEADER[3]
        )?;
    }
    while let Some(page) = pages.next_page().await.map_err(operator_error)? {
        for cert in page {
            let first = to_revoke + already == 0;
            if cert.revoked.is_some() {
                already += 1;
            } else {
                to_revoke += 1;
            }
            if json_out {
                let sep = if first { "" } else { "," };
                write!(out, "{sep}\n    {}", json_row(&cert, now))?;
            } else {
                let row = table_row(&cert, now);
                writeln!(
                    out,
                    "{:<42}  {:<20}  {:<28}  {}",
                    row[0], row[2], row[3], row[1]
                )?;
            }
        }
        out.flush()?;
    }
    if json_out {
        writeln!(
            out,
            "\n  ],\n  \"would_revoke\": {to_revoke},\n  \"already_revoked\": {already}\n}}"
        )?;
    } else {
        writeln!(
            out,
            "Dry run: {to_revoke} certificate(s) would be revoked ({}), {already} are already revoked; nothing changed",
            reason_name(reason)
        )?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn issued_between_reads_dates_and_times() {
        assert_eq!(
            parse_time("2026-04-01").unwrap(),
            time::macros::datetime!(2026-04-01 00:00 UTC)
        );
        assert_eq!(
            parse_time("2026-04-01T12:30:00Z").unwrap(),
            time::macros::datetime!(2026-04-01 12:30 UTC)
        );
        let err = parse_time("yesterday").unwrap_err().to_string();
        assert!(err.contains("RFC 3339"), "{err}");
    }
}
