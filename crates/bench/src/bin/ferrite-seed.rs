//! `ferrite-seed`: fills a Ferrite SQLite database with synthetic history — accounts, and for
//! each certificate a valid order, its authorization with three challenges, the domain
//! validation and the certificate row — through `SqliteStore::bulk_insert`, not through ACME.
//! For the growth benchmark (a million certificates and 100,000 accounts already in the
//! database); see `bench/growth.sh` and docs/performance.md.
//!
//! Rows have the sizes of real ones (a P-256 JWK, a ~600-byte DER, a ~1,850-byte PEM chain, the
//! validation record the VA writes) but random content: the seeded certificates do not parse
//! and their accounts' keys do not exist. Creation times are spread over the last 90 days, so
//! some authorizations and validations are still inside their reuse window, as in a live CA.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Parser;
use ferrite_core::model::{
    Account, Authorization, Certificate, Challenge, CrlScope, DomainValidation, Order,
};
use ferrite_proto::{
    AccountStatus, AuthorizationStatus, ChallengeStatus, ChallengeType, Identifier, IdentifierType,
    OrderStatus,
};
use ferrite_store::{BulkRows, SqliteStore};
use time::{Duration, OffsetDateTime};

/// Fill a Ferrite database with synthetic accounts and issued certificates.
#[derive(Parser, Debug)]
#[command(name = "ferrite-seed", version)]
struct Args {
    /// The database file (`data_dir/ferrite.db`); created and migrated if missing. Stop
    /// `ferrite serve` first or let it run: writes go through SQLite's locking either way.
    #[arg(long)]
    database: PathBuf,
    /// Accounts to add.
    #[arg(long, default_value_t = 100_000)]
    accounts: u64,
    /// Issued certificates to add (each with its order, authorization, three challenges and
    /// domain validation), spread evenly over the accounts.
    #[arg(long, default_value_t = 1_000_000)]
    certificates: u64,
    /// Certificates per transaction.
    #[arg(long, default_value_t = 10_000)]
    batch: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match seed(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferrite-seed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn seed(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.accounts > 0, "--accounts must be at least 1");
    anyhow::ensure!(args.batch > 0, "--batch must be at least 1");
    let store = SqliteStore::open(&args.database)
        .await
        .with_context(|| format!("cannot open {}", args.database.display()))?;
    let rows_of = Generator::new()?;
    let started = Instant::now();
    let mut accounts = 0;
    while accounts < args.accounts {
        let n = args.batch.min(args.accounts - accounts);
        let rows = BulkRows {
            accounts: (accounts..accounts + n)
                .map(|i| rows_of.account(i))
                .collect::<anyhow::Result<_>>()?,
            ..BulkRows::default()
        };
        store
            .bulk_insert(rows)
            .await
            .context("inserting accounts")?;
        accounts += n;
    }
    eprintln!(
        "ferrite-seed: {accounts} accounts in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut certificates = 0;
    while certificates < args.certificates {
        let n = args.batch.min(args.certificates - certificates);
        let mut rows = BulkRows::default();
        for i in certificates..certificates + n {
            rows_of.issuance(i, i % args.accounts, &mut rows)?;
        }
        store
            .bulk_insert(rows)
            .await
            .context("inserting certificates")?;
        certificates += n;
        eprint!(
            "\rferrite-seed: {certificates}/{} certificates, {:.1} s",
            args.certificates,
            started.elapsed().as_secs_f64()
        );
    }
    eprintln!();
    store.close().await;
    println!(
        "seeded {accounts} accounts and {certificates} certificates into {} in {:.1} s",
        args.database.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Makes the synthetic rows. Ids are a per-run random prefix plus a counter, 22 characters like
/// the server's own (16 random bytes in base64url), so indexes have realistic key sizes and
/// two runs into one database never collide.
struct Generator {
    prefix: String,
    now: OffsetDateTime,
    der: Vec<u8>,
    chain_pem: String,
}

impl Generator {
    fn new() -> anyhow::Result<Generator> {
        let mut der = vec![0u8; 600];
        aws_lc_rs::rand::fill(&mut der).map_err(|_| anyhow::anyhow!("no randomness"))?;
        let pem_body = URL_SAFE_NO_PAD.encode(&der);
        let chain_pem = format!(
            "-----BEGIN CERTIFICATE-----\n{pem_body}\n-----END CERTIFICATE-----\n\
             -----BEGIN CERTIFICATE-----\n{pem_body}\n-----END CERTIFICATE-----\n"
        );
        Ok(Generator {
            prefix: random_text(6)?,
            now: OffsetDateTime::now_utc(),
            der,
            chain_pem,
        })
    }

    fn id(&self, kind: char, i: u64) -> String {
        format!("{}{kind}{i:013x}", self.prefix)
    }

    fn account(&self, i: u64) -> anyhow::Result<Account> {
        Ok(Account {
            id: self.id('a', i),
            thumbprint: random_text(32)?,
            jwk: serde_json::json!({
                "crv": "P-256", "kty": "EC", "x": random_text(32)?, "y": random_text(32)?,
            }),
            contact: Vec::new(),
            status: AccountStatus::Valid,
            terms_of_service_agreed: true,
            eab_kid: None,
            customer_id: None,
            created_at: self.now - Duration::days(91),
        })
    }

    /// One issued certificate `i` of account `account`: order, authorization with three
    /// challenges (http-01 valid), domain validation, certificate.
    fn issuance(&self, i: u64, account: u64, rows: &mut BulkRows) -> anyhow::Result<()> {
        let account_id = self.id('a', account);
        let order_id = self.id('o', i);
        let authz_id = self.id('z', i);
        let serial = format!("{}{i:026x}", self.prefix);
        let domain = format!("{}-{i}.seed.example", self.prefix.to_ascii_lowercase());
        // Spread over the last 90 days, newest last.
        let created = self.now - Duration::seconds(((i * 7_919) % (90 * 86_400)) as i64);
        let validated = created + Duration::seconds(1);
        let record = serde_json::json!({
            "address_used": "127.0.0.1", "addresses_resolved": ["127.0.0.1"],
            "caa": {"account_uri": format!("https://acme.example/acme/acct/{account_id}"),
                    "checked_at": "2026-11-30T07:15:11.121561588Z", "domain": domain,
                    "found_at": null, "method": "http-01", "records": [], "wildcard": false},
            "dns_answers": [], "hostname": domain, "method": "http-01", "port": 80,
            "redirects": [],
            "url": format!("http://{domain}/.well-known/acme-challenge/{}", random_text(22)?),
        });
        let challenges = [
            ChallengeType::Http01,
            ChallengeType::Dns01,
            ChallengeType::TlsAlpn01,
        ]
        .into_iter()
        .enumerate()
        .map(|(n, kind)| {
            let valid = kind == ChallengeType::Http01;
            Ok(Challenge {
                id: format!("{}c{n}{i:012x}", self.prefix),
                authorization_id: authz_id.clone(),
                kind,
                token: random_text(32)?,
                status: if valid {
                    ChallengeStatus::Valid
                } else {
                    ChallengeStatus::Pending
                },
                validated: valid.then_some(validated),
                error: None,
                record: valid.then(|| record.clone()),
                lease_until: None,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
        let identifier = Identifier {
            kind: IdentifierType::Dns,
            value: domain.clone(),
        };
        let authorization = Authorization {
            id: authz_id.clone(),
            account_id: account_id.clone(),
            identifier: identifier.clone(),
            wildcard: false,
            status: AuthorizationStatus::Valid,
            expires: validated + Duration::days(30),
            challenges,
        };
        let order = Order {
            id: order_id.clone(),
            account_id: account_id.clone(),
            status: OrderStatus::Valid,
            identifiers: vec![identifier],
            authorization_ids: vec![authz_id.clone()],
            expires: created + Duration::days(7),
            not_before: None,
            not_after: None,
            error: None,
            certificate_serial: Some(serial.clone()),
            created_at: created,
            profile: None,
            replaces: None,
        };
        rows.orders.push((order, vec![authorization]));
        rows.certificates.push((
            order_id.clone(),
            Certificate {
                serial,
                account_id: account_id.clone(),
                order_id,
                der: self.der.clone(),
                chain_pem: self.chain_pem.clone(),
                dns_names: vec![domain.clone()],
                not_before: validated,
                not_after: validated + Duration::days(90),
                revoked: None,
                renewal_advanced: None,
                // Spread over 16 shards of one issuer, as `[crl] shards` does by default.
                crl: CrlScope::shard("5eed5eed5eed5eed", (i % 16) as u32),
                precertificate: None,
            },
        ));
        rows.domain_validations.push(DomainValidation {
            id: self.id('v', i),
            customer_id: None,
            account_id,
            domain,
            wildcard: false,
            method: ChallengeType::Http01,
            validated_at: validated,
            reuse_until: validated + Duration::days(30),
            authorization_id: authz_id,
            record,
        });
        Ok(())
    }
}

/// `chars` characters of random base64url.
fn random_text(chars: usize) -> anyhow::Result<String> {
    let mut bytes = vec![0u8; chars.div_ceil(4) * 3];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| anyhow::anyhow!("no randomness"))?;
    let mut text = URL_SAFE_NO_PAD.encode(bytes);
    text.truncate(chars);
    Ok(text)
}
