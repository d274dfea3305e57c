//! Shutting a DataNode down on request (ClientDatanodeProtocol `shutdownDatanode`,
//! `dfsadmin -shutdownDatanode <host:ipc_port> [upgrade]`) and what
//! `getDatanodeInfo` reports.
//!
//! A shutdown **for upgrade** is Hadoop's rolling-restart path (`DataNode.shutdown`
//! with `shutdownForUpgrade`):
//! 1. the transfer server stops accepting connections;
//! 2. every client writing through this node gets an OOB_RESTART ack
//!    ([`oob`](crate::xceiver::oob)), each within `dfs.datanode.oob.timeout-ms`;
//! 3. their replicas get a `.restart` deadline
//!    ([`restart`](crate::storage::restart)), so a restart within
//!    `dfs.datanode.restart.replica.expiration` loads them as RBW;
//! 4. after a second (Hadoop's grace for the client to read the OOB ack before the
//!    connection closes) the owner of the [`DataNode`](crate::DataNode) is told to
//!    shut it down ([`ShutdownRequest::wait`]); the writers wait for the node to come
//!    back (`dfs.client.datanode-restart.timeout`) and rebuild their pipelines with it.
//!
//! A plain shutdown waits a second (so the RPC answer goes out) and then asks the
//! owner to shut down. A second request fails with "Shutdown already in progress."

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use ferrodfs_proto::hdfs::DatanodeLocalInfoProto;

use crate::xceiver::Ctx;

/// Grace between the OOB acks and the shutdown (Hadoop sleeps 1 s in
/// `BlockReceiver` so that the client reads the OOB ack before the socket closes).
pub const OOB_GRACE: Duration = Duration::from_secs(1);
/// Delay of a shutdown that is not for an upgrade (Hadoop's, so the RPC answers).
pub const PLAIN_SHUTDOWN_DELAY: Duration = Duration::from_secs(1);
/// `hadoop.common.configuration.version` and `hadoop.hdfs.configuration.version` as
/// Hadoop 3.3's default XML files set them (what `getDatanodeInfo` reports).
pub const CONFIG_VERSION: &str = "core-0.23.0,hdfs-1";

/// A request to shut the DataNode down, set once; its owner waits for it.
#[derive(Debug, Default)]
pub struct ShutdownRequest {
    state: Mutex<Option<bool>>,
    cond: Condvar,
}

impl ShutdownRequest {
    /// Asks for a shutdown (`for_upgrade`: a restart follows); false if one was
    /// already asked for.
    pub fn request(&self, for_upgrade: bool) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.is_some() {
            return false;
        }
        *s = Some(for_upgrade);
        self.cond.notify_all();
        true
    }

    /// Blocks until a shutdown is asked for; true if for an upgrade.
    pub fn wait(&self) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(u) = *s {
                return u;
            }
            s = self.cond.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Like [`ShutdownRequest::wait`] for at most `timeout`; `None` if none came.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<bool> {
        let deadline = Instant::now() + timeout;
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while s.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            s = self
                .cond
                .wait_timeout(s, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *s
    }
}

/// What the IPC server needs to serve `shutdownDatanode` and `getDatanodeInfo`.
pub struct Control {
    pub(crate) ctx: Arc<Ctx>,
    pub(crate) request: Arc<ShutdownRequest>,
    /// Set by the first `shutdownDatanode` (the request itself is set later).
    in_progress: Mutex<bool>,
    started: Instant,
    pub(crate) restart_replica_expiry: Duration,
    pub(crate) oob_timeout: Duration,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control").finish_non_exhaustive()
    }
}

impl Control {
    pub(crate) fn new(
        ctx: Arc<Ctx>,
        request: Arc<ShutdownRequest>,
        restart_replica_expiry: Duration,
        oob_timeout: Duration,
    ) -> Control {
        Control {
            ctx,
            request,
            in_progress: Mutex::new(false),
            started: Instant::now(),
            restart_replica_expiry,
            oob_timeout,
        }
    }

    /// `getDatanodeInfo`: software version, configuration version, uptime (s).
    pub fn local_info(&self) -> DatanodeLocalInfoProto {
        DatanodeLocalInfoProto {
            software_version: crate::actor::SOFTWARE_VERSION.to_string(),
            config_version: CONFIG_VERSION.to_string(),
            uptime: self.started.elapsed().as_secs(),
        }
    }

    /// `shutdownDatanode(forUpgrade)`: starts the shutdown on a thread of its own
    /// (the RPC answers first). Err("Shutdown already in progress.") the second time.
    pub fn shutdown_datanode(self: &Arc<Self>, for_upgrade: bool) -> Result<(), String> {
        {
            let mut p = self.in_progress.lock().unwrap_or_else(|e| e.into_inner());
            if *p {
                return Err("Shutdown already in progress.".to_string());
            }
            *p = true;
        }
        tracing::info!(
            upgrade = for_upgrade,
            "shutdownDatanode command received. Shutting down Datanode..."
        );
        let me = Arc::clone(self);
        std::thread::Builder::new()
            .name("Async datanode shutdown thread".to_string())
            .spawn(move || {
                if for_upgrade {
                    me.prepare_restart();
                } else {
                    std::thread::sleep(PLAIN_SHUTDOWN_DELAY);
                }
                me.request.request(for_upgrade);
            })
            .map(|_| ())
            .map_err(|e| format!("cannot start the shutdown thread: {e}"))
    }

    /// Steps 1–4 of the module docs, up to the request.
    fn prepare_restart(&self) {
        let ctx = &self.ctx;
        ctx.restarting
            .store(true, std::sync::atomic::Ordering::SeqCst);
        ctx.conns.stop_accepting();
        let writers = ctx.writers.send_oob_restart(self.oob_timeout);
        for w in &writers {
            if let Err(e) =
                ctx.ds
                    .save_rbw_for_restart(&w.pool_id, w.block_id, self.restart_replica_expiry)
            {
                tracing::warn!(block = w.block_id, error = %e, "cannot save the replica for restart");
            }
        }
        tracing::info!(writers = writers.len(), "shutting down for restart");
        if !writers.is_empty() {
            std::thread::sleep(OOB_GRACE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_taken_once_and_wakes_the_owner() {
        let r = Arc::new(ShutdownRequest::default());
        assert_eq!(r.wait_timeout(Duration::from_millis(1)), None);
        let waiter = {
            let r = Arc::clone(&r);
            std::thread::spawn(move || r.wait())
        };
        assert!(r.request(true));
        assert!(!r.request(false));
        assert!(waiter.join().unwrap());
        assert_eq!(r.wait_timeout(Duration::ZERO), Some(true));
    }
}
