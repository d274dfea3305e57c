//! The RPC retry cache over a real socket: request frames written by hand (our ipc client
//! picks its own call ids) so that a call can be sent again with the same client id and
//! call id and a higher `retryCount`, as Hadoop's retrying clients do.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::Bytes;
use common::{su, TestNameNode};
use ferrodfs_ipc::frame::{self, FrameBuilder, Preamble, CONNECTION_CONTEXT_CALL_ID};
use ferrodfs_proto::common::rpc_request_header_proto::OperationProto;
use ferrodfs_proto::common::rpc_response_header_proto::RpcStatusProto;
use ferrodfs_proto::common::{
    IpcConnectionContextProto, RequestHeaderProto, RpcKindProto, RpcRequestHeaderProto,
    RpcResponseHeaderProto, UserInformationProto,
};
use ferrodfs_proto::hdfs::*;
use ferrodfs_proto::protocol::CLIENT_NAMENODE_PROTOCOL;
use prost::Message;

const EXISTS: &str = "org.apache.hadoop.fs.FileAlreadyExistsException";
/// What a second create of a file its client still writes answers (Hadoop's
/// `recoverLeaseInternal`).
const BEING_CREATED: &str = "org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException";

/// A Hadoop RPC connection speaking ClientProtocol, one call at a time, with the client
/// id, call id and retry count of each call chosen by the test.
struct RawClient {
    stream: TcpStream,
}

/// A reply: SUCCESS with the response message bytes, or the exception class.
#[derive(Debug, PartialEq)]
enum Reply {
    Ok(Bytes),
    Err(String),
}

impl Reply {
    fn decode<M: Message + Default>(&self) -> M {
        match self {
            Reply::Ok(b) => M::decode(b.clone()).unwrap(),
            Reply::Err(class) => panic!("expected success, got {class}"),
        }
    }
}

fn header(call_id: i32, client_id: &[u8], retry_count: Option<i32>) -> RpcRequestHeaderProto {
    RpcRequestHeaderProto {
        rpc_kind: Some(RpcKindProto::RpcProtocolBuffer as i32),
        rpc_op: Some(OperationProto::RpcFinalPacket as i32),
        call_id,
        client_id: client_id.to_vec(),
        retry_count,
        ..Default::default()
    }
}

impl RawClient {
    fn connect(addr: SocketAddr, user: &str) -> RawClient {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream.write_all(&Preamble::SIMPLE.encode()).unwrap();
        let context = FrameBuilder::new()
            .message(&header(CONNECTION_CONTEXT_CALL_ID, &[], Some(-1)))
            .message(&IpcConnectionContextProto {
                user_info: Some(UserInformationProto {
                    effective_user: Some(user.into()),
                    real_user: None,
                }),
                protocol: Some(CLIENT_NAMENODE_PROTOCOL.into()),
            })
            .finish();
        stream.write_all(&context).unwrap();
        RawClient { stream }
    }

    /// One call; `retry_count` None sends no retry count (an old client).
    fn call(
        &mut self,
        method: &str,
        request: &impl Message,
        client_id: &[u8],
        call_id: i32,
        retry_count: Option<i32>,
    ) -> Reply {
        let rh = RequestHeaderProto {
            method_name: method.into(),
            declaring_class_protocol_name: CLIENT_NAMENODE_PROTOCOL.into(),
            client_protocol_version: 1,
        };
        let f = FrameBuilder::new()
            .message(&header(call_id, client_id, retry_count))
            .message(&rh)
            .message(request)
            .finish();
        self.stream.write_all(&f).unwrap();
        let mut body = frame::read_frame(&mut self.stream, 1 << 26).unwrap();
        let h: RpcResponseHeaderProto = frame::take_message(&mut body, "header").unwrap();
        assert_eq!(h.call_id as i32, call_id);
        if h.status == RpcStatusProto::Success as i32 {
            Reply::Ok(frame::take_raw(&mut body, "body").unwrap())
        } else {
            Reply::Err(h.exception_class_name.unwrap_or_default())
        }
    }
}

fn create_req(p: &str) -> CreateRequestProto {
    CreateRequestProto {
        src: p.into(),
        masked: FsPermissionProto { perm: 0o644 },
        client_name: "DFSClient_retry_1".into(),
        create_flag: 1, // CREATE
        create_parent: true,
        replication: 1,
        block_size: 1 << 20,
        ..Default::default()
    }
}

fn delete_req(p: &str) -> DeleteRequestProto {
    DeleteRequestProto {
        src: p.into(),
        recursive: true,
    }
}

fn rename_req(src: &str, dst: &str) -> RenameRequestProto {
    RenameRequestProto {
        src: src.into(),
        dst: dst.into(),
    }
}

#[test]
fn retried_at_most_once_calls_get_the_first_answer() {
    let nn = TestNameNode::start();
    let mut c = RawClient::connect(nn.addr(), &su());
    let id = [0x5a; 16];

    // create: the retry gets the same HdfsFileStatus, not AlreadyBeingCreated.
    let first = c.call("create", &create_req("/d/f"), &id, 1, Some(0));
    let st: CreateResponseProto = first.decode();
    let file_id = st.fs.unwrap().file_id;
    let retried = c.call("create", &create_req("/d/f"), &id, 1, Some(1));
    assert_eq!(retried, first);
    let again = c.call("create", &create_req("/d/f"), &id, 2, Some(0));
    assert_eq!(again, Reply::Err(BEING_CREATED.into()));
    let complete = CompleteRequestProto {
        src: "/d/f".into(),
        client_name: "DFSClient_retry_1".into(),
        last: None,
        file_id,
    };
    let done = c.call("complete", &complete, &id, 100, Some(0));
    assert!(done.decode::<CompleteResponseProto>().result);
    // Still the first answer once the file is closed.
    let retried = c.call("create", &create_req("/d/f"), &id, 1, Some(2));
    assert_eq!(retried, first);
    // A new call (another call id, or another client id) runs and fails as usual.
    let again = c.call("create", &create_req("/d/f"), &id, 3, Some(0));
    assert_eq!(again, Reply::Err(EXISTS.into()));
    let other_client = c.call("create", &create_req("/d/f"), &[0x11; 16], 1, Some(0));
    assert_eq!(other_client, Reply::Err(EXISTS.into()));

    // rename: the retry answers true although the source is gone.
    let first = c.call("rename", &rename_req("/d/f", "/d/g"), &id, 13, Some(0));
    assert!(first.decode::<RenameResponseProto>().result);
    let retried = c.call("rename", &rename_req("/d/f", "/d/g"), &id, 13, Some(1));
    assert_eq!(retried, first);
    let again = c.call("rename", &rename_req("/d/f", "/d/g"), &id, 14, Some(0));
    assert!(!again.decode::<RenameResponseProto>().result);

    // delete: the retry answers true although the file is gone.
    let first = c.call("delete", &delete_req("/d/g"), &id, 5, Some(0));
    assert!(first.decode::<DeleteResponseProto>().result);
    let retried = c.call("delete", &delete_req("/d/g"), &id, 5, Some(2));
    assert_eq!(retried, first);
    let again = c.call("delete", &delete_req("/d/g"), &id, 6, Some(0));
    assert!(!again.decode::<DeleteResponseProto>().result);

    // A retry on a new connection (what a client does after a lost reply) is still
    // answered from the cache.
    let mut c2 = RawClient::connect(nn.addr(), &su());
    let retried = c2.call("delete", &delete_req("/d/g"), &id, 5, Some(3));
    assert_eq!(retried, first);
}

#[test]
fn calls_without_client_id_or_retry_count_bypass_the_cache() {
    let nn = TestNameNode::start();
    let mut c = RawClient::connect(nn.addr(), &su());
    let first = c.call("create", &create_req("/f"), &[], 1, Some(0));
    first.decode::<CreateResponseProto>();
    let again = c.call("create", &create_req("/f"), &[], 1, Some(1));
    assert_eq!(again, Reply::Err(BEING_CREATED.into()));

    let id = [0x33; 16];
    let first = c.call("delete", &delete_req("/f"), &id, 7, None);
    assert!(first.decode::<DeleteResponseProto>().result);
    let again = c.call("delete", &delete_req("/f"), &id, 7, None);
    assert!(!again.decode::<DeleteResponseProto>().result);
}

#[test]
fn disabled_retry_cache_runs_every_call() {
    let nn = TestNameNode::start_with(|c| c.namenode.retry_cache_enabled = false);
    let mut c = RawClient::connect(nn.addr(), &su());
    let id = [0x44; 16];
    let first = c.call("delete", &delete_req("/x"), &id, 1, Some(0));
    assert!(!first.decode::<DeleteResponseProto>().result);
    c.call("create", &create_req("/y"), &id, 2, Some(0))
        .decode::<CreateResponseProto>();
    let again = c.call("create", &create_req("/y"), &id, 2, Some(1));
    assert_eq!(again, Reply::Err(BEING_CREATED.into()));
}
