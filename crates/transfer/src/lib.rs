//! DataTransferProtocol codecs shared by the ferrodfs client and DataNode, so
//! that neither depends on the other.
//!
//! Today it holds [`checksum`]: Hadoop's `DataChecksum` (CRC32 / CRC32C per
//! chunk of `bytes_per_checksum` bytes, big-endian on the wire and on disk)
//! and the block metadata header at the start of every `.meta` file.
//!
//! To come (issue 5, with `crates/proto`): op headers (version 28, op code,
//! varint-delimited op proto), packets (`PacketHeaderProto` + checksums +
//! data) and pipeline acks. No threads and no sockets live here: only bytes in,
//! bytes out.
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
#![forbid(unsafe_code)]

pub mod checksum;

/// Everything that can go wrong decoding or verifying transfer bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
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
