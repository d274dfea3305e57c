//! Applying edit records to the namesystem (live and during replay).
//!
//! `apply` trusts the record: the live operation validated it. During replay an
//! inconsistent record (unknown inode, name taken) is an error, never a panic.

use std::time::Instant;

use super::FsNamesystem;
use crate::blocks::{BlockInfo, BlockState, ExtendedBlock};
use crate::datanodes::DatanodeCommand;
use crate::editlog::op::ApplyEdit;
use crate::editlog::EditOp;
use crate::error::{Error, Result};
use crate::namespace::xattr::{XAttr, XAttrNameSpace};
use crate::namespace::{
    BlockId, BlockList, FileData, Inode, InodeId, InodeKind, Name, UnderConstruction,
};

fn bad(op: &EditOp, what: &str) -> Error {
    Error::IllegalArgument {
        message: format!("edit {op:?} cannot be applied: {what}"),
    }
}

impl FsNamesystem {
    fn ix(&self, op: &EditOp, id: InodeId) -> Result<u32> {
        self.ns.ix_of(id).ok_or_else(|| bad(op, "unknown inode"))
    }

    fn file_mut_of(&mut self, op: &EditOp, id: InodeId) -> Result<&mut FileData> {
        let ix = self.ix(op, id)?;
        self.ns
            .get_mut(ix)
            .and_then(Inode::file_mut)
            .ok_or_else(|| bad(op, "not a file"))
    }

    fn touch_parent(&mut self, ix: u32, mtime: i64) {
        if let Some(parent) = self.ns.get(ix).map(|i| i.parent) {
            if let Some(p) = self.ns.get_mut(parent) {
                p.mtime = mtime;
            }
        }
    }

    /// Applies one edit (each op's replay is its [`ApplyEdit`] method below).
    pub fn apply(&mut self, op: &EditOp) -> Result<()> {
        op.apply_to(self)
    }
}

impl ApplyEdit for FsNamesystem {
    type Error = Error;

    fn apply_mkdir(
        &mut self,
        op: &EditOp,
        id: &u64,
        parent: &u64,
        name: &Vec<u8>,
        perm: &u16,
        owner: &String,
        group: &String,
        mtime: &i64,
    ) -> Result<()> {
        let p = self.ix(op, *parent)?;
        let inode = Inode {
            parent: p,
            perm: *perm,
            owner: self.ns.strings.intern(owner),
            group: self.ns.strings.intern(group),
            mtime: *mtime,
            atime: 0,
            name: Name::new(name),
            kind: InodeKind::Directory(Vec::new()),
        };
        self.ns.add(*id, p, inode)?;
        if let Some(pi) = self.ns.get_mut(p) {
            pi.mtime = *mtime;
        }
        self.next_inode_id = self.next_inode_id.max(id + 1);

        Ok(())
    }

    fn apply_add_file(
        &mut self,
        op: &EditOp,
        id: &u64,
        parent: &u64,
        name: &Vec<u8>,
        perm: &u16,
        owner: &String,
        group: &String,
        mtime: &i64,
        replication: &u16,
        block_size: &u64,
        client_name: &String,
        client_machine: &String,
    ) -> Result<()> {
        let p = self.ix(op, *parent)?;
        let mut data = FileData::new(*replication, *block_size);
        data.uc = Some(Box::new(UnderConstruction {
            client_name: client_name.clone(),
            client_machine: client_machine.clone(),
        }));
        let inode = Inode {
            parent: p,
            perm: *perm,
            owner: self.ns.strings.intern(owner),
            group: self.ns.strings.intern(group),
            mtime: *mtime,
            atime: *mtime,
            name: Name::new(name),
            kind: InodeKind::File(data),
        };
        self.ns.add(*id, p, inode)?;
        if let Some(pi) = self.ns.get_mut(p) {
            pi.mtime = *mtime;
        }
        self.next_inode_id = self.next_inode_id.max(id + 1);
        self.leases.add(client_name, *id, Instant::now());

        Ok(())
    }

    fn apply_alloc_block(&mut self, op: &EditOp, file: &u64, block: &u64, gs: &u64) -> Result<()> {
        let f = self.file_mut_of(op, *file)?;
        let prev = f.blocks.as_slice().last().copied();
        f.blocks.push(*block);
        if let Some(prev) = prev {
            self.commit_block(prev);
        }
        if !self.blocks.insert(
            *block,
            BlockInfo::new(*file, *gs, 0, BlockState::UnderConstruction),
        ) {
            return Err(bad(op, "block id in use"));
        }
        self.next_block_id = self.next_block_id.max(block + 1);
        self.gen_stamp = self.gen_stamp.max(*gs);

        Ok(())
    }

    fn apply_update_block(
        &mut self,
        op: &EditOp,
        block: &u64,
        gs: &u64,
        num_bytes: &u64,
    ) -> Result<()> {
        let b = self
            .blocks
            .get_mut(*block)
            .ok_or_else(|| bad(op, "unknown block"))?;
        b.gs = *gs;
        b.num_bytes = *num_bytes;
        self.gen_stamp = self.gen_stamp.max(*gs);

        Ok(())
    }

    fn apply_abandon_block(&mut self, op: &EditOp, file: &u64, block: &u64) -> Result<()> {
        let f = self.file_mut_of(op, *file)?;
        let blocks = f.blocks.as_slice();
        if blocks.last() != Some(block) {
            return Err(bad(op, "not the last block"));
        }
        let n = blocks.len() - 1;
        f.blocks.truncate(n);
        self.remove_block(*block);

        Ok(())
    }

    fn apply_close(&mut self, op: &EditOp, file: &u64, mtime: &i64, atime: &i64) -> Result<()> {
        let ix = self.ix(op, *file)?;
        let inode = self
            .ns
            .get_mut(ix)
            .ok_or_else(|| bad(op, "unknown inode"))?;
        inode.mtime = *mtime;
        inode.atime = *atime;
        let f = inode.file_mut().ok_or_else(|| bad(op, "not a file"))?;
        let holder = f.uc.take().map(|uc| uc.client_name);
        let blocks = f.blocks.as_slice().to_vec();
        for b in blocks {
            self.complete_block(b);
        }
        if let Some(h) = holder {
            self.leases.remove(&h, *file);
        }

        Ok(())
    }

    fn apply_reopen(
        &mut self,
        op: &EditOp,
        file: &u64,
        client_name: &String,
        client_machine: &String,
    ) -> Result<()> {
        let f = self.file_mut_of(op, *file)?;
        f.uc = Some(Box::new(UnderConstruction {
            client_name: client_name.clone(),
            client_machine: client_machine.clone(),
        }));
        let block_size = f.block_size();
        if let Some(&last) = f.blocks.as_slice().last() {
            if let Some(b) = self.blocks.get_mut(last) {
                if b.num_bytes < block_size {
                    b.state = BlockState::UnderConstruction;
                }
            }
        }
        self.leases.add(client_name, *file, Instant::now());

        Ok(())
    }

    fn apply_rename(
        &mut self,
        op: &EditOp,
        id: &u64,
        parent: &u64,
        name: &Vec<u8>,
        mtime: &i64,
    ) -> Result<()> {
        let ix = self.ix(op, *id)?;
        let p = self.ix(op, *parent)?;
        self.touch_parent(ix, *mtime);
        self.ns.move_to(ix, p, name)?;
        self.touch_parent(ix, *mtime);

        Ok(())
    }

    fn apply_delete(&mut self, op: &EditOp, id: &u64, mtime: &i64) -> Result<()> {
        let ix = self.ix(op, *id)?;
        self.touch_parent(ix, *mtime);
        for (rid, inode) in self.ns.remove_subtree(ix) {
            if let InodeKind::File(f) = inode.kind {
                for &b in f.blocks.as_slice() {
                    self.remove_block(b);
                }
                if f.uc.is_some() {
                    self.leases.remove_file(rid);
                }
            }
        }

        Ok(())
    }

    fn apply_set_replication(&mut self, op: &EditOp, id: &u64, replication: &u16) -> Result<()> {
        let f = self.file_mut_of(op, *id)?;
        f.set_replication(*replication);
        let blocks = f.blocks.as_slice().to_vec();
        for b in blocks {
            self.update_redundancy(b);
        }

        Ok(())
    }

    fn apply_set_permission(&mut self, op: &EditOp, id: &u64, perm: &u16) -> Result<()> {
        let ix = self.ix(op, *id)?;
        if let Some(i) = self.ns.get_mut(ix) {
            i.perm = *perm;
        }

        Ok(())
    }

    fn apply_set_owner(
        &mut self,
        op: &EditOp,
        id: &u64,
        owner: &Option<String>,
        group: &Option<String>,
    ) -> Result<()> {
        let ix = self.ix(op, *id)?;
        let o = owner.as_deref().map(|o| self.ns.strings.intern(o));
        let g = group.as_deref().map(|g| self.ns.strings.intern(g));
        if let Some(i) = self.ns.get_mut(ix) {
            if let Some(o) = o {
                i.owner = o;
            }
            if let Some(g) = g {
                i.group = g;
            }
        }

        Ok(())
    }

    fn apply_set_times(&mut self, op: &EditOp, id: &u64, mtime: &i64, atime: &i64) -> Result<()> {
        let ix = self.ix(op, *id)?;
        if let Some(i) = self.ns.get_mut(ix) {
            if *mtime >= 0 {
                i.mtime = *mtime;
            }
            if *atime >= 0 {
                i.atime = *atime;
            }
        }

        Ok(())
    }

    fn apply_concat(
        &mut self,
        op: &EditOp,
        target: &u64,
        srcs: &Vec<u64>,
        mtime: &i64,
    ) -> Result<()> {
        let t = self.ix(op, *target)?;
        let mut moved: Vec<BlockId> = Vec::new();
        for &s in srcs {
            let six = self.ix(op, s)?;
            for (_, inode) in self.ns.remove_subtree(six) {
                if let InodeKind::File(f) = inode.kind {
                    moved.extend_from_slice(f.blocks.as_slice());
                }
            }
        }
        for &b in &moved {
            if let Some(info) = self.blocks.get_mut(b) {
                info.inode = *target;
            }
        }
        let inode = self.ns.get_mut(t).ok_or_else(|| bad(op, "unknown inode"))?;
        inode.mtime = *mtime;
        let f = inode.file_mut().ok_or_else(|| bad(op, "not a file"))?;
        let mut all = f.blocks.as_slice().to_vec();
        all.extend_from_slice(&moved);
        f.blocks = BlockList::from_vec(all);
        self.touch_parent(t, *mtime);
        for b in moved {
            self.update_redundancy(b);
        }

        Ok(())
    }

    fn apply_truncate(
        &mut self,
        op: &EditOp,
        file: &u64,
        keep_blocks: &u32,
        last_len: &u64,
        mtime: &i64,
    ) -> Result<()> {
        let ix = self.ix(op, *file)?;
        let inode = self
            .ns
            .get_mut(ix)
            .ok_or_else(|| bad(op, "unknown inode"))?;
        inode.mtime = *mtime;
        let f = inode.file_mut().ok_or_else(|| bad(op, "not a file"))?;
        let blocks = f.blocks.as_slice().to_vec();
        let keep = (*keep_blocks as usize).min(blocks.len());
        f.blocks.truncate(keep);
        for &b in &blocks[keep..] {
            self.remove_block(b);
        }
        if keep > 0 {
            if let Some(b) = self.blocks.get_mut(blocks[keep - 1]) {
                b.num_bytes = *last_len;
            }
        }

        Ok(())
    }

    fn apply_reassign_lease(
        &mut self,
        op: &EditOp,
        file: &u64,
        client_name: &String,
    ) -> Result<()> {
        let f = self.file_mut_of(op, *file)?;
        let uc = f.uc.as_mut().ok_or_else(|| bad(op, "file not open"))?;
        let old = std::mem::replace(&mut uc.client_name, client_name.clone());
        self.leases
            .reassign(*file, &old, client_name, Instant::now());

        Ok(())
    }

    fn apply_set_xattr(
        &mut self,
        op: &EditOp,
        id: &u64,
        ns: &u8,
        name: &String,
        value: &Vec<u8>,
    ) -> Result<()> {
        self.ix(op, *id)?;
        let ns = XAttrNameSpace::from_proto(i32::from(*ns)).ok_or_else(|| bad(op, "namespace"))?;
        self.ns.set_xattr(
            *id,
            XAttr {
                ns,
                name: name.clone(),
                value: value.clone(),
            },
        );
        Ok(())
    }

    fn apply_remove_xattr(&mut self, op: &EditOp, id: &u64, ns: &u8, name: &String) -> Result<()> {
        self.ix(op, *id)?;
        let ns = XAttrNameSpace::from_proto(i32::from(*ns)).ok_or_else(|| bad(op, "namespace"))?;
        if !self.ns.remove_xattr(*id, ns, name) {
            return Err(bad(op, "no such attribute"));
        }
        Ok(())
    }

    fn apply_set_genstamp(&mut self, _op: &EditOp, gs: &u64) -> Result<()> {
        self.gen_stamp = self.gen_stamp.max(*gs);
        Ok(())
    }
}

impl FsNamesystem {
    /// A block whose length is final: committed, or complete with enough replicas.
    pub(crate) fn commit_block(&mut self, id: BlockId) {
        let min = usize::from(self.config.replication_min);
        let count = self.blocks.replica_count(id);
        if let Some(b) = self.blocks.get_mut(id) {
            if b.state != BlockState::Complete {
                b.state = if count >= min {
                    BlockState::Complete
                } else {
                    BlockState::Committed
                };
            }
        }
        self.expected_locs.remove(&id);
        self.recovery_ids.remove(&id);
        self.update_redundancy(id);
    }

    /// Marks a block complete whatever its replica count (closing a file).
    pub(crate) fn complete_block(&mut self, id: BlockId) {
        if let Some(b) = self.blocks.get_mut(id) {
            b.state = BlockState::Complete;
        }
        self.expected_locs.remove(&id);
        self.recovery_ids.remove(&id);
        self.update_redundancy(id);
    }

    /// Removes a block and queues deletion of its replicas.
    pub(crate) fn remove_block(&mut self, id: BlockId) {
        self.expected_locs.remove(&id);
        self.recovery_ids.remove(&id);
        self.redundancy.forget(id);
        if let Some((info, locs)) = self.blocks.remove(id) {
            let eb = ExtendedBlock {
                pool_id: self.block_pool_id.clone(),
                block_id: id,
                gs: info.gs,
                num_bytes: info.num_bytes,
            };
            for s in locs {
                if let Some(node) = self.dns.node_of_storage(s) {
                    self.dns.queue_command(
                        node,
                        DatanodeCommand::Invalidate {
                            blocks: vec![eb.clone()],
                        },
                    );
                }
            }
        }
    }

    /// The expected replication of a block (its file's).
    pub(crate) fn expected_replication(&self, id: BlockId) -> usize {
        self.blocks
            .get(id)
            .and_then(|b| self.ns.ix_of(b.inode))
            .and_then(|ix| self.ns.get(ix))
            .and_then(Inode::file)
            .map_or(0, |f| usize::from(f.replication()))
    }

    /// Re-queues a complete block for replication if it lacks replicas, or schedules the
    /// deletion of its excess replicas if it has too many.
    pub(crate) fn update_redundancy(&mut self, id: BlockId) {
        // A replica no longer recorded (deleted, its node dead) is no longer excess.
        if !self.redundancy.excess_replicas(id).is_empty() {
            let locs = self.blocks.locations(id);
            let gone: Vec<u32> = self
                .redundancy
                .excess_replicas(id)
                .iter()
                .copied()
                .filter(|s| !locs.contains(s))
                .collect();
            for s in gone {
                self.redundancy.clear_excess(id, s);
            }
        }
        // Queues are built when safe mode ends (replicas are still being reported).
        if self.safe_mode.on {
            return;
        }
        let complete = self
            .blocks
            .get(id)
            .is_some_and(|b| b.state == BlockState::Complete);
        if !complete {
            self.redundancy.remove(id);
            return;
        }
        let expected = self.expected_replication(id);
        let live = self.live_replicas(id);
        self.redundancy.update(id, live.len(), expected);
        if expected > 0 && live.len() > expected {
            self.delete_excess_replicas(id, &live, expected);
        }
    }

    /// Storages holding a replica of `id` that counts: recorded (so not corrupt), on a
    /// live node, and not being deleted as excess.
    pub(crate) fn live_replicas(&self, id: BlockId) -> Vec<u32> {
        self.blocks
            .locations(id)
            .into_iter()
            .filter(|&s| !self.redundancy.is_excess(id, s))
            .filter(|&s| {
                self.dns
                    .node_of_storage(s)
                    .and_then(|n| self.dns.node(n))
                    .is_some_and(|d| d.alive)
            })
            .collect()
    }
}
