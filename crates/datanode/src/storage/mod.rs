//! The DataNode's block store (Hadoop's `FsDatasetImpl`): volumes, the
//! replica map, and the operations the data-transfer server and the NameNode
//! actor call. The on-disk layout is documented byte-exactly in
//! `docs/design/datanode-storage.md`.
//!
//! Concurrency: one [`FsDataset`] is shared (it is `Clone`, an `Arc` inside)
//! by all transfer threads. A mutex guards the replica map; each replica also
//! has an I/O lock held by its writer for each packet and taken by recovery
//! before it supersedes the writer (lock order: replica I/O, then map).
//!
//! TODO(issue 5): cached dfsUsed per volume (now summed from the map on
//! each report), volume failure handling (`dfs.datanode.failed.volumes.tolerated`),
//! a block scanner over [`ReplicaReader::verify`], asynchronous deletion,
//! storage types other than DISK, copy-on-truncate in lease recovery.

mod layout;
mod replica;
pub mod restart;
mod volume;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ferrodfs_conf::{keys, Configuration};
use ferrodfs_transfer::checksum::{BlockMetadataHeader, DataChecksum};

pub use layout::{
    block_file_name, id_to_block_dir, meta_file_name, LAYOUT_VERSION, STORAGE_TYPE_DATA_NODE,
};
pub use replica::{
    AckHandle, ReplicaInfo, ReplicaReader, ReplicaRecoveryInfo, ReplicaState, ReplicaWriter,
};
pub use volume::Space;

use layout::{parse_replica_file_name, ReplicaFileName};
use volume::Volume;

use crate::{io_err, Error, Result};

/// Replica map key: (block pool id, block id).
pub(crate) type Key = (String, i64);

/// A block as the protocols name it (`ExtendedBlockProto`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtendedBlock {
    /// Block pool id (`BP-...`).
    pub pool_id: String,
    /// Block id.
    pub block_id: i64,
    /// Generation stamp.
    pub gen_stamp: u64,
    /// Length as the sender knows it.
    pub num_bytes: u64,
}

impl ExtendedBlock {
    /// A block.
    pub fn new(pool_id: &str, block_id: i64, gen_stamp: u64, num_bytes: u64) -> ExtendedBlock {
        ExtendedBlock {
            pool_id: pool_id.to_string(),
            block_id,
            gen_stamp,
            num_bytes,
        }
    }

    fn key(&self) -> Key {
        (self.pool_id.clone(), self.block_id)
    }
}

/// What the NameNode tells a DataNode about its namespace at the handshake
/// (`NamespaceInfoProto`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceInfo {
    /// Block pool id.
    pub block_pool_id: String,
    /// Namespace id.
    pub namespace_id: u32,
    /// Cluster id (`CID-...`).
    pub cluster_id: String,
    /// Creation time of the namespace.
    pub ctime: u64,
}

impl NamespaceInfo {
    /// A namespace with `ctime` 0.
    pub fn new(block_pool_id: &str, namespace_id: u32, cluster_id: &str) -> NamespaceInfo {
        NamespaceInfo {
            block_pool_id: block_pool_id.to_string(),
            namespace_id,
            cluster_id: cluster_id.to_string(),
            ctime: 0,
        }
    }
}

/// How a new replica's volume is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumePolicy {
    /// Hadoop's `RoundRobinVolumeChoosingPolicy` (the default): the next
    /// volume in turn with room for the block.
    RoundRobin,
    /// The volume with the most available space
    /// (`AvailableSpaceVolumeChoosingPolicy`, simplified).
    AvailableSpace,
}

/// Settings for [`FsDataset::open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetConfig {
    /// Data directories.
    pub data_dirs: Vec<PathBuf>,
    /// Bytes per volume kept free for non-DFS use.
    pub du_reserved: u64,
    /// Volume choosing policy.
    pub policy: VolumePolicy,
}

impl DatasetConfig {
    /// Round-robin over `data_dirs`, nothing reserved.
    pub fn new(data_dirs: Vec<PathBuf>) -> DatasetConfig {
        DatasetConfig {
            data_dirs,
            du_reserved: 0,
            policy: VolumePolicy::RoundRobin,
        }
    }

    /// From `dfs.datanode.data.dir` (comma-separated; a `[DISK]`-style tag
    /// and a `file://` or `file:` prefix are accepted), `dfs.datanode.du.reserved`
    /// and `dfs.datanode.fsdataset.volume.choosing.policy`.
    pub fn from_conf(conf: &Configuration) -> Result<DatasetConfig> {
        let data_dirs = conf
            .get_strings(keys::DFS_DATANODE_DATA_DIR)?
            .iter()
            .map(|d| data_dir_path(d))
            .collect();
        let policy = conf
            .get_trimmed(keys::DFS_DATANODE_FSDATASET_VOLUME_CHOOSING_POLICY)?
            .unwrap_or_default();
        Ok(DatasetConfig {
            data_dirs,
            du_reserved: conf.get_size(keys::DFS_DATANODE_DU_RESERVED, 0)?,
            policy: if policy.contains("AvailableSpace") {
                VolumePolicy::AvailableSpace
            } else {
                VolumePolicy::RoundRobin
            },
        })
    }
}

/// `[DISK]file:///a/b` → `/a/b`.
fn data_dir_path(entry: &str) -> PathBuf {
    let mut s = entry.trim();
    if s.starts_with('[') {
        if let Some(end) = s.find(']') {
            s = &s[end + 1..];
        }
    }
    let s = s
        .strip_prefix("file://")
        .or_else(|| s.strip_prefix("file:"))
        .unwrap_or(s);
    PathBuf::from(s)
}

/// One replica in a block report (`BlockListAsLongs` entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportedReplica {
    /// Block id.
    pub block_id: i64,
    /// Generation stamp.
    pub gen_stamp: u64,
    /// Length (bytes on disk for replicas not finalized).
    pub num_bytes: u64,
    /// State.
    pub state: ReplicaState,
}

/// The block report of one storage (volume).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageBlockReport {
    /// Storage id.
    pub storage_id: String,
    /// Finalized and under-construction replicas, sorted by block id.
    pub replicas: Vec<ReportedReplica>,
}

/// Capacity and usage of one storage (`StorageReportProto`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageReport {
    /// Storage id.
    pub storage_id: String,
    /// The volume's directory.
    pub dir: PathBuf,
    /// Bytes usable for DFS.
    pub capacity: u64,
    /// Bytes used by replicas (data + meta) of all block pools.
    pub dfs_used: u64,
    /// Bytes still available for DFS.
    pub remaining: u64,
    /// Bytes used by the given block pool.
    pub block_pool_used: u64,
}

#[derive(Debug)]
struct Replica {
    info: ReplicaInfo,
    volume: usize,
    dir: PathBuf,
    epoch: u64,
    io: Arc<Mutex<()>>,
}

impl Replica {
    fn data_path(&self) -> PathBuf {
        self.dir.join(block_file_name(self.info.block_id))
    }
    fn meta_path(&self) -> PathBuf {
        self.dir
            .join(meta_file_name(self.info.block_id, self.info.gen_stamp))
    }
    fn meta_len(&self) -> u64 {
        replica::meta_offset(
            &self.info.checksum,
            self.info.checksum.chunks(self.info.bytes_on_disk),
        )
    }
}

#[derive(Debug, Default)]
struct State {
    pools: HashMap<String, NamespaceInfo>,
    replicas: HashMap<Key, Replica>,
    next_volume: usize,
    next_epoch: u64,
}

impl State {
    fn epoch(&mut self) -> u64 {
        self.next_epoch += 1;
        self.next_epoch
    }

    fn get(&self, key: &Key) -> Result<&Replica> {
        if !self.pools.contains_key(&key.0) {
            return Err(Error::UnknownBlockPool(key.0.clone()));
        }
        self.replicas
            .get(key)
            .ok_or(Error::ReplicaNotFound { block_id: key.1 })
    }

    fn get_mut(&mut self, key: &Key) -> Result<&mut Replica> {
        if !self.pools.contains_key(&key.0) {
            return Err(Error::UnknownBlockPool(key.0.clone()));
        }
        self.replicas
            .get_mut(key)
            .ok_or(Error::ReplicaNotFound { block_id: key.1 })
    }
}

#[derive(Debug)]
struct Inner {
    datanode_uuid: String,
    volumes: Vec<Volume>,
    policy: VolumePolicy,
    state: Mutex<State>,
}

/// The block store over all data directories. Cheap to clone; share it.
#[derive(Debug, Clone)]
pub struct FsDataset {
    inner: Arc<Inner>,
}

/// Moves a replica's two files (renaming the meta file to `new_gs`): meta
/// first, then data, then fsyncs the target and source directories.
fn move_replica(from: &Path, to: &Path, block_id: i64, old_gs: u64, new_gs: u64) -> Result<()> {
    layout::create_dir_durable(to)?;
    let meta_from = from.join(meta_file_name(block_id, old_gs));
    let meta_to = to.join(meta_file_name(block_id, new_gs));
    std::fs::rename(&meta_from, &meta_to).map_err(io_err("rename", &meta_from))?;
    if from != to {
        let data_from = from.join(block_file_name(block_id));
        let data_to = to.join(block_file_name(block_id));
        std::fs::rename(&data_from, &data_to).map_err(io_err("rename", &data_from))?;
    }
    layout::fsync_dir(to)?;
    if from != to {
        layout::fsync_dir(from)?;
    }
    Ok(())
}

fn remove_if_exists(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::Io {
            op: "remove",
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl FsDataset {
    /// Opens (formatting when new) every data directory: takes its
    /// `in_use.lock`, loads or writes `current/VERSION`. Replicas are loaded
    /// per block pool by [`FsDataset::add_block_pool`].
    pub fn open(config: DatasetConfig) -> Result<FsDataset> {
        if config.data_dirs.is_empty() {
            return Err(Error::NoVolumes);
        }
        // Reuse the DataNode uuid any existing volume recorded.
        let mut uuid = None;
        for dir in &config.data_dirs {
            let path = dir.join(layout::CURRENT_DIR).join(layout::VERSION_FILE);
            if let Some(p) = layout::read_properties(&path)? {
                if let Some(u) = p.get("datanodeUuid").filter(|u| !u.is_empty()) {
                    uuid = Some(u.to_string());
                    break;
                }
            }
        }
        let datanode_uuid = match uuid {
            Some(u) => u,
            None => layout::random_uuid()?,
        };
        let mut volumes = Vec::new();
        for dir in &config.data_dirs {
            volumes.push(Volume::open(dir, &datanode_uuid, config.du_reserved)?);
        }
        Ok(FsDataset {
            inner: Arc::new(Inner {
                datanode_uuid,
                volumes,
                policy: config.policy,
                state: Mutex::new(State::default()),
            }),
        })
    }

    /// The DataNode's uuid (shared by all its volumes' VERSION files).
    pub fn datanode_uuid(&self) -> &str {
        &self.inner.datanode_uuid
    }

    /// Storage ids, one per volume, in configuration order.
    pub fn storage_ids(&self) -> Vec<String> {
        self.inner
            .volumes
            .iter()
            .map(|v| v.storage_id.clone())
            .collect()
    }

    /// Adds a block pool after the NameNode handshake: binds every volume to
    /// the cluster id (or checks it), creates the pool's directories and
    /// VERSION, and loads its replicas: FINALIZED ones as they are, `rbw/`
    /// ones as RWR truncated to their last verified chunk; inconsistent
    /// partial replicas are deleted, `tmp/` is emptied.
    ///
    /// Adding a pool already loaded (the actor registers again after a NameNode
    /// restart) changes nothing: scanning it again would find every replica twice.
    pub fn add_block_pool(&self, ns: &NamespaceInfo) -> Result<()> {
        let mut st = lock(&self.inner.state);
        if st.pools.get(&ns.block_pool_id).is_some_and(|known| {
            known.cluster_id == ns.cluster_id && known.namespace_id == ns.namespace_id
        }) {
            return Ok(());
        }
        for (i, v) in self.inner.volumes.iter().enumerate() {
            v.bind_cluster(&ns.cluster_id)?;
            v.add_block_pool(ns)?;
            self.scan_volume(&mut st, i, &ns.block_pool_id)?;
        }
        st.pools.insert(ns.block_pool_id.clone(), ns.clone());
        Ok(())
    }

    fn scan_volume(&self, st: &mut State, vol: usize, bpid: &str) -> Result<()> {
        let v = &self.inner.volumes[vol];
        let finalized = v.finalized_dir(bpid);
        let rbw = v.rbw_dir(bpid);
        let mut dirs = vec![finalized.clone()];
        while let Some(dir) = dirs.pop() {
            let files = list_replica_files(&dir, &mut dirs)?;
            for (id, (has_data, metas)) in files {
                let Some(gs) = pick_meta(&dir, id, &metas)? else {
                    tracing::warn!(block_id = id, dir = %dir.display(), "finalized block file without meta file ignored");
                    continue;
                };
                if !has_data {
                    // A finalize interrupted between its two renames.
                    let orphan = rbw.join(block_file_name(id));
                    if orphan.exists() {
                        std::fs::rename(&orphan, dir.join(block_file_name(id)))
                            .map_err(io_err("rename", &orphan))?;
                        layout::fsync_dir(&dir)?;
                        layout::fsync_dir(&rbw)?;
                    } else {
                        tracing::warn!(block_id = id, "meta file without block file deleted");
                        remove_if_exists(&dir.join(meta_file_name(id, gs)))?;
                        continue;
                    }
                }
                let data_path = dir.join(block_file_name(id));
                let meta_path = dir.join(meta_file_name(id, gs));
                let meta = std::fs::File::open(&meta_path).map_err(io_err("open", &meta_path))?;
                let checksum = match replica::read_meta_header(&meta, &meta_path) {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(block_id = id, error = %e, "finalized replica with bad meta header ignored");
                        continue;
                    }
                };
                let len = std::fs::metadata(&data_path)
                    .map_err(io_err("stat", &data_path))?
                    .len();
                self.add_loaded(
                    st,
                    vol,
                    bpid,
                    dir.clone(),
                    id,
                    gs,
                    len,
                    ReplicaState::Finalized,
                    checksum,
                )?;
            }
        }
        let mut none = Vec::new();
        for (id, (has_data, metas)) in list_replica_files(&rbw, &mut none)? {
            let gs = pick_meta(&rbw, id, &metas)?;
            let (true, Some(gs)) = (has_data, gs) else {
                tracing::warn!(block_id = id, "incomplete rbw replica deleted");
                remove_if_exists(&rbw.join(block_file_name(id)))?;
                if let Some(gs) = gs {
                    remove_if_exists(&rbw.join(meta_file_name(id, gs)))?;
                }
                continue;
            };
            let data_path = rbw.join(block_file_name(id));
            let meta_path = rbw.join(meta_file_name(id, gs));
            let state = if restart::take_restart_file(&rbw, id) {
                ReplicaState::Rbw
            } else {
                ReplicaState::Rwr
            };
            match replica::validate_rbw(id, &data_path, &meta_path)? {
                Some((checksum, len)) => {
                    self.add_loaded(st, vol, bpid, rbw.clone(), id, gs, len, state, checksum)?;
                }
                None => {
                    remove_if_exists(&data_path)?;
                    remove_if_exists(&meta_path)?;
                }
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn add_loaded(
        &self,
        st: &mut State,
        vol: usize,
        bpid: &str,
        dir: PathBuf,
        id: i64,
        gs: u64,
        len: u64,
        state: ReplicaState,
        checksum: DataChecksum,
    ) -> Result<()> {
        let key = (bpid.to_string(), id);
        let epoch = st.epoch();
        let new = Replica {
            info: ReplicaInfo {
                block_id: id,
                gen_stamp: gs,
                num_bytes: len,
                bytes_on_disk: len,
                state,
                original_state: state,
                recovery_id: None,
                storage_id: self.inner.volumes[vol].storage_id.clone(),
                checksum,
            },
            volume: vol,
            dir,
            epoch,
            io: Arc::new(Mutex::new(())),
        };
        if let Some(old) = st.replicas.get(&key) {
            // Duplicate: keep the newer generation stamp, then FINALIZED, then
            // the longer; delete the other's files.
            let rank = |r: &Replica| {
                (
                    r.info.gen_stamp,
                    r.info.state == ReplicaState::Finalized,
                    r.info.num_bytes,
                )
            };
            let loser = if rank(&new) > rank(old) {
                st.replicas
                    .insert(key, new)
                    .map(|r| (r.data_path(), r.meta_path()))
            } else {
                Some((new.data_path(), new.meta_path()))
            };
            if let Some((d, m)) = loser {
                tracing::warn!(block_id = id, "duplicate replica deleted: {}", d.display());
                remove_if_exists(&d)?;
                remove_if_exists(&m)?;
            }
            return Ok(());
        }
        st.replicas.insert(key, new);
        Ok(())
    }

    fn choose_volume(&self, st: &mut State, size_hint: u64) -> Result<usize> {
        let vols = &self.inner.volumes;
        let mut spaces = Vec::with_capacity(vols.len());
        for v in vols {
            spaces.push(v.space()?.available);
        }
        match self.inner.policy {
            VolumePolicy::RoundRobin => {
                for k in 0..vols.len() {
                    let i = (st.next_volume + k) % vols.len();
                    if spaces[i] >= size_hint {
                        st.next_volume = (i + 1) % vols.len();
                        return Ok(i);
                    }
                }
            }
            VolumePolicy::AvailableSpace => {
                if let Some((i, _)) = spaces
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| **s >= size_hint)
                    .max_by_key(|(i, s)| (**s, std::cmp::Reverse(*i)))
                {
                    return Ok(i);
                }
            }
        }
        Err(Error::DiskOutOfSpace { needed: size_hint })
    }

    fn create_in(
        &self,
        block: &ExtendedBlock,
        checksum: DataChecksum,
        size_hint: u64,
        state: ReplicaState,
    ) -> Result<ReplicaWriter> {
        let key = block.key();
        let mut st = lock(&self.inner.state);
        if !st.pools.contains_key(&key.0) {
            return Err(Error::UnknownBlockPool(key.0));
        }
        if let Some(r) = st.replicas.get(&key) {
            // A replication or TRANSFER_BLOCK target may hold a copy left behind by
            // an earlier pipeline (a node restarted mid-write keeps an RWR replica
            // at the old generation stamp): the NameNode or the client sends the
            // block at a newer one, so the stale copy gives way (any writer of it
            // is superseded).
            let stale = state == ReplicaState::Temporary && r.info.gen_stamp < block.gen_stamp;
            if !stale {
                return Err(Error::ReplicaAlreadyExists {
                    block_id: block.block_id,
                    state: r.info.state,
                });
            }
            if let Some(old) = st.replicas.remove(&key) {
                tracing::info!(
                    block_id = block.block_id,
                    old_gs = old.info.gen_stamp,
                    new_gs = block.gen_stamp,
                    state = ?old.info.state,
                    "replacing a stale replica"
                );
                remove_if_exists(&old.data_path())?;
                remove_if_exists(&old.meta_path())?;
            }
        }
        let vol = self.choose_volume(&mut st, size_hint)?;
        let v = &self.inner.volumes[vol];
        let dir = match state {
            ReplicaState::Temporary => v.tmp_dir(&block.pool_id),
            _ => v.rbw_dir(&block.pool_id),
        };
        let data_path = dir.join(block_file_name(block.block_id));
        let meta_path = dir.join(meta_file_name(block.block_id, block.gen_stamp));
        let data = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&data_path)
            .map_err(io_err("create", &data_path))?;
        let meta = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&meta_path)
            .map_err(io_err("create", &meta_path))?;
        {
            use std::os::unix::fs::FileExt;
            meta.write_all_at(&BlockMetadataHeader::new(checksum).encode(), 0)
                .map_err(io_err("write", &meta_path))?;
        }
        let epoch = st.epoch();
        st.replicas.insert(
            key.clone(),
            Replica {
                info: ReplicaInfo {
                    block_id: block.block_id,
                    gen_stamp: block.gen_stamp,
                    num_bytes: 0,
                    bytes_on_disk: 0,
                    state,
                    original_state: state,
                    recovery_id: None,
                    storage_id: v.storage_id.clone(),
                    checksum,
                },
                volume: vol,
                dir,
                epoch,
                io: Arc::new(Mutex::new(())),
            },
        );
        Ok(ReplicaWriter {
            ds: self.clone(),
            key,
            epoch,
            data,
            data_path,
            meta,
            meta_path,
            checksum,
            bytes_on_disk: 0,
        })
    }

    /// Creates a replica being written (WRITE_BLOCK, stage
    /// PIPELINE_SETUP_CREATE) on a volume with at least `size_hint` bytes
    /// available: empty `rbw/blk_<id>` and a meta file holding the header.
    pub fn create_rbw(
        &self,
        block: &ExtendedBlock,
        checksum: DataChecksum,
        size_hint: u64,
    ) -> Result<ReplicaWriter> {
        self.create_in(block, checksum, size_hint, ReplicaState::Rbw)
    }

    /// Creates a TEMPORARY replica in `tmp/` (a replication or
    /// TRANSFER_BLOCK target); [`ReplicaWriter::finalize`] moves it to
    /// `finalized/`.
    pub fn create_temporary(
        &self,
        block: &ExtendedBlock,
        checksum: DataChecksum,
        size_hint: u64,
    ) -> Result<ReplicaWriter> {
        self.create_in(block, checksum, size_hint, ReplicaState::Temporary)
    }

    /// The I/O lock of a replica (held per packet by its writer).
    pub(crate) fn io_lock(&self, key: &Key) -> Result<Arc<Mutex<()>>> {
        Ok(lock(&self.inner.state).get(key)?.io.clone())
    }

    pub(crate) fn check_epoch(&self, key: &Key, epoch: u64) -> Result<()> {
        let st = lock(&self.inner.state);
        match st.replicas.get(key) {
            Some(r) if r.epoch == epoch => Ok(()),
            _ => Err(Error::WriterSuperseded { block_id: key.1 }),
        }
    }

    pub(crate) fn update_replica(
        &self,
        key: &Key,
        epoch: u64,
        f: impl FnOnce(&mut ReplicaInfo),
    ) -> Result<()> {
        let mut st = lock(&self.inner.state);
        match st.replicas.get_mut(key) {
            Some(r) if r.epoch == epoch => {
                f(&mut r.info);
                Ok(())
            }
            _ => Err(Error::WriterSuperseded { block_id: key.1 }),
        }
    }

    /// Runs `f` on a replica with its I/O lock held (any writer is between
    /// packets) and the map locked.
    fn with_replica_exclusive<T>(
        &self,
        key: &Key,
        f: impl FnOnce(&Self, &mut State) -> Result<T>,
    ) -> Result<T> {
        let io = self.io_lock(key)?;
        let _io = io.lock().unwrap_or_else(|e| e.into_inner());
        let mut st = lock(&self.inner.state);
        f(self, &mut st)
    }

    /// Finalizes (moves to `finalized/`) under the writer's I/O lock.
    pub(crate) fn finalize_locked(&self, key: &Key, epoch: u64) -> Result<ReplicaInfo> {
        let mut st = lock(&self.inner.state);
        let r = st.get(key)?;
        if r.epoch != epoch {
            return Err(Error::WriterSuperseded { block_id: key.1 });
        }
        self.finalize_replica(&mut st, key)
    }

    fn finalize_replica(&self, st: &mut State, key: &Key) -> Result<ReplicaInfo> {
        let epoch = st.epoch();
        let r = st.get_mut(key)?;
        let v = &self.inner.volumes[r.volume];
        let dest = id_to_block_dir(&v.finalized_dir(&key.0), key.1);
        if r.dir != dest {
            move_replica(&r.dir, &dest, key.1, r.info.gen_stamp, r.info.gen_stamp)?;
            r.dir = dest;
        }
        r.info.state = ReplicaState::Finalized;
        r.info.original_state = ReplicaState::Finalized;
        r.info.recovery_id = None;
        r.info.num_bytes = r.info.bytes_on_disk;
        r.epoch = epoch;
        Ok(r.info.clone())
    }

    /// Renames the meta file to a new generation stamp.
    fn bump_gen_stamp(r: &mut Replica, new_gs: u64) -> Result<()> {
        if new_gs != r.info.gen_stamp {
            move_replica(&r.dir, &r.dir, r.info.block_id, r.info.gen_stamp, new_gs)?;
            r.info.gen_stamp = new_gs;
        }
        Ok(())
    }

    fn open_writer(&self, key: &Key, r: &Replica) -> Result<ReplicaWriter> {
        let data_path = r.data_path();
        let meta_path = r.meta_path();
        Ok(ReplicaWriter {
            ds: self.clone(),
            key: key.clone(),
            epoch: r.epoch,
            data: layout::open_rw(&data_path)?,
            data_path,
            meta: layout::open_rw(&meta_path)?,
            meta_path,
            checksum: r.info.checksum,
            bytes_on_disk: r.info.bytes_on_disk,
        })
    }

    /// Reopens a FINALIZED replica for append (stage PIPELINE_SETUP_APPEND):
    /// its generation stamp must be `block.gen_stamp` and its length
    /// `expected_len`; it moves to `rbw/` with `new_gs`.
    pub fn append(
        &self,
        block: &ExtendedBlock,
        new_gs: u64,
        expected_len: u64,
    ) -> Result<ReplicaWriter> {
        let key = block.key();
        self.with_replica_exclusive(&key, |ds, st| {
            let epoch = st.epoch();
            let r = st.get_mut(&key)?;
            if r.info.state != ReplicaState::Finalized {
                return Err(Error::WrongState {
                    block_id: key.1,
                    state: r.info.state,
                    op: "append",
                });
            }
            check_gs(r, block.gen_stamp, block.gen_stamp, "append")?;
            if new_gs < r.info.gen_stamp {
                return Err(Error::GenStampMismatch {
                    block_id: key.1,
                    found: r.info.gen_stamp,
                    expected: new_gs,
                    op: "append (new generation stamp)",
                });
            }
            check_len(r, expected_len, "append")?;
            let rbw = ds.inner.volumes[r.volume].rbw_dir(&key.0);
            move_replica(&r.dir, &rbw, key.1, r.info.gen_stamp, new_gs)?;
            r.dir = rbw;
            r.info.gen_stamp = new_gs;
            r.info.state = ReplicaState::Rbw;
            r.info.original_state = ReplicaState::Rbw;
            r.epoch = epoch;
            let r = st.get(&key)?;
            ds.open_writer(&key, r)
        })
    }

    /// Before a shutdown for restart: marks the RBW replica of `block_id` to be
    /// loaded as RBW again if the node restarts within `budget`
    /// ([`restart`](self::restart)). Other states are left alone.
    pub fn save_rbw_for_restart(
        &self,
        pool_id: &str,
        block_id: i64,
        budget: Duration,
    ) -> Result<()> {
        let dir = {
            let st = lock(&self.inner.state);
            match st.replicas.get(&(pool_id.to_string(), block_id)) {
                Some(r) if r.info.state == ReplicaState::Rbw => r.dir.clone(),
                _ => return Ok(()),
            }
        };
        restart::write_restart_file(&dir, block_id, budget)
    }

    /// Pipeline recovery of a replica being written (stage
    /// PIPELINE_SETUP_STREAMING_RECOVERY): supersedes the current writer,
    /// requires the generation stamp in `[block.gen_stamp, new_gs]` and
    /// `min_bytes_rcvd ≤ bytes acked`, `bytes on disk ≤ max_bytes_rcvd`,
    /// truncates unacknowledged bytes, renames the meta file to `new_gs`, and
    /// returns a new writer. An RWR replica is accepted too and becomes RBW.
    pub fn recover_rbw(
        &self,
        block: &ExtendedBlock,
        new_gs: u64,
        min_bytes_rcvd: u64,
        max_bytes_rcvd: u64,
    ) -> Result<ReplicaWriter> {
        let key = block.key();
        self.with_replica_exclusive(&key, |ds, st| {
            let epoch = st.epoch();
            let r = st.get_mut(&key)?;
            if !matches!(r.info.state, ReplicaState::Rbw | ReplicaState::Rwr) {
                return Err(Error::WrongState {
                    block_id: key.1,
                    state: r.info.state,
                    op: "recover_rbw",
                });
            }
            check_gs(r, block.gen_stamp, new_gs, "recover_rbw")?;
            let acked = if r.info.state == ReplicaState::Rwr {
                r.info.bytes_on_disk
            } else {
                r.info.num_bytes
            };
            if acked < min_bytes_rcvd || r.info.bytes_on_disk > max_bytes_rcvd {
                return Err(Error::LengthMismatch {
                    block_id: key.1,
                    found: acked,
                    expected: min_bytes_rcvd,
                    op: "recover_rbw (acked vs min, on disk vs max bytes received)",
                });
            }
            if r.info.bytes_on_disk > acked {
                let (dp, mp) = (r.data_path(), r.meta_path());
                replica::truncate_files(
                    &layout::open_rw(&dp)?,
                    &dp,
                    &layout::open_rw(&mp)?,
                    &mp,
                    &r.info.checksum,
                    acked,
                )?;
                r.info.bytes_on_disk = acked;
            }
            Self::bump_gen_stamp(r, new_gs)?;
            r.info.num_bytes = acked;
            r.info.state = ReplicaState::Rbw;
            r.epoch = epoch;
            let r = st.get(&key)?;
            ds.open_writer(&key, r)
        })
    }

    /// Recovery of a pipeline that failed at close (stage
    /// PIPELINE_CLOSE_RECOVERY): a FINALIZED or RBW replica whose
    /// generation stamp is in `[block.gen_stamp, new_gs]` and length is
    /// `expected_len` gets `new_gs`, and is finalized if it was RBW.
    pub fn recover_close(
        &self,
        block: &ExtendedBlock,
        new_gs: u64,
        expected_len: u64,
    ) -> Result<ReplicaInfo> {
        let key = block.key();
        self.with_replica_exclusive(&key, |ds, st| {
            let epoch = st.epoch();
            let r = st.get_mut(&key)?;
            if !matches!(r.info.state, ReplicaState::Rbw | ReplicaState::Finalized) {
                return Err(Error::WrongState {
                    block_id: key.1,
                    state: r.info.state,
                    op: "recover_close",
                });
            }
            check_gs(r, block.gen_stamp, new_gs, "recover_close")?;
            if r.info.bytes_on_disk != expected_len {
                return Err(Error::LengthMismatch {
                    block_id: key.1,
                    found: r.info.bytes_on_disk,
                    expected: expected_len,
                    op: "recover_close",
                });
            }
            Self::bump_gen_stamp(r, new_gs)?;
            r.epoch = epoch;
            if r.info.state == ReplicaState::Rbw {
                let (dp, mp) = (r.data_path(), r.meta_path());
                fsync_file(&dp)?;
                fsync_file(&mp)?;
                ds.finalize_replica(st, &key)
            } else {
                Ok(r.info.clone())
            }
        })
    }

    /// Turns a TEMPORARY replica that received a whole TRANSFER_RBW into an
    /// RBW replica (`convertTemporaryToRbw`): moved from `tmp/` to `rbw/`,
    /// its length (bytes on disk) acknowledged, ready for the streaming
    /// recovery that follows a client-driven transfer.
    pub fn convert_temporary_to_rbw(&self, block: &ExtendedBlock) -> Result<ReplicaInfo> {
        let key = block.key();
        self.with_replica_exclusive(&key, |ds, st| {
            let epoch = st.epoch();
            let r = st.get_mut(&key)?;
            if r.info.state != ReplicaState::Temporary {
                return Err(Error::WrongState {
                    block_id: key.1,
                    state: r.info.state,
                    op: "convert_temporary_to_rbw",
                });
            }
            check_gs(
                r,
                block.gen_stamp,
                block.gen_stamp,
                "convert_temporary_to_rbw",
            )?;
            let rbw = ds.inner.volumes[r.volume].rbw_dir(&key.0);
            move_replica(&r.dir, &rbw, key.1, r.info.gen_stamp, r.info.gen_stamp)?;
            r.dir = rbw;
            r.info.state = ReplicaState::Rbw;
            r.info.original_state = ReplicaState::Rbw;
            r.info.num_bytes = r.info.bytes_on_disk;
            r.epoch = epoch;
            Ok(r.info.clone())
        })
    }

    /// Opens a FINALIZED or RBW replica for reading; its generation stamp
    /// must be at least `block.gen_stamp`.
    pub fn open_for_read(&self, block: &ExtendedBlock) -> Result<ReplicaReader> {
        let st = lock(&self.inner.state);
        let r = st.get(&block.key())?;
        if !matches!(
            r.info.state,
            ReplicaState::Finalized | ReplicaState::Rbw | ReplicaState::Rwr
        ) {
            return Err(Error::WrongState {
                block_id: block.block_id,
                state: r.info.state,
                op: "read",
            });
        }
        if r.info.gen_stamp < block.gen_stamp {
            return Err(Error::GenStampMismatch {
                block_id: block.block_id,
                found: r.info.gen_stamp,
                expected: block.gen_stamp,
                op: "read",
            });
        }
        let data_path = r.data_path();
        let meta_path = r.meta_path();
        Ok(ReplicaReader {
            block_id: block.block_id,
            gen_stamp: r.info.gen_stamp,
            state: r.info.state,
            visible_length: r.info.num_bytes,
            checksum: r.info.checksum,
            data: std::fs::File::open(&data_path).map_err(io_err("open", &data_path))?,
            data_path,
            meta: std::fs::File::open(&meta_path).map_err(io_err("open", &meta_path))?,
            meta_path,
        })
    }

    /// Checks a whole replica against its stored checksums (block scanner,
    /// or a client's report of a bad block): [`Error::Corrupt`] with the
    /// failing chunk's offset.
    pub fn verify_replica(&self, block: &ExtendedBlock) -> Result<()> {
        let r = self.open_for_read(block)?;
        r.verify(0, r.visible_length())
    }

    /// The replica's current info.
    pub fn get_replica(&self, pool_id: &str, block_id: i64) -> Option<ReplicaInfo> {
        lock(&self.inner.state)
            .replicas
            .get(&(pool_id.to_string(), block_id))
            .map(|r| r.info.clone())
    }

    /// Deletes replicas (a NameNode DNA_INVALIDATE command). Every listed
    /// replica found is deleted; the first not found is reported after.
    pub fn invalidate(&self, pool_id: &str, block_ids: &[i64]) -> Result<()> {
        let mut missing = None;
        for &id in block_ids {
            let key = (pool_id.to_string(), id);
            let removed = {
                let mut st = lock(&self.inner.state);
                st.replicas.remove(&key)
            };
            match removed {
                Some(r) => {
                    remove_if_exists(&r.data_path())?;
                    remove_if_exists(&r.meta_path())?;
                    tracing::debug!(block_id = id, "replica invalidated");
                }
                None => missing = missing.or(Some(id)),
            }
        }
        match missing {
            Some(block_id) => Err(Error::ReplicaNotFound { block_id }),
            None => Ok(()),
        }
    }

    /// The full block report of a block pool, one per storage: FINALIZED,
    /// RBW and RWR replicas (RUR and TEMPORARY are not reported).
    pub fn block_report(&self, pool_id: &str) -> Result<Vec<StorageBlockReport>> {
        let st = lock(&self.inner.state);
        if !st.pools.contains_key(pool_id) {
            return Err(Error::UnknownBlockPool(pool_id.to_string()));
        }
        let mut reports: Vec<StorageBlockReport> = self
            .inner
            .volumes
            .iter()
            .map(|v| StorageBlockReport {
                storage_id: v.storage_id.clone(),
                replicas: Vec::new(),
            })
            .collect();
        for ((bp, _), r) in &st.replicas {
            if bp != pool_id || matches!(r.info.state, ReplicaState::Rur | ReplicaState::Temporary)
            {
                continue;
            }
            reports[r.volume].replicas.push(ReportedReplica {
                block_id: r.info.block_id,
                gen_stamp: r.info.gen_stamp,
                num_bytes: if r.info.state == ReplicaState::Finalized {
                    r.info.num_bytes
                } else {
                    r.info.bytes_on_disk
                },
                state: r.info.state,
            });
        }
        for rep in &mut reports {
            rep.replicas.sort_by_key(|r| r.block_id);
        }
        Ok(reports)
    }

    /// Capacity, DFS used and remaining per volume (`statvfs` less
    /// `dfs.datanode.du.reserved`), with `pool_id`'s share.
    pub fn storage_reports(&self, pool_id: &str) -> Result<Vec<StorageReport>> {
        let st = lock(&self.inner.state);
        let mut used = vec![(0u64, 0u64); self.inner.volumes.len()];
        for ((bp, _), r) in &st.replicas {
            let n = r.info.bytes_on_disk + r.meta_len();
            used[r.volume].0 += n;
            if bp == pool_id {
                used[r.volume].1 += n;
            }
        }
        drop(st);
        self.inner
            .volumes
            .iter()
            .zip(used)
            .map(|(v, (dfs_used, bp_used))| {
                let space = v.space()?;
                Ok(StorageReport {
                    storage_id: v.storage_id.clone(),
                    dir: v.root.clone(),
                    capacity: space.capacity,
                    dfs_used,
                    remaining: space.available,
                    block_pool_used: bp_used,
                })
            })
            .collect()
    }

    /// Lease recovery, step 1 (`initReplicaRecovery`): supersedes any
    /// writer and turns the replica into RUR with `recovery_id`. Its
    /// generation stamp must be ≥ `block.gen_stamp` and < `recovery_id`; an
    /// RUR with an equal or newer recovery id refuses
    /// ([`Error::RecoveryInProgress`]).
    pub fn init_replica_recovery(
        &self,
        block: &ExtendedBlock,
        recovery_id: u64,
    ) -> Result<ReplicaRecoveryInfo> {
        let key = block.key();
        self.with_replica_exclusive(&key, |_, st| {
            let epoch = st.epoch();
            let r = st.get_mut(&key)?;
            if r.info.gen_stamp < block.gen_stamp || r.info.gen_stamp >= recovery_id {
                return Err(Error::GenStampMismatch {
                    block_id: key.1,
                    found: r.info.gen_stamp,
                    expected: block.gen_stamp,
                    op: "init_replica_recovery (need block gs ≤ replica gs < recovery id)",
                });
            }
            match r.info.state {
                ReplicaState::Rur => {
                    let current = r.info.recovery_id.unwrap_or(0);
                    if current >= recovery_id {
                        return Err(Error::RecoveryInProgress {
                            block_id: key.1,
                            current,
                            requested: recovery_id,
                        });
                    }
                }
                ReplicaState::Temporary => {
                    return Err(Error::WrongState {
                        block_id: key.1,
                        state: r.info.state,
                        op: "recover",
                    })
                }
                s => r.info.original_state = s,
            }
            r.info.state = ReplicaState::Rur;
            r.info.recovery_id = Some(recovery_id);
            r.info.num_bytes = r.info.bytes_on_disk;
            r.epoch = epoch;
            Ok(ReplicaRecoveryInfo {
                block_id: key.1,
                num_bytes: r.info.bytes_on_disk,
                gen_stamp: r.info.gen_stamp,
                original_state: r.info.original_state,
            })
        })
    }

    /// Lease recovery, step 2 (`updateReplicaUnderRecovery`): the RUR
    /// replica of `recovery_id` is truncated to `new_length` (≤ its bytes on
    /// disk), gets generation stamp `recovery_id`, and is finalized.
    pub fn update_replica_under_recovery(
        &self,
        block: &ExtendedBlock,
        recovery_id: u64,
        new_length: u64,
    ) -> Result<ReplicaInfo> {
        let key = block.key();
        self.with_replica_exclusive(&key, |ds, st| {
            let r = st.get_mut(&key)?;
            if r.info.state != ReplicaState::Rur {
                return Err(Error::WrongState {
                    block_id: key.1,
                    state: r.info.state,
                    op: "update_replica_under_recovery",
                });
            }
            if r.info.recovery_id != Some(recovery_id) {
                return Err(Error::RecoveryInProgress {
                    block_id: key.1,
                    current: r.info.recovery_id.unwrap_or(0),
                    requested: recovery_id,
                });
            }
            if new_length > r.info.bytes_on_disk {
                return Err(Error::LengthMismatch {
                    block_id: key.1,
                    found: r.info.bytes_on_disk,
                    expected: new_length,
                    op: "update_replica_under_recovery",
                });
            }
            let (dp, mp) = (r.data_path(), r.meta_path());
            let data = layout::open_rw(&dp)?;
            let meta = layout::open_rw(&mp)?;
            if new_length < r.info.bytes_on_disk {
                replica::truncate_files(&data, &dp, &meta, &mp, &r.info.checksum, new_length)?;
                r.info.bytes_on_disk = new_length;
            }
            data.sync_all().map_err(io_err("fsync", &dp))?;
            meta.sync_all().map_err(io_err("fsync", &mp))?;
            Self::bump_gen_stamp(r, recovery_id)?;
            ds.finalize_replica(st, &key)
        })
    }
}

fn fsync_file(path: &Path) -> Result<()> {
    layout::open_rw(path)?
        .sync_all()
        .map_err(io_err("fsync", path))
}

fn check_gs(r: &Replica, min: u64, max: u64, op: &'static str) -> Result<()> {
    if r.info.gen_stamp < min || r.info.gen_stamp > max {
        return Err(Error::GenStampMismatch {
            block_id: r.info.block_id,
            found: r.info.gen_stamp,
            expected: min,
            op,
        });
    }
    Ok(())
}

fn check_len(r: &Replica, expected: u64, op: &'static str) -> Result<()> {
    if r.info.num_bytes != expected {
        return Err(Error::LengthMismatch {
            block_id: r.info.block_id,
            found: r.info.num_bytes,
            expected,
            op,
        });
    }
    Ok(())
}

/// Lists `dir`'s replica files by block id: (has data file, meta gen
/// stamps); pushes `subdir*` directories onto `subdirs`.
fn list_replica_files(
    dir: &Path,
    subdirs: &mut Vec<PathBuf>,
) -> Result<HashMap<i64, (bool, Vec<u64>)>> {
    let mut out: HashMap<i64, (bool, Vec<u64>)> = HashMap::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => {
            return Err(Error::Io {
                op: "list",
                path: dir.to_path_buf(),
                source: e,
            })
        }
    };
    for entry in entries {
        let entry = entry.map_err(io_err("list", dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with("subdir") && entry.path().is_dir() {
            subdirs.push(entry.path());
            continue;
        }
        match parse_replica_file_name(name) {
            Some(ReplicaFileName::Data(id)) => out.entry(id).or_default().0 = true,
            Some(ReplicaFileName::Meta(id, gs)) => out.entry(id).or_default().1.push(gs),
            None => {}
        }
    }
    Ok(out)
}

/// Picks the newest meta file of a block in `dir`, deleting older ones.
fn pick_meta(dir: &Path, id: i64, metas: &[u64]) -> Result<Option<u64>> {
    let Some(&newest) = metas.iter().max() else {
        return Ok(None);
    };
    for &gs in metas.iter().filter(|&&g| g != newest) {
        tracing::warn!(block_id = id, gs, "stale meta file deleted");
        remove_if_exists(&dir.join(meta_file_name(id, gs)))?;
    }
    Ok(Some(newest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_dir_entries() {
        assert_eq!(data_dir_path("file:///a/b"), PathBuf::from("/a/b"));
        assert_eq!(data_dir_path("[DISK]file:///a"), PathBuf::from("/a"));
        assert_eq!(data_dir_path("file:/a"), PathBuf::from("/a"));
        assert_eq!(data_dir_path(" /x "), PathBuf::from("/x"));
    }

    #[test]
    fn config_from_conf() {
        let mut conf = Configuration::new();
        conf.set(keys::DFS_DATANODE_DATA_DIR, "file:///d1, /d2");
        conf.set(keys::DFS_DATANODE_DU_RESERVED, "1g");
        conf.set(
            keys::DFS_DATANODE_FSDATASET_VOLUME_CHOOSING_POLICY,
            "org.apache.hadoop.hdfs.server.datanode.fsdataset.AvailableSpaceVolumeChoosingPolicy",
        );
        let c = DatasetConfig::from_conf(&conf).unwrap();
        assert_eq!(
            c.data_dirs,
            vec![PathBuf::from("/d1"), PathBuf::from("/d2")]
        );
        assert_eq!(c.du_reserved, 1 << 30);
        assert_eq!(c.policy, VolumePolicy::AvailableSpace);
    }
}
