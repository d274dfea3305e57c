//! READ_BLOCK (`DataXceiver.readBlock` + `BlockSender`).
//!
//! Reply `{SUCCESS, readOpChecksumInfo{checksum, chunkOffset}}`, then packets
//! of up to 64 KiB of data starting at the chunk boundary at or before the
//! requested offset, each with the stored checksums of its chunks, then an
//! empty packet with `lastPacketInBlock` (hdfs-native waits for it). Then the
//! client's `ClientReadStatusProto` (Java and hdfs-native send CHECKSUM_OK;
//! Go closes instead, which ends the connection quietly).
//!
//! Data goes out with `sendfile` (`dfs.datanode.transferTo.allowed`): the
//! header and checksums are written, then the file range is spliced into the
//! socket. The last chunk of a replica still being written is re-checksummed
//! from the data (its stored checksum may cover bytes not yet acknowledged).
//! Stored checksums are not verified by default: the client verifies, and
//! reports corruption to the NameNode.

use std::io::Write;
use std::net::TcpStream;

use ferrodfs_proto::hdfs::{
    BlockOpResponseProto, ClientReadStatusProto, OpReadBlockProto, ReadOpChecksumInfoProto, Status,
};
use ferrodfs_transfer::checksum::{ChecksumType, DataChecksum, DEFAULT_BYTES_PER_CHECKSUM};
use ferrodfs_transfer::op::{read_delimited, write_delimited};
use ferrodfs_transfer::packet::{PacketHeader, MAX_PACKET_HEADER_LEN, PKT_LENGTHS_LEN};

use super::server::{Input, Next};
use super::{
    block_from_proto, checksum_to_proto, net_err, proto_err, send_error, status_of, Ctx,
    READ_PACKET_DATA_SIZE,
};
use crate::storage::{ExtendedBlock, FsDataset, ReplicaReader, ReplicaState};
use crate::{Error, Result};

/// Streams a range of a replica as packets.
#[derive(Debug)]
pub struct BlockSender {
    reader: ReplicaReader,
    /// The checksum as sent (NULL/512 when checksums are not sent).
    sum: DataChecksum,
    send_checksums: bool,
    verify: bool,
    transfer_to: bool,
    start: u64,
    end: u64,
    /// The range ends inside the last chunk of a replica not finalized.
    recompute_last: bool,
}

impl BlockSender {
    /// Opens `block` for sending `[offset, offset+len)` (`len` `None`: to the
    /// visible end). The range must lie within the visible length.
    pub fn new(
        ds: &FsDataset,
        block: &ExtendedBlock,
        offset: u64,
        len: Option<u64>,
        send_checksums: bool,
        verify: bool,
        transfer_to: bool,
    ) -> Result<BlockSender> {
        let reader = ds.open_for_read(block)?;
        let visible = reader.visible_length();
        let len = len.unwrap_or(visible.saturating_sub(offset));
        if offset > visible || offset.checked_add(len).is_none_or(|e| e > visible) {
            return Err(Error::ReadRange {
                block_id: block.block_id,
                offset,
                len,
                visible,
            });
        }
        let sum = if send_checksums || verify {
            reader.checksum()
        } else {
            DataChecksum::new(ChecksumType::Null, DEFAULT_BYTES_PER_CHECKSUM).map_err(|source| {
                Error::Protocol {
                    what: "checksum",
                    source,
                }
            })?
        };
        let bpc = u64::from(sum.bytes_per_checksum());
        let start = offset - offset % bpc;
        let mut end = (offset + len).div_ceil(bpc).saturating_mul(bpc);
        let mut recompute_last = false;
        if end >= visible {
            end = visible;
            recompute_last = reader.state() != ReplicaState::Finalized
                && visible % bpc != 0
                && sum.checksum_size() > 0;
        }
        Ok(BlockSender {
            reader,
            sum,
            send_checksums,
            verify,
            transfer_to,
            start,
            end,
            recompute_last,
        })
    }

    /// The checksum as sent.
    pub fn checksum(&self) -> DataChecksum {
        self.sum
    }

    /// The chunk-aligned offset of the first packet.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// The offset after the last byte sent.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// The `readOpChecksumInfo` of the reply.
    pub fn checksum_info(&self) -> ReadOpChecksumInfoProto {
        ReadOpChecksumInfoProto {
            checksum: checksum_to_proto(&self.sum),
            chunk_offset: self.start,
        }
    }

    /// Sends every packet and the final empty one; returns the data bytes sent.
    pub fn send(&self, out: &TcpStream) -> Result<u64> {
        let bpc = self.sum.bytes_per_checksum() as usize;
        let max_data = (READ_PACKET_DATA_SIZE / bpc).max(1) * bpc;
        let mut buf = Vec::with_capacity(
            PKT_LENGTHS_LEN + MAX_PACKET_HEADER_LEN + max_data + max_data / bpc * 4,
        );
        let mut pos = self.start;
        let mut seqno = 0i64;
        while pos < self.end {
            let n = (self.end - pos).min(max_data as u64) as usize;
            let last_chunk_here = pos + n as u64 == self.end && self.recompute_last;
            let mut sums = if self.send_checksums || self.verify {
                self.reader
                    .read_stored_checksums(pos / bpc as u64, self.sum.chunks(n as u64))?
            } else {
                Vec::new()
            };
            let header = PacketHeader {
                offset_in_block: pos as i64,
                seqno,
                last_packet_in_block: false,
                data_len: n as i32,
                sync_block: false,
            };
            let sums_len = if self.send_checksums { sums.len() } else { 0 };
            buf.clear();
            header.encode_prefix(sums_len, &mut buf);
            let zero_copy = self.transfer_to && !self.verify && !last_chunk_here;
            if zero_copy {
                buf.extend_from_slice(&sums[..sums_len]);
                // MSG_MORE: the header joins the file data in full segments.
                send_more(out, &buf)?;
                send_file(out, &self.reader, pos, n)?;
            } else {
                let mut data = vec![0u8; n];
                self.reader.read_data(pos, &mut data)?;
                if last_chunk_here {
                    let tail = (n - 1) / bpc * bpc;
                    let cs = self.sum.checksum_size();
                    let k = tail / bpc * cs;
                    if let Some(slot) = sums.get_mut(k..k + cs) {
                        slot.copy_from_slice(&self.sum.chunk_checksum(&data[tail..]).to_be_bytes());
                    }
                }
                if self.verify {
                    self.sum
                        .verify(&data, &sums, pos)
                        .map_err(|e| match e.mismatch_offset() {
                            Some(offset) => Error::Corrupt {
                                block_id: self.reader.block_id(),
                                offset,
                            },
                            None => Error::Protocol {
                                what: "stored checksums",
                                source: e,
                            },
                        })?;
                }
                buf.extend_from_slice(&sums[..sums_len]);
                buf.extend_from_slice(&data);
                write_all(out, &buf)?;
            }
            pos += n as u64;
            seqno += 1;
        }
        let last = PacketHeader {
            offset_in_block: self.end as i64,
            seqno,
            last_packet_in_block: true,
            data_len: 0,
            sync_block: false,
        };
        buf.clear();
        last.encode_prefix(0, &mut buf);
        write_all(out, &buf)?;
        Ok(self.end - self.start)
    }
}

fn write_all(mut out: &TcpStream, buf: &[u8]) -> Result<()> {
    out.write_all(buf).map_err(net_err("send packet", ""))
}

/// Writes `buf` with `MSG_MORE` (more data follows at once).
fn send_more(out: &TcpStream, mut buf: &[u8]) -> Result<()> {
    while !buf.is_empty() {
        match rustix::net::send(out, buf, rustix::net::SendFlags::MORE) {
            Ok(k) => buf = &buf[k..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => {
                return Err(Error::Net {
                    op: "send packet header",
                    peer: String::new(),
                    source: e.into(),
                })
            }
        }
    }
    Ok(())
}

/// `sendfile` of `[pos, pos+n)` of the replica's data file into the socket.
fn send_file(out: &TcpStream, reader: &ReplicaReader, pos: u64, n: usize) -> Result<()> {
    let mut offset = pos;
    let mut left = n;
    while left > 0 {
        match rustix::fs::sendfile(out, reader.data_file(), Some(&mut offset), left) {
            Ok(0) => {
                return Err(Error::Net {
                    op: "sendfile (data file shorter than its length)",
                    peer: String::new(),
                    source: std::io::ErrorKind::UnexpectedEof.into(),
                })
            }
            Ok(k) => left -= k,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => {
                return Err(Error::Net {
                    op: "sendfile",
                    peer: String::new(),
                    source: e.into(),
                })
            }
        }
    }
    Ok(())
}

/// Serves one READ_BLOCK.
pub(crate) fn read_block(
    ctx: &Ctx,
    input: &mut Input,
    out: &TcpStream,
    peer: &str,
) -> Result<Next> {
    let op: OpReadBlockProto =
        read_delimited(input, "OpReadBlockProto").map_err(proto_err("read READ_BLOCK"))?;
    let block = block_from_proto(&op.header.base_header.block);
    let sender = match BlockSender::new(
        &ctx.ds,
        &block,
        op.offset,
        Some(op.len),
        op.send_checksums(),
        ctx.conf.verify_on_read,
        ctx.conf.transfer_to,
    ) {
        Ok(s) => s,
        Err(e) => {
            let msg = format!("opReadBlock {} received exception {e}", block.block_id);
            tracing::info!(peer, "{msg}");
            let _ = send_error(&mut &*out, status_of(&e), msg);
            return Err(e);
        }
    };
    let resp = BlockOpResponseProto {
        status: Status::Success as i32,
        read_op_checksum_info: Some(sender.checksum_info()),
        ..Default::default()
    };
    write_delimited(&mut &*out, &resp).map_err(net_err("write response", peer))?;
    let sent = sender.send(out)?;
    tracing::debug!(
        peer,
        block = block.block_id,
        offset = op.offset,
        sent,
        "READ_BLOCK done"
    );
    // The client's verdict; Go sends none and closes.
    if input.get_mut().start(ctx.conf.socket_timeout).is_err() {
        return Ok(Next::Close);
    }
    match read_delimited::<ClientReadStatusProto>(input, "ClientReadStatusProto") {
        Ok(s) => {
            let status = Status::try_from(s.status).unwrap_or(Status::Error);
            if status == Status::ErrorChecksum {
                tracing::warn!(
                    peer,
                    block = block.block_id,
                    "client reports a checksum error"
                );
            }
            Ok(Next::KeepOpen)
        }
        Err(e) => {
            tracing::debug!(peer, error = %e, "no client read status; closing");
            Ok(Next::Close)
        }
    }
}
