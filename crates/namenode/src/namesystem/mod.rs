//! The namesystem: namespace + blocks + DataNodes + leases under one owner, with the
//! operations' Hadoop semantics (Hadoop's `FSNamesystem`/`FSDirectory`).
//!
//! Every mutation goes through `FsNamesystem::log`: it applies an [`EditOp`] with
//! [`FsNamesystem::apply`] and queues it for the edit log. Validation and permission checks
//! happen before the first `log` of an operation, so a failed operation changes nothing.
//! Edit-log replay calls the same `apply`, so the replayed state equals the live one.
//!
//! This type is single-threaded; [`crate::NameNode`] puts it behind a lock and writes the
//! queued edits to the log with group commit.

mod apply;
mod dirops;
mod dnops;
mod read;
mod recovery;
mod write;
mod xattrops;

use std::collections::HashMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub use dnops::{
    describe as describe_datanode, unregistered as unregistered_datanode, ReceivedDeletedBlock,
    ReceivedDeletedStatus, ReportedBlock, SafeModeAction,
};
pub use read::{
    ContentSummary, DirectoryListing, FileStatus, FileType, FsStats, LocatedBlock, LocatedBlocks,
};
pub use write::{AppendResult, CreateFlags};

use crate::blocks::replication::RedundancyQueues;
use crate::blocks::{BlockMap, FIRST_BLOCK_ID, FIRST_GENERATION_STAMP};
use crate::config::NameNodeConfig;
use crate::datanodes::DatanodeManager;
use crate::editlog::EditOp;
use crate::error::{Error, Result};
use crate::lease::LeaseManager;
use crate::namespace::path;
use crate::namespace::{
    Access, BlockId, Caller, InodeId, Namespace, PermissionPolicy, Resolved, ROOT_INODE_ID,
};

/// Safe mode state.
#[derive(Debug, Clone, Default)]
pub(crate) struct SafeMode {
    /// Entered by an administrator: only an administrator leaves it.
    pub manual: bool,
    pub on: bool,
    /// When the threshold was reached (the extension runs from here).
    pub reached_at: Option<Instant>,
    /// When the state was last logged (`safemode.rs`).
    pub last_status_report: Option<Instant>,
}

/// A block recovery the NameNode started (Hadoop keeps these in the block's
/// `BlockUnderConstructionFeature`): only its primary may commit it, with this id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockRecovery {
    /// The recovery id (the new generation stamp).
    pub id: u64,
    /// The node index of the primary DataNode, if one was live.
    pub primary: Option<u32>,
}

/// The NameNode's whole in-memory state.
#[derive(Debug)]
pub struct FsNamesystem {
    pub(crate) ns: Namespace,
    pub(crate) blocks: BlockMap,
    pub(crate) redundancy: RedundancyQueues,
    pub(crate) dns: DatanodeManager,
    pub(crate) leases: LeaseManager,
    pub(crate) config: NameNodeConfig,
    pub(crate) policy: PermissionPolicy,
    pub(crate) block_pool_id: String,
    pub(crate) next_inode_id: InodeId,
    pub(crate) next_block_id: BlockId,
    /// The last generation stamp handed out.
    pub(crate) gen_stamp: u64,
    /// Expected locations (storage indices) of blocks being written.
    pub(crate) expected_locs: HashMap<BlockId, Vec<u32>>,
    /// Blocks under recovery: the recovery id and the primary DataNode asked to run it.
    pub(crate) recovery_ids: HashMap<BlockId, BlockRecovery>,
    /// DataNodes already chosen as primary of a block's recovery, latest last (Hadoop's
    /// `ReplicaUnderConstruction.chosenAsPrimary`): a retry picks another. Kept after
    /// the recovery (what `recovery_primaries` reports); TODO: drop with the block.
    pub(crate) recovery_primaries: HashMap<BlockId, Vec<u32>>,
    pub(crate) safe_mode: SafeMode,
    /// Edits applied but not yet handed to the edit log.
    pending: Vec<EditOp>,
}

/// Milliseconds since the epoch (Hadoop's time unit for mtime/atime).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl FsNamesystem {
    /// A namesystem with an empty namespace (the root owned by the superuser).
    pub fn new(config: NameNodeConfig, block_pool_id: &str) -> FsNamesystem {
        let ns = Namespace::new(&config.superuser, &config.supergroup, 0o755, 0);
        FsNamesystem::with_namespace(config, block_pool_id, ns)
    }

    pub(crate) fn with_namespace(
        config: NameNodeConfig,
        block_pool_id: &str,
        ns: Namespace,
    ) -> FsNamesystem {
        FsNamesystem {
            ns,
            blocks: BlockMap::default(),
            redundancy: RedundancyQueues::default(),
            dns: DatanodeManager::default(),
            leases: LeaseManager::new(config.lease_soft_limit, config.lease_hard_limit),
            policy: PermissionPolicy {
                enabled: config.permissions_enabled,
                superuser: config.superuser.clone(),
                supergroup: config.supergroup.clone(),
            },
            config,
            block_pool_id: block_pool_id.to_owned(),
            next_inode_id: ROOT_INODE_ID + 1,
            next_block_id: FIRST_BLOCK_ID,
            gen_stamp: FIRST_GENERATION_STAMP - 1,
            expected_locs: HashMap::new(),
            recovery_ids: HashMap::new(),
            recovery_primaries: HashMap::new(),
            safe_mode: SafeMode::default(),
            pending: Vec::new(),
        }
    }

    pub fn config(&self) -> &NameNodeConfig {
        &self.config
    }

    pub fn namespace(&self) -> &Namespace {
        &self.ns
    }

    pub fn block_map(&self) -> &BlockMap {
        &self.blocks
    }

    pub fn datanodes(&self) -> &DatanodeManager {
        &self.dns
    }

    pub fn lease_manager(&self) -> &LeaseManager {
        &self.leases
    }

    pub fn block_pool_id(&self) -> &str {
        &self.block_pool_id
    }

    /// The last generation stamp handed out.
    pub fn generation_stamp(&self) -> u64 {
        self.gen_stamp
    }

    /// Applies `op` and queues it for the edit log.
    pub(crate) fn log(&mut self, op: EditOp) -> Result<()> {
        self.apply(&op)?;
        self.pending.push(op);
        Ok(())
    }

    /// Edits applied since the last call, to be written to the edit log.
    pub fn take_pending_edits(&mut self) -> Vec<EditOp> {
        std::mem::take(&mut self.pending)
    }

    pub(crate) fn alloc_inode_id(&self) -> InodeId {
        self.next_inode_id
    }

    pub(crate) fn next_gs(&self) -> u64 {
        self.gen_stamp + 1
    }

    // ---- safe mode ----

    pub fn in_safe_mode(&self) -> bool {
        self.safe_mode.on
    }

    pub(crate) fn check_not_safe_mode(&self, op: &'static str) -> Result<()> {
        if self.safe_mode.on {
            return Err(Error::SafeMode {
                op,
                reason: self.safe_mode_tip(Instant::now()),
            });
        }
        Ok(())
    }

    // ---- path resolution and permission checks ----

    /// Validates and resolves a path.
    pub(crate) fn resolve(&self, p: &str) -> Result<(Vec<Vec<u8>>, Resolved)> {
        let comps = path::components(p)?;
        let r = self.ns.resolve(&comps);
        Ok((comps.into_iter().map(<[u8]>::to_vec).collect(), r))
    }

    pub(crate) fn is_superuser(&self, caller: &Caller) -> bool {
        self.policy.is_superuser(caller)
    }

    fn checks_apply(&self, caller: &Caller) -> bool {
        self.policy.enabled && !self.is_superuser(caller)
    }

    /// Checks `access` on one inode.
    pub(crate) fn check_inode(&self, caller: &Caller, ix: u32, access: Access) -> Result<()> {
        if !self.checks_apply(caller) {
            return Ok(());
        }
        let inode = self.ns.inode(ix)?;
        if PermissionPolicy::allows(
            caller,
            self.ns.owner_name(inode),
            self.ns.group_name(inode),
            inode.perm,
            access,
        ) {
            Ok(())
        } else {
            Err(self.denied(caller, ix, access))
        }
    }

    fn denied(&self, caller: &Caller, ix: u32, access: Access) -> Error {
        let (owner, group, perm) = self.ns.get(ix).map_or(("", "", 0), |i| {
            (self.ns.owner_name(i), self.ns.group_name(i), i.perm)
        });
        Error::AccessControl {
            user: caller.user.clone(),
            access: access.name(),
            path: format!(
                "{}\":{owner}:{group}:{}",
                self.ns.full_path(ix),
                mode_string(perm)
            ),
        }
    }

    /// EXECUTE on every existing directory leading to the last component (Hadoop's
    /// traverse check).
    pub(crate) fn check_traverse(&self, caller: &Caller, r: &Resolved) -> Result<()> {
        let n = r.ixs.len().min(r.depth);
        for &ix in &r.ixs[..n] {
            self.check_inode(caller, ix, Access::EXECUTE)?;
        }
        Ok(())
    }

    /// The deepest existing ancestor of the full path (excluding the path itself).
    pub(crate) fn ancestor_of(r: &Resolved) -> u32 {
        let n = r.ixs.len().min(r.depth);
        r.ixs[..n]
            .last()
            .copied()
            .unwrap_or(crate::namespace::ROOT_IX)
    }

    /// `access` on every directory in the subtree at `ix` (recursive delete etc.).
    pub(crate) fn check_subtree(&self, caller: &Caller, ix: u32, access: Access) -> Result<()> {
        if !self.checks_apply(caller) {
            return Ok(());
        }
        let mut stack = vec![ix];
        while let Some(cur) = stack.pop() {
            let inode = self.ns.inode(cur)?;
            if inode.is_dir() {
                self.check_inode(caller, cur, access)?;
                stack.extend_from_slice(inode.children());
            }
        }
        Ok(())
    }

    /// The caller owns `ix` (or is a superuser).
    pub(crate) fn check_owner(&self, caller: &Caller, ix: u32) -> Result<()> {
        if !self.checks_apply(caller) {
            return Ok(());
        }
        let inode = self.ns.inode(ix)?;
        if self.ns.owner_name(inode) == caller.user {
            Ok(())
        } else {
            Err(Error::NotOwner {
                user: caller.user.clone(),
                path: self.ns.full_path(ix),
            })
        }
    }

    /// The sticky-bit rule for removing/renaming `ix` out of its parent.
    pub(crate) fn check_sticky(&self, caller: &Caller, ix: u32) -> Result<()> {
        if !self.checks_apply(caller) {
            return Ok(());
        }
        let inode = self.ns.inode(ix)?;
        let parent = self.ns.inode(inode.parent)?;
        if PermissionPolicy::sticky_allows(
            caller,
            parent.perm,
            self.ns.owner_name(parent),
            self.ns.owner_name(inode),
        ) {
            Ok(())
        } else {
            Err(Error::AccessControl {
                user: caller.user.clone(),
                access: "WRITE",
                path: format!("{}\" (sticky bit on the parent", self.ns.full_path(ix)),
            })
        }
    }
}

/// `rwxr-xr-x` (with `t`/`T` for the sticky bit), as Hadoop prints modes.
pub fn mode_string(perm: u16) -> String {
    let mut s = String::with_capacity(9);
    for shift in [6, 3, 0] {
        let b = (perm >> shift) & 7;
        s.push(if b & 4 != 0 { 'r' } else { '-' });
        s.push(if b & 2 != 0 { 'w' } else { '-' });
        s.push(if b & 1 != 0 { 'x' } else { '-' });
    }
    if perm & crate::namespace::permission::STICKY_BIT != 0 {
        let last = if perm & 1 != 0 { 't' } else { 'T' };
        s.pop();
        s.push(last);
    }
    s
}

mod safemode;

pub use safemode::SAFE_MODE_REPORT_INTERVAL;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod xattr_tests;
