//! The read path: [`DfsInputStream`] (`Read + Seek`, and positional `read_at`).
//!
//! `open` fetches the file's block locations once (`getBlockLocations(0, ∞)`). Each
//! block is read from its replicas nearest first (a local address first, then the
//! NameNode's order) with READ_BLOCK, verifying every chunk's checksum. A replica
//! that fails — refused, unreachable, or with data that does not match its checksums
//! — is skipped for the rest of the stream and the next one is tried from the same
//! offset; a corrupt one is reported to the NameNode (`reportBadBlocks`). When every
//! replica failed, locations are fetched again, up to
//! `dfs.client.max.block.acquire.failures` times. Connections come from and go back
//! to the client's DataNode peer cache (`datanode::PeerCache`).
//!
//! A file still being written is readable up to its visible length: the complete
//! blocks (the NameNode's `fileLength`), and the last block under construction up to
//! the length its DataNodes report (`visible_length`: every byte hflushed before the
//! file was opened). When no DataNode can tell that length the open fails with
//! [`Error::CannotObtainBlockLength`], as Hadoop's does, instead of reading short.
//! [`DfsInputStream::refresh`] fetches locations and the visible length again (a file
//! being written grows; `dfs -tail -f` calls it each round).

mod block_reader;
mod visible_length;

pub use block_reader::BlockReader;

use crate::datanode::{is_local, node_name};
use crate::{DfsClient, Error, Result};
use ferrodfs_proto::hdfs::{
    DatanodeInfoProto, GetBlockLocationsRequestProto, LocatedBlockProto, LocatedBlocksProto,
    ReportBadBlocksRequestProto,
};
use std::collections::HashSet;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Mutex;
use visible_length::{last_block_length, LastBlockLength};

/// The reader of one block at the stream's position.
#[derive(Debug)]
struct ActiveReader {
    block_index: usize,
    reader: BlockReader,
}

/// An open file being read: `DfsClient::open`.
#[derive(Debug)]
pub struct DfsInputStream {
    client: DfsClient,
    path: String,
    blocks: Vec<LocatedBlockProto>,
    len: u64,
    under_construction: bool,
    pos: u64,
    current: Option<ActiveReader>,
    /// Replicas (`ip:port`) that failed for this stream.
    dead: Mutex<HashSet<String>>,
}

impl DfsInputStream {
    pub(crate) fn open(client: DfsClient, path: String) -> Result<DfsInputStream> {
        let mut s = DfsInputStream {
            client,
            path,
            blocks: Vec::new(),
            len: 0,
            under_construction: false,
            pos: 0,
            current: None,
            dead: Mutex::new(HashSet::new()),
        };
        s.refresh()?;
        Ok(s)
    }

    /// Fetches the block locations and the visible length again (a file being
    /// written may have grown); the position stays.
    ///
    /// As Hadoop's `DFSInputStream.openInfo`: a last block under construction that
    /// has bytes but no locations yet (its DataNodes have not reported it since a
    /// NameNode restart) is asked for again up to
    /// `dfs.client.retry.times.get-last-block-length` times,
    /// `dfs.client.retry.interval-ms.get-last-block-length` apart.
    pub fn refresh(&mut self) -> Result<()> {
        let conf = self.client.conf();
        let mut retries = conf.last_block_length_retries;
        let interval = conf.last_block_length_retry_interval;
        loop {
            let located = self.fetch_locations()?;
            match last_block_length(&self.client, &self.path, &located)? {
                LastBlockLength::Known(n) => {
                    self.install(located, n);
                    self.current = None;
                    return Ok(());
                }
                LastBlockLength::NoLocations if retries > 0 => {
                    tracing::warn!(file = %self.path, retries, "Last block locations not available. Datanodes might not have reported blocks completely.");
                    std::thread::sleep(interval);
                    retries -= 1;
                }
                LastBlockLength::NoLocations => {
                    return Err(Error::LastBlockLocationsUnavailable {
                        path: self.path.clone(),
                    })
                }
            }
        }
    }

    fn fetch_locations(&self) -> Result<LocatedBlocksProto> {
        let resp = self
            .client
            .namenode()
            .get_block_locations(&GetBlockLocationsRequestProto {
                src: self.path.clone(),
                offset: 0,
                length: i64::MAX as u64,
            })
            .map_err(|e| Error::rpc("getBlockLocations", &self.path, e))?;
        resp.locations.ok_or_else(|| Error::FileNotFound {
            path: self.path.clone(),
        })
    }

    /// Takes `located` as the stream's blocks, with `last_len` the visible length of
    /// a last block under construction (0 otherwise): the file's length is the
    /// complete blocks' (`fileLength`) plus `last_len`, as in Hadoop's
    /// `DFSInputStream.getFileLength`.
    fn install(&mut self, located: LocatedBlocksProto, last_len: u64) {
        let mut blocks = located.blocks;
        let mut len = located.file_length;
        if !located.is_last_block_complete {
            if let Some(mut last) = located.last_block {
                last.b.num_bytes = Some(last_len);
                len = located.file_length + last_len;
                blocks.retain(|b| b.b.block_id != last.b.block_id);
                blocks.push(last);
            }
        }
        blocks.sort_by_key(|b| b.offset);
        self.blocks = blocks;
        self.len = len;
        self.under_construction = located.under_construction;
    }

    /// The file's (visible) length.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True for an empty file.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The stream's position.
    pub fn pos(&self) -> u64 {
        self.pos
    }

    /// True if the file was still being written when the locations were fetched.
    pub fn is_under_construction(&self) -> bool {
        self.under_construction
    }

    /// The path opened.
    pub fn path(&self) -> &str {
        &self.path
    }

    fn block_len(&self, i: usize) -> u64 {
        let b = &self.blocks[i];
        let nominal = b.b.num_bytes.unwrap_or(0);
        nominal.min(self.len.saturating_sub(b.offset))
    }

    fn block_index(&self, pos: u64) -> Option<usize> {
        (0..self.blocks.len()).find(|&i| {
            let b = &self.blocks[i];
            pos >= b.offset && pos < b.offset + self.block_len(i)
        })
    }

    /// Replicas of block `i` worth trying: not dead, local ones first.
    fn candidates(&self, i: usize) -> Vec<DatanodeInfoProto> {
        let dead = self.dead.lock().unwrap_or_else(|p| p.into_inner());
        let mut nodes: Vec<DatanodeInfoProto> = self.blocks[i]
            .locs
            .iter()
            .filter(|n| !dead.contains(&node_name(n)))
            .cloned()
            .collect();
        // Stable: the NameNode's order among equals.
        nodes.sort_by_key(|n| !is_local(&n.id.ip_addr));
        nodes
    }

    fn mark_dead(&self, node: &str) {
        self.dead
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(node.to_owned());
    }

    fn report_bad_block(&self, i: usize, node: &str) {
        let lb = &self.blocks[i];
        let Some(pos) = lb.locs.iter().position(|n| node_name(n) == node) else {
            return;
        };
        let bad = LocatedBlockProto {
            b: lb.b.clone(),
            offset: lb.offset,
            locs: vec![lb.locs[pos].clone()],
            corrupt: true,
            block_token: lb.block_token.clone(),
            storage_types: lb.storage_types.get(pos).cloned().into_iter().collect(),
            storage_i_ds: lb.storage_i_ds.get(pos).cloned().into_iter().collect(),
            ..Default::default()
        };
        tracing::warn!(file = %self.path, node, block = lb.b.block_id, "reporting corrupt replica");
        if let Err(e) = self
            .client
            .namenode()
            .report_bad_blocks(&ReportBadBlocksRequestProto { blocks: vec![bad] })
        {
            tracing::warn!(error = %e, "reportBadBlocks failed");
        }
    }

    /// Opens a reader of `len` bytes at `offset` in block `i`, trying its replicas.
    fn open_reader(&self, i: usize, offset: u64, len: u64) -> Result<BlockReader> {
        let conf = self.client.conf();
        let lb = &self.blocks[i];
        for node in self.candidates(i) {
            let peers = Some(self.client.peer_cache());
            match BlockReader::open_cached(
                conf,
                peers,
                &node,
                &lb.b,
                offset,
                len,
                self.client.client_name(),
            ) {
                Ok(r) => return Ok(r),
                Err(e) => {
                    tracing::warn!(file = %self.path, node = %node_name(&node), error = %e, "cannot read replica; trying the next");
                    self.mark_dead(&node_name(&node));
                }
            }
        }
        Err(Error::BlockMissing {
            path: self.path.clone(),
            block: format!("blk_{}_{}", lb.b.block_id, lb.b.generation_stamp),
            offset: lb.offset + offset,
        })
    }

    /// Reads at `pos` into `buf` from the block holding `pos`, using and keeping the
    /// reader in `slot` (`sequential`: it reads to the block's end) and failing over
    /// replicas. 0 only at the end of the file.
    fn read_block_at(
        &self,
        slot: &mut Option<ActiveReader>,
        pos: u64,
        buf: &mut [u8],
        sequential: bool,
    ) -> Result<usize> {
        if buf.is_empty() || pos >= self.len {
            return Ok(0);
        }
        let Some(i) = self.block_index(pos) else {
            return Err(Error::BlockMissing {
                path: self.path.clone(),
                block: "(none)".into(),
                offset: pos,
            });
        };
        let offset = pos - self.blocks[i].offset;
        let block_left = self.block_len(i) - offset;
        let want = (buf.len() as u64).min(block_left) as usize;
        let mut failures = 0;
        loop {
            let fits = slot
                .as_ref()
                .is_some_and(|a| a.block_index == i && a.reader.next_offset() == offset);
            if !fits {
                *slot = None;
                let len = if sequential { block_left } else { want as u64 };
                let reader = self.open_reader(i, offset, len)?;
                *slot = Some(ActiveReader {
                    block_index: i,
                    reader,
                });
            }
            let Some(active) = slot.as_mut() else {
                continue;
            };
            let result = active.reader.read(&mut buf[..want]);
            match result {
                Ok(n) if n > 0 => return Ok(n),
                Ok(_) => {
                    let node = active.reader.node().to_owned();
                    *slot = None;
                    self.mark_dead(&node);
                }
                Err(e) => {
                    let node = active.reader.node().to_owned();
                    *slot = None;
                    tracing::warn!(file = %self.path, %node, error = %e, "read from replica failed; failing over");
                    if e.is_checksum_error() {
                        self.report_bad_block(i, &node);
                    }
                    self.mark_dead(&node);
                }
            }
            failures += 1;
            if failures > self.blocks[i].locs.len() {
                return Err(Error::BlockMissing {
                    path: self.path.clone(),
                    block: format!("blk_{}", self.blocks[i].b.block_id),
                    offset: pos,
                });
            }
        }
    }

    /// Positional read: reads up to `buf.len()` bytes at `pos` without moving the
    /// stream's position, across blocks; fewer only at the end of the file.
    pub fn read_at(&self, pos: u64, buf: &mut [u8]) -> Result<usize> {
        let mut done = 0;
        let mut slot = None;
        while done < buf.len() {
            let n = self.read_block_at(&mut slot, pos + done as u64, &mut buf[done..], false)?;
            if n == 0 {
                break;
            }
            done += n;
        }
        Ok(done)
    }

    /// Reads the whole rest of the file into a vector.
    pub fn read_to_end_vec(&mut self) -> Result<Vec<u8>> {
        let mut out = vec![0u8; self.len.saturating_sub(self.pos) as usize];
        let mut done = 0;
        while done < out.len() {
            let n = self.read_bytes(&mut out[done..])?;
            if n == 0 {
                break;
            }
            done += n;
        }
        out.truncate(done);
        Ok(out)
    }

    /// Reads at the stream's position and advances it.
    pub fn read_bytes(&mut self, buf: &mut [u8]) -> Result<usize> {
        let mut slot = self.current.take();
        let r = self.read_block_at(&mut slot, self.pos, buf, true);
        self.current = slot;
        let n = r?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Read for DfsInputStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.read_bytes(buf)?)
    }
}

impl Seek for DfsInputStream {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let Some(target) = target else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the file",
            ));
        };
        self.pos = target;
        Ok(target)
    }
}
