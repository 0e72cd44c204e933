//! Configuration: built-in defaults, then an optional TOML file named by
//! `RAMPART_CONFIG`, then `RAMPART_*` environment variables (nested keys
//! joined with `__`, e.g. `RAMPART_ARGON2__M_COST_KIB`). Every option is
//! documented where it is declared; the README lists them.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `development` (the default) or `production`. Set by `RAMPART_ENV`.
    pub env: Mode,
    /// Where the API listens.
    pub listen: SocketAddr,
    /// The application user's connection URL (`mysql://user:password@host:port/db`).
    /// This user may only read and write Rampart's tables.
    pub database_url: Option<SecretString>,
    /// Size of the connection pool of each API instance.
    pub database_max_connections: u32,
    /// 32 random bytes, base64: encrypts every key of the key ring. In
    /// development it is generated into `<state_dir>/master.key` on first run.
    pub master_key: Option<SecretString>,
    /// Optional server-side secret mixed into every password hash (Argon2's
    /// secret input). Changing it invalidates every stored password.
    pub password_pepper: Option<SecretString>,
    /// The web app's address; links in e-mails point here.
    pub public_web_url: String,
    /// `iss` of access tokens.
    pub token_issuer: String,
    /// `aud` of access tokens.
    pub token_audience: String,
    /// Lifetime of an access token in seconds (at most 600).
    pub access_token_ttl_secs: u64,
    /// Absolute lifetime of a session (and so of its refresh tokens), in days.
    pub session_ttl_days: u64,
    /// A refresh token replaced less than this many seconds ago is accepted
    /// once more, so that clients racing to refresh are not signed out.
    /// 0 turns the grace off.
    pub refresh_grace_secs: u64,
    /// Seconds between a new signing key's creation and its first use, so
    /// that every instance has loaded its public key before tokens signed by
    /// it arrive.
    pub signing_key_activation_delay_secs: u64,
    /// How often each instance checks the key ring for changes, in seconds.
    pub key_ring_poll_secs: u64,
    /// Argon2id cost parameters of new hashes; raising them rehashes each
    /// password at its owner's next sign-in.
    pub argon2: Argon2Config,
    /// Password hashing workers (default: one per CPU).
    pub hash_workers: Option<usize>,
    /// Hash requests allowed in flight (running or queued) at once.
    pub hash_max_in_flight: Option<usize>,
    /// How long a request may wait for a hashing slot before it gets 503.
    pub hash_wait_ms: u64,
    /// Networks whose `X-Forwarded-For` is believed (the web server).
    pub trusted_proxies: Vec<IpNet>,
    /// SMTP server URL (`smtps://user:password@host:465` or
    /// `smtp://host:587?tls=required`). Without one, mail goes to the outbox
    /// folder, which production mode refuses.
    pub smtp_url: Option<SecretString>,
    /// The From address of Rampart's e-mails.
    pub mail_from: String,
    /// Local state: master key and outbox in development.
    pub state_dir: PathBuf,
    /// `json` (default) or `pretty` log lines.
    pub log_format: LogFormat,
    /// Longest time a request may take before it is answered 503.
    pub request_timeout_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Argon2Config {
    pub m_cost_kib: u32,
    pub t_cost: u32,
    pub p_cost: u32,
}

/// The OWASP minimum for Argon2id; configuration may only go higher.
pub const ARGON2_MINIMUM: Argon2Config = Argon2Config {
    m_cost_kib: 19_456,
    t_cost: 2,
    p_cost: 1,
};

const DEV_WEB_URL: &str = "http://localhost:3000";
const DEV_ISSUER: &str = "http://127.0.0.1:8080";
const DEV_MAIL_FROM: &str = "Rampart <no-reply@rampart.localhost>";

#[derive(Serialize)]
struct Defaults {
    env: Mode,
    listen: SocketAddr,
    database_max_connections: u32,
    public_web_url: &'static str,
    token_issuer: &'static str,
    token_audience: &'static str,
    access_token_ttl_secs: u64,
    session_ttl_days: u64,
    refresh_grace_secs: u64,
    signing_key_activation_delay_secs: u64,
    key_ring_poll_secs: u64,
    argon2: Argon2Config,
    hash_wait_ms: u64,
    trusted_proxies: Vec<IpNet>,
    mail_from: &'static str,
    state_dir: PathBuf,
    log_format: LogFormat,
    request_timeout_secs: u64,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            env: Mode::Development,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_max_connections: 16,
            public_web_url: DEV_WEB_URL,
            token_issuer: DEV_ISSUER,
            token_audience: "rampart-api",
            access_token_ttl_secs: 600,
            session_ttl_days: 30,
            refresh_grace_secs: 10,
            signing_key_activation_delay_secs: 15,
            key_ring_poll_secs: 5,
            argon2: ARGON2_MINIMUM,
            hash_wait_ms: 1000,
            // The web app's server-side requests reach the API from loopback.
            trusted_proxies: vec![loopback_v4(), loopback_v6()],
            mail_from: DEV_MAIL_FROM,
            state_dir: PathBuf::from(".rampart"),
            log_format: LogFormat::Json,
            request_timeout_secs: 30,
        }
    }
}

fn loopback_v4() -> IpNet {
    IpNet::from(std::net::IpAddr::from([127, 0, 0, 1]))
}

fn loopback_v6() -> IpNet {
    IpNet::from(std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST))
}

impl Config {
    /// Reads defaults, the file named by `RAMPART_CONFIG` and the environment.
    pub fn load() -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Defaults::default()));
        if let Ok(path) = std::env::var("RAMPART_CONFIG") {
            figment = figment.merge(Toml::file_exact(path));
        }
        // Unknown RAMPART_* settings are errors (a typo must not silently
        // fall back to a default); these names belong to the scripts and tools.
        let env = Env::prefixed("RAMPART_")
            .ignore(&[
                "config",
                "log",
                "admin_database_url",
                "migrator_database_url",
                "test_admin_url",
                "db_port",
                "db_server_bin",
            ])
            .split("__");
        let figment = figment.merge(env);
        let config: Self = figment.extract().context("reading the configuration")?;
        config.check()?;
        Ok(config)
    }

    /// A configuration for tests and tools: the defaults with the given
    /// overrides applied, without reading the environment.
    pub fn from_defaults(overrides: impl Serialize) -> anyhow::Result<Self> {
        let config: Self = Figment::from(Serialized::defaults(Defaults::default()))
            .merge(Serialized::defaults(overrides))
            .extract()
            .context("building a configuration")?;
        config.check()?;
        Ok(config)
    }

    /// Limits every mode enforces, and the production rules.
    fn check(&self) -> anyhow::Result<()> {
        if self.access_token_ttl_secs == 0 || self.access_token_ttl_secs > 600 {
            bail!("RAMPART_ACCESS_TOKEN_TTL_SECS must be between 1 and 600");
        }
        let a = self.argon2;
        if a.m_cost_kib < ARGON2_MINIMUM.m_cost_kib
            || a.t_cost < ARGON2_MINIMUM.t_cost
            || a.p_cost < ARGON2_MINIMUM.p_cost
        {
            bail!(
                "RAMPART_ARGON2__* may only raise the Argon2id costs above m=19456 KiB, t=2, p=1"
            );
        }
        if self.env == Mode::Production {
            self.check_production()?;
        }
        Ok(())
    }

    fn check_production(&self) -> anyhow::Result<()> {
        let missing = |name: &str| anyhow::anyhow!("production mode needs {name}");
        let url = self
            .database_url
            .as_ref()
            .ok_or_else(|| missing("RAMPART_DATABASE_URL"))?;
        if url.expose_secret().is_empty() {
            return Err(missing("RAMPART_DATABASE_URL"));
        }
        self.master_key
            .as_ref()
            .ok_or_else(|| missing("RAMPART_MASTER_KEY (32 random bytes, base64)"))?;
        self.smtp_url
            .as_ref()
            .ok_or_else(|| missing("RAMPART_SMTP_URL (the outbox folder is for development)"))?;
        let dev_defaults = [
            ("RAMPART_PUBLIC_WEB_URL", self.public_web_url == DEV_WEB_URL),
            ("RAMPART_TOKEN_ISSUER", self.token_issuer == DEV_ISSUER),
            ("RAMPART_MAIL_FROM", self.mail_from == DEV_MAIL_FROM),
        ];
        if let Some((name, _)) = dev_defaults.iter().find(|(_, is_default)| *is_default) {
            bail!("production mode refuses the development default of {name}: set it");
        }
        if !self.public_web_url.starts_with("https://") {
            bail!("production mode needs an https:// RAMPART_PUBLIC_WEB_URL");
        }
        Ok(())
    }

    pub fn is_production(&self) -> bool {
        self.env == Mode::Production
    }

    pub fn outbox_dir(&self) -> PathBuf {
        self.state_dir.join("outbox")
    }

    pub fn hash_workers(&self) -> usize {
        self.hash_workers.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn production_refuses_to_start_without_its_secrets() {
        let err = Config::from_defaults(json!({ "env": "production" }))
            .err()
            .map(|e| format!("{e:#}"));
        assert!(err.is_some_and(|e| e.contains("RAMPART_DATABASE_URL")));

        let err = Config::from_defaults(json!({
            "env": "production",
            "database_url": "mysql://app:pw@db/rampart",
        }))
        .err()
        .map(|e| format!("{e:#}"));
        assert!(err.is_some_and(|e| e.contains("RAMPART_MASTER_KEY")));

        let err = Config::from_defaults(json!({
            "env": "production",
            "database_url": "mysql://app:pw@db/rampart",
            "master_key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        }))
        .err()
        .map(|e| format!("{e:#}"));
        assert!(err.is_some_and(|e| e.contains("RAMPART_SMTP_URL")));
    }

    #[test]
    fn production_refuses_development_defaults() {
        let base = json!({
            "env": "production",
            "database_url": "mysql://app:pw@db/rampart",
            "master_key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "smtp_url": "smtps://mailer:pw@mail.example.com",
        });
        let err = Config::from_defaults(&base).err().map(|e| format!("{e:#}"));
        assert!(err.is_some_and(|e| e.contains("RAMPART_PUBLIC_WEB_URL")));

        let mut complete = base.clone();
        complete["public_web_url"] = json!("https://app.example.com");
        complete["token_issuer"] = json!("https://api.example.com");
        complete["mail_from"] = json!("Example <no-reply@example.com>");
        assert!(Config::from_defaults(&complete).is_ok());
    }

    #[test]
    fn argon2_costs_cannot_go_below_the_owasp_minimum() {
        let weak = json!({ "argon2": { "m_cost_kib": 4096, "t_cost": 1, "p_cost": 1 } });
        assert!(Config::from_defaults(weak).is_err());
        let strong = json!({ "argon2": { "m_cost_kib": 65536, "t_cost": 3, "p_cost": 1 } });
        assert!(Config::from_defaults(strong).is_ok());
    }

    #[test]
    fn access_tokens_live_at_most_ten_minutes() {
        assert!(Config::from_defaults(json!({ "access_token_ttl_secs": 601 })).is_err());
    }
}
