//! The RPC server against a raw TCP baseline moving the same bytes.
//!
//! * `latency/*`: one small call at a time from one client thread; `ipc_handler` is our
//!   server (reader looper → call queue → handler thread writing the answer),
//!   `ipc_cheap_inline` the same with the method marked cheap (run and answered on the
//!   reader when no call waits for a handler), `raw_tcp` a
//!   thread-per-connection echo of the same request/response frames. Run twice: every
//!   thread pinned to CPU 0 (`same_cpu`), and client on CPU 1 with the servers on CPU 0
//!   (`cross_cpu`) — this VM is bimodal, so placement matters more than anything else.
//! * `throughput/*`: calls/s with 16 client threads sharing one connection (a minimal
//!   multiplexing client: one writer lock, one receiver thread matching call ids) and with
//!   16 connections, against a raw pipelined request/response server (per connection:
//!   buffered reads, answers batched until the input runs dry).
//!
//! The client side is a minimal blocking client on `frame.rs`.

use std::collections::HashMap;
use std::io::{BufReader, BufWriter, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
mod common;
use common::interleaved;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use crossbeam_channel::{bounded, Sender};
use ferrodfs_ipc::frame::{self, FrameBuilder, Preamble, CONNECTION_CONTEXT_CALL_ID};
use ferrodfs_ipc::server::{response, Server, ServiceBuilder};
use ferrodfs_proto::common::rpc_request_header_proto::OperationProto;
use ferrodfs_proto::common::{
    IpcConnectionContextProto, RequestHeaderProto, RpcKindProto, RpcRequestHeaderProto,
    RpcResponseHeaderProto, UserInformationProto,
};
use rustix::thread::{sched_setaffinity, CpuSet};

const PROTOCOL: &str = "org.apache.hadoop.hdfs.protocol.ClientProtocol";
const PAYLOAD: &[u8] = b"/user/bench/some/file.txt";
const THREADS: usize = 16;

fn pin(cpu: usize) {
    let mut set = CpuSet::new();
    set.set(cpu);
    let _ = sched_setaffinity(None, &set);
}

fn unpin() {
    let mut set = CpuSet::new();
    for cpu in 0..thread::available_parallelism().map_or(1, |n| n.get()) {
        set.set(cpu);
    }
    let _ = sched_setaffinity(None, &set);
}

fn call_frame(call_id: i32) -> Bytes {
    let header = RpcRequestHeaderProto {
        rpc_kind: Some(RpcKindProto::RpcProtocolBuffer as i32),
        rpc_op: Some(OperationProto::RpcFinalPacket as i32),
        call_id,
        client_id: vec![7; 16],
        retry_count: Some(0),
        ..Default::default()
    };
    let rh = RequestHeaderProto {
        method_name: "getFileInfo".into(),
        declaring_class_protocol_name: PROTOCOL.into(),
        client_protocol_version: 1,
    };
    let mut delimited = vec![PAYLOAD.len() as u8];
    delimited.extend_from_slice(PAYLOAD);
    FrameBuilder::new()
        .message(&header)
        .message(&rh)
        .raw(&delimited)
        .finish()
}

fn handshake() -> Vec<u8> {
    let mut v = Preamble::SIMPLE.encode().to_vec();
    let header = RpcRequestHeaderProto {
        rpc_kind: Some(RpcKindProto::RpcProtocolBuffer as i32),
        rpc_op: Some(OperationProto::RpcFinalPacket as i32),
        call_id: CONNECTION_CONTEXT_CALL_ID,
        client_id: vec![7; 16],
        retry_count: Some(-1),
        ..Default::default()
    };
    let ctx = IpcConnectionContextProto {
        user_info: Some(UserInformationProto {
            effective_user: Some("bench".into()),
            real_user: None,
        }),
        protocol: Some(PROTOCOL.into()),
    };
    v.extend_from_slice(&FrameBuilder::new().message(&header).message(&ctx).finish());
    v
}

/// Our server; with `cheap` the method is marked cheap, so it runs on the reader when
/// no call waits for a handler.
fn start_ipc(cheap: bool) -> Server {
    let mut service = ServiceBuilder::new(PROTOCOL).raw_method("getFileInfo", |_, req| Ok(req));
    if cheap {
        service = service.cheap(&["getFileInfo"]);
    }
    let service = service.build();
    Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .readers(1)
        .handlers(4)
        // Connections made up front sit idle while other cases run.
        .idle_timeout(Duration::from_secs(3600))
        .service(service)
        .start()
        .unwrap()
}

/// The baseline: a thread per connection reads a frame, decodes its header and answers
/// the same response bytes our server sends; answers are batched while more requests
/// are already buffered.
fn start_raw() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::Builder::new()
        .name("raw accept".into())
        .spawn(move || {
            for s in listener.incoming() {
                let Ok(s) = s else { return };
                thread::spawn(move || raw_conn(s));
            }
        })
        .unwrap();
    addr
}

fn raw_conn(s: TcpStream) {
    s.set_nodelay(true).unwrap();
    let mut r = BufReader::with_capacity(64 * 1024, s.try_clone().unwrap());
    let mut w = BufWriter::with_capacity(64 * 1024, s);
    let mut pre = [0u8; 7];
    if r.read_exact(&mut pre).is_err() {
        return;
    }
    // The connection context.
    if frame::read_frame(&mut r, 1 << 20).is_err() {
        return;
    }
    loop {
        let Ok(mut body) = frame::read_frame(&mut r, 1 << 20) else {
            return;
        };
        let Ok(h) = frame::take_message::<RpcRequestHeaderProto>(&mut body, "h") else {
            return;
        };
        // The same answer bytes our server sends (same encoding work, too).
        let out = response::success(h.call_id, 0, &h.client_id, PAYLOAD);
        if w.write_all(&out).is_err() {
            return;
        }
        if r.buffer().is_empty() && w.flush().is_err() {
            return;
        }
    }
}

/// A blocking one-call-at-a-time client.
struct Blocking {
    s: TcpStream,
    next: i32,
}

impl Blocking {
    fn connect(addr: SocketAddr) -> Blocking {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        s.write_all(&handshake()).unwrap();
        Blocking { s, next: 0 }
    }

    fn call(&mut self) {
        let id = self.next;
        self.next += 1;
        self.s.write_all(&call_frame(id)).unwrap();
        let mut body = frame::read_frame(&mut self.s, 1 << 20).unwrap();
        let h: RpcResponseHeaderProto = frame::take_message(&mut body, "h").unwrap();
        assert_eq!(h.call_id, id as u32);
    }
}

/// Many threads, one connection: a writer lock and a receiver thread.
struct Shared {
    w: Mutex<TcpStream>,
    waiting: Mutex<HashMap<i32, Sender<()>>>,
    next: AtomicI32,
}

impl Shared {
    fn connect(addr: SocketAddr) -> Arc<Shared> {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        s.write_all(&handshake()).unwrap();
        let mut r = BufReader::with_capacity(64 * 1024, s.try_clone().unwrap());
        let shared = Arc::new(Shared {
            w: Mutex::new(s),
            waiting: Mutex::new(HashMap::new()),
            next: AtomicI32::new(0),
        });
        let sh = Arc::clone(&shared);
        thread::spawn(move || {
            while let Ok(mut body) = frame::read_frame(&mut r, 1 << 20) {
                let h: RpcResponseHeaderProto = frame::take_message(&mut body, "h").unwrap();
                if let Some(tx) = sh.waiting.lock().unwrap().remove(&(h.call_id as i32)) {
                    let _ = tx.send(());
                }
            }
        });
        shared
    }

    fn call(&self) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = bounded(1);
        self.waiting.lock().unwrap().insert(id, tx);
        self.w.lock().unwrap().write_all(&call_frame(id)).unwrap();
        rx.recv().unwrap();
    }
}

fn latency(c: &mut Criterion) {
    for (placement, client_cpu) in [("same_cpu", 0), ("cross_cpu", 1)] {
        // Servers (and every thread they spawn) on CPU 0.
        pin(0);
        let server = start_ipc(false);
        let inline = start_ipc(true);
        let raw = start_raw();
        let mut g = c.benchmark_group(format!("latency/{placement}"));
        g.measurement_time(Duration::from_secs(3))
            .warm_up_time(Duration::from_secs(1));
        pin(client_cpu);
        let mut ipc = Blocking::connect(server.local_addr());
        g.bench_function("ipc_handler", |b| b.iter(|| ipc.call()));
        let mut ipc_inline = Blocking::connect(inline.local_addr());
        g.bench_function("ipc_cheap_inline", |b| b.iter(|| ipc_inline.call()));
        let mut tcp = Blocking::connect(raw);
        g.bench_function("raw_tcp", |b| b.iter(|| tcp.call()));
        g.finish();
        interleaved(
            &format!("latency/{placement}"),
            &mut [
                ("ipc_handler", &mut || ipc.call()),
                ("ipc_cheap_inline", &mut || ipc_inline.call()),
                ("raw_tcp", &mut || tcp.call()),
            ],
        );
        drop(ipc);
        drop(ipc_inline);
        drop(server);
        drop(inline);
    }
    unpin();
}

/// Runs `iters` calls spread over [`THREADS`] threads.
fn spread(iters: u64, call: impl Fn(usize) + Sync) -> Duration {
    let per = iters.div_ceil(THREADS as u64);
    let start = Instant::now();
    thread::scope(|s| {
        for t in 0..THREADS {
            let call = &call;
            s.spawn(move || {
                for _ in 0..per {
                    call(t);
                }
            });
        }
    });
    start.elapsed()
}

/// A throughput case: its name, one shared connection, and one connection per thread.
type Case = (&'static str, Arc<Shared>, Vec<Mutex<Blocking>>);

fn throughput(c: &mut Criterion) {
    unpin();
    let server = start_ipc(false);
    let inline = start_ipc(true);
    let raw = start_raw();
    let mut g = c.benchmark_group("throughput");
    g.throughput(Throughput::Elements(1))
        .sample_size(10)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));

    let cases: Vec<Case> = [
        ("ipc_handler", server.local_addr()),
        ("ipc_cheap_inline", inline.local_addr()),
        ("raw_tcp", raw),
    ]
    .into_iter()
    .map(|(name, addr)| {
        let conns = (0..THREADS)
            .map(|_| Mutex::new(Blocking::connect(addr)))
            .collect();
        (name, Shared::connect(addr), conns)
    })
    .collect();
    for (name, one, conns) in &cases {
        g.bench_function(format!("{name}/16_threads_1_connection"), |b| {
            b.iter_custom(|iters| spread(iters, |_| one.call()))
        });
        g.bench_function(format!("{name}/16_connections"), |b| {
            b.iter_custom(|iters| spread(iters, |t| conns[t].lock().unwrap().call()))
        });
    }
    g.finish();
    // Interleaved: short bursts of every case in turn, median rate of each.
    const ROUNDS: usize = 15;
    const CALLS: u64 = 3200;
    for (shape, one_conn) in [("16_threads_1_connection", true), ("16_connections", false)] {
        let mut rates: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
        for _ in 0..ROUNDS {
            for (i, (_, one, conns)) in cases.iter().enumerate() {
                let took = if one_conn {
                    spread(CALLS, |_| one.call())
                } else {
                    spread(CALLS, |t| conns[t].lock().unwrap().call())
                };
                rates[i].push(CALLS as f64 / took.as_secs_f64());
            }
        }
        let medians: Vec<f64> = rates
            .iter_mut()
            .map(|r| {
                r.sort_by(f64::total_cmp);
                r[r.len() / 2]
            })
            .collect();
        let base = medians[medians.len() - 1];
        for ((name, _, _), m) in cases.iter().zip(&medians) {
            println!(
                "throughput/{name}/{shape} interleaved: median {:.1} K calls/s, {:.0} % of the baseline",
                m / 1e3,
                100.0 * m / base
            );
        }
    }
}

criterion_group!(benches, latency, throughput);
criterion_main!(benches);
