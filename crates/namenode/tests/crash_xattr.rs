//! Extended attributes after a SIGKILL: a child process sets and removes attributes and
//! prints each change only after it returned; the parent kills it mid-stream, reopens the
//! name directory (edit-log replay) and checks that every acknowledged change is there.

mod util;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use ferrodfs_namenode::namespace::xattr::set_flag::{CREATE, REPLACE};
use ferrodfs_namenode::namespace::FsPermission;
use ferrodfs_namenode::namesystem::CreateFlags;
use ferrodfs_namenode::NameNode;
use util::*;

const ENV_DIR: &str = "FERRODFS_CRASH_XATTR_DIR";
/// Changes the parent waits to see before killing the child.
const KILL_AFTER: usize = 200;
/// Upper bound of the child's stream (it is killed long before).
const MAX_OPS: usize = 100_000;
/// Distinct names used: below the per-inode limit of 32.
const NAMES: usize = 30;

#[derive(Debug, Clone)]
enum Op {
    Set(usize, usize),
    Remove(usize),
}

fn stream() -> impl Iterator<Item = Op> {
    (0..MAX_OPS).flat_map(|i| {
        let mut v = vec![Op::Set(i % NAMES, i)];
        if i % 4 == 3 {
            v.push(Op::Remove(i % NAMES));
        }
        v
    })
}

/// The attributes of /x/f after `ops`: name → value.
fn model(ops: &[Op]) -> BTreeMap<String, Vec<u8>> {
    let mut m = BTreeMap::new();
    for op in ops {
        match op {
            Op::Set(k, v) => {
                m.insert(format!("user.k{k}"), v.to_string().into_bytes());
            }
            Op::Remove(k) => {
                m.remove(&format!("user.k{k}"));
            }
        }
    }
    m
}

/// The child: runs when the env var names a formatted directory.
#[test]
fn crash_xattr_child() {
    let Ok(dir) = std::env::var(ENV_DIR) else {
        return; // normal test run: nothing to do
    };
    let nn = NameNode::open(config(std::path::Path::new(&dir))).unwrap();
    let c = su();
    nn.mkdirs(&c, "/x", FsPermission(0o755), true).unwrap();
    nn.create(
        &c,
        "/x/f",
        FsPermission(0o644),
        CreateFlags(CreateFlags::CREATE),
        false,
        3,
        1 << 20,
    )
    .unwrap();
    let mut out = std::io::stdout().lock();
    for (n, op) in stream().enumerate() {
        match &op {
            Op::Set(k, v) => nn
                .set_xattr(
                    &c,
                    "/x/f",
                    &format!("user.k{k}"),
                    v.to_string().as_bytes(),
                    CREATE | REPLACE,
                )
                .unwrap(),
            Op::Remove(k) => nn.remove_xattr(&c, "/x/f", &format!("user.k{k}")).unwrap(),
        }
        writeln!(out, "done {n}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn sigkill_loses_no_acknowledged_xattr_change() {
    let dir = tempfile::tempdir().unwrap();
    NameNode::format(&config(dir.path()), None).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_xattr_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ENV_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let done = |l: &str| {
        l.strip_prefix("done ")
            .and_then(|n| n.parse::<usize>().ok())
    };
    let mut acked = 0usize;
    for line in lines.by_ref() {
        if let Some(n) = done(&line.unwrap()) {
            acked = n + 1;
            if acked >= KILL_AFTER {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL
    for line in lines {
        if let Some(n) = done(&line.unwrap()) {
            acked = n + 1;
        }
    }
    assert!(!child.wait().unwrap().success(), "the child was killed");
    assert!(acked >= KILL_AFTER);

    let nn = NameNode::open(config(dir.path())).unwrap();
    let got: BTreeMap<String, Vec<u8>> = nn
        .get_xattrs(&su(), "/x/f", &[])
        .unwrap()
        .into_iter()
        .map(|x| (x.prefixed_name(), x.value))
        .collect();
    let ops: Vec<Op> = stream().take(acked + 1).collect();
    let without = model(&ops[..acked]);
    let with_in_flight = model(&ops);
    assert!(
        got == without || got == with_in_flight,
        "after {acked} acknowledged changes: {got:?}, expected {without:?} (or {with_in_flight:?})"
    );
}
