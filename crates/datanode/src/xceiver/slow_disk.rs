//! A disk of limited write bandwidth, for tests and benchmarks of congestion
//! (ECN): each packet write reserves `len / bandwidth` of the node's one disk
//! timeline and waits until its slot has passed, so concurrent writers queue as they
//! would on a slow device. Off (0) unless set with
//! [`DataNode::set_disk_write_bandwidth`](crate::DataNode::set_disk_write_bandwidth).
//!
//! This stands in for a throttled device because this build host has neither cgroup
//! v2 `io.max` nor a block device under the test directories to throttle; it is not a
//! Hadoop setting and no configuration key sets it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The node's disk timeline.
#[derive(Debug)]
pub(crate) struct SlowDisk {
    /// Bytes per second; 0: unthrottled.
    bandwidth: AtomicU64,
    next_free: Mutex<Instant>,
}

impl Default for SlowDisk {
    fn default() -> SlowDisk {
        SlowDisk {
            bandwidth: AtomicU64::new(0),
            next_free: Mutex::new(Instant::now()),
        }
    }
}

impl SlowDisk {
    pub(crate) fn set_bandwidth(&self, bytes_per_sec: u64) {
        self.bandwidth.store(bytes_per_sec, Ordering::Relaxed);
    }

    /// Waits for `len` bytes' turn on the disk.
    pub(crate) fn write(&self, len: usize) {
        let bw = self.bandwidth.load(Ordering::Relaxed);
        if bw == 0 || len == 0 {
            return;
        }
        let cost = Duration::from_secs_f64(len as f64 / bw as f64);
        let end = {
            let mut next = self.next_free.lock().unwrap_or_else(|e| e.into_inner());
            let start = (*next).max(Instant::now());
            *next = start + cost;
            *next
        };
        let now = Instant::now();
        if end > now {
            std::thread::sleep(end - now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writers_share_the_bandwidth() {
        let d = SlowDisk::default();
        let t = Instant::now();
        d.write(1 << 20);
        assert!(t.elapsed() < Duration::from_millis(50), "unthrottled");
        d.set_bandwidth(10 << 20);
        let t = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| d.write(256 << 10));
            }
        });
        // 1 MiB at 10 MiB/s: 100 ms in all, not 25 ms.
        assert!(
            t.elapsed() >= Duration::from_millis(95),
            "{:?}",
            t.elapsed()
        );
    }
}
