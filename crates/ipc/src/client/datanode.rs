//! DatanodeProtocol (`org.apache.hadoop.hdfs.server.protocol.DatanodeProtocol`), what a
//! DataNode calls on its NameNode: typed one-liners over [`RpcClient::call`].

use super::{rpc_methods, RpcClient};
use ferrodfs_proto::hdfs::datanode::*;
use ferrodfs_proto::hdfs::{VersionRequestProto, VersionResponseProto};
use ferrodfs_proto::protocol::DATANODE;
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
