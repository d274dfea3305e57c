//! The only module that touches the OS: an epoll set and the wake eventfd, through `rustix`.
//!
//! Watched fds are level-triggered (no `EPOLLET`), like Android's native Looper; only the
//! wake eventfd is edge-triggered.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use rustix::buffer::spare_capacity;
use rustix::event::{epoll, eventfd, EventfdFlags};
use rustix::io::Errno;

use crate::FdEvents;

/// Epoll user data of the wake eventfd. Registered fds use `(seq << 32) | fd`, and `seq`
/// never reaches `u32::MAX`, so this value cannot collide.
pub(crate) const WAKE_TOKEN: u64 = u64::MAX;

/// The looper resets the wake eventfd's counter after this many wake events. Each wake adds
/// one to the counter; it must stay far below `u64::MAX - 1`, where writes would fail.
pub(crate) const WAKE_DRAIN_EVERY: u32 = 1024;

/// Most events taken from one `epoll_wait`.
pub(crate) const MAX_EVENTS: usize = 64;

/// An eventfd used as a counter-style wake signal.
#[derive(Debug)]
pub(crate) struct WakeFd(OwnedFd);

impl WakeFd {
    pub(crate) fn new() -> io::Result<Self> {
        Ok(Self(eventfd(
            0,
            EventfdFlags::NONBLOCK | EventfdFlags::CLOEXEC,
        )?))
    }

    /// Adds one to the counter, which makes the fd readable.
    pub(crate) fn wake(&self) -> io::Result<()> {
        match rustix::io::write(&self.0, &1u64.to_ne_bytes()) {
            // EAGAIN: the counter is at its maximum, so the fd is readable anyway.
            Ok(_) | Err(Errno::AGAIN) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Resets the counter (the fd stops being readable).
    pub(crate) fn drain(&self) -> io::Result<()> {
        let mut buf = [0u8; 8];
        match rustix::io::read(&self.0, &mut buf) {
            Ok(_) | Err(Errno::AGAIN) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// Translates our interest set into epoll flags (ERR and HUP are always reported by epoll).
pub(crate) fn to_epoll(events: FdEvents) -> epoll::EventFlags {
    let mut flags = epoll::EventFlags::empty();
    if events.contains(FdEvents::INPUT) {
        flags |= epoll::EventFlags::IN;
    }
    if events.contains(FdEvents::OUTPUT) {
        flags |= epoll::EventFlags::OUT;
    }
    flags
}

pub(crate) fn from_epoll(flags: epoll::EventFlags) -> FdEvents {
    let mut events = FdEvents::empty();
    if flags.contains(epoll::EventFlags::IN) {
        events |= FdEvents::INPUT;
    }
    if flags.contains(epoll::EventFlags::OUT) {
        events |= FdEvents::OUTPUT;
    }
    if flags.contains(epoll::EventFlags::ERR) {
        events |= FdEvents::ERROR;
    }
    if flags.contains(epoll::EventFlags::HUP) {
        events |= FdEvents::HANGUP;
    }
    events
}

/// An epoll instance.
#[derive(Debug)]
pub(crate) struct Epoll(OwnedFd);

/// What happened when an fd's registration was modified.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ModifyOutcome {
    Modified,
    /// The fd was no longer in the set (it was closed and its number reused): it was added
    /// afresh. Stale registrations of the old file may linger, so the set should be rebuilt.
    ReAdded,
}

impl Epoll {
    pub(crate) fn new(wake: &WakeFd) -> io::Result<Self> {
        let ep = Self(epoll::create(epoll::CreateFlags::CLOEXEC)?);
        epoll::add(
            &ep.0,
            wake.as_fd(),
            epoll::EventData::new_u64(WAKE_TOKEN),
            // Edge-triggered: every eventfd write is reported once, so a wake costs no read
            // on the looper side; the looper drains the counter now and then (see
            // `WAKE_DRAIN_EVERY`) so it never nears its maximum.
            epoll::EventFlags::IN | epoll::EventFlags::ET,
        )?;
        Ok(ep)
    }

    pub(crate) fn add(&self, fd: BorrowedFd<'_>, token: u64, events: FdEvents) -> io::Result<()> {
        epoll::add(
            &self.0,
            fd,
            epoll::EventData::new_u64(token),
            to_epoll(events),
        )?;
        Ok(())
    }

    /// `EPOLL_CTL_MOD`, falling back to `EPOLL_CTL_ADD` on `ENOENT` (the seed's
    /// closed-and-reused case).
    pub(crate) fn modify(
        &self,
        fd: BorrowedFd<'_>,
        token: u64,
        events: FdEvents,
    ) -> io::Result<ModifyOutcome> {
        let data = epoll::EventData::new_u64(token);
        match epoll::modify(&self.0, fd, data, to_epoll(events)) {
            Ok(()) => Ok(ModifyOutcome::Modified),
            Err(Errno::NOENT) => {
                epoll::add(&self.0, fd, data, to_epoll(events))?;
                Ok(ModifyOutcome::ReAdded)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Removes `fd` by number. Returns `false` if the kernel no longer had it (the fd was
    /// closed, or its number now names a file this set never saw).
    pub(crate) fn delete_raw(&self, fd: RawFd) -> io::Result<bool> {
        // SAFETY: `borrow_raw` requires `fd` to stay open while the `BorrowedFd` lives. The
        // borrow lives only for this one `epoll_ctl` call and is used for nothing but the
        // fd number the kernel validates: if `fd` was closed the call fails with EBADF, and
        // if the number was reused by another file, the kernel finds no (file, fd) entry in
        // this set and fails with ENOENT. No memory is reached through the fd.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        match epoll::delete(&self.0, borrowed) {
            Ok(()) => Ok(true),
            Err(Errno::NOENT | Errno::BADF) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Re-adds `fd` by number into a fresh set (used by a rebuild).
    pub(crate) fn add_raw(&self, fd: RawFd, token: u64, events: FdEvents) -> io::Result<()> {
        // SAFETY: as in `delete_raw`: the borrow lasts for one `epoll_ctl` call; a closed fd
        // yields EBADF, which the caller handles by dropping the registration.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        self.add(borrowed, token, events)
    }

    /// Waits for events; `None` blocks without limit. EINTR is reported as zero events.
    pub(crate) fn wait(
        &self,
        buf: &mut Vec<epoll::Event>,
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        buf.clear();
        let ts = timeout.map(|d| {
            // epoll_wait takes milliseconds before Linux 5.11: round up so we never wake early.
            let d = d.min(Duration::from_secs(24 * 3600));
            let ms = d.as_nanos().div_ceil(1_000_000);
            rustix::event::Timespec {
                tv_sec: (ms / 1000) as i64,
                tv_nsec: ((ms % 1000) * 1_000_000) as i64,
            }
        });
        match epoll::wait(&self.0, spare_capacity(buf), ts.as_ref()) {
            Ok(n) => Ok(n),
            Err(Errno::INTR) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }
}
