//! `ferrodfs dfs`, Hadoop's Java FsShell and the Go `hdfs` command against one
//! in-process cluster: files put by each are read back identically by the others,
//! `-checksum` agrees across all three, and our listing and report commands print
//! byte for byte what Hadoop's FsShell prints for the same files.

use ferrodfs_minicluster::{MiniCluster, MiniClusterConfig};
use ferrodfs_testkit::{go_hdfs, java_fs_shell, run_with_timeout, CmdOutput};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn user() -> String {
    ferrodfs_ipc::client::current_user()
}

fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 131 + seed as usize) % 251) as u8)
        .collect()
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// 1 MiB blocks for every writer, so the files here have several blocks.
const BLOCK: &str = "1048576";

#[test]
fn ours_java_and_go_agree() {
    let cluster = MiniCluster::start(MiniClusterConfig::default()).unwrap();
    let fs = cluster.default_fs();
    let nn = cluster.namenode_addr();
    let me = user();
    let java =
        |args: &[&str]| -> CmdOutput { java_fs_shell(&fs, &me, &[("dfs.blocksize", BLOCK)], args) };
    let go = |args: &[&str]| go_hdfs(nn, &me, args);
    let ours = |args: &[&str]| -> CmdOutput {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrodfs"));
        cmd.args(["dfs", "-fs", &fs, "-D", &format!("dfs.blocksize={BLOCK}")])
            .args(args)
            .env("HADOOP_USER_NAME", &me)
            .env_remove("HADOOP_CONF_DIR");
        run_with_timeout(cmd, Duration::from_secs(60))
    };
    // Both shells print the same thing, successfully.
    let same = |args: &[&str]| -> String {
        let o = ours(args);
        let j = java(args);
        let what = args.join(" ");
        assert_eq!(
            o.expect_success(&format!("ours {what}")),
            j.expect_success(&format!("java {what}")),
            "ours and Java's FsShell differ on {what}"
        );
        o.stdout
    };

    let tmp = tempfile::tempdir().unwrap();
    let files = [("o.bin", 1u8), ("j.bin", 2), ("g.bin", 3)];
    let data: Vec<Vec<u8>> = files
        .iter()
        .map(|(_, seed)| payload(2 * 1024 * 1024 + 1000 * usize::from(*seed), *seed))
        .collect();
    for ((name, _), d) in files.iter().zip(&data) {
        std::fs::write(tmp.path().join(name), d).unwrap();
    }
    let local = |name: &str| tmp.path().join(name);

    // Each client puts one file (ours CRC32C, Java CRC32C, Go CRC32 chunks).
    ours(&["-mkdir", "-p", "/x"]).expect_success("ours -mkdir");
    ours(&["-put", path_str(&local("o.bin")), "/x"]).expect_success("ours -put");
    java(&["-put", path_str(&local("j.bin")), "/x/j.bin"]).expect_success("java -put");
    go(&["put", path_str(&local("g.bin")), "/x/g.bin"]).expect_success("go put");

    // ... and each reads back the other two, byte for byte.
    let back = |who: &str| {
        let d = tmp.path().join(who);
        std::fs::create_dir(&d).unwrap();
        d
    };
    let (ob, jb, gb) = (back("ours"), back("java"), back("go"));
    ours(&["-get", "/x/j.bin", "/x/g.bin", path_str(&ob)]).expect_success("ours -get");
    java(&["-get", "/x/o.bin", "/x/g.bin", path_str(&jb)]).expect_success("java -get");
    for name in ["o.bin", "j.bin"] {
        go(&["get", &format!("/x/{name}"), path_str(&gb.join(name))]).expect_success("go get");
    }
    for (dir, names) in [
        (&ob, ["j.bin", "g.bin"]),
        (&jb, ["o.bin", "g.bin"]),
        (&gb, ["o.bin", "j.bin"]),
    ] {
        for name in names {
            let i = files.iter().position(|(n, _)| *n == name).unwrap();
            assert!(
                std::fs::read(dir.join(name)).unwrap() == data[i],
                "{} read other bytes of {name}",
                dir.display()
            );
        }
    }

    // Listings and reports: byte for byte what FsShell prints — with a sticky
    // directory, an empty file and a longer owner and group to widen the columns.
    ours(&["-mkdir", "/x/sticky"]).expect_success("ours -mkdir");
    ours(&["-chmod", "1777", "/x/sticky"]).expect_success("ours -chmod");
    ours(&["-touchz", "/x/sticky/empty"]).expect_success("ours -touchz");
    ours(&["-chown", "a_much_longer_owner:staff-group", "/x/j.bin"]).expect_success("ours -chown");
    same(&["-ls", "/x"]);
    same(&["-ls", "-R", "-h", "/"]);
    same(&["-du", "/x"]);
    same(&["-du", "-s", "-h", "/"]);
    same(&["-count", "-q", "-v", "/x", "/x/o.bin"]);
    same(&[
        "-stat",
        "%a %A %b %F %g %n %o %r %u %x %X %y %Y",
        "/x",
        "/x/o.bin",
        "/x/g.bin",
    ]);
    // Same MD5-of-MD5-of-CRC from all three (Go prints just the MD5). Go wrote one
    // 128 MiB block of CRC32 chunks: crcPerBlock 0, as Hadoop shows single blocks.
    let sums = same(&["-checksum", "/x/o.bin", "/x/j.bin", "/x/g.bin"]);
    assert!(
        sums.contains("/x/g.bin\tMD5-of-0MD5-of-512CRC32\t"),
        "{sums}"
    );
    assert!(
        sums.contains("/x/o.bin\tMD5-of-2048MD5-of-512CRC32C\t"),
        "{sums}"
    );
    for line in sums.lines() {
        let mut cols = line.split('\t');
        let (path, _alg, hex) = (
            cols.next().unwrap(),
            cols.next().unwrap(),
            cols.next().unwrap(),
        );
        let g = go(&["checksum", path]);
        assert_eq!(
            g.expect_success("go checksum"),
            format!("{} {path}\n", &hex[hex.len() - 32..]),
            "Go's checksum of {path}"
        );
    }
    // -df: capacity and used agree (the free space of a live disk may move).
    let (o, j) = (ours(&["-df", "/"]), java(&["-df", "/"]));
    let (o, j) = (o.expect_success("ours -df"), j.expect_success("java -df"));
    let cols = |s: &str, line: usize| -> Vec<String> {
        let l = s.lines().nth(line).unwrap_or_default();
        l.split_whitespace().take(3).map(str::to_owned).collect()
    };
    assert_eq!(o.lines().next(), j.lines().next(), "-df header");
    assert_eq!(cols(o, 1), cols(j, 1), "ours:\n{o}java:\n{j}");
    // Go's view of the same files.
    let gl = go(&["ls", "-l", "/x"]);
    let gl = gl.expect_success("go ls");
    for ((name, _), d) in files.iter().zip(&data) {
        assert!(
            gl.lines()
                .any(|l| l.ends_with(name) && l.contains(&format!(" {} ", d.len()))),
            "go ls -l /x:\n{gl}"
        );
    }
    let total: usize = data.iter().map(Vec::len).sum();
    // (The empty file adds nothing.)
    assert_eq!(
        go(&["du", "-s", "/x"]).expect_success("go du"),
        format!("{total} /x\n")
    );

    // appendToFile from both shells onto one file; all three read the result.
    std::fs::write(local("one"), "one\n").unwrap();
    std::fs::write(local("two"), "two\n").unwrap();
    std::fs::write(local("three"), "three\n").unwrap();
    ours(&["-put", path_str(&local("one")), "/x/t.txt"]).expect_success("ours -put");
    java(&["-appendToFile", path_str(&local("two")), "/x/t.txt"])
        .expect_success("java -appendToFile");
    ours(&["-appendToFile", path_str(&local("three")), "/x/t.txt"])
        .expect_success("ours -appendToFile");
    let text = "one\ntwo\nthree\n";
    assert_eq!(
        java(&["-cat", "/x/t.txt"]).expect_success("java -cat"),
        text
    );
    assert_eq!(
        ours(&["-cat", "/x/t.txt"]).expect_success("ours -cat"),
        text
    );
    assert_eq!(go(&["cat", "/x/t.txt"]).expect_success("go cat"), text);

    // mv by each, then rm by each.
    java(&["-mv", "/x/o.bin", "/x/o2.bin"]).expect_success("java -mv");
    ours(&["-mv", "/x/j.bin", "/x/j2.bin"]).expect_success("ours -mv");
    go(&["mv", "/x/g.bin", "/x/g2.bin"]).expect_success("go mv");
    assert_eq!(
        ours(&["-ls", "-C", "/x"]).expect_success("ours -ls"),
        "/x/g2.bin\n/x/j2.bin\n/x/o2.bin\n/x/sticky\n/x/t.txt\n"
    );
    go(&["rm", "/x/g2.bin"]).expect_success("go rm");
    assert_eq!(
        ours(&["-rm", "/x/j2.bin"]).expect_success("ours -rm"),
        "Deleted /x/j2.bin\n"
    );
    assert_eq!(
        java(&["-rm", "-r", "/x"]).expect_success("java -rm -r"),
        "Deleted /x\n"
    );
    let gone = ours(&["-ls", "/x"]);
    assert_eq!(gone.code, Some(1));
    assert_eq!(gone.stderr, "ls: `/x': No such file or directory\n");
}
