//! The DataNode's link to its NameNode (Hadoop's `BPServiceActor`), on a looper.
//!
//! One named thread ("BPServiceActor for <nn>") runs a [`Looper`]; every step is a
//! message on it, so timing is delayed messages and nothing sleeps:
//!
//! ```text
//! CONNECT      versionRequest → add the block pool to storage → registerDatanode
//!              → full blockReport → HEARTBEAT          (on failure: CONNECT again later)
//! HEARTBEAT    sendHeartbeat(storage reports) → carry out the commands → HEARTBEAT
//!              after dfs.heartbeat.interval            (on failure: CONNECT again)
//! BLOCK_REPORT full report every dfs.blockreport.intervalMsec
//! IBR          incremental report of received/deleted blocks, sent as soon as
//!              events arrive (several events coalesce into one call)
//! ```
//!
//! A NameNode that restarts forgets the DataNode: its heartbeat reply carries a
//! `RegisterCommand` (or the call fails), and the actor registers again and sends a
//! full block report, as Hadoop's does.
//!
//! Commands that move data (transfer for re-replication, block recovery for lease
//! recovery) are handed to a [`CommandExecutor`] supplied by the DataNode, which runs
//! them off this thread. Invalidation is done here directly on the dataset.

use crate::events::{BlockEvent, BlockEventListener};
use crate::storage::{FsDataset, NamespaceInfo, ReplicaState, StorageBlockReport};
use ferrodfs_ipc::client::datanode::DatanodeProtocolProxy;
use ferrodfs_ipc::client::{ClientConfig, RetryPolicy, RpcClient};
use ferrodfs_looper::{Handler, Looper};
use ferrodfs_proto::hdfs::datanode::{
    block_command_proto, datanode_command_proto, received_deleted_block_info_proto,
    BlockCommandProto, BlockReceivedAndDeletedRequestProto, BlockReportContextProto,
    BlockReportRequestProto, DatanodeCommandProto, DatanodeRegistrationProto,
    HeartbeatRequestProto, ReceivedDeletedBlockInfoProto, RegisterDatanodeRequestProto,
    StorageBlockReportProto, StorageReceivedDeletedBlocksProto,
};
use ferrodfs_proto::hdfs::{
    BlockKeyProto, BlockProto, DatanodeIdProto, DatanodeInfoProto, DatanodeStorageProto,
    ExportedBlockKeysProto, RecoveringBlockProto, StorageInfoProto, StorageReportProto,
    StorageTypeProto, VersionRequestProto,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tracing::{debug, info, warn};

/// The version string sent at registration (Hadoop's `VersionInfo.getVersion()`).
pub const SOFTWARE_VERSION: &str = "3.3.4";
/// Hadoop's DataNode layout version (`DataNodeLayoutVersion.CURRENT_LAYOUT_VERSION`).
pub const DATANODE_LAYOUT_VERSION: i32 = -57;
/// Default of `dfs.heartbeat.interval`.
pub const HEARTBEAT_INTERVAL_DEFAULT: Duration = Duration::from_secs(3);
/// Default of `dfs.blockreport.intervalMsec` (6 hours).
pub const BLOCK_REPORT_INTERVAL_DEFAULT: Duration = Duration::from_secs(6 * 3600);
/// Pause before trying to reach the NameNode again after a failure.
pub const RECONNECT_DELAY: Duration = Duration::from_secs(1);

const MSG_CONNECT: i32 = 1;
const MSG_HEARTBEAT: i32 = 2;
const MSG_BLOCK_REPORT: i32 = 3;
const MSG_IBR: i32 = 4;

/// Who this DataNode is on the network (`DatanodeIDProto` without the uuid, which
/// comes from storage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatanodeAddress {
    pub ip: String,
    pub hostname: String,
    pub xfer_port: u16,
    pub info_port: u16,
    pub ipc_port: u16,
}

/// Settings of the actor.
#[derive(Debug, Clone)]
pub struct ActorConfig {
    /// The NameNode's RPC address (DatanodeProtocol is served there).
    pub namenode: SocketAddr,
    pub address: DatanodeAddress,
    /// `dfs.heartbeat.interval`.
    pub heartbeat_interval: Duration,
    /// `dfs.blockreport.intervalMsec`.
    pub block_report_interval: Duration,
    /// The RPC user the DataNode calls as.
    pub user: String,
}

impl ActorConfig {
    pub fn new(namenode: SocketAddr, address: DatanodeAddress) -> ActorConfig {
        ActorConfig {
            namenode,
            address,
            heartbeat_interval: HEARTBEAT_INTERVAL_DEFAULT,
            block_report_interval: BLOCK_REPORT_INTERVAL_DEFAULT,
            user: ferrodfs_ipc::client::current_user(),
        }
    }
}

/// Carries out the NameNode's commands that move data; called on the actor thread,
/// so implementations hand the work to threads of their own.
pub trait CommandExecutor: Send + Sync + 'static {
    /// Copy `block` of `pool_id` to `targets` (re-replication: `DNA_TRANSFER`).
    fn transfer(
        &self,
        pool_id: &str,
        block: &BlockProto,
        targets: &[DatanodeInfoProto],
        target_storage_ids: &[String],
        target_storage_types: &[StorageTypeProto],
    );

    /// Run lease recovery of one block as its primary DataNode (`DNA_RECOVERBLOCK`).
    fn recover(&self, block: &RecoveringBlockProto);
}

/// What the actor knows after registering; shared with the DataNode.
#[derive(Debug, Clone, Default)]
pub struct ActorState {
    /// The block pool, once `versionRequest` answered.
    pub block_pool_id: Option<String>,
    /// True while registered with a live NameNode.
    pub registered: bool,
    /// Heartbeats answered.
    pub heartbeats: u64,
    /// Full block reports sent.
    pub block_reports: u64,
    /// Incremental block reports sent.
    pub incremental_reports: u64,
}

/// Where block events wait for the next incremental block report: the
/// [`BlockEventListener`] to give the data-transfer server. It may be created before
/// the actor (the DataNode starts first) and only queues until the actor runs.
#[derive(Clone, Default)]
pub struct IbrQueue {
    pending: Arc<Mutex<Vec<BlockEvent>>>,
    handler: Arc<Mutex<Option<Handler>>>,
}

impl std::fmt::Debug for IbrQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IbrQueue").finish_non_exhaustive()
    }
}

impl IbrQueue {
    pub fn new() -> IbrQueue {
        IbrQueue::default()
    }

    /// Events not yet reported.
    pub fn len(&self) -> usize {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn attach(&self, handler: Handler) {
        *self.handler.lock().unwrap_or_else(|e| e.into_inner()) = Some(handler);
    }
}

impl BlockEventListener for IbrQueue {
    fn on_block_event(&self, event: BlockEvent) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(event);
        if let Some(h) = self
            .handler
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            if !h.has(MSG_IBR) {
                h.send(MSG_IBR, 0, 0, None);
            }
        }
    }
}

struct Inner {
    config: ActorConfig,
    dataset: FsDataset,
    executor: Arc<dyn CommandExecutor>,
    proxy: DatanodeProtocolProxy,
    state: Arc<Mutex<ActorState>>,
    pending: Arc<Mutex<Vec<BlockEvent>>>,
    registration: Option<DatanodeRegistrationProto>,
    handler: Handler,
}

/// A running actor: notify it of block events; shut it down.
#[derive(Debug)]
pub struct BpServiceActor {
    handler: Handler,
    state: Arc<Mutex<ActorState>>,
    queue: IbrQueue,
    thread: Option<JoinHandle<()>>,
}

impl BpServiceActor {
    /// Starts the actor thread; it connects on its own and keeps trying until the
    /// NameNode answers. `queue` is the listener the data-transfer server reports
    /// block events to.
    pub fn start(
        config: ActorConfig,
        dataset: FsDataset,
        executor: Arc<dyn CommandExecutor>,
        queue: IbrQueue,
    ) -> std::io::Result<BpServiceActor> {
        let state = Arc::new(Mutex::new(ActorState::default()));
        let pending = Arc::clone(&queue.pending);
        let (tx, rx) = std::sync::mpsc::channel();
        let name = format!("BPServiceActor for {}", config.namenode);
        let (state2, pending2) = (Arc::clone(&state), Arc::clone(&pending));
        let thread = std::thread::Builder::new().name(name).spawn(move || {
            let looper = match Looper::prepare() {
                Ok(l) => l,
                Err(e) => {
                    warn!("BPServiceActor cannot prepare a looper: {e}");
                    return;
                }
            };
            let rpc = RpcClient::new(ClientConfig {
                user: config.user.clone(),
                call_timeout: Some(Duration::from_secs(60)),
                retry: RetryPolicy::NONE,
                ..ClientConfig::default()
            });
            let proxy = DatanodeProtocolProxy::new(rpc, config.namenode);
            // The callback owns the actor's state; the handler it posts to is created
            // first without a callback, so route messages through a cell.
            let cell: Arc<Mutex<Option<Inner>>> = Arc::new(Mutex::new(None));
            let cell2 = Arc::clone(&cell);
            let handler = looper.handler_with(move |msg| {
                let mut guard = cell2.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(inner) = guard.as_mut() {
                    inner.dispatch(msg.what);
                }
            });
            *cell.lock().unwrap_or_else(|e| e.into_inner()) = Some(Inner {
                config,
                dataset,
                executor,
                proxy,
                state: state2,
                pending: pending2,
                registration: None,
                handler: handler.clone(),
            });
            handler.send(MSG_CONNECT, 0, 0, None);
            let _ = tx.send(handler);
            if let Err(e) = looper.run() {
                warn!("BPServiceActor looper failed: {e}");
            }
        })?;
        let handler = rx
            .recv()
            .map_err(|_| std::io::Error::other("BPServiceActor thread died at start"))?;
        queue.attach(handler.clone());
        if !queue.is_empty() {
            handler.send(MSG_IBR, 0, 0, None);
        }
        Ok(BpServiceActor {
            handler,
            state,
            queue,
            thread: Some(thread),
        })
    }

    /// The listener block events go to.
    pub fn queue(&self) -> &IbrQueue {
        &self.queue
    }

    /// Asks for a full block report now.
    pub fn trigger_block_report(&self) {
        self.handler.remove(MSG_BLOCK_REPORT);
        self.handler.send(MSG_BLOCK_REPORT, 0, 0, None);
    }

    /// Asks for a heartbeat now.
    pub fn trigger_heartbeat(&self) {
        self.handler.remove(MSG_HEARTBEAT);
        self.handler.send(MSG_HEARTBEAT, 0, 0, None);
    }

    /// A snapshot of what the actor knows.
    pub fn state(&self) -> ActorState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Stops the actor thread and waits for it.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.handler.quit();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for BpServiceActor {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Inner {
    fn dispatch(&mut self, what: i32) {
        match what {
            MSG_CONNECT => self.connect(),
            MSG_HEARTBEAT => self.heartbeat(),
            MSG_BLOCK_REPORT => self.periodic_block_report(),
            MSG_IBR => self.incremental_report(),
            other => debug!("BPServiceActor: unknown message {other}"),
        }
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, ActorState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn reconnect_later(&mut self, why: &str) {
        warn!(
            "BPServiceActor for {}: {why}; reconnecting",
            self.config.namenode
        );
        self.registration = None;
        self.lock_state().registered = false;
        self.handler.remove(MSG_HEARTBEAT);
        self.handler.remove(MSG_BLOCK_REPORT);
        if !self.handler.has(MSG_CONNECT) {
            self.handler
                .send_delayed(MSG_CONNECT, 0, 0, None, RECONNECT_DELAY);
        }
    }

    /// versionRequest → storage → registerDatanode → full report → heartbeats.
    fn connect(&mut self) {
        let version = match self.proxy.version_request(&VersionRequestProto {}) {
            Ok(v) => v.info,
            Err(e) => return self.reconnect_later(&format!("versionRequest failed: {e}")),
        };
        let storage_info = version.storage_info.clone();
        let ns = NamespaceInfo {
            block_pool_id: version.block_pool_id.clone(),
            namespace_id: storage_info.namespce_id,
            cluster_id: storage_info.cluster_id.clone(),
            ctime: storage_info.c_time,
        };
        if let Err(e) = self.dataset.add_block_pool(&ns) {
            // A storage that belongs to another cluster is not recoverable by retrying
            // quickly, but the NameNode may be reformatted; keep trying slowly.
            return self.reconnect_later(&format!("storage refuses block pool: {e}"));
        }
        let registration = DatanodeRegistrationProto {
            datanode_id: self.datanode_id(),
            storage_info: StorageInfoProto {
                layout_version: DATANODE_LAYOUT_VERSION as u32,
                namespce_id: storage_info.namespce_id,
                cluster_id: storage_info.cluster_id,
                c_time: storage_info.c_time,
            },
            keys: ExportedBlockKeysProto {
                is_block_token_enabled: false,
                key_update_interval: 0,
                token_life_time: 0,
                current_key: BlockKeyProto {
                    key_id: 0,
                    expiry_date: 0,
                    key_bytes: None,
                },
                all_keys: Vec::new(),
            },
            software_version: SOFTWARE_VERSION.to_owned(),
        };
        let request = RegisterDatanodeRequestProto { registration };
        match self.proxy.register_datanode(&request) {
            Ok(resp) => self.registration = Some(resp.registration),
            Err(e) => return self.reconnect_later(&format!("registerDatanode failed: {e}")),
        }
        {
            let mut st = self.lock_state();
            st.block_pool_id = Some(version.block_pool_id);
            st.registered = true;
        }
        info!("DataNode registered with NameNode {}", self.config.namenode);
        // Whatever was queued for the previous registration is covered by the full report.
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        if !self.block_report() {
            return self.reconnect_later("blockReport failed");
        }
        self.handler.remove(MSG_BLOCK_REPORT);
        self.handler.send_delayed(
            MSG_BLOCK_REPORT,
            0,
            0,
            None,
            self.config.block_report_interval,
        );
        self.handler.remove(MSG_HEARTBEAT);
        self.handler.send(MSG_HEARTBEAT, 0, 0, None);
    }

    fn datanode_id(&self) -> DatanodeIdProto {
        let a = &self.config.address;
        DatanodeIdProto {
            ip_addr: a.ip.clone(),
            host_name: a.hostname.clone(),
            datanode_uuid: self.dataset.datanode_uuid().to_owned(),
            xfer_port: a.xfer_port.into(),
            info_port: a.info_port.into(),
            ipc_port: a.ipc_port.into(),
            info_secure_port: Some(0),
        }
    }

    fn pool_id(&self) -> Option<String> {
        self.lock_state().block_pool_id.clone()
    }

    fn heartbeat(&mut self) {
        let (Some(registration), Some(pool)) = (self.registration.clone(), self.pool_id()) else {
            return self.reconnect_later("heartbeat before registration");
        };
        let reports = match self.dataset.storage_reports(&pool) {
            Ok(r) => r,
            Err(e) => {
                warn!("storage reports failed: {e}");
                Vec::new()
            }
        };
        let request = HeartbeatRequestProto {
            registration,
            reports: reports
                .iter()
                .map(|r| StorageReportProto {
                    storage_uuid: r.storage_id.clone(),
                    failed: Some(false),
                    capacity: Some(r.capacity),
                    dfs_used: Some(r.dfs_used),
                    remaining: Some(r.remaining),
                    block_pool_used: Some(r.block_pool_used),
                    storage: Some(storage_proto(&r.storage_id)),
                    non_dfs_used: None,
                    mount: None,
                })
                .collect(),
            ..Default::default()
        };
        match self.proxy.send_heartbeat(&request) {
            Ok(resp) => {
                self.lock_state().heartbeats += 1;
                for cmd in &resp.cmds {
                    if !self.execute(cmd, &pool) {
                        return;
                    }
                }
                self.handler.send_delayed(
                    MSG_HEARTBEAT,
                    0,
                    0,
                    None,
                    self.config.heartbeat_interval,
                );
            }
            Err(e) => self.reconnect_later(&format!("sendHeartbeat failed: {e}")),
        }
    }

    /// Carries out one command; false if the actor must re-register.
    fn execute(&mut self, cmd: &DatanodeCommandProto, pool: &str) -> bool {
        use datanode_command_proto::Type;
        match cmd.cmd_type() {
            Type::BlockCommand => {
                if let Some(blk) = &cmd.blk_cmd {
                    self.block_command(blk, pool);
                }
            }
            Type::BlockRecoveryCommand => {
                if let Some(rec) = &cmd.recovery_cmd {
                    for block in &rec.blocks {
                        self.executor.recover(block);
                    }
                }
            }
            Type::RegisterCommand => {
                self.registration = None;
                self.lock_state().registered = false;
                self.handler.remove(MSG_CONNECT);
                self.handler.send(MSG_CONNECT, 0, 0, None);
                return false;
            }
            other => debug!("ignoring DataNode command {other:?}"),
        }
        true
    }

    fn block_command(&mut self, cmd: &BlockCommandProto, pool: &str) {
        use block_command_proto::Action;
        let pool_id = if cmd.block_pool_id.is_empty() {
            pool
        } else {
            &cmd.block_pool_id
        };
        match cmd.action() {
            Action::Invalidate => {
                let ids: Vec<i64> = cmd.blocks.iter().map(|b| b.block_id as i64).collect();
                let before: HashMap<i64, String> = ids
                    .iter()
                    .filter_map(|id| {
                        self.dataset
                            .get_replica(pool_id, *id)
                            .map(|r| (*id, r.storage_id))
                    })
                    .collect();
                if let Err(e) = self.dataset.invalidate(pool_id, &ids) {
                    warn!("invalidating {ids:?} failed: {e}");
                }
                let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
                for (block_id, storage_id) in before {
                    pending.push(BlockEvent::Deleted {
                        pool_id: pool_id.to_owned(),
                        block_id,
                        storage_id,
                    });
                }
                drop(pending);
                self.handler.send(MSG_IBR, 0, 0, None);
            }
            Action::Transfer => {
                for (i, block) in cmd.blocks.iter().enumerate() {
                    let targets = cmd
                        .targets
                        .get(i)
                        .map(|t| t.datanodes.as_slice())
                        .unwrap_or(&[]);
                    let storage_ids = cmd
                        .target_storage_uuids
                        .get(i)
                        .map(|s| s.storage_uuids.as_slice())
                        .unwrap_or(&[]);
                    let types: Vec<StorageTypeProto> = cmd
                        .target_storage_types
                        .get(i)
                        .map(|t| t.storage_types().collect())
                        .unwrap_or_default();
                    self.executor
                        .transfer(pool_id, block, targets, storage_ids, &types);
                }
            }
            Action::Shutdown => warn!("NameNode asked this DataNode to shut down; ignoring"),
        }
    }

    fn periodic_block_report(&mut self) {
        if self.registration.is_none() {
            return;
        }
        if self.block_report() {
            self.handler.send_delayed(
                MSG_BLOCK_REPORT,
                0,
                0,
                None,
                self.config.block_report_interval,
            );
        } else {
            self.reconnect_later("blockReport failed");
        }
    }

    /// Sends a full block report; false on failure.
    fn block_report(&mut self) -> bool {
        let (Some(registration), Some(pool)) = (self.registration.clone(), self.pool_id()) else {
            return false;
        };
        let reports = match self.dataset.block_report(&pool) {
            Ok(r) => r,
            Err(e) => {
                warn!("block report of storage failed: {e}");
                return false;
            }
        };
        let request = BlockReportRequestProto {
            registration,
            block_pool_id: pool,
            reports: reports.iter().map(encode_storage_report).collect(),
            context: Some(BlockReportContextProto {
                total_rpcs: 1,
                cur_rpc: 0,
                id: report_id(),
                lease_id: Some(0),
                sorted: Some(true),
            }),
        };
        match self.proxy.block_report(&request) {
            Ok(resp) => {
                self.lock_state().block_reports += 1;
                let pool = request.block_pool_id.clone();
                if let Some(cmd) = resp.cmd {
                    self.execute(&cmd, &pool);
                }
                true
            }
            Err(e) => {
                warn!("blockReport failed: {e}");
                false
            }
        }
    }

    fn incremental_report(&mut self) {
        let (Some(registration), Some(pool)) = (self.registration.clone(), self.pool_id()) else {
            return; // the full report after registering covers these
        };
        let events: Vec<BlockEvent> =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if events.is_empty() {
            return;
        }
        let request = BlockReceivedAndDeletedRequestProto {
            registration,
            block_pool_id: pool,
            blocks: group_events(&events),
        };
        match self.proxy.block_received_and_deleted(&request) {
            Ok(_) => self.lock_state().incremental_reports += 1,
            Err(e) => {
                // Put them back in front of anything newer and retry with the connection.
                let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
                let newer = std::mem::take(&mut *pending);
                *pending = events;
                pending.extend(newer);
                drop(pending);
                self.reconnect_later(&format!("blockReceivedAndDeleted failed: {e}"));
            }
        }
    }
}

fn storage_proto(storage_id: &str) -> DatanodeStorageProto {
    DatanodeStorageProto {
        storage_uuid: storage_id.to_owned(),
        state: None,
        storage_type: Some(StorageTypeProto::Disk as i32),
    }
}

/// A block report id, unique enough per DataNode (Hadoop uses a random long).
fn report_id() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(1)
}

/// Chunk size of `blocksBuffers` (Hadoop's `BlockListAsLongs.CHUNK_SIZE`).
const BLOCKS_BUFFER_CHUNK: usize = 64 * 1024;

/// One storage's replicas in Hadoop's `BlockListAsLongs` buffer encoding: per replica
/// `sint64 blockId | varint numBytes | varint genStamp | varint state`, split into
/// chunks of 64 KiB.
pub fn encode_storage_report(report: &StorageBlockReport) -> StorageBlockReportProto {
    let mut buf = Vec::with_capacity(report.replicas.len() * 12);
    for r in &report.replicas {
        put_varint(&mut buf, zigzag(r.block_id));
        put_varint(&mut buf, r.num_bytes);
        put_varint(&mut buf, r.gen_stamp);
        put_varint(&mut buf, u64::from(replica_state_number(r.state)));
    }
    let blocks_buffers = if buf.is_empty() {
        Vec::new()
    } else {
        buf.chunks(BLOCKS_BUFFER_CHUNK)
            .map(<[u8]>::to_vec)
            .collect()
    };
    StorageBlockReportProto {
        storage: storage_proto(&report.storage_id),
        blocks: Vec::new(),
        number_of_blocks: Some(report.replicas.len() as u64),
        blocks_buffers,
    }
}

fn replica_state_number(state: ReplicaState) -> u32 {
    state.id()
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Groups events by storage, in arrival order, as `blockReceivedAndDeleted` wants.
fn group_events(events: &[BlockEvent]) -> Vec<StorageReceivedDeletedBlocksProto> {
    use received_deleted_block_info_proto::BlockStatus;
    let mut out: Vec<StorageReceivedDeletedBlocksProto> = Vec::new();
    for e in events {
        let (storage_id, block, status, delete_hint) = match e {
            BlockEvent::Received {
                block_id,
                gen_stamp,
                num_bytes,
                storage_id,
                del_hint,
                ..
            } => (
                storage_id,
                block_proto(*block_id, *gen_stamp, *num_bytes),
                BlockStatus::Received,
                (!del_hint.is_empty()).then(|| del_hint.clone()),
            ),
            BlockEvent::Receiving {
                block_id,
                gen_stamp,
                num_bytes,
                storage_id,
                ..
            } => (
                storage_id,
                block_proto(*block_id, *gen_stamp, *num_bytes),
                BlockStatus::Receiving,
                None,
            ),
            // The NameNode matches deletions by block id.
            BlockEvent::Deleted {
                block_id,
                storage_id,
                ..
            } => (
                storage_id,
                block_proto(*block_id, 0, 0),
                BlockStatus::Deleted,
                None,
            ),
        };
        let info = ReceivedDeletedBlockInfoProto {
            block,
            status: status as i32,
            delete_hint,
        };
        match out.iter_mut().find(|s| &s.storage_uuid == storage_id) {
            Some(s) => s.blocks.push(info),
            None => out.push(StorageReceivedDeletedBlocksProto {
                storage_uuid: storage_id.clone(),
                blocks: vec![info],
                storage: Some(storage_proto(storage_id)),
            }),
        }
    }
    out
}

fn block_proto(block_id: i64, gen_stamp: u64, num_bytes: u64) -> BlockProto {
    BlockProto {
        block_id: block_id as u64,
        gen_stamp,
        num_bytes: Some(num_bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::ReportedReplica;

    fn get_varint(buf: &mut &[u8]) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let b = buf[0];
            *buf = &buf[1..];
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return v;
            }
            shift += 7;
        }
    }

    #[test]
    fn block_list_buffer_encoding_matches_hadoop_layout() {
        let report = StorageBlockReport {
            storage_id: "DS-1".into(),
            replicas: vec![
                ReportedReplica {
                    block_id: 1073741825,
                    gen_stamp: 1001,
                    num_bytes: 300,
                    state: ReplicaState::Finalized,
                },
                ReportedReplica {
                    block_id: -5,
                    gen_stamp: 7,
                    num_bytes: 0,
                    state: ReplicaState::Rbw,
                },
            ],
        };
        let proto = encode_storage_report(&report);
        assert_eq!(proto.number_of_blocks, Some(2));
        assert!(proto.blocks.is_empty());
        let joined: Vec<u8> = proto.blocks_buffers.concat();
        let mut r = &joined[..];
        let decode_zigzag = |v: u64| ((v >> 1) as i64) ^ -((v & 1) as i64);
        assert_eq!(decode_zigzag(get_varint(&mut r)), 1073741825);
        assert_eq!(get_varint(&mut r), 300);
        assert_eq!(get_varint(&mut r), 1001);
        assert_eq!(get_varint(&mut r), 0); // FINALIZED
        assert_eq!(decode_zigzag(get_varint(&mut r)), -5);
        assert_eq!(get_varint(&mut r), 0);
        assert_eq!(get_varint(&mut r), 7);
        assert_eq!(get_varint(&mut r), 1); // RBW
        assert!(r.is_empty());
    }

    #[test]
    fn events_group_by_storage_in_order() {
        let received = |block_id, storage_id: &str| BlockEvent::Received {
            pool_id: "BP".into(),
            block_id,
            gen_stamp: 2,
            num_bytes: 3,
            storage_id: storage_id.into(),
            del_hint: String::new(),
        };
        let events = vec![
            received(1, "A"),
            BlockEvent::Deleted {
                pool_id: "BP".into(),
                block_id: 4,
                storage_id: "B".into(),
            },
            received(6, "A"),
        ];
        let grouped = group_events(&events);
        assert_eq!(grouped.len(), 2);
        assert_eq!(grouped[0].storage_uuid, "A");
        assert_eq!(grouped[0].blocks.len(), 2);
        assert_eq!(grouped[0].blocks[1].block.block_id, 6);
        assert_eq!(
            grouped[1].blocks[0].status,
            received_deleted_block_info_proto::BlockStatus::Deleted as i32
        );
    }
}
