//! Looper benchmarks, each beside a baseline measured in the same run:
//! - same-thread post + dispatch vs a `std::sync::mpsc` send + try_recv on one thread;
//! - cross-thread post → dispatch vs `std::sync::mpsc` and `crossbeam-channel` with a
//!   blocking receiver thread (all carry the same boxed closures);
//! - wake-up latency of an idle looper (round trip: post → callback writes a reply eventfd)
//!   vs a raw eventfd ping-pong between two threads, with both sides pinned to one CPU and
//!   to two CPUs.
//!
//! Run: `cargo bench -p ferrodfs-looper --bench looper`.

use std::hint::black_box;
use std::os::fd::OwnedFd;
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrodfs_looper::{Handler, Looper, PollResult};
use rustix::event::{eventfd, EventfdFlags};
use rustix::thread::{sched_setaffinity, CpuSet};

/// Messages per measured iteration of the throughput benchmarks.
const BATCH: u64 = 10_000;

type Job = Box<dyn FnOnce() + Send + 'static>;

fn pin_to(cpu: usize) {
    let mut set = CpuSet::new();
    set.set(cpu);
    if let Err(e) = sched_setaffinity(None, &set) {
        eprintln!("could not pin to CPU {cpu}: {e}");
    }
}

fn unpin() {
    let mut set = CpuSet::new();
    let n = thread::available_parallelism().map_or(1, |n| n.get());
    for cpu in 0..n {
        set.set(cpu);
    }
    let _ = sched_setaffinity(None, &set);
}

fn same_thread(c: &mut Criterion) {
    let mut g = c.benchmark_group("same_thread_post_dispatch");
    g.throughput(Throughput::Elements(BATCH));
    g.bench_function("looper", |b| {
        let looper = Looper::prepare().expect("prepare");
        let h = looper.handler();
        b.iter(|| {
            for i in 0..BATCH {
                h.post(move || {
                    black_box(i);
                });
            }
            while looper.poll_once(Some(Duration::ZERO)).expect("poll") != PollResult::Timeout {}
        });
    });
    g.bench_function("baseline_std_mpsc", |b| {
        let (tx, rx) = mpsc::channel::<Job>();
        b.iter(|| {
            for i in 0..BATCH {
                let _ = tx.send(Box::new(move || {
                    black_box(i);
                }));
            }
            while let Ok(f) = rx.try_recv() {
                f();
            }
        });
    });
    g.finish();
}

/// Posts `iters * BATCH` closures from this thread; the last one reports back.
fn timed_posts(iters: u64, post: &dyn Fn(Job)) -> Duration {
    let (done_tx, done_rx) = mpsc::channel();
    let start = Instant::now();
    for _ in 0..iters {
        for i in 0..BATCH - 1 {
            post(Box::new(move || {
                black_box(i);
            }));
        }
        let done = done_tx.clone();
        post(Box::new(move || {
            let _ = done.send(());
        }));
    }
    for _ in 0..iters {
        done_rx.recv().expect("consumer alive");
    }
    start.elapsed()
}

fn spawn_looper_thread(pin: Option<usize>) -> (Handler, thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel();
    let join = thread::Builder::new()
        .name("bench-looper".into())
        .spawn(move || {
            if let Some(cpu) = pin {
                pin_to(cpu);
            }
            let looper = Looper::prepare().expect("prepare");
            tx.send(looper.handler()).expect("bench alive");
            looper.run().expect("run");
        })
        .expect("spawn");
    (rx.recv().expect("handler"), join)
}

fn cross_thread(c: &mut Criterion) {
    let mut g = c.benchmark_group("cross_thread_post_dispatch");
    g.throughput(Throughput::Elements(BATCH));
    g.bench_function("looper", |b| {
        let (h, join) = spawn_looper_thread(None);
        b.iter_custom(|iters| {
            timed_posts(iters, &|job| {
                h.post(job);
            })
        });
        h.quit();
        join.join().expect("looper thread");
    });
    g.bench_function("baseline_std_mpsc", |b| {
        let (tx, rx) = mpsc::channel::<Job>();
        let join = thread::Builder::new()
            .name("bench-mpsc".into())
            .spawn(move || {
                while let Ok(f) = rx.recv() {
                    f();
                }
            })
            .expect("spawn");
        b.iter_custom(|iters| {
            timed_posts(iters, &|job| {
                let _ = tx.send(job);
            })
        });
        drop(tx);
        join.join().expect("receiver");
    });
    g.bench_function("baseline_crossbeam_channel", |b| {
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        let join = thread::Builder::new()
            .name("bench-crossbeam".into())
            .spawn(move || {
                while let Ok(f) = rx.recv() {
                    f();
                }
            })
            .expect("spawn");
        b.iter_custom(|iters| {
            timed_posts(iters, &|job| {
                let _ = tx.send(job);
            })
        });
        drop(tx);
        join.join().expect("receiver");
    });
    g.finish();
}

fn blocking_eventfd() -> OwnedFd {
    eventfd(0, EventfdFlags::CLOEXEC).expect("eventfd")
}

fn efd_write(fd: &OwnedFd, v: u64) {
    rustix::io::write(fd, &v.to_ne_bytes()).expect("eventfd write");
}

fn efd_read(fd: &OwnedFd) -> u64 {
    let mut b = [0u8; 8];
    rustix::io::read(fd, &mut b).expect("eventfd read");
    u64::from_ne_bytes(b)
}

const STOP: u64 = 2;

fn wake_latency(c: &mut Criterion) {
    let mut g = c.benchmark_group("idle_wake_round_trip");
    for (label, bench_cpu, other_cpu) in [("same_cpu", 0usize, 0usize), ("cross_cpu", 0, 1)] {
        g.bench_function(format!("looper_{label}"), |b| {
            pin_to(bench_cpu);
            let (h, join) = spawn_looper_thread(Some(other_cpu));
            let reply = Arc::new(blocking_eventfd());
            b.iter(|| {
                let r = Arc::clone(&reply);
                h.post(move || efd_write(&r, 1));
                efd_read(&reply)
            });
            h.quit();
            join.join().expect("looper thread");
            unpin();
        });
        g.bench_function(format!("baseline_eventfd_ping_pong_{label}"), |b| {
            pin_to(bench_cpu);
            let ping = Arc::new(blocking_eventfd());
            let pong = Arc::new(blocking_eventfd());
            let (pi, po) = (Arc::clone(&ping), Arc::clone(&pong));
            let join = thread::Builder::new()
                .name("bench-pong".into())
                .spawn(move || {
                    pin_to(other_cpu);
                    while efd_read(&pi) != STOP {
                        efd_write(&po, 1);
                    }
                })
                .expect("spawn");
            b.iter(|| {
                efd_write(&ping, 1);
                efd_read(&pong)
            });
            efd_write(&ping, STOP);
            join.join().expect("pong thread");
            unpin();
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = same_thread, cross_thread, wake_latency
}
criterion_main!(benches);
