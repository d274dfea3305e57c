//! `ferrodfs cluster`: an in-process NameNode + N DataNodes on loopback, in the
//! foreground until SIGINT/SIGTERM, and how to point real clients at it.

use anyhow::Context;
use ferrodfs_minicluster::{MiniCluster, MiniClusterConfig};
use signal_hook::consts::{SIGINT, SIGTERM};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

pub fn run(datanodes: usize, dir: Option<PathBuf>, port: u16) -> anyhow::Result<()> {
    let mut signals =
        signal_hook::iterator::Signals::new([SIGINT, SIGTERM]).context("signal handlers")?;
    let t0 = Instant::now();
    let config = MiniClusterConfig {
        datanodes,
        // A given directory keeps its namespace across runs; a temporary one is new.
        format: dir.is_none(),
        base_dir: dir,
        namenode_addr: SocketAddr::from(([127, 0, 0, 1], port)),
        // DataNodes talk to their own port (Hadoop's dfs.namenode.servicerpc-address).
        service_rpc_addr: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..MiniClusterConfig::default()
    };
    let cluster = MiniCluster::start(config).context("starting the cluster")?;
    let fs = cluster.default_fs();
    let nn = cluster.namenode_addr();
    println!(
        "ferrodfs cluster up in {} ms: 1 NameNode, {datanodes} DataNode(s), data in {}",
        t0.elapsed().as_millis(),
        cluster.base_dir().display()
    );
    println!("fs.defaultFS = {fs}");
    println!(
        "dfs.namenode.servicerpc-address = {} (DataNodes)",
        cluster.datanode_rpc_addr()
    );
    println!();
    println!("Point clients at it:");
    println!("  ferrodfs dfs (hadoop fs):   ferrodfs dfs -fs {fs} -ls /");
    println!("  Go hdfs (Debian hdfs-cli):  HADOOP_NAMENODE={nn} hdfs ls /");
    println!("  Hadoop:                     hadoop fs -fs {fs} -ls /");
    println!("  Rust hdfs-native:           hdfs_native::Client::new(\"{fs}\")");
    println!(
        "                              (or: cargo run -p ferrodfs-minicluster --example hdfs_native -- {fs} ls /)"
    );
    println!();
    println!("Ctrl-C stops it.");
    let signal = signals.forever().next();
    tracing::info!(?signal, "shutting down");
    cluster.shutdown().context("stopping the cluster")?;
    Ok(())
}
