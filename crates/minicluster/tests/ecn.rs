//! Issue 16, part 2: ECN. With `dfs.pipeline.ecn` on, a DataNode whose disk is slow
//! marks its acks CONGESTED and the writers back off (Hadoop's DataStreamer
//! `backOffIfNecessary`); eight writers sharing one slow disk all finish without a
//! timeout, every byte in place, and both sides counted congested acks.
//!
//! The slow disk is the DataNode's write-bandwidth limit
//! (`DataNode::set_disk_write_bandwidth`): this host has no cgroup v2 `io.max` and no
//! block device under the test directory to throttle.

use ferrodfs_client::{CreateOptions, DfsClient};
use ferrodfs_datanode::xceiver::ecn::EcnConfig;
use ferrodfs_minicluster::{MiniCluster, MiniClusterConfig};
use std::io::Write;

mod common;
use common::*;

const WRITERS: usize = 8;
/// ECN on, judged by the disk write queue alone: the load-average rule
/// (`dfs.pipeline.congestion.ratio` × CPUs) says nothing about this node on a shared
/// build host whose load comes from other work.
const QUEUE_ONLY: EcnConfig = EcnConfig {
    enabled: true,
    congestion_ratio: 1e9,
};
const LEN: usize = MIB + 54_321;
/// 2 MiB/s for the whole node: about 4.5 s for everything.
const BANDWIDTH: u64 = 2 * MIB as u64;

fn write(client: &DfsClient, path: &str, data: &[u8]) {
    let mut out = client
        .create_with(
            path,
            CreateOptions {
                block_size: Some(MIB as u64),
                replication: Some(3),
                ..CreateOptions::default()
            },
        )
        .unwrap();
    for p in data.chunks(128 * 1024) {
        out.write_all(p).unwrap();
        out.hflush().unwrap();
    }
    out.close().unwrap();
}

#[test]
fn eight_writers_share_a_slow_disk_with_ecn() {
    init_logs();
    let cluster = MiniCluster::start(MiniClusterConfig {
        datanodes: 3,
        ..MiniClusterConfig::default()
    })
    .unwrap();
    cluster.wait_for_live_datanodes(3, WAIT).unwrap();
    for i in 0..3 {
        cluster.datanode(i).unwrap().set_ecn(QUEUE_ONLY);
    }
    let slow = cluster.datanode(0).unwrap();
    slow.set_disk_write_bandwidth(BANDWIDTH);
    let before = ferrodfs_client::output::responder::congested_acks();
    let data: Vec<Vec<u8>> = (0..WRITERS).map(|w| payload(LEN, w as u8)).collect();
    std::thread::scope(|s| {
        for (w, d) in data.iter().enumerate() {
            let client = client(&cluster);
            s.spawn(move || write(&client, &format!("/ecn/{w}"), d));
        }
    });
    let dn_congested: u64 = (0..3)
        .map(|i| cluster.datanode(i).unwrap().ecn_congested_acks())
        .sum();
    let client_congested = ferrodfs_client::output::responder::congested_acks() - before;
    assert!(dn_congested > 0, "no DataNode marked an ack CONGESTED");
    assert!(client_congested > 0, "no writer saw a CONGESTED ack");
    let reader = client(&cluster);
    for (w, d) in data.iter().enumerate() {
        assert_same(&read_all(&reader, &format!("/ecn/{w}")), d, "writer's file");
    }
    eprintln!("congested acks: DataNodes {dn_congested}, writers {client_congested}");
    cluster.shutdown().unwrap();
}
