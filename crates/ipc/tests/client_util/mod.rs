//! A small blocking Hadoop RPC test server for the client's tests and bench: std
//! `TcpListener` on 127.0.0.1, a thread per connection, `frame.rs` to parse requests.
//! It records what clients send (raw bytes of the first frames, contexts, pings,
//! methods) so tests can check the client's real socket traffic.
#![allow(dead_code)]

use bytes::Bytes;
use ferrodfs_ipc::frame::{
    read_frame, take_message, take_raw, FrameBuilder, IPC_MAXIMUM_DATA_LENGTH_DEFAULT, PING_CALL_ID,
};
use ferrodfs_proto::common::rpc_response_header_proto::RpcStatusProto;
use ferrodfs_proto::common::{
    IpcConnectionContextProto, RequestHeaderProto, RpcRequestHeaderProto, RpcResponseHeaderProto,
};
use ferrodfs_proto::Message;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How many raw frames of each connection are kept.
const RAW_FRAMES_KEPT: usize = 3;

/// One request as the server parsed it.
#[derive(Debug, Clone)]
pub struct Request {
    /// Index of the connection (accept order).
    pub conn: usize,
    pub header: RpcRequestHeaderProto,
    pub request_header: RequestHeaderProto,
    /// The request message (not delimited).
    pub param: Bytes,
}

impl Request {
    pub fn decode<M: Message + Default>(&self) -> M {
        M::decode(self.param.clone()).expect("request decodes")
    }
}

/// What the handler answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// SUCCESS with this message.
    Success(Bytes),
    /// ERROR with a class name and message.
    Error(String, String),
    /// FATAL with a class name and message, then close.
    Fatal(String, String),
    /// Never answer.
    Silent,
    /// A frame with this exact body (after the length).
    RawFrame(Bytes),
}

impl Reply {
    pub fn ok<M: Message>(m: &M) -> Reply {
        Reply::Success(Bytes::from(m.encode_to_vec()))
    }
}

pub type Handler = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

/// Per-connection record.
#[derive(Debug, Default, Clone)]
pub struct ConnLog {
    pub preamble: Vec<u8>,
    /// The first frames, raw (length prefix included): [0] is the connection context.
    pub raw_frames: Vec<Vec<u8>>,
    pub context: Option<(RpcRequestHeaderProto, IpcConnectionContextProto)>,
    pub pings: Vec<RpcRequestHeaderProto>,
    pub requests: usize,
    /// The client closed it (EOF or reset seen by the server).
    pub closed_by_client: bool,
}

#[derive(Debug, Default)]
pub struct Log {
    pub conns: Vec<ConnLog>,
    pub methods: Vec<(String, String)>,
}

#[derive(Default)]
struct State {
    log: Mutex<Log>,
    changed: Condvar,
    streams: Mutex<Vec<TcpStream>>,
    stopping: AtomicBool,
}

/// The server; dropping it kills it.
pub struct TestServer {
    pub addr: SocketAddr,
    state: Arc<State>,
    accept: Option<JoinHandle<()>>,
}

/// Options of the test server.
#[derive(Clone)]
pub struct Options {
    /// Answer requests of a connection in swapped pairs (2nd before 1st), so replies
    /// come out of order; a lone request is answered after 2 ms.
    pub swap_pairs: bool,
    pub handler: Handler,
}

impl TestServer {
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> TestServer {
        TestServer::start_with(
            "127.0.0.1:0".parse().unwrap(),
            Options {
                swap_pairs: false,
                handler: Arc::new(handler),
            },
        )
    }

    pub fn start_with(addr: SocketAddr, options: Options) -> TestServer {
        let listener = TcpListener::bind(addr).expect("bind");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        let accept_state = state.clone();
        let accept = std::thread::Builder::new()
            .name("test-rpc-accept".into())
            .spawn(move || accept_loop(listener, accept_state, options))
            .unwrap();
        TestServer {
            addr,
            state,
            accept: Some(accept),
        }
    }

    /// A copy of the log.
    pub fn log<T>(&self, f: impl FnOnce(&Log) -> T) -> T {
        f(&self.state.log.lock().unwrap())
    }

    /// Waits until `pred` holds on the log; false on timeout.
    pub fn wait_until(&self, timeout: Duration, pred: impl Fn(&Log) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut log = self.state.log.lock().unwrap();
        loop {
            if pred(&log) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            log = self
                .state
                .changed
                .wait_timeout(log, deadline - now)
                .unwrap()
                .0;
        }
    }

    /// Stops accepting and cuts every connection, like a dying process.
    pub fn kill(&mut self) {
        self.state.stopping.store(true, Ordering::SeqCst);
        for s in self.state.streams.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn accept_loop(listener: TcpListener, state: Arc<State>, options: Options) {
    for stream in listener.incoming() {
        if state.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let _ = stream.set_nodelay(true);
        state
            .streams
            .lock()
            .unwrap()
            .push(stream.try_clone().unwrap());
        let conn = {
            let mut log = state.log.lock().unwrap();
            log.conns.push(ConnLog::default());
            log.conns.len() - 1
        };
        let state = state.clone();
        let options = options.clone();
        std::thread::Builder::new()
            .name(format!("test-rpc-conn-{conn}"))
            .spawn(move || serve(stream, conn, state, options))
            .unwrap();
    }
}

fn update(state: &State, f: impl FnOnce(&mut Log)) {
    f(&mut state.log.lock().unwrap());
    state.changed.notify_all();
}

fn serve(stream: TcpStream, conn: usize, state: Arc<State>, options: Options) {
    let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
    let mut preamble = [0u8; 7];
    if reader.read_exact(&mut preamble).is_err() {
        update(&state, |l| l.conns[conn].closed_by_client = true);
        return;
    }
    update(&state, |l| l.conns[conn].preamble = preamble.to_vec());
    let writer = spawn_writer(stream.try_clone().unwrap(), options.swap_pairs);
    let mut frames = 0usize;
    loop {
        let body = match read_frame(&mut reader, IPC_MAXIMUM_DATA_LENGTH_DEFAULT) {
            Ok(b) => b,
            Err(_) => {
                if !state.stopping.load(Ordering::SeqCst) {
                    update(&state, |l| l.conns[conn].closed_by_client = true);
                }
                return;
            }
        };
        if frames < RAW_FRAMES_KEPT {
            let mut raw = (body.len() as u32).to_be_bytes().to_vec();
            raw.extend_from_slice(&body);
            update(&state, |l| l.conns[conn].raw_frames.push(raw));
        }
        frames += 1;
        let mut body = body;
        let header: RpcRequestHeaderProto = take_message(&mut body, "header").unwrap();
        if frames == 1 {
            let ctx: IpcConnectionContextProto = take_message(&mut body, "context").unwrap();
            update(&state, |l| l.conns[conn].context = Some((header, ctx)));
            continue;
        }
        if header.call_id == PING_CALL_ID {
            update(&state, |l| l.conns[conn].pings.push(header));
            continue;
        }
        let request_header: RequestHeaderProto = take_message(&mut body, "request header").unwrap();
        let param = take_raw(&mut body, "param").unwrap();
        update(&state, |l| {
            l.conns[conn].requests += 1;
            l.methods.push((
                request_header.method_name.clone(),
                request_header.declaring_class_protocol_name.clone(),
            ));
        });
        let request = Request {
            conn,
            header,
            request_header,
            param,
        };
        let reply = (options.handler)(&request);
        let fatal = matches!(reply, Reply::Fatal(..));
        if let Some(frame) = encode_reply(&request.header, reply) {
            if writer.send((frame, fatal)).is_err() {
                return;
            }
        }
    }
}

fn encode_reply(req: &RpcRequestHeaderProto, reply: Reply) -> Option<Bytes> {
    let header = |status: RpcStatusProto, class: Option<String>, msg: Option<String>| {
        RpcResponseHeaderProto {
            call_id: req.call_id as u32,
            status: status as i32,
            server_ipc_version_num: Some(9),
            exception_class_name: class,
            error_msg: msg,
            client_id: Some(req.client_id.clone()),
            retry_count: req.retry_count,
            ..Default::default()
        }
    };
    Some(match reply {
        Reply::Success(msg) => {
            let mut delimited = Vec::with_capacity(msg.len() + 5);
            prost::encoding::encode_varint(msg.len() as u64, &mut delimited);
            delimited.extend_from_slice(&msg);
            FrameBuilder::new()
                .message(&header(RpcStatusProto::Success, None, None))
                .raw(&delimited)
                .finish()
        }
        Reply::Error(class, msg) => FrameBuilder::new()
            .message(&header(RpcStatusProto::Error, Some(class), Some(msg)))
            .finish(),
        Reply::Fatal(class, msg) => FrameBuilder::new()
            .message(&header(RpcStatusProto::Fatal, Some(class), Some(msg)))
            .finish(),
        Reply::Silent => return None,
        Reply::RawFrame(body) => {
            let mut f = (body.len() as u32).to_be_bytes().to_vec();
            f.extend_from_slice(&body);
            Bytes::from(f)
        }
    })
}

/// A writer thread per connection; in swap mode it holds one reply until the next
/// arrives and writes the newer first.
fn spawn_writer(mut stream: TcpStream, swap_pairs: bool) -> Sender<(Bytes, bool)> {
    let (tx, rx) = channel::<(Bytes, bool)>();
    std::thread::Builder::new()
        .name("test-rpc-writer".into())
        .spawn(move || {
            let mut held: Option<Bytes> = None;
            loop {
                let next = if held.is_some() {
                    rx.recv_timeout(Duration::from_millis(2))
                } else {
                    rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
                };
                let mut out: Vec<Bytes> = Vec::new();
                let mut close = false;
                match next {
                    Ok((frame, fatal)) => {
                        close = fatal;
                        if fatal || !swap_pairs {
                            out.extend(held.take());
                            out.push(frame);
                        } else if let Some(first) = held.take() {
                            out.push(frame);
                            out.push(first);
                        } else {
                            held = Some(frame);
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => out.extend(held.take()),
                    Err(RecvTimeoutError::Disconnected) => return,
                }
                for f in out {
                    if stream.write_all(&f).is_err() {
                        return;
                    }
                }
                if close {
                    let _ = stream.shutdown(Shutdown::Both);
                    return;
                }
            }
        })
        .unwrap();
    tx
}

/// A port with nothing listening on it (bound, then released).
pub fn free_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}
