//! Redundancy bookkeeping: blocks that need more replicas, replications in flight, and
//! replicas reported corrupt.
//!
//! Blocks are queued by priority (Hadoop's `LowRedundancyBlocks` levels, simplified to
//! three): 0 = one or zero live replicas left, 1 = fewer than a third of the expected
//! replicas, 2 = the rest. A block scheduled for replication goes to the pending set with a
//! deadline; if no replica shows up in time it is queued again.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crate::namespace::BlockId;

/// How long a scheduled replication may take before it is retried
/// (`dfs.namenode.reconstruction.pending.timeout-sec`, default 5 min).
pub const PENDING_TIMEOUT: Duration = Duration::from_secs(300);

/// The redundancy queues.
#[derive(Debug, Default, Clone)]
pub struct RedundancyQueues {
    /// (priority, block id).
    queue: BTreeSet<(u8, BlockId)>,
    priority_of: HashMap<BlockId, u8>,
    /// Block → replications in flight.
    pending: HashMap<BlockId, Pending>,
    /// Block → storages holding a replica reported corrupt.
    corrupt: HashMap<BlockId, Vec<u32>>,
}

/// Replications of one block in flight (Hadoop's `PendingBlockInfo`).
#[derive(Debug, Clone)]
struct Pending {
    /// Replicas still expected.
    count: usize,
    /// When to give up on them and queue the block again.
    deadline: Instant,
    /// The DataNodes (indices) asked to receive them.
    targets: Vec<u32>,
}

/// The priority of a block with `live` of `expected` replicas.
pub fn priority(live: usize, expected: usize) -> u8 {
    if live <= 1 {
        0
    } else if live * 3 < expected {
        1
    } else {
        2
    }
}

impl RedundancyQueues {
    /// Queues or re-prioritizes a block, or removes it when it has enough replicas
    /// (counting replications in flight).
    pub fn update(&mut self, block: BlockId, live: usize, expected: usize) {
        let in_flight = self.pending.get(&block).map_or(0, |p| p.count);
        self.remove(block);
        if live + in_flight < expected {
            let p = priority(live, expected);
            self.queue.insert((p, block));
            self.priority_of.insert(block, p);
        }
    }

    /// Drops a block from the queue (deleted, or enough replicas).
    pub fn remove(&mut self, block: BlockId) {
        if let Some(p) = self.priority_of.remove(&block) {
            self.queue.remove(&(p, block));
        }
    }

    /// Forgets everything about a deleted block.
    pub fn forget(&mut self, block: BlockId) {
        self.remove(block);
        self.pending.remove(&block);
        self.corrupt.remove(&block);
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub fn contains(&self, block: BlockId) -> bool {
        self.priority_of.contains_key(&block)
    }

    /// Up to `max` queued blocks, most urgent first (they stay queued until scheduled).
    pub fn most_urgent(&self, max: usize) -> Vec<BlockId> {
        self.queue.iter().take(max).map(|&(_, b)| b).collect()
    }

    /// Records replications of `block` sent to the DataNodes `targets`.
    pub fn scheduled(&mut self, block: BlockId, targets: &[u32], now: Instant) {
        self.remove(block);
        let e = self.pending.entry(block).or_insert(Pending {
            count: 0,
            deadline: now,
            targets: Vec::new(),
        });
        e.count += targets.len();
        e.deadline = now + PENDING_TIMEOUT;
        e.targets.extend_from_slice(targets);
    }

    /// A replica of `block` arrived: one fewer in flight.
    pub fn replica_arrived(&mut self, block: BlockId) {
        if let Some(e) = self.pending.get_mut(&block) {
            e.count = e.count.saturating_sub(1);
            if e.count == 0 {
                self.pending.remove(&block);
            }
        }
    }

    /// DataNodes died: replications sent to any of them will never arrive. They are
    /// forgotten at once (not after [`PENDING_TIMEOUT`]); returns their blocks, to be
    /// queued again.
    pub fn targets_died(&mut self, dead: &[u32]) -> Vec<BlockId> {
        let lost: Vec<BlockId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.targets.iter().any(|t| dead.contains(t)))
            .map(|(&b, _)| b)
            .collect();
        for b in &lost {
            self.pending.remove(b);
        }
        lost
    }

    /// Pending replications past their deadline: forgotten, returned for re-checking.
    pub fn timed_out(&mut self, now: Instant) -> Vec<BlockId> {
        let expired: Vec<BlockId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(&b, _)| b)
            .collect();
        for b in &expired {
            self.pending.remove(b);
        }
        expired
    }

    pub fn mark_corrupt(&mut self, block: BlockId, storage: u32) {
        let v = self.corrupt.entry(block).or_default();
        if !v.contains(&storage) {
            v.push(storage);
        }
    }

    pub fn corrupt_replicas(&self, block: BlockId) -> &[u32] {
        self.corrupt.get(&block).map_or(&[], Vec::as_slice)
    }

    pub fn clear_corrupt(&mut self, block: BlockId, storage: u32) {
        if let Some(v) = self.corrupt.get_mut(&block) {
            v.retain(|&s| s != storage);
            if v.is_empty() {
                self.corrupt.remove(&block);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities() {
        assert_eq!(priority(0, 3), 0);
        assert_eq!(priority(1, 3), 0);
        assert_eq!(priority(2, 3), 2);
        assert_eq!(priority(2, 10), 1);
    }

    #[test]
    fn queue_orders_by_urgency_and_tracks_pending() {
        let mut q = RedundancyQueues::default();
        q.update(10, 2, 3);
        q.update(11, 0, 3);
        q.update(12, 3, 3);
        assert_eq!(q.most_urgent(10), vec![11, 10]);
        let now = Instant::now();
        q.scheduled(11, &[1, 2], now);
        assert_eq!(q.most_urgent(10), vec![10]);
        // With 2 in flight and 1 live, the block is not queued again.
        q.update(11, 1, 3);
        assert!(!q.contains(11));
        q.replica_arrived(11);
        q.replica_arrived(11);
        q.update(11, 3, 3);
        assert!(!q.contains(11));
        q.scheduled(10, &[3], now);
        assert!(q.timed_out(now).is_empty());
        assert_eq!(q.timed_out(now + PENDING_TIMEOUT), vec![10]);
        // A replication sent to a node that then dies is given up at once.
        q.scheduled(10, &[3], now);
        assert!(q.targets_died(&[1, 2]).is_empty());
        assert_eq!(q.targets_died(&[3]), vec![10]);
        assert!(q.timed_out(now + PENDING_TIMEOUT).is_empty());
        q.forget(10);
        assert!(q.is_empty());
    }

    #[test]
    fn corrupt_replicas() {
        let mut q = RedundancyQueues::default();
        q.mark_corrupt(1, 7);
        q.mark_corrupt(1, 7);
        q.mark_corrupt(1, 8);
        assert_eq!(q.corrupt_replicas(1), &[7, 8]);
        q.clear_corrupt(1, 7);
        assert_eq!(q.corrupt_replicas(1), &[8]);
        q.clear_corrupt(1, 8);
        assert!(q.corrupt_replicas(1).is_empty());
    }
}
