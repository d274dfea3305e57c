//! Block recovery as the primary DataNode (Hadoop's `BlockRecoveryWorker`), for lease
//! recovery: ask every replica's node to stop writing and report its replica
//! (`initReplicaRecovery`), pick the length they agree on, truncate and finalize each
//! with the new generation stamp (`updateReplicaUnderRecovery`), then tell the
//! NameNode (`commitBlockSynchronization`), which closes the file.
//!
//! Length rule (Hadoop's `syncBlock`): if any replica is FINALIZED, its length, kept by
//! the finalized replicas and the RBW ones at least that long; else the shortest RBW
//! length over all RBW replicas; else the shortest RWR length.

use ferrodfs_ipc::client::datanode::DatanodeProtocolProxy;
use ferrodfs_ipc::{Result, RpcClient};
use ferrodfs_proto::hdfs::datanode::CommitBlockSynchronizationRequestProto;
use ferrodfs_proto::hdfs::{
    DatanodeIdProto, ExtendedBlockProto, InitReplicaRecoveryRequestProto, RecoveringBlockProto,
    ReplicaStateProto, UpdateReplicaUnderRecoveryRequestProto,
};
use ferrodfs_proto::protocol::INTER_DATANODE;
use std::net::{SocketAddr, ToSocketAddrs};

struct Found {
    node: DatanodeIdProto,
    addr: SocketAddr,
    state: ReplicaStateProto,
    len: u64,
}

fn ipc_addr(node: &DatanodeIdProto) -> Option<SocketAddr> {
    (node.ip_addr.as_str(), node.ipc_port as u16)
        .to_socket_addrs()
        .ok()?
        .next()
}

/// Runs one block's recovery; returns the agreed length.
pub fn recover_block(
    rpc: &RpcClient,
    namenode: &DatanodeProtocolProxy,
    rb: &RecoveringBlockProto,
) -> Result<u64> {
    let block: &ExtendedBlockProto = &rb.block.b;
    let recovery_id = rb.new_gen_stamp;
    let mut found = Vec::new();
    for loc in &rb.block.locs {
        let Some(addr) = ipc_addr(&loc.id) else {
            continue;
        };
        let req = InitReplicaRecoveryRequestProto { block: rb.clone() };
        match rpc.call::<_, ferrodfs_proto::hdfs::InitReplicaRecoveryResponseProto>(
            addr,
            INTER_DATANODE,
            "initReplicaRecovery",
            &req,
        ) {
            Ok(resp) if resp.replica_found => {
                let len = resp.block.as_ref().and_then(|b| b.num_bytes).unwrap_or(0);
                let gs = resp.block.as_ref().map(|b| b.gen_stamp).unwrap_or(0);
                if gs >= block.generation_stamp {
                    found.push(Found {
                        node: loc.id.clone(),
                        addr,
                        state: resp.state(),
                        len,
                    });
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(node = %addr, "initReplicaRecovery failed: {e}"),
        }
    }
    let finalized: Vec<u64> = found
        .iter()
        .filter(|f| f.state == ReplicaStateProto::Finalized)
        .map(|f| f.len)
        .collect();
    let (len, keep): (u64, Vec<&Found>) = if let Some(&flen) = finalized.first() {
        let keep = found
            .iter()
            .filter(|f| {
                (f.state == ReplicaStateProto::Finalized && f.len == flen)
                    || (f.state == ReplicaStateProto::Rbw && f.len >= flen)
            })
            .collect();
        (flen, keep)
    } else {
        let pick = if found.iter().any(|f| f.state == ReplicaStateProto::Rbw) {
            ReplicaStateProto::Rbw
        } else {
            ReplicaStateProto::Rwr
        };
        let keep: Vec<&Found> = found.iter().filter(|f| f.state == pick).collect();
        (keep.iter().map(|f| f.len).min().unwrap_or(0), keep)
    };
    let mut targets = Vec::new();
    let mut storages = Vec::new();
    for f in keep {
        let req = UpdateReplicaUnderRecoveryRequestProto {
            block: block.clone(),
            recovery_id,
            new_length: len,
            new_block_id: None,
        };
        match rpc.call::<_, ferrodfs_proto::hdfs::UpdateReplicaUnderRecoveryResponseProto>(
            f.addr,
            INTER_DATANODE,
            "updateReplicaUnderRecovery",
            &req,
        ) {
            Ok(resp) => {
                targets.push(f.node.clone());
                storages.push(resp.storage_uuid.unwrap_or_default());
            }
            Err(e) => tracing::warn!(node = %f.addr, "updateReplicaUnderRecovery failed: {e}"),
        }
    }
    namenode.commit_block_synchronization(&CommitBlockSynchronizationRequestProto {
        block: block.clone(),
        new_gen_stamp: recovery_id,
        new_length: len,
        close_file: true,
        delete_block: targets.is_empty(),
        new_taragets: targets,
        new_target_storages: storages,
    })?;
    Ok(len)
}
