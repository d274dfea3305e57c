//! Slow DataNodes downstream in a pipeline, found from the pipeline acks (Hadoop's
//! `DataNodePeerMetrics` fed by the PacketResponder).
//!
//! Every ack this node sends upstream carries `downstreamAckTimeNanos`: how long it
//! waited for its mirror's ack after queueing the packet (0 at the end of the
//! pipeline). A node then knows what its mirror itself took: its own wait minus the
//! time the mirror reports for the nodes after it. A mirror whose own share exceeds
//! `dfs.datanode.slow.io.warning.threshold.ms` is logged ("Slow PacketResponder")
//! and counted here, per transfer address ([`DataNode::slow_peers`](crate::DataNode::slow_peers)).
//! A slow disk and a slow network look the same from upstream: both delay the ack.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// `dfs.datanode.slow.io.warning.threshold.ms`.
pub const DFS_DATANODE_SLOW_IO_WARNING_THRESHOLD_KEY: &str =
    "dfs.datanode.slow.io.warning.threshold.ms";
/// Default of [`DFS_DATANODE_SLOW_IO_WARNING_THRESHOLD_KEY`] (300 ms).
pub const DFS_DATANODE_SLOW_IO_WARNING_THRESHOLD_DEFAULT: Duration = Duration::from_millis(300);

/// Slow acks seen from one downstream node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlowPeer {
    /// Packets whose ack the node alone delayed past the threshold.
    pub slow_acks: u64,
    /// The longest of those delays.
    pub max: Duration,
}

/// Slow downstream nodes by transfer address.
#[derive(Debug)]
pub(crate) struct SlowPeers {
    threshold: Duration,
    peers: Mutex<HashMap<String, SlowPeer>>,
}

impl SlowPeers {
    pub(crate) fn new(threshold: Duration) -> SlowPeers {
        SlowPeers {
            threshold,
            peers: Mutex::new(HashMap::new()),
        }
    }

    /// The mirror at `addr` took `own` (its share of an ack's delay) for `seqno`.
    pub(crate) fn observe(&self, addr: &str, seqno: i64, own: Duration) {
        if own <= self.threshold {
            return;
        }
        tracing::warn!(
            mirror = addr,
            seqno,
            "Slow PacketResponder: downstream node took {}ms to ack (threshold={}ms)",
            own.as_millis(),
            self.threshold.as_millis()
        );
        let mut p = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        let e = p.entry(addr.to_string()).or_default();
        e.slow_acks += 1;
        e.max = e.max.max(own);
    }

    /// Every downstream node found slow so far.
    pub(crate) fn snapshot(&self) -> HashMap<String, SlowPeer> {
        self.peers.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_delays_past_the_threshold_count() {
        let s = SlowPeers::new(Duration::from_millis(300));
        s.observe("a:1", 1, Duration::from_millis(299));
        s.observe("a:1", 2, Duration::from_millis(400));
        s.observe("a:1", 3, Duration::from_millis(350));
        let snap = s.snapshot();
        assert_eq!(snap.len(), 1);
        assert_eq!(
            snap["a:1"],
            SlowPeer {
                slow_acks: 2,
                max: Duration::from_millis(400)
            }
        );
    }
}
