//! DataTransferProtocol (`ferrodfs_transfer`): what a DataNode reads from a client or an
//! upstream DataNode (op headers, op messages, packets) and what a writer reads back
//! (op responses, pipeline acks), through the crate's public decoders.

use ferrodfs_proto::hdfs::{
    BlockOpResponseProto, ClientReadStatusProto, OpBlockChecksumProto, OpCopyBlockProto,
    OpCustomProto, OpReadBlockProto, OpReplaceBlockProto, OpRequestShortCircuitAccessProto,
    OpTransferBlockProto, OpWriteBlockProto,
};
use ferrodfs_transfer::ack::PipelineAck;
use ferrodfs_transfer::checksum::{BlockMetadataHeader, ChecksumType, DataChecksum};
use ferrodfs_transfer::op::{read_delimited, read_op_header, Op};
use ferrodfs_transfer::packet::PacketReader;

/// Packets one input may hold before the target stops (a bound on work, not on bytes).
const MAX_PACKETS: usize = 1024;

/// `transfer_op`: a DataNode connection's bytes: op headers and their messages, one op
/// after another as on a reused connection; after `WRITE_BLOCK` the packets that
/// follow, checked against the checksum the op asked for.
pub fn transfer_op(data: &[u8]) {
    let mut r = data;
    loop {
        let op = match read_op_header(&mut r) {
            Ok(Some(op)) => op,
            Ok(None) | Err(_) => return,
        };
        let ok = match op {
            Op::WriteBlock => match read_delimited::<OpWriteBlockProto>(&mut r, "write block") {
                Ok(w) => {
                    let checksum = ChecksumType::from_id(w.requested_checksum.r#type as u8)
                        .and_then(|t| {
                            DataChecksum::new(t, w.requested_checksum.bytes_per_checksum)
                        });
                    packets(&mut r, checksum.ok());
                    return;
                }
                Err(_) => false,
            },
            Op::ReadBlock => read_delimited::<OpReadBlockProto>(&mut r, "read block").is_ok(),
            Op::ReplaceBlock => {
                read_delimited::<OpReplaceBlockProto>(&mut r, "replace block").is_ok()
            }
            Op::CopyBlock => read_delimited::<OpCopyBlockProto>(&mut r, "copy block").is_ok(),
            Op::BlockChecksum => {
                read_delimited::<OpBlockChecksumProto>(&mut r, "block checksum").is_ok()
            }
            Op::TransferBlock => {
                read_delimited::<OpTransferBlockProto>(&mut r, "transfer block").is_ok()
            }
            Op::RequestShortCircuitFds => {
                read_delimited::<OpRequestShortCircuitAccessProto>(&mut r, "sc fds").is_ok()
            }
            Op::Custom => read_delimited::<OpCustomProto>(&mut r, "custom").is_ok(),
            _ => false,
        };
        if !ok {
            return;
        }
        // A reader's status after a READ_BLOCK may follow on the same stream.
        if op == Op::ReadBlock {
            let _ = read_delimited::<ClientReadStatusProto>(&mut r, "read status");
        }
    }
}

/// Reads packets as a BlockReceiver does, verifying their checksums when known.
fn packets(r: &mut &[u8], checksum: Option<DataChecksum>) {
    let mut reader = PacketReader::new();
    for _ in 0..MAX_PACKETS {
        let Ok(p) = reader.read(r) else { return };
        if let Some(c) = checksum {
            let _ = c.verify(p.data, p.checksums, p.header.offset_in_block as u64);
        }
        if p.header.last_packet_in_block {
            return;
        }
    }
}

/// `transfer_packet`: a packet stream (what a DataNode receives in a write pipeline and
/// a client receives in a read): the first 7 bytes double as a block meta-file header
/// (version + checksum header) whose checksum verifies the packets.
pub fn transfer_packet(data: &[u8]) {
    let checksum = BlockMetadataHeader::decode(data)
        .ok()
        .map(|h| h.checksum)
        .or_else(|| DataChecksum::decode_header(data).ok())
        .unwrap_or(DataChecksum::CRC32C_512);
    let mut r = data.get(7..).unwrap_or_default();
    packets(&mut r, Some(checksum));
}

/// `pipeline_ack`: what a writer reads back: a `BlockOpResponseProto`, then pipeline
/// acks (from the start if the response does not decode) until the stream ends or one does not decode.
pub fn pipeline_ack(data: &[u8]) {
    let mut r = data;
    if read_delimited::<BlockOpResponseProto>(&mut r, "op response").is_err() {
        r = data;
    }
    for _ in 0..MAX_PACKETS {
        let Ok(ack) = PipelineAck::read_from(&mut r) else {
            return;
        };
        let _ = (ack.is_success(), ack.first_bad_node());
    }
}
