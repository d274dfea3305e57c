//! `ClientNamenodeProtocol` (`org.apache.hadoop.hdfs.protocol.ClientProtocol`): one typed
//! method per RPC on [`ClientProtocolHandler`], mapping the request onto [`NameNode`] and
//! its answer (or error) back to protobuf.
//!
//! Reply shapes follow what clients depend on: getFileInfo of a missing path is a reply
//! without `fs`; getListing of a missing path a reply without `dirList`;
//! getBlockLocations of a missing path a FileNotFoundException; create answers `fs`,
//! append answers `stat` (and `block` when the last block is partial).

use std::sync::Arc;

use ferrodfs_ipc::server::{Service, ServiceBuilder};
use ferrodfs_proto::hdfs::*;
use ferrodfs_proto::protocol::CLIENT_NAMENODE_PROTOCOL;

use super::convert::{self, remote};
use super::groups::GroupMapping;
use super::proxy_users::ProxyUsers;
use super::retry_cache::RetryCache;
use super::{CallInfo, RpcResult};
use crate::config::NameNodeConfig;
use crate::namespace::{Caller, FsPermission};
use crate::namesystem::{CreateFlags, FileType, SafeModeAction};
use crate::NameNode;

/// `dfs.bytes-per-checksum` default.
pub const BYTES_PER_CHECKSUM_DEFAULT: u32 = 512;
/// `dfs.client-write-packet-size` default.
pub const WRITE_PACKET_SIZE_DEFAULT: u32 = 64 * 1024;
/// `io.file.buffer.size` default.
pub const FILE_BUFFER_SIZE_DEFAULT: u32 = 4096;
/// `fs.trash.interval` default (minutes; 0 = no trash).
pub const TRASH_INTERVAL_DEFAULT: u64 = 0;
/// `dfs.bytes-per-checksum`.
pub const BYTES_PER_CHECKSUM_KEY: &str = "dfs.bytes-per-checksum";
/// `dfs.client-write-packet-size`.
pub const WRITE_PACKET_SIZE_KEY: &str = "dfs.client-write-packet-size";
/// `io.file.buffer.size`.
pub const FILE_BUFFER_SIZE_KEY: &str = "io.file.buffer.size";
/// `fs.trash.interval`.
pub const TRASH_INTERVAL_KEY: &str = "fs.trash.interval";

/// `RefreshNodesRequestProto` (empty; not in the vendored protos, which predate the
/// admin calls we serve).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RefreshNodesRequestProto {}

/// `RefreshNodesResponseProto` (empty).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RefreshNodesResponseProto {}

/// What getServerDefaults answers (Hadoop's `FsServerDefaults`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerDefaults {
    pub block_size: u64,
    pub bytes_per_checksum: u32,
    pub write_packet_size: u32,
    pub replication: u32,
    pub file_buffer_size: u32,
    pub trash_interval: u64,
}

impl ServerDefaults {
    /// Hadoop's defaults with the NameNode's block size and replication.
    pub fn new(config: &NameNodeConfig) -> ServerDefaults {
        ServerDefaults {
            block_size: config.block_size,
            bytes_per_checksum: BYTES_PER_CHECKSUM_DEFAULT,
            write_packet_size: WRITE_PACKET_SIZE_DEFAULT,
            replication: u32::from(config.replication),
            file_buffer_size: FILE_BUFFER_SIZE_DEFAULT,
            trash_interval: TRASH_INTERVAL_DEFAULT,
        }
    }

    /// [`ServerDefaults::new`] with the keys above read through `lookup`.
    pub fn from_lookup(
        config: &NameNodeConfig,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> ServerDefaults {
        let mut d = ServerDefaults::new(config);
        let num = |k: &str| lookup(k).and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(n) = num(BYTES_PER_CHECKSUM_KEY).and_then(|n| u32::try_from(n).ok()) {
            d.bytes_per_checksum = n.max(1);
        }
        if let Some(n) = num(WRITE_PACKET_SIZE_KEY).and_then(|n| u32::try_from(n).ok()) {
            d.write_packet_size = n;
        }
        if let Some(n) = num(FILE_BUFFER_SIZE_KEY).and_then(|n| u32::try_from(n).ok()) {
            d.file_buffer_size = n;
        }
        if let Some(n) = num(TRASH_INTERVAL_KEY) {
            d.trash_interval = n;
        }
        d
    }

    pub fn to_proto(&self) -> FsServerDefaultsProto {
        FsServerDefaultsProto {
            block_size: self.block_size,
            bytes_per_checksum: self.bytes_per_checksum,
            write_packet_size: self.write_packet_size,
            replication: self.replication,
            file_buffer_size: self.file_buffer_size,
            encrypt_data_transfer: Some(false),
            trash_interval: Some(self.trash_interval),
            checksum_type: Some(ChecksumTypeProto::ChecksumCrc32c as i32),
            key_provider_uri: None,
            policy_id: None,
            snapshot_trash_root_enabled: Some(false),
        }
    }
}

/// Serves ClientProtocol on a [`NameNode`].
#[derive(Debug, Clone)]
pub struct ClientProtocolHandler {
    nn: Arc<NameNode>,
    defaults: ServerDefaults,
    groups: Arc<GroupMapping>,
    retry_cache: Option<Arc<RetryCache>>,
    proxy_users: Arc<ProxyUsers>,
}

fn file_id(id: Option<u64>) -> Option<u64> {
    id.filter(|&i| i != 0)
}

fn perm(p: &FsPermissionProto) -> FsPermission {
    FsPermission((p.perm & 0o7777) as u16)
}

/// A replication from the wire; out of u16 range maps to a value the namesystem rejects.
fn replication(r: u32) -> u16 {
    u16::try_from(r).unwrap_or(u16::MAX)
}

fn child_path(dir: &str, name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

impl ClientProtocolHandler {
    pub fn new(nn: Arc<NameNode>, defaults: ServerDefaults) -> ClientProtocolHandler {
        ClientProtocolHandler {
            nn,
            defaults,
            groups: Arc::new(GroupMapping::default()),
            retry_cache: None,
            proxy_users: Arc::new(ProxyUsers::default()),
        }
    }

    /// Checks impersonating connections against `proxy_users` (default: none allowed).
    pub fn with_proxy_users(mut self, proxy_users: Arc<ProxyUsers>) -> ClientProtocolHandler {
        self.proxy_users = proxy_users;
        self
    }

    /// The groups mapping callers' groups come from.
    pub fn groups(&self) -> &Arc<GroupMapping> {
        &self.groups
    }

    /// The caller of one RPC, refused (`AuthorizationException`) if it impersonates a
    /// user without `hadoop.proxyuser.*` allowing it.
    pub fn call_info(&self, ctx: &ferrodfs_ipc::server::CallContext) -> RpcResult<CallInfo> {
        self.proxy_users
            .authorize_call(ctx, |u| self.groups.groups(u))
            .map_err(|e| remote(&e))
    }

    /// Hadoop's `checkSuperuserPrivilege` for the admin calls.
    fn check_superuser(&self, call: &CallInfo) -> RpcResult<()> {
        self.nn
            .check_superuser(&self.caller(call, ""))
            .map_err(|e| remote(&e))
    }

    /// Answers retried `@AtMostOnce` calls (create, append, rename, rename2, delete,
    /// concat) through `cache`; without one (the default) every call runs.
    pub fn with_retry_cache(mut self, cache: Option<Arc<RetryCache>>) -> ClientProtocolHandler {
        self.retry_cache = cache;
        self
    }

    /// The retry cache the `@AtMostOnce` methods go through, if any.
    pub fn retry_cache(&self) -> Option<&RetryCache> {
        self.retry_cache.as_deref()
    }

    /// Uses `groups` to find callers' groups.
    pub fn with_groups(mut self, groups: Arc<GroupMapping>) -> ClientProtocolHandler {
        self.groups = groups;
        self
    }

    /// The RPC service: every method of this handler under Hadoop's method names.
    pub fn service(self: Arc<Self>) -> Service {
        // Hadoop's ClientProtocol marks these @AtMostOnce: a retry must not run them again.
        let builder = super::register_at_most_once!(
            ServiceBuilder::new(CLIENT_NAMENODE_PROTOCOL), self;
            "create" => create,
            "append" => append,
            "rename" => rename,
            "rename2" => rename2,
            "delete" => delete,
            "concat" => concat,
            "setXAttr" => set_xattr,
            "removeXAttr" => remove_xattr,
        );
        super::register!(builder, self;
            "getServerDefaults" => get_server_defaults,
            "getFileInfo" => get_file_info,
            "getFileLinkInfo" => get_file_link_info,
            "isFileClosed" => is_file_closed,
            "getListing" => get_listing,
            "getBlockLocations" => get_block_locations,
            "getContentSummary" => get_content_summary,
            "getFsStats" => get_fs_stats,
            "getDatanodeReport" => get_datanode_report,
            "getPreferredBlockSize" => get_preferred_block_size,
            "mkdirs" => mkdirs,
            "addBlock" => add_block,
            "abandonBlock" => abandon_block,
            "getAdditionalDatanode" => get_additional_datanode,
            "complete" => complete,
            "fsync" => fsync,
            "setReplication" => set_replication,
            "setPermission" => set_permission,
            "setOwner" => set_owner,
            "setTimes" => set_times,
            "renewLease" => renew_lease,
            "recoverLease" => recover_lease,
            "updateBlockForPipeline" => update_block_for_pipeline,
            "updatePipeline" => update_pipeline,
            "reportBadBlocks" => report_bad_blocks,
            "truncate" => truncate,
            "setSafeMode" => set_safe_mode,
            "refreshNodes" => refresh_nodes,
            "msync" => msync,
            "getXAttrs" => get_xattrs,
            "listXAttrs" => list_xattrs,
        )
        // Lookups under the namesystem's read lock (writers hold the write lock only to
        // apply and buffer edits; the edit-log sync happens after it is released) or
        // under no lock: they may run on the RPC reader thread when no call waits for
        // a handler, saving a thread hand-off (docs/design/rpc.md, "cheap methods").
        .cheap(&[
            "getServerDefaults",
            "getFileInfo",
            "getFileLinkInfo",
            "isFileClosed",
            "getPreferredBlockSize",
            "msync",
        ])
        .build()
    }

    pub fn namenode(&self) -> &Arc<NameNode> {
        &self.nn
    }

    /// The namesystem's caller: the connection's user with its groups, the request's
    /// client name (lease holder) and the peer's IP as client machine.
    pub fn caller(&self, call: &CallInfo, client_name: &str) -> Caller {
        Caller {
            user: call.user.clone(),
            groups: self.groups.groups(&call.user),
            client_name: client_name.to_owned(),
            client_machine: call.remote_ip(),
        }
    }

    pub fn get_server_defaults(
        &self,
        _call: &CallInfo,
        _req: GetServerDefaultsRequestProto,
    ) -> RpcResult<GetServerDefaultsResponseProto> {
        Ok(GetServerDefaultsResponseProto {
            server_defaults: self.defaults.to_proto(),
        })
    }

    pub fn get_file_info(
        &self,
        call: &CallInfo,
        req: GetFileInfoRequestProto,
    ) -> RpcResult<GetFileInfoResponseProto> {
        let st = self
            .nn
            .get_file_info(&self.caller(call, ""), &req.src)
            .map_err(|e| remote(&e))?;
        Ok(GetFileInfoResponseProto {
            fs: st.as_ref().map(convert::file_status),
        })
    }

    /// No symlinks: the same as getFileInfo.
    pub fn get_file_link_info(
        &self,
        call: &CallInfo,
        req: GetFileLinkInfoRequestProto,
    ) -> RpcResult<GetFileLinkInfoResponseProto> {
        let r = self.get_file_info(call, GetFileInfoRequestProto { src: req.src })?;
        Ok(GetFileLinkInfoResponseProto { fs: r.fs })
    }

    pub fn is_file_closed(
        &self,
        call: &CallInfo,
        req: IsFileClosedRequestProto,
    ) -> RpcResult<IsFileClosedResponseProto> {
        let st = self
            .nn
            .get_file_info(&self.caller(call, ""), &req.src)
            .map_err(|e| remote(&e))?
            .ok_or_else(|| {
                remote(&crate::Error::FileNotFound {
                    path: req.src.clone(),
                })
            })?;
        Ok(IsFileClosedResponseProto {
            result: !st.under_construction,
        })
    }

    pub fn get_listing(
        &self,
        call: &CallInfo,
        req: GetListingRequestProto,
    ) -> RpcResult<GetListingResponseProto> {
        let caller = self.caller(call, "");
        let Some(listing) = self
            .nn
            .get_listing(&caller, &req.src, &req.start_after)
            .map_err(|e| remote(&e))?
        else {
            return Ok(GetListingResponseProto { dir_list: None });
        };
        let mut entries = Vec::with_capacity(listing.entries.len());
        for st in &listing.entries {
            let mut p = convert::file_status(st);
            if req.need_location && st.file_type == FileType::File {
                let path = if st.path.is_empty() {
                    req.src.clone()
                } else {
                    child_path(&req.src, &st.path)
                };
                // The file may have gone since the listing; then it has no locations.
                if let Ok(lbs) = self.nn.get_block_locations(&caller, &path, 0, u64::MAX) {
                    p.locations = Some(convert::located_blocks(&lbs));
                }
            }
            entries.push(p);
        }
        Ok(GetListingResponseProto {
            dir_list: Some(DirectoryListingProto {
                partial_listing: entries,
                remaining_entries: listing.remaining,
            }),
        })
    }

    pub fn get_block_locations(
        &self,
        call: &CallInfo,
        req: GetBlockLocationsRequestProto,
    ) -> RpcResult<GetBlockLocationsResponseProto> {
        let lbs = self
            .nn
            .get_block_locations(&self.caller(call, ""), &req.src, req.offset, req.length)
            .map_err(|e| remote(&e))?;
        Ok(GetBlockLocationsResponseProto {
            locations: Some(convert::located_blocks(&lbs)),
        })
    }

    pub fn get_content_summary(
        &self,
        call: &CallInfo,
        req: GetContentSummaryRequestProto,
    ) -> RpcResult<GetContentSummaryResponseProto> {
        let s = self
            .nn
            .get_content_summary(&self.caller(call, ""), &req.path)
            .map_err(|e| remote(&e))?;
        Ok(GetContentSummaryResponseProto {
            summary: convert::content_summary(&s),
        })
    }

    pub fn get_fs_stats(
        &self,
        _call: &CallInfo,
        _req: GetFsStatusRequestProto,
    ) -> RpcResult<GetFsStatsResponseProto> {
        Ok(convert::fs_stats(&self.nn.get_fs_stats()))
    }

    /// Superuser only (Hadoop 3.3's `datanodeReport` checks the privilege).
    pub fn get_datanode_report(
        &self,
        call: &CallInfo,
        req: GetDatanodeReportRequestProto,
    ) -> RpcResult<GetDatanodeReportResponseProto> {
        self.check_superuser(call)?;
        let kind = DatanodeReportTypeProto::try_from(req.r#type).ok();
        let di = self.nn.with_namesystem(|fs| {
            let blocks = fs.blocks_per_node();
            fs.datanodes()
                .nodes()
                .filter(|(_, d)| match kind {
                    Some(DatanodeReportTypeProto::All) => true,
                    Some(DatanodeReportTypeProto::Live) => d.alive,
                    Some(DatanodeReportTypeProto::Dead) => !d.alive,
                    _ => false,
                })
                .map(|(ix, d)| {
                    let mut info = convert::datanode_info(&d.id, Some(d));
                    info.num_blocks = Some(blocks.get(&ix).copied().unwrap_or(0));
                    info
                })
                .collect()
        });
        Ok(GetDatanodeReportResponseProto { di })
    }

    pub fn get_preferred_block_size(
        &self,
        call: &CallInfo,
        req: GetPreferredBlockSizeRequestProto,
    ) -> RpcResult<GetPreferredBlockSizeResponseProto> {
        let st = self
            .nn
            .get_file_info(&self.caller(call, ""), &req.filename)
            .map_err(|e| remote(&e))?
            .filter(|s| s.file_type == FileType::File)
            .ok_or_else(|| {
                remote(&crate::Error::FileNotFound {
                    path: req.filename.clone(),
                })
            })?;
        Ok(GetPreferredBlockSizeResponseProto {
            bsize: st.block_size,
        })
    }

    pub fn mkdirs(
        &self,
        call: &CallInfo,
        req: MkdirsRequestProto,
    ) -> RpcResult<MkdirsResponseProto> {
        let result = self
            .nn
            .mkdirs(
                &self.caller(call, ""),
                &req.src,
                perm(&req.masked),
                req.create_parent,
            )
            .map_err(|e| remote(&e))?;
        Ok(MkdirsResponseProto { result })
    }

    pub fn create(
        &self,
        call: &CallInfo,
        req: CreateRequestProto,
    ) -> RpcResult<CreateResponseProto> {
        let st = self
            .nn
            .create(
                &self.caller(call, &req.client_name),
                &req.src,
                perm(&req.masked),
                CreateFlags(req.create_flag),
                req.create_parent,
                replication(req.replication),
                req.block_size,
            )
            .map_err(|e| remote(&e))?;
        Ok(CreateResponseProto {
            fs: Some(convert::file_status(&st)),
        })
    }

    pub fn append(
        &self,
        call: &CallInfo,
        req: AppendRequestProto,
    ) -> RpcResult<AppendResponseProto> {
        let flags = CreateFlags(req.flag.unwrap_or(CreateFlags::APPEND));
        let r = self
            .nn
            .append(&self.caller(call, &req.client_name), &req.src, flags)
            .map_err(|e| remote(&e))?;
        Ok(AppendResponseProto {
            block: r.last_block.as_ref().map(convert::located_block),
            stat: Some(convert::file_status(&r.status)),
        })
    }

    pub fn add_block(
        &self,
        call: &CallInfo,
        req: AddBlockRequestProto,
    ) -> RpcResult<AddBlockResponseProto> {
        let excluded: Vec<String> = req.exclude_nodes.iter().map(convert::node_name).collect();
        let previous = req.previous.as_ref().map(convert::extended_block);
        let lb = self
            .nn
            .add_block(
                &self.caller(call, &req.client_name),
                &req.src,
                file_id(req.file_id),
                previous.as_ref(),
                &excluded,
                &req.favored_nodes,
            )
            .map_err(|e| remote(&e))?;
        Ok(AddBlockResponseProto {
            block: convert::located_block(&lb),
        })
    }

    pub fn abandon_block(
        &self,
        call: &CallInfo,
        req: AbandonBlockRequestProto,
    ) -> RpcResult<AbandonBlockResponseProto> {
        self.nn
            .abandon_block(
                &self.caller(call, &req.holder),
                &convert::extended_block(&req.b),
                &req.src,
                file_id(req.file_id),
            )
            .map_err(|e| remote(&e))?;
        Ok(AbandonBlockResponseProto {})
    }

    pub fn get_additional_datanode(
        &self,
        call: &CallInfo,
        req: GetAdditionalDatanodeRequestProto,
    ) -> RpcResult<GetAdditionalDatanodeResponseProto> {
        let existing: Vec<String> = req.existings.iter().map(convert::node_name).collect();
        // A count from the wire: the namesystem bounds it by the live DataNodes.
        let count = usize::try_from(req.num_additional_nodes).unwrap_or(usize::MAX);
        let excluded: Vec<String> = req.excludes.iter().map(convert::node_name).collect();
        let lb = self
            .nn
            .get_additional_datanode(
                &self.caller(call, &req.client_name),
                &req.src,
                file_id(req.file_id),
                &convert::extended_block(&req.blk),
                &existing,
                &excluded,
                count,
            )
            .map_err(|e| remote(&e))?;
        Ok(GetAdditionalDatanodeResponseProto {
            block: convert::located_block(&lb),
        })
    }

    pub fn complete(
        &self,
        call: &CallInfo,
        req: CompleteRequestProto,
    ) -> RpcResult<CompleteResponseProto> {
        let last = req.last.as_ref().map(convert::extended_block);
        let result = self
            .nn
            .complete(
                &self.caller(call, &req.client_name),
                &req.src,
                file_id(req.file_id),
                last.as_ref(),
            )
            .map_err(|e| remote(&e))?;
        Ok(CompleteResponseProto { result })
    }

    pub fn fsync(&self, call: &CallInfo, req: FsyncRequestProto) -> RpcResult<FsyncResponseProto> {
        // Hadoop records the length only when it is positive (-1: unknown).
        let len = req.last_block_length.filter(|&l| l > 0).map(|l| l as u64);
        self.nn
            .fsync(
                &self.caller(call, &req.client),
                &req.src,
                file_id(req.file_id),
                len,
            )
            .map_err(|e| remote(&e))?;
        Ok(FsyncResponseProto {})
    }

    pub fn rename(
        &self,
        call: &CallInfo,
        req: RenameRequestProto,
    ) -> RpcResult<RenameResponseProto> {
        let result = self
            .nn
            .rename(&self.caller(call, ""), &req.src, &req.dst)
            .map_err(|e| remote(&e))?;
        Ok(RenameResponseProto { result })
    }

    pub fn rename2(
        &self,
        call: &CallInfo,
        req: Rename2RequestProto,
    ) -> RpcResult<Rename2ResponseProto> {
        self.nn
            .rename2(
                &self.caller(call, ""),
                &req.src,
                &req.dst,
                req.overwrite_dest,
            )
            .map_err(|e| remote(&e))?;
        Ok(Rename2ResponseProto {})
    }

    pub fn delete(
        &self,
        call: &CallInfo,
        req: DeleteRequestProto,
    ) -> RpcResult<DeleteResponseProto> {
        let result = self
            .nn
            .delete(&self.caller(call, ""), &req.src, req.recursive)
            .map_err(|e| remote(&e))?;
        Ok(DeleteResponseProto { result })
    }

    pub fn set_replication(
        &self,
        call: &CallInfo,
        req: SetReplicationRequestProto,
    ) -> RpcResult<SetReplicationResponseProto> {
        let result = self
            .nn
            .set_replication(
                &self.caller(call, ""),
                &req.src,
                replication(req.replication),
            )
            .map_err(|e| remote(&e))?;
        Ok(SetReplicationResponseProto { result })
    }

    pub fn set_permission(
        &self,
        call: &CallInfo,
        req: SetPermissionRequestProto,
    ) -> RpcResult<SetPermissionResponseProto> {
        self.nn
            .set_permission(&self.caller(call, ""), &req.src, perm(&req.permission))
            .map_err(|e| remote(&e))?;
        Ok(SetPermissionResponseProto {})
    }

    pub fn set_owner(
        &self,
        call: &CallInfo,
        req: SetOwnerRequestProto,
    ) -> RpcResult<SetOwnerResponseProto> {
        self.nn
            .set_owner(
                &self.caller(call, ""),
                &req.src,
                req.username.as_deref(),
                req.groupname.as_deref(),
            )
            .map_err(|e| remote(&e))?;
        Ok(SetOwnerResponseProto {})
    }

    /// `-1` (sent as all-ones uint64) leaves a time unchanged.
    pub fn set_times(
        &self,
        call: &CallInfo,
        req: SetTimesRequestProto,
    ) -> RpcResult<SetTimesResponseProto> {
        self.nn
            .set_times(
                &self.caller(call, ""),
                &req.src,
                req.mtime as i64,
                req.atime as i64,
            )
            .map_err(|e| remote(&e))?;
        Ok(SetTimesResponseProto {})
    }

    /// Succeeds for clients without a lease too (the Go client renews every second).
    pub fn renew_lease(
        &self,
        _call: &CallInfo,
        req: RenewLeaseRequestProto,
    ) -> RpcResult<RenewLeaseResponseProto> {
        self.nn.renew_lease(&req.client_name);
        Ok(RenewLeaseResponseProto {})
    }

    pub fn recover_lease(
        &self,
        call: &CallInfo,
        req: RecoverLeaseRequestProto,
    ) -> RpcResult<RecoverLeaseResponseProto> {
        let result = self
            .nn
            .recover_lease(&self.caller(call, &req.client_name), &req.src)
            .map_err(|e| remote(&e))?;
        Ok(RecoverLeaseResponseProto { result })
    }

    pub fn update_block_for_pipeline(
        &self,
        call: &CallInfo,
        req: UpdateBlockForPipelineRequestProto,
    ) -> RpcResult<UpdateBlockForPipelineResponseProto> {
        let lb = self
            .nn
            .update_block_for_pipeline(
                &self.caller(call, &req.client_name),
                &convert::extended_block(&req.block),
            )
            .map_err(|e| remote(&e))?;
        Ok(UpdateBlockForPipelineResponseProto {
            block: convert::located_block(&lb),
        })
    }

    pub fn update_pipeline(
        &self,
        call: &CallInfo,
        req: UpdatePipelineRequestProto,
    ) -> RpcResult<UpdatePipelineResponseProto> {
        let nodes: Vec<String> = req
            .new_nodes
            .iter()
            .map(|n| n.datanode_uuid.clone())
            .collect();
        self.nn
            .update_pipeline(
                &self.caller(call, &req.client_name),
                &convert::extended_block(&req.old_block),
                &convert::extended_block(&req.new_block),
                &nodes,
                &req.storage_i_ds,
            )
            .map_err(|e| remote(&e))?;
        Ok(UpdatePipelineResponseProto {})
    }

    pub fn report_bad_blocks(
        &self,
        _call: &CallInfo,
        req: ReportBadBlocksRequestProto,
    ) -> RpcResult<ReportBadBlocksResponseProto> {
        let bad: Vec<_> = req.blocks.iter().map(convert::bad_block).collect();
        self.nn.report_bad_blocks(&bad);
        Ok(ReportBadBlocksResponseProto {})
    }

    pub fn concat(
        &self,
        call: &CallInfo,
        req: ConcatRequestProto,
    ) -> RpcResult<ConcatResponseProto> {
        self.nn
            .concat(&self.caller(call, ""), &req.trg, &req.srcs)
            .map_err(|e| remote(&e))?;
        Ok(ConcatResponseProto {})
    }

    pub fn truncate(
        &self,
        call: &CallInfo,
        req: TruncateRequestProto,
    ) -> RpcResult<TruncateResponseProto> {
        let result = self
            .nn
            .truncate(
                &self.caller(call, &req.client_name),
                &req.src,
                req.new_length,
            )
            .map_err(|e| remote(&e))?;
        Ok(TruncateResponseProto { result })
    }

    /// Answers whether the NameNode is in safe mode after the action.
    pub fn set_safe_mode(
        &self,
        call: &CallInfo,
        req: SetSafeModeRequestProto,
    ) -> RpcResult<SetSafeModeResponseProto> {
        let action = match SafeModeActionProto::try_from(req.action) {
            Ok(SafeModeActionProto::SafemodeLeave) => SafeModeAction::Leave,
            Ok(SafeModeActionProto::SafemodeEnter) => SafeModeAction::Enter,
            Ok(SafeModeActionProto::SafemodeGet) => SafeModeAction::Get,
            Ok(SafeModeActionProto::SafemodeForceExit) => SafeModeAction::ForceExit,
            Err(_) => {
                return Err(convert::io_exception(format!(
                    "unknown safe mode action {}",
                    req.action
                )))
            }
        };
        let result = self
            .nn
            .set_safe_mode(&self.caller(call, ""), action)
            .map_err(|e| remote(&e))?;
        Ok(SetSafeModeResponseProto { result })
    }

    /// refreshNodes (superuser): re-reads `dfs.hosts` / `dfs.hosts.exclude`.
    pub fn refresh_nodes(
        &self,
        call: &CallInfo,
        _req: RefreshNodesRequestProto,
    ) -> RpcResult<RefreshNodesResponseProto> {
        self.check_superuser(call)?;
        self.nn.refresh_nodes().map_err(|e| remote(&e))?;
        Ok(RefreshNodesResponseProto {})
    }

    /// No observer NameNodes: nothing to wait for.
    pub fn msync(
        &self,
        _call: &CallInfo,
        _req: MsyncRequestProto,
    ) -> RpcResult<MsyncResponseProto> {
        Ok(MsyncResponseProto {})
    }
}
