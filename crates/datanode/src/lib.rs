//! The ferrodfs DataNode.
//!
//! * [`storage`]: the block store (Hadoop's `FsDatasetImpl`): data
//!   directories with Hadoop's on-disk layout, replicas being written
//!   (`rbw/`) and finalized, restart recovery, pipeline and lease recovery,
//!   block reports and capacity (`docs/design/datanode-storage.md`).
//! * [`xceiver`]: the data-transfer server (`DataXceiverServer`,
//!   `BlockReceiver` + `PacketResponder`, `BlockSender`, BLOCK_CHECKSUM,
//!   TRANSFER_BLOCK) on `dfs.datanode.address`
//!   (`docs/design/datanode-xceiver.md`).
//! * [`DataNode`]: both, started and stopped together
//!   ([`DataNode::start`], [`DataNode::xfer_addr`], [`DataNode::shutdown`]);
//!   several run in one process for the minicluster.
//! * [`events`]: the seam for the NameNode actor (issue 5, item 3, not yet
//!   written): [`BlockEvent`]s for incremental block reports through a
//!   [`BlockEventListener`] in [`DataNodeConfig::events`]; the actor adds
//!   block pools with `dataset().add_block_pool` and carries out commands
//!   with [`DataNode::transfer_block`] and [`DataNode::invalidate`].
//!
//! TODO(issue 5): the IPC server, the NameNode actor, block tokens/SASL on
//! the transfer port, OOB acks and ECN, REPLACE_BLOCK/COPY_BLOCK,
//! COMPOSITE_CRC (see the design doc's TODO list).
//!
//! Starting a DataNode:
//!
//! ```
//! use ferrodfs_datanode::{storage::NamespaceInfo, DataNode, DataNodeConfig};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let dn = DataNode::start(DataNodeConfig::new(vec![dir.path().to_path_buf()])).unwrap();
//! dn.dataset()
//!     .add_block_pool(&NamespaceInfo::new("BP-1-127.0.0.1-1", 7, "CID-x"))
//!     .unwrap();
//! assert!(dn.xfer_addr().port() != 0);
//! dn.shutdown();
//! ```
//!
//! Using the block store directly:
//!
//! ```
//! use ferrodfs_datanode::storage::{DatasetConfig, ExtendedBlock, FsDataset, NamespaceInfo};
//! use ferrodfs_transfer::checksum::{ChecksumType, DataChecksum};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let ds = FsDataset::open(DatasetConfig::new(vec![dir.path().to_path_buf()])).unwrap();
//! ds.add_block_pool(&NamespaceInfo::new("BP-1-127.0.0.1-1", 7, "CID-x")).unwrap();
//!
//! let block = ExtendedBlock::new("BP-1-127.0.0.1-1", 1073741825, 1001, 0);
//! let sum = DataChecksum::new(ChecksumType::Crc32c, 512).unwrap();
//! let mut w = ds.create_rbw(&block, sum, 0).unwrap();
//! let data = b"hello, block";
//! w.write_packet(0, data, &sum.compute(data)).unwrap();
//! let info = w.finalize().unwrap();
//! assert_eq!(info.num_bytes, 12);
//!
//! let r = ds.open_for_read(&block).unwrap();
//! assert_eq!(r.visible_length(), 12);
//! r.verify(0, 12).unwrap();
//! ```
#![forbid(unsafe_code)]

pub mod actor;
mod datanode;
pub mod events;
pub mod ipc;
pub mod recovery;
pub mod shutdown;
pub mod storage;
pub mod xceiver;

pub use datanode::{DataNode, DataNodeConfig};
pub use events::{BlockEvent, BlockEventListener};

use std::path::PathBuf;

use storage::ReplicaState;

/// Everything that can go wrong in the DataNode.
///
/// Hadoop exception classes these map to when reported over the wire:
/// `ReplicaNotFound` → `ReplicaNotFoundException`, `ReplicaAlreadyExists` →
/// `ReplicaAlreadyExistsException`, `DiskOutOfSpace` →
/// `DiskChecker$DiskOutOfSpaceException`, `Corrupt` → `ChecksumException`,
/// `RecoveryInProgress` → `RecoveryInProgressException`, others `IOException`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file system operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("create", "rename", "fsync", ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Configuration could not be read.
    #[error(transparent)]
    Conf(#[from] ferrodfs_conf::Error),
    /// A checksum header or array is malformed.
    #[error("{path}: {source}")]
    Checksum {
        /// The meta file (or packet source).
        path: PathBuf,
        /// The cause.
        source: ferrodfs_transfer::Error,
    },
    /// Incoming packet data does not match its checksums.
    #[error("block {block_id}: packet data does not match its checksum at offset {offset}")]
    PacketChecksum {
        /// The block.
        block_id: i64,
        /// Offset in the block of the failing chunk.
        offset: u64,
    },
    /// The data on disk does not match the stored checksums.
    #[error("block {block_id}: corrupt replica, checksum mismatch in chunk at offset {offset}")]
    Corrupt {
        /// The block.
        block_id: i64,
        /// Offset in the block of the failing chunk.
        offset: u64,
    },
    /// No data directory was configured.
    #[error("no data directories configured")]
    NoVolumes,
    /// Another process holds a data directory's `in_use.lock`.
    #[error("data directory {dir} is in use by another process")]
    Locked {
        /// The data directory.
        dir: PathBuf,
    },
    /// A `VERSION` file is missing fields or malformed.
    #[error("bad VERSION file {path}: {what}")]
    BadVersionFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: &'static str,
    },
    /// A data directory belongs to another cluster.
    #[error("{dir}: cluster id {found} does not match the NameNode's {expected}")]
    ClusterIdMismatch {
        /// The data directory.
        dir: PathBuf,
        /// The NameNode's.
        expected: String,
        /// The directory's.
        found: String,
    },
    /// The block pool has not been added with `add_block_pool`.
    #[error("unknown block pool {0}")]
    UnknownBlockPool(String),
    /// No volume has room for the block.
    #[error("out of space: no volume has {needed} bytes available")]
    DiskOutOfSpace {
        /// Bytes asked for.
        needed: u64,
    },
    /// The replica does not exist.
    #[error("replica not found: block {block_id}")]
    ReplicaNotFound {
        /// The block.
        block_id: i64,
    },
    /// A replica of the block already exists.
    #[error("replica already exists: block {block_id} is {state:?}")]
    ReplicaAlreadyExists {
        /// The block.
        block_id: i64,
        /// Its state.
        state: ReplicaState,
    },
    /// The replica is in a state the operation does not apply to.
    #[error("block {block_id}: cannot {op} a replica in state {state:?}")]
    WrongState {
        /// The block.
        block_id: i64,
        /// The replica's state.
        state: ReplicaState,
        /// The operation.
        op: &'static str,
    },
    /// The replica's generation stamp does not fit the request.
    #[error("block {block_id}: generation stamp {found} does not fit {op} (expected {expected})")]
    GenStampMismatch {
        /// The block.
        block_id: i64,
        /// The replica's generation stamp.
        found: u64,
        /// What the request named.
        expected: u64,
        /// The operation.
        op: &'static str,
    },
    /// The replica's length does not fit the request.
    #[error("block {block_id}: length {found} does not fit {op} (expected {expected})")]
    LengthMismatch {
        /// The block.
        block_id: i64,
        /// The replica's length.
        found: u64,
        /// What the request named.
        expected: u64,
        /// The operation.
        op: &'static str,
    },
    /// A write does not start at or before the end of the data on disk.
    #[error("block {block_id}: write at offset {offset} beyond bytes on disk {on_disk}")]
    WriteBeyondEnd {
        /// The block.
        block_id: i64,
        /// The packet's offset in the block.
        offset: u64,
        /// Bytes on disk.
        on_disk: u64,
    },
    /// A newer writer or a recovery took over the replica.
    #[error("block {block_id}: writer superseded by recovery or a newer writer")]
    WriterSuperseded {
        /// The block.
        block_id: i64,
    },
    /// A recovery with an equal or newer recovery id is already running.
    #[error("block {block_id}: recovery {current} in progress, {requested} rejected")]
    RecoveryInProgress {
        /// The block.
        block_id: i64,
        /// The running recovery's id.
        current: u64,
        /// The rejected id.
        requested: u64,
    },
    /// A socket operation with a peer failed (connect, read, write, timeout).
    #[error("{op} {peer}: {source}")]
    Net {
        /// What was being done ("connect", "read packet", "write ack", ...).
        op: &'static str,
        /// The peer's address.
        peer: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Bytes from a peer do not decode (op header, message, packet, ack).
    #[error("{what}: {source}")]
    Protocol {
        /// What was being read.
        what: &'static str,
        /// The cause.
        source: ferrodfs_transfer::Error,
    },
    /// A request that is well-formed but not valid (missing field, bad
    /// stage for the requester, offset beyond the block, ...).
    #[error("invalid request: {what}")]
    InvalidRequest {
        /// What is wrong.
        what: &'static str,
    },
    /// An op or option this DataNode does not implement.
    #[error("unsupported: {what}")]
    Unsupported {
        /// What was asked for.
        what: &'static str,
    },
    /// The next DataNode of a pipeline refused or failed the op.
    #[error("mirror {mirror} answered {status:?}")]
    Mirror {
        /// The mirror's transfer address.
        mirror: String,
        /// Its status.
        status: ferrodfs_proto::hdfs::Status,
    },
    /// A read range outside the replica's visible bytes.
    #[error("block {block_id}: range {offset}+{len} outside the visible length {visible}")]
    ReadRange {
        /// The block.
        block_id: i64,
        /// Requested offset.
        offset: u64,
        /// Requested length.
        len: u64,
        /// The replica's visible length.
        visible: u64,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Wraps an I/O error with the operation and path.
pub(crate) fn io_err(
    op: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { op, path, source }
}
