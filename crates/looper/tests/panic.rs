//! Panic policy: a panic propagates out of poll_once/run; the queue stays consistent and the
//! loop can be resumed.

mod util;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use ferrodfs_looper::{FdAction, FdEvents, Looper, PollResult};
use util::{drain, Log};

const ZERO: Option<Duration> = Some(Duration::ZERO);

#[test]
fn a_panicking_message_loses_nothing_else_and_run_resumes() {
    let looper = Looper::prepare().unwrap();
    let h = looper.handler();
    let log = Log::new();
    for i in 0..5 {
        let l = log.clone();
        h.post(move || {
            if i == 2 {
                panic!("boom in message {i}");
            }
            l.push(i);
        });
    }
    let h2 = h.clone();
    h.post(move || {
        h2.quit_safely();
    });
    let r = catch_unwind(AssertUnwindSafe(|| looper.run()));
    assert!(r.is_err(), "the panic propagates out of run");
    assert_eq!(log.get(), vec![0, 1]);
    // The rest of the batch went back into the queue, in order.
    looper.run().unwrap();
    assert_eq!(log.get(), vec![0, 1, 3, 4]);
}

#[test]
fn a_panicking_message_callback_stays_installed() {
    let looper = Looper::prepare().unwrap();
    let log = Log::new();
    let l = log.clone();
    let h = looper.handler_with(move |m| {
        if m.what == 0 {
            panic!("bad message");
        }
        l.push(m.what);
    });
    h.send(0, 0, 0, None);
    h.send(1, 0, 0, None);
    assert!(catch_unwind(AssertUnwindSafe(|| looper.poll_once(ZERO))).is_err());
    assert!(h.has(1));
    drain(&looper, 10);
    assert_eq!(log.get(), vec![1]);
}

#[test]
fn panicking_fd_and_idle_callbacks_stay_registered() {
    let looper = Looper::prepare().unwrap();
    let (r, w) = rustix::pipe::pipe().unwrap();
    rustix::io::write(&w, b"x").unwrap();
    let calls = Log::new();
    let c = calls.clone();
    looper
        .add_fd(&r, FdEvents::INPUT, move |_, _| {
            c.push("fd");
            if c.len() == 1 {
                panic!("fd callback");
            }
            FdAction::Remove
        })
        .unwrap();
    assert!(catch_unwind(AssertUnwindSafe(|| looper.poll_once(ZERO))).is_err());
    assert_eq!(looper.fd_count(), 1);
    assert_eq!(looper.poll_once(ZERO).unwrap(), PollResult::Callback);
    assert_eq!(looper.fd_count(), 0);

    let c = calls.clone();
    looper.add_idle_handler(move || {
        c.push("idle");
        if c.len() == 3 {
            panic!("idle handler");
        }
        false
    });
    assert!(catch_unwind(AssertUnwindSafe(|| looper.poll_once(ZERO))).is_err());
    // Still registered and still armed: it runs (and removes itself) next time.
    looper.handler().post(|| {});
    drain(&looper, 10);
    assert_eq!(calls.get(), vec!["fd", "fd", "idle", "idle"]);
    // poll_once is usable again (not stuck as "re-entrant").
    assert_eq!(looper.poll_once(ZERO).unwrap(), PollResult::Timeout);
}
