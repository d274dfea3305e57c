//! `ferrodfs dfs` and `ferrodfs dfsadmin` — the built binary — against one in-process
//! cluster (1 NameNode, 3 DataNodes) shared by the tests of this file: each command's
//! output and exit status, error cases included. Byte-for-byte agreement with
//! Hadoop's own FsShell is checked in `dfs_interop.rs`.

use ferrodfs_minicluster::{MiniCluster, MiniClusterConfig};
use ferrodfs_testkit::{run_with_timeout, CmdOutput};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

struct Cluster {
    fs: String,
}

/// One cluster for the whole file, started by the first test that needs it (its
/// directory is under cargo's test tmpdir, cleared on the next run).
fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-dfs-cluster");
        let _ = std::fs::remove_dir_all(&dir);
        let c = MiniCluster::start(MiniClusterConfig {
            base_dir: Some(dir),
            ..MiniClusterConfig::default()
        })
        .expect("start the cluster");
        let out = Cluster { fs: c.default_fs() };
        // Runs until the test process exits.
        std::mem::forget(c);
        out
    })
}

fn user() -> String {
    ferrodfs_ipc::client::current_user()
}

fn command(args: &[&str]) -> Command {
    let c = cluster();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrodfs"));
    cmd.arg("dfs")
        .arg("-fs")
        .arg(&c.fs)
        .args(args)
        .env("HADOOP_USER_NAME", user())
        .env_remove("HADOOP_CONF_DIR")
        .env_remove("RUST_LOG");
    cmd
}

/// `ferrodfs dfs -fs <cluster> <args>`.
fn dfs(args: &[&str]) -> CmdOutput {
    run_with_timeout(command(args), Duration::from_secs(60))
}

/// Like [`dfs`], feeding `input` on stdin.
fn dfs_stdin(args: &[&str], input: &[u8]) -> CmdOutput {
    let mut cmd = command(args);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    CmdOutput {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        timed_out: false,
    }
}

#[track_caller]
fn ok(args: &[&str]) -> String {
    dfs(args).expect_success(&args.join(" ")).to_owned()
}

/// Asserts exit status `code`, nothing on stdout, and `stderr` exactly.
#[track_caller]
fn fails(args: &[&str], code: i32, stderr: &str) {
    let out = dfs(args);
    assert_eq!(out.code, Some(code), "{args:?}: {out:?}");
    assert_eq!(out.stdout, "", "{args:?}");
    assert_eq!(out.stderr, stderr, "{args:?}");
}

/// Replaces `yyyy-MM-dd HH:mm` dates with `DATE`.
fn mask_dates(s: &str) -> String {
    let shape = b"dddd-dd-dd dd:dd";
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let fits = i + shape.len() <= b.len()
            && shape.iter().zip(&b[i..]).all(|(p, c)| match p {
                b'd' => c.is_ascii_digit(),
                p => p == c,
            });
        if fits {
            out.push_str("DATE");
            i += shape.len();
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 131 + seed as usize) % 251) as u8)
        .collect()
}

fn local_file(dir: &tempfile::TempDir, name: &str, data: &[u8]) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, data).unwrap();
    p.to_str().unwrap().to_owned()
}

#[test]
fn ls_formats_globs_and_relative_paths() {
    let me = user();
    let tmp = tempfile::tempdir().unwrap();
    let five = local_file(&tmp, "five.txt", b"12345");
    ok(&["-mkdir", "-p", "/ls/dir/sub", &format!("/user/{me}")]);
    ok(&["-put", &five, "/ls/a.txt"]);
    ok(&["-put", &five, "/ls/b.log"]);
    ok(&["-put", &five, "/ls/dir/sub/c.txt"]);

    let sg = "supergroup";
    let w = me.len();
    let line = |kind: &str, repl: &str, size: &str, path: &str| {
        format!("{kind}   {repl:>1} {me:<w$} {sg} {size:>10} DATE {path}\n")
    };
    let file = |size: &str, path: &str| line("-rw-r--r--", "3", size, path);
    let dir = |path: &str| line("drwxr-xr-x", "-", "0", path);
    assert_eq!(
        mask_dates(&ok(&["-ls", "/ls"])),
        format!(
            "Found 3 items\n{}{}{}",
            file("5", "/ls/a.txt"),
            file("5", "/ls/b.log"),
            dir("/ls/dir")
        )
    );
    // -R: no "Found" lines, depth first.
    assert_eq!(
        mask_dates(&ok(&["-ls", "-R", "/ls/dir"])),
        format!("{}{}", dir("/ls/dir/sub"), file("5", "/ls/dir/sub/c.txt"))
    );
    assert_eq!(mask_dates(&ok(&["-ls", "-d", "/ls/dir"])), dir("/ls/dir"));
    assert_eq!(
        ok(&["-ls", "-C", "-R", "/ls/dir"]),
        "/ls/dir/sub\n/ls/dir/sub/c.txt\n"
    );
    // Globs: *, ?, [..], {a,b}; a glob matching nothing is an error.
    assert_eq!(ok(&["-ls", "-C", "/ls/*.txt"]), "/ls/a.txt\n");
    assert_eq!(ok(&["-ls", "-C", "/ls/?.log"]), "/ls/b.log\n");
    assert_eq!(
        ok(&["-ls", "-C", "-d", "/ls/[ab].*"]),
        "/ls/a.txt\n/ls/b.log\n"
    );
    assert_eq!(
        ok(&["-ls", "-C", "-d", "/ls/{a.txt,dir}"]),
        "/ls/a.txt\n/ls/dir\n"
    );
    assert_eq!(ok(&["-ls", "-C", "/*/dir/*/c*"]), "/ls/dir/sub/c.txt\n");
    fails(
        &["-ls", "/ls/*.none"],
        1,
        "ls: `/ls/*.none': No such file or directory\n",
    );
    fails(
        &["-ls", "/nope"],
        1,
        "ls: `/nope': No such file or directory\n",
    );
    // Some paths fail, others print: exit 1.
    let out = dfs(&["-ls", "-C", "/nope", "/ls/a.txt"]);
    assert_eq!(out.code, Some(1));
    assert_eq!(out.stdout, "/ls/a.txt\n");
    // Full URIs are shown as given.
    let c = cluster();
    assert_eq!(
        ok(&["-ls", "-C", &format!("{}/ls/*.txt", c.fs)]),
        format!("{}/ls/a.txt\n", c.fs)
    );

    // Relative paths are under /user/<user>, and shown relative.
    ok(&["-mkdir", "rel"]);
    ok(&["-put", &five, "rel/r.txt"]);
    assert_eq!(ok(&["-ls", "-C"]), "rel\n");
    assert_eq!(ok(&["-ls", "-C", "rel"]), "rel/r.txt\n");
    assert_eq!(ok(&["-ls", "-C", "r*/*"]), "rel/r.txt\n");
    assert_eq!(
        ok(&["-ls", "-C", &format!("/user/{me}/rel")]),
        format!("/user/{me}/rel/r.txt\n")
    );
    assert_eq!(ok(&["-cat", "rel/r.txt"]), "12345");

    // -h, and the size column widening for a large file.
    let big = local_file(&tmp, "big", &payload(3 * 1024 * 1024 + 5, 1));
    ok(&["-put", &big, "/ls/dir/big"]);
    let h = mask_dates(&ok(&["-ls", "-h", "/ls/dir/big"]));
    assert_eq!(
        h,
        format!("-rw-r--r--   3 {me} {sg}      3.0 M DATE /ls/dir/big\n")
    );
}

#[test]
fn put_get_cat_and_friends() {
    let tmp = tempfile::tempdir().unwrap();
    let data = payload(3 * 1024 * 1024 + 4321, 2);
    let src = local_file(&tmp, "data.bin", &data);
    ok(&["-mkdir", "/io"]);
    // Three 1 MiB blocks and a bit.
    ok(&["-D", "dfs.blocksize=1048576", "-put", &src, "/io/data.bin"]);
    assert_eq!(
        ok(&["-stat", "%b %o %r %n %F", "/io/data.bin"]),
        "3150049 1048576 3 data.bin regular file\n"
    );
    fails(
        &["-put", &src, "/io/data.bin"],
        1,
        "put: `/io/data.bin': File exists\n",
    );
    fails(
        &["-put", "/no/such/local", "/io/x"],
        1,
        "put: `/no/such/local': No such file or directory\n",
    );
    // Into an existing directory: dst/<name>; -f replaces.
    let small = local_file(&tmp, "small.txt", b"hello\n");
    ok(&["-put", &small, "/io"]);
    ok(&["-copyFromLocal", "-f", &small, "/io/data.bin"]);
    assert_eq!(ok(&["-cat", "/io/data.bin"]), "hello\n");
    ok(&["-put", "-f", &src, "/io/data.bin"]);
    let c = cluster();
    fails(
        &["-put", &small, "/io/no/dir/x"],
        1,
        &format!(
            "put: `/io/no/dir/x': No such file or directory: `{}/io/no/dir/x'\n",
            c.fs
        ),
    );
    fails(
        &["-put", &small, &src, "/io/small.txt"],
        1,
        "put: `/io/small.txt': Is not a directory\n",
    );
    // Another user may not write into our directory: the NameNode's message.
    let mut as_mallory = command(&["-mkdir", "/io/m"]);
    as_mallory.env("HADOOP_USER_NAME", "mallory");
    let out = run_with_timeout(as_mallory, Duration::from_secs(60));
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr
            .starts_with("mkdir: Permission denied: user=mallory, access=WRITE, inode=\"/io\""),
        "{out:?}"
    );
    // No temporary file is left behind.
    assert_eq!(ok(&["-ls", "-C", "/io"]), "/io/data.bin\n/io/small.txt\n");

    // -get (and to an existing local file: an error; -f overwrites).
    let back = tmp.path().join("back.bin");
    let back_s = back.to_str().unwrap();
    ok(&["-get", "/io/data.bin", back_s]);
    assert!(
        std::fs::read(&back).unwrap() == data,
        "-get returned other bytes"
    );
    fails(
        &["-get", "/io/small.txt", back_s],
        1,
        &format!("get: `{back_s}': File exists\n"),
    );
    ok(&["-copyToLocal", "-f", "/io/small.txt", back_s]);
    assert_eq!(std::fs::read(&back).unwrap(), b"hello\n");
    // A directory and several sources into a local directory.
    let into = tmp.path().join("into");
    std::fs::create_dir(&into).unwrap();
    ok(&["-get", "/io", "/io/small.txt", into.to_str().unwrap()]);
    assert!(std::fs::read(into.join("io/data.bin")).unwrap() == data);
    assert_eq!(std::fs::read(into.join("small.txt")).unwrap(), b"hello\n");

    // stdin, cat of several files, head, tail, text (gzip).
    let out = dfs_stdin(&["-put", "-", "/io/stdin.txt"], b"from stdin\n");
    assert!(out.success(), "{out:?}");
    assert_eq!(
        ok(&["-cat", "/io/small.txt", "/io/stdin.txt"]),
        "hello\nfrom stdin\n"
    );
    fails(&["-cat", "/io"], 1, "cat: `/io': Is a directory\n");
    fails(
        &["-cat", "/io/none"],
        1,
        "cat: `/io/none': No such file or directory\n",
    );
    let head = dfs(&["-head", "/io/data.bin"]);
    assert_eq!(head.code, Some(0));
    assert_eq!(
        head.stdout.len(),
        String::from_utf8_lossy(&data[..1024]).len()
    );
    let mut tail = command(&["-tail", "/io/data.bin"]);
    tail.stdout(Stdio::piped());
    let tail = tail.output().unwrap();
    assert!(
        tail.stdout == data[data.len() - 1024..],
        "-tail: other bytes"
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"zipped text\n").unwrap();
    let gz_file = local_file(&tmp, "t.gz", &gz.finish().unwrap());
    ok(&["-put", &gz_file, "/io/t.gz"]);
    assert_eq!(ok(&["-text", "/io/t.gz"]), "zipped text\n");
    assert_eq!(ok(&["-text", "/io/small.txt"]), "hello\n");

    // tail -f: the last 1 KB, then what is appended while it follows.
    ok(&["-put", &small, "/io/follow.txt"]);
    let mut follower = command(&["-tail", "-f", "-s", "20", "/io/follow.txt"]);
    let mut follower = follower.stdout(Stdio::piped()).spawn().unwrap();
    let mut stdout = follower.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut read_until = |want: &[u8]| {
        let mut buf = [0u8; 256];
        while !seen.ends_with(want) {
            let n = std::io::Read::read(&mut stdout, &mut buf).unwrap();
            assert!(n > 0, "tail -f ended early: {seen:?}");
            seen.extend_from_slice(&buf[..n]);
        }
    };
    read_until(b"hello\n");
    let out = dfs_stdin(&["-appendToFile", "-", "/io/follow.txt"], b"appended\n");
    assert!(out.success(), "{out:?}");
    read_until(b"hello\nappended\n");
    follower.kill().unwrap();
    follower.wait().unwrap();

    // appendToFile: creates, then appends (local files and stdin).
    ok(&["-appendToFile", &small, "/io/app.txt"]);
    ok(&["-appendToFile", &small, &small, "/io/app.txt"]);
    let out = dfs_stdin(&["-appendToFile", "-", "/io/app.txt"], b"tail\n");
    assert!(out.success(), "{out:?}");
    assert_eq!(ok(&["-cat", "/io/app.txt"]), "hello\nhello\nhello\ntail\n");
    fails(
        &["-appendToFile", &small, "/io"],
        1,
        "appendToFile: `/io': Is a directory\n",
    );

    // cp: files and directories; an existing target needs -f.
    ok(&["-cp", "/io/small.txt", "/io/copy.txt"]);
    assert_eq!(ok(&["-cat", "/io/copy.txt"]), "hello\n");
    fails(
        &["-cp", "/io/app.txt", "/io/copy.txt"],
        1,
        "cp: `/io/copy.txt': File exists\n",
    );
    ok(&["-cp", "-f", "/io/app.txt", "/io/copy.txt"]);
    assert_eq!(ok(&["-cat", "/io/copy.txt"]), "hello\nhello\nhello\ntail\n");
    ok(&["-mkdir", "/io2"]);
    ok(&["-cp", "/io/*.txt", "/io2"]);
    assert_eq!(
        ok(&["-ls", "-C", "/io2"]),
        "/io2/app.txt\n/io2/copy.txt\n/io2/follow.txt\n/io2/small.txt\n/io2/stdin.txt\n"
    );
    fails(
        &["-cp", "/io/small.txt", "/io/stdin.txt", "/io/copy.txt"],
        1,
        "cp: `/io/copy.txt': Is not a directory\n",
    );
}

#[test]
fn namespace_changes() {
    ok(&["-mkdir", "/ns"]);
    fails(&["-mkdir", "/ns"], 1, "mkdir: `/ns': File exists\n");
    ok(&["-mkdir", "-p", "/ns", "/ns/a/b/c"]);
    let c = cluster();
    fails(
        &["-mkdir", "/ns/x/y"],
        1,
        &format!("mkdir: `{}/ns/x': No such file or directory\n", c.fs),
    );
    ok(&["-touchz", "/ns/empty", "/ns/a/e2"]);
    assert_eq!(ok(&["-stat", "%b %F", "/ns/empty"]), "0 regular file\n");
    fails(
        &["-mkdir", "-p", "/ns/empty"],
        1,
        "mkdir: `/ns/empty': Is not a directory\n",
    );
    fails(
        &["-touchz", "/ns/a"],
        1,
        "touchz: `/ns/a': Is a directory\n",
    );

    // -test answers with its exit status only.
    for (flag, path, code) in [
        ("-e", "/ns/empty", 0),
        ("-e", "/ns/none", 1),
        ("-d", "/ns/a", 0),
        ("-d", "/ns/empty", 1),
        ("-f", "/ns/empty", 0),
        ("-z", "/ns/empty", 0),
        ("-s", "/ns/empty", 1),
        ("-r", "/ns/empty", 0),
        ("-w", "/ns/empty", 0),
    ] {
        let out = dfs(&["-test", flag, path]);
        assert_eq!(out.code, Some(code), "-test {flag} {path}: {out:?}");
        assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""));
    }

    // mv: rename, into a directory, onto an existing file, a missing source.
    ok(&["-mv", "/ns/empty", "/ns/moved"]);
    ok(&["-mv", "/ns/moved", "/ns/a"]);
    assert_eq!(
        ok(&["-ls", "-C", "/ns/a"]),
        "/ns/a/b\n/ns/a/e2\n/ns/a/moved\n"
    );
    fails(
        &["-mv", "/ns/a/moved", "/ns/a/e2"],
        1,
        "mv: `/ns/a/e2': File exists\n",
    );
    fails(
        &["-mv", "/ns/none", "/ns/z"],
        1,
        "mv: `/ns/none': No such file or directory\n",
    );

    // chmod (octal and symbolic, -R), chown, chgrp.
    ok(&["-chmod", "640", "/ns/a/moved"]);
    assert_eq!(ok(&["-stat", "%a %A", "/ns/a/moved"]), "640 rw-r-----\n");
    ok(&["-chmod", "-R", "go-rx,u+x", "/ns/a"]);
    assert_eq!(
        ok(&["-stat", "%a", "/ns/a", "/ns/a/b", "/ns/a/moved"]),
        "700\n700\n700\n"
    );
    ok(&["-chmod", "1777", "/ns/a/b"]);
    let ls = ok(&["-ls", "-d", "/ns/a/b"]);
    assert!(ls.starts_with("drwxrwxrwt"), "{ls}");
    ok(&["-chown", "-R", "alice:staff", "/ns/a/b"]);
    ok(&["-chgrp", "wheel", "/ns/a/moved"]);
    assert_eq!(
        ok(&["-stat", "%u:%g", "/ns/a/b", "/ns/a/b/c", "/ns/a/moved"]),
        format!("alice:staff\nalice:staff\n{}:wheel\n", user())
    );

    // rm: files print "Deleted", directories need -r, -f hides a missing path.
    fails(&["-rm", "/ns/a"], 1, "rm: `/ns/a': Is a directory\n");
    fails(
        &["-rm", "/ns/none"],
        1,
        "rm: `/ns/none': No such file or directory\n",
    );
    let out = dfs(&["-rm", "-f", "/ns/none"]);
    assert!(
        out.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "{out:?}"
    );
    assert_eq!(ok(&["-rm", "/ns/a/e2"]), "Deleted /ns/a/e2\n");
    fails(
        &["-rmdir", "/ns/a"],
        1,
        "rmdir: `/ns/a': Directory is not empty\n",
    );
    fails(
        &["-rmdir", "/ns/a/moved"],
        1,
        "rmdir: `/ns/a/moved': Is not a directory\n",
    );
    ok(&["-rmdir", "--ignore-fail-on-non-empty", "/ns/a"]);
    ok(&["-rmdir", "/ns/a/b/c"]);
    assert_eq!(ok(&["-rm", "-r", "/ns/a"]), "Deleted /ns/a\n");
    let out = dfs(&["-test", "-e", "/ns/a"]);
    assert_eq!(out.code, Some(1));

    // With fs.trash.interval the file goes to the trash.
    ok(&["-touchz", "/ns/trashme"]);
    let out = dfs(&["-D", "fs.trash.interval=1", "-rm", "/ns/trashme"]);
    assert!(out.success(), "{out:?}");
    assert!(out.stderr.contains("to trash at:"), "{out:?}");
    ok(&[
        "-test",
        "-e",
        &format!("/user/{}/.Trash/Current/ns/trashme", user()),
    ]);
    ok(&["-touchz", "/ns/skip"]);
    let out = dfs(&["-D", "fs.trash.interval=1", "-rm", "-skipTrash", "/ns/skip"]);
    assert_eq!(out.stdout, "Deleted /ns/skip\n");

    // setrep (and -w waiting for the new replica).
    ok(&["-D", "dfs.replication=1", "-touchz", "/ns/rep"]);
    let tmp = tempfile::tempdir().unwrap();
    let f = local_file(&tmp, "r", b"replicate me");
    ok(&["-D", "dfs.replication=1", "-put", &f, "/ns/repd"]);
    assert_eq!(ok(&["-stat", "%r", "/ns/repd"]), "1\n");
    let out = ok(&["-setrep", "-w", "2", "/ns/repd"]);
    assert!(
        out.starts_with("Replication 2 set: /ns/repd\nWaiting for /ns/repd ..."),
        "{out}"
    );
    assert!(out.ends_with(" done\n"), "{out}");
    assert_eq!(ok(&["-stat", "%r", "/ns/repd"]), "2\n");
    // A directory: every file below it.
    assert_eq!(
        ok(&["-setrep", "3", "/ns"]),
        "Replication 3 set: /ns/rep\nReplication 3 set: /ns/repd\n"
    );
}

#[test]
fn reports_du_df_count_stat_checksum_dfsadmin() {
    let tmp = tempfile::tempdir().unwrap();
    let f = local_file(&tmp, "f", &payload(1536, 3));
    ok(&["-mkdir", "-p", "/rep/d"]);
    ok(&["-put", &f, "/rep/f"]);
    ok(&["-put", &f, "/rep/d/g"]);
    assert_eq!(
        ok(&["-du", "/rep"]),
        "1536  4608  /rep/d\n1536  4608  /rep/f\n"
    );
    assert_eq!(ok(&["-du", "-s", "-h", "/rep"]), "3 K  9 K  /rep\n");
    let wide = "DISK_SPACE_CONSUMED_WITH_ALL_REPLICAS".len();
    assert_eq!(
        ok(&["-du", "-v", "-s", "/rep/f"]),
        format!(
            "SIZE  DISK_SPACE_CONSUMED_WITH_ALL_REPLICAS  FULL_PATH_NAME\n1536  {:<wide$}  /rep/f\n",
            "4608"
        )
    );
    assert_eq!(
        ok(&["-count", "/rep", "/rep/f"]),
        format!(
            "{:>12} {:>12} {:>18} /rep\n{:>12} {:>12} {:>18} /rep/f\n",
            2, 2, 3072, 0, 1, 1536
        )
    );
    assert_eq!(
        ok(&["-count", "-q", "-h", "-v", "/rep/d"]),
        format!(
            "{:>12} {:>15} {:>15} {:>15} {:>12} {:>12} {:>18} PATHNAME\n\
             {:>12} {:>15} {:>15} {:>15} {:>12} {:>12} {:>18} /rep/d\n",
            "QUOTA",
            "REM_QUOTA",
            "SPACE_QUOTA",
            "REM_SPACE_QUOTA",
            "DIR_COUNT",
            "FILE_COUNT",
            "CONTENT_SIZE",
            "none",
            "inf",
            "none",
            "inf",
            1,
            1,
            "1.5 K"
        )
    );
    let df = ok(&["-df", "-h"]);
    let mut lines = df.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("Filesystem"), "{df}");
    assert!(header.ends_with("Use%"), "{df}");
    let row = lines.next().unwrap();
    assert!(row.starts_with(&cluster().fs), "{df}");
    assert!(row.ends_with('%'), "{df}");
    assert_eq!(header.len(), row.len(), "right-aligned columns:\n{df}");

    // -stat: %y is UTC; %Y the same instant in ms.
    let s = ok(&["-stat", "%Y|%y|%u|%g|%n", "/rep/f"]);
    let (ms, rest) = s.trim_end().split_once('|').unwrap();
    let ms: i64 = ms.parse().unwrap();
    let utc = chrono::DateTime::from_timestamp_millis(ms).unwrap();
    assert_eq!(
        rest,
        format!(
            "{}|{}|supergroup|f",
            utc.format("%Y-%m-%d %H:%M:%S"),
            user()
        )
    );
    assert_eq!(
        ok(&["-stat", "/rep/d"]).len(),
        "yyyy-MM-dd HH:mm:ss\n".len()
    );

    // -checksum: the client's MD5-of-MD5-of-CRC32C.
    let client = ferrodfs_client::DfsClient::connect(&cluster().fs, Default::default()).unwrap();
    let sum = client.file_checksum("/rep/f").unwrap();
    let hex: String = sum.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        ok(&["-checksum", "/rep/f"]),
        format!("/rep/f\tMD5-of-0MD5-of-512CRC32C\t{hex}\n")
    );
    assert_eq!(
        ok(&["-checksum", "-v", "/rep/f"]),
        format!("/rep/f\tMD5-of-0MD5-of-512CRC32C\t{hex}\tBlockSize=134217728\n")
    );
    fails(
        &["-checksum", "/rep/d"],
        1,
        "checksum: `/rep/d': Is a directory\n",
    );

    // dfsadmin -report: the totals, then each live DataNode.
    let c = cluster();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrodfs"));
    cmd.args(["dfsadmin", "-fs", &c.fs, "-report"])
        .env_remove("HADOOP_CONF_DIR");
    let report = run_with_timeout(cmd, Duration::from_secs(60));
    let text = report.expect_success("dfsadmin -report");
    assert!(text.starts_with("Configured Capacity: "), "{text}");
    assert!(text.contains("\nDFS Used%: "), "{text}");
    assert!(text.contains("\n\tMissing blocks: 0\n"), "{text}");
    assert!(text.contains("\nLive datanodes (3):\n\n"), "{text}");
    assert_eq!(text.matches("\nName: 127.0.0.1:").count(), 3, "{text}");
    assert_eq!(
        text.matches("Decommission Status : Normal\n").count(),
        3,
        "{text}"
    );
    assert_eq!(text.matches("\nDFS Remaining%: ").count(), 3, "{text}");
    assert_eq!(text.matches("\nXceivers: ").count(), 3, "{text}");
}

#[test]
fn usage_errors_help_and_generic_options() {
    let out = dfs(&["-nosuch"]);
    assert_eq!(out.code, Some(255));
    assert!(
        out.stderr
            .starts_with("-nosuch: Unknown command\nUsage: ferrodfs dfs [generic options]\n"),
        "{out:?}"
    );
    let out = dfs(&["-ls", "-Z", "/"]);
    assert_eq!(out.code, Some(255));
    assert!(
        out.stderr.starts_with("-ls: Illegal option -Z\n"),
        "{out:?}"
    );
    assert!(out.stderr.ends_with("Usage: ferrodfs dfs [generic options] -ls [-C] [-d] [-h] [-q] [-R] [-t] [-S] [-r] [-u] [<path> ...]\n"), "{out:?}");
    let out = dfs(&["-mkdir"]);
    assert_eq!(out.code, Some(255));
    assert!(
        out.stderr
            .starts_with("-mkdir: Not enough arguments: expected 1 but got 0\n"),
        "{out:?}"
    );
    let out = dfs(&["-test", "/"]);
    assert_eq!(out.code, Some(255));
    assert!(
        out.stderr.starts_with("-test: No test flag given\n"),
        "{out:?}"
    );
    let out = dfs(&["-chmod", "u+q", "/"]);
    assert_eq!(out.code, Some(255));
    let out = dfs(&[]);
    assert_eq!(out.code, Some(255));
    let help = ok(&["-help", "ls"]);
    assert!(
        help.starts_with("-ls [-C] [-d] [-h] [-q] [-R] [-t] [-S] [-r] [-u] [<path> ...] :\n"),
        "{help}"
    );
    let usage = ok(&["-usage", "put"]);
    assert!(
        usage.starts_with("Usage: ferrodfs dfs [generic options] -put [-f]"),
        "{usage}"
    );
    let all = ok(&["-help"]);
    for cmd in [
        "-appendToFile",
        "-checksum",
        "-chown",
        "-df",
        "-setrep",
        "-stat",
        "-touchz",
    ] {
        assert!(
            all.contains(&format!("\n{cmd} ")),
            "{cmd} missing from -help"
        );
    }

    // The NameNode from -D fs.defaultFS, -conf, HADOOP_CONF_DIR, or the path's URI.
    ok(&["-mkdir", "-p", "/gen"]);
    let c = cluster();
    let bin = env!("CARGO_BIN_EXE_ferrodfs");
    let run = |args: &[&str], conf_dir: Option<&std::path::Path>| {
        let mut cmd = Command::new(bin);
        cmd.arg("dfs").args(args).env("HADOOP_USER_NAME", user());
        match conf_dir {
            Some(d) => cmd.env("HADOOP_CONF_DIR", d),
            None => cmd.env_remove("HADOOP_CONF_DIR"),
        };
        run_with_timeout(cmd, Duration::from_secs(60))
    };
    let define = format!("fs.defaultFS={}", c.fs);
    assert_eq!(
        run(&["-D", &define, "-ls", "-C", "-d", "/gen"], None).expect_success("-D"),
        "/gen\n"
    );
    let conf = tempfile::tempdir().unwrap();
    let site = ferrodfs_testkit::site_xml(&[("fs.defaultFS", &c.fs)]);
    std::fs::write(conf.path().join("core-site.xml"), &site).unwrap();
    let file = conf.path().join("core-site.xml");
    assert_eq!(
        run(
            &["-conf", file.to_str().unwrap(), "-ls", "-C", "-d", "/gen"],
            None
        )
        .expect_success("-conf"),
        "/gen\n"
    );
    assert_eq!(
        run(&["-ls", "-C", "-d", "/gen"], Some(conf.path())).expect_success("HADOOP_CONF_DIR"),
        "/gen\n"
    );
    let uri = format!("{}/gen", c.fs);
    assert_eq!(
        run(&["-ls", "-C", "-d", &uri], None).expect_success("URI"),
        format!("{uri}\n")
    );
    // No NameNode (fs.defaultFS is the local file system): a message, exit 1.
    let out = run(&["-D", "fs.defaultFS=file:///", "-ls", "/"], None);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.starts_with("ls: "), "{out:?}");
}
