//! The ferrodfs NameNode: namespace, blocks, DataNodes, leases, edit log and checkpoint
//! image ([`NameNode`], a library with no RPC), and the same on the wire:
//! [`rpc`] maps Hadoop's `ClientNamenodeProtocol` and `DatanodeProtocol` onto
//! [`NameNode`]'s methods, and [`server::NameNodeServer`] runs them on the ipc server with
//! the monitors on a looper thread (what `ferrodfs namenode` runs).
//!
//! ```
//! use ferrodfs_namenode::{NameNode, NameNodeConfig};
//! use ferrodfs_namenode::namespace::{Caller, FsPermission};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let config = NameNodeConfig { name_dir: dir.path().into(), ..NameNodeConfig::default() };
//! NameNode::format(&config, None).unwrap();
//! let nn = NameNode::open(config.clone()).unwrap();
//! let me = Caller::user(&config.superuser);
//! assert!(nn.mkdirs(&me, "/user/alice", FsPermission(0o755), true).unwrap());
//! drop(nn); // even without a clean shutdown the mkdirs is durable
//! let nn = NameNode::open(config).unwrap();
//! assert!(nn.get_file_info(&me, "/user/alice").unwrap().is_some());
//! ```
//!
//! Layout: [`namespace`] (inode tree, paths, permissions), [`blocks`] (block map,
//! redundancy queues), [`datanodes`] (registry, placement, commands), [`lease`],
//! [`editlog`] (records, segments, group commit), [`image`], [`storage`] (name dir),
//! [`namesystem`] (the operations with Hadoop's semantics), [`NameNode`] (locking and
//! durability around them), [`rpc`] (protocol handlers and the retry cache that answers
//! a retried create/append/rename/rename2/delete/concat with its first answer),
//! [`server`] (RPC server + monitors) and [`bench`](mod@bench) (NNThroughputBenchmark-style RPC throughput).
//!
//! ```no_run
//! use ferrodfs_namenode::server::{NameNodeServer, NameNodeServerConfig};
//! use ferrodfs_namenode::NameNode;
//!
//! let config = NameNodeServerConfig::for_test("/tmp/nn".as_ref(), "hdfs");
//! NameNode::format(&config.namenode, None)?;
//! let server = NameNodeServer::start(config)?;
//! println!("hdfs://{}", server.rpc_addr());
//! server.shutdown()?;
//! # Ok::<(), ferrodfs_namenode::Error>(())
//! ```
//!
//! Thread-safety: [`NameNode`] is `Send + Sync`; one `RwLock` guards the
//! [`namesystem::FsNamesystem`], and edits are group-committed after the lock is released.
//! Monitors are plain methods taking `now` (`check_leases`, `check_heartbeats`,
//! `compute_replication_work`, `check_safe_mode`, `maybe_checkpoint`) for looper timers.
//!
//! Not done yet (TODO, issue 4):
//! - per-storage block lists: a full block report, dead-node expiry and
//!   getDatanodeReport's `numBlocks` scan all blocks;
//! - no rack awareness: excess replicas (more than the file's replication, e.g. after
//!   setReplication lowers it) are deleted from the nodes with the least remaining
//!   space, not spread over racks; a replica re-reported by a stale full block report
//!   after its deletion stays listed until that node's next full report;
//! - access times are not updated on reads (`dfs.namenode.accesstime.precision`);
//! - quotas, snapshots, ACLs, xattrs, symlinks, storage policies, encryption zones,
//!   erasure coding, delegation tokens: their ClientProtocol methods answer
//!   `RpcNoSuchMethodException` (also getStoragePolicy, getDatanodeStorageReport,
//!   listOpenFiles, getSnapshottableDirListing ...);
//! - RPC: the retry cache ([`rpc::retry_cache`]) lives in memory only: it is not rebuilt
//!   from the edit log, so a call retried across a NameNode restart runs again; no
//!   per-call audit log; block tokens are always empty (security off); the caller's
//!   groups come from the local account files only;
//! - DatanodeProtocol: `errorReport` only logs (a fatal disk error does not remove the
//!   node); block-report leases are granted to every asker; no FinalizeCommand or
//!   KeyUpdateCommand; `cacheReport` and `sendLifeline` are not served;
//! - getFsStats reports a capacity of 1 byte when no DataNode reported any (clients divide
//!   by it);
//! - the server does not verify that a DataNode's address in a registration resolves
//!   (`dfs.namenode.datanode.registration.ip-hostname-check`), it takes the peer's IP;
//! - addBlock does not throw NotReplicatedYetException for an under-replicated
//!   penultimate block (it is lenient, clients need no retry);
//! - no `in_use.lock` on the name directory; one name directory only;
//! - after a power loss the unsynced tail may reach disk out of order and be reported as
//!   corruption (see docs/design/editlog.md); no offline edit-log repair tool.
#![forbid(unsafe_code)]

pub mod bench;
pub mod blocks;
pub mod config;
pub mod datanodes;
pub mod editlog;
pub mod error;
pub mod image;
pub mod lease;
pub mod namenode;
pub mod namespace;
pub mod namesystem;
pub mod rpc;
pub mod server;
pub mod storage;

pub use config::NameNodeConfig;
pub use error::{Error, ErrorKind, Result, EXCEPTION_CLASSES};
pub use namenode::NameNode;
