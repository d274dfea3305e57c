//! `ferrodfs bench io`: arguments for `ferrodfs_bench::run_io`.

use ferrodfs_bench::{parse_size, IoBenchConfig, Peer};

/// Client write/read throughput on an in-process cluster beside the physical-minimum
/// baseline, the hdfs-native crate and Hadoop's Java client (issue 6).
#[derive(clap::Args)]
pub struct IoArgs {
    /// Bytes per file (e.g. 256MiB, 1GiB).
    #[arg(long, default_value = "256MiB")]
    size: String,
    /// Replicas per block.
    #[arg(long, default_value_t = 3)]
    replication: u16,
    /// Block size (a multiple of 512).
    #[arg(long, default_value = "128MiB")]
    block_size: String,
    /// Comma-separated peers: baseline, ours, hdfs-native, java (or all).
    #[arg(long, default_value = "all")]
    peers: String,
    /// Timed rounds per peer (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Skip the untimed warm-up file of each peer.
    #[arg(long)]
    no_warmup: bool,
    /// Directory for the cluster (on the disk to measure; a temporary one if not given).
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
}

pub fn run(args: IoArgs) -> anyhow::Result<()> {
    let config = IoBenchConfig {
        size: parse_size(&args.size)?,
        block_size: parse_size(&args.block_size)?,
        replication: args.replication,
        peers: Peer::parse_list(&args.peers)?,
        runs: args.runs,
        dir: args.dir,
        warmup: !args.no_warmup,
    };
    let report = ferrodfs_bench::run_io(&config)?;
    println!("{report}");
    Ok(())
}
