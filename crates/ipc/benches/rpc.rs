//! Hadoop RPC round trips: the client half.
//!
//! Each RPC figure sits beside a raw TCP baseline moving the same bytes in the same run:
//!
//! * `latency/*`: one small call (`getFileInfo`, 1 thread) vs a raw ping-pong of the
//!   same request and reply frames.
//! * `one_connection_16_threads/*`: 16 threads sharing one pooled connection vs one raw
//!   connection with the same frames pipelined (a writer and a reader thread).
//! * `16_connections/*`: 16 threads with an `RpcClient` each vs 16 raw ping-pong sockets.
//!
//! The server side is [`start_server`]: the real `ipc::server` (1 reader, 4 handlers,
//! `getFileInfo` marked cheap so it runs on the reader when no call waits for a
//! handler). The raw baselines talk to a thread-per-connection server in this file that
//! answers every frame with the same reply bytes.
//!
//! Run: `cargo bench -p ferrodfs-ipc --bench rpc` (pin with `taskset -c 0` to put client
//! and server on one core).

use bytes::Bytes;
mod common;
use common::interleaved;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrodfs_ipc::client::{ClientConfig, RetryPolicy, RpcClient};
use ferrodfs_ipc::frame::{read_frame, FrameBuilder, IPC_MAXIMUM_DATA_LENGTH_DEFAULT};
use ferrodfs_ipc::server::{Server, ServiceBuilder};
use ferrodfs_proto::common::rpc_request_header_proto::OperationProto;
use ferrodfs_proto::common::rpc_response_header_proto::RpcStatusProto;
use ferrodfs_proto::common::{
    RequestHeaderProto, RpcKindProto, RpcRequestHeaderProto, RpcResponseHeaderProto,
};
use ferrodfs_proto::hdfs::{
    GetFileInfoRequestProto, GetFileInfoResponseProto, HdfsFileStatusProto,
};
use ferrodfs_proto::protocol::CLIENT_NAMENODE;
use std::io::{BufReader, BufWriter, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

const THREADS: usize = 16;
const SRC: &str = "/user/bench/file";

fn request() -> GetFileInfoRequestProto {
    GetFileInfoRequestProto { src: SRC.into() }
}

fn response() -> GetFileInfoResponseProto {
    GetFileInfoResponseProto {
        fs: Some(HdfsFileStatusProto {
            path: Vec::new(),
            length: 1234,
            owner: "bench".into(),
            group: "supergroup".into(),
            ..Default::default()
        }),
    }
}

/// The RPC server under the client: ours.
fn start_server() -> Server {
    let service = ServiceBuilder::new(CLIENT_NAMENODE.name)
        .method("getFileInfo", |_, req: GetFileInfoRequestProto| {
            debug_assert_eq!(req.src, SRC);
            Ok(response())
        })
        .cheap(&["getFileInfo"])
        .build();
    Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .readers(1)
        .handlers(4)
        .idle_timeout(Duration::from_secs(3600))
        .service(service)
        .start()
        .unwrap()
}

fn reply_frame(call_id: i32, client_id: &[u8]) -> Bytes {
    FrameBuilder::new()
        .message(&RpcResponseHeaderProto {
            call_id: call_id as u32,
            status: RpcStatusProto::Success as i32,
            server_ipc_version_num: Some(9),
            client_id: Some(client_id.to_vec()),
            retry_count: Some(0),
            ..Default::default()
        })
        .message(&response())
        .finish()
}

/// The request frame the client writes for call 0, for the raw baselines.
fn request_frame() -> Bytes {
    FrameBuilder::new()
        .message(&RpcRequestHeaderProto {
            rpc_kind: Some(RpcKindProto::RpcProtocolBuffer as i32),
            rpc_op: Some(OperationProto::RpcFinalPacket as i32),
            call_id: 0,
            client_id: vec![7; 16],
            retry_count: Some(0),
            ..Default::default()
        })
        .message(&RequestHeaderProto {
            method_name: "getFileInfo".into(),
            declaring_class_protocol_name: CLIENT_NAMENODE.name.into(),
            client_protocol_version: CLIENT_NAMENODE.version,
        })
        .message(&request())
        .finish()
}

/// A blocking server: a thread per connection reads frames and writes what `answer` returns, in order, flushing when no more
/// requests are buffered.
fn start_lean_server(
    answer: impl Fn(Bytes) -> Option<Bytes> + Send + Sync + Copy + 'static,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::Builder::new()
        .name("bench-accept".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                std::thread::Builder::new()
                    .name("bench-conn".into())
                    .spawn(move || {
                        let _ = stream.set_nodelay(true);
                        let mut reader =
                            BufReader::with_capacity(64 * 1024, stream.try_clone().unwrap());
                        let mut writer = BufWriter::with_capacity(64 * 1024, stream);
                        while let Ok(body) =
                            read_frame(&mut reader, IPC_MAXIMUM_DATA_LENGTH_DEFAULT)
                        {
                            if let Some(reply) = answer(body) {
                                if writer.write_all(&reply).is_err() {
                                    return;
                                }
                            }
                            if reader.buffer().is_empty() && writer.flush().is_err() {
                                return;
                            }
                        }
                    })
                    .unwrap();
            }
        })
        .unwrap();
    addr
}

/// The raw baseline server: answers every frame with the canned reply, no parsing.
fn start_raw_server() -> SocketAddr {
    start_lean_server(|_body| Some(reply_frame(0, &[7; 16])))
}

fn client() -> RpcClient {
    RpcClient::new(ClientConfig {
        user: "bench".into(),
        retry: RetryPolicy::NONE,
        ..ClientConfig::default()
    })
}

fn call(client: &RpcClient, addr: SocketAddr) {
    let resp: GetFileInfoResponseProto = client
        .call(addr, CLIENT_NAMENODE, "getFileInfo", &request())
        .expect("call");
    assert_eq!(resp.fs.map(|f| f.length), Some(1234));
}

fn raw_round_trip(stream: &mut TcpStream, frame: &[u8]) {
    stream.write_all(frame).unwrap();
    read_frame(stream, usize::MAX >> 1).unwrap();
}

/// Runs `per_thread(iters_for_this_thread)` on `threads` threads, returns wall time.
fn parallel(threads: usize, iters: u64, per_thread: impl Fn(u64) + Sync) -> Duration {
    let share = iters.div_ceil(threads as u64);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| per_thread(share));
        }
    });
    start.elapsed()
}

fn latency(c: &mut Criterion) {
    let server = start_server();
    let rpc_addr = server.local_addr();
    let raw_addr = start_raw_server();
    let frame = request_frame();
    let mut g = c.benchmark_group("latency");
    g.throughput(Throughput::Elements(1));
    let client = client();
    call(&client, rpc_addr);
    g.bench_function("rpc_call", |b| b.iter(|| call(&client, rpc_addr)));
    let mut raw = TcpStream::connect(raw_addr).unwrap();
    raw.set_nodelay(true).unwrap();
    g.bench_function("raw_tcp_ping_pong", |b| {
        b.iter(|| raw_round_trip(&mut raw, &frame))
    });
    g.finish();
    interleaved(
        "latency",
        &mut [
            ("rpc_call", &mut || call(&client, rpc_addr)),
            ("raw_tcp_ping_pong", &mut || {
                raw_round_trip(&mut raw, &frame)
            }),
        ],
    );
}

fn one_connection(c: &mut Criterion) {
    let server = start_server();
    let rpc_addr = server.local_addr();
    let raw_addr = start_raw_server();
    let frame = request_frame();
    let mut g = c.benchmark_group("one_connection_16_threads");
    g.throughput(Throughput::Elements(1));
    let client = client();
    call(&client, rpc_addr);
    g.bench_function("rpc_calls", |b| {
        b.iter_custom(|iters| {
            parallel(THREADS, iters, |n| {
                for _ in 0..n {
                    call(&client, rpc_addr);
                }
            })
        })
    });
    g.bench_function("raw_tcp_pipelined", |b| {
        b.iter_custom(|iters| {
            let stream = TcpStream::connect(raw_addr).unwrap();
            stream.set_nodelay(true).unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let start = Instant::now();
            std::thread::scope(|s| {
                s.spawn(|| {
                    let mut w = BufWriter::new(&stream);
                    for _ in 0..iters {
                        w.write_all(&frame).unwrap();
                    }
                    w.flush().unwrap();
                });
                for _ in 0..iters {
                    read_frame(&mut reader, usize::MAX >> 1).unwrap();
                }
            });
            start.elapsed()
        })
    });
    g.finish();
}

fn many_connections(c: &mut Criterion) {
    let server = start_server();
    let rpc_addr = server.local_addr();
    let raw_addr = start_raw_server();
    let frame = request_frame();
    let mut g = c.benchmark_group("16_connections");
    g.throughput(Throughput::Elements(1));
    let clients: Vec<RpcClient> = (0..THREADS).map(|_| client()).collect();
    for cl in &clients {
        call(cl, rpc_addr);
    }
    g.bench_function("rpc_calls_16_clients", |b| {
        b.iter_custom(|iters| {
            let share = iters.div_ceil(THREADS as u64);
            let start = Instant::now();
            std::thread::scope(|s| {
                for cl in &clients {
                    s.spawn(move || {
                        for _ in 0..share {
                            call(cl, rpc_addr);
                        }
                    });
                }
            });
            start.elapsed()
        })
    });
    let raws: Vec<TcpStream> = (0..THREADS)
        .map(|_| {
            let s = TcpStream::connect(raw_addr).unwrap();
            s.set_nodelay(true).unwrap();
            s
        })
        .collect();
    g.bench_function("raw_tcp_ping_pong_16_sockets", |b| {
        b.iter_custom(|iters| {
            let share = iters.div_ceil(THREADS as u64);
            let start = Instant::now();
            std::thread::scope(|s| {
                for raw in &raws {
                    let frame = &frame;
                    s.spawn(move || {
                        let mut raw = raw.try_clone().unwrap();
                        for _ in 0..share {
                            raw_round_trip(&mut raw, frame);
                        }
                    });
                }
            });
            start.elapsed()
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = latency, one_connection, many_connections
}
criterion_main!(benches);
