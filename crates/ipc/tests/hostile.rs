//! Hostile peers on real sockets: oversized announcements, frames that never finish,
//! slowloris, silence, one IP opening too many connections, replies over the client's
//! limit. Each costs what it sent, is closed within its limit, and a well-behaved
//! client is served throughout.

mod util;

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ferrodfs_ipc::client::{ClientConfig, RetryPolicy, RpcClient};
use ferrodfs_ipc::frame::{FrameBuilder, Preamble, IPC_MAXIMUM_DATA_LENGTH_DEFAULT};
use ferrodfs_ipc::server::Server;
use ferrodfs_ipc::Error;
use ferrodfs_proto::common::rpc_response_header_proto::{RpcErrorCodeProto, RpcStatusProto};
use ferrodfs_proto::common::RequestHeaderProto;
use ferrodfs_proto::hdfs::{GetFileInfoRequestProto, GetFileInfoResponseProto};
use ferrodfs_proto::protocol::CLIENT_NAMENODE;
use util::*;

const MAX: usize = IPC_MAXIMUM_DATA_LENGTH_DEFAULT;

fn handshake() -> Vec<u8> {
    let mut v = Preamble::SIMPLE.encode().to_vec();
    v.extend_from_slice(&context_frame("mallory", TEST_PROTOCOL));
    v
}

fn raw(server: &Server, bytes: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    s.write_all(bytes).unwrap();
    s
}

/// The handshake, then a frame header announcing `len` bytes, then `body` of it.
fn announce(server: &Server, len: u32, body: &[u8]) -> TcpStream {
    let mut bytes = handshake();
    bytes.extend_from_slice(&len.to_be_bytes());
    bytes.extend_from_slice(body);
    raw(server, &bytes)
}

/// This process's address-space size (VmSize), in bytes.
fn vm_size() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmSize:"))
        .expect("VmSize");
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmSize value");
    kb * 1024
}

/// Waits until the peer closes `s` (EOF or reset); returns how long that took.
fn closed_within(s: &mut TcpStream, limit: Duration) -> Duration {
    let start = Instant::now();
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return start.elapsed(),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return start.elapsed(),
            Err(e) => panic!("not closed within {limit:?}: {e}"),
        }
    }
}

/// A well-behaved client making calls on its own thread until `stop`; counts them and
/// fails the test if one fails or takes over two seconds.
fn steady_client(server: &Server, stop: Arc<AtomicBool>) -> thread::JoinHandle<usize> {
    let addr = server.local_addr();
    thread::spawn(move || {
        let mut c = RawClient::connect(addr);
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) && n < 1_000_000 {
            let t = Instant::now();
            c.assert_alive();
            assert!(
                t.elapsed() < Duration::from_secs(2),
                "a call took {:?}",
                t.elapsed()
            );
            n += 1;
            thread::sleep(Duration::from_millis(2));
        }
        n
    })
}

#[test]
fn announced_lengths_over_the_maximum_close_the_connection() {
    let server = builder().handlers(2).start().unwrap();
    let mut good = RawClient::connect(server.local_addr());
    for len in [MAX as u32 + 1, i32::MAX as u32, u32::MAX] {
        let mut s = announce(&server, len, b"0123456789");
        // Hadoop's checkDataLength: no answer, the connection closes.
        closed_within(&mut s, Duration::from_secs(10));
        good.assert_alive();
    }
    assert!(server.metrics().fatal_responses >= 3);
}

#[test]
fn frames_announcing_the_maximum_cost_what_arrived_not_what_was_announced() {
    const CONNS: usize = 40;
    let server = builder().handlers(2).start().unwrap();
    let mut good = RawClient::connect(server.local_addr());
    good.assert_alive();
    let before = vm_size();
    let hostile: Vec<TcpStream> = (0..CONNS)
        .map(|_| announce(&server, MAX as u32, &[7u8; 1000]))
        .collect();
    wait_until("every hostile connection to be read", || {
        server.metrics().open_connections > CONNS
    });
    // Let the reader take in what they sent.
    thread::sleep(Duration::from_millis(200));
    good.assert_alive();
    let grew = vm_size().saturating_sub(before);
    // Reserving the announced length would add 40 x 128 MiB = 5 GiB of address space.
    assert!(
        grew < 2 << 30,
        "address space grew by {} MiB for {CONNS} announced 128 MiB frames",
        grew >> 20
    );
    drop(hostile);
}

#[test]
fn a_frame_announced_at_128_mib_and_sent_slowly_is_closed_at_its_deadline() {
    let timeout = Duration::from_millis(1000);
    let server = builder()
        .handlers(2)
        .frame_timeout(timeout)
        .frame_min_rate(64 * 1024)
        .start()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let good = steady_client(&server, Arc::clone(&stop));
    let mut s = announce(&server, MAX as u32, &[1u8; 100]);
    let start = Instant::now();
    // 100 bytes every 100 ms (1 KB/s, far below 64 KiB/s): each buys 1.5 ms.
    let mut closed = false;
    for _ in 0..50 {
        thread::sleep(Duration::from_millis(100));
        if s.write_all(&[1u8; 100]).is_err() {
            closed = true;
            break;
        }
        if server.metrics().slow_frames_closed == 1 {
            closed = true;
            break;
        }
    }
    assert!(closed, "still open after {:?}", start.elapsed());
    let took = start.elapsed();
    assert!(took >= timeout, "closed after {took:?}");
    assert!(took < Duration::from_secs(4), "closed after {took:?}");
    closed_within(&mut s, Duration::from_secs(5));
    stop.store(true, Ordering::Relaxed);
    assert!(good.join().unwrap() > 10);
}

#[test]
fn slowloris_at_one_byte_a_second_is_closed_within_the_limit() {
    let timeout = Duration::from_secs(2);
    let server = builder()
        .handlers(2)
        .frame_timeout(timeout)
        .idle_timeout(Duration::from_secs(60))
        .start()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let good = steady_client(&server, Arc::clone(&stop));
    // Two slowlorises: one in the preamble, one in a call frame after the handshake.
    let frame = call_frame(1, TEST_PROTOCOL, "echo", &[b'x'; 200]);
    let mut in_frame = raw(&server, &handshake());
    let mut in_preamble = TcpStream::connect(server.local_addr()).unwrap();
    let start = Instant::now();
    let mut open = [true, true];
    for i in 0..12 {
        for (k, s) in [&mut in_preamble, &mut in_frame].into_iter().enumerate() {
            let byte = if k == 0 {
                b"hrpc\x09\x00\x00"[i % 7]
            } else {
                frame[i]
            };
            if open[k] && s.write_all(&[byte]).is_err() {
                open[k] = false;
            }
        }
        if server.metrics().slow_frames_closed >= 2 {
            break;
        }
        thread::sleep(Duration::from_secs(1));
    }
    let took = start.elapsed();
    assert_eq!(server.metrics().slow_frames_closed, 2, "after {took:?}");
    assert!(took >= timeout, "closed after {took:?}");
    // The limit, plus one sweep (timeout / 4) and one 1 s write step.
    assert!(
        took <= timeout + Duration::from_millis(1500 + 500),
        "closed after {took:?}"
    );
    closed_within(&mut in_preamble, Duration::from_secs(5));
    closed_within(&mut in_frame, Duration::from_secs(5));
    stop.store(true, Ordering::Relaxed);
    assert!(good.join().unwrap() > 10);
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit now.
fn raise_fd_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current != lim.maximum {
        lim.current = lim.maximum;
        let _ = setrlimit(Resource::Nofile, lim);
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

#[test]
fn many_idle_and_half_open_connections_are_closed_and_do_not_starve_a_client() {
    // 500 idle and 1,000 half-open, each using two descriptors in this process (both
    // ends); fewer if the hard descriptor limit does not allow it.
    let room = (raise_fd_limit().saturating_sub(300) / 2) as usize;
    let scale = |n: usize| n.min(room * n / 1500);
    let (idle_n, half_open_n) = (scale(500), scale(1000));
    assert!(
        idle_n >= 100,
        "descriptor limit too low: room for {room} connections"
    );
    let idle = Duration::from_millis(1500);
    // All from 127.0.0.1: the default per-IP cap (1024) would refuse some.
    let server = builder()
        .handlers(2)
        .idle_timeout(idle)
        .frame_timeout(idle)
        .max_connections_per_ip(0)
        .start()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let good = steady_client(&server, Arc::clone(&stop));
    let start = Instant::now();
    let mut conns: Vec<TcpStream> = Vec::new();
    for i in 0..idle_n {
        // Half silent from the start, half after a complete handshake.
        let s = TcpStream::connect(server.local_addr()).unwrap();
        if i % 2 == 1 {
            (&s).write_all(&handshake()).unwrap();
        }
        conns.push(s);
    }
    for _ in 0..half_open_n {
        conns.push(announce(&server, MAX as u32, b"abc"));
    }
    let opened = start.elapsed();
    wait_until("the hostile connections to be closed", || {
        server.metrics().open_connections <= 1
    });
    let took = start.elapsed();
    let m = server.metrics();
    assert!(m.idle_closed >= idle_n as u64, "{m:?}");
    assert!(m.slow_frames_closed >= half_open_n as u64, "{m:?}");
    assert!(took >= idle, "closed after {took:?}");
    assert!(
        took <= opened + idle + Duration::from_secs(2),
        "closed after {took:?}"
    );
    for s in &mut conns[..20] {
        closed_within(s, Duration::from_secs(5));
    }
    stop.store(true, Ordering::Relaxed);
    assert!(good.join().unwrap() > 10);
}

#[test]
fn connections_over_the_per_ip_cap_are_refused() {
    let server = builder()
        .handlers(2)
        .max_connections_per_ip(3)
        .start()
        .unwrap();
    assert_eq!(
        Server::builder()
            .start()
            .unwrap()
            .config()
            .max_connections_per_ip,
        1024
    );
    let mut clients: Vec<RawClient> = (0..3)
        .map(|_| RawClient::connect(server.local_addr()))
        .collect();
    for c in &mut clients {
        c.assert_alive();
    }
    let mut fourth = raw(&server, &handshake());
    closed_within(&mut fourth, Duration::from_secs(5));
    let m = server.metrics();
    assert_eq!((m.dropped_per_ip, m.dropped_connections), (1, 1));
    for c in &mut clients {
        c.assert_alive();
    }
    drop(clients.pop());
    wait_until("a connection to close", || {
        server.metrics().open_connections == 2
    });
    let mut again = RawClient::connect(server.local_addr());
    again.assert_alive();
}

#[test]
fn lengths_inside_a_frame_are_bounded_by_the_frame() {
    let server = builder().handlers(2).start().unwrap();
    let mut good = RawClient::connect(server.local_addr());
    let before = vm_size();
    // A connection context whose user name claims 2^31-1 bytes, in a 30-byte frame.
    // userInfo (field 2, 6 bytes) { effectiveUser (field 1): length varint 2^31-1 }
    let ctx = [0x12, 0x06, 0x0a, 0xff, 0xff, 0xff, 0xff, 0x07];
    let mut bytes = Preamble::SIMPLE.encode().to_vec();
    bytes.extend_from_slice(
        &FrameBuilder::new()
            .message(&request_header(-3))
            .raw(&[ctx.len() as u8])
            .raw(&ctx)
            .finish(),
    );
    let mut s = raw(&server, &bytes);
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let r = read_response(&mut s).expect("a FATAL answer");
    assert_eq!(r.status(), RpcStatusProto::Fatal as i32);
    assert_eq!(
        r.header.error_detail,
        Some(RpcErrorCodeProto::FatalDeserializingRequest as i32)
    );
    // A request header whose varint length is 2^31-1, then the same for the request.
    let mut bytes = handshake();
    bytes.extend_from_slice(&12u32.to_be_bytes());
    bytes.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x07, 1, 2, 3, 4, 5, 6, 7]);
    let mut s = raw(&server, &bytes);
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let r = read_response(&mut s).expect("a FATAL answer");
    assert_eq!(r.status(), RpcStatusProto::Fatal as i32);
    // A call whose request message's varint length is 2^31-1.
    let rh = RequestHeaderProto {
        method_name: "echo".into(),
        declaring_class_protocol_name: TEST_PROTOCOL.into(),
        client_protocol_version: 1,
    };
    let call = FrameBuilder::new()
        .message(&request_header(3))
        .message(&rh)
        .raw(&[0xff, 0xff, 0xff, 0xff, 0x07, 1, 2, 3])
        .finish();
    let mut bytes = handshake();
    bytes.extend_from_slice(&call);
    let mut s = raw(&server, &bytes);
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let r = read_response(&mut s).expect("an answer");
    assert_ne!(r.status(), RpcStatusProto::Success as i32);
    // SASL: a NEGOTIATE-state message claiming a 2^31-1 byte token.
    let mut bytes = Preamble {
        service_class: 0,
        auth_protocol: ferrodfs_ipc::frame::AUTH_SASL,
    }
    .encode()
    .to_vec();
    // state (field 2) = NEGOTIATE, token (field 3): length varint 2^31-1.
    let sasl = [0x10, 0x01, 0x1a, 0xff, 0xff, 0xff, 0xff, 0x07];
    bytes.extend_from_slice(
        &FrameBuilder::new()
            .message(&request_header(-33))
            .raw(&[sasl.len() as u8])
            .raw(&sasl)
            .finish(),
    );
    let mut s = raw(&server, &bytes);
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let r = read_response(&mut s).expect("a FATAL answer");
    assert_eq!(r.status(), RpcStatusProto::Fatal as i32);
    assert!(vm_size().saturating_sub(before) < 1 << 30);
    good.assert_alive();
}

/// A fake server that reads the handshake and one call, then answers with a frame
/// header announcing `len` and a few bytes, and keeps the connection open.
fn lying_server(len: u32) -> (std::net::SocketAddr, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let t = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        let mut reply = len.to_be_bytes().to_vec();
        reply.extend_from_slice(&[0u8; 16]);
        let _ = s.write_all(&reply);
        // Hold the connection until the client closes it.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {}
                Err(_) => break,
            }
        }
    });
    (addr, t)
}

#[test]
fn client_refuses_replies_over_ipc_maximum_response_length() {
    for (max, len) in [(1024usize, 1025u32), (MAX, i32::MAX as u32)] {
        let (addr, server) = lying_server(len);
        let client = RpcClient::new(ClientConfig {
            user: "tester".into(),
            call_timeout: Some(Duration::from_secs(10)),
            retry: RetryPolicy::NONE,
            call_retry: RetryPolicy::NONE,
            max_response_len: max,
            ..ClientConfig::default()
        });
        let start = Instant::now();
        let r: Result<GetFileInfoResponseProto, Error> = client.call(
            addr,
            CLIENT_NAMENODE,
            "getFileInfo",
            &GetFileInfoRequestProto { src: "/".into() },
        );
        let e = r.expect_err("a reply over the maximum");
        assert!(
            e.to_string().contains(
                "org.apache.hadoop.ipc.RpcException: RPC response exceeds maximum data length"
            ),
            "{e}"
        );
        assert!(start.elapsed() < Duration::from_secs(5));
        drop(client);
        server.join().unwrap();
    }
}

#[test]
fn limits_apply_from_a_configuration() {
    let mut conf = ferrodfs_conf::Configuration::new();
    conf.set("ipc.maximum.data.length", "4096");
    conf.set("ipc.server.max.connections.per.ip", "1");
    let limits = ferrodfs_ipc::server::Limits::from_conf(&conf).unwrap();
    let server = builder().handlers(2).limits(&limits).start().unwrap();
    assert_eq!(server.config().max_frame_len, 4096);
    let mut one = RawClient::connect(server.local_addr());
    one.assert_alive();
    let mut two = raw(&server, &handshake());
    closed_within(&mut two, Duration::from_secs(5));
    assert_eq!(server.metrics().dropped_per_ip, 1);
    drop(one);
    wait_until("the first to close", || {
        server.metrics().open_connections == 0
    });
    let mut big = announce(&server, 4097, b"");
    closed_within(&mut big, Duration::from_secs(5));
    assert_eq!(server.metrics().dropped_per_ip, 1);
}
