//! DatanodeProtocol through the real RPC path, with fake DataNodes made of our ipc
//! client: handshake, registration, heartbeats and their commands, block reports in
//! both encodings, and what clients then see (locations, capacity, additional nodes).

mod common;

use common::{class_of, su, TestNameNode};
use ferrodfs_ipc::client::datanode::DatanodeProtocolProxy;
use ferrodfs_ipc::client::namenode::NamenodeProtocol;
use ferrodfs_namenode::rpc::block_list;
use ferrodfs_proto::hdfs::datanode::*;
use ferrodfs_proto::hdfs::*;

const CLIENT: &str = "DFSClient_dn_test";
const GIB: u64 = 1 << 30;

fn registration(n: u32, info: &StorageInfoProto) -> DatanodeRegistrationProto {
    DatanodeRegistrationProto {
        datanode_id: DatanodeIdProto {
            // The NameNode records the address the connection comes from instead.
            ip_addr: "10.9.9.9".into(),
            host_name: format!("dn{n}.test"),
            datanode_uuid: format!("uuid-{n}"),
            xfer_port: 50010 + n,
            info_port: 50075,
            ipc_port: 50020,
            info_secure_port: Some(0),
        },
        storage_info: info.clone(),
        keys: ExportedBlockKeysProto::default(),
        software_version: "3.3.4".into(),
    }
}

fn heartbeat(
    dn: &DatanodeProtocolProxy,
    reg: &DatanodeRegistrationProto,
) -> HeartbeatResponseProto {
    let n = &reg.datanode_id.datanode_uuid;
    dn.send_heartbeat(&HeartbeatRequestProto {
        registration: reg.clone(),
        reports: vec![StorageReportProto {
            storage_uuid: format!("DS-{n}"),
            failed: Some(false),
            capacity: Some(GIB),
            dfs_used: Some(10),
            remaining: Some(GIB / 2),
            ..Default::default()
        }],
        xceiver_count: Some(1),
        ..Default::default()
    })
    .unwrap()
}

fn received(
    dn: &DatanodeProtocolProxy,
    reg: &DatanodeRegistrationProto,
    storage: &str,
    b: &ExtendedBlockProto,
    len: u64,
) {
    dn.block_received_and_deleted(&BlockReceivedAndDeletedRequestProto {
        registration: reg.clone(),
        block_pool_id: b.pool_id.clone(),
        blocks: vec![StorageReceivedDeletedBlocksProto {
            storage_uuid: storage.into(),
            blocks: vec![ReceivedDeletedBlockInfoProto {
                block: BlockProto {
                    block_id: b.block_id,
                    gen_stamp: b.generation_stamp,
                    num_bytes: Some(len),
                },
                status: received_deleted_block_info_proto::BlockStatus::Received as i32,
                delete_hint: None,
            }],
            storage: None,
        }],
    })
    .unwrap();
}

fn create(nn: &NamenodeProtocol, p: &str, replication: u32) -> u64 {
    nn.create(&CreateRequestProto {
        src: p.into(),
        masked: FsPermissionProto { perm: 0o644 },
        client_name: CLIENT.into(),
        create_flag: 1,
        create_parent: true,
        replication,
        block_size: 1 << 20,
        ..Default::default()
    })
    .unwrap()
    .fs
    .unwrap()
    .file_id
    .unwrap()
}

fn add_block(nn: &NamenodeProtocol, p: &str, id: u64) -> LocatedBlockProto {
    nn.add_block(&AddBlockRequestProto {
        src: p.into(),
        client_name: CLIENT.into(),
        file_id: Some(id),
        ..Default::default()
    })
    .unwrap()
    .block
}

#[test]
fn datanodes_register_report_and_serve_blocks() {
    let t = TestNameNode::start();
    let dn = t.datanode_proxy();
    let nn = t.client(&su());

    let version = dn.version_request(&VersionRequestProto {}).unwrap().info;
    let bp = t.server().namenode().storage_info().block_pool_id.clone();
    assert_eq!(version.block_pool_id, bp);
    assert_eq!(version.capabilities, Some(1));
    // A DataNode of another namespace is refused (Hadoop's registration-ID check).
    let mut alien = version.storage_info.clone();
    alien.namespce_id ^= 1;
    let refused = dn.register_datanode(&RegisterDatanodeRequestProto {
        registration: registration(9, &alien),
    });
    assert_eq!(
        class_of(refused),
        "org.apache.hadoop.hdfs.protocol.UnregisteredNodeException"
    );

    let regs: Vec<_> = (1..=3)
        .map(|n| {
            dn.register_datanode(&RegisterDatanodeRequestProto {
                registration: registration(n, &version.storage_info),
            })
            .unwrap()
            .registration
        })
        .collect();
    assert_eq!(regs[0].datanode_id.ip_addr, "127.0.0.1");
    for r in &regs {
        assert!(heartbeat(&dn, r).cmds.is_empty());
    }
    let stats = nn.get_fs_stats(&GetFsStatusRequestProto {}).unwrap();
    assert_eq!(
        (stats.capacity, stats.used, stats.remaining),
        (3 * GIB, 30, 3 * GIB / 2)
    );
    let report = nn
        .get_datanode_report(&GetDatanodeReportRequestProto {
            r#type: DatanodeReportTypeProto::Live as i32,
        })
        .unwrap();
    assert_eq!(report.di.len(), 3);
    assert_eq!(report.di[0].capacity, Some(GIB));

    // A file with one 100-byte block on two nodes.
    let id = create(&nn, "/f", 2);
    let lb = add_block(&nn, "/f", id);
    assert_eq!(lb.locs.len(), 2);
    assert_eq!(lb.storage_i_ds.len(), 2);
    assert_eq!(lb.storage_types.len(), 2);
    assert_eq!(lb.offset, 0);
    for (i, loc) in lb.locs.iter().enumerate() {
        assert_eq!(loc.id.ip_addr, "127.0.0.1");
        assert_eq!(lb.storage_i_ds[i], format!("DS-{}", loc.id.datanode_uuid));
        let reg = regs
            .iter()
            .find(|r| r.datanode_id.datanode_uuid == loc.id.datanode_uuid)
            .unwrap();
        received(&dn, reg, &lb.storage_i_ds[i], &lb.b, 100);
    }
    let mut last = lb.b.clone();
    last.num_bytes = Some(100);
    assert!(
        nn.complete(&CompleteRequestProto {
            src: "/f".into(),
            client_name: CLIENT.into(),
            last: Some(last),
            file_id: Some(id),
        })
        .unwrap()
        .result
    );
    let lbs = nn
        .get_block_locations(&GetBlockLocationsRequestProto {
            src: "/f".into(),
            offset: 0,
            length: u64::MAX,
        })
        .unwrap()
        .locations
        .unwrap();
    assert_eq!(lbs.file_length, 100);
    assert_eq!(lbs.blocks.len(), 1);
    assert_eq!(lbs.blocks[0].b.num_bytes, Some(100));
    assert_eq!(lbs.blocks[0].locs.len(), 2);
    assert!(lbs.is_last_block_complete);

    // getAdditionalDatanode: keep the first node, exclude the second, get the third.
    let id = create(&nn, "/g", 2);
    let lb = add_block(&nn, "/g", id);
    let (keep, drop) = (lb.locs[0].clone(), lb.locs[1].clone());
    let extra = nn
        .get_additional_datanode(&GetAdditionalDatanodeRequestProto {
            src: "/g".into(),
            blk: lb.b.clone(),
            existings: vec![keep.clone()],
            excludes: vec![drop.clone()],
            num_additional_nodes: 1,
            client_name: CLIENT.into(),
            existing_storage_uuids: vec![lb.storage_i_ds[0].clone()],
            file_id: Some(id),
        })
        .unwrap()
        .block;
    let uuids: Vec<_> = extra
        .locs
        .iter()
        .map(|l| l.id.datanode_uuid.clone())
        .collect();
    assert_eq!(uuids.len(), 2);
    assert_eq!(uuids[0], keep.id.datanode_uuid);
    assert_ne!(uuids[1], keep.id.datanode_uuid);
    assert_ne!(uuids[1], drop.id.datanode_uuid);
    assert_eq!(extra.storage_i_ds.len(), 2);

    // A full block report (buffer encoding) naming a block nobody knows: the next
    // heartbeat tells the node to delete it.
    let reg = &regs[2];
    let (n, buf) = block_list::encode_buffers(&[(999, 5, 1001, 0)]);
    dn.block_report(&BlockReportRequestProto {
        registration: reg.clone(),
        block_pool_id: bp.clone(),
        reports: vec![StorageBlockReportProto {
            storage: DatanodeStorageProto {
                storage_uuid: "DS-uuid-3".into(),
                ..Default::default()
            },
            blocks: vec![],
            number_of_blocks: Some(n),
            blocks_buffers: vec![buf],
        }],
        context: None,
    })
    .unwrap();
    let cmds = heartbeat(&dn, reg).cmds;
    let inval = cmds
        .iter()
        .filter_map(|c| c.blk_cmd.as_ref())
        .find(|b| b.action == block_command_proto::Action::Invalidate as i32)
        .expect("an invalidate command");
    assert_eq!(inval.blocks[0].block_id, 999);
    assert_eq!(inval.block_pool_id, bp);

    // An unknown node is told to register; its reports are refused.
    let stranger = registration(7, &version.storage_info);
    let cmds = heartbeat(&dn, &stranger).cmds;
    assert_eq!(
        cmds[0].cmd_type,
        datanode_command_proto::Type::RegisterCommand as i32
    );
    let r = dn.block_report(&BlockReportRequestProto {
        registration: stranger,
        block_pool_id: bp,
        reports: vec![StorageBlockReportProto::default()],
        context: None,
    });
    assert_eq!(
        class_of(r),
        "org.apache.hadoop.hdfs.protocol.UnregisteredNodeException"
    );
    // Housekeeping calls answer.
    dn.error_report(&ErrorReportRequestProto {
        registartion: regs[0].clone(),
        error_code: 0,
        msg: "hello".into(),
    })
    .unwrap();
}
