//! A writer that stops without closing its file: another client's `recoverLease` makes
//! the NameNode start block recovery on a DataNode (InterDatanodeProtocol on every
//! replica's IPC port, then `commitBlockSynchronization`), and the file ends closed
//! with every byte that was acknowledged by `hflush`.

use ferrodfs_client::{ClientConf, DfsClient};
use ferrodfs_datanode::storage::ReplicaState;
use ferrodfs_ipc::client::namenode::NamenodeProtocol;
use ferrodfs_ipc::{ClientConfig, RpcClient};
use ferrodfs_minicluster::{MiniCluster, MiniClusterConfig};
use ferrodfs_namenode::namespace::Caller;
use ferrodfs_proto::hdfs::{IsFileClosedRequestProto, RecoverLeaseRequestProto};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

#[test]
fn recover_lease_closes_an_abandoned_file_with_its_flushed_bytes() {
    let cluster = MiniCluster::start(MiniClusterConfig::default()).unwrap();
    let user = ferrodfs_ipc::client::current_user();
    let writer = DfsClient::new(
        cluster.namenode_addr(),
        ClientConf {
            user: user.clone(),
            ..ClientConf::default()
        },
    );
    let data: Vec<u8> = (0..300_000usize).map(|i| (i % 199) as u8).collect();
    let mut out = writer.create("/abandoned.bin", false).unwrap();
    out.write_all(&data).unwrap();
    out.hflush().unwrap();
    // The writer "dies": it never closes, never writes again.
    std::mem::forget(out);
    let me = Caller::user(&user);
    let before = cluster
        .namenode()
        .get_block_locations(&me, "/abandoned.bin", 0, u64::MAX)
        .unwrap();
    let old_block = before
        .last_block
        .clone()
        .or_else(|| before.blocks.last().cloned())
        .unwrap()
        .block;

    let nn = NamenodeProtocol::new(
        RpcClient::new(ClientConfig {
            user: user.clone(),
            ..ClientConfig::default()
        }),
        cluster.namenode_addr(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let done = nn
            .recover_lease(&RecoverLeaseRequestProto {
                src: "/abandoned.bin".into(),
                client_name: "DFSClient_recoverer".into(),
            })
            .map(|r| r.result)
            .unwrap_or(false);
        let closed = nn
            .is_file_closed(&IsFileClosedRequestProto {
                src: "/abandoned.bin".into(),
            })
            .map(|r| r.result)
            .unwrap_or(false);
        if done && closed {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the file was not recovered in 30 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Recovery ran on the DataNodes: the block has a new generation stamp, and every
    // replica that took part is finalized with it.
    let after = cluster
        .namenode()
        .get_block_locations(&me, "/abandoned.bin", 0, u64::MAX)
        .unwrap();
    let new_block = after.blocks.last().unwrap().block.clone();
    assert_eq!(new_block.block_id, old_block.block_id);
    assert!(
        new_block.gs > old_block.gs,
        "{old_block:?} -> {new_block:?}"
    );
    let mut finalized = 0;
    for i in 0..cluster.datanode_count() {
        let dn = cluster.datanode(i).unwrap();
        if let Some(r) = dn
            .dataset()
            .get_replica(&new_block.pool_id, new_block.block_id as i64)
        {
            assert_eq!(r.gen_stamp, new_block.gs);
            assert_eq!(r.state, ReplicaState::Finalized);
            finalized += 1;
        }
    }
    assert!(finalized >= 1);

    let reader = DfsClient::new(
        cluster.namenode_addr(),
        ClientConf {
            user,
            ..ClientConf::default()
        },
    );
    let mut back = Vec::new();
    reader
        .open("/abandoned.bin")
        .unwrap()
        .read_to_end(&mut back)
        .unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back == data, "recovered content differs");
}

/// The primary DataNode of a lease recovery dies before it finishes: once the NameNode
/// has declared it dead, the next `recoverLease` starts the recovery again with another
/// primary (Hadoop's `chosenAsPrimary`), and the file closes with every hflushed byte.
#[test]
fn a_dead_recovery_primary_is_replaced() {
    let cluster = MiniCluster::start(MiniClusterConfig {
        heartbeat_interval: Duration::from_secs(1),
        heartbeat_recheck_interval: Duration::from_millis(100),
        ..MiniClusterConfig::default()
    })
    .unwrap();
    let mut cluster = cluster;
    cluster
        .wait_for_live_datanodes(3, Duration::from_secs(30))
        .unwrap();
    let user = ferrodfs_ipc::client::current_user();
    let writer = DfsClient::new(
        cluster.namenode_addr(),
        ClientConf {
            user: user.clone(),
            ..ClientConf::default()
        },
    );
    let nn = NamenodeProtocol::new(
        RpcClient::new(ClientConfig {
            user: user.clone(),
            ..ClientConfig::default()
        }),
        cluster.namenode_addr(),
    );
    let recover = |path: &str| {
        nn.recover_lease(&RecoverLeaseRequestProto {
            src: path.into(),
            client_name: "DFSClient_recoverer".into(),
        })
        .map(|r| r.result)
        .unwrap_or(false)
    };
    let me = Caller::user(&user);
    // The primary learns of the recovery at its next heartbeat (within 1 s) and is
    // stopped right after the NameNode chose it; if it was quicker (the file closed at
    // once), the round is tried again on a new file.
    for attempt in 0..3 {
        let path = format!("/primary-{attempt}.bin");
        let data: Vec<u8> = (0..250_000usize).map(|i| (i % 241) as u8).collect();
        let mut out = writer.create(&path, false).unwrap();
        out.write_all(&data).unwrap();
        out.hflush().unwrap();
        std::mem::forget(out);
        let block = cluster
            .namenode()
            .get_block_locations(&me, &path, 0, u64::MAX)
            .unwrap()
            .last_block
            .unwrap()
            .block;
        assert!(!recover(&path), "recovery needs the DataNodes");
        let first = cluster.namenode().recovery_primaries(block.block_id);
        assert_eq!(first.len(), 1, "{first:?}");
        let victim = cluster.datanode_index(&first[0]).unwrap();
        cluster.stop_datanode(victim).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let closed = recover(&path)
                && nn
                    .is_file_closed(&IsFileClosedRequestProto { src: path.clone() })
                    .map(|r| r.result)
                    .unwrap_or(false);
            if closed {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{path} was not recovered in 60 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let primaries = cluster.namenode().recovery_primaries(block.block_id);
        let reader = DfsClient::new(
            cluster.namenode_addr(),
            ClientConf {
                user: user.clone(),
                ..ClientConf::default()
            },
        );
        let mut back = Vec::new();
        reader.open(&path).unwrap().read_to_end(&mut back).unwrap();
        assert_eq!(back.len(), data.len(), "{path}");
        assert!(back == data, "{path}: recovered content differs");
        if primaries.len() >= 2 {
            assert_eq!(primaries[0], first[0]);
            assert!(
                primaries[1..].iter().all(|p| *p != first[0]),
                "{primaries:?}"
            );
            return;
        }
        // The first primary finished before it was stopped: bring it back, try again.
        cluster.restart_datanode(victim).unwrap();
        cluster
            .wait_for_live_datanodes(3, Duration::from_secs(30))
            .unwrap();
    }
    panic!("the first primary finished every time before it could be stopped");
}
