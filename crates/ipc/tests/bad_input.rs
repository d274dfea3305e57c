//! Bad input: each case gets Hadoop's answer, only that connection closes, and a
//! well-behaved client on another connection keeps getting answers.

mod util;

use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use ferrodfs_ipc::frame::{FrameBuilder, Preamble};
use ferrodfs_ipc::server::Server;
use ferrodfs_proto::common::rpc_response_header_proto::{RpcErrorCodeProto, RpcStatusProto};
use util::*;

/// Starts a server with a well-behaved client already connected.
fn setup() -> (Server, RawClient) {
    setup_with_idle(Duration::from_secs(30))
}

fn setup_with_idle(idle: Duration) -> (Server, RawClient) {
    let server = builder()
        .handlers(2)
        .max_frame_len(64 * 1024)
        .idle_timeout(idle)
        .start()
        .unwrap();
    let mut good = RawClient::connect(server.local_addr());
    good.assert_alive();
    (server, good)
}

fn raw(server: &Server, bytes: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(bytes).unwrap();
    s
}

/// Expects one FATAL answer, then the close.
fn expect_fatal(s: &mut TcpStream, code: RpcErrorCodeProto, class: &str) -> Response {
    let r = read_response(s).expect("a FATAL answer");
    assert_eq!(r.status(), RpcStatusProto::Fatal as i32, "{:?}", r.header);
    assert_eq!(r.header.error_detail, Some(code as i32), "{:?}", r.header);
    assert_eq!(r.header.exception_class_name.as_deref(), Some(class));
    assert_closed(s);
    r
}

fn handshake() -> Vec<u8> {
    let mut v = Preamble::SIMPLE.encode().to_vec();
    v.extend_from_slice(&context_frame("mallory", TEST_PROTOCOL));
    v
}

#[test]
fn wrong_magic() {
    let (server, mut good) = setup();
    let mut s = raw(&server, b"hrpx\x09\x00\x00");
    let r = expect_fatal(
        &mut s,
        RpcErrorCodeProto::FatalVersionMismatch,
        "org.apache.hadoop.ipc.RPC$VersionMismatch",
    );
    assert_eq!(r.call_id(), -1);
    good.assert_alive();
}

#[test]
fn http_get_on_the_ipc_port() {
    let (server, mut good) = setup();
    let mut s = raw(&server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut s, &mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 404"), "{text}");
    good.assert_alive();
}

#[test]
fn wrong_version() {
    let (server, mut good) = setup();
    let mut s = raw(&server, b"hrpc\x07\x00\x00");
    let r = expect_fatal(
        &mut s,
        RpcErrorCodeProto::FatalVersionMismatch,
        "org.apache.hadoop.ipc.RPC$VersionMismatch",
    );
    assert!(r.header.error_msg.unwrap().contains("client version 7"));
    good.assert_alive();
}

#[test]
fn unknown_auth() {
    let (server, mut good) = setup();
    let mut s = raw(&server, b"hrpc\x09\x00\x51");
    expect_fatal(
        &mut s,
        RpcErrorCodeProto::FatalUnauthorized,
        "org.apache.hadoop.ipc.IpcException",
    );
    good.assert_alive();
}

#[test]
fn frame_length_over_the_maximum_or_negative_closes() {
    let (server, mut good) = setup();
    for len in [64 * 1024 + 1, -1i32 as u32, 0x8000_0000] {
        let mut bytes = handshake();
        bytes.extend_from_slice(&len.to_be_bytes());
        let mut s = raw(&server, &bytes);
        // Hadoop answers nothing here: it closes.
        assert!(read_response(&mut s).is_none());
        assert_closed(&mut s);
    }
    assert!(server.metrics().fatal_responses >= 3);
    good.assert_alive();
}

#[test]
fn default_maximum_is_128_mib() {
    let server = builder().start().unwrap();
    assert_eq!(server.config().max_frame_len, 128 * 1024 * 1024);
}

#[test]
fn truncated_frame_then_close() {
    let (server, mut good) = setup();
    let before = server.metrics().open_connections;
    let mut bytes = handshake();
    let frame = call_frame(0, TEST_PROTOCOL, "echo", b"0123456789");
    bytes.extend_from_slice(&frame[..frame.len() - 5]);
    let s = raw(&server, &bytes);
    wait_until("the partial frame to be read", || {
        server.metrics().open_connections == before + 1
    });
    drop(s);
    wait_until("the truncated connection to be dropped", || {
        server.metrics().open_connections == before
    });
    assert_eq!(server.metrics().calls_served, 1);
    good.assert_alive();
}

#[test]
fn undecodable_rpc_header() {
    let (server, mut good) = setup();
    let mut bytes = handshake();
    // A frame whose first message promises 3 bytes of garbage wire types.
    bytes.extend_from_slice(&[0, 0, 0, 4, 3, 0xff, 0xff, 0xff]);
    let mut s = raw(&server, &bytes);
    let r = expect_fatal(
        &mut s,
        RpcErrorCodeProto::FatalDeserializingRequest,
        "org.apache.hadoop.ipc.Server$FatalRpcServerException",
    );
    assert_eq!(r.call_id(), -1);
    good.assert_alive();
}

#[test]
fn undecodable_request_header() {
    let (server, mut good) = setup();
    let mut bytes = handshake();
    bytes.extend_from_slice(
        &FrameBuilder::new()
            .message(&request_header(4))
            .raw(&[3, 0xff, 0xff, 0xff])
            .finish(),
    );
    let mut s = raw(&server, &bytes);
    let r = expect_fatal(
        &mut s,
        RpcErrorCodeProto::FatalDeserializingRequest,
        "org.apache.hadoop.ipc.Server$FatalRpcServerException",
    );
    assert_eq!(r.call_id(), 4);
    good.assert_alive();
}

#[test]
fn header_without_rpc_kind_or_op_and_call_before_context() {
    let (server, mut good) = setup();
    let mut h = request_header(1);
    h.rpc_op = None;
    let mut bytes = handshake();
    bytes.extend_from_slice(&FrameBuilder::new().message(&h).finish());
    let mut s = raw(&server, &bytes);
    expect_fatal(
        &mut s,
        RpcErrorCodeProto::FatalInvalidRpcHeader,
        "org.apache.hadoop.ipc.Server$FatalRpcServerException",
    );

    let mut bytes = Preamble::SIMPLE.encode().to_vec();
    bytes.extend_from_slice(&call_frame(0, TEST_PROTOCOL, "echo", b"x"));
    let mut s = raw(&server, &bytes);
    let r = expect_fatal(
        &mut s,
        RpcErrorCodeProto::FatalInvalidRpcHeader,
        "org.apache.hadoop.ipc.Server$FatalRpcServerException",
    );
    assert_eq!(
        r.header.error_msg.as_deref(),
        Some("Connection context not established")
    );
    good.assert_alive();
}

#[test]
fn unknown_protocol_and_method_are_errors_not_fatal() {
    let (_server, mut good) = setup();
    good.send_to("org.example.Nope", "echo", b"");
    let r = good.recv();
    assert_eq!(r.status(), RpcStatusProto::Error as i32);
    assert_eq!(
        r.header.exception_class_name.as_deref(),
        Some("org.apache.hadoop.ipc.RpcNoSuchProtocolException")
    );
    assert_eq!(
        r.header.error_detail,
        Some(RpcErrorCodeProto::ErrorNoSuchProtocol as i32)
    );
    let r = good.call("noSuchMethod", b"");
    assert_eq!(r.status(), RpcStatusProto::Error as i32);
    assert_eq!(
        r.header.exception_class_name.as_deref(),
        Some("org.apache.hadoop.ipc.RpcNoSuchMethodException")
    );
    assert_eq!(
        r.header.error_detail,
        Some(RpcErrorCodeProto::ErrorNoSuchMethod as i32)
    );
    good.assert_alive();
}

#[test]
fn silent_client_is_closed_after_the_idle_timeout() {
    let (server, good) = setup_with_idle(Duration::from_millis(300));
    let start = Instant::now();
    let mut silent = TcpStream::connect(server.local_addr()).unwrap();
    let mut half = TcpStream::connect(server.local_addr()).unwrap();
    half.write_all(&handshake()).unwrap();
    assert_closed(&mut silent);
    assert_closed(&mut half);
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(300), "closed after {took:?}");
    assert!(server.metrics().idle_closed >= 2);
    // The good client was idle too and got closed; a new one is served.
    let mut again = RawClient::connect(server.local_addr());
    again.assert_alive();
    drop(good.stream.shutdown(std::net::Shutdown::Both));
}

#[test]
fn busy_connection_is_not_idle() {
    let (server, _good) = setup_with_idle(Duration::from_millis(300));
    let mut c = RawClient::connect(server.local_addr());
    // A call longer than the idle timeout keeps its connection.
    let r = c.call("sleep", b"600");
    assert!(r.is_success());
    c.assert_alive();
}

#[test]
fn client_that_never_reads_is_paused_with_bounded_memory() {
    let limit = 256 * 1024;
    let server = builder()
        .handlers(2)
        .queue_size(8)
        .max_pending_output(limit)
        .start()
        .unwrap();
    let mut good = RawClient::connect(server.local_addr());
    // Flood calls each answered with 64 KiB, never reading.
    let mut flood = TcpStream::connect(server.local_addr()).unwrap();
    flood
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    flood.write_all(&handshake()).unwrap();
    let frame = call_frame(0, TEST_PROTOCOL, "big", b"65536");
    let mut sent = 0usize;
    let blocked = loop {
        match flood.write(&frame) {
            Ok(n) => sent += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break true
            }
            Err(e) => panic!("flood write failed: {e}"),
        }
        if sent > 512 * 1024 * 1024 {
            break false;
        }
    };
    assert!(blocked, "the server kept reading {sent} bytes of requests");
    let m = server.metrics();
    // Unsent answers: at most the limit, plus the answers of calls already queued or
    // running when reading stopped, plus one.
    let bound = limit + (8 + 2 + 1) * (65536 + 64);
    assert!(
        m.pending_output_bytes <= bound,
        "{} bytes pending (bound {bound})",
        m.pending_output_bytes
    );
    // Others are unaffected.
    good.assert_alive();
    let mut other = RawClient::connect(server.local_addr());
    other.assert_alive();
    drop(flood);
    wait_until("the flooder's output to be dropped", || {
        server.metrics().pending_output_bytes == 0
    });
}

#[test]
fn connections_over_the_maximum_are_closed_right_after_accept() {
    let server = builder().handlers(2).max_connections(2).start().unwrap();
    let mut a = RawClient::connect(server.local_addr());
    a.assert_alive();
    let mut b = RawClient::connect(server.local_addr());
    b.assert_alive();
    // The kernel completes the handshake; the server closes it unread.
    let mut third = raw(&server, &handshake());
    assert_closed(&mut third);
    assert_eq!(server.metrics().dropped_connections, 1);
    a.assert_alive();
    b.assert_alive();
    // Room again once one leaves.
    drop(a);
    wait_until("the first connection to close", || {
        server.metrics().open_connections == 1
    });
    let mut c = RawClient::connect(server.local_addr());
    c.assert_alive();
    b.assert_alive();
}

#[test]
fn client_that_never_reads_is_closed_after_the_purge_interval() {
    let server = builder()
        .handlers(2)
        .max_pending_output(64 * 1024)
        .purge_interval(Duration::from_millis(300))
        .start()
        .unwrap();
    let mut good = RawClient::connect(server.local_addr());
    // Calls answered with 1 MiB each, never read: answers pile up, then stop moving.
    let mut stuck = raw(&server, &handshake());
    for i in 0..8 {
        stuck
            .write_all(&call_frame(i, TEST_PROTOCOL, "big", b"1048576"))
            .unwrap();
    }
    wait_until("answers to queue up", || {
        server.metrics().pending_output_bytes > 0
    });
    let queued = Instant::now();
    wait_until("the stuck connection to be purged", || {
        server.metrics().purged_connections == 1
    });
    assert!(queued.elapsed() >= Duration::from_millis(300));
    wait_until("its answers to be dropped", || {
        server.metrics().pending_output_bytes == 0
    });
    assert_closed(&mut stuck);
    // A client that reads, even slowly, is not purged.
    good.assert_alive();
    let id = good.send("big", b"1048576");
    let r = good.recv();
    assert_eq!(r.call_id(), id);
    assert_eq!(server.metrics().purged_connections, 1);
}
