//! The write path: create, append, addBlock, abandonBlock, complete, fsync,
//! updateBlockForPipeline, updatePipeline (leases and recovery are in recovery.rs).

use std::time::Instant;

use super::dirops::parent_of;
use super::read::{FileStatus, LocatedBlock};
use super::{now_ms, FsNamesystem};
use crate::blocks::{BlockState, ExtendedBlock};
use crate::datanodes::placement::PlacementRequest;
use crate::editlog::EditOp;
use crate::error::{Error, Result};
use crate::namespace::inode::MAX_BLOCK_SIZE;
use crate::namespace::{Access, BlockId, Caller, FsPermission, InodeId};

/// Hadoop's `CreateFlag` bits as sent in `CreateRequestProto.createFlag`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CreateFlags(pub u32);

impl CreateFlags {
    pub const CREATE: u32 = 0x01;
    pub const OVERWRITE: u32 = 0x02;
    pub const APPEND: u32 = 0x04;
    pub const NEW_BLOCK: u32 = 0x20;

    pub fn has(self, bit: u32) -> bool {
        self.0 & bit != 0
    }
}

/// append's answer: the last block if it is partial (the client continues it), and the
/// file's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendResult {
    pub last_block: Option<LocatedBlock>,
    pub status: FileStatus,
}

impl FsNamesystem {
    /// The file a writer names, checked to be open by `caller.client_name`.
    fn check_lease(&self, caller: &Caller, path: &str, file_id: Option<InodeId>) -> Result<u32> {
        let ix = match file_id.filter(|&id| id != 0) {
            Some(id) => self.ns.ix_of(id),
            None => {
                let (_, r) = self.resolve(path)?;
                r.last()
            }
        }
        .ok_or_else(|| Error::FileNotFound {
            path: format!(
                "{path} (inode {}): File does not exist.",
                file_id.unwrap_or(0)
            ),
        })?;
        let f = self
            .ns
            .inode(ix)?
            .file()
            .ok_or_else(|| Error::FileNotFound {
                path: format!("{path} is a directory"),
            })?;
        match &f.uc {
            None => Err(Error::LeaseExpired {
                path: path.to_owned(),
                reason: "File is not open for writing.",
            }),
            Some(uc) if uc.client_name != caller.client_name => Err(Error::LeaseExpired {
                path: path.to_owned(),
                reason: "the file is open for writing by another client.",
            }),
            Some(_) => Ok(ix),
        }
    }

    /// An open file whose lease is held by someone else: let the caller take it over only
    /// after recovery (Hadoop's `recoverLeaseInternal`).
    pub(crate) fn recover_lease_internal(
        &mut self,
        caller: &Caller,
        ix: u32,
        path: &str,
        force: bool,
    ) -> Result<bool> {
        let holder = match self.ns.inode(ix)?.file().and_then(|f| f.uc.as_ref()) {
            None => return Ok(true),
            Some(uc) => uc.client_name.clone(),
        };
        if !force && holder == caller.client_name {
            return Err(Error::AlreadyBeingCreated {
                path: path.to_owned(),
                client: caller.client_name.clone(),
                holder,
            });
        }
        if self.recovery_in_progress(ix) {
            return Err(Error::RecoveryInProgress {
                path: path.to_owned(),
            });
        }
        if force || self.leases.soft_expired(&holder, Instant::now()) {
            let closed = self.internal_release_lease(ix)?;
            if force {
                return Ok(closed);
            }
            if closed {
                return Ok(true);
            }
            return Err(Error::RecoveryInProgress {
                path: path.to_owned(),
            });
        }
        Err(Error::AlreadyBeingCreated {
            path: path.to_owned(),
            client: caller.client_name.clone(),
            holder,
        })
    }

    pub(crate) fn recovery_in_progress(&self, ix: u32) -> bool {
        self.ns
            .get(ix)
            .and_then(|i| i.file())
            .and_then(|f| f.blocks.as_slice().last().copied())
            .and_then(|b| self.blocks.get(b))
            .is_some_and(|b| b.state == BlockState::UnderRecovery)
    }

    /// create: a new (or overwritten) file open for writing by `caller.client_name`.
    #[allow(clippy::too_many_arguments)]
    pub fn create(
        &mut self,
        caller: &Caller,
        path: &str,
        perm: FsPermission,
        flags: CreateFlags,
        create_parent: bool,
        replication: u16,
        block_size: u64,
    ) -> Result<FileStatus> {
        self.check_not_safe_mode("create file")?;
        let (comps, r) = self.resolve(path)?;
        if comps.is_empty() {
            return Err(Error::FileAlreadyExists {
                path: "/ already exists as a directory".into(),
            });
        }
        self.check_traverse(caller, &r)?;
        if r.file_in_middle {
            return Err(Error::ParentNotDirectory {
                path: self.ns.full_path(r.deepest()),
            });
        }
        self.verify_replication(path, replication)?;
        if block_size < self.config.min_block_size || block_size > MAX_BLOCK_SIZE || block_size == 0
        {
            return Err(Error::IllegalArgument {
                message: format!(
                    "Specified block size {block_size} is out of range (minimum {})",
                    self.config.min_block_size
                ),
            });
        }
        let existing = r.last();
        if let Some(ix) = existing {
            if self.ns.inode(ix)?.is_dir() {
                return Err(Error::FileAlreadyExists {
                    path: format!("{path} already exists as a directory"),
                });
            }
            if flags.has(CreateFlags::APPEND) {
                let res = self.append(caller, path, flags)?;
                return Ok(res.status);
            }
            if flags.has(CreateFlags::OVERWRITE) {
                self.check_inode(caller, ix, Access::WRITE)?;
            }
        }
        self.check_inode(caller, Self::ancestor_of(&r), Access::WRITE)?;
        if !create_parent && r.parent().is_none() {
            return Err(Error::FileNotFound {
                path: format!("Parent directory doesn't exist: {}", parent_of(path)),
            });
        }
        if let Some(ix) = existing {
            // An open file: only after its lease is recovered.
            self.recover_lease_internal(caller, ix, path, false)?;
            if !flags.has(CreateFlags::OVERWRITE) {
                return Err(Error::FileAlreadyExists {
                    path: format!("{path} for client {} already exists", caller.client_machine),
                });
            }
        } else if !flags.has(CreateFlags::CREATE) && !flags.has(CreateFlags::OVERWRITE) {
            return Err(Error::FileNotFound {
                path: path.to_owned(),
            });
        }
        let mtime = now_ms();
        if let Some(ix) = existing {
            self.check_sticky(caller, ix)?;
            self.log(EditOp::Delete {
                id: self.ns.id_of(ix),
                mtime,
            })?;
        }
        let perm = FsPermission::new(perm.bits());
        // Existing ancestors of the file (excluding the file itself).
        let ancestors = r.ixs.len().min(comps.len());
        let parent = self.create_missing_dirs(
            caller,
            &comps[..comps.len() - 1],
            r.ixs[ancestors - 1],
            ancestors - 1,
            perm.with_user_write_execute(),
            perm.with_user_write_execute(),
            mtime,
        )?;
        let group = {
            let p = self.ns.inode(parent)?;
            self.ns.group_name(p).to_owned()
        };
        let id = self.alloc_inode_id();
        self.log(EditOp::AddFile {
            id,
            parent: self.ns.id_of(parent),
            name: comps.last().cloned().unwrap_or_default(),
            perm: perm.bits(),
            owner: caller.user.clone(),
            group,
            mtime,
            replication,
            block_size,
            client_name: caller.client_name.clone(),
            client_machine: caller.client_machine.clone(),
        })?;
        let ix = self.ns.ix_of(id).ok_or_else(|| Error::FileNotFound {
            path: path.to_owned(),
        })?;
        self.status(ix, Vec::new())
    }

    /// append: reopens a closed file for `caller.client_name`.
    pub fn append(
        &mut self,
        caller: &Caller,
        path: &str,
        flags: CreateFlags,
    ) -> Result<AppendResult> {
        self.check_not_safe_mode("append")?;
        let (_, r) = self.resolve(path)?;
        self.check_traverse(caller, &r)?;
        let ix = r.last().ok_or_else(|| Error::FileNotFound {
            path: format!("failed to append to non-existent file {path}"),
        })?;
        if self.ns.inode(ix)?.is_dir() {
            return Err(Error::FileNotFound {
                path: format!("failed to append to directory {path}"),
            });
        }
        self.check_inode(caller, ix, Access::WRITE)?;
        self.recover_lease_internal(caller, ix, path, false)?;
        let id = self.ns.id_of(ix);
        self.log(EditOp::Reopen {
            file: id,
            client_name: caller.client_name.clone(),
            client_machine: caller.client_machine.clone(),
        })?;
        let f = self
            .ns
            .inode(ix)?
            .file()
            .ok_or_else(|| Error::FileNotFound {
                path: path.to_owned(),
            })?;
        let new_block = flags.has(CreateFlags::NEW_BLOCK);
        let last_block = match f.blocks.as_slice().last() {
            Some(&b)
                if !new_block
                    && self
                        .blocks
                        .get(b)
                        .is_some_and(|i| i.num_bytes < f.block_size()) =>
            {
                let offset = self.file_len_before_last(ix);
                // The replicas become the pipeline of the reopened block.
                let locs = self.blocks.locations(b);
                self.expected_locs.insert(b, locs);
                self.located_block(b, offset)
            }
            Some(&b) => {
                // A full last block stays complete; the client starts a new one.
                if let Some(info) = self.blocks.get_mut(b) {
                    info.state = BlockState::Complete;
                }
                None
            }
            None => None,
        };
        Ok(AppendResult {
            last_block,
            status: self.status(ix, Vec::new())?,
        })
    }

    fn file_len_before_last(&self, ix: u32) -> u64 {
        let blocks = self
            .ns
            .get(ix)
            .and_then(|i| i.file())
            .map_or(&[][..], |f| f.blocks.as_slice());
        blocks[..blocks.len().saturating_sub(1)]
            .iter()
            .filter_map(|&b| self.blocks.get(b))
            .map(|b| b.num_bytes)
            .sum()
    }

    fn located_block(&self, id: BlockId, offset: u64) -> Option<LocatedBlock> {
        let b = self.blocks.get(id)?;
        let storages = self
            .expected_locs
            .get(&id)
            .cloned()
            .unwrap_or_else(|| self.blocks.locations(id));
        Some(LocatedBlock {
            block: ExtendedBlock {
                pool_id: self.block_pool_id.clone(),
                block_id: id,
                gs: b.gs,
                num_bytes: b.num_bytes,
            },
            offset,
            locations: storages
                .into_iter()
                .filter_map(|s| self.dns.storage_info(s))
                .collect(),
            corrupt: false,
        })
    }

    /// Checks that `block` (from a client) names `id` with the current generation stamp.
    fn check_client_block(&self, block: &ExtendedBlock) -> Result<()> {
        let info = self.blocks.get(block.block_id).ok_or(Error::InvalidBlock {
            block: block.block_id,
            reason: "unknown block",
        })?;
        if info.gs != block.gs {
            return Err(Error::InvalidBlock {
                block: block.block_id,
                reason: "generation stamp does not match",
            });
        }
        Ok(())
    }

    /// Commits the client's last block: its final length (and gs) go to the log.
    fn commit_last(&mut self, ix: u32, last: &ExtendedBlock) -> Result<()> {
        let f = self.ns.inode(ix)?.file().ok_or(Error::InvalidBlock {
            block: last.block_id,
            reason: "not a file",
        })?;
        if f.blocks.as_slice().last() != Some(&last.block_id) {
            return Err(Error::InvalidBlock {
                block: last.block_id,
                reason: "not the last block of the file",
            });
        }
        self.check_client_block(last)?;
        let info = self.blocks.get(last.block_id).ok_or(Error::InvalidBlock {
            block: last.block_id,
            reason: "unknown block",
        })?;
        if info.num_bytes != last.num_bytes || info.state == BlockState::UnderConstruction {
            self.log(EditOp::UpdateBlock {
                block: last.block_id,
                gs: last.gs,
                num_bytes: last.num_bytes,
            })?;
        }
        self.commit_block(last.block_id);
        Ok(())
    }

    /// addBlock: commits `previous` and allocates a new last block with targets.
    #[allow(clippy::too_many_arguments)]
    pub fn add_block(
        &mut self,
        caller: &Caller,
        path: &str,
        file_id: Option<InodeId>,
        previous: Option<&ExtendedBlock>,
        excluded: &[String],
        favored: &[String],
    ) -> Result<LocatedBlock> {
        self.check_not_safe_mode("add block")?;
        let ix = self.check_lease(caller, path, file_id)?;
        let f = self.ns.inode(ix)?.file().ok_or(Error::FileNotFound {
            path: path.to_owned(),
        })?;
        let blocks = f.blocks.as_slice().to_vec();
        let (replication, block_size) = (f.replication(), f.block_size());
        // A retried addBlock: `previous` is the penultimate block and the last one is
        // still empty, so hand the last one out again.
        if let (Some(prev), [.., pen, last]) = (previous, blocks.as_slice()) {
            if prev.block_id == *pen && self.blocks.get(*last).is_some_and(|b| b.num_bytes == 0) {
                let offset = self.file_len_before_last(ix);
                return self
                    .located_block(*last, offset)
                    .ok_or(Error::InvalidBlock {
                        block: *last,
                        reason: "unknown block",
                    });
            }
        }
        match (previous, blocks.last()) {
            (Some(prev), _) => self.commit_last(ix, prev)?,
            (None, Some(&last)) => {
                // Go sends no previous on its first addBlock only; anything else is a
                // client that lost track, like Hadoop we insist.
                if self
                    .blocks
                    .get(last)
                    .is_some_and(|b| b.state == BlockState::UnderConstruction)
                {
                    return Err(Error::InvalidBlock {
                        block: last,
                        reason: "previous block not given",
                    });
                }
            }
            (None, None) => {}
        }
        let targets = self.dns.choose_targets(&PlacementRequest {
            count: usize::from(replication),
            writer_ip: Some(caller.client_machine.as_str()),
            excluded,
            favored,
            existing: &[],
            block_size,
        });
        if targets.len() < usize::from(self.config.replication_min).max(1) {
            return Err(Error::NoDatanodes {
                chosen: targets.len(),
                min: usize::from(self.config.replication_min),
                live: self.dns.live_count(),
                excluded: excluded.len(),
            });
        }
        let storages: Vec<u32> = targets
            .iter()
            .map(|&n| self.dns.default_storage(n))
            .collect();
        let block = self.next_block_id;
        let gs = self.next_gs();
        self.log(EditOp::AllocBlock {
            file: self.ns.id_of(ix),
            block,
            gs,
        })?;
        self.expected_locs.insert(block, storages);
        let offset = self.file_len_before_last(ix);
        self.located_block(block, offset)
            .ok_or(Error::InvalidBlock {
                block,
                reason: "unknown block",
            })
    }

    /// abandonBlock: drops the (empty) last block the client could not write.
    pub fn abandon_block(
        &mut self,
        caller: &Caller,
        block: &ExtendedBlock,
        path: &str,
        file_id: Option<InodeId>,
    ) -> Result<()> {
        self.check_not_safe_mode("abandon block")?;
        let ix = self.check_lease(caller, path, file_id)?;
        let last = self
            .ns
            .inode(ix)?
            .file()
            .and_then(|f| f.blocks.as_slice().last().copied());
        if last != Some(block.block_id) {
            // Already abandoned (a retry): nothing to do.
            return Ok(());
        }
        self.log(EditOp::AbandonBlock {
            file: self.ns.id_of(ix),
            block: block.block_id,
        })
    }

    /// complete: closes the file if every block has `replication.min` replicas;
    /// otherwise commits the last block and returns false (the client retries).
    pub fn complete(
        &mut self,
        caller: &Caller,
        path: &str,
        file_id: Option<InodeId>,
        last: Option<&ExtendedBlock>,
    ) -> Result<bool> {
        self.check_not_safe_mode("complete file")?;
        let ix = match self.check_lease(caller, path, file_id) {
            Ok(ix) => ix,
            Err(e @ Error::LeaseExpired { .. }) => {
                // A retried complete of a file that is already closed succeeds.
                let (_, r) = self.resolve(path)?;
                let ix = file_id.and_then(|id| self.ns.ix_of(id)).or(r.last());
                let closed_with_last = ix
                    .and_then(|ix| self.ns.get(ix))
                    .and_then(|i| i.file())
                    .is_some_and(|f| {
                        f.uc.is_none()
                            && last.map(|b| b.block_id) == f.blocks.as_slice().last().copied()
                    });
                return if closed_with_last { Ok(true) } else { Err(e) };
            }
            Err(e) => return Err(e),
        };
        if let Some(last) = last {
            self.commit_last(ix, last)?;
        }
        let f = self.ns.inode(ix)?.file().ok_or(Error::FileNotFound {
            path: path.to_owned(),
        })?;
        let min = usize::from(self.config.replication_min);
        let all_ok = f.blocks.as_slice().iter().all(|&b| {
            self.blocks.get(b).is_some_and(|i| {
                i.state == BlockState::Complete
                    || (i.state == BlockState::Committed && self.blocks.replica_count(b) >= min)
            })
        });
        if !all_ok {
            return Ok(false);
        }
        let now = now_ms();
        self.log(EditOp::Close {
            file: self.ns.id_of(ix),
            mtime: now,
            atime: now,
        })?;
        Ok(true)
    }

    /// fsync (hflush/hsync): records the last block's length if given.
    pub fn fsync(
        &mut self,
        caller: &Caller,
        path: &str,
        file_id: Option<InodeId>,
        last_block_length: Option<u64>,
    ) -> Result<()> {
        let ix = self.check_lease(caller, path, file_id)?;
        let Some(len) = last_block_length else {
            return Ok(());
        };
        let last = self
            .ns
            .inode(ix)?
            .file()
            .and_then(|f| f.blocks.as_slice().last().copied());
        if let Some(b) = last {
            let info = self.blocks.get(b).ok_or(Error::InvalidBlock {
                block: b,
                reason: "unknown block",
            })?;
            if info.num_bytes != len {
                let gs = info.gs;
                self.log(EditOp::UpdateBlock {
                    block: b,
                    gs,
                    num_bytes: len,
                })?;
            }
        }
        Ok(())
    }

    /// getAdditionalDatanode: extra live nodes for a pipeline that lost one. The answer
    /// lists the `existing` nodes (uuids, in the order given) followed by up to `count`
    /// new ones that are neither existing nor `excluded` (as Hadoop's
    /// `chooseTarget4AdditionalDatanode` with `returnChosenNodes`); the client finds the
    /// new node by comparing with its pipeline.
    #[allow(clippy::too_many_arguments)]
    pub fn get_additional_datanode(
        &mut self,
        caller: &Caller,
        path: &str,
        file_id: Option<InodeId>,
        block: &ExtendedBlock,
        existing: &[String],
        excluded: &[String],
        count: usize,
    ) -> Result<LocatedBlock> {
        self.check_not_safe_mode("get additional datanode")?;
        let ix = self.check_lease(caller, path, file_id)?;
        let block_size = self
            .ns
            .inode(ix)?
            .file()
            .map_or(self.config.block_size, |f| f.block_size());
        let existing_nodes: Vec<u32> = existing
            .iter()
            .filter_map(|uuid| self.dns.index_of(uuid))
            .collect();
        // `count` comes from the wire: never more than there are live DataNodes.
        let count = count.min(self.dns.live_count());
        let chosen = self.dns.choose_targets(&PlacementRequest {
            count,
            writer_ip: Some(caller.client_machine.as_str()),
            excluded,
            favored: &[],
            existing: &existing_nodes,
            block_size,
        });
        let mut locations = Vec::with_capacity(existing_nodes.len() + chosen.len());
        for &n in existing_nodes.iter().chain(&chosen) {
            let s = self.dns.default_storage(n);
            if let Some(info) = self.dns.storage_info(s) {
                locations.push(info);
            }
        }
        Ok(LocatedBlock {
            block: block.clone(),
            offset: 0,
            locations,
            corrupt: false,
        })
    }

    /// The open file owning `block`, checked to be leased by the caller.
    fn uc_file_of(&self, caller: &Caller, block: &ExtendedBlock) -> Result<u32> {
        let info = self.blocks.get(block.block_id).ok_or(Error::InvalidBlock {
            block: block.block_id,
            reason: "unknown block",
        })?;
        let ix = self.ns.ix_of(info.inode).ok_or(Error::InvalidBlock {
            block: block.block_id,
            reason: "block of a deleted file",
        })?;
        let path = self.ns.full_path(ix);
        self.check_lease(caller, &path, Some(info.inode))
    }

    /// updateBlockForPipeline: a new generation stamp for rebuilding the pipeline. The
    /// block keeps its current stamp until updatePipeline commits the new one.
    pub fn update_block_for_pipeline(
        &mut self,
        caller: &Caller,
        block: &ExtendedBlock,
    ) -> Result<LocatedBlock> {
        self.check_not_safe_mode("update block for pipeline")?;
        self.uc_file_of(caller, block)?;
        self.check_client_block(block)?;
        let gs = self.next_gs();
        self.log(EditOp::SetGenstamp { gs })?;
        let mut lb = self
            .located_block(block.block_id, 0)
            .ok_or(Error::InvalidBlock {
                block: block.block_id,
                reason: "unknown block",
            })?;
        lb.block.gs = gs;
        Ok(lb)
    }

    /// updatePipeline: the new generation stamp, length and pipeline of a block.
    pub fn update_pipeline(
        &mut self,
        caller: &Caller,
        old: &ExtendedBlock,
        new: &ExtendedBlock,
        new_nodes: &[String],
        new_storage_ids: &[String],
    ) -> Result<()> {
        self.check_not_safe_mode("update pipeline")?;
        self.uc_file_of(caller, old)?;
        self.check_client_block(old)?;
        if new.block_id != old.block_id || new.gs <= old.gs || new.gs > self.gen_stamp {
            return Err(Error::InvalidBlock {
                block: old.block_id,
                reason: "bad new generation stamp or block id",
            });
        }
        self.log(EditOp::UpdateBlock {
            block: new.block_id,
            gs: new.gs,
            num_bytes: new.num_bytes,
        })?;
        let mut storages = Vec::new();
        for (i, uuid) in new_nodes.iter().enumerate() {
            if let Some(node) = self.dns.index_of(uuid) {
                let s = match new_storage_ids.get(i).filter(|s| !s.is_empty()) {
                    Some(sid) => self.dns.storage(node, sid),
                    None => self.dns.default_storage(node),
                };
                storages.push(s);
            }
        }
        // Replicas with the old stamp are stale now. Nodes of the new pipeline are
        // kept: set-up succeeded on each of them, so their replicas carry the new
        // stamp — and in close recovery they finalize during set-up, so their
        // reports may arrive before this call.
        let keep: Vec<u32> = self
            .blocks
            .locations(new.block_id)
            .into_iter()
            .filter(|s| storages.contains(s))
            .collect();
        self.blocks.set_locations(new.block_id, &keep);
        self.expected_locs.insert(new.block_id, storages);
        Ok(())
    }
}
