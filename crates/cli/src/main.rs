//! `ferrodfs`: the one binary. It parses arguments and wires crates together; the
//! logic lives in the crates.
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ferrodfs",
    version,
    about = "An HDFS-compatible distributed file system"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the looper demo: timed messages, a sync barrier and an fd watch on one thread.
    Demo,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Demo => {
            println!("ferrodfs looper demo: not built yet (issue 2)");
            Ok(())
        }
    }
}
