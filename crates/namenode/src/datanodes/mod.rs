//! The DataNode registry: registration, heartbeats, storages, liveness, and the commands
//! queued for each node (carried in heartbeat replies).
//!
//! Nodes and storages get small indices that never change while the NameNode runs;
//! the block map refers to replicas by storage index.

pub mod hosts;
pub mod placement;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::blocks::ExtendedBlock;

/// A DataNode's identity and addresses (Hadoop's `DatanodeIDProto`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DatanodeId {
    pub uuid: String,
    pub ip_addr: String,
    pub host_name: String,
    pub xfer_port: u16,
    pub info_port: u16,
    pub info_secure_port: u16,
    pub ipc_port: u16,
}

impl DatanodeId {
    /// `ip:xferPort`, how clients name a node in excluded/favoured lists.
    pub fn xfer_addr(&self) -> String {
        format!("{}:{}", self.ip_addr, self.xfer_port)
    }
}

/// One storage's report in a heartbeat (Hadoop's `StorageReportProto`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageReport {
    pub storage_id: String,
    pub failed: bool,
    pub capacity: u64,
    pub dfs_used: u64,
    pub remaining: u64,
}

/// A replica location as replies name it: the node and the storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatanodeStorageInfo {
    pub id: DatanodeId,
    pub storage_id: String,
}

/// Work for a DataNode, delivered in its next heartbeat reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatanodeCommand {
    /// Copy `block` to `targets` (re-replication).
    Transfer {
        block: ExtendedBlock,
        targets: Vec<DatanodeStorageInfo>,
    },
    /// Delete these replicas.
    Invalidate { blocks: Vec<ExtendedBlock> },
    /// Be the primary of a block recovery: synchronize the replicas at `locations` to a
    /// common length under the recovery id `new_gs`, then call
    /// commitBlockSynchronization. `new_length` is set for truncate recovery.
    Recover {
        block: ExtendedBlock,
        new_gs: u64,
        new_length: Option<u64>,
        locations: Vec<DatanodeStorageInfo>,
    },
    /// The NameNode does not know this node (any more): register again.
    Register,
}

/// The NameNode's view of one DataNode.
#[derive(Debug, Clone)]
pub struct DatanodeDescriptor {
    pub id: DatanodeId,
    /// Storage indices.
    pub storages: Vec<u32>,
    pub capacity: u64,
    pub dfs_used: u64,
    pub remaining: u64,
    pub xceiver_count: u32,
    pub last_heartbeat: Instant,
    pub alive: bool,
    /// Blocks scheduled to be written to this node and not yet reported.
    pub blocks_scheduled: u32,
    /// When the last full block report (of any storage) was processed.
    pub last_block_report: Option<Instant>,
    /// The RPC user the node registered as; its later DatanodeProtocol calls must come
    /// from the same user (and from `id.ip_addr`).
    pub rpc_user: String,
    /// Refused by the host lists since it registered (`refreshNodes`); its next call
    /// gets `DisallowedDatanodeException`.
    pub disallowed: bool,
    commands: VecDeque<DatanodeCommand>,
}

/// One storage of a node.
#[derive(Debug, Clone)]
pub struct StorageEntry {
    pub node: u32,
    pub storage_id: String,
}

/// All DataNodes ever registered since start.
#[derive(Debug, Default, Clone)]
pub struct DatanodeManager {
    nodes: Vec<DatanodeDescriptor>,
    by_uuid: HashMap<String, u32>,
    storages: Vec<StorageEntry>,
    by_storage: HashMap<String, u32>,
    /// Rotates the start of target selection so writes spread over nodes.
    cursor: usize,
}

impl DatanodeManager {
    /// Registers (or re-registers, with new addresses) a node; returns its index.
    pub fn register(&mut self, id: DatanodeId, now: Instant) -> u32 {
        self.register_as(id, "", now)
    }

    /// [`DatanodeManager::register`] recording the RPC user the node called as.
    pub fn register_as(&mut self, id: DatanodeId, rpc_user: &str, now: Instant) -> u32 {
        if let Some(&ix) = self.by_uuid.get(&id.uuid) {
            let n = &mut self.nodes[ix as usize];
            n.id = id;
            n.alive = true;
            n.disallowed = false;
            n.last_heartbeat = now;
            rpc_user.clone_into(&mut n.rpc_user);
            return ix;
        }
        let ix = self.nodes.len() as u32;
        self.by_uuid.insert(id.uuid.clone(), ix);
        self.nodes.push(DatanodeDescriptor {
            id,
            storages: Vec::new(),
            capacity: 0,
            dfs_used: 0,
            remaining: 0,
            xceiver_count: 0,
            last_heartbeat: now,
            alive: true,
            blocks_scheduled: 0,
            last_block_report: None,
            rpc_user: rpc_user.to_owned(),
            disallowed: false,
            commands: VecDeque::new(),
        });
        ix
    }

    pub fn index_of(&self, uuid: &str) -> Option<u32> {
        self.by_uuid.get(uuid).copied()
    }

    /// A live node by uuid.
    pub fn live_index(&self, uuid: &str) -> Option<u32> {
        self.index_of(uuid)
            .filter(|&ix| self.nodes[ix as usize].alive)
    }

    pub fn node(&self, ix: u32) -> Option<&DatanodeDescriptor> {
        self.nodes.get(ix as usize)
    }

    pub fn node_mut(&mut self, ix: u32) -> Option<&mut DatanodeDescriptor> {
        self.nodes.get_mut(ix as usize)
    }

    pub fn nodes(&self) -> impl Iterator<Item = (u32, &DatanodeDescriptor)> + '_ {
        self.nodes.iter().enumerate().map(|(i, n)| (i as u32, n))
    }

    pub fn live_count(&self) -> usize {
        self.nodes.iter().filter(|n| n.alive).count()
    }

    /// The storage index for (node, storage id), created on first sight.
    pub fn storage(&mut self, node: u32, storage_id: &str) -> u32 {
        if let Some(&s) = self.by_storage.get(storage_id) {
            if self.storages[s as usize].node == node {
                return s;
            }
            // The storage moved to another node (a disk moved between hosts).
            let old = self.storages[s as usize].node;
            if let Some(n) = self.nodes.get_mut(old as usize) {
                n.storages.retain(|&x| x != s);
            }
            self.storages[s as usize].node = node;
            if let Some(n) = self.nodes.get_mut(node as usize) {
                n.storages.push(s);
            }
            return s;
        }
        let s = self.storages.len() as u32;
        self.storages.push(StorageEntry {
            node,
            storage_id: storage_id.to_owned(),
        });
        self.by_storage.insert(storage_id.to_owned(), s);
        if let Some(n) = self.nodes.get_mut(node as usize) {
            n.storages.push(s);
        }
        s
    }

    /// A node's default storage (its first, or one named after its uuid).
    pub fn default_storage(&mut self, node: u32) -> u32 {
        if let Some(&s) = self
            .nodes
            .get(node as usize)
            .and_then(|n| n.storages.first())
        {
            return s;
        }
        let name = format!(
            "DS-{}",
            self.nodes
                .get(node as usize)
                .map_or("", |n| n.id.uuid.as_str())
        );
        self.storage(node, &name)
    }

    pub fn storage_entry(&self, s: u32) -> Option<&StorageEntry> {
        self.storages.get(s as usize)
    }

    pub fn node_of_storage(&self, s: u32) -> Option<u32> {
        self.storages.get(s as usize).map(|e| e.node)
    }

    /// The location of a storage as replies describe it.
    pub fn storage_info(&self, s: u32) -> Option<DatanodeStorageInfo> {
        let e = self.storages.get(s as usize)?;
        Some(DatanodeStorageInfo {
            id: self.nodes.get(e.node as usize)?.id.clone(),
            storage_id: e.storage_id.clone(),
        })
    }

    /// Applies a heartbeat's statistics. Returns None if the node is unknown or was
    /// declared dead (it must register again).
    pub fn heartbeat(
        &mut self,
        uuid: &str,
        reports: &[StorageReport],
        xceiver_count: u32,
        now: Instant,
    ) -> Option<u32> {
        let ix = self.live_index(uuid)?;
        for r in reports {
            self.storage(ix, &r.storage_id);
        }
        let n = &mut self.nodes[ix as usize];
        n.last_heartbeat = now;
        n.xceiver_count = xceiver_count;
        if !reports.is_empty() {
            let live = reports.iter().filter(|r| !r.failed);
            n.capacity = live.clone().map(|r| r.capacity).sum();
            n.dfs_used = live.clone().map(|r| r.dfs_used).sum();
            n.remaining = live.map(|r| r.remaining).sum();
        }
        Some(ix)
    }

    /// Marks nodes silent for longer than `dead_after` as dead; returns them.
    pub fn expire(&mut self, now: Instant, dead_after: Duration) -> Vec<u32> {
        let silent: Vec<u32> = self
            .nodes()
            .filter(|(_, n)| {
                n.alive && now.saturating_duration_since(n.last_heartbeat) > dead_after
            })
            .map(|(i, _)| i)
            .collect();
        for &i in &silent {
            self.mark_dead(i);
        }
        silent
    }

    /// Declares one node dead now (its queued work is dropped). False if it was not live.
    pub fn mark_dead(&mut self, ix: u32) -> bool {
        match self.nodes.get_mut(ix as usize) {
            Some(n) if n.alive => {
                n.alive = false;
                n.commands.clear();
                n.blocks_scheduled = 0;
                true
            }
            _ => false,
        }
    }

    pub fn queue_command(&mut self, node: u32, cmd: DatanodeCommand) {
        if let Some(n) = self.nodes.get_mut(node as usize) {
            n.commands.push_back(cmd);
        }
    }

    /// Up to `max` queued commands of a node, oldest first.
    pub fn take_commands(&mut self, node: u32, max: usize) -> Vec<DatanodeCommand> {
        let Some(n) = self.nodes.get_mut(node as usize) else {
            return Vec::new();
        };
        let k = max.min(n.commands.len());
        n.commands.drain(..k).collect()
    }

    pub fn pending_commands(&self, node: u32) -> usize {
        self.nodes
            .get(node as usize)
            .map_or(0, |n| n.commands.len())
    }

    /// Sums over live nodes: (capacity, used, remaining).
    pub fn totals(&self) -> (u64, u64, u64) {
        self.nodes
            .iter()
            .filter(|n| n.alive)
            .fold((0, 0, 0), |(c, u, r), n| {
                (c + n.capacity, u + n.dfs_used, r + n.remaining)
            })
    }

    pub(crate) fn next_cursor(&mut self) -> usize {
        self.cursor = self.cursor.wrapping_add(1);
        self.cursor
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn dn_id(n: u8) -> DatanodeId {
        DatanodeId {
            uuid: format!("dn-{n}"),
            ip_addr: format!("127.0.0.{n}"),
            host_name: format!("host{n}"),
            xfer_port: 9866,
            info_port: 9864,
            info_secure_port: 0,
            ipc_port: 9867,
        }
    }

    fn report(id: &str, remaining: u64) -> StorageReport {
        StorageReport {
            storage_id: id.into(),
            failed: false,
            capacity: 1000,
            dfs_used: 1000 - remaining,
            remaining,
        }
    }

    #[test]
    fn register_heartbeat_expire() {
        let mut m = DatanodeManager::default();
        let t0 = Instant::now();
        let a = m.register(dn_id(1), t0);
        let b = m.register(dn_id(2), t0);
        assert_eq!(m.register(dn_id(1), t0), a);
        assert_eq!(m.live_count(), 2);
        let t1 = t0 + Duration::from_secs(5);
        assert_eq!(m.heartbeat("dn-1", &[report("s1", 400)], 2, t1), Some(a));
        assert_eq!(m.node(a).unwrap().remaining, 400);
        assert_eq!(m.heartbeat("nope", &[], 0, t1), None);
        let dead = m.expire(t0 + Duration::from_secs(8), Duration::from_secs(6));
        assert_eq!(dead, vec![b]);
        assert_eq!(m.heartbeat("dn-2", &[], 0, t1), None);
        assert_eq!(m.totals(), (1000, 600, 400));
        m.register(dn_id(2), t1);
        assert_eq!(m.live_count(), 2);
    }

    #[test]
    fn storages_and_commands() {
        let mut m = DatanodeManager::default();
        let now = Instant::now();
        let a = m.register(dn_id(1), now);
        let s = m.storage(a, "DS-1");
        assert_eq!(m.storage(a, "DS-1"), s);
        assert_eq!(m.default_storage(a), s);
        assert_eq!(m.storage_info(s).unwrap().id.uuid, "dn-1");
        assert_eq!(m.node_of_storage(s), Some(a));
        m.queue_command(a, DatanodeCommand::Register);
        m.queue_command(a, DatanodeCommand::Invalidate { blocks: vec![] });
        assert_eq!(m.take_commands(a, 1), vec![DatanodeCommand::Register]);
        assert_eq!(m.pending_commands(a), 1);
        assert_eq!(m.take_commands(a, 10).len(), 1);
    }
}
