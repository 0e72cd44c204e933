//! Database access: pools, migrations, and provisioning of the schema and of
//! its two users (the migrator, who owns the schema, and the application
//! user, who may only read and write Rampart's tables).

pub mod grants;

use std::time::Duration;

use anyhow::{Context, bail};
use secrecy::{ExposeSecret, SecretString};
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
// DDL takes no bind parameters, so `provision` builds statements as text;
// every name and password in them passed `check_identifier`, `check_host` or
// `check_literal` first, which is what `AssertSqlSafe` vouches for.
use sqlx::{AssertSqlSafe, ConnectOptions, MySqlPool};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub async fn connect(url: &SecretString, max_connections: u32) -> anyhow::Result<MySqlPool> {
    let options: MySqlConnectOptions = url
        .expose_secret()
        .parse()
        .context("RAMPART_DATABASE_URL is not a valid mysql:// URL")?;
    // Statements are logged by our own spans, not by sqlx (which would log
    // SQL text at INFO).
    let options = options.log_statements(tracing::log::LevelFilter::Trace);
    MySqlPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(1)
        // sqlx pings every connection it hands out by default: a second
        // round trip on every read (bench/README.md measured it at a tenth
        // to a fifth of GET /v1/me's rate). Ping only connections that sat
        // idle long enough for the server or a proxy to have dropped them.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > Duration::from_secs(30) {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .context("connecting to the database")
}

/// Refuses to serve on a schema older than this build's migrations.
pub async fn check_schema(pool: &MySqlPool) -> anyhow::Result<()> {
    let applied: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = 1")
            .fetch_one(pool)
            .await
            .context("reading the schema version (run `rampart db migrate` first)")?;
    let needed = MIGRATOR.iter().map(|m| m.version).max();
    if applied < needed {
        bail!(
            "the database schema is at version {}, this server needs {}: run `rampart db migrate`",
            applied.unwrap_or(0),
            needed.unwrap_or(0)
        );
    }
    Ok(())
}

/// The names and passwords `provision` creates.
pub struct Provision {
    pub database: String,
    pub app_user: String,
    pub app_password: SecretString,
    pub migrator_user: String,
    pub migrator_password: SecretString,
    /// Hosts the users may connect from.
    pub hosts: Vec<String>,
}

impl Provision {
    /// Names derived from `database`, with fresh random passwords.
    pub fn new(database: &str) -> anyhow::Result<Self> {
        Ok(Self {
            database: database.to_owned(),
            app_user: format!("{database}_app"),
            app_password: random_password()?,
            migrator_user: format!("{database}_mig"),
            migrator_password: random_password()?,
            hosts: vec!["localhost".into(), "127.0.0.1".into()],
        })
    }

    pub fn app_url(&self, admin: &MySqlConnectOptions) -> SecretString {
        user_url(admin, &self.app_user, &self.app_password, &self.database)
    }

    pub fn migrator_url(&self, admin: &MySqlConnectOptions) -> SecretString {
        user_url(
            admin,
            &self.migrator_user,
            &self.migrator_password,
            &self.database,
        )
    }
}

fn user_url(
    admin: &MySqlConnectOptions,
    user: &str,
    password: &SecretString,
    db: &str,
) -> SecretString {
    let host = admin.get_host();
    let port = admin.get_port();
    SecretString::from(format!(
        "mysql://{user}:{}@{host}:{port}/{db}",
        password.expose_secret()
    ))
}

fn random_password() -> anyhow::Result<SecretString> {
    use base64::Engine as _;
    let raw: [u8; 24] = crate::crypto::random_array()?;
    // URL-safe base64 needs no escaping in a URL or a SQL string literal.
    Ok(SecretString::from(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw),
    ))
}

/// Names go into DDL, where MySQL takes no bind parameters: allow only a
/// plain identifier alphabet.
fn check_identifier(name: &str) -> anyhow::Result<&str> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !ok {
        bail!("{name:?} is not a valid database or user name (a-z, 0-9, _; at most 32)");
    }
    Ok(name)
}

fn check_literal(secret: &SecretString) -> anyhow::Result<&str> {
    let s = secret.expose_secret();
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(s)
    } else {
        bail!("generated passwords use a URL-safe alphabet only")
    }
}

pub fn admin_options(admin_url: &SecretString) -> anyhow::Result<MySqlConnectOptions> {
    admin_url
        .expose_secret()
        .parse::<MySqlConnectOptions>()
        .context("the admin database URL is not a valid mysql:// URL")
}

/// Creates (or updates) the database, both users and their privileges, and
/// runs the migrations as the migrator. Idempotent: passwords are reset to
/// the ones in `p`.
pub async fn provision(admin: &MySqlConnectOptions, p: &Provision) -> anyhow::Result<()> {
    let db = check_identifier(&p.database)?;
    let app = check_identifier(&p.app_user)?;
    let mig = check_identifier(&p.migrator_user)?;
    let app_pw = check_literal(&p.app_password)?;
    let mig_pw = check_literal(&p.migrator_password)?;

    let mut conn = admin
        .clone()
        .log_statements(tracing::log::LevelFilter::Trace)
        .connect()
        .await
        .context("connecting as the database administrator")?;
    let mut ddl = format!(
        "CREATE DATABASE IF NOT EXISTS `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;\n"
    );
    for host in &p.hosts {
        let host = check_host(host)?;
        for (user, pw) in [(app, app_pw), (mig, mig_pw)] {
            ddl.push_str(&format!(
                "CREATE USER IF NOT EXISTS '{user}'@'{host}' IDENTIFIED BY '{pw}';\n\
                 ALTER USER '{user}'@'{host}' IDENTIFIED BY '{pw}';\n"
            ));
        }
        ddl.push_str(&format!(
            "GRANT ALL PRIVILEGES ON `{db}`.* TO '{mig}'@'{host}';\n"
        ));
    }
    sqlx::raw_sql(AssertSqlSafe(ddl))
        .execute(&mut conn)
        .await
        .context("creating the database and users")?;

    let migrator = MySqlPoolOptions::new()
        .max_connections(1)
        .connect_with(admin.clone().username(mig).password(mig_pw).database(db))
        .await
        .context("connecting as the migrator")?;
    MIGRATOR
        .run(&migrator)
        .await
        .context("running the migrations")?;
    migrator.close().await;

    let mut grants = String::new();
    for host in &p.hosts {
        let host = check_host(host)?;
        // Start from nothing so that a privilege removed from grants.rs is
        // also removed from the server.
        grants.push_str(&format!(
            "REVOKE ALL PRIVILEGES, GRANT OPTION FROM '{app}'@'{host}';\n"
        ));
        for (table, privileges) in grants::APP_GRANTS {
            grants.push_str(&format!(
                "GRANT {privileges} ON `{db}`.`{table}` TO '{app}'@'{host}';\n"
            ));
        }
    }
    sqlx::raw_sql(AssertSqlSafe(grants))
        .execute(&mut conn)
        .await
        .context("granting the application user")?;
    Ok(())
}

fn check_host(host: &str) -> anyhow::Result<&str> {
    let ok = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'%' || b == b':');
    if ok && !host.is_empty() {
        Ok(host)
    } else {
        bail!("{host:?} is not a valid host pattern")
    }
}

/// Drops what `provision` created (tests clean up with this).
pub async fn deprovision(admin: &MySqlConnectOptions, p: &Provision) -> anyhow::Result<()> {
    let db = check_identifier(&p.database)?;
    let mut sql = format!("DROP DATABASE IF EXISTS `{db}`;\n");
    for host in &p.hosts {
        let host = check_host(host)?;
        for user in [&p.app_user, &p.migrator_user] {
            let user = check_identifier(user)?;
            sql.push_str(&format!("DROP USER IF EXISTS '{user}'@'{host}';\n"));
        }
    }
    let mut conn = admin
        .clone()
        .log_statements(tracing::log::LevelFilter::Trace)
        .connect()
        .await?;
    // Connections left open (a task still inside a transaction) would hold
    // metadata locks and make DROP DATABASE wait forever: end them first.
    let ids: Vec<u64> = sqlx::query_scalar(
        "SELECT CAST(id AS UNSIGNED) FROM information_schema.processlist WHERE user IN (?, ?)",
    )
    .bind(&p.app_user)
    .bind(&p.migrator_user)
    .fetch_all(&mut conn)
    .await?;
    for id in ids {
        // The connection may have gone by itself meanwhile.
        let _ = sqlx::raw_sql(AssertSqlSafe(format!("KILL CONNECTION {id}")))
            .execute(&mut conn)
            .await;
    }
    sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await?;
    Ok(())
}
