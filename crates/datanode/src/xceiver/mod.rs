//! The data-transfer server (DataTransferProtocol v28 on `dfs.datanode.address`),
//! in Hadoop's shape:
//!
//! * [`server`]: `DataXceiverServer`, the accept loop, and `DataXceiver`, one
//!   named thread per connection reading ops until EOF or the keep-alive
//!   timeout;
//! * [`receiver`]: `BlockReceiver`, WRITE_BLOCK for every construction stage:
//!   mirror set-up, packets forwarded downstream before they are written,
//!   checksums verified, the replica finalized by the last packet;
//! * [`responder`]: `PacketResponder`, which merges the mirror's acks with
//!   this node's status into the `PipelineAck` sent upstream;
//! * [`sender`]: `BlockSender`, READ_BLOCK (and the source side of
//!   transfers), data by `sendfile` with the stored checksums;
//! * [`checksum_op`]: BLOCK_CHECKSUM (MD5 of the stored CRCs);
//! * [`transfer`]: TRANSFER_BLOCK and NameNode-ordered replication
//!   (`DataTransfer`);
//! * [`oob`]: out-of-band acks (OOB_RESTART to every writer when the node shuts
//!   down for a restart);
//! * [`ecn`]: the congestion signal in acks (`dfs.pipeline.ecn`);
//! * [`slow_peers`]: slow downstream nodes, from the ack times in pipeline acks.
//!
//! Differences from Hadoop, on purpose: every node of a pipeline verifies the
//! packet checksums (Hadoop verifies only on the last node), so corrupt data
//! never reaches a disk; error responses carry a `message` where Hadoop
//! closes the connection without a reply (bad version, failed replica set-up).

pub mod checksum_op;
pub mod ecn;
pub mod oob;
mod peer_input;
pub mod receiver;
pub mod responder;
pub mod sender;
pub mod server;
pub(crate) mod slow_disk;
pub mod slow_peers;
pub mod transfer;

use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use ferrodfs_conf::{keys, Configuration};
use ferrodfs_proto::hdfs::{
    BlockOpResponseProto, ChecksumProto, ChecksumTypeProto, DatanodeIdProto, DatanodeInfoProto,
    ExtendedBlockProto, Status,
};
use ferrodfs_transfer::checksum::{ChecksumType, DataChecksum};
use ferrodfs_transfer::op::write_delimited;

use crate::events::BlockEventListener;
use crate::storage::{ExtendedBlock, FsDataset};
use crate::{Error, Result};

pub use server::DataXceiverServer;

/// `dfs.datanode.socket.reuse.keepalive`: how long a connection may sit idle
/// between ops.
pub const DFS_DATANODE_SOCKET_REUSE_KEEPALIVE_KEY: &str = "dfs.datanode.socket.reuse.keepalive";
/// Default of [`DFS_DATANODE_SOCKET_REUSE_KEEPALIVE_KEY`] (4 s).
pub const DFS_DATANODE_SOCKET_REUSE_KEEPALIVE_DEFAULT: Duration = Duration::from_millis(4000);
/// `dfs.datanode.transferTo.allowed`: send block data with `sendfile`.
pub const DFS_DATANODE_TRANSFERTO_ALLOWED_KEY: &str = "dfs.datanode.transferTo.allowed";
/// Default of [`DFS_DATANODE_MAX_TRANSFER_THREADS`](keys::DFS_DATANODE_MAX_TRANSFER_THREADS).
pub const DFS_DATANODE_MAX_TRANSFER_THREADS_DEFAULT: usize = 4096;
/// Default of `dfs.client.socket-timeout` (60 s): the read timeout.
pub const DFS_CLIENT_SOCKET_TIMEOUT_DEFAULT: Duration = Duration::from_secs(60);
/// Default of `dfs.datanode.socket.write.timeout` (480 s).
pub const DFS_DATANODE_SOCKET_WRITE_TIMEOUT_DEFAULT: Duration = Duration::from_secs(480);
/// `HdfsConstants.READ_TIMEOUT_EXTENSION`: added per downstream node to the
/// mirror's timeouts, so the node nearest the client gives up last.
pub const READ_TIMEOUT_EXTENSION: Duration = Duration::from_secs(5);
/// `HdfsConstants.WRITE_TIMEOUT_EXTENSION`.
pub const WRITE_TIMEOUT_EXTENSION: Duration = Duration::from_secs(5);
/// Data bytes per READ_BLOCK packet (`BlockSender`'s 64 KiB with transferTo).
pub const READ_PACKET_DATA_SIZE: usize = 64 * 1024;

/// Settings of the data-transfer server.
#[derive(Debug, Clone, PartialEq)]
pub struct XceiverConfig {
    /// Read timeout on transfer sockets (`dfs.client.socket-timeout`).
    pub socket_timeout: Duration,
    /// Write timeout (`dfs.datanode.socket.write.timeout`).
    pub write_timeout: Duration,
    /// Idle time allowed between ops on one connection
    /// (`dfs.datanode.socket.reuse.keepalive`).
    pub keepalive_timeout: Duration,
    /// Most connections served at once (`dfs.datanode.max.transfer.threads`);
    /// more are closed on accept.
    pub max_transfer_threads: usize,
    /// Send READ_BLOCK data with `sendfile` (`dfs.datanode.transferTo.allowed`).
    pub transfer_to: bool,
    /// Verify stored checksums while serving READ_BLOCK (Hadoop leaves this
    /// to the client); a mismatch fails the read and is logged.
    pub verify_on_read: bool,
    /// The congestion signal in acks (`dfs.pipeline.ecn`).
    pub ecn: ecn::EcnConfig,
    /// `dfs.datanode.slow.io.warning.threshold.ms`: a mirror slower than this to ack a
    /// packet is logged and counted as a slow peer.
    pub slow_io_threshold: Duration,
}

impl Default for XceiverConfig {
    fn default() -> XceiverConfig {
        XceiverConfig {
            socket_timeout: DFS_CLIENT_SOCKET_TIMEOUT_DEFAULT,
            write_timeout: DFS_DATANODE_SOCKET_WRITE_TIMEOUT_DEFAULT,
            keepalive_timeout: DFS_DATANODE_SOCKET_REUSE_KEEPALIVE_DEFAULT,
            max_transfer_threads: DFS_DATANODE_MAX_TRANSFER_THREADS_DEFAULT,
            transfer_to: true,
            verify_on_read: false,
            ecn: ecn::EcnConfig::default(),
            slow_io_threshold: slow_peers::DFS_DATANODE_SLOW_IO_WARNING_THRESHOLD_DEFAULT,
        }
    }
}

impl XceiverConfig {
    /// From Hadoop's keys (defaults above for unset ones).
    pub fn from_conf(conf: &Configuration) -> Result<XceiverConfig> {
        let d = XceiverConfig::default();
        Ok(XceiverConfig {
            socket_timeout: conf.get_duration(keys::DFS_CLIENT_SOCKET_TIMEOUT, d.socket_timeout)?,
            write_timeout: conf
                .get_duration(keys::DFS_DATANODE_SOCKET_WRITE_TIMEOUT, d.write_timeout)?,
            keepalive_timeout: conf
                .get_duration(DFS_DATANODE_SOCKET_REUSE_KEEPALIVE_KEY, d.keepalive_timeout)?,
            max_transfer_threads: conf.get_u64(
                keys::DFS_DATANODE_MAX_TRANSFER_THREADS,
                d.max_transfer_threads as u64,
            )? as usize,
            transfer_to: conf.get_bool(DFS_DATANODE_TRANSFERTO_ALLOWED_KEY, d.transfer_to)?,
            verify_on_read: d.verify_on_read,
            ecn: ecn::EcnConfig::from_conf(conf)?,
            slow_io_threshold: conf.get_duration_in(
                slow_peers::DFS_DATANODE_SLOW_IO_WARNING_THRESHOLD_KEY,
                d.slow_io_threshold,
                ferrodfs_conf::TimeUnit::Milliseconds,
            )?,
        })
    }
}

/// What every transfer thread shares.
pub(crate) struct Ctx {
    pub(crate) ds: FsDataset,
    pub(crate) conf: XceiverConfig,
    pub(crate) events: Arc<dyn BlockEventListener>,
    /// This node's transfer address as peers should dial it.
    pub(crate) xfer_addr: SocketAddr,
    pub(crate) conns: server::Connections,
    /// Client writes being served (for OOB acks).
    pub(crate) writers: oob::Writers,
    /// This node's congestion signal.
    pub(crate) ecn: ecn::Ecn,
    /// Downstream nodes found slow from the pipeline acks.
    pub(crate) slow_peers: slow_peers::SlowPeers,
    /// A write bandwidth limit for tests and benchmarks (off by default).
    pub(crate) slow_disk: slow_disk::SlowDisk,
    /// Set when the node shuts down for a restart: replicas being written stay RBW.
    pub(crate) restarting: std::sync::atomic::AtomicBool,
}

impl Ctx {
    /// This DataNode as a `DatanodeInfoProto` (the `source` of transfers).
    pub(crate) fn datanode_info(&self) -> DatanodeInfoProto {
        datanode_info(self.ds.datanode_uuid(), self.xfer_addr)
    }
}

/// A `DatanodeInfoProto` for a node at `xfer_addr` (ports other than the
/// transfer port 0; hostname = IP).
pub fn datanode_info(uuid: &str, xfer_addr: SocketAddr) -> DatanodeInfoProto {
    DatanodeInfoProto {
        id: DatanodeIdProto {
            ip_addr: xfer_addr.ip().to_string(),
            host_name: xfer_addr.ip().to_string(),
            datanode_uuid: uuid.to_string(),
            xfer_port: u32::from(xfer_addr.port()),
            info_port: 0,
            ipc_port: 0,
            info_secure_port: None,
        },
        ..Default::default()
    }
}

/// `ip:xferPort` of a node (Hadoop's `getXferAddr`, what `firstBadLink` holds).
pub(crate) fn xfer_addr_of(node: &DatanodeInfoProto) -> String {
    format!("{}:{}", node.id.ip_addr, node.id.xfer_port)
}

/// Dials a node's transfer port with `timeout` for connect, reads and writes.
pub(crate) fn connect(
    node: &DatanodeInfoProto,
    timeout: Duration,
    write_timeout: Duration,
) -> Result<TcpStream> {
    let peer = xfer_addr_of(node);
    let net = |op| {
        let peer = peer.clone();
        move |source| Error::Net { op, peer, source }
    };
    let addrs: Vec<SocketAddr> = peer.to_socket_addrs().map_err(net("resolve"))?.collect();
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                s.set_read_timeout(Some(timeout))
                    .map_err(net("configure"))?;
                s.set_write_timeout(Some(write_timeout))
                    .map_err(net("configure"))?;
                s.set_nodelay(true).map_err(net("configure"))?;
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(Error::Net {
        op: "connect",
        peer,
        source: last.unwrap_or_else(|| std::io::Error::other("no address")),
    })
}

/// The block of a request.
pub(crate) fn block_from_proto(b: &ExtendedBlockProto) -> ExtendedBlock {
    ExtendedBlock {
        pool_id: b.pool_id.clone(),
        block_id: b.block_id as i64,
        gen_stamp: b.generation_stamp,
        num_bytes: b.num_bytes.unwrap_or(0),
    }
}

/// A block as the protocols carry it.
pub(crate) fn block_to_proto(b: &ExtendedBlock) -> ExtendedBlockProto {
    ExtendedBlockProto {
        pool_id: b.pool_id.clone(),
        block_id: b.block_id as u64,
        generation_stamp: b.gen_stamp,
        num_bytes: Some(b.num_bytes),
    }
}

/// A requested checksum.
pub(crate) fn checksum_from_proto(c: &ChecksumProto) -> Result<DataChecksum> {
    let kind = match ChecksumTypeProto::try_from(c.r#type) {
        Ok(ChecksumTypeProto::ChecksumNull) => ChecksumType::Null,
        Ok(ChecksumTypeProto::ChecksumCrc32) => ChecksumType::Crc32,
        Ok(ChecksumTypeProto::ChecksumCrc32c) => ChecksumType::Crc32c,
        Err(_) => {
            return Err(Error::InvalidRequest {
                what: "unknown checksum type",
            })
        }
    };
    DataChecksum::new(kind, c.bytes_per_checksum).map_err(|_| Error::InvalidRequest {
        what: "bytes per checksum out of range",
    })
}

/// The wire form of a checksum.
pub(crate) fn checksum_to_proto(c: &DataChecksum) -> ChecksumProto {
    ChecksumProto {
        r#type: checksum_type_proto(c.kind()) as i32,
        bytes_per_checksum: c.bytes_per_checksum(),
    }
}

pub(crate) fn checksum_type_proto(t: ChecksumType) -> ChecksumTypeProto {
    match t {
        ChecksumType::Null => ChecksumTypeProto::ChecksumNull,
        ChecksumType::Crc32 => ChecksumTypeProto::ChecksumCrc32,
        ChecksumType::Crc32c => ChecksumTypeProto::ChecksumCrc32c,
    }
}

/// The status a failed op reports (`DataXceiver`'s mapping is coarser: all
/// ERROR but tokens and checksums).
pub(crate) fn status_of(e: &Error) -> Status {
    match e {
        Error::PacketChecksum { .. } => Status::ErrorChecksum,
        Error::ReplicaAlreadyExists { .. } => Status::ErrorExists,
        Error::InvalidRequest { .. } | Error::ReadRange { .. } => Status::ErrorInvalid,
        Error::Unsupported { .. } => Status::ErrorUnsupported,
        _ => Status::Error,
    }
}

/// Writes a `BlockOpResponseProto` with a status and message (and an empty
/// `firstBadLink`, which keeps it at least 5 bytes for the Go client).
pub(crate) fn send_error(out: &mut impl Write, status: Status, message: String) -> Result<()> {
    let resp = BlockOpResponseProto {
        status: status as i32,
        first_bad_link: Some(String::new()),
        message: Some(message),
        ..Default::default()
    };
    write_delimited(out, &resp).map_err(|source| Error::Net {
        op: "write response",
        peer: String::new(),
        source,
    })
}

/// Wraps a socket error with the peer's address.
pub(crate) fn net_err(op: &'static str, peer: &str) -> impl FnOnce(std::io::Error) -> Error {
    let peer = peer.to_string();
    move |source| Error::Net { op, peer, source }
}

/// Wraps a decode error from a peer.
pub(crate) fn proto_err(what: &'static str) -> impl FnOnce(ferrodfs_transfer::Error) -> Error {
    move |source| match source {
        ferrodfs_transfer::Error::Io(e) => Error::Net {
            op: what,
            peer: String::new(),
            source: e,
        },
        source => Error::Protocol { what, source },
    }
}
