//! A real `ferrodfs namenode` process with its address space capped at about four times
//! its normal peak (`ulimit -v`, as a container memory limit does) survives 50
//! connections that each announce a 128 MiB frame (reserving the announced length
//! would need 6.4 GiB), and keeps answering getFileInfo.

mod common;
use common::{free_port, vm_peak_kib};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferrodfs_ipc::client::namenode::NamenodeProtocol;
use ferrodfs_ipc::frame::{FrameBuilder, Preamble, CONNECTION_CONTEXT_CALL_ID};
use ferrodfs_ipc::{ClientConfig, RetryPolicy, RpcClient};
use ferrodfs_proto::common::rpc_request_header_proto::OperationProto;
use ferrodfs_proto::common::{
    IpcConnectionContextProto, RpcKindProto, RpcRequestHeaderProto, UserInformationProto,
};
use ferrodfs_proto::hdfs::GetFileInfoRequestProto;

const BIN: &str = env!("CARGO_BIN_EXE_ferrodfs");
const HOSTILE: usize = 50;
const ANNOUNCED: u32 = 128 * 1024 * 1024;

fn nn_args(dir: &std::path::Path, port: u16) -> Vec<String> {
    vec![
        "namenode".into(),
        "-D".into(),
        format!("dfs.namenode.name.dir={}", dir.display()),
        "-D".into(),
        format!("dfs.namenode.rpc-address=127.0.0.1:{port}"),
    ]
}

/// Starts the NameNode under `bash -c 'ulimit -v KIB; exec …'` (no cap when `None`)
/// and waits for its "listening" line.
fn start(dir: &std::path::Path, port: u16, cap_kib: Option<u64>) -> Child {
    let args: Vec<String> = nn_args(dir, port)
        .iter()
        .map(|a| format!("'{a}'"))
        .collect();
    let ulimit = cap_kib
        .map(|k| format!("ulimit -v {k}; "))
        .unwrap_or_default();
    let script = format!("{ulimit}exec '{BIN}' {}", args.join(" "));
    let mut child = Command::new("bash")
        .args(["-c", &script])
        .env_remove("HADOOP_CONF_DIR")
        .env("RUST_LOG", "error")
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
        call_retry: RetryPolicy::NONE,
        ..ClientConfig::default()
    };
    NamenodeProtocol::new(RpcClient::new(cfg), addr)
}

fn root_exists(nn: &NamenodeProtocol) -> bool {
    nn.get_file_info(&GetFileInfoRequestProto { src: "/".into() })
        .unwrap()
        .fs
        .is_some()
}

/// `VmPeak` of a process, in KiB.
fn hostile_frame_start() -> Vec<u8> {
    let header = |call_id| RpcRequestHeaderProto {
        rpc_kind: Some(RpcKindProto::RpcProtocolBuffer as i32),
        rpc_op: Some(OperationProto::RpcFinalPacket as i32),
        call_id,
        client_id: vec![7; 16],
        retry_count: Some(-1),
        ..Default::default()
    };
    let mut v = Preamble::SIMPLE.encode().to_vec();
    v.extend_from_slice(
        &FrameBuilder::new()
            .message(&header(CONNECTION_CONTEXT_CALL_ID))
            .message(&IpcConnectionContextProto {
                user_info: Some(UserInformationProto {
                    effective_user: Some("mallory".into()),
                    real_user: None,
                }),
                protocol: Some("org.apache.hadoop.hdfs.protocol.ClientProtocol".into()),
            })
            .finish(),
    );
    v.extend_from_slice(&ANNOUNCED.to_be_bytes());
    v.extend_from_slice(&[0u8; 4096]);
    v
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn capped_namenode_survives_connections_announcing_128_mib_frames() {
    let dir = tempfile::tempdir().unwrap();
    let name_dir = dir.path().join("name");
    let port = free_port();
    let mut format = nn_args(&name_dir, port);
    format.push("-format".into());
    let out = Command::new(BIN).args(&format).output().unwrap();
    assert!(out.status.success(), "{out:?}");

    // Its normal peak: started, served a few calls.
    let child = start(&name_dir, port, None);
    let nn = client(port);
    for _ in 0..10 {
        assert!(root_exists(&nn));
    }
    let peak = vm_peak_kib(child.id());
    drop(nn);
    stop(child);

    let cap = 4 * peak;
    eprintln!("normal VmPeak {peak} KiB; address space capped at {cap} KiB");
    let mut child = start(&name_dir, port, Some(cap));
    let nn = client(port);
    assert!(root_exists(&nn));
    let start_at = Instant::now();
    let frame = hostile_frame_start();
    let hostile: Vec<TcpStream> = (0..HOSTILE)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.write_all(&frame).unwrap();
            s
        })
        .collect();
    // Give the NameNode time to read every one of them, serving calls meanwhile.
    while start_at.elapsed() < Duration::from_secs(2) {
        assert!(root_exists(&nn));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the NameNode died (cap {cap} KiB = 4 x VmPeak {peak} KiB)"
    );
    assert!(root_exists(&nn));
    // A fresh client is served too.
    assert!(root_exists(&client(port)));
    let peak_under_attack = vm_peak_kib(child.id());
    eprintln!("VmPeak under {HOSTILE} announced 128 MiB frames: {peak_under_attack} KiB");
    assert!(
        peak_under_attack <= cap,
        "VmPeak {peak_under_attack} KiB over the cap {cap} KiB"
    );
    drop(hostile);
    stop(child);
}
