//! The client's caches against real servers: the DataStreamer's excluded-nodes cache
//! expires its entries (a DataNode that came back is used again by later blocks), and
//! the read path's DataNode peer cache reuses READ_BLOCK connections and fails over
//! transparently from stale ones.

use ferrodfs_client::{ClientConf, CreateOptions, DfsClient};
use ferrodfs_minicluster::{MiniCluster, MiniClusterConfig};
use std::io::{Read, Write};
use std::time::Duration;

mod common;
use common::*;

/// Waits until DataNode `i` is registered and has sent a block report, and the
/// NameNode knows it at its current transfer address.
fn wait_for_registration(cluster: &MiniCluster, i: usize) {
    let addr = cluster.datanode(i).unwrap().xfer_addr().to_string();
    cluster
        .wait_for(WAIT, "the restarted DataNode to register", |c| {
            let st = c.datanode(i).unwrap().actor().unwrap().state();
            st.registered
                && st.block_reports >= 1
                && c.namenode().with_namesystem(|fs| {
                    fs.datanodes()
                        .nodes()
                        .any(|(_, n)| n.alive && n.id.xfer_addr() == addr)
                })
        })
        .unwrap();
}

/// DataNode 0 is stopped (the NameNode still counts it live): block 1's pipeline setup
/// fails on it, it is excluded and block 1 goes to the other two. Once it is back and
/// the (short) exclusion has expired, block 2 is offered all three nodes again.
#[test]
fn excluded_datanode_is_used_again_after_expiry() {
    init_logs();
    let mut cluster = MiniCluster::start(MiniClusterConfig::default()).unwrap();
    let expiry = Duration::from_millis(300);
    let client = DfsClient::new(
        cluster.namenode_addr(),
        ClientConf {
            exclude_nodes_expiry: expiry,
            ..ClientConf::default()
        },
    );
    cluster.stop_datanode(0).unwrap();
    let data = payload(MIB + 4096, 7);
    let mut out = client
        .create_with(
            "/excluded.bin",
            CreateOptions {
                block_size: Some(MIB as u64),
                replication: Some(3),
                ..CreateOptions::default()
            },
        )
        .unwrap();
    out.write_all(&data[..MIB]).unwrap();
    // Every packet of block 1 acknowledged: its pipeline (without node 0) is set up.
    out.hflush().unwrap();
    cluster.restart_datanode(0).unwrap();
    wait_for_registration(&cluster, 0);
    // The exclusion is time-based: nothing to wait on but the clock.
    std::thread::sleep(expiry);
    out.write_all(&data[MIB..]).unwrap();
    out.close().unwrap();

    let located = cluster.block_locations("/excluded.bin").unwrap();
    assert_eq!(located.blocks.len(), 2);
    let dn0 = cluster.datanode(0).unwrap().xfer_addr().to_string();
    let names = |i: usize| -> Vec<String> {
        located.blocks[i]
            .locations
            .iter()
            .map(|l| l.id.xfer_addr())
            .collect()
    };
    let first = names(0);
    assert_eq!(
        first.len(),
        2,
        "block 1 avoided the stopped node: {first:?}"
    );
    assert!(!first.contains(&dn0));
    let second = names(1);
    assert_eq!(second.len(), 3, "block 2 uses the node again: {second:?}");
    assert!(second.contains(&dn0));
    cluster.shutdown().unwrap();
}

/// Positional reads of 1000 bytes at `offsets`, each checked against `data`.
fn check_reads(input: &ferrodfs_client::DfsInputStream, data: &[u8], offsets: &[usize]) {
    let mut buf = vec![0u8; 1000];
    for &off in offsets {
        let n = input.read_at(off as u64, &mut buf).unwrap();
        let want = &data[off..(off + 1000).min(data.len())];
        assert_eq!(n, want.len(), "read at {off}");
        assert!(buf[..n] == *want, "content at {off}");
    }
}

/// Many small positional reads (within and across blocks) reuse one DataNode
/// connection; after the DataNode restarts the cached socket is stale and the next
/// read fails over to a fresh connection without an error.
#[test]
fn positional_reads_reuse_datanode_connections() {
    init_logs();
    let mut cluster = MiniCluster::start(MiniClusterConfig {
        datanodes: 1,
        ..MiniClusterConfig::default()
    })
    .unwrap();
    let client = DfsClient::new(
        cluster.namenode_addr(),
        ClientConf {
            // Longer than the test: only staleness drops the socket.
            socket_cache_expiry: Duration::from_secs(60),
            ..ClientConf::default()
        },
    );
    let data = payload(2 * MIB + MIB / 2, 3);
    let mut out = client
        .create_with(
            "/pread.bin",
            CreateOptions {
                block_size: Some(MIB as u64),
                replication: Some(1),
                ..CreateOptions::default()
            },
        )
        .unwrap();
    out.write_all(&data).unwrap();
    out.close().unwrap();

    let input = client.open("/pread.bin").unwrap();
    // 200 reads spread over the three blocks, some crossing a block boundary.
    let mut offsets: Vec<usize> = (0..197)
        .map(|i| (i * 13_331) % (data.len() - 1000))
        .collect();
    offsets.extend([MIB - 500, 2 * MIB - 1, data.len() - 1000]);
    check_reads(&input, &data, &offsets);
    assert_eq!(
        client.datanode_connects(),
        1,
        "one connection for every read"
    );
    assert_eq!(client.cached_datanode_sockets(), 1);

    // A sequential read of the whole file by another stream reuses it too.
    let mut all = Vec::new();
    client
        .open("/pread.bin")
        .unwrap()
        .read_to_end(&mut all)
        .unwrap();
    assert!(all == data, "sequential read");
    assert_eq!(client.datanode_connects(), 1);

    cluster.restart_datanode_on_same_port(0).unwrap();
    wait_for_registration(&cluster, 0);
    check_reads(&input, &data, &offsets[..20]);
    assert_eq!(
        client.datanode_connects(),
        2,
        "the stale socket was replaced by one fresh connection"
    );
    cluster.shutdown().unwrap();
}
