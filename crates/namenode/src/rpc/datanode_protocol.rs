//! `DatanodeProtocol` (`org.apache.hadoop.hdfs.server.protocol.DatanodeProtocol`): what a
//! DataNode calls on its NameNode — handshake, registration, heartbeats (whose replies
//! carry the NameNode's commands), block reports, bad blocks and the end of a block
//! recovery — mapped onto [`NameNode`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ferrodfs_ipc::server::{Service, ServiceBuilder};
use ferrodfs_proto::hdfs::datanode::*;
use ferrodfs_proto::hdfs::{
    nnha_status_heartbeat_proto, NamespaceInfoProto, NnhaStatusHeartbeatProto, StorageInfoProto,
    VersionRequestProto, VersionResponseProto,
};
use ferrodfs_proto::protocol::DATANODE_PROTOCOL;

use super::block_list;
use super::convert::{self, io_exception, remote};
use super::groups::GroupMapping;
use super::proxy_users::ProxyUsers;
use super::version::compare_versions;
use super::{CallInfo, RpcResult};
use crate::datanodes::StorageReport;
use crate::namesystem::{ReceivedDeletedBlock, ReceivedDeletedStatus};
use crate::{Error, NameNode};

/// The Hadoop version we claim to be (DataNodes compare it with their minimum).
pub const SOFTWARE_VERSION: &str = "3.3.4";
/// `NamespaceInfo.Capability.STORAGE_BLOCK_REPORT_BUFFERS`: DataNodes may send block
/// reports in the buffer encoding.
pub const CAPABILITY_STORAGE_BLOCK_REPORT_BUFFERS: u64 = 1;

/// Serves DatanodeProtocol on a [`NameNode`].
#[derive(Debug)]
pub struct DatanodeProtocolHandler {
    nn: Arc<NameNode>,
    /// Full-block-report lease ids handed out (any non-zero id lets a DataNode report).
    next_report_lease: AtomicU64,
    /// `hadoop.proxyuser.*`: which connections may act for another user.
    proxy_users: Arc<ProxyUsers>,
    groups: Arc<GroupMapping>,
}

impl DatanodeProtocolHandler {
    pub fn new(nn: Arc<NameNode>) -> DatanodeProtocolHandler {
        DatanodeProtocolHandler {
            nn,
            next_report_lease: AtomicU64::new(1),
            proxy_users: Arc::new(ProxyUsers::default()),
            groups: Arc::new(GroupMapping::default()),
        }
    }

    /// Checks impersonating connections against `proxy_users`, with `groups`.
    pub fn with_proxy_users(
        mut self,
        proxy_users: Arc<ProxyUsers>,
        groups: Arc<GroupMapping>,
    ) -> DatanodeProtocolHandler {
        self.proxy_users = proxy_users;
        self.groups = groups;
        self
    }

    /// The caller of one RPC, refused (`AuthorizationException`) if it impersonates a
    /// user without `hadoop.proxyuser.*` allowing it.
    pub fn call_info(&self, ctx: &ferrodfs_ipc::server::CallContext) -> RpcResult<CallInfo> {
        self.proxy_users
            .authorize_call(ctx, |u| self.groups.groups(u))
            .map_err(|e| remote(&e))
    }

    /// The RPC service: every method of this handler under Hadoop's method names.
    pub fn service(self: Arc<Self>) -> Service {
        super::register!(ServiceBuilder::new(DATANODE_PROTOCOL), self;
            "versionRequest" => version_request,
            "registerDatanode" => register_datanode,
            "sendHeartbeat" => send_heartbeat,
            "blockReport" => block_report,
            "blockReceivedAndDeleted" => block_received_and_deleted,
            "reportBadBlocks" => report_bad_blocks,
            "commitBlockSynchronization" => commit_block_synchronization,
            "errorReport" => error_report,
        )
        .build()
    }

    fn storage_info(&self) -> StorageInfoProto {
        let info = self.nn.storage_info();
        StorageInfoProto {
            // Hadoop writes its negative layout version into this uint32 as is.
            layout_version: info.layout_version as u32,
            namespce_id: info.namespace_id,
            cluster_id: info.cluster_id.clone(),
            c_time: info.ctime.max(0) as u64,
        }
    }

    /// Hadoop's registration-ID check (`verifyRequest`): a DataNode formatted for
    /// another namespace, or a caller that sends none, is an unregistered server.
    fn check_namespace(&self, reg: &DatanodeRegistrationProto) -> RpcResult<()> {
        let info = self.nn.storage_info();
        let theirs = &reg.storage_info;
        if theirs.namespce_id == info.namespace_id && theirs.cluster_id == info.cluster_id {
            return Ok(());
        }
        tracing::warn!(
            uuid = %reg.datanode_id.datanode_uuid,
            namespace_id = theirs.namespce_id,
            cluster_id = %theirs.cluster_id,
            "registration IDs mismatched"
        );
        Err(remote(&Error::UnregisteredNode {
            message: format!(
                "Unregistered server: DatanodeRegistration(datanodeUuid={}): registration \
                 ID NS-{}-{} does not match the expected ID NS-{}-{}",
                reg.datanode_id.datanode_uuid,
                theirs.namespce_id,
                theirs.cluster_id,
                info.namespace_id,
                info.cluster_id
            ),
        }))
    }

    /// Hadoop's `verifySoftwareVersion`: a DataNode older than
    /// `dfs.namenode.min.supported.datanode.version` is refused.
    fn check_software_version(&self, reg: &DatanodeRegistrationProto) -> RpcResult<()> {
        let minimum = self
            .nn
            .with_namesystem(|fs| fs.config().min_datanode_version.clone());
        if compare_versions(&reg.software_version, &minimum).is_lt() {
            return Err(remote(&Error::IncorrectVersion {
                reported: reg.software_version.clone(),
                minimum,
            }));
        }
        Ok(())
    }

    /// The registered node a call naming `reg` comes from; `None` if its uuid is not
    /// (or no longer) live. A mismatched namespace, IP or user is an error.
    fn caller_node(
        &self,
        call: &CallInfo,
        reg: &DatanodeRegistrationProto,
    ) -> RpcResult<Option<u32>> {
        self.check_namespace(reg)?;
        self.nn
            .datanode_for_call(
                &reg.datanode_id.datanode_uuid,
                &call.remote_ip(),
                &call.user,
            )
            .map_err(|e| remote(&e))
    }

    /// [`Self::caller_node`] for calls that only a registered node may make.
    fn registered_caller(
        &self,
        call: &CallInfo,
        reg: &DatanodeRegistrationProto,
    ) -> RpcResult<u32> {
        self.caller_node(call, reg)?.ok_or_else(|| {
            remote(&crate::namesystem::unregistered_datanode(
                &reg.datanode_id.datanode_uuid,
            ))
        })
    }

    pub fn version_request(
        &self,
        _call: &CallInfo,
        _req: VersionRequestProto,
    ) -> RpcResult<VersionResponseProto> {
        Ok(VersionResponseProto {
            info: NamespaceInfoProto {
                build_version: format!("ferrodfs-{}", env!("CARGO_PKG_VERSION")),
                unused: 0,
                block_pool_id: self.nn.storage_info().block_pool_id.clone(),
                storage_info: self.storage_info(),
                software_version: SOFTWARE_VERSION.to_owned(),
                capabilities: Some(CAPABILITY_STORAGE_BLOCK_REPORT_BUFFERS),
                state: Some(nnha_status_heartbeat_proto::State::Active as i32),
            },
        })
    }

    /// Registers the node under the IP its connection comes from (as Hadoop does); the
    /// reply is the registration as recorded.
    pub fn register_datanode(
        &self,
        call: &CallInfo,
        req: RegisterDatanodeRequestProto,
    ) -> RpcResult<RegisterDatanodeResponseProto> {
        let mut reg = req.registration;
        self.check_software_version(&reg)?;
        self.check_namespace(&reg)?;
        if reg.datanode_id.datanode_uuid.is_empty() {
            return Err(io_exception("registration without a datanodeUuid"));
        }
        // Hadoop's DatanodeManager.registerDatanode: the IP is the connection's.
        reg.datanode_id.ip_addr = call.remote_ip();
        if reg.datanode_id.host_name.is_empty() {
            reg.datanode_id.host_name = reg.datanode_id.ip_addr.clone();
        }
        let id = convert::datanode_id(&reg.datanode_id)?;
        self.nn
            .register_datanode(id, &call.user)
            .map_err(|e| remote(&e))?;
        reg.storage_info = self.storage_info();
        Ok(RegisterDatanodeResponseProto { registration: reg })
    }

    pub fn send_heartbeat(
        &self,
        call: &CallInfo,
        req: HeartbeatRequestProto,
    ) -> RpcResult<HeartbeatResponseProto> {
        let uuid = &req.registration.datanode_id.datanode_uuid;
        if self.caller_node(call, &req.registration)?.is_none() {
            // Hadoop's handleHeartbeat: an unknown (or dead) node is told to register.
            return Ok(
                self.heartbeat_response(&[crate::datanodes::DatanodeCommand::Register], None)
            );
        }
        let reports: Vec<StorageReport> = req
            .reports
            .iter()
            .map(|r| StorageReport {
                storage_id: r.storage_uuid.clone(),
                failed: r.failed.unwrap_or(false),
                capacity: r.capacity.unwrap_or(0),
                dfs_used: r.dfs_used.unwrap_or(0),
                remaining: r.remaining.unwrap_or(0),
            })
            .collect();
        let cmds = self
            .nn
            .heartbeat(uuid, &reports, req.xceiver_count.unwrap_or(0));
        let lease = req
            .request_full_block_report_lease
            .unwrap_or(false)
            .then(|| self.next_report_lease.fetch_add(1, Ordering::Relaxed));
        Ok(self.heartbeat_response(&cmds, lease))
    }

    fn heartbeat_response(
        &self,
        cmds: &[crate::datanodes::DatanodeCommand],
        lease: Option<u64>,
    ) -> HeartbeatResponseProto {
        let pool = &self.nn.storage_info().block_pool_id;
        HeartbeatResponseProto {
            cmds: cmds
                .iter()
                .map(|c| convert::datanode_command(c, pool))
                .collect(),
            ha_status: NnhaStatusHeartbeatProto {
                state: nnha_status_heartbeat_proto::State::Active as i32,
                txid: self.nn.edit_log_stats().last_txid,
            },
            rolling_upgrade_status: None,
            rolling_upgrade_status_v2: None,
            full_block_report_lease_id: lease,
        }
    }

    /// The replica lists are decoded only after the caller is known to be the node.
    pub fn block_report(
        &self,
        call: &CallInfo,
        req: BlockReportRequestProto,
    ) -> RpcResult<BlockReportResponseProto> {
        self.registered_caller(call, &req.registration)?;
        let uuid = &req.registration.datanode_id.datanode_uuid;
        for storage in &req.reports {
            let blocks = block_list::decode(storage).map_err(|e| io_exception(e.to_string()))?;
            self.nn
                .block_report(uuid, &storage.storage.storage_uuid, &blocks)
                .map_err(|e| remote(&e))?;
        }
        Ok(BlockReportResponseProto { cmd: None })
    }

    pub fn block_received_and_deleted(
        &self,
        call: &CallInfo,
        req: BlockReceivedAndDeletedRequestProto,
    ) -> RpcResult<BlockReceivedAndDeletedResponseProto> {
        use received_deleted_block_info_proto::BlockStatus;
        self.registered_caller(call, &req.registration)?;
        let uuid = &req.registration.datanode_id.datanode_uuid;
        for storage in &req.blocks {
            let mut entries = Vec::with_capacity(storage.blocks.len());
            for b in &storage.blocks {
                let status = match BlockStatus::try_from(b.status) {
                    Ok(BlockStatus::Receiving) => ReceivedDeletedStatus::Receiving,
                    Ok(BlockStatus::Received) => ReceivedDeletedStatus::Received,
                    Ok(BlockStatus::Deleted) => ReceivedDeletedStatus::Deleted,
                    Err(_) => {
                        return Err(io_exception(format!("unknown block status {}", b.status)))
                    }
                };
                entries.push(ReceivedDeletedBlock {
                    block_id: b.block.block_id,
                    gs: b.block.gen_stamp,
                    num_bytes: b.block.num_bytes.unwrap_or(0),
                    status,
                });
            }
            self.nn
                .incremental_block_report(uuid, &storage.storage_uuid, &entries)
                .map_err(|e| remote(&e))?;
        }
        Ok(BlockReceivedAndDeletedResponseProto {})
    }

    /// From a DataNode (its block scanner): the caller must be a registered node's IP
    /// and user (clients report bad blocks through ClientProtocol).
    pub fn report_bad_blocks(
        &self,
        call: &CallInfo,
        req: ReportBadBlocksRequestProto,
    ) -> RpcResult<ReportBadBlocksResponseProto> {
        if !self.nn.is_datanode_caller(&call.remote_ip(), &call.user) {
            return Err(remote(&Error::UnregisteredNode {
                message: format!(
                    "Unregistered server: no DataNode is registered from {} as {}",
                    call.remote_ip(),
                    call.user
                ),
            }));
        }
        let bad: Vec<_> = req.blocks.iter().map(convert::bad_block).collect();
        self.nn.report_bad_blocks(&bad);
        Ok(ReportBadBlocksResponseProto {})
    }

    /// Accepted only from the primary DataNode of the block's recovery, with its id.
    pub fn commit_block_synchronization(
        &self,
        call: &CallInfo,
        req: CommitBlockSynchronizationRequestProto,
    ) -> RpcResult<CommitBlockSynchronizationResponseProto> {
        let targets: Vec<(String, String)> = req
            .new_taragets
            .iter()
            .enumerate()
            .map(|(i, t)| {
                (
                    t.datanode_uuid.clone(),
                    req.new_target_storages.get(i).cloned().unwrap_or_default(),
                )
            })
            .collect();
        self.nn
            .commit_block_synchronization(
                &call.remote_ip(),
                &call.user,
                &convert::extended_block(&req.block),
                req.new_gen_stamp,
                req.new_length,
                req.close_file,
                req.delete_block,
                &targets,
            )
            .map_err(|e| remote(&e))?;
        Ok(CommitBlockSynchronizationResponseProto {})
    }

    /// Logged; a fatal disk error is logged as an error (the node stops itself).
    pub fn error_report(
        &self,
        call: &CallInfo,
        req: ErrorReportRequestProto,
    ) -> RpcResult<ErrorReportResponseProto> {
        self.registered_caller(call, &req.registartion)?;
        let uuid = &req.registartion.datanode_id.datanode_uuid;
        let code = error_report_request_proto::ErrorCode::try_from(req.error_code as i32);
        match code {
            Ok(error_report_request_proto::ErrorCode::Notify) => {
                tracing::info!(datanode = %uuid, msg = %req.msg, "datanode notice")
            }
            Ok(error_report_request_proto::ErrorCode::FatalDiskError) => {
                tracing::error!(datanode = %uuid, msg = %req.msg, "datanode fatal disk error")
            }
            _ => {
                tracing::warn!(datanode = %uuid, code = req.error_code, msg = %req.msg, "datanode error report")
            }
        }
        Ok(ErrorReportResponseProto {})
    }
}
