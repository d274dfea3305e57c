//! The MessageQueue: messages ordered by `(when, seq)`, shared between the looper thread and
//! every [`Handler`](crate::Handler) behind one mutex.
//!
//! # Invariants
//! - `State::messages` is sorted by [`Key`]; keys are unique (every entry has its own `seq`).
//! - The lock is never held while user code runs.
//! - `State::blocked` is true only while the looper thread is in (or about to enter) a
//!   blocking `epoll_wait` whose timeout was computed from the queue as it was then. A
//!   producer that must wake it clears the flag and writes the eventfd once; later producers
//!   see `blocked == false` and write nothing (wakes coalesce).
//! - `State::in_flight[pos..]` (with `pos = Shared::in_flight_pos`) describes messages the
//!   looper has taken out of the queue in its current batch and not yet started, so that
//!   `has` and `remove` see them; `remove`/`quit`/`post_at_front` bump `Shared::disturb`
//!   so the looper re-checks the rest of its batch.

use std::any::Any;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::sys::WakeFd;

/// A closure posted with `post*`.
pub(crate) type Task = Box<dyn FnOnce() + Send + 'static>;

/// The ordering key. `front` entries (from `post_at_front`) sort before every timed entry and
/// among themselves last-posted-first, as Android's `when == 0` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    /// 0 = front of queue, 1 = timed.
    class: u8,
    /// For front entries: the queue's creation instant (always due).
    pub(crate) when: Instant,
    /// Posting order; for front entries `u64::MAX - n`, so later posts sort first.
    seq: u64,
}

pub(crate) enum Payload {
    Task(Task),
    Message {
        what: i32,
        arg1: i64,
        arg2: i64,
        payload: Option<Box<dyn Any + Send>>,
    },
    Barrier(u64),
}

pub(crate) struct Entry {
    pub(crate) key: Key,
    pub(crate) asynchronous: bool,
    /// Id of the handler that posted it (0 for barriers).
    pub(crate) target: u64,
    pub(crate) payload: Payload,
}

impl Entry {
    fn is_barrier(&self) -> bool {
        matches!(self.payload, Payload::Barrier(_))
    }

    fn what(&self) -> Option<i32> {
        match self.payload {
            Payload::Message { what, .. } => Some(what),
            _ => None,
        }
    }
}

/// Which messages a `remove`/`has` call selects.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Selector {
    /// `send` messages of this handler with this `what`.
    What(u64, i32),
    /// Every message (closure or `send`) of this handler.
    AllOf(u64),
}

impl Selector {
    fn matches(self, target: u64, what: Option<i32>) -> bool {
        match self {
            Selector::What(t, w) => t == target && what == Some(w),
            Selector::AllOf(t) => t == target,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct InFlight {
    target: u64,
    what: Option<i32>,
    pub(crate) cancelled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quit {
    No,
    /// Drop everything, now.
    Now,
    /// Deliver what was due at the time of the call; drop the rest.
    Safely,
}

pub(crate) struct State {
    pub(crate) messages: VecDeque<Entry>,
    pub(crate) blocked: bool,
    pub(crate) quit: Quit,
    pub(crate) in_flight: Vec<InFlight>,
    next_seq: u64,
    next_front: u64,
    next_barrier: u64,
}

/// What the head of the queue says about the next dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Nothing dispatchable now or later (empty, or stalled by a barrier with no async
    /// message behind it).
    Never { stalled: bool },
    /// The next dispatchable message is due at this instant.
    At(Instant),
    /// Something is due now.
    Now,
}

/// The part of a looper that every handler shares.
pub(crate) struct Shared {
    state: Mutex<State>,
    pub(crate) wake: WakeFd,
    /// Front entries' `when`.
    origin: Instant,
    pub(crate) next_handler_id: AtomicU64,
    pub(crate) disturb: AtomicU64,
    pub(crate) in_flight_pos: AtomicUsize,
    pub(crate) wake_writes: AtomicU64,
    pub(crate) blocked_polls: AtomicU64,
}

impl Shared {
    pub(crate) fn new(wake: WakeFd) -> Self {
        Self {
            state: Mutex::new(State {
                messages: VecDeque::new(),
                blocked: false,
                quit: Quit::No,
                in_flight: Vec::new(),
                next_seq: 0,
                next_front: 0,
                next_barrier: 1,
            }),
            wake,
            origin: Instant::now(),
            next_handler_id: AtomicU64::new(1),
            disturb: AtomicU64::new(0),
            in_flight_pos: AtomicUsize::new(0),
            wake_writes: AtomicU64::new(0),
            blocked_polls: AtomicU64::new(0),
        }
    }

    /// Locks the state. A panic never happens while the lock is held by this crate, so a
    /// poisoned lock still guards a consistent queue.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wake_now(&self) {
        self.wake_writes.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = self.wake.wake() {
            tracing::error!(error = %e, "looper: eventfd write failed");
        }
    }

    /// Enqueues a message; `when == None` means "at the front of the queue".
    /// Returns false (dropping the message) if the looper has quit.
    pub(crate) fn enqueue(
        &self,
        when: Option<Instant>,
        asynchronous: bool,
        target: u64,
        payload: Payload,
    ) -> bool {
        let need_wake = {
            let mut st = self.lock();
            if st.quit != Quit::No {
                return false;
            }
            let key = match when {
                Some(when) => {
                    st.next_seq += 1;
                    Key {
                        class: 1,
                        when,
                        seq: st.next_seq,
                    }
                }
                None => {
                    st.next_front += 1;
                    Key {
                        class: 0,
                        when: self.origin,
                        seq: u64::MAX - st.next_front,
                    }
                }
            };
            let entry = Entry {
                key,
                asynchronous,
                target,
                payload,
            };
            let idx = st.insert(entry);
            let need_wake = st.blocked && st.wakes_for(idx);
            if need_wake {
                st.blocked = false;
            }
            if when.is_none() && self.in_flight_pos.load(Ordering::Acquire) < st.in_flight.len() {
                // The looper must run this before the rest of its batch.
                self.disturb.fetch_add(1, Ordering::Release);
            }
            need_wake
        };
        if need_wake {
            self.wake_now();
        }
        true
    }

    /// Posts a barrier; after quit the token is issued but nothing is queued.
    pub(crate) fn post_barrier(&self) -> u64 {
        let mut st = self.lock();
        let token = st.next_barrier;
        st.next_barrier += 1;
        if st.quit != Quit::No {
            return token;
        }
        st.next_seq += 1;
        let key = Key {
            class: 1,
            when: Instant::now(),
            seq: st.next_seq,
        };
        st.insert(Entry {
            key,
            asynchronous: false,
            target: 0,
            payload: Payload::Barrier(token),
        });
        // A barrier only holds messages back: no wake.
        token
    }

    /// Removes the barrier with this token; returns whether it was there.
    pub(crate) fn remove_barrier(&self, token: u64) -> bool {
        let need_wake = {
            let mut st = self.lock();
            let Some(idx) = st
                .messages
                .iter()
                .position(|e| matches!(e.payload, Payload::Barrier(t) if t == token))
            else {
                return false;
            };
            st.messages.remove(idx);
            // Removing the head barrier may release messages the looper is not waiting for.
            let need_wake = idx == 0
                && st.blocked
                && st.quit == Quit::No
                && st.messages.front().is_none_or(|e| !e.is_barrier());
            if need_wake {
                st.blocked = false;
            }
            need_wake
        };
        if need_wake {
            self.wake_now();
        }
        true
    }

    pub(crate) fn remove(&self, sel: Selector) -> usize {
        let mut dropped = Vec::new();
        let mut st = self.lock();
        if st
            .messages
            .iter()
            .any(|e| !e.is_barrier() && sel.matches(e.target, e.what()))
        {
            let all = std::mem::take(&mut st.messages);
            for e in all {
                if !e.is_barrier() && sel.matches(e.target, e.what()) {
                    dropped.push(e);
                } else {
                    st.messages.push_back(e);
                }
            }
        }
        let mut removed = dropped.len();
        let pos = self.in_flight_pos.load(Ordering::Acquire);
        let mut cancelled_any = false;
        for f in st.in_flight.iter_mut().skip(pos) {
            if !f.cancelled && sel.matches(f.target, f.what) {
                f.cancelled = true;
                cancelled_any = true;
                removed += 1;
            }
        }
        if cancelled_any {
            self.disturb.fetch_add(1, Ordering::Release);
        }
        drop(st);
        // Destructors of removed messages are user code: run them outside the lock.
        drop(dropped);
        removed
    }

    pub(crate) fn has(&self, sel: Selector) -> bool {
        let st = self.lock();
        let pos = self.in_flight_pos.load(Ordering::Acquire);
        st.in_flight
            .iter()
            .skip(pos)
            .any(|f| !f.cancelled && sel.matches(f.target, f.what))
            || st
                .messages
                .iter()
                .any(|e| !e.is_barrier() && sel.matches(e.target, e.what()))
    }

    /// `wake`: write the eventfd so a blocked looper notices (false when the looper is gone).
    pub(crate) fn quit(&self, mode: Quit, wake: bool) -> bool {
        let dropped = {
            let mut st = self.lock();
            if st.quit != Quit::No {
                return false;
            }
            st.quit = mode;
            match mode {
                Quit::Now => {
                    for f in &mut st.in_flight {
                        f.cancelled = true;
                    }
                    self.disturb.fetch_add(1, Ordering::Release);
                    std::mem::take(&mut st.messages)
                }
                Quit::Safely => {
                    let now = Instant::now();
                    let keep = st.messages.iter().take_while(|e| e.key.when <= now).count();
                    st.messages.split_off(keep)
                }
                Quit::No => VecDeque::new(),
            }
        };
        // Dropped messages' destructors (user code) run outside the lock.
        drop(dropped);
        if wake {
            self.wake_now();
        }
        true
    }

    pub(crate) fn is_quitting(&self) -> bool {
        self.lock().quit != Quit::No
    }
}

impl State {
    /// Inserts in key order; returns the index.
    pub(crate) fn insert(&mut self, entry: Entry) -> usize {
        match self.messages.back() {
            None => {
                self.messages.push_back(entry);
                0
            }
            Some(last) if last.key < entry.key => {
                self.messages.push_back(entry);
                self.messages.len() - 1
            }
            Some(_) => {
                let idx = self.messages.partition_point(|e| e.key < entry.key);
                self.messages.insert(idx, entry);
                idx
            }
        }
    }

    /// The seed's wake rule for an entry just inserted at `idx`: a new head, or the earliest
    /// asynchronous message behind a sync barrier at the head.
    fn wakes_for(&self, idx: usize) -> bool {
        if idx == 0 {
            return true;
        }
        let head_is_barrier = self.messages.front().is_some_and(Entry::is_barrier);
        head_is_barrier
            && self.messages.get(idx).is_some_and(|e| e.asynchronous)
            && !self.messages.range(..idx).any(|e| e.asynchronous)
    }

    /// When the next message can be dispatched.
    pub(crate) fn next(&self, now: Instant) -> Next {
        let Some(head) = self.messages.front() else {
            return Next::Never { stalled: false };
        };
        let target = if head.is_barrier() {
            match self.messages.iter().find(|e| e.asynchronous) {
                Some(e) => e,
                None => return Next::Never { stalled: true },
            }
        } else {
            head
        };
        if target.key.when <= now {
            Next::Now
        } else {
            Next::At(target.key.when)
        }
    }

    /// True when idle handlers should run: the queue is empty or its head is in the future.
    pub(crate) fn is_idle(&self, now: Instant) -> bool {
        self.messages.front().is_none_or(|e| e.key.when > now)
    }

    /// Takes every message due at `now` that is not held back by a barrier, in order, and
    /// records them in `in_flight`. Behind a barrier only the first due async message is
    /// taken.
    pub(crate) fn take_due(&mut self, now: Instant, out: &mut VecDeque<Entry>) {
        self.in_flight.clear();
        let Some(head) = self.messages.front() else {
            return;
        };
        if head.is_barrier() {
            if let Some(idx) = self.messages.iter().position(|e| e.asynchronous) {
                if self.messages[idx].key.when <= now {
                    if let Some(e) = self.messages.remove(idx) {
                        out.push_back(e);
                    }
                }
            }
        } else {
            let n = self
                .messages
                .iter()
                .take_while(|e| !e.is_barrier() && e.key.when <= now)
                .count();
            out.extend(self.messages.drain(..n));
        }
        self.in_flight.extend(out.iter().map(|e| InFlight {
            target: e.target,
            what: e.what(),
            cancelled: false,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn shared() -> Shared {
        Shared::new(WakeFd::new().unwrap())
    }

    fn task() -> Payload {
        Payload::Task(Box::new(|| {}))
    }

    #[test]
    fn inserts_keep_key_order_and_report_their_index() {
        let s = shared();
        let t0 = Instant::now();
        let at = |ms| Some(t0 + Duration::from_millis(ms));
        for (when, expect_idx) in [(at(5), 0), (at(1), 0), (at(5), 2), (at(3), 1), (None, 0)] {
            let mut st = s.lock();
            st.next_seq += 1;
            let key = match when {
                Some(w) => Key {
                    class: 1,
                    when: w,
                    seq: st.next_seq,
                },
                None => Key {
                    class: 0,
                    when: s.origin,
                    seq: u64::MAX - st.next_seq,
                },
            };
            let idx = st.insert(Entry {
                key,
                asynchronous: false,
                target: 1,
                payload: task(),
            });
            assert_eq!(idx, expect_idx);
        }
        let st = s.lock();
        assert!(st
            .messages
            .iter()
            .zip(st.messages.iter().skip(1))
            .all(|(a, b)| a.key < b.key));
    }

    #[test]
    fn only_head_inserts_or_the_first_async_behind_a_barrier_wake() {
        let s = shared();
        let far = Instant::now() + Duration::from_secs(60);
        s.lock().blocked = true;
        assert!(s.enqueue(Some(far), false, 1, task()));
        // Head insert into an empty queue: woke, and cleared `blocked`.
        assert_eq!(s.wake_writes.load(Ordering::Relaxed), 1);
        assert!(!s.lock().blocked);
        s.lock().blocked = true;
        assert!(s.enqueue(Some(far + Duration::from_secs(1)), false, 1, task()));
        assert_eq!(
            s.wake_writes.load(Ordering::Relaxed),
            1,
            "insert behind the head"
        );
        s.lock().blocked = false;
        let _barrier = s.post_barrier();
        // The barrier (due now) sorts before the far messages: it is the head.
        assert!(s.lock().messages.front().is_some_and(Entry::is_barrier));
        s.lock().blocked = true;
        assert!(s.enqueue(Some(far + Duration::from_secs(2)), true, 1, task()));
        assert_eq!(
            s.wake_writes.load(Ordering::Relaxed),
            2,
            "first async behind a barrier"
        );
        s.lock().blocked = true;
        assert!(s.enqueue(Some(far + Duration::from_secs(3)), true, 1, task()));
        assert_eq!(
            s.wake_writes.load(Ordering::Relaxed),
            2,
            "a second async does not"
        );
    }
}
