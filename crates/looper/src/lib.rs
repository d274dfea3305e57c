//! A per-thread message loop with the semantics of Android's `Looper` / native
//! `MessageQueue`, on epoll + eventfd (through `rustix`).
//!
//! - [`Looper`] (owner, `!Send`, one per thread) runs the loop: [`Looper::run`] until quit,
//!   or [`Looper::poll_once`] for one step (tests drive it step by step).
//! - [`Handler`] (`Send + Sync + Clone`) posts closures and [`Message`]s from any thread:
//!   now, delayed, at an instant, or at the front; removes and queries them by `what`;
//!   posts sync barriers; quits.
//! - The queue is ordered by monotonic due time, stable for equal times. Posting wakes a
//!   blocked looper only when the new message becomes the head (or is the earliest
//!   asynchronous message behind a sync barrier at the head); wakes coalesce into one
//!   eventfd write.
//! - Sync barriers hold back synchronous messages; asynchronous messages (from
//!   [`Handler::asynchronous`]) pass them.
//! - Idle handlers run when the queue is empty or its head is in the future.
//! - [`Looper::add_fd`] watches descriptors on the same epoll set as the wake eventfd,
//!   level-triggered.
//!
//! # Examples
//! ```
//! use ferrodfs_looper::{Looper, PollResult};
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//!
//! let looper = Looper::prepare()?;
//! let handler = looper.handler();
//! let log = Arc::new(Mutex::new(Vec::new()));
//! for (i, delay_ms) in [(1, 20u64), (2, 10), (3, 0)] {
//!     let log = Arc::clone(&log);
//!     handler.post_delayed(move || log.lock().unwrap().push(i), Duration::from_millis(delay_ms));
//! }
//! let h = handler.clone();
//! handler.post_delayed(move || { h.quit_safely(); }, Duration::from_millis(30));
//! looper.run()?;
//! assert_eq!(*log.lock().unwrap(), vec![3, 2, 1]);
//! # Ok::<(), ferrodfs_looper::Error>(())
//! ```
//!
//! # Threads
//! A [`Looper`] never leaves its thread. Everything a [`Handler`] touches is behind one
//! mutex that is never held while user code runs, so callbacks (messages, fds, idle
//! handlers) may post, remove, add or remove fds and idle handlers on their own looper.
//! Calling [`Looper::poll_once`] or [`Looper::run`] from inside a callback is refused with
//! [`Error::Reentrant`].
//!
//! # Panics in callbacks
//! A panic in a callback is not caught: it propagates out of `poll_once`/`run`. The queue
//! stays consistent: the panicking message is consumed; messages taken in the same batch but
//! not yet run go back into the queue in their places; a panicking fd callback, idle
//! handler or message callback stays registered. `run` may be called again afterwards.
//!
//! Design notes: `docs/design/looper.md`. Figures: `docs/benchmarks.md` (`## looper`).
//!
//! # TODO (issue 2)
//! - Message callbacks registered with [`Looper::handler_with`] live as long as the looper;
//!   there is no way to unregister one when its handler's last clone drops.
//! - The idle wake-up latency ratio (target ≤ 1.5x a raw eventfd ping-pong) was measured on
//!   a heavily loaded shared VM; re-measure on a quiet machine.

mod error;
mod handler;
mod looper;
mod queue;
mod sys;

pub use error::{Error, Result};
pub use handler::{Handler, Message, Stats, SyncBarrierToken};
pub use looper::{IdleHandlerId, Looper, PollResult};

use std::fmt;
use std::ops::{BitOr, BitOrAssign};

/// Readiness events of a watched fd. ERROR and HANGUP are always reported.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FdEvents(u32);

impl FdEvents {
    /// Readable.
    pub const INPUT: FdEvents = FdEvents(1);
    /// Writable.
    pub const OUTPUT: FdEvents = FdEvents(2);
    /// An error condition.
    pub const ERROR: FdEvents = FdEvents(4);
    /// The peer hung up.
    pub const HANGUP: FdEvents = FdEvents(8);

    pub const fn empty() -> Self {
        FdEvents(0)
    }

    pub const fn bits(self) -> u32 {
        self.0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every event in `other` is in `self`.
    pub const fn contains(self, other: FdEvents) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any event in `other` is in `self`.
    pub const fn intersects(self, other: FdEvents) -> bool {
        self.0 & other.0 != 0
    }
}

impl BitOr for FdEvents {
    type Output = FdEvents;
    fn bitor(self, rhs: FdEvents) -> FdEvents {
        FdEvents(self.0 | rhs.0)
    }
}

impl BitOrAssign for FdEvents {
    fn bitor_assign(&mut self, rhs: FdEvents) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for FdEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (FdEvents::INPUT, "INPUT"),
            (FdEvents::OUTPUT, "OUTPUT"),
            (FdEvents::ERROR, "ERROR"),
            (FdEvents::HANGUP, "HANGUP"),
        ];
        let set: Vec<&str> = names
            .iter()
            .filter(|(e, _)| self.contains(*e))
            .map(|(_, n)| *n)
            .collect();
        write!(
            f,
            "FdEvents({})",
            if set.is_empty() {
                "empty".to_string()
            } else {
                set.join(" | ")
            }
        )
    }
}

/// What an fd callback wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdAction {
    /// Keep watching the fd.
    Keep,
    /// Stop watching the fd.
    Remove,
}
