//! `rampart-bench`: the programs `bench/run.sh` needs besides the server and
//! the load generator. None of this is part of Rampart itself.

mod bare;
mod cleanup;
mod hash_time;

use std::net::SocketAddr;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "rampart-bench", about = "Helpers of `make bench`")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the ceiling: `GET /accounts/{id}` reads one row of Rampart's
    /// accounts table by primary key and answers it as JSON, with no token,
    /// session check, decryption or middleware in the way.
    Bare {
        /// Administrator's URL of the database server (not on the command
        /// line, where `ps` would show its password).
        #[arg(long, env = "BENCH_ADMIN_URL", hide_env_values = true)]
        admin_url: String,
        /// Database that `rampart dev` created and seeded.
        #[arg(long)]
        database: String,
        #[arg(long)]
        listen: SocketAddr,
        /// Pool size; run.sh passes the server's, so both get the same.
        #[arg(long, default_value_t = 16)]
        max_connections: u32,
    },
    /// Time one Argon2id hash with the given costs, on one thread reusing
    /// its memory block as the server's workers do. Prints `median_us=N`.
    HashTime {
        #[arg(long)]
        m_cost_kib: u32,
        #[arg(long)]
        t_cost: u32,
        #[arg(long)]
        p_cost: u32,
        #[arg(long, default_value_t = 30)]
        runs: usize,
    },
    /// Drop a database and the two users `rampart dev --database` made for it.
    Drop {
        #[arg(long, env = "BENCH_ADMIN_URL", hide_env_values = true)]
        admin_url: String,
        #[arg(long)]
        database: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Bare {
            admin_url,
            database,
            listen,
            max_connections,
        } => bare::serve(&admin_url, &database, listen, max_connections).await,
        Command::HashTime {
            m_cost_kib,
            t_cost,
            p_cost,
            runs,
        } => {
            let median = hash_time::median(m_cost_kib, t_cost, p_cost, runs)?;
            println!("median_us={}", median.as_micros());
            Ok(())
        }
        Command::Drop {
            admin_url,
            database,
        } => cleanup::drop_database(&admin_url, &database).await,
    }
}
