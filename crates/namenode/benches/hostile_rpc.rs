//! A NameNode's getFileInfo rate for one normal client while 1,000 hostile connections
//! are open (500 that announced a 128 MiB frame, sent 4 KiB of it and went silent; 500
//! slowloris trickling one byte a second each), beside the same client's rate with no
//! hostile connection as the baseline, alternating in the same run.
//!
//! `cargo bench -p ferrodfs-namenode --bench hostile_rpc`
//!
//! Everything runs in this process (the NameNode with its default `ipc.*` limits,
//! the client, the hostile sockets), so the process needs about 2,100 descriptors: the
//! soft `RLIMIT_NOFILE` is raised to the hard limit first, and the bench stops if that
//! is not enough.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ferrodfs_ipc::client::namenode::NamenodeProtocol;
use ferrodfs_ipc::frame::{FrameBuilder, Preamble, CONNECTION_CONTEXT_CALL_ID};
use ferrodfs_ipc::{ClientConfig, RetryPolicy, RpcClient};
use ferrodfs_namenode::server::{NameNodeServer, NameNodeServerConfig};
use ferrodfs_namenode::NameNode;
use ferrodfs_proto::common::rpc_request_header_proto::OperationProto;
use ferrodfs_proto::common::{
    IpcConnectionContextProto, RpcKindProto, RpcRequestHeaderProto, UserInformationProto,
};
use ferrodfs_proto::hdfs::GetFileInfoRequestProto;

const HALF_OPEN: usize = 500;
const SLOWLORIS: usize = 500;
const ROUNDS: usize = 10;
const WINDOW: Duration = Duration::from_secs(1);
const SETTLE: Duration = Duration::from_millis(300);
const CLIENT_PROTOCOL: &str = "org.apache.hadoop.hdfs.protocol.ClientProtocol";

fn raise_fd_limit(need: u64) -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut lim = getrlimit(Resource::Nofile);
    let hard = lim.maximum.unwrap_or(u64::MAX);
    if lim.current.is_some_and(|c| c < need) {
        lim.current = Some(hard.min(need.max(4096)));
        if let Err(e) = setrlimit(Resource::Nofile, lim) {
            eprintln!("cannot raise RLIMIT_NOFILE: {e}");
        }
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

fn header(call_id: i32) -> RpcRequestHeaderProto {
    RpcRequestHeaderProto {
        rpc_kind: Some(RpcKindProto::RpcProtocolBuffer as i32),
        rpc_op: Some(OperationProto::RpcFinalPacket as i32),
        call_id,
        client_id: vec![7; 16],
        retry_count: Some(-1),
        ..Default::default()
    }
}

fn handshake() -> Vec<u8> {
    let mut v = Preamble::SIMPLE.encode().to_vec();
    v.extend_from_slice(
        &FrameBuilder::new()
            .message(&header(CONNECTION_CONTEXT_CALL_ID))
            .message(&IpcConnectionContextProto {
                user_info: Some(UserInformationProto {
                    effective_user: Some("mallory".into()),
                    real_user: None,
                }),
                protocol: Some(CLIENT_PROTOCOL.into()),
            })
            .finish(),
    );
    v
}

/// The hostile connections of one round and the thread trickling the slowloris bytes.
struct Hostile {
    stop: Arc<AtomicBool>,
    trickler: thread::JoinHandle<usize>,
    half_open: Vec<TcpStream>,
}

fn open_hostile(addr: SocketAddr) -> Hostile {
    let mut half = handshake();
    half.extend_from_slice(&(128u32 << 20).to_be_bytes());
    half.extend_from_slice(&[0u8; 4096]);
    let half_open = (0..HALF_OPEN)
        .map(|_| {
            let mut s = TcpStream::connect(addr).expect("connect");
            s.write_all(&half).expect("write");
            s
        })
        .collect();
    let slow: Vec<TcpStream> = (0..SLOWLORIS)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let trickler = thread::spawn(move || {
        // One byte a second on each: the handshake, then a call frame, byte by byte.
        let mut stream = handshake();
        stream.extend_from_slice(&(1000u32).to_be_bytes());
        let mut sent = 0usize;
        let mut open: Vec<TcpStream> = slow;
        let per = Duration::from_secs(1) / SLOWLORIS as u32;
        for step in 0..3600 {
            let byte = stream[step % stream.len()];
            for s in &mut open {
                if flag.load(Ordering::Relaxed) {
                    return sent;
                }
                if (&*s).write_all(&[byte]).is_ok() {
                    sent += 1;
                }
                thread::sleep(per);
            }
        }
        sent
    });
    Hostile {
        stop,
        trickler,
        half_open,
    }
}

/// Calls made in `WINDOW` by one client, one at a time.
fn rate(nn: &NamenodeProtocol) -> f64 {
    let req = GetFileInfoRequestProto { src: "/".into() };
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < WINDOW {
        let r = nn.get_file_info(&req).expect("getFileInfo");
        assert!(r.fs.is_some());
        calls += 1;
    }
    calls as f64 / start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let need = (2 * (HALF_OPEN + SLOWLORIS) + 200) as u64;
    let limit = raise_fd_limit(need);
    println!("hostile_rpc: RLIMIT_NOFILE {limit} (need about {need})");
    if limit < need {
        eprintln!("hostile_rpc: not enough file descriptors; raise the hard limit (ulimit -Hn)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let config = NameNodeServerConfig::for_test(dir.path(), "bench");
    NameNode::format(&config.namenode, None).expect("format");
    let server = NameNodeServer::start(config).expect("start");
    let addr = server.rpc_addr();
    let nn = NamenodeProtocol::new(
        RpcClient::new(ClientConfig {
            user: "bench".into(),
            retry: RetryPolicy::NONE,
            ..ClientConfig::default()
        }),
        addr,
    );
    rate(&nn); // warm up
    let (mut base, mut hostile, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let b = rate(&nn);
        let h = open_hostile(addr);
        thread::sleep(SETTLE);
        let r = rate(&nn);
        h.stop.store(true, Ordering::Relaxed);
        let trickled = h.trickler.join().unwrap_or(0);
        drop(h.half_open);
        println!(
            "hostile_rpc: round {round}: baseline {b:.0} calls/s, with {} hostile {r:.0} calls/s ({:.0}%), {trickled} slowloris bytes sent",
            HALF_OPEN + SLOWLORIS,
            100.0 * r / b
        );
        base.push(b);
        hostile.push(r);
        ratios.push(r / b);
        thread::sleep(SETTLE);
    }
    let (b, h) = (median(base), median(hostile));
    println!(
        "hostile_rpc: getFileInfo, 1 client: baseline median {b:.0} calls/s; under {HALF_OPEN} half-open 128 MiB frames + {SLOWLORIS} slowloris median {h:.0} calls/s; median of the {ROUNDS} paired ratios {:.1}% of the baseline (min {:.1}%)",
        100.0 * median(ratios.clone()),
        100.0 * ratios.iter().copied().fold(f64::INFINITY, f64::min)
    );
    drop(nn);
    let _ = server.shutdown();
}
