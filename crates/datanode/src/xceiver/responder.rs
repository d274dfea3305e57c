//! `PacketResponder`: sends one `PipelineAck` upstream per packet, in order
//! (heartbeats and the last empty packet included), merging the mirror's ack
//! with this node's status.
//!
//! * Replies run from this node to the end of the pipeline: `[mine,
//!   mirror's replies...]`.
//! * If the mirror is gone (a write or ack read failed), the ack is
//!   `[SUCCESS, ERROR]`: this node is fine, its mirror is bad. Later nodes are
//!   left out, as Hadoop does: clients scan replies from the end, so the
//!   first non-SUCCESS from the end must be the mirror.
//! * If this node found a corrupt packet, the ack is `[ERROR_CHECKSUM]` and
//!   the responder stops.
//! * If the mirror reports ERROR_CHECKSUM, the data this node forwarded was
//!   corrupt: the responder cuts the upstream connection without an ack so
//!   that the client drops this node, not the mirror (Hadoop's rule).
//! * The mirror's acks are read by a thread of their own
//!   ([`read_mirror_acks`]), so an OOB ack from downstream (a node shutting down
//!   for a restart) is relayed upstream as soon as it arrives, not when the next
//!   packet's ack is due. After an OOB ack (relayed or this node's own, see
//!   [`oob`](super::oob)) the responder sends nothing more.
//! * Each of this node's replies carries its ECN signal
//!   ([`ecn`](super::ecn)).

use std::io::BufReader;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};

use ferrodfs_proto::hdfs::Status;
use ferrodfs_transfer::ack::{NodeReply, PipelineAck};

use super::oob::{oob_status, UpstreamAcks};
use super::slow_peers::SlowPeers;
use crate::storage::AckHandle;
use std::time::{Duration, Instant};

/// A packet waiting for its ack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pending {
    /// The packet's seqno (−1 for a heartbeat).
    pub seqno: i64,
    /// The block's last packet: the responder stops after its ack.
    pub last: bool,
    /// Offset in the block after the packet's data.
    pub end: u64,
    /// This node's status for the packet.
    pub status: Status,
    /// When the packet was queued for its ack (after this node stored it).
    pub queued: Instant,
}

/// What the mirror's ack reader hands the responder.
pub(crate) type MirrorAck = Result<PipelineAck, String>;

/// The mirror side of a responder: acks read by [`read_mirror_acks`].
pub(crate) struct MirrorIn<'a> {
    pub acks: Receiver<MirrorAck>,
    pub stream: &'a TcpStream,
    pub error: &'a AtomicBool,
    pub addr: &'a str,
}

impl MirrorIn<'_> {
    fn fail(&self, why: &dyn std::fmt::Display) {
        if !self.error.swap(true, Ordering::SeqCst) {
            tracing::info!(mirror = self.addr, error = %why, "mirror failed; acking it as ERROR");
        }
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    fn next_ack(&self) -> MirrorAck {
        self.acks
            .recv()
            .unwrap_or_else(|_| Err("mirror ack reader ended".to_string()))
    }
}

/// Reads the mirror's acks until its connection ends: OOB acks are relayed upstream
/// at once (`[SUCCESS, downstream...]`, Hadoop's "Relaying an out of band ack"),
/// the others go to the responder in order.
pub(crate) fn read_mirror_acks(
    mut input: BufReader<TcpStream>,
    upstream: &UpstreamAcks,
    out: Sender<MirrorAck>,
) {
    loop {
        match PipelineAck::read_from(&mut input) {
            Ok(ack) => {
                if let Some(status) = oob_status(&ack) {
                    tracing::info!(?status, "relaying an out of band ack");
                    if let Err(e) = upstream.send_oob(status, &ack.replies) {
                        tracing::info!(error = %e, "cannot relay the out of band ack");
                    }
                    continue;
                }
                if out.send(Ok(ack)).is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = out.send(Err(e.to_string()));
                return;
            }
        }
    }
}

/// Runs until the last packet is acked, the queue closes, upstream fails, or an
/// OOB ack went upstream. `ecn` is this node's congestion signal for each ack.
pub(crate) fn run(
    queue: Receiver<Pending>,
    upstream: &UpstreamAcks,
    upstream_socket: &TcpStream,
    mirror: Option<MirrorIn<'_>>,
    acker: Option<AckHandle>,
    ecn: &dyn Fn() -> ferrodfs_transfer::ack::Ecn,
    slow: &SlowPeers,
) {
    for p in queue {
        // What this node waited for its mirror's ack (0 at the end of the pipeline).
        let mut waited = Duration::ZERO;
        let mut replies = vec![NodeReply {
            status: p.status,
            ecn: ecn(),
        }];
        if p.status == Status::Success {
            if let Some(m) = mirror.as_ref() {
                if !m.error.load(Ordering::SeqCst) {
                    match m.next_ack() {
                        Ok(ack) if ack.seqno == p.seqno => {
                            waited = p.queued.elapsed();
                            let theirs = Duration::from_nanos(ack.downstream_ack_time_nanos);
                            slow.observe(m.addr, p.seqno, waited.saturating_sub(theirs));
                            if ack.replies.first().map(|r| r.status) == Some(Status::ErrorChecksum)
                            {
                                tracing::warn!(
                                    mirror = m.addr,
                                    seqno = p.seqno,
                                    "mirror reports a corrupt packet from this node; shutting down"
                                );
                                let _ = upstream_socket.shutdown(Shutdown::Both);
                                return;
                            }
                            replies.extend(ack.replies);
                        }
                        Ok(ack) => m.fail(&format_args!(
                            "ack seqno {} where {} was expected",
                            ack.seqno, p.seqno
                        )),
                        Err(e) => m.fail(&e),
                    }
                }
                if m.error.load(Ordering::SeqCst) {
                    replies = vec![
                        NodeReply::new(Status::Success),
                        NodeReply::new(Status::Error),
                    ];
                }
            }
        }
        let ok = replies.iter().all(|r| r.status == Status::Success);
        let mut ack = PipelineAck::new(p.seqno, replies);
        ack.downstream_ack_time_nanos = waited.as_nanos() as u64;
        match upstream.send(&ack) {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(
                    seqno = p.seqno,
                    "an out of band ack went upstream; responder stops"
                );
                return;
            }
            Err(e) => {
                tracing::info!(seqno = p.seqno, error = %e, "cannot send ack upstream");
                let _ = upstream_socket.shutdown(Shutdown::Both);
                return;
            }
        }
        if ok && p.seqno >= 0 {
            if let Some(a) = &acker {
                // Fails only once the replica is finalized or superseded.
                let _ = a.set_bytes_acked(p.end);
            }
        }
        if p.last || p.status != Status::Success {
            return;
        }
    }
}
