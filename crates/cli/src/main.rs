//! `ferrite`: the one binary. `ferrite serve` runs the CA; other subcommands are operator tools.
//! This crate parses arguments, loads the configuration and prints what operators read;
//! `ferrite_app` builds the instance.

mod commands;
mod first_start;
mod serve;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc's malloc: the server allocates and frees small buffers on every
/// request from two runtime threads and the database writer; glibc's malloc/free were 5.7 %
/// of its CPU samples (docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Ferrite, an ACME (RFC 8555) certificate authority.
#[derive(Parser, Debug)]
#[command(name = "ferrite", version, about)]
struct Cli {
    /// Configuration file (TOML). Without it, embedded defaults apply; `FERRITE_*` environment
    /// variables override either.
    #[arg(long, global = true, env = "FERRITE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the CA. The first start creates the data directory: database, root and intermediate
    /// CA, and the listener's TLS certificate.
    Serve,
    /// Customer accounts: `create NAME`, `list`, `set-profiles NAME P1,P2 | --all`,
    /// `suspend NAME [--reason TEXT]`, `resume NAME`.
    Customer(commands::CustomerArgs),
    /// API credentials: `create --customer NAME`, `list`, `disable ID [--deactivate-accounts]`,
    /// `accounts ID`.
    Credential(commands::CredentialArgs),
    /// ACME accounts: `deactivate ID`.
    Account(commands::AccountArgs),
    /// EAB MAC keys: `create --credential ID`, `list [--credential ID]`, `show KID`,
    /// `disable KID [--deactivate-accounts]`.
    MacKey(commands::MacKeyArgs),
    /// Domain validations kept for reuse, with their evidence and remote perspectives:
    /// `list [--customer NAME]`.
    Validation(commands::ValidationArgs),
    /// The support trail: `show ID`, a refused request (kept 30 days) by its request id.
    Request(commands::RequestArgs),
    /// The tamper-evident audit log: `verify` (seal the new entries, then check the hash
    /// chain), `export [--since T]` (JSON lines).
    Audit(commands::AuditArgs),
    /// Renewal information (RFC 9773): `advance --serial S | --customer C | --domain D
    /// [--reason URL] [--dry-run]`.
    Ari(commands::AriArgs),
    /// Issued certificates: `list [--customer C] [--domain D] [--serial S] [--expiring DAYS]`,
    /// `show SERIAL`, `revoke SERIAL --reason R`, and bulk `revoke --customer C | --domain D |
    /// --issued-between A B | --key-spki HASH --reason R [--dry-run] [--yes]`.
    Cert(commands::CertArgs),
    /// Keys reported compromised (badPublicKey): `block --spki-sha256 H [--reason TEXT]`,
    /// `list`, `unblock H`.
    Key(commands::KeyArgs),
    /// Apply the database schema (`database_url`, else SQLite in `data_dir`) and exit.
    /// `ferrite serve` applies it too; run this first to upgrade the schema once, before
    /// starting several instances of a new version.
    Migrate,
    /// The database itself: `copy --from SQLITE_DATA_DIR --to postgres://…` moves a SQLite
    /// deployment to PostgreSQL.
    Store(commands::StoreArgs),
    /// The CA's keys and certificates: `init [--root-only | --intermediate-from ROOT_CERT]`
    /// (the key ceremony in a PKCS#11 token), `show`.
    Ca(commands::CaArgs),
    /// Remote perspectives for multi-perspective corroboration (docs/mpic.md): `enroll --id ID
    /// --region REGION --out DIR` on the primary, `run --bundle DIR --listen ADDR` on the agent.
    VaAgent(commands::VaAgentArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Everything Ferrite writes is its user's alone, unless it says otherwise (`ca/`).
    ferrite_app::data_dir::restrict_new_files();
    let config = ferrite_app::Config::load(cli.config.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // An operator command that can change what the CA holds is an audit entry of its own
    // (what it changes in the database is audited with the change, by the schema's
    // triggers); `serve` audits its start itself.
    if matches!(
        cli.command,
        Command::Customer(_)
            | Command::Credential(_)
            | Command::Account(_)
            | Command::MacKey(_)
            | Command::Ari(_)
            | Command::Cert(_)
            | Command::Key(_)
    ) {
        runtime.block_on(commands::audit::record_command(&config));
    }
    match cli.command {
        Command::Serve => {
            // Validations run on a runtime of their own (`CaConfig::validation_runtime`),
            // as many threads as the main one: separate run queues, not a CPU limit (DNSSEC
            // validation of every answer costs signature checks). Declared after `runtime`,
            // so it is dropped first, outside any async context.
            let validations = tokio::runtime::Builder::new_multi_thread()
                .thread_name("ferrite-va")
                .enable_all()
                .build()?;
            runtime.block_on(serve::run(config, validations.handle().clone()))
        }
        Command::Customer(args) => runtime.block_on(commands::customer(&config, args)),
        Command::Credential(args) => runtime.block_on(commands::credential(&config, args)),
        Command::Account(args) => runtime.block_on(commands::account(&config, args)),
        Command::MacKey(args) => runtime.block_on(commands::mac_key(&config, args)),
        Command::Validation(args) => runtime.block_on(commands::validation(&config, args)),
        Command::Ari(args) => runtime.block_on(commands::ari(&config, args)),
        Command::Request(args) => runtime.block_on(commands::request(&config, args)),
        Command::Audit(args) => runtime.block_on(commands::audit(&config, args)),
        // Revocations and key blocks are audit events (`ferrite::audit`), logged to stderr.
        Command::Cert(args) => {
            serve::init_logging(&config.log_format);
            runtime.block_on(commands::cert(&config, args))
        }
        Command::Key(args) => {
            serve::init_logging(&config.log_format);
            runtime.block_on(commands::key(&config, args))
        }
        Command::Migrate => runtime.block_on(migrate(&config)),
        Command::Store(args) => runtime.block_on(commands::store(&config, args)),
        Command::VaAgent(args) => runtime.block_on(commands::va_agent(&config, args)),
        Command::Ca(args) => {
            serve::init_logging(&config.log_format);
            commands::ca(&config, args)
        }
    }
}

/// `ferrite migrate`: applies the schema and says where and at what version.
async fn migrate(config: &ferrite_app::Config) -> anyhow::Result<()> {
    let done = ferrite_app::migrate(config).await?;
    println!(
        "{} database schema is at version {} (up to date)",
        done.backend, done.version
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Cli;

    /// Ids made before `ids::random_arg_safe_id` may start with '-', and account ids may: the
    /// options and arguments that take an id or a name take such a value as theirs, not as
    /// another option, and the flags after it still count.
    #[test]
    fn option_values_may_start_with_a_hyphen() {
        for args in [
            &[
                "ferrite",
                "mac-key",
                "create",
                "--credential",
                "-ZC8XKqBh71cM7NYY5ik-A",
                "--json",
            ][..],
            &[
                "ferrite",
                "mac-key",
                "list",
                "--credential",
                "-ZC8XKqBh71cM7NYY5ik-A",
            ],
            &[
                "ferrite",
                "credential",
                "list",
                "--customer",
                "-ZC8XKqBh71cM7NYY5ik-A",
            ],
            &[
                "ferrite",
                "account",
                "deactivate",
                "-ZC8XKqBh71cM7NYY5ik-A",
                "--json",
            ],
            &[
                "ferrite",
                "credential",
                "disable",
                "-ZC8XKqBh71cM7NYY5ik-A",
                "--deactivate-accounts",
            ],
            &[
                "ferrite",
                "credential",
                "accounts",
                "-ZC8XKqBh71cM7NYY5ik-A",
            ],
            &[
                "ferrite",
                "mac-key",
                "disable",
                "-ZC8XKqBh71cM7NYY5ik-A",
                "--deactivate-accounts",
                "--json",
            ],
            &["ferrite", "mac-key", "show", "-ZC8XKqBh71cM7NYY5ik-A"],
        ] {
            let cli = Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            let shown = format!("{cli:?}");
            assert!(shown.contains("\"-ZC8XKqBh71cM7NYY5ik-A\""), "{shown}");
            for (flag, field) in [
                ("--json", "json: true"),
                ("--deactivate-accounts", "deactivate_accounts: true"),
            ] {
                assert_eq!(
                    args.contains(&flag),
                    shown.contains(field),
                    "{flag} after the id: {shown}"
                );
            }
        }
    }
}
