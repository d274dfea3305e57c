//! The data-transfer server over real loopback sockets and real files:
//! pipelines of in-process DataNodes driven by a small client.

mod util;

use std::io::{Read, Write};
use std::os::unix::fs::FileExt;

use ferrodfs_datanode::storage::{block_file_name, id_to_block_dir, ReplicaState};
use ferrodfs_datanode::BlockEvent;
use ferrodfs_proto::hdfs::op_write_block_proto::BlockConstructionStage as Stage;
use ferrodfs_proto::hdfs::{
    BaseHeaderProto, BlockOpResponseProto, ChecksumTypeProto, ClientOperationHeaderProto,
    DnTransferAckProto, OpTransferBlockProto, Status,
};
use ferrodfs_transfer::checksum::{ChecksumType, DataChecksum};
use ferrodfs_transfer::op::{read_delimited, write_op, Op};
use md5::{Digest, Md5};
use util::*;

fn nodes(n: usize) -> (tempfile::TempDir, Vec<TestNode>) {
    let tmp = tempfile::tempdir().unwrap();
    let v = (0..n)
        .map(|i| TestNode::start_in(tmp.path().join(format!("dn{i}"))))
        .collect();
    (tmp, v)
}

fn all_success(r: &WriteResult, replies: usize) {
    assert_eq!(r.setup.status, Status::Success as i32, "{:?}", r.setup);
    assert_eq!(r.setup.first_bad_link.as_deref(), Some(""));
    assert_eq!(r.acks.len(), r.sent.len(), "one ack per packet");
    for (ack, seqno) in r.acks.iter().zip(&r.sent) {
        assert_eq!(ack.seqno, *seqno, "acks in order");
        assert_eq!(ack.replies.len(), replies, "{ack:?}");
        assert!(ack.is_success(), "{ack:?}");
    }
}

#[test]
fn three_node_pipeline_write_and_read_back_everywhere() {
    let (_tmp, dns) = nodes(3);
    let b = block(1_073_741_825, 1001);
    let data = pattern(5 * 64512 + 777, 3); // 6 data packets, partial last chunk
    let mut style = WriteStyle::java();
    style.heartbeat_after = Some(2);
    style.sync_packet = Some(3);
    let r = write_block(
        dns[0].addr(),
        &[dns[1].info(), dns[2].info()],
        &b,
        &data,
        &style,
    );
    all_success(&r, 3);
    assert_eq!(r.sent.len(), 8, "6 data, 1 heartbeat, 1 last");
    assert!(r.sent.contains(&-1));
    for dn in &dns {
        let ev = dn.wait_received(b.block_id);
        assert!(
            matches!(ev, BlockEvent::Received { num_bytes, gen_stamp: 1001, .. } if num_bytes == data.len() as u64)
        );
        let info = dn.dn().dataset().get_replica(BP, b.block_id).unwrap();
        assert_eq!(info.state, ReplicaState::Finalized);
        assert_eq!(info.num_bytes, data.len() as u64);
        let rr = read_block(dn.addr(), &b, 0, data.len() as u64);
        let info = rr.response.read_op_checksum_info.as_ref().unwrap();
        assert_eq!(
            info.checksum.r#type,
            ChecksumTypeProto::ChecksumCrc32c as i32
        );
        assert_eq!(info.checksum.bytes_per_checksum, 512);
        assert_eq!(rr.data.unwrap(), data);
        assert_eq!(rr.packets, 5 + 1, "64 KiB packets and the empty last one");
        // An unaligned range starts at the chunk boundary before it.
        let rr = read_block(dn.addr(), &b, 1000, 70_000);
        assert_eq!(rr.response.read_op_checksum_info.unwrap().chunk_offset, 512);
        assert_eq!(rr.data.unwrap(), &data[1000..71_000]);
    }
}

#[test]
fn crc32_go_style_pipeline_keeps_its_checksum_type() {
    let (_tmp, dns) = nodes(2);
    let b = block(1_073_741_900, 7);
    let data = pattern(200_000, 9);
    let r = write_block(
        dns[0].addr(),
        &[dns[1].info()],
        &b,
        &data,
        &WriteStyle::go(),
    );
    all_success(&r, 2);
    assert_eq!(r.sent.first(), Some(&1), "Go numbers packets from 1");
    for dn in &dns {
        dn.wait_received(b.block_id);
        let rr = read_block(dn.addr(), &b, 0, data.len() as u64);
        let ck = rr.response.read_op_checksum_info.as_ref().unwrap();
        assert_eq!(ck.checksum.r#type, ChecksumTypeProto::ChecksumCrc32 as i32);
        assert_eq!(rr.data.unwrap(), data);
    }
}

#[test]
fn corrupt_packet_is_answered_error_checksum_and_never_finalized() {
    let (_tmp, dns) = nodes(2);
    let b = block(1_073_741_901, 5);
    let data = pattern(4 * 64512, 1);
    let mut style = WriteStyle::java();
    style.corrupt_packet = Some(2);
    let r = write_block(dns[0].addr(), &[dns[1].info()], &b, &data, &style);
    assert_eq!(r.setup.status, Status::Success as i32);
    let bad = r
        .acks
        .iter()
        .find(|a| !a.is_success())
        .expect("an error ack");
    assert_eq!(bad.seqno, 2);
    assert_eq!(bad.replies[0].status, Status::ErrorChecksum);
    assert!(r.acks.iter().take(2).all(|a| a.is_success()));
    for dn in &dns {
        let info = dn.dn().dataset().get_replica(BP, b.block_id).unwrap();
        assert_ne!(info.state, ReplicaState::Finalized);
        assert!(info.bytes_on_disk <= 2 * 64512, "nothing corrupt written");
        dn.dn().dataset().verify_replica(&b).unwrap();
    }
}

#[test]
fn replica_corrupted_on_disk_fails_client_verification() {
    let (_tmp, dns) = nodes(1);
    let b = block(1_073_741_902, 5);
    let data = pattern(300_000, 4);
    all_success(
        &write_block(dns[0].addr(), &[], &b, &data, &WriteStyle::java()),
        1,
    );
    dns[0].wait_received(b.block_id);
    let storage = dns[0].dn().dataset();
    let dir = dns[0]
        .dir
        .join("current")
        .join(BP)
        .join("current")
        .join("finalized");
    let path = id_to_block_dir(&dir, b.block_id).join(block_file_name(b.block_id));
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.write_all_at(&[0xAA; 3], 200_001).unwrap();
    f.sync_all().unwrap();
    assert!(storage.verify_replica(&b).is_err());
    let rr = read_block(dns[0].addr(), &b, 0, data.len() as u64);
    let err = rr.data.unwrap_err();
    assert_eq!(
        err.mismatch_offset(),
        Some(199_680),
        "the chunk holding byte 200001"
    );
}

#[test]
fn mirror_killed_mid_stream_is_reported_bad_by_the_node_before_it() {
    let (_tmp, mut dns) = nodes(3);
    let b = block(1_073_741_903, 5);
    let data = pattern(12 * 64512, 2);
    let mut style = WriteStyle::java();
    style.pause_after = Some(4);
    let targets = [dns[1].info(), dns[2].info()];
    let first = dns[0].addr();
    let (dn3, _) = dns.split_at_mut(3);
    let victim = &mut dn3[2];
    let r = write_block_with(first, &targets, &b, &data, &style, &mut || {
        victim.shutdown()
    });
    assert_eq!(r.setup.status, Status::Success as i32);
    assert!(r
        .acks
        .iter()
        .take(4)
        .all(|a| a.is_success() && a.replies.len() == 3));
    let bad = r
        .acks
        .iter()
        .find(|a| !a.is_success())
        .expect("an ack naming the dead node");
    assert_eq!(bad.replies.len(), 3, "{bad:?}");
    assert_eq!(bad.replies[0].status, Status::Success);
    assert_eq!(bad.replies[1].status, Status::Success);
    assert_eq!(bad.replies[2].status, Status::Error);
    assert_eq!(bad.first_bad_node(), Some(2));
}

#[test]
fn restart_keeps_finalized_blocks() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dn");
    let b = block(1_073_741_904, 11);
    let data = pattern(150_000, 6);
    {
        let mut n = TestNode::start_in(dir.clone());
        all_success(
            &write_block(n.addr(), &[], &b, &data, &WriteStyle::java()),
            1,
        );
        n.wait_received(b.block_id);
        n.shutdown();
    }
    let n = TestNode::start_in(dir);
    let rr = read_block(n.addr(), &b, 0, data.len() as u64);
    assert_eq!(rr.data.unwrap(), data);
}

fn md5_of_crcs(sum: &DataChecksum, data: &[u8]) -> Vec<u8> {
    let mut m = Md5::new();
    for c in data.chunks(sum.bytes_per_checksum() as usize) {
        m.update(sum.chunk_checksum(c).to_be_bytes());
    }
    m.finalize().to_vec()
}

#[test]
fn block_checksum_is_md5_of_the_crcs() {
    let (_tmp, dns) = nodes(1);
    let b = block(1_073_741_905, 3);
    let data = pattern(100_000, 8); // 195 whole chunks + 160 bytes
    all_success(
        &write_block(dns[0].addr(), &[], &b, &data, &WriteStyle::java()),
        1,
    );
    dns[0].wait_received(b.block_id);
    let crc32c = DataChecksum::new(ChecksumType::Crc32c, 512).unwrap();
    // Independent CRC32C (the crc32c crate) over 512-byte chunks.
    let mut m = Md5::new();
    for c in data.chunks(512) {
        m.update(crc32c::crc32c(c).to_be_bytes());
    }
    let expected = m.finalize().to_vec();
    assert_eq!(expected, md5_of_crcs(&crc32c, &data));

    let resp = block_checksum(dns[0].addr(), &b, data.len() as u64);
    assert_eq!(resp.status, Status::Success as i32);
    let c = resp.checksum_response.unwrap();
    assert_eq!(c.bytes_per_crc, 512);
    assert_eq!(c.crc_per_block, 196);
    assert_eq!(c.crc_type, Some(ChecksumTypeProto::ChecksumCrc32c as i32));
    assert_eq!(c.block_checksum, expected);

    // A prefix ending mid-chunk: whole chunks' stored CRCs + the CRC of the tail.
    let resp = block_checksum(dns[0].addr(), &b, 50_000);
    let c = resp.checksum_response.unwrap();
    assert_eq!(c.block_checksum, md5_of_crcs(&crc32c, &data[..50_000]));
    assert_eq!(c.crc_per_block, 196);

    // Unknown block: an error, not a hang.
    let resp = block_checksum(dns[0].addr(), &block(42, 1), 10);
    assert_ne!(resp.status, Status::Success as i32);
}

#[test]
fn two_reads_on_one_connection() {
    let (_tmp, dns) = nodes(1);
    let b = block(1_073_741_906, 3);
    let data = pattern(70_000, 5);
    all_success(
        &write_block(dns[0].addr(), &[], &b, &data, &WriteStyle::java()),
        1,
    );
    dns[0].wait_received(b.block_id);
    let s = connect(dns[0].addr());
    let r1 = read_on(&s, &b, 0, 70_000);
    assert_eq!(r1.data.unwrap(), data);
    let r2 = read_on(&s, &b, 65_536, 4_464);
    assert_eq!(r2.data.unwrap(), &data[65_536..]);
    // And a third, unaligned.
    let r3 = read_on(&s, &b, 10, 10);
    assert_eq!(r3.data.unwrap(), &data[10..20]);
}

#[test]
fn bad_version_and_unknown_op_get_an_error_and_the_server_carries_on() {
    let (_tmp, dns) = nodes(1);
    let addr = dns[0].addr();
    let mut s = connect(addr);
    s.write_all(&[0, 27, 0x51]).unwrap();
    let r: BlockOpResponseProto = read_delimited(&mut s, "r").unwrap();
    assert_eq!(r.status, Status::Error as i32);
    assert!(r.message.unwrap().contains("Version"));
    assert_eq!(s.read(&mut [0u8; 1]).unwrap(), 0, "connection closed");

    let mut s = connect(addr);
    s.write_all(&[0, 28, 0x01]).unwrap();
    let r: BlockOpResponseProto = read_delimited(&mut s, "r").unwrap();
    assert_eq!(r.status, Status::ErrorUnsupported as i32);

    // Garbage where a proto should be, and a lying length: no panic, closed.
    let mut s = connect(addr);
    s.write_all(&[0, 28, 0x51, 0x05, 0xff, 0xff, 0xff, 0xff, 0xff])
        .unwrap();
    assert_eq!(s.read(&mut [0u8; 64]).unwrap_or(0), 0);

    // Reading a missing block: an error response.
    let rr = read_block(addr, &block(77, 1), 0, 10);
    assert_eq!(rr.response.status, Status::Error as i32);

    // Still serving.
    let b = block(1_073_741_907, 3);
    let data = pattern(1000, 1);
    all_success(&write_block(addr, &[], &b, &data, &WriteStyle::java()), 1);
    dns[0].wait_received(b.block_id);
    assert_eq!(read_block(addr, &b, 0, 1000).data.unwrap(), data);
}

#[test]
fn append_into_a_partial_chunk() {
    let (_tmp, dns) = nodes(2);
    let b = block(1_073_741_908, 10);
    let first = pattern(1000, 1);
    let targets = [dns[1].info()];
    all_success(
        &write_block(dns[0].addr(), &targets, &b, &first, &WriteStyle::java()),
        2,
    );
    for dn in &dns {
        dn.wait_received(b.block_id);
    }
    let more = pattern(70_000, 2);
    let mut style = WriteStyle::java();
    style.stage = Stage::PipelineSetupAppend;
    style.latest_gs = 11;
    style.min_bytes = 1000;
    style.start_offset = 1000;
    let r = write_block(dns[0].addr(), &targets, &b, &more, &style);
    all_success(&r, 2);
    let mut all = first.clone();
    all.extend_from_slice(&more);
    let b11 = block(b.block_id, 11);
    for dn in &dns {
        dn.wait_received(b.block_id);
        let rr = read_block(dn.addr(), &b11, 0, all.len() as u64);
        assert_eq!(rr.data.unwrap(), all);
        dn.dn().dataset().verify_replica(&b11).unwrap();
    }
}

#[test]
fn transfer_block_copies_a_replica_to_a_new_node() {
    let (_tmp, dns) = nodes(3);
    let b = block(1_073_741_909, 4);
    let data = pattern(200_000, 7);
    all_success(
        &write_block(dns[0].addr(), &[], &b, &data, &WriteStyle::java()),
        1,
    );
    dns[0].wait_received(b.block_id);

    // Client-driven TRANSFER_BLOCK (pipeline recovery adding a node).
    let s = connect(dns[0].addr());
    let op = OpTransferBlockProto {
        header: ClientOperationHeaderProto {
            base_header: BaseHeaderProto {
                block: block_proto(&b, data.len() as u64),
                token: None,
                trace_info: None,
            },
            client_name: "DFSClient_test".into(),
        },
        targets: vec![dns[1].info()],
        target_storage_types: vec![],
        target_storage_ids: vec![],
    };
    write_op(&mut &s, Op::TransferBlock, &op).unwrap();
    let r: DnTransferAckProto = read_delimited(&mut &s, "transfer ack").unwrap();
    assert_eq!(r.status, Status::Success as i32);
    let info = dns[1].dn().dataset().get_replica(BP, b.block_id).unwrap();
    assert_eq!(info.state, ReplicaState::Finalized);
    assert_eq!(
        read_block(dns[1].addr(), &b, 0, data.len() as u64)
            .data
            .unwrap(),
        data
    );

    // The same copy again (the target holds it finalized, as when it has not been
    // reported to the NameNode yet): the packets are dropped and the copy succeeds.
    write_op(&mut &s, Op::TransferBlock, &op).unwrap();
    let r: DnTransferAckProto = read_delimited(&mut &s, "second transfer ack").unwrap();
    assert_eq!(r.status, Status::Success as i32);
    assert_eq!(
        dns[1].dn().dataset().get_replica(BP, b.block_id).unwrap(),
        info
    );

    // NameNode-ordered replication.
    dns[0].dn().transfer_block(&b, &[dns[2].info()]).unwrap();
    dns[2].wait_received(b.block_id);
    assert_eq!(
        read_block(dns[2].addr(), &b, 0, data.len() as u64)
            .data
            .unwrap(),
        data
    );
}

#[test]
fn replication_replaces_a_stale_replica() {
    let (_tmp, dns) = nodes(2);
    // dns[1] kept the block at an older generation stamp (it missed a pipeline
    // recovery); dns[0] has it at the current one.
    let old = block(1_073_741_910, 4);
    let new = block(1_073_741_910, 5);
    let stale = pattern(100_000, 1);
    let data = pattern(150_000, 2);
    all_success(
        &write_block(dns[1].addr(), &[], &old, &stale, &WriteStyle::java()),
        1,
    );
    all_success(
        &write_block(dns[0].addr(), &[], &new, &data, &WriteStyle::java()),
        1,
    );
    dns[1].wait_received(old.block_id);
    dns[0].dn().transfer_block(&new, &[dns[1].info()]).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while dns[1]
        .dn()
        .dataset()
        .get_replica(BP, new.block_id)
        .is_none_or(|r| r.gen_stamp != 5 || r.state != ReplicaState::Finalized)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "stale replica not replaced"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(
        read_block(dns[1].addr(), &new, 0, data.len() as u64)
            .data
            .unwrap(),
        data
    );
}

#[test]
fn invalidate_reports_deleted_blocks() {
    let (_tmp, dns) = nodes(1);
    let b = block(1_073_741_910, 4);
    all_success(
        &write_block(dns[0].addr(), &[], &b, &pattern(10, 1), &WriteStyle::java()),
        1,
    );
    dns[0].wait_received(b.block_id);
    dns[0].dn().invalidate(BP, &[b.block_id]).unwrap();
    let deleted = dns[0]
        .events
        .iter()
        .find(|e| matches!(e, BlockEvent::Deleted { .. }))
        .unwrap();
    assert!(matches!(deleted, BlockEvent::Deleted { block_id, .. } if block_id == b.block_id));
    assert!(dns[0].dn().dataset().get_replica(BP, b.block_id).is_none());
}
