//! Message ordering, timing, send/remove/has, barriers, idle handlers, quit.

mod util;

use std::time::{Duration, Instant};

use ferrodfs_looper::{Error, Looper, PollResult};
use util::{drain, Log};

const ZERO: Option<Duration> = Some(Duration::ZERO);

#[test]
fn second_prepare_on_a_thread_fails_until_the_first_is_dropped() {
    let looper = Looper::prepare().unwrap();
    assert!(matches!(Looper::prepare(), Err(Error::AlreadyPrepared)));
    let clone = Looper::my_looper().expect("current looper");
    drop(looper);
    assert!(matches!(Looper::prepare(), Err(Error::AlreadyPrepared)));
    drop(clone);
    assert!(Looper::my_looper().is_none());
    let _again = Looper::prepare().unwrap();
}

#[test]
fn messages_run_in_due_order_and_equal_times_in_post_order() {
    let looper = Looper::prepare().unwrap();
    let h = looper.handler();
    let log = Log::new();
    let base = Instant::now();
    // Equal times in post order; a later time posted first runs later.
    for (name, offset_ms) in [
        ("c", 2u64),
        ("a1", 1),
        ("a2", 1),
        ("b", 0),
        ("a3", 1),
        ("b2", 0),
    ] {
        let log = log.clone();
        h.post_at(
            move || log.push(name),
            base + Duration::from_millis(offset_ms),
        );
    }
    while log.len() < 6 {
        looper.poll_once(Some(Duration::from_secs(1))).unwrap();
    }
    assert_eq!(log.get(), vec!["b", "b2", "a1", "a2", "a3", "c"]);
}

#[test]
fn many_equal_time_messages_keep_post_order() {
    let looper = Looper::prepare().unwrap();
    let h = looper.handler();
    let log = Log::new();
    let when = Instant::now();
    for i in 0..1000 {
        let log = log.clone();
        h.post_at(move || log.push(i), when);
    }
    drain(&looper, 10);
    assert_eq!(log.get(), (0..1000).collect::<Vec<_>>());
}

#[test]
fn delayed_messages_never_run_early() {
    let looper = Looper::prepare().unwrap();
    let h = looper.handler();
    let ran_at = Log::new();
    let start = Instant::now();
    for ms in [30u64, 10, 20] {
        let ran_at = ran_at.clone();
        h.post_delayed(
            move || ran_at.push((ms, Instant::now())),
            Duration::from_millis(ms),
        );
    }
    // Nothing is due yet.
    assert_eq!(looper.poll_once(ZERO).unwrap(), PollResult::Timeout);
    while ran_at.len() < 3 {
        looper.poll_once(None).unwrap();
    }
    let got = ran_at.get();
    assert_eq!(
        got.iter().map(|(ms, _)| *ms).collect::<Vec<_>>(),
        vec![10, 20, 30]
    );
    for (ms, at) in got {
        assert!(
            at.duration_since(start) >= Duration::from_millis(ms),
            "{ms} ms message ran early"
        );
    }
}

#[test]
fn poll_once_blocks_until_the_head_is_due() {
    let looper = Looper::prepare().unwrap();
    let h = looper.handler();
    let log = Log::new();
    let l = log.clone();
    let start = Instant::now();
    h.post_delayed(move || l.push(1), Duration::from_millis(25));
    // One blocking poll: it must wake for the message by itself.
    assert_eq!(looper.poll_once(None).unwrap(), PollResult::Callback);
    assert_eq!(log.get(), vec![1]);
    assert!(start.elapsed() >= Duration::from_millis(25));
}

#[test]
fn post_at_front_jumps_the_queue_last_posted_first() {
    let looper = Looper::prepare().unwrap();
    let h = looper.handler();
    let log = Log::new();
    for name in ["n1", "n2"] {
        let log = log.clone();
        h.post(move || log.push(name));
    }
    for name in ["f1", "f2"] {
        let log = log.clone();
        h.post_at_front(move || log.push(name));
    }
    drain(&looper, 10);
    assert_eq!(log.get(), vec!["f2", "f1", "n1", "n2"]);
}

#[test]
fn post_at_front_from_a_callback_runs_before_the_rest_of_the_batch() {
    let looper = Looper::prepare().unwrap();
    let h = looper.handler();
    let log = Log::new();
    let (l, h2) = (log.clone(), h.clone());
    h.post(move || {
        l.push("first");
        let l2 = l.clone();
        h2.post_at_front(move || l2.push("front"));
    });
    let l = log.clone();
    h.post(move || l.push("second"));
    drain(&looper, 10);
    assert_eq!(log.get(), vec!["first", "front", "second"]);
}

#[test]
fn send_delivers_messages_to_the_handler_callback() {
    let looper = Looper::prepare().unwrap();
    let log = Log::new();
    let l = log.clone();
    let h = looper.handler_with(move |m| {
        let p = m
            .payload
            .and_then(|p| p.downcast::<String>().ok())
            .map(|s| *s);
        l.push((m.what, m.arg1, m.arg2, p));
    });
    assert!(h.send(1, 10, 20, Some(Box::new("hello".to_string()))));
    assert!(h.send_delayed(2, 0, 0, None, Duration::from_millis(1)));
    assert!(h.send_at_front(3, 0, 0, None));
    let until = Instant::now() + Duration::from_millis(1);
    while Instant::now() < until || log.len() < 3 {
        looper.poll_once(Some(Duration::from_millis(5))).unwrap();
    }
    assert_eq!(
        log.get(),
        vec![
            (3, 0, 0, None),
            (1, 10, 20, Some("hello".to_string())),
            (2, 0, 0, None)
        ]
    );
}

#[test]
fn remove_and_has_select_by_what_and_handler() {
    let looper = Looper::prepare().unwrap();
    let log = Log::new();
    let l = log.clone();
    let a = looper.handler_with(move |m| l.push(("a", m.what)));
    let l = log.clone();
    let b = looper.handler_with(move |m| l.push(("b", m.what)));
    a.send(1, 0, 0, None);
    a.send_delayed(1, 0, 0, None, Duration::from_secs(60));
    a.send(2, 0, 0, None);
    b.send(1, 0, 0, None);
    assert!(a.has(1) && a.has(2) && b.has(1) && !b.has(2));
    assert!(a.clone().has(1), "clones share identity");
    assert_eq!(a.remove(1), 2);
    assert!(!a.has(1) && b.has(1));
    drain(&looper, 10);
    assert_eq!(log.get(), vec![("a", 2), ("b", 1)]);
    assert!(!a.has(2) && !b.has(1));
}

#[test]
fn remove_from_a_callback_cancels_a_message_already_due() {
    // Both are due when the batch is taken; the first cancels the second.
    let looper = Looper::prepare().unwrap();
    let log = Log::new();
    let l = log.clone();
    let h = looper.handler_with(move |m| l.push(m.what));
    let (h2, l) = (h.clone(), log.clone());
    h.post(move || {
        assert!(
            h2.has(7),
            "a due message taken in the batch is still pending"
        );
        assert_eq!(h2.remove(7), 1);
        assert!(!h2.has(7));
        l.push(0);
    });
    h.send(7, 0, 0, None);
    h.send(8, 0, 0, None);
    drain(&looper, 10);
    assert_eq!(log.get(), vec![0, 8]);
}

#[test]
fn has_inside_a_message_callback_does_not_see_itself() {
    use std::cell::RefCell;
    use std::rc::Rc;
    // The callback asks its own handler about its `what`: the running message is no longer
    // pending, the next one (same batch) still is.
    let looper = Looper::prepare().unwrap();
    let log = Log::new();
    let l = log.clone();
    let me: Rc<RefCell<Option<ferrodfs_looper::Handler>>> = Rc::default();
    let me2 = me.clone();
    let h = looper.handler_with(move |m| {
        let me = me2.borrow().clone().expect("handler set before dispatch");
        l.push((m.arg1, me.has(m.what)));
    });
    *me.borrow_mut() = Some(h.clone());
    h.send(9, 1, 0, None);
    h.send(9, 2, 0, None);
    assert_eq!(looper.poll_once(ZERO).unwrap(), PollResult::Callback);
    assert_eq!(log.get(), vec![(1, true), (2, false)]);
}

#[test]
fn a_sync_barrier_holds_sync_messages_and_lets_async_ones_pass() {
    let looper = Looper::prepare().unwrap();
    let h = looper.handler();
    let asy = h.asynchronous();
    assert!(asy.is_asynchronous() && !h.is_asynchronous());
    let log = Log::new();
    let l = log.clone();
    h.post(move || l.push("sync-before"));
    let token = h.post_sync_barrier();
    let l = log.clone();
    h.post(move || l.push("sync-after"));
    let l = log.clone();
    asy.post(move || l.push("async-1"));
    let l = log.clone();
    asy.post(move || l.push("async-2"));
    drain(&looper, 10);
    assert_eq!(log.get(), vec!["sync-before", "async-1", "async-2"]);
    // Stalled by the barrier: not idle, nothing runs.
    assert_eq!(looper.poll_once(ZERO).unwrap(), PollResult::Timeout);
    assert!(h.remove_sync_barrier(token));
    drain(&looper, 10);
    assert_eq!(
        log.get(),
        vec!["sync-before", "async-1", "async-2", "sync-after"]
    );
}

#[test]
fn a_barrier_does_not_hold_messages_already_due_before_it() {
    let looper = Looper::prepare().unwrap();
    let h = looper.handler();
    let log = Log::new();
    let l = log.clone();
    let past = Instant::now();
    let token = h.post_sync_barrier();
    h.post_at(move || l.push("earlier"), past);
    drain(&looper, 10);
    assert_eq!(log.get(), vec!["earlier"]);
    assert!(h.remove_sync_barrier(token));
    let again = h.post_sync_barrier();
    assert!(h.remove_sync_barrier(again));
}

#[test]
fn a_barrier_dropped_by_quit_cannot_be_removed() {
    let looper = Looper::prepare().unwrap();
    let h = looper.handler();
    let t = h.post_sync_barrier();
    assert!(h.quit());
    assert!(!h.remove_sync_barrier(t));
    assert_eq!(looper.poll_once(ZERO).unwrap(), PollResult::Quit);
}

#[test]
fn idle_handlers_run_when_idle_and_keep_or_remove_themselves() {
    let looper = Looper::prepare().unwrap();
    let h = looper.handler();
    let keep_runs = Log::new();
    let once_runs = Log::new();
    let k = keep_runs.clone();
    looper.add_idle_handler(move || {
        k.push(());
        true
    });
    let o = once_runs.clone();
    looper.add_idle_handler(move || {
        o.push(());
        false
    });
    // Empty queue: idle handlers run once per idle period.
    assert_eq!(looper.poll_once(ZERO).unwrap(), PollResult::Callback);
    assert_eq!(looper.poll_once(ZERO).unwrap(), PollResult::Timeout);
    assert_eq!((keep_runs.len(), once_runs.len()), (1, 1));
    // A due message: not idle; after it runs the queue goes idle again.
    h.post(|| {});
    looper.poll_once(ZERO).unwrap();
    assert_eq!(keep_runs.len(), 1);
    looper.poll_once(ZERO).unwrap();
    assert_eq!((keep_runs.len(), once_runs.len()), (2, 1));
    // Head in the future counts as idle.
    h.post_delayed(|| {}, Duration::from_secs(60));
    h.post(|| {});
    looper.poll_once(ZERO).unwrap();
    looper.poll_once(ZERO).unwrap();
    assert_eq!(keep_runs.len(), 3);
}

#[test]
fn remove_idle_handler_stops_it() {
    let looper = Looper::prepare().unwrap();
    let runs = Log::new();
    let r = runs.clone();
    let id = looper.add_idle_handler(move || {
        r.push(());
        true
    });
    assert!(looper.remove_idle_handler(id));
    assert!(!looper.remove_idle_handler(id));
    looper.poll_once(ZERO).unwrap();
    assert_eq!(runs.len(), 0);
}

#[test]
fn an_idle_handler_that_posts_gets_its_message_run_in_the_same_poll() {
    let looper = Looper::prepare().unwrap();
    let h = looper.handler();
    let log = Log::new();
    let l = log.clone();
    looper.add_idle_handler(move || {
        let l = l.clone();
        h.post(move || l.push("posted by idle"));
        false
    });
    assert_eq!(looper.poll_once(None).unwrap(), PollResult::Callback);
    assert_eq!(log.get(), vec!["posted by idle"]);
}

#[test]
fn quit_drops_everything_and_later_posts_fail() {
    let looper = Looper::prepare().unwrap();
    let h = looper.handler();
    let log = Log::new();
    let (l, h2) = (log.clone(), h.clone());
    h.post(move || {
        l.push(1);
        h2.quit();
    });
    let l = log.clone();
    h.post(move || l.push(2)); // due, but quit drops it
    looper.run().unwrap();
    assert_eq!(log.get(), vec![1]);
    assert!(!h.post(|| {}));
    let t = h.post_sync_barrier();
    assert!(!h.remove_sync_barrier(t), "nothing is queued after quit");
    assert!(h.is_quitting());
    assert_eq!(looper.poll_once(ZERO).unwrap(), PollResult::Quit);
}

#[test]
fn quit_safely_delivers_what_is_due_and_drops_the_rest() {
    let looper = Looper::prepare().unwrap();
    let h = looper.handler();
    let log = Log::new();
    let (l, h2) = (log.clone(), h.clone());
    h.post(move || {
        l.push(1);
        h2.quit_safely();
    });
    let l = log.clone();
    h.post(move || l.push(2));
    let l = log.clone();
    h.post_delayed(move || l.push(3), Duration::from_millis(1));
    let l = log.clone();
    h.post_delayed(move || l.push(4), Duration::from_secs(60));
    // Message 3 is due by the time quit_safely runs, 4 is not.
    std::thread::sleep(Duration::from_millis(2));
    looper.run().unwrap();
    assert_eq!(log.get(), vec![1, 2, 3]);
    assert!(!h.post(|| {}));
}

#[test]
fn posts_fail_once_the_looper_is_dropped() {
    let looper = Looper::prepare().unwrap();
    let h = looper.handler();
    assert!(h.post(|| {}));
    drop(looper);
    assert!(!h.post(|| {}));
}

#[test]
fn callbacks_can_reach_their_looper_but_not_poll_it() {
    let looper = Looper::prepare().unwrap();
    let h = looper.handler();
    let log = Log::new();
    let l = log.clone();
    h.post(move || {
        let me = Looper::my_looper().expect("inside a callback");
        assert!(matches!(me.poll_once(ZERO), Err(Error::Reentrant)));
        let id = me.add_idle_handler(|| true);
        assert!(me.remove_idle_handler(id));
        l.push("ok");
    });
    drain(&looper, 10);
    assert_eq!(log.get(), vec!["ok"]);
}

#[test]
fn one_iteration_drains_every_due_message() {
    let looper = Looper::prepare().unwrap();
    let h = looper.handler();
    let log = Log::new();
    for i in 0..100 {
        let l = log.clone();
        h.post(move || l.push(i));
    }
    assert_eq!(looper.poll_once(ZERO).unwrap(), PollResult::Callback);
    assert_eq!(log.len(), 100);
}

#[test]
fn no_lock_is_held_while_a_callback_runs() {
    // The callback waits for another thread that posts, queries and removes: this would
    // deadlock if the queue lock were held across the callback.
    let looper = Looper::prepare().unwrap();
    let h = looper.handler_with(|_| {});
    let h2 = h.clone();
    h.post(move || {
        let h3 = h2.clone();
        std::thread::spawn(move || {
            assert!(h3.send(1, 0, 0, None));
            assert!(h3.has(1));
            assert_eq!(h3.remove(1), 1);
            let t = h3.post_sync_barrier();
            assert!(h3.remove_sync_barrier(t));
        })
        .join()
        .unwrap();
    });
    assert_eq!(looper.poll_once(ZERO).unwrap(), PollResult::Callback);
}

#[test]
fn destructors_of_removed_messages_may_post() {
    // A payload whose destructor posts: removing it must not deadlock on the queue lock.
    struct PostOnDrop(ferrodfs_looper::Handler, Log<&'static str>);
    impl Drop for PostOnDrop {
        fn drop(&mut self) {
            let l = self.1.clone();
            self.0.post(move || l.push("posted from drop"));
        }
    }
    let looper = Looper::prepare().unwrap();
    let h = looper.handler_with(|_| {});
    let log = Log::new();
    h.send_delayed(
        1,
        0,
        0,
        Some(Box::new(PostOnDrop(h.clone(), log.clone()))),
        Duration::from_secs(60),
    );
    assert_eq!(h.remove(1), 1);
    drain(&looper, 10);
    assert_eq!(log.get(), vec!["posted from drop"]);
}
