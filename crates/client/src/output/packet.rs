//! The packetizer: the writer's bytes cut into checksummed chunks, chunks gathered
//! into packets, packets cut at block boundaries.
//!
//! Invariants (Hadoop's `DFSOutputStream.writeChunk` / `adjustChunkBoundary`):
//!
//! * a chunk covers `[k * bpc, (k + 1) * bpc)` of the block; its checksum covers only
//!   the bytes the packet carries of it;
//! * a packet that starts on a chunk boundary carries up to `chunks_per_packet` chunks
//!   and never crosses the block's end; a packet that starts inside a chunk (after an
//!   append to a partial chunk, or after `hflush` of one) carries just the rest of that
//!   chunk, so its one checksum covers just those bytes;
//! * when the block is full its last data packet is followed by an empty packet with
//!   `lastPacketInBlock`, and the next byte starts a new block at offset 0;
//! * seqnos count up from 0 for the whole stream, heartbeats aside.

use ferrodfs_proto::Message;
use ferrodfs_transfer::checksum::DataChecksum;
use ferrodfs_transfer::packet::{PacketHeader, MAX_PACKET_HEADER_LEN, PKT_LENGTHS_LEN};

/// Room reserved before the checksums for the lengths and the largest header
/// (Hadoop's `PacketHeader.PKT_MAX_HEADER_LEN`, 33 bytes).
pub const PKT_MAX_HEADER_LEN: usize = PKT_LENGTHS_LEN + MAX_PACKET_HEADER_LEN;

/// Chunks per packet for a packet of `packet_size` bytes (Hadoop's
/// `computePacketChunkSize`): `(packet_size - 33) / (bpc + checksum size)`, at least 1.
pub fn chunks_per_packet(packet_size: usize, checksum: &DataChecksum) -> usize {
    let body = packet_size.saturating_sub(PKT_MAX_HEADER_LEN);
    let chunk = checksum.bytes_per_checksum() as usize + checksum.checksum_size();
    (body / chunk).max(1)
}

/// A packet ready to send: header, checksums and data encoded once, resent as is by
/// pipeline recovery.
#[derive(Debug)]
pub struct Packet {
    pub seqno: i64,
    pub offset_in_block: i64,
    pub last_packet_in_block: bool,
    pub sync_block: bool,
    pub data_len: usize,
    wire: Vec<u8>,
    start: usize,
}

impl Packet {
    /// A heartbeat: seqno -1, no data.
    pub fn heartbeat() -> Packet {
        Packet::encode(PacketHeader::heartbeat(), &[], &[])
    }

    /// An empty packet (the last of a block, or an hsync with nothing new).
    pub fn empty(seqno: i64, offset_in_block: i64, last: bool, sync: bool) -> Packet {
        let header = PacketHeader {
            offset_in_block,
            seqno,
            last_packet_in_block: last,
            data_len: 0,
            sync_block: sync,
        };
        Packet::encode(header, &[], &[])
    }

    fn encode(header: PacketHeader, checksums: &[u8], data: &[u8]) -> Packet {
        let mut wire = Vec::with_capacity(PKT_MAX_HEADER_LEN + checksums.len() + data.len());
        header.encode_prefix(checksums.len(), &mut wire);
        wire.extend_from_slice(checksums);
        wire.extend_from_slice(data);
        Packet::from_header(header, wire, 0)
    }

    fn from_header(header: PacketHeader, wire: Vec<u8>, start: usize) -> Packet {
        Packet {
            seqno: header.seqno,
            offset_in_block: header.offset_in_block,
            last_packet_in_block: header.last_packet_in_block,
            sync_block: header.sync_block,
            data_len: header.data_len as usize,
            wire,
            start,
        }
    }

    /// The whole packet as sent.
    pub fn wire(&self) -> &[u8] {
        &self.wire[self.start..]
    }

    /// True for a heartbeat.
    pub fn is_heartbeat(&self) -> bool {
        self.seqno == ferrodfs_transfer::packet::HEART_BEAT_SEQNO
    }

    /// Offset in the block just past this packet's data.
    pub fn last_byte_offset_block(&self) -> i64 {
        self.offset_in_block + self.data_len as i64
    }
}

/// A packet being filled. Its buffer reserves room for the header and the checksums
/// before the data, so sealing writes them in place without copying the data.
#[derive(Debug)]
struct OpenPacket {
    seqno: i64,
    offset_in_block: i64,
    max_chunks: usize,
    /// Index in `buf` of the first data byte.
    data_start: usize,
    buf: Vec<u8>,
}

impl OpenPacket {
    fn seal(mut self, checksum: &DataChecksum, last: bool, sync: bool) -> Packet {
        let data_len = self.buf.len() - self.data_start;
        let sums_len = checksum.checksums_len(data_len);
        let header = PacketHeader {
            offset_in_block: self.offset_in_block,
            seqno: self.seqno,
            last_packet_in_block: last,
            data_len: data_len as i32,
            sync_block: sync,
        };
        let proto = header.to_proto();
        let header_len = PKT_LENGTHS_LEN + proto.encoded_len();
        let sums_start = self.data_start - sums_len;
        let start = sums_start - header_len;
        // The checksums go straight into their place before the data.
        let (head, data) = self.buf.split_at_mut(self.data_start);
        // Cannot fail: the slot is exactly `checksums_len(data_len)` bytes.
        let _ = checksum.compute_into(data, &mut head[sums_start..]);
        let mut prefix = Vec::with_capacity(header_len);
        header.encode_prefix(sums_len, &mut prefix);
        self.buf[start..sums_start].copy_from_slice(&prefix);
        Packet::from_header(header, self.buf, start)
    }
}

/// Cuts a stream of bytes into packets for one file.
#[derive(Debug)]
pub struct Packetizer {
    checksum: DataChecksum,
    chunks_per_packet: usize,
    block_size: u64,
    /// Offset in the current block of the next byte written.
    bytes_cur_block: u64,
    next_seqno: i64,
    current: Option<OpenPacket>,
}

impl Packetizer {
    /// A packetizer for blocks of `block_size` (a multiple of the chunk size), the
    /// current block already holding `bytes_cur_block` bytes (non-zero on append).
    pub fn new(
        checksum: DataChecksum,
        packet_size: usize,
        block_size: u64,
        bytes_cur_block: u64,
    ) -> Packetizer {
        Packetizer {
            chunks_per_packet: chunks_per_packet(packet_size, &checksum),
            checksum,
            block_size,
            bytes_cur_block,
            next_seqno: 0,
            current: None,
        }
    }

    /// Offset in the current block of the next byte.
    pub fn bytes_cur_block(&self) -> u64 {
        self.bytes_cur_block
    }

    /// The seqno of the most recently emitted packet (-1 before the first).
    pub fn last_seqno(&self) -> i64 {
        self.next_seqno - 1
    }

    /// Chunks per full packet.
    pub fn chunks_per_packet(&self) -> usize {
        self.chunks_per_packet
    }

    fn take_seqno(&mut self) -> i64 {
        let s = self.next_seqno;
        self.next_seqno += 1;
        s
    }

    fn open(&mut self) -> OpenPacket {
        let bpc = u64::from(self.checksum.bytes_per_checksum());
        let max_chunks = if self.bytes_cur_block % bpc != 0 {
            1
        } else {
            let left = (self.block_size - self.bytes_cur_block).div_ceil(bpc);
            (self.chunks_per_packet as u64).min(left).max(1) as usize
        };
        let data_start = PKT_MAX_HEADER_LEN + max_chunks * self.checksum.checksum_size();
        let mut buf = Vec::with_capacity(data_start + max_chunks * bpc as usize);
        buf.resize(data_start, 0);
        OpenPacket {
            seqno: self.take_seqno(),
            offset_in_block: self.bytes_cur_block as i64,
            max_chunks,
            data_start,
            buf,
        }
    }

    /// Takes `data` in, calling `emit` with each packet that fills up (and with the
    /// empty last packet of each block that fills up). Stops at the first error of
    /// `emit`, returning it and how many bytes were taken.
    pub fn write<E>(
        &mut self,
        mut data: &[u8],
        emit: &mut impl FnMut(Packet) -> Result<(), E>,
    ) -> Result<(), E> {
        let bpc = u64::from(self.checksum.bytes_per_checksum());
        while !data.is_empty() {
            let mut packet = match self.current.take() {
                Some(p) => p,
                None => self.open(),
            };
            let packet_end = if packet.offset_in_block as u64 % bpc != 0 {
                (packet.offset_in_block as u64).next_multiple_of(bpc)
            } else {
                packet.offset_in_block as u64 + packet.max_chunks as u64 * bpc
            }
            .min(self.block_size);
            let room = (packet_end - self.bytes_cur_block) as usize;
            let n = room.min(data.len());
            packet.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            self.bytes_cur_block += n as u64;
            if self.bytes_cur_block < packet_end {
                self.current = Some(packet);
                continue;
            }
            emit(packet.seal(&self.checksum, false, false))?;
            if self.bytes_cur_block == self.block_size {
                let seqno = self.take_seqno();
                self.bytes_cur_block = 0;
                emit(Packet::empty(seqno, self.block_size as i64, true, false))?;
            }
        }
        Ok(())
    }

    /// For hflush/hsync: the partly filled packet, sealed now (with `sync`); for an
    /// hsync with nothing buffered inside a started block, an empty sync packet.
    pub fn flush(&mut self, sync: bool) -> Option<Packet> {
        match self.current.take() {
            Some(p) => Some(p.seal(&self.checksum, false, sync)),
            None if sync && self.bytes_cur_block > 0 => {
                let seqno = self.take_seqno();
                Some(Packet::empty(
                    seqno,
                    self.bytes_cur_block as i64,
                    false,
                    true,
                ))
            }
            None => None,
        }
    }

    /// For close: the partly filled packet and the empty last packet of the current
    /// block, if a block is open.
    pub fn finish(&mut self) -> Vec<Packet> {
        let mut out = Vec::with_capacity(2);
        if let Some(p) = self.current.take() {
            out.push(p.seal(&self.checksum, false, false));
        }
        if self.bytes_cur_block > 0 {
            let seqno = self.take_seqno();
            out.push(Packet::empty(
                seqno,
                self.bytes_cur_block as i64,
                true,
                false,
            ));
            self.bytes_cur_block = 0;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrodfs_transfer::checksum::ChecksumType;
    use ferrodfs_transfer::packet::PacketReader;
    use std::convert::Infallible;

    fn crc32c(bpc: u32) -> DataChecksum {
        DataChecksum::new(ChecksumType::Crc32c, bpc).unwrap()
    }

    fn write_all(p: &mut Packetizer, data: &[u8]) -> Vec<Packet> {
        let mut out = Vec::new();
        p.write(data, &mut |pkt| {
            out.push(pkt);
            Ok::<_, Infallible>(())
        })
        .unwrap();
        out
    }

    /// Decodes a packet's wire bytes, verifies its checksums against its data and
    /// offset, and returns (header, data).
    fn decode(p: &Packet, sum: &DataChecksum) -> (PacketHeader, Vec<u8>) {
        let mut reader = PacketReader::new();
        let got = reader.read(&mut p.wire()).unwrap();
        assert_eq!(got.header.seqno, p.seqno);
        assert_eq!(got.header.data_len as usize, p.data_len);
        sum.verify(got.data, got.checksums, got.header.offset_in_block as u64)
            .unwrap();
        (got.header, got.data.to_vec())
    }

    #[test]
    fn hadoop_packet_geometry() {
        // 64 KiB packets of 512-byte CRC32C chunks: 126 chunks, 64512 data bytes.
        assert_eq!(chunks_per_packet(65536, &crc32c(512)), 126);
        assert_eq!(chunks_per_packet(100, &crc32c(512)), 1);
    }

    #[test]
    fn packets_and_block_boundaries() {
        let sum = crc32c(512);
        // 4 chunks per packet, blocks of 10 chunks.
        let packet_size = PKT_MAX_HEADER_LEN + 4 * 516;
        let block = 10 * 512;
        let mut p = Packetizer::new(sum, packet_size, block, 0);
        assert_eq!(p.chunks_per_packet(), 4);
        let data: Vec<u8> = (0..(block as usize + 700))
            .map(|i| (i % 251) as u8)
            .collect();
        // Feed in odd slices: boundaries must not depend on how the writer splits.
        let mut out = Vec::new();
        for piece in data.chunks(333) {
            out.extend(write_all(&mut p, piece));
        }
        out.extend(p.finish());
        let shape: Vec<(i64, i64, usize, bool)> = out
            .iter()
            .map(|p| {
                (
                    p.seqno,
                    p.offset_in_block,
                    p.data_len,
                    p.last_packet_in_block,
                )
            })
            .collect();
        assert_eq!(
            shape,
            vec![
                (0, 0, 2048, false),
                (1, 2048, 2048, false),
                (2, 4096, 1024, false), // the block's end cuts the packet
                (3, 5120, 0, true),
                (4, 0, 700, false), // a partial chunk at close
                (5, 700, 0, true),
            ]
        );
        let mut back = Vec::new();
        for pkt in &out {
            back.extend(decode(pkt, &sum).1);
        }
        assert_eq!(back, data);
        assert_eq!(p.last_seqno(), 5);
    }

    #[test]
    fn append_to_a_partial_chunk_first_fills_that_chunk() {
        let sum = crc32c(512);
        let mut p = Packetizer::new(sum, 65536, 1 << 20, 1000);
        let out = write_all(&mut p, &[9u8; 2000]);
        // 1000 % 512 = 488: the first packet carries the 24 bytes up to 1024.
        assert_eq!(out[0].offset_in_block, 1000);
        assert_eq!(out[0].data_len, 24);
        let (h, d) = decode(&out[0], &sum);
        assert_eq!(h.offset_in_block, 1000);
        // Its one checksum covers just those 24 bytes.
        let mut r = PacketReader::new();
        let raw = r.read(&mut out[0].wire()).unwrap();
        assert_eq!(raw.checksums, sum.chunk_checksum(&d).to_be_bytes());
        let rest = p.flush(false).unwrap();
        assert_eq!(rest.offset_in_block, 1024);
        assert_eq!(rest.data_len, 1976);
        decode(&rest, &sum);
    }

    #[test]
    fn flush_of_a_partial_chunk_continues_inside_it() {
        let sum = crc32c(512);
        let mut p = Packetizer::new(sum, 65536, 1 << 20, 0);
        assert!(write_all(&mut p, &[1u8; 100]).is_empty());
        let first = p.flush(false).unwrap();
        assert_eq!((first.offset_in_block, first.data_len), (0, 100));
        // Nothing new: nothing to send for hflush, an empty sync packet for hsync.
        assert!(p.flush(false).is_none());
        let sync = p.flush(true).unwrap();
        assert!(sync.sync_block && sync.data_len == 0 && sync.offset_in_block == 100);
        let out = write_all(&mut p, &[2u8; 1000]);
        assert_eq!((out[0].offset_in_block, out[0].data_len), (100, 412));
        decode(&out[0], &sum);
        let tail = p.finish();
        assert_eq!((tail[0].offset_in_block, tail[0].data_len), (512, 588));
        assert!(tail[1].last_packet_in_block && tail[1].offset_in_block == 1100);
    }

    #[test]
    fn empty_file_has_no_packets_and_sync_flag_is_carried() {
        let sum = crc32c(512);
        let mut p = Packetizer::new(sum, 65536, 1 << 20, 0);
        assert!(p.finish().is_empty());
        assert!(p.flush(true).is_none());
        write_all(&mut p, &[3u8; 10]);
        let s = p.flush(true).unwrap();
        let (h, _) = decode(&s, &sum);
        assert!(h.sync_block);
    }

    #[test]
    fn heartbeat_packet() {
        let hb = Packet::heartbeat();
        assert!(hb.is_heartbeat());
        let mut r = PacketReader::new();
        assert!(r.read(&mut hb.wire()).unwrap().header.is_heartbeat());
    }

    #[test]
    fn emit_errors_stop_the_write() {
        let sum = crc32c(512);
        let mut p = Packetizer::new(sum, PKT_MAX_HEADER_LEN + 516, 1 << 20, 0);
        let mut n = 0;
        let r = p.write(&[0u8; 4096], &mut |_| {
            n += 1;
            if n == 2 {
                Err("full")
            } else {
                Ok(())
            }
        });
        assert_eq!(r, Err("full"));
        assert_eq!(n, 2);
    }
}
