//! fd watching: readiness, level-triggered calls, removal, re-adding, closed-and-reused fds.

mod util;

use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use ferrodfs_looper::{FdAction, FdEvents, Looper, PollResult};
use rustix::pipe::pipe;
use util::{drain, Log};

const ZERO: Option<Duration> = Some(Duration::ZERO);
const LONG: Option<Duration> = Some(Duration::from_secs(5));

fn read_one(fd: &impl AsFd) -> Option<u8> {
    let mut b = [0u8; 1];
    match rustix::io::read(fd, &mut b) {
        Ok(1) => Some(b[0]),
        _ => None,
    }
}

#[test]
fn input_readiness_is_level_triggered() {
    let looper = Looper::prepare().unwrap();
    let (r, w) = pipe().unwrap();
    rustix::io::write(&w, b"abc").unwrap();
    let log = Log::new();
    let l = log.clone();
    let rc = r.try_clone().unwrap();
    let raw = r.as_raw_fd();
    looper
        .add_fd(&r, FdEvents::INPUT, move |fd, ev| {
            assert!(ev.contains(FdEvents::INPUT));
            assert_eq!(fd, raw);
            // Read one byte per call: the fd stays readable until drained.
            l.push(read_one(&rc));
            FdAction::Keep
        })
        .unwrap();
    for _ in 0..3 {
        assert_eq!(looper.poll_once(LONG).unwrap(), PollResult::Callback);
    }
    assert_eq!(log.get(), vec![Some(b'a'), Some(b'b'), Some(b'c')]);
    assert_eq!(looper.poll_once(ZERO).unwrap(), PollResult::Timeout);
    // More data later wakes a blocking poll.
    rustix::io::write(&w, b"d").unwrap();
    assert_eq!(looper.poll_once(None).unwrap(), PollResult::Callback);
    assert_eq!(log.len(), 4);
    assert_eq!(looper.fd_count(), 1);
}

#[test]
fn a_callback_returning_remove_unregisters_the_fd() {
    let looper = Looper::prepare().unwrap();
    let (r, w) = pipe().unwrap();
    rustix::io::write(&w, b"xy").unwrap();
    let calls = Log::new();
    let c = calls.clone();
    looper
        .add_fd(&r, FdEvents::INPUT, move |_, _| {
            c.push(());
            FdAction::Remove
        })
        .unwrap();
    assert_eq!(looper.poll_once(LONG).unwrap(), PollResult::Callback);
    assert_eq!(looper.fd_count(), 0);
    // Still readable, but no longer watched.
    assert_eq!(looper.poll_once(ZERO).unwrap(), PollResult::Timeout);
    assert_eq!(calls.len(), 1);
}

#[test]
fn remove_fd_stops_callbacks() {
    let looper = Looper::prepare().unwrap();
    let (r, w) = pipe().unwrap();
    let calls = Log::new();
    let c = calls.clone();
    looper
        .add_fd(&r, FdEvents::INPUT, move |_, _| {
            c.push(());
            FdAction::Keep
        })
        .unwrap();
    assert!(looper.remove_fd(r.as_raw_fd()).unwrap());
    assert!(!looper.remove_fd(r.as_raw_fd()).unwrap());
    rustix::io::write(&w, b"x").unwrap();
    assert_eq!(looper.poll_once(ZERO).unwrap(), PollResult::Timeout);
    assert_eq!(calls.len(), 0);
}

#[test]
fn output_error_and_hangup_are_reported() {
    let looper = Looper::prepare().unwrap();
    let (r, w) = pipe().unwrap();
    let seen = Log::new();
    let s = seen.clone();
    looper
        .add_fd(&w, FdEvents::OUTPUT, move |_, ev| {
            s.push(ev);
            FdAction::Remove
        })
        .unwrap();
    looper.poll_once(LONG).unwrap();
    assert_eq!(seen.get(), vec![FdEvents::OUTPUT]);

    // Write end with the read end closed: ERROR.
    let s = seen.clone();
    looper
        .add_fd(&w, FdEvents::OUTPUT, move |_, ev| {
            s.push(ev);
            FdAction::Remove
        })
        .unwrap();
    drop(r);
    looper.poll_once(LONG).unwrap();
    assert!(seen.get()[1].contains(FdEvents::ERROR), "{:?}", seen.get());

    // Read end with the write end closed: HANGUP.
    let (r, w) = pipe().unwrap();
    let s = seen.clone();
    looper
        .add_fd(&r, FdEvents::INPUT, move |_, ev| {
            s.push(ev);
            FdAction::Remove
        })
        .unwrap();
    drop(w);
    looper.poll_once(LONG).unwrap();
    assert!(seen.get()[2].contains(FdEvents::HANGUP), "{:?}", seen.get());
}

#[test]
fn re_adding_an_fd_replaces_its_events_and_callback() {
    let looper = Looper::prepare().unwrap();
    let (r, w) = pipe().unwrap();
    let log = Log::new();
    let l = log.clone();
    looper
        .add_fd(&w, FdEvents::INPUT, move |_, _| {
            l.push("old");
            FdAction::Keep
        })
        .unwrap();
    // A pipe's write end is never readable: nothing yet.
    assert_eq!(looper.poll_once(ZERO).unwrap(), PollResult::Timeout);
    let l = log.clone();
    looper
        .add_fd(&w, FdEvents::OUTPUT, move |_, ev| {
            assert_eq!(ev, FdEvents::OUTPUT);
            l.push("new");
            FdAction::Remove
        })
        .unwrap();
    assert_eq!(looper.fd_count(), 1);
    looper.poll_once(LONG).unwrap();
    assert_eq!(log.get(), vec!["new"]);
    drop(r);
}

#[test]
fn an_fd_closed_and_reused_while_registered_is_handled() {
    let looper = Looper::prepare().unwrap();
    let (mut r1, w1) = pipe().unwrap();
    // A second reference keeps the first pipe's read file alive, so its epoll registration
    // lingers after its fd number is reused (the hard variant of the seed's ENOENT case).
    let r1_dup = rustix::io::dup(&r1).unwrap();
    let old = Log::new();
    let o = old.clone();
    looper
        .add_fd(&r1, FdEvents::INPUT, move |_, _| {
            o.push(());
            FdAction::Keep
        })
        .unwrap();
    let number = r1.as_raw_fd();
    // Close the number and reuse it for another pipe's read end, without remove_fd.
    let (r2, w2) = pipe().unwrap();
    rustix::io::dup2(&r2, &mut r1).unwrap();
    drop(r2);
    assert_eq!(r1.as_raw_fd(), number);
    let new = Log::new();
    let n = new.clone();
    let rc = r1.try_clone().unwrap();
    looper
        .add_fd(&r1, FdEvents::INPUT, move |_, _| {
            n.push(read_one(&rc));
            FdAction::Keep
        })
        .unwrap();
    assert_eq!(looper.fd_count(), 1);
    // The old file becomes readable: its lingering registration must not reach any callback
    // nor make the loop spin forever.
    rustix::io::write(&w1, b"o").unwrap();
    rustix::io::write(&w2, b"n").unwrap();
    for _ in 0..5 {
        looper.poll_once(Some(Duration::from_millis(20))).unwrap();
    }
    assert_eq!(new.get(), vec![Some(b'n')]);
    assert_eq!(old.len(), 0);
    assert_eq!(looper.poll_once(ZERO).unwrap(), PollResult::Timeout);
    drop(r1_dup);
}

#[test]
fn callbacks_may_add_and_remove_fds_on_their_looper() {
    let looper = Looper::prepare().unwrap();
    let h = looper.handler();
    let (r, w) = pipe().unwrap();
    let r = std::rc::Rc::new(r);
    let log = Log::new();
    let (l, r2) = (log.clone(), r.clone());
    // A message callback registers the fd; the fd callback removes itself by number.
    let installer = move || {
        let me = Looper::my_looper().expect("looper thread");
        let l = l.clone();
        let r3 = r2.clone();
        me.add_fd(&*r2, FdEvents::INPUT, move |fd, _| {
            l.push(read_one(&*r3));
            let me = Looper::my_looper().expect("looper thread");
            assert!(me.remove_fd(fd).unwrap());
            FdAction::Keep
        })
        .unwrap();
    };
    // The installer is not Send (it holds an Rc); run it from an idle handler instead.
    let mut installer = Some(installer);
    looper.add_idle_handler(move || {
        if let Some(f) = installer.take() {
            f();
        }
        false
    });
    rustix::io::write(&w, b"z").unwrap();
    h.post(|| {});
    drain(&looper, 10);
    assert_eq!(log.get(), vec![Some(b'z')]);
    assert_eq!(looper.fd_count(), 0);
}

#[test]
fn remove_fd_after_the_fd_was_closed_succeeds() {
    let looper = Looper::prepare().unwrap();
    let (r, w) = pipe().unwrap();
    let raw = r.as_raw_fd();
    looper
        .add_fd(&r, FdEvents::INPUT, |_, _| FdAction::Keep)
        .unwrap();
    drop(r);
    assert!(looper.remove_fd(raw).unwrap());
    assert_eq!(looper.fd_count(), 0);
    assert_eq!(looper.poll_once(ZERO).unwrap(), PollResult::Timeout);
    drop(w);
}

#[test]
fn a_poll_with_nothing_to_do_times_out_no_earlier_than_asked() {
    let looper = Looper::prepare().unwrap();
    let start = std::time::Instant::now();
    assert_eq!(
        looper.poll_once(Some(Duration::from_millis(20))).unwrap(),
        PollResult::Timeout
    );
    assert!(start.elapsed() >= Duration::from_millis(20));
}
