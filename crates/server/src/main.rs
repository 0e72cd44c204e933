use clap::Parser;
use rampart_server::commands::{Cli, run};

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            // `{:#}` gives the cause chain on one line; configuration errors
            // name the setting, never its value.
            eprintln!("rampart: {error:#}");
            std::process::exit(1);
        }
    }
}
