//! Crash consistency with a real second process: the child runs a stream of creates,
//! renames and deletes and prints each one only after it returned; the parent SIGKILLs it
//! mid-stream, reloads the name directory and checks that every printed operation is
//! there (the one in flight may or may not be).

mod util;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use ferrodfs_namenode::namespace::FsPermission;
use ferrodfs_namenode::namesystem::CreateFlags;
use ferrodfs_namenode::NameNode;
use util::*;

const ENV_DIR: &str = "FERRODFS_CRASH_DIR";
/// Operations the parent waits to see before killing the child.
const KILL_AFTER: usize = 300;
/// Upper bound of the child's stream (it is killed long before).
const MAX_OPS: usize = 100_000;

/// The deterministic operation stream: (step, operation).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Create(usize),
    Rename(usize),
    Delete(usize),
}

fn stream() -> impl Iterator<Item = Op> {
    (0..MAX_OPS).flat_map(|i| {
        let mut v = vec![Op::Create(i), Op::Rename(i)];
        if i % 3 == 2 {
            v.push(Op::Delete(i - 1));
        }
        v
    })
}

/// The names in /c after applying `ops`.
fn model(ops: &[Op]) -> BTreeSet<String> {
    let mut s = BTreeSet::new();
    for op in ops {
        match op {
            Op::Create(i) => {
                s.insert(format!("f{i}"));
            }
            Op::Rename(i) => {
                s.remove(&format!("f{i}"));
                s.insert(format!("g{i}"));
            }
            Op::Delete(i) => {
                s.remove(&format!("g{i}"));
            }
        }
    }
    s
}

/// The child: runs when the env var names a formatted directory.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(ENV_DIR) else {
        return; // normal test run: nothing to do
    };
    let nn = NameNode::open(config(std::path::Path::new(&dir))).unwrap();
    let c = su();
    nn.mkdirs(&c, "/c", FsPermission(0o755), true).unwrap();
    let mut out = std::io::stdout().lock();
    for (n, op) in stream().enumerate() {
        match &op {
            Op::Create(i) => {
                nn.create(
                    &c,
                    &format!("/c/f{i}"),
                    FsPermission(0o644),
                    CreateFlags(CreateFlags::CREATE),
                    false,
                    3,
                    1 << 20,
                )
                .unwrap();
            }
            Op::Rename(i) => {
                assert!(nn
                    .rename(&c, &format!("/c/f{i}"), &format!("/c/g{i}"))
                    .unwrap());
            }
            Op::Delete(i) => {
                assert!(nn.delete(&c, &format!("/c/g{i}"), false).unwrap());
            }
        }
        writeln!(out, "done {n}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn sigkill_mid_stream_loses_no_acknowledged_operation() {
    let dir = tempfile::tempdir().unwrap();
    NameNode::format(&config(dir.path()), None).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(ENV_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut acked = 0usize;
    let done = |l: &str| {
        l.strip_prefix("done ")
            .and_then(|n| n.parse::<usize>().ok())
    };
    for line in lines.by_ref() {
        if let Some(n) = done(&line.unwrap()) {
            acked = n + 1;
            if acked >= KILL_AFTER {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL
                           // Lines already in the pipe were printed after their operation returned: they count.
    for line in lines {
        if let Some(n) = done(&line.unwrap()) {
            acked = n + 1;
        }
    }
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child was killed, not finished");
    assert!(acked >= KILL_AFTER);

    let nn = NameNode::open(config(dir.path())).unwrap();
    let listing = nn.get_listing(&su(), "/c", b"").unwrap().unwrap();
    let mut names: BTreeSet<String> = BTreeSet::new();
    let mut after = Vec::new();
    let mut page = listing;
    loop {
        for e in &page.entries {
            names.insert(String::from_utf8(e.path.clone()).unwrap());
        }
        if page.remaining == 0 {
            break;
        }
        after = page.entries.last().unwrap().path.clone();
        page = nn.get_listing(&su(), "/c", &after).unwrap().unwrap();
    }
    let _ = after;
    let ops: Vec<Op> = stream().take(acked + 1).collect();
    let without = model(&ops[..acked]);
    let with_in_flight = model(&ops);
    assert!(
        names == without || names == with_in_flight,
        "after {acked} acknowledged ops the namespace has {} names, expected {} (or {})",
        names.len(),
        without.len(),
        with_in_flight.len()
    );
    // The reloaded namespace is consistent and writable.
    nn.mkdirs(&su(), "/c/after-crash", FsPermission(0o755), false)
        .unwrap();
    nn.shutdown().unwrap();
    let nn = NameNode::open(config(dir.path())).unwrap();
    assert!(nn.get_file_info(&su(), "/c/after-crash").unwrap().is_some());
}
