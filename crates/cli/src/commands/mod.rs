//! Operator subcommands for the binding model: `ferrite customer`, `ferrite credential`,
//! `ferrite mac-key` (DESIGN §5). Each opens the same database as `ferrite serve` (the SQLite
//! file in WAL mode, or PostgreSQL: safe while the server runs), does one thing through `ferrite_core::eab::Registry`, and
//! prints a table or, with `--json`, JSON with stable field names.
//!
//! # Layout
//! - `customer`, `credential`, `mac_key`: one module per noun; `ferrite account deactivate`
//!   is small enough to live here. Commands that change state log their `ferrite::audit`
//!   events to stderr (`audit_to_stderr`).
//! - `table`: aligned plain-text tables and time formatting.
//! - `store`: `ferrite store copy`, a SQLite deployment moved to PostgreSQL.
//! - `validation`: `ferrite validation list`, the domain validations kept for reuse.
//! - `request`: `ferrite request show`, a refused request from the support trail.
//! - `ca`: `ferrite ca init` (the key ceremony) and `ferrite ca show`.
//! - `ari`: `ferrite ari advance`, renewal windows pulled forward (RFC 9773).
//! - `va_agent`: `ferrite va-agent enroll | run`, remote perspectives (docs/mpic.md).
//! - `cert`: `ferrite cert list | show | revoke`, revocation by the operator, one or in bulk.
//! - `key`: `ferrite key block | list | unblock`, keys reported compromised.
//! - `instructions`: the kid/HMAC key lines and ready-to-paste client command lines, shared
//!   with the first start of `ferrite serve`.

mod ari;
pub(crate) mod audit;
mod ca;
mod cert;
mod credential;
mod customer;
pub(crate) mod instructions;
mod key;
mod mac_key;
mod request;
mod store;
mod table;
mod va_agent;
mod validation;

pub(crate) use va_agent::{VaAgentArgs, va_agent};

use clap::{Args, Subcommand};
use ferrite_core::CoreError;
use ferrite_core::eab::Registry;

use ferrite_app::Config;

/// `ferrite customer …`
#[derive(Args, Debug)]
pub(crate) struct CustomerArgs {
    /// Print JSON (stable field names) instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: CustomerCommand,
}

#[derive(Subcommand, Debug)]
enum CustomerCommand {
    /// Create a customer account.
    Create {
        /// Unique name: letters, digits, '.', '_' or '-'.
        name: String,
    },
    /// List customers (with their status: active or suspended).
    List,
    /// Suspend a customer: every ACME request signed by one of its accounts, every new
    /// binding through its MAC keys and every admin API request with its credentials gets
    /// `unauthorized`, naming whom to contact (`customers.suspended_contact`), until `resume`.
    Suspend {
        /// The customer's name.
        #[arg(allow_hyphen_values = true)]
        name: String,
        /// Why, for operators (shown by `customer list`, never to the customer's clients).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Lift a customer's suspension: its accounts, MAC keys and credentials work again.
    Resume {
        /// The customer's name.
        #[arg(allow_hyphen_values = true)]
        name: String,
    },
    /// Give a customer's accounts their own value of a rate limit (0: off for them), or back
    /// to the configured `[rate_limits]` value with --default. Applies at once, on every
    /// instance.
    SetLimit {
        /// The customer's name.
        #[arg(allow_hyphen_values = true)]
        name: String,
        /// The limit: new_orders_per_account, pending_authorizations_per_account,
        /// failed_validations_per_account_and_name, new_credentials_per_customer or
        /// new_mac_keys_per_customer.
        limit: String,
        /// The customer's value (0: off).
        #[arg(required_unless_present = "default", conflicts_with = "default")]
        value: Option<u32>,
        /// Back to the configured value.
        #[arg(long)]
        default: bool,
    },
    /// Show the rate limits that apply to a customer's accounts: configured, the customer's
    /// own value, and the one in force.
    Limits {
        /// The customer's name.
        #[arg(allow_hyphen_values = true)]
        name: String,
    },
    /// Limit the certificate profiles a customer's accounts may order (newOrder `profile`;
    /// another is refused with invalidProfile), or lift the limit with --all.
    SetProfiles {
        /// The customer's name.
        name: String,
        /// Profile names, comma-separated (e.g. tlsserver,shortlived).
        #[arg(
            value_delimiter = ',',
            required_unless_present = "all",
            conflicts_with = "all"
        )]
        profiles: Vec<String>,
        /// Every profile the CA offers (no limit).
        #[arg(long)]
        all: bool,
    },
}

/// `ferrite credential …`
#[derive(Args, Debug)]
pub(crate) struct CredentialArgs {
    /// Print JSON (stable field names) instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: CredentialCommand,
}

#[derive(Subcommand, Debug)]
enum CredentialCommand {
    /// Create an API credential for a customer, or with --operator an operator credential
    /// (the admin API for any customer, as these commands; no MAC keys); prints its id and
    /// secret once.
    Create {
        /// The customer's name.
        #[arg(
            long,
            allow_hyphen_values = true,
            required_unless_present = "operator",
            conflicts_with = "operator"
        )]
        customer: Option<String>,
        /// An operator credential, tied to no customer.
        #[arg(long)]
        operator: bool,
    },
    /// List API credentials (of one customer with --customer; without it, operator
    /// credentials too, marked `operator`).
    List {
        /// Only this customer's (name).
        #[arg(long, allow_hyphen_values = true)]
        customer: Option<String>,
    },
    /// Disable an API credential: its MAC keys bind no more accounts (an operator
    /// credential: it authenticates no more).
    Disable {
        /// The credential id (one made before ids stopped starting with '-' is taken as it is).
        #[arg(allow_hyphen_values = true)]
        id: String,
        /// Also deactivate every ACME account bound through its MAC keys (a leaked key
        /// contained in one step: those accounts get `unauthorized` from then on).
        #[arg(long)]
        deactivate_accounts: bool,
    },
    /// List the ACME accounts bound through a credential's MAC keys.
    Accounts {
        /// The credential id (one made before ids stopped starting with '-' is taken as it is).
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
}

/// `ferrite account …`
#[derive(Args, Debug)]
pub(crate) struct AccountArgs {
    /// Print JSON (stable field names) instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: AccountCommand,
}

#[derive(Subcommand, Debug)]
enum AccountCommand {
    /// Deactivate an ACME account (final, RFC 8555 §7.3.6): every later request it signs gets
    /// `unauthorized`; its certificates stay valid.
    Deactivate {
        /// The account id (the last part of its URL; it may start with '-').
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
}

/// `ferrite mac-key …`
#[derive(Args, Debug)]
pub(crate) struct MacKeyArgs {
    /// Print JSON (stable field names) instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: MacKeyCommand,
}

#[derive(Subcommand, Debug)]
enum MacKeyCommand {
    /// Create an EAB MAC key for a credential; prints kid and HMAC key once and disables the
    /// credential's previous key.
    Create {
        /// The API credential id (one made before ids stopped starting with '-' may: the
        /// option takes it as its value).
        #[arg(long, allow_hyphen_values = true)]
        credential: String,
    },
    /// List MAC keys: status, expiry, uses left (of one credential with --credential).
    List {
        /// Only this credential's keys.
        #[arg(long, allow_hyphen_values = true)]
        credential: Option<String>,
    },
    /// One MAC key: status (its credential's and customer's state included), expiry, uses
    /// left.
    Show {
        /// The EAB key id (one made before ids stopped starting with '-' is taken as it is).
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
    /// Disable a MAC key: it binds no more accounts (final).
    Disable {
        /// The EAB key id (one made before ids stopped starting with '-' is taken as it is).
        #[arg(allow_hyphen_values = true)]
        kid: String,
        /// Also deactivate every ACME account bound through it (a leaked key contained in one
        /// step: those accounts get `unauthorized` from then on).
        #[arg(long)]
        deactivate_accounts: bool,
    },
}

/// `ferrite ca …`
#[derive(Args, Debug)]
pub(crate) struct CaArgs {
    /// Print JSON (stable field names) instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: CaCommand,
}

#[derive(Subcommand, Debug)]
enum CaCommand {
    /// The key ceremony ([ca] keys = "pkcs11"): generates the root key and the
    /// intermediate's key in the token (sensitive, never extractable), makes the self-signed
    /// root and the intermediate signed by it, writes the certificates (never a key) to
    /// data_dir/ca, prints fingerprints and writes a ceremony record (JSON) to
    /// data_dir/ca/ceremonies.
    Init {
        /// Make only the root (on an offline machine); take its root.pem to the machine that
        /// makes the intermediate.
        #[arg(long, conflicts_with = "intermediate_from")]
        root_only: bool,
        /// Make only an intermediate, under this root certificate (PEM), whose key is in the
        /// token (or in --root-token).
        #[arg(long, value_name = "ROOT_CERT")]
        intermediate_from: Option<std::path::PathBuf>,
        /// With --intermediate-from: the label of another token of the same module that
        /// holds the root key (kept offline); the intermediate's key is made in [ca]'s token.
        #[arg(long, value_name = "LABEL", requires = "intermediate_from")]
        root_token: Option<String>,
        /// With --root-token: a file holding that token's user PIN (default: [ca]'s PIN).
        #[arg(long, value_name = "FILE", requires = "root_token")]
        root_pin_file: Option<std::path::PathBuf>,
        /// With --intermediate-from: make one intermediate named NAME, the whole name
        /// (`intermediate-2027`, written as intermediate-2027.pem), beside the ones
        /// data_dir/ca holds, for a rotation; without it, a data_dir/ca without intermediates gets the
        /// default two (ECDSA P-256 `intermediate` and RSA 2048 `intermediate-rsa`).
        #[arg(long, value_name = "NAME", requires = "intermediate_from")]
        name: Option<String>,
        /// With --name: the new intermediate's key type: ecdsa-p256 (default), ecdsa-p384,
        /// rsa-2048, rsa-3072 or rsa-4096.
        #[arg(
            long,
            value_name = "TYPE",
            requires = "name",
            default_value = "ecdsa-p256"
        )]
        key_type: ferrite_pki::CaKeyType,
    },
    /// The chain in data_dir/ca: subject, issuer, serial, SHA-256 fingerprint, validity and
    /// days left, and where each key is (a file, or token/label/id).
    Show,
    /// Brings an existing hierarchy into an empty data_dir/ca: the root certificate, the
    /// issuing intermediate's certificate (signed by it; ECDSA P-256/P-384 or RSA) and its key — a PKCS#8
    /// PEM file with [ca] keys = "files", or already in [ca]'s token with "pkcs11". Checks
    /// the chain and that the key signs for the certificate before writing anything; never
    /// asks for the root key. Prints what `ferrite ca show` prints.
    Import {
        /// The root certificate (PEM).
        #[arg(long, value_name = "FILE")]
        root: std::path::PathBuf,
        /// The issuing intermediate's certificate (PEM).
        #[arg(long, value_name = "FILE")]
        intermediate: std::path::PathBuf,
        /// With keys = "files": the intermediate's key (PKCS#8 PEM), copied to
        /// data_dir/ca/private (0600).
        #[arg(long, value_name = "FILE")]
        intermediate_key: Option<std::path::PathBuf>,
    },
}

pub(crate) fn ca(config: &Config, args: CaArgs) -> anyhow::Result<()> {
    match args.command {
        CaCommand::Init {
            root_only,
            intermediate_from,
            root_token,
            root_pin_file,
            name,
            key_type,
        } => {
            let ceremony = match (root_only, intermediate_from) {
                (true, _) => ferrite_pki::Ceremony::RootOnly,
                (false, Some(root)) => ferrite_app::ca::intermediate_from(&root)?,
                (false, None) => ferrite_pki::Ceremony::RootAndIntermediate,
            };
            let root = root_token.map(|label| ferrite_app::ca::RootToken {
                label,
                pin_file: root_pin_file,
            });
            let intermediates = match name {
                Some(name) => vec![ferrite_pki::NewIntermediate { name, key_type }],
                None => ferrite_pki::NewIntermediate::defaults(),
            };
            ca::init(config, &ceremony, root.as_ref(), &intermediates, args.json)
        }
        CaCommand::Show => ca::show(config, args.json),
        CaCommand::Import {
            root,
            intermediate,
            intermediate_key,
        } => ca::import(
            config,
            &root,
            &intermediate,
            intermediate_key.as_deref(),
            args.json,
        ),
    }
}

/// `ferrite validation …`
#[derive(Args, Debug)]
pub(crate) struct ValidationArgs {
    /// Print JSON (stable field names, with the validator's evidence and every remote
    /// perspective's answer) instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: ValidationCommand,
}

#[derive(Subcommand, Debug)]
enum ValidationCommand {
    /// List domain validations kept for reuse, newest first (of one customer with --customer),
    /// with what the remote perspectives answered (PERSPECTIVES).
    List {
        /// Only this customer's (name).
        #[arg(long, allow_hyphen_values = true)]
        customer: Option<String>,
    },
}

/// `ferrite request …`
#[derive(Args, Debug)]
pub(crate) struct RequestArgs {
    /// Print JSON (stable field names) instead of labelled lines.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: RequestCommand,
}

#[derive(Subcommand, Debug)]
enum RequestCommand {
    /// Show a refused request (kept 30 days): when, what, the problem and detail the client
    /// got, its account and customer.
    Show {
        /// The request id (the response's X-Request-Id header, or the problem's requestId).
        id: String,
    },
}

/// `ferrite audit …`
#[derive(Args, Debug)]
pub(crate) struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Seal the entries appended since the last seal, then check the whole hash chain: exits
    /// non-zero naming the first entry that was edited, deleted or moved; prints the chain's
    /// head (keep it elsewhere: a later run that finds an older head saw entries deleted).
    Verify {
        /// Print JSON instead of a sentence.
        #[arg(long)]
        json: bool,
        /// A head an earlier run printed (`PLACE:HASH`), kept outside the database: fail
        /// unless that entry still has that hash (a log rewritten with fresh hashes, or cut
        /// back, fails here).
        #[arg(long)]
        head: Option<String>,
    },
    /// Write entries as JSON lines: made since a time (in the order they were appended), or
    /// sealed after a place of the chain (in chain order: an incremental feed that gives
    /// every entry once).
    Export {
        /// RFC 3339 time (`2026-12-01T00:00:00Z`); default: every entry.
        #[arg(long, conflicts_with = "after_chain")]
        since: Option<String>,
        /// The last place of the chain exported before (the `chain` of its last line).
        #[arg(long)]
        after_chain: Option<i64>,
    },
}

pub(crate) async fn audit(config: &Config, args: AuditArgs) -> anyhow::Result<()> {
    match args.command {
        AuditCommand::Verify { json, head } => audit::verify(config, json, head.as_deref()).await,
        AuditCommand::Export {
            after_chain: Some(after),
            ..
        } => audit::export(config, audit::ExportFrom::AfterChain(after)).await,
        AuditCommand::Export { since, .. } => {
            audit::export(config, audit::ExportFrom::Since(since)).await
        }
    }
}

pub(crate) async fn request(config: &Config, args: RequestArgs) -> anyhow::Result<()> {
    match args.command {
        RequestCommand::Show { id } => request::show(config, &id, args.json).await,
    }
}

pub(crate) async fn validation(config: &Config, args: ValidationArgs) -> anyhow::Result<()> {
    match args.command {
        ValidationCommand::List { customer } => {
            validation::list(config, customer.as_deref(), args.json).await
        }
    }
}

pub(crate) async fn customer(config: &Config, args: CustomerArgs) -> anyhow::Result<()> {
    audit_to_stderr(config);
    let registry = open(config).await?;
    match args.command {
        CustomerCommand::Create { name } => customer::create(&registry, &name, args.json).await,
        CustomerCommand::List => customer::list(&registry, args.json).await,
        CustomerCommand::Suspend { name, reason } => {
            customer::suspend(&registry, config, &name, reason.as_deref(), args.json).await
        }
        CustomerCommand::Resume { name } => customer::resume(&registry, &name, args.json).await,
        CustomerCommand::SetLimit {
            name,
            limit,
            value,
            default: _,
        } => customer::set_limit(&registry, config, &name, &limit, value, args.json).await,
        CustomerCommand::Limits { name } => {
            customer::limits(&registry, config, &name, args.json).await
        }
        CustomerCommand::SetProfiles {
            name,
            profiles,
            all,
        } => {
            let profiles = if all { None } else { Some(profiles) };
            customer::set_profiles(&registry, config, &name, profiles, args.json).await
        }
    }
}

/// `ferrite ari …`
#[derive(Args, Debug)]
pub(crate) struct AriArgs {
    /// Print JSON (stable field names) instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: AriCommand,
}

#[derive(Subcommand, Debug)]
enum AriCommand {
    /// Pull renewal windows forward (incident response): the renewal information of the
    /// unexpired certificates selected shows a window in the past, so clients that check it
    /// (certbot, lego, Caddy, …) renew them at once.
    Advance {
        /// One certificate, by serial (hex, as `openssl x509 -serial` prints it).
        #[arg(long, group = "which")]
        serial: Option<String>,
        /// Every certificate of this customer's accounts (name).
        #[arg(long, group = "which", allow_hyphen_values = true)]
        customer: Option<String>,
        /// Every certificate with this DNS name.
        #[arg(long, group = "which")]
        domain: Option<String>,
        /// A page explaining why (renewal information's explanationURL).
        #[arg(long, value_name = "URL")]
        reason: Option<String>,
        /// List what would be advanced; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

pub(crate) async fn ari(config: &Config, args: AriArgs) -> anyhow::Result<()> {
    match args.command {
        AriCommand::Advance {
            serial,
            customer,
            domain,
            reason,
            dry_run,
        } => {
            let filter = match (serial, customer, domain) {
                (Some(s), _, _) => ari::Filter::Serial(s),
                (_, Some(c), _) => ari::Filter::Customer(c),
                (_, _, Some(d)) => ari::Filter::Domain(d),
                _ => anyhow::bail!(
                    "say which certificates: --serial SERIAL, --customer NAME or --domain NAME"
                ),
            };
            ari::advance(config, filter, reason.as_deref(), dry_run, args.json).await
        }
    }
}

/// `ferrite cert …`
#[derive(Args, Debug)]
pub(crate) struct CertArgs {
    /// Print JSON (stable field names) instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: CertCommand,
}

#[derive(Subcommand, Debug)]
enum CertCommand {
    /// List certificates (by serial; at most --limit): serial, names, notAfter, status.
    List {
        /// Only this customer's (name).
        #[arg(long, allow_hyphen_values = true)]
        customer: Option<String>,
        /// Only certificates with this DNS name; with a leading dot (`.example.com`), every
        /// name under that domain.
        #[arg(long)]
        domain: Option<String>,
        /// Only this serial (hex, as `openssl x509 -serial` prints it).
        #[arg(long)]
        serial: Option<String>,
        /// Only unexpired certificates that expire within DAYS days.
        #[arg(long, value_name = "DAYS")]
        expiring: Option<u32>,
        /// Show at most this many.
        #[arg(long, default_value_t = 1000)]
        limit: u32,
    },
    /// One certificate: names, customer, account, order, validity, status, revocation, key
    /// hash, and its PEM chain.
    Show {
        /// The serial (hex, as `openssl x509 -serial` prints it; case and colons ignored).
        serial: String,
    },
    /// Revoke one certificate by serial, or in bulk (--customer, --domain, --issued-between,
    /// --key-spki: unexpired certificates only, after a confirmation; --dry-run lists them).
    /// keyCompromise also blocks the key. Each certificate is revoked in its own transaction:
    /// run a bulk revocation again after an interruption to finish it.
    Revoke {
        /// The serial (hex, as `openssl x509 -serial` prints it; case and colons ignored).
        #[arg(group = "which")]
        serial: Option<String>,
        /// RFC 5280 reason: unspecified, keyCompromise, affiliationChanged, superseded,
        /// cessationOfOperation, privilegeWithdrawn, or its code (0, 1, 3, 4, 5, 9).
        #[arg(long)]
        reason: String,
        /// Every unexpired certificate of this customer's accounts (name).
        #[arg(long, group = "which", allow_hyphen_values = true)]
        customer: Option<String>,
        /// Every unexpired certificate with this DNS name.
        #[arg(long, group = "which")]
        domain: Option<String>,
        /// Every unexpired certificate issued (notBefore) from A up to B (dates or RFC 3339
        /// times; B excluded).
        #[arg(long, group = "which", num_args = 2, value_names = ["A", "B"])]
        issued_between: Option<Vec<String>>,
        /// Every unexpired certificate of the key with this SubjectPublicKeyInfo SHA-256 (hex).
        #[arg(long, group = "which", value_name = "HASH")]
        key_spki: Option<String>,
        /// Bulk: list what would be revoked; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Bulk: do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// Runs a `ferrite cert` subcommand.
pub(crate) async fn cert(config: &Config, args: CertArgs) -> anyhow::Result<()> {
    match args.command {
        CertCommand::List {
            customer,
            domain,
            serial,
            expiring,
            limit,
        } => {
            let filter = cert::ListFilter {
                customer,
                domain,
                serial,
                expiring_days: expiring,
                limit,
            };
            cert::list(config, filter, args.json).await
        }
        CertCommand::Show { serial } => cert::show(config, &serial, args.json).await,
        CertCommand::Revoke {
            serial,
            reason,
            customer,
            domain,
            issued_between,
            key_spki,
            dry_run,
            yes,
        } => {
            let bulk = match (customer, domain, issued_between, key_spki) {
                (Some(c), _, _, _) => cert::BulkFilter::Customer(c),
                (_, Some(d), _, _) => cert::BulkFilter::Domain(d),
                (_, _, Some(between), _) => match between.as_slice() {
                    [a, b] => cert::BulkFilter::IssuedBetween(a.clone(), b.clone()),
                    _ => anyhow::bail!("--issued-between takes two times: A B"),
                },
                (_, _, _, Some(h)) => cert::BulkFilter::KeySpki(h),
                (None, None, None, None) => {
                    let serial = serial.ok_or_else(|| {
                        anyhow::anyhow!(
                            "say which certificates: SERIAL, --customer NAME, --domain NAME, --issued-between A B or --key-spki HASH"
                        )
                    })?;
                    anyhow::ensure!(
                        !dry_run,
                        "--dry-run is for bulk revocation; `ferrite cert show {serial}` shows the certificate"
                    );
                    return cert::revoke_one(config, &serial, &reason, args.json).await;
                }
            };
            cert::revoke_bulk(config, bulk, &reason, dry_run, yes, args.json).await
        }
    }
}

/// `ferrite key …`
#[derive(Args, Debug)]
pub(crate) struct KeyArgs {
    /// Print JSON (stable field names) instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: KeyCommand,
}

#[derive(Subcommand, Debug)]
enum KeyCommand {
    /// Block a public key: CSRs (finalize), new accounts and key changes with it get
    /// badPublicKey.
    Block {
        /// SHA-256 of the key's DER SubjectPublicKeyInfo, hex (`openssl pkey -pubin
        /// -outform DER | sha256sum`).
        #[arg(long, value_name = "HASH")]
        spki_sha256: String,
        /// Why, for the record.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// List blocked keys, oldest first.
    List,
    /// Lift a key's block.
    Unblock {
        /// SHA-256 of the key's DER SubjectPublicKeyInfo, hex.
        spki_sha256: String,
    },
}

/// Runs a `ferrite key` subcommand.
pub(crate) async fn key(config: &Config, args: KeyArgs) -> anyhow::Result<()> {
    match args.command {
        KeyCommand::Block {
            spki_sha256,
            reason,
        } => key::block(config, &spki_sha256, reason.as_deref(), args.json).await,
        KeyCommand::List => key::list(config, args.json).await,
        KeyCommand::Unblock { spki_sha256 } => key::unblock(config, &spki_sha256, args.json).await,
    }
}

pub(crate) async fn credential(config: &Config, args: CredentialArgs) -> anyhow::Result<()> {
    audit_to_stderr(config);
    let registry = open(config).await?;
    match args.command {
        CredentialCommand::Create {
            customer,
            operator: _,
        } => credential::create(&registry, customer.as_deref(), args.json).await,
        CredentialCommand::List { customer } => {
            credential::list(&registry, customer.as_deref(), args.json).await
        }
        CredentialCommand::Disable {
            id,
            deactivate_accounts,
        } => credential::disable(&registry, &id, deactivate_accounts, args.json).await,
        CredentialCommand::Accounts { id } => credential::accounts(&registry, &id, args.json).await,
    }
}

pub(crate) async fn account(config: &Config, args: AccountArgs) -> anyhow::Result<()> {
    audit_to_stderr(config);
    let registry = open(config).await?;
    match args.command {
        AccountCommand::Deactivate { id } => {
            let account = registry
                .deactivate_account(&id, None)
                .await
                .map_err(operator_error)?;
            if args.json {
                return print_json(&account);
            }
            println!(
                "ACME account {} is {}: requests it signs get `unauthorized`; its certificates stay valid (revoke them to end them).",
                account.id, account.status
            );
            Ok(())
        }
    }
}

pub(crate) async fn mac_key(config: &Config, args: MacKeyArgs) -> anyhow::Result<()> {
    audit_to_stderr(config);
    let registry = open(config).await?;
    match args.command {
        MacKeyCommand::Create { credential } => {
            mac_key::create(&registry, config, &credential, args.json).await
        }
        MacKeyCommand::List { credential } => {
            mac_key::list(&registry, credential.as_deref(), args.json).await
        }
        MacKeyCommand::Show { kid } => mac_key::show(&registry, &kid, args.json).await,
        MacKeyCommand::Disable {
            kid,
            deactivate_accounts,
        } => mac_key::disable(&registry, &kid, deactivate_accounts, args.json).await,
    }
}

/// The audit trail of the operator's changes: the `ferrite::audit` events of the command
/// (customer suspended, credential or MAC key disabled, account deactivated: what, which,
/// by whom) go to stderr in `log_format`, where the terminal, a script's log or the journal
/// keeps them, as `ferrite serve` logs its own. Nothing else is logged, so stdout stays the
/// table or JSON.
fn audit_to_stderr(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::new("off,ferrite::audit=info");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::io::stderr);
    // A second call in one process (none today) keeps the first subscriber.
    let _ = if config.log_format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// The registry over the server's database and KEK.
async fn open(config: &Config) -> anyhow::Result<Registry> {
    ferrite_app::open_registry(config).await
}

/// A core error as the operator should read it: a problem's detail (what went wrong and what
/// to do), or the store's own message (the operator owns the database).
fn operator_error(e: CoreError) -> anyhow::Error {
    match e {
        CoreError::Problem(p) => anyhow::anyhow!(p.detail),
        other => anyhow::anyhow!(other.to_string()),
    }
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// `ferrite store …`
#[derive(Args, Debug)]
pub(crate) struct StoreArgs {
    #[command(subcommand)]
    command: StoreCommand,
}

#[derive(Subcommand, Debug)]
enum StoreCommand {
    /// Copy a SQLite deployment's database into an empty PostgreSQL database: customers,
    /// credentials, MAC keys with their binding counts, accounts, orders, authorizations,
    /// challenges, validations, certificates, revocations, blocked keys, rate limits and their
    /// per-customer values, the CA record and the CRL number.
    /// Stop every instance first; the CA material (data_dir/ca, eab.kek) is copied by hand.
    /// Exits non-zero unless every table counts the same on both sides.
    Copy {
        /// The SQLite deployment's data directory (holding ferrite.db).
        #[arg(long)]
        from: std::path::PathBuf,
        /// The PostgreSQL database, `postgres://USER@HOST/DB` (default: `database_url`).
        #[arg(long)]
        to: Option<String>,
    },
}

/// Runs a `ferrite store` subcommand.
pub(crate) async fn store(config: &Config, args: StoreArgs) -> anyhow::Result<()> {
    match args.command {
        StoreCommand::Copy { from, to } => store::copy(config, &from, to.as_deref()).await,
    }
}
