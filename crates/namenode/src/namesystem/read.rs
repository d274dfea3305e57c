//! Read-only operations: getFileInfo, getListing, getBlockLocations,
//! getContentSummary, getFsStats.

use super::FsNamesystem;
use crate::blocks::{BlockState, ExtendedBlock};
use crate::datanodes::DatanodeStorageInfo;
use crate::error::{Error, Result};
use crate::namespace::{Access, BlockId, Caller, Inode, InodeKind};

/// File or directory (no symlinks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    Directory,
    File,
}

/// What getFileInfo / getListing report per inode (Hadoop's `HdfsFileStatusProto`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStatus {
    pub file_type: FileType,
    /// Empty for getFileInfo; the local name in listings.
    pub path: Vec<u8>,
    pub length: u64,
    pub permission: u16,
    pub owner: String,
    pub group: String,
    pub modification_time: i64,
    pub access_time: i64,
    /// 0 for directories.
    pub block_replication: u16,
    /// 0 for directories.
    pub block_size: u64,
    pub file_id: u64,
    /// Children of a directory, 0 for files.
    pub children_num: i32,
    pub under_construction: bool,
}

/// One page of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryListing {
    pub entries: Vec<FileStatus>,
    /// Entries after this page.
    pub remaining: u32,
}

/// A block with its offset in the file and where to read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocatedBlock {
    pub block: ExtendedBlock,
    pub offset: u64,
    pub locations: Vec<DatanodeStorageInfo>,
    /// All listed replicas are corrupt.
    pub corrupt: bool,
}

/// getBlockLocations' answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocatedBlocks {
    /// Length of the file not counting a last block still being written.
    pub file_length: u64,
    pub blocks: Vec<LocatedBlock>,
    pub under_construction: bool,
    pub last_block: Option<LocatedBlock>,
    pub is_last_block_complete: bool,
}

/// du / count (Hadoop's `ContentSummaryProto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContentSummary {
    pub length: u64,
    pub file_count: u64,
    pub directory_count: u64,
    /// -1: no quota.
    pub quota: i64,
    pub space_consumed: u64,
    pub space_quota: i64,
}

/// getFsStats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FsStats {
    pub capacity: u64,
    pub used: u64,
    pub remaining: u64,
    pub under_replicated: u64,
    pub corrupt_blocks: u64,
    pub missing_blocks: u64,
    pub live_datanodes: u64,
    pub files_and_dirs: u64,
    pub blocks: u64,
}

impl FsNamesystem {
    fn file_length(&self, blocks: &[BlockId]) -> u64 {
        blocks
            .iter()
            .filter_map(|&b| self.blocks.get(b))
            .map(|b| b.num_bytes)
            .sum()
    }

    /// The status of one inode, named `path`.
    pub(crate) fn status(&self, ix: u32, path: Vec<u8>) -> Result<FileStatus> {
        let inode: &Inode = self.ns.inode(ix)?;
        let (file_type, length, repl, bs, children, uc) = match &inode.kind {
            InodeKind::Directory(c) => (FileType::Directory, 0, 0, 0, c.len() as i32, false),
            InodeKind::File(f) => (
                FileType::File,
                self.file_length(f.blocks.as_slice()),
                f.replication(),
                f.block_size(),
                0,
                f.uc.is_some(),
            ),
        };
        Ok(FileStatus {
            file_type,
            path,
            length,
            permission: inode.perm,
            owner: self.ns.owner_name(inode).to_owned(),
            group: self.ns.group_name(inode).to_owned(),
            modification_time: inode.mtime,
            access_time: inode.atime,
            block_replication: repl,
            block_size: bs,
            file_id: self.ns.id_of(ix),
            children_num: children,
            under_construction: uc,
        })
    }

    /// getFileInfo: `None` if the path does not exist.
    pub fn get_file_info(&self, caller: &Caller, path: &str) -> Result<Option<FileStatus>> {
        let (_, r) = self.resolve(path)?;
        self.check_traverse(caller, &r)?;
        match r.last() {
            Some(ix) => Ok(Some(self.status(ix, Vec::new())?)),
            None => Ok(None),
        }
    }

    /// getListing: up to `ls_limit` entries after the local name `start_after` (byte-wise
    /// order). `None` if the path does not exist; a file lists as itself (empty name).
    pub fn get_listing(
        &self,
        caller: &Caller,
        path: &str,
        start_after: &[u8],
    ) -> Result<Option<DirectoryListing>> {
        let (_, r) = self.resolve(path)?;
        self.check_traverse(caller, &r)?;
        let Some(ix) = r.last() else {
            return Ok(None);
        };
        let inode = self.ns.inode(ix)?;
        if !inode.is_dir() {
            // Hadoop lists a file as itself with an empty local name: clients resolve
            // an entry as `listed path + local name`.
            return Ok(Some(DirectoryListing {
                entries: vec![self.status(ix, Vec::new())?],
                remaining: 0,
            }));
        }
        self.check_inode(caller, ix, Access::READ_EXECUTE)?;
        let children = inode.children();
        let start = match self.ns.find_child(ix, start_after) {
            Ok(pos) => pos + 1,
            Err(pos) => pos,
        };
        let start = if start_after.is_empty() { 0 } else { start };
        let end = (start + self.config.ls_limit).min(children.len());
        let mut entries = Vec::with_capacity(end - start);
        for &c in &children[start..end] {
            let name = self.ns.inode(c)?.name.as_bytes().to_vec();
            entries.push(self.status(c, name)?);
        }
        Ok(Some(DirectoryListing {
            entries,
            remaining: (children.len() - end) as u32,
        }))
    }

    fn located(&self, id: BlockId, offset: u64) -> Option<LocatedBlock> {
        let b = self.blocks.get(id)?;
        let corrupt = self.redundancy.corrupt_replicas(id);
        let mut storages: Vec<u32> = self.blocks.locations(id);
        if matches!(
            b.state,
            BlockState::UnderConstruction | BlockState::UnderRecovery
        ) {
            if let Some(exp) = self.expected_locs.get(&id) {
                for &s in exp {
                    if !storages.contains(&s) {
                        storages.push(s);
                    }
                }
            }
        }
        let good: Vec<u32> = storages
            .iter()
            .copied()
            .filter(|s| !corrupt.contains(s))
            .filter(|&s| {
                self.dns
                    .node_of_storage(s)
                    .and_then(|n| self.dns.node(n))
                    .is_some_and(|n| n.alive)
            })
            .collect();
        let all_corrupt = good.is_empty() && !corrupt.is_empty();
        let chosen = if all_corrupt { corrupt.to_vec() } else { good };
        Some(LocatedBlock {
            block: ExtendedBlock {
                pool_id: self.block_pool_id.clone(),
                block_id: id,
                gs: b.gs,
                num_bytes: b.num_bytes,
            },
            offset,
            locations: chosen
                .into_iter()
                .filter_map(|s| self.dns.storage_info(s))
                .collect(),
            corrupt: all_corrupt,
        })
    }

    /// getBlockLocations: the blocks overlapping `[offset, offset + length)`.
    pub fn get_block_locations(
        &self,
        caller: &Caller,
        path: &str,
        offset: u64,
        length: u64,
    ) -> Result<LocatedBlocks> {
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
                path: format!("{path} (is a directory)"),
            })?;
        self.check_inode(caller, ix, Access::READ)?;
        let ids = f.blocks.as_slice();
        let uc = f.uc.is_some();
        let last_uc = uc
            && ids
                .last()
                .and_then(|&b| self.blocks.get(b))
                .is_some_and(|b| b.state != BlockState::Complete);
        let complete_ids = if last_uc { &ids[..ids.len() - 1] } else { ids };
        let file_length = self.file_length(complete_ids);
        let end = offset.saturating_add(length);
        let mut blocks = Vec::new();
        let mut pos = 0u64;
        // As Hadoop's `createLocatedBlockList`: every block overlapping the range,
        // the last one under construction included (with the length the NameNode
        // knows: what `fsync` reported), though `fileLength` leaves it out. Readers
        // that go by the block list and getFileInfo's length (the Go client) see the
        // hflushed bytes that way; Hadoop's client asks the DataNodes instead.
        for &id in ids {
            let len = self.blocks.get(id).map_or(0, |b| b.num_bytes);
            if pos + len > offset && pos < end || (len == 0 && pos >= offset && pos < end) {
                if let Some(lb) = self.located(id, pos) {
                    blocks.push(lb);
                }
            }
            pos += len;
            if pos >= end && pos > offset {
                break;
            }
        }
        let last_block = if last_uc {
            ids.last().and_then(|&id| self.located(id, file_length))
        } else {
            ids.last()
                .and_then(|&id| self.located(id, file_length - self.file_length(&[id])))
        };
        Ok(LocatedBlocks {
            file_length,
            blocks,
            under_construction: uc,
            last_block,
            is_last_block_complete: !last_uc,
        })
    }

    /// getContentSummary: totals over the subtree (READ_EXECUTE on each directory).
    pub fn get_content_summary(&self, caller: &Caller, path: &str) -> Result<ContentSummary> {
        let (_, r) = self.resolve(path)?;
        self.check_traverse(caller, &r)?;
        let ix = r.last().ok_or_else(|| Error::FileNotFound {
            path: path.to_owned(),
        })?;
        self.check_subtree(caller, ix, Access::READ_EXECUTE)?;
        let mut s = ContentSummary {
            quota: -1,
            space_quota: -1,
            ..ContentSummary::default()
        };
        let mut stack = vec![ix];
        while let Some(cur) = stack.pop() {
            let inode = self.ns.inode(cur)?;
            match &inode.kind {
                InodeKind::Directory(c) => {
                    s.directory_count += 1;
                    stack.extend_from_slice(c);
                }
                InodeKind::File(f) => {
                    let len = self.file_length(f.blocks.as_slice());
                    s.file_count += 1;
                    s.length += len;
                    s.space_consumed += len * u64::from(f.replication());
                }
            }
        }
        Ok(s)
    }

    /// getFsStats.
    pub fn get_fs_stats(&self) -> FsStats {
        let (capacity, used, remaining) = self.dns.totals();
        let missing = self
            .blocks
            .iter()
            .filter(|(id, b)| {
                b.state == BlockState::Complete && self.blocks.replica_count(*id) == 0
            })
            .count() as u64;
        FsStats {
            capacity,
            used,
            remaining,
            under_replicated: self.redundancy.len() as u64,
            corrupt_blocks: 0,
            // As Hadoop, which counts missing blocks in its replication queues: none
            // before they are populated (startup safe mode below its threshold, while
            // DataNodes are still reporting), nor with no DataNode at all.
            missing_blocks: if self.dns.live_count() == 0 || !self.replication_queues_populated() {
                0
            } else {
                missing
            },
            live_datanodes: self.dns.live_count() as u64,
            files_and_dirs: self.ns.inode_count() as u64,
            blocks: self.blocks.len() as u64,
        }
    }
}
