//! `IPC Reader #i`: a looper that owns the read side of its connections. Each readable
//! socket is drained (up to a budget per wake-up), every complete frame is parsed, calls
//! go to the bounded call queue, SASL/FATAL answers are written at once. A call of a
//! method marked cheap runs right here when the call queue is empty; the answers of
//! such calls from one pass over a connection's input go out in one write.
//!
//! Back-pressure: when the call queue is full the connection's call is parked and the
//! connection's socket is no longer watched (the kernel buffers fill and the client's
//! writes block) until a handler takes a call and wakes this reader; when a
//! connection's unsent responses pass `max_pending_output` its socket is no longer
//! watched until the Responder drains them.
//!
//! Slow and silent peers (swept every quarter of the idle time, at most every second):
//! a connection with part of a frame (or of the preamble) buffered for longer than
//! `frame_timeout` plus its rate allowance is closed (slowloris, half-open frames); one
//! with nothing buffered, nothing in flight and no byte for `idle_timeout` is closed.
//! Neither clock runs while the server itself stopped reading (back-pressure).

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use crossbeam_channel::{Sender, TrySendError};
use ferrodfs_looper::{FdAction, FdEvents, Handler, Looper};

use super::conn::Conn;
use super::connection::{ConnState, Event};
use super::limits::FrameClock;
use super::{Job, QueuedCall, Shared};
use crate::frame::FrameError;

/// Bytes read per `read` call.
const READ_CHUNK: usize = 64 * 1024;
/// `read` calls per wake-up for one connection, so one busy client cannot starve others.
const READS_PER_WAKE: usize = 16;
/// After a FATAL answer, input read and discarded before closing (closing with unread
/// input makes the kernel send a reset, which can destroy the answer in flight).
const DRAIN_LIMIT: usize = 1024 * 1024;
/// Longest wait for the client to close after a FATAL answer (capped by the idle timeout).
const DRAIN_GRACE_MS: u64 = 2_000;
/// Bytes of inline answers gathered before they are sent mid-pass.
const MAX_INLINE_ANSWERS: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Paused {
    No,
    /// Waiting for room in the call queue, with `parked` holding the call.
    Queue,
    /// Waiting for the Responder to drain this connection's output.
    Output,
}

struct ReaderConn {
    conn: Arc<Conn>,
    state: ConnState,
    parked: Option<Job>,
    paused: Paused,
    /// Set after a FATAL answer: input is discarded until EOF or the limit.
    draining: Option<usize>,
    draining_since_ms: u64,
    /// How long the frame being received has taken.
    clock: FrameClock,
}

struct ReaderCtx {
    looper: Looper,
    handler: Handler,
    shared: Arc<Shared>,
    queue: Sender<Job>,
    conns: HashMap<u64, ReaderConn>,
    waiting_for_queue: bool,
    scratch: Vec<u8>,
    /// Answers of cheap calls run inline during one pass over a connection's frames,
    /// sent together at the end of the pass.
    answers: Vec<Bytes>,
    answers_len: usize,
}

thread_local! {
    static READER: RefCell<Option<ReaderCtx>> = const { RefCell::new(None) };
}

fn with_ctx<R>(f: impl FnOnce(&mut ReaderCtx) -> R) -> Option<R> {
    READER.with(|r| r.borrow_mut().as_mut().map(f))
}

/// Runs a reader on this thread until its looper quits. `ready` gets its handler.
pub(crate) fn run(
    shared: Arc<Shared>,
    queue: Sender<Job>,
    ready: std::sync::mpsc::Sender<crate::Result<Handler>>,
) {
    let looper = match Looper::prepare() {
        Ok(l) => l,
        Err(e) => {
            let _ = ready.send(Err(e.into()));
            return;
        }
    };
    let handler = looper.handler();
    let sweep_every = sweep_interval(&shared);
    READER.with(|r| {
        *r.borrow_mut() = Some(ReaderCtx {
            looper: looper.clone(),
            handler: handler.clone(),
            shared,
            queue,
            conns: HashMap::new(),
            waiting_for_queue: false,
            scratch: vec![0; READ_CHUNK],
            answers: Vec::new(),
            answers_len: 0,
        })
    });
    schedule_sweep(&handler, sweep_every);
    let _ = ready.send(Ok(handler));
    if let Err(e) = looper.run() {
        tracing::error!(error = %e, "ipc server: reader looper failed");
    }
    // Shut down: close every connection this reader owns.
    let ctx = READER.with(|r| r.borrow_mut().take());
    if let Some(ctx) = ctx {
        for (_, rc) in ctx.conns {
            rc.conn.close();
        }
    }
}

fn sweep_interval(shared: &Shared) -> Duration {
    let c = &shared.config;
    let shortest = c.idle_timeout.min(c.frame_timeout);
    (shortest / 4).clamp(Duration::from_millis(5), Duration::from_secs(1))
}

fn schedule_sweep(handler: &Handler, every: Duration) {
    let h = handler.clone();
    handler.post_delayed(
        move || {
            sweep();
            schedule_sweep(&h, every);
        },
        every,
    );
}

/// Takes over a freshly accepted connection (posted by the Listener).
pub(crate) fn register(conn: Arc<Conn>) {
    with_ctx(|ctx| {
        let id = conn.id;
        let rc = ReaderConn {
            state: ConnState::new(ctx.shared.config.max_frame_len),
            conn,
            parked: None,
            paused: Paused::No,
            draining: None,
            draining_since_ms: 0,
            clock: FrameClock::default(),
        };
        if let Err(e) = watch(ctx, &rc) {
            tracing::warn!(error = %e, "ipc server: cannot watch a new connection");
            rc.conn.close();
            return;
        }
        ctx.conns.insert(id, rc);
    });
}

fn watch(ctx: &ReaderCtx, rc: &ReaderConn) -> ferrodfs_looper::Result<()> {
    let id = rc.conn.id;
    ctx.looper
        .add_fd(&rc.conn.stream, FdEvents::INPUT, move |_, _| {
            with_ctx(|ctx| on_readable(ctx, id)).unwrap_or(FdAction::Remove)
        })
}

/// Stops watching and forgets a connection, closing it.
fn drop_conn(ctx: &mut ReaderCtx, id: u64) {
    if let Some(rc) = ctx.conns.remove(&id) {
        if rc.paused == Paused::No {
            let _ = ctx.looper.remove_fd(rc.conn.stream.as_raw_fd());
        }
        if let Some(Job::Call(c)) = rc.parked {
            c.conn.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
        rc.conn.close();
    }
}

/// What processing the buffered frames ended with.
enum Outcome {
    /// Everything buffered was handled.
    Idle,
    /// Stop reading: the call queue is full (a call is parked).
    QueueFull,
    /// Stop reading: too many unsent answers on this connection.
    Backlogged,
    /// The connection is gone.
    Closed,
}

fn on_readable(ctx: &mut ReaderCtx, id: u64) -> FdAction {
    let Some(rc) = ctx.conns.get_mut(&id) else {
        return FdAction::Remove;
    };
    if rc.conn.is_closed() {
        drop_conn(ctx, id);
        return FdAction::Remove;
    }
    for _ in 0..READS_PER_WAKE {
        let Some(rc) = ctx.conns.get_mut(&id) else {
            return FdAction::Remove;
        };
        if rc.draining.is_none() && rc.conn.pause_reading_if_backlogged() {
            tracing::debug!(id, "ipc server: output backlog, pausing reads");
            rc.paused = Paused::Output;
            return FdAction::Remove;
        }
        let n = match (&rc.conn.stream).read(&mut ctx.scratch) {
            Ok(0) => {
                drop_conn(ctx, id);
                return FdAction::Remove;
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return FdAction::Keep,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::debug!(id, error = %e, "ipc server: read failed");
                drop_conn(ctx, id);
                return FdAction::Remove;
            }
        };
        if let Some(drained) = rc.draining.as_mut() {
            *drained += n;
            if *drained > DRAIN_LIMIT {
                drop_conn(ctx, id);
                return FdAction::Remove;
            }
            continue;
        }
        rc.conn.touch();
        rc.state.extend(&ctx.scratch[..n]);
        match process(ctx, id) {
            Outcome::Idle => {}
            Outcome::QueueFull | Outcome::Backlogged | Outcome::Closed => return FdAction::Remove,
        }
        let now = ctx.shared.now_ms();
        if let Some(rc) = ctx.conns.get_mut(&id) {
            let (buffered, frames) = (rc.state.buffered(), rc.state.frames_read());
            rc.clock.update(now, n, buffered, frames);
        }
        if n < READ_CHUNK {
            // Most likely drained; level-triggered epoll calls again if not.
            return FdAction::Keep;
        }
    }
    FdAction::Keep
}

/// Handles every complete frame buffered for `id`, then sends the answers of the
/// cheap calls it ran inline.
fn process(ctx: &mut ReaderCtx, id: u64) -> Outcome {
    let outcome = process_frames(ctx, id);
    send_answers(ctx, id);
    outcome
}

/// Sends the inline answers gathered for `id` in one write.
fn send_answers(ctx: &mut ReaderCtx, id: u64) {
    if ctx.answers.is_empty() {
        return;
    }
    let frame = if ctx.answers.len() == 1 {
        ctx.answers.pop().unwrap_or_default()
    } else {
        let mut all = BytesMut::with_capacity(ctx.answers_len);
        for a in ctx.answers.drain(..) {
            all.extend_from_slice(&a);
        }
        all.freeze()
    };
    ctx.answers.clear();
    ctx.answers_len = 0;
    if let Some(rc) = ctx.conns.get(&id) {
        rc.conn.send(frame);
    }
}

fn process_frames(ctx: &mut ReaderCtx, id: u64) -> Outcome {
    loop {
        let Some(rc) = ctx.conns.get_mut(&id) else {
            return Outcome::Closed;
        };
        // Checked per call, not per read: one read can hold thousands of small calls.
        if rc.draining.is_none() && rc.conn.pause_reading_if_backlogged() {
            tracing::debug!(id, "ipc server: output backlog, pausing reads");
            rc.paused = Paused::Output;
            return Outcome::Backlogged;
        }
        let Some(event) = rc.state.next_event() else {
            return Outcome::Idle;
        };
        match event {
            Event::Call(call)
                if ctx.queue.is_empty()
                    && ctx.shared.registry.is_cheap(&call.protocol, &call.method) =>
            {
                // Nothing waits for a handler and the method never blocks: run it here,
                // saving the hand-off to a handler thread.
                let answer = super::run_call(&ctx.shared, &rc.conn, call);
                rc.conn.touch();
                ctx.answers_len += answer.len();
                ctx.answers.push(answer);
                if ctx.answers_len >= MAX_INLINE_ANSWERS {
                    send_answers(ctx, id);
                }
            }
            Event::Call(call) => {
                rc.conn.in_flight.fetch_add(1, Ordering::Relaxed);
                let job = Job::Call(QueuedCall {
                    conn: Arc::clone(&rc.conn),
                    call,
                });
                if let Some(outcome) = enqueue(ctx, id, job) {
                    return outcome;
                }
            }
            Event::Reply(bytes) => {
                send_answers(ctx, id);
                if let Some(rc) = ctx.conns.get(&id) {
                    rc.conn.send(bytes);
                }
            }
            Event::Established(info) => {
                tracing::debug!(id, user = %info.user, protocol = ?info.protocol, "ipc server: connection context");
            }
            Event::Fatal(bytes) => {
                send_answers(ctx, id);
                let Some(rc) = ctx.conns.get_mut(&id) else {
                    return Outcome::Closed;
                };
                ctx.shared
                    .metrics
                    .fatal_responses
                    .fetch_add(1, Ordering::Relaxed);
                tracing::debug!(id, peer = %rc.conn.peer, "ipc server: fatal answer, closing");
                rc.conn.send_last(bytes);
                rc.draining = Some(0);
                rc.draining_since_ms = ctx.shared.now_ms();
                return Outcome::Idle;
            }
            Event::Close(e) => {
                log_close(&rc.conn, &e);
                ctx.shared
                    .metrics
                    .fatal_responses
                    .fetch_add(1, Ordering::Relaxed);
                drop_conn(ctx, id);
                return Outcome::Closed;
            }
        }
    }
}

/// Puts a call in the queue; `Some(QueueFull)` when the queue is full (the call parked).
fn enqueue(ctx: &mut ReaderCtx, id: u64, job: Job) -> Option<Outcome> {
    let job = match ctx.queue.try_send(job) {
        Ok(()) => return None,
        Err(TrySendError::Disconnected(_)) => {
            drop_conn(ctx, id);
            return Some(Outcome::Closed);
        }
        Err(TrySendError::Full(job)) => job,
    };
    // Full: ask to be woken when a handler takes a call, then retry once so a wake
    // that raced with the registration is not lost.
    if !ctx.waiting_for_queue {
        ctx.waiting_for_queue = true;
        ctx.shared.wait_for_queue(ctx.handler.clone());
    }
    match ctx.queue.try_send(job) {
        Ok(()) => None,
        Err(TrySendError::Disconnected(_)) => {
            drop_conn(ctx, id);
            Some(Outcome::Closed)
        }
        Err(TrySendError::Full(job)) => {
            if let Some(rc) = ctx.conns.get_mut(&id) {
                rc.parked = Some(job);
                rc.paused = Paused::Queue;
            }
            Some(Outcome::QueueFull)
        }
    }
}

/// A handler took a call: room in the queue. Resumes connections parked on it.
pub(crate) fn resume_queue() {
    with_ctx(|ctx| {
        ctx.waiting_for_queue = false;
        let parked: Vec<u64> = ctx
            .conns
            .iter()
            .filter(|(_, rc)| rc.paused == Paused::Queue)
            .map(|(id, _)| *id)
            .collect();
        for id in parked {
            let Some(rc) = ctx.conns.get_mut(&id) else {
                continue;
            };
            let Some(job) = rc.parked.take() else {
                continue;
            };
            if let Some(outcome) = enqueue(ctx, id, job) {
                if matches!(outcome, Outcome::QueueFull) {
                    // Still full: the rest stay parked until the next wake.
                    return;
                }
                continue;
            }
            if let Some(rc) = ctx.conns.get_mut(&id) {
                rc.paused = Paused::No;
            }
            // The parked call went in: handle what else is buffered, then read again.
            match process(ctx, id) {
                Outcome::Idle => resume_watch(ctx, id),
                Outcome::QueueFull => return,
                Outcome::Backlogged | Outcome::Closed => {}
            }
        }
    });
}

fn resume_watch(ctx: &mut ReaderCtx, id: u64) {
    let now = ctx.shared.now_ms();
    let Some(rc) = ctx.conns.get_mut(&id) else {
        return;
    };
    rc.paused = Paused::No;
    // The time reading was paused was the server's doing, not the peer's.
    rc.clock.restart(now);
    let rc = &ctx.conns[&id];
    if let Err(e) = watch(ctx, rc) {
        tracing::warn!(id, error = %e, "ipc server: cannot watch a connection again");
        drop_conn(ctx, id);
    }
}

/// The Responder drained this connection's output below the limit.
pub(crate) fn resume_output(id: u64) {
    with_ctx(|ctx| {
        if ctx
            .conns
            .get(&id)
            .is_some_and(|rc| rc.paused == Paused::Output)
        {
            tracing::debug!(id, "ipc server: output drained, reading again");
            if let Some(rc) = ctx.conns.get_mut(&id) {
                rc.paused = Paused::No;
            }
            // Calls left in the buffer first, then the socket.
            if let Outcome::Idle = process(ctx, id) {
                resume_watch(ctx, id);
            }
        }
    });
}

/// Closes connections idle for longer than the idle timeout (no call in flight, no
/// output queued, nothing read), connections whose answers have not moved for the purge
/// interval (a client that never reads: Hadoop's Responder purge), and drained FATAL
/// connections past their grace time.
fn sweep() {
    with_ctx(|ctx| {
        let now = ctx.shared.now_ms();
        let idle_ms = ctx.shared.config.idle_timeout.as_millis() as u64;
        let purge_ms = ctx.shared.config.purge_interval.as_millis() as u64;
        let (frame_timeout, min_rate) = (
            ctx.shared.config.frame_timeout,
            ctx.shared.config.frame_min_rate,
        );
        let mut doomed = Vec::new();
        for (id, rc) in &ctx.conns {
            let why = if rc.conn.is_closed() {
                Doom::Closed
            } else if rc.draining.is_some() {
                if now.saturating_sub(rc.draining_since_ms) <= idle_ms.min(DRAIN_GRACE_MS) {
                    continue;
                }
                Doom::Closed
            } else if rc.conn.output_stuck_for(now, purge_ms) {
                Doom::Purged
            } else if rc.paused == Paused::No && rc.clock.expired(now, frame_timeout, min_rate) {
                Doom::SlowFrame
            } else if rc.paused == Paused::No
                && !rc.clock.in_frame()
                && rc.conn.in_flight.load(Ordering::Relaxed) == 0
                && now.saturating_sub(rc.conn.last_active_ms.load(Ordering::Relaxed)) > idle_ms
                && rc.conn.queued_bytes() == 0
            {
                Doom::Idle
            } else {
                continue;
            };
            doomed.push((*id, why));
        }
        for (id, why) in doomed {
            let metrics = &ctx.shared.metrics;
            match why {
                Doom::Idle => {
                    tracing::debug!(id, "ipc server: closing idle connection");
                    metrics.idle_closed.fetch_add(1, Ordering::Relaxed);
                }
                Doom::SlowFrame => {
                    if let Some(rc) = ctx.conns.get(&id) {
                        tracing::info!(
                            id,
                            peer = %rc.conn.peer,
                            buffered = rc.state.buffered(),
                            ?frame_timeout,
                            "ipc server: frame not complete in time, closing"
                        );
                    }
                    metrics.slow_closed.fetch_add(1, Ordering::Relaxed);
                }
                Doom::Purged => {
                    tracing::info!(
                        id,
                        "ipc server: answers not read for the purge interval, closing"
                    );
                    metrics.purged.fetch_add(1, Ordering::Relaxed);
                }
                Doom::Closed => {}
            }
            drop_conn(ctx, id);
        }
    });
}

/// Logs why a connection closes without an answer; an out-of-range frame length with
/// Hadoop's `checkDataLength` message (Hadoop closes without answering too).
fn log_close(conn: &Conn, e: &FrameError) {
    match e {
        FrameError::BadLength { len, .. } if *len < 0 => tracing::warn!(
            id = conn.id,
            "Unexpected data length {len}!! from {}",
            conn.peer.ip()
        ),
        FrameError::BadLength { len, max } => tracing::warn!(
            id = conn.id,
            "Requested data length {len} is longer than maximum configured RPC length {max}.  RPC came from {}",
            conn.peer.ip()
        ),
        e => tracing::debug!(id = conn.id, peer = %conn.peer, error = %e, "ipc server: closing connection"),
    }
}

/// Why [`sweep`] closes a connection.
enum Doom {
    Idle,
    /// A frame that did not complete within `frame_timeout` (slowloris, half-open).
    SlowFrame,
    Purged,
    Closed,
}
