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
//!
//! CRC32C over many full chunks (the 512-byte chunks of every packet) runs
//! three chunks at a time on x86_64 with SSE4.2: three independent
//! `crc32` instruction chains in one loop, which hides the instruction's
//! 3-cycle latency. The `crc32c` crate only interleaves within one buffer of
//! at least 768 bytes, so on its own each 512-byte chunk is latency-bound.
//! Calling that `#[target_feature]` function is the crate's only `unsafe`
//! (one call site, after a runtime CPU check); everything else, and every
//! other platform, goes through `crc32c::crc32c`.

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
    /// Hadoop's default: CRC32C over 512-byte chunks (`dfs.checksum.type`,
    /// `dfs.bytes-per-checksum`).
    pub const CRC32C_512: DataChecksum = DataChecksum {
        kind: ChecksumType::Crc32c,
        bytes_per_checksum: DEFAULT_BYTES_PER_CHECKSUM,
    };

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

    /// Calls `each(i, checksum)` for chunk `i` of `data`, in order, stopping
    /// at the first error. CRC32C runs three full chunks at once where it can.
    fn for_each_checksum<E>(
        &self,
        data: &[u8],
        mut each: impl FnMut(usize, u32) -> Result<(), E>,
    ) -> Result<(), E> {
        let bpc = self.bytes_per_checksum as usize;
        let mut i = 0;
        let mut rest = data;
        if self.kind == ChecksumType::Crc32c {
            while rest.len() >= 3 * bpc {
                let (a, r) = rest.split_at(bpc);
                let (b, r) = r.split_at(bpc);
                let (c, r) = r.split_at(bpc);
                let Some([x, y, z]) = crc32c_x3(a, b, c) else {
                    break;
                };
                each(i, x)?;
                each(i + 1, y)?;
                each(i + 2, z)?;
                i += 3;
                rest = r;
            }
        }
        for chunk in rest.chunks(bpc) {
            each(i, self.chunk_checksum(chunk))?;
            i += 1;
        }
        Ok(())
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
        self.for_each_checksum(data, |i, crc| {
            // `out` has exactly 4 bytes per chunk (checked above).
            if let Some(slot) = out.get_mut(4 * i..4 * i + 4) {
                slot.copy_from_slice(&crc.to_be_bytes());
            }
            Ok(())
        })
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
        self.for_each_checksum(data, |i, computed| {
            // `checksums` has exactly 4 bytes per chunk (checked above).
            let stored = checksums
                .get(4 * i..4 * i + 4)
                .map_or(0, |s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]));
            if stored != computed {
                return Err(Error::ChecksumMismatch {
                    offset: base_offset + (i * bpc) as u64,
                    expected: stored,
                    computed,
                });
            }
            Ok(())
        })
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

/// CRC32C of three equally long buffers at once, or `None` where the CPU
/// (or the platform) lacks SSE4.2 — then the caller uses `crc32c::crc32c`.
fn crc32c_x3(a: &[u8], b: &[u8], c: &[u8]) -> Option<[u32; 3]> {
    #[cfg(target_arch = "x86_64")]
    {
        // std caches the CPUID result: this is one atomic load and a bit test.
        if std::is_x86_feature_detected!("sse4.2") {
            #[allow(unsafe_code)]
            // SAFETY: `crc32c_x3_sse42` needs only SSE4.2, which
            // `is_x86_feature_detected!("sse4.2")` just confirmed this CPU has.
            let sums = unsafe { crc32c_x3_sse42(a, b, c) };
            return Some(sums);
        }
    }
    let _ = (a, b, c);
    None
}

/// Three CRC32C chains, one per buffer, interleaved so that the `crc32`
/// instructions (3-cycle latency, 1 per cycle throughput) overlap. The
/// buffers must have equal lengths (the shortest one bounds the result
/// otherwise, which the caller never asks for).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
fn crc32c_x3_sse42(a: &[u8], b: &[u8], c: &[u8]) -> [u32; 3] {
    use std::arch::x86_64::{_mm_crc32_u64, _mm_crc32_u8};

    fn word(w: &[u8]) -> u64 {
        // `chunks_exact(8)` always yields 8 bytes; the fallback is dead code.
        u64::from_le_bytes(w.try_into().unwrap_or([0; 8]))
    }

    debug_assert!(a.len() == b.len() && b.len() == c.len());
    let (wa, wb, wc) = (a.chunks_exact(8), b.chunks_exact(8), c.chunks_exact(8));
    let (ta, tb, tc) = (wa.remainder(), wb.remainder(), wc.remainder());
    let (mut x, mut y, mut z) = (
        u64::from(u32::MAX),
        u64::from(u32::MAX),
        u64::from(u32::MAX),
    );
    for ((pa, pb), pc) in wa.zip(wb).zip(wc) {
        x = _mm_crc32_u64(x, word(pa));
        y = _mm_crc32_u64(y, word(pb));
        z = _mm_crc32_u64(z, word(pc));
    }
    // `_mm_crc32_u64` leaves the upper 32 bits zero.
    let (mut x, mut y, mut z) = (x as u32, y as u32, z as u32);
    for ((&pa, &pb), &pc) in ta.iter().zip(tb).zip(tc) {
        x = _mm_crc32_u8(x, pa);
        y = _mm_crc32_u8(y, pb);
        z = _mm_crc32_u8(z, pc);
    }
    [!x, !y, !z]
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

    /// A bytes-per-checksum per case, including sizes that are
    /// not multiples of 8 (the batched path's byte tail) and 1.
    fn bpc_strategy() -> impl proptest::strategy::Strategy<Value = u32> {
        proptest::sample::select(vec![512u32, 1024, 4096, 100, 1])
    }

    proptest::proptest! {
        #[test]
        fn batched_crc32c_matches_crate_per_chunk(
            data in proptest::collection::vec(proptest::num::u8::ANY, 0..5000),
            bpc in bpc_strategy(),
            flip in proptest::num::usize::ANY,
            base in 0u64..1 << 40,
        ) {
            let sum = DataChecksum::new(ChecksumType::Crc32c, bpc).unwrap();
            let expected: Vec<u8> = data
                .chunks(bpc as usize)
                .flat_map(|c| crc32c::crc32c(c).to_be_bytes())
                .collect();
            proptest::prop_assert_eq!(&sum.compute(&data), &expected);
            proptest::prop_assert!(sum.verify(&data, &expected, base).is_ok());
            if !data.is_empty() {
                let mut bad = data.clone();
                let at = flip % bad.len();
                bad[at] ^= 1 << (flip % 8);
                let k = at / bpc as usize;
                let err = sum.verify(&bad, &expected, base).unwrap_err();
                proptest::prop_assert_eq!(
                    err.mismatch_offset(),
                    Some(base + (k * bpc as usize) as u64)
                );
            }
        }
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
