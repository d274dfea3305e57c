//! Group commit: N threads creating files through `NameNode::create` (each call returns
//! only after its edit is fdatasync'd) versus the baseline of one thread appending a
//! record-sized write + fdatasync per operation to a file on the same disk, in the same run.
//!
//! `cargo bench -p ferrodfs-namenode --bench group_commit`
//! Time per element is time per durable operation; the speed-up is baseline / threaded.

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrodfs_namenode::namespace::{Caller, FsPermission};
use ferrodfs_namenode::namesystem::CreateFlags;
use ferrodfs_namenode::{NameNode, NameNodeConfig};

fn bench_dir() -> tempfile::TempDir {
    // Same disk as the target directory (not a tmpfs).
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir")
}

fn single_thread_fdatasync(c: &mut Criterion) {
    let dir = bench_dir();
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.path().join("baseline"))
        .expect("open");
    let record = [7u8; 96];
    let mut g = c.benchmark_group("group_commit");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("baseline_1thread_append_fdatasync", |b| {
        b.iter(|| {
            f.write_all(&record).expect("write");
            f.sync_data().expect("sync");
        })
    });
    for threads in [1usize, 16] {
        let dir = bench_dir();
        let config = NameNodeConfig {
            name_dir: dir.path().to_owned(),
            superuser: "bench".into(),
            ..NameNodeConfig::default()
        };
        NameNode::format(&config, None).expect("format");
        let nn = Arc::new(NameNode::open(config).expect("open"));
        let caller = Caller::user("bench");
        nn.mkdirs(&caller, "/b", FsPermission(0o755), true)
            .expect("mkdirs");
        let counter = Arc::new(AtomicUsize::new(0));
        g.bench_function(format!("namenode_create_{threads}threads"), |b| {
            b.iter_custom(|iters| {
                let per = (iters as usize).div_ceil(threads);
                let start = Instant::now();
                std::thread::scope(|s| {
                    for t in 0..threads {
                        let nn = Arc::clone(&nn);
                        let counter = Arc::clone(&counter);
                        let caller = caller.clone().with_client(&format!("c{t}"), "127.0.0.1");
                        std::thread::Builder::new()
                            .name(format!("creator-{t}"))
                            .spawn_scoped(s, move || {
                                for _ in 0..per {
                                    let i = counter.fetch_add(1, Ordering::Relaxed);
                                    nn.create(
                                        &caller,
                                        &format!("/b/f{i}"),
                                        FsPermission(0o644),
                                        CreateFlags(CreateFlags::CREATE),
                                        false,
                                        3,
                                        128 << 20,
                                    )
                                    .expect("create");
                                }
                            })
                            .expect("spawn");
                    }
                });
                // Scale to exactly `iters` operations.
                start
                    .elapsed()
                    .mul_f64(iters as f64 / (per * threads) as f64)
            })
        });
        let stats = nn.edit_log_stats();
        println!(
            "namenode_create_{threads}threads: {} edits in {} fdatasyncs ({:.1} edits per sync)",
            stats.last_txid,
            stats.syncs,
            stats.last_txid as f64 / stats.syncs.max(1) as f64
        );
    }
    g.finish();
}

criterion_group!(benches, single_thread_fdatasync);
criterion_main!(benches);
