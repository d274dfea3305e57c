//! `ferrodfs bench io` (issue 6): write and read throughput of one ferrodfs client
//! ([`ferrodfs_client::DfsClient`]) against an in-process
//! [`MiniCluster`](ferrodfs_minicluster::MiniCluster) (DataNodes
//! on loopback, data directories on real disk), each figure printed beside, from the
//! same run:
//!
//! * the **baseline**, the physical minimum of the same work
//!   ([`baseline`]): for write, an R-hop loopback TCP relay of packets (data + one
//!   CRC32C per 512-byte chunk, computed by the sender) where every hop forwards,
//!   verifies every chunk, writes data and checksums to a file per block and fsyncs
//!   it at the block's end, as a DataNode does; for read, one TCP stream of a block
//!   file's checksums and bytes (`sendfile`), every chunk verified by the receiver;
//! * the [`hdfs-native`](hdfs_native) crate's async client (tokio);
//! * Hadoop 3.3.4's Java client, a small program ([`java`]) compiled with `javac` at
//!   bench time and timed inside its JVM (start-up excluded); skipped with a message
//!   when `java`/`javac` or the jars are missing.
//!
//! ```no_run
//! use ferrodfs_bench::{IoBenchConfig, Peer};
//!
//! let config = IoBenchConfig {
//!     size: 256 << 20,
//!     peers: vec![Peer::Baseline, Peer::Ours],
//!     ..IoBenchConfig::default()
//! };
//! let report = ferrodfs_bench::run_io(&config)?;
//! println!("{report}");
//! # Ok::<(), ferrodfs_bench::Error>(())
//! ```
//!
//! Every peer writes the same bytes (a 1 MiB buffer repeated, in 1 MiB writes) with
//! the same block size, replication, CRC32C/512 chunks and 64 KiB packets, and reads
//! the whole file back sequentially (1 MiB reads; hdfs-native: one range stream) from
//! a warm page cache. Each peer first writes and reads an untimed file of up to
//! 128 MiB (warm-up: JIT, connections); then `runs` rounds interleave the peers and
//! the median is reported, with the 1-minute load average seen by each measurement.
//!
//! Beside MB/s each figure has its CPU cost, MB per CPU-second of the whole system
//! (this process — NameNode, DataNodes, the Rust clients, the baseline's threads —
//! plus the JVM for Java): on a shared machine it moves much less with other
//! people's load than wall-clock throughput does. Figures and their reading:
//! `docs/benchmarks.md`, "client io (issue 6)".
//!
//! TODO(issue 6): a multi-writer mode (N clients at once), positional-read /
//! small-read figures; client-side, a 3-way interleaved CRC32C over 512-byte
//! chunks (most of the client's CPU) and waking the writer once per few acks
//! instead of every ack (see the benchmarks page).
#![forbid(unsafe_code)]

pub mod baseline;
mod io;
pub mod java;
mod report;

pub use io::{run_io, IoBenchConfig, Peer};
pub use report::{Figure, IoReport, PeerResult, Target};

/// What can go wrong running a benchmark.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("mini cluster: {0}")]
    Cluster(#[from] ferrodfs_minicluster::Error),
    #[error("ferrodfs client: {0}")]
    Client(#[from] ferrodfs_client::Error),
    #[error("hdfs-native: {0}")]
    HdfsNative(#[from] hdfs_native::HdfsError),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("Java client: {message}")]
    Java { message: String },
    #[error("baseline: chunk at offset {offset} does not match its CRC32C")]
    BaselineChecksum { offset: u64 },
    #[error("baseline: bad frame ({what})")]
    BaselineFrame { what: &'static str },
    #[error("{peer} read {got} bytes of a {want}-byte file")]
    ShortRead {
        peer: &'static str,
        got: u64,
        want: u64,
    },
    #[error("bad size {text:?}: {why}")]
    BadSize { text: String, why: &'static str },
    #[error("unknown peer {name:?} (known: baseline, ours, hdfs-native, java)")]
    UnknownPeer { name: String },
    #[error("a benchmark thread panicked")]
    ThreadPanicked,
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Parses a byte size: a number with an optional unit `K`/`KiB`/`M`/`MiB`/`G`/`GiB`
/// (binary: 1 KiB = 1024; `KB`/`MB`/`GB` are decimal), case-insensitive.
///
/// ```
/// assert_eq!(ferrodfs_bench::parse_size("256MiB").unwrap(), 256 << 20);
/// assert_eq!(ferrodfs_bench::parse_size("1g").unwrap(), 1 << 30);
/// assert_eq!(ferrodfs_bench::parse_size("4096").unwrap(), 4096);
/// ```
pub fn parse_size(text: &str) -> Result<u64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = |why| Error::BadSize {
        text: text.to_owned(),
        why,
    };
    let value: f64 = num.parse().map_err(|_| bad("not a number"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return Err(bad("unknown unit (use KiB, MiB, GiB, KB, MB or GB)")),
    };
    let bytes = value * mult as f64;
    if !(bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64) || bytes.fract() != 0.0 {
        return Err(bad("not a whole number of bytes"));
    }
    Ok(bytes as u64)
}

/// The bytes every peer writes: byte `i` of a file is `piece[i % 1 MiB]` of one
/// pseudo-random 1 MiB piece.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The piece twice over, so any `len ≤ PIECE` bytes at any offset are one slice.
    twice: bytes::Bytes,
}

impl Pattern {
    /// Length of the repeated piece, and of the writes the peers make.
    pub const PIECE: usize = 1 << 20;

    /// The pattern (the same bytes every time).
    pub fn new() -> Pattern {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut piece = Vec::with_capacity(2 * Self::PIECE);
        while piece.len() < Self::PIECE {
            // xorshift64
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            piece.extend_from_slice(&x.to_le_bytes());
        }
        piece.extend_from_within(..Self::PIECE);
        Pattern {
            twice: piece.into(),
        }
    }

    /// The file's bytes at `offset`, `len ≤ PIECE` of them.
    pub fn at(&self, offset: u64, len: usize) -> &[u8] {
        let start = (offset % Self::PIECE as u64) as usize;
        &self.twice[start..start + len.min(Self::PIECE)]
    }

    /// [`Pattern::at`] as shared `Bytes` (no copy).
    pub fn bytes_at(&self, offset: u64, len: usize) -> bytes::Bytes {
        let start = (offset % Self::PIECE as u64) as usize;
        self.twice.slice(start..start + len.min(Self::PIECE))
    }

    /// The first `len` bytes of a file (for checks).
    pub fn file_bytes(&self, len: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(len as usize);
        while (out.len() as u64) < len {
            let n = (len - out.len() as u64).min(Self::PIECE as u64) as usize;
            out.extend_from_slice(self.at(out.len() as u64, n));
        }
        out
    }
}

impl Default for Pattern {
    fn default() -> Self {
        Pattern::new()
    }
}

/// CPU time (user + system, all threads, in seconds) of process `pid`, or of this
/// process for `None`, from `/proc/<pid>/stat` (clock ticks of 1/100 s, Linux's
/// fixed `USER_HZ`).
pub fn process_cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".into(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// The 1-minute load average (`/proc/loadavg`), if readable.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("1.5KiB").unwrap(), 1536);
        assert_eq!(parse_size("64 MB").unwrap(), 64_000_000);
        assert!(matches!(parse_size("12XB"), Err(Error::BadSize { .. })));
        assert!(matches!(parse_size("MiB"), Err(Error::BadSize { .. })));
        assert!(matches!(parse_size("0.3"), Err(Error::BadSize { .. })));
    }
}
