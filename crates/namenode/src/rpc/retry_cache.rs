//! The RPC retry cache (Hadoop's `org.apache.hadoop.ipc.RetryCache`): answers a retried
//! non-idempotent (`@AtMostOnce`) call with the answer of its first attempt instead of
//! running it again.
//!
//! A call is identified by the client's 16-byte id and its call id, which a retrying
//! client keeps (only `retryCount` grows). The first attempt claims the key; a retry
//! arriving while it runs waits for it; a retry after it succeeded gets the first
//! response's bytes. As in Hadoop, only successes are kept: when the first attempt
//! failed, a retry runs the call again. Calls without a client id (older clients, in-process
//! callers), or with a negative call id or `retryCount`, bypass the cache.
//!
//! Completed entries expire `expiry` after they completed
//! (`dfs.namenode.retrycache.expirytime.millis`, 10 min) and at most `max_entries`
//! completed entries are kept (oldest evicted first; Hadoop sizes the cache as a share of
//! the heap, `dfs.namenode.retrycache.heap.percent`).
//!
//! ```
//! use std::time::Duration;
//! use bytes::Bytes;
//! use ferrodfs_ipc::server::CallContext;
//! use ferrodfs_namenode::rpc::retry_cache::RetryCache;
//!
//! let cache = RetryCache::new(Duration::from_secs(600), 1000);
//! let mut ctx = CallContext::new("alice", "p", "delete", "127.0.0.1:1".parse().unwrap());
//! ctx.client_id = Bytes::from_static(&[7; 16]);
//! ctx.call_id = 3;
//! ctx.retry_count = 0;
//! let first = cache.run(&ctx, || Ok(Bytes::from_static(b"first")));
//! ctx.retry_count = 1;
//! let retried = cache.run(&ctx, || Ok(Bytes::from_static(b"second")));
//! assert_eq!(first.unwrap(), retried.unwrap());
//! ```
//!
//! TODO (issue 4): the cache is not rebuilt from the edit log after a restart (Hadoop logs
//! the client id and call id with each edit so a retry across a NameNode restart or
//! failover still finds its answer).

use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrodfs_ipc::server::CallContext;
use ferrodfs_ipc::RemoteException;

use crate::config::NameNodeConfig;

/// (client id, call id).
type Key = (Bytes, i32);

#[derive(Debug)]
enum State {
    /// The first attempt is running.
    InProgress,
    /// The first attempt succeeded with this response.
    Done(Bytes),
}

#[derive(Debug)]
struct Slot {
    /// Tells this slot from a later one under the same key (after a failure or eviction).
    generation: u64,
    state: State,
}

#[derive(Debug, Default)]
struct Inner {
    slots: HashMap<Key, Slot>,
    /// Completed slots in completion order, with when they expire.
    completed: VecDeque<(Key, u64, Instant)>,
    next_generation: u64,
    hits: u64,
    /// Retries waiting for a running first attempt.
    waiting: usize,
}

impl Inner {
    /// Drops expired completed entries, and the oldest ones beyond `max_entries`.
    fn evict(&mut self, now: Instant, max_entries: usize) {
        while let Some((key, generation, expires)) = self.completed.front() {
            if *expires > now && self.completed.len() <= max_entries {
                break;
            }
            if self
                .slots
                .get(key)
                .is_some_and(|s| s.generation == *generation)
            {
                self.slots.remove(key);
            }
            self.completed.pop_front();
        }
    }
}

/// A bounded, expiring map from (client id, call id) to the first answer of a call.
#[derive(Debug)]
pub struct RetryCache {
    inner: Mutex<Inner>,
    changed: Condvar,
    expiry: Duration,
    max_entries: usize,
}

impl RetryCache {
    /// A cache keeping completed answers for `expiry`, at most `max_entries` of them.
    pub fn new(expiry: Duration, max_entries: usize) -> RetryCache {
        RetryCache {
            inner: Mutex::new(Inner::default()),
            changed: Condvar::new(),
            expiry,
            max_entries: max_entries.max(1),
        }
    }

    /// The cache `config` asks for, or `None` when `dfs.namenode.enable.retrycache` is off.
    pub fn from_config(config: &NameNodeConfig) -> Option<RetryCache> {
        config
            .retry_cache_enabled
            .then(|| RetryCache::new(config.retry_cache_expiry, config.retry_cache_max_entries))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `ctx`'s call takes part (Hadoop's `RetryCache.skipRetryCache` inverted).
    pub fn applies(ctx: &CallContext) -> bool {
        !ctx.client_id.is_empty() && ctx.call_id >= 0 && ctx.retry_count >= 0
    }

    /// Runs `f` for `ctx`'s call at most once: a retry of a call that succeeded gets its
    /// response, a retry of a call still running waits for it.
    pub fn run(
        &self,
        ctx: &CallContext,
        f: impl FnOnce() -> Result<Bytes, RemoteException>,
    ) -> Result<Bytes, RemoteException> {
        if !Self::applies(ctx) {
            return f();
        }
        let key: Key = (ctx.client_id.clone(), ctx.call_id);
        let generation = {
            let mut inner = self.lock();
            loop {
                inner.evict(Instant::now(), self.max_entries);
                match inner.slots.get(&key) {
                    None => break,
                    Some(Slot {
                        state: State::Done(response),
                        ..
                    }) => {
                        let response = response.clone();
                        inner.hits += 1;
                        tracing::debug!(
                            method = %ctx.method,
                            call_id = ctx.call_id,
                            retry_count = ctx.retry_count,
                            "retry cache: answering a retried call from its first attempt"
                        );
                        return Ok(response);
                    }
                    Some(Slot {
                        state: State::InProgress,
                        ..
                    }) => {
                        inner.waiting += 1;
                        inner = self
                            .changed
                            .wait(inner)
                            .unwrap_or_else(PoisonError::into_inner);
                        inner.waiting -= 1;
                    }
                }
            }
            let generation = inner.next_generation;
            inner.next_generation += 1;
            inner.slots.insert(
                key.clone(),
                Slot {
                    generation,
                    state: State::InProgress,
                },
            );
            generation
        };
        let mut pending = Pending {
            cache: self,
            key,
            generation,
            finished: false,
        };
        let result = f();
        match &result {
            Ok(response) => pending.succeed(response.clone()),
            Err(_) => pending.fail(),
        }
        result
    }

    /// Completed answers retried calls got from the cache so far.
    pub fn hits(&self) -> u64 {
        self.lock().hits
    }

    /// Retries now waiting for their call's first attempt to finish.
    pub fn waiting(&self) -> usize {
        self.lock().waiting
    }

    /// Entries held (running and completed).
    pub fn len(&self) -> usize {
        self.lock().slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A claimed key; dropping it unfinished (the call panicked) frees the key.
struct Pending<'a> {
    cache: &'a RetryCache,
    key: Key,
    generation: u64,
    finished: bool,
}

impl Pending<'_> {
    fn succeed(&mut self, response: Bytes) {
        self.finished = true;
        let mut inner = self.cache.lock();
        if let Some(slot) = inner.slots.get_mut(&self.key) {
            if slot.generation == self.generation {
                slot.state = State::Done(response);
                let expires = Instant::now() + self.cache.expiry;
                inner
                    .completed
                    .push_back((self.key.clone(), self.generation, expires));
                inner.evict(Instant::now(), self.cache.max_entries);
            }
        }
        drop(inner);
        self.cache.changed.notify_all();
    }

    fn fail(&mut self) {
        self.finished = true;
        self.remove();
    }

    fn remove(&self) {
        let mut inner = self.cache.lock();
        if inner
            .slots
            .get(&self.key)
            .is_some_and(|s| s.generation == self.generation)
        {
            inner.slots.remove(&self.key);
        }
        drop(inner);
        self.cache.changed.notify_all();
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.remove();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{mpsc, Arc};

    use ferrodfs_ipc::exception::JavaException;

    use super::*;

    fn ctx(client: u8, call_id: i32, retry_count: i32) -> CallContext {
        let mut c = CallContext::new("u", "p", "create", "127.0.0.1:1".parse().unwrap());
        c.client_id = Bytes::from(vec![client; 16]);
        c.call_id = call_id;
        c.retry_count = retry_count;
        c
    }

    #[test]
    fn retry_gets_first_answer_other_keys_run() {
        let cache = RetryCache::new(Duration::from_secs(600), 100);
        let runs = AtomicUsize::new(0);
        let call = |c: &CallContext| {
            cache.run(c, || {
                let n = runs.fetch_add(1, Ordering::SeqCst);
                Ok(Bytes::from(n.to_string()))
            })
        };
        assert_eq!(call(&ctx(1, 5, 0)).unwrap(), "0");
        assert_eq!(call(&ctx(1, 5, 1)).unwrap(), "0");
        assert_eq!(call(&ctx(1, 6, 0)).unwrap(), "1");
        assert_eq!(call(&ctx(2, 5, 0)).unwrap(), "2");
        // No retry count, or no client id: bypass.
        assert_eq!(call(&ctx(1, 5, -1)).unwrap(), "3");
        let mut anonymous = ctx(1, 5, 0);
        anonymous.client_id = Bytes::new();
        assert_eq!(call(&anonymous).unwrap(), "4");
        assert_eq!(cache.hits(), 1);
    }

    #[test]
    fn failure_is_not_cached() {
        let cache = RetryCache::new(Duration::from_secs(600), 100);
        let e = cache.run(&ctx(1, 1, 0), || {
            Err(RemoteException::new(
                JavaException::RetriableException,
                "later",
            ))
        });
        assert!(e.is_err());
        assert!(cache.is_empty());
        let ok = cache.run(&ctx(1, 1, 1), || Ok(Bytes::from_static(b"ok")));
        assert_eq!(ok.unwrap(), "ok");
    }

    #[test]
    fn expiry_and_cap_evict() {
        let cache = RetryCache::new(Duration::ZERO, 100);
        cache.run(&ctx(1, 1, 0), || Ok(Bytes::new())).unwrap();
        let again = cache.run(&ctx(1, 1, 1), || Ok(Bytes::from_static(b"x")));
        assert_eq!(again.unwrap(), "x", "expired entry runs again");

        let cache = RetryCache::new(Duration::from_secs(600), 2);
        for id in 0..3 {
            cache.run(&ctx(1, id, 0), || Ok(Bytes::new())).unwrap();
        }
        assert_eq!(cache.len(), 2);
        let oldest = cache.run(&ctx(1, 0, 1), || Ok(Bytes::from_static(b"y")));
        assert_eq!(oldest.unwrap(), "y", "oldest entry was evicted");
    }

    #[test]
    fn retry_waits_for_running_first_attempt() {
        let cache = Arc::new(RetryCache::new(Duration::from_secs(600), 100));
        let (started_tx, started_rx) = mpsc::channel();
        let (finish_tx, finish_rx) = mpsc::channel::<()>();
        let first = {
            let cache = Arc::clone(&cache);
            std::thread::Builder::new()
                .name("first-attempt".into())
                .spawn(move || {
                    cache.run(&ctx(1, 9, 0), || {
                        started_tx.send(()).unwrap();
                        finish_rx.recv().unwrap();
                        Ok(Bytes::from_static(b"first"))
                    })
                })
                .unwrap()
        };
        started_rx.recv().unwrap();
        let retry = {
            let cache = Arc::clone(&cache);
            std::thread::Builder::new()
                .name("retry".into())
                .spawn(move || cache.run(&ctx(1, 9, 1), || Ok(Bytes::from_static(b"again"))))
                .unwrap()
        };
        while cache.waiting() == 0 {
            std::thread::yield_now();
        }
        finish_tx.send(()).unwrap();
        assert_eq!(first.join().unwrap().unwrap(), "first");
        assert_eq!(retry.join().unwrap().unwrap(), "first");
    }
}
