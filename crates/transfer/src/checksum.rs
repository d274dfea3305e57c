//! Hadoop's `DataChecksum`: one checksum per chunk of `bytes_per_checksum`
//! bytes (the last chunk may be shorter), each stored as 4 big-endian bytes;
//! and the block metadata header that opens every `blk_<id>_<gs>.meta` file.
//!
//! Byte layouts (see `docs/design/datanode-storage.md`):
//!
//! ```text
//! DataChecksum header (5 bytes):   type:u8  bytes_per_checksum:u32be
//! Block meta header   (7 bytes):   version:u16be (=1)  DataChecksum header
//! ```
//!
//! Type codes are `ChecksumTypeProto`'s: NULL 0, CRC32 1 (IEEE, as
//! `java.util.zip.CRC32`), CRC32C 2 (Castagnoli).

use crate::{Error, Result};

/// The version in the block metadata header (`BlockMetadataHeader.VERSION`).
pub const META_VERSION: u16 = 1;
/// Bytes of a serialised [`DataChecksum`] header: type + bytes per checksum.
pub const CHECKSUM_HEADER_LEN: usize = 5;
/// Bytes of the block metadata header: version + checksum header.
pub const META_HEADER_LEN: usize = 2 + CHECKSUM_HEADER_LEN;
/// Hadoop's default `dfs.bytes-per-checksum`.
pub const DEFAULT_BYTES_PER_CHECKSUM: u32 = 512;

/// A checksum algorithm, numbered as in `ChecksumTypeProto` / `DataChecksum.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumType {
    /// No checksum (0 bytes per chunk).
    Null,
    /// CRC-32 (IEEE 802.3 polynomial), as `java.util.zip.CRC32`.
    Crc32,
    /// CRC-32C (Castagnoli), hardware-accelerated where available.
    Crc32c,
}

impl ChecksumType {
    /// The type code on the wire and on disk.
    pub fn id(self) -> u8 {
        match self {
            ChecksumType::Null => 0,
            ChecksumType::Crc32 => 1,
            ChecksumType::Crc32c => 2,
        }
    }

    /// The type for a code.
    pub fn from_id(id: u8) -> Result<ChecksumType> {
        match id {
            0 => Ok(ChecksumType::Null),
            1 => Ok(ChecksumType::Crc32),
            2 => Ok(ChecksumType::Crc32c),
            other => Err(Error::UnknownChecksumType(other)),
        }
    }

    /// Bytes of one checksum (4, or 0 for NULL).
    pub fn size(self) -> usize {
        match self {
            ChecksumType::Null => 0,
            ChecksumType::Crc32 | ChecksumType::Crc32c => 4,
        }
    }

    /// Hadoop's name, as in `dfs.checksum.type` (`NULL`, `CRC32`, `CRC32C`).
    pub fn name(self) -> &'static str {
        match self {
            ChecksumType::Null => "NULL",
            ChecksumType::Crc32 => "CRC32",
            ChecksumType::Crc32c => "CRC32C",
        }
    }

    /// The type for a `dfs.checksum.type` value (case-insensitive).
    pub fn from_name(name: &str) -> Option<ChecksumType> {
        [
            ChecksumType::Null,
            ChecksumType::Crc32,
            ChecksumType::Crc32c,
        ]
        .into_iter()
        .find(|t| t.name().eq_ignore_ascii_case(name.trim()))
    }
}

/// A checksum type and chunk size: how a block's data is checksummed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DataChecksum {
    kind: ChecksumType,
    bytes_per_checksum: u32,
}

impl DataChecksum {
    /// A checksum of `kind` over chunks of `bytes_per_checksum` bytes, which
    /// must be in `1..=i32::MAX` (Java's int).
    pub fn new(kind: ChecksumType, bytes_per_checksum: u32) -> Result<DataChecksum> {
        if bytes_per_checksum == 0 || bytes_per_checksum > i32::MAX as u32 {
            return Err(Error::InvalidBytesPerChecksum(bytes_per_checksum));
        }
        Ok(DataChecksum {
            kind,
            bytes_per_checksum,
        })
    }

    /// The algorithm.
    pub fn kind(&self) -> ChecksumType {
        self.kind
    }

    /// Bytes of data per checksum.
    pub fn bytes_per_checksum(&self) -> u32 {
        self.bytes_per_checksum
    }

    /// Bytes of one checksum (4, or 0 for NULL).
    pub fn checksum_size(&self) -> usize {
        self.kind.size()
    }

    /// Chunks covering `data_len` bytes (the last may be partial).
    pub fn chunks(&self, data_len: u64) -> u64 {
        data_len.div_ceil(u64::from(self.bytes_per_checksum))
    }

    /// Bytes of checksums covering `data_len` bytes.
    pub fn checksums_len(&self, data_len: usize) -> usize {
        data_len.div_ceil(self.bytes_per_checksum as usize) * self.checksum_size()
    }

    /// The checksum of one chunk (0 for NULL).
    pub fn chunk_checksum(&self, chunk: &[u8]) -> u32 {
        match self.kind {
            ChecksumType::Null => 0,
            ChecksumType::Crc32 => crc32fast::hash(chunk),
            ChecksumType::Crc32c => crc32c::crc32c(chunk),
        }
    }

    /// Computes the checksums of `data`'s chunks into `out`, which must be
    /// exactly [`DataChecksum::checksums_len`] bytes.
    pub fn compute_into(&self, data: &[u8], out: &mut [u8]) -> Result<()> {
        let expected = self.checksums_len(data.len());
        if out.len() != expected {
            return Err(Error::ChecksumLength {
                expected,
                actual: out.len(),
            });
        }
        if self.kind == ChecksumType::Null {
            return Ok(());
        }
        for (chunk, slot) in data
            .chunks(self.bytes_per_checksum as usize)
            .zip(out.chunks_exact_mut(4))
        {
            slot.copy_from_slice(&self.chunk_checksum(chunk).to_be_bytes());
        }
        Ok(())
    }

    /// The checksums of `data`'s chunks.
    pub fn compute(&self, data: &[u8]) -> Vec<u8> {
        let mut out = vec![0; self.checksums_len(data.len())];
        // Cannot fail: `out` has exactly the length needed.
        let _ = self.compute_into(data, &mut out);
        out
    }

    /// Checks `data`'s chunks against `checksums`. On a mismatch the error
    /// gives the failing chunk's offset as `base_offset` + its position in
    /// `data` (pass the data's offset in the block). NULL verifies nothing.
    pub fn verify(&self, data: &[u8], checksums: &[u8], base_offset: u64) -> Result<()> {
        let expected = self.checksums_len(data.len());
        if checksums.len() != expected {
            return Err(Error::ChecksumLength {
                expected,
                actual: checksums.len(),
            });
        }
        if self.kind == ChecksumType::Null {
            return Ok(());
        }
        let bpc = self.bytes_per_checksum as usize;
        for (i, (chunk, stored)) in data.chunks(bpc).zip(checksums.chunks_exact(4)).enumerate() {
            let stored = u32::from_be_bytes([stored[0], stored[1], stored[2], stored[3]]);
            let computed = self.chunk_checksum(chunk);
            if stored != computed {
                return Err(Error::ChecksumMismatch {
                    offset: base_offset + (i * bpc) as u64,
                    expected: stored,
                    computed,
                });
            }
        }
        Ok(())
    }

    /// The 5-byte header: type, then bytes per checksum big-endian.
    pub fn encode_header(&self) -> [u8; CHECKSUM_HEADER_LEN] {
        let mut out = [0; CHECKSUM_HEADER_LEN];
        out[0] = self.kind.id();
        out[1..].copy_from_slice(&self.bytes_per_checksum.to_be_bytes());
        out
    }

    /// Decodes the 5-byte header at the start of `bytes`.
    pub fn decode_header(bytes: &[u8]) -> Result<DataChecksum> {
        let h = bytes.get(..CHECKSUM_HEADER_LEN).ok_or(Error::Truncated {
            what: "checksum header",
            need: CHECKSUM_HEADER_LEN,
            have: bytes.len(),
        })?;
        let kind = ChecksumType::from_id(h[0])?;
        DataChecksum::new(kind, u32::from_be_bytes([h[1], h[2], h[3], h[4]]))
    }
}

/// The header at the start of a block's `.meta` file
/// (`BlockMetadataHeader`): version, then the [`DataChecksum`] header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockMetadataHeader {
    /// Always [`META_VERSION`] for files we write; decoding rejects others.
    pub version: u16,
    /// How the block is checksummed.
    pub checksum: DataChecksum,
}

impl BlockMetadataHeader {
    /// A version-1 header for `checksum`.
    pub fn new(checksum: DataChecksum) -> BlockMetadataHeader {
        BlockMetadataHeader {
            version: META_VERSION,
            checksum,
        }
    }

    /// The 7 header bytes.
    pub fn encode(&self) -> [u8; META_HEADER_LEN] {
        let mut out = [0; META_HEADER_LEN];
        out[..2].copy_from_slice(&self.version.to_be_bytes());
        out[2..].copy_from_slice(&self.checksum.encode_header());
        out
    }

    /// Decodes the header at the start of `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<BlockMetadataHeader> {
        let h = bytes.get(..META_HEADER_LEN).ok_or(Error::Truncated {
            what: "block metadata header",
            need: META_HEADER_LEN,
            have: bytes.len(),
        })?;
        let version = u16::from_be_bytes([h[0], h[1]]);
        if version != META_VERSION {
            return Err(Error::BadMetaVersion(version));
        }
        Ok(BlockMetadataHeader {
            version,
            checksum: DataChecksum::decode_header(&h[2..])?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // The standard check values of "123456789".
        let c32 = DataChecksum::new(ChecksumType::Crc32, 512).unwrap();
        let c32c = DataChecksum::new(ChecksumType::Crc32c, 512).unwrap();
        assert_eq!(c32.chunk_checksum(b"123456789"), 0xCBF4_3926);
        assert_eq!(c32c.chunk_checksum(b"123456789"), 0xE306_9283);
        assert_eq!(c32c.compute(b"123456789"), vec![0xE3, 0x06, 0x92, 0x83]);
    }

    #[test]
    fn chunking_and_partial_last_chunk() {
        for kind in [ChecksumType::Crc32, ChecksumType::Crc32c] {
            let sum = DataChecksum::new(kind, 4).unwrap();
            let data = b"abcdefghij"; // abcd efgh ij
            let sums = sum.compute(data);
            assert_eq!(sums.len(), 12);
            assert_eq!(&sums[8..], &sum.chunk_checksum(b"ij").to_be_bytes());
            sum.verify(data, &sums, 100).unwrap();
            let mut bad = *data;
            bad[5] ^= 0x40;
            let err = sum.verify(&bad, &sums, 100).unwrap_err();
            assert_eq!(err.mismatch_offset(), Some(104));
            assert!(matches!(
                sum.verify(data, &sums[..8], 0),
                Err(Error::ChecksumLength {
                    expected: 12,
                    actual: 8
                })
            ));
        }
        assert_eq!(
            DataChecksum::new(ChecksumType::Crc32c, 512)
                .unwrap()
                .chunks(0),
            0
        );
        assert_eq!(
            DataChecksum::new(ChecksumType::Crc32c, 512)
                .unwrap()
                .chunks(513),
            2
        );
    }

    #[test]
    fn null_checksums_nothing() {
        let sum = DataChecksum::new(ChecksumType::Null, 512).unwrap();
        assert!(sum.compute(&[1; 2000]).is_empty());
        sum.verify(&[1; 2000], &[], 0).unwrap();
    }

    #[test]
    fn headers_round_trip_and_reject_garbage() {
        let sum = DataChecksum::new(ChecksumType::Crc32c, 512).unwrap();
        let meta = BlockMetadataHeader::new(sum).encode();
        assert_eq!(meta, [0, 1, 2, 0, 0, 2, 0]);
        assert_eq!(BlockMetadataHeader::decode(&meta).unwrap().checksum, sum);
        let crc32 = DataChecksum::new(ChecksumType::Crc32, 1024).unwrap();
        assert_eq!(crc32.encode_header(), [1, 0, 0, 4, 0]);
        assert!(matches!(
            BlockMetadataHeader::decode(&meta[..6]),
            Err(Error::Truncated {
                need: 7,
                have: 6,
                ..
            })
        ));
        assert!(matches!(
            BlockMetadataHeader::decode(&[0, 2, 2, 0, 0, 2, 0]),
            Err(Error::BadMetaVersion(2))
        ));
        assert!(matches!(
            BlockMetadataHeader::decode(&[0, 1, 9, 0, 0, 2, 0]),
            Err(Error::UnknownChecksumType(9))
        ));
        assert!(matches!(
            BlockMetadataHeader::decode(&[0, 1, 2, 0, 0, 0, 0]),
            Err(Error::InvalidBytesPerChecksum(0))
        ));
        assert!(matches!(
            DataChecksum::decode_header(&[2, 0x80, 0, 0, 0]),
            Err(Error::InvalidBytesPerChecksum(_))
        ));
    }

    #[test]
    fn names() {
        assert_eq!(
            ChecksumType::from_name("crc32c"),
            Some(ChecksumType::Crc32c)
        );
        assert_eq!(ChecksumType::from_name("CRC32"), Some(ChecksumType::Crc32));
        assert_eq!(ChecksumType::from_name("md5"), None);
        for t in [
            ChecksumType::Null,
            ChecksumType::Crc32,
            ChecksumType::Crc32c,
        ] {
            assert_eq!(ChecksumType::from_id(t.id()).unwrap(), t);
        }
    }
}
