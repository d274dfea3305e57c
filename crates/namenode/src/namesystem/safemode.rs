//! What safe mode tells an operator, as Hadoop's `BlockManagerSafeMode` and
//! `FSNamesystem.getSafeModeTip` word it: the tip (reported blocks against the
//! threshold, live DataNodes against `dfs.namenode.safemode.min.datanodes`, when safe
//! mode will end), the `STATE*` log lines while the NameNode waits for block reports
//! (at most every 20 s), and whether the replication queues (and with them the
//! missing-block count) are populated yet.
//!
//! The state itself ([`super::SafeMode`]) and its transitions live with the block
//! report handling in `dnops.rs`.

use super::FsNamesystem;
use std::time::{Duration, Instant};

/// Hadoop's `reportStatus` interval: a waiting NameNode logs its state this often.
pub const SAFE_MODE_REPORT_INTERVAL: Duration = Duration::from_secs(20);

/// The advice for leaving a manually entered safe mode.
const LEAVE_CMD: &str = "Use \"hdfs dfsadmin -safemode leave\" to turn safe mode off.";

impl FsNamesystem {
    /// Blocks that must be safe (reported with `dfs.namenode.replication.min`
    /// replicas) before startup safe mode ends: `(long) (total * threshold)`, as Java
    /// truncates it.
    pub fn safe_block_threshold(&self, total: u64) -> u64 {
        (total as f64 * self.config.safemode_threshold) as u64
    }

    /// Hadoop's safe-mode tip: empty when safe mode is off.
    pub fn safe_mode_tip(&self, now: Instant) -> String {
        if !self.safe_mode.on {
            return String::new();
        }
        if self.safe_mode.manual {
            return format!("It was turned on manually. {LEAVE_CMD}");
        }
        let (safe, total) = self.safe_block_counts();
        let threshold = self.safe_block_threshold(total);
        let pct = self.config.safemode_threshold;
        let mut msg = if safe < threshold {
            format!(
                "The reported blocks {safe} needs additional {} blocks to reach the threshold {pct:.4} of total blocks {total}.\n",
                threshold - safe
            )
        } else {
            format!(
                "The reported blocks {safe} has reached the threshold {pct:.4} of total blocks {total}. "
            )
        };
        // dfs.namenode.safemode.min.datanodes: 0 (not configurable here).
        let live = self.dns.live_count();
        msg.push_str(&format!(
            "The number of live datanodes {live} has reached the minimum number 0. "
        ));
        let turn_off = "Safe mode will be turned off automatically ";
        match self.safe_mode.reached_at {
            None => msg.push_str(&format!("{turn_off}once the thresholds have been reached.")),
            Some(at) => {
                let left = (at + self.config.safemode_extension).saturating_duration_since(now);
                msg.push_str(&format!(
                    "In safe mode extension. {turn_off}in {} seconds.",
                    left.as_secs()
                ));
            }
        }
        msg
    }

    /// Logs the safe-mode state with the tip (`STATE* Safe mode ON, ...`) when
    /// `force` or [`SAFE_MODE_REPORT_INTERVAL`] passed since the last such line.
    pub(crate) fn report_safe_mode_status(&mut self, now: Instant, force: bool) {
        if !self.safe_mode.on {
            return;
        }
        let due = self
            .safe_mode
            .last_status_report
            .is_none_or(|t| now.saturating_duration_since(t) >= SAFE_MODE_REPORT_INTERVAL);
        if !force && !due {
            return;
        }
        let state = if self.safe_mode.manual {
            "STATE* Safe mode is ON."
        } else if self.safe_mode.reached_at.is_some() {
            "STATE* Safe mode ON, in safe mode extension."
        } else {
            "STATE* Safe mode ON, thresholds not met."
        };
        tracing::info!("{state} \n{}", self.safe_mode_tip(now));
        self.safe_mode.last_status_report = Some(now);
    }

    /// True once the replication queues are populated: after startup safe mode has
    /// seen its threshold of blocks reported (Hadoop's
    /// `dfs.namenode.replqueue.threshold-pct`, by default the safe-mode threshold),
    /// or when safe mode is off or was entered by hand. Until then the NameNode
    /// cannot tell a missing block from one whose DataNode has not reported yet, and
    /// reports none missing.
    pub fn replication_queues_populated(&self) -> bool {
        if !self.safe_mode.on || self.safe_mode.manual {
            return true;
        }
        let (safe, total) = self.safe_block_counts();
        safe >= self.safe_block_threshold(total)
    }
}
