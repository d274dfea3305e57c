//! RpcClient calls against a real socket: multiplexing, errors, failures, timeouts.

mod client_util;

use client_util::{Options, Reply, Request, TestServer};
use ferrodfs_ipc::client::{ClientConfig, RetryPolicy, RpcClient};
use ferrodfs_ipc::exception::JavaException;
use ferrodfs_ipc::Error;
use ferrodfs_proto::hdfs::{
    GetFileInfoRequestProto, GetFileInfoResponseProto, HdfsFileStatusProto,
};
use ferrodfs_proto::protocol::CLIENT_NAMENODE;
use std::sync::Arc;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

fn config() -> ClientConfig {
    ClientConfig {
        user: "tester".into(),
        call_timeout: Some(Duration::from_secs(20)),
        retry: RetryPolicy::NONE,
        ..ClientConfig::default()
    }
}

/// Echoes the path back in `fs.path`; paths starting with `/error`, `/fatal`, `/silent`
/// get those replies.
fn echo(req: &Request) -> Reply {
    let src = req.decode::<GetFileInfoRequestProto>().src;
    if src.starts_with("/error") {
        return Reply::Error(
            "java.io.FileNotFoundException".into(),
            format!("File does not exist: {src}"),
        );
    }
    if src.starts_with("/fatal") {
        return Reply::Fatal(
            "org.apache.hadoop.ipc.Server$FatalRpcServerException".into(),
            "bad header".into(),
        );
    }
    if src.starts_with("/silent") {
        return Reply::Silent;
    }
    Reply::ok(&GetFileInfoResponseProto {
        fs: Some(HdfsFileStatusProto {
            path: src.into_bytes(),
            ..Default::default()
        }),
    })
}

fn get_file_info(
    client: &RpcClient,
    addr: std::net::SocketAddr,
    src: &str,
) -> Result<String, Error> {
    let resp: GetFileInfoResponseProto = client.call(
        addr,
        CLIENT_NAMENODE,
        "getFileInfo",
        &GetFileInfoRequestProto { src: src.into() },
    )?;
    Ok(String::from_utf8(resp.fs.expect("fs").path).unwrap())
}

#[test]
fn many_threads_share_one_connection_and_get_their_own_replies_out_of_order() {
    let server = TestServer::start_with(
        "127.0.0.1:0".parse().unwrap(),
        Options {
            swap_pairs: true,
            handler: Arc::new(echo),
        },
    );
    let client = RpcClient::new(config());
    const THREADS: usize = 8;
    const CALLS: usize = 200;
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let client = client.clone();
            let addr = server.addr;
            s.spawn(move || {
                for i in 0..CALLS {
                    let src = format!("/t{t}/c{i}");
                    assert_eq!(get_file_info(&client, addr, &src).unwrap(), src);
                }
            });
        }
    });
    server.log(|l| {
        assert_eq!(l.conns.len(), 1, "one pooled connection");
        assert_eq!(l.conns[0].requests, THREADS * CALLS);
    });
    assert_eq!(client.open_connections(), 1);
}

#[test]
fn replies_matched_by_call_id_not_order() {
    // With swapped pairs two concurrent calls are answered second-first; each caller
    // must still get its own reply (checked by content in the test above). Here: a
    // single thread also works, the lone reply being flushed by the server's timer.
    let server = TestServer::start_with(
        "127.0.0.1:0".parse().unwrap(),
        Options {
            swap_pairs: true,
            handler: Arc::new(echo),
        },
    );
    let client = RpcClient::new(config());
    for i in 0..5 {
        let src = format!("/single/{i}");
        assert_eq!(get_file_info(&client, server.addr, &src).unwrap(), src);
    }
}

#[test]
fn error_reply_is_a_typed_remote_exception_and_the_connection_lives_on() {
    let server = TestServer::start(echo);
    let client = RpcClient::new(config());
    let err = get_file_info(&client, server.addr, "/error/x").unwrap_err();
    match &err {
        Error::Remote(e) => {
            assert_eq!(e.exception, JavaException::FileNotFound);
            assert_eq!(e.class_name(), "java.io.FileNotFoundException");
            assert_eq!(e.message, "File does not exist: /error/x");
        }
        other => panic!("expected Remote, got {other:?}"),
    }
    assert!(err.is(&JavaException::FileNotFound));
    assert_eq!(get_file_info(&client, server.addr, "/ok").unwrap(), "/ok");
    server.log(|l| assert_eq!(l.conns.len(), 1));
}

#[test]
fn unknown_exception_class_is_kept_by_name() {
    let server =
        TestServer::start(|_req: &Request| Reply::Error("com.example.Weird".into(), "odd".into()));
    let client = RpcClient::new(config());
    let err = get_file_info(&client, server.addr, "/x").unwrap_err();
    assert_eq!(
        err.java_exception(),
        Some(&JavaException::Other("com.example.Weird".into()))
    );
}

#[test]
fn fatal_reply_fails_the_call_and_drops_the_connection() {
    let server = TestServer::start(echo);
    let client = RpcClient::new(config());
    assert_eq!(get_file_info(&client, server.addr, "/a").unwrap(), "/a");
    let err = get_file_info(&client, server.addr, "/fatal").unwrap_err();
    match &err {
        Error::Fatal(e) => assert_eq!(e.exception, JavaException::FatalRpcServerException),
        other => panic!("expected Fatal, got {other:?}"),
    }
    // The next call goes out on a new connection.
    assert_eq!(get_file_info(&client, server.addr, "/b").unwrap(), "/b");
    server.log(|l| assert_eq!(l.conns.len(), 2));
}

#[test]
fn killed_server_fails_outstanding_calls_promptly_and_a_restarted_one_is_reconnected() {
    let mut server = TestServer::start(echo);
    let addr = server.addr;
    let client = RpcClient::new(ClientConfig {
        call_timeout: None, // no timeout: only the connection's death can end the calls
        ..config()
    });
    assert_eq!(get_file_info(&client, addr, "/warm").unwrap(), "/warm");
    let waiting: Vec<_> = (0..4)
        .map(|i| {
            let client = client.clone();
            std::thread::spawn(move || get_file_info(&client, addr, &format!("/silent/{i}")))
        })
        .collect();
    assert!(server.wait_until(WAIT, |l| l.conns[0].requests == 5));
    let killed = Instant::now();
    server.kill();
    for w in waiting {
        let err = w.join().unwrap().unwrap_err();
        assert!(matches!(err, Error::ConnectionClosed { .. }), "{err:?}");
    }
    assert!(killed.elapsed() < Duration::from_secs(5));
    // Nothing listens now.
    assert!(matches!(
        get_file_info(&client, addr, "/down"),
        Err(Error::Connect { attempts: 1, .. })
    ));
    let server = TestServer::start_with(
        addr,
        Options {
            swap_pairs: false,
            handler: Arc::new(echo),
        },
    );
    assert_eq!(get_file_info(&client, addr, "/again").unwrap(), "/again");
    server.log(|l| assert_eq!(l.conns.len(), 1));
}

#[test]
fn call_timeout_fails_the_call_but_not_the_connection() {
    let server = TestServer::start(echo);
    let client = RpcClient::new(ClientConfig {
        call_timeout: Some(Duration::from_millis(200)),
        ..config()
    });
    let started = Instant::now();
    let err = get_file_info(&client, server.addr, "/silent").unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        get_file_info(&client, server.addr, "/after").unwrap(),
        "/after"
    );
    server.log(|l| assert_eq!(l.conns.len(), 1));
}

#[test]
fn oversized_reply_closes_the_connection() {
    let server = TestServer::start(|_req: &Request| {
        Reply::ok(&GetFileInfoResponseProto {
            fs: Some(HdfsFileStatusProto {
                path: vec![b'x'; 4096],
                ..Default::default()
            }),
        })
    });
    let client = RpcClient::new(ClientConfig {
        max_response_len: 1024,
        ..config()
    });
    let err = get_file_info(&client, server.addr, "/big").unwrap_err();
    match err {
        Error::ConnectionClosed { reason, .. } => assert!(reason.contains("1024"), "{reason}"),
        other => panic!("expected ConnectionClosed, got {other:?}"),
    }
}

#[test]
fn undecodable_reply_is_bad_response() {
    let server = TestServer::start(|_req: &Request| {
        Reply::Success(bytes::Bytes::from_static(&[0x0a, 0xff, 0xff]))
    });
    let client = RpcClient::new(config());
    let err = get_file_info(&client, server.addr, "/x").unwrap_err();
    assert!(
        matches!(&err, Error::BadResponse { method, .. } if method == "getFileInfo"),
        "{err:?}"
    );
}

#[test]
fn garbage_reply_frame_fails_the_call_with_connection_closed() {
    let server = TestServer::start(|_req: &Request| {
        Reply::RawFrame(bytes::Bytes::from_static(&[0x03, 0xff, 0xff, 0xff]))
    });
    let client = RpcClient::new(config());
    let err = get_file_info(&client, server.addr, "/x").unwrap_err();
    assert!(matches!(err, Error::ConnectionClosed { .. }), "{err:?}");
}

#[test]
fn dropping_the_client_closes_its_connections() {
    let server = TestServer::start(echo);
    let client = RpcClient::new(config());
    assert_eq!(get_file_info(&client, server.addr, "/a").unwrap(), "/a");
    drop(client);
    assert!(server.wait_until(WAIT, |l| l.conns[0].closed_by_client));
}

#[test]
fn a_leader_that_times_out_hands_the_lead_to_a_waiting_call() {
    // "/held" is answered only when the test says so.
    let (release, held) = crossbeam_channel::bounded::<()>(1);
    let server = TestServer::start(move |req: &Request| {
        if req.decode::<GetFileInfoRequestProto>().src == "/held" {
            let _ = held.recv();
        }
        echo(req)
    });
    let addr = server.addr;
    let client = RpcClient::new(ClientConfig {
        call_timeout: Some(Duration::from_secs(1)),
        ..config()
    });
    // The first call registered reads the socket for everyone; it is never answered.
    let leader = {
        let client = client.clone();
        std::thread::spawn(move || get_file_info(&client, addr, "/silent"))
    };
    assert!(server.wait_until(WAIT, |l| l.conns.first().is_some_and(|c| c.requests == 1)));
    // Apart in time, so the follower's deadline is well after the leader's.
    std::thread::sleep(Duration::from_millis(300));
    let follower = {
        let client = client.clone();
        std::thread::spawn(move || get_file_info(&client, addr, "/held"))
    };
    assert!(server.wait_until(WAIT, |l| l.conns[0].requests == 2));
    let err = leader.join().unwrap().unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    // Only now is the follower's reply sent: it must read it itself.
    release.send(()).unwrap();
    assert_eq!(follower.join().unwrap().unwrap(), "/held");
    server.log(|l| assert_eq!(l.conns.len(), 1));
}

#[test]
fn a_connection_the_server_closes_while_no_call_runs_leaves_the_pool_at_once() {
    use ferrodfs_ipc::server::{Server, ServiceBuilder};
    let service = ServiceBuilder::new(CLIENT_NAMENODE.name)
        .method("getFileInfo", |_, req: GetFileInfoRequestProto| {
            Ok(GetFileInfoResponseProto {
                fs: Some(HdfsFileStatusProto {
                    path: req.src.into_bytes(),
                    ..Default::default()
                }),
            })
        })
        .build();
    let server = Server::builder()
        .idle_timeout(Duration::from_millis(200))
        .service(service)
        .start()
        .unwrap();
    let addr = server.local_addr();
    let client = RpcClient::new(config());
    assert_eq!(get_file_info(&client, addr, "/a").unwrap(), "/a");
    assert_eq!(client.open_connections(), 1);
    // The server closes the idle connection; the client notices without a call.
    let deadline = Instant::now() + WAIT;
    while client.open_connections() != 0 {
        assert!(
            Instant::now() < deadline,
            "the closed connection stayed pooled"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(get_file_info(&client, addr, "/b").unwrap(), "/b");
    assert_eq!(server.metrics().accepted_connections, 2);
}

/// `(callId, retryCount, clientId)` of each attempt a server saw.
type Attempts = Arc<std::sync::Mutex<Vec<(i32, i32, Vec<u8>)>>>;

/// A real server whose `getFileInfo` throws `exception` for the first `failures`
/// attempts.
fn flaky_server(
    exception: JavaException,
    failures: usize,
) -> (ferrodfs_ipc::server::Server, Attempts) {
    use ferrodfs_ipc::server::{Server, ServiceBuilder};
    use ferrodfs_ipc::RemoteException;
    let attempts = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = Arc::clone(&attempts);
    let service = ServiceBuilder::new(CLIENT_NAMENODE.name)
        .method("getFileInfo", move |ctx, req: GetFileInfoRequestProto| {
            let mut log = log.lock().unwrap();
            log.push((ctx.call_id, ctx.retry_count, ctx.client_id.to_vec()));
            if log.len() <= failures {
                return Err(RemoteException::new(exception.clone(), "try again"));
            }
            Ok(GetFileInfoResponseProto {
                fs: Some(HdfsFileStatusProto {
                    path: req.src.into_bytes(),
                    ..Default::default()
                }),
            })
        })
        .build();
    let server = Server::builder().service(service).start().unwrap();
    (server, attempts)
}

fn retrying_client(max_retries: u32) -> RpcClient {
    RpcClient::new(ClientConfig {
        call_retry: RetryPolicy {
            max_retries,
            interval: Duration::from_millis(1),
        },
        ..config()
    })
}

#[test]
fn retriable_exception_is_retried_with_the_same_call_id_and_a_growing_retry_count() {
    let (server, attempts) = flaky_server(JavaException::RetriableException, 2);
    let client = retrying_client(5);
    assert_eq!(
        get_file_info(&client, server.local_addr(), "/x").unwrap(),
        "/x"
    );
    let attempts = attempts.lock().unwrap();
    let call_id = attempts[0].0;
    let seen: Vec<(i32, i32)> = attempts.iter().map(|a| (a.0, a.1)).collect();
    assert_eq!(seen, [(call_id, 0), (call_id, 1), (call_id, 2)]);
    assert!(attempts.iter().all(|a| a.2 == client.client_id()));
    // The next call gets a new call id, from retry count 0.
    drop(attempts);
    get_file_info(&client, server.local_addr(), "/y").unwrap();
}

#[test]
fn standby_exception_is_retried_up_to_the_policy_then_fails() {
    let (server, attempts) = flaky_server(JavaException::Standby, usize::MAX);
    let client = retrying_client(2);
    let err = get_file_info(&client, server.local_addr(), "/x").unwrap_err();
    assert!(err.is(&JavaException::Standby), "{err:?}");
    assert_eq!(attempts.lock().unwrap().len(), 3);
    // Other exceptions are not retried.
    let (server, attempts) = flaky_server(JavaException::FileNotFound, usize::MAX);
    let err = get_file_info(&client, server.local_addr(), "/x").unwrap_err();
    assert!(err.is(&JavaException::FileNotFound), "{err:?}");
    assert_eq!(attempts.lock().unwrap().len(), 1);
}
