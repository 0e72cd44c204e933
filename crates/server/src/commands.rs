//! The `rampart` commands.

use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use secrecy::SecretString;

use crate::audit::{self, Verdict};
use crate::config::{Config, Mode};
use crate::crypto::keyring::{self, Keys, Purpose};
use crate::{app, db, telemetry};

#[derive(Parser)]
#[command(
    name = "rampart",
    version,
    about = "The Rampart API server and its tools"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (configuration from RAMPART_* and RAMPART_CONFIG).
    Serve,
    /// Development only: create the database and its users on a local
    /// server, migrate, and serve. Used by `make run`.
    Dev {
        /// An administrator's URL, able to create databases and users.
        #[arg(long, env = "RAMPART_ADMIN_DATABASE_URL", hide_env_values = true)]
        admin_url: SecretString,
        /// Name of the database (the users are named after it).
        #[arg(long, default_value = "rampart")]
        database: String,
    },
    /// Database schema tasks.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Key-ring tasks.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Audit-trail tasks.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum DbCommand {
    /// Apply pending migrations as the migrator user.
    Migrate {
        #[arg(long, env = "RAMPART_MIGRATOR_DATABASE_URL", hide_env_values = true)]
        migrator_url: SecretString,
    },
    /// Print the GRANT statements the application user needs.
    Grants {
        #[arg(long, default_value = "rampart")]
        database: String,
        #[arg(long, default_value = "rampart_app")]
        user: String,
        #[arg(long, default_value = "%")]
        host: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make a new key current. Signing keys start signing after the
    /// configured activation delay; wrapping keys also re-wrap every data key.
    Rotate {
        #[arg(long, value_enum, default_value = "signing")]
        purpose: RotatePurpose,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum RotatePurpose {
    Signing,
    Wrapping,
    Audit,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the hash chain; exit 1 at the first record that was altered,
    /// removed or reordered.
    Verify,
}

/// Runs the command; the exit code is the process's.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Serve => {
            let config = Config::load()?;
            telemetry::init(config.log_format);
            serve(config).await?;
            Ok(0)
        }
        Command::Dev {
            admin_url,
            database,
        } => {
            let mut config = Config::load()?;
            telemetry::init(config.log_format);
            anyhow::ensure!(
                config.env == Mode::Development,
                "`rampart dev` is for development mode only"
            );
            let admin = db::admin_options(&admin_url)?;
            let provision = db::Provision::new(&database)?;
            db::provision(&admin, &provision).await?;
            config.database_url = Some(provision.app_url(&admin));
            println!(
                "rampart: database `{database}` on {}:{} ready (application user {})",
                admin.get_host(),
                admin.get_port(),
                provision.app_user
            );
            serve(config).await?;
            Ok(0)
        }
        Command::Db {
            command: DbCommand::Migrate { migrator_url },
        } => {
            let pool = db::connect(&migrator_url, 1).await?;
            db::MIGRATOR
                .run(&pool)
                .await
                .context("running the migrations")?;
            println!("rampart: migrations applied");
            Ok(0)
        }
        Command::Db {
            command:
                DbCommand::Grants {
                    database,
                    user,
                    host,
                },
        } => {
            for (table, privileges) in db::grants::APP_GRANTS {
                println!("GRANT {privileges} ON `{database}`.`{table}` TO '{user}'@'{host}';");
            }
            Ok(0)
        }
        Command::Keys {
            command: KeysCommand::Rotate { purpose },
        } => {
            let config = Config::load()?;
            telemetry::init(config.log_format);
            let pool = connect(&config).await?;
            let master = app::master_key(&config)?;
            let (purpose, delay) = match purpose {
                RotatePurpose::Signing => (
                    Purpose::Signing,
                    Duration::from_secs(config.signing_key_activation_delay_secs),
                ),
                RotatePurpose::Wrapping => (Purpose::Wrapping, Duration::ZERO),
                RotatePurpose::Audit => (Purpose::Audit, Duration::ZERO),
            };
            let kid = keyring::rotate(&pool, &master, purpose, delay).await?;
            println!(
                "rampart: new {} key {kid} (active in {} s)",
                purpose.as_str(),
                delay.as_secs()
            );
            if purpose == Purpose::Wrapping {
                let keys = Keys::open(&pool, master).await?;
                let count = keyring::rewrap_data_keys(&pool, &keys).await?;
                println!("rampart: re-wrapped {count} data keys");
            }
            Ok(0)
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let config = Config::load()?;
            let pool = connect(&config).await?;
            match audit::verify(&pool).await? {
                Verdict::Intact { records } => {
                    println!("audit trail intact: {records} records");
                    Ok(0)
                }
                Verdict::Broken { seq, reason } => {
                    println!("audit trail BROKEN at record {seq}: {reason}");
                    Ok(1)
                }
            }
        }
    }
}

async fn connect(config: &Config) -> anyhow::Result<sqlx::MySqlPool> {
    let url = config
        .database_url
        .as_ref()
        .context("RAMPART_DATABASE_URL is not set")?;
    db::connect(url, 2).await
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let state = app::build_state(config).await?;
    let address = listener.local_addr()?;
    println!("rampart: API on http://{address}");
    match state.mailer.outbox() {
        Some(dir) => println!("rampart: outbox (development mail) in {}", dir.display()),
        None => println!("rampart: mail goes out by SMTP"),
    }
    let mailer = state.mailer.clone();
    let background = state.background.clone();
    let served = app::serve(listener, state, app::shutdown_signal()).await;
    background.close();
    if tokio::time::timeout(Duration::from_secs(10), background.wait())
        .await
        .is_err()
    {
        tracing::warn!("shutting down with background work unfinished");
    }
    mailer.flush(Duration::from_secs(10)).await;
    served
}
