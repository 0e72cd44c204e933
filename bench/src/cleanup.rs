//! Removes what `rampart dev --database <name>` created, so a benchmark run
//! leaves nothing behind on the database server.

use anyhow::{Context, bail};
use sqlx::mysql::MySqlConnectOptions;
use sqlx::{AssertSqlSafe, ConnectOptions};

/// `rampart dev` names its users `<name>_app` and `<name>_mig` and creates
/// each for these two hosts.
const HOSTS: [&str; 2] = ["localhost", "127.0.0.1"];

pub async fn drop_database(admin_url: &str, database: &str) -> anyhow::Result<()> {
    // DDL takes no bind parameters: the name goes into the text, so allow
    // only the alphabet `rampart dev` itself accepts.
    let plain = !database.is_empty()
        && database.len() <= 28
        && database
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !plain {
        bail!("{database:?} is not a plain database name (a-z, 0-9, _)");
    }
    let mut sql = format!("DROP DATABASE IF EXISTS `{database}`;\n");
    for user in ["app", "mig"] {
        for host in HOSTS {
            sql.push_str(&format!(
                "DROP USER IF EXISTS '{database}_{user}'@'{host}';\n"
            ));
        }
    }
    let options: MySqlConnectOptions = admin_url
        .parse()
        .context("the admin URL is not a mysql:// URL")?;
    let mut conn = options
        .connect()
        .await
        .context("connecting as the administrator")?;
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .context("dropping the benchmark database and its users")?;
    Ok(())
}
