//! Cross-thread posting, wake rules and wake coalescing.

mod util;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use ferrodfs_looper::{Looper, PollResult};
use util::{spawn_looper, wait_until, Log};

const THREADS: usize = 8;
const PER_THREAD: usize = 5_000;

#[test]
fn many_threads_post_and_nothing_is_lost_duplicated_or_reordered() {
    let (handler, join) = spawn_looper("stress-looper");
    // Per-producer sequence numbers seen on the looper thread.
    let seen = Log::new();
    let start = Arc::new(Barrier::new(THREADS));
    let producers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (h, seen, start) = (handler.clone(), seen.clone(), start.clone());
            thread::Builder::new()
                .name(format!("producer-{t}"))
                .spawn(move || {
                    start.wait();
                    for i in 0..PER_THREAD {
                        let seen = seen.clone();
                        // Mix plain, message-free delayed (0) and at-time posts.
                        let ok = if i % 3 == 0 {
                            h.post_delayed(move || seen.push((t, i)), Duration::ZERO)
                        } else {
                            h.post(move || seen.push((t, i)))
                        };
                        assert!(ok);
                    }
                })
                .unwrap()
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    let h = handler.clone();
    assert!(handler.post(move || {
        h.quit_safely();
    }));
    join.join().unwrap().unwrap();
    let seen = seen.get();
    assert_eq!(seen.len(), THREADS * PER_THREAD);
    let mut next = [0usize; THREADS];
    for (t, i) in seen {
        // Posts from one thread run in post order, each exactly once.
        assert_eq!(i, next[t], "producer {t}");
        next[t] += 1;
    }
    assert!(next.iter().all(|&n| n == PER_THREAD));
}

#[test]
fn send_messages_from_many_threads_arrive_exactly_once() {
    let (tx, rx) = mpsc::channel();
    let join = thread::Builder::new()
        .name("send-looper".into())
        .spawn(move || {
            let looper = Looper::prepare().unwrap();
            let counts = std::rc::Rc::new(std::cell::RefCell::new(vec![0u32; THREADS * 100]));
            let c = counts.clone();
            let h = looper.handler_with(move |m| c.borrow_mut()[m.arg1 as usize] += 1);
            tx.send(h).unwrap();
            looper.run().unwrap();
            let v = counts.borrow().clone();
            v
        })
        .unwrap();
    let h = rx.recv().unwrap();
    let producers: Vec<_> = (0..THREADS)
        .map(|t| {
            let h = h.clone();
            thread::spawn(move || {
                for i in 0..100 {
                    assert!(h.send(1, (t * 100 + i) as i64, 0, None));
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    h.quit_safely();
    let counts = join.join().unwrap();
    assert!(counts.iter().all(|&c| c == 1), "{counts:?}");
}

/// Starts a looper thread that posts `setup` and then makes one blocking poll (bounded by
/// `limit`), reporting what the poll returned and how long it took.
fn one_blocking_poll(
    limit: Duration,
) -> (
    ferrodfs_looper::Handler,
    thread::JoinHandle<(PollResult, Duration)>,
) {
    let (tx, rx) = mpsc::channel();
    let join = thread::Builder::new()
        .name("blocking-poll".into())
        .spawn(move || {
            let looper = Looper::prepare().unwrap();
            let h = looper.handler();
            // A far head so the poll blocks until `limit` unless woken.
            h.post_delayed(|| {}, Duration::from_secs(3600));
            tx.send(h).unwrap();
            let start = Instant::now();
            let r = looper.poll_once(Some(limit)).unwrap();
            (r, start.elapsed())
        })
        .unwrap();
    (rx.recv().unwrap(), join)
}

#[test]
fn an_insert_behind_the_head_does_not_wake_a_blocked_poll() {
    let (h, join) = one_blocking_poll(Duration::from_millis(150));
    wait_until(Duration::from_secs(5), || h.is_blocked());
    assert!(h.post_delayed(|| {}, Duration::from_secs(7200)));
    assert_eq!(h.stats().wake_writes, 0);
    let (r, took) = join.join().unwrap();
    assert_eq!(r, PollResult::Timeout);
    assert!(took >= Duration::from_millis(150));
}

#[test]
fn an_insert_at_the_head_wakes_a_blocked_poll() {
    let (h, join) = one_blocking_poll(Duration::from_secs(30));
    wait_until(Duration::from_secs(5), || h.is_blocked());
    let ran = Arc::new(AtomicU64::new(0));
    let r2 = ran.clone();
    assert!(h.post(move || {
        r2.fetch_add(1, Ordering::SeqCst);
    }));
    let (r, took) = join.join().unwrap();
    assert_eq!(r, PollResult::Callback);
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert!(took < Duration::from_secs(10));
    assert_eq!(h.stats().wake_writes, 1);
}

#[test]
fn the_earliest_async_message_behind_a_barrier_wakes_and_a_sync_one_does_not() {
    let (tx, rx) = mpsc::channel();
    let join = thread::spawn(move || {
        let looper = Looper::prepare().unwrap();
        let h = looper.handler();
        let token = h.post_sync_barrier();
        tx.send(h).unwrap();
        let start = Instant::now();
        let r = looper.poll_once(Some(Duration::from_secs(30))).unwrap();
        drop(token);
        (r, start.elapsed())
    });
    let h = rx.recv().unwrap();
    wait_until(Duration::from_secs(5), || h.is_blocked());
    // Sync, behind the barrier: no wake.
    assert!(h.post(|| {}));
    assert_eq!(h.stats().wake_writes, 0);
    // The earliest async message behind the barrier: wake.
    let ran = Arc::new(AtomicU64::new(0));
    let r2 = ran.clone();
    assert!(h.asynchronous().post(move || {
        r2.fetch_add(1, Ordering::SeqCst);
    }));
    let (r, took) = join.join().unwrap();
    assert_eq!(r, PollResult::Callback);
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert!(took < Duration::from_secs(10));
    assert_eq!(h.stats().wake_writes, 1);
}

#[test]
fn removing_the_head_barrier_wakes_a_blocked_poll() {
    let (tx, rx) = mpsc::channel();
    let join = thread::spawn(move || {
        let looper = Looper::prepare().unwrap();
        let h = looper.handler();
        let token = h.post_sync_barrier();
        let ran = Arc::new(AtomicU64::new(0));
        let r2 = ran.clone();
        h.post(move || {
            r2.fetch_add(1, Ordering::SeqCst);
        });
        tx.send((h, token)).unwrap();
        let r = looper.poll_once(Some(Duration::from_secs(30))).unwrap();
        (r, ran.load(Ordering::SeqCst))
    });
    let (h, token) = rx.recv().unwrap();
    wait_until(Duration::from_secs(5), || h.is_blocked());
    assert!(h.remove_sync_barrier(token));
    assert_eq!(join.join().unwrap(), (PollResult::Callback, 1));
}

#[test]
fn wakes_coalesce_into_at_most_one_write_per_blocking_poll() {
    let (handler, join) = spawn_looper("coalesce-looper");
    let start = Arc::new(Barrier::new(4));
    let posted = Arc::new(AtomicU64::new(0));
    let producers: Vec<_> = (0..4)
        .map(|_| {
            let (h, start, posted) = (handler.clone(), start.clone(), posted.clone());
            thread::spawn(move || {
                start.wait();
                for _ in 0..10_000 {
                    // Every one of these is a head insert.
                    h.post_at_front(|| {});
                    posted.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    handler.quit_safely();
    join.join().unwrap().unwrap();
    let stats = handler.stats();
    // One write per blocking poll at most (plus the quit's own wake).
    assert!(
        stats.wake_writes <= stats.blocked_polls + 1,
        "{stats:?} for {} head inserts",
        posted.load(Ordering::Relaxed)
    );
}

#[test]
fn a_looper_thread_serves_delayed_posts_from_other_threads_in_time_order() {
    let (handler, join) = spawn_looper("timed-looper");
    let log = Log::new();
    for (name, ms) in [("30", 30u64), ("10", 10), ("20", 20)] {
        let l = log.clone();
        handler.post_delayed(move || l.push(name), Duration::from_millis(ms));
    }
    let h = handler.clone();
    handler.post_delayed(
        move || {
            h.quit();
        },
        Duration::from_millis(40),
    );
    join.join().unwrap().unwrap();
    assert_eq!(log.get(), vec!["10", "20", "30"]);
}

#[test]
fn handler_is_send_sync_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<ferrodfs_looper::Handler>();
}
