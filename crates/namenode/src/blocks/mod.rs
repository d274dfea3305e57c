//! The block map: block id → generation stamp, length, owning file, state and replica
//! locations.
//!
//! Like inodes, blocks live in a [`DenseTable`] indexed by `id - FIRST_BLOCK_ID` (block ids
//! are sequential, as Hadoop's `SequentialBlockIdGenerator` makes them). Up to three
//! replica locations are stored inline as storage indices (see
//! [`crate::datanodes::DatanodeManager`]); more (replication > 3) spill into a side map.
//! A [`BlockInfo`] is 40 bytes.

pub mod replication;

use std::collections::HashMap;

use crate::namespace::{BlockId, DenseTable, InodeId};

/// The first block id handed out (Hadoop reserves ids up to 2^30).
pub const FIRST_BLOCK_ID: BlockId = (1 << 30) + 1;
/// The first generation stamp handed out (Hadoop's `GenerationStamp.LAST_RESERVED_STAMP`
/// is 1000).
pub const FIRST_GENERATION_STAMP: u64 = 1001;

const INLINE_LOCS: usize = 3;

/// A block's life cycle (Hadoop's `BlockUCState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockState {
    /// Being written; its length is not final.
    UnderConstruction,
    /// The client reported its final length, but fewer than `replication.min` replicas
    /// with that length have been reported.
    Committed,
    /// Final, with enough replicas.
    Complete,
    /// Lease recovery is synchronizing the replicas.
    UnderRecovery,
}

/// One block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockInfo {
    pub gs: u64,
    pub num_bytes: u64,
    pub inode: InodeId,
    locs: [u32; INLINE_LOCS],
    nlocs: u8,
    pub state: BlockState,
}

impl BlockInfo {
    pub fn new(inode: InodeId, gs: u64, num_bytes: u64, state: BlockState) -> BlockInfo {
        BlockInfo {
            gs,
            num_bytes,
            inode,
            locs: [0; INLINE_LOCS],
            nlocs: 0,
            state,
        }
    }
}

/// A block as the protocols name it: pool, id, generation stamp, length.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtendedBlock {
    pub pool_id: String,
    pub block_id: BlockId,
    pub gs: u64,
    pub num_bytes: u64,
}

/// All blocks and where their replicas are.
#[derive(Debug, Clone)]
pub struct BlockMap {
    blocks: DenseTable<BlockInfo>,
    extra_locs: HashMap<BlockId, Vec<u32>>,
}

impl Default for BlockMap {
    fn default() -> Self {
        BlockMap {
            blocks: DenseTable::new(FIRST_BLOCK_ID),
            extra_locs: HashMap::new(),
        }
    }
}

impl BlockMap {
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    pub fn get(&self, id: BlockId) -> Option<&BlockInfo> {
        self.blocks.get(id)
    }

    pub fn get_mut(&mut self, id: BlockId) -> Option<&mut BlockInfo> {
        self.blocks.get_mut(id)
    }

    /// Adds a block; false if the id is out of range or taken.
    pub fn insert(&mut self, id: BlockId, info: BlockInfo) -> bool {
        if self.blocks.get(id).is_some() {
            return false;
        }
        self.blocks.insert(id, info).is_ok()
    }

    /// Removes a block, returning it and its replica locations.
    pub fn remove(&mut self, id: BlockId) -> Option<(BlockInfo, Vec<u32>)> {
        let locs = self.locations(id);
        self.extra_locs.remove(&id);
        self.blocks.remove(id).map(|b| (b, locs))
    }

    pub fn iter(&self) -> impl Iterator<Item = (BlockId, &BlockInfo)> + '_ {
        self.blocks.iter()
    }

    /// Storage indices holding a replica.
    pub fn locations(&self, id: BlockId) -> Vec<u32> {
        let Some(b) = self.blocks.get(id) else {
            return Vec::new();
        };
        let mut v = b.locs[..usize::from(b.nlocs).min(INLINE_LOCS)].to_vec();
        if let Some(extra) = self.extra_locs.get(&id) {
            v.extend_from_slice(extra);
        }
        v
    }

    pub fn replica_count(&self, id: BlockId) -> usize {
        self.blocks.get(id).map_or(0, |b| {
            usize::from(b.nlocs) + self.extra_locs.get(&id).map_or(0, Vec::len)
        })
    }

    pub fn has_location(&self, id: BlockId, storage: u32) -> bool {
        self.locations(id).contains(&storage)
    }

    /// Records a replica; false if the block is unknown or the replica already known.
    pub fn add_location(&mut self, id: BlockId, storage: u32) -> bool {
        if self.has_location(id, storage) {
            return false;
        }
        let Some(b) = self.blocks.get_mut(id) else {
            return false;
        };
        if usize::from(b.nlocs) < INLINE_LOCS {
            b.locs[usize::from(b.nlocs)] = storage;
            b.nlocs += 1;
        } else {
            self.extra_locs.entry(id).or_default().push(storage);
        }
        true
    }

    /// Forgets a replica; false if it was not recorded.
    pub fn remove_location(&mut self, id: BlockId, storage: u32) -> bool {
        let mut locs = self.locations(id);
        let Some(pos) = locs.iter().position(|&s| s == storage) else {
            return false;
        };
        locs.remove(pos);
        self.set_locations(id, &locs);
        true
    }

    /// Replaces the replica set.
    pub fn set_locations(&mut self, id: BlockId, locs: &[u32]) {
        let Some(b) = self.blocks.get_mut(id) else {
            return;
        };
        let inline = locs.len().min(INLINE_LOCS);
        b.locs = [0; INLINE_LOCS];
        b.locs[..inline].copy_from_slice(&locs[..inline]);
        b.nlocs = inline as u8;
        if locs.len() > INLINE_LOCS {
            self.extra_locs.insert(id, locs[INLINE_LOCS..].to_vec());
        } else {
            self.extra_locs.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_info_is_compact() {
        assert_eq!(std::mem::size_of::<BlockInfo>(), 40);
        assert_eq!(std::mem::size_of::<Option<BlockInfo>>(), 40);
    }

    #[test]
    fn locations_inline_and_spilled() {
        let mut m = BlockMap::default();
        let id = FIRST_BLOCK_ID;
        assert!(m.insert(id, BlockInfo::new(16386, 1001, 0, BlockState::Complete)));
        assert!(!m.insert(id, BlockInfo::new(16386, 1001, 0, BlockState::Complete)));
        assert!(!m.insert(5, BlockInfo::new(16386, 1001, 0, BlockState::Complete)));
        for s in [4, 5, 6, 7, 8] {
            assert!(m.add_location(id, s));
        }
        assert!(!m.add_location(id, 7));
        assert_eq!(m.locations(id), vec![4, 5, 6, 7, 8]);
        assert_eq!(m.replica_count(id), 5);
        assert!(m.remove_location(id, 5));
        assert!(!m.remove_location(id, 5));
        assert_eq!(m.locations(id), vec![4, 6, 7, 8]);
        m.set_locations(id, &[9]);
        assert_eq!(m.locations(id), vec![9]);
        let (info, locs) = m.remove(id).unwrap();
        assert_eq!((info.inode, locs), (16386, vec![9]));
        assert!(m.is_empty());
        assert!(!m.add_location(id, 1));
    }
}
