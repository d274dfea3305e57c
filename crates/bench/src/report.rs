//! Figures, ratios and the targets.

use crate::io::{mb_s, Peer};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// One direction (write or read) of one peer: every run's time, the 1-minute load
/// average when it started, and the CPU seconds it cost (all threads of this
/// process, plus the JVM for Java).
#[derive(Debug, Clone, Default)]
pub struct Figure {
    pub runs: Vec<Duration>,
    pub loads: Vec<Option<f64>>,
    pub cpu: Vec<Option<f64>>,
}

impl Figure {
    /// The median run (the lower middle one for an even count).
    pub fn median(&self) -> Option<Duration> {
        let mut v = self.runs.clone();
        v.sort();
        v.get(v.len().saturating_sub(1) / 2).copied()
    }

    /// Median throughput in MB/s for `size`-byte files.
    pub fn mb_s(&self, size: u64) -> Option<f64> {
        self.median().map(|d| mb_s(size, d))
    }

    /// Median MB per CPU-second for `size`-byte files.
    pub fn mb_per_cpu_s(&self, size: u64) -> Option<f64> {
        let mut v: Vec<f64> = self.cpu.iter().flatten().copied().collect();
        v.sort_by(f64::total_cmp);
        let cpu = *v.get(v.len().saturating_sub(1) / 2)?;
        Some(size as f64 / cpu.max(1e-3) / 1e6)
    }

    fn load_range(&self) -> Option<(f64, f64)> {
        let loads: Vec<f64> = self.loads.iter().flatten().copied().collect();
        let min = loads.iter().copied().reduce(f64::min)?;
        let max = loads.iter().copied().reduce(f64::max)?;
        Some((min, max))
    }
}

/// One peer's figures, or why it has none.
#[derive(Debug, Clone)]
pub struct PeerResult {
    pub peer: Peer,
    pub write: Figure,
    pub read: Figure,
    /// Why the peer was skipped or stopped.
    pub note: Option<String>,
}

impl PeerResult {
    pub(crate) fn new(peer: Peer) -> PeerResult {
        PeerResult {
            peer,
            write: Figure::default(),
            read: Figure::default(),
            note: None,
        }
    }
}

/// Everything `bench io` measured.
#[derive(Debug, Clone)]
pub struct IoReport {
    pub size: u64,
    pub block_size: u64,
    pub replication: u16,
    pub datanodes: usize,
    pub runs: usize,
    pub dir: PathBuf,
    pub load_start: Option<f64>,
    pub load_end: Option<f64>,
    pub peers: Vec<PeerResult>,
}

/// One of the targets: `ratio` of `ours` to another figure, at least `goal`.
#[derive(Debug, Clone)]
pub struct Target {
    pub what: &'static str,
    pub ratio: Option<f64>,
    pub goal: f64,
    /// The same ratio of MB per CPU-second (for reading figures taken under load).
    pub cpu_ratio: Option<f64>,
}

impl Target {
    /// `None` if a figure is missing.
    pub fn met(&self) -> Option<bool> {
        self.ratio.map(|r| r >= self.goal)
    }
}

impl IoReport {
    /// The figures of `peer`, if it ran.
    pub fn peer(&self, peer: Peer) -> Option<&PeerResult> {
        self.peers.iter().find(|p| p.peer == peer)
    }

    /// Median MB/s of `peer` for write (`read` false) or read.
    pub fn mb_s(&self, peer: Peer, read: bool) -> Option<f64> {
        let p = self.peer(peer)?;
        if p.note.is_some() {
            return None;
        }
        if read { &p.read } else { &p.write }.mb_s(self.size)
    }

    /// Throughput of `a` over that of `b`.
    pub fn ratio(&self, a: Peer, b: Peer, read: bool) -> Option<f64> {
        Some(self.mb_s(a, read)? / self.mb_s(b, read)?)
    }

    /// MB per CPU-second of `peer` for write (`read` false) or read.
    pub fn mb_per_cpu_s(&self, peer: Peer, read: bool) -> Option<f64> {
        let p = self.peer(peer)?;
        if p.note.is_some() {
            return None;
        }
        if read { &p.read } else { &p.write }.mb_per_cpu_s(self.size)
    }

    /// CPU efficiency (MB per CPU-second) of `a` over that of `b`.
    pub fn cpu_ratio(&self, a: Peer, b: Peer, read: bool) -> Option<f64> {
        Some(self.mb_per_cpu_s(a, read)? / self.mb_per_cpu_s(b, read)?)
    }

    /// Issue 6's targets for the client.
    pub fn targets(&self) -> Vec<Target> {
        let t = |what, b, read, goal| Target {
            what,
            ratio: self.ratio(Peer::Ours, b, read),
            goal,
            cpu_ratio: self.cpu_ratio(Peer::Ours, b, read),
        };
        vec![
            t("write: ours / baseline", Peer::Baseline, false, 0.70),
            t("write: ours / hdfs-native", Peer::HdfsNative, false, 1.0),
            t("read:  ours / hdfs-native", Peer::HdfsNative, true, 1.0),
            t("write: ours / java", Peer::Java, false, 1.5),
            t("read:  ours / java", Peer::Java, true, 1.5),
        ]
    }
}

fn human(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (unit, name) in UNITS {
        if bytes >= unit && bytes % unit == 0 {
            return format!("{} {name}", bytes / unit);
        }
    }
    format!("{bytes} B")
}

fn opt(v: Option<f64>, prec: usize) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.prec$}"))
}

impl fmt::Display for IoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "bench io: {} per file, replication {}, block size {}, {} DataNodes on loopback, \
             median of {} run(s); cluster in {}",
            human(self.size),
            self.replication,
            human(self.block_size),
            self.datanodes,
            self.runs,
            self.dir.display()
        )?;
        writeln!(
            f,
            "load average (1 min): {} at start, {} at end",
            opt(self.load_start, 2),
            opt(self.load_end, 2)
        )?;
        writeln!(
            f,
            "{:<12} {:>10} {:>9} {:>10} {:>10} {:>9} {:>10} {:>10}",
            "peer",
            "write MB/s",
            "/baseline",
            "MB/cpu-s",
            "read MB/s",
            "/baseline",
            "MB/cpu-s",
            "load"
        )?;
        for p in &self.peers {
            if let Some(note) = &p.note {
                if p.write.runs.is_empty() {
                    writeln!(f, "{:<12} {note}", p.peer.name())?;
                    continue;
                }
            }
            let load = match (p.write.load_range(), p.read.load_range()) {
                (Some((a, b)), Some((c, d))) => format!("{:.2}-{:.2}", a.min(c), b.max(d)),
                _ => "-".into(),
            };
            writeln!(
                f,
                "{:<12} {:>10} {:>9} {:>10} {:>10} {:>9} {:>10} {:>10}",
                p.peer.name(),
                opt(p.write.mb_s(self.size), 1),
                opt(self.ratio(p.peer, Peer::Baseline, false), 2),
                opt(p.write.mb_per_cpu_s(self.size), 0),
                opt(p.read.mb_s(self.size), 1),
                opt(self.ratio(p.peer, Peer::Baseline, true), 2),
                opt(p.read.mb_per_cpu_s(self.size), 0),
                load
            )?;
            if let Some(note) = &p.note {
                writeln!(f, "{:<12} {note}", "")?;
            }
        }
        for p in self.peers.iter().filter(|p| p.write.runs.len() > 1) {
            let runs = |fig: &Figure| {
                fig.runs
                    .iter()
                    .map(|d| format!("{:.0}", mb_s(self.size, *d)))
                    .collect::<Vec<_>>()
                    .join("/")
            };
            writeln!(
                f,
                "  {} runs: write {} MB/s, read {} MB/s",
                p.peer.name(),
                runs(&p.write),
                runs(&p.read)
            )?;
        }
        writeln!(f, "targets (issue 6):")?;
        for t in self.targets() {
            let verdict = match t.met() {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "not measured",
            };
            writeln!(
                f,
                "  {:<28} {:>6} (goal >= {:.2}) {verdict:<12} per CPU-second: {}",
                t.what,
                opt(t.ratio, 2),
                t.goal,
                opt(t.cpu_ratio, 2)
            )?;
        }
        Ok(())
    }
}
