//! The client's caches against real servers: the DataStreamer's excluded-nodes cache
//! expires its entries (a DataNode that came back is used again by later blocks), and
//! the read path's DataNode peer cache reuses READ_BLOCK connections and fails over
//! transparently from stale ones.

use ferrodfs_client::{ClientConf, CreateOptions, DfsClient};
use ferrodfs_minicluster::{MiniCluster, MiniClusterConfig};
use std::io::Write;
use std::time::Duration;

const MIB: usize = 1024 * 1024;
const WAIT: Duration = Duration::from_secs(30);

fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 131 + seed as usize + i / 251) % 253) as u8)
        .collect()
}

/// Waits until the NameNode knows DataNode `i` at its current transfer address.
fn wait_for_registration(cluster: &MiniCluster, i: usize) {
    let addr = cluster.datanode(i).unwrap().xfer_addr().to_string();
    cluster
        .wait_for(WAIT, "the restarted DataNode to register", |c| {
            c.namenode().with_namesystem(|fs| {
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
