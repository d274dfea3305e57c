//! A small DataTransferProtocol client for tests and benches: writes blocks
//! through a pipeline the way DataStreamer does, and reads them back
//! verifying every checksum the way a client's BlockReader does.
#![allow(dead_code)]

use std::io::{BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use ferrodfs_datanode::storage::{ExtendedBlock, NamespaceInfo};
use ferrodfs_datanode::{BlockEvent, DataNode, DataNodeConfig};
use ferrodfs_proto::hdfs::op_write_block_proto::BlockConstructionStage as Stage;
use ferrodfs_proto::hdfs::{
    BaseHeaderProto, BlockOpResponseProto, ChecksumProto, ClientOperationHeaderProto,
    ClientReadStatusProto, DatanodeInfoProto, ExtendedBlockProto, OpBlockChecksumProto,
    OpReadBlockProto, OpWriteBlockProto, Status,
};
use ferrodfs_transfer::ack::PipelineAck;
use ferrodfs_transfer::checksum::{ChecksumType, DataChecksum};
use ferrodfs_transfer::op::{read_delimited, write_delimited, write_op, Op};
use ferrodfs_transfer::packet::{write_packet, PacketHeader, PacketReader};

pub const BP: &str = "BP-1-127.0.0.1-1700000000000";

pub fn ns() -> NamespaceInfo {
    NamespaceInfo::new(BP, 4242, "CID-xceiver-test")
}

/// A DataNode in its own temp dir, block pool added, events on a channel.
pub struct TestNode {
    pub dn: Option<DataNode>,
    pub dir: PathBuf,
    pub events: mpsc::Receiver<BlockEvent>,
}

impl TestNode {
    pub fn start_in(dir: PathBuf) -> TestNode {
        let (tx, rx) = mpsc::channel();
        let mut conf = DataNodeConfig::new(vec![dir.clone()]);
        conf.events = Arc::new(tx);
        conf.xceiver.socket_timeout = Duration::from_secs(20);
        let dn = DataNode::start(conf).unwrap();
        dn.dataset().add_block_pool(&ns()).unwrap();
        TestNode {
            dn: Some(dn),
            dir,
            events: rx,
        }
    }

    pub fn dn(&self) -> &DataNode {
        self.dn.as_ref().unwrap()
    }

    pub fn addr(&self) -> SocketAddr {
        self.dn().xfer_addr()
    }

    pub fn info(&self) -> DatanodeInfoProto {
        self.dn().datanode_info()
    }

    pub fn shutdown(&mut self) {
        if let Some(dn) = self.dn.take() {
            dn.shutdown();
        }
    }

    /// Waits for a Received event for `block_id`.
    pub fn wait_received(&self, block_id: i64) -> BlockEvent {
        loop {
            let ev = self
                .events
                .recv_timeout(Duration::from_secs(20))
                .expect("no Received event");
            if let BlockEvent::Received { block_id: id, .. } = &ev {
                if *id == block_id {
                    return ev;
                }
            }
        }
    }
}

pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i as u32).wrapping_mul(2654435761) >> 13) as u8 ^ seed)
        .collect()
}

pub fn block(id: i64, gs: u64) -> ExtendedBlock {
    ExtendedBlock::new(BP, id, gs, 0)
}

pub fn block_proto(b: &ExtendedBlock, num_bytes: u64) -> ExtendedBlockProto {
    ExtendedBlockProto {
        pool_id: b.pool_id.clone(),
        block_id: b.block_id as u64,
        generation_stamp: b.gen_stamp,
        num_bytes: Some(num_bytes),
    }
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// How a writer behaves (Java: seqno 0, 64512-byte packets; Go: seqno 1,
/// 65536, CRC32).
#[derive(Clone, Debug)]
pub struct WriteStyle {
    pub checksum: DataChecksum,
    pub packet_data: usize,
    pub first_seqno: i64,
    pub stage: Stage,
    pub latest_gs: u64,
    pub min_bytes: u64,
    /// Offset of the first byte written (appends).
    pub start_offset: u64,
    /// Send a heartbeat after this many packets.
    pub heartbeat_after: Option<usize>,
    /// Set syncBlock on this packet index.
    pub sync_packet: Option<usize>,
    /// Flip a data bit in this packet (checksums left as computed).
    pub corrupt_packet: Option<usize>,
    /// Run this after this many packets were acked (fault injection).
    pub pause_after: Option<usize>,
}

impl WriteStyle {
    pub fn java() -> WriteStyle {
        WriteStyle {
            checksum: DataChecksum::new(ChecksumType::Crc32c, 512).unwrap(),
            packet_data: 126 * 512,
            first_seqno: 0,
            stage: Stage::PipelineSetupCreate,
            latest_gs: 0,
            min_bytes: 0,
            start_offset: 0,
            heartbeat_after: None,
            sync_packet: None,
            corrupt_packet: None,
            pause_after: None,
        }
    }

    pub fn go() -> WriteStyle {
        WriteStyle {
            checksum: DataChecksum::new(ChecksumType::Crc32, 512).unwrap(),
            packet_data: 128 * 512,
            first_seqno: 1,
            ..WriteStyle::java()
        }
    }
}

/// The outcome of a pipeline write.
#[derive(Debug)]
pub struct WriteResult {
    pub setup: BlockOpResponseProto,
    pub acks: Vec<PipelineAck>,
    /// Seqnos in the order packets were sent.
    pub sent: Vec<i64>,
}

pub fn write_op_proto(
    b: &ExtendedBlock,
    targets: &[DatanodeInfoProto],
    style: &WriteStyle,
) -> OpWriteBlockProto {
    OpWriteBlockProto {
        header: ClientOperationHeaderProto {
            base_header: BaseHeaderProto {
                block: block_proto(b, style.start_offset),
                token: None,
                trace_info: None,
            },
            client_name: "DFSClient_test".into(),
        },
        targets: targets.to_vec(),
        source: None,
        stage: style.stage as i32,
        pipeline_size: targets.len() as u32 + 1,
        min_bytes_rcvd: style.min_bytes,
        max_bytes_rcvd: style.min_bytes,
        latest_generation_stamp: style.latest_gs,
        requested_checksum: ChecksumProto {
            r#type: style.checksum.kind().id() as i32,
            bytes_per_checksum: style.checksum.bytes_per_checksum(),
        },
        ..Default::default()
    }
}

/// Writes `data` as a client to `first` with `targets` downstream; `hook`
/// runs once `pause_after` packets are acked (then writing goes on). Reads
/// acks until the last packet's ack or an error ack / EOF.
pub fn write_block_with(
    first: SocketAddr,
    targets: &[DatanodeInfoProto],
    b: &ExtendedBlock,
    data: &[u8],
    style: &WriteStyle,
    hook: &mut dyn FnMut(),
) -> WriteResult {
    let s = connect(first);
    write_op(&mut &s, Op::WriteBlock, &write_op_proto(b, targets, style)).unwrap();
    let mut input = BufReader::new(s.try_clone().unwrap());
    let setup: BlockOpResponseProto = read_delimited(&mut input, "setup").unwrap();
    if setup.status != Status::Success as i32 {
        return WriteResult {
            setup,
            acks: vec![],
            sent: vec![],
        };
    }
    let (ack_tx, ack_rx) = mpsc::channel::<PipelineAck>();
    let reader = std::thread::spawn(move || {
        let mut acks = Vec::new();
        while let Ok(ack) = PipelineAck::read_from(&mut input) {
            let _ = ack_tx.send(ack.clone());
            acks.push(ack);
        }
        acks
    });
    let sum = style.checksum;
    let mut sent = Vec::new();
    let mut seqno = style.first_seqno;
    let mut off = 0usize;
    let mut idx = 0usize;
    let mut acked = 0usize;
    let send = |h: &PacketHeader, sums: &[u8], d: &[u8], sent: &mut Vec<i64>| {
        let mut buf = Vec::new();
        write_packet(&mut buf, h, sums, d).unwrap();
        let ok = (&s).write_all(&buf).is_ok();
        if ok {
            sent.push(h.seqno);
        }
        ok
    };
    let mut pipeline_ok = true;
    loop {
        if style.pause_after == Some(idx) {
            while acked < idx {
                match ack_rx.recv_timeout(Duration::from_secs(20)) {
                    Ok(_) => acked += 1,
                    Err(_) => break,
                }
            }
            hook();
        }
        let abs = style.start_offset as usize + off;
        // First packet of an append into a partial chunk: up to the boundary.
        let bpc = sum.bytes_per_checksum() as usize;
        let mut n = style.packet_data.min(data.len() - off);
        if abs % bpc != 0 {
            n = n.min(bpc - abs % bpc);
        }
        let chunk = &data[off..off + n];
        let sums = sum.compute(chunk);
        let mut payload = chunk.to_vec();
        if style.corrupt_packet == Some(idx) && !payload.is_empty() {
            payload[0] ^= 0x10;
        }
        let last = n == 0;
        let h = PacketHeader {
            offset_in_block: abs as i64,
            seqno,
            last_packet_in_block: last,
            data_len: payload.len() as i32,
            sync_block: style.sync_packet == Some(idx),
        };
        if !send(&h, &sums, &payload, &mut sent) {
            pipeline_ok = false;
            break;
        }
        seqno += 1;
        off += n;
        idx += 1;
        if last {
            break;
        }
        if style.heartbeat_after == Some(idx) {
            send(&PacketHeader::heartbeat(), &[], &[], &mut sent);
        }
    }
    let _ = pipeline_ok;
    // The reader ends at EOF: wait for the last ack or an error, then close.
    let expected = sent.len();
    let mut got = acked;
    while got < expected {
        match ack_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(a) => {
                got += 1;
                if !a.is_success() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let _ = s.shutdown(Shutdown::Both);
    let acks = reader.join().unwrap();
    WriteResult { setup, acks, sent }
}

pub fn write_block(
    first: SocketAddr,
    targets: &[DatanodeInfoProto],
    b: &ExtendedBlock,
    data: &[u8],
    style: &WriteStyle,
) -> WriteResult {
    write_block_with(first, targets, b, data, style, &mut || {})
}

/// What a read returned.
#[derive(Debug)]
pub struct ReadResult {
    pub response: BlockOpResponseProto,
    /// The requested bytes (checksums verified), or the verification error.
    pub data: Result<Vec<u8>, ferrodfs_transfer::Error>,
    pub packets: usize,
}

/// One READ_BLOCK on an open connection, verifying every chunk; sends
/// CHECKSUM_OK when all verified.
pub fn read_on(s: &TcpStream, b: &ExtendedBlock, offset: u64, len: u64) -> ReadResult {
    let op = OpReadBlockProto {
        header: ClientOperationHeaderProto {
            base_header: BaseHeaderProto {
                block: block_proto(b, offset + len),
                token: None,
                trace_info: None,
            },
            client_name: "DFSClient_test".into(),
        },
        offset,
        len,
        send_checksums: Some(true),
        caching_strategy: None,
    };
    write_op(&mut &*s, Op::ReadBlock, &op).unwrap();
    let mut r = s;
    let response: BlockOpResponseProto = read_delimited(&mut r, "read response").unwrap();
    if response.status != Status::Success as i32 {
        return ReadResult {
            response,
            data: Ok(vec![]),
            packets: 0,
        };
    }
    let info = response.read_op_checksum_info.unwrap();
    let sum = DataChecksum::new(
        ChecksumType::from_id(info.checksum.r#type as u8).unwrap(),
        info.checksum.bytes_per_checksum,
    )
    .unwrap();
    let mut reader = PacketReader::new();
    let mut out = Vec::new();
    let mut packets = 0;
    let mut verdict = Ok(());
    let mut expect_off = info.chunk_offset as i64;
    loop {
        let p = reader.read(&mut r).unwrap();
        packets += 1;
        assert_eq!(
            p.header.offset_in_block, expect_off,
            "packet offsets are contiguous"
        );
        if verdict.is_ok() {
            verdict = sum.verify(p.data, p.checksums, p.header.offset_in_block as u64);
        }
        out.extend_from_slice(p.data);
        expect_off += p.data.len() as i64;
        if p.header.last_packet_in_block {
            assert!(p.data.is_empty());
            break;
        }
    }
    let status = if verdict.is_ok() {
        Status::ChecksumOk
    } else {
        Status::ErrorChecksum
    };
    write_delimited(
        &mut &*s,
        &ClientReadStatusProto {
            status: status as i32,
        },
    )
    .unwrap();
    let skip = (offset - info.chunk_offset) as usize;
    let data = verdict.map(|_| out[skip..skip + len as usize].to_vec());
    ReadResult {
        response,
        data,
        packets,
    }
}

pub fn read_block(addr: SocketAddr, b: &ExtendedBlock, offset: u64, len: u64) -> ReadResult {
    let s = connect(addr);
    read_on(&s, b, offset, len)
}

pub fn block_checksum(addr: SocketAddr, b: &ExtendedBlock, num_bytes: u64) -> BlockOpResponseProto {
    let s = connect(addr);
    let op = OpBlockChecksumProto {
        header: BaseHeaderProto {
            block: block_proto(b, num_bytes),
            token: None,
            trace_info: None,
        },
        block_checksum_options: None,
    };
    write_op(&mut &s, Op::BlockChecksum, &op).unwrap();
    read_delimited(&mut &s, "checksum response").unwrap()
}
