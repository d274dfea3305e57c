//! Issue 16, part 3: a DataNode that is alive but slow. The middle node of a pipeline
//! takes half a second per packet (a slow disk: its write bandwidth limited; this host's
//! kernel has no `netem` to delay its network instead, and from upstream both look the
//! same — a late ack). The writer keeps going — acks are late but within
//! `dfs.client.socket-timeout`, so there is no pipeline recovery (same generation
//! stamp) — logs and counts the slow acks (`dfs.client.slow.io.warning.threshold.ms`),
//! and the node before the slow one reports it as a slow peer from the ack times in the
//! pipeline acks, while nobody blames the fast nodes.

use ferrodfs_client::{ClientConf, CreateOptions, DfsClient};
use ferrodfs_minicluster::{MiniCluster, MiniClusterConfig};
use std::io::Write;
use std::time::Duration;

mod common;
use common::*;

const LEN: usize = 640 * 1024 + 99;
/// 128 KiB/s: a 64 KiB packet takes half a second at the slow node.
const SLOW: u64 = 128 * 1024;

#[test]
fn a_slow_datanode_is_reported_and_the_write_goes_on() {
    init_logs();
    let cluster = MiniCluster::start(MiniClusterConfig {
        datanodes: 3,
        ..MiniClusterConfig::default()
    })
    .unwrap();
    cluster.wait_for_live_datanodes(3, WAIT).unwrap();
    let client = DfsClient::new(
        cluster.namenode_addr(),
        ClientConf {
            user: ferrodfs_ipc::client::current_user(),
            socket_timeout: Duration::from_secs(5),
            slow_io_warning_threshold: Duration::from_millis(200),
            ..ClientConf::default()
        },
    );
    let data = payload(LEN, 9);
    let mut out = client
        .create_with(
            "/slow.bin",
            CreateOptions {
                block_size: Some(MIB as u64),
                replication: Some(3),
                ..CreateOptions::default()
            },
        )
        .unwrap();
    out.write_all(&data[..1000]).unwrap();
    out.hflush().unwrap();
    let before = cluster.block_locations("/slow.bin").unwrap();
    let block = before
        .last_block
        .clone()
        .or_else(|| before.blocks.last().cloned())
        .unwrap();
    let order: Vec<usize> = block
        .locations
        .iter()
        .map(|l| cluster.datanode_index(&l.id.xfer_addr()).unwrap())
        .collect();
    assert_eq!(order.len(), 3);
    let slow_addr = block.locations[1].id.xfer_addr();
    cluster
        .datanode(order[1])
        .unwrap()
        .set_disk_write_bandwidth(SLOW);
    let slow_before = ferrodfs_client::output::responder::slow_acks();
    for p in data[1000..].chunks(64 * 1024) {
        out.write_all(p).unwrap();
        out.hflush().unwrap();
    }
    out.close().unwrap();

    assert_same(&read_all(&client, "/slow.bin"), &data, "the file");
    let after = cluster.block_locations("/slow.bin").unwrap();
    let done = after.blocks.last().unwrap();
    assert_eq!(
        done.block.gs, block.block.gs,
        "no pipeline recovery: the slow node was not dropped"
    );
    assert_eq!(done.locations.len(), 3);
    assert!(
        ferrodfs_client::output::responder::slow_acks() > slow_before,
        "the writer did not notice the slow acks"
    );
    let first = cluster.datanode(order[0]).unwrap().slow_peers();
    assert!(
        first.get(&slow_addr).is_some_and(|p| p.slow_acks > 0),
        "the node before the slow one did not report it: {first:?}"
    );
    assert_eq!(first.len(), 1, "a fast node was blamed: {first:?}");
    for &i in &order[1..] {
        let peers = cluster.datanode(i).unwrap().slow_peers();
        assert!(peers.is_empty(), "DataNode {i} blamed {peers:?}");
    }
    cluster.shutdown().unwrap();
}
