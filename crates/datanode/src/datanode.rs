//! [`DataNode`]: storage and the data-transfer server, started and stopped
//! together, so a minicluster can run several in one process.
//!
//! With [`DataNodeConfig::namenode`] set, the DataNode also runs a
//! [`BpServiceActor`](crate::actor::BpServiceActor) that registers with the NameNode,
//! heartbeats, reports blocks and carries out the NameNode's commands. The seam it uses:
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

use crate::actor::{ActorConfig, BpServiceActor, CommandExecutor, DatanodeAddress, IbrQueue};
use crate::events::{BlockEvent, BlockEventListener, NoEvents};
use crate::shutdown::{Control, ShutdownRequest};
use crate::storage::restart::{
    DFS_DATANODE_RESTART_REPLICA_EXPIRY_DEFAULT, DFS_DATANODE_RESTART_REPLICA_EXPIRY_KEY,
};
use crate::storage::{DatasetConfig, ExtendedBlock, FsDataset};
use crate::xceiver::oob::{DFS_DATANODE_OOB_TIMEOUT_DEFAULT, DFS_DATANODE_OOB_TIMEOUT_KEY};
use crate::xceiver::{transfer, DataXceiverServer, XceiverConfig};
use crate::{Error, Result};

/// Default of `dfs.datanode.address`'s port.
pub const DFS_DATANODE_DEFAULT_PORT: u16 = 9866;
/// Default of `dfs.datanode.ipc.address`'s port.
pub const DFS_DATANODE_IPC_DEFAULT_PORT: u16 = 9867;
/// `dfs.namenode.servicerpc-address`: when set, the DataNode calls the NameNode there
/// instead of at `dfs.namenode.rpc-address` / `fs.defaultFS`.
pub const DFS_NAMENODE_SERVICE_RPC_ADDRESS: &str = "dfs.namenode.servicerpc-address";

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
    /// Who else hears of received and deleted blocks (the NameNode actor, when
    /// [`DataNodeConfig::namenode`] is set, always does).
    pub events: Arc<dyn BlockEventListener>,
    /// The NameNode to register with; `None` runs storage and the transfer server
    /// alone.
    pub namenode: Option<SocketAddr>,
    /// `dfs.heartbeat.interval`.
    pub heartbeat_interval: std::time::Duration,
    /// `dfs.blockreport.intervalMsec`.
    pub block_report_interval: std::time::Duration,
    /// Where the IPC server listens (`dfs.datanode.ipc.address`; port 0: any).
    pub ipc_bind: SocketAddr,
    /// `dfs.datanode.restart.replica.expiration`: how long replicas being written
    /// stay RBW across a restart for upgrade.
    pub restart_replica_expiry: std::time::Duration,
    /// `dfs.datanode.oob.timeout-ms` (its first, OOB_RESTART, entry).
    pub oob_timeout: std::time::Duration,
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
            namenode: None,
            heartbeat_interval: crate::actor::HEARTBEAT_INTERVAL_DEFAULT,
            block_report_interval: crate::actor::BLOCK_REPORT_INTERVAL_DEFAULT,
            ipc_bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            restart_replica_expiry: DFS_DATANODE_RESTART_REPLICA_EXPIRY_DEFAULT,
            oob_timeout: DFS_DATANODE_OOB_TIMEOUT_DEFAULT,
        }
    }

    /// From Hadoop's keys: `dfs.datanode.data.dir`, `dfs.datanode.address`,
    /// the transfer timeouts and limits.
    pub fn from_conf(conf: &Configuration) -> Result<DataNodeConfig> {
        let xfer_bind = bind_addr(
            conf,
            keys::DFS_DATANODE_ADDRESS,
            DFS_DATANODE_DEFAULT_PORT,
            "resolve dfs.datanode.address",
        )?;
        // Hadoop's DFSUtil.getNNServiceRpcAddresses: the service RPC address when the
        // NameNode has one, else its client RPC address.
        let service = conf.get_socket_addr(DFS_NAMENODE_SERVICE_RPC_ADDRESS, None)?;
        let namenode =
            match service.map_or_else(|| conf.namenode_rpc_address(), |hp| Ok(Some(hp)))? {
                Some(hp) => std::net::ToSocketAddrs::to_socket_addrs(&(hp.host.as_str(), hp.port))
                    .ok()
                    .and_then(|mut a| a.next()),
                None => None,
            };
        let ipc_bind = bind_addr(
            conf,
            keys::DFS_DATANODE_IPC_ADDRESS,
            DFS_DATANODE_IPC_DEFAULT_PORT,
            "resolve dfs.datanode.ipc.address",
        )?;
        let oob_timeout = conf
            .get_strings(DFS_DATANODE_OOB_TIMEOUT_KEY)?
            .first()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(
                DFS_DATANODE_OOB_TIMEOUT_DEFAULT,
                std::time::Duration::from_millis,
            );
        Ok(DataNodeConfig {
            restart_replica_expiry: conf.get_duration_in(
                DFS_DATANODE_RESTART_REPLICA_EXPIRY_KEY,
                DFS_DATANODE_RESTART_REPLICA_EXPIRY_DEFAULT,
                ferrodfs_conf::TimeUnit::Seconds,
            )?,
            oob_timeout,
            ipc_bind,
            dataset: DatasetConfig::from_conf(conf)?,
            xfer_bind,
            xceiver: XceiverConfig::from_conf(conf)?,
            events: Arc::new(NoEvents),
            namenode,
            heartbeat_interval: conf.get_duration(
                keys::DFS_HEARTBEAT_INTERVAL,
                crate::actor::HEARTBEAT_INTERVAL_DEFAULT,
            )?,
            block_report_interval: conf.get_duration(
                keys::DFS_BLOCKREPORT_INTERVAL_MSEC,
                crate::actor::BLOCK_REPORT_INTERVAL_DEFAULT,
            )?,
        })
    }
}

/// The socket address a `host:port` key names (`0.0.0.0:default_port` when unset).
fn bind_addr(
    conf: &Configuration,
    key: &str,
    default_port: u16,
    op: &'static str,
) -> Result<SocketAddr> {
    let addr = conf
        .get_socket_addr(key, Some(default_port))?
        .map(|hp| format!("{}:{}", hp.host, hp.port))
        .unwrap_or_else(|| format!("0.0.0.0:{default_port}"));
    std::net::ToSocketAddrs::to_socket_addrs(&addr)
        .map_err(|source| Error::Net {
            op,
            peer: addr.clone(),
            source,
        })?
        .next()
        .ok_or(Error::InvalidRequest {
            what: "a configured address resolves to nothing",
        })
}

/// A running DataNode: its [`FsDataset`] and transfer server.
#[derive(Debug)]
pub struct DataNode {
    ds: FsDataset,
    server: DataXceiverServer,
    ipc: Option<ferrodfs_ipc::server::Server>,
    ipc_addr: SocketAddr,
    actor: Option<BpServiceActor>,
    request: Arc<ShutdownRequest>,
}

impl DataNode {
    /// Opens the data directories and starts the transfer server.
    pub fn start(config: DataNodeConfig) -> Result<DataNode> {
        let ds = FsDataset::open(config.dataset)?;
        let queue = IbrQueue::new();
        let events: Arc<dyn BlockEventListener> = match config.namenode {
            Some(_) => Arc::new(Fanout(vec![config.events, Arc::new(queue.clone())])),
            None => config.events,
        };
        let server =
            DataXceiverServer::start(ds.clone(), config.xceiver, events, config.xfer_bind)?;
        let request = Arc::new(ShutdownRequest::default());
        let control = Arc::new(Control::new(
            Arc::clone(server.ctx()),
            Arc::clone(&request),
            config.restart_replica_expiry,
            config.oob_timeout,
        ));
        let ipc =
            crate::ipc::start(ds.clone(), control, config.ipc_bind).map_err(|e| Error::Net {
                op: "start the DataNode IPC server",
                peer: config.ipc_bind.to_string(),
                source: std::io::Error::other(e.to_string()),
            })?;
        let ipc_addr = ipc.local_addr();
        let ipc_port = ipc_addr.port();
        let actor = match config.namenode {
            Some(nn) => {
                let xfer = server.local_addr();
                let mut actor_config = ActorConfig::new(
                    nn,
                    DatanodeAddress {
                        ip: xfer.ip().to_string(),
                        hostname: xfer.ip().to_string(),
                        xfer_port: xfer.port(),
                        info_port: 0,
                        ipc_port,
                    },
                );
                actor_config.heartbeat_interval = config.heartbeat_interval;
                actor_config.block_report_interval = config.block_report_interval;
                let rpc = ferrodfs_ipc::RpcClient::new(ferrodfs_ipc::ClientConfig {
                    call_timeout: Some(std::time::Duration::from_secs(60)),
                    retry: ferrodfs_ipc::RetryPolicy::NONE,
                    ..ferrodfs_ipc::ClientConfig::default()
                });
                let executor = Arc::new(Executor {
                    ctx: Arc::clone(server.ctx()),
                    namenode: ferrodfs_ipc::client::datanode::DatanodeProtocolProxy::new(
                        rpc.clone(),
                        nn,
                    ),
                    rpc,
                });
                let actor = BpServiceActor::start(actor_config, ds.clone(), executor, queue)
                    .map_err(|source| Error::Net {
                        op: "start the NameNode actor",
                        peer: nn.to_string(),
                        source,
                    })?;
                Some(actor)
            }
            None => None,
        };
        tracing::info!(uuid = ds.datanode_uuid(), addr = %server.local_addr(), "DataNode started");
        Ok(DataNode {
            ds,
            server,
            ipc: Some(ipc),
            ipc_addr,
            actor,
            request,
        })
    }

    /// The NameNode actor, when the DataNode was started with a NameNode.
    pub fn actor(&self) -> Option<&BpServiceActor> {
        self.actor.as_ref()
    }

    /// The transfer address (`ip:xferPort`).
    pub fn xfer_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The IPC address (`dfs.datanode.ipc.address` as bound).
    pub fn ipc_addr(&self) -> SocketAddr {
        self.ipc_addr
    }

    /// Set by `shutdownDatanode` (or by the owner, e.g. on a signal): the owner
    /// waits on it and then calls [`DataNode::shutdown`].
    pub fn shutdown_request(&self) -> Arc<ShutdownRequest> {
        Arc::clone(&self.request)
    }

    /// Acks this node marked ECN CONGESTED.
    pub fn ecn_congested_acks(&self) -> u64 {
        self.server.ctx().ecn.congested_acks()
    }

    /// Replaces the ECN settings read at start (`dfs.pipeline.ecn`,
    /// `dfs.pipeline.congestion.ratio`).
    pub fn set_ecn(&self, config: crate::xceiver::ecn::EcnConfig) {
        self.server.ctx().ecn.set_config(config);
    }

    /// Limits this node's packet writes to `bytes_per_sec` in all (0: no limit): a
    /// slow disk for congestion tests and benchmarks (`xceiver::slow_disk`).
    pub fn set_disk_write_bandwidth(&self, bytes_per_sec: u64) {
        self.server.ctx().slow_disk.set_bandwidth(bytes_per_sec);
    }

    /// Downstream nodes this node found slow to ack (by transfer address).
    pub fn slow_peers(
        &self,
    ) -> std::collections::HashMap<String, crate::xceiver::slow_peers::SlowPeer> {
        self.server.ctx().slow_peers.snapshot()
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
        if let Some(actor) = self.actor.take() {
            actor.shutdown();
        }
        if let Some(ipc) = self.ipc.take() {
            ipc.shutdown();
        }
        self.server.shutdown();
    }
}

/// Sends every event to several listeners.
struct Fanout(Vec<Arc<dyn BlockEventListener>>);

impl BlockEventListener for Fanout {
    fn on_block_event(&self, event: BlockEvent) {
        for l in &self.0 {
            l.on_block_event(event.clone());
        }
    }
}

/// Carries out the NameNode's data-moving commands on threads of their own.
struct Executor {
    ctx: Arc<crate::xceiver::Ctx>,
    rpc: ferrodfs_ipc::RpcClient,
    namenode: ferrodfs_ipc::client::datanode::DatanodeProtocolProxy,
}

impl CommandExecutor for Executor {
    fn transfer(
        &self,
        pool_id: &str,
        block: &ferrodfs_proto::hdfs::BlockProto,
        targets: &[DatanodeInfoProto],
        target_storage_ids: &[String],
        target_storage_types: &[ferrodfs_proto::hdfs::StorageTypeProto],
    ) {
        let ctx = Arc::clone(&self.ctx);
        let block = ExtendedBlock::new(
            pool_id,
            block.block_id as i64,
            block.gen_stamp,
            block.num_bytes(),
        );
        let targets = targets.to_vec();
        let ids = target_storage_ids.to_vec();
        let types: Vec<i32> = target_storage_types.iter().map(|t| *t as i32).collect();
        let spawned = std::thread::Builder::new()
            .name(format!("DataTransfer blk_{}", block.block_id))
            .spawn(move || {
                let result = transfer::replica_for_transfer(&ctx, &block).and_then(|(b, stage)| {
                    let stage = if stage == Stage::TransferFinalized {
                        Stage::PipelineSetupCreate
                    } else {
                        stage
                    };
                    transfer::transfer_replica(&ctx, &b, &targets, &types, &ids, stage, "")
                });
                match result {
                    Ok(()) => tracing::info!(
                        block = block.block_id,
                        "replicated to {} node(s)",
                        targets.len()
                    ),
                    Err(e) => tracing::warn!(block = block.block_id, "replication failed: {e}"),
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("cannot start a transfer thread: {e}");
        }
    }

    fn recover(&self, block: &ferrodfs_proto::hdfs::RecoveringBlockProto) {
        let (rpc, nn, rb) = (self.rpc.clone(), self.namenode.clone(), block.clone());
        let id = rb.block.b.block_id;
        let spawned = std::thread::Builder::new()
            .name(format!("BlockRecovery blk_{id}"))
            .spawn(
                move || match crate::recovery::recover_block(&rpc, &nn, &rb) {
                    Ok(len) => tracing::info!(block = id, len, "block recovered"),
                    Err(e) => tracing::warn!(block = id, "block recovery failed: {e}"),
                },
            );
        if let Err(e) = spawned {
            tracing::warn!("cannot start a block recovery thread: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namenode_address_prefers_the_service_rpc_address() {
        let mut conf = Configuration::new();
        conf.set("dfs.datanode.data.dir", "/tmp/ferrodfs-dn-conf-test");
        conf.set(keys::FS_DEFAULT_FS, "hdfs://127.0.0.1:9000");
        let c = DataNodeConfig::from_conf(&conf).unwrap();
        assert_eq!(c.namenode, Some("127.0.0.1:9000".parse().unwrap()));
        conf.set(DFS_NAMENODE_SERVICE_RPC_ADDRESS, "127.0.0.1:9001");
        let c = DataNodeConfig::from_conf(&conf).unwrap();
        assert_eq!(c.namenode, Some("127.0.0.1:9001".parse().unwrap()));
    }
}
