//! [`Handler`]: the `Send + Sync + Clone` side of a looper, which posts from any thread.

use std::any::Any;
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::queue::{Payload, Quit, Selector, Shared};

/// A message sent with [`Handler::send`], delivered to the callback given to
/// [`Looper::handler_with`](crate::Looper::handler_with) (Android's `handleMessage`).
pub struct Message {
    /// What the message is about; [`Handler::remove`] and [`Handler::has`] select by it.
    pub what: i32,
    pub arg1: i64,
    pub arg2: i64,
    pub payload: Option<Box<dyn Any + Send>>,
    /// When it was due.
    pub when: Instant,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("what", &self.what)
            .field("arg1", &self.arg1)
            .field("arg2", &self.arg2)
            .field("payload", &self.payload.is_some())
            .field("when", &self.when)
            .finish()
    }
}

/// Proof of a posted sync barrier; give it back to [`Handler::remove_sync_barrier`].
#[derive(Debug, PartialEq, Eq, Hash)]
#[must_use = "a sync barrier holds back every synchronous message until it is removed"]
pub struct SyncBarrierToken(pub(crate) u64);

/// Counters for diagnostics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// eventfd writes made to wake the looper.
    pub wake_writes: u64,
    /// Times the looper blocked in `epoll_wait` (a timeout other than zero).
    pub blocked_polls: u64,
}

/// Posts work to one [`Looper`](crate::Looper) from any thread.
///
/// Clones share an identity: [`remove`](Self::remove) and [`has`](Self::has) see messages
/// posted through any clone (and through [`asynchronous`](Self::asynchronous) views).
///
/// # Ordering
/// Messages run in order of their due time; messages due at the same instant run in the
/// order they were posted. [`post_at_front`](Self::post_at_front) puts a message before
/// everything else (the last such post runs first, as in Android).
#[derive(Clone)]
pub struct Handler {
    pub(crate) shared: Arc<Shared>,
    pub(crate) id: u64,
    pub(crate) asynchronous: bool,
}

impl fmt::Debug for Handler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handler")
            .field("id", &self.id)
            .field("asynchronous", &self.asynchronous)
            .finish()
    }
}

impl Handler {
    /// Runs `f` on the looper thread as soon as possible (after what is already due).
    /// Returns false if the looper has quit (then `f` is dropped).
    pub fn post(&self, f: impl FnOnce() + Send + 'static) -> bool {
        self.post_at(f, Instant::now())
    }

    /// Runs `f` no earlier than `delay` from now.
    pub fn post_delayed(&self, f: impl FnOnce() + Send + 'static, delay: Duration) -> bool {
        self.post_at(f, Instant::now() + delay)
    }

    /// Runs `f` no earlier than `when`.
    pub fn post_at(&self, f: impl FnOnce() + Send + 'static, when: Instant) -> bool {
        self.shared.enqueue(
            Some(when),
            self.asynchronous,
            self.id,
            Payload::Task(Box::new(f)),
        )
    }

    /// Runs `f` before every other queued message.
    pub fn post_at_front(&self, f: impl FnOnce() + Send + 'static) -> bool {
        self.shared
            .enqueue(None, self.asynchronous, self.id, Payload::Task(Box::new(f)))
    }

    /// Sends a [`Message`] to this handler's callback, now.
    pub fn send(
        &self,
        what: i32,
        arg1: i64,
        arg2: i64,
        payload: Option<Box<dyn Any + Send>>,
    ) -> bool {
        self.send_at(what, arg1, arg2, payload, Instant::now())
    }

    /// Sends a [`Message`] no earlier than `delay` from now.
    pub fn send_delayed(
        &self,
        what: i32,
        arg1: i64,
        arg2: i64,
        payload: Option<Box<dyn Any + Send>>,
        delay: Duration,
    ) -> bool {
        self.send_at(what, arg1, arg2, payload, Instant::now() + delay)
    }

    /// Sends a [`Message`] no earlier than `when`.
    pub fn send_at(
        &self,
        what: i32,
        arg1: i64,
        arg2: i64,
        payload: Option<Box<dyn Any + Send>>,
        when: Instant,
    ) -> bool {
        let p = Payload::Message {
            what,
            arg1,
            arg2,
            payload,
        };
        self.shared
            .enqueue(Some(when), self.asynchronous, self.id, p)
    }

    /// Sends a [`Message`] before every other queued message.
    pub fn send_at_front(
        &self,
        what: i32,
        arg1: i64,
        arg2: i64,
        payload: Option<Box<dyn Any + Send>>,
    ) -> bool {
        let p = Payload::Message {
            what,
            arg1,
            arg2,
            payload,
        };
        self.shared.enqueue(None, self.asynchronous, self.id, p)
    }

    /// Removes this handler's pending `send` messages with this `what`, including ones the
    /// looper has taken for the current dispatch batch but not started. Returns how many.
    pub fn remove(&self, what: i32) -> usize {
        self.shared.remove(Selector::What(self.id, what))
    }

    /// Removes every pending message (closures and `send` messages) of this handler.
    pub fn remove_all(&self) -> usize {
        self.shared.remove(Selector::AllOf(self.id))
    }

    /// Whether this handler has a pending `send` message with this `what`.
    pub fn has(&self, what: i32) -> bool {
        self.shared.has(Selector::What(self.id, what))
    }

    /// Posts a sync barrier: synchronous messages due after it wait until it is removed;
    /// asynchronous messages pass. After quit nothing is queued (removing the token then
    /// returns false).
    pub fn post_sync_barrier(&self) -> SyncBarrierToken {
        SyncBarrierToken(self.shared.post_barrier())
    }

    /// Removes a sync barrier; returns whether it was still queued.
    pub fn remove_sync_barrier(&self, token: SyncBarrierToken) -> bool {
        self.shared.remove_barrier(token.0)
    }

    /// A view of this handler whose messages are asynchronous (they pass sync barriers).
    /// It shares this handler's identity and callback.
    pub fn asynchronous(&self) -> Handler {
        Handler {
            asynchronous: true,
            ..self.clone()
        }
    }

    /// Whether this handler's messages are asynchronous.
    pub fn is_asynchronous(&self) -> bool {
        self.asynchronous
    }

    /// Drops every pending message and makes the looper's `run` return. Later posts return
    /// false. Returns false if the looper was already quitting.
    pub fn quit(&self) -> bool {
        self.shared.quit(Quit::Now, true)
    }

    /// Delivers every message already due, drops the rest, then makes `run` return.
    pub fn quit_safely(&self) -> bool {
        self.shared.quit(Quit::Safely, true)
    }

    /// Whether `quit` or `quit_safely` was called.
    pub fn is_quitting(&self) -> bool {
        self.shared.is_quitting()
    }

    /// Wake counters of the looper.
    pub fn stats(&self) -> Stats {
        Stats {
            wake_writes: self.shared.wake_writes.load(Ordering::Relaxed),
            blocked_polls: self.shared.blocked_polls.load(Ordering::Relaxed),
        }
    }

    /// Whether the looper thread is blocked in `epoll_wait` right now (and not yet woken).
    pub fn is_blocked(&self) -> bool {
        self.shared.lock().blocked
    }
}
