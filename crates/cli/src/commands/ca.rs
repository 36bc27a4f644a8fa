//! `ferrite ca init [--root-only | --intermediate-from ROOT_CERT [--root-token LABEL]
//! [--name NAME [--key-type TYPE]]]` (the key ceremony) and
//! `ferrite ca show` (the chain, where each key is, fingerprints, validity) and
//! `ferrite ca import --root R --intermediate I [--intermediate-key K]` (an existing hierarchy).

use ferrite_app::Config;
use ferrite_app::ca::{self, CaReport};
use ferrite_pki::Ceremony;

use super::print_json;

pub(super) fn init(
    config: &Config,
    ceremony: &Ceremony,
    root: Option<&ca::RootToken>,
    intermediates: &[ferrite_pki::NewIntermediate],
    json: bool,
) -> anyhow::Result<()> {
    let done = ca::init(config, ceremony, root, intermediates)?;
    if json {
        return print_json(&done.record);
    }
    let record = &done.record;
    println!(
        "Key ceremony ({}) in token {:?} ({}), {}",
        record.ceremony, record.token, record.token_description, record.at
    );
    for key in &record.keys {
        println!(
            "  {} key: {} in token {:?}, label {:?}, id {}, {}; sensitive: {}, extractable: {}, never extractable: {}",
            key.role,
            if key.generated {
                "generated"
            } else {
                "existing"
            },
            key.token,
            key.label,
            key.id,
            key.algorithm,
            key.sensitive,
            key.extractable,
            key.never_extractable
        );
    }
    for cert in &record.certificates {
        println!("  {} certificate: {}", cert.role, cert.file);
        println!("    subject  {}", cert.subject);
        println!("    valid    {} to {}", cert.not_before, cert.not_after);
        println!("    SHA-256  {}", cert.sha256);
    }
    println!(
        "Ceremony record: {} (keep it with the CA's records; it holds no secret)",
        done.record_path.display()
    );
    match ceremony {
        Ceremony::RootOnly => println!(
            "Next: take root.pem (never the token's root key) to the machine that makes the intermediate and run `ferrite ca init --intermediate-from root.pem` there"
        ),
        _ => println!(
            "Next: `ferrite serve` with this configuration signs with the intermediates' keys in the token (every intermediate issues unless [ca] active names the ones that do)"
        ),
    }
    Ok(())
}

pub(super) fn show(config: &Config, json: bool) -> anyhow::Result<()> {
    print_report(&ca::show(config)?, json)
}

pub(super) fn import(
    config: &Config,
    root: &std::path::Path,
    intermediate: &std::path::Path,
    intermediate_key: Option<&std::path::Path>,
    json: bool,
) -> anyhow::Result<()> {
    let report = ca::import(config, root, intermediate, intermediate_key)?;
    if !json {
        println!(
            "Imported the CA into {}; `ferrite serve` with this configuration issues under it. Keep the root's key offline: Ferrite never needs it.",
            ca::ca_dir(config).display()
        );
    }
    print_report(&report, json)
}

fn print_report(report: &CaReport, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(report);
    }
    println!("CA keys: {}", report.keys);
    for c in &report.certificates {
        match (&c.name, c.active) {
            (Some(name), Some(active)) => println!(
                "{} {name} ({}){}",
                c.role,
                c.file,
                if active {
                    ", issues"
                } else {
                    ", retired: signs only its CRLs"
                }
            ),
            _ => println!("{} ({})", c.role, c.file),
        }
        println!("  subject   {}", c.subject);
        println!("  key type  {}", c.key_algorithm);
        println!("  issuer    {}", c.issuer);
        println!("  serial    {}", c.serial);
        println!("  SHA-256   {}", c.sha256);
        println!(
            "  valid     {} to {} ({} days left)",
            c.not_before, c.not_after, c.days_left
        );
        match &c.key_protection {
            Some(protection) => println!("  key       {}, {protection}", c.key),
            None => println!("  key       {}", c.key),
        }
    }
    Ok(())
}
