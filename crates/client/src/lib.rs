//! The ferrodfs HDFS client: [`DfsClient`] for namespace calls, [`DfsOutputStream`]
//! (a DataStreamer thread and a ResponseProcessor thread per block, as in Hadoop's
//! `DFSOutputStream`) and [`DfsInputStream`].
//!
//! It speaks Hadoop's ClientNamenodeProtocol (through `ferrodfs-ipc`) and
//! DataTransferProtocol 28 (through `ferrodfs-transfer`), so it works against a
//! ferrodfs cluster or a Hadoop 3 one.
//!
//! # Example
//!
//! ```no_run
//! use ferrodfs_client::{ClientConf, DfsClient};
//! use std::io::{Read, Write};
//!
//! let client = DfsClient::connect("hdfs://127.0.0.1:8020", ClientConf::default())?;
//! client.mkdirs("/data", 0o755)?;
//! let mut out = client.create("/data/hello.txt", true)?;
//! out.write_all(b"hello, hdfs")?;
//! out.hflush()?; // visible to new readers
//! out.close()?; // last packet, acks, complete
//!
//! let mut s = String::new();
//! client.open("/data/hello.txt")?.read_to_string(&mut s)?;
//! assert_eq!(s, "hello, hdfs");
//! for entry in client.list("/data")? {
//!     println!("{} {}", entry.name, entry.length);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Threads
//!
//! Per client: `LeaseRenewer:<client name>` (renewLease every 30 s while files are
//! open). Per output stream: `DataStreamer for file <path>`, and per block
//! `ResponseProcessor for block <block>`. Readers use the caller's thread.
//!
//! A file under construction is read up to its DataNodes' visible length
//! (`getReplicaVisibleLength`, see [`input`]).
//!
//! TODO(issue 6): short-circuit local reads, block tokens / SASL on data transfer,
//! encryption zones, erasure-coded files.
#![forbid(unsafe_code)]

mod client;
pub mod config;
mod datanode;
mod error;
pub mod input;
mod lease;
pub mod output;

pub use client::{
    md5_of_block_md5s, ContentSummary, CreateOptions, DfsClient, FileChecksum, FileKind,
    FileStatus, FsStats, DEFAULT_DIR_PERMISSION, DEFAULT_FILE_PERMISSION,
};
pub use config::ClientConf;
pub use error::{Error, Result};
pub use input::DfsInputStream;
pub use output::DfsOutputStream;
