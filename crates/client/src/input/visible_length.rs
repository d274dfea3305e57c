//! The visible length of a file being written: how long the last block, still under
//! construction, is now, asked of its DataNodes (Hadoop's
//! `DFSInputStream.readBlockLength` and `fetchLocatedBlocksAndGetLastBlockLength`).
//!
//! The NameNode's `getBlockLocations` reports a file under construction with
//! `fileLength` counting only its complete blocks and the last block separately
//! (`lastBlock`, `isLastBlockComplete` false). What a writer hflushed into that block
//! is known only to the DataNodes of its pipeline: each serves
//! `getReplicaVisibleLength` (ClientDatanodeProtocol, at the node's IPC port), the
//! bytes every node of the pipeline acknowledged. The locations are asked in the
//! NameNode's order; the first answer is the length. A node without the replica
//! (`ReplicaNotFoundException`) counts as "no replica": if none of them has one, the
//! pipeline was never set up and the length is 0. Any other failure (a dead node, a
//! stale replica) leaves the length unknown, and the read fails with
//! [`Error::CannotObtainBlockLength`] rather than returning fewer bytes than were
//! hflushed.

use crate::datanode::node_name;
use crate::{DfsClient, Error, Result};
use ferrodfs_ipc::client::datanode::ClientDatanodeProtocolProxy;
use ferrodfs_ipc::JavaException;
use ferrodfs_proto::hdfs::{
    DatanodeInfoProto, GetReplicaVisibleLengthRequestProto, LocatedBlockProto, LocatedBlocksProto,
    StorageTypeProto,
};
use std::net::{IpAddr, SocketAddr};

/// What the last block of a located file adds to its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LastBlockLength {
    /// Complete file, or a last block under construction of this many bytes.
    Known(u64),
    /// The last block has bytes but no locations yet (Hadoop's `-1`): ask the
    /// NameNode again later.
    NoLocations,
}

/// The bytes the last block of `located` adds beyond `fileLength` (0 when it is
/// complete), asking its DataNodes when it is under construction.
pub(crate) fn last_block_length(
    client: &DfsClient,
    path: &str,
    located: &LocatedBlocksProto,
) -> Result<LastBlockLength> {
    if located.is_last_block_complete {
        return Ok(LastBlockLength::Known(0));
    }
    let Some(last) = &located.last_block else {
        return Ok(LastBlockLength::Known(0));
    };
    if last.locs.is_empty() {
        // No data written yet needs no location to wait for.
        return Ok(match last.b.num_bytes.unwrap_or(0) {
            0 => LastBlockLength::Known(0),
            _ => LastBlockLength::NoLocations,
        });
    }
    read_block_length(client, path, last).map(LastBlockLength::Known)
}

/// Hadoop's `readBlockLength`: the first visible length a location of `lb` reports.
pub(crate) fn read_block_length(
    client: &DfsClient,
    path: &str,
    lb: &LocatedBlockProto,
) -> Result<u64> {
    let rpc = client.namenode().client();
    let mut without_replica = 0;
    let req = GetReplicaVisibleLengthRequestProto {
        block: lb.b.clone(),
    };
    for node in &lb.locs {
        let Some(addr) = ipc_addr(node) else {
            tracing::debug!(node = %node_name(node), "no usable IPC address");
            continue;
        };
        let proxy = ClientDatanodeProtocolProxy::new(rpc.clone(), addr);
        match proxy.get_replica_visible_length(&req) {
            Ok(resp) => {
                tracing::debug!(file = path, node = %node_name(node), block = lb.b.block_id, length = resp.length, "visible length of the last block");
                return Ok(resp.length);
            }
            Err(e) => {
                if e.java_exception() == Some(&JavaException::ReplicaNotFound) {
                    without_replica += 1;
                }
                tracing::debug!(file = path, node = %node_name(node), block = lb.b.block_id, error = %e, "getReplicaVisibleLength failed");
            }
        }
    }
    // Every listed node answered that it has no replica: the NameNode allocated the
    // block but the pipeline never got to create it, so nothing was written.
    if without_replica == lb.locs.len() {
        return Ok(0);
    }
    Err(Error::CannotObtainBlockLength {
        block: java_located_block(lb),
        path: path.to_owned(),
    })
}

/// The node's ClientDatanodeProtocol address (`ipAddr:ipcPort`).
fn ipc_addr(node: &DatanodeInfoProto) -> Option<SocketAddr> {
    let ip: IpAddr = node.id.ip_addr.parse().ok()?;
    let port = u16::try_from(node.id.ipc_port).ok()?;
    Some(SocketAddr::new(ip, port))
}

/// Java's `StorageType` name of a storage type.
fn storage_type_name(t: i32) -> &'static str {
    match StorageTypeProto::try_from(t) {
        Ok(StorageTypeProto::Ssd) => "SSD",
        Ok(StorageTypeProto::Archive) => "ARCHIVE",
        Ok(StorageTypeProto::RamDisk) => "RAM_DISK",
        Ok(StorageTypeProto::Provided) => "PROVIDED",
        _ => "DISK",
    }
}

/// `lb` as Java's `LocatedBlock.toString` shows it, e.g.
/// `LocatedBlock{BP-1:blk_1073741825_1001; getBlockSize()=0; corrupt=false; offset=0;
/// locs=[DatanodeInfoWithStorage[127.0.0.1:9866,DS-1,DISK]]; cachedLocs=[]}`.
pub(crate) fn java_located_block(lb: &LocatedBlockProto) -> String {
    let locs: Vec<String> = lb
        .locs
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let storage = lb.storage_i_ds.get(i).map_or("null", String::as_str);
            let kind = lb
                .storage_types
                .get(i)
                .map_or("DISK", |&t| storage_type_name(t));
            format!("DatanodeInfoWithStorage[{},{storage},{kind}]", node_name(n))
        })
        .collect();
    format!(
        "LocatedBlock{{{}:blk_{}_{}; getBlockSize()={}; corrupt={}; offset={}; locs=[{}]; cachedLocs=[]}}",
        lb.b.pool_id,
        lb.b.block_id,
        lb.b.generation_stamp,
        lb.b.num_bytes.unwrap_or(0),
        lb.corrupt,
        lb.offset,
        locs.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrodfs_proto::hdfs::{DatanodeIdProto, ExtendedBlockProto};

    #[test]
    fn located_block_reads_as_java_prints_it() {
        let node = |port| DatanodeInfoProto {
            id: DatanodeIdProto {
                ip_addr: "127.0.0.1".into(),
                xfer_port: port,
                ..Default::default()
            },
            ..Default::default()
        };
        let lb = LocatedBlockProto {
            b: ExtendedBlockProto {
                pool_id: "BP-7".into(),
                block_id: 1073741825,
                generation_stamp: 1001,
                num_bytes: Some(512),
            },
            offset: 0,
            locs: vec![node(9866), node(9867)],
            storage_i_ds: vec!["DS-a".into(), "DS-b".into()],
            storage_types: vec![StorageTypeProto::Disk as i32, StorageTypeProto::Ssd as i32],
            ..Default::default()
        };
        assert_eq!(
            java_located_block(&lb),
            "LocatedBlock{BP-7:blk_1073741825_1001; getBlockSize()=512; corrupt=false; \
             offset=0; locs=[DatanodeInfoWithStorage[127.0.0.1:9866,DS-a,DISK], \
             DatanodeInfoWithStorage[127.0.0.1:9867,DS-b,SSD]]; cachedLocs=[]}"
        );
    }
}
