//! Shared helpers for the looper integration tests.
#![allow(dead_code)]

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use ferrodfs_looper::{Handler, Looper};

/// An append-only log shared between callbacks and the test.
#[derive(Clone, Default)]
pub struct Log<T>(Arc<Mutex<Vec<T>>>);

impl<T: Clone> Log<T> {
    pub fn new() -> Self {
        Log(Arc::new(Mutex::new(Vec::new())))
    }
    pub fn push(&self, v: T) {
        self.0.lock().unwrap().push(v);
    }
    pub fn get(&self) -> Vec<T> {
        self.0.lock().unwrap().clone()
    }
    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// Runs a looper on a named thread; returns its handler and the join handle (which yields
/// the result of `run`).
pub fn spawn_looper(name: &str) -> (Handler, JoinHandle<ferrodfs_looper::Result<()>>) {
    let (tx, rx) = mpsc::channel();
    let join = thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let looper = Looper::prepare()?;
            tx.send(looper.handler()).expect("test receiver alive");
            looper.run()
        })
        .expect("spawn looper thread");
    (rx.recv().expect("looper thread sent its handler"), join)
}

/// Polls `cond` until it holds, failing after `limit`.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < limit,
            "condition not reached within {limit:?}"
        );
        thread::yield_now();
    }
}

/// Runs `poll_once(Some(ZERO))` until it reports nothing more to do, up to `max` times.
pub fn drain(looper: &Looper, max: usize) {
    for _ in 0..max {
        let r = looper.poll_once(Some(Duration::ZERO)).expect("poll");
        if r == ferrodfs_looper::PollResult::Timeout {
            return;
        }
    }
}
