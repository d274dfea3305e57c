//! The lease renewer: one named thread per [`crate::DfsClient`] that calls
//! `renewLease` every `lease soft limit / 2` (30 s) while the client has files open
//! for writing (Hadoop's `LeaseRenewer`).

use ferrodfs_ipc::client::namenode::NamenodeProtocol;
use ferrodfs_proto::hdfs::RenewLeaseRequestProto;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct State {
    open_files: usize,
    shutdown: bool,
    started: bool,
    renewals: u64,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    cond: Condvar,
    nn: NamenodeProtocol,
    client_name: String,
    interval: Duration,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Renews the client's lease while files are open. Dropping it stops the thread once
/// no file is open any more.
#[derive(Debug)]
pub struct LeaseRenewer {
    inner: Arc<Inner>,
}

/// Held by each open output stream; the renewer renews while any is alive.
#[derive(Debug)]
pub struct OpenFileGuard {
    inner: Arc<Inner>,
}

impl Drop for OpenFileGuard {
    fn drop(&mut self) {
        self.inner.lock().open_files -= 1;
        self.inner.cond.notify_all();
    }
}

impl LeaseRenewer {
    pub fn new(nn: NamenodeProtocol, client_name: String, interval: Duration) -> LeaseRenewer {
        LeaseRenewer {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                cond: Condvar::new(),
                nn,
                client_name,
                interval,
            }),
        }
    }

    /// Registers an open file, starting the renewer thread on first use.
    pub fn open_file(&self) -> std::io::Result<OpenFileGuard> {
        let mut s = self.inner.lock();
        if !s.started {
            let inner = self.inner.clone();
            thread::Builder::new()
                .name(format!("LeaseRenewer:{}", self.inner.client_name))
                .spawn(move || run(&inner))?;
            s.started = true;
        }
        s.open_files += 1;
        drop(s);
        self.inner.cond.notify_all();
        Ok(OpenFileGuard {
            inner: self.inner.clone(),
        })
    }

    /// `renewLease` calls made so far.
    pub fn renewals(&self) -> u64 {
        self.inner.lock().renewals
    }
}

impl Drop for LeaseRenewer {
    fn drop(&mut self) {
        self.inner.lock().shutdown = true;
        self.inner.cond.notify_all();
    }
}

fn run(inner: &Inner) {
    let mut next = Instant::now() + inner.interval;
    let mut s = inner.lock();
    loop {
        if s.shutdown && s.open_files == 0 {
            return;
        }
        let now = Instant::now();
        if s.open_files == 0 {
            // Nothing to renew: sleep until a file opens; its first renewal is an
            // interval later.
            s = inner.cond.wait(s).unwrap_or_else(|p| p.into_inner());
            next = Instant::now() + inner.interval;
            continue;
        }
        if now < next {
            s = match inner.cond.wait_timeout(s, next - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
            continue;
        }
        drop(s);
        let req = RenewLeaseRequestProto {
            client_name: inner.client_name.clone(),
            namespaces: Vec::new(),
        };
        if let Err(e) = inner.nn.renew_lease(&req) {
            tracing::warn!(client = %inner.client_name, error = %e, "renewLease failed");
        }
        next = Instant::now() + inner.interval;
        s = inner.lock();
        s.renewals += 1;
    }
}
