//! Op requests: the 3-byte op header and the varint-delimited protobuf messages that
//! DataTransferProtocol exchanges on a DataNode's transfer port.
//!
//! ```text
//! request   u16 BE version (28) | u8 op code | varint length | Op*Proto
//! response  varint length | BlockOpResponseProto          (and other delimited replies)
//! ```

use crate::{Error, Result};
use ferrodfs_proto::Message;
use std::io::{self, Read, Write};

/// `DataTransferProtocol.DATA_TRANSFER_VERSION`.
pub const DATA_TRANSFER_VERSION: u16 = 28;

/// The largest varint-delimited message accepted from a peer. Op protos are small
/// (a block, a token, a few targets); this bounds what a bad peer can make us allocate.
pub const MAX_DELIMITED_LEN: usize = 1 << 20;

/// Capacity reserved up front for a delimited message; longer ones grow as their
/// bytes arrive.
const SMALL_MESSAGE_LEN: usize = 4096;

/// Op codes (`org.apache.hadoop.hdfs.protocol.datatransfer.Op`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Op {
    WriteBlock = 80,
    ReadBlock = 81,
    ReadMetadata = 82,
    ReplaceBlock = 83,
    CopyBlock = 84,
    BlockChecksum = 85,
    TransferBlock = 86,
    RequestShortCircuitFds = 87,
    ReleaseShortCircuitFds = 88,
    RequestShortCircuitShm = 89,
    BlockGroupChecksum = 90,
    Custom = 127,
}

impl Op {
    /// The op for a code read off the wire.
    pub fn from_code(code: u8) -> Result<Op> {
        Ok(match code {
            80 => Op::WriteBlock,
            81 => Op::ReadBlock,
            82 => Op::ReadMetadata,
            83 => Op::ReplaceBlock,
            84 => Op::CopyBlock,
            85 => Op::BlockChecksum,
            86 => Op::TransferBlock,
            87 => Op::RequestShortCircuitFds,
            88 => Op::ReleaseShortCircuitFds,
            89 => Op::RequestShortCircuitShm,
            90 => Op::BlockGroupChecksum,
            127 => Op::Custom,
            other => return Err(Error::UnknownOp(other)),
        })
    }

    pub fn code(self) -> u8 {
        self as u8
    }
}

/// The 3 bytes that open every request.
pub fn op_header(op: Op) -> [u8; 3] {
    let v = DATA_TRANSFER_VERSION.to_be_bytes();
    [v[0], v[1], op.code()]
}

/// Writes an op header followed by its message, in one `write_all`.
pub fn write_op<M: Message>(w: &mut impl Write, op: Op, msg: &M) -> io::Result<()> {
    let mut buf = Vec::with_capacity(3 + msg.encoded_len() + 5);
    buf.extend_from_slice(&op_header(op));
    msg.encode_length_delimited(&mut buf)
        .map_err(io::Error::other)?;
    w.write_all(&buf)
}

/// Checks the 3 bytes of an op header: version 28 and a known op code.
pub fn parse_op_header(header: &[u8; 3]) -> Result<Op> {
    let version = u16::from_be_bytes([header[0], header[1]]);
    if version != DATA_TRANSFER_VERSION {
        return Err(Error::BadVersion(version));
    }
    Op::from_code(header[2])
}

/// Reads an op header. `Ok(None)` on a clean end of stream before its first byte (a
/// peer closing a reused connection between ops).
pub fn read_op_header(r: &mut impl Read) -> Result<Option<Op>> {
    let mut header = [0u8; 3];
    let mut got = 0;
    while got < header.len() {
        match r.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => {
                return Err(Error::Truncated {
                    what: "op header",
                    need: 3,
                    have: got,
                })
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Io(e)),
        }
    }
    parse_op_header(&header).map(Some)
}

/// Writes one varint-delimited message.
pub fn write_delimited<M: Message>(w: &mut impl Write, msg: &M) -> io::Result<()> {
    w.write_all(&msg.encode_length_delimited_to_vec())
}

/// Reads one varint-delimited message of at most [`MAX_DELIMITED_LEN`] bytes.
pub fn read_delimited<M: Message + Default>(r: &mut impl Read, what: &'static str) -> Result<M> {
    read_delimited_max(r, what, MAX_DELIMITED_LEN)
}

/// Reads one varint-delimited message of at most `max` bytes. The buffer grows as
/// the bytes arrive: a length prefix alone reserves nothing.
pub fn read_delimited_max<M: Message + Default>(
    r: &mut impl Read,
    what: &'static str,
    max: usize,
) -> Result<M> {
    let len = read_varint(r, what)?;
    if len > max as u64 {
        return Err(Error::TooLong {
            what,
            len,
            max: max as u64,
        });
    }
    let len = len as usize;
    let mut buf = Vec::with_capacity(len.min(SMALL_MESSAGE_LEN));
    let got = r.take(len as u64).read_to_end(&mut buf)?;
    if got < len {
        return Err(Error::Truncated {
            what,
            need: len,
            have: got,
        });
    }
    M::decode(&buf[..]).map_err(|source| Error::Decode { what, source })
}

/// Decodes the varint-delimited message at the start of `bytes` (at most
/// [`MAX_DELIMITED_LEN`] bytes long); returns it and the bytes it took. A pure
/// function over a slice, for fuzzing.
pub fn decode_delimited<M: Message + Default>(
    bytes: &[u8],
    what: &'static str,
) -> Result<(M, usize)> {
    let mut r = bytes;
    let msg = read_delimited(&mut r, what)?;
    Ok((msg, bytes.len() - r.len()))
}

fn read_varint(r: &mut impl Read, what: &'static str) -> Result<u64> {
    let mut value = 0u64;
    for i in 0..10 {
        let mut byte = [0u8; 1];
        read_exact(r, &mut byte, what)?;
        value |= u64::from(byte[0] & 0x7f) << (7 * i);
        if byte[0] & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(Error::BadVarint(what))
}

/// `read_exact` with a typed error for a stream that ends early.
pub(crate) fn read_exact(r: &mut impl Read, buf: &mut [u8], what: &'static str) -> Result<()> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => {
                return Err(Error::Truncated {
                    what,
                    need: buf.len(),
                    have: got,
                })
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Io(e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrodfs_proto::hdfs::{BlockOpResponseProto, ClientReadStatusProto, Status};

    #[test]
    fn op_header_bytes() {
        assert_eq!(op_header(Op::WriteBlock), [0, 28, 0x50]);
        assert_eq!(op_header(Op::ReadBlock), [0, 28, 0x51]);
        assert_eq!(op_header(Op::BlockChecksum), [0, 28, 0x55]);
        assert_eq!(op_header(Op::TransferBlock), [0, 28, 0x56]);
        for code in 0..=255u8 {
            if let Ok(op) = Op::from_code(code) {
                assert_eq!(op.code(), code);
            }
        }
    }

    #[test]
    fn read_op_header_cases() {
        assert_eq!(
            read_op_header(&mut &[0u8, 28, 81][..]).unwrap(),
            Some(Op::ReadBlock)
        );
        assert_eq!(read_op_header(&mut &[][..]).unwrap(), None);
        assert!(matches!(
            read_op_header(&mut &[0u8, 27, 81][..]),
            Err(Error::BadVersion(27))
        ));
        assert!(matches!(
            read_op_header(&mut &[0u8, 28, 1][..]),
            Err(Error::UnknownOp(1))
        ));
        assert!(matches!(
            read_op_header(&mut &[0u8, 28][..]),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn delimited_round_trip_and_limits() {
        let resp = BlockOpResponseProto {
            status: Status::Success as i32,
            first_bad_link: Some(String::new()),
            ..Default::default()
        };
        let mut buf = Vec::new();
        write_delimited(&mut buf, &resp).unwrap();
        // The 5-byte reply the Go client needs (CLIENT-REQUIREMENTS.md).
        assert_eq!(buf, [4, 0x08, 0x00, 0x12, 0x00]);
        let back: BlockOpResponseProto = read_delimited(&mut &buf[..], "response").unwrap();
        assert_eq!(back, resp);

        let huge = [0xff, 0xff, 0xff, 0x7f];
        assert!(matches!(
            read_delimited::<ClientReadStatusProto>(&mut &huge[..], "status"),
            Err(Error::TooLong { .. })
        ));
        let endless = [0xffu8; 11];
        assert!(matches!(
            read_delimited::<ClientReadStatusProto>(&mut &endless[..], "status"),
            Err(Error::BadVarint(_))
        ));
        assert!(matches!(
            read_delimited::<ClientReadStatusProto>(&mut &[5u8, 8][..], "status"),
            Err(Error::Truncated { .. })
        ));
    }
}
