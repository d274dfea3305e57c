//! Reading files that are still being written (issue 16, part 4), with real
//! processes: a writer process hflushes and is SIGKILLed, and `ferrodfs dfs -cat`,
//! Hadoop's Java FsShell, the Go `hdfs` command and `hdfs-native` read what it
//! hflushed before any lease recovery; `ferrodfs dfs -tail -f` follows hflushes and
//! appends; with every DataNode of the last block dead, our read fails as Java's does
//! (`Cannot obtain block length for ...`, non-zero exit) instead of reading short.

use ferrodfs_client::{ClientConf, CreateOptions, DfsClient};
use ferrodfs_minicluster::{MiniCluster, MiniClusterConfig};
use ferrodfs_testkit::{go_hdfs, java_fs_shell, run_with_timeout, CmdOutput};
use std::io::{BufRead, Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ferrodfs");
const MIB: usize = 1024 * 1024;
/// 1 MiB blocks: the dead writer's file has complete blocks and one under
/// construction.
const BLOCK: u64 = MIB as u64;
/// What the dead writer hflushes: 3 MiB and a partial fourth block.
const FLUSHED: usize = 3 * MIB + 200_001;
/// Env var that makes this test binary the writer child: the NameNode address.
const CHILD_NN: &str = "FERRODFS_OPEN_FILES_WRITER_NN";
const CHILD_PATH: &str = "/open/dead-writer.txt";
/// Deadline of every wait.
const WAIT: Duration = Duration::from_secs(30);

fn user() -> String {
    ferrodfs_ipc::client::current_user()
}

/// Printable text (the shells' outputs are compared as strings), different at
/// every offset of interest.
fn text(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            if i % 97 == 96 {
                b'\n'
            } else {
                b'a' + ((i * 7 + i / 1000 + seed as usize) % 26) as u8
            }
        })
        .collect()
}

fn client(nn: std::net::SocketAddr) -> DfsClient {
    DfsClient::new(
        nn,
        ClientConf {
            user: user(),
            ..ClientConf::default()
        },
    )
}

/// `ferrodfs dfs -fs <fs> <args>`; a dead DataNode's refused IPC port is not retried.
fn ours(fs: &str, args: &[&str]) -> CmdOutput {
    let mut cmd = Command::new(BIN);
    cmd.args(["dfs", "-fs", fs, "-D", "ipc.client.connect.max.retries=0"])
        .args(args)
        .env("HADOOP_USER_NAME", user())
        .env_remove("HADOOP_CONF_DIR");
    run_with_timeout(cmd, Duration::from_secs(120))
}

fn java(fs: &str, args: &[&str]) -> CmdOutput {
    java_fs_shell(
        fs,
        &user(),
        &[("ipc.client.connect.max.retries", "0")],
        args,
    )
}

/// `got` holds at least the `want` bytes hflushed, and nothing else before them.
fn assert_holds(got: &[u8], want: &[u8], who: &str) {
    assert!(
        got.len() >= want.len(),
        "{who} read {} bytes, fewer than the {} hflushed",
        got.len(),
        want.len()
    );
    if let Some(i) = got.iter().zip(want).position(|(a, b)| a != b) {
        panic!("{who}: first difference at byte {i}");
    }
}

/// The child: writes [`FLUSHED`] bytes, hflushes, writes some more that stay in its
/// buffer, says so on stdout, then waits to be killed. Runs as a test of its own,
/// doing nothing unless the env var is set.
#[test]
fn dead_writer_child() {
    let Ok(nn) = std::env::var(CHILD_NN) else {
        return;
    };
    let c = client(nn.parse().unwrap());
    let mut out = c
        .create_with(
            CHILD_PATH,
            CreateOptions {
                block_size: Some(BLOCK),
                ..CreateOptions::default()
            },
        )
        .unwrap();
    for piece in text(FLUSHED, 1).chunks(100_003) {
        out.write_all(piece).unwrap();
    }
    out.hflush().unwrap();
    out.write_all(&text(1000, 2)).unwrap();
    println!("FLUSHED");
    std::io::stdout().flush().unwrap();
    loop {
        std::thread::park();
    }
}

/// A writer process hflushes 3 MiB and more and is SIGKILLed; before lease
/// recovery every client reads at least what it hflushed.
#[test]
fn every_client_reads_what_a_killed_writer_hflushed() {
    let cluster = MiniCluster::start(MiniClusterConfig::default()).unwrap();
    let fs = cluster.default_fs();
    let nn = cluster.namenode_addr();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "dead_writer_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_NN, nn.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let flushed = std::io::BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("FLUSHED"));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(flushed, "the writer did not get to its hflush");
    let want = text(FLUSHED, 1);
    let located = cluster.block_locations(CHILD_PATH).unwrap();
    assert!(located.under_construction, "recovered before the reads");
    assert_eq!(located.file_length, 3 * BLOCK, "complete blocks");

    // Our library: the length is the complete blocks plus the DataNodes' visible
    // length of the last one (which may hold a chunk or two written after the
    // hflush: a packet that starts inside a chunk goes out when the chunk fills).
    let input = client(nn).open(CHILD_PATH).unwrap();
    assert!(input.len() >= FLUSHED as u64, "length {}", input.len());
    assert!(
        input.len() <= FLUSHED as u64 + 1000,
        "length {}",
        input.len()
    );

    let o = ours(&fs, &["-cat", CHILD_PATH]);
    assert_holds(
        o.expect_success("ours -cat").as_bytes(),
        &want,
        "ferrodfs dfs -cat",
    );

    let j = java(&fs, &["-cat", CHILD_PATH]);
    assert_holds(
        j.expect_success("java -cat").as_bytes(),
        &want,
        "Java FsShell -cat",
    );

    // The Go client reads up to getFileInfo's length through the block list, the
    // last block under construction with the length the writer's fsync reported.
    let g = go_hdfs(nn, &user(), &["cat", CHILD_PATH]);
    assert_holds(g.expect_success("go cat").as_bytes(), &want, "Go hdfs cat");

    // hdfs-native reads up to getBlockLocations' fileLength: the complete blocks.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let native = rt.block_on(async {
        let c = hdfs_native::ClientBuilder::new()
            .with_url(&fs)
            .build()
            .unwrap();
        let r = c.read(CHILD_PATH).await.unwrap();
        r.read_range(0, r.file_length()).await.unwrap()
    });
    assert_holds(&native, &want[..3 * MIB], "hdfs-native");

    // Lease recovery has not run: the readers saw the open file.
    assert!(
        cluster
            .block_locations(CHILD_PATH)
            .unwrap()
            .under_construction
    );
}

/// Collects a child's stdout in the background.
fn collect(mut r: impl Read + Send + 'static) -> Arc<Mutex<Vec<u8>>> {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let b = buf.clone();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = r.read(&mut chunk) {
            if n == 0 {
                break;
            }
            b.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    buf
}

fn wait_for_output(buf: &Mutex<Vec<u8>>, want: &[u8], what: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        {
            let got = buf.lock().unwrap();
            if got.windows(want.len()).any(|w| w == want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "tail -f did not print {what}; it printed {:?}",
                String::from_utf8_lossy(&got)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `ferrodfs dfs -tail -f` prints bytes as they are hflushed, and after the file is
/// closed and appended to, the appended ones.
#[test]
fn tail_f_follows_hflushes_and_appends() {
    let cluster = MiniCluster::start(MiniClusterConfig::default()).unwrap();
    let fs = cluster.default_fs();
    let c = client(cluster.namenode_addr());
    let path = "/open/tail.log";
    let mut out = c.create(path, false).unwrap();
    let first = b"first line, hflushed before tail starts\n";
    out.write_all(first).unwrap();
    out.hflush().unwrap();

    let mut tail = Command::new(BIN)
        .args(["dfs", "-fs", &fs, "-tail", "-f", "-s", "200", path])
        .env("HADOOP_USER_NAME", user())
        .env_remove("HADOOP_CONF_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let printed = collect(tail.stdout.take().unwrap());
    wait_for_output(&printed, first, "the first line");

    let second = b"second line, hflushed while tail runs\n";
    out.write_all(second).unwrap();
    out.hflush().unwrap();
    wait_for_output(&printed, second, "the hflushed second line");

    out.close().unwrap();
    let mut again = c.append(path).unwrap();
    let third = b"third line, appended after close and hflushed\n";
    again.write_all(third).unwrap();
    again.hflush().unwrap();
    wait_for_output(&printed, third, "the appended third line");

    let _ = tail.kill();
    let _ = tail.wait();
    again.close().unwrap();
    let all = printed.lock().unwrap().clone();
    let mut want = first.to_vec();
    want.extend_from_slice(second);
    want.extend_from_slice(third);
    assert_eq!(
        String::from_utf8_lossy(&all),
        String::from_utf8_lossy(&want),
        "tail -f printed each byte once, in order"
    );
}

/// Every DataNode of the last block is dead (the NameNode does not know yet): no
/// one can tell its visible length, and both shells fail the read with Hadoop's
/// message and a non-zero exit.
#[test]
fn read_fails_when_no_datanode_can_tell_the_last_block_length() {
    let mut cluster = MiniCluster::start(MiniClusterConfig::default()).unwrap();
    let fs = cluster.default_fs();
    let c = client(cluster.namenode_addr());
    let path = "/open/orphan.txt";
    let mut out = c.create(path, false).unwrap();
    out.write_all(&text(100_000, 3)).unwrap();
    out.hflush().unwrap();
    for i in 0..cluster.datanode_count() {
        cluster.stop_datanode(i).unwrap();
    }

    let o = ours(&fs, &["-cat", path]);
    let j = java(&fs, &["-cat", path]);
    assert_ne!(o.code, Some(0), "ours read an unreadable file: {o:?}");
    assert_ne!(j.code, Some(0), "Java read an unreadable file: {j:?}");
    let reason = |out: &CmdOutput| {
        out.stderr
            .lines()
            .find(|l| l.contains("Cannot obtain block length for"))
            .map(str::to_owned)
    };
    let ours_says = reason(&o).unwrap_or_else(|| panic!("ours: {o:?}"));
    let java_says = reason(&j).unwrap_or_else(|| panic!("Java: {j:?}"));
    assert!(o.stdout.is_empty(), "ours printed bytes before failing");
    assert_eq!(ours_says, java_says, "ours and Java's messages differ");
    // Closing would try to recover a pipeline with no DataNode left.
    std::mem::forget(out);
}
