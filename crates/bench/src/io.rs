//! The `bench io` runner: one cluster, the peers set up once, a warm-up each, then
//! `runs` rounds of (write, read, delete) per peer.

use crate::java::JavaClient;
use crate::report::{Figure, IoReport, PeerResult};
use crate::{baseline, load_average, process_cpu_seconds, Error, Pattern, Result};
use ferrodfs_client::{ClientConf, CreateOptions, DfsClient};
use ferrodfs_minicluster::{MiniCluster, MiniClusterConfig};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// Who moves the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Peer {
    /// The physical minimum ([`crate::baseline`]).
    Baseline,
    /// `ferrodfs_client::DfsClient`.
    Ours,
    /// The `hdfs-native` crate.
    HdfsNative,
    /// Hadoop 3.3.4's Java client.
    Java,
}

impl Peer {
    /// Every peer, in report order.
    pub const ALL: [Peer; 4] = [Peer::Baseline, Peer::Ours, Peer::HdfsNative, Peer::Java];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Peer::Baseline => "baseline",
            Peer::Ours => "ours",
            Peer::HdfsNative => "hdfs-native",
            Peer::Java => "java",
        }
    }

    /// Parses a comma-separated list (`all` for every peer).
    pub fn parse_list(text: &str) -> Result<Vec<Peer>> {
        let mut out = Vec::new();
        for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if name == "all" {
                out.extend(Peer::ALL);
            } else {
                out.push(name.parse()?);
            }
        }
        let mut seen = Vec::new();
        out.retain(|p| {
            let new = !seen.contains(p);
            seen.push(*p);
            new
        });
        Ok(out)
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Peer {
    type Err = Error;

    fn from_str(s: &str) -> Result<Peer> {
        let s = s.to_ascii_lowercase();
        Peer::ALL
            .into_iter()
            .find(|p| p.name() == s || (s == "native" && *p == Peer::HdfsNative))
            .ok_or(Error::UnknownPeer { name: s })
    }
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct IoBenchConfig {
    /// Bytes per file.
    pub size: u64,
    /// Block size (a multiple of 512).
    pub block_size: u64,
    /// Replicas per block (DataNodes started: at least 3, at least this).
    pub replication: u16,
    pub peers: Vec<Peer>,
    /// Timed rounds; the median is reported.
    pub runs: usize,
    /// Where the cluster's directories go (a temporary directory if `None`).
    pub dir: Option<PathBuf>,
    /// Write and read a small untimed file with each peer first.
    pub warmup: bool,
}

impl Default for IoBenchConfig {
    fn default() -> Self {
        IoBenchConfig {
            size: 256 << 20,
            block_size: 128 << 20,
            replication: 3,
            peers: Peer::ALL.to_vec(),
            runs: 3,
            dir: None,
            warmup: true,
        }
    }
}

/// Warm-up file size (at most): enough for the JVM to compile the hot paths.
const WARMUP: u64 = 128 << 20;

/// A peer ready to run.
enum Contender {
    Baseline {
        dir: PathBuf,
    },
    Ours(DfsClient),
    HdfsNative {
        rt: tokio::runtime::Runtime,
        client: hdfs_native::Client,
    },
    Java(Box<JavaClient>),
}

struct Job<'a> {
    pattern: &'a Pattern,
    block_size: u64,
    replication: u16,
}

impl Contender {
    fn name(&self) -> &'static str {
        match self {
            Contender::Baseline { .. } => Peer::Baseline.name(),
            Contender::Ours(_) => Peer::Ours.name(),
            Contender::HdfsNative { .. } => Peer::HdfsNative.name(),
            Contender::Java(_) => Peer::Java.name(),
        }
    }

    /// CPU seconds used so far by everything taking part (this process, and the
    /// JVM for Java).
    fn cpu_seconds(&self) -> Option<f64> {
        let own = process_cpu_seconds(None)?;
        match self {
            Contender::Java(java) => Some(own + process_cpu_seconds(Some(java.pid()))?),
            _ => Some(own),
        }
    }

    fn write(&mut self, job: &Job<'_>, path: &str, size: u64) -> Result<Duration> {
        let piece = Pattern::PIECE as u64;
        match self {
            Contender::Baseline { dir } => {
                let d = dir.join(path.trim_start_matches('/'));
                baseline::relay_write(
                    job.pattern,
                    size,
                    job.block_size,
                    usize::from(job.replication),
                    &d,
                )
            }
            Contender::Ours(client) => {
                let start = Instant::now();
                let mut out = client.create_with(
                    path,
                    CreateOptions {
                        overwrite: true,
                        replication: Some(job.replication),
                        block_size: Some(job.block_size),
                        ..CreateOptions::default()
                    },
                )?;
                let mut off = 0;
                while off < size {
                    let n = piece.min(size - off);
                    out.write_bytes(job.pattern.at(off, n as usize))?;
                    off += n;
                }
                out.close()?;
                Ok(start.elapsed())
            }
            Contender::HdfsNative { rt, client } => rt.block_on(async {
                let start = Instant::now();
                let options = hdfs_native::WriteOptions {
                    block_size: Some(job.block_size),
                    replication: Some(u32::from(job.replication)),
                    overwrite: true,
                    ..Default::default()
                };
                let mut w = client.create(path, &options).await?;
                let mut off = 0;
                while off < size {
                    let n = piece.min(size - off);
                    w.write_bytes(job.pattern.bytes_at(off, n as usize)).await?;
                    off += n;
                }
                w.close().await?;
                Ok(start.elapsed())
            }),
            Contender::Java(java) => java.write(path, size, job.block_size, job.replication),
        }
    }

    fn read(&mut self, job: &Job<'_>, path: &str, size: u64) -> Result<Duration> {
        let (took, got) = match self {
            Contender::Baseline { dir } => {
                let d = dir.join(path.trim_start_matches('/'));
                (baseline::stream_read(&d, size, job.block_size)?, size)
            }
            Contender::Ours(client) => {
                let start = Instant::now();
                let mut input = client.open(path)?;
                let mut buf = vec![0u8; Pattern::PIECE];
                let mut got = 0u64;
                loop {
                    let n = input.read_bytes(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    got += n as u64;
                }
                (start.elapsed(), got)
            }
            Contender::HdfsNative { rt, client } => rt.block_on(async {
                use futures::StreamExt;
                let start = Instant::now();
                let reader = client.read(path).await?;
                let len = reader.file_length();
                let mut stream = std::pin::pin!(reader.read_range_stream(0, len));
                let mut got = 0u64;
                while let Some(bytes) = stream.next().await {
                    got += bytes?.len() as u64;
                }
                Ok::<_, Error>((start.elapsed(), got))
            })?,
            Contender::Java(java) => java.read(path)?,
        };
        if got != size {
            return Err(Error::ShortRead {
                peer: self.name(),
                got,
                want: size,
            });
        }
        Ok(took)
    }

    fn remove(&mut self, path: &str) -> Result<()> {
        match self {
            Contender::Baseline { dir } => {
                std::fs::remove_dir_all(dir.join(path.trim_start_matches('/')))?;
            }
            Contender::Ours(client) => {
                client.delete(path, false)?;
            }
            Contender::HdfsNative { rt, client } => {
                rt.block_on(client.delete(path, false))?;
            }
            Contender::Java(java) => java.delete(path)?,
        }
        Ok(())
    }
}

fn set_up(peer: Peer, cluster: &MiniCluster, pattern: &Pattern) -> Result<Contender> {
    let user = ferrodfs_ipc::client::current_user();
    Ok(match peer {
        Peer::Baseline => {
            let dir = cluster.base_dir().join("baseline");
            std::fs::create_dir_all(&dir)?;
            Contender::Baseline { dir }
        }
        Peer::Ours => {
            let conf = ClientConf {
                user,
                ..ClientConf::default()
            };
            Contender::Ours(DfsClient::new(cluster.namenode_addr(), conf))
        }
        Peer::HdfsNative => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("hdfs-native")
                .build()?;
            let url = cluster.default_fs();
            let client =
                rt.block_on(async { hdfs_native::ClientBuilder::new().with_url(url).build() })?;
            Contender::HdfsNative { rt, client }
        }
        Peer::Java => Contender::Java(Box::new(JavaClient::start(
            &cluster.default_fs(),
            &user,
            pattern,
        )?)),
    })
}

/// Starts a cluster, runs the peers and returns the figures. A peer that cannot
/// start (e.g. no `javac`) or fails is reported with its error, not fatal.
pub fn run_io(config: &IoBenchConfig) -> Result<IoReport> {
    if config.block_size == 0 || config.block_size % baseline::BPC as u64 != 0 {
        return Err(Error::BadSize {
            text: config.block_size.to_string(),
            why: "the block size must be a positive multiple of 512",
        });
    }
    if config.replication == 0 {
        return Err(Error::BadSize {
            text: "0".into(),
            why: "replication must be at least 1",
        });
    }
    let load_start = load_average();
    let datanodes = usize::from(config.replication).max(3);
    let cluster = MiniCluster::start(MiniClusterConfig {
        datanodes,
        base_dir: config.dir.clone(),
        ..MiniClusterConfig::default()
    })?;
    let pattern = Pattern::new();
    let job = Job {
        pattern: &pattern,
        block_size: config.block_size,
        replication: config.replication,
    };
    let mut results: Vec<PeerResult> = Vec::new();
    let mut contenders: Vec<(usize, Contender)> = Vec::new();
    for &peer in &config.peers {
        let mut result = PeerResult::new(peer);
        match set_up(peer, &cluster, &pattern) {
            Ok(mut c) => {
                let warm = if config.warmup {
                    let path = format!("/bench/warmup-{peer}");
                    let size = config.size.min(WARMUP);
                    c.write(&job, &path, size)
                        .and_then(|_| c.read(&job, &path, size))
                        .and_then(|_| c.remove(&path))
                } else {
                    Ok(())
                };
                match warm {
                    Ok(()) => contenders.push((results.len(), c)),
                    Err(e) => result.note = Some(format!("failed in warm-up: {e}")),
                }
            }
            Err(e) => result.note = Some(format!("skipped: {e}")),
        }
        if let Some(note) = &result.note {
            tracing::warn!(%peer, "{note}");
        }
        results.push(result);
    }
    for run in 0..config.runs.max(1) {
        for (i, c) in contenders.iter_mut() {
            let r = &mut results[*i];
            if r.note.is_some() {
                continue;
            }
            let peer = r.peer;
            let path = format!("/bench/{peer}-{run}.bin");
            let load_w = load_average();
            let cpu0 = c.cpu_seconds();
            let measured = c.write(&job, &path, config.size).and_then(|w| {
                let cpu1 = c.cpu_seconds();
                let load_r = load_average();
                let rd = c.read(&job, &path, config.size)?;
                let cpu2 = c.cpu_seconds();
                c.remove(&path)?;
                let cpu_w = cpu0.zip(cpu1).map(|(a, b)| b - a);
                let cpu_r = cpu1.zip(cpu2).map(|(a, b)| b - a);
                Ok(((w, load_w, cpu_w), (rd, load_r, cpu_r)))
            });
            match measured {
                Ok((w, rd)) => {
                    tracing::info!(
                        %peer,
                        run,
                        write_mb_s = format!("{:.1}", mb_s(config.size, w.0)),
                        read_mb_s = format!("{:.1}", mb_s(config.size, rd.0)),
                        load = w.1.unwrap_or(f64::NAN),
                        "measured"
                    );
                    r.write.push(w);
                    r.read.push(rd);
                }
                Err(e) => {
                    tracing::warn!(%peer, run, error = %e, "run failed");
                    r.note = Some(format!("failed in run {run}: {e}"));
                }
            }
        }
    }
    drop(contenders);
    let report = IoReport {
        size: config.size,
        block_size: config.block_size,
        replication: config.replication,
        datanodes,
        runs: config.runs.max(1),
        dir: cluster.base_dir().to_path_buf(),
        load_start,
        load_end: load_average(),
        peers: results,
    };
    cluster.shutdown()?;
    Ok(report)
}

/// Megabytes (10^6 bytes) per second.
pub fn mb_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64().max(1e-9) / 1e6
}

impl Figure {
    fn push(&mut self, (d, load, cpu): (Duration, Option<f64>, Option<f64>)) {
        self.runs.push(d);
        self.loads.push(load);
        self.cpu.push(cpu);
    }
}
