//! A minimal blocking Hadoop RPC client over `frame.rs`, and a test service, shared by
//! the server tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrodfs_ipc::exception::{JavaException, RemoteException};
use ferrodfs_ipc::frame::{self, FrameBuilder, Preamble, CONNECTION_CONTEXT_CALL_ID};
use ferrodfs_ipc::server::{Server, ServerBuilder, Service, ServiceBuilder};
use ferrodfs_proto::common::rpc_request_header_proto::OperationProto;
use ferrodfs_proto::common::rpc_response_header_proto::RpcStatusProto;
use ferrodfs_proto::common::{
    IpcConnectionContextProto, RequestHeaderProto, RpcKindProto, RpcRequestHeaderProto,
    RpcResponseHeaderProto, UserInformationProto,
};

/// The protocol of [`test_service`].
pub const TEST_PROTOCOL: &str = "org.ferrodfs.test.TestProtocol";

/// Raw-bytes methods, so tests control the request bytes exactly:
/// `echo` returns the request; `sleep` sleeps for the ASCII number of ms in the request,
/// then echoes it; `big` returns that many bytes; `whoami` returns the caller's user;
/// `fail` throws FileNotFoundException; `panic` panics; `thread` returns the name of the
/// thread that ran it. `echo` and `thread` are marked cheap (may run on the reader),
/// `handler_thread` is `thread` not marked cheap.
pub fn test_service() -> Service {
    let thread_name = |_: &_, _| {
        Ok(Bytes::from(
            thread::current().name().unwrap_or("?").to_owned(),
        ))
    };
    ServiceBuilder::new(TEST_PROTOCOL)
        .raw_method("echo", |_, req| Ok(req))
        .raw_method("thread", thread_name)
        .raw_method("handler_thread", thread_name)
        .cheap(&["echo", "thread"])
        .raw_method("sleep", |_, req| {
            thread::sleep(Duration::from_millis(parse_num(&req)));
            Ok(req)
        })
        .raw_method("big", |_, req| {
            Ok(Bytes::from(vec![b'x'; parse_num(&req) as usize]))
        })
        .raw_method("whoami", |ctx, _| {
            Ok(Bytes::from(format!(
                "{}|{}|{}",
                ctx.user,
                ctx.real_user.as_deref().unwrap_or("-"),
                ctx.connection_protocol.as_deref().unwrap_or("-")
            )))
        })
        .raw_method("fail", |_, _| {
            Err(RemoteException::new(
                JavaException::FileNotFound,
                "no such file",
            ))
        })
        .raw_method("panic", |_, _| panic!("service panics on purpose"))
        .build()
}

fn parse_num(b: &[u8]) -> u64 {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

pub fn builder() -> ServerBuilder {
    Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .service(test_service())
}

pub fn start() -> Server {
    builder().handlers(4).start().unwrap()
}

pub fn request_header(call_id: i32) -> RpcRequestHeaderProto {
    RpcRequestHeaderProto {
        rpc_kind: Some(RpcKindProto::RpcProtocolBuffer as i32),
        rpc_op: Some(OperationProto::RpcFinalPacket as i32),
        call_id,
        client_id: vec![0xab; 16],
        retry_count: Some(if call_id < 0 { -1 } else { 0 }),
        ..Default::default()
    }
}

pub fn context_frame(user: &str, protocol: &str) -> Bytes {
    FrameBuilder::new()
        .message(&request_header(CONNECTION_CONTEXT_CALL_ID))
        .message(&IpcConnectionContextProto {
            user_info: Some(UserInformationProto {
                effective_user: Some(user.into()),
                real_user: None,
            }),
            protocol: Some(protocol.into()),
        })
        .finish()
}

/// A request frame with raw request message bytes.
pub fn call_frame(call_id: i32, protocol: &str, method: &str, request: &[u8]) -> Bytes {
    let rh = RequestHeaderProto {
        method_name: method.into(),
        declaring_class_protocol_name: protocol.into(),
        client_protocol_version: 1,
    };
    let mut delimited = Vec::new();
    prost::encode_length_delimiter(request.len(), &mut delimited).unwrap();
    delimited.extend_from_slice(request);
    FrameBuilder::new()
        .message(&request_header(call_id))
        .message(&rh)
        .raw(&delimited)
        .finish()
}

/// One response: the header and, on SUCCESS, the response message bytes.
#[derive(Debug)]
pub struct Response {
    pub header: RpcResponseHeaderProto,
    pub body: Option<Bytes>,
}

impl Response {
    pub fn call_id(&self) -> i32 {
        self.header.call_id as i32
    }
    pub fn is_success(&self) -> bool {
        self.header.status == RpcStatusProto::Success as i32
    }
    pub fn status(&self) -> i32 {
        self.header.status
    }
}

/// A blocking test client: one call at a time, or pipelined by hand.
pub struct RawClient {
    pub stream: TcpStream,
    next_id: i32,
}

impl RawClient {
    /// Connects and sends the preamble and connection context.
    pub fn connect(addr: SocketAddr) -> RawClient {
        Self::connect_as(addr, "tester")
    }

    pub fn connect_as(addr: SocketAddr, user: &str) -> RawClient {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream.write_all(&Preamble::SIMPLE.encode()).unwrap();
        stream
            .write_all(&context_frame(user, TEST_PROTOCOL))
            .unwrap();
        RawClient { stream, next_id: 0 }
    }

    /// Sends a call; returns its id.
    pub fn send(&mut self, method: &str, request: &[u8]) -> i32 {
        self.send_to(TEST_PROTOCOL, method, request)
    }

    pub fn send_to(&mut self, protocol: &str, method: &str, request: &[u8]) -> i32 {
        let id = self.next_id;
        self.next_id += 1;
        self.stream
            .write_all(&call_frame(id, protocol, method, request))
            .unwrap();
        id
    }

    pub fn recv(&mut self) -> Response {
        read_response(&mut self.stream).expect("a response")
    }

    /// One call, waiting for its answer.
    pub fn call(&mut self, method: &str, request: &[u8]) -> Response {
        let id = self.send(method, request);
        let r = self.recv();
        assert_eq!(r.call_id(), id);
        r
    }

    /// Asserts the server still answers on this connection.
    pub fn assert_alive(&mut self) {
        let r = self.call("echo", b"ping");
        assert!(r.is_success(), "{:?}", r.header);
        assert_eq!(r.body.as_deref(), Some(&b"ping"[..]));
    }
}

/// Reads one response frame; `None` on EOF or a reset.
pub fn read_response(stream: &mut impl Read) -> Option<Response> {
    let mut body = frame::read_frame(stream, 1 << 30).ok()?;
    let header: RpcResponseHeaderProto = frame::take_message(&mut body, "header").unwrap();
    let msg = if header.status == RpcStatusProto::Success as i32 {
        Some(frame::take_raw(&mut body, "body").unwrap())
    } else {
        None
    };
    Some(Response { header, body: msg })
}

/// Reads until EOF (or reset); panics if the server keeps the connection open.
pub fn assert_closed(stream: &mut TcpStream) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("connection not closed by the server: {e}"),
        }
    }
}

/// Waits until `cond` holds, failing after 10 s.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(2));
    }
}
