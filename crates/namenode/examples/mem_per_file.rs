//! Resident memory per file: creates N one-block files (1000 per directory), each with
//! three reported replicas, through the namesystem's real operations, and prints the RSS
//! growth per file from /proc/self/statm.
//!
//! `cargo run --release -p ferrodfs-namenode --example mem_per_file [-- N]` (default 1M).

use std::time::Instant;

use ferrodfs_namenode::datanodes::DatanodeId;
use ferrodfs_namenode::namespace::{Caller, FsPermission};
use ferrodfs_namenode::namesystem::{
    CreateFlags, FsNamesystem, ReceivedDeletedBlock, ReceivedDeletedStatus,
};
use ferrodfs_namenode::NameNodeConfig;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let config = NameNodeConfig {
        superuser: "hdfs".into(),
        ..NameNodeConfig::default()
    };
    let mut fs = FsNamesystem::new(config, "BP-1-127.0.0.1-1");
    let now = Instant::now();
    for i in 1..=3u8 {
        fs.register_datanode(
            DatanodeId {
                uuid: format!("dn-{i}"),
                ip_addr: format!("10.0.0.{i}"),
                host_name: format!("h{i}"),
                xfer_port: 9866,
                info_port: 9864,
                info_secure_port: 0,
                ipc_port: 9867,
            },
            now,
        );
    }
    let c = Caller::user("hdfs").with_client("DFSClient_mem", "10.0.0.9");
    let perm = FsPermission(0o644);
    let flags = CreateFlags(CreateFlags::CREATE);
    let before = rss_bytes();
    let t0 = Instant::now();
    for i in 0..n {
        let p = format!("/data/d{:04}/part-{:06}", i / 1000, i % 1000);
        let st = fs.create(&c, &p, perm, flags, true, 3, 128 << 20)?;
        let lb = fs.add_block(&c, &p, Some(st.file_id), None, &[], &[])?;
        for loc in &lb.locations {
            fs.incremental_block_report(
                &loc.id.uuid,
                &loc.storage_id,
                &[ReceivedDeletedBlock {
                    block_id: lb.block.block_id,
                    gs: lb.block.gs,
                    num_bytes: 1 << 20,
                    status: ReceivedDeletedStatus::Received,
                }],
                now,
            )?;
        }
        let mut b = lb.block.clone();
        b.num_bytes = 1 << 20;
        anyhow::ensure!(fs.complete(&c, &p, Some(st.file_id), Some(&b))?);
        // The edit log is not part of this measurement.
        fs.take_pending_edits();
    }
    let elapsed = t0.elapsed();
    let after = rss_bytes();
    let per_file = (after.saturating_sub(before)) as f64 / n as f64;
    println!(
        "files: {n}  inodes: {}  blocks: {}  rss delta: {:.1} MiB  per file: {per_file:.1} bytes  ({:.0} files/s)",
        fs.namespace().inode_count(),
        fs.block_map().len(),
        after.saturating_sub(before) as f64 / (1 << 20) as f64,
        n as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
