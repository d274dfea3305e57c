//! `ferrodfs`: the one binary. It parses arguments and wires crates together; the
//! logic lives in the crates.
#![forbid(unsafe_code)]

mod bench_io;
mod cluster;
mod datanode;
mod dfs;
mod dfsadmin;
mod dfsadmin_datanode;
mod namenode;

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
    /// Run the NameNode (`-format` to format its name directory and exit), like
    /// `hdfs namenode`: generic options -D key=value, -conf file, -fs uri.
    #[command(disable_help_flag = true)]
    Namenode {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run a DataNode that registers with the configured NameNode, like
    /// `hdfs datanode`: generic options -D key=value, -conf file, -fs uri.
    #[command(disable_help_flag = true)]
    Datanode {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run an in-process cluster (1 NameNode + N DataNodes on loopback) in the foreground.
    Cluster {
        /// Number of DataNodes.
        #[arg(long, default_value_t = 3)]
        datanodes: usize,
        /// Directory for name and data directories (kept across runs); a temporary
        /// one if not given.
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
        /// NameNode RPC port on 127.0.0.1 (0: any free port).
        #[arg(long, default_value_t = 8020)]
        port: u16,
    },
    /// Hadoop's `hadoop fs`: -ls, -put, -get, -cat, -rm, ... (`-help` lists them);
    /// generic options -D key=value, -conf file, -fs uri come first.
    #[command(disable_help_flag = true)]
    Dfs {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Hadoop's `hdfs dfsadmin`: -report lists the DataNodes with their capacity.
    #[command(disable_help_flag = true)]
    Dfsadmin {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        bench: Bench,
    },
}

#[derive(Subcommand)]
enum Bench {
    /// NameNode RPC throughput (NNThroughputBenchmark-style) on an in-process NameNode.
    Nn {
        /// create | mkdirs | getFileInfo | rename | delete
        #[arg(long, default_value = "create")]
        op: String,
        #[arg(long, default_value_t = 16)]
        threads: usize,
        #[arg(long, default_value_t = 20000)]
        ops: usize,
        /// Name directory (a temporary one if not given).
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// Client write/read throughput beside a baseline, hdfs-native and Java.
    Io(bench_io::IoArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The shell commands print their own messages; only warnings are logged.
    let quiet = matches!(cli.command, Command::Dfs { .. } | Command::Dfsadmin { .. });
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(if quiet { "warn" } else { "info" })
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Dfs { args } => std::process::exit(dfs::run(args)),
        Command::Dfsadmin { args } => std::process::exit(dfsadmin::run(args)),
        Command::Demo => looper_demo(),
        Command::Namenode { args } => namenode::run(args),
        Command::Datanode { args } => datanode::run(args),
        Command::Cluster {
            datanodes,
            dir,
            port,
        } => cluster::run(datanodes, dir, port),
        Command::Bench {
            bench:
                Bench::Nn {
                    op,
                    threads,
                    ops,
                    dir,
                },
        } => bench_nn(&op, threads, ops, dir),
        Command::Bench {
            bench: Bench::Io(args),
        } => bench_io::run(args),
    }
}

fn bench_nn(
    op: &str,
    threads: usize,
    ops: usize,
    dir: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    use ferrodfs_namenode::bench::{self, BenchOp};
    let op: BenchOp = op.parse()?;
    let tmp;
    let dir = match dir {
        Some(d) => d,
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_owned()
        }
    };
    let report = bench::run(&dir, op, threads, ops)?;
    println!("{report}");
    Ok(())
}

/// A short tour of the looper on this thread: timed messages, a sync barrier passed by an
/// asynchronous message, an fd callback on a socketpair, and `quit_safely`.
fn looper_demo() -> anyhow::Result<()> {
    use ferrodfs_looper::{FdAction, FdEvents, Looper};
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    use std::time::{Duration, Instant};

    let start = Instant::now();
    let stamp = move || format!("{:>6.1} ms", start.elapsed().as_secs_f64() * 1e3);
    let looper = Looper::prepare()?;
    let handler = looper.handler();

    println!("{} posting timed messages at +30, +10 and +20 ms", stamp());
    for ms in [30u64, 10, 20] {
        handler.post_delayed(
            move || println!("{} timed message (+{ms} ms)", stamp()),
            Duration::from_millis(ms),
        );
    }

    // At +40 ms: a barrier holds back a sync message; an async one passes; +50 ms lifts it.
    let h = handler.clone();
    handler.post_delayed(
        move || {
            let token = h.post_sync_barrier();
            println!("{} sync barrier posted", stamp());
            h.post(move || println!("{} sync message (held until the barrier went)", stamp()));
            h.asynchronous()
                .post(move || println!("{} async message passed the barrier", stamp()));
            let h2 = h.clone();
            h.asynchronous().post_delayed(
                move || {
                    h2.remove_sync_barrier(token);
                    println!("{} sync barrier removed", stamp());
                },
                Duration::from_millis(10),
            );
        },
        Duration::from_millis(40),
    );

    // An fd callback on a socketpair: a writer thread sends a line at about +60 ms.
    let (mut reader, mut writer) = UnixStream::pair()?;
    reader.set_nonblocking(true)?;
    let watched = reader.try_clone()?;
    looper.add_fd(&watched, FdEvents::INPUT, move |fd, events| {
        let mut buf = [0u8; 64];
        let n = reader.read(&mut buf).unwrap_or(0);
        let text = String::from_utf8_lossy(&buf[..n]);
        println!(
            "{} fd {fd} ready ({events:?}): read {:?}",
            stamp(),
            text.trim_end()
        );
        FdAction::Remove
    })?;
    let writer_thread = std::thread::Builder::new()
        .name("demo-writer".into())
        .spawn(move || {
            std::thread::sleep(Duration::from_millis(60));
            writer.write_all(b"hello from another thread\n")
        })?;

    // At +70 ms: quit_safely delivers what is due and drops a message due at +1 s.
    handler.post_delayed(
        || println!("never printed: dropped by quit_safely"),
        Duration::from_secs(1),
    );
    let h = handler.clone();
    handler.post_delayed(
        move || {
            h.post(move || println!("{} already due at quit_safely: delivered", stamp()));
            h.quit_safely();
            println!("{} quit_safely called", stamp());
        },
        Duration::from_millis(70),
    );
    looper.run()?;
    writer_thread
        .join()
        .map_err(|_| anyhow::anyhow!("writer thread panicked"))??;
    println!(
        "{} looper returned; post after quit accepted: {}",
        stamp(),
        handler.post(|| {})
    );
    Ok(())
}
