//! Leases and block recovery: renewLease, recoverLease, the hard-limit monitor, truncate
//! (which may need recovery) and commitBlockSynchronization.

use std::time::Instant;

use super::{now_ms, BlockRecovery, FsNamesystem};
use crate::blocks::{BlockState, ExtendedBlock};
use crate::datanodes::DatanodeCommand;
use crate::editlog::EditOp;
use crate::error::{Error, Result};
use crate::lease::NAMENODE_LEASE_HOLDER;
use crate::namespace::{Access, BlockId, Caller};

impl FsNamesystem {
    /// renewLease: always succeeds (a client without open files has no lease).
    pub fn renew_lease(&mut self, client_name: &str, now: Instant) {
        self.leases.renew(client_name, now);
    }

    /// recoverLease: true if the file is closed (now or already); false while recovery
    /// runs.
    pub fn recover_lease(&mut self, caller: &Caller, path: &str) -> Result<bool> {
        self.check_not_safe_mode("recover lease")?;
        let (_, r) = self.resolve(path)?;
        self.check_traverse(caller, &r)?;
        let ix = r.last().ok_or_else(|| Error::FileNotFound {
            path: path.to_owned(),
        })?;
        if self.ns.inode(ix)?.file().is_none() {
            return Err(Error::FileNotFound {
                path: format!("{path} is a directory"),
            });
        }
        self.check_inode(caller, ix, Access::WRITE)?;
        if self.recovery_in_progress(ix) {
            if self.recovery_primary_alive(ix) {
                return Ok(false);
            }
            // The primary died before commitBlockSynchronization: start again with
            // another one (a new recovery id supersedes the old one on the replicas).
            return self.internal_release_lease(ix);
        }
        self.recover_lease_internal(caller, ix, path, true)
    }

    /// Closes a file whose writer is gone, or starts block recovery. True if closed.
    pub(crate) fn internal_release_lease(&mut self, ix: u32) -> Result<bool> {
        let id = self.ns.id_of(ix);
        let f = self.ns.inode(ix)?.file().ok_or(Error::FileNotFound {
            path: self.ns.full_path(ix),
        })?;
        let blocks = f.blocks.as_slice().to_vec();
        let min = usize::from(self.config.replication_min);
        let now = now_ms();
        let Some(&last) = blocks.last() else {
            self.log(EditOp::Close {
                file: id,
                mtime: now,
                atime: now,
            })?;
            return Ok(true);
        };
        let info = self.blocks.get(last).cloned().ok_or(Error::InvalidBlock {
            block: last,
            reason: "unknown block",
        })?;
        match info.state {
            BlockState::Complete => {
                self.log(EditOp::Close {
                    file: id,
                    mtime: now,
                    atime: now,
                })?;
                Ok(true)
            }
            BlockState::Committed => {
                if self.blocks.replica_count(last) >= min {
                    self.log(EditOp::Close {
                        file: id,
                        mtime: now,
                        atime: now,
                    })?;
                    Ok(true)
                } else {
                    Ok(false)
                }
            }
            BlockState::UnderConstruction | BlockState::UnderRecovery => {
                let mut storages = self.blocks.locations(last);
                for &s in self.expected_locs.get(&last).map_or(&[][..], Vec::as_slice) {
                    if !storages.contains(&s) {
                        storages.push(s);
                    }
                }
                let live: Vec<u32> = storages
                    .into_iter()
                    .filter(|&s| {
                        self.dns
                            .node_of_storage(s)
                            .and_then(|n| self.dns.node(n))
                            .is_some_and(|n| n.alive)
                    })
                    .collect();
                if live.is_empty() {
                    if info.num_bytes == 0 {
                        // Nothing was written to it: drop the block and close.
                        self.log(EditOp::AbandonBlock {
                            file: id,
                            block: last,
                        })?;
                        self.log(EditOp::Close {
                            file: id,
                            mtime: now,
                            atime: now,
                        })?;
                        return Ok(true);
                    }
                    // No replica to recover from yet; try again at the next check.
                    return Ok(false);
                }
                let recovery_id = self.next_gs();
                self.log(EditOp::SetGenstamp { gs: recovery_id })?;
                let holder = format!("{NAMENODE_LEASE_HOLDER}-{id}");
                self.log(EditOp::ReassignLease {
                    file: id,
                    client_name: holder,
                })?;
                if let Some(b) = self.blocks.get_mut(last) {
                    b.state = BlockState::UnderRecovery;
                }
                self.expected_locs.insert(last, live.clone());
                let primary = self.choose_recovery_primary(last, &live);
                self.recovery_ids.insert(
                    last,
                    BlockRecovery {
                        id: recovery_id,
                        primary,
                    },
                );
                let locations = live
                    .iter()
                    .filter_map(|&s| self.dns.storage_info(s))
                    .collect();
                if let Some(p) = primary {
                    self.dns.queue_command(
                        p,
                        DatanodeCommand::Recover {
                            block: ExtendedBlock {
                                pool_id: self.block_pool_id.clone(),
                                block_id: last,
                                gs: info.gs,
                                num_bytes: info.num_bytes,
                            },
                            new_gs: recovery_id,
                            new_length: None,
                            locations,
                        },
                    );
                }
                tracing::info!(file = %self.ns.full_path(ix), block = last, recovery_id, "block recovery started");
                Ok(false)
            }
        }
    }

    /// The primary of a block recovery (Hadoop's `initializeBlockRecovery`): the live
    /// replica's node heard from last among those not yet chosen for this block; when
    /// every one was, the choice starts over. Recorded as chosen.
    fn choose_recovery_primary(&mut self, block: BlockId, live: &[u32]) -> Option<u32> {
        let nodes: Vec<u32> = live
            .iter()
            .filter_map(|&s| self.dns.node_of_storage(s))
            .collect();
        let chosen = self.recovery_primaries.entry(block).or_default();
        if nodes.iter().all(|n| chosen.contains(n)) {
            chosen.clear();
        }
        let dns = &self.dns;
        let primary = nodes
            .iter()
            .copied()
            .filter(|n| !chosen.contains(n))
            .max_by_key(|&n| dns.node(n).map(|d| d.last_heartbeat))?;
        chosen.push(primary);
        Some(primary)
    }

    /// Whether the primary of the running recovery of `ix`'s last block is alive.
    fn recovery_primary_alive(&self, ix: u32) -> bool {
        let Some(last) = self
            .ns
            .get(ix)
            .and_then(|i| i.file())
            .and_then(|f| f.blocks.as_slice().last().copied())
        else {
            return true;
        };
        match self.recovery_primaries.get(&last).and_then(|c| c.last()) {
            Some(&p) => self.dns.node(p).is_some_and(|d| d.alive),
            None => true,
        }
    }

    /// The transfer addresses of the nodes chosen so far as primary of `block`'s
    /// recovery, first to last.
    pub fn recovery_primaries(&self, block: BlockId) -> Vec<String> {
        self.recovery_primaries
            .get(&block)
            .map(|c| {
                c.iter()
                    .filter_map(|&n| self.dns.node(n))
                    .map(|d| d.id.xfer_addr())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Recovers the files of leases past the hard limit; returns their paths.
    pub fn check_leases(&mut self, now: Instant) -> Vec<String> {
        let mut out = Vec::new();
        for (holder, file) in self.leases.expired(now) {
            let Some(ix) = self.ns.ix_of(file) else {
                self.leases.remove(&holder, file);
                continue;
            };
            if self.recovery_in_progress(ix) && self.recovery_primary_alive(ix) {
                // Waiting for commitBlockSynchronization; renew so we do not resend.
                self.leases.renew(&holder, now);
                continue;
            }
            out.push(self.ns.full_path(ix));
            match self.internal_release_lease(ix) {
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, file, "lease recovery failed"),
            }
            self.leases.renew(&holder, now);
        }
        out
    }

    /// commitBlockSynchronization: the primary DataNode finished recovering `block`.
    ///
    /// `callers` are the DataNodes the calling connection may be (registered from its IP
    /// by its RPC user; the request names none). Checked in Hadoop's order, and nothing
    /// changes on a refusal: not in safe mode; the block exists (a missing one is fine for
    /// a retried delete); its file exists; a closed file means a retry (accepted, no
    /// change); the recovery id is the one issued (a block not under recovery has id 0, as
    /// in Hadoop); and, beyond Hadoop, the caller is the primary the recovery was sent to.
    #[allow(clippy::too_many_arguments)]
    pub fn commit_block_synchronization(
        &mut self,
        callers: &[u32],
        block: &ExtendedBlock,
        new_gs: u64,
        new_length: u64,
        close_file: bool,
        delete_block: bool,
        new_targets: &[(String, String)],
    ) -> Result<()> {
        self.check_not_safe_mode("commitBlockSynchronization")?;
        let id = block.block_id;
        let Some(info) = self.blocks.get(id).cloned() else {
            if delete_block {
                return Ok(()); // a retry of a delete
            }
            return Err(Error::Refused {
                message: format!("Block (={}) not found", block_name(block)),
            });
        };
        let file = info.inode;
        let ix = self.ns.ix_of(file).ok_or_else(|| Error::FileNotFound {
            path: format!("block {id}, likely due to delayed block removal"),
        })?;
        let open = self.ns.inode(ix)?.file().is_some_and(|f| f.uc.is_some());
        if !open || info.state == BlockState::Complete {
            tracing::debug!(
                block = id,
                "commitBlockSynchronization for a closed file: a retry"
            );
            return Ok(());
        }
        let recovery = self
            .recovery_ids
            .get(&id)
            .copied()
            .filter(|_| info.state == BlockState::UnderRecovery);
        let current = recovery.map_or(0, |r| r.id);
        if current != new_gs {
            return Err(Error::Refused {
                message: format!(
                    "The recovery id {new_gs} does not match current recovery id {current} for block {}",
                    block_name(block)
                ),
            });
        }
        let primary = recovery.and_then(|r| r.primary);
        if !primary.is_some_and(|p| callers.contains(&p)) {
            let expected = primary
                .and_then(|p| self.dns.node(p))
                .map_or_else(|| "none".to_owned(), |n| n.id.xfer_addr());
            return Err(Error::Refused {
                message: format!(
                    "commitBlockSynchronization for block {} refused: the caller is not \
                     the primary DataNode of its recovery ({expected})",
                    block_name(block)
                ),
            });
        }
        if delete_block {
            self.log(EditOp::AbandonBlock { file, block: id })?;
        } else {
            self.log(EditOp::UpdateBlock {
                block: id,
                gs: new_gs,
                num_bytes: new_length,
            })?;
            let mut storages = Vec::new();
            for (uuid, sid) in new_targets {
                if let Some(n) = self.dns.index_of(uuid) {
                    storages.push(if sid.is_empty() {
                        self.dns.default_storage(n)
                    } else {
                        self.dns.storage(n, sid)
                    });
                }
            }
            self.blocks.set_locations(id, &storages);
            if let Some(b) = self.blocks.get_mut(id) {
                b.state = BlockState::Committed;
            }
            self.recovery_ids.remove(&id);
        }
        if close_file {
            let now = now_ms();
            self.log(EditOp::Close {
                file,
                mtime: now,
                atime: now,
            })?;
        }
        Ok(())
    }

    /// truncate: true if done at once (new length on a block boundary); false if the last
    /// block must be cut by block recovery first (the file stays open until then).
    pub fn truncate(&mut self, caller: &Caller, path: &str, new_length: u64) -> Result<bool> {
        self.check_not_safe_mode("truncate")?;
        let (_, r) = self.resolve(path)?;
        self.check_traverse(caller, &r)?;
        let ix = r.last().ok_or_else(|| Error::FileNotFound {
            path: path.to_owned(),
        })?;
        let f = self
            .ns
            .inode(ix)?
            .file()
            .ok_or_else(|| Error::FileNotFound {
                path: format!("{path} is a directory"),
            })?;
        let open = f.uc.is_some();
        let blocks = f.blocks.as_slice().to_vec();
        self.check_inode(caller, ix, Access::WRITE)?;
        if open {
            self.recover_lease_internal(caller, ix, path, false)?;
        }
        let mut pos = 0u64;
        let mut keep = 0usize;
        let mut last_len = 0u64;
        for &b in &blocks {
            if pos >= new_length {
                break;
            }
            let len = self.blocks.get(b).map_or(0, |i| i.num_bytes);
            keep += 1;
            last_len = len.min(new_length - pos);
            pos += len;
        }
        if pos < new_length {
            return Err(Error::IllegalArgument {
                message: format!("Cannot truncate to a larger file size. Current size: {pos}, truncate size: {new_length}."),
            });
        }
        let id = self.ns.id_of(ix);
        let full_last = keep == 0
            || self
                .blocks
                .get(blocks[keep - 1])
                .is_some_and(|b| b.num_bytes == last_len);
        let mtime = now_ms();
        if full_last {
            if keep < blocks.len() {
                self.log(EditOp::Truncate {
                    file: id,
                    keep_blocks: keep as u32,
                    last_len,
                    mtime,
                })?;
            }
            return Ok(true);
        }
        // Cut to the containing block, reopen for the caller, recover the partial block to
        // `last_len` bytes (the DataNode truncates its replicas).
        let last = blocks[keep - 1];
        let old = self.blocks.get(last).cloned().ok_or(Error::InvalidBlock {
            block: last,
            reason: "unknown block",
        })?;
        self.log(EditOp::Truncate {
            file: id,
            keep_blocks: keep as u32,
            last_len: old.num_bytes,
            mtime,
        })?;
        self.log(EditOp::Reopen {
            file: id,
            client_name: caller.client_name.clone(),
            client_machine: caller.client_machine.clone(),
        })?;
        let recovery_id = self.next_gs();
        self.log(EditOp::SetGenstamp { gs: recovery_id })?;
        let live: Vec<u32> = self.blocks.locations(last);
        if let Some(b) = self.blocks.get_mut(last) {
            b.state = BlockState::UnderRecovery;
        }
        let primary = live.first().and_then(|&s| self.dns.node_of_storage(s));
        self.recovery_ids.insert(
            last,
            BlockRecovery {
                id: recovery_id,
                primary,
            },
        );
        if let Some(p) = primary {
            let locations = live
                .iter()
                .filter_map(|&s| self.dns.storage_info(s))
                .collect();
            self.dns.queue_command(
                p,
                DatanodeCommand::Recover {
                    block: ExtendedBlock {
                        pool_id: self.block_pool_id.clone(),
                        block_id: last,
                        gs: old.gs,
                        num_bytes: old.num_bytes,
                    },
                    new_gs: recovery_id,
                    new_length: Some(last_len),
                    locations,
                },
            );
        }
        Ok(false)
    }
}

/// A block as Hadoop prints an `ExtendedBlock`: `pool:blk_id_gs`.
fn block_name(b: &ExtendedBlock) -> String {
    format!("{}:blk_{}_{}", b.pool_id, b.block_id, b.gs)
}
