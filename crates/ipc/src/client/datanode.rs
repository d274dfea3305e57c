//! The protocols whose server is a DataNode or that a DataNode calls, as typed
//! one-liners over [`RpcClient::call`]:
//!
//! * DatanodeProtocol (`org.apache.hadoop.hdfs.server.protocol.DatanodeProtocol`), what
//!   a DataNode calls on its NameNode: [`DatanodeProtocolProxy`];
//! * ClientDatanodeProtocol (`org.apache.hadoop.hdfs.protocol.ClientDatanodeProtocol`),
//!   what a client calls on a DataNode's IPC port (`dfs.datanode.ipc.address`):
//!   [`ClientDatanodeProtocolProxy`].

use super::{rpc_methods, RpcClient};
use ferrodfs_proto::hdfs::datanode::*;
use ferrodfs_proto::hdfs::{
    GetReplicaVisibleLengthRequestProto, GetReplicaVisibleLengthResponseProto, VersionRequestProto,
    VersionResponseProto,
};
use ferrodfs_proto::protocol::{CLIENT_DATANODE, DATANODE};
use std::net::SocketAddr;

/// A NameNode's DatanodeProtocol at one address, over a shared [`RpcClient`].
#[derive(Debug, Clone)]
pub struct DatanodeProtocolProxy {
    client: RpcClient,
    addr: SocketAddr,
}

impl DatanodeProtocolProxy {
    pub fn new(client: RpcClient, addr: SocketAddr) -> DatanodeProtocolProxy {
        DatanodeProtocolProxy { client, addr }
    }

    /// The NameNode's service RPC address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    rpc_methods! { DATANODE;
        version_request => "versionRequest" (VersionRequestProto) -> VersionResponseProto;
        register_datanode => "registerDatanode" (RegisterDatanodeRequestProto) -> RegisterDatanodeResponseProto;
        send_heartbeat => "sendHeartbeat" (HeartbeatRequestProto) -> HeartbeatResponseProto;
        block_report => "blockReport" (BlockReportRequestProto) -> BlockReportResponseProto;
        block_received_and_deleted => "blockReceivedAndDeleted" (BlockReceivedAndDeletedRequestProto) -> BlockReceivedAndDeletedResponseProto;
        error_report => "errorReport" (ErrorReportRequestProto) -> ErrorReportResponseProto;
        report_bad_blocks => "reportBadBlocks" (ReportBadBlocksRequestProto) -> ReportBadBlocksResponseProto;
        commit_block_synchronization => "commitBlockSynchronization" (CommitBlockSynchronizationRequestProto) -> CommitBlockSynchronizationResponseProto;
    }
}

/// A DataNode's ClientDatanodeProtocol at its IPC address, over a shared [`RpcClient`].
#[derive(Debug, Clone)]
pub struct ClientDatanodeProtocolProxy {
    client: RpcClient,
    addr: SocketAddr,
}

impl ClientDatanodeProtocolProxy {
    pub fn new(client: RpcClient, addr: SocketAddr) -> ClientDatanodeProtocolProxy {
        ClientDatanodeProtocolProxy { client, addr }
    }

    /// The DataNode's IPC address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    rpc_methods! { CLIENT_DATANODE;
        /// The visible length of the DataNode's replica of a block (the bytes every
        /// DataNode of the pipeline acknowledged, for a replica being written).
        get_replica_visible_length => "getReplicaVisibleLength" (GetReplicaVisibleLengthRequestProto) -> GetReplicaVisibleLengthResponseProto;
    }
}
