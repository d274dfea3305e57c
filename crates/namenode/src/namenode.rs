//! [`NameNode`]: the namesystem behind a lock, made durable by the edit log.
//!
//! Every mutating method takes the write lock, runs the operation, hands its edit records
//! to the log (which only buffers them), releases the lock and then waits for the group
//! commit covering its last txid. Read-only methods take the read lock. The type is
//! `Send + Sync`; the RPC handlers share it through an `Arc`.

use std::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use crate::blocks::ExtendedBlock;
use crate::config::NameNodeConfig;
use crate::datanodes::hosts::HostLists;
use crate::datanodes::{DatanodeCommand, DatanodeId, StorageReport};
use crate::editlog::{load_edits, EditLog, EditLogStats};
use crate::error::{Error, Result};
use crate::image;
use crate::namespace::xattr::XAttr;
use crate::namespace::{Caller, FsPermission, InodeId};
use crate::namesystem::{
    AppendResult, ContentSummary, CreateFlags, DirectoryListing, FileStatus, FsNamesystem, FsStats,
    LocatedBlock, LocatedBlocks, ReceivedDeletedBlock, ReportedBlock, SafeModeAction,
};
use crate::storage::{fsync_dir, write_atomically, NameDir, StorageInfo};

/// Images kept after a checkpoint (older ones and the edits they cover are purged).
pub const IMAGES_RETAINED: usize = 2;

/// The NameNode state machine.
#[derive(Debug)]
pub struct NameNode {
    fs: RwLock<FsNamesystem>,
    log: EditLog,
    dir: NameDir,
    info: StorageInfo,
    /// Serializes checkpoints; holds the txid of the last image and when it was taken.
    checkpoint: Mutex<(u64, Instant)>,
    /// `dfs.hosts` / `dfs.hosts.exclude` as last read.
    hosts: RwLock<HostLists>,
}

impl NameNode {
    /// Formats the name directory: a new `VERSION` and an empty image `fsimage_0`.
    pub fn format(config: &NameNodeConfig, cluster_id: Option<&str>) -> Result<StorageInfo> {
        let dir = NameDir::new(&config.name_dir);
        let info = StorageInfo::generate(cluster_id);
        dir.format(&info)?;
        let fs = FsNamesystem::new(config.clone(), &info.block_pool_id);
        write_atomically(&dir.image_path(0), &image::save(&fs, 0))?;
        tracing::info!(dir = %dir.root().display(), cluster_id = %info.cluster_id, "formatted name directory");
        Ok(info)
    }

    /// Loads the newest image, replays the edits after it (recovering a torn tail) and
    /// opens a new edit segment. Starts in safe mode until enough blocks are reported.
    pub fn open(config: NameNodeConfig) -> Result<NameNode> {
        let dir = NameDir::new(&config.name_dir);
        let info = dir.read_version()?;
        let hosts = HostLists::load(config.hosts_include.clone(), config.hosts_exclude.clone())?;
        let listing = dir.list()?;
        let mut loaded = None;
        for &txid in listing.images.iter().rev() {
            let path = dir.image_path(txid);
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            match image::load(&bytes, &path, config.clone(), &info.block_pool_id) {
                Ok(x) => {
                    loaded = Some(x);
                    break;
                }
                Err(e) => tracing::error!(error = %e, "image unusable, trying an older one"),
            }
        }
        let (mut fs, image_txid) = loaded.ok_or_else(|| Error::Storage {
            dir: dir.root().to_owned(),
            reason: "no loadable fsimage".into(),
        })?;
        fs.enter_startup_safe_mode();
        let edits = load_edits(&dir, image_txid)?;
        let mut last = image_txid;
        for (txid, op) in &edits {
            fs.apply(op).map_err(|e| {
                tracing::error!(txid, error = %e, "edit does not apply");
                Error::Corrupt {
                    file: dir.current(),
                    offset: *txid,
                    reason: "edit record does not apply to the namespace",
                }
            })?;
            last = *txid;
        }
        fs.take_pending_edits();
        fs.check_safe_mode(Instant::now());
        tracing::info!(
            image_txid,
            edits = edits.len(),
            last_txid = last,
            "namespace loaded"
        );
        let log = EditLog::open(dir.clone(), last)?;
        Ok(NameNode {
            fs: RwLock::new(fs),
            log,
            dir,
            info,
            checkpoint: Mutex::new((image_txid, Instant::now())),
            hosts: RwLock::new(hosts),
        })
    }

    pub fn storage_info(&self) -> &StorageInfo {
        &self.info
    }

    fn read(&self) -> RwLockReadGuard<'_, FsNamesystem> {
        self.fs.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_lock(&self) -> RwLockWriteGuard<'_, FsNamesystem> {
        self.fs.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs a mutation: lock, apply, buffer its edits, unlock, group-commit.
    fn mutate<T>(&self, f: impl FnOnce(&mut FsNamesystem) -> Result<T>) -> Result<T> {
        let (res, txid) = {
            let mut fs = self.write_lock();
            let res = f(&mut fs);
            let edits = fs.take_pending_edits();
            let txid = (!edits.is_empty()).then(|| self.log.log(&edits));
            (res, txid)
        };
        if let Some(txid) = txid {
            self.log.sync(txid)?;
        }
        res
    }

    /// Read access to the whole state (tests, metrics, the service layer's odd queries).
    pub fn with_namesystem<T>(&self, f: impl FnOnce(&FsNamesystem) -> T) -> T {
        f(&self.read())
    }

    // ---- ClientProtocol ----

    pub fn get_file_info(&self, caller: &Caller, path: &str) -> Result<Option<FileStatus>> {
        self.read().get_file_info(caller, path)
    }

    pub fn get_listing(
        &self,
        caller: &Caller,
        path: &str,
        start_after: &[u8],
    ) -> Result<Option<DirectoryListing>> {
        self.read().get_listing(caller, path, start_after)
    }

    pub fn get_block_locations(
        &self,
        caller: &Caller,
        path: &str,
        offset: u64,
        length: u64,
    ) -> Result<LocatedBlocks> {
        self.read()
            .get_block_locations(caller, path, offset, length)
    }

    pub fn get_content_summary(&self, caller: &Caller, path: &str) -> Result<ContentSummary> {
        self.read().get_content_summary(caller, path)
    }

    pub fn get_fs_stats(&self) -> FsStats {
        self.read().get_fs_stats()
    }

    /// The DataNodes chosen so far as primary of `block`'s recovery (transfer
    /// addresses, first to last).
    pub fn recovery_primaries(&self, block: u64) -> Vec<String> {
        self.read().recovery_primaries(block)
    }

    pub fn mkdirs(
        &self,
        caller: &Caller,
        path: &str,
        perm: FsPermission,
        create_parent: bool,
    ) -> Result<bool> {
        self.mutate(|fs| fs.mkdirs(caller, path, perm, create_parent))
    }

    #[allow(clippy::too_many_arguments)]
    pub fn create(
        &self,
        caller: &Caller,
        path: &str,
        perm: FsPermission,
        flags: CreateFlags,
        create_parent: bool,
        replication: u16,
        block_size: u64,
    ) -> Result<FileStatus> {
        self.mutate(|fs| {
            fs.create(
                caller,
                path,
                perm,
                flags,
                create_parent,
                replication,
                block_size,
            )
        })
    }

    pub fn append(&self, caller: &Caller, path: &str, flags: CreateFlags) -> Result<AppendResult> {
        self.mutate(|fs| fs.append(caller, path, flags))
    }

    pub fn add_block(
        &self,
        caller: &Caller,
        path: &str,
        file_id: Option<InodeId>,
        previous: Option<&ExtendedBlock>,
        excluded: &[String],
        favored: &[String],
    ) -> Result<LocatedBlock> {
        self.mutate(|fs| fs.add_block(caller, path, file_id, previous, excluded, favored))
    }

    pub fn abandon_block(
        &self,
        caller: &Caller,
        block: &ExtendedBlock,
        path: &str,
        file_id: Option<InodeId>,
    ) -> Result<()> {
        self.mutate(|fs| fs.abandon_block(caller, block, path, file_id))
    }

    pub fn complete(
        &self,
        caller: &Caller,
        path: &str,
        file_id: Option<InodeId>,
        last: Option<&ExtendedBlock>,
    ) -> Result<bool> {
        self.mutate(|fs| fs.complete(caller, path, file_id, last))
    }

    pub fn fsync(
        &self,
        caller: &Caller,
        path: &str,
        file_id: Option<InodeId>,
        last_block_length: Option<u64>,
    ) -> Result<()> {
        self.mutate(|fs| fs.fsync(caller, path, file_id, last_block_length))
    }

    pub fn update_block_for_pipeline(
        &self,
        caller: &Caller,
        block: &ExtendedBlock,
    ) -> Result<LocatedBlock> {
        self.mutate(|fs| fs.update_block_for_pipeline(caller, block))
    }

    pub fn update_pipeline(
        &self,
        caller: &Caller,
        old: &ExtendedBlock,
        new: &ExtendedBlock,
        new_nodes: &[String],
        new_storage_ids: &[String],
    ) -> Result<()> {
        self.mutate(|fs| fs.update_pipeline(caller, old, new, new_nodes, new_storage_ids))
    }

    #[allow(clippy::too_many_arguments)]
    pub fn get_additional_datanode(
        &self,
        caller: &Caller,
        path: &str,
        file_id: Option<InodeId>,
        block: &ExtendedBlock,
        existing: &[String],
        excluded: &[String],
        count: usize,
    ) -> Result<LocatedBlock> {
        self.mutate(|fs| {
            fs.get_additional_datanode(caller, path, file_id, block, existing, excluded, count)
        })
    }

    pub fn rename(&self, caller: &Caller, src: &str, dst: &str) -> Result<bool> {
        self.mutate(|fs| fs.rename(caller, src, dst))
    }

    pub fn rename2(&self, caller: &Caller, src: &str, dst: &str, overwrite: bool) -> Result<()> {
        self.mutate(|fs| fs.rename2(caller, src, dst, overwrite))
    }

    pub fn delete(&self, caller: &Caller, path: &str, recursive: bool) -> Result<bool> {
        self.mutate(|fs| fs.delete(caller, path, recursive))
    }

    pub fn set_replication(&self, caller: &Caller, path: &str, replication: u16) -> Result<bool> {
        self.mutate(|fs| fs.set_replication(caller, path, replication))
    }

    pub fn set_permission(&self, caller: &Caller, path: &str, perm: FsPermission) -> Result<()> {
        self.mutate(|fs| fs.set_permission(caller, path, perm))
    }

    pub fn set_xattr(
        &self,
        caller: &Caller,
        path: &str,
        name: &str,
        value: &[u8],
        flags: u32,
    ) -> Result<()> {
        self.mutate(|fs| fs.set_xattr(caller, path, name, value, flags))
    }

    pub fn get_xattrs(&self, caller: &Caller, path: &str, names: &[String]) -> Result<Vec<XAttr>> {
        self.read().get_xattrs(caller, path, names)
    }

    pub fn list_xattrs(&self, caller: &Caller, path: &str) -> Result<Vec<XAttr>> {
        self.read().list_xattrs(caller, path)
    }

    pub fn remove_xattr(&self, caller: &Caller, path: &str, name: &str) -> Result<()> {
        self.mutate(|fs| fs.remove_xattr(caller, path, name))
    }

    pub fn set_owner(
        &self,
        caller: &Caller,
        path: &str,
        owner: Option<&str>,
        group: Option<&str>,
    ) -> Result<()> {
        self.mutate(|fs| fs.set_owner(caller, path, owner, group))
    }

    pub fn set_times(&self, caller: &Caller, path: &str, mtime: i64, atime: i64) -> Result<()> {
        self.mutate(|fs| fs.set_times(caller, path, mtime, atime))
    }

    pub fn concat(&self, caller: &Caller, target: &str, srcs: &[String]) -> Result<()> {
        self.mutate(|fs| fs.concat(caller, target, srcs))
    }

    pub fn truncate(&self, caller: &Caller, path: &str, new_length: u64) -> Result<bool> {
        self.mutate(|fs| fs.truncate(caller, path, new_length))
    }

    pub fn renew_lease(&self, client_name: &str) {
        self.write_lock().renew_lease(client_name, Instant::now());
    }

    pub fn recover_lease(&self, caller: &Caller, path: &str) -> Result<bool> {
        self.mutate(|fs| fs.recover_lease(caller, path))
    }

    pub fn set_safe_mode(&self, caller: &Caller, action: SafeModeAction) -> Result<bool> {
        let mut fs = self.write_lock();
        if action != SafeModeAction::Get
            && fs.config().permissions_enabled
            && !fs.is_superuser(caller)
        {
            return Err(Error::SuperuserRequired {
                user: caller.user.clone(),
            });
        }
        Ok(fs.set_safe_mode(action))
    }

    // ---- DatanodeProtocol ----

    /// Registers a DataNode calling as `rpc_user` (its `ip_addr` must be the connection's):
    /// refused if the host lists refuse it (`DisallowedDatanodeException`) or a live node
    /// of that uuid is registered from elsewhere (`UnregisteredNodeException`).
    pub fn register_datanode(&self, id: DatanodeId, rpc_user: &str) -> Result<()> {
        let refusal = self
            .hosts
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .refusal(&id);
        if let Some(reason) = refusal {
            tracing::warn!(uuid = %id.uuid, addr = %id.xfer_addr(), reason, "datanode registration refused");
            return Err(Error::DisallowedDatanode {
                node: crate::namesystem::describe_datanode(&id),
                reason: reason.to_owned(),
            });
        }
        self.write_lock()
            .register_datanode_as(id, rpc_user, Instant::now())
            .map(|_| ())
    }

    /// The registered node a DatanodeProtocol call naming `uuid` comes from (see
    /// [`FsNamesystem::datanode_for_call`]).
    pub fn datanode_for_call(&self, uuid: &str, ip: &str, rpc_user: &str) -> Result<Option<u32>> {
        self.read().datanode_for_call(uuid, ip, rpc_user)
    }

    /// True if a live DataNode is registered from `ip` by `rpc_user`.
    pub fn is_datanode_caller(&self, ip: &str, rpc_user: &str) -> bool {
        !self.read().datanodes_at(ip, rpc_user).is_empty()
    }

    /// refreshNodes: re-reads `dfs.hosts` and `dfs.hosts.exclude`; live nodes they now
    /// refuse are declared dead and refused from then on. Returns those nodes' uuids.
    pub fn refresh_nodes(&self) -> Result<Vec<String>> {
        let hosts = {
            let mut h = self.hosts.write().unwrap_or_else(|p| p.into_inner());
            h.refresh()?;
            h.clone()
        };
        let gone = self
            .write_lock()
            .disallow_datanodes(|id| hosts.refusal(id).is_some());
        tracing::info!(?gone, "refreshNodes: host lists re-read");
        Ok(gone)
    }

    /// Hadoop's `checkSuperuserPrivilege`: `AccessControlException` unless the caller is
    /// the superuser or in the supergroup (no check with permissions off).
    pub fn check_superuser(&self, caller: &Caller) -> Result<()> {
        let fs = self.read();
        if fs.config().permissions_enabled && !fs.is_superuser(caller) {
            return Err(Error::SuperuserRequired {
                user: caller.user.clone(),
            });
        }
        Ok(())
    }

    pub fn heartbeat(
        &self,
        uuid: &str,
        reports: &[StorageReport],
        xceiver_count: u32,
    ) -> Vec<DatanodeCommand> {
        self.write_lock()
            .heartbeat(uuid, reports, xceiver_count, Instant::now())
    }

    pub fn block_report(
        &self,
        uuid: &str,
        storage_id: &str,
        blocks: &[ReportedBlock],
    ) -> Result<()> {
        self.write_lock()
            .block_report(uuid, storage_id, blocks, Instant::now())
    }

    pub fn incremental_block_report(
        &self,
        uuid: &str,
        storage_id: &str,
        entries: &[ReceivedDeletedBlock],
    ) -> Result<()> {
        self.write_lock()
            .incremental_block_report(uuid, storage_id, entries, Instant::now())
    }

    pub fn report_bad_blocks(&self, bad: &[(ExtendedBlock, Vec<(String, String)>)]) {
        self.write_lock().report_bad_blocks(bad);
    }

    /// commitBlockSynchronization from a connection of `rpc_user` at `ip`: only the
    /// primary DataNode of the block's recovery (registered from there) may commit it.
    #[allow(clippy::too_many_arguments)]
    pub fn commit_block_synchronization(
        &self,
        ip: &str,
        rpc_user: &str,
        block: &ExtendedBlock,
        new_gs: u64,
        new_length: u64,
        close_file: bool,
        delete_block: bool,
        new_targets: &[(String, String)],
    ) -> Result<()> {
        self.mutate(|fs| {
            let callers = fs.datanodes_at(ip, rpc_user);
            if callers.is_empty() {
                return Err(Error::UnregisteredNode {
                    message: format!(
                        "Unregistered server: no DataNode is registered from {ip} as {rpc_user}"
                    ),
                });
            }
            fs.commit_block_synchronization(
                &callers,
                block,
                new_gs,
                new_length,
                close_file,
                delete_block,
                new_targets,
            )
        })
    }

    // ---- monitors (driven by looper timers) ----

    /// Lease monitor: recovers files of leases past the hard limit.
    pub fn check_leases(&self, now: Instant) -> Result<Vec<String>> {
        self.mutate(|fs| Ok(fs.check_leases(now)))
    }

    /// Heartbeat monitor: declares dead nodes; returns their uuids.
    pub fn check_heartbeats(&self, now: Instant) -> Vec<String> {
        self.write_lock().check_heartbeats(now)
    }

    /// Redundancy monitor: schedules re-replications.
    pub fn compute_replication_work(&self, max_blocks: usize, now: Instant) -> usize {
        self.write_lock().compute_replication_work(max_blocks, now)
    }

    /// Safe-mode monitor (the extension period).
    pub fn check_safe_mode(&self, now: Instant) {
        self.write_lock().check_safe_mode(now);
    }

    pub fn in_safe_mode(&self) -> bool {
        self.read().in_safe_mode()
    }

    // ---- durability ----

    /// Writes a checkpoint if the period or the txn count since the last one is exceeded.
    pub fn maybe_checkpoint(&self, now: Instant) -> Result<Option<u64>> {
        let (last_image, at) = *self.checkpoint.lock().unwrap_or_else(|p| p.into_inner());
        let cfg_due = {
            let fs = self.read();
            let c = fs.config();
            now.saturating_duration_since(at) >= c.checkpoint_period
                || self.log.last_txid().saturating_sub(last_image) >= c.checkpoint_txns
        };
        if cfg_due && self.log.last_txid() > last_image {
            return self.checkpoint().map(Some);
        }
        Ok(None)
    }

    /// Writes `fsimage_<txid>` atomically for the current state, rolls the edit log and
    /// purges old images and edits. Returns the image's txid.
    pub fn checkpoint(&self) -> Result<u64> {
        let mut ck = self.checkpoint.lock().unwrap_or_else(|p| p.into_inner());
        let (bytes, txid) = {
            // The write lock keeps new edits out while the state is serialized.
            let fs = self.write_lock();
            let txid = self.log.last_txid();
            (image::save(&fs, txid), txid)
        };
        self.log.roll()?;
        write_atomically(&self.dir.image_path(txid), &bytes)?;
        *ck = (txid, Instant::now());
        self.purge(txid)?;
        tracing::info!(txid, bytes = bytes.len(), "checkpoint written");
        Ok(txid)
    }

    fn purge(&self, _newest: u64) -> Result<()> {
        let l = self.dir.list()?;
        if l.images.len() <= IMAGES_RETAINED {
            return Ok(());
        }
        let keep_from = l.images[l.images.len() - IMAGES_RETAINED];
        for &t in l.images.iter().filter(|&&t| t < keep_from) {
            let p = self.dir.image_path(t);
            std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
        }
        for &(a, b) in l.finalized.iter().filter(|&&(_, b)| b <= keep_from) {
            let p = self.dir.finalized_path(a, b);
            std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
        }
        fsync_dir(&self.dir.current())
    }

    pub fn edit_log_stats(&self) -> EditLogStats {
        self.log.stats()
    }

    /// Clean shutdown: a final checkpoint, and the edit segment finalized.
    pub fn shutdown(self) -> Result<()> {
        self.checkpoint()?;
        self.log.close()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namenode_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<NameNode>();
    }
}
