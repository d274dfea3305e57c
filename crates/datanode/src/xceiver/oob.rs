//! Out-of-band (OOB) acks: the acks a DataNode sends upstream outside the packet
//! sequence, as Hadoop's `PacketResponder.sendOOBResponse` does.
//!
//! * [`UpstreamAcks`]: the upstream half of a client write, shared by the
//!   [`responder`](super::responder) (one ack per packet), the mirror's ack reader
//!   (relaying a downstream node's OOB ack) and a shutdown for upgrade (this node's
//!   own OOB ack). Acks are written whole under one lock, so they never interleave.
//!   Once an OOB ack went up, nothing more is sent: the writer is rebuilding its
//!   pipeline.
//! * [`Writers`]: every client write this node serves, so that
//!   [`Writers::send_oob_restart`] reaches all of them (Hadoop's
//!   `DataXceiverServer.sendOOBToPeers`).
//!
//! An OOB ack carries seqno [`OOB_SEQNO`] (Hadoop's `PipelineAck.UNKOWN_SEQNO`, −2)
//! and one reply: `OOB_RESTART` for this node. A node relaying a downstream OOB ack
//! prepends its own SUCCESS, so the client learns which node of the pipeline is
//! restarting from the reply's position.

use std::collections::HashMap;
use std::net::TcpStream;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ferrodfs_proto::hdfs::Status;
use ferrodfs_transfer::ack::{NodeReply, PipelineAck};

/// `PipelineAck.UNKOWN_SEQNO`: the seqno of an OOB ack.
pub const OOB_SEQNO: i64 = -2;

/// `dfs.datanode.oob.timeout-ms`: per OOB status (OOB_RESTART, three reserved), how
/// long a node waits for its turn to send the OOB ack.
pub const DFS_DATANODE_OOB_TIMEOUT_KEY: &str = "dfs.datanode.oob.timeout-ms";
/// Default of [`DFS_DATANODE_OOB_TIMEOUT_KEY`]: `1500,0,0,0`; the first is OOB_RESTART's.
pub const DFS_DATANODE_OOB_TIMEOUT_DEFAULT: Duration = Duration::from_millis(1500);

/// True for the statuses Hadoop reserves for OOB acks (OOB_RESTART and the three
/// reserved ones).
pub fn is_oob_status(s: Status) -> bool {
    matches!(
        s,
        Status::OobRestart | Status::OobReserved1 | Status::OobReserved2 | Status::OobReserved3
    )
}

/// The OOB status an ack carries, if it is an OOB ack (`PipelineAck.getOOBStatus`).
pub fn oob_status(ack: &PipelineAck) -> Option<Status> {
    if ack.seqno != OOB_SEQNO {
        return None;
    }
    ack.replies
        .iter()
        .map(|r| r.status)
        .find(|s| is_oob_status(*s))
}

/// The upstream side of one client write: acks go out one at a time.
#[derive(Debug)]
pub(crate) struct UpstreamAcks {
    stream: TcpStream,
    /// True once an OOB ack went up; later acks are dropped.
    oob_sent: Mutex<bool>,
}

impl UpstreamAcks {
    pub(crate) fn new(stream: TcpStream) -> UpstreamAcks {
        UpstreamAcks {
            stream,
            oob_sent: Mutex::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, bool> {
        self.oob_sent.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends a packet's ack; `Ok(false)` if an OOB ack already went up (the caller
    /// stops acking).
    pub(crate) fn send(&self, ack: &PipelineAck) -> std::io::Result<bool> {
        let sent = self.lock();
        if *sent {
            return Ok(false);
        }
        ack.write_to(&mut &self.stream)?;
        Ok(true)
    }

    /// True once an OOB ack went up.
    pub(crate) fn oob_sent(&self) -> bool {
        *self.lock()
    }

    /// Sends an OOB ack: this node's `status` (`downstream` empty), or a relayed one
    /// (`[SUCCESS, downstream...]`). At most one OOB ack goes up per write.
    pub(crate) fn send_oob(&self, status: Status, downstream: &[NodeReply]) -> std::io::Result<()> {
        self.send_oob_within(status, downstream, None)
    }

    /// [`UpstreamAcks::send_oob`], waiting at most `turn` for an ack being sent to
    /// finish (Hadoop's "Could not send OOB reponse in time").
    pub(crate) fn send_oob_within(
        &self,
        status: Status,
        downstream: &[NodeReply],
        turn: Option<Duration>,
    ) -> std::io::Result<()> {
        let mut sent = match turn {
            None => self.lock(),
            Some(t) => {
                let deadline = std::time::Instant::now() + t;
                loop {
                    match self.oob_sent.try_lock() {
                        Ok(g) => break g,
                        Err(std::sync::TryLockError::Poisoned(p)) => break p.into_inner(),
                        Err(std::sync::TryLockError::WouldBlock) => {
                            if std::time::Instant::now() >= deadline {
                                return Err(std::io::Error::new(
                                    std::io::ErrorKind::TimedOut,
                                    format!("Could not send OOB response in time: {status:?}"),
                                ));
                            }
                            std::thread::sleep(Duration::from_millis(1));
                        }
                    }
                }
            }
        };
        if *sent {
            return Ok(());
        }
        let replies = if downstream.is_empty() {
            vec![NodeReply::new(status)]
        } else {
            let mut r = vec![NodeReply::new(Status::Success)];
            r.extend_from_slice(downstream);
            r
        };
        *sent = true;
        PipelineAck::new(OOB_SEQNO, replies).write_to(&mut &self.stream)
    }
}

/// A client write registered in [`Writers`].
#[derive(Debug, Clone)]
pub(crate) struct WriterEntry {
    pub pool_id: String,
    pub block_id: i64,
    pub acks: Arc<UpstreamAcks>,
}

/// The client writes this node serves now.
#[derive(Debug, Default)]
pub(crate) struct Writers {
    state: Mutex<(u64, HashMap<u64, WriterEntry>)>,
}

/// Unregisters its write when dropped.
pub(crate) struct WriterGuard<'a> {
    writers: &'a Writers,
    id: u64,
}

impl Drop for WriterGuard<'_> {
    fn drop(&mut self) {
        self.writers.lock().1.remove(&self.id);
    }
}

impl Writers {
    fn lock(&self) -> MutexGuard<'_, (u64, HashMap<u64, WriterEntry>)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tracks a write until the guard drops.
    pub(crate) fn register(&self, entry: WriterEntry) -> WriterGuard<'_> {
        let mut st = self.lock();
        st.0 += 1;
        let id = st.0;
        st.1.insert(id, entry);
        WriterGuard { writers: self, id }
    }

    /// The writes being served now.
    pub(crate) fn current(&self) -> Vec<WriterEntry> {
        self.lock().1.values().cloned().collect()
    }

    /// Sends an OOB_RESTART ack to every writer (Hadoop's `sendOOBToPeers`), waiting
    /// at most `turn` per writer for its turn on the socket; returns the writes.
    pub(crate) fn send_oob_restart(&self, turn: Duration) -> Vec<WriterEntry> {
        let writers = self.current();
        for w in &writers {
            match w.acks.send_oob_within(Status::OobRestart, &[], Some(turn)) {
                Ok(()) => tracing::info!(
                    block = w.block_id,
                    "sent an out of band ack of type OOB_RESTART"
                ),
                Err(e) => {
                    tracing::info!(block = w.block_id, error = %e, "could not send OOB_RESTART")
                }
            }
        }
        writers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn oob_acks_are_recognised_and_end_the_ack_stream() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (server, _) = l.accept().unwrap();
        let up = UpstreamAcks::new(server);
        let ok = PipelineAck::new(0, vec![NodeReply::new(Status::Success)]);
        assert!(up.send(&ok).unwrap());
        up.send_oob(Status::OobRestart, &[NodeReply::new(Status::OobRestart)])
            .unwrap();
        up.send_oob(Status::OobRestart, &[]).unwrap(); // only one goes up
        assert!(!up.send(&ok).unwrap());
        assert!(up.oob_sent());
        drop(up);
        let mut r = &client;
        assert_eq!(PipelineAck::read_from(&mut r).unwrap(), ok);
        let oob = PipelineAck::read_from(&mut r).unwrap();
        assert_eq!(oob.seqno, OOB_SEQNO);
        assert_eq!(
            oob.replies.iter().map(|r| r.status).collect::<Vec<_>>(),
            vec![Status::Success, Status::OobRestart]
        );
        assert_eq!(oob_status(&oob), Some(Status::OobRestart));
        assert_eq!(oob_status(&ok), None);
        assert!(
            PipelineAck::read_from(&mut r).is_err(),
            "nothing after the OOB ack"
        );
    }
}
