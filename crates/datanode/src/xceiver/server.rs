//! `DataXceiverServer`: the accept loop on the transfer port, and
//! `DataXceiver`: one named thread per connection reading ops in a loop
//! (clients reuse connections) until EOF, the keep-alive timeout, or an error.
//!
//! Each connection holds one of `dfs.datanode.max.transfer.threads` slots
//! ([`XceiverSlot`]) from accept until its thread ends — also when the thread
//! panics: the slot is a guard, and the panic is caught at the thread
//! boundary and logged. With every slot taken a new connection gets
//! `{ERROR, "Xceiver count N exceeds the limit of concurrent xceivers: M"}`
//! (Hadoop's message; Hadoop closes without a reply) and is closed, so the
//! client moves to another DataNode instead of waiting.

use std::collections::HashMap;
use std::io::Read;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use ferrodfs_proto::hdfs::Status;
use ferrodfs_transfer::op::{read_op_header, Op};

pub(crate) use super::peer_input::{Input, PeerInput, INPUT_BUFFER_SIZE};
use super::{checksum_op, receiver, send_error, sender, transfer, Ctx, XceiverConfig};
use crate::events::BlockEventListener;
use crate::storage::FsDataset;
use crate::{Error, Result};

/// Most bytes read (and dropped) from a refused connection before it is closed,
/// so that the close sends FIN rather than a reset that could discard the
/// error reply at the peer.
const REFUSED_DRAIN_LEN: usize = 64 * 1024;

/// What a connection does after an op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Read the next op.
    KeepOpen,
    /// Close the connection.
    Close,
}

/// Spawns a thread with a name (so stack dumps and logs say who is who).
pub(crate) fn spawn_named<F>(name: String, f: F) -> std::io::Result<JoinHandle<()>>
where
    F: FnOnce() + Send + 'static,
{
    std::thread::Builder::new().name(name).spawn(f)
}

#[derive(Default)]
struct ConnState {
    next_id: u64,
    streams: HashMap<u64, TcpStream>,
    threads: Vec<JoinHandle<()>>,
    stopping: bool,
}

/// Every socket the server has open (accepted and mirror connections), so
/// that shutdown can cut them all, and the connection threads to join.
#[derive(Default)]
pub(crate) struct Connections {
    state: Mutex<ConnState>,
    xceivers: Arc<AtomicUsize>,
}

/// One slot of `dfs.datanode.max.transfer.threads`, held by a connection's
/// thread and given back when dropped — by a normal end or by unwinding.
#[derive(Debug)]
pub(crate) struct XceiverSlot {
    count: Arc<AtomicUsize>,
}

impl XceiverSlot {
    /// Takes a slot if fewer than `max` are taken; otherwise `Err(taken)`.
    pub(crate) fn try_acquire(count: &Arc<AtomicUsize>, max: usize) -> Result<XceiverSlot, usize> {
        let mut taken = count.load(Ordering::SeqCst);
        loop {
            if taken >= max {
                return Err(taken);
            }
            match count.compare_exchange(taken, taken + 1, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => {
                    return Ok(XceiverSlot {
                        count: count.clone(),
                    })
                }
                Err(now) => taken = now,
            }
        }
    }
}

impl Drop for XceiverSlot {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs one xceiver's work holding `slot`; a panic in it is caught and logged
/// here, at the thread boundary, and the slot is released either way.
pub(crate) fn run_xceiver(slot: XceiverSlot, peer: &str, work: impl FnOnce()) {
    let _slot = slot;
    if let Err(panic) = catch_unwind(AssertUnwindSafe(work)) {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(peer, panic = %what, "DataXceiver panicked; connection closed");
    }
}

/// Removes its socket from [`Connections`] when dropped.
pub(crate) struct ConnGuard<'a> {
    conns: &'a Connections,
    id: u64,
}

impl Drop for ConnGuard<'_> {
    fn drop(&mut self) {
        self.conns.lock().streams.remove(&self.id);
    }
}

impl Connections {
    fn lock(&self) -> MutexGuard<'_, ConnState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tracks `s` until the guard drops; `None` (and `s` shut down) once the
    /// server is stopping.
    pub(crate) fn register(&self, s: &TcpStream) -> Option<ConnGuard<'_>> {
        let mut st = self.lock();
        if st.stopping {
            let _ = s.shutdown(Shutdown::Both);
            return None;
        }
        let clone = s.try_clone().ok()?;
        st.next_id += 1;
        let id = st.next_id;
        st.streams.insert(id, clone);
        Some(ConnGuard { conns: self, id })
    }

    fn stopping(&self) -> bool {
        self.lock().stopping
    }

    /// Refuses new connections (the acceptor ends at the next one) but leaves the
    /// open ones alone: the first step of a shutdown for restart.
    pub(crate) fn stop_accepting(&self) {
        self.lock().stopping = true;
    }

    /// Number of connection threads running.
    pub(crate) fn xceiver_count(&self) -> usize {
        self.xceivers.load(Ordering::Relaxed)
    }
}

/// The transfer server: an accept thread and a thread per connection.
pub struct DataXceiverServer {
    ctx: Arc<Ctx>,
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for DataXceiverServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataXceiverServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl DataXceiverServer {
    /// Binds `bind` (port 0: any free port) and starts accepting.
    pub fn start(
        ds: FsDataset,
        conf: XceiverConfig,
        events: Arc<dyn BlockEventListener>,
        bind: SocketAddr,
    ) -> Result<DataXceiverServer> {
        let listener = TcpListener::bind(bind).map_err(|source| Error::Net {
            op: "bind",
            peer: bind.to_string(),
            source,
        })?;
        let mut addr = listener.local_addr().map_err(|source| Error::Net {
            op: "local address",
            peer: bind.to_string(),
            source,
        })?;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let ctx = Arc::new(Ctx {
            ds,
            events,
            xfer_addr: addr,
            ecn: super::ecn::Ecn::new(conf.ecn),
            conns: Connections::default(),
            writers: super::oob::Writers::default(),
            slow_disk: super::slow_disk::SlowDisk::default(),
            slow_peers: super::slow_peers::SlowPeers::new(conf.slow_io_threshold),
            conf,
            restarting: std::sync::atomic::AtomicBool::new(false),
        });
        let c = ctx.clone();
        let acceptor = spawn_named(format!("DataXceiverServer-{}", addr.port()), move || {
            accept_loop(&c, listener)
        })
        .map_err(|source| Error::Net {
            op: "spawn acceptor",
            peer: addr.to_string(),
            source,
        })?;
        tracing::info!(%addr, "data transfer server listening");
        Ok(DataXceiverServer {
            ctx,
            addr,
            acceptor: Some(acceptor),
        })
    }

    /// The address peers dial (`ip:xferPort`; loopback when bound to any).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connection threads running now.
    pub fn xceiver_count(&self) -> usize {
        self.ctx.conns.xceiver_count()
    }

    pub(crate) fn ctx(&self) -> &Arc<Ctx> {
        &self.ctx
    }

    /// Stops accepting, cuts every open connection (accepted and mirror
    /// sockets: peers see EOF or a reset at once) and joins the threads.
    pub fn shutdown(&mut self) {
        let threads = {
            let mut st = self.ctx.conns.lock();
            st.stopping = true;
            for s in st.streams.values() {
                let _ = s.shutdown(Shutdown::Both);
            }
            std::mem::take(&mut st.threads)
        };
        // Wake the acceptor blocked in accept().
        let _ = TcpStream::connect(self.addr);
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
        for t in threads {
            let _ = t.join();
        }
        // Threads spawned by the acceptor after we took the list.
        let late = std::mem::take(&mut self.ctx.conns.lock().threads);
        for t in late {
            let _ = t.join();
        }
        tracing::info!(addr = %self.addr, "data transfer server stopped");
    }
}

impl Drop for DataXceiverServer {
    fn drop(&mut self) {
        if self.acceptor.is_some() {
            self.shutdown();
        }
    }
}

fn accept_loop(ctx: &Arc<Ctx>, listener: TcpListener) {
    for conn in listener.incoming() {
        if ctx.conns.stopping() {
            break;
        }
        let stream = match conn {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                // Out of file descriptors and the like: back off a little.
                std::thread::sleep(std::time::Duration::from_millis(50));
                continue;
            }
        };
        let slot =
            match XceiverSlot::try_acquire(&ctx.conns.xceivers, ctx.conf.max_transfer_threads) {
                Ok(slot) => slot,
                Err(count) => {
                    refuse(ctx, stream, count);
                    continue;
                }
            };
        let peer = stream
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let c = ctx.clone();
        let spawned = spawn_named(format!("DataXceiver-{peer}"), move || {
            run_xceiver(slot, &peer, || serve(&c, stream, &peer));
        });
        match spawned {
            Ok(h) => {
                let mut st = ctx.conns.lock();
                st.threads.retain(|t| !t.is_finished());
                st.threads.push(h);
            }
            Err(e) => {
                // The closure (and the slot in it) was dropped.
                tracing::warn!(error = %e, "cannot spawn a DataXceiver thread");
            }
        }
    }
}

/// Turns a connection away when every xceiver slot is taken: an error reply
/// (Hadoop's message), then close. Runs on the accept thread, so nothing here
/// may block: the socket is non-blocking, the reply fits any send buffer, and
/// what the peer already sent (its op) is read and dropped.
fn refuse(ctx: &Ctx, stream: TcpStream, count: usize) {
    let limit = ctx.conf.max_transfer_threads;
    let msg = format!("Xceiver count {count} exceeds the limit of concurrent xceivers: {limit}");
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tracing::warn!(peer, "{}:DataXceiverServer: {msg}", ctx.xfer_addr);
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    let _ = send_error(&mut &stream, Status::Error, msg);
    let _ = stream.shutdown(Shutdown::Write);
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    while drained < REFUSED_DRAIN_LEN {
        match (&stream).read(&mut sink) {
            Ok(n) if n > 0 => drained += n,
            _ => break,
        }
    }
}

/// One connection: ops until EOF, idle timeout or an error.
fn serve(ctx: &Ctx, stream: TcpStream, peer: &str) {
    let Some(_guard) = ctx.conns.register(&stream) else {
        return;
    };
    let setup = stream
        .set_nodelay(true)
        .and_then(|_| stream.set_write_timeout(Some(ctx.conf.write_timeout)))
        .and_then(|_| stream.try_clone());
    let read_half = match setup {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(peer, error = %e, "cannot set up connection");
            return;
        }
    };
    let mut input = PeerInput::buffered(read_half);
    let mut ops = 0u64;
    loop {
        // The first op's header must arrive within the socket timeout, later
        // ones' within the keep-alive; the whole request (header and proto)
        // within the socket timeout of the connection going idle. A peer
        // dribbling its request is cut there, however it paces the bytes.
        let idle_since = std::time::Instant::now();
        let idle = if ops == 0 {
            ctx.conf.socket_timeout
        } else {
            ctx.conf.keepalive_timeout
        };
        if input.get_mut().start(idle).is_err() {
            break;
        }
        let op = match read_op_header(&mut input) {
            Ok(Some(op)) => op,
            Ok(None) => break,
            Err(ferrodfs_transfer::Error::BadVersion(v)) => {
                let msg = format!("Version Mismatch (Expected: 28, Received: {v} )");
                tracing::info!(peer, "{msg}");
                let _ = send_error(&mut &stream, Status::Error, msg);
                break;
            }
            Err(ferrodfs_transfer::Error::UnknownOp(code)) => {
                let msg = format!("Unknown op {code} in data stream");
                tracing::info!(peer, "{msg}");
                let _ = send_error(&mut &stream, Status::ErrorUnsupported, msg);
                break;
            }
            Err(e) => {
                // EOF mid-header, timeout while idle, reset: nothing to answer.
                tracing::debug!(peer, ops, error = %e, "connection ends");
                break;
            }
        };
        let request_deadline = idle_since + ctx.conf.socket_timeout.max(idle);
        if input.get_mut().until(request_deadline).is_err() {
            break;
        }
        ops += 1;
        tracing::debug!(peer, ?op, "op");
        let result = match op {
            Op::WriteBlock => receiver::write_block(ctx, &mut input, &stream, peer),
            Op::ReadBlock => sender::read_block(ctx, &mut input, &stream, peer),
            Op::BlockChecksum => checksum_op::block_checksum(ctx, &mut input, &stream),
            Op::TransferBlock => transfer::transfer_block_op(ctx, &mut input, &stream),
            other => {
                let msg = format!("op {other:?} is not supported by this DataNode");
                tracing::info!(peer, "{msg}");
                let _ = send_error(&mut &stream, Status::ErrorUnsupported, msg);
                Ok(Next::Close)
            }
        };
        match result {
            Ok(Next::KeepOpen) => {}
            Ok(Next::Close) => break,
            Err(e) => {
                tracing::info!(peer, ?op, error = %e, "op failed");
                break;
            }
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_and_released_by_a_panicking_xceiver() {
        let count = Arc::new(AtomicUsize::new(0));
        let a = XceiverSlot::try_acquire(&count, 2).unwrap();
        let b = XceiverSlot::try_acquire(&count, 2).unwrap();
        assert_eq!(XceiverSlot::try_acquire(&count, 2).unwrap_err(), 2);
        drop(a);
        let t = std::thread::spawn(move || run_xceiver(b, "test", || panic!("boom")));
        // The panic was caught at the boundary: the thread ends normally.
        t.join().unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 0);
        let _c = XceiverSlot::try_acquire(&count, 2).unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }
}
