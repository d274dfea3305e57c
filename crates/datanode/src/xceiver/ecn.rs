//! ECN (explicit congestion notification) in pipeline acks: with `dfs.pipeline.ecn`
//! on, every reply this node puts in an ack says SUPPORTED or CONGESTED, and a writer
//! that sees CONGESTED backs off before sending its next packet.
//!
//! This node is congested (Hadoop's `DataNode.getECN`) when the system load average
//! exceeds `dfs.pipeline.congestion.ratio` × the number of CPUs — or, added here,
//! when its disk write queue is long: more packet writes in progress at once than
//! [`WRITE_QUEUE_PER_CPU`] × CPUs. The load average lags (one minute) and counts
//! everything on the host; the write queue reacts within a packet to a slow disk.
//!
//! Both sides count: [`Ecn::congested_acks`] here, the client its own.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ferrodfs_conf::Configuration;
use ferrodfs_transfer::ack::Ecn as EcnFlag;

/// `dfs.pipeline.ecn`: mark acks with the congestion signal.
pub const DFS_PIPELINE_ECN_ENABLED_KEY: &str = "dfs.pipeline.ecn";
/// Default of [`DFS_PIPELINE_ECN_ENABLED_KEY`].
pub const DFS_PIPELINE_ECN_ENABLED_DEFAULT: bool = false;
/// `dfs.pipeline.congestion.ratio`: load average per CPU above which a node is congested.
pub const DFS_PIPELINE_CONGESTION_RATIO_KEY: &str = "dfs.pipeline.congestion.ratio";
/// Default of [`DFS_PIPELINE_CONGESTION_RATIO_KEY`].
pub const DFS_PIPELINE_CONGESTION_RATIO_DEFAULT: f64 = 1.5;
/// Packet writes in progress per CPU above which the disk counts as congested.
pub const WRITE_QUEUE_PER_CPU: usize = 2;
/// How long a load-average reading is reused.
const LOAD_REFRESH: Duration = Duration::from_millis(500);

/// The ECN settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EcnConfig {
    /// `dfs.pipeline.ecn`.
    pub enabled: bool,
    /// `dfs.pipeline.congestion.ratio`.
    pub congestion_ratio: f64,
}

impl Default for EcnConfig {
    fn default() -> EcnConfig {
        EcnConfig {
            enabled: DFS_PIPELINE_ECN_ENABLED_DEFAULT,
            congestion_ratio: DFS_PIPELINE_CONGESTION_RATIO_DEFAULT,
        }
    }
}

impl EcnConfig {
    /// From Hadoop's keys.
    pub fn from_conf(conf: &Configuration) -> crate::Result<EcnConfig> {
        let d = EcnConfig::default();
        let ratio =
            f64::from(conf.get_f32(DFS_PIPELINE_CONGESTION_RATIO_KEY, d.congestion_ratio as f32)?);
        Ok(EcnConfig {
            enabled: conf.get_bool(DFS_PIPELINE_ECN_ENABLED_KEY, d.enabled)?,
            congestion_ratio: ratio,
        })
    }
}

/// This node's congestion state.
#[derive(Debug)]
pub struct Ecn {
    enabled: AtomicBool,
    /// `congestion_ratio` as `f64` bits.
    ratio: AtomicU64,
    cpus: usize,
    writes_in_progress: AtomicUsize,
    congested_acks: AtomicU64,
    load: Mutex<(Instant, f64)>,
}

/// Counts a packet write in progress until dropped.
pub(crate) struct WriteInProgress<'a>(&'a AtomicUsize);

impl Drop for WriteInProgress<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Ecn {
    pub(crate) fn new(config: EcnConfig) -> Ecn {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ecn {
            enabled: AtomicBool::new(config.enabled),
            ratio: AtomicU64::new(config.congestion_ratio.to_bits()),
            cpus,
            writes_in_progress: AtomicUsize::new(0),
            congested_acks: AtomicU64::new(0),
            load: Mutex::new((Instant::now() - LOAD_REFRESH * 2, 0.0)),
        }
    }

    /// Marks a packet write (data + checksums, and sync if asked) in progress.
    pub(crate) fn write_started(&self) -> WriteInProgress<'_> {
        self.writes_in_progress.fetch_add(1, Ordering::Relaxed);
        WriteInProgress(&self.writes_in_progress)
    }

    /// Replaces the settings read at start.
    pub(crate) fn set_config(&self, config: EcnConfig) {
        self.ratio
            .store(config.congestion_ratio.to_bits(), Ordering::Relaxed);
        self.enabled.store(config.enabled, Ordering::Relaxed);
    }

    /// Acks this node marked CONGESTED since it started.
    pub fn congested_acks(&self) -> u64 {
        self.congested_acks.load(Ordering::Relaxed)
    }

    fn load_average(&self) -> f64 {
        let mut l = self.load.lock().unwrap_or_else(|e| e.into_inner());
        if l.0.elapsed() >= LOAD_REFRESH {
            let v = std::fs::read_to_string("/proc/loadavg")
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
                .unwrap_or(0.0);
            *l = (Instant::now(), v);
        }
        l.1
    }

    /// The signal for this node's reply in the next ack (counted when CONGESTED).
    pub(crate) fn signal(&self) -> EcnFlag {
        if !self.enabled.load(Ordering::Relaxed) {
            return EcnFlag::Disabled;
        }
        let queue = self.writes_in_progress.load(Ordering::Relaxed);
        let congested = queue > WRITE_QUEUE_PER_CPU * self.cpus
            || self.load_average()
                > self.cpus as f64 * f64::from_bits(self.ratio.load(Ordering::Relaxed));
        if congested {
            self.congested_acks.fetch_add(1, Ordering::Relaxed);
            EcnFlag::Congested
        } else {
            EcnFlag::Supported
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_says_nothing_and_a_long_write_queue_is_congestion() {
        let off = Ecn::new(EcnConfig::default());
        assert_eq!(off.signal(), EcnFlag::Disabled);
        let on = Ecn::new(EcnConfig {
            enabled: true,
            // No load average reaches this: only the queue decides.
            congestion_ratio: 1e9,
        });
        assert_eq!(on.signal(), EcnFlag::Supported);
        let writes: Vec<_> = (0..=WRITE_QUEUE_PER_CPU * on.cpus)
            .map(|_| on.write_started())
            .collect();
        assert_eq!(on.signal(), EcnFlag::Congested);
        assert_eq!(on.congested_acks(), 1);
        drop(writes);
        assert_eq!(on.signal(), EcnFlag::Supported);
    }
}
