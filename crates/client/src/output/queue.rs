//! `dataQueue` and `ackQueue` under one lock, with the pipeline's error state: what the
//! writer, the DataStreamer and the ResponseProcessor share.
//!
//! * The writer appends to `data` ([`Queues::enqueue`]) and blocks while `data` and
//!   `ack` together hold `max_in_flight` packets; `hflush` waits for an acked seqno.
//! * The DataStreamer moves the head of `data` to the tail of `ack` just before it
//!   writes it ([`Queues::move_to_ack`]).
//! * The ResponseProcessor pops the head of `ack` when the matching ack arrives
//!   ([`Queues::acked`]); a mismatched seqno is a protocol error.
//! * Pipeline recovery puts every unacked packet back at the front of `data`, in order
//!   ([`Queues::requeue_unacked`]), so nothing acknowledged is resent and nothing
//!   unacknowledged is lost.
//!
//! Every change notifies all waiters (one condition variable, like Hadoop's
//! `dataQueue.notifyAll()`).

use super::packet::Packet;
use crate::{Error, Result};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What went wrong in the pipeline, waiting for the DataStreamer to handle it
/// (Hadoop's `DataStreamer.ErrorState`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PipelineError {
    /// Index in the pipeline of the node to drop.
    pub bad_node: Option<usize>,
    /// A node that announced a restart (OOB ack): index, and until when it is waited for.
    pub restarting: Option<(usize, Instant)>,
    /// Why (for logs and the final error).
    pub reason: String,
}

/// The shared state. Fields are public to the output modules; all access goes
/// through [`Queues::lock`].
#[derive(Debug)]
pub struct QueueState {
    pub data: VecDeque<Arc<Packet>>,
    pub ack: VecDeque<Arc<Packet>>,
    pub last_queued_seqno: i64,
    pub last_acked_seqno: i64,
    /// The writer has queued everything (close): the streamer ends when drained.
    pub closing: bool,
    /// The streamer has stopped; nothing more will be acked.
    pub stopped: bool,
    /// The streamer's fatal error, handed once to the writer.
    pub failure: Option<Error>,
    /// The streamer stopped on a failure (stays set after `failure` is taken).
    pub failed: bool,
    /// A pipeline failure not yet handled by the streamer.
    pub error: Option<PipelineError>,
    /// Set by the ResponseProcessor when an ack carried a congestion signal, cleared
    /// by an ack without one.
    pub congested: bool,
    /// The DataStreamer's last congestion back-off (Hadoop's
    /// `lastCongestionBackoffTime`); an ack without congestion resets it.
    pub last_congestion_backoff: Duration,
    /// Writers blocked on a full queue (tests wait on it instead of sleeping).
    pub writers_waiting: usize,
    /// Bytes of the current block acknowledged by the whole pipeline.
    pub bytes_acked: i64,
    /// A block was added since the last `fsync` to the NameNode.
    pub persist_blocks: bool,
    /// The writer has called hflush/hsync (the replace-datanode policy counts it).
    pub hflushed: bool,
}

/// The queues and their condition variable.
#[derive(Debug)]
pub struct Queues {
    state: Mutex<QueueState>,
    cond: Condvar,
    max_in_flight: usize,
}

impl Queues {
    pub fn new(max_in_flight: usize) -> Queues {
        Queues {
            state: Mutex::new(QueueState {
                data: VecDeque::new(),
                ack: VecDeque::new(),
                last_queued_seqno: -1,
                last_acked_seqno: -1,
                closing: false,
                stopped: false,
                failure: None,
                failed: false,
                error: None,
                congested: false,
                last_congestion_backoff: Duration::ZERO,
                writers_waiting: 0,
                bytes_acked: 0,
                persist_blocks: false,
                hflushed: false,
            }),
            cond: Condvar::new(),
            max_in_flight: max_in_flight.max(1),
        }
    }

    /// Locks the state (a poisoned lock is taken over: every section leaves it whole).
    pub fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes every waiter.
    pub fn notify(&self) {
        self.cond.notify_all();
    }

    /// Waits on the condition for at most `timeout`.
    pub fn wait_timeout<'a>(
        &self,
        guard: MutexGuard<'a, QueueState>,
        timeout: Duration,
    ) -> MutexGuard<'a, QueueState> {
        match self.cond.wait_timeout(guard, timeout) {
            Ok((g, _)) => g,
            Err(p) => p.into_inner().0,
        }
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, QueueState>) -> MutexGuard<'a, QueueState> {
        self.cond.wait(guard).unwrap_or_else(|p| p.into_inner())
    }

    /// The writer's side: appends `packet` to `dataQueue`, first waiting while the
    /// queues hold `max_in_flight` packets. Fails if the streamer has stopped.
    pub fn enqueue(&self, packet: Packet) -> Result<()> {
        let mut s = self.lock();
        while !s.stopped && s.data.len() + s.ack.len() >= self.max_in_flight {
            s.writers_waiting += 1;
            s = self.wait(s);
            s.writers_waiting -= 1;
        }
        if s.stopped {
            return Err(s.failure.take().unwrap_or(Error::StreamClosed));
        }
        s.last_queued_seqno = packet.seqno;
        s.data.push_back(Arc::new(packet));
        drop(s);
        self.notify();
        Ok(())
    }

    /// The writer's side: waits until every packet up to `seqno` is acked.
    pub fn wait_for_acked(&self, seqno: i64) -> Result<()> {
        let mut s = self.lock();
        while !s.stopped && s.last_acked_seqno < seqno {
            s = self.wait(s);
        }
        if s.last_acked_seqno >= seqno {
            Ok(())
        } else {
            Err(s.failure.take().unwrap_or(Error::StreamClosed))
        }
    }

    /// The writer's side: marks the stream closing and waits for the streamer to stop.
    /// Returns the streamer's failure, if it had one.
    pub fn close_and_wait(&self) -> Result<()> {
        let mut s = self.lock();
        s.closing = true;
        self.notify();
        while !s.stopped {
            s = self.wait(s);
        }
        match s.failure.take() {
            Some(e) => Err(e),
            None if s.failed => Err(Error::StreamClosed),
            None => Ok(()),
        }
    }

    /// The streamer's side: moves the head of `dataQueue` (which must be `packet`) to
    /// the tail of `ackQueue`.
    pub fn move_to_ack(&self, packet: &Arc<Packet>) {
        let mut s = self.lock();
        if s.data.front().is_some_and(|p| Arc::ptr_eq(p, packet)) {
            s.data.pop_front();
            s.ack.push_back(packet.clone());
        }
        drop(s);
        self.notify();
    }

    /// The ResponseProcessor's side: an ack for `seqno` arrived. Pops the head of
    /// `ackQueue` if it is that packet and returns it.
    pub fn acked(&self, seqno: i64) -> Result<Arc<Packet>, AckMismatch> {
        let mut s = self.lock();
        let expected = s.ack.front().map(|p| p.seqno);
        if expected != Some(seqno) {
            return Err(AckMismatch {
                expected,
                got: seqno,
            });
        }
        let packet = s.ack.pop_front().ok_or(AckMismatch {
            expected,
            got: seqno,
        })?;
        s.last_acked_seqno = seqno;
        s.bytes_acked = s.bytes_acked.max(packet.last_byte_offset_block());
        drop(s);
        self.notify();
        Ok(packet)
    }

    /// Records a pipeline failure (the first one wins until the streamer handles it).
    pub fn set_error(&self, error: PipelineError) {
        let mut s = self.lock();
        if s.error.is_none() {
            s.error = Some(error);
        }
        drop(s);
        self.notify();
    }

    /// Pipeline recovery: every unacked packet back to the front of `dataQueue`, in
    /// seqno order. Returns how many moved.
    pub fn requeue_unacked(&self) -> usize {
        let mut s = self.lock();
        let n = s.ack.len();
        while let Some(p) = s.ack.pop_back() {
            s.data.push_front(p);
        }
        drop(s);
        self.notify();
        n
    }

    /// The streamer stops: record `failure` (if any) for the writer and wake it.
    pub fn stop(&self, failure: Option<Error>) {
        let mut s = self.lock();
        s.stopped = true;
        s.failed |= failure.is_some();
        if s.failure.is_none() {
            s.failure = failure;
        }
        drop(s);
        self.notify();
    }
}

/// An ack whose seqno is not the head of `ackQueue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckMismatch {
    pub expected: Option<i64>,
    pub got: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    fn pkt(seqno: i64) -> Packet {
        Packet::empty(seqno, 0, false, false)
    }

    #[test]
    fn writer_blocks_at_max_in_flight_until_an_ack() {
        let q = Arc::new(Queues::new(3));
        for i in 0..3 {
            q.enqueue(pkt(i)).unwrap();
        }
        // Streamer moves two to the ack queue: still 3 in flight.
        for _ in 0..2 {
            let head = q.lock().data.front().cloned().unwrap();
            q.move_to_ack(&head);
        }
        let writer = {
            let q = q.clone();
            thread::Builder::new()
                .name("test writer".into())
                .spawn(move || q.enqueue(pkt(3)))
                .unwrap()
        };
        // The writer cannot get in while 3 are in flight: wait until it is parked,
        // then ack one.
        while q.lock().writers_waiting == 0 {
            thread::yield_now();
        }
        assert!(!writer.is_finished());
        {
            let s = q.lock();
            assert_eq!(s.data.len() + s.ack.len(), 3);
        }
        assert_eq!(q.acked(0).unwrap().seqno, 0);
        writer.join().unwrap().unwrap();
        let s = q.lock();
        assert_eq!(s.data.len() + s.ack.len(), 3);
        assert_eq!(s.last_queued_seqno, 3);
        assert_eq!(s.last_acked_seqno, 0);
    }

    #[test]
    fn acks_must_match_the_head() {
        let q = Queues::new(10);
        for i in 0..2 {
            q.enqueue(pkt(i)).unwrap();
            let head = q.lock().data.front().cloned().unwrap();
            q.move_to_ack(&head);
        }
        assert_eq!(
            q.acked(1).unwrap_err(),
            AckMismatch {
                expected: Some(0),
                got: 1
            }
        );
        q.acked(0).unwrap();
        q.acked(1).unwrap();
        assert_eq!(
            q.acked(2).unwrap_err(),
            AckMismatch {
                expected: None,
                got: 2
            }
        );
    }

    #[test]
    fn requeue_puts_unacked_first_in_order() {
        let q = Queues::new(10);
        for i in 0..5 {
            q.enqueue(pkt(i)).unwrap();
        }
        for _ in 0..3 {
            let head = q.lock().data.front().cloned().unwrap();
            q.move_to_ack(&head);
        }
        q.acked(0).unwrap();
        assert_eq!(q.requeue_unacked(), 2);
        let order: Vec<i64> = q.lock().data.iter().map(|p| p.seqno).collect();
        assert_eq!(order, vec![1, 2, 3, 4]);
        assert!(q.lock().ack.is_empty());
    }

    #[test]
    fn a_stopped_streamer_fails_the_writer_once_then_closed() {
        let q = Arc::new(Queues::new(1));
        q.enqueue(pkt(0)).unwrap();
        let waiter = {
            let q = q.clone();
            thread::Builder::new()
                .name("test flusher".into())
                .spawn(move || q.wait_for_acked(0))
                .unwrap()
        };
        q.stop(Some(Error::AllDataNodesBad { block: "b".into() }));
        assert!(matches!(
            waiter.join().unwrap(),
            Err(Error::AllDataNodesBad { .. })
        ));
        assert!(matches!(q.enqueue(pkt(1)), Err(Error::StreamClosed)));
        let first = PipelineError {
            bad_node: Some(1),
            ..Default::default()
        };
        q.set_error(first.clone());
        q.set_error(PipelineError {
            bad_node: Some(2),
            ..Default::default()
        });
        assert_eq!(q.lock().error, Some(first));
    }
}
