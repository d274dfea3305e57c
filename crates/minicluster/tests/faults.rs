//! The write pipeline's fault paths against real servers: a DataNode killed or
//! restarted in the middle of a write (pipeline recovery: `updateBlockForPipeline`,
//! WRITE_BLOCK with a recovery stage, `updatePipeline`), a replacement DataNode fed the
//! partial block with TRANSFER_BLOCK, the NameNode declaring a node dead and
//! re-replicating, a corrupt replica found by a reader (failover, `reportBadBlocks`,
//! re-replication, invalidation), and a writer process killed without closing its
//! file (lease recovery after the hard limit).

use ferrodfs_client::{ClientConf, CreateOptions, DfsClient, DfsOutputStream};
use ferrodfs_minicluster::{MiniCluster, MiniClusterConfig};
use ferrodfs_namenode::namesystem::LocatedBlock;
use std::io::{BufRead, Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

mod common;
use common::*;

/// Size of the client's writes: odd, so they cross chunk and packet edges.
const PIECE: usize = 100_003;

/// A cluster with fast heartbeats, dead-node expiry after ~1.2 s and a busy
/// redundancy monitor.
fn fault_cluster(datanodes: usize) -> MiniCluster {
    init_logs();
    MiniCluster::start(MiniClusterConfig {
        datanodes,
        heartbeat_interval: Duration::from_millis(100),
        heartbeat_recheck_interval: Duration::from_millis(100),
        redundancy_interval: Duration::from_millis(100),
        ..MiniClusterConfig::default()
    })
    .unwrap()
}

fn create(client: &DfsClient, path: &str) -> DfsOutputStream {
    client
        .create_with(
            path,
            CreateOptions {
                block_size: Some(MIB as u64),
                replication: Some(3),
                ..CreateOptions::default()
            },
        )
        .unwrap()
}

/// The block of `path` under construction, once the NameNode has allocated the
/// block at `index`.
fn wait_for_block(cluster: &MiniCluster, path: &str, index: usize) -> LocatedBlock {
    let mut found = None;
    cluster
        .wait_for(WAIT, "the block to be allocated", |c| {
            let Ok(located) = c.block_locations(path) else {
                return false;
            };
            let last = located
                .last_block
                .clone()
                .or_else(|| located.blocks.last().cloned());
            match last {
                Some(lb) if lb.offset >= (index * MIB) as u64 && !lb.locations.is_empty() => {
                    found = Some(lb);
                    true
                }
                _ => false,
            }
        })
        .unwrap();
    found.unwrap()
}

/// Writes `first`, lets `fault` run while the third block (index 2) is the
/// pipeline's, then writes `second` and closes. Returns the third block as it was
/// when the fault hit.
fn write_with_fault(
    cluster: &mut MiniCluster,
    path: &'static str,
    first: Vec<u8>,
    second: Vec<u8>,
    block_index: usize,
    fault: impl FnOnce(&mut MiniCluster, &LocatedBlock),
) -> LocatedBlock {
    let c = client(cluster);
    let (to_main, from_writer) = mpsc::channel::<()>();
    let (to_writer, from_main) = mpsc::channel::<()>();
    let writer = thread::Builder::new()
        .name("test writer".into())
        .spawn(move || {
            let mut out = create(&c, path);
            write_in_pieces(&mut out, &first, PIECE);
            to_main.send(()).unwrap();
            from_main.recv().unwrap();
            write_in_pieces(&mut out, &second, PIECE);
            out.close()
        })
        .unwrap();
    from_writer.recv().unwrap();
    let block = wait_for_block(cluster, path, block_index);
    // The pipeline is set up (a fault before that would only make the client
    // abandon the block and ask for another): every node has bytes of the block.
    cluster
        .wait_for(WAIT, "the pipeline to stream", |c| {
            block.locations.iter().all(|l| {
                c.datanode_index(&l.id.xfer_addr())
                    .and_then(|i| c.datanode(i))
                    .and_then(|dn| {
                        dn.dataset()
                            .get_replica(&block.block.pool_id, block.block.block_id as i64)
                    })
                    .is_some_and(|r| r.bytes_on_disk > 0)
            })
        })
        .unwrap();
    fault(cluster, &block);
    to_writer.send(()).unwrap();
    writer.join().unwrap().unwrap();
    block
}

fn final_block(cluster: &MiniCluster, path: &str, id: u64) -> LocatedBlock {
    cluster
        .block_locations(path)
        .unwrap()
        .blocks
        .into_iter()
        .find(|b| b.block.block_id == id)
        .unwrap()
}

/// A DataNode in the middle of the pipeline dies while the third of six blocks is
/// streaming: the write recovers with the two others (new generation stamp), the
/// content is exact, and once the NameNode declares the node dead every block is
/// copied back to three live replicas.
#[test]
fn datanode_killed_mid_write_recovers_and_replication_is_restored() {
    let mut cluster = fault_cluster(4);
    let data = payload(6 * MIB + 12_345, 1);
    let (first, second) = data.split_at(2 * MIB + MIB / 2);
    let mut victim = None;
    let block = write_with_fault(
        &mut cluster,
        "/killed.bin",
        first.to_vec(),
        second.to_vec(),
        2,
        |cluster, block| {
            let node = &block.locations[1];
            let i = cluster.datanode_index(&node.id.xfer_addr()).unwrap();
            cluster.stop_datanode(i).unwrap();
            victim = Some(node.id.xfer_addr());
        },
    );
    let victim = victim.unwrap();

    let c = client(&cluster);
    assert_same(&read_all(&c, "/killed.bin"), &data, "read after the write");
    // The third block went through pipeline recovery: a new generation stamp, and
    // the dead node is not among its replicas.
    let after = final_block(&cluster, "/killed.bin", block.block.block_id);
    assert!(after.block.gs > block.block.gs, "{block:?} -> {after:?}");
    assert!(
        after.locations.iter().all(|l| l.id.xfer_addr() != victim),
        "{after:?}"
    );

    cluster
        .wait_for(WAIT, "the NameNode to declare the DataNode dead", |c| {
            c.namenode().get_fs_stats().live_datanodes == 3
        })
        .unwrap();
    cluster
        .wait_for_replication("/killed.bin", 3, WAIT)
        .unwrap();
    assert_same(
        &read_all(&c, "/killed.bin"),
        &data,
        "read after re-replication",
    );
}

/// Two of the three pipeline nodes die at once while the third block streams: the
/// client notices one failure and, while it recovers, meets the second (its first
/// rebuilt pipeline still names the other dead node, whose setup fails); it drops
/// both, goes on with the survivor (and replacements), and every byte — those
/// hflushed before the faults included — reads back exact from live nodes.
#[test]
fn a_second_datanode_failure_during_pipeline_recovery() {
    let mut cluster = fault_cluster(5);
    let data = payload(5 * MIB + 777, 4);
    let (first, second) = data.split_at(2 * MIB + MIB / 3);
    let mut victims = Vec::new();
    let block = write_with_fault(
        &mut cluster,
        "/second.bin",
        first.to_vec(),
        second.to_vec(),
        2,
        |cluster, block| {
            for node in &block.locations[1..3] {
                let i = cluster.datanode_index(&node.id.xfer_addr()).unwrap();
                cluster.stop_datanode(i).unwrap();
                victims.push(node.id.xfer_addr());
            }
        },
    );
    let c = client(&cluster);
    assert_same(&read_all(&c, "/second.bin"), &data, "read after the write");
    let after = final_block(&cluster, "/second.bin", block.block.block_id);
    assert!(after.block.gs > block.block.gs, "{block:?} -> {after:?}");
    assert!(
        after
            .locations
            .iter()
            .all(|l| !victims.contains(&l.id.xfer_addr())),
        "{after:?}"
    );
    assert!(!after.locations.is_empty());
}

/// After an hflush (the DEFAULT replace-datanode policy then wants a full pipeline)
/// the last node of the pipeline dies: the client asks for an additional DataNode,
/// copies the acknowledged part of the block to it with TRANSFER_BLOCK and goes on
/// with three nodes. The block ends with three replicas without any help from the
/// NameNode's re-replication (switched off here).
#[test]
fn replacement_datanode_receives_the_partial_block() {
    init_logs();
    let mut cluster = MiniCluster::start(MiniClusterConfig {
        datanodes: 4,
        heartbeat_interval: Duration::from_millis(100),
        redundancy_interval: Duration::from_secs(3600),
        ..MiniClusterConfig::default()
    })
    .unwrap();
    let c = client(&cluster);
    let data = payload(2 * MIB + 777, 2);
    let mut out = create(&c, "/replaced.bin");
    write_in_pieces(&mut out, &data[..MIB + 300_001], PIECE);
    out.hflush().unwrap();
    let block = wait_for_block(&cluster, "/replaced.bin", 1);
    let pipeline: Vec<String> = block.locations.iter().map(|l| l.id.xfer_addr()).collect();
    assert_eq!(pipeline.len(), 3);
    let victim = pipeline[2].clone();
    cluster
        .stop_datanode(cluster.datanode_index(&victim).unwrap())
        .unwrap();
    write_in_pieces(&mut out, &data[MIB + 300_001..], PIECE);
    out.close().unwrap();

    let after = final_block(&cluster, "/replaced.bin", block.block.block_id);
    assert!(after.block.gs > block.block.gs, "{block:?} -> {after:?}");
    let spare = (0..cluster.datanode_count())
        .filter_map(|i| cluster.datanode(i))
        .map(|dn| dn.xfer_addr().to_string())
        .find(|a| !pipeline.contains(a))
        .unwrap();
    // (The first block keeps the stopped node among its locations: the NameNode
    // has not declared it dead.)
    let id = block.block.block_id;
    cluster
        .wait_for(WAIT, "the second block's replicas", |c| {
            c.is_block_replicated(&final_block(c, "/replaced.bin", id), 3)
        })
        .unwrap();
    let after = final_block(&cluster, "/replaced.bin", id);
    let nodes: Vec<String> = after.locations.iter().map(|l| l.id.xfer_addr()).collect();
    assert!(nodes.contains(&spare), "{nodes:?} lacks the spare {spare}");
    assert!(!nodes.contains(&victim), "{nodes:?}");
    assert_same(&read_all(&c, "/replaced.bin"), &data, "read back");
}

/// The first DataNode of the pipeline restarts in the middle of a write: the write
/// goes on without it and completes with exact content; the node comes back and the
/// file ends with three good replicas.
#[test]
fn datanode_restarted_mid_write() {
    let mut cluster = fault_cluster(3);
    let data = payload(3 * MIB + 4321, 3);
    let (first, second) = data.split_at(MIB + MIB / 3);
    write_with_fault(
        &mut cluster,
        "/restarted.bin",
        first.to_vec(),
        second.to_vec(),
        1,
        |cluster, block| {
            let i = cluster
                .datanode_index(&block.locations[0].id.xfer_addr())
                .unwrap();
            cluster.restart_datanode(i).unwrap();
        },
    );
    let c = client(&cluster);
    assert_same(&read_all(&c, "/restarted.bin"), &data, "read back");
    cluster
        .wait_for_replication("/restarted.bin", 3, WAIT)
        .unwrap();
    assert_same(&read_all(&c, "/restarted.bin"), &data, "read after repair");
}

/// A DataNode dies after everything was acknowledged but before the block's last
/// (empty) packet: the close runs pipeline recovery in PIPELINE_CLOSE_RECOVERY, where
/// the surviving nodes finalize the block during set-up and no node is added (a
/// closing pipeline is never given a replacement, as in Hadoop) — even though the
/// writer hflushed and no spare DataNode exists.
#[test]
fn datanode_killed_before_close_recovers_in_close_recovery() {
    let mut cluster = fault_cluster(3);
    let c = client(&cluster);
    let data = payload(MIB - 1000, 6);
    let mut out = create(&c, "/closing.bin");
    write_in_pieces(&mut out, &data, PIECE);
    out.hflush().unwrap();
    let block = wait_for_block(&cluster, "/closing.bin", 0);
    let victim = block.locations[1].id.xfer_addr();
    cluster
        .stop_datanode(cluster.datanode_index(&victim).unwrap())
        .unwrap();
    out.close().unwrap();

    let after = final_block(&cluster, "/closing.bin", block.block.block_id);
    assert!(after.block.gs > block.block.gs, "{block:?} -> {after:?}");
    assert_eq!(after.block.num_bytes, data.len() as u64);
    cluster
        .wait_for(WAIT, "two finalized replicas", |c| {
            c.is_block_replicated(&final_block(c, "/closing.bin", block.block.block_id), 2)
        })
        .unwrap();
    assert_same(&read_all(&c, "/closing.bin"), &data, "read back");
}

/// Two of the three pipeline nodes die at once: the client drops them one recovery
/// at a time; with one node left the DEFAULT policy adds the spare DataNode (copying
/// the acknowledged bytes to it), and the write completes with exact content.
#[test]
fn two_datanodes_killed_at_once() {
    let mut cluster = fault_cluster(4);
    let data = payload(3 * MIB + 999, 7);
    let (first, second) = data.split_at(MIB + MIB / 2);
    let block = write_with_fault(
        &mut cluster,
        "/two-killed.bin",
        first.to_vec(),
        second.to_vec(),
        1,
        |cluster, block| {
            for l in &block.locations[1..] {
                let i = cluster.datanode_index(&l.id.xfer_addr()).unwrap();
                cluster.stop_datanode(i).unwrap();
            }
        },
    );
    let c = client(&cluster);
    assert_same(&read_all(&c, "/two-killed.bin"), &data, "read back");
    let after = final_block(&cluster, "/two-killed.bin", block.block.block_id);
    assert!(after.block.gs > block.block.gs, "{block:?} -> {after:?}");
    assert_eq!(after.locations.len(), 2, "{after:?}");
}

/// The NameNode restarts while a file is open: the DataNodes register again and
/// report their blocks, the writer's RPCs reconnect, and the file, written on after
/// the restart, closes with exact content.
#[test]
fn namenode_restarted_mid_write() {
    let mut cluster = fault_cluster(3);
    let c = client(&cluster);
    let data = payload(2 * MIB + 4321, 8);
    let mut out = create(&c, "/nn-restart.bin");
    write_in_pieces(&mut out, &data[..MIB + 1000], PIECE);
    out.hflush().unwrap();
    cluster.restart_namenode().unwrap();
    cluster.wait_for_live_datanodes(3, WAIT).unwrap();
    write_in_pieces(&mut out, &data[MIB + 1000..], PIECE);
    out.close().unwrap();
    assert_same(&read_all(&c, "/nn-restart.bin"), &data, "read back");
    cluster
        .wait_for_replication("/nn-restart.bin", 3, WAIT)
        .unwrap();
}

/// Appends while DataNodes fail: first with a node that holds the last block already
/// stopped (the append pipeline's set-up fails on it; the client drops it and, the
/// block being appended, adds the spare), then with a pipeline node killed while the
/// appended bytes stream. Readers see every byte, and meanwhile read around the
/// dead nodes.
#[test]
fn append_survives_dead_datanodes() {
    let mut cluster = fault_cluster(5);
    let c = client(&cluster);
    let mut data = payload(MIB + 300_000, 9);
    let mut out = create(&c, "/append.bin");
    write_in_pieces(&mut out, &data, PIECE);
    out.close().unwrap();
    cluster
        .wait_for_replication("/append.bin", 3, WAIT)
        .unwrap();

    let located = cluster.block_locations("/append.bin").unwrap();
    let last = located.blocks.last().unwrap().clone();
    let first_dead = last.locations[0].id.xfer_addr();
    cluster
        .stop_datanode(cluster.datanode_index(&first_dead).unwrap())
        .unwrap();
    // A reader skips the dead replica.
    assert_same(&read_all(&c, "/append.bin"), &data, "read with a node down");

    let more = payload(700_000, 10);
    let mut out = c.append("/append.bin").unwrap();
    write_in_pieces(&mut out, &more[..200_000], PIECE);
    out.hflush().unwrap();
    data.extend_from_slice(&more[..200_000]);
    assert_same(&read_all(&c, "/append.bin"), &data, "read after hflush");
    let block = cluster
        .block_locations("/append.bin")
        .unwrap()
        .last_block
        .unwrap();
    assert!(
        block
            .locations
            .iter()
            .all(|l| l.id.xfer_addr() != first_dead),
        "{block:?}"
    );
    let second_dead = block.locations[1].id.xfer_addr();
    cluster
        .stop_datanode(cluster.datanode_index(&second_dead).unwrap())
        .unwrap();
    write_in_pieces(&mut out, &more[200_000..], PIECE);
    out.close().unwrap();
    data.extend_from_slice(&more[200_000..]);
    assert_same(&read_all(&c, "/append.bin"), &data, "read after the append");
    cluster
        .wait_for(WAIT, "the dead DataNodes to be declared dead", |c| {
            c.namenode().get_fs_stats().live_datanodes == 3
        })
        .unwrap();
    cluster
        .wait_for_replication("/append.bin", 3, WAIT)
        .unwrap();
}

/// The DataNode a reader is streaming a block from dies in the middle: the reader
/// goes on from the same offset on another replica.
#[test]
fn reader_fails_over_when_its_datanode_dies() {
    let mut cluster = fault_cluster(3);
    let c = client(&cluster);
    let data = payload(2 * MIB + 3333, 11);
    let mut out = create(&c, "/read.bin");
    write_in_pieces(&mut out, &data, PIECE);
    out.close().unwrap();
    cluster.wait_for_replication("/read.bin", 3, WAIT).unwrap();

    let mut input = c.open("/read.bin").unwrap();
    let mut back = vec![0u8; 300_000];
    input.read_exact(&mut back).unwrap();
    // Replicas are tried in the NameNode's order: the reader is on the first.
    let first = cluster.block_locations("/read.bin").unwrap().blocks[0].locations[0]
        .id
        .xfer_addr();
    cluster
        .stop_datanode(cluster.datanode_index(&first).unwrap())
        .unwrap();
    input.read_to_end(&mut back).unwrap();
    assert_same(&back, &data, "read across the failure");
}

/// A finalized replica is corrupted on disk: a reader fails over to a good replica
/// (never handing out a bad byte) and reports the bad one; the NameNode copies the
/// block from a good replica, has the corrupt one deleted, and all replicas end good.
#[test]
fn corrupt_replica_is_reported_replaced_and_deleted() {
    let cluster = fault_cluster(3);
    let c = client(&cluster);
    let data = payload(MIB + 54_321, 4);
    let mut out = create(&c, "/corrupt.bin");
    write_in_pieces(&mut out, &data, PIECE);
    out.close().unwrap();
    cluster
        .wait_for_replication("/corrupt.bin", 3, WAIT)
        .unwrap();

    let located = cluster.block_locations("/corrupt.bin").unwrap();
    let block = located.blocks[0].clone();
    // The reader tries replicas in the NameNode's order: corrupt the first.
    let bad = cluster
        .datanode_index(&block.locations[0].id.xfer_addr())
        .unwrap();
    let bad_file = cluster.corrupt_replica(bad, &block.block).unwrap();

    assert_same(
        &read_all(&c, "/corrupt.bin"),
        &data,
        "read with a corrupt replica",
    );
    // The reader reported it (reportBadBlocks, answered before the read went on):
    // the NameNode no longer offers that replica.
    let bad_addr = block.locations[0].id.xfer_addr();
    let offered = cluster.block_locations("/corrupt.bin").unwrap().blocks[0]
        .locations
        .iter()
        .map(|l| l.id.xfer_addr())
        .collect::<Vec<_>>();
    assert!(!offered.contains(&bad_addr), "{offered:?}");
    cluster
        .wait_for(WAIT, "the corrupt replica to be deleted", |_| {
            !bad_file.exists()
        })
        .unwrap();
    cluster
        .wait_for_replication("/corrupt.bin", 3, WAIT)
        .unwrap();
    // Every replica now passes a full checksum verification.
    for i in cluster.finalized_replicas(&block.block) {
        let blk = &block.block;
        cluster
            .datanode(i)
            .unwrap()
            .dataset()
            .verify_replica(&ferrodfs_datanode::storage::ExtendedBlock::new(
                &blk.pool_id,
                blk.block_id as i64,
                blk.gs,
                blk.num_bytes,
            ))
            .unwrap();
    }
    assert_same(&read_all(&c, "/corrupt.bin"), &data, "read after repair");
}

/// Env var that makes this test binary a writer child: the NameNode address.
const CHILD_NN: &str = "FERRODFS_FAULTS_WRITER_NN";
/// Bytes the child writes and hflushes: a whole number of 512-byte chunks, so the
/// bytes written after the hflush stay in the client's open packet (a packet that
/// starts inside a chunk would be sent as soon as that chunk fills, and lease
/// recovery may then keep bytes past the hflush, as HDFS allows).
const CHILD_BYTES: usize = MIB + 391 * 512;

/// The child: writes, hflushes, says so on stdout, then waits to be killed. Runs
/// as a test of its own, doing nothing unless the env var is set.
#[test]
fn dead_writer_child() {
    let Ok(nn) = std::env::var(CHILD_NN) else {
        return;
    };
    // The lease renewer keeps the lease (hard limit 1 s in the parent's cluster)
    // while this process lives, however slow a loaded machine makes the write.
    let c = DfsClient::new(
        nn.parse().unwrap(),
        ClientConf {
            user: ferrodfs_ipc::client::current_user(),
            lease_renew_interval: Duration::from_millis(100),
            ..ClientConf::default()
        },
    );
    let mut out = create(&c, "/dead-writer.bin");
    write_in_pieces(&mut out, &payload(CHILD_BYTES, 5), PIECE);
    out.hflush().unwrap();
    // Unflushed bytes that die with the process.
    out.write_all(&payload(1000, 6)).unwrap();
    println!("FLUSHED");
    std::io::stdout().flush().unwrap();
    loop {
        thread::park();
    }
}

/// A writer process is SIGKILLed after an hflush; after the lease hard limit the
/// NameNode recovers the file by itself (block recovery on a DataNode,
/// `commitBlockSynchronization`) and closes it with exactly the hflushed bytes.
#[test]
fn dead_writers_file_is_recovered_after_the_hard_limit() {
    init_logs();
    let cluster = MiniCluster::start(MiniClusterConfig {
        heartbeat_interval: Duration::from_millis(100),
        lease_soft_limit: Duration::from_millis(500),
        lease_hard_limit: Duration::from_secs(1),
        lease_check_interval: Duration::from_millis(100),
        ..MiniClusterConfig::default()
    })
    .unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "dead_writer_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_NN, cluster.namenode_addr().to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let flushed = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("FLUSHED"));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(flushed, "the child did not get to its hflush");
    assert!(
        cluster
            .block_locations("/dead-writer.bin")
            .unwrap()
            .under_construction
    );

    cluster
        .wait_for(WAIT, "the NameNode to recover the file", |c| {
            c.block_locations("/dead-writer.bin")
                .is_ok_and(|l| !l.under_construction)
        })
        .unwrap();
    let c = client(&cluster);
    assert_same(
        &read_all(&c, "/dead-writer.bin"),
        &payload(CHILD_BYTES, 5),
        "recovered file",
    );
    assert_eq!(
        c.status("/dead-writer.bin").unwrap().length,
        CHILD_BYTES as u64
    );
}
