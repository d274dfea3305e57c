//! RpcClient connection life: the exact bytes of the handshake, pings, idle close,
//! connect retries, and the typed proxies' method names.

mod client_util;

use client_util::{free_port, Options, Reply, Request, TestServer};
use ferrodfs_ipc::client::datanode::DatanodeProtocolProxy;
use ferrodfs_ipc::client::namenode::NamenodeProtocol;
use ferrodfs_ipc::client::{ClientConfig, RetryPolicy, RpcClient};
use ferrodfs_ipc::Error;
use ferrodfs_proto::hdfs::datanode::{HeartbeatRequestProto, HeartbeatResponseProto};
use ferrodfs_proto::hdfs::{
    GetFileInfoRequestProto, GetFileInfoResponseProto, MkdirsRequestProto, MkdirsResponseProto,
    VersionRequestProto, VersionResponseProto,
};
use ferrodfs_proto::protocol::{CLIENT_NAMENODE, DATANODE};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);
const CLIENT_ID: [u8; 16] = [
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x46, 0x17, 0x98, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
];

fn config() -> ClientConfig {
    ClientConfig {
        user: "alice".into(),
        client_id: Some(CLIENT_ID),
        retry: RetryPolicy::NONE,
        ..ClientConfig::default()
    }
}

fn ok(_req: &Request) -> Reply {
    Reply::ok(&GetFileInfoResponseProto { fs: None })
}

fn get_file_info(client: &RpcClient, addr: std::net::SocketAddr) -> Result<(), Error> {
    let _: GetFileInfoResponseProto = client.call(
        addr,
        CLIENT_NAMENODE,
        "getFileInfo",
        &GetFileInfoRequestProto { src: "/".into() },
    )?;
    Ok(())
}

/// `RpcRequestHeaderProto` bytes as Hadoop's `ProtoUtil.makeRpcRequestHeader` writes
/// them (fields in number order; rpcOp and retryCount explicitly set, so present).
fn request_header(call_id_zigzag: u8, retry_zigzag: u8) -> Vec<u8> {
    let mut h = vec![
        0x08,
        0x02, // rpcKind = RPC_PROTOCOL_BUFFER
        0x10,
        0x00, // rpcOp = RPC_FINAL_PACKET
        0x18,
        call_id_zigzag, // callId (sint32)
        0x22,
        0x10, // clientId, 16 bytes
    ];
    h.extend_from_slice(&CLIENT_ID);
    h.extend_from_slice(&[0x28, retry_zigzag]); // retryCount (sint32)
    h
}

fn delimited(msg: &[u8]) -> Vec<u8> {
    assert!(msg.len() < 128);
    let mut v = vec![msg.len() as u8];
    v.extend_from_slice(msg);
    v
}

fn framed(parts: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = parts.iter().flat_map(|p| delimited(p)).collect();
    let mut f = (body.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(&body);
    f
}

fn string_field(tag: u8, s: &str) -> Vec<u8> {
    let mut v = vec![tag, s.len() as u8];
    v.extend_from_slice(s.as_bytes());
    v
}

#[test]
fn preamble_context_and_first_call_are_byte_exact_as_hadoop_writes_them() {
    let server = TestServer::start(ok);
    let client = RpcClient::new(config());
    get_file_info(&client, server.addr).unwrap();
    let protocol = "org.apache.hadoop.hdfs.protocol.ClientProtocol";

    // IpcConnectionContextProto{userInfo{effectiveUser "alice"}, protocol}: userInfo
    // (field 2) before protocol (field 3), as protobuf-java serializes.
    let mut context = vec![0x12, 7];
    context.extend(string_field(0x0a, "alice"));
    context.extend(string_field(0x1a, protocol));
    // callId -3 zig-zags to 5, retryCount -1 to 1.
    let expected_context = framed(&[request_header(5, 1), context]);

    // RequestHeaderProto{methodName, declaringClassProtocolName, clientProtocolVersion 1}
    let mut rh = string_field(0x0a, "getFileInfo");
    rh.extend(string_field(0x12, protocol));
    rh.extend([0x18, 0x01]);
    // callId 0, retryCount 0; GetFileInfoRequestProto{src "/"}.
    let expected_call = framed(&[request_header(0, 0), rh, string_field(0x0a, "/")]);

    server.log(|l| {
        let c = &l.conns[0];
        assert_eq!(c.preamble, b"hrpc\x09\x00\x00");
        assert_eq!(c.raw_frames[0], expected_context, "connection context");
        assert_eq!(c.raw_frames[1], expected_call, "first call");
    });
}

#[test]
fn ping_is_sent_on_a_quiet_connection_as_hadoop_builds_it() {
    let server = TestServer::start(ok);
    let client = RpcClient::new(ClientConfig {
        ping_interval: Some(Duration::from_millis(50)),
        max_idle: Duration::from_secs(30),
        ..config()
    });
    get_file_info(&client, server.addr).unwrap();
    assert!(server.wait_until(WAIT, |l| !l.conns[0].pings.is_empty()));
    server.log(|l| {
        let ping = &l.conns[0].pings[0];
        assert_eq!(ping.call_id, -4);
        assert_eq!(ping.retry_count, Some(-1));
        assert_eq!(ping.client_id, CLIENT_ID);
        assert_eq!(ping.rpc_kind, Some(2));
    });
    // The connection is still the same and usable.
    get_file_info(&client, server.addr).unwrap();
    server.log(|l| assert_eq!(l.conns.len(), 1));
}

#[test]
fn no_ping_when_disabled() {
    let server = TestServer::start(ok);
    let client = RpcClient::new(ClientConfig {
        ping_interval: None,
        max_idle: Duration::from_millis(300),
        ..config()
    });
    get_file_info(&client, server.addr).unwrap();
    assert!(server.wait_until(WAIT, |l| l.conns[0].closed_by_client));
    server.log(|l| assert!(l.conns[0].pings.is_empty()));
}

#[test]
fn idle_connection_is_closed_after_max_idle_and_the_next_call_reconnects() {
    let server = TestServer::start(ok);
    let client = RpcClient::new(ClientConfig {
        ping_interval: Some(Duration::from_millis(20)), // pings do not keep it alive
        max_idle: Duration::from_millis(200),
        ..config()
    });
    let started = Instant::now();
    get_file_info(&client, server.addr).unwrap();
    assert!(server.wait_until(WAIT, |l| l.conns[0].closed_by_client));
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(client.open_connections(), 0);
    get_file_info(&client, server.addr).unwrap();
    server.log(|l| assert_eq!(l.conns.len(), 2));
}

#[test]
fn connection_with_an_outstanding_call_is_not_idle_closed() {
    let server = TestServer::start(|req: &Request| {
        if req.decode::<GetFileInfoRequestProto>().src == "/slow" {
            std::thread::sleep(Duration::from_millis(400));
        }
        ok(req)
    });
    let client = RpcClient::new(ClientConfig {
        max_idle: Duration::from_millis(100),
        ..config()
    });
    let _: GetFileInfoResponseProto = client
        .call(
            server.addr,
            CLIENT_NAMENODE,
            "getFileInfo",
            &GetFileInfoRequestProto {
                src: "/slow".into(),
            },
        )
        .unwrap();
    server.log(|l| assert_eq!(l.conns.len(), 1));
}

#[test]
fn connect_is_retried_until_a_listener_appears() {
    let addr = free_port();
    let client = RpcClient::new(ClientConfig {
        retry: RetryPolicy {
            max_retries: 100,
            interval: Duration::from_millis(20),
        },
        ..config()
    });
    let starter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        TestServer::start_with(
            addr,
            Options {
                swap_pairs: false,
                handler: Arc::new(ok),
            },
        )
    });
    get_file_info(&client, addr).unwrap();
    let server = starter.join().unwrap();
    server.log(|l| assert_eq!(l.conns.len(), 1));
}

#[test]
fn connect_gives_up_after_the_policy() {
    let addr = free_port();
    let client = RpcClient::new(ClientConfig {
        retry: RetryPolicy {
            max_retries: 3,
            interval: Duration::from_millis(10),
        },
        ..config()
    });
    match get_file_info(&client, addr) {
        Err(Error::Connect {
            attempts, addr: a, ..
        }) => {
            assert_eq!(attempts, 4);
            assert_eq!(a, addr);
        }
        other => panic!("expected Connect, got {other:?}"),
    }
}

#[test]
fn typed_proxies_send_hadoop_method_and_protocol_names() {
    let server = TestServer::start(
        |req: &Request| match req.request_header.method_name.as_str() {
            "mkdirs" => Reply::ok(&MkdirsResponseProto { result: true }),
            "versionRequest" => Reply::ok(&VersionResponseProto::default()),
            "sendHeartbeat" => Reply::ok(&HeartbeatResponseProto::default()),
            _ => Reply::Error(
                "org.apache.hadoop.ipc.RpcNoSuchMethodException".into(),
                "no".into(),
            ),
        },
    );
    let client = RpcClient::new(config());
    let nn = NamenodeProtocol::new(client.clone(), server.addr);
    assert!(
        nn.mkdirs(&MkdirsRequestProto {
            src: "/d".into(),
            create_parent: true,
            ..Default::default()
        })
        .unwrap()
        .result
    );
    let dn = DatanodeProtocolProxy::new(client.clone(), server.addr);
    dn.version_request(&VersionRequestProto {}).unwrap();
    dn.send_heartbeat(&HeartbeatRequestProto::default())
        .unwrap();
    let err = nn
        .get_file_info(&GetFileInfoRequestProto { src: "/".into() })
        .unwrap_err();
    assert!(err.is(&ferrodfs_ipc::exception::JavaException::RpcNoSuchMethod));
    server.log(|l| {
        let names: Vec<(&str, &str)> = l
            .methods
            .iter()
            .map(|(m, p)| (m.as_str(), p.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("mkdirs", CLIENT_NAMENODE.name),
                ("versionRequest", DATANODE.name),
                ("sendHeartbeat", DATANODE.name),
                ("getFileInfo", CLIENT_NAMENODE.name),
            ]
        );
        // One connection per protocol, each with its protocol in the context.
        assert_eq!(l.conns.len(), 2);
        let protocols: Vec<_> = l
            .conns
            .iter()
            .map(|c| c.context.as_ref().unwrap().1.protocol.clone().unwrap())
            .collect();
        assert_eq!(protocols, [CLIENT_NAMENODE.name, DATANODE.name]);
    });
}

#[test]
fn call_ids_count_up_per_client_across_connections() {
    let server = TestServer::start(|req: &Request| {
        Reply::ok(&VersionResponseProto {
            info: ferrodfs_proto::hdfs::NamespaceInfoProto {
                build_version: req.header.call_id.to_string(),
                ..Default::default()
            },
        })
    });
    let client = RpcClient::new(config());
    let dn = DatanodeProtocolProxy::new(client.clone(), server.addr);
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.push(
            dn.version_request(&VersionRequestProto {})
                .unwrap()
                .info
                .build_version,
        );
        let r: VersionResponseProto = client
            .call(
                server.addr,
                CLIENT_NAMENODE,
                "versionRequest",
                &VersionRequestProto {},
            )
            .unwrap();
        ids.push(r.info.build_version);
    }
    assert_eq!(ids, ["0", "1", "2", "3"]);
}
