//! The DataNode's IPC server (`dfs.datanode.ipc.address`): `ClientDatanodeProtocol`
//! (`getReplicaVisibleLength`, which Java clients call when reading a file still being
//! written; `shutdownDatanode` and `getDatanodeInfo`, which `dfsadmin` calls — see
//! [`shutdown`](crate::shutdown)) and `InterDatanodeProtocol` (`initReplicaRecovery`,
//! `updateReplicaUnderRecovery`, which the primary DataNode of a block recovery calls on
//! every replica's node). Both run on the `ipc` crate's server; the Java client's SASL
//! NEGOTIATE on this port is answered there.

use crate::shutdown::Control;
use crate::storage::{ExtendedBlock, FsDataset, ReplicaState};
use crate::Error;
use ferrodfs_ipc::server::{Server, ServiceBuilder};
use ferrodfs_ipc::{JavaException, RemoteException};
use ferrodfs_proto::hdfs::{
    BlockProto, ExtendedBlockProto, GetDatanodeInfoRequestProto, GetDatanodeInfoResponseProto,
    GetReplicaVisibleLengthRequestProto, GetReplicaVisibleLengthResponseProto,
    InitReplicaRecoveryRequestProto, InitReplicaRecoveryResponseProto, ReplicaStateProto,
    ShutdownDatanodeRequestProto, ShutdownDatanodeResponseProto,
    UpdateReplicaUnderRecoveryRequestProto, UpdateReplicaUnderRecoveryResponseProto,
};
use ferrodfs_proto::protocol::{CLIENT_DATANODE_PROTOCOL, INTER_DATANODE_PROTOCOL};
use std::net::SocketAddr;
use std::sync::Arc;

/// Handler threads of the DataNode IPC server (`dfs.datanode.handler.count` default 10).
pub const DATANODE_HANDLER_COUNT_DEFAULT: usize = 10;

/// Our `ExtendedBlock` from the wire's.
pub fn extended_block(b: &ExtendedBlockProto) -> ExtendedBlock {
    ExtendedBlock::new(
        &b.pool_id,
        b.block_id as i64,
        b.generation_stamp,
        b.num_bytes.unwrap_or(0),
    )
}

fn remote(e: Error) -> RemoteException {
    let exception = match &e {
        Error::ReplicaNotFound { .. } => JavaException::ReplicaNotFound,
        Error::RecoveryInProgress { .. } => JavaException::RecoveryInProgress,
        _ => JavaException::IoException,
    };
    RemoteException::new(exception, e.to_string())
}

fn state_proto(s: ReplicaState) -> ReplicaStateProto {
    match s {
        ReplicaState::Finalized => ReplicaStateProto::Finalized,
        ReplicaState::Rbw => ReplicaStateProto::Rbw,
        ReplicaState::Rwr => ReplicaStateProto::Rwr,
        ReplicaState::Rur => ReplicaStateProto::Rur,
        ReplicaState::Temporary => ReplicaStateProto::Temporary,
    }
}

/// Starts the IPC server on `bind` serving both protocols over `ds`; `control`
/// serves `shutdownDatanode` and `getDatanodeInfo`.
pub fn start(
    ds: FsDataset,
    control: Arc<Control>,
    bind: SocketAddr,
) -> ferrodfs_ipc::Result<Server> {
    let ds1 = ds.clone();
    let control2 = Arc::clone(&control);
    let client = ServiceBuilder::new(CLIENT_DATANODE_PROTOCOL)
        .method(
            "shutdownDatanode",
            move |_ctx, req: ShutdownDatanodeRequestProto| {
                control
                    .shutdown_datanode(req.for_upgrade)
                    .map_err(|m| RemoteException::new(JavaException::IoException, m))?;
                Ok(ShutdownDatanodeResponseProto {})
            },
        )
        .method(
            "getDatanodeInfo",
            move |_ctx, _req: GetDatanodeInfoRequestProto| {
                Ok(GetDatanodeInfoResponseProto {
                    local_info: control2.local_info(),
                })
            },
        )
        .method(
            "getReplicaVisibleLength",
            move |_ctx, req: GetReplicaVisibleLengthRequestProto| {
                let b = &req.block;
                let r = ds1
                    .get_replica(&b.pool_id, b.block_id as i64)
                    .ok_or_else(|| {
                        remote(Error::ReplicaNotFound {
                            block_id: b.block_id as i64,
                        })
                    })?;
                // As Hadoop's FsDatasetImpl.getReplicaVisibleLength: a replica older
                // than the block the client knows is stale.
                if r.gen_stamp < b.generation_stamp {
                    return Err(RemoteException::new(
                        JavaException::IoException,
                        format!(
                            "replica.getGenerationStamp() < block.getGenerationStamp(), \
                             block={}:blk_{}_{}, replica gen stamp={}",
                            b.pool_id, b.block_id, b.generation_stamp, r.gen_stamp
                        ),
                    ));
                }
                Ok(GetReplicaVisibleLengthResponseProto {
                    length: r.num_bytes,
                })
            },
        )
        .build();
    let ds2 = ds.clone();
    let ds3 = ds;
    let inter = ServiceBuilder::new(INTER_DATANODE_PROTOCOL)
        .method(
            "initReplicaRecovery",
            move |_ctx, req: InitReplicaRecoveryRequestProto| {
                let rb = &req.block;
                let block = extended_block(&rb.block.b);
                match ds2.init_replica_recovery(&block, rb.new_gen_stamp) {
                    Ok(info) => Ok(InitReplicaRecoveryResponseProto {
                        replica_found: true,
                        state: Some(state_proto(info.original_state) as i32),
                        block: Some(BlockProto {
                            block_id: info.block_id as u64,
                            gen_stamp: info.gen_stamp,
                            num_bytes: Some(info.num_bytes),
                        }),
                    }),
                    Err(Error::ReplicaNotFound { .. }) => Ok(InitReplicaRecoveryResponseProto {
                        replica_found: false,
                        state: None,
                        block: None,
                    }),
                    Err(e) => Err(remote(e)),
                }
            },
        )
        .method(
            "updateReplicaUnderRecovery",
            move |_ctx, req: UpdateReplicaUnderRecoveryRequestProto| {
                let block = extended_block(&req.block);
                let info = ds3
                    .update_replica_under_recovery(&block, req.recovery_id, req.new_length)
                    .map_err(remote)?;
                Ok(UpdateReplicaUnderRecoveryResponseProto {
                    storage_uuid: Some(info.storage_id),
                })
            },
        )
        .build();
    Server::builder()
        .bind(bind)
        .handlers(DATANODE_HANDLER_COUNT_DEFAULT)
        .service(client)
        .service(inter)
        .start()
}
