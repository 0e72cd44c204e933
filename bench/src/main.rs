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
        /// Ping every connection taken from the pool before using it
        /// (sqlx's default), which costs a second round trip per request.
        /// Off by default: the ceiling is the leanest read the stack can do.
        #[arg(long)]
        ping_before_acquire: bool,
    },
    /// Time Argon2id hashes with the given costs, each thread reusing its
    /// memory block as the server's workers do. Prints `median_us=N` (one
    /// hash) and `per_second=N` (all threads together).
    HashTime {
        #[arg(long)]
        m_cost_kib: u32,
        #[arg(long)]
        t_cost: u32,
        #[arg(long)]
        p_cost: u32,
        /// Hashes timed on each thread.
        #[arg(long, default_value_t = 30)]
        runs: usize,
        /// Threads hashing at the same time.
        #[arg(long, default_value_t = 1)]
        threads: usize,
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
            ping_before_acquire,
        } => {
            let pool = bare::Pool {
                max_connections,
                ping_before_acquire,
            };
            bare::serve(&admin_url, &database, listen, pool).await
        }
        Command::HashTime {
            m_cost_kib,
            t_cost,
            p_cost,
            runs,
            threads,
        } => {
            let params = argon2::Params::new(m_cost_kib, t_cost, p_cost, Some(32))
                .map_err(|e| anyhow::anyhow!("invalid Argon2 parameters: {e}"))?;
            let timing = hash_time::measure(params, runs, threads)?;
            println!("median_us={}", timing.median.as_micros());
            println!("per_second={:.1}", timing.per_second);
            Ok(())
        }
        Command::Drop {
            admin_url,
            database,
        } => cleanup::drop_database(&admin_url, &database).await,
    }
}
