//! Conversions between the protobuf messages and the namesystem's types, and from
//! [`Error`] to the [`RemoteException`] that goes on the wire.
//!
//! The shapes here are what real clients depend on (see
//! `/work/shared/docs/CLIENT-REQUIREMENTS.md`): `storageTypes` and `storageIDs` parallel to
//! `locs`, a block token always present (empty), exact lengths and offsets.

use std::time::{Duration, Instant};

use ferrodfs_ipc::{JavaException, RemoteException};
use ferrodfs_proto::common::TokenProto;
use ferrodfs_proto::hdfs::datanode::{
    block_command_proto, datanode_command_proto, BlockCommandProto, BlockRecoveryCommandProto,
    DatanodeCommandProto, RegisterCommandProto,
};
use ferrodfs_proto::hdfs::{
    datanode_info_proto, hdfs_file_status_proto, BlockProto, ContentSummaryProto, DatanodeIdProto,
    DatanodeInfoProto, DatanodeInfosProto, ExtendedBlockProto, FsPermissionProto,
    GetFsStatsResponseProto, HdfsFileStatusProto, LocatedBlockProto, LocatedBlocksProto,
    RecoveringBlockProto, StorageTypeProto, StorageTypesProto, StorageUuidsProto,
};

use crate::blocks::ExtendedBlock;
use crate::datanodes::{DatanodeCommand, DatanodeDescriptor, DatanodeId, DatanodeStorageInfo};
use crate::error::Error;
use crate::namesystem::{
    now_ms, ContentSummary, FileStatus, FileType, FsStats, LocatedBlock, LocatedBlocks,
};

/// Network location of every DataNode (no rack awareness).
pub const DEFAULT_RACK: &str = "/default-rack";
/// Storage type of every replica (`StorageTypeProto.DISK`).
pub const DEFAULT_STORAGE_TYPE: StorageTypeProto = StorageTypeProto::Disk;
/// `BLOCK_STORAGE_POLICY_ID_UNSPECIFIED`.
pub const STORAGE_POLICY_UNSPECIFIED: u32 = 0;

/// The exception a failed NameNode operation is answered with: the Java class from
/// [`crate::EXCEPTION_CLASSES`] and the error's message.
pub fn remote(e: &Error) -> RemoteException {
    RemoteException::new(
        JavaException::from_class_name(e.java_class()),
        e.to_string(),
    )
}

/// `java.io.IOException` with a message (malformed requests and the like).
pub fn io_exception(message: impl Into<String>) -> RemoteException {
    RemoteException::new(JavaException::IoException, message)
}

/// An empty block token (security off): present, with empty fields, as Hadoop sends it.
pub fn empty_token() -> TokenProto {
    TokenProto {
        identifier: Vec::new(),
        password: Vec::new(),
        kind: String::new(),
        service: String::new(),
    }
}

pub fn file_status(s: &FileStatus) -> HdfsFileStatusProto {
    HdfsFileStatusProto {
        file_type: match s.file_type {
            FileType::Directory => hdfs_file_status_proto::FileType::IsDir,
            FileType::File => hdfs_file_status_proto::FileType::IsFile,
        } as i32,
        path: s.path.clone(),
        length: s.length,
        permission: FsPermissionProto {
            perm: u32::from(s.permission),
        },
        owner: s.owner.clone(),
        group: s.group.clone(),
        modification_time: s.modification_time.max(0) as u64,
        access_time: s.access_time.max(0) as u64,
        block_replication: Some(u32::from(s.block_replication)),
        blocksize: Some(s.block_size),
        file_id: Some(s.file_id),
        children_num: Some(s.children_num),
        storage_policy: Some(STORAGE_POLICY_UNSPECIFIED),
        flags: Some(0),
        ..Default::default()
    }
}

pub fn extended_block_proto(b: &ExtendedBlock) -> ExtendedBlockProto {
    ExtendedBlockProto {
        pool_id: b.pool_id.clone(),
        block_id: b.block_id,
        generation_stamp: b.gs,
        num_bytes: Some(b.num_bytes),
    }
}

pub fn extended_block(b: &ExtendedBlockProto) -> ExtendedBlock {
    ExtendedBlock {
        pool_id: b.pool_id.clone(),
        block_id: b.block_id,
        gs: b.generation_stamp,
        num_bytes: b.num_bytes.unwrap_or(0),
    }
}

pub fn block_proto(b: &ExtendedBlock) -> BlockProto {
    BlockProto {
        block_id: b.block_id,
        gen_stamp: b.gs,
        num_bytes: Some(b.num_bytes),
    }
}

pub fn datanode_id_proto(id: &DatanodeId) -> DatanodeIdProto {
    DatanodeIdProto {
        ip_addr: id.ip_addr.clone(),
        host_name: id.host_name.clone(),
        datanode_uuid: id.uuid.clone(),
        xfer_port: u32::from(id.xfer_port),
        info_port: u32::from(id.info_port),
        ipc_port: u32::from(id.ipc_port),
        info_secure_port: Some(u32::from(id.info_secure_port)),
    }
}

/// A DataNode's identity from the wire; a port outside 0..=65535 is an error.
pub fn datanode_id(p: &DatanodeIdProto) -> Result<DatanodeId, RemoteException> {
    let port = |v: u32, what: &str| {
        u16::try_from(v).map_err(|_| io_exception(format!("invalid {what} {v}")))
    };
    Ok(DatanodeId {
        uuid: p.datanode_uuid.clone(),
        ip_addr: p.ip_addr.clone(),
        host_name: p.host_name.clone(),
        xfer_port: port(p.xfer_port, "xferPort")?,
        info_port: port(p.info_port, "infoPort")?,
        info_secure_port: port(p.info_secure_port.unwrap_or(0), "infoSecurePort")?,
        ipc_port: port(p.ipc_port, "ipcPort")?,
    })
}

/// How a request names a DataNode in excluded/existing lists: its uuid, else `ip:xferPort`.
pub fn node_name(p: &DatanodeInfoProto) -> String {
    if p.id.datanode_uuid.is_empty() {
        format!("{}:{}", p.id.ip_addr, p.id.xfer_port)
    } else {
        p.id.datanode_uuid.clone()
    }
}

/// A node's `DatanodeInfoProto`; with its descriptor, statistics are filled in.
pub fn datanode_info(id: &DatanodeId, stats: Option<&DatanodeDescriptor>) -> DatanodeInfoProto {
    let mut info = DatanodeInfoProto {
        id: datanode_id_proto(id),
        location: Some(DEFAULT_RACK.to_owned()),
        admin_state: Some(datanode_info_proto::AdminState::Normal as i32),
        ..Default::default()
    };
    if let Some(d) = stats {
        let ago = Instant::now().saturating_duration_since(d.last_heartbeat);
        let last_update = now_ms().max(0) as u64 - ms(ago).min(now_ms().max(0) as u64);
        info.capacity = Some(d.capacity);
        info.dfs_used = Some(d.dfs_used);
        info.remaining = Some(d.remaining);
        info.block_pool_used = Some(d.dfs_used);
        info.non_dfs_used = Some(d.capacity.saturating_sub(d.dfs_used + d.remaining));
        info.last_update = Some(last_update);
        info.last_update_monotonic = Some(last_update);
        info.xceiver_count = Some(d.xceiver_count);
        if let Some(t) = d.last_block_report {
            let ago = ms(Instant::now().saturating_duration_since(t));
            let at = (now_ms().max(0) as u64).saturating_sub(ago);
            info.last_block_report_time = Some(at);
            info.last_block_report_monotonic = Some(at);
        }
    }
    info
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

pub fn located_block(lb: &LocatedBlock) -> LocatedBlockProto {
    let n = lb.locations.len();
    LocatedBlockProto {
        b: extended_block_proto(&lb.block),
        offset: lb.offset,
        locs: lb
            .locations
            .iter()
            .map(|l| datanode_info(&l.id, None))
            .collect(),
        corrupt: lb.corrupt,
        block_token: empty_token(),
        is_cached: vec![false; n],
        storage_types: vec![DEFAULT_STORAGE_TYPE as i32; n],
        storage_i_ds: lb.locations.iter().map(|l| l.storage_id.clone()).collect(),
        block_indices: None,
        block_tokens: Vec::new(),
    }
}

pub fn located_blocks(lbs: &LocatedBlocks) -> LocatedBlocksProto {
    LocatedBlocksProto {
        file_length: lbs.file_length,
        blocks: lbs.blocks.iter().map(located_block).collect(),
        under_construction: lbs.under_construction,
        last_block: lbs.last_block.as_ref().map(located_block),
        is_last_block_complete: lbs.is_last_block_complete,
        file_encryption_info: None,
        ec_policy: None,
    }
}

/// A reported bad block: the block and its `(datanode uuid, storage id)` replicas.
pub fn bad_block(lb: &LocatedBlockProto) -> (ExtendedBlock, Vec<(String, String)>) {
    let locs = lb
        .locs
        .iter()
        .enumerate()
        .map(|(i, l)| {
            (
                l.id.datanode_uuid.clone(),
                lb.storage_i_ds.get(i).cloned().unwrap_or_default(),
            )
        })
        .collect();
    (extended_block(&lb.b), locs)
}

pub fn content_summary(s: &ContentSummary) -> ContentSummaryProto {
    ContentSummaryProto {
        length: s.length,
        file_count: s.file_count,
        directory_count: s.directory_count,
        // uint64 on the wire carrying Java's long: -1 (no quota) is all ones.
        quota: s.quota as u64,
        space_consumed: s.space_consumed,
        space_quota: s.space_quota as u64,
        ..Default::default()
    }
}

/// getFsStats. With no DataNode capacity reported yet the capacity is given as 1 byte
/// rather than 0: clients divide by it (the Go `hdfs df` panics on 0).
pub fn fs_stats(s: &FsStats) -> GetFsStatsResponseProto {
    GetFsStatsResponseProto {
        capacity: s.capacity.max(1),
        used: s.used,
        remaining: s.remaining,
        under_replicated: s.under_replicated,
        corrupt_blocks: s.corrupt_blocks,
        missing_blocks: s.missing_blocks,
        missing_repl_one_blocks: Some(0),
        blocks_in_future: Some(0),
        pending_deletion_blocks: Some(0),
    }
}

fn targets(
    locs: &[DatanodeStorageInfo],
) -> (DatanodeInfosProto, StorageUuidsProto, StorageTypesProto) {
    (
        DatanodeInfosProto {
            datanodes: locs.iter().map(|l| datanode_info(&l.id, None)).collect(),
        },
        StorageUuidsProto {
            storage_uuids: locs.iter().map(|l| l.storage_id.clone()).collect(),
        },
        StorageTypesProto {
            storage_types: vec![DEFAULT_STORAGE_TYPE as i32; locs.len()],
        },
    )
}

/// A command for a heartbeat reply.
pub fn datanode_command(c: &DatanodeCommand, block_pool_id: &str) -> DatanodeCommandProto {
    use datanode_command_proto::Type;
    match c {
        DatanodeCommand::Transfer { block, targets: t } => {
            let (infos, uuids, types) = targets(t);
            DatanodeCommandProto {
                cmd_type: Type::BlockCommand as i32,
                blk_cmd: Some(BlockCommandProto {
                    action: block_command_proto::Action::Transfer as i32,
                    block_pool_id: block.pool_id.clone(),
                    blocks: vec![block_proto(block)],
                    targets: vec![infos],
                    target_storage_uuids: vec![uuids],
                    target_storage_types: vec![types],
                }),
                ..Default::default()
            }
        }
        DatanodeCommand::Invalidate { blocks } => DatanodeCommandProto {
            cmd_type: Type::BlockCommand as i32,
            blk_cmd: Some(BlockCommandProto {
                action: block_command_proto::Action::Invalidate as i32,
                block_pool_id: blocks
                    .first()
                    .map_or_else(|| block_pool_id.to_owned(), |b| b.pool_id.clone()),
                blocks: blocks.iter().map(block_proto).collect(),
                targets: Vec::new(),
                target_storage_uuids: Vec::new(),
                target_storage_types: Vec::new(),
            }),
            ..Default::default()
        },
        DatanodeCommand::Recover {
            block,
            new_gs,
            new_length,
            locations,
        } => {
            let lb = LocatedBlock {
                block: block.clone(),
                offset: 0,
                locations: locations.clone(),
                corrupt: false,
            };
            DatanodeCommandProto {
                cmd_type: Type::BlockRecoveryCommand as i32,
                recovery_cmd: Some(BlockRecoveryCommandProto {
                    blocks: vec![RecoveringBlockProto {
                        new_gen_stamp: *new_gs,
                        block: located_block(&lb),
                        truncate_block: new_length.map(|len| BlockProto {
                            block_id: block.block_id,
                            gen_stamp: *new_gs,
                            num_bytes: Some(len),
                        }),
                    }],
                }),
                ..Default::default()
            }
        }
        DatanodeCommand::Register => DatanodeCommandProto {
            cmd_type: Type::RegisterCommand as i32,
            register_cmd: Some(RegisterCommandProto {}),
            ..Default::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dn(n: u8) -> DatanodeId {
        DatanodeId {
            uuid: format!("dn-{n}"),
            ip_addr: format!("127.0.0.{n}"),
            host_name: format!("h{n}"),
            xfer_port: 9866,
            info_port: 9864,
            info_secure_port: 0,
            ipc_port: 9867,
        }
    }

    fn block() -> ExtendedBlock {
        ExtendedBlock {
            pool_id: "BP-1".into(),
            block_id: (1 << 30) + 1,
            gs: 1001,
            num_bytes: 512,
        }
    }

    #[test]
    fn errors_carry_the_table_class() {
        let e = remote(&Error::FileNotFound { path: "/x".into() });
        assert_eq!(e.exception, JavaException::FileNotFound);
        assert_eq!(e.message, "File does not exist: /x");
        let e = remote(&Error::SafeMode {
            op: "create",
            reason: "r".into(),
        });
        assert_eq!(
            e.class_name(),
            "org.apache.hadoop.hdfs.server.namenode.SafeModeException"
        );
        let e = remote(&Error::NoDatanodes {
            chosen: 0,
            min: 1,
            live: 0,
            excluded: 0,
        });
        assert_eq!(e.class_name(), "java.io.IOException");
    }

    #[test]
    fn located_block_has_parallel_arrays_and_a_token() {
        let lb = LocatedBlock {
            block: block(),
            offset: 4096,
            locations: vec![
                DatanodeStorageInfo {
                    id: dn(1),
                    storage_id: "DS-1".into(),
                },
                DatanodeStorageInfo {
                    id: dn(2),
                    storage_id: "DS-2".into(),
                },
            ],
            corrupt: false,
        };
        let p = located_block(&lb);
        assert_eq!(p.offset, 4096);
        assert_eq!(p.b.num_bytes, Some(512));
        assert_eq!(p.locs.len(), 2);
        assert_eq!(p.storage_types, vec![StorageTypeProto::Disk as i32; 2]);
        assert_eq!(p.storage_i_ds, vec!["DS-1", "DS-2"]);
        assert_eq!(p.is_cached, vec![false, false]);
        assert_eq!(p.block_token, empty_token());
        let id = &p.locs[1].id;
        assert_eq!(
            (id.ip_addr.as_str(), id.datanode_uuid.as_str(), id.xfer_port),
            ("127.0.0.2", "dn-2", 9866)
        );
        assert_eq!(p.locs[0].location.as_deref(), Some(DEFAULT_RACK));
        // A bad-block report made from it names the same replicas.
        let (b, locs) = bad_block(&p);
        assert_eq!(b, block());
        assert_eq!(locs[1], ("dn-2".to_owned(), "DS-2".to_owned()));
    }

    #[test]
    fn datanode_id_round_trips_and_rejects_bad_ports() {
        let p = datanode_id_proto(&dn(3));
        assert_eq!(datanode_id(&p).unwrap(), dn(3));
        let mut bad = p.clone();
        bad.xfer_port = 70000;
        assert!(datanode_id(&bad).is_err());
    }

    #[test]
    fn status_and_summary_encode_java_longs() {
        let s = FileStatus {
            file_type: FileType::File,
            path: Vec::new(),
            length: 10,
            permission: 0o644,
            owner: "alice".into(),
            group: "supergroup".into(),
            modification_time: 5,
            access_time: 6,
            block_replication: 3,
            block_size: 1 << 20,
            file_id: 16386,
            children_num: 0,
            under_construction: false,
        };
        let p = file_status(&s);
        assert_eq!(p.file_type, hdfs_file_status_proto::FileType::IsFile as i32);
        assert_eq!(p.permission.perm, 0o644);
        assert_eq!(
            (p.block_replication, p.blocksize, p.file_id),
            (Some(3), Some(1 << 20), Some(16386))
        );
        assert!(p.path.is_empty());
        let c = content_summary(&ContentSummary {
            length: 1,
            file_count: 2,
            directory_count: 3,
            quota: -1,
            space_consumed: 3,
            space_quota: -1,
        });
        assert_eq!(c.quota as i64, -1);
        assert_eq!(c.space_quota, u64::MAX);
    }

    #[test]
    fn commands_map_to_hadoop_shapes() {
        use datanode_command_proto::Type;
        let t = datanode_command(
            &DatanodeCommand::Transfer {
                block: block(),
                targets: vec![DatanodeStorageInfo {
                    id: dn(2),
                    storage_id: "DS-2".into(),
                }],
            },
            "BP-1",
        );
        assert_eq!(t.cmd_type, Type::BlockCommand as i32);
        let b = t.blk_cmd.unwrap();
        assert_eq!(b.action, block_command_proto::Action::Transfer as i32);
        assert_eq!(b.blocks.len(), 1);
        assert_eq!(b.targets[0].datanodes[0].id.datanode_uuid, "dn-2");
        assert_eq!(b.target_storage_uuids[0].storage_uuids, vec!["DS-2"]);
        let i = datanode_command(
            &DatanodeCommand::Invalidate {
                blocks: vec![block(), block()],
            },
            "BP-1",
        );
        let b = i.blk_cmd.unwrap();
        assert_eq!(b.action, block_command_proto::Action::Invalidate as i32);
        assert_eq!((b.blocks.len(), b.targets.len()), (2, 0));
        let r = datanode_command(
            &DatanodeCommand::Recover {
                block: block(),
                new_gs: 1005,
                new_length: Some(100),
                locations: vec![],
            },
            "BP-1",
        );
        assert_eq!(r.cmd_type, Type::BlockRecoveryCommand as i32);
        let rb = &r.recovery_cmd.unwrap().blocks[0];
        assert_eq!(rb.new_gen_stamp, 1005);
        assert_eq!(rb.truncate_block.unwrap().num_bytes, Some(100));
        let reg = datanode_command(&DatanodeCommand::Register, "BP-1");
        assert_eq!(reg.cmd_type, Type::RegisterCommand as i32);
        assert!(reg.register_cmd.is_some());
    }

    #[test]
    fn fs_stats_capacity_is_never_zero() {
        assert_eq!(fs_stats(&FsStats::default()).capacity, 1);
        let s = FsStats {
            capacity: 100,
            ..FsStats::default()
        };
        assert_eq!(fs_stats(&s).capacity, 100);
    }
}
