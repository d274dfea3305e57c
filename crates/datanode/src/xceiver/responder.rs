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

use std::io::BufReader;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;

use ferrodfs_proto::hdfs::Status;
use ferrodfs_transfer::ack::{NodeReply, PipelineAck};

use crate::storage::AckHandle;

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
}

/// The mirror side of a responder.
pub(crate) struct MirrorIn<'a> {
    pub input: BufReader<TcpStream>,
    pub error: &'a AtomicBool,
    pub addr: &'a str,
}

impl MirrorIn<'_> {
    fn fail(&self, why: &dyn std::fmt::Display) {
        if !self.error.swap(true, Ordering::SeqCst) {
            tracing::info!(mirror = self.addr, error = %why, "mirror failed; acking it as ERROR");
        }
        let _ = self.input.get_ref().shutdown(Shutdown::Both);
    }
}

/// Runs until the last packet is acked, the queue closes, or upstream fails.
pub(crate) fn run(
    queue: Receiver<Pending>,
    upstream: &TcpStream,
    mut mirror: Option<MirrorIn<'_>>,
    acker: Option<AckHandle>,
) {
    let mut out = upstream;
    for p in queue {
        let mut replies = vec![NodeReply::new(p.status)];
        if p.status == Status::Success {
            if let Some(m) = mirror.as_mut() {
                if !m.error.load(Ordering::SeqCst) {
                    match PipelineAck::read_from(&mut m.input) {
                        Ok(ack) if ack.seqno == p.seqno => {
                            if ack.replies.first().map(|r| r.status) == Some(Status::ErrorChecksum)
                            {
                                tracing::warn!(
                                    mirror = m.addr,
                                    seqno = p.seqno,
                                    "mirror reports a corrupt packet from this node; shutting down"
                                );
                                let _ = upstream.shutdown(Shutdown::Both);
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
        if let Err(e) = PipelineAck::new(p.seqno, replies).write_to(&mut out) {
            tracing::info!(seqno = p.seqno, error = %e, "cannot send ack upstream");
            let _ = upstream.shutdown(Shutdown::Both);
            return;
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
