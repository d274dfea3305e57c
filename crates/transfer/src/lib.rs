//! DataTransferProtocol codecs shared by the ferrodfs client and DataNode, so
//! that neither depends on the other.
//!
//! Today it holds [`checksum`]: Hadoop's `DataChecksum` (CRC32 / CRC32C per
//! chunk of `bytes_per_checksum` bytes, big-endian on the wire and on disk)
//! and the block metadata header at the start of every `.meta` file.
//!
//! * [`op`]: op headers (version 28, op code) and varint-delimited messages;
//! * [`packet`]: data packets (`PacketHeaderProto` + checksums + data) and the
//!   one checked decoder ([`packet::PacketDecoder`]) the DataNode and the client
//!   both read them with;
//! * [`ack`]: pipeline acks with per-node status and ECN flags.
//!
//! No threads and no sockets live here: only bytes in, bytes out (over any
//! `Read`/`Write`). Byte layouts: `docs/design/transfer.md`.
//!
//! Every decoder of peer bytes checks each length against a limit or the bytes
//! that actually arrived before it reserves memory, and fails with a typed
//! [`Error`], never a panic. Entry points over plain byte slices (for fuzzing):
//! [`op::parse_op_header`], [`op::decode_delimited`],
//! [`packet::PacketLengths::parse`], [`packet::parse_header`],
//! [`packet::decode_packet`], [`ack::PipelineAck::decode`], and
//! [`checksum::DataChecksum::decode_header`].
//!
//! # Example
//!
//! ```
//! use ferrodfs_transfer::checksum::{ChecksumType, DataChecksum};
//!
//! let sum = DataChecksum::new(ChecksumType::Crc32c, 512).unwrap();
//! let data = vec![7u8; 1300]; // two whole chunks and a partial one
//! let sums = sum.compute(&data);
//! assert_eq!(sums.len(), 3 * 4);
//! sum.verify(&data, &sums, 0).unwrap();
//!
//! let mut bad = data.clone();
//! bad[1100] ^= 1;
//! let err = sum.verify(&bad, &sums, 0).unwrap_err();
//! assert_eq!(err.mismatch_offset(), Some(1024)); // the third chunk
//! ```
// `deny`, not `forbid`: `checksum` calls its SSE4.2 CRC32C routine from one
// `#[allow(unsafe_code)]` site after a runtime CPU check.
#![deny(unsafe_code)]

pub mod ack;
pub mod checksum;
pub mod op;
pub mod packet;

/// Everything that can go wrong decoding or verifying transfer bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An op header whose version is not 28.
    #[error("unsupported data transfer version {0} (expected 28)")]
    BadVersion(u16),
    /// An op code this DataNode does not know.
    #[error("unknown op code {0}")]
    UnknownOp(u8),
    /// A length field over its limit.
    #[error("{what} of {len} bytes is over the limit of {max}")]
    TooLong {
        /// What was being read.
        what: &'static str,
        /// The length the peer claimed.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// A varint longer than 10 bytes.
    #[error("malformed varint in {0}")]
    BadVarint(&'static str),
    /// A protobuf message that does not decode.
    #[error("undecodable {what}: {source}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// prost's reason.
        #[source]
        source: ferrodfs_proto::prost::DecodeError,
    },
    /// Packet lengths that contradict each other.
    #[error("malformed packet: {0}")]
    BadPacket(&'static str),
    /// A packet whose seqno does not follow the previous one's.
    #[error("packet seqno {seqno} out of order after {last}")]
    PacketOutOfOrder {
        /// The previous packet's seqno.
        last: i64,
        /// This packet's.
        seqno: i64,
    },
    /// A pipeline ack with more replies than a pipeline can have nodes.
    #[error("pipeline ack with {count} replies (at most {max})")]
    TooManyReplies {
        /// Replies in the ack.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The stream failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A checksum type byte that is not NULL (0), CRC32 (1) or CRC32C (2).
    #[error("unknown checksum type {0}")]
    UnknownChecksumType(u8),
    /// `bytes_per_checksum` must be positive (and fit in an i32, as in Java).
    #[error("invalid bytes per checksum {0}")]
    InvalidBytesPerChecksum(u32),
    /// Fewer bytes than a header needs.
    #[error("truncated {what}: need {need} bytes, have {have}")]
    Truncated {
        /// What was being decoded.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// A block metadata header with a version other than 1.
    #[error("unsupported block metadata version {0}")]
    BadMetaVersion(u16),
    /// The checksum array is not the length the data needs.
    #[error("checksum array of {actual} bytes, expected {expected} for the data")]
    ChecksumLength {
        /// Bytes expected (`chunks * checksum_size`).
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// A chunk's data does not match its checksum (Hadoop's
    /// `ChecksumException`).
    #[error("checksum mismatch in chunk at offset {offset}: stored {expected:#010x}, computed {computed:#010x}")]
    ChecksumMismatch {
        /// Offset of the failing chunk's first byte (relative to the base
        /// offset given to `verify`, e.g. the offset in the block).
        offset: u64,
        /// The stored checksum.
        expected: u32,
        /// The checksum of the data.
        computed: u32,
    },
}

impl Error {
    /// For [`Error::ChecksumMismatch`], the failing chunk's offset.
    pub fn mismatch_offset(&self) -> Option<u64> {
        match self {
            Error::ChecksumMismatch { offset, .. } => Some(*offset),
            _ => None,
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
