//! Data packets: how block bytes and their checksums travel in WRITE_BLOCK and
//! READ_BLOCK.
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

use crate::op::{read_exact, read_growing};
use crate::{Error, Result};
use ferrodfs_proto::hdfs::PacketHeaderProto;
use ferrodfs_proto::Message;
use std::io::{self, Write};

/// Sequence number of a heartbeat packet (no data, keeps an idle pipeline alive).
pub const HEART_BEAT_SEQNO: i64 = -1;
/// The payload-length and header-length fields before the header.
pub const PKT_LENGTHS_LEN: usize = 6;
/// `PacketReceiver.MAX_PACKET_SIZE`: no packet may be larger (16 MiB).
pub const MAX_PACKET_SIZE: usize = 16 * 1024 * 1024;
/// The longest header Hadoop writes (all fields, syncBlock set).
pub const MAX_PACKET_HEADER_LEN: usize = 27;

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

/// A packet read by a [`PacketReader`], borrowing its buffer.
#[derive(Debug)]
pub struct Packet<'a> {
    pub header: PacketHeader,
    pub checksums: &'a [u8],
    pub data: &'a [u8],
}

/// Reads packets into one reused buffer, checking every length before trusting it.
#[derive(Debug, Default)]
pub struct PacketReader {
    buf: Vec<u8>,
}

impl PacketReader {
    pub fn new() -> PacketReader {
        PacketReader::default()
    }

    /// Reads the next packet.
    pub fn read<'a>(&'a mut self, r: &mut impl io::Read) -> Result<Packet<'a>> {
        let mut lengths = [0u8; PKT_LENGTHS_LEN];
        read_exact(r, &mut lengths, "packet lengths")?;
        let payload_len = i32::from_be_bytes([lengths[0], lengths[1], lengths[2], lengths[3]]);
        let header_len = u16::from_be_bytes([lengths[4], lengths[5]]) as usize;
        if payload_len < 4 {
            return Err(Error::BadPacket("payload length below 4"));
        }
        let body_len = payload_len as usize - 4;
        if body_len + header_len + PKT_LENGTHS_LEN > MAX_PACKET_SIZE {
            return Err(Error::TooLong {
                what: "packet",
                len: (body_len + header_len + PKT_LENGTHS_LEN) as u64,
                max: MAX_PACKET_SIZE as u64,
            });
        }
        read_growing(r, &mut self.buf, header_len + body_len, "packet")?;
        let proto =
            PacketHeaderProto::decode(&self.buf[..header_len]).map_err(|source| Error::Decode {
                what: "packet header",
                source,
            })?;
        let header = PacketHeader::from_proto(&proto);
        if header.data_len < 0 || header.data_len as usize > body_len {
            return Err(Error::BadPacket("data length beyond the payload"));
        }
        let checksums_len = body_len - header.data_len as usize;
        let (checksums, data) = self.buf[header_len..].split_at(checksums_len);
        Ok(Packet {
            header,
            checksums,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claimed_length_reserves_nothing_before_the_bytes_arrive() {
        // Lengths claiming a 16 MiB packet, then three bytes.
        let mut wire = ((MAX_PACKET_SIZE - 64) as u32).to_be_bytes().to_vec();
        wire.extend_from_slice(&[0, 25, 1, 2, 3]);
        let mut reader = PacketReader::new();
        assert!(matches!(
            reader.read(&mut &wire[..]),
            Err(Error::Truncated { have: 3, .. })
        ));
        assert!(reader.buf.capacity() <= crate::op::GROW_STEP);
    }

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

    proptest::proptest! {
        #[test]
        fn reader_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let mut reader = PacketReader::new();
            let mut r = &bytes[..];
            while reader.read(&mut r).is_ok() {}
        }
    }
}
