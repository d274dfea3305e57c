//! Excess replicas against real servers (issue 6): lowering a file's replication makes
//! the NameNode send invalidations to the surplus DataNodes, which delete the replica
//! files and report it; raising it again re-replicates. `getDatanodeReport` counts each
//! node's blocks.

use ferrodfs_client::{CreateOptions, DfsClient};
use ferrodfs_minicluster::{MiniCluster, MiniClusterConfig};
use ferrodfs_namenode::blocks::ExtendedBlock;
use ferrodfs_proto::hdfs::{DatanodeReportTypeProto, GetDatanodeReportRequestProto};
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

mod common;
use common::*;

/// Whether any file of `block` (`blk_<id>` or `blk_<id>_<gs>.meta`) is under `dir`.
fn holds_block_file(dir: &Path, block: &ExtendedBlock) -> bool {
    let data = format!("blk_{}", block.block_id);
    let meta = format!("blk_{}_", block.block_id);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let path = e.path();
        if path.is_dir() {
            return holds_block_file(&path, block);
        }
        let name = e.file_name().to_string_lossy().into_owned();
        name == data || name.starts_with(&meta)
    })
}

/// Every block of `path` has exactly `n` locations, and the DataNodes that are not
/// among them hold no file of the block on disk.
fn replicas_exactly(cluster: &MiniCluster, path: &str, n: usize) -> bool {
    let Ok(located) = cluster.block_locations(path) else {
        return false;
    };
    located.blocks.iter().all(|lb| {
        if !cluster.is_block_replicated(lb, n) {
            return false;
        }
        let holders: Vec<usize> = lb
            .locations
            .iter()
            .filter_map(|l| cluster.datanode_index(&l.id.xfer_addr()))
            .collect();
        (0..cluster.datanode_count())
            .filter(|i| !holders.contains(i))
            .all(|i| !holds_block_file(&cluster.data_dir(i), &lb.block))
    })
}

fn total_reported_blocks(client: &DfsClient) -> u32 {
    client
        .namenode()
        .get_datanode_report(&GetDatanodeReportRequestProto {
            r#type: DatanodeReportTypeProto::Live as i32,
        })
        .unwrap()
        .di
        .iter()
        .map(|d| d.num_blocks.unwrap_or(0))
        .sum()
}

#[test]
fn set_replication_down_deletes_excess_and_up_rereplicates() {
    let cluster = MiniCluster::start(MiniClusterConfig {
        datanodes: 3,
        heartbeat_interval: Duration::from_millis(100),
        redundancy_interval: Duration::from_millis(100),
        ..MiniClusterConfig::default()
    })
    .unwrap();
    let client = client(&cluster);
    let path = "/excess/f";
    let data = payload(2 * MIB + MIB / 2, 0);
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
    out.write_all(&data).unwrap();
    out.close().unwrap();
    cluster.wait_for_replication(path, 3, WAIT).unwrap();
    let blocks = cluster.block_locations(path).unwrap().blocks.len();
    assert_eq!(blocks, 3);
    assert_eq!(total_reported_blocks(&client), 9);

    assert!(client.set_replication(path, 1).unwrap());
    cluster
        .wait_for(WAIT, "excess replicas to be deleted", |c| {
            replicas_exactly(c, path, 1)
        })
        .unwrap();
    assert_eq!(client.status(path).unwrap().replication, 1);
    assert_eq!(total_reported_blocks(&client), 3);

    assert!(client.set_replication(path, 3).unwrap());
    cluster.wait_for_replication(path, 3, WAIT).unwrap();
    assert_eq!(total_reported_blocks(&client), 9);

    let mut back = Vec::new();
    client.open(path).unwrap().read_to_end(&mut back).unwrap();
    assert!(back == data, "re-read differs");

    // Down to 2: each block keeps exactly two replicas.
    assert!(client.set_replication(path, 2).unwrap());
    cluster
        .wait_for(WAIT, "excess replicas to be deleted", |c| {
            replicas_exactly(c, path, 2)
        })
        .unwrap();
    cluster.shutdown().unwrap();
}
