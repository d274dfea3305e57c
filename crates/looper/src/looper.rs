//! [`Looper`]: the owner side, which runs on its thread: dispatches messages, watches fds,
//! runs idle handlers.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::rc::{Rc, Weak};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::event::epoll;

use crate::handler::{Handler, Message};
use crate::queue::{Entry, Next, Payload, Quit, Shared};
use crate::sys::{self, Epoll, ModifyOutcome, WakeFd, MAX_EVENTS, WAKE_DRAIN_EVERY, WAKE_TOKEN};
use crate::{Error, FdAction, FdEvents, Result};

thread_local! {
    static CURRENT: RefCell<Weak<Inner>> = const { RefCell::new(Weak::new()) };
}

type FdCallback = Box<dyn FnMut(RawFd, FdEvents) -> FdAction>;
type IdleCallback = Box<dyn FnMut() -> bool>;
type MessageCallback = Box<dyn FnMut(Message)>;

/// What one [`Looper::poll_once`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PollResult {
    /// At least one message, fd callback or idle handler ran.
    Callback,
    /// The looper was woken (by a post or a quit) but nothing ran.
    Wake,
    /// The timeout expired with nothing to do.
    Timeout,
    /// The looper has quit; nothing more will run.
    Quit,
}

/// Identifies an idle handler for [`Looper::remove_idle_handler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdleHandlerId(u64);

struct FdEntry {
    seq: u32,
    events: FdEvents,
    /// `None` while the callback runs.
    callback: Option<FdCallback>,
}

fn fd_token(fd: RawFd, seq: u32) -> u64 {
    (u64::from(seq) << 32) | u64::from(fd as u32)
}

fn split_token(token: u64) -> (RawFd, u32) {
    ((token & 0xffff_ffff) as u32 as RawFd, (token >> 32) as u32)
}

struct Inner {
    shared: Arc<Shared>,
    epoll: RefCell<Epoll>,
    rebuild: Cell<bool>,
    fds: RefCell<HashMap<RawFd, FdEntry>>,
    next_fd_seq: Cell<u32>,
    idle: RefCell<Vec<(IdleHandlerId, Option<IdleCallback>)>>,
    next_idle_id: Cell<u64>,
    /// Set after a message is dispatched; idle handlers run once per idle period.
    idle_armed: Cell<bool>,
    callbacks: RefCell<HashMap<u64, Option<MessageCallback>>>,
    in_poll: Cell<bool>,
    /// Wake events seen since the eventfd counter was last reset.
    wakes_since_drain: Cell<u32>,
    events: RefCell<Vec<epoll::Event>>,
    batch: RefCell<VecDeque<Entry>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Handlers outlive the looper: make their posts fail from now on.
        self.shared.quit(Quit::Now, false);
    }
}

/// A per-thread message loop (Android's `Looper` + native `MessageQueue`).
///
/// The owner type: `!Send`, one per thread. Clones (e.g. from [`Looper::my_looper`]) refer
/// to the same loop. Post work to it from anywhere through a [`Handler`].
///
/// # Examples
/// ```
/// use ferrodfs_looper::{Looper, PollResult};
/// use std::time::Duration;
///
/// let looper = Looper::prepare()?;
/// let handler = looper.handler();
/// let h = handler.clone();
/// handler.post(move || { h.quit_safely(); });
/// looper.run()?; // returns after quit_safely
/// assert_eq!(looper.poll_once(Some(Duration::ZERO))?, PollResult::Quit);
/// # Ok::<(), ferrodfs_looper::Error>(())
/// ```
///
/// # Implementation notes
/// One iteration: run idle handlers if the queue just went idle; compute the timeout from
/// the next due message; `epoll_wait` on the set holding the wake eventfd and every watched
/// fd; dispatch every message due at that moment (one lock acquisition for the batch, none
/// while user code runs); then run the callbacks of ready fds.
#[derive(Clone)]
pub struct Looper {
    inner: Rc<Inner>,
}

impl fmt::Debug for Looper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Looper")
            .field("fds", &self.inner.fds.borrow().len())
            .field("idle_handlers", &self.inner.idle.borrow().len())
            .finish()
    }
}

impl Looper {
    /// Creates the current thread's looper. Fails with [`Error::AlreadyPrepared`] while a
    /// looper of this thread is alive (once every clone is dropped, `prepare` works again).
    pub fn prepare() -> Result<Looper> {
        if CURRENT.with(|c| c.borrow().strong_count() > 0) {
            return Err(Error::AlreadyPrepared);
        }
        let wake = WakeFd::new()?;
        let epoll = Epoll::new(&wake)?;
        let inner = Rc::new(Inner {
            shared: Arc::new(Shared::new(wake)),
            epoll: RefCell::new(epoll),
            rebuild: Cell::new(false),
            fds: RefCell::new(HashMap::new()),
            next_fd_seq: Cell::new(0),
            idle: RefCell::new(Vec::new()),
            next_idle_id: Cell::new(0),
            idle_armed: Cell::new(true),
            callbacks: RefCell::new(HashMap::new()),
            in_poll: Cell::new(false),
            wakes_since_drain: Cell::new(0),
            events: RefCell::new(Vec::with_capacity(MAX_EVENTS)),
            batch: RefCell::new(VecDeque::new()),
        });
        CURRENT.with(|c| *c.borrow_mut() = Rc::downgrade(&inner));
        Ok(Looper { inner })
    }

    /// The current thread's looper, if one is alive.
    pub fn my_looper() -> Option<Looper> {
        CURRENT
            .with(|c| c.borrow().upgrade())
            .map(|inner| Looper { inner })
    }

    fn new_handler_id(&self) -> u64 {
        self.inner
            .shared
            .next_handler_id
            .fetch_add(1, Ordering::Relaxed)
    }

    /// A handler for posting closures (its `send` messages have no callback and are dropped
    /// with a warning; use [`handler_with`](Self::handler_with) for those).
    pub fn handler(&self) -> Handler {
        Handler {
            shared: Arc::clone(&self.inner.shared),
            id: self.new_handler_id(),
            asynchronous: false,
        }
    }

    /// A handler whose `send` messages are delivered to `callback` on this thread
    /// (Android's `handleMessage`). The callback lives as long as the looper.
    pub fn handler_with(&self, callback: impl FnMut(Message) + 'static) -> Handler {
        let h = self.handler();
        self.inner
            .callbacks
            .borrow_mut()
            .insert(h.id, Some(Box::new(callback)));
        h
    }

    /// Runs until [`Handler::quit`] or [`Handler::quit_safely`].
    ///
    /// A panic in a callback propagates out of `run` (see the crate docs for the policy);
    /// the queue stays consistent and `run` may be called again.
    pub fn run(&self) -> Result<()> {
        loop {
            if self.poll_once(None)? == PollResult::Quit {
                return Ok(());
            }
        }
    }

    /// Runs one iteration, waiting at most `timeout` (`None`: until something happens)
    /// for a message to fall due or an fd to become ready.
    ///
    /// Fails with [`Error::Reentrant`] when called from inside one of this looper's callbacks.
    pub fn poll_once(&self, timeout: Option<Duration>) -> Result<PollResult> {
        let inner = &*self.inner;
        if inner.in_poll.replace(true) {
            return Err(Error::Reentrant);
        }
        let _reset = ResetOnDrop(&inner.in_poll);
        if inner.rebuild.replace(false) {
            self.rebuild_epoll()?;
        }
        let shared = &*inner.shared;
        let mut ran_idle = false;
        let wait = loop {
            let now = Instant::now();
            let mut st = shared.lock();
            let next = st.next(now);
            if st.quit == Quit::Now || (st.quit == Quit::Safely && next != Next::Now) {
                let dropped = std::mem::take(&mut st.messages);
                drop(st);
                drop(dropped);
                return Ok(PollResult::Quit);
            }
            let idle = next != Next::Now && st.is_idle(now);
            if idle && inner.idle_armed.get() && !inner.idle.borrow().is_empty() {
                drop(st);
                inner.idle_armed.set(false);
                self.run_idle_handlers();
                ran_idle = true;
                continue;
            }
            let until_due = match next {
                Next::Now => Some(Duration::ZERO),
                Next::At(t) => Some(t.saturating_duration_since(now)),
                Next::Never { .. } => None,
            };
            let wait = match (until_due, timeout) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let wait = if ran_idle { Some(Duration::ZERO) } else { wait };
            if wait != Some(Duration::ZERO) {
                st.blocked = true;
                shared.blocked_polls.fetch_add(1, Ordering::Relaxed);
            }
            break wait;
        };

        let mut woken = false;
        let mut ready: Vec<(RawFd, u32, FdEvents)> = Vec::new();
        {
            let mut events = inner.events.borrow_mut();
            let n = inner.epoll.borrow().wait(&mut events, wait);
            if wait != Some(Duration::ZERO) {
                shared.lock().blocked = false;
            }
            n?;
            let fds = inner.fds.borrow();
            for ev in events.iter() {
                let token = ev.data.u64();
                if token == WAKE_TOKEN {
                    woken = true;
                    let n = inner.wakes_since_drain.get() + 1;
                    if n >= WAKE_DRAIN_EVERY {
                        shared.wake.drain()?;
                        inner.wakes_since_drain.set(0);
                    } else {
                        inner.wakes_since_drain.set(n);
                    }
                    continue;
                }
                let (fd, seq) = split_token(token);
                match fds.get(&fd) {
                    Some(e) if e.seq == seq => ready.push((fd, seq, sys::from_epoll(ev.flags))),
                    _ => {
                        // A registration we no longer own (its fd was closed while
                        // registered and the file lives on elsewhere): rebuild the set.
                        tracing::debug!(fd, "looper: event for a stale registration");
                        inner.rebuild.set(true);
                    }
                }
            }
        }

        let mut ran = ran_idle;
        if self.dispatch_messages() > 0 {
            ran = true;
            inner.idle_armed.set(true);
        }
        for (fd, seq, events) in ready {
            if self.run_fd_callback(fd, seq, events)? {
                ran = true;
            }
        }
        Ok(if ran {
            PollResult::Callback
        } else if woken {
            PollResult::Wake
        } else {
            PollResult::Timeout
        })
    }

    /// Dispatches every message due now; returns how many ran.
    fn dispatch_messages(&self) -> usize {
        let inner = &*self.inner;
        let shared = &*inner.shared;
        let mut batch = Batch {
            shared,
            items: std::mem::take(&mut *inner.batch.borrow_mut()),
        };
        let mut seen;
        {
            let mut st = shared.lock();
            st.take_due(Instant::now(), &mut batch.items);
            shared.in_flight_pos.store(0, Ordering::Release);
            seen = shared.disturb.load(Ordering::Acquire);
        }
        let mut ran = 0;
        let mut pos = 0;
        loop {
            let d = shared.disturb.load(Ordering::Acquire);
            if d != seen {
                seen = d;
                batch.recheck(pos);
                pos = 0;
            }
            let Some(entry) = batch.items.pop_front() else {
                break;
            };
            pos += 1;
            shared.in_flight_pos.store(pos, Ordering::Release);
            ran += 1;
            self.run_entry(entry);
        }
        *inner.batch.borrow_mut() = std::mem::take(&mut batch.items);
        ran
    }

    fn run_entry(&self, entry: Entry) {
        match entry.payload {
            Payload::Task(f) => f(),
            Payload::Message {
                what,
                arg1,
                arg2,
                payload,
            } => {
                let msg = Message {
                    what,
                    arg1,
                    arg2,
                    payload,
                    when: entry.key.when,
                };
                let cb = self
                    .inner
                    .callbacks
                    .borrow_mut()
                    .get_mut(&entry.target)
                    .and_then(Option::take);
                match cb {
                    Some(cb) => {
                        let mut slot = PutBack {
                            map: &self.inner.callbacks,
                            id: entry.target,
                            cb: Some(cb),
                        };
                        if let Some(cb) = slot.cb.as_mut() {
                            cb(msg);
                        }
                    }
                    None => tracing::warn!(
                        what,
                        "looper: message for a handler without a callback dropped"
                    ),
                }
            }
            Payload::Barrier(_) => {}
        }
    }

    fn run_idle_handlers(&self) {
        let ids: Vec<IdleHandlerId> = self.inner.idle.borrow().iter().map(|(id, _)| *id).collect();
        for id in ids {
            let cb = {
                let mut idle = self.inner.idle.borrow_mut();
                idle.iter_mut()
                    .find(|(i, _)| *i == id)
                    .and_then(|(_, cb)| cb.take())
            };
            let Some(cb) = cb else { continue };
            let mut slot = IdlePutBack {
                looper: &self.inner,
                id,
                cb: Some(cb),
            };
            let keep = slot.cb.as_mut().is_some_and(|cb| cb());
            if !keep {
                slot.cb = None;
                self.inner.idle.borrow_mut().retain(|(i, _)| *i != id);
            }
        }
    }

    /// Runs the callback of a ready fd if its registration is still `seq`.
    fn run_fd_callback(&self, fd: RawFd, seq: u32, events: FdEvents) -> Result<bool> {
        let cb = match self.inner.fds.borrow_mut().get_mut(&fd) {
            Some(e) if e.seq == seq => e.callback.take(),
            _ => None,
        };
        let Some(cb) = cb else { return Ok(false) };
        let mut slot = FdPutBack {
            looper: &self.inner,
            fd,
            seq,
            cb: Some(cb),
        };
        let action = match slot.cb.as_mut() {
            Some(cb) => cb(fd, events),
            None => FdAction::Keep,
        };
        if action == FdAction::Remove {
            slot.cb = None;
            drop(slot);
            let still_ours = self
                .inner
                .fds
                .borrow()
                .get(&fd)
                .is_some_and(|e| e.seq == seq);
            if still_ours {
                self.remove_fd(fd)?;
            }
        }
        Ok(true)
    }

    /// Watches `fd` for `events` (ERROR and HANGUP are always reported). The callback runs on
    /// this thread while the fd is ready (level-triggered: a callback that leaves data unread
    /// is called again next iteration); returning [`FdAction::Remove`] unregisters it.
    ///
    /// Adding an fd that is already watched replaces its events and callback
    /// (`EPOLL_CTL_MOD`); if the old registration vanished because the fd was closed and its
    /// number reused, the new file is added and the epoll set rebuilt.
    pub fn add_fd(
        &self,
        fd: &impl AsFd,
        events: FdEvents,
        callback: impl FnMut(RawFd, FdEvents) -> FdAction + 'static,
    ) -> Result<()> {
        let inner = &*self.inner;
        let borrowed = fd.as_fd();
        let raw = borrowed.as_raw_fd();
        let seq = inner.next_fd_seq.get();
        inner
            .next_fd_seq
            .set(if seq >= u32::MAX - 1 { 0 } else { seq + 1 });
        let token = fd_token(raw, seq);
        let mut fds = inner.fds.borrow_mut();
        let epoll = inner.epoll.borrow();
        if fds.contains_key(&raw) {
            if epoll.modify(borrowed, token, events)? == ModifyOutcome::ReAdded {
                tracing::debug!(
                    fd = raw,
                    "looper: fd was closed and reused while registered"
                );
                inner.rebuild.set(true);
            }
        } else {
            epoll.add(borrowed, token, events)?;
        }
        fds.insert(
            raw,
            FdEntry {
                seq,
                events,
                callback: Some(Box::new(callback)),
            },
        );
        Ok(())
    }

    /// Stops watching `fd`; returns whether it was watched. Works on an fd that was already
    /// closed.
    pub fn remove_fd(&self, fd: RawFd) -> Result<bool> {
        let entry = self.inner.fds.borrow_mut().remove(&fd);
        let Some(entry) = entry else { return Ok(false) };
        if !self.inner.epoll.borrow().delete_raw(fd)? {
            // Closed while registered: a registration may linger if the file lives on.
            self.inner.rebuild.set(true);
        }
        drop(entry);
        Ok(true)
    }

    /// Number of watched fds.
    pub fn fd_count(&self) -> usize {
        self.inner.fds.borrow().len()
    }

    fn rebuild_epoll(&self) -> Result<()> {
        let inner = &*self.inner;
        let fresh = Epoll::new(&inner.shared.wake)?;
        let mut fds = inner.fds.borrow_mut();
        fds.retain(|&fd, e| match fresh.add_raw(fd, fd_token(fd, e.seq), e.events) {
            Ok(()) => true,
            Err(err) => {
                tracing::warn!(fd, error = %err, "looper: dropping watch of an fd closed while registered");
                false
            }
        });
        *inner.epoll.borrow_mut() = fresh;
        Ok(())
    }

    /// Adds an idle handler: it runs when the queue is empty or its head is in the future
    /// (once per idle period); returning `false` removes it.
    pub fn add_idle_handler(&self, f: impl FnMut() -> bool + 'static) -> IdleHandlerId {
        let id = IdleHandlerId(self.inner.next_idle_id.get());
        self.inner.next_idle_id.set(id.0 + 1);
        self.inner.idle.borrow_mut().push((id, Some(Box::new(f))));
        id
    }

    /// Removes an idle handler; returns whether it was there.
    pub fn remove_idle_handler(&self, id: IdleHandlerId) -> bool {
        let mut idle = self.inner.idle.borrow_mut();
        let before = idle.len();
        idle.retain(|(i, _)| *i != id);
        idle.len() != before
    }
}

struct ResetOnDrop<'a>(&'a Cell<bool>);

impl Drop for ResetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// The messages of one dispatch batch. On unwind (a callback panicked) the ones not yet run
/// go back into the queue in their places.
struct Batch<'a> {
    shared: &'a Shared,
    items: VecDeque<Entry>,
}

impl Batch<'_> {
    /// Applies removals/quit made since the batch was taken: drops cancelled entries, hands
    /// the rest back to the queue and takes the due ones again (so a `post_at_front` message
    /// posted meanwhile runs first). Positions in `in_flight` restart at 0.
    fn recheck(&mut self, pos: usize) {
        let mut dropped = Vec::new();
        let mut st = self.shared.lock();
        let quit_now = st.quit == Quit::Now;
        let cancelled: Vec<bool> = st.in_flight.iter().skip(pos).map(|f| f.cancelled).collect();
        for (i, e) in self.items.drain(..).enumerate() {
            if quit_now || cancelled.get(i).copied().unwrap_or(false) {
                dropped.push(e);
            } else {
                st.insert(e);
            }
        }
        st.take_due(Instant::now(), &mut self.items);
        self.shared.in_flight_pos.store(0, Ordering::Release);
        drop(st);
        drop(dropped);
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        if self.items.is_empty() {
            return;
        }
        let mut st = self.shared.lock();
        for e in self.items.drain(..) {
            st.insert(e);
        }
        st.in_flight.clear();
        self.shared.in_flight_pos.store(0, Ordering::Release);
    }
}

/// Puts a message callback back in its slot after it ran (or panicked).
struct PutBack<'a> {
    map: &'a RefCell<HashMap<u64, Option<MessageCallback>>>,
    id: u64,
    cb: Option<MessageCallback>,
}

impl Drop for PutBack<'_> {
    fn drop(&mut self) {
        if let Some(slot) = self.map.borrow_mut().get_mut(&self.id) {
            if slot.is_none() {
                *slot = self.cb.take();
            }
        }
    }
}

/// Puts an idle handler back unless it was removed meanwhile.
struct IdlePutBack<'a> {
    looper: &'a Inner,
    id: IdleHandlerId,
    cb: Option<IdleCallback>,
}

impl Drop for IdlePutBack<'_> {
    fn drop(&mut self) {
        let Some(cb) = self.cb.take() else { return };
        let mut idle = self.looper.idle.borrow_mut();
        if let Some((_, slot)) = idle.iter_mut().find(|(i, _)| *i == self.id) {
            if slot.is_none() {
                *slot = Some(cb);
            }
        }
    }
}

/// Puts an fd callback back unless the fd was removed or re-added meanwhile.
struct FdPutBack<'a> {
    looper: &'a Inner,
    fd: RawFd,
    seq: u32,
    cb: Option<FdCallback>,
}

impl Drop for FdPutBack<'_> {
    fn drop(&mut self) {
        let Some(cb) = self.cb.take() else { return };
        let mut fds = self.looper.fds.borrow_mut();
        if let Some(e) = fds.get_mut(&self.fd) {
            if e.seq == self.seq && e.callback.is_none() {
                e.callback = Some(cb);
            }
        }
    }
}
