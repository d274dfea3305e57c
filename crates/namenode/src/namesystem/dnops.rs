//! DatanodeProtocol operations and the monitors: registration, heartbeats, block reports,
//! bad-block reports, dead-node expiry, re-replication scheduling and safe mode.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use super::FsNamesystem;
use crate::blocks::{BlockState, ExtendedBlock};
use crate::datanodes::placement::PlacementRequest;
use crate::datanodes::{DatanodeCommand, DatanodeId, StorageReport};
use crate::error::{Error, Result};
use crate::namespace::BlockId;

/// Most re-replications a node is asked to send per heartbeat
/// (`dfs.namenode.replication.max-streams`, default 2).
pub const MAX_REPLICATION_STREAMS: usize = 2;
/// Most blocks invalidated per heartbeat (`dfs.block.invalidate.limit`, default 1000).
pub const INVALIDATE_LIMIT: usize = 1000;
/// Most commands per heartbeat reply.
pub const MAX_COMMANDS_PER_HEARTBEAT: usize = 64;

/// A replica in a full block report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportedBlock {
    pub block_id: BlockId,
    pub gs: u64,
    pub num_bytes: u64,
    /// False for a replica still being written (RBW).
    pub finalized: bool,
}

/// Incremental report status (Hadoop's `ReceivedDeletedBlockInfoProto.BlockStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceivedDeletedStatus {
    Receiving,
    Received,
    Deleted,
}

/// An entry of an incremental block report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceivedDeletedBlock {
    pub block_id: BlockId,
    pub gs: u64,
    pub num_bytes: u64,
    pub status: ReceivedDeletedStatus,
}

/// setSafeMode actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SafeModeAction {
    Enter,
    Leave,
    Get,
    /// Leave even if not enough blocks are reported.
    ForceExit,
}

impl FsNamesystem {
    /// registerDatanode.
    pub fn register_datanode(&mut self, id: DatanodeId, now: Instant) -> u32 {
        tracing::info!(uuid = %id.uuid, addr = %id.xfer_addr(), "datanode registered");
        self.dns.register(id, now)
    }

    /// registerDatanode from an RPC caller: refused (Hadoop's `UnregisteredNodeException`
    /// message) while a live node of that uuid is registered from another IP or RPC user,
    /// so no caller can take over a running DataNode's identity.
    pub fn register_datanode_as(
        &mut self,
        id: DatanodeId,
        rpc_user: &str,
        now: Instant,
    ) -> Result<u32> {
        if let Some(ix) = self.dns.live_index(&id.uuid) {
            if let Some(n) = self.dns.node(ix) {
                if n.id.ip_addr != id.ip_addr || n.rpc_user != rpc_user {
                    return Err(storage_claimed(&id, n));
                }
            }
        }
        tracing::info!(uuid = %id.uuid, addr = %id.xfer_addr(), user = rpc_user, "datanode registered");
        Ok(self.dns.register_as(id, rpc_user, now))
    }

    /// The node behind a DatanodeProtocol call naming `uuid`, from a connection of
    /// `rpc_user` at `ip`: `Ok(None)` if no live node has that uuid (the caller must
    /// register), an error if the node was disallowed since (`DisallowedDatanodeException`)
    /// or registered from another IP or user (`UnregisteredNodeException`).
    pub fn datanode_for_call(&self, uuid: &str, ip: &str, rpc_user: &str) -> Result<Option<u32>> {
        let Some(ix) = self.dns.index_of(uuid) else {
            return Ok(None);
        };
        let Some(n) = self.dns.node(ix) else {
            return Ok(None);
        };
        if n.id.ip_addr != ip || n.rpc_user != rpc_user {
            let caller = DatanodeId {
                ip_addr: ip.to_owned(),
                ..n.id.clone()
            };
            return Err(storage_claimed(&caller, n));
        }
        if n.disallowed {
            return Err(Error::DisallowedDatanode {
                node: describe(&n.id),
                reason: crate::datanodes::hosts::NOT_INCLUDED.to_owned(),
            });
        }
        Ok(n.alive.then_some(ix))
    }

    /// The live DataNodes registered from `ip` by `rpc_user` (calls that carry no
    /// registration, such as commitBlockSynchronization, are matched by these).
    pub fn datanodes_at(&self, ip: &str, rpc_user: &str) -> Vec<u32> {
        self.dns
            .nodes()
            .filter(|(_, n)| {
                n.alive && !n.disallowed && n.id.ip_addr == ip && n.rpc_user == rpc_user
            })
            .map(|(ix, _)| ix)
            .collect()
    }

    /// After the host lists changed (`refreshNodes`): live nodes that `refused` names are
    /// declared dead and flagged, so their next call is refused. Returns their uuids.
    pub fn disallow_datanodes(&mut self, refused: impl Fn(&DatanodeId) -> bool) -> Vec<String> {
        let gone: Vec<u32> = self
            .dns
            .nodes()
            .filter(|(_, n)| n.alive && refused(&n.id))
            .map(|(ix, _)| ix)
            .collect();
        for &ix in &gone {
            self.dns.mark_dead(ix);
            if let Some(n) = self.dns.node_mut(ix) {
                n.disallowed = true;
            }
        }
        self.handle_dead(&gone)
    }

    /// sendHeartbeat: updates statistics and returns the node's pending commands (or
    /// `Register` if the node is unknown or was declared dead).
    pub fn heartbeat(
        &mut self,
        uuid: &str,
        reports: &[StorageReport],
        xceiver_count: u32,
        now: Instant,
    ) -> Vec<DatanodeCommand> {
        let Some(node) = self.dns.heartbeat(uuid, reports, xceiver_count, now) else {
            return vec![DatanodeCommand::Register];
        };
        let mut cmds = self.dns.take_commands(node, MAX_COMMANDS_PER_HEARTBEAT);
        // Merge many single-block invalidations into one command.
        let mut inval: Vec<ExtendedBlock> = Vec::new();
        cmds.retain(|c| match c {
            DatanodeCommand::Invalidate { blocks } => {
                inval.extend(blocks.iter().cloned());
                false
            }
            _ => true,
        });
        while !inval.is_empty() {
            let rest = inval.split_off(inval.len().min(INVALIDATE_LIMIT));
            cmds.push(DatanodeCommand::Invalidate { blocks: inval });
            inval = rest;
        }
        cmds
    }

    fn live_node(&self, uuid: &str) -> Result<u32> {
        self.dns.live_index(uuid).ok_or_else(|| unregistered(uuid))
    }

    fn invalidate(&mut self, node: u32, block_id: BlockId, gs: u64, num_bytes: u64) {
        self.dns.queue_command(
            node,
            DatanodeCommand::Invalidate {
                blocks: vec![ExtendedBlock {
                    pool_id: self.block_pool_id.clone(),
                    block_id,
                    gs,
                    num_bytes,
                }],
            },
        );
    }

    /// Schedules the deletion of a block's excess replicas: of the `live` storages, all
    /// but `expected` are sent an invalidation and stop counting as live. The victims
    /// are chosen like Hadoop's `BlockPlacementPolicyDefault.chooseReplicaToDelete`
    /// (without racks): the node with the least remaining space first, ties broken by
    /// the storage index, so the choice is deterministic. The last replica is never
    /// deleted.
    pub(crate) fn delete_excess_replicas(&mut self, id: BlockId, live: &[u32], expected: usize) {
        let Some(info) = self.blocks.get(id).cloned() else {
            return;
        };
        let keep = expected.max(1);
        if live.len() <= keep {
            return;
        }
        let mut candidates: Vec<(u64, u32, u32)> = live
            .iter()
            .filter_map(|&s| {
                let node = self.dns.node_of_storage(s)?;
                let d = self.dns.node(node)?;
                Some((d.remaining, s, node))
            })
            .collect();
        candidates.sort_unstable();
        for &(_, storage, node) in candidates.iter().take(live.len() - keep) {
            tracing::debug!(block = id, storage, node, "deleting excess replica");
            self.redundancy.mark_excess(id, storage);
            self.invalidate(node, id, info.gs, info.num_bytes);
        }
    }

    /// Block counts by node index (replicas recorded at the NameNode, excess ones
    /// included until their deletion is reported), for getDatanodeReport's `numBlocks`.
    // TODO(issue 4): per-storage block lists would make this O(nodes), not O(blocks).
    pub fn blocks_per_node(&self) -> HashMap<u32, u32> {
        let mut counts: HashMap<u32, u32> = HashMap::new();
        for (id, _) in self.blocks.iter() {
            for s in self.blocks.locations(id) {
                if let Some(n) = self.dns.node_of_storage(s) {
                    *counts.entry(n).or_default() += 1;
                }
            }
        }
        counts
    }

    /// One reported replica: record it, or mark it corrupt / to be deleted.
    fn process_replica(&mut self, node: u32, storage: u32, r: ReportedBlock) {
        let Some(info) = self.blocks.get(r.block_id).cloned() else {
            // Not ours (deleted file): delete it.
            self.invalidate(node, r.block_id, r.gs, r.num_bytes);
            return;
        };
        let final_state = matches!(info.state, BlockState::Complete | BlockState::Committed);
        let stale = r.gs < info.gs || (final_state && r.finalized && r.num_bytes != info.num_bytes);
        if stale {
            if final_state {
                // A stale or wrong-length replica of a finished block is corrupt.
                self.blocks.remove_location(r.block_id, storage);
                self.redundancy.mark_corrupt(r.block_id, storage);
                if self.blocks.replica_count(r.block_id) > 0 {
                    self.invalidate(node, r.block_id, r.gs, r.num_bytes);
                }
                self.update_redundancy(r.block_id);
            } else {
                // A replica left behind by pipeline recovery (Hadoop: "corrupted
                // during write"): the new pipeline holds the block at a newer
                // generation stamp, so this copy is deleted, and its node is not a
                // re-replication target until it is gone.
                self.redundancy.mark_corrupt(r.block_id, storage);
                self.invalidate(node, r.block_id, r.gs, r.num_bytes);
            }
            return;
        }
        if !r.finalized && !final_state {
            // Still being written: it is part of the pipeline, not a replica yet.
            return;
        }
        if self.blocks.add_location(r.block_id, storage) {
            self.redundancy.replica_arrived(r.block_id);
            self.redundancy.clear_corrupt(r.block_id, storage);
            if let Some(n) = self.dns.node_mut(node) {
                n.blocks_scheduled = n.blocks_scheduled.saturating_sub(1);
            }
        }
        if info.state == BlockState::Committed
            && self.blocks.replica_count(r.block_id) >= usize::from(self.config.replication_min)
        {
            if let Some(b) = self.blocks.get_mut(r.block_id) {
                b.state = BlockState::Complete;
            }
        }
        self.update_redundancy(r.block_id);
    }

    /// blockReport for one storage: replaces what the NameNode knows about it.
    pub fn block_report(
        &mut self,
        uuid: &str,
        storage_id: &str,
        blocks: &[ReportedBlock],
        now: Instant,
    ) -> Result<()> {
        let node = self.live_node(uuid)?;
        let storage = self.dns.storage(node, storage_id);
        let reported: HashSet<BlockId> = blocks.iter().map(|b| b.block_id).collect();
        // TODO(issue 4): keep per-storage block lists to avoid this scan of all blocks.
        let gone: Vec<BlockId> = self
            .blocks
            .iter()
            .filter(|(id, _)| !reported.contains(id))
            .map(|(id, _)| id)
            .filter(|&id| self.blocks.has_location(id, storage))
            .collect();
        for id in gone {
            self.blocks.remove_location(id, storage);
            self.update_redundancy(id);
        }
        for &r in blocks {
            self.process_replica(node, storage, r);
        }
        if let Some(n) = self.dns.node_mut(node) {
            n.last_block_report = Some(now);
        }
        self.check_safe_mode(now);
        Ok(())
    }

    /// blockReceivedAndDeleted.
    pub fn incremental_block_report(
        &mut self,
        uuid: &str,
        storage_id: &str,
        entries: &[ReceivedDeletedBlock],
        now: Instant,
    ) -> Result<()> {
        let node = self.live_node(uuid)?;
        let storage = self.dns.storage(node, storage_id);
        for e in entries {
            match e.status {
                ReceivedDeletedStatus::Receiving => {}
                ReceivedDeletedStatus::Received => self.process_replica(
                    node,
                    storage,
                    ReportedBlock {
                        block_id: e.block_id,
                        gs: e.gs,
                        num_bytes: e.num_bytes,
                        finalized: true,
                    },
                ),
                ReceivedDeletedStatus::Deleted => {
                    self.redundancy.clear_corrupt(e.block_id, storage);
                    if self.blocks.remove_location(e.block_id, storage) {
                        self.update_redundancy(e.block_id);
                    }
                }
            }
        }
        self.check_safe_mode(now);
        Ok(())
    }

    /// reportBadBlocks: replicas found corrupt by a reader or a DataNode scanner. The
    /// replica is dropped from the locations; the block is re-replicated from a good copy
    /// and the corrupt one deleted once a good copy exists.
    pub fn report_bad_blocks(&mut self, bad: &[(ExtendedBlock, Vec<(String, String)>)]) {
        for (block, locs) in bad {
            for (uuid, storage_id) in locs {
                let Some(node) = self.dns.index_of(uuid) else {
                    tracing::info!(
                        "*DIR* reportBadBlocks for block: {}:blk_{}_{} on unknown datanode {uuid}",
                        self.block_pool_id,
                        block.block_id,
                        block.gs
                    );
                    continue;
                };
                // Hadoop's FSNamesystem.reportBadBlocks line, for client and DataNode
                // reports alike.
                tracing::info!(
                    "*DIR* reportBadBlocks for block: {}:blk_{}_{} on datanode: {}",
                    self.block_pool_id,
                    block.block_id,
                    block.gs,
                    self.dns
                        .node(node)
                        .map(|d| d.id.xfer_addr())
                        .unwrap_or_default()
                );
                let storage = if storage_id.is_empty() {
                    self.dns.default_storage(node)
                } else {
                    self.dns.storage(node, storage_id)
                };
                if self.blocks.remove_location(block.block_id, storage) {
                    self.redundancy.mark_corrupt(block.block_id, storage);
                    if self.blocks.replica_count(block.block_id) > 0 {
                        self.invalidate(node, block.block_id, block.gs, block.num_bytes);
                    }
                    self.update_redundancy(block.block_id);
                }
            }
        }
    }

    /// Declares silent DataNodes dead and forgets their replicas; returns their uuids.
    pub fn check_heartbeats(&mut self, now: Instant) -> Vec<String> {
        let dead = self.dns.expire(now, self.config.dead_node_interval());
        self.handle_dead(&dead)
    }

    /// Drops the replicas of nodes just declared dead and reschedules their work.
    fn handle_dead(&mut self, dead: &[u32]) -> Vec<String> {
        if dead.is_empty() {
            return Vec::new();
        }
        let dead_storages: HashSet<u32> = dead
            .iter()
            .filter_map(|&n| self.dns.node(n))
            .flat_map(|n| n.storages.iter().copied())
            .collect();
        let affected: Vec<(BlockId, Vec<u32>)> = self
            .blocks
            .iter()
            .map(|(id, _)| (id, self.blocks.locations(id)))
            .filter(|(_, locs)| locs.iter().any(|s| dead_storages.contains(s)))
            .collect();
        for (id, locs) in affected {
            let keep: Vec<u32> = locs
                .into_iter()
                .filter(|s| !dead_storages.contains(s))
                .collect();
            self.blocks.set_locations(id, &keep);
            self.update_redundancy(id);
        }
        // Re-replications sent to a dead node will not arrive: schedule them again.
        for id in self.redundancy.targets_died(dead) {
            self.update_redundancy(id);
        }
        dead.iter()
            .filter_map(|&n| self.dns.node(n))
            .map(|n| {
                tracing::warn!(uuid = %n.id.uuid, "datanode declared dead");
                n.id.uuid.clone()
            })
            .collect()
    }

    /// The redundancy monitor's step: schedules up to `max_blocks` re-replications as
    /// Transfer commands; returns how many were scheduled.
    pub fn compute_replication_work(&mut self, max_blocks: usize, now: Instant) -> usize {
        if self.safe_mode.on {
            return 0;
        }
        for b in self.redundancy.timed_out(now) {
            self.update_redundancy(b);
        }
        let mut scheduled = 0;
        for id in self.redundancy.most_urgent(max_blocks) {
            let Some(info) = self.blocks.get(id).cloned() else {
                self.redundancy.forget(id);
                continue;
            };
            // Replicas being deleted as excess neither count nor serve as sources.
            let locs = self.live_replicas(id);
            let expected = self.expected_replication(id);
            let nodes: Vec<u32> = locs
                .iter()
                .filter_map(|&s| self.dns.node_of_storage(s))
                .collect();
            let source = nodes.iter().copied().find(|&n| {
                self.dns.node(n).is_some_and(|d| d.alive)
                    && self.dns.pending_commands(n) < MAX_REPLICATION_STREAMS * 4
            });
            let Some(source) = source else {
                continue; // missing block: nothing to copy from
            };
            let block_size = info.num_bytes;
            // A node still holding a corrupt or excess copy would refuse the new one.
            let excluded: Vec<String> = self
                .redundancy
                .corrupt_replicas(id)
                .iter()
                .chain(self.redundancy.excess_replicas(id))
                .filter_map(|&s| self.dns.node_of_storage(s))
                .filter_map(|n| self.dns.node(n))
                .map(|d| d.id.uuid.clone())
                .collect();
            let targets = self.dns.choose_targets(&PlacementRequest {
                count: expected.saturating_sub(locs.len()),
                existing: &nodes,
                excluded: &excluded,
                block_size,
                ..Default::default()
            });
            if targets.is_empty() {
                continue;
            }
            let target_infos = targets
                .iter()
                .map(|&n| {
                    let s = self.dns.default_storage(n);
                    self.dns.storage_info(s)
                })
                .collect::<Option<Vec<_>>>()
                .unwrap_or_default();
            self.dns.queue_command(
                source,
                DatanodeCommand::Transfer {
                    block: ExtendedBlock {
                        pool_id: self.block_pool_id.clone(),
                        block_id: id,
                        gs: info.gs,
                        num_bytes: info.num_bytes,
                    },
                    targets: target_infos,
                },
            );
            self.redundancy.scheduled(id, &targets, now);
            scheduled += 1;
        }
        scheduled
    }

    /// (complete blocks with enough replicas, complete blocks).
    pub fn safe_block_counts(&self) -> (u64, u64) {
        let min = usize::from(self.config.replication_min);
        let mut total = 0;
        let mut safe = 0;
        for (id, b) in self.blocks.iter() {
            if b.state == BlockState::Complete {
                total += 1;
                if self.blocks.replica_count(id) >= min {
                    safe += 1;
                }
            }
        }
        (safe, total)
    }

    /// Enters safe mode at startup (called after loading).
    pub(crate) fn enter_startup_safe_mode(&mut self) {
        self.safe_mode = super::SafeMode {
            manual: false,
            on: true,
            reached_at: None,
            last_status_report: None,
        };
        self.report_safe_mode_status(Instant::now(), true);
    }

    /// Leaves automatic safe mode once the threshold (and extension) is reached.
    pub fn check_safe_mode(&mut self, now: Instant) {
        if !self.safe_mode.on || self.safe_mode.manual {
            return;
        }
        let (safe, total) = self.safe_block_counts();
        if safe < self.safe_block_threshold(total) {
            self.safe_mode.reached_at = None;
            self.report_safe_mode_status(now, false);
            return;
        }
        if self.safe_mode.reached_at.is_none() && total > 0 {
            self.safe_mode.reached_at = Some(now);
            self.report_safe_mode_status(now, true);
        }
        let reached = *self.safe_mode.reached_at.get_or_insert(now);
        if total == 0 || now.saturating_duration_since(reached) >= self.config.safemode_extension {
            self.leave_safe_mode();
        } else {
            self.report_safe_mode_status(now, false);
        }
    }

    fn leave_safe_mode(&mut self) {
        if self.safe_mode.on {
            tracing::info!("STATE* Safe mode is OFF");
        }
        self.safe_mode = super::SafeMode::default();
        let ids: Vec<BlockId> = self.blocks.iter().map(|(id, _)| id).collect();
        for id in ids {
            self.update_redundancy(id);
        }
    }

    /// setSafeMode: returns whether safe mode is on afterwards.
    pub fn set_safe_mode(&mut self, action: SafeModeAction) -> bool {
        match action {
            SafeModeAction::Enter => {
                self.safe_mode = super::SafeMode {
                    manual: true,
                    on: true,
                    reached_at: None,
                    last_status_report: None,
                };
                self.report_safe_mode_status(Instant::now(), true);
            }
            SafeModeAction::Leave | SafeModeAction::ForceExit => self.leave_safe_mode(),
            SafeModeAction::Get => {}
        }
        self.safe_mode.on
    }
}

/// Hadoop's `DatanodeRegistration` text: `ip:xferPort` and the uuid.
pub fn describe(id: &DatanodeId) -> String {
    format!(
        "DatanodeRegistration({}, datanodeUuid={}, infoPort={}, ipcPort={})",
        id.xfer_addr(),
        id.uuid,
        id.info_port,
        id.ipc_port
    )
}

/// Hadoop's `UnregisteredNodeException(NodeRegistration)`.
pub fn unregistered(uuid: &str) -> Error {
    Error::UnregisteredNode {
        message: format!("Unregistered server: DatanodeRegistration(datanodeUuid={uuid})"),
    }
}

/// Hadoop's `UnregisteredNodeException(DatanodeID, DatanodeInfo)`: a caller claims the
/// uuid of a node registered from elsewhere.
fn storage_claimed(caller: &DatanodeId, stored: &crate::datanodes::DatanodeDescriptor) -> Error {
    Error::UnregisteredNode {
        message: format!(
            "Data node {} is attempting to report storage ID {}. Node {} is expected to serve this storage.",
            describe(caller),
            caller.uuid,
            describe(&stored.id)
        ),
    }
}
