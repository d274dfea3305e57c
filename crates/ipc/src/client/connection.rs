//! One client connection: the socket, its table of outstanding calls, and who reads the
//! replies (Hadoop's `Client.Connection`, with leader/follower reading).
//!
//! Replies are read by the callers themselves: one waiting caller at a time is the
//! *leader* and reads the socket, completing every call whose reply it reads; the
//! others (*followers*) sleep on their call's slot. When the leader's own reply has
//! come (or its call timed out) it hands the lead to one outstanding call and leaves.
//! A lone caller thus reads its own reply on its own thread: no thread wake-up between
//! the socket and the caller. The connection's thread (`IPC Client connection to …`)
//! reads nothing while calls run: it sends pings, closes the idle connection, and
//! watches for the server's hang-up (`POLLRDHUP`) to read a last FATAL reply and close
//! at once when no caller is there to do it.

use super::{lock, ConnectionId, RetryPolicy, Shared};
use crate::error::{Error, Result};
use crate::exception::{JavaException, RemoteException};
use crate::frame::{
    take_message, FrameBuilder, FrameDecoder, FrameError, Preamble, CONNECTION_CONTEXT_CALL_ID,
    PING_CALL_ID,
};
use bytes::Bytes;
use ferrodfs_proto::common::rpc_request_header_proto::OperationProto;
use ferrodfs_proto::common::rpc_response_header_proto::RpcStatusProto;
use ferrodfs_proto::common::{
    IpcConnectionContextProto, RequestHeaderProto, RpcKindProto, RpcRequestHeaderProto,
    RpcResponseHeaderProto, UserInformationProto,
};
use prost::Message;
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tracing::{debug, trace, warn};

/// `retryCount` Hadoop puts on the connection context and pings.
const INVALID_RETRY_COUNT: i32 = -1;
/// Class name Hadoop's client substitutes when an error reply names none.
const NO_EXCEPTION_CLASS: &str = "ServerDidNotSetExceptionClassName";
/// Message Hadoop's client substitutes when an error reply carries none.
const NO_ERROR_MSG: &str = "ServerDidNotSetErrorMsg";
/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 64 * 1024;
/// Shortest receiver tick (read timeout), so tiny test intervals do not spin.
const MIN_TICK: Duration = Duration::from_millis(5);

/// How a call ended, as the receiver hands it to the caller.
#[derive(Debug)]
enum Completion {
    /// SUCCESS: the frame after the response header (the delimited response).
    Success(Bytes),
    /// ERROR for this call.
    Remote(RemoteException),
    /// FATAL: the connection is closed.
    Fatal(RemoteException),
    /// The connection closed for this reason.
    Closed(Arc<str>),
}

/// Why a connection closed.
#[derive(Debug, Clone)]
enum CloseCause {
    Fatal(RemoteException),
    Closed(Arc<str>),
}

impl CloseCause {
    fn completion(&self) -> Completion {
        match self {
            CloseCause::Fatal(e) => Completion::Fatal(e.clone()),
            CloseCause::Closed(reason) => Completion::Closed(reason.clone()),
        }
    }
}

/// Where an outstanding call's caller waits: for its completion, or for the lead.
#[derive(Debug, Default)]
struct Slot {
    state: Mutex<SlotState>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct SlotState {
    done: Option<Completion>,
    /// The leader handed this caller the lead: it reads the socket next.
    lead: bool,
}

impl Slot {
    fn complete(&self, completion: Completion) {
        let mut s = lock(&self.state);
        if s.done.is_none() {
            s.done = Some(completion);
        }
        drop(s);
        self.wake.notify_one();
    }

    fn promote(&self) {
        lock(&self.state).lead = true;
        self.wake.notify_one();
    }

    fn take_done(&self) -> Option<Completion> {
        lock(&self.state).done.take()
    }
}

#[derive(Debug, Default)]
struct CallTable {
    calls: HashMap<i32, Arc<Slot>>,
    closed: bool,
    /// Someone (a caller, or the connection thread at hang-up) reads the socket.
    leader: bool,
}

impl CallTable {
    /// The leader leaves: the lead goes to an outstanding call, if any.
    fn pass_lead(&mut self) {
        match self.calls.values().next() {
            Some(slot) => slot.promote(),
            None => self.leader = false,
        }
    }
}

/// The read side, used by whoever leads.
struct ReadSide {
    stream: TcpStream,
    decoder: FrameDecoder,
    chunk: Vec<u8>,
    /// The socket's read timeout now: the tick, or less near a leader's deadline.
    timeout: Duration,
}

/// Frames queued while another caller writes.
#[derive(Debug, Default)]
struct Outbox {
    frames: Vec<Bytes>,
    /// A caller is writing; it writes what is queued here before it leaves.
    writing: bool,
}

/// A call written to the socket, waiting for its reply.
#[derive(Debug)]
pub(crate) struct Pending {
    call_id: i32,
    slot: Arc<Slot>,
    /// Nobody was reading when the call was registered: this caller leads.
    leading: bool,
}

/// What [`Connection::send`] did.
#[derive(Debug)]
pub(crate) enum Sent {
    Pending(Pending),
    /// The connection was already closed; nothing was sent, try a fresh one.
    ConnectionClosed,
}

type OnClose = Box<dyn Fn(&Arc<Connection>) + Send + Sync>;

/// One socket to one server for one protocol and user.
pub(crate) struct Connection {
    id: ConnectionId,
    shared: Arc<Shared>,
    /// The write half; a frame is written whole under this lock.
    writer: Mutex<TcpStream>,
    /// Call frames waiting for the caller that is writing now (see [`Connection::send`]).
    outbox: Mutex<Outbox>,
    /// A handle kept only to shut the socket down from any thread.
    control: TcpStream,
    table: Mutex<CallTable>,
    /// Held by the leader while it reads.
    read: Mutex<ReadSide>,
    /// Receiver read timeout: how late a leading caller notices its call timed out.
    tick: Duration,
    /// Set once under the table lock; read without it on the hot path.
    closed: AtomicBool,
    /// Epoch of the two activity clocks below (milliseconds since it).
    born: Instant,
    /// Last call sent or reply received: what idle close looks at.
    last_call_activity: AtomicU64,
    /// Last byte sent or received (calls, replies, pings): what pings look at.
    last_io: AtomicU64,
    on_close: OnClose,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.id)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Connects (retrying by policy), sends the preamble and connection context, and
    /// starts the receiver.
    pub(crate) fn open(
        id: ConnectionId,
        shared: Arc<Shared>,
        on_close: OnClose,
    ) -> Result<Arc<Connection>> {
        let config = &shared.config;
        let stream = connect(id.addr, config.retry, config.connect_timeout)?;
        stream.set_nodelay(true)?;
        stream.set_write_timeout(config.call_timeout)?;
        let mut handshake = Preamble::SIMPLE.encode().to_vec();
        handshake.extend_from_slice(&connection_context(&id, &shared.client_id));
        (&stream).write_all(&handshake)?;
        let tick = tick(config);
        stream.set_read_timeout(Some(tick))?;
        let reader = stream.try_clone()?;
        let control = stream.try_clone()?;
        let max_response_len = config.max_response_len;
        let conn = Arc::new(Connection {
            id,
            shared,
            writer: Mutex::new(stream),
            outbox: Mutex::new(Outbox::default()),
            control,
            table: Mutex::new(CallTable::default()),
            read: Mutex::new(ReadSide {
                stream: reader,
                decoder: FrameDecoder::new(max_response_len),
                chunk: vec![0u8; READ_CHUNK],
                timeout: tick,
            }),
            tick,
            closed: AtomicBool::new(false),
            born: Instant::now(),
            last_call_activity: AtomicU64::new(0),
            last_io: AtomicU64::new(0),
            on_close,
        });
        let name = format!(
            "IPC Client connection to {} from {}",
            conn.id.addr, conn.id.user
        );
        let monitor = conn.clone();
        std::thread::Builder::new()
            .name(name)
            .spawn(move || monitor.monitor())?;
        debug!(addr = %conn.id.addr, protocol = conn.id.protocol.name, user = %conn.id.user, "connected");
        Ok(conn)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Registers a call and writes its frame (`retry_count` 0 the first time, then the
    /// number of the retry).
    pub(crate) fn send<M: Message>(
        &self,
        call_id: i32,
        retry_count: i32,
        method: &str,
        request: &M,
    ) -> Sent {
        let slot = Arc::new(Slot::default());
        let leading = {
            let mut table = lock(&self.table);
            if table.closed {
                return Sent::ConnectionClosed;
            }
            table.calls.insert(call_id, Arc::clone(&slot));
            !std::mem::replace(&mut table.leader, true)
        };
        let frame = FrameBuilder::new()
            .message(&RpcRequestHeaderProto {
                rpc_kind: Some(RpcKindProto::RpcProtocolBuffer as i32),
                rpc_op: Some(OperationProto::RpcFinalPacket as i32),
                call_id,
                client_id: self.shared.client_id.to_vec(),
                retry_count: Some(retry_count),
                ..Default::default()
            })
            .message(&RequestHeaderProto {
                method_name: method.to_owned(),
                declaring_class_protocol_name: self.id.protocol.name.to_owned(),
                client_protocol_version: self.id.protocol.version,
            })
            .message(request)
            .finish();
        trace!(addr = %self.id.addr, call_id, method, len = frame.len(), "call");
        self.write_or_queue(frame);
        Sent::Pending(Pending {
            call_id,
            slot,
            leading,
        })
    }

    /// Writes a call frame, or, when another caller is writing, leaves it to that caller,
    /// which writes every frame queued meanwhile in one write before it leaves: many
    /// threads calling at once neither wait for the socket one by one nor make a
    /// syscall each.
    fn write_or_queue(&self, frame: Bytes) {
        {
            let mut outbox = lock(&self.outbox);
            if outbox.writing {
                outbox.frames.push(frame);
                return;
            }
            outbox.writing = true;
        }
        let mut batch = frame;
        loop {
            if let Err(e) = lock(&self.writer).write_all(&batch) {
                // Part of a frame may be on the wire: the stream is unusable. Closing
                // completes every call (the queued ones too) with the reason.
                let mut outbox = lock(&self.outbox);
                outbox.frames.clear();
                outbox.writing = false;
                drop(outbox);
                self.close(CloseCause::Closed(format!("write failed: {e}").into()));
                return;
            }
            let now = self.now_ms();
            self.last_call_activity.store(now, Ordering::Relaxed);
            self.last_io.store(now, Ordering::Relaxed);
            let mut outbox = lock(&self.outbox);
            batch = match outbox.frames.len() {
                0 => {
                    outbox.writing = false;
                    return;
                }
                1 => outbox.frames.pop().unwrap_or_default(),
                _ => {
                    let len = outbox.frames.iter().map(Bytes::len).sum();
                    let mut all = bytes::BytesMut::with_capacity(len);
                    for f in outbox.frames.drain(..) {
                        all.extend_from_slice(&f);
                    }
                    all.freeze()
                }
            };
        }
    }

    /// Waits for the reply of a sent call, up to the call timeout: as the leader
    /// reading the socket, or as a follower until the leader completes the call or
    /// hands it the lead.
    pub(crate) fn wait(&self, pending: Pending) -> Result<Bytes> {
        let Pending {
            call_id,
            slot,
            mut leading,
        } = pending;
        let deadline = self.shared.config.call_timeout.map(|t| Instant::now() + t);
        loop {
            if leading {
                let completion = self.lead(&slot, deadline);
                let mut table = lock(&self.table);
                let timed_out = completion.is_none() && table.calls.remove(&call_id).is_some();
                table.pass_lead();
                drop(table);
                return match completion {
                    Some(c) => self.finish(c),
                    None if timed_out => Err(self.timeout(call_id)),
                    // Completed between the last check and the removal.
                    None => self.finish(wait_done(&slot)),
                };
            }
            let mut state = lock(&slot.state);
            loop {
                if let Some(c) = state.done.take() {
                    return self.finish(c);
                }
                if std::mem::take(&mut state.lead) {
                    leading = true;
                    break;
                }
                state = match deadline {
                    None => slot.wake.wait(state).unwrap_or_else(|p| p.into_inner()),
                    Some(deadline) => {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            drop(state);
                            return self.follower_timed_out(call_id, &slot);
                        }
                        slot.wake
                            .wait_timeout(state, left)
                            .unwrap_or_else(|p| p.into_inner())
                            .0
                    }
                };
            }
        }
    }

    /// A follower's call timed out: forget it (passing on a lead handed to it just now).
    fn follower_timed_out(&self, call_id: i32, slot: &Slot) -> Result<Bytes> {
        let mut table = lock(&self.table);
        let removed = table.calls.remove(&call_id).is_some();
        if std::mem::take(&mut lock(&slot.state).lead) {
            table.pass_lead();
        }
        drop(table);
        if removed {
            return Err(self.timeout(call_id));
        }
        // The leader took the call out of the table just now: its completion is coming.
        self.finish(wait_done(slot))
    }

    fn timeout(&self, call_id: i32) -> Error {
        let after = self.shared.config.call_timeout.unwrap_or_default();
        debug!(addr = %self.id.addr, call_id, ?after, "call timed out");
        Error::Timeout {
            addr: self.id.addr,
            call_id,
            after,
        }
    }

    fn finish(&self, completion: Completion) -> Result<Bytes> {
        let addr = self.id.addr;
        match completion {
            Completion::Success(body) => Ok(body),
            Completion::Remote(e) => Err(Error::Remote(e)),
            Completion::Fatal(e) => Err(Error::Fatal(e)),
            Completion::Closed(reason) => Err(Error::ConnectionClosed {
                addr,
                reason: reason.to_string(),
            }),
        }
    }

    /// Reads replies as the leader until `slot` is completed (`Some`) or `deadline`
    /// passes (`None`). Every reply read completes its call; a broken stream closes
    /// the connection, which completes every call.
    fn lead(&self, slot: &Slot, deadline: Option<Instant>) -> Option<Completion> {
        let mut read = lock(&self.read);
        loop {
            if let Some(c) = slot.take_done() {
                return Some(c);
            }
            // Reads wait a tick at most, less when the deadline is nearer.
            let mut wait = self.tick;
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                wait = wait.min(left);
            }
            if wait != read.timeout {
                if let Err(e) = read.stream.set_read_timeout(Some(wait)) {
                    self.close(closed(format!("cannot set read timeout: {e}")));
                    continue;
                }
                read.timeout = wait;
            }
            if let Err(cause) = self.read_once(&mut read) {
                self.close(cause);
            }
        }
    }

    /// One read from the socket; dispatches every complete reply frame. `Err` means
    /// the connection must close; a read timeout is `Ok`.
    fn read_once(&self, read: &mut ReadSide) -> Result<(), CloseCause> {
        if self.is_closed() {
            return Err(closed("closed".to_owned()));
        }
        let ReadSide {
            stream,
            decoder,
            chunk,
            ..
        } = read;
        match stream.read(chunk) {
            Ok(0) => Err(closed("connection closed by the server".to_owned())),
            Ok(n) => {
                let Some(data) = chunk.get(..n) else {
                    return Err(closed("read past the buffer".to_owned()));
                };
                decoder.extend(data);
                self.last_io.store(self.now_ms(), Ordering::Relaxed);
                loop {
                    match decoder.next_frame() {
                        Ok(Some(frame)) => self.dispatch(frame)?,
                        Ok(None) => return Ok(()),
                        Err(e) => return Err(closed(bad_reply_frame(&e))),
                    }
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(closed(format!("read failed: {e}"))),
        }
    }

    /// Closes the connection, failing every outstanding call with `reason`.
    pub(crate) fn close_with_reason(&self, reason: &str) {
        self.close(CloseCause::Closed(reason.into()));
    }

    fn close(&self, cause: CloseCause) {
        let calls = {
            let mut table = lock(&self.table);
            if table.closed {
                return;
            }
            table.closed = true;
            self.closed.store(true, Ordering::Release);
            std::mem::take(&mut table.calls)
        };
        debug!(addr = %self.id.addr, ?cause, outstanding = calls.len(), "connection closed");
        for (_, slot) in calls {
            slot.complete(cause.completion());
        }
        // Wakes the receiver if it is blocked in a read.
        let _ = self.control.shutdown(Shutdown::Both);
    }

    fn now_ms(&self) -> u64 {
        self.born.elapsed().as_millis() as u64
    }

    /// The connection's thread: pings, idle close, and the server's hang-up.
    fn monitor(self: Arc<Self>) {
        let cause = self.monitor_loop();
        self.close(cause);
        // An idle close marked the table without shutting down; do it in every case.
        let _ = self.control.shutdown(Shutdown::Both);
        (self.on_close)(&self);
    }

    fn monitor_loop(&self) -> CloseCause {
        let timeout = rustix::event::Timespec {
            tv_sec: self.tick.as_secs() as i64,
            tv_nsec: i64::from(self.tick.subsec_nanos()),
        };
        loop {
            if self.is_closed() {
                return closed("closed".to_owned());
            }
            let mut fds = [rustix::event::PollFd::new(
                &self.control,
                rustix::event::PollFlags::RDHUP,
            )];
            match rustix::event::poll(&mut fds, Some(&timeout)) {
                Ok(0) => {}
                Ok(_) => {
                    // Hang-up or error (POLLHUP/POLLERR come unasked). Whatever the
                    // server sent last (a FATAL reply) is read before closing.
                    if let Some(cause) = self.read_to_end() {
                        return cause;
                    }
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return closed(format!("poll failed: {e}")),
            }
            if let Err(cause) = self.on_quiet() {
                return cause;
            }
        }
    }

    /// The server hung up: reads the rest as the leader unless a caller leads (it will
    /// read the end itself). `Some` once the stream ended.
    fn read_to_end(&self) -> Option<CloseCause> {
        let leading = {
            let mut table = lock(&self.table);
            !std::mem::replace(&mut table.leader, true)
        };
        if !leading {
            // A caller is reading and will meet the end; look again shortly.
            std::thread::sleep(MIN_TICK);
            return None;
        }
        let mut read = lock(&self.read);
        let cause = loop {
            if let Err(cause) = self.read_once(&mut read) {
                break cause;
            }
        };
        drop(read);
        self.close(cause.clone());
        lock(&self.table).pass_lead();
        Some(cause)
    }

    /// Handles one reply frame; an `Err` closes the connection.
    fn dispatch(&self, mut frame: Bytes) -> Result<(), CloseCause> {
        let header: RpcResponseHeaderProto = take_message(&mut frame, "response header")
            .map_err(|e: FrameError| closed(format!("bad reply header: {e}")))?;
        if let Some(id) = &header.client_id {
            // Hadoop's client checks this too; an empty id is the server's dummy.
            if !id.is_empty() && id[..] != self.shared.client_id[..] {
                return Err(closed("reply carries another client's id".to_owned()));
            }
        }
        // callId is uint32 on replies: -33 travels as 4294967263.
        let call_id = header.call_id as i32;
        let status = RpcStatusProto::try_from(header.status)
            .map_err(|_| closed(format!("unknown reply status {}", header.status)))?;
        let completion = match status {
            RpcStatusProto::Success => Completion::Success(frame),
            RpcStatusProto::Error => Completion::Remote(remote_exception(&header)),
            RpcStatusProto::Fatal => {
                let e = remote_exception(&header);
                warn!(addr = %self.id.addr, call_id, error = %e, "FATAL from server");
                return Err(CloseCause::Fatal(e));
            }
        };
        let now = self.now_ms();
        self.last_call_activity.store(now, Ordering::Relaxed);
        let waiter = lock(&self.table).calls.remove(&call_id);
        match waiter {
            Some(slot) => slot.complete(completion),
            None => {
                debug!(addr = %self.id.addr, call_id, "reply to no outstanding call (timed out?)")
            }
        }
        Ok(())
    }

    /// A tick passed: ping or close when it is time.
    fn on_quiet(&self) -> Result<(), CloseCause> {
        let config = &self.shared.config;
        let now = self.now_ms();
        let idle_for = now.saturating_sub(self.last_call_activity.load(Ordering::Relaxed));
        if idle_for >= config.max_idle.as_millis() as u64 {
            let mut table = lock(&self.table);
            if table.calls.is_empty() {
                // Marked closed under the lock: a caller that has not registered yet
                // sees it and moves on to a fresh connection.
                table.closed = true;
                self.closed.store(true, Ordering::Release);
                drop(table);
                debug!(addr = %self.id.addr, ?config.max_idle, "closing idle connection");
                return Err(closed("idle".to_owned()));
            }
        }
        if let Some(ping) = config.ping_interval {
            let quiet_for = now.saturating_sub(self.last_io.load(Ordering::Relaxed));
            if quiet_for >= ping.as_millis() as u64 {
                trace!(addr = %self.id.addr, "ping");
                let frame = FrameBuilder::new()
                    .message(&control_header(PING_CALL_ID, &self.shared.client_id))
                    .finish();
                if let Err(e) = lock(&self.writer).write_all(&frame) {
                    return Err(closed(format!("ping failed: {e}")));
                }
                self.last_io.store(now, Ordering::Relaxed);
            }
        }
        Ok(())
    }
}

/// Waits for a completion that is on its way (the call left the table).
fn wait_done(slot: &Slot) -> Completion {
    let mut state = lock(&slot.state);
    loop {
        if let Some(c) = state.done.take() {
            return c;
        }
        state = slot.wake.wait(state).unwrap_or_else(|p| p.into_inner());
    }
}

/// The connection thread's poll timeout and the socket's read timeout: a quarter of
/// the shortest of the ping interval, the idle time and the call timeout (at least
/// [`MIN_TICK`]), so pings, idle close and a leader's call timeout are at most a
/// quarter late.
fn tick(config: &super::ClientConfig) -> Duration {
    let mut t = config.max_idle;
    if let Some(p) = config.ping_interval {
        t = t.min(p);
    }
    if let Some(c) = config.call_timeout {
        t = t.min(c);
    }
    (t / 4).max(MIN_TICK)
}

/// Why a reply frame was refused, in Hadoop's client words (`IpcStreams.readResponse`
/// throws `RpcException` with these messages) and with the numbers.
fn bad_reply_frame(e: &FrameError) -> String {
    match e {
        FrameError::BadLength { len, .. } if *len <= 0 => {
            format!("{RPC_EXCEPTION_CLASS}: RPC response has invalid length ({len})")
        }
        FrameError::BadLength { len, max } => format!(
            "{RPC_EXCEPTION_CLASS}: RPC response exceeds maximum data length ({len} > {max}, {})",
            super::IPC_MAXIMUM_RESPONSE_LENGTH_KEY
        ),
        e => format!("bad reply frame: {e}"),
    }
}

/// Java class of the client's refusal of a reply frame.
const RPC_EXCEPTION_CLASS: &str = "org.apache.hadoop.ipc.RpcException";

fn closed(reason: String) -> CloseCause {
    CloseCause::Closed(reason.into())
}

fn remote_exception(header: &RpcResponseHeaderProto) -> RemoteException {
    let class = header
        .exception_class_name
        .as_deref()
        .unwrap_or(NO_EXCEPTION_CLASS);
    let message = header.error_msg.as_deref().unwrap_or(NO_ERROR_MSG);
    RemoteException::new(JavaException::from_class_name(class), message)
}

/// The header of the connection context and of pings, as Hadoop's client builds it.
fn control_header(call_id: i32, client_id: &[u8; 16]) -> RpcRequestHeaderProto {
    RpcRequestHeaderProto {
        rpc_kind: Some(RpcKindProto::RpcProtocolBuffer as i32),
        rpc_op: Some(OperationProto::RpcFinalPacket as i32),
        call_id,
        client_id: client_id.to_vec(),
        retry_count: Some(INVALID_RETRY_COUNT),
        ..Default::default()
    }
}

/// The connection context frame: SIMPLE auth sends the effective user and the protocol.
fn connection_context(id: &ConnectionId, client_id: &[u8; 16]) -> Bytes {
    FrameBuilder::new()
        .message(&control_header(CONNECTION_CONTEXT_CALL_ID, client_id))
        .message(&IpcConnectionContextProto {
            user_info: Some(UserInformationProto {
                effective_user: Some(id.user.to_string()),
                real_user: None,
            }),
            protocol: Some(id.protocol.name.to_owned()),
        })
        .finish()
}

/// Connects, retrying by `policy` (Hadoop's `handleConnectionFailure`).
fn connect(addr: SocketAddr, policy: RetryPolicy, timeout: Duration) -> Result<TcpStream> {
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => return Ok(stream),
            Err(source) if attempts > policy.max_retries => {
                return Err(Error::Connect {
                    addr,
                    attempts,
                    source,
                })
            }
            Err(e) => {
                debug!(%addr, attempts, error = %e, "connect failed; retrying");
                std::thread::sleep(policy.interval);
            }
        }
    }
}
