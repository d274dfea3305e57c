//! getFileInfo on a path whose file and parent carry 10 extended attributes each, versus
//! the baseline of the same lookup on a path without any, in the same run (issue 11: the
//! xattr path must keep ≥ 90% of the plain rate).
//!
//! `cargo bench -p ferrodfs-namenode --bench xattr_fileinfo`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrodfs_namenode::namespace::xattr::set_flag::CREATE;
use ferrodfs_namenode::namespace::{Caller, FsPermission};
use ferrodfs_namenode::namesystem::CreateFlags;
use ferrodfs_namenode::{NameNode, NameNodeConfig};

fn setup(dir: &std::path::Path) -> NameNode {
    let config = NameNodeConfig {
        name_dir: dir.to_owned(),
        superuser: "hdfs".into(),
        ..NameNodeConfig::default()
    };
    NameNode::format(&config, None).expect("format");
    let nn = NameNode::open(config).expect("open");
    let su = Caller::user("hdfs");
    for d in ["/plain", "/xattr"] {
        nn.mkdirs(&su, d, FsPermission(0o755), true)
            .expect("mkdirs");
        nn.create(
            &su,
            &format!("{d}/f"),
            FsPermission(0o644),
            CreateFlags(CreateFlags::CREATE),
            false,
            3,
            1 << 20,
        )
        .expect("create");
    }
    for p in ["/xattr", "/xattr/f"] {
        for i in 0..10 {
            nn.set_xattr(&su, p, &format!("user.k{i}"), b"some value", CREATE)
                .expect("set_xattr");
        }
    }
    nn
}

fn get_file_info(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let nn = setup(dir.path());
    let su = Caller::user("hdfs");
    let mut g = c.benchmark_group("getFileInfo");
    g.throughput(Throughput::Elements(1));
    g.bench_function("baseline: no xattrs", |b| {
        b.iter(|| nn.get_file_info(&su, "/plain/f").expect("stat"))
    });
    g.bench_function("10 xattrs on file and parent", |b| {
        b.iter(|| nn.get_file_info(&su, "/xattr/f").expect("stat"))
    });
    g.finish();
}

criterion_group!(benches, get_file_info);
criterion_main!(benches);
