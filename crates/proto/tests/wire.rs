//! Wire tests: encoded bytes are checked against fixtures built by hand from
//! Hadoop's field numbers and types, so a renumbered or retyped field fails.

use ferrodfs_proto::common::{
    rpc_request_header_proto::OperationProto, rpc_response_header_proto::RpcErrorCodeProto,
    rpc_response_header_proto::RpcStatusProto, rpc_sasl_proto::SaslAuth, rpc_sasl_proto::SaslState,
    IpcConnectionContextProto, RequestHeaderProto, RpcKindProto, RpcRequestHeaderProto,
    RpcResponseHeaderProto, RpcSaslProto, TokenProto, UserInformationProto,
};
use ferrodfs_proto::hdfs::datanode::{
    block_command_proto, datanode_command_proto, received_deleted_block_info_proto,
    BlockCommandProto, BlockReceivedAndDeletedRequestProto, DatanodeCommandProto,
    DatanodeRegistrationProto, HeartbeatRequestProto, HeartbeatResponseProto,
    ReceivedDeletedBlockInfoProto, StorageReceivedDeletedBlocksProto,
};
use ferrodfs_proto::hdfs::{
    self, datanode_storage_proto, hdfs_file_status_proto, nnha_status_heartbeat_proto,
    op_write_block_proto, BlockProto, ChecksumProto, ChecksumTypeProto, ClientOperationHeaderProto,
    CreateRequestProto, DatanodeIdProto, DatanodeInfoProto, DatanodeStorageProto,
    ExportedBlockKeysProto, ExtendedBlockProto, FsPermissionProto, FsServerDefaultsProto,
    HdfsFileStatusProto, LocatedBlockProto, LocatedBlocksProto, NnhaStatusHeartbeatProto,
    OpReadBlockProto, OpWriteBlockProto, PacketHeaderProto, PipelineAckProto, Status,
    StorageInfoProto, StorageTypeProto,
};
use ferrodfs_proto::Message;

/// Encodes, checks the decoder gives back the same value, and returns the bytes.
fn round_trip<M: Message + Default + PartialEq + std::fmt::Debug>(msg: &M) -> Vec<u8> {
    let bytes = msg.encode_to_vec();
    assert_eq!(bytes.len(), msg.encoded_len());
    let back = M::decode(bytes.as_slice()).expect("decode what we encoded");
    assert_eq!(&back, msg);
    bytes
}

const CLIENT_ID: [u8; 16] = [
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
];

#[test]
fn rpc_request_header_matches_hand_built_bytes() {
    // The connection-context header a client sends: callId -3, retryCount -1.
    let header = RpcRequestHeaderProto {
        rpc_kind: Some(RpcKindProto::RpcProtocolBuffer as i32),
        rpc_op: Some(OperationProto::RpcFinalPacket as i32),
        call_id: -3,
        client_id: CLIENT_ID.to_vec(),
        retry_count: Some(-1),
        ..Default::default()
    };
    let mut expected = vec![
        0x08, 0x02, // 1: rpcKind = RPC_PROTOCOL_BUFFER (enum, varint)
        0x10, 0x00, // 2: rpcOp = RPC_FINAL_PACKET
        0x18, 0x05, // 3: callId = -3 (sint32, zigzag 5)
        0x22, 0x10, // 4: clientId, 16 bytes
    ];
    expected.extend_from_slice(&CLIENT_ID);
    expected.extend_from_slice(&[0x28, 0x01]); // 5: retryCount = -1 (sint32, zigzag 1)
    assert_eq!(round_trip(&header), expected);
}

#[test]
fn rpc_response_header_decodes_a_hadoop_error_reply() {
    let class = b"java.io.FileNotFoundException";
    let mut bytes = vec![
        0x08,
        0x07, // 1: callId = 7 (uint32)
        0x10,
        0x01, // 2: status = ERROR
        0x18,
        0x09, // 3: serverIpcVersionNum = 9
        0x22,
        class.len() as u8, // 4: exceptionClassName
    ];
    bytes.extend_from_slice(class);
    bytes.extend_from_slice(&[0x2a, 0x02, b'n', b'o']); // 5: errorMsg
    bytes.extend_from_slice(&[0x30, 0x01]); // 6: errorDetail = ERROR_APPLICATION
    bytes.extend_from_slice(&[0x3a, 0x10]); // 7: clientId
    bytes.extend_from_slice(&CLIENT_ID);
    bytes.extend_from_slice(&[0x40, 0x01]); // 8: retryCount = -1
    bytes.extend_from_slice(&[0x48, 0x2a]); // 9: stateId = 42 (int64)

    let header = RpcResponseHeaderProto::decode(bytes.as_slice()).expect("decode");
    assert_eq!(header.call_id, 7);
    assert_eq!(header.status(), RpcStatusProto::Error);
    assert_eq!(header.server_ipc_version_num, Some(9));
    assert_eq!(
        header.exception_class_name(),
        "java.io.FileNotFoundException"
    );
    assert_eq!(header.error_msg(), "no");
    assert_eq!(header.error_detail(), RpcErrorCodeProto::ErrorApplication);
    assert_eq!(header.client_id(), CLIENT_ID);
    assert_eq!(header.retry_count(), -1);
    assert_eq!(header.state_id, Some(42));
    assert_eq!(header.encode_to_vec(), bytes);
}

#[test]
fn request_header_and_connection_context_match_hand_built_bytes() {
    let context = IpcConnectionContextProto {
        user_info: Some(UserInformationProto {
            effective_user: Some("ab".to_owned()),
            real_user: None,
        }),
        protocol: Some("p".to_owned()),
    };
    // 2: userInfo { 1: effectiveUser "ab" }, 3: protocol "p"
    let expected = [0x12, 0x04, 0x0a, 0x02, b'a', b'b', 0x1a, 0x01, b'p'];
    assert_eq!(round_trip(&context), expected);

    let request = RequestHeaderProto {
        method_name: "mkdirs".to_owned(),
        declaring_class_protocol_name: "C".to_owned(),
        client_protocol_version: 1,
    };
    let mut expected = vec![0x0a, 0x06];
    expected.extend_from_slice(b"mkdirs");
    expected.extend_from_slice(&[0x12, 0x01, b'C', 0x18, 0x01]);
    assert_eq!(round_trip(&request), expected);
}

#[test]
fn sasl_negotiate_round_trips() {
    let negotiate = RpcSaslProto {
        version: None,
        state: SaslState::Negotiate as i32,
        token: None,
        auths: vec![SaslAuth {
            method: "SIMPLE".to_owned(),
            mechanism: String::new(),
            protocol: None,
            server_id: None,
            challenge: None,
        }],
    };
    let bytes = round_trip(&negotiate);
    // 2: state = NEGOTIATE, then 4: auths { 1: "SIMPLE", 2: "" } (required, so present).
    assert_eq!(&bytes[..2], &[0x10, 0x01]);
    assert_eq!(&bytes[2..4], &[0x22, 0x0a]);
}

#[test]
fn packet_header_has_hadoops_fixed_sizes_and_layout() {
    let header = PacketHeaderProto {
        offset_in_block: 512,
        seqno: 1,
        last_packet_in_block: false,
        data_len: 516,
        sync_block: None,
    };
    let mut expected = vec![0x09]; // 1: offsetInBlock, sfixed64
    expected.extend_from_slice(&512i64.to_le_bytes());
    expected.push(0x11); // 2: seqno, sfixed64
    expected.extend_from_slice(&1i64.to_le_bytes());
    expected.extend_from_slice(&[0x18, 0x00]); // 3: lastPacketInBlock
    expected.push(0x25); // 4: dataLen, sfixed32
    expected.extend_from_slice(&516i32.to_le_bytes());
    assert_eq!(round_trip(&header), expected);
    // Fixed-width fields make the header size independent of values; Hadoop's
    // PKT_MAX_HEADER_LEN is the size with syncBlock set.
    let big = PacketHeaderProto {
        offset_in_block: i64::MAX,
        seqno: i64::MIN,
        last_packet_in_block: true,
        data_len: i32::MAX,
        sync_block: Some(true),
    };
    assert_eq!(expected.len(), 25);
    assert_eq!(round_trip(&big).len(), 27);
}

#[test]
fn pipeline_ack_matches_hand_built_bytes() {
    let ack = PipelineAckProto {
        seqno: -1, // heartbeat
        reply: vec![Status::Success as i32, Status::ErrorChecksum as i32],
        downstream_ack_time_nanos: Some(0),
        flag: vec![0, 0],
    };
    let expected = [
        0x08, 0x01, // 1: seqno = -1 (sint64, zigzag 1)
        0x10, 0x00, 0x10, 0x02, // 2: reply, unpacked (proto2 default)
        0x18, 0x00, // 3: downstreamAckTimeNanos
        0x22, 0x02, 0x00, 0x00, // 4: flag, packed
    ];
    assert_eq!(round_trip(&ack), expected);
}

#[test]
fn optional_fields_report_hadoops_defaults_when_absent() {
    let status = HdfsFileStatusProto::decode(&[][..]).expect("empty decodes");
    assert_eq!(status.children_num(), -1);
    assert_eq!(status.file_id(), 0);

    let storage = DatanodeStorageProto::default();
    assert_eq!(storage.storage_type(), StorageTypeProto::Disk);
    assert_eq!(
        storage.state(),
        datanode_storage_proto::StorageState::Normal
    );

    assert!(OpReadBlockProto::default().send_checksums());
    assert_eq!(
        FsServerDefaultsProto::default().checksum_type(),
        ChecksumTypeProto::ChecksumCrc32
    );
    assert_eq!(RpcRequestHeaderProto::default().retry_count(), -1);
}

fn datanode_id() -> DatanodeIdProto {
    DatanodeIdProto {
        ip_addr: "127.0.0.1".to_owned(),
        host_name: "localhost".to_owned(),
        datanode_uuid: "dn-1".to_owned(),
        xfer_port: 9866,
        info_port: 9864,
        ipc_port: 9867,
        info_secure_port: None,
    }
}

fn registration() -> DatanodeRegistrationProto {
    DatanodeRegistrationProto {
        datanode_id: datanode_id(),
        storage_info: StorageInfoProto {
            layout_version: (-57i32) as u32,
            namespce_id: 42,
            cluster_id: "CID-1".to_owned(),
            c_time: 0,
        },
        keys: ExportedBlockKeysProto::default(),
        software_version: "3.3.6".to_owned(),
    }
}

#[test]
fn file_status_with_locations_round_trips() {
    let block = LocatedBlockProto {
        b: ExtendedBlockProto {
            pool_id: "BP-1".to_owned(),
            block_id: 1 << 30,
            generation_stamp: 1001,
            num_bytes: Some(4096),
        },
        offset: 0,
        locs: vec![DatanodeInfoProto {
            id: datanode_id(),
            ..Default::default()
        }],
        corrupt: false,
        block_token: TokenProto::default(),
        storage_types: vec![StorageTypeProto::Disk as i32],
        storage_i_ds: vec!["DS-1".to_owned()],
        ..Default::default()
    };
    let status = HdfsFileStatusProto {
        file_type: hdfs_file_status_proto::FileType::IsFile as i32,
        path: b"f".to_vec(),
        length: 4096,
        permission: FsPermissionProto { perm: 0o644 },
        owner: "me".to_owned(),
        group: "supergroup".to_owned(),
        modification_time: 1,
        access_time: 2,
        block_replication: Some(3),
        blocksize: Some(128 << 20),
        locations: Some(LocatedBlocksProto {
            file_length: 4096,
            blocks: vec![block.clone()],
            under_construction: false,
            last_block: Some(block),
            is_last_block_complete: true,
            ..Default::default()
        }),
        file_id: Some(16386),
        children_num: Some(0),
        ..Default::default()
    };
    round_trip(&status);
}

#[test]
fn write_block_op_round_trips() {
    let op = OpWriteBlockProto {
        header: ClientOperationHeaderProto {
            base_header: hdfs::BaseHeaderProto {
                block: ExtendedBlockProto::default(),
                token: Some(TokenProto::default()),
                trace_info: None,
            },
            client_name: "DFSClient_1".to_owned(),
        },
        targets: vec![DatanodeInfoProto {
            id: datanode_id(),
            ..Default::default()
        }],
        stage: op_write_block_proto::BlockConstructionStage::PipelineSetupCreate as i32,
        pipeline_size: 2,
        requested_checksum: ChecksumProto {
            r#type: ChecksumTypeProto::ChecksumCrc32c as i32,
            bytes_per_checksum: 512,
        },
        target_pinnings: vec![false],
        ..Default::default()
    };
    round_trip(&op);
}

#[test]
fn create_request_round_trips() {
    round_trip(&CreateRequestProto {
        src: "/a".to_owned(),
        masked: FsPermissionProto { perm: 0o644 },
        client_name: "c".to_owned(),
        create_flag: hdfs::CreateFlagProto::Create as u32 | hdfs::CreateFlagProto::Overwrite as u32,
        create_parent: true,
        replication: 3,
        block_size: 128 << 20,
        ..Default::default()
    });
}

#[test]
fn datanode_protocol_messages_round_trip() {
    round_trip(&HeartbeatResponseProto {
        cmds: vec![DatanodeCommandProto {
            cmd_type: datanode_command_proto::Type::BlockCommand as i32,
            blk_cmd: Some(BlockCommandProto {
                action: block_command_proto::Action::Invalidate as i32,
                block_pool_id: "BP-1".to_owned(),
                blocks: vec![BlockProto {
                    block_id: 5,
                    gen_stamp: 1001,
                    num_bytes: Some(10),
                }],
                ..Default::default()
            }),
            ..Default::default()
        }],
        ha_status: NnhaStatusHeartbeatProto {
            state: nnha_status_heartbeat_proto::State::Active as i32,
            txid: 9,
        },
        ..Default::default()
    });
    round_trip(&BlockReceivedAndDeletedRequestProto {
        registration: registration(),
        block_pool_id: "BP-1".to_owned(),
        blocks: vec![StorageReceivedDeletedBlocksProto {
            storage_uuid: "DS-1".to_owned(),
            blocks: vec![ReceivedDeletedBlockInfoProto {
                block: BlockProto::default(),
                status: received_deleted_block_info_proto::BlockStatus::Received as i32,
                delete_hint: None,
            }],
            storage: None,
        }],
    });
}

#[test]
fn fields_we_omit_are_skipped_on_decode() {
    let heartbeat = HeartbeatRequestProto {
        registration: registration(),
        xceiver_count: Some(1),
        ..Default::default()
    };
    let mut bytes = heartbeat.encode_to_vec();
    // 12: storageMoveAttemptFinishedBlks { 1: blocks { 1: blockId 1, 2: genStamp 2 } },
    // a field Hadoop 3 sends and our subset leaves out.
    bytes.extend_from_slice(&[0x62, 0x06, 0x0a, 0x04, 0x08, 0x01, 0x10, 0x02]);
    assert_eq!(
        HeartbeatRequestProto::decode(bytes.as_slice()),
        Ok(heartbeat)
    );

    // 8: blkIdCmd (a cache command) inside a DatanodeCommandProto.
    let bytes = [0x08, 0x08, 0x42, 0x06, 0x08, 0x01, 0x12, 0x02, b'B', b'P'];
    let cmd = DatanodeCommandProto::decode(&bytes[..]).expect("decode");
    assert_eq!(cmd.cmd_type(), datanode_command_proto::Type::BlockIdCommand);
}

#[test]
fn truncated_input_is_an_error_not_a_panic() {
    let bytes = round_trip(&CreateRequestProto {
        src: "/some/longer/path".to_owned(),
        ..Default::default()
    });
    for cut in 1..bytes.len() {
        // Either a clean error or a shorter valid message; never a panic.
        let _ = CreateRequestProto::decode(&bytes[..cut]);
    }
    assert!(CreateRequestProto::decode(&bytes[..3]).is_err());
}
