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
    let version = u16::from_be_bytes([header[0], header[1]]);
    if version != DATA_TRANSFER_VERSION {
        return Err(Error::BadVersion(version));
    }
    Op::from_code(header[2]).map(Some)
}

/// Writes one varint-delimited message.
pub fn write_delimited<M: Message>(w: &mut impl Write, msg: &M) -> io::Result<()> {
    w.write_all(&msg.encode_length_delimited_to_vec())
}

/// Reads one varint-delimited message of at most [`MAX_DELIMITED_LEN`] bytes.
pub fn read_delimited<M: Message + Default>(r: &mut impl Read, what: &'static str) -> Result<M> {
    let len = read_varint(r, what)?;
    if len > MAX_DELIMITED_LEN as u64 {
        return Err(Error::TooLong {
            what,
            len,
            max: MAX_DELIMITED_LEN as u64,
        });
    }
    let mut buf = Vec::new();
    read_growing(r, &mut buf, len as usize, what)?;
    M::decode(&buf[..]).map_err(|source| Error::Decode { what, source })
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

/// The most a reader reserves before the bytes it is waiting for have arrived.
pub(crate) const GROW_STEP: usize = 64 * 1024;

/// Reads exactly `n` bytes into `buf[..n]`, growing `buf` only as bytes arrive: never
/// past its old length, [`GROW_STEP`] or twice what was received, whichever is most
/// (a peer's length field alone reserves nothing). `buf` ends with length `n`.
pub(crate) fn read_growing(
    r: &mut impl Read,
    buf: &mut Vec<u8>,
    n: usize,
    what: &'static str,
) -> Result<()> {
    let mut done = 0;
    while done < n {
        let room = buf.len().max(2 * done).max(GROW_STEP).min(n);
        if buf.len() < room {
            buf.resize(room, 0);
        }
        read_exact(r, &mut buf[done..room], what).map_err(|e| match e {
            Error::Truncated { what, have, .. } => Error::Truncated {
                what,
                need: n,
                have: done + have,
            },
            e => e,
        })?;
        done = room;
    }
    buf.truncate(n);
    Ok(())
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
