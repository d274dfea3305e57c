//! Replicas on disk: their state, the writer (`BlockReceiver`'s file half),
//! the reader (`BlockSender`'s file half), and the file operations recovery
//! needs (truncate with checksum fix-up, validating an `rbw` replica).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use ferrodfs_transfer::checksum::{BlockMetadataHeader, DataChecksum, META_HEADER_LEN};

use super::{FsDataset, Key};
use crate::{io_err, Error, Result};

/// A replica's state (`HdfsServerConstants.ReplicaState`, numbered as in
/// `ReplicaStateProto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplicaState {
    /// Complete and immutable (0).
    Finalized,
    /// Being written by a pipeline (1).
    Rbw,
    /// Was being written when the DataNode restarted; waits for recovery (2).
    Rwr,
    /// Under lease recovery (3).
    Rur,
    /// Temporary, for replication transfers (4).
    Temporary,
}

impl ReplicaState {
    /// `ReplicaStateProto` number.
    pub fn id(self) -> u32 {
        match self {
            ReplicaState::Finalized => 0,
            ReplicaState::Rbw => 1,
            ReplicaState::Rwr => 2,
            ReplicaState::Rur => 3,
            ReplicaState::Temporary => 4,
        }
    }
}

/// What the dataset knows of one replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaInfo {
    /// Block id.
    pub block_id: i64,
    /// Generation stamp (the meta file's name carries it).
    pub gen_stamp: u64,
    /// Length: for FINALIZED the block length; for RBW the bytes acknowledged
    /// (the visible length); for RWR/RUR/TEMPORARY the bytes on disk.
    pub num_bytes: u64,
    /// Bytes of data on disk.
    pub bytes_on_disk: u64,
    /// State.
    pub state: ReplicaState,
    /// For RUR: the state before recovery began.
    pub original_state: ReplicaState,
    /// For RUR: the recovery id (the new generation stamp to be).
    pub recovery_id: Option<u64>,
    /// Storage id (`DS-<uuid>`) of the volume holding it.
    pub storage_id: String,
    /// Checksum type and chunk size, from the meta header.
    pub checksum: DataChecksum,
}

/// The result of `init_replica_recovery` (`ReplicaRecoveryInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaRecoveryInfo {
    /// Block id.
    pub block_id: i64,
    /// Bytes on disk.
    pub num_bytes: u64,
    /// Generation stamp before recovery.
    pub gen_stamp: u64,
    /// The replica's state before it became RUR.
    pub original_state: ReplicaState,
}

pub(crate) fn meta_offset(checksum: &DataChecksum, chunk_index: u64) -> u64 {
    META_HEADER_LEN as u64 + chunk_index * checksum.checksum_size() as u64
}

fn read_at(file: &File, path: &Path, buf: &mut [u8], offset: u64) -> Result<()> {
    file.read_exact_at(buf, offset)
        .map_err(io_err("read", path))
}

/// Reads and decodes a meta file's header.
pub(crate) fn read_meta_header(meta: &File, path: &Path) -> Result<DataChecksum> {
    let mut h = [0u8; META_HEADER_LEN];
    read_at(meta, path, &mut h, 0)?;
    BlockMetadataHeader::decode(&h)
        .map(|h| h.checksum)
        .map_err(|source| Error::Checksum {
            path: path.to_path_buf(),
            source,
        })
}

/// Truncates data to `len` bytes and the meta file to the checksums covering
/// it, recomputing the last checksum when `len` ends inside a chunk.
pub(crate) fn truncate_files(
    data: &File,
    data_path: &Path,
    meta: &File,
    meta_path: &Path,
    checksum: &DataChecksum,
    len: u64,
) -> Result<()> {
    data.set_len(len).map_err(io_err("truncate", data_path))?;
    let chunks = checksum.chunks(len);
    meta.set_len(meta_offset(checksum, chunks))
        .map_err(io_err("truncate", meta_path))?;
    let bpc = u64::from(checksum.bytes_per_checksum());
    if len % bpc != 0 && checksum.checksum_size() > 0 {
        let start = len - len % bpc;
        let mut chunk = vec![0u8; (len - start) as usize];
        read_at(data, data_path, &mut chunk, start)?;
        let sum = checksum.chunk_checksum(&chunk).to_be_bytes();
        meta.write_all_at(&sum, meta_offset(checksum, start / bpc))
            .map_err(io_err("write", meta_path))?;
    }
    Ok(())
}

/// Checks the chunks of `[offset, offset+len)` (widened to chunk bounds)
/// against the stored checksums.
#[allow(clippy::too_many_arguments)]
pub(crate) fn verify_files(
    block_id: i64,
    data: &File,
    data_path: &Path,
    meta: &File,
    meta_path: &Path,
    checksum: &DataChecksum,
    offset: u64,
    len: u64,
) -> Result<()> {
    if checksum.checksum_size() == 0 || len == 0 {
        return Ok(());
    }
    let bpc = u64::from(checksum.bytes_per_checksum());
    let start = offset - offset % bpc;
    // Widen to the end of the last chunk, within the data on disk: a stored
    // checksum covers its whole chunk.
    let data_len = data.metadata().map_err(io_err("stat", data_path))?.len();
    let end = (offset + len)
        .div_ceil(bpc)
        .saturating_mul(bpc)
        .min(data_len);
    // Verify a few hundred chunks at a time.
    let step = bpc * 256;
    let mut pos = start;
    while pos < end {
        let n = step.min(end - pos);
        let mut buf = vec![0u8; n as usize];
        read_at(data, data_path, &mut buf, pos)?;
        let mut sums = vec![0u8; checksum.checksums_len(buf.len())];
        read_at(meta, meta_path, &mut sums, meta_offset(checksum, pos / bpc))?;
        checksum
            .verify(&buf, &sums, pos)
            .map_err(|e| match e.mismatch_offset() {
                Some(offset) => Error::Corrupt { block_id, offset },
                None => Error::Checksum {
                    path: meta_path.to_path_buf(),
                    source: e,
                },
            })?;
        pos += n;
    }
    Ok(())
}

/// Validates an `rbw` replica found at restart (`validateIntegrityAndSetLength`):
/// the length is the data covered by both files, less trailing chunks whose
/// checksum does not verify (a torn write). Truncates the files to it.
/// `Ok(None)` if the meta header is unreadable (the replica is discarded).
pub(crate) fn validate_rbw(
    block_id: i64,
    data_path: &Path,
    meta_path: &Path,
) -> Result<Option<(DataChecksum, u64)>> {
    let data = layout_open_rw(data_path)?;
    let meta = layout_open_rw(meta_path)?;
    let checksum = match read_meta_header(&meta, meta_path) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(block_id, error = %e, "rbw replica with unreadable meta header");
            return Ok(None);
        }
    };
    let data_len = data.metadata().map_err(io_err("stat", data_path))?.len();
    let meta_len = meta.metadata().map_err(io_err("stat", meta_path))?.len();
    let bpc = u64::from(checksum.bytes_per_checksum());
    let mut len = data_len;
    if checksum.checksum_size() > 0 {
        let stored = (meta_len - META_HEADER_LEN as u64) / checksum.checksum_size() as u64;
        len = len.min(stored * bpc);
        while len > 0 {
            let last = (len - 1) - (len - 1) % bpc;
            match verify_files(
                block_id,
                &data,
                data_path,
                &meta,
                meta_path,
                &checksum,
                last,
                len - last,
            ) {
                Ok(()) => break,
                Err(Error::Corrupt { .. }) => len = last,
                Err(e) => return Err(e),
            }
        }
    }
    if len != data_len || meta_len != meta_offset(&checksum, checksum.chunks(len)) {
        tracing::info!(block_id, data_len, len, "truncating recovered rbw replica");
        truncate_files(&data, data_path, &meta, meta_path, &checksum, len)?;
        data.sync_all().map_err(io_err("fsync", data_path))?;
        meta.sync_all().map_err(io_err("fsync", meta_path))?;
    }
    Ok(Some((checksum, len)))
}

fn layout_open_rw(path: &Path) -> Result<File> {
    super::layout::open_rw(path)
}

/// Writes one replica (RBW or TEMPORARY): packets at offsets, checksums into
/// the meta file, sync, truncate, finalize. Obtained from
/// [`FsDataset::create_rbw`], [`FsDataset::append`],
/// [`FsDataset::recover_rbw`] or [`FsDataset::create_temporary`].
///
/// A writer is superseded (its calls fail with
/// [`Error::WriterSuperseded`]) when a recovery or a newer writer takes the
/// replica over.
#[derive(Debug)]
pub struct ReplicaWriter {
    pub(crate) ds: FsDataset,
    pub(crate) key: Key,
    pub(crate) epoch: u64,
    pub(crate) data: File,
    pub(crate) data_path: PathBuf,
    pub(crate) meta: File,
    pub(crate) meta_path: PathBuf,
    pub(crate) checksum: DataChecksum,
    pub(crate) bytes_on_disk: u64,
}

impl ReplicaWriter {
    /// The block id.
    pub fn block_id(&self) -> i64 {
        self.key.1
    }

    /// The replica's checksum (what incoming packets must carry).
    pub fn checksum(&self) -> DataChecksum {
        self.checksum
    }

    /// Bytes of data on disk.
    pub fn bytes_on_disk(&self) -> u64 {
        self.bytes_on_disk
    }

    /// Writes a packet's `data` at `offset` in the block after verifying it
    /// against `checksums` (one per piece, pieces split at chunk boundaries of
    /// the block, so a packet starting inside a chunk carries a checksum over
    /// just the bytes up to the next boundary). Bytes before the end of the
    /// data on disk (a packet resent after pipeline recovery) are skipped.
    pub fn write_packet(&mut self, offset: u64, data: &[u8], checksums: &[u8]) -> Result<()> {
        let block_id = self.block_id();
        let bpc = u64::from(self.checksum.bytes_per_checksum());
        let cs = self.checksum.checksum_size();
        // 1. Verify incoming pieces.
        let head = if offset % bpc == 0 {
            0
        } else {
            ((bpc - offset % bpc) as usize).min(data.len())
        };
        let head_sums = if head > 0 { cs } else { 0 };
        let packet_err = |e: ferrodfs_transfer::Error| match e.mismatch_offset() {
            Some(offset) => Error::PacketChecksum { block_id, offset },
            None => Error::Checksum {
                path: PathBuf::from("<packet>"),
                source: e,
            },
        };
        let (sum_head, sum_rest) = checksums.split_at_checked(head_sums).ok_or_else(|| {
            packet_err(ferrodfs_transfer::Error::ChecksumLength {
                expected: head_sums,
                actual: checksums.len(),
            })
        })?;
        self.checksum
            .verify(&data[..head], sum_head, offset)
            .map_err(packet_err)?;
        self.checksum
            .verify(&data[head..], sum_rest, offset + head as u64)
            .map_err(packet_err)?;

        let io = self.ds.io_lock(&self.key)?;
        let _io = io.lock().unwrap_or_else(|e| e.into_inner());
        self.ds.check_epoch(&self.key, self.epoch)?;
        // 2. Skip what is already on disk.
        if offset > self.bytes_on_disk {
            return Err(Error::WriteBeyondEnd {
                block_id,
                offset,
                on_disk: self.bytes_on_disk,
            });
        }
        let skip = (self.bytes_on_disk - offset) as usize;
        if skip >= data.len() {
            return Ok(());
        }
        let pos = self.bytes_on_disk;
        let new = &data[skip..];
        // 3. Data.
        self.data
            .write_all_at(new, pos)
            .map_err(io_err("write", &self.data_path))?;
        // 4. Checksums: the packet's own when its pieces are our chunks,
        //    else recomputed over the chunk bytes on disk.
        if cs > 0 {
            if skip == 0 && pos % bpc == 0 {
                self.meta
                    .write_all_at(checksums, meta_offset(&self.checksum, pos / bpc))
                    .map_err(io_err("write", &self.meta_path))?;
            } else {
                let chunk_start = pos - pos % bpc;
                let mut buf = vec![0u8; (pos - chunk_start) as usize];
                read_at(&self.data, &self.data_path, &mut buf, chunk_start)?;
                buf.extend_from_slice(new);
                let sums = self.checksum.compute(&buf);
                self.meta
                    .write_all_at(&sums, meta_offset(&self.checksum, chunk_start / bpc))
                    .map_err(io_err("write", &self.meta_path))?;
            }
        }
        self.bytes_on_disk = pos + new.len() as u64;
        self.ds.update_replica(&self.key, self.epoch, |r| {
            r.bytes_on_disk = self.bytes_on_disk
        })
    }

    /// A handle another thread (the `PacketResponder`) uses to record bytes
    /// acknowledged while this writer keeps writing.
    pub fn ack_handle(&self) -> AckHandle {
        AckHandle {
            ds: self.ds.clone(),
            key: self.key.clone(),
            epoch: self.epoch,
        }
    }

    /// Records that downstream acknowledged `bytes_acked` bytes: the visible
    /// length readers of this RBW replica see.
    pub fn set_bytes_acked(&self, bytes_acked: u64) -> Result<()> {
        let n = bytes_acked.min(self.bytes_on_disk);
        self.ds.update_replica(&self.key, self.epoch, |r| {
            if n > r.num_bytes {
                r.num_bytes = n;
            }
        })
    }

    /// fsyncs data and meta (a packet with `syncBlock`, or `hsync`).
    pub fn sync(&self) -> Result<()> {
        self.data
            .sync_data()
            .map_err(io_err("fsync", &self.data_path))?;
        self.meta
            .sync_data()
            .map_err(io_err("fsync", &self.meta_path))
    }

    /// Truncates to `len` bytes (≤ bytes on disk), fixing the last checksum.
    pub fn truncate(&mut self, len: u64) -> Result<()> {
        let io = self.ds.io_lock(&self.key)?;
        let _io = io.lock().unwrap_or_else(|e| e.into_inner());
        self.ds.check_epoch(&self.key, self.epoch)?;
        if len > self.bytes_on_disk {
            return Err(Error::LengthMismatch {
                block_id: self.block_id(),
                found: self.bytes_on_disk,
                expected: len,
                op: "truncate",
            });
        }
        truncate_files(
            &self.data,
            &self.data_path,
            &self.meta,
            &self.meta_path,
            &self.checksum,
            len,
        )?;
        self.bytes_on_disk = len;
        self.ds.update_replica(&self.key, self.epoch, |r| {
            r.bytes_on_disk = len;
            r.num_bytes = r.num_bytes.min(len);
        })
    }

    /// Completes the replica: fsyncs both files, moves them into
    /// `finalized/subdir…/subdir…/` (meta first, then data; then fsyncs both
    /// directories), and marks it FINALIZED with length = bytes on disk.
    pub fn finalize(self) -> Result<ReplicaInfo> {
        let io = self.ds.io_lock(&self.key)?;
        let _io = io.lock().unwrap_or_else(|e| e.into_inner());
        self.ds.check_epoch(&self.key, self.epoch)?;
        self.sync()?;
        self.ds.finalize_locked(&self.key, self.epoch)
    }
}

/// Records the bytes acknowledged downstream of a [`ReplicaWriter`] (the
/// visible length of an RBW replica), from any thread.
#[derive(Debug, Clone)]
pub struct AckHandle {
    ds: FsDataset,
    key: Key,
    epoch: u64,
}

impl AckHandle {
    /// Raises the replica's acknowledged length to `bytes_acked` (bounded by
    /// the bytes on disk). Fails once the writer is superseded or finalized.
    pub fn set_bytes_acked(&self, bytes_acked: u64) -> Result<()> {
        self.ds.update_replica(&self.key, self.epoch, |r| {
            let n = bytes_acked.min(r.bytes_on_disk);
            if n > r.num_bytes {
                r.num_bytes = n;
            }
        })
    }
}

/// An open replica for reading (`BlockSender`'s files): the data file, the
/// meta file with its checksum, and the visible length. Use
/// [`ReplicaReader::data_file`] for zero-copy `sendfile` of chunk-aligned
/// ranges and [`ReplicaReader::read_checksums`] for the packet checksums.
#[derive(Debug)]
pub struct ReplicaReader {
    pub(crate) block_id: i64,
    pub(crate) gen_stamp: u64,
    pub(crate) state: ReplicaState,
    pub(crate) visible_length: u64,
    pub(crate) checksum: DataChecksum,
    pub(crate) data: File,
    pub(crate) data_path: PathBuf,
    pub(crate) meta: File,
    pub(crate) meta_path: PathBuf,
}

impl ReplicaReader {
    /// Block id.
    pub fn block_id(&self) -> i64 {
        self.block_id
    }

    /// Generation stamp of the replica when opened.
    pub fn gen_stamp(&self) -> u64 {
        self.gen_stamp
    }

    /// State when opened.
    pub fn state(&self) -> ReplicaState {
        self.state
    }

    /// Bytes a reader may read (block length, or bytes acked for RBW).
    pub fn visible_length(&self) -> u64 {
        self.visible_length
    }

    /// Checksum type and chunk size.
    pub fn checksum(&self) -> DataChecksum {
        self.checksum
    }

    /// The data file (for `sendfile`).
    pub fn data_file(&self) -> &File {
        &self.data
    }

    /// The data file's path.
    pub fn data_path(&self) -> &Path {
        &self.data_path
    }

    /// Reads data at `offset` into `buf` (must lie within the visible length).
    pub fn read_data(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        if offset + buf.len() as u64 > self.visible_length {
            return Err(Error::LengthMismatch {
                block_id: self.block_id,
                found: self.visible_length,
                expected: offset + buf.len() as u64,
                op: "read",
            });
        }
        read_at(&self.data, &self.data_path, buf, offset)
    }

    /// The stored checksums of the chunks covering `[offset, offset+len)`;
    /// `offset` must be chunk-aligned. The last chunk of an RBW replica's
    /// visible range may be partial while its stored checksum covers more
    /// bytes: callers recompute that one from the data.
    pub fn read_checksums(&self, offset: u64, len: u64) -> Result<Vec<u8>> {
        let bpc = u64::from(self.checksum.bytes_per_checksum());
        let first = offset / bpc;
        let n = self.checksum.chunks(len) as usize * self.checksum.checksum_size();
        let mut out = vec![0u8; n];
        read_at(
            &self.meta,
            &self.meta_path,
            &mut out,
            meta_offset(&self.checksum, first),
        )?;
        Ok(out)
    }

    /// Number of checksums stored in the meta file (`crcPerBlock` of
    /// BLOCK_CHECKSUM): (meta length − header) / checksum size; 0 for NULL.
    pub fn stored_checksum_count(&self) -> Result<u64> {
        let size = self.checksum.checksum_size() as u64;
        if size == 0 {
            return Ok(0);
        }
        let len = self
            .meta
            .metadata()
            .map_err(io_err("stat", &self.meta_path))?
            .len();
        Ok(len.saturating_sub(META_HEADER_LEN as u64) / size)
    }

    /// Reads `count` stored checksums starting at chunk `first` (raw, 4
    /// big-endian bytes each).
    pub fn read_stored_checksums(&self, first: u64, count: u64) -> Result<Vec<u8>> {
        let mut out = vec![0u8; (count as usize) * self.checksum.checksum_size()];
        read_at(
            &self.meta,
            &self.meta_path,
            &mut out,
            meta_offset(&self.checksum, first),
        )?;
        Ok(out)
    }

    /// Verifies `[offset, offset+len)` (widened to whole chunks) against the
    /// stored checksums: [`Error::Corrupt`] names the failing chunk's offset.
    pub fn verify(&self, offset: u64, len: u64) -> Result<()> {
        let end = (offset + len).min(self.visible_length);
        if offset >= end {
            return Ok(());
        }
        verify_files(
            self.block_id,
            &self.data,
            &self.data_path,
            &self.meta,
            &self.meta_path,
            &self.checksum,
            offset,
            end - offset,
        )
    }
}
