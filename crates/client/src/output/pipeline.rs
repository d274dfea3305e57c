//! A write pipeline's nodes and its connection: Hadoop's `createBlockOutputStream`
//! (connect to the first node, send WRITE_BLOCK naming the downstream targets, read the
//! connect ack) and `transfer` (TRANSFER_BLOCK of a partial block to a new node).

use crate::config::ClientConf;
use crate::datanode::{connect, node_name, DnStream};
use crate::{Error, Result};
use ferrodfs_proto::hdfs::op_write_block_proto::BlockConstructionStage;
use ferrodfs_proto::hdfs::{
    BaseHeaderProto, BlockOpResponseProto, ChecksumProto, ClientOperationHeaderProto,
    DatanodeInfoProto, ExtendedBlockProto, LocatedBlockProto, OpTransferBlockProto,
    OpWriteBlockProto, Status, StorageTypeProto,
};
use ferrodfs_transfer::checksum::DataChecksum;
use ferrodfs_transfer::op::{read_delimited, write_op, Op};

/// The nodes of a pipeline, with their storage types and ids (parallel vectors).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Nodes {
    pub nodes: Vec<DatanodeInfoProto>,
    pub storage_types: Vec<i32>,
    pub storage_ids: Vec<String>,
}

impl Nodes {
    /// The nodes of a located block (missing storage arrays read as DISK / "").
    pub fn of(lb: &LocatedBlockProto) -> Nodes {
        let n = lb.locs.len();
        let mut types = lb.storage_types.clone();
        types.resize(n, StorageTypeProto::Disk as i32);
        let mut ids = lb.storage_i_ds.clone();
        ids.resize(n, String::new());
        Nodes {
            nodes: lb.locs.clone(),
            storage_types: types,
            storage_ids: ids,
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Removes node `i`, returning it.
    pub fn remove(&mut self, i: usize) -> Option<DatanodeInfoProto> {
        if i >= self.nodes.len() {
            return None;
        }
        self.storage_types.remove(i);
        self.storage_ids.remove(i);
        Some(self.nodes.remove(i))
    }

    /// Index of the node whose transfer address (`ip:port`) is `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| node_name(n) == name)
    }

    /// Names for logs.
    pub fn names(&self) -> String {
        let names: Vec<String> = self.nodes.iter().map(node_name).collect();
        format!("[{}]", names.join(", "))
    }
}

/// Why a pipeline could not be set up, and which node to blame.
#[derive(Debug)]
pub struct SetupFailure {
    /// The node to exclude or drop: `firstBadLink`'s, else the first.
    pub bad_node: usize,
    pub error: Error,
}

/// What a WRITE_BLOCK asks for.
#[derive(Debug, Clone)]
pub struct WriteBlockRequest<'a> {
    pub block: &'a ExtendedBlockProto,
    pub client_name: &'a str,
    pub stage: BlockConstructionStage,
    /// New generation stamp (append, recovery), 0 for a new block.
    pub latest_gs: u64,
    /// Bytes acknowledged so far in the block.
    pub min_bytes_rcvd: u64,
    /// Bytes sent so far in the block.
    pub max_bytes_rcvd: u64,
    pub checksum: DataChecksum,
}

/// Connects to the first of `nodes` and sets up a pipeline through all of them.
pub fn create_block_output_stream(
    conf: &ClientConf,
    nodes: &Nodes,
    req: &WriteBlockRequest<'_>,
) -> Result<DnStream, SetupFailure> {
    let Some(first) = nodes.nodes.first() else {
        return Err(SetupFailure {
            bad_node: 0,
            error: Error::AllDataNodesBad {
                block: block_name(req.block),
            },
        });
    };
    let fail = |error| SetupFailure { bad_node: 0, error };
    let mut stream = connect(
        first,
        conf.socket_timeout,
        Some(conf.read_timeout(nodes.len())),
        Some(conf.pipeline_write_timeout(nodes.len())),
    )
    .map_err(fail)?;
    let op = OpWriteBlockProto {
        header: client_header(req.block, req.client_name),
        targets: nodes.nodes[1..].to_vec(),
        source: None,
        stage: req.stage as i32,
        pipeline_size: nodes.len() as u32,
        min_bytes_rcvd: req.min_bytes_rcvd,
        max_bytes_rcvd: req.max_bytes_rcvd,
        latest_generation_stamp: req.latest_gs,
        requested_checksum: ChecksumProto {
            r#type: i32::from(req.checksum.kind().id()),
            bytes_per_checksum: req.checksum.bytes_per_checksum(),
        },
        caching_strategy: None,
        storage_type: nodes.storage_types.first().copied(),
        target_storage_types: nodes.storage_types[1..].to_vec(),
        allow_lazy_persist: None,
        pinning: None,
        target_pinnings: Vec::new(),
        storage_id: nodes.storage_ids.first().cloned(),
        target_storage_ids: nodes.storage_ids[1..].to_vec(),
    };
    let name = stream.name.clone();
    write_op(&mut stream.stream, Op::WriteBlock, &op).map_err(|source| {
        fail(Error::DataNodeIo {
            node: name.clone(),
            source,
        })
    })?;
    let resp: BlockOpResponseProto = read_delimited(&mut stream.stream, "WRITE_BLOCK reply")
        .map_err(|source| {
            fail(Error::Transfer {
                node: name.clone(),
                source,
            })
        })?;
    let status = Status::try_from(resp.status).unwrap_or(Status::Error);
    if status != Status::Success {
        let first_bad_link = resp.first_bad_link.clone().filter(|l| !l.is_empty());
        let bad_node = first_bad_link
            .as_deref()
            .and_then(|l| nodes.index_of(l))
            .unwrap_or(0);
        return Err(SetupFailure {
            bad_node,
            error: Error::DataNodeRefused {
                op: "WRITE_BLOCK",
                node: name,
                status,
                message: resp.message.unwrap_or_default(),
                first_bad_link,
            },
        });
    }
    Ok(stream)
}

/// Copies the partial block `block` (its acknowledged bytes) from `source` to
/// `targets` with TRANSFER_BLOCK, as pipeline recovery does before adding a node.
pub fn transfer_block(
    conf: &ClientConf,
    source: &DatanodeInfoProto,
    targets: &Nodes,
    block: &ExtendedBlockProto,
    client_name: &str,
) -> Result<()> {
    let mut stream = connect(
        source,
        conf.socket_timeout,
        Some(conf.read_timeout(2)),
        Some(conf.pipeline_write_timeout(2)),
    )?;
    let op = OpTransferBlockProto {
        header: client_header(block, client_name),
        targets: targets.nodes.clone(),
        target_storage_types: targets.storage_types.clone(),
        target_storage_ids: targets.storage_ids.clone(),
    };
    let name = stream.name.clone();
    write_op(&mut stream.stream, Op::TransferBlock, &op).map_err(|source| Error::DataNodeIo {
        node: name.clone(),
        source,
    })?;
    let resp: BlockOpResponseProto = read_delimited(&mut stream.stream, "TRANSFER_BLOCK reply")
        .map_err(|source| Error::Transfer {
            node: name.clone(),
            source,
        })?;
    let status = Status::try_from(resp.status).unwrap_or(Status::Error);
    if status != Status::Success {
        return Err(Error::DataNodeRefused {
            op: "TRANSFER_BLOCK",
            node: name,
            status,
            message: resp.message.unwrap_or_default(),
            first_bad_link: None,
        });
    }
    Ok(())
}

/// The op header every client op carries (no block token: simple auth).
pub fn client_header(block: &ExtendedBlockProto, client_name: &str) -> ClientOperationHeaderProto {
    ClientOperationHeaderProto {
        base_header: BaseHeaderProto {
            block: block.clone(),
            token: None,
            trace_info: None,
        },
        client_name: client_name.to_owned(),
    }
}

/// `BP-...:blk_<id>_<gs>`, as Hadoop prints an `ExtendedBlock`.
pub fn block_name(b: &ExtendedBlockProto) -> String {
    format!("{}:blk_{}_{}", b.pool_id, b.block_id, b.generation_stamp)
}

/// The recovery stage of a stage (Hadoop's `getRecoveryStage`: the stage's ordinal
/// with bit 0 set).
pub fn recovery_stage(stage: BlockConstructionStage) -> BlockConstructionStage {
    match stage {
        BlockConstructionStage::PipelineSetupAppend => {
            BlockConstructionStage::PipelineSetupAppendRecovery
        }
        BlockConstructionStage::PipelineClose => BlockConstructionStage::PipelineCloseRecovery,
        other if other as i32 & 1 == 1 => other,
        _ => BlockConstructionStage::PipelineSetupStreamingRecovery,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrodfs_proto::hdfs::DatanodeIdProto;

    fn node(port: u32) -> DatanodeInfoProto {
        DatanodeInfoProto {
            id: DatanodeIdProto {
                ip_addr: "127.0.0.1".into(),
                host_name: "localhost".into(),
                datanode_uuid: format!("dn-{port}"),
                xfer_port: port,
                info_port: 0,
                ipc_port: 0,
                info_secure_port: None,
            },
            ..Default::default()
        }
    }

    #[test]
    fn nodes_stay_parallel() {
        let lb = LocatedBlockProto {
            locs: vec![node(1), node(2), node(3)],
            storage_i_ds: vec!["s1".into(), "s2".into(), "s3".into()],
            ..Default::default()
        };
        let mut n = Nodes::of(&lb);
        assert_eq!(n.storage_types.len(), 3);
        assert_eq!(n.index_of("127.0.0.1:2"), Some(1));
        assert_eq!(n.remove(1).unwrap().id.xfer_port, 2);
        assert_eq!(n.storage_ids, vec!["s1".to_string(), "s3".to_string()]);
        assert_eq!(n.names(), "[127.0.0.1:1, 127.0.0.1:3]");
        assert!(n.remove(5).is_none());
    }

    #[test]
    fn recovery_stages_are_hadoops() {
        use BlockConstructionStage as S;
        assert_eq!(
            recovery_stage(S::DataStreaming),
            S::PipelineSetupStreamingRecovery
        );
        assert_eq!(recovery_stage(S::PipelineClose), S::PipelineCloseRecovery);
        assert_eq!(
            recovery_stage(S::PipelineSetupAppend),
            S::PipelineSetupAppendRecovery
        );
        assert_eq!(
            recovery_stage(S::PipelineSetupStreamingRecovery),
            S::PipelineSetupStreamingRecovery
        );
    }
}
