//! The server over real loopback sockets: calls, concurrency, pipelining, SASL with
//! security off, back-pressure, restart.

mod util;

use std::io::Write;
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use ferrodfs_ipc::frame::{FrameBuilder, Preamble, AUTH_SASL, SASL_CALL_ID};
use ferrodfs_proto::common::rpc_response_header_proto::{RpcErrorCodeProto, RpcStatusProto};
use ferrodfs_proto::common::rpc_sasl_proto::SaslState;
use ferrodfs_proto::common::RpcSaslProto;
use prost::Message;
use util::*;

#[test]
fn echo_and_caller_identity() {
    let server = start();
    let mut c = RawClient::connect_as(server.local_addr(), "alice");
    c.assert_alive();
    let r = c.call("whoami", b"");
    assert_eq!(
        r.body.as_deref(),
        Some(format!("alice|-|{TEST_PROTOCOL}").as_bytes())
    );
    assert_eq!(r.header.server_ipc_version_num, Some(9));
    assert_eq!(r.header.client_id.as_deref(), Some(&[0xab; 16][..]));
    assert_eq!(r.header.retry_count, Some(0));
    assert_eq!(server.metrics().calls_served, 2);
    assert_eq!(server.metrics().open_connections, 1);
    drop(c);
    wait_until("the connection to close", || {
        server.metrics().open_connections == 0
    });
}

#[test]
fn service_errors_are_error_responses_and_the_connection_lives() {
    let server = start();
    let mut c = RawClient::connect(server.local_addr());
    let r = c.call("fail", b"");
    assert_eq!(r.status(), RpcStatusProto::Error as i32);
    assert_eq!(
        r.header.exception_class_name.as_deref(),
        Some("java.io.FileNotFoundException")
    );
    assert_eq!(r.header.error_msg.as_deref(), Some("no such file"));
    assert_eq!(
        r.header.error_detail,
        Some(RpcErrorCodeProto::ErrorApplication as i32)
    );
    c.assert_alive();
    let r = c.call("panic", b"");
    assert_eq!(r.status(), RpcStatusProto::Error as i32);
    c.assert_alive();
}

#[test]
fn many_threads_many_calls() {
    let server = builder().readers(2).handlers(4).start().unwrap();
    let addr = server.local_addr();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            thread::spawn(move || {
                let mut c = RawClient::connect(addr);
                for i in 0..200 {
                    let msg = format!("{t}-{i}");
                    let r = c.call("echo", msg.as_bytes());
                    assert!(r.is_success());
                    assert_eq!(r.body.as_deref(), Some(msg.as_bytes()));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(server.metrics().calls_served, 8 * 200);
}

#[test]
fn pipelined_calls_are_answered_in_completion_order() {
    let server = start();
    let mut c = RawClient::connect(server.local_addr());
    let slow = c.send("sleep", b"300");
    let fast = c.send("echo", b"fast");
    let first = c.recv();
    assert_eq!(first.call_id(), fast);
    assert_eq!(first.body.as_deref(), Some(&b"fast"[..]));
    let second = c.recv();
    assert_eq!(second.call_id(), slow);
    assert_eq!(second.body.as_deref(), Some(&b"300"[..]));
}

fn ran_on(r: &Response) -> String {
    String::from_utf8(r.body.clone().unwrap().to_vec()).unwrap()
}

#[test]
fn cheap_calls_run_on_the_reader_when_no_call_waits_and_others_on_handlers() {
    let server = builder().handlers(1).start().unwrap();
    let mut c = RawClient::connect(server.local_addr());
    assert_eq!(ran_on(&c.call("thread", b"")), "IPC Reader #0");
    assert_eq!(ran_on(&c.call("handler_thread", b"")), "IPC Handler #0");
    // The only handler is busy for a second and a call waits for it: a cheap call
    // behind them is queued too, not run ahead of the waiting call.
    let slow = c.send("sleep", b"1000");
    let waiting = c.send("sleep", b"1");
    let cheap = c.send("thread", b"");
    let answers: Vec<Response> = (0..3).map(|_| c.recv()).collect();
    let ids: Vec<i32> = answers.iter().map(Response::call_id).collect();
    assert_eq!(ids, [slow, waiting, cheap], "one handler, in queue order");
    assert_eq!(ran_on(&answers[2]), "IPC Handler #0");
}

#[test]
fn cheap_call_behind_a_slow_call_on_the_same_connection_is_answered_first() {
    let server = start();
    let mut c = RawClient::connect(server.local_addr());
    let slow = c.send("sleep", b"1000");
    // Answered before the slow call: the reader has queued the slow call by now.
    assert_eq!(ran_on(&c.call("handler_thread", b""))[..11], *"IPC Handler");
    wait_until("a handler to take the slow call", || {
        server.metrics().queued_calls == 0
    });
    let cheap = c.send("thread", b"");
    let first = c.recv();
    assert_eq!(first.call_id(), cheap);
    assert_eq!(ran_on(&first), "IPC Reader #0");
    assert_eq!(c.recv().call_id(), slow);
}

#[test]
fn many_pipelined_calls_on_one_connection() {
    let server = builder().handlers(4).start().unwrap();
    let mut c = RawClient::connect(server.local_addr());
    // Everything in one write, as hdfs-native does with concurrent calls.
    let mut all = Vec::new();
    for i in 0..500 {
        all.extend_from_slice(&call_frame(
            i,
            TEST_PROTOCOL,
            "echo",
            i.to_string().as_bytes(),
        ));
    }
    c.stream.write_all(&all).unwrap();
    let mut seen = vec![false; 500];
    for _ in 0..500 {
        let r = c.recv();
        let id = r.call_id() as usize;
        assert!(!seen[id]);
        seen[id] = true;
        assert_eq!(r.body.as_deref(), Some(id.to_string().as_bytes()));
    }
}

#[test]
fn concurrent_handlers_answering_one_connection_keep_frames_whole() {
    // Four handlers answer 300 pipelined calls at once, big and small mixed: answers
    // written together by whichever handler is writing, partly through the Responder
    // when the socket fills, must arrive as whole frames, each once.
    let server = builder().handlers(4).start().unwrap();
    let mut c = RawClient::connect(server.local_addr());
    let mut all = Vec::new();
    let size = |i: i32| if i % 3 == 0 { 200_000 } else { i as usize };
    for i in 0..300 {
        all.extend_from_slice(&call_frame(
            i,
            TEST_PROTOCOL,
            "big",
            size(i).to_string().as_bytes(),
        ));
    }
    c.stream.write_all(&all).unwrap();
    let mut seen = vec![false; 300];
    for _ in 0..300 {
        let r = c.recv();
        let id = r.call_id();
        assert!(!seen[id as usize], "answer {id} twice");
        seen[id as usize] = true;
        assert_eq!(r.body.map(|b| b.len()), Some(size(id)));
    }
    c.assert_alive();
}

#[test]
fn sasl_negotiate_is_answered_success_then_simple() {
    let server = start();
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    s.write_all(
        &Preamble {
            service_class: 0,
            auth_protocol: AUTH_SASL,
        }
        .encode(),
    )
    .unwrap();
    let negotiate = RpcSaslProto {
        state: SaslState::Negotiate as i32,
        ..Default::default()
    };
    s.write_all(
        &FrameBuilder::new()
            .message(&request_header(SASL_CALL_ID))
            .message(&negotiate)
            .finish(),
    )
    .unwrap();
    let r = read_response(&mut s).unwrap();
    assert_eq!(r.header.call_id, 4294967263);
    assert!(r.is_success());
    let sasl = RpcSaslProto::decode(r.body.unwrap()).unwrap();
    assert_eq!(sasl.state, SaslState::Success as i32);
    s.write_all(&context_frame("blk_1073741825_1001", TEST_PROTOCOL))
        .unwrap();
    s.write_all(&call_frame(0, TEST_PROTOCOL, "whoami", b""))
        .unwrap();
    let r = read_response(&mut s).unwrap();
    assert!(r.is_success());
    assert!(r.body.unwrap().starts_with(b"blk_1073741825_1001|"));
}

#[test]
fn full_call_queue_stops_reading_instead_of_buffering() {
    // One handler, room for two queued calls: a burst of slow calls must wait in the
    // client's socket, not in server memory, and all still get answered.
    let server = builder().handlers(1).queue_size(2).start().unwrap();
    let mut c = RawClient::connect(server.local_addr());
    let mut burst = Vec::new();
    for i in 0..20 {
        burst.extend_from_slice(&call_frame(i, TEST_PROTOCOL, "sleep", b"10"));
    }
    c.stream.write_all(&burst).unwrap();
    let mut max_queued = 0;
    let mut other = RawClient::connect(server.local_addr());
    for i in 0..20 {
        max_queued = max_queued.max(server.metrics().queued_calls);
        let r = c.recv();
        assert_eq!(r.call_id(), i, "one handler answers in order");
    }
    assert!(max_queued <= 2, "queue held {max_queued}");
    other.assert_alive();
}

#[test]
fn concurrent_connections_with_a_barrier_start() {
    let server = builder().readers(3).handlers(8).start().unwrap();
    let addr = server.local_addr();
    let barrier = Arc::new(Barrier::new(16));
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let b = Arc::clone(&barrier);
            thread::spawn(move || {
                let mut c = RawClient::connect(addr);
                b.wait();
                for _ in 0..50 {
                    c.assert_alive();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(server.metrics().accepted_connections, 16);
}

#[test]
fn server_restart_on_the_same_port() {
    let server = start();
    let addr = server.local_addr();
    let mut c = RawClient::connect(addr);
    c.assert_alive();
    let t = Instant::now();
    server.shutdown();
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        t.elapsed()
    );
    assert_closed(&mut c.stream);
    let server = builder().bind(addr).handlers(2).start().unwrap();
    assert_eq!(server.local_addr(), addr);
    let mut c = RawClient::connect(addr);
    c.assert_alive();
}

#[test]
fn shutdown_with_a_call_in_flight_and_drop_joins() {
    let server = start();
    let mut c = RawClient::connect(server.local_addr());
    c.send("sleep", b"200");
    wait_until("the call to start", || server.metrics().queued_calls == 0);
    drop(server); // joins every thread, including the handler in its sleep
    assert_closed(&mut c.stream);
}

#[test]
fn threads_are_named() {
    let server = builder().readers(2).handlers(2).start().unwrap();
    let names = thread_names();
    for n in [
        "IPC Listener",
        "IPC Reader #0",
        "IPC Reader #1",
        "IPC Handler #0",
        "IPC Handler #1",
        "IPC Responder",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
    }
    drop(server);
}

fn thread_names() -> Vec<String> {
    let mut names = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for e in dir.flatten() {
            if let Ok(n) = std::fs::read_to_string(e.path().join("comm")) {
                names.push(n.trim().to_string());
            }
        }
    }
    names
}
