//! The ResponseProcessor: one thread per block (per pipeline) reading the pipeline
//! acks, as in Hadoop's `DataStreamer.ResponseProcessor`.
//!
//! For every ack: replies are checked from the last node to the first; a congested
//! node (ECN) asks the streamer to back off; a restarting node (`OOB_RESTART`) is
//! waited for when it is the only node or a local one, else dropped like any node
//! whose status is not SUCCESS. A heartbeat ack (seqno -1) ends there. Otherwise the
//! ack's seqno must be the head of `ackQueue`, which is popped (waking the writer).
//! The thread ends after the ack of the block's last packet, on an error (recorded
//! for the streamer, who runs pipeline recovery), or when the streamer shuts the
//! socket down.

use super::queue::{PipelineError, Queues};
use crate::datanode::is_local;
use ferrodfs_proto::hdfs::{DatanodeInfoProto, Status};
use ferrodfs_transfer::ack::{Ecn, PipelineAck};
use ferrodfs_transfer::packet::HEART_BEAT_SEQNO;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Acks slower than `dfs.client.slow.io.warning.threshold.ms` this process's writers
/// have waited for.
static SLOW_ACKS: AtomicU64 = AtomicU64::new(0);

/// Acks (heartbeats aside) that took longer than `dfs.client.slow.io.warning.threshold.ms`
/// to arrive, for every writer of this process so far (for tests and benchmarks).
pub fn slow_acks() -> u64 {
    SLOW_ACKS.load(Ordering::Relaxed)
}

/// Acks with an ECN CONGESTED reply this process's writers have received.
static CONGESTED_ACKS: AtomicU64 = AtomicU64::new(0);

/// Acks with an ECN CONGESTED reply received by every writer of this process so far
/// (for tests and benchmarks).
pub fn congested_acks() -> u64 {
    CONGESTED_ACKS.load(Ordering::Relaxed)
}

/// What one ack's replies say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckVerdict {
    /// Every node succeeded; `congested` if any node signalled congestion.
    Success { congested: bool },
    /// Node `i` is restarting (OOB).
    Restarting(usize),
    /// Node `i` failed with `status`.
    BadNode(usize, Status),
}

/// Checks an ack's replies, last node first (Hadoop's order: the deepest failure is
/// the one to blame, since upstream nodes report a downstream failure as their own).
pub fn check_replies(ack: &PipelineAck) -> AckVerdict {
    let mut congested = false;
    for (i, reply) in ack.replies.iter().enumerate().rev() {
        if reply.ecn == Ecn::Congested {
            congested = true;
        }
        if reply.status == Status::OobRestart {
            return AckVerdict::Restarting(i);
        }
        if reply.status != Status::Success {
            return AckVerdict::BadNode(i, reply.status);
        }
    }
    AckVerdict::Success { congested }
}

/// A running ResponseProcessor.
#[derive(Debug)]
pub struct ResponseProcessor {
    closed: Arc<AtomicBool>,
    stream: TcpStream,
    handle: Option<JoinHandle<()>>,
}

impl ResponseProcessor {
    /// Starts reading acks from `stream` (a clone of the pipeline's socket).
    pub fn start(
        stream: TcpStream,
        queues: Arc<Queues>,
        nodes: Vec<DatanodeInfoProto>,
        block: String,
        restart_timeout: Duration,
        slow_threshold: Duration,
    ) -> std::io::Result<ResponseProcessor> {
        let closed = Arc::new(AtomicBool::new(false));
        let reader = stream.try_clone()?;
        let handle = thread::Builder::new()
            .name(format!("ResponseProcessor for block {block}"))
            .spawn({
                let closed = closed.clone();
                move || {
                    run(
                        reader,
                        &queues,
                        &nodes,
                        &block,
                        (restart_timeout, slow_threshold),
                        &closed,
                    )
                }
            })?;
        Ok(ResponseProcessor {
            closed,
            stream,
            handle: Some(handle),
        })
    }

    /// Waits for the thread to end by itself (after the last packet's ack or an error).
    pub fn join(mut self) {
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }

    /// Stops the thread: marks it closed (so the read error that follows is not a
    /// pipeline failure), shuts the socket down and joins.
    pub fn close(mut self) {
        self.closed.store(true, Ordering::SeqCst);
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn run(
    mut stream: TcpStream,
    queues: &Queues,
    nodes: &[DatanodeInfoProto],
    block: &str,
    (restart_timeout, slow_threshold): (Duration, Duration),
    closed: &AtomicBool,
) {
    loop {
        let begin = Instant::now();
        let ack = match PipelineAck::read_from(&mut stream) {
            Ok(ack) => {
                let took = begin.elapsed();
                if took > slow_threshold && ack.seqno != HEART_BEAT_SEQNO {
                    SLOW_ACKS.fetch_add(1, Ordering::Relaxed);
                    let targets: Vec<String> =
                        nodes.iter().map(crate::datanode::node_name).collect();
                    tracing::warn!(
                        "Slow ReadProcessor read fields for block {block} took {}ms \
                         (threshold={}ms); ack: seqno {}, downstream ack time {}ns, targets: {targets:?}",
                        took.as_millis(),
                        slow_threshold.as_millis(),
                        ack.seqno,
                        ack.downstream_ack_time_nanos
                    );
                }
                ack
            }
            Err(e) => {
                if !closed.load(Ordering::SeqCst) {
                    tracing::warn!(block, error = %e, "reading pipeline ack failed");
                    // Hadoop: markFirstNodeIfNotMarked.
                    queues.set_error(PipelineError {
                        bad_node: Some(0),
                        restarting: None,
                        reason: format!("reading ack: {e}"),
                    });
                }
                return;
            }
        };
        match check_replies(&ack) {
            AckVerdict::Success { congested } => {
                // Hadoop: a congested ack asks for a back-off; any other ack ends the
                // congestion and resets the growing back-off.
                let mut s = queues.lock();
                s.congested = congested;
                if congested {
                    CONGESTED_ACKS.fetch_add(1, Ordering::Relaxed);
                } else {
                    s.last_congestion_backoff = Duration::ZERO;
                }
            }
            AckVerdict::Restarting(i) => {
                let wait =
                    nodes.len() == 1 || nodes.get(i).is_some_and(|n| is_local(&n.id.ip_addr));
                tracing::info!(block, node = i, wait, "DataNode is restarting");
                queues.set_error(PipelineError {
                    bad_node: (!wait).then_some(i),
                    restarting: wait.then(|| (i, Instant::now() + restart_timeout)),
                    reason: format!("DataNode {i} of the pipeline is restarting"),
                });
                return;
            }
            AckVerdict::BadNode(i, status) => {
                tracing::warn!(block, node = i, ?status, "bad ack from the pipeline");
                queues.set_error(PipelineError {
                    bad_node: Some(i),
                    restarting: None,
                    reason: format!("bad response {status:?} from DataNode {i}"),
                });
                return;
            }
        }
        if ack.seqno == HEART_BEAT_SEQNO {
            continue;
        }
        match queues.acked(ack.seqno) {
            Ok(packet) => {
                if packet.last_packet_in_block {
                    return;
                }
            }
            Err(m) => {
                tracing::warn!(block, ?m, "ack out of order");
                queues.set_error(PipelineError {
                    bad_node: Some(0),
                    restarting: None,
                    reason: format!("expected ack for seqno {:?}, got {}", m.expected, m.got),
                });
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrodfs_transfer::ack::NodeReply;

    fn ack(replies: &[(Status, Ecn)]) -> PipelineAck {
        PipelineAck::new(
            3,
            replies
                .iter()
                .map(|&(status, ecn)| NodeReply { status, ecn })
                .collect(),
        )
    }

    #[test]
    fn replies_are_checked_from_the_last_node() {
        use Status::*;
        let ok = Ecn::Disabled;
        assert_eq!(
            check_replies(&ack(&[(Success, ok), (Success, ok)])),
            AckVerdict::Success { congested: false }
        );
        assert_eq!(
            check_replies(&ack(&[(Success, Ecn::Congested), (Success, ok)])),
            AckVerdict::Success { congested: true }
        );
        // Two failures: the deeper one is blamed.
        assert_eq!(
            check_replies(&ack(&[(Error, ok), (ErrorChecksum, ok), (Success, ok)])),
            AckVerdict::BadNode(1, ErrorChecksum)
        );
        assert_eq!(
            check_replies(&ack(&[(Success, ok), (OobRestart, ok)])),
            AckVerdict::Restarting(1)
        );
    }
}
