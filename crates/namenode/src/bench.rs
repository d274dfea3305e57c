//! NameNode RPC throughput, in the spirit of Hadoop's `NNThroughputBenchmark`: N client
//! threads, each with its own connection, run M operations in total against an
//! in-process [`NameNodeServer`] over real RPC on loopback. `ferrodfs bench nn` runs it.
//!
//! Each report also measures, in the same run, two baselines:
//! * the **empty-call rate**: `msync` (a no-op on the same server stack) from 16 threads,
//!   the ceiling any RPC can reach;
//! * the **fdatasync rate**: a single thread appending a small record to a file in the
//!   name dir and `fdatasync`ing it — what every mutation would cost without group commit.

use std::fmt;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use ferrodfs_ipc::client::namenode::NamenodeProtocol;
use ferrodfs_ipc::{ClientConfig, RpcClient};
use ferrodfs_proto::hdfs::*;

use crate::error::{Error, Result};
use crate::server::{NameNodeServer, NameNodeServerConfig};
use crate::NameNode;

/// Threads of the empty-call baseline.
pub const EMPTY_CALL_THREADS: usize = 16;
/// How long the fdatasync baseline runs.
pub const FDATASYNC_DURATION: Duration = Duration::from_secs(2);
const CLIENT_NAME: &str = "DFSClient_NNThroughputBenchmark";

/// The measured operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchOp {
    /// create of an empty file, left open (NNThroughputBenchmark's `create` without
    /// `-close`); each thread is one lease holder.
    Create,
    Mkdirs,
    GetFileInfo,
    Rename,
    Delete,
}

impl FromStr for BenchOp {
    type Err = Error;
    fn from_str(s: &str) -> Result<BenchOp> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "create" => BenchOp::Create,
            "mkdirs" => BenchOp::Mkdirs,
            "getfileinfo" | "fileinfo" => BenchOp::GetFileInfo,
            "rename" => BenchOp::Rename,
            "delete" => BenchOp::Delete,
            _ => {
                return Err(Error::IllegalArgument {
                    message: format!(
                        "unknown op {s}: create | mkdirs | getFileInfo | rename | delete"
                    ),
                })
            }
        })
    }
}

impl fmt::Display for BenchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BenchOp::Create => "create",
            BenchOp::Mkdirs => "mkdirs",
            BenchOp::GetFileInfo => "getFileInfo",
            BenchOp::Rename => "rename",
            BenchOp::Delete => "delete",
        })
    }
}

/// One run's figures.
#[derive(Debug, Clone)]
pub struct BenchReport {
    pub op: BenchOp,
    pub threads: usize,
    pub ops: usize,
    pub elapsed: Duration,
    /// Operations per second of the measured op.
    pub ops_per_sec: f64,
    /// msync calls per second from [`EMPTY_CALL_THREADS`] threads.
    pub empty_calls_per_sec: f64,
    /// Single-thread append + fdatasync per second on the name dir's disk.
    pub fdatasyncs_per_sec: f64,
    /// fdatasyncs the edit log made during the measured phase.
    pub edit_log_syncs: u64,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} x{} threads: {} ops in {:.2} s = {:.0} ops/s ({} edit-log fdatasyncs)",
            self.op,
            self.threads,
            self.ops,
            self.elapsed.as_secs_f64(),
            self.ops_per_sec,
            self.edit_log_syncs
        )?;
        writeln!(
            f,
            "baseline: empty call (msync) x{EMPTY_CALL_THREADS} threads = {:.0} calls/s; {} = {:.0}% of it",
            self.empty_calls_per_sec,
            self.op,
            100.0 * self.ops_per_sec / self.empty_calls_per_sec.max(1e-9)
        )?;
        write!(
            f,
            "baseline: single-thread append+fdatasync = {:.0}/s; {} = {:.1}x it",
            self.fdatasyncs_per_sec,
            self.op,
            self.ops_per_sec / self.fdatasyncs_per_sec.max(1e-9)
        )
    }
}

fn rpc_err(e: ferrodfs_ipc::Error) -> Error {
    Error::Io {
        path: "rpc".into(),
        source: std::io::Error::other(e.to_string()),
    }
}

fn client(addr: SocketAddr) -> NamenodeProtocol {
    NamenodeProtocol::new(RpcClient::new(ClientConfig::default()), addr)
}

fn file(t: usize, j: usize) -> String {
    format!("/bench/t{t}/f{j}")
}

/// One operation of thread `t`, index `j`.
fn one(nn: &NamenodeProtocol, op: BenchOp, t: usize, j: usize) -> ferrodfs_ipc::Result<()> {
    match op {
        BenchOp::Create => {
            nn.create(&CreateRequestProto {
                src: file(t, j),
                masked: FsPermissionProto { perm: 0o644 },
                client_name: format!("{CLIENT_NAME}_{t}"),
                create_flag: 1,
                create_parent: true,
                replication: 1,
                block_size: 128 << 20,
                ..Default::default()
            })?;
        }
        BenchOp::Mkdirs => {
            nn.mkdirs(&MkdirsRequestProto {
                src: format!("/bench/t{t}/d{j}"),
                masked: FsPermissionProto { perm: 0o755 },
                create_parent: true,
                unmasked: None,
            })?;
        }
        BenchOp::GetFileInfo => {
            nn.get_file_info(&GetFileInfoRequestProto { src: file(t, j) })?;
        }
        BenchOp::Rename => {
            nn.rename(&RenameRequestProto {
                src: file(t, j),
                dst: format!("/bench/t{t}/r{j}"),
            })?;
        }
        BenchOp::Delete => {
            nn.delete(&DeleteRequestProto {
                src: file(t, j),
                recursive: false,
            })?;
        }
    }
    Ok(())
}

/// Runs `ops` operations over `threads` threads; returns the wall time.
fn phase(
    addr: SocketAddr,
    threads: usize,
    ops: usize,
    f: impl Fn(&NamenodeProtocol, usize, usize) -> ferrodfs_ipc::Result<()> + Send + Sync + 'static,
) -> Result<Duration> {
    let f = Arc::new(f);
    let barrier = Arc::new(Barrier::new(threads + 1));
    let per = ops.div_ceil(threads);
    let mut handles = Vec::new();
    for t in 0..threads {
        let (f, barrier) = (Arc::clone(&f), Arc::clone(&barrier));
        let n = per.min(ops.saturating_sub(t * per));
        let h = std::thread::Builder::new()
            .name(format!("bench-client-{t}"))
            .spawn(move || {
                let nn = client(addr);
                // Connect before the clock starts.
                let warm = nn.msync(&MsyncRequestProto {});
                barrier.wait();
                warm?;
                for j in 0..n {
                    f(&nn, t, j)?;
                }
                Ok::<(), ferrodfs_ipc::Error>(())
            })
            .map_err(|e| Error::io("bench thread", e))?;
        handles.push(h);
    }
    barrier.wait();
    let t0 = Instant::now();
    for h in handles {
        h.join()
            .map_err(|_| Error::IllegalArgument {
                message: "a bench thread panicked".into(),
            })?
            .map_err(rpc_err)?;
    }
    Ok(t0.elapsed())
}

/// Single-thread append + fdatasync rate of the disk under `dir`.
pub fn fdatasync_rate(dir: &Path, run_for: Duration) -> Result<f64> {
    let path = dir.join("fdatasync-probe");
    let mut f = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
    let record = [0x5au8; 64];
    let t0 = Instant::now();
    let mut n = 0u64;
    while t0.elapsed() < run_for {
        f.write_all(&record).map_err(|e| Error::io(&path, e))?;
        f.sync_data().map_err(|e| Error::io(&path, e))?;
        n += 1;
    }
    let rate = n as f64 / t0.elapsed().as_secs_f64();
    drop(f);
    std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
    Ok(rate)
}

/// Formats `dir`, starts a NameNode on loopback, and measures `op` (with the baselines:
/// as many empty calls as `ops`, and [`FDATASYNC_DURATION`] of fdatasyncs).
pub fn run(dir: &Path, op: BenchOp, threads: usize, ops: usize) -> Result<BenchReport> {
    run_with_baseline(dir, op, threads, ops, FDATASYNC_DURATION)
}

/// [`run`] with the fdatasync baseline running for `fdatasync_for`.
pub fn run_with_baseline(
    dir: &Path,
    op: BenchOp,
    threads: usize,
    ops: usize,
    fdatasync_for: Duration,
) -> Result<BenchReport> {
    let threads = threads.max(1);
    let mut config = NameNodeServerConfig::for_test(dir, &ferrodfs_ipc::client::current_user());
    config.handlers = threads.max(EMPTY_CALL_THREADS);
    NameNode::format(&config.namenode, None)?;
    let server = NameNodeServer::start(config)?;
    let addr = server.rpc_addr();

    let fsync = fdatasync_rate(dir, fdatasync_for)?;
    let empty_ops = ops.max(EMPTY_CALL_THREADS);
    let empty = phase(addr, EMPTY_CALL_THREADS, empty_ops, |nn, _, _| {
        nn.msync(&MsyncRequestProto {}).map(|_| ())
    })?;

    // Files for the ops that need them, made by the same threads.
    if matches!(op, BenchOp::GetFileInfo | BenchOp::Rename | BenchOp::Delete) {
        phase(addr, threads, ops, |nn, t, j| {
            one(nn, BenchOp::Create, t, j)
        })?;
    }
    let syncs_before = server.namenode().edit_log_stats().syncs;
    let elapsed = phase(addr, threads, ops, move |nn, t, j| one(nn, op, t, j))?;
    let edit_log_syncs = server.namenode().edit_log_stats().syncs - syncs_before;
    server.shutdown()?;
    // The disk is shared: probe again afterwards and keep the faster (stricter) baseline.
    let fsync = fsync.max(fdatasync_rate(dir, fdatasync_for)?);
    Ok(BenchReport {
        op,
        threads,
        ops,
        elapsed,
        ops_per_sec: ops as f64 / elapsed.as_secs_f64(),
        empty_calls_per_sec: empty_ops as f64 / empty.as_secs_f64(),
        fdatasyncs_per_sec: fsync,
        edit_log_syncs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_parse_case_insensitively() {
        assert_eq!(
            "getFileInfo".parse::<BenchOp>().unwrap(),
            BenchOp::GetFileInfo
        );
        assert_eq!("CREATE".parse::<BenchOp>().unwrap(), BenchOp::Create);
        assert!("chmod".parse::<BenchOp>().is_err());
    }

    #[test]
    fn a_small_run_does_every_op() {
        for op in [BenchOp::Create, BenchOp::Rename, BenchOp::Delete] {
            let dir = tempfile::tempdir().unwrap();
            let r = run_with_baseline(dir.path(), op, 2, 20, Duration::from_millis(20)).unwrap();
            assert_eq!(r.ops, 20);
            assert!(r.ops_per_sec > 0.0 && r.fdatasyncs_per_sec > 0.0);
            assert!(r.edit_log_syncs > 0);
        }
    }
}
