//! `ferrodfs namenode` as a real process: format, serve, SIGKILL in the middle of a
//! stream of creates, restart — every acknowledged create is there.

mod common;
use common::free_port;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrodfs_ipc::client::namenode::NamenodeProtocol;
use ferrodfs_ipc::{ClientConfig, RetryPolicy, RpcClient};
use ferrodfs_proto::hdfs::*;

const BIN: &str = env!("CARGO_BIN_EXE_ferrodfs");

fn nn_args(dir: &std::path::Path, port: u16) -> Vec<String> {
    vec![
        "namenode".into(),
        "-D".into(),
        format!("dfs.namenode.name.dir={}", dir.display()),
        "-D".into(),
        format!("dfs.namenode.rpc-address=127.0.0.1:{port}"),
        "-D".into(),
        "some.unknown.key=ignored".into(),
    ]
}

/// Starts the NameNode and waits for its "listening" line.
fn start(dir: &std::path::Path, port: u16) -> Child {
    let mut child = Command::new(BIN)
        .args(nn_args(dir, port))
        .env_remove("HADOOP_CONF_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("listening on 127.0.0.1:"), "{line}");
    child
}

fn client(port: u16) -> NamenodeProtocol {
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let cfg = ClientConfig {
        call_timeout: Some(Duration::from_secs(10)),
        retry: RetryPolicy::NONE,
        ..ClientConfig::default()
    };
    NamenodeProtocol::new(RpcClient::new(cfg), addr)
}

fn create(nn: &NamenodeProtocol, p: &str) -> ferrodfs_ipc::Result<()> {
    let fs = nn
        .create(&CreateRequestProto {
            src: p.into(),
            masked: FsPermissionProto { perm: 0o644 },
            client_name: "DFSClient_crash".into(),
            create_flag: 1,
            create_parent: true,
            replication: 1,
            block_size: 128 << 20,
            ..Default::default()
        })?
        .fs;
    nn.complete(&CompleteRequestProto {
        src: p.into(),
        client_name: "DFSClient_crash".into(),
        last: None,
        file_id: fs.and_then(|f| f.file_id),
    })?;
    Ok(())
}

fn exists(nn: &NamenodeProtocol, p: &str) -> bool {
    nn.get_file_info(&GetFileInfoRequestProto { src: p.into() })
        .unwrap()
        .fs
        .is_some()
}

#[test]
fn format_serve_kill_restart() {
    let dir = tempfile::tempdir().unwrap();
    let name_dir = dir.path().join("name");
    let port = free_port();
    let mut format = nn_args(&name_dir, port);
    format.push("-format".into());
    let out = Command::new(BIN).args(&format).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("successfully formatted"));
    // A second -format without -force refuses; with -force it formats again.
    let out = Command::new(BIN).args(&format).output().unwrap();
    assert!(!out.status.success());
    format.extend(["-force".into(), "-nonInteractive".into()]);
    assert!(Command::new(BIN).args(&format).status().unwrap().success());

    let mut child = start(&name_dir, port);
    let nn = client(port);
    assert!(exists(&nn, "/"));

    // Four writers; the NameNode is SIGKILLed while they run.
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let (acked, stop) = (Arc::clone(&acked), Arc::clone(&stop));
            std::thread::spawn(move || {
                let nn = client(port);
                for j in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let p = format!("/w{t}/f{j}");
                    match create(&nn, &p) {
                        Ok(()) => acked.lock().unwrap().push(p),
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    // Kill once a good number of creates went through.
    while acked.lock().unwrap().len() < 200 {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 200);

    let mut child = start(&name_dir, port);
    let nn = client(port);
    for p in &acked {
        assert!(exists(&nn, p), "acknowledged {p} lost");
    }
    // Graceful stop on SIGTERM: exit code 0 and a checkpoint written.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());
    let images = std::fs::read_dir(name_dir.join("current"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("fsimage_")
        })
        .count();
    assert!(images >= 2, "format image and the shutdown checkpoint");
}
