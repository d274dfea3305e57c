//! Issue 16, part 1, as separate processes: a DataNode of the write pipelines is shut
//! down for upgrade (`ferrodfs dfsadmin -shutdownDatanode <host:ipc_port> upgrade`)
//! while our client and Hadoop's Java client each write a multi-block file with an
//! hflush after every piece. The node sends OOB_RESTART to both writers, keeps its
//! replicas being written, and is started again on the same ports; both writers wait
//! for it (`dfs.client.datanode-restart.timeout`) and rebuild their pipelines with
//! it. With exactly three DataNodes and replication 3, a writer that dropped the node
//! instead would have to add a replacement (`addDatanode2ExistingPipeline`, the
//! default replace-datanode policy after an hflush) and fail, as there is none.
//! Afterwards both files are byte-exact and every block has 3 replicas, the restarted
//! node's among them.

mod common;
use common::{free_port, Procs};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrodfs_client::{ClientConf, CreateOptions, DfsClient};
use ferrodfs_ipc::client::namenode::NamenodeProtocol;
use ferrodfs_ipc::{ClientConfig, RetryPolicy, RpcClient};
use ferrodfs_proto::hdfs::{
    DatanodeReportTypeProto, GetBlockLocationsRequestProto, GetDatanodeReportRequestProto,
    LocatedBlockProto,
};

const BIN: &str = env!("CARGO_BIN_EXE_ferrodfs");
const MIB: u64 = 1024 * 1024;
/// File length: four full 1 MiB blocks and a partial one.
const LEN: u64 = 4 * MIB + 12_345;
const PIECE: usize = 64 * 1024;
const PAUSE: Duration = Duration::from_millis(60);
/// Where our writer waits for the Java writer (which starts slower) to catch up.
const GATE: u64 = MIB + MIB / 2;
/// Hadoop's `dfs.client.datanode-restart.timeout` default.
const RESTART_TIMEOUT: Duration = Duration::from_secs(30);
const WAIT: Duration = Duration::from_secs(120);

fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 131 + seed as usize + i / 251) % 253) as u8)
        .collect()
}

fn d(kv: String) -> [String; 2] {
    ["-D".to_string(), kv]
}

/// Runs `ferrodfs <args>` and waits for its first stdout line, which must contain `want`.
fn spawn(args: &[String], want: &str) -> Child {
    common::spawn_until_line(Command::new(BIN).args(args).env("RUST_LOG", "info"), want)
}

struct DataNodeProc {
    args: Vec<String>,
    xfer: u16,
    ipc: u16,
}

fn datanode_args(dir: &Path, i: usize, nn_port: u16) -> DataNodeProc {
    let (xfer, ipc) = (free_port(), free_port());
    let mut args = vec!["datanode".to_string()];
    args.extend(d(format!(
        "dfs.datanode.data.dir={}",
        dir.join(format!("data{i}")).display()
    )));
    args.extend(d(format!("dfs.datanode.address=127.0.0.1:{xfer}")));
    args.extend(d(format!("dfs.datanode.ipc.address=127.0.0.1:{ipc}")));
    args.extend(d(format!("fs.defaultFS=hdfs://127.0.0.1:{nn_port}")));
    args.extend(d("dfs.heartbeat.interval=1".into()));
    DataNodeProc { args, xfer, ipc }
}

fn start_namenode(dir: &Path, port: u16) -> Child {
    let name = format!("dfs.namenode.name.dir={}", dir.join("name").display());
    let rpc = format!("dfs.namenode.rpc-address=127.0.0.1:{port}");
    let mut format = vec!["namenode".to_string()];
    format.extend(d(name.clone()));
    format.extend(d(rpc.clone()));
    format.push("-format".into());
    let out = Command::new(BIN)
        .args(&format)
        .env_remove("HADOOP_CONF_DIR")
        .output()
        .unwrap();
    assert!(out.status.success(), "format failed: {out:?}");
    let mut nn = vec!["namenode".to_string()];
    nn.extend(d(name));
    nn.extend(d(rpc));
    nn.extend(d("dfs.heartbeat.interval=1".into()));
    nn.extend(d("dfs.namenode.fs-limits.min-block-size=0".into()));
    spawn(&nn, "listening on 127.0.0.1:")
}

fn namenode(addr: SocketAddr) -> NamenodeProtocol {
    let cfg = ClientConfig {
        call_timeout: Some(Duration::from_secs(10)),
        retry: RetryPolicy::NONE,
        ..ClientConfig::default()
    };
    NamenodeProtocol::new(RpcClient::new(cfg), addr)
}

fn wait_for_live_datanodes(nn: &NamenodeProtocol, n: usize) {
    let deadline = Instant::now() + WAIT;
    loop {
        let live = nn
            .get_datanode_report(&GetDatanodeReportRequestProto {
                r#type: DatanodeReportTypeProto::Live as i32,
            })
            .map(|r| r.di.len())
            .unwrap_or(0);
        if live == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {live} of {n} DataNodes registered"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn blocks(nn: &NamenodeProtocol, path: &str) -> Vec<LocatedBlockProto> {
    nn.get_block_locations(&GetBlockLocationsRequestProto {
        src: path.into(),
        offset: 0,
        length: i64::MAX as u64,
    })
    .unwrap()
    .locations
    .map(|l| l.blocks)
    .unwrap_or_default()
}

/// Compiles the Java writer and starts it; its stdout lines go to `progress`, its
/// stderr (the client's log) to `log`.
fn start_java_writer(
    dir: &Path,
    nn: SocketAddr,
    progress: Arc<AtomicU64>,
    log: Arc<Mutex<String>>,
) -> Child {
    let jars = ferrodfs_testkit::hadoop_jars_dir();
    let src_dir = dir.join("java");
    std::fs::create_dir_all(&src_dir).unwrap();
    let src = src_dir.join("HflushWriter.java");
    std::fs::write(&src, include_str!("java/HflushWriter.java")).unwrap();
    std::fs::write(
        src_dir.join("log4j2.properties"),
        "rootLogger.level = info\nrootLogger.appenderRef.stderr.ref = STDERR\n\
         appender.stderr.type = Console\nappender.stderr.name = STDERR\n\
         appender.stderr.target = SYSTEM_ERR\nappender.stderr.layout.type = PatternLayout\n\
         appender.stderr.layout.pattern = JAVA %d{HH:mm:ss.SSS} %p %c{1}: %m%n\n",
    )
    .unwrap();
    let jar_glob = format!("{}/*", jars.display());
    let javac = Command::new("javac")
        .args(["-nowarn", "-cp", &jar_glob, "-d"])
        .arg(&src_dir)
        .arg(&src)
        .output()
        .expect("javac (install a JDK, as .ci/run does)");
    assert!(javac.status.success(), "javac failed: {javac:?}");
    let mut child = Command::new("java")
        .arg("-cp")
        .arg(format!("{}:{jar_glob}", src_dir.display()))
        .arg("HflushWriter")
        .arg(format!("hdfs://{nn}"))
        .arg("/java.bin")
        .arg(LEN.to_string())
        .arg(PIECE.to_string())
        .arg(PAUSE.as_millis().to_string())
        .arg(MIB.to_string())
        .env("HADOOP_USER_NAME", ferrodfs_ipc::client::current_user())
        .env_remove("HADOOP_CONF_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("java");
    let mut err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        log.lock().unwrap().push_str(&String::from_utf8_lossy(&buf));
    });
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if let Some(n) = line.strip_prefix("written ") {
                progress.store(n.trim().parse().unwrap_or(0), Ordering::SeqCst);
            } else if line == "done" {
                progress.store(u64::MAX, Ordering::SeqCst);
            }
        }
    });
    child
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn xfer_port(b: &LocatedBlockProto, i: usize) -> u16 {
    b.locs[i].id.xfer_port as u16
}

#[test]
fn pipelines_wait_for_a_datanode_restarting_for_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let nn_port = free_port();
    let nn_addr: SocketAddr = format!("127.0.0.1:{nn_port}").parse().unwrap();
    let mut procs = Procs::default();
    procs.0.push(start_namenode(dir.path(), nn_port));
    let dns: Vec<DataNodeProc> = (0..3)
        .map(|i| datanode_args(dir.path(), i, nn_port))
        .collect();
    for dn in &dns {
        procs.0.push(spawn(&dn.args, "listening on 127.0.0.1:"));
    }
    let nn = namenode(nn_addr);
    wait_for_live_datanodes(&nn, 3);

    // getDatanodeInfo answers as Hadoop's DataNode does.
    let info = Command::new(BIN)
        .args(["dfsadmin", "-getDatanodeInfo"])
        .arg(format!("127.0.0.1:{}", dns[1].ipc))
        .output()
        .unwrap();
    let info_line = String::from_utf8_lossy(&info.stdout).to_string();
    assert!(info.status.success(), "{info:?}");
    assert!(
        info_line.starts_with("Uptime: ")
            && info_line.contains(", Software version: 3.3.4, Config version: core-0.23.0,hdfs-1"),
        "{info_line:?}"
    );

    // Both writers start; ours waits at the gate for the Java one (JVM start-up).
    let ours_progress = Arc::new(AtomicU64::new(0));
    let java_progress = Arc::new(AtomicU64::new(0));
    let java_log = Arc::new(Mutex::new(String::new()));
    let mut java = start_java_writer(
        dir.path(),
        nn_addr,
        Arc::clone(&java_progress),
        Arc::clone(&java_log),
    );
    let ours = {
        let progress = Arc::clone(&ours_progress);
        let java_progress = Arc::clone(&java_progress);
        std::thread::spawn(move || {
            let client = DfsClient::new(
                nn_addr,
                ClientConf {
                    user: ferrodfs_ipc::client::current_user(),
                    ..ClientConf::default()
                },
            );
            let data = payload(LEN as usize, 1);
            let mut out = client
                .create_with(
                    "/ours.bin",
                    CreateOptions {
                        overwrite: true,
                        replication: Some(3),
                        block_size: Some(MIB),
                        ..Default::default()
                    },
                )
                .unwrap();
            let mut done = 0u64;
            for p in data.chunks(PIECE) {
                std::io::Write::write_all(&mut out, p).unwrap();
                out.hflush().unwrap();
                done += p.len() as u64;
                if done > GATE {
                    wait_until("the Java writer at the gate", || {
                        java_progress.load(Ordering::SeqCst) > GATE
                    });
                }
                progress.store(done, Ordering::SeqCst);
                std::thread::sleep(PAUSE);
            }
            out.close().unwrap();
        })
    };

    // Both are in their second block: restart DataNode 1 (every node is in both
    // pipelines: three nodes, replication 3).
    wait_until("both writers past the gate", || {
        ours_progress.load(Ordering::SeqCst) > GATE && java_progress.load(Ordering::SeqCst) > GATE
    });
    let shut = Command::new(BIN)
        .args(["dfsadmin", "-shutdownDatanode"])
        .arg(format!("127.0.0.1:{}", dns[1].ipc))
        .arg("upgrade")
        .output()
        .unwrap();
    assert!(shut.status.success(), "{shut:?}");
    assert_eq!(
        String::from_utf8_lossy(&shut.stdout),
        format!(
            "Submitted a shutdown request to datanode 127.0.0.1:{}\n",
            dns[1].ipc
        )
    );
    let down_at = Instant::now();
    {
        let child = &mut procs.0[2];
        wait_until("the DataNode to exit", || {
            child.try_wait().unwrap().is_some()
        });
        assert!(child.try_wait().unwrap().unwrap().success());
    }
    let ours_at_shutdown = ours_progress.load(Ordering::SeqCst);
    let java_at_shutdown = java_progress.load(Ordering::SeqCst);
    assert!(
        ours_at_shutdown < LEN && java_at_shutdown < LEN,
        "writers finished too early"
    );
    procs.0[2] = spawn(&dns[1].args, "listening on 127.0.0.1:");
    let restarted_in = down_at.elapsed();
    assert!(
        restarted_in < RESTART_TIMEOUT,
        "restart took {restarted_in:?}"
    );

    ours.join().expect("our writer failed");
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(s) = java.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the Java writer hangs");
        std::thread::sleep(Duration::from_millis(50));
    };
    // The log reader ends with the process.
    std::thread::sleep(Duration::from_millis(200));
    let java_err = java_log.lock().unwrap().clone();
    assert!(status.success(), "the Java writer failed:\n{java_err}");
    assert_eq!(java_progress.load(Ordering::SeqCst), u64::MAX);
    assert!(
        java_err.contains("is restarting"),
        "the Java client did not take the restart path:\n{java_err}"
    );
    assert!(
        !java_err.contains("addDatanode2ExistingPipeline")
            && !java_err.contains("Failed to replace a bad datanode"),
        "{java_err}"
    );

    // Byte-exact, every block on all three nodes, the restarted one included.
    let client = DfsClient::new(
        nn_addr,
        ClientConf {
            user: ferrodfs_ipc::client::current_user(),
            ..ClientConf::default()
        },
    );
    for (path, seed) in [("/ours.bin", 1u8), ("/java.bin", 2)] {
        let mut back = Vec::new();
        client.open(path).unwrap().read_to_end(&mut back).unwrap();
        let want = payload(LEN as usize, seed);
        assert_eq!(back.len(), want.len(), "{path}: length");
        if let Some(i) = back.iter().zip(&want).position(|(a, b)| a != b) {
            panic!("{path}: first difference at byte {i}");
        }
        wait_until("3 replicas of every block", || {
            blocks(&nn, path).iter().all(|b| b.locs.len() == 3)
        });
        let bs = blocks(&nn, path);
        assert_eq!(bs.len(), 5, "{path}");
        for b in &bs {
            assert!(
                (0..3).any(|i| xfer_port(b, i) == dns[1].xfer),
                "{path}: block {} lacks the restarted node",
                b.b.block_id
            );
        }
    }
}
