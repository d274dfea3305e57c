//! [`DataNode`]: storage and the data-transfer server, started and stopped
//! together, so a minicluster can run several in one process.
//!
//! The NameNode actor (issue 5, item 3) is not here yet. Its seam:
//! * it adds block pools after the handshake with
//!   [`DataNode::dataset`]`().add_block_pool(..)` (until then no block can be
//!   written: [`crate::Error::UnknownBlockPool`]);
//! * it receives [`BlockEvent`](crate::BlockEvent)s for incremental block
//!   reports through the listener in [`DataNodeConfig::events`];
//! * it carries out commands with [`DataNode::transfer_block`]
//!   (`DNA_TRANSFER`) and [`DataNode::invalidate`] (`DNA_INVALIDATE`), and
//!   reads block and storage reports from the dataset;
//! * it registers with [`DataNode::datanode_id`].

use std::net::SocketAddr;
use std::sync::Arc;

use ferrodfs_conf::{keys, Configuration};
use ferrodfs_proto::hdfs::op_write_block_proto::BlockConstructionStage as Stage;
use ferrodfs_proto::hdfs::{DatanodeIdProto, DatanodeInfoProto};

use crate::events::{BlockEvent, BlockEventListener, NoEvents};
use crate::storage::{DatasetConfig, ExtendedBlock, FsDataset};
use crate::xceiver::{transfer, DataXceiverServer, XceiverConfig};
use crate::{Error, Result};

/// Default of `dfs.datanode.address`'s port.
pub const DFS_DATANODE_DEFAULT_PORT: u16 = 9866;

/// Everything [`DataNode::start`] needs.
#[derive(Clone)]
pub struct DataNodeConfig {
    /// Data directories and volume policy.
    pub dataset: DatasetConfig,
    /// Where the transfer server listens (`dfs.datanode.address`; port 0 for
    /// any free port, as tests do).
    pub xfer_bind: SocketAddr,
    /// Transfer server settings.
    pub xceiver: XceiverConfig,
    /// Who hears of received and deleted blocks (the NameNode actor).
    pub events: Arc<dyn BlockEventListener>,
}

impl std::fmt::Debug for DataNodeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataNodeConfig")
            .field("dataset", &self.dataset)
            .field("xfer_bind", &self.xfer_bind)
            .field("xceiver", &self.xceiver)
            .finish_non_exhaustive()
    }
}

impl DataNodeConfig {
    /// `data_dirs`, listening on 127.0.0.1 at a free port, defaults
    /// elsewhere, no event listener.
    pub fn new(data_dirs: Vec<std::path::PathBuf>) -> DataNodeConfig {
        DataNodeConfig {
            dataset: DatasetConfig::new(data_dirs),
            xfer_bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            xceiver: XceiverConfig::default(),
            events: Arc::new(NoEvents),
        }
    }

    /// From Hadoop's keys: `dfs.datanode.data.dir`, `dfs.datanode.address`,
    /// the transfer timeouts and limits.
    pub fn from_conf(conf: &Configuration) -> Result<DataNodeConfig> {
        let addr = conf
            .get_socket_addr(keys::DFS_DATANODE_ADDRESS, Some(DFS_DATANODE_DEFAULT_PORT))?
            .map(|hp| format!("{}:{}", hp.host, hp.port))
            .unwrap_or_else(|| format!("0.0.0.0:{DFS_DATANODE_DEFAULT_PORT}"));
        let xfer_bind = std::net::ToSocketAddrs::to_socket_addrs(&addr)
            .map_err(|source| Error::Net {
                op: "resolve dfs.datanode.address",
                peer: addr.clone(),
                source,
            })?
            .next()
            .ok_or(Error::InvalidRequest {
                what: "dfs.datanode.address resolves to nothing",
            })?;
        Ok(DataNodeConfig {
            dataset: DatasetConfig::from_conf(conf)?,
            xfer_bind,
            xceiver: XceiverConfig::from_conf(conf)?,
            events: Arc::new(NoEvents),
        })
    }
}

/// A running DataNode: its [`FsDataset`] and transfer server.
#[derive(Debug)]
pub struct DataNode {
    ds: FsDataset,
    server: DataXceiverServer,
}

impl DataNode {
    /// Opens the data directories and starts the transfer server.
    pub fn start(config: DataNodeConfig) -> Result<DataNode> {
        let ds = FsDataset::open(config.dataset)?;
        let server =
            DataXceiverServer::start(ds.clone(), config.xceiver, config.events, config.xfer_bind)?;
        tracing::info!(uuid = ds.datanode_uuid(), addr = %server.local_addr(), "DataNode started");
        Ok(DataNode { ds, server })
    }

    /// The transfer address (`ip:xferPort`).
    pub fn xfer_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The block store.
    pub fn dataset(&self) -> &FsDataset {
        &self.ds
    }

    /// Connections being served now.
    pub fn xceiver_count(&self) -> usize {
        self.server.xceiver_count()
    }

    /// This node as `DatanodeIDProto` (other ports 0 until the IPC and HTTP
    /// servers exist).
    pub fn datanode_id(&self) -> DatanodeIdProto {
        self.datanode_info().id
    }

    /// This node as a pipeline target.
    pub fn datanode_info(&self) -> DatanodeInfoProto {
        crate::xceiver::datanode_info(self.ds.datanode_uuid(), self.xfer_addr())
    }

    /// Copies this node's replica of `block` to `targets` (a NameNode
    /// `DNA_TRANSFER` re-replication command): WRITE_BLOCK stage
    /// PIPELINE_SETUP_CREATE with no client name; each target stores and
    /// finalizes it (and reports it received). Blocks until the data is sent;
    /// run it on a thread of its own.
    pub fn transfer_block(
        &self,
        block: &ExtendedBlock,
        targets: &[DatanodeInfoProto],
    ) -> Result<()> {
        let ctx = self.server.ctx();
        let (b, stage) = transfer::replica_for_transfer(ctx, block)?;
        if stage != Stage::TransferFinalized {
            return Err(Error::WrongState {
                block_id: block.block_id,
                state: crate::storage::ReplicaState::Rbw,
                op: "replicate (needs a finalized replica)",
            });
        }
        transfer::transfer_replica(ctx, &b, targets, &[], &[], Stage::PipelineSetupCreate, "")
    }

    /// Deletes replicas (`DNA_INVALIDATE`) and reports each deleted one.
    pub fn invalidate(&self, pool_id: &str, block_ids: &[i64]) -> Result<()> {
        let mut first_err = None;
        for &id in block_ids {
            let storage = self.ds.get_replica(pool_id, id).map(|r| r.storage_id);
            match self.ds.invalidate(pool_id, &[id]) {
                Ok(()) => {
                    if let Some(storage_id) = storage {
                        self.server
                            .ctx()
                            .events
                            .on_block_event(BlockEvent::Deleted {
                                pool_id: pool_id.to_string(),
                                block_id: id,
                                storage_id,
                            });
                    }
                }
                Err(e) => first_err = first_err.or(Some(e)),
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Stops the transfer server (cutting open connections) and releases the
    /// data directories.
    pub fn shutdown(mut self) {
        self.server.shutdown();
    }
}
