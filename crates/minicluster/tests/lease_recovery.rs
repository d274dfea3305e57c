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
