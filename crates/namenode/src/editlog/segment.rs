//! Edit-log segment files: the record frame, and reading a segment back with torn-tail
//! detection.
//!
//! A segment is an 12-byte header (`FERROEDT` + `u32` version) and then records:
//!
//! ```text
//! u32 len      little-endian, bytes of payload (8..=MAX_RECORD_LEN)
//! u32 crc      CRC32C of the 4 length bytes followed by the payload
//! payload      u64 txid, u8 opcode, fields (see op.rs)
//! ```
//!
//! Reading stops at the first record that is incomplete or fails its checksum. If no valid
//! record follows it anywhere in the file, it is a torn tail (a write that never returned)
//! and the segment is cut there; if a valid record follows, the log is corrupt in the
//! middle and loading fails ([`Error::Corrupt`], with the file and the record's offset)
//! rather than silently dropping edits. A record's length is checked against
//! [`MAX_RECORD_LEN`] and the bytes left in the file before its payload is looked at;
//! the payload's own lengths and counts against the payload (see `codec`).

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::codec::Writer;
use super::op::EditOp;
use crate::error::{Error, Result};

/// Segment header magic.
pub const SEGMENT_MAGIC: &[u8; 8] = b"FERROEDT";
/// Segment format version.
pub const SEGMENT_VERSION: u32 = 1;
/// Header bytes before the first record.
pub const SEGMENT_HEADER_LEN: usize = 12;
/// Frame bytes before a payload.
pub const FRAME_HEADER_LEN: usize = 8;
/// The largest payload accepted (a concat of many files is the biggest record).
pub const MAX_RECORD_LEN: usize = 64 << 20;
/// Smallest payload: txid + opcode.
const MIN_RECORD_LEN: usize = 9;

/// The segment header bytes.
pub fn header() -> [u8; SEGMENT_HEADER_LEN] {
    let mut h = [0u8; SEGMENT_HEADER_LEN];
    h[..8].copy_from_slice(SEGMENT_MAGIC);
    h[8..].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    h
}

/// Appends one framed record to `out`.
pub fn encode_record(out: &mut Vec<u8>, txid: u64, op: &EditOp) {
    let start = out.len();
    out.extend_from_slice(&[0u8; FRAME_HEADER_LEN]);
    let mut w = Writer {
        buf: std::mem::take(out),
    };
    w.u64(txid);
    op.encode(&mut w);
    *out = w.buf;
    let len = (out.len() - start - FRAME_HEADER_LEN) as u32;
    let len_bytes = len.to_le_bytes();
    let crc = crc32c::crc32c_append(crc32c::crc32c(&len_bytes), &out[start + FRAME_HEADER_LEN..]);
    out[start..start + 4].copy_from_slice(&len_bytes);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Why a record could not be read at some offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FrameError {
    /// Not enough bytes, an impossible length, or a checksum mismatch.
    Damaged(&'static str),
    /// Checksum good but the payload does not decode: a format bug, never torn.
    Undecodable(&'static str),
}

/// Parses one record at the start of `data`: (txid, op, bytes consumed).
fn parse_record(data: &[u8]) -> Result<(u64, EditOp, usize), FrameError> {
    let head = data
        .get(..FRAME_HEADER_LEN)
        .ok_or(FrameError::Damaged("incomplete record header"))?;
    let mut len_bytes = [0u8; 4];
    len_bytes.copy_from_slice(&head[..4]);
    let mut crc_bytes = [0u8; 4];
    crc_bytes.copy_from_slice(&head[4..8]);
    let len = u32::from_le_bytes(len_bytes) as usize;
    if !(MIN_RECORD_LEN..=MAX_RECORD_LEN).contains(&len) {
        return Err(FrameError::Damaged("impossible record length"));
    }
    let payload = data
        .get(FRAME_HEADER_LEN..FRAME_HEADER_LEN + len)
        .ok_or(FrameError::Damaged("incomplete record"))?;
    let crc = crc32c::crc32c_append(crc32c::crc32c(&len_bytes), payload);
    if crc != u32::from_le_bytes(crc_bytes) {
        return Err(FrameError::Damaged("record checksum mismatch"));
    }
    let mut txid = [0u8; 8];
    txid.copy_from_slice(&payload[..8]);
    let op = EditOp::decode(&payload[8..]).map_err(|e| {
        FrameError::Undecodable(match e {
            super::codec::DecodeError::Truncated => "record fields truncated",
            super::codec::DecodeError::Invalid(why) => why,
        })
    })?;
    Ok((u64::from_le_bytes(txid), op, FRAME_HEADER_LEN + len))
}

/// True if a checksum-valid record starts anywhere in `data`.
fn any_valid_record(data: &[u8]) -> bool {
    (0..data
        .len()
        .saturating_sub(FRAME_HEADER_LEN + MIN_RECORD_LEN - 1))
        .any(|off| !matches!(parse_record(&data[off..]), Err(FrameError::Damaged(_))))
}

/// What reading a segment found.
#[derive(Debug)]
pub struct SegmentScan {
    /// Records in file order.
    pub ops: Vec<(u64, EditOp)>,
    /// Where each record of `ops` starts in the file.
    pub offsets: Vec<u64>,
    /// Bytes of the file that hold the header and whole valid records.
    pub valid_len: u64,
    /// True if bytes after `valid_len` were a torn record (to be truncated).
    pub torn: bool,
}

/// Reads a whole segment. `allow_torn` is true only for the last in-progress segment;
/// a finalized segment must be entirely valid.
pub fn read_segment(path: &Path, allow_torn: bool) -> Result<SegmentScan> {
    let mut data = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .map_err(|e| Error::io(path, e))?;
    let corrupt = |offset: usize, reason| Error::Corrupt {
        file: path.to_owned(),
        offset: offset as u64,
        reason,
    };
    if data.len() < SEGMENT_HEADER_LEN {
        // A segment whose header was never completely written holds no edits.
        return if allow_torn && (data.iter().all(|&b| b == 0) || header().starts_with(&data)) {
            Ok(SegmentScan {
                ops: Vec::new(),
                offsets: Vec::new(),
                valid_len: 0,
                torn: !data.is_empty(),
            })
        } else {
            Err(corrupt(0, "short segment header"))
        };
    }
    if data[..SEGMENT_HEADER_LEN] != header() {
        return Err(corrupt(0, "bad segment magic or version"));
    }
    let mut pos = SEGMENT_HEADER_LEN;
    let mut ops = Vec::new();
    let mut offsets = Vec::new();
    let mut torn = false;
    while pos < data.len() {
        match parse_record(&data[pos..]) {
            Ok((txid, op, used)) => {
                ops.push((txid, op));
                offsets.push(pos as u64);
                pos += used;
            }
            Err(FrameError::Undecodable(why)) => return Err(corrupt(pos, why)),
            Err(FrameError::Damaged(why)) => {
                if !allow_torn || any_valid_record(&data[pos + 1..]) {
                    return Err(corrupt(pos, why));
                }
                torn = true;
                break;
            }
        }
    }
    Ok(SegmentScan {
        ops,
        offsets,
        valid_len: pos as u64,
        torn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write_segment(path: &Path, n: u64) -> Vec<usize> {
        let mut buf = header().to_vec();
        let mut ends = Vec::new();
        for txid in 1..=n {
            encode_record(&mut buf, txid, &EditOp::SetGenstamp { gs: 1000 + txid });
            ends.push(buf.len());
        }
        File::create(path).unwrap().write_all(&buf).unwrap();
        ends
    }

    #[test]
    fn reads_back_records() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("seg");
        write_segment(&p, 5);
        let scan = read_segment(&p, false).unwrap();
        assert_eq!(scan.ops.len(), 5);
        assert_eq!(scan.ops[4], (5, EditOp::SetGenstamp { gs: 1005 }));
        assert!(!scan.torn);
    }

    #[test]
    fn torn_tail_is_cut_at_every_offset() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("seg");
        let ends = write_segment(&p, 4);
        let full = std::fs::read(&p).unwrap();
        for cut in ends[2] + 1..ends[3] {
            std::fs::write(&p, &full[..cut]).unwrap();
            let scan = read_segment(&p, true).unwrap();
            assert_eq!(scan.ops.len(), 3, "cut at {cut}");
            assert_eq!(scan.valid_len as usize, ends[2]);
            assert!(scan.torn);
            // A finalized segment may not be torn.
            assert!(read_segment(&p, false).is_err());
        }
        // Zeros after the last record (a preallocated or extended file) are a torn tail too.
        let mut padded = full.clone();
        padded.extend_from_slice(&[0u8; 100]);
        std::fs::write(&p, &padded).unwrap();
        let scan = read_segment(&p, true).unwrap();
        assert_eq!(scan.ops.len(), 4);
        assert!(scan.torn);
    }

    #[test]
    fn corrupt_middle_is_a_hard_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("seg");
        let ends = write_segment(&p, 4);
        let mut data = std::fs::read(&p).unwrap();
        data[ends[1] + 10] ^= 0x40; // inside record 3's payload
        std::fs::write(&p, &data).unwrap();
        match read_segment(&p, true) {
            Err(Error::Corrupt { offset, .. }) => assert_eq!(offset as usize, ends[1]),
            other => panic!("expected corruption, got {other:?}"),
        }
        // Corrupting the final record alone is indistinguishable from a torn write.
        let mut data = std::fs::read(&p).unwrap();
        data[ends[1] + 10] ^= 0x40;
        data[ends[2] + 10] ^= 0x40;
        std::fs::write(&p, &data).unwrap();
        let scan = read_segment(&p, true).unwrap();
        assert_eq!(scan.ops.len(), 3);
    }

    #[test]
    fn every_damaged_finalized_segment_is_a_typed_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("seg");
        write_segment(&p, 3);
        let full = std::fs::read(&p).unwrap();
        let check = |data: &[u8], case: &str| {
            std::fs::write(&p, data).unwrap();
            match read_segment(&p, false) {
                Ok(scan) => assert!(scan.valid_len as usize <= data.len(), "{case}"),
                Err(Error::Corrupt { file, offset, .. }) => {
                    assert_eq!(file, p, "{case}");
                    assert!(offset as usize <= data.len(), "{case}: offset {offset}");
                }
                Err(e) => panic!("{case}: {e:?}"),
            }
        };
        for cut in 0..full.len() {
            check(&full[..cut], &format!("cut at {cut}"));
        }
        for at in 0..full.len() {
            let mut d = full.clone();
            d[at] ^= 0xff;
            check(&d, &format!("flip at {at}"));
        }
        // A record claiming 4 GiB in a small file.
        let mut d = full.clone();
        d[SEGMENT_HEADER_LEN..SEGMENT_HEADER_LEN + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        std::fs::write(&p, &d).unwrap();
        assert!(matches!(
            read_segment(&p, false),
            Err(Error::Corrupt { offset, .. }) if offset as usize == SEGMENT_HEADER_LEN
        ));
    }

    #[test]
    fn bad_header_and_short_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("seg");
        std::fs::write(&p, b"FERRO").unwrap();
        assert_eq!(read_segment(&p, true).unwrap().ops.len(), 0);
        std::fs::write(&p, b"").unwrap();
        assert!(!read_segment(&p, true).unwrap().torn);
        std::fs::write(&p, b"NOTANEDITLOGFILE").unwrap();
        assert!(read_segment(&p, true).is_err());
    }
}
