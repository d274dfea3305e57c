//! Durability: restart equals the live namespace (property test), torn and corrupt edit
//! logs, checkpoints.

mod util;

use ferrodfs_namenode::blocks::ExtendedBlock;
use ferrodfs_namenode::namespace::FsPermission;
use ferrodfs_namenode::namesystem::{CreateFlags, ReceivedDeletedBlock, ReceivedDeletedStatus};
use ferrodfs_namenode::storage::NameDir;
use ferrodfs_namenode::{Error, NameNode};
use proptest::prelude::*;
use util::*;

/// A random operation on a small set of names.
#[derive(Debug, Clone)]
enum Op {
    Mkdir(u8, u8),
    Create(u8, u8, bool),
    Write(u8, u8, u8),
    Rename(u8, u8, u8, u8),
    Rename2(u8, u8, u8, u8),
    Delete(u8, u8, bool),
    Chmod(u8, u8, u16),
    Chown(u8, u8),
    SetRepl(u8, u8, u16),
    Times(u8, u8, i64),
    Append(u8, u8),
    Truncate(u8, u8, u64),
    Concat(u8, u8, u8),
    Checkpoint,
}

fn path(d: u8, f: u8) -> String {
    if f == 0 {
        format!("/d{d}")
    } else {
        format!("/d{d}/f{f}")
    }
}

fn op() -> impl Strategy<Value = Op> {
    let d = 0u8..3;
    let f = 0u8..4;
    prop_oneof![
        (d.clone(), f.clone()).prop_map(|(a, b)| Op::Mkdir(a, b)),
        (d.clone(), 1u8..4, any::<bool>()).prop_map(|(a, b, o)| Op::Create(a, b, o)),
        (d.clone(), 1u8..4, 1u8..4).prop_map(|(a, b, n)| Op::Write(a, b, n)),
        (d.clone(), f.clone(), d.clone(), f.clone())
            .prop_map(|(a, b, c, e)| Op::Rename(a, b, c, e)),
        (d.clone(), f.clone(), d.clone(), f.clone())
            .prop_map(|(a, b, c, e)| Op::Rename2(a, b, c, e)),
        (d.clone(), f.clone(), any::<bool>()).prop_map(|(a, b, r)| Op::Delete(a, b, r)),
        (d.clone(), f.clone(), 0u16..0o1777).prop_map(|(a, b, m)| Op::Chmod(a, b, m)),
        (d.clone(), f.clone()).prop_map(|(a, b)| Op::Chown(a, b)),
        (d.clone(), 1u8..4, 1u16..4).prop_map(|(a, b, r)| Op::SetRepl(a, b, r)),
        (d.clone(), f.clone(), 0i64..1_000_000).prop_map(|(a, b, t)| Op::Times(a, b, t)),
        (d.clone(), 1u8..4).prop_map(|(a, b)| Op::Append(a, b)),
        (d.clone(), 1u8..4, 0u64..5000).prop_map(|(a, b, l)| Op::Truncate(a, b, l)),
        (d.clone(), 1u8..4, 1u8..4).prop_map(|(a, b, c)| Op::Concat(a, b, c)),
        Just(Op::Checkpoint),
    ]
}

/// Writes `n` full-or-partial blocks to an open file and closes it.
fn write_blocks(nn: &NameNode, p: &str, n: u8) -> ferrodfs_namenode::Result<()> {
    let c = su();
    let id = nn
        .get_file_info(&c, p)?
        .map(|s| s.file_id)
        .ok_or(Error::FileNotFound { path: p.into() })?;
    let mut prev: Option<ExtendedBlock> = None;
    for i in 0..n {
        let lb = nn.add_block(&c, p, Some(id), prev.as_ref(), &[], &[])?;
        let len = if i + 1 == n { 1000 } else { 1024 };
        // Every other block gets a pipeline update (new GS) before it is finished.
        let mut b = lb.block.clone();
        if i % 2 == 1 {
            let newer = nn.update_block_for_pipeline(&c, &lb.block)?;
            let mut nb = newer.block.clone();
            nb.num_bytes = 0;
            nn.update_pipeline(&c, &lb.block, &nb, &["dn-1".into(), "dn-2".into()], &[])?;
            b = nb;
        }
        let received: Vec<ReceivedDeletedBlock> = vec![ReceivedDeletedBlock {
            block_id: b.block_id,
            gs: b.gs,
            num_bytes: len,
            status: ReceivedDeletedStatus::Received,
        }];
        nn.incremental_block_report("dn-1", "DS-1", &received)?;
        b.num_bytes = len;
        if i == 0 {
            nn.fsync(&c, p, Some(id), Some(len / 2))?;
        }
        prev = Some(b);
    }
    nn.complete(&c, p, Some(id), prev.as_ref())?;
    Ok(())
}

fn run(nn: &NameNode, op: &Op) {
    let c = su();
    let perm = FsPermission(0o755);
    // Errors are part of the behaviour under test: only their effects must be durable.
    let _ = match op {
        Op::Mkdir(d, f) => nn.mkdirs(&c, &path(*d, *f), perm, true).map(|_| ()),
        Op::Create(d, f, o) => {
            let mut flags = CreateFlags::CREATE;
            if *o {
                flags |= CreateFlags::OVERWRITE;
            }
            nn.create(
                &c,
                &path(*d, *f),
                FsPermission(0o644),
                CreateFlags(flags),
                true,
                2,
                1024,
            )
            .map(|_| ())
        }
        Op::Write(d, f, n) => write_blocks(nn, &path(*d, *f), *n),
        Op::Rename(a, b, x, y) => nn.rename(&c, &path(*a, *b), &path(*x, *y)).map(|_| ()),
        Op::Rename2(a, b, x, y) => nn.rename2(&c, &path(*a, *b), &path(*x, *y), true),
        Op::Delete(d, f, r) => nn.delete(&c, &path(*d, *f), *r).map(|_| ()),
        Op::Chmod(d, f, m) => nn.set_permission(&c, &path(*d, *f), FsPermission(*m)),
        Op::Chown(d, f) => nn.set_owner(&c, &path(*d, *f), Some("alice"), Some("staff")),
        Op::SetRepl(d, f, r) => nn.set_replication(&c, &path(*d, *f), *r).map(|_| ()),
        Op::Times(d, f, t) => nn.set_times(&c, &path(*d, *f), *t, *t / 2),
        Op::Append(d, f) => nn
            .append(&c, &path(*d, *f), CreateFlags(CreateFlags::APPEND))
            .map(|_| ()),
        Op::Truncate(d, f, l) => nn.truncate(&c, &path(*d, *f), *l).map(|_| ()),
        Op::Concat(d, a, b) => nn.concat(&c, &path(*d, *a), &[path(*d, *b)]),
        Op::Checkpoint => nn.checkpoint().map(|_| ()),
    };
}

fn start(dir: &std::path::Path) -> NameNode {
    let nn = NameNode::open(config(dir)).unwrap();
    for n in 1..=2 {
        nn.register_datanode(dn(n), "dn").unwrap();
    }
    nn
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn restart_equals_live_namespace(ops in proptest::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        NameNode::format(&config(dir.path()), None).unwrap();
        let nn = start(dir.path());
        for op in &ops {
            run(&nn, op);
        }
        let live = snapshot(&nn);
        drop(nn); // no clean shutdown
        let nn = start(dir.path());
        prop_assert_eq!(snapshot(&nn), live.clone());
        // And again after a clean shutdown (image only).
        nn.shutdown().unwrap();
        let nn = start(dir.path());
        prop_assert_eq!(snapshot(&nn), live);
    }
}

fn in_progress(dir: &std::path::Path) -> std::path::PathBuf {
    let nd = NameDir::new(dir);
    let first = *nd.list().unwrap().in_progress.last().unwrap();
    nd.in_progress_path(first)
}

#[test]
fn torn_tail_is_truncated_and_earlier_edits_survive() {
    let dir = tempfile::tempdir().unwrap();
    NameNode::format(&config(dir.path()), None).unwrap();
    let nn = start(dir.path());
    for i in 0..10 {
        nn.mkdirs(&su(), &format!("/d{i}"), FsPermission(0o755), true)
            .unwrap();
    }
    let live = snapshot(&nn);
    drop(nn);
    let seg = in_progress(dir.path());
    let mut data = std::fs::read(&seg).unwrap();
    let good_len = data.len();
    // Half a record: a plausible header and a few payload bytes.
    data.extend_from_slice(&[40, 0, 0, 0, 1, 2, 3, 4, 5, 6]);
    std::fs::write(&seg, &data).unwrap();
    let nn = start(dir.path());
    assert_eq!(snapshot(&nn), live);
    // The torn bytes were cut before the segment was finalized.
    let nd = NameDir::new(dir.path());
    let l = nd.list().unwrap();
    let (a, b) = *l.finalized.last().unwrap();
    assert_eq!(
        std::fs::metadata(nd.finalized_path(a, b)).unwrap().len() as usize,
        good_len
    );
    nn.mkdirs(&su(), "/after", FsPermission(0o755), true)
        .unwrap();
    drop(nn);
    let nn = start(dir.path());
    assert!(nn.get_file_info(&su(), "/after").unwrap().is_some());
}

#[test]
fn corrupt_record_followed_by_valid_ones_fails_loading() {
    let dir = tempfile::tempdir().unwrap();
    NameNode::format(&config(dir.path()), None).unwrap();
    let nn = start(dir.path());
    for i in 0..10 {
        nn.mkdirs(&su(), &format!("/d{i}"), FsPermission(0o755), true)
            .unwrap();
    }
    drop(nn);
    let seg = in_progress(dir.path());
    let mut data = std::fs::read(&seg).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0xff;
    std::fs::write(&seg, &data).unwrap();
    match NameNode::open(config(dir.path())) {
        Err(Error::Corrupt { .. }) => {}
        other => panic!("expected a corrupt edit log error, got {other:?}"),
    }
    // Nothing was truncated by the failed attempt.
    assert_eq!(std::fs::read(&seg).unwrap(), data);
}

#[test]
fn checkpoint_purges_and_restart_uses_the_newest_image() {
    let dir = tempfile::tempdir().unwrap();
    NameNode::format(&config(dir.path()), None).unwrap();
    let nn = start(dir.path());
    for round in 0..4 {
        nn.mkdirs(&su(), &format!("/r{round}"), FsPermission(0o755), true)
            .unwrap();
        nn.checkpoint().unwrap();
    }
    nn.mkdirs(&su(), "/tail", FsPermission(0o755), true)
        .unwrap();
    let live = snapshot(&nn);
    let nd = NameDir::new(dir.path());
    let l = nd.list().unwrap();
    assert_eq!(l.images.len(), 2, "{l:?}");
    assert!(l.finalized.iter().all(|&(_, b)| b > l.images[0]));
    drop(nn);
    // A corrupt newest image falls back to the older one plus edits.
    let newest = *l.images.last().unwrap();
    let img = nd.image_path(newest);
    let mut bytes = std::fs::read(&img).unwrap();
    bytes[20] ^= 1;
    std::fs::write(&img, &bytes).unwrap();
    let nn = start(dir.path());
    assert_eq!(snapshot(&nn), live);
    assert!(!nn.in_safe_mode());
}

#[test]
fn format_refuses_nothing_but_open_needs_format() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        NameNode::open(config(dir.path())),
        Err(Error::Storage { .. })
    ));
    let info = NameNode::format(&config(dir.path()), Some("CID-x")).unwrap();
    let nn = NameNode::open(config(dir.path())).unwrap();
    assert_eq!(nn.storage_info(), &info);
    assert!(std::fs::read_to_string(dir.path().join("current/VERSION"))
        .unwrap()
        .contains("clusterID=CID-x"));
}
