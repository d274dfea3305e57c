//! The Hadoop RPC server: Hadoop's `ipc.Server` design on [`ferrodfs_looper`].
//!
//! ```text
//!  IPC Listener ──accept──▶ IPC Reader #i (looper; fd callbacks parse frames)
//!                                │ calls           │ SASL / FATAL answers, cheap calls
//!                                ▼                 ▼ run inline when no call is queued
//!                      bounded call queue          socket (direct write)
//!                                │
//!                                ▼
//!                      IPC Handler #i ──answer──▶ socket (direct write when nothing is queued)
//!                                                   └─ leftovers ─▶ IPC Responder (looper; waits for writability)
//! ```
//!
//! * Calls pipelined on one connection are served concurrently by the handlers and
//!   answered in completion order, each answer carrying its call id.
//! * Methods a service marks cheap ([`RpcService::is_cheap`], [`ServiceBuilder::cheap`])
//!   run on the reader itself when no call waits in the queue: no hand-off to a handler
//!   thread (Hadoop always hands off). Anything else, or anything while calls wait,
//!   goes through the queue, so a slow call never holds up a reader.
//! * Answers for one connection sent while another thread is writing to it are queued
//!   and written by that thread in one write.
//! * `max_connections` (`ipc.server.max.connections`) and `max_connections_per_ip`
//!   (`ipc.server.max.connections.per.ip`): one more is closed right after accept;
//!   `purge_interval` (`ipc.server.purge.interval`): a connection whose queued answers
//!   have not moved for that long is closed.
//! * Hostile peers cost what they send: frame buffers grow as bytes arrive (never from
//!   the announced length), a frame not complete within `frame_timeout` (plus an
//!   allowance of one second per `frame_min_rate` bytes received) closes the
//!   connection, and so does silence for `idle_timeout`. See [`limits`].
//! * Back-pressure instead of buffering: a full call queue or a connection whose client
//!   does not read its answers (`max_pending_output`) stops the reading of that
//!   connection's socket until there is room.
//! * Bad input gets Hadoop's answer (FATAL or ERROR, see the [`connection`] docs) and
//!   only that connection is closed.
//! * Simple auth only: auth byte 0, or SASL (0xDF) answered with `SUCCESS` to its
//!   `NEGOTIATE`, as a Hadoop server with security off does.
//!
//! # Not yet (issue 3)
//! A retry cache on `clientId` + call id; `stateId` in replies; authorizing the
//! context's user and protocol; the NameNode marking its cheap methods (it must first
//! be sure they never wait on the namesystem lock).
//!
//! # Examples
//! ```
//! use ferrodfs_ipc::server::{Server, ServiceBuilder};
//! use ferrodfs_proto::hdfs::{GetServerDefaultsRequestProto, GetServerDefaultsResponseProto};
//!
//! let service = ServiceBuilder::new("org.apache.hadoop.hdfs.protocol.ClientProtocol")
//!     .method("getServerDefaults", |_ctx, _req: GetServerDefaultsRequestProto| {
//!         Ok(GetServerDefaultsResponseProto::default())
//!     })
//!     .build();
//! let server = Server::builder()
//!     .bind("127.0.0.1:0".parse().unwrap())
//!     .handlers(2)
//!     .service(service)
//!     .start()?;
//! println!("serving on {}", server.local_addr());
//! server.shutdown();
//! # Ok::<(), ferrodfs_ipc::Error>(())
//! ```

mod conn;
pub mod connection;
pub mod limits;
mod reader;
pub mod response;
mod service;

pub use connection::ConnectionInfo;
pub use limits::{
    Limits, IPC_SERVER_MAX_CONNECTIONS_PER_IP_DEFAULT, IPC_SERVER_MAX_CONNECTIONS_PER_IP_KEY,
    IPC_SERVER_READ_FRAME_MIN_RATE_DEFAULT, IPC_SERVER_READ_FRAME_MIN_RATE_KEY,
    IPC_SERVER_READ_FRAME_TIMEOUT_DEFAULT, IPC_SERVER_READ_FRAME_TIMEOUT_KEY,
};
pub use service::{
    no_such_method, no_such_protocol, CallContext, RpcService, Service, ServiceBuilder,
    INVALID_PROTOCOL_BUFFER_CLASS,
};

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use ferrodfs_looper::{FdAction, FdEvents, Handler, Looper};

use crate::exception::{JavaException, RemoteException};
use crate::frame::IPC_MAXIMUM_DATA_LENGTH_DEFAULT;
use crate::Result;
use conn::Conn;
use connection::IncomingCall;
use service::Registry;

/// `ipc.server.read.threadpool.size` default.
pub const DEFAULT_READERS: usize = 1;
/// `dfs.namenode.handler.count` default.
pub const DEFAULT_HANDLERS: usize = 10;
/// `ipc.server.handler.queue.size` default: call queue room per handler.
pub const DEFAULT_QUEUE_SIZE_PER_HANDLER: usize = 100;
/// `ipc.client.connection.maxidletime`: the server closes connections idle for twice
/// this (Hadoop's `ConnectionManager`).
pub const IPC_CLIENT_CONNECTION_MAXIDLETIME_KEY: &str = "ipc.client.connection.maxidletime";
/// Default of [`IPC_CLIENT_CONNECTION_MAXIDLETIME_KEY`].
pub const IPC_CLIENT_CONNECTION_MAXIDLETIME_DEFAULT: Duration = Duration::from_secs(10);
/// `ipc.server.max.connections`: connections above this many are closed right after
/// accept; 0 = no limit.
pub const IPC_SERVER_MAX_CONNECTIONS_KEY: &str = "ipc.server.max.connections";
/// Default of [`IPC_SERVER_MAX_CONNECTIONS_KEY`]: no limit.
pub const IPC_SERVER_MAX_CONNECTIONS_DEFAULT: usize = 0;
/// `ipc.server.purge.interval` (minutes): a connection whose answers have not moved for
/// this long (its client does not read) is closed.
pub const IPC_SERVER_PURGE_INTERVAL_KEY: &str = "ipc.server.purge.interval";
/// Default of [`IPC_SERVER_PURGE_INTERVAL_KEY`]: 15 minutes.
pub const IPC_SERVER_PURGE_INTERVAL_DEFAULT: Duration = Duration::from_secs(15 * 60);
/// Default unsent-answer bytes per connection above which its requests are no longer read.
pub const DEFAULT_MAX_PENDING_OUTPUT: usize = 4 * 1024 * 1024;
/// Delay before accepting again after `accept` failed (e.g. out of file descriptors).
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Server settings (see [`ServerBuilder`] for each).
#[derive(Debug, Clone)]
pub struct Config {
    pub readers: usize,
    pub handlers: usize,
    pub queue_size: usize,
    pub max_frame_len: usize,
    pub idle_timeout: Duration,
    pub max_pending_output: usize,
    pub max_connections: usize,
    pub purge_interval: Duration,
    pub max_connections_per_ip: usize,
    pub frame_timeout: Duration,
    pub frame_min_rate: u64,
}

impl Config {
    /// Sets every limit from `limits`.
    pub fn set_limits(&mut self, limits: &Limits) {
        self.max_frame_len = limits.max_frame_len.min(i32::MAX as usize);
        self.idle_timeout = limits.idle_timeout;
        self.max_connections = limits.max_connections;
        self.max_connections_per_ip = limits.max_connections_per_ip;
        self.purge_interval = limits.purge_interval;
        self.frame_timeout = limits.frame_timeout;
        self.frame_min_rate = limits.frame_min_rate;
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            readers: DEFAULT_READERS,
            handlers: DEFAULT_HANDLERS,
            queue_size: DEFAULT_HANDLERS * DEFAULT_QUEUE_SIZE_PER_HANDLER,
            max_frame_len: IPC_MAXIMUM_DATA_LENGTH_DEFAULT,
            idle_timeout: IPC_CLIENT_CONNECTION_MAXIDLETIME_DEFAULT * 2,
            max_pending_output: DEFAULT_MAX_PENDING_OUTPUT,
            max_connections: IPC_SERVER_MAX_CONNECTIONS_DEFAULT,
            purge_interval: IPC_SERVER_PURGE_INTERVAL_DEFAULT,
            max_connections_per_ip: IPC_SERVER_MAX_CONNECTIONS_PER_IP_DEFAULT,
            frame_timeout: IPC_SERVER_READ_FRAME_TIMEOUT_DEFAULT,
            frame_min_rate: IPC_SERVER_READ_FRAME_MIN_RATE_DEFAULT,
        }
    }
}

/// Counters, for tests and monitoring.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    calls_served: AtomicU64,
    open_connections: AtomicUsize,
    accepted: AtomicU64,
    fatal_responses: AtomicU64,
    idle_closed: AtomicU64,
    dropped: AtomicU64,
    dropped_per_ip: AtomicU64,
    slow_closed: AtomicU64,
    purged: AtomicU64,
    pending_output: AtomicUsize,
}

/// A snapshot of the server's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ServerMetrics {
    /// Calls answered (SUCCESS or ERROR).
    pub calls_served: u64,
    /// Connections whose socket is open.
    pub open_connections: usize,
    /// Connections accepted since start.
    pub accepted_connections: u64,
    /// Connections closed for bad input (FATAL answer or silent close).
    pub fatal_responses: u64,
    /// Connections closed for idleness.
    pub idle_closed: u64,
    /// Connections closed right after accept: over `max_connections` or
    /// `max_connections_per_ip`.
    pub dropped_connections: u64,
    /// Of those, the ones over `max_connections_per_ip`.
    pub dropped_per_ip: u64,
    /// Connections closed because a frame did not complete in time (`frame_timeout`).
    pub slow_frames_closed: u64,
    /// Connections closed because their answers stopped moving (`purge_interval`).
    pub purged_connections: u64,
    /// Answer bytes waiting for slow clients, over all connections.
    pub pending_output_bytes: usize,
    /// Calls waiting for a handler.
    pub queued_calls: usize,
}

pub(crate) enum Job {
    Call(QueuedCall),
    Stop,
}

pub(crate) struct QueuedCall {
    conn: Arc<Conn>,
    call: IncomingCall,
}

/// What every thread of one server shares.
pub(crate) struct Shared {
    config: Config,
    registry: Registry,
    metrics: Metrics,
    responder: Handler,
    started: Instant,
    queue_rx: Receiver<Job>,
    readers_waiting: AtomicBool,
    waiting: Mutex<Vec<Handler>>,
    per_ip: limits::PeerCounts,
}

impl Shared {
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// A reader wants a wake when the call queue has room.
    fn wait_for_queue(&self, reader: Handler) {
        let mut w = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        w.push(reader);
        self.readers_waiting.store(true, Ordering::Release);
    }

    /// A handler took a call: wake the readers waiting for room.
    fn wake_waiting_readers(&self) {
        if !self.readers_waiting.load(Ordering::Acquire) {
            return;
        }
        let list = {
            let mut w = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
            self.readers_waiting.store(false, Ordering::Release);
            std::mem::take(&mut *w)
        };
        for h in list {
            h.post(reader::resume_queue);
        }
    }
}

/// Builds and starts a [`Server`].
#[derive(Default)]
pub struct ServerBuilder {
    addr: Option<SocketAddr>,
    config: Config,
    registry: Registry,
}

impl std::fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("addr", &self.addr)
            .field("config", &self.config)
            .finish()
    }
}

impl ServerBuilder {
    /// The address to listen on (port 0: the OS picks; see [`Server::local_addr`]).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.addr = Some(addr);
        self
    }

    /// Reader loopers (`ipc.server.read.threadpool.size`, default 1).
    pub fn readers(mut self, n: usize) -> Self {
        self.config.readers = n.max(1);
        self
    }

    /// Handler threads (default 10). Also sets the queue size to 100 per handler
    /// unless [`queue_size`](Self::queue_size) is called after.
    pub fn handlers(mut self, n: usize) -> Self {
        self.config.handlers = n.max(1);
        self.config.queue_size = self.config.handlers * DEFAULT_QUEUE_SIZE_PER_HANDLER;
        self
    }

    /// Calls the queue holds before readers stop reading.
    pub fn queue_size(mut self, n: usize) -> Self {
        self.config.queue_size = n.max(1);
        self
    }

    /// Largest frame accepted (`ipc.maximum.data.length`, default 128 MiB).
    pub fn max_frame_len(mut self, n: usize) -> Self {
        self.config.max_frame_len = n.min(i32::MAX as usize);
        self
    }

    /// Idle connections (nothing read, no call in flight) are closed after this
    /// (default 20 s: twice `ipc.client.connection.maxidletime`).
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.config.idle_timeout = d;
        self
    }

    /// Unsent answer bytes of one connection above which its requests are no longer
    /// read until half of them are sent (default 4 MiB).
    pub fn max_pending_output(mut self, n: usize) -> Self {
        self.config.max_pending_output = n.max(1);
        self
    }

    /// Most connections open at once (`ipc.server.max.connections`, default 0 = no
    /// limit): one more is closed right after accept, as Hadoop's Listener does.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.config.max_connections = n;
        self
    }

    /// A connection whose queued answers have not moved for this long (its client does
    /// not read them) is closed (`ipc.server.purge.interval`, default 15 min).
    pub fn purge_interval(mut self, d: Duration) -> Self {
        self.config.purge_interval = d;
        self
    }

    /// Most connections open at once from one peer IP
    /// (`ipc.server.max.connections.per.ip`, default 1024, 0 = no limit): one more is
    /// closed right after accept.
    pub fn max_connections_per_ip(mut self, n: usize) -> Self {
        self.config.max_connections_per_ip = n;
        self
    }

    /// A frame (or the preamble) whose first byte arrived longer ago than this, plus one
    /// second per [`frame_min_rate`](Self::frame_min_rate) bytes of it received, closes
    /// its connection (`ipc.server.read.frame.timeout.ms`, default 20 s).
    pub fn frame_timeout(mut self, d: Duration) -> Self {
        self.config.frame_timeout = d;
        self
    }

    /// Bytes per second a frame's sender must keep up to earn more time than
    /// [`frame_timeout`](Self::frame_timeout) (`ipc.server.read.frame.min.rate`,
    /// default 64 KiB/s; 0 = no allowance).
    pub fn frame_min_rate(mut self, bytes_per_sec: u64) -> Self {
        self.config.frame_min_rate = bytes_per_sec;
        self
    }

    /// Every limit at once, e.g. [`Limits::from_conf`].
    pub fn limits(mut self, limits: &Limits) -> Self {
        self.config.set_limits(limits);
        self
    }

    /// Registers a protocol implementation (a later one for the same protocol wins).
    pub fn service(mut self, service: impl RpcService) -> Self {
        self.registry.add(Arc::new(service));
        self
    }

    /// Registers a shared protocol implementation.
    pub fn service_arc(mut self, service: Arc<dyn RpcService>) -> Self {
        self.registry.add(service);
        self
    }

    /// Binds and starts every thread.
    pub fn start(self) -> Result<Server> {
        let addr = self
            .addr
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let local_addr = listener.local_addr()?;
        let config = self.config;
        let mut threads = Threads::default();

        let (responder, responder_thread) = spawn_looper("IPC Responder".into(), |_| Ok(()))?;
        threads.loopers.push((responder.clone(), responder_thread));

        let (queue_tx, queue_rx) = crossbeam_channel::bounded(config.queue_size);
        let shared = Arc::new(Shared {
            config: config.clone(),
            registry: self.registry,
            metrics: Metrics::default(),
            responder,
            started: Instant::now(),
            queue_rx,
            readers_waiting: AtomicBool::new(false),
            waiting: Mutex::new(Vec::new()),
            per_ip: limits::PeerCounts::default(),
        });
        let mut server = Server {
            local_addr,
            shared: Arc::clone(&shared),
            queue_tx: queue_tx.clone(),
            threads,
        };

        for i in 0..config.handlers {
            let shared = Arc::clone(&shared);
            let t = thread::Builder::new()
                .name(format!("IPC Handler #{i}"))
                .spawn(move || handler_loop(shared))?;
            server.threads.handlers.push(t);
        }

        let mut readers = Vec::new();
        for i in 0..config.readers {
            let shared = Arc::clone(&shared);
            let queue = queue_tx.clone();
            let (tx, rx) = mpsc::channel();
            let t = thread::Builder::new()
                .name(format!("IPC Reader #{i}"))
                .spawn(move || reader::run(shared, queue, tx))?;
            let handler = rx.recv().map_err(|_| crate::Error::Shutdown)??;
            readers.push(handler.clone());
            server.threads.readers.push((handler, t));
        }

        let listener = Arc::new(listener);
        let ctx = Arc::new(ListenerCtx {
            shared: Arc::clone(&shared),
            readers,
            next_id: AtomicU64::new(0),
        });
        let (listener_handler, listener_thread) =
            spawn_looper("IPC Listener".into(), move |looper| {
                watch_listener(looper, listener, ctx)
            })?;
        server.threads.listener = Some((listener_handler, listener_thread));
        tracing::info!(addr = %local_addr, ?config, "ipc server: started");
        Ok(server)
    }
}

/// Spawns a named thread running a looper; `setup` runs on it first.
fn spawn_looper(
    name: String,
    setup: impl FnOnce(&Looper) -> Result<()> + Send + 'static,
) -> Result<(Handler, JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel::<Result<Handler>>();
    let thread_name = name.clone();
    let t = thread::Builder::new().name(name).spawn(move || {
        let looper = match Looper::prepare() {
            Ok(l) => l,
            Err(e) => {
                let _ = tx.send(Err(e.into()));
                return;
            }
        };
        if let Err(e) = setup(&looper) {
            let _ = tx.send(Err(e));
            return;
        }
        let _ = tx.send(Ok(looper.handler()));
        if let Err(e) = looper.run() {
            tracing::error!(thread = %thread_name, error = %e, "ipc server: looper failed");
        }
    })?;
    let handler = rx.recv().map_err(|_| crate::Error::Shutdown)??;
    Ok((handler, t))
}

struct ListenerCtx {
    shared: Arc<Shared>,
    readers: Vec<Handler>,
    next_id: AtomicU64,
}

fn watch_listener(
    looper: &Looper,
    listener: Arc<TcpListener>,
    ctx: Arc<ListenerCtx>,
) -> Result<()> {
    let l = Arc::clone(&listener);
    looper.add_fd(&*listener, FdEvents::INPUT, move |_, _| {
        accept_all(&l, &ctx)
    })?;
    Ok(())
}

/// Accepts every pending connection and hands each to a reader, round robin.
fn accept_all(listener: &Arc<TcpListener>, ctx: &Arc<ListenerCtx>) -> FdAction {
    loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                let config = &ctx.shared.config;
                let max = config.max_connections;
                if max > 0 && ctx.shared.metrics.open_connections.load(Ordering::Relaxed) >= max {
                    // Hadoop's ConnectionManager refuses to register it; the socket closes.
                    ctx.shared.metrics.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%peer, max, "ipc server: too many connections, closing");
                    drop(stream);
                    continue;
                }
                let per_ip = config.max_connections_per_ip;
                if !ctx.shared.per_ip.try_add(peer.ip(), per_ip) {
                    let m = &ctx.shared.metrics;
                    m.dropped.fetch_add(1, Ordering::Relaxed);
                    m.dropped_per_ip.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%peer, per_ip, "ipc server: too many connections from this IP, closing");
                    drop(stream);
                    continue;
                }
                // From here the count is given back when the Conn drops, or below.
                if let Err(e) = stream
                    .set_nonblocking(true)
                    .and_then(|()| stream.set_nodelay(true))
                {
                    tracing::warn!(%peer, error = %e, "ipc server: cannot set up socket");
                    ctx.shared.per_ip.remove(peer.ip());
                    continue;
                }
                let id = ctx.next_id.fetch_add(1, Ordering::Relaxed);
                let reader = &ctx.readers[(id as usize) % ctx.readers.len()];
                ctx.shared.metrics.accepted.fetch_add(1, Ordering::Relaxed);
                let conn = Arc::new(Conn::new(
                    id,
                    stream,
                    peer,
                    reader.clone(),
                    Arc::clone(&ctx.shared),
                ));
                tracing::debug!(id, %peer, fd = conn.stream.as_raw_fd(), "ipc server: accepted");
                reader.post(move || reader::register(conn));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return FdAction::Keep,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                ) => {}
            Err(e) => {
                // E.g. out of file descriptors: stop watching for a while instead of
                // spinning on a listener that stays readable.
                tracing::warn!(error = %e, "ipc server: accept failed; pausing accepts");
                if let Some(looper) = Looper::my_looper() {
                    let (l, c) = (Arc::clone(listener), Arc::clone(ctx));
                    looper.handler().post_delayed(
                        move || {
                            if let Some(looper) = Looper::my_looper() {
                                if let Err(e) = watch_listener(&looper, l, c) {
                                    tracing::error!(error = %e, "ipc server: cannot watch the listener");
                                }
                            }
                        },
                        ACCEPT_RETRY_DELAY,
                    );
                }
                return FdAction::Remove;
            }
        }
    }
}

fn handler_loop(shared: Arc<Shared>) {
    while let Ok(job) = shared.queue_rx.recv() {
        shared.wake_waiting_readers();
        match job {
            Job::Call(qc) => serve(&shared, qc),
            Job::Stop => break,
        }
    }
}

fn serve(shared: &Shared, qc: QueuedCall) {
    let QueuedCall { conn, call } = qc;
    if conn.is_closed() {
        conn.in_flight.fetch_sub(1, Ordering::Relaxed);
        return;
    }
    let frame = run_call(shared, &conn, call);
    conn.send(frame);
    conn.touch();
    conn.in_flight.fetch_sub(1, Ordering::Relaxed);
}

/// Dispatches one call and builds its answer frame (SUCCESS, or ERROR for an exception
/// or a panic). Runs on a handler, or on the reader for a cheap method.
pub(crate) fn run_call(shared: &Shared, conn: &Conn, call: IncomingCall) -> bytes::Bytes {
    let ctx = CallContext {
        user: call.connection.user.clone(),
        real_user: call.connection.real_user.clone(),
        connection_protocol: call.connection.protocol.clone(),
        protocol: call.protocol,
        protocol_version: call.protocol_version,
        method: call.method,
        remote_addr: conn.peer,
        client_id: call.client_id,
        call_id: call.call_id,
        retry_count: call.retry_count,
        state_id: call.state_id,
    };
    let result = catch_unwind(AssertUnwindSafe(|| {
        shared.registry.dispatch(&ctx, call.request)
    }));
    let frame = match result {
        Ok(Ok(body)) => response::success(ctx.call_id, ctx.retry_count, &ctx.client_id, &body),
        Ok(Err(e)) => response::error(ctx.call_id, ctx.retry_count, &ctx.client_id, &e),
        Err(_) => {
            tracing::error!(method = %ctx.method, "ipc server: service panicked");
            let e = RemoteException::new(
                JavaException::RpcServerException,
                format!("server error serving {}", ctx.method),
            );
            response::error(ctx.call_id, ctx.retry_count, &ctx.client_id, &e)
        }
    };
    shared.metrics.calls_served.fetch_add(1, Ordering::Relaxed);
    frame
}

#[derive(Default)]
struct Threads {
    listener: Option<(Handler, JoinHandle<()>)>,
    readers: Vec<(Handler, JoinHandle<()>)>,
    handlers: Vec<JoinHandle<()>>,
    /// The Responder.
    loopers: Vec<(Handler, JoinHandle<()>)>,
}

/// A running RPC server. Dropping it shuts it down.
pub struct Server {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    queue_tx: Sender<Job>,
    threads: Threads,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("metrics", &self.metrics())
            .finish()
    }
}

impl Server {
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The settings in use.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    pub fn metrics(&self) -> ServerMetrics {
        let m = &self.shared.metrics;
        ServerMetrics {
            calls_served: m.calls_served.load(Ordering::Relaxed),
            open_connections: m.open_connections.load(Ordering::Relaxed),
            accepted_connections: m.accepted.load(Ordering::Relaxed),
            fatal_responses: m.fatal_responses.load(Ordering::Relaxed),
            idle_closed: m.idle_closed.load(Ordering::Relaxed),
            dropped_connections: m.dropped.load(Ordering::Relaxed),
            dropped_per_ip: m.dropped_per_ip.load(Ordering::Relaxed),
            slow_frames_closed: m.slow_closed.load(Ordering::Relaxed),
            purged_connections: m.purged.load(Ordering::Relaxed),
            pending_output_bytes: m.pending_output.load(Ordering::Relaxed),
            queued_calls: self.shared.queue_rx.len(),
        }
    }

    /// Stops accepting, closes every connection, lets handlers finish their current
    /// call, and joins every thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let t = &mut self.threads;
        if let Some((h, j)) = t.listener.take() {
            h.quit();
            let _ = j.join();
        }
        for (h, _) in &t.readers {
            h.quit();
        }
        for (_, j) in t.readers.drain(..) {
            let _ = j.join();
        }
        for _ in 0..t.handlers.len() {
            // Handlers drain the queue (skipping calls of closed connections), so this
            // cannot block for long.
            let _ = self.queue_tx.send(Job::Stop);
        }
        for j in t.handlers.drain(..) {
            let _ = j.join();
        }
        for (h, _) in &t.loopers {
            h.quit();
        }
        for (_, j) in t.loopers.drain(..) {
            let _ = j.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
