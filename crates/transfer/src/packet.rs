//! Data packets: how block bytes and their checksums travel in WRITE_BLOCK and
//! READ_BLOCK, and the one checked decoder every reader of them uses (the
//! DataNode's `BlockReceiver`, the client's block reader, tests and benches).
//!
//! ```text
//! u32 BE payload length   = 4 + checksums + data
//! u16 BE header length
//! PacketHeaderProto       (not delimited: its length is the field above)
//! checksums               one per chunk of data, big-endian
//! data
//! ```
//!
//! Layout facts from Hadoop's `PacketHeader` / `PacketReceiver`; byte-exact in
//! `docs/design/transfer.md`.
//!
//! # Checks
//!
//! Every frame goes through the same steps, each before the bytes it guards are
//! trusted or buffered:
//!
//! 1. [`PacketLengths::parse`]: payload length ≥ 4, header length in
//!    `1..=i16::MAX` (Java reads it as a `short`), payload + header ≤
//!    [`MAX_PACKET_SIZE`] (`PacketReceiver`'s sanity check, so a peer cannot make
//!    the reader reserve more);
//! 2. [`parse_header`]: the header decodes; `dataLen` in `0..=` checksums + data;
//!    `offsetInBlock ≥ 0` and `offsetInBlock + dataLen` representable; a
//!    heartbeat (seqno −1) carries no data and is not the last packet;
//! 3. [`PacketRules::check`], per stream: the checksum bytes are exactly what the
//!    data needs at the negotiated `bytesPerChecksum` (a packet starting inside a
//!    chunk carries one checksum for the bytes up to the next boundary), and
//!    seqnos move forward ([`SeqnoOrder`]).
//!
//! Buffers grow as bytes arrive (never reserved from a length field alone), and
//! the data can stay in the stream for the caller to read in place
//! ([`PacketDecoder::read_head`]): the checks cost a few comparisons, no copy.

use crate::checksum::DataChecksum;
use crate::op::read_exact;
use crate::{Error, Result};
use ferrodfs_proto::hdfs::PacketHeaderProto;
use ferrodfs_proto::Message;
use std::io::{self, Read, Write};

/// Sequence number of a heartbeat packet (no data, keeps an idle pipeline alive).
pub const HEART_BEAT_SEQNO: i64 = -1;
/// The payload-length and header-length fields before the header.
pub const PKT_LENGTHS_LEN: usize = 6;
/// `PacketReceiver.MAX_PACKET_SIZE`: payload + header may not be larger (16 MiB).
pub const MAX_PACKET_SIZE: usize = 16 * 1024 * 1024;
/// The longest header Hadoop writes (all fields, syncBlock set).
pub const MAX_PACKET_HEADER_LEN: usize = 27;
/// The largest header length accepted: Java reads the field as a signed `short`.
pub const MAX_HEADER_LEN_FIELD: usize = i16::MAX as usize;
/// First size a packet buffer grows to; it doubles from there while bytes
/// arrive, up to the frame's length.
const FIRST_BUFFER_STEP: usize = 128 * 1024;

/// `dfs.client-write-packet-size`.
pub const DFS_CLIENT_WRITE_PACKET_SIZE_KEY: &str = "dfs.client-write-packet-size";
/// Default of [`DFS_CLIENT_WRITE_PACKET_SIZE_KEY`].
pub const DFS_CLIENT_WRITE_PACKET_SIZE_DEFAULT: usize = 64 * 1024;

/// A packet's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PacketHeader {
    /// Offset in the block of the packet's first data byte.
    pub offset_in_block: i64,
    /// Sequence number; [`HEART_BEAT_SEQNO`] for a heartbeat.
    pub seqno: i64,
    /// The last packet of the block (empty, by convention).
    pub last_packet_in_block: bool,
    /// Bytes of data (not checksums) in the packet.
    pub data_len: i32,
    /// The receiver must sync data and checksums to disk before acking (hsync).
    pub sync_block: bool,
}

impl PacketHeader {
    /// A heartbeat packet's header.
    pub fn heartbeat() -> PacketHeader {
        PacketHeader {
            seqno: HEART_BEAT_SEQNO,
            ..Default::default()
        }
    }

    /// True for a heartbeat packet.
    pub fn is_heartbeat(&self) -> bool {
        self.seqno == HEART_BEAT_SEQNO
    }

    pub fn to_proto(&self) -> PacketHeaderProto {
        PacketHeaderProto {
            offset_in_block: self.offset_in_block,
            seqno: self.seqno,
            last_packet_in_block: self.last_packet_in_block,
            data_len: self.data_len,
            // Hadoop sets the field only when true (HDFS-3721).
            sync_block: self.sync_block.then_some(true),
        }
    }

    pub fn from_proto(p: &PacketHeaderProto) -> PacketHeader {
        PacketHeader {
            offset_in_block: p.offset_in_block,
            seqno: p.seqno,
            last_packet_in_block: p.last_packet_in_block,
            data_len: p.data_len,
            sync_block: p.sync_block(),
        }
    }

    /// The bytes before the checksums: lengths and header. `checksums_len` and the
    /// header's `data_len` give the payload length.
    pub fn encode_prefix(&self, checksums_len: usize, out: &mut Vec<u8>) {
        let proto = self.to_proto();
        let payload_len = 4 + checksums_len + self.data_len.max(0) as usize;
        out.extend_from_slice(&(payload_len as u32).to_be_bytes());
        out.extend_from_slice(&(proto.encoded_len() as u16).to_be_bytes());
        // Encoding into a Vec cannot fail.
        let _ = proto.encode(out);
    }

    /// Offset in the block just past the packet's data.
    pub fn end_offset(&self) -> u64 {
        self.offset_in_block.max(0) as u64 + self.data_len.max(0) as u64
    }
}

/// Writes a whole packet. `header.data_len` must equal `data.len()`.
pub fn write_packet(
    w: &mut impl Write,
    header: &PacketHeader,
    checksums: &[u8],
    data: &[u8],
) -> io::Result<()> {
    debug_assert_eq!(header.data_len as usize, data.len());
    let mut buf =
        Vec::with_capacity(PKT_LENGTHS_LEN + MAX_PACKET_HEADER_LEN + checksums.len() + data.len());
    header.encode_prefix(checksums.len(), &mut buf);
    buf.extend_from_slice(checksums);
    buf.extend_from_slice(data);
    w.write_all(&buf)
}

/// The 6 bytes that open a packet, checked (step 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketLengths {
    payload_len: usize,
    header_len: usize,
}

impl PacketLengths {
    /// Checks the payload and header lengths against each other and
    /// [`MAX_PACKET_SIZE`].
    pub fn parse(bytes: &[u8; PKT_LENGTHS_LEN]) -> Result<PacketLengths> {
        let payload_len = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let header_len = usize::from(u16::from_be_bytes([bytes[4], bytes[5]]));
        // The payload length counts its own 4 bytes (Java reads it as an int).
        if payload_len < 4 || payload_len > i32::MAX as u32 {
            return Err(Error::BadPacket("invalid payload length"));
        }
        if header_len == 0 || header_len > MAX_HEADER_LEN_FIELD {
            return Err(Error::BadPacket("invalid header length"));
        }
        let total = u64::from(payload_len) + header_len as u64;
        if total > MAX_PACKET_SIZE as u64 {
            return Err(Error::TooLong {
                what: "packet",
                len: total,
                max: MAX_PACKET_SIZE as u64,
            });
        }
        Ok(PacketLengths {
            payload_len: payload_len as usize,
            header_len,
        })
    }

    /// Bytes of the header proto.
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// Bytes of checksums and data together.
    pub fn body_len(&self) -> usize {
        self.payload_len - 4
    }

    /// Bytes of the whole frame, lengths included.
    pub fn frame_len(&self) -> usize {
        PKT_LENGTHS_LEN + self.header_len + self.body_len()
    }
}

/// Decodes the header that followed `lengths` and checks it against them
/// (step 2).
pub fn parse_header(lengths: &PacketLengths, header: &[u8]) -> Result<PacketHeader> {
    let proto = PacketHeaderProto::decode(header).map_err(|source| Error::Decode {
        what: "packet header",
        source,
    })?;
    let h = PacketHeader::from_proto(&proto);
    let data_len =
        usize::try_from(h.data_len).map_err(|_| Error::BadPacket("negative data length"))?;
    if data_len > lengths.body_len() {
        return Err(Error::BadPacket(
            "data length in header exceeds the payload",
        ));
    }
    if h.offset_in_block < 0
        || h.offset_in_block
            .checked_add(i64::from(h.data_len))
            .is_none()
    {
        return Err(Error::BadPacket("offset in block out of range"));
    }
    if h.seqno < HEART_BEAT_SEQNO {
        return Err(Error::BadPacket("negative sequence number"));
    }
    if h.is_heartbeat() && (data_len > 0 || h.last_packet_in_block) {
        return Err(Error::BadPacket("heartbeat with data or marked last"));
    }
    Ok(h)
}

/// Checksum bytes a packet of `data_len` bytes at `offset` carries: one per
/// chunk of the block it touches, the first covering only the bytes up to the
/// next chunk boundary when the packet starts inside a chunk.
pub fn packet_checksums_len(sum: &DataChecksum, offset: u64, data_len: usize) -> usize {
    let bpc = u64::from(sum.bytes_per_checksum());
    let into_chunk = offset % bpc;
    let head = if into_chunk == 0 {
        0
    } else {
        ((bpc - into_chunk) as usize).min(data_len)
    };
    let chunks = usize::from(head > 0) + (data_len - head).div_ceil(bpc as usize);
    chunks * sum.checksum_size()
}

/// How seqnos must move within one stream of packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqnoOrder {
    /// A client's write: the first packet any seqno ≥ 0 (Java starts at 0, Go at
    /// 1, a recovered pipeline where it left off), each next one higher;
    /// heartbeats (−1) anywhere.
    Increasing,
    /// READ_BLOCK (`PacketHeader.sanityCheck`): each seqno one more than the last,
    /// no heartbeats, data in every packet but the last, none in the last.
    Consecutive,
    /// Not checked.
    Any,
}

/// What a stream of packets must obey beyond its frames (step 3), and the state
/// that needs.
#[derive(Debug, Clone)]
pub struct PacketRules {
    checksum: Option<DataChecksum>,
    order: SeqnoOrder,
    last_seqno: Option<i64>,
}

impl PacketRules {
    /// Packets checksummed with `checksum` (`None`: lengths not checked), seqnos in
    /// `order`.
    pub fn new(checksum: Option<DataChecksum>, order: SeqnoOrder) -> PacketRules {
        PacketRules {
            checksum,
            order,
            last_seqno: None,
        }
    }

    /// Frame checks only (tests, tools).
    pub fn none() -> PacketRules {
        PacketRules::new(None, SeqnoOrder::Any)
    }

    /// Checks a packet whose frame held `checksums_len` checksum bytes, and
    /// remembers its seqno.
    pub fn check(&mut self, h: &PacketHeader, checksums_len: usize) -> Result<()> {
        if let Some(sum) = &self.checksum {
            let expected = packet_checksums_len(sum, h.offset_in_block as u64, h.data_len as usize);
            if checksums_len != expected {
                return Err(Error::ChecksumLength {
                    expected,
                    actual: checksums_len,
                });
            }
        }
        match self.order {
            SeqnoOrder::Any => {}
            SeqnoOrder::Increasing => {
                if h.is_heartbeat() {
                    return Ok(());
                }
                if let Some(last) = self.last_seqno.filter(|&l| h.seqno <= l) {
                    return Err(Error::PacketOutOfOrder {
                        last,
                        seqno: h.seqno,
                    });
                }
            }
            SeqnoOrder::Consecutive => {
                if h.is_heartbeat() {
                    return Err(Error::BadPacket("heartbeat in a read"));
                }
                if let Some(last) = self
                    .last_seqno
                    .filter(|&l| l.checked_add(1) != Some(h.seqno))
                {
                    return Err(Error::PacketOutOfOrder {
                        last,
                        seqno: h.seqno,
                    });
                }
                if h.last_packet_in_block != (h.data_len == 0) {
                    return Err(Error::BadPacket(
                        "data in the last packet, or an empty packet before it",
                    ));
                }
            }
        }
        self.last_seqno = Some(h.seqno);
        Ok(())
    }
}

/// A packet decoded from a frame, borrowing the frame's bytes.
#[derive(Debug)]
pub struct Packet<'a> {
    pub header: PacketHeader,
    pub checksums: &'a [u8],
    pub data: &'a [u8],
}

/// Decodes and checks the packet frame at the start of `bytes` (all three
/// steps); returns it and the bytes it took. A pure function over a slice: the
/// entry point for fuzzing.
pub fn decode_packet<'a>(bytes: &'a [u8], rules: &mut PacketRules) -> Result<(Packet<'a>, usize)> {
    let have = bytes.len();
    let truncated = |need| Error::Truncated {
        what: "packet",
        need,
        have,
    };
    let lengths: &[u8; PKT_LENGTHS_LEN] = bytes
        .get(..PKT_LENGTHS_LEN)
        .and_then(|b| b.try_into().ok())
        .ok_or(truncated(PKT_LENGTHS_LEN))?;
    let lengths = PacketLengths::parse(lengths)?;
    let frame = bytes
        .get(..lengths.frame_len())
        .ok_or(truncated(lengths.frame_len()))?;
    let header_end = PKT_LENGTHS_LEN + lengths.header_len();
    let header = parse_header(&lengths, &frame[PKT_LENGTHS_LEN..header_end])?;
    let sums_end = frame.len() - header.data_len as usize;
    rules.check(&header, sums_end - header_end)?;
    Ok((
        Packet {
            header,
            checksums: &frame[header_end..sums_end],
            data: &frame[sums_end..],
        },
        frame.len(),
    ))
}

/// Reads `buf[from..to]` from `r`, growing `buf` (zero-filled) as bytes arrive
/// rather than to `to` at once, so a length field alone never reserves memory.
fn read_growing(
    r: &mut impl Read,
    buf: &mut Vec<u8>,
    from: usize,
    to: usize,
    what: &'static str,
) -> Result<()> {
    let mut at = from;
    while at < to {
        if buf.len() < to && buf.len() <= at {
            let step = buf.len().max(FIRST_BUFFER_STEP / 2) * 2;
            buf.resize(to.min(at + step), 0);
        }
        let upto = to.min(buf.len());
        read_exact(r, &mut buf[at..upto], what)?;
        at = upto;
    }
    Ok(())
}

/// The one packet decoder: reads frames from a stream with every check of
/// [`decode_packet`], either whole into a reused buffer ([`PacketDecoder::read`],
/// kept raw for forwarding down a pipeline) or up to the data, which the caller
/// then reads where it wants it ([`PacketDecoder::read_head`]).
#[derive(Debug)]
pub struct PacketDecoder {
    rules: PacketRules,
    buf: Vec<u8>,
    len: usize,
    header_end: usize,
    sums_end: usize,
    header: PacketHeader,
}

impl PacketDecoder {
    pub fn new(rules: PacketRules) -> PacketDecoder {
        PacketDecoder {
            rules,
            buf: Vec::new(),
            len: 0,
            header_end: 0,
            sums_end: 0,
            header: PacketHeader::default(),
        }
    }

    /// Reads lengths and header and checks them (steps 1 and 2): the frame
    /// into `buf[..header end]`.
    fn read_lengths_and_header(&mut self, r: &mut impl Read) -> Result<PacketLengths> {
        let mut lengths = [0u8; PKT_LENGTHS_LEN];
        read_exact(r, &mut lengths, "packet lengths")?;
        let parsed = PacketLengths::parse(&lengths)?;
        self.len = 0;
        self.header_end = PKT_LENGTHS_LEN + parsed.header_len();
        if self.buf.len() < PKT_LENGTHS_LEN {
            self.buf.resize(PKT_LENGTHS_LEN, 0);
        }
        self.buf[..PKT_LENGTHS_LEN].copy_from_slice(&lengths);
        read_growing(
            r,
            &mut self.buf,
            PKT_LENGTHS_LEN,
            self.header_end,
            "packet header",
        )?;
        self.header = parse_header(&parsed, &self.buf[PKT_LENGTHS_LEN..self.header_end])?;
        Ok(parsed)
    }

    /// Reads the next whole packet into the decoder's buffer.
    pub fn read(&mut self, r: &mut impl Read) -> Result<&PacketHeader> {
        let lengths = self.read_lengths_and_header(r)?;
        let total = lengths.frame_len();
        self.sums_end = total - self.header.data_len as usize;
        self.rules
            .check(&self.header, self.sums_end - self.header_end)?;
        read_growing(r, &mut self.buf, self.header_end, total, "packet")?;
        self.len = total;
        Ok(&self.header)
    }

    /// Reads the next packet's lengths, header and checksums, checking all;
    /// its `data_len` bytes of data are left in `r`.
    pub fn read_head(&mut self, r: &mut impl Read) -> Result<&PacketHeader> {
        let lengths = self.read_lengths_and_header(r)?;
        self.sums_end = lengths.frame_len() - self.header.data_len as usize;
        self.rules
            .check(&self.header, self.sums_end - self.header_end)?;
        read_growing(
            r,
            &mut self.buf,
            self.header_end,
            self.sums_end,
            "packet checksums",
        )?;
        self.len = self.sums_end;
        Ok(&self.header)
    }

    /// The last packet's header.
    pub fn header(&self) -> &PacketHeader {
        &self.header
    }

    /// The last packet as it came off the wire (after [`PacketDecoder::read`]:
    /// lengths to data; after [`PacketDecoder::read_head`]: lengths to checksums).
    pub fn raw(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The last packet's checksums.
    pub fn checksums(&self) -> &[u8] {
        &self.buf[self.header_end..self.sums_end.min(self.len)]
    }

    /// The last packet's data (empty after [`PacketDecoder::read_head`]).
    pub fn data(&self) -> &[u8] {
        &self.buf[self.sums_end.min(self.len)..self.len]
    }

    /// The last packet, borrowing the decoder's buffer.
    pub fn packet(&self) -> Packet<'_> {
        Packet {
            header: self.header,
            checksums: self.checksums(),
            data: self.data(),
        }
    }

    /// Reads `buf[..len]` (resized, growing as bytes arrive) from `r`: for the
    /// data a [`PacketDecoder::read_head`] left in the stream.
    pub fn read_data_into(r: &mut impl Read, buf: &mut Vec<u8>, len: usize) -> Result<()> {
        buf.truncate(len);
        read_growing(r, buf, 0, len, "packet data")
    }
}

/// Reads whole packets with frame checks only ([`PacketRules::none`]); see
/// [`PacketDecoder`] for the stream checks.
#[derive(Debug)]
pub struct PacketReader {
    decoder: PacketDecoder,
}

impl Default for PacketReader {
    fn default() -> Self {
        PacketReader::new()
    }
}

impl PacketReader {
    pub fn new() -> PacketReader {
        PacketReader::with_rules(PacketRules::none())
    }

    pub fn with_rules(rules: PacketRules) -> PacketReader {
        PacketReader {
            decoder: PacketDecoder::new(rules),
        }
    }

    /// Reads the next packet.
    pub fn read<'a>(&'a mut self, r: &mut impl io::Read) -> Result<Packet<'a>> {
        self.decoder.read(r)?;
        Ok(self.decoder.packet())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::ChecksumType;

    #[test]
    fn round_trip() {
        let data = vec![5u8; 1000];
        let sums = vec![1u8; 8];
        for sync in [false, true] {
            let header = PacketHeader {
                offset_in_block: 4096,
                seqno: 7,
                last_packet_in_block: false,
                data_len: data.len() as i32,
                sync_block: sync,
            };
            let mut wire = Vec::new();
            write_packet(&mut wire, &header, &sums, &data).unwrap();
            let header_len = if sync { 27 } else { 25 };
            assert_eq!(wire.len(), 6 + header_len + 8 + 1000);
            assert_eq!(&wire[..4], &(4u32 + 8 + 1000).to_be_bytes());
            let mut reader = PacketReader::new();
            let p = reader.read(&mut &wire[..]).unwrap();
            assert_eq!(p.header, header);
            assert_eq!(p.checksums, &sums[..]);
            assert_eq!(p.data, &data[..]);
        }
    }

    #[test]
    fn heartbeat_and_last_packet() {
        let mut wire = Vec::new();
        write_packet(&mut wire, &PacketHeader::heartbeat(), &[], &[]).unwrap();
        let last = PacketHeader {
            offset_in_block: 10,
            seqno: 3,
            last_packet_in_block: true,
            ..Default::default()
        };
        write_packet(&mut wire, &last, &[], &[]).unwrap();
        let mut r = &wire[..];
        let mut reader = PacketReader::new();
        assert!(reader.read(&mut r).unwrap().header.is_heartbeat());
        let p = reader.read(&mut r).unwrap();
        assert!(p.header.last_packet_in_block);
        assert!(p.data.is_empty() && p.checksums.is_empty());
    }

    #[test]
    fn bad_lengths_are_errors() {
        let mut reader = PacketReader::new();
        // payload length 2 (< 4)
        let wire = [0, 0, 0, 2, 0, 0];
        assert!(matches!(
            reader.read(&mut &wire[..]),
            Err(Error::BadPacket(_))
        ));
        // payload length over the maximum
        let wire = [0x7f, 0xff, 0xff, 0xff, 0, 25];
        assert!(matches!(
            reader.read(&mut &wire[..]),
            Err(Error::TooLong { .. })
        ));
        // data_len larger than the payload
        let header = PacketHeader {
            data_len: 100,
            ..Default::default()
        };
        let mut wire = Vec::new();
        header.encode_prefix(0, &mut wire);
        wire[3] = 4 + 10; // claim only 10 bytes of payload
        wire.extend_from_slice(&[0u8; 10]);
        assert!(matches!(
            reader.read(&mut &wire[..]),
            Err(Error::BadPacket(_))
        ));
        // truncated
        let mut wire = Vec::new();
        write_packet(
            &mut wire,
            &PacketHeader {
                data_len: 3,
                ..Default::default()
            },
            &[],
            &[1, 2, 3],
        )
        .unwrap();
        wire.pop();
        assert!(matches!(
            reader.read(&mut &wire[..]),
            Err(Error::Truncated { .. })
        ));
    }

    fn frame(h: &PacketHeader, sums: &[u8], data: &[u8]) -> Vec<u8> {
        let mut wire = Vec::new();
        write_packet(&mut wire, h, sums, data).unwrap();
        wire
    }

    fn data_packet(seqno: i64, offset: i64, data: &[u8], sum: &DataChecksum) -> Vec<u8> {
        let h = PacketHeader {
            offset_in_block: offset,
            seqno,
            data_len: data.len() as i32,
            ..Default::default()
        };
        frame(&h, &sum.compute(data), data)
    }

    #[test]
    fn lengths_are_checked_before_anything_is_read() {
        let ok = PacketLengths::parse(&[0, 0, 0, 14, 0, 25]).unwrap();
        assert_eq!(
            (ok.header_len(), ok.body_len(), ok.frame_len()),
            (25, 10, 41)
        );
        for (bytes, why) in [
            ([0u8, 0, 0, 3, 0, 25], "payload below 4"),
            ([0x80, 0, 0, 0, 0, 25], "payload negative as a Java int"),
            ([0, 0, 0, 4, 0, 0], "no header"),
            ([0, 0, 0, 4, 0x80, 0], "header negative as a Java short"),
        ] {
            assert!(
                matches!(PacketLengths::parse(&bytes), Err(Error::BadPacket(_))),
                "{why}"
            );
        }
        // payload + header: exactly the limit passes, one more byte does not.
        let max = (MAX_PACKET_SIZE - 25) as u32;
        let mut b = [0u8; 6];
        b[..4].copy_from_slice(&max.to_be_bytes());
        b[4..].copy_from_slice(&25u16.to_be_bytes());
        PacketLengths::parse(&b).unwrap();
        b[..4].copy_from_slice(&(max + 1).to_be_bytes());
        assert!(matches!(
            PacketLengths::parse(&b),
            Err(Error::TooLong { .. })
        ));
    }

    #[test]
    fn headers_must_agree_with_their_lengths() {
        let sum = DataChecksum::CRC32C_512;
        let mut rules = PacketRules::none();
        let bad = |h: PacketHeader, sums: &[u8], data: &[u8]| {
            let wire = frame(&h, sums, data);
            decode_packet(&wire, &mut PacketRules::none()).unwrap_err()
        };
        let negative = PacketHeader {
            offset_in_block: -512,
            ..Default::default()
        };
        assert!(matches!(bad(negative, &[], &[]), Error::BadPacket(_)));
        let overflow = PacketHeader {
            offset_in_block: i64::MAX,
            data_len: 1,
            ..Default::default()
        };
        assert!(matches!(bad(overflow, &[0; 4], &[1]), Error::BadPacket(_)));
        let heartbeat_with_data = PacketHeader {
            seqno: HEART_BEAT_SEQNO,
            data_len: 1,
            ..Default::default()
        };
        assert!(matches!(
            bad(heartbeat_with_data, &[0; 4], &[1]),
            Error::BadPacket(_)
        ));
        let below_heartbeat = PacketHeader {
            seqno: -2,
            ..Default::default()
        };
        assert!(matches!(
            bad(below_heartbeat, &[], &[]),
            Error::BadPacket(_)
        ));
        // A header that is not a PacketHeaderProto.
        let mut wire = frame(&PacketHeader::default(), &[], &[]);
        wire[6] = 0xff;
        assert!(matches!(
            decode_packet(&wire, &mut rules),
            Err(Error::Decode { .. })
        ));
        // A good one decodes and reports the bytes it took.
        let wire = data_packet(0, 0, &[7u8; 600], &sum);
        let mut two = wire.clone();
        two.extend_from_slice(&wire);
        let (p, used) = decode_packet(&two, &mut rules).unwrap();
        assert_eq!(
            (used, p.data.len(), p.checksums.len()),
            (wire.len(), 600, 8)
        );
    }

    #[test]
    fn checksum_bytes_must_match_the_data() {
        let sum = DataChecksum::CRC32C_512;
        let mut rules = PacketRules::new(Some(sum), SeqnoOrder::Any);
        // Aligned: one checksum per (partial) chunk.
        decode_packet(&data_packet(0, 1024, &[1u8; 1025], &sum), &mut rules).unwrap();
        // Inside a chunk (an append): the head piece to the boundary, then chunks.
        let h = PacketHeader {
            offset_in_block: 100,
            data_len: 1000,
            ..Default::default()
        };
        assert_eq!(packet_checksums_len(&sum, 100, 1000), 12);
        decode_packet(&frame(&h, &[0u8; 12], &[0u8; 1000]), &mut rules).unwrap();
        for wrong in [0usize, 8, 16] {
            let err =
                decode_packet(&frame(&h, &vec![0u8; wrong], &[0u8; 1000]), &mut rules).unwrap_err();
            assert!(
                matches!(err, Error::ChecksumLength { expected: 12, actual } if actual == wrong),
                "{err}"
            );
        }
        // NULL checksums: none at all.
        let null = DataChecksum::new(ChecksumType::Null, 512).unwrap();
        let mut rules = PacketRules::new(Some(null), SeqnoOrder::Any);
        let h = PacketHeader {
            data_len: 10,
            ..Default::default()
        };
        decode_packet(&frame(&h, &[], &[0u8; 10]), &mut rules).unwrap();
        assert!(decode_packet(&frame(&h, &[0u8; 4], &[0u8; 10]), &mut rules).is_err());
    }

    #[test]
    fn seqno_orders() {
        let sum = DataChecksum::CRC32C_512;
        let pkt = |seqno| data_packet(seqno, 0, &[1u8; 10], &sum);
        let heartbeat = frame(&PacketHeader::heartbeat(), &[], &[]);
        let last = |seqno| {
            frame(
                &PacketHeader {
                    seqno,
                    offset_in_block: 10,
                    last_packet_in_block: true,
                    ..Default::default()
                },
                &[],
                &[],
            )
        };

        let mut w = PacketRules::new(Some(sum), SeqnoOrder::Increasing);
        decode_packet(&pkt(1), &mut w).unwrap(); // Go starts at 1
        decode_packet(&heartbeat, &mut w).unwrap();
        decode_packet(&pkt(2), &mut w).unwrap();
        assert!(matches!(
            decode_packet(&pkt(2), &mut w),
            Err(Error::PacketOutOfOrder { last: 2, seqno: 2 })
        ));
        decode_packet(&last(5), &mut w).unwrap();

        let mut r = PacketRules::new(Some(sum), SeqnoOrder::Consecutive);
        decode_packet(&pkt(0), &mut r).unwrap();
        assert!(matches!(
            decode_packet(&pkt(2), &mut r),
            Err(Error::PacketOutOfOrder { last: 0, seqno: 2 })
        ));
        assert!(decode_packet(&heartbeat, &mut r).is_err());
        let empty_not_last = frame(
            &PacketHeader {
                seqno: 1,
                ..Default::default()
            },
            &[],
            &[],
        );
        assert!(decode_packet(&empty_not_last, &mut r).is_err());
        decode_packet(&pkt(1), &mut r).unwrap();
        decode_packet(&last(2), &mut r).unwrap();
    }

    #[test]
    fn a_claimed_length_reserves_nothing_until_the_bytes_arrive() {
        // A header claiming a 16 MiB payload, followed by 10 bytes and EOF.
        let h = PacketHeader {
            data_len: (MAX_PACKET_SIZE - 64) as i32,
            ..Default::default()
        };
        let mut wire = Vec::new();
        h.encode_prefix(0, &mut wire);
        wire.extend_from_slice(&[0u8; 10]);
        let mut d = PacketDecoder::new(PacketRules::none());
        assert!(matches!(
            d.read(&mut &wire[..]),
            Err(Error::Truncated { .. })
        ));
        assert!(d.buf.len() <= 2 * FIRST_BUFFER_STEP, "{}", d.buf.len());
        // The same frame in full is read, in growing steps, and reused.
        let data = vec![3u8; MAX_PACKET_SIZE - 64];
        let mut wire = Vec::new();
        write_packet(&mut wire, &h, &[], &data).unwrap();
        assert_eq!(d.read(&mut &wire[..]).unwrap(), &h);
        assert_eq!(d.data(), &data[..]);
        assert_eq!(d.raw(), &wire[..]);
    }

    #[test]
    fn read_head_leaves_the_data_in_the_stream() {
        let sum = DataChecksum::CRC32C_512;
        let data: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let wire = data_packet(0, 0, &data, &sum);
        let mut d = PacketDecoder::new(PacketRules::new(Some(sum), SeqnoOrder::Consecutive));
        let mut r = &wire[..];
        assert_eq!(d.read_head(&mut r).unwrap().data_len, 3000);
        assert_eq!(d.checksums(), &sum.compute(&data)[..]);
        assert!(d.data().is_empty());
        assert_eq!(r, &data[..]);
        let mut buf = vec![9u8; 10];
        PacketDecoder::read_data_into(&mut r, &mut buf, 3000).unwrap();
        assert_eq!(buf, data);
    }

    proptest::proptest! {
        #[test]
        fn reader_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let mut reader = PacketReader::new();
            let mut r = &bytes[..];
            while reader.read(&mut r).is_ok() {}
            let mut rules = PacketRules::new(Some(DataChecksum::CRC32C_512), SeqnoOrder::Consecutive);
            let mut rest = &bytes[..];
            while let Ok((_, used)) = decode_packet(rest, &mut rules) {
                rest = &rest[used..];
            }
        }
    }
}
