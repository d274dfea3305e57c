//! One accepted connection as the threads share it: the socket, and its output queue.
//!
//! Output rule (Hadoop's `Responder.doRespond`/`processResponse`): whoever has a frame to
//! send (a handler, or the reader for SASL, FATAL and inline answers) writes it straight
//! to the non-blocking socket when nothing is queued and nobody else is writing; the
//! write happens outside the lock, and frames other threads send meanwhile are queued
//! and written by that same thread, all in one write, before it leaves (so concurrent
//! handlers answering on one connection neither wait for each other nor make one
//! syscall each). Only what the socket would not take stays queued, and the Responder
//! looper is asked (once, when that happens) to finish it when the socket becomes
//! writable. Invariant: while nobody is writing, the queue is non-empty exactly while a
//! Responder watch is registered or about to be.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Buf, Bytes};
use ferrodfs_looper::{FdAction, FdEvents, Handler, Looper};

use super::{reader, Shared};

/// Frames gathered into one `writev` by the Responder.
const MAX_IOVECS: usize = 64;

#[derive(Default)]
struct Out {
    queue: VecDeque<Bytes>,
    bytes: usize,
    /// Shut the write side down once the queue drains (after a FATAL answer).
    close_after: bool,
    /// No more output: closed, failed, or a FATAL answer sent.
    done: bool,
    /// The reader stopped reading requests because `bytes` passed the limit.
    read_paused: bool,
    /// When the queue last turned non-empty or last shrank (ms since server start).
    moved_ms: u64,
    /// A thread is writing to the socket without the lock; frames sent meanwhile wait
    /// in `queue` and that thread writes them too before it leaves.
    writing: bool,
}

pub(crate) struct Conn {
    pub id: u64,
    pub stream: TcpStream,
    pub peer: SocketAddr,
    /// The reader looper that owns the read side.
    pub reader: Handler,
    pub shared: Arc<Shared>,
    /// Calls read and not yet answered.
    pub in_flight: AtomicUsize,
    /// Last read or answer, in ms since the server started.
    pub last_active_ms: AtomicU64,
    closed: AtomicBool,
    out: Mutex<Out>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        let out = self.out.get_mut().unwrap_or_else(|p| p.into_inner());
        self.shared
            .metrics
            .pending_output
            .fetch_sub(out.bytes, Ordering::Relaxed);
        self.shared
            .metrics
            .open_connections
            .fetch_sub(1, Ordering::Relaxed);
        self.shared.per_ip.remove(self.peer.ip());
        tracing::debug!(id = self.id, peer = %self.peer, "ipc server: connection closed");
    }
}

/// Writes as much of `buf` as the socket takes without blocking.
fn write_some(mut stream: &TcpStream, buf: &[u8]) -> io::Result<usize> {
    let mut off = 0;
    while off < buf.len() {
        match stream.write(&buf[off..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => off += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(off)
}

/// What a Responder flush left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flushed {
    /// Bytes remain; wait for writability.
    Pending,
    /// Queue empty (or the connection is gone).
    Done,
}

impl Conn {
    pub fn new(
        id: u64,
        stream: TcpStream,
        peer: SocketAddr,
        reader: Handler,
        shared: Arc<Shared>,
    ) -> Conn {
        shared
            .metrics
            .open_connections
            .fetch_add(1, Ordering::Relaxed);
        let now = shared.now_ms();
        Conn {
            id,
            stream,
            peer,
            reader,
            shared,
            in_flight: AtomicUsize::new(0),
            last_active_ms: AtomicU64::new(now),
            closed: AtomicBool::new(false),
            out: Mutex::new(Out::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Out> {
        self.out.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn touch(&self) {
        self.last_active_ms
            .store(self.shared.now_ms(), Ordering::Relaxed);
    }

    /// Closed by [`close`](Self::close) or a write error: the reader should drop it.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Bytes waiting for the Responder.
    pub fn queued_bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Whether answers are queued and none of their bytes went out for `limit_ms`.
    pub fn output_stuck_for(&self, now_ms: u64, limit_ms: u64) -> bool {
        let out = self.lock();
        out.bytes > 0 && now_ms.saturating_sub(out.moved_ms) > limit_ms
    }

    /// Sends one frame (see the module docs).
    pub fn send(self: &Arc<Self>, frame: Bytes) {
        self.send_inner(frame, false);
    }

    /// Sends a last frame, then shuts the write side down.
    pub fn send_last(self: &Arc<Self>, frame: Bytes) {
        self.send_inner(frame, true);
    }

    fn send_inner(self: &Arc<Self>, frame: Bytes, last: bool) {
        let mut out = self.lock();
        if out.done {
            return;
        }
        if last {
            out.close_after = true;
        }
        if !out.queue.is_empty() || out.writing {
            // The Responder (queue non-empty) or the thread writing now sends it.
            self.enqueue(&mut out, frame);
            return;
        }
        // Write without holding the lock, so other threads answering on this
        // connection queue their frames instead of waiting; they go out together next.
        out.writing = true;
        drop(out);
        let mut written = write_some(&self.stream, &frame);
        let mut out = self.lock();
        let mut rest = frame;
        loop {
            match written {
                Ok(n) if n == rest.len() => {}
                Ok(n) => {
                    // The socket is full: the rest goes first, the Responder finishes.
                    let rest = rest.slice(n..);
                    out.moved_ms = self.shared.now_ms();
                    out.bytes += rest.len();
                    self.shared
                        .metrics
                        .pending_output
                        .fetch_add(rest.len(), Ordering::Relaxed);
                    out.queue.push_front(rest);
                    out.writing = false;
                    drop(out);
                    let conn = Arc::clone(self);
                    if !self.shared.responder.post(move || watch(conn)) {
                        // Shutting down: nobody will finish this output.
                        self.close();
                    }
                    return;
                }
                Err(e) => {
                    out.writing = false;
                    tracing::debug!(id = self.id, error = %e, "ipc server: write failed");
                    drop(out);
                    self.close();
                    return;
                }
            }
            if out.done || out.queue.is_empty() {
                break;
            }
            // Frames queued while we wrote: take them all and write them as one.
            let taken: Vec<Bytes> = out.queue.drain(..).collect();
            let len: usize = taken.iter().map(Bytes::len).sum();
            out.bytes -= len;
            self.shared
                .metrics
                .pending_output
                .fetch_sub(len, Ordering::Relaxed);
            drop(out);
            rest = if taken.len() == 1 {
                taken.into_iter().next().unwrap_or_default()
            } else {
                let mut all = bytes::BytesMut::with_capacity(len);
                for b in &taken {
                    all.extend_from_slice(b);
                }
                all.freeze()
            };
            written = write_some(&self.stream, &rest);
            out = self.lock();
        }
        out.writing = false;
        if out.close_after && out.queue.is_empty() && !out.done {
            self.finish_output(&mut out);
        }
        self.resume_reader_if_drained(&mut out);
    }

    /// Lets the reader read again once the output it paused for has drained to half.
    fn resume_reader_if_drained(&self, out: &mut Out) {
        if out.read_paused && out.bytes <= self.shared.config.max_pending_output / 2 {
            out.read_paused = false;
            let id = self.id;
            self.reader.post(move || reader::resume_output(id));
        }
    }

    fn enqueue(&self, out: &mut Out, frame: Bytes) {
        out.bytes += frame.len();
        self.shared
            .metrics
            .pending_output
            .fetch_add(frame.len(), Ordering::Relaxed);
        out.queue.push_back(frame);
    }

    fn finish_output(&self, out: &mut Out) {
        out.done = true;
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Writes queued output (Responder thread).
    pub fn flush(&self) -> Flushed {
        let mut out = self.lock();
        if out.done && out.queue.is_empty() {
            return Flushed::Done;
        }
        let result = loop {
            if out.queue.is_empty() {
                break Flushed::Done;
            }
            let slices: Vec<IoSlice<'_>> = out
                .queue
                .iter()
                .take(MAX_IOVECS)
                .map(|b| IoSlice::new(b))
                .collect();
            let written = (&self.stream).write_vectored(&slices);
            drop(slices);
            match written {
                Ok(0) => {
                    drop(out);
                    self.close();
                    return Flushed::Done;
                }
                Ok(mut n) => {
                    out.moved_ms = self.shared.now_ms();
                    out.bytes -= n;
                    self.shared
                        .metrics
                        .pending_output
                        .fetch_sub(n, Ordering::Relaxed);
                    while n > 0 {
                        let Some(front) = out.queue.front_mut() else {
                            break;
                        };
                        if front.len() <= n {
                            n -= front.len();
                            out.queue.pop_front();
                        } else {
                            front.advance(n);
                            n = 0;
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Flushed::Pending,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::debug!(id = self.id, error = %e, "ipc server: write failed");
                    drop(out);
                    self.close();
                    return Flushed::Done;
                }
            }
        };
        if result == Flushed::Done && out.close_after {
            self.finish_output(&mut out);
        }
        self.resume_reader_if_drained(&mut out);
        result
    }

    /// Marks the reader paused if the queued output is over the limit; returns whether
    /// it is. The Responder resumes the reader once the queue drains to half the limit.
    pub fn pause_reading_if_backlogged(&self) -> bool {
        let mut out = self.lock();
        if out.bytes > self.shared.config.max_pending_output {
            out.read_paused = true;
            true
        } else {
            false
        }
    }

    /// Closes both directions now; queued output is dropped.
    pub fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut out = self.lock();
        out.done = true;
        self.shared
            .metrics
            .pending_output
            .fetch_sub(out.bytes, Ordering::Relaxed);
        out.bytes = 0;
        out.queue.clear();
        drop(out);
        let _ = self.stream.shutdown(Shutdown::Both);
        // Wake the reader so it drops the connection (the shutdown makes it readable).
    }
}

/// Responder: finish `conn`'s queued output when its socket is writable.
fn watch(conn: Arc<Conn>) {
    let Some(looper) = Looper::my_looper() else {
        return;
    };
    let c = Arc::clone(&conn);
    let added = looper.add_fd(&conn.stream, FdEvents::OUTPUT, move |_, _| {
        match c.flush() {
            Flushed::Pending => FdAction::Keep,
            Flushed::Done => FdAction::Remove,
        }
    });
    if let Err(e) = added {
        tracing::warn!(id = conn.id, error = %e, "ipc server: cannot watch for writability");
        conn.close();
    }
}
