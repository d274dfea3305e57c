//! ClientNamenodeProtocol (`org.apache.hadoop.hdfs.protocol.ClientProtocol`): typed
//! one-liners over [`RpcClient::call`], named after Hadoop's methods.

use super::{rpc_methods, RpcClient};
use ferrodfs_proto::hdfs::*;
use ferrodfs_proto::protocol::CLIENT_NAMENODE;
use std::net::SocketAddr;

/// A NameNode's ClientProtocol at one address, over a shared [`RpcClient`].
///
/// ```no_run
/// use ferrodfs_ipc::client::{namenode::NamenodeProtocol, ClientConfig, RpcClient};
/// use ferrodfs_proto::hdfs::GetFileInfoRequestProto;
///
/// let nn = NamenodeProtocol::new(RpcClient::new(ClientConfig::default()), "127.0.0.1:8020".parse()?);
/// let info = nn.get_file_info(&GetFileInfoRequestProto { src: "/".into() })?;
/// println!("{:?}", info.fs);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct NamenodeProtocol {
    client: RpcClient,
    addr: SocketAddr,
}

impl NamenodeProtocol {
    pub fn new(client: RpcClient, addr: SocketAddr) -> NamenodeProtocol {
        NamenodeProtocol { client, addr }
    }

    /// The NameNode's RPC address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The client underneath.
    pub fn client(&self) -> &RpcClient {
        &self.client
    }

    rpc_methods! { CLIENT_NAMENODE;
        get_block_locations => "getBlockLocations" (GetBlockLocationsRequestProto) -> GetBlockLocationsResponseProto;
        get_server_defaults => "getServerDefaults" (GetServerDefaultsRequestProto) -> GetServerDefaultsResponseProto;
        create => "create" (CreateRequestProto) -> CreateResponseProto;
        append => "append" (AppendRequestProto) -> AppendResponseProto;
        set_replication => "setReplication" (SetReplicationRequestProto) -> SetReplicationResponseProto;
        get_storage_policy => "getStoragePolicy" (GetStoragePolicyRequestProto) -> GetStoragePolicyResponseProto;
        set_permission => "setPermission" (SetPermissionRequestProto) -> SetPermissionResponseProto;
        set_owner => "setOwner" (SetOwnerRequestProto) -> SetOwnerResponseProto;
        abandon_block => "abandonBlock" (AbandonBlockRequestProto) -> AbandonBlockResponseProto;
        add_block => "addBlock" (AddBlockRequestProto) -> AddBlockResponseProto;
        get_additional_datanode => "getAdditionalDatanode" (GetAdditionalDatanodeRequestProto) -> GetAdditionalDatanodeResponseProto;
        complete => "complete" (CompleteRequestProto) -> CompleteResponseProto;
        report_bad_blocks => "reportBadBlocks" (ReportBadBlocksRequestProto) -> ReportBadBlocksResponseProto;
        concat => "concat" (ConcatRequestProto) -> ConcatResponseProto;
        truncate => "truncate" (TruncateRequestProto) -> TruncateResponseProto;
        rename => "rename" (RenameRequestProto) -> RenameResponseProto;
        rename2 => "rename2" (Rename2RequestProto) -> Rename2ResponseProto;
        delete => "delete" (DeleteRequestProto) -> DeleteResponseProto;
        mkdirs => "mkdirs" (MkdirsRequestProto) -> MkdirsResponseProto;
        get_listing => "getListing" (GetListingRequestProto) -> GetListingResponseProto;
        renew_lease => "renewLease" (RenewLeaseRequestProto) -> RenewLeaseResponseProto;
        recover_lease => "recoverLease" (RecoverLeaseRequestProto) -> RecoverLeaseResponseProto;
        get_fs_stats => "getFsStats" (GetFsStatusRequestProto) -> GetFsStatsResponseProto;
        get_datanode_report => "getDatanodeReport" (GetDatanodeReportRequestProto) -> GetDatanodeReportResponseProto;
        get_datanode_storage_report => "getDatanodeStorageReport" (GetDatanodeStorageReportRequestProto) -> GetDatanodeStorageReportResponseProto;
        get_preferred_block_size => "getPreferredBlockSize" (GetPreferredBlockSizeRequestProto) -> GetPreferredBlockSizeResponseProto;
        set_safe_mode => "setSafeMode" (SetSafeModeRequestProto) -> SetSafeModeResponseProto;
        get_file_info => "getFileInfo" (GetFileInfoRequestProto) -> GetFileInfoResponseProto;
        get_file_link_info => "getFileLinkInfo" (GetFileLinkInfoRequestProto) -> GetFileLinkInfoResponseProto;
        get_content_summary => "getContentSummary" (GetContentSummaryRequestProto) -> GetContentSummaryResponseProto;
        fsync => "fsync" (FsyncRequestProto) -> FsyncResponseProto;
        set_times => "setTimes" (SetTimesRequestProto) -> SetTimesResponseProto;
        update_block_for_pipeline => "updateBlockForPipeline" (UpdateBlockForPipelineRequestProto) -> UpdateBlockForPipelineResponseProto;
        update_pipeline => "updatePipeline" (UpdatePipelineRequestProto) -> UpdatePipelineResponseProto;
        is_file_closed => "isFileClosed" (IsFileClosedRequestProto) -> IsFileClosedResponseProto;
        msync => "msync" (MsyncRequestProto) -> MsyncResponseProto;
        set_xattr => "setXAttr" (SetXAttrRequestProto) -> SetXAttrResponseProto;
        get_xattrs => "getXAttrs" (GetXAttrsRequestProto) -> GetXAttrsResponseProto;
        list_xattrs => "listXAttrs" (ListXAttrsRequestProto) -> ListXAttrsResponseProto;
        remove_xattr => "removeXAttr" (RemoveXAttrRequestProto) -> RemoveXAttrResponseProto;
    }
}
