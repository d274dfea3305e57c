//! The replica list of a full block report (Hadoop's `BlockListAsLongs`), in both of its
//! encodings inside `StorageBlockReportProto`:
//!
//! * **buffers** (`blocksBuffers` + `numberOfBlocks`, what Hadoop 2.7+ DataNodes send when
//!   the NameNode advertises the capability): the concatenated buffers hold, per replica,
//!   `sint64` (zig-zag varint) block id, varint length (low 48 bits), varint generation
//!   stamp, varint replica state (low 4 bits; 0 = FINALIZED);
//! * **longs** (`blocks`, the old format): `[n_finalized, n_uc]`, then 3 longs per
//!   finalized replica (id, length, stamp), a delimiter `-1, -1, -1`, then 4 longs per
//!   other replica (id, length, stamp, state).
//!
//! Decoding never panics on what a DataNode sent: a short or malformed list is an error.

use ferrodfs_proto::hdfs::datanode::StorageBlockReportProto;
use prost::bytes::Buf;

use crate::namesystem::ReportedBlock;

/// `ReplicaState.FINALIZED`.
pub const REPLICA_FINALIZED: u64 = 0;
/// Bits of the length field that carry the length.
const NUM_BYTES_MASK: u64 = (1 << 48) - 1;
/// Bits of the state field that carry the state.
const REPLICA_STATE_MASK: u64 = 0xF;
/// Most replicas one report may claim (bounds allocations made from its counts).
pub const MAX_REPORTED_BLOCKS: u64 = 64 * 1024 * 1024;
/// Fewest bytes one replica takes in the buffer encoding (four one-byte varints): a
/// report's claimed count is bounded by its buffer length over this before anything
/// is reserved.
pub const MIN_BUFFER_BYTES_PER_BLOCK: usize = 4;

/// A block report list that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed block report: {0}")]
pub struct BlockListError(pub &'static str);

/// Decodes a storage's replica list, whichever encoding it uses.
pub fn decode(report: &StorageBlockReportProto) -> Result<Vec<ReportedBlock>, BlockListError> {
    if report.number_of_blocks.is_some() || !report.blocks_buffers.is_empty() {
        decode_buffers(report.number_of_blocks.unwrap_or(0), &report.blocks_buffers)
    } else {
        decode_longs(&report.blocks)
    }
}

/// The buffer encoding.
pub fn decode_buffers(
    count: u64,
    buffers: &[Vec<u8>],
) -> Result<Vec<ReportedBlock>, BlockListError> {
    if count > MAX_REPORTED_BLOCKS {
        return Err(BlockListError("too many blocks"));
    }
    let total: usize = buffers.iter().map(Vec::len).sum();
    if count > (total / MIN_BUFFER_BYTES_PER_BLOCK) as u64 {
        return Err(BlockListError("more blocks claimed than the buffers hold"));
    }
    let bytes: Vec<u8> = buffers.concat();
    let mut buf = &bytes[..];
    let mut out = Vec::with_capacity(count as usize);
    let next = |buf: &mut &[u8]| {
        prost::encoding::decode_varint(buf).map_err(|_| BlockListError("truncated varint"))
    };
    for _ in 0..count {
        let zz = next(&mut buf)?;
        let id = (zz >> 1) as i64 ^ -((zz & 1) as i64);
        let len = next(&mut buf)? & NUM_BYTES_MASK;
        let gs = next(&mut buf)?;
        let state = next(&mut buf)? & REPLICA_STATE_MASK;
        out.push(ReportedBlock {
            block_id: id as u64,
            gs,
            num_bytes: len,
            finalized: state == REPLICA_FINALIZED,
        });
    }
    if buf.has_remaining() {
        return Err(BlockListError("bytes after the last block"));
    }
    Ok(out)
}

/// The old long-array encoding.
pub fn decode_longs(longs: &[u64]) -> Result<Vec<ReportedBlock>, BlockListError> {
    if longs.is_empty() {
        return Ok(Vec::new());
    }
    let [n_fin, n_uc, rest @ ..] = longs else {
        return Err(BlockListError("missing header"));
    };
    let (n_fin, n_uc) = (*n_fin, *n_uc);
    if n_fin > MAX_REPORTED_BLOCKS || n_uc > MAX_REPORTED_BLOCKS {
        return Err(BlockListError("too many blocks"));
    }
    // Checked against the longs actually sent before anything is reserved.
    let fin_len = 3 * n_fin as usize;
    let expected = fin_len + 3 + 4 * n_uc as usize;
    // Hadoop always writes the delimiter; accept its absence when there is no UC part.
    if rest.len() != expected && !(n_uc == 0 && rest.len() == fin_len) {
        return Err(BlockListError("length does not match the header"));
    }
    let mut out = Vec::with_capacity((n_fin + n_uc) as usize);
    for b in rest[..fin_len].chunks_exact(3) {
        out.push(ReportedBlock {
            block_id: b[0],
            num_bytes: b[1],
            gs: b[2],
            finalized: true,
        });
    }
    if rest.len() > fin_len {
        if rest[fin_len..fin_len + 3] != [u64::MAX; 3] {
            return Err(BlockListError("missing delimiter"));
        }
        for b in rest[fin_len + 3..].chunks_exact(4) {
            out.push(ReportedBlock {
                block_id: b[0],
                num_bytes: b[1],
                gs: b[2],
                finalized: b[3] & REPLICA_STATE_MASK == REPLICA_FINALIZED,
            });
        }
    }
    Ok(out)
}

/// Encodes replicas in the buffer encoding (`numberOfBlocks`, one buffer); what a
/// DataNode sends. `state` per replica: 0 FINALIZED, 1 RBW, 2 RWR, 3 RUR, 4 TEMPORARY.
pub fn encode_buffers(replicas: &[(u64, u64, u64, u64)]) -> (u64, Vec<u8>) {
    let mut out = Vec::with_capacity(replicas.len() * 12);
    for &(id, len, gs, state) in replicas {
        let id = id as i64;
        prost::encoding::encode_varint(((id << 1) ^ (id >> 63)) as u64, &mut out);
        prost::encoding::encode_varint(len, &mut out);
        prost::encoding::encode_varint(gs, &mut out);
        prost::encoding::encode_varint(state, &mut out);
    }
    (replicas.len() as u64, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rb(id: u64, len: u64, gs: u64, finalized: bool) -> ReportedBlock {
        ReportedBlock {
            block_id: id,
            gs,
            num_bytes: len,
            finalized,
        }
    }

    #[test]
    fn buffers_round_trip_and_split_anywhere() {
        let reps = [
            (1 << 30 | 1, 1024, 1001, 0),
            (1 << 30 | 2, 0, 1002, 1),
            (u64::MAX - 5, 7, 3, 0), // a negative (legacy) block id
        ];
        let (n, bytes) = encode_buffers(&reps);
        let want = vec![
            rb(1 << 30 | 1, 1024, 1001, true),
            rb(1 << 30 | 2, 0, 1002, false),
            rb(u64::MAX - 5, 7, 3, true),
        ];
        assert_eq!(
            decode_buffers(n, std::slice::from_ref(&bytes)).unwrap(),
            want
        );
        // Hadoop cuts the buffer into 64 KiB chunks with no regard for varints.
        let (a, b) = bytes.split_at(5);
        let report = StorageBlockReportProto {
            number_of_blocks: Some(n),
            blocks_buffers: vec![a.to_vec(), b.to_vec()],
            ..Default::default()
        };
        assert_eq!(decode(&report).unwrap(), want);
    }

    #[test]
    fn buffers_reject_truncation_and_trailing_bytes() {
        let (n, bytes) = encode_buffers(&[(5, 6, 7, 0)]);
        assert!(decode_buffers(n, &[bytes[..bytes.len() - 1].to_vec()]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_buffers(n, &[longer]).is_err());
        assert!(decode_buffers(MAX_REPORTED_BLOCKS + 1, std::slice::from_ref(&bytes)).is_err());
        // 64 Mi blocks claimed in a few bytes: refused before any reservation.
        assert_eq!(
            decode_buffers(MAX_REPORTED_BLOCKS, &[bytes]),
            Err(BlockListError("more blocks claimed than the buffers hold"))
        );
    }

    #[test]
    fn longs_with_finalized_and_uc_parts() {
        let m = u64::MAX;
        let longs = [2, 1, 10, 100, 1001, 11, 200, 1002, m, m, m, 12, 5, 1003, 1];
        assert_eq!(
            decode_longs(&longs).unwrap(),
            vec![
                rb(10, 100, 1001, true),
                rb(11, 200, 1002, true),
                rb(12, 5, 1003, false)
            ]
        );
        assert_eq!(decode_longs(&[0, 0, m, m, m]).unwrap(), vec![]);
        assert_eq!(decode_longs(&[]).unwrap(), vec![]);
        assert!(decode_longs(&[1]).is_err());
        assert!(decode_longs(&[1, 0, 10, 100]).is_err());
        assert!(decode_longs(&[0, 1, 1, 2, 3, 12, 5, 1003, 1]).is_err());
        assert!(decode_longs(&[u64::MAX, 0]).is_err());
    }
}
