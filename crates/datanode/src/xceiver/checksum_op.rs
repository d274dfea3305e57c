//! BLOCK_CHECKSUM (`DataXceiver.blockChecksum` + `BlockChecksumHelper`,
//! MD5CRC only): the MD5 of the block's stored chunk checksums, from which
//! clients build `MD5-of-<crcPerBlock>MD5-of-<bytesPerCrc>CRC32C` file
//! checksums.
//!
//! Rules (Hadoop's `ReplicatedBlockChecksumComputer`):
//! * `crcPerBlock` = checksums in the meta file = (meta length − 7) / 4;
//! * the request's `numBytes` is the length to checksum; if it is below the
//!   replica's visible length (a partial block), the MD5 covers the stored
//!   checksums of its whole chunks plus a checksum computed over the bytes
//!   of its last partial chunk;
//! * otherwise the MD5 covers every stored checksum (a partial last chunk's
//!   stored checksum included).

use std::net::TcpStream;

use ferrodfs_proto::hdfs::{
    BlockChecksumTypeProto, BlockOpResponseProto, OpBlockChecksumProto,
    OpBlockChecksumResponseProto, Status,
};
use ferrodfs_transfer::op::{read_delimited, write_delimited};
use md5::{Digest, Md5};

use super::server::{Input, Next};
use super::{
    block_from_proto, checksum_type_proto, net_err, proto_err, send_error, status_of, Ctx,
};
use crate::storage::{ExtendedBlock, FsDataset};
use crate::{Error, Result};

/// A block's checksum as BLOCK_CHECKSUM reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockChecksum {
    /// Bytes per chunk checksum.
    pub bytes_per_crc: u32,
    /// Chunk checksums stored for the block.
    pub crc_per_block: u64,
    /// MD5 of the chunk checksums (16 bytes).
    pub md5: [u8; 16],
    /// The chunk checksum type.
    pub crc_type: ferrodfs_transfer::checksum::ChecksumType,
}

/// Computes the MD5-of-CRCs of `block` (its `num_bytes` is the length asked).
pub fn block_checksum_md5(ds: &FsDataset, block: &ExtendedBlock) -> Result<BlockChecksum> {
    let r = ds.open_for_read(block)?;
    let sum = r.checksum();
    let crc_per_block = r.stored_checksum_count()?;
    let bpc = u64::from(sum.bytes_per_checksum());
    let request_len = block.num_bytes;
    let mut md5 = Md5::new();
    if request_len < r.visible_length() && crc_per_block > 0 {
        let whole = request_len / bpc;
        md5.update(r.read_stored_checksums(0, whole)?);
        let partial = request_len % bpc;
        if partial > 0 {
            let mut buf = vec![0u8; partial as usize];
            r.read_data(request_len - partial, &mut buf)?;
            md5.update(sum.chunk_checksum(&buf).to_be_bytes());
        }
    } else {
        md5.update(r.read_stored_checksums(0, crc_per_block)?);
    }
    Ok(BlockChecksum {
        bytes_per_crc: sum.bytes_per_checksum(),
        crc_per_block,
        md5: md5.finalize().into(),
        crc_type: sum.kind(),
    })
}

/// Serves one BLOCK_CHECKSUM.
pub(crate) fn block_checksum(ctx: &Ctx, input: &mut Input, out: &TcpStream) -> Result<Next> {
    let op: OpBlockChecksumProto =
        read_delimited(input, "OpBlockChecksumProto").map_err(proto_err("read BLOCK_CHECKSUM"))?;
    let block = block_from_proto(&op.header.block);
    let kind = op
        .block_checksum_options
        .as_ref()
        .map(|o| o.block_checksum_type())
        .unwrap_or(BlockChecksumTypeProto::Md5crc);
    let result = if kind == BlockChecksumTypeProto::Md5crc {
        block_checksum_md5(&ctx.ds, &block)
    } else {
        Err(Error::Unsupported {
            what: "COMPOSITE_CRC block checksums",
        })
    };
    match result {
        Ok(c) => {
            let resp = BlockOpResponseProto {
                status: Status::Success as i32,
                checksum_response: Some(OpBlockChecksumResponseProto {
                    bytes_per_crc: c.bytes_per_crc,
                    crc_per_block: c.crc_per_block,
                    block_checksum: c.md5.to_vec(),
                    crc_type: Some(checksum_type_proto(c.crc_type) as i32),
                    block_checksum_options: None,
                }),
                ..Default::default()
            };
            write_delimited(&mut &*out, &resp).map_err(net_err("write response", ""))?;
            Ok(Next::KeepOpen)
        }
        Err(e) => {
            let msg = format!("opBlockChecksum {} received exception {e}", block.block_id);
            tracing::info!("{msg}");
            send_error(&mut &*out, status_of(&e), msg)?;
            Ok(Next::Close)
        }
    }
}
