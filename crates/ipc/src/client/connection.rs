//! One client connection: the socket, its table of outstanding calls and the receiver
//! thread that completes them (Hadoop's `Client.Connection`).

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
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
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

#[derive(Debug, Default)]
struct CallTable {
    calls: HashMap<i32, SyncSender<Completion>>,
    closed: bool,
}

/// A call written to the socket, waiting for its reply.
#[derive(Debug)]
pub(crate) struct Pending {
    call_id: i32,
    reply: Receiver<Completion>,
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
    /// A handle kept only to shut the socket down from any thread.
    control: TcpStream,
    table: Mutex<CallTable>,
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
        let reader = stream.try_clone()?;
        let control = stream.try_clone()?;
        let conn = Arc::new(Connection {
            id,
            shared,
            writer: Mutex::new(stream),
            control,
            table: Mutex::new(CallTable::default()),
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
        let receiver = conn.clone();
        std::thread::Builder::new()
            .name(name)
            .spawn(move || receiver.receive(reader))?;
        debug!(addr = %conn.id.addr, protocol = conn.id.protocol.name, user = %conn.id.user, "connected");
        Ok(conn)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Registers a call and writes its frame.
    pub(crate) fn send<M: Message>(&self, method: &str, request: &M) -> Sent {
        let call_id = self.shared.next_call_id.fetch_add(1, Ordering::Relaxed) & 0x7fff_ffff;
        let (tx, rx) = sync_channel(1);
        {
            let mut table = lock(&self.table);
            if table.closed {
                return Sent::ConnectionClosed;
            }
            table.calls.insert(call_id, tx);
        }
        let frame = FrameBuilder::new()
            .message(&RpcRequestHeaderProto {
                rpc_kind: Some(RpcKindProto::RpcProtocolBuffer as i32),
                rpc_op: Some(OperationProto::RpcFinalPacket as i32),
                call_id,
                client_id: self.shared.client_id.to_vec(),
                retry_count: Some(0),
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
        let written = lock(&self.writer).write_all(&frame);
        match written {
            Ok(()) => {
                let now = self.now_ms();
                self.last_call_activity.store(now, Ordering::Relaxed);
                self.last_io.store(now, Ordering::Relaxed);
            }
            // Part of a frame may be on the wire: the stream is unusable. Closing
            // completes this call (still in the table) with the reason.
            Err(e) => self.close(CloseCause::Closed(format!("write failed: {e}").into())),
        }
        Sent::Pending(Pending { call_id, reply: rx })
    }

    /// Waits for the reply of a sent call, up to the call timeout.
    pub(crate) fn wait(&self, pending: Pending) -> Result<Bytes> {
        let Pending { call_id, reply } = pending;
        let completion = match self.shared.config.call_timeout {
            None => reply.recv().ok(),
            Some(after) => match reply.recv_timeout(after) {
                Ok(c) => Some(c),
                Err(RecvTimeoutError::Disconnected) => None,
                Err(RecvTimeoutError::Timeout) => {
                    if lock(&self.table).calls.remove(&call_id).is_some() {
                        debug!(addr = %self.id.addr, call_id, ?after, "call timed out");
                        return Err(Error::Timeout {
                            addr: self.id.addr,
                            call_id,
                            after,
                        });
                    }
                    // The receiver took the call out just now: its completion is sent.
                    reply.recv().ok()
                }
            },
        };
        let addr = self.id.addr;
        match completion {
            Some(Completion::Success(body)) => Ok(body),
            Some(Completion::Remote(e)) => Err(Error::Remote(e)),
            Some(Completion::Fatal(e)) => Err(Error::Fatal(e)),
            Some(Completion::Closed(reason)) => Err(Error::ConnectionClosed {
                addr,
                reason: reason.to_string(),
            }),
            None => Err(Error::ConnectionClosed {
                addr,
                reason: "call dropped without a reply".to_owned(),
            }),
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
        for (_, tx) in calls {
            let _ = tx.send(cause.completion());
        }
        // Wakes the receiver if it is blocked in a read.
        let _ = self.control.shutdown(Shutdown::Both);
    }

    fn now_ms(&self) -> u64 {
        self.born.elapsed().as_millis() as u64
    }

    /// The receiver thread: reads replies until the connection closes.
    fn receive(self: Arc<Self>, mut stream: TcpStream) {
        let cause = self.receive_loop(&mut stream);
        self.close(cause);
        // An idle close marked the table without shutting down; do it in every case.
        let _ = self.control.shutdown(Shutdown::Both);
        (self.on_close)(&self);
    }

    fn receive_loop(&self, stream: &mut TcpStream) -> CloseCause {
        let config = &self.shared.config;
        let tick = config
            .ping_interval
            .map_or(config.max_idle, |p| p.min(config.max_idle))
            .checked_div(4)
            .unwrap_or_default()
            .max(MIN_TICK);
        if let Err(e) = stream.set_read_timeout(Some(tick)) {
            return closed(format!("cannot set read timeout: {e}"));
        }
        let mut decoder = FrameDecoder::new(config.max_response_len);
        let mut chunk = vec![0u8; READ_CHUNK];
        loop {
            if self.is_closed() {
                return closed("closed".to_owned());
            }
            match stream.read(&mut chunk) {
                Ok(0) => return closed("connection closed by the server".to_owned()),
                Ok(n) => {
                    let Some(data) = chunk.get(..n) else {
                        return closed("read past the buffer".to_owned());
                    };
                    decoder.extend(data);
                    self.last_io.store(self.now_ms(), Ordering::Relaxed);
                    loop {
                        match decoder.next_frame() {
                            Ok(Some(frame)) => {
                                if let Err(cause) = self.dispatch(frame) {
                                    return cause;
                                }
                            }
                            Ok(None) => break,
                            Err(e) => return closed(format!("bad reply frame: {e}")),
                        }
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if let Err(cause) = self.on_quiet() {
                        return cause;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return closed(format!("read failed: {e}")),
            }
        }
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
            Some(tx) => {
                let _ = tx.send(completion);
            }
            None => {
                debug!(addr = %self.id.addr, call_id, "reply to no outstanding call (timed out?)")
            }
        }
        Ok(())
    }

    /// Nothing was read for a tick: ping or close when it is time.
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
