//! What an operator sees (issue 16, part 5), with `ferrodfs namenode` and
//! `ferrodfs datanode` as separate processes and the NameNode's log read from its
//! stderr: after a NameNode restart, safe mode says how many blocks were reported
//! against Hadoop's threshold (log, `SafeModeException`), `dfsadmin -safemode get`
//! and `-report` say `Safe mode is ON`, and `-report` shows no missing blocks while
//! DataNodes are still reporting; a block a client reports bad is logged.

mod common;
use common::{free_port, Procs};
use ferrodfs_client::{ClientConf, CreateOptions, DfsClient, Error};
use ferrodfs_testkit::{run_with_timeout, CmdOutput};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ferrodfs");
const WAIT: Duration = Duration::from_secs(30);
/// Files (one block each, one replica) written before the NameNode restart.
const FILES: usize = 6;

fn d(args: &mut Vec<String>, kv: String) {
    args.push("-D".into());
    args.push(kv);
}

/// One cluster's directories and addresses.
struct Cluster {
    dir: tempfile::TempDir,
    port: u16,
    procs: Procs,
}

impl Cluster {
    fn new() -> Cluster {
        let c = Cluster {
            dir: tempfile::tempdir().unwrap(),
            port: free_port(),
            procs: Procs::default(),
        };
        let mut format = vec!["namenode".to_string()];
        c.nn_keys(&mut format);
        format.push("-format".into());
        let out = Command::new(BIN)
            .args(&format)
            .env_remove("HADOOP_CONF_DIR")
            .output()
            .unwrap();
        assert!(out.status.success(), "format failed: {out:?}");
        c
    }

    fn addr(&self) -> SocketAddr {
        format!("127.0.0.1:{}", self.port).parse().unwrap()
    }

    fn fs(&self) -> String {
        format!("hdfs://127.0.0.1:{}", self.port)
    }

    fn nn_keys(&self, args: &mut Vec<String>) {
        let name = self.dir.path().join("name");
        d(args, format!("dfs.namenode.name.dir={}", name.display()));
        d(
            args,
            format!("dfs.namenode.rpc-address=127.0.0.1:{}", self.port),
        );
        d(args, "dfs.heartbeat.interval=1".into());
        d(args, "dfs.namenode.safemode.extension=0".into());
    }

    fn log(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts `ferrodfs <args>` logging (info) to `log`; returns its first stdout
    /// line once printed.
    fn spawn(&mut self, args: &[String], log: &Path) -> String {
        let mut child = Command::new(BIN)
            .args(args)
            .env_remove("HADOOP_CONF_DIR")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.contains("listening on"), "{args:?} printed {line:?}");
        self.procs.0.push(child);
        line
    }

    fn start_namenode(&mut self, log: &str) {
        let mut args = vec!["namenode".to_string()];
        self.nn_keys(&mut args);
        let log = self.log(log);
        self.spawn(&args, &log);
    }

    /// Starts DataNode `i`; returns its transfer address.
    fn start_datanode(&mut self, i: usize) -> String {
        let mut args = vec!["datanode".to_string()];
        let data = self.dir.path().join(format!("data{i}"));
        d(
            &mut args,
            format!("dfs.datanode.data.dir={}", data.display()),
        );
        d(&mut args, "dfs.datanode.address=127.0.0.1:0".into());
        d(&mut args, "dfs.datanode.ipc.address=127.0.0.1:0".into());
        d(&mut args, format!("fs.defaultFS={}", self.fs()));
        d(&mut args, "dfs.heartbeat.interval=1".into());
        let log = self.log(&format!("dn{i}.log"));
        let line = self.spawn(&args, &log);
        line.trim()
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    fn kill_all(&mut self) {
        for mut c in self.procs.0.drain(..).rev() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn client(&self) -> DfsClient {
        DfsClient::new(
            self.addr(),
            ClientConf {
                user: ferrodfs_ipc::client::current_user(),
                ..ClientConf::default()
            },
        )
    }

    fn cli(&self, tool: &str, args: &[&str]) -> CmdOutput {
        let mut cmd = Command::new(BIN);
        cmd.args([tool, "-fs", &self.fs()])
            .args(args)
            .env("HADOOP_USER_NAME", ferrodfs_ipc::client::current_user())
            .env_remove("HADOOP_CONF_DIR");
        run_with_timeout(cmd, Duration::from_secs(90))
    }

    fn wait_for_live(&self, n: usize) {
        let deadline = Instant::now() + WAIT;
        loop {
            let report = self.cli("dfsadmin", &["-report"]);
            if report.stdout.contains(&format!("Live datanodes ({n}):")) {
                return;
            }
            assert!(Instant::now() < deadline, "never {n} live: {report:?}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Waits until the file at `log` holds `want`; returns its text.
fn wait_for_log(log: &Path, want: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(want) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{} never logged {want:?}; it logged:\n{text}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Writes [`FILES`] one-block files with one replica each; returns, per file, the
/// transfer address of the DataNode holding it.
fn write_files(c: &DfsClient) -> Vec<String> {
    (0..FILES)
        .map(|i| {
            let path = format!("/f{i}");
            let mut out = c
                .create_with(
                    &path,
                    CreateOptions {
                        replication: Some(1),
                        ..CreateOptions::default()
                    },
                )
                .unwrap();
            out.write_all(&vec![b'a' + i as u8; 10_000]).unwrap();
            out.close().unwrap();
            let located = c
                .namenode()
                .get_block_locations(&ferrodfs_proto::hdfs::GetBlockLocationsRequestProto {
                    src: path,
                    offset: 0,
                    length: u64::MAX >> 1,
                })
                .unwrap()
                .locations
                .unwrap();
            let node = &located.blocks[0].locs[0].id;
            format!("{}:{}", node.ip_addr, node.xfer_port)
        })
        .collect()
}

#[test]
fn safe_mode_after_a_restart_reports_counts_and_no_transient_missing_blocks() {
    let mut cluster = Cluster::new();
    cluster.start_namenode("nn1.log");
    let xfer: Vec<String> = (0..3).map(|i| cluster.start_datanode(i)).collect();
    cluster.wait_for_live(3);
    let holders = write_files(&cluster.client());
    cluster.kill_all();

    // The NameNode alone: 0 of 6 blocks reported, (long) (6 * 0.999) = 5 needed.
    cluster.start_namenode("nn2.log");
    let log = cluster.log("nn2.log");
    wait_for_log(
        &log,
        "The reported blocks 0 needs additional 5 blocks to reach the threshold 0.9990 of total blocks 6.",
    );
    wait_for_log(&log, "STATE* Safe mode ON");
    let get = cluster.cli("dfsadmin", &["-safemode", "get"]);
    assert_eq!(get.expect_success("-safemode get"), "Safe mode is ON\n");

    // One DataNode, holding fewer blocks than the threshold, comes back: the other
    // blocks have no replica yet, but the NameNode cannot tell missing from not yet
    // reported and says safe mode instead.
    let (quiet, held) = (0..3)
        .map(|i| (i, holders.iter().filter(|h| **h == xfer[i]).count()))
        .min_by_key(|&(_, n)| n)
        .unwrap();
    assert!(
        held < 5,
        "placement put {held} of {FILES} blocks on one node"
    );
    cluster.start_datanode(quiet);
    cluster.wait_for_live(1);
    // A refused change carries the tip, with the node's blocks counted once its
    // block report is in.
    let want = format!(
        "The reported blocks {held} needs additional {} blocks to reach the threshold 0.9990 of total blocks 6.",
        5 - held
    );
    let deadline = Instant::now() + WAIT;
    loop {
        match cluster.client().mkdirs("/refused", 0o755) {
            Err(Error::SafeMode { message }) => {
                assert!(message.contains("Name node is in safe mode."), "{message}");
                assert!(message.contains("Safe mode will be turned off automatically once the thresholds have been reached."), "{message}");
                if message.contains(&want) {
                    break;
                }
                assert!(Instant::now() < deadline, "{message}");
            }
            other => panic!("mkdirs in safe mode: {other:?}"),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let report = cluster.cli("dfsadmin", &["-report"]);
    let text = report.expect_success("-report");
    assert!(text.starts_with("Safe mode is ON\n"), "{text}");
    assert!(text.contains("\tMissing blocks: 0\n"), "{text}");
    let mkdir = cluster.cli("dfs", &["-mkdir", "/refused"]);
    assert_eq!(mkdir.code, Some(1), "{mkdir:?}");
    assert!(
        mkdir.stderr.contains("Name node is in safe mode."),
        "{mkdir:?}"
    );

    // The rest come back: safe mode ends by itself, nothing is missing.
    for i in (0..3).filter(|&i| i != quiet) {
        cluster.start_datanode(i);
    }
    let wait = cluster.cli("dfsadmin", &["-safemode", "wait"]);
    assert_eq!(wait.expect_success("-safemode wait"), "Safe mode is OFF\n");
    wait_for_log(&log, "STATE* Safe mode is OFF");
    let text = cluster.cli("dfsadmin", &["-report"]).stdout;
    assert!(!text.contains("Safe mode is ON"), "{text}");
    assert!(text.contains("\tMissing blocks: 0\n"), "{text}");
}

#[test]
fn a_bad_block_reported_by_a_client_is_logged() {
    let mut cluster = Cluster::new();
    cluster.start_namenode("nn.log");
    let dn_addr = cluster.start_datanode(0);
    cluster.wait_for_live(1);
    let c = cluster.client();
    let mut out = c
        .create_with(
            "/bad.bin",
            CreateOptions {
                replication: Some(1),
                ..CreateOptions::default()
            },
        )
        .unwrap();
    out.write_all(&vec![7u8; 100_000]).unwrap();
    out.close().unwrap();
    let located = c
        .namenode()
        .get_block_locations(&ferrodfs_proto::hdfs::GetBlockLocationsRequestProto {
            src: "/bad.bin".into(),
            offset: 0,
            length: u64::MAX >> 1,
        })
        .unwrap()
        .locations
        .unwrap();
    let b = &located.blocks[0].b;

    // Flip bytes in the middle of the only replica's block file.
    let name = format!("blk_{}", b.block_id);
    let file = find_file(&cluster.dir.path().join("data0"), &name)
        .unwrap_or_else(|| panic!("no {name} under data0"));
    let mut bytes = std::fs::read(&file).unwrap();
    for x in &mut bytes[50_000..50_016] {
        *x ^= 0x5a;
    }
    std::fs::write(&file, &bytes).unwrap();

    let cat = cluster.cli("dfs", &["-cat", "/bad.bin"]);
    assert_ne!(
        cat.code,
        Some(0),
        "read a corrupt replica: {:?}",
        cat.stderr
    );
    wait_for_log(
        &cluster.log("nn.log"),
        &format!(
            "*DIR* reportBadBlocks for block: {}:blk_{}_{} on datanode: {dn_addr}",
            b.pool_id, b.block_id, b.generation_stamp
        ),
    );
}

fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(p) = find_file(&path, name) {
                return Some(p);
            }
        } else if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
    }
    None
}
