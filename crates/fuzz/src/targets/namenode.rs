//! The NameNode's request decoders run for real: every ClientProtocol and
//! DatanodeProtocol request is decoded by the service the RPC server dispatches to
//! (prost decode, then our conversions in `rpc/convert.rs` and `rpc/block_list.rs`) and
//! then handled by a real NameNode, formatted once per process in a scratch directory
//! (tmpfs when there is one) with the caller as superuser, so handler code runs on
//! fuzzed input too.
//!
//! The NameNode keeps its state between inputs (a long run builds up a namespace), so a
//! finding replays best from the same sequence; crashes found so far replayed alone.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use ferrodfs_ipc::server::{CallContext, RpcService, Service};
use ferrodfs_namenode::rpc::block_list;
use ferrodfs_namenode::rpc::{ClientProtocolHandler, DatanodeProtocolHandler, ServerDefaults};
use ferrodfs_namenode::{NameNode, NameNodeConfig};
use ferrodfs_proto::hdfs::datanode::{BlockReportRequestProto, StorageBlockReportProto};
use ferrodfs_proto::protocol::{CLIENT_NAMENODE_PROTOCOL, DATANODE_PROTOCOL};
use prost::Message;

use super::rpc;

/// The user the in-memory NameNode runs as (its superuser).
pub const SUPERUSER: &str = "hdfs";
/// An ordinary user, for calls whose selector byte has its top bit set.
pub const OTHER_USER: &str = "mallory";
/// Where fuzz scratch files go: `$FERRODFS_FUZZ_DIR`, else `/dev/shm`, else the temp dir.
pub const FUZZ_DIR_ENV: &str = "FERRODFS_FUZZ_DIR";

/// ClientProtocol methods the NameNode registers (`ClientProtocolHandler::service`).
pub const CLIENT_METHODS: &[&str] = &[
    "create",
    "append",
    "rename",
    "rename2",
    "delete",
    "concat",
    "getServerDefaults",
    "getFileInfo",
    "getFileLinkInfo",
    "isFileClosed",
    "getListing",
    "getBlockLocations",
    "getContentSummary",
    "getFsStats",
    "getDatanodeReport",
    "getPreferredBlockSize",
    "mkdirs",
    "addBlock",
    "abandonBlock",
    "getAdditionalDatanode",
    "complete",
    "fsync",
    "setReplication",
    "setPermission",
    "setOwner",
    "setTimes",
    "renewLease",
    "recoverLease",
    "updateBlockForPipeline",
    "updatePipeline",
    "reportBadBlocks",
    "truncate",
    "setSafeMode",
    "msync",
];

/// DatanodeProtocol methods the NameNode registers (`DatanodeProtocolHandler::service`).
pub const DATANODE_METHODS: &[&str] = &[
    "versionRequest",
    "registerDatanode",
    "sendHeartbeat",
    "blockReport",
    "blockReceivedAndDeleted",
    "reportBadBlocks",
    "commitBlockSynchronization",
    "errorReport",
];

struct Fixture {
    client: Service,
    datanode: Service,
    _nn: Arc<NameNode>,
}

/// The scratch directory for this process (created; stale ones of dead processes are
/// removed first).
pub fn scratch_dir() -> PathBuf {
    let base = std::env::var_os(FUZZ_DIR_ENV)
        .map(PathBuf::from)
        .or_else(|| {
            let shm = PathBuf::from("/dev/shm");
            shm.is_dir().then_some(shm)
        })
        .unwrap_or_else(std::env::temp_dir)
        .join("ferrodfs-fuzz");
    if let Ok(entries) = std::fs::read_dir(&base) {
        for e in entries.flatten() {
            let pid = e.file_name().to_string_lossy().parse::<u32>().ok();
            if pid.is_some_and(|p| !PathBuf::from(format!("/proc/{p}")).exists()) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let dir = base.join(std::process::id().to_string());
    let _ = std::fs::create_dir_all(&dir);
    dir
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = scratch_dir().join("name");
        let _ = std::fs::remove_dir_all(&dir);
        let config = NameNodeConfig {
            name_dir: dir,
            superuser: SUPERUSER.to_owned(),
            min_block_size: 0,
            safemode_extension: std::time::Duration::ZERO,
            ..NameNodeConfig::default()
        };
        NameNode::format(&config, None).expect("format the fuzz NameNode");
        let defaults = ServerDefaults::new(&config);
        let nn = Arc::new(NameNode::open(config).expect("open the fuzz NameNode"));
        let client = Arc::new(ClientProtocolHandler::new(Arc::clone(&nn), defaults)).service();
        let datanode = Arc::new(DatanodeProtocolHandler::new(Arc::clone(&nn))).service();
        Fixture {
            client,
            datanode,
            _nn: nn,
        }
    })
}

/// Formats and opens the NameNode now (so its one-time cost and allocations fall outside
/// any measured run).
pub fn warm_up() {
    let _ = fixture();
}

fn peer() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50010))
}

fn call(service: &Service, user: &str, method: &str, request: &[u8]) {
    let ctx = CallContext::new(user, service.protocol(), method, peer());
    let _ = service.call(&ctx, method, Bytes::copy_from_slice(request));
}

/// Selector byte → (user, method index).
fn select(selector: u8, methods: &[&str]) -> (&'static str, usize) {
    let user = if selector & 0x80 != 0 {
        OTHER_USER
    } else {
        SUPERUSER
    };
    (user, usize::from(selector & 0x7f) % methods.len())
}

/// `client_protocol`: one selector byte (method; top bit: an ordinary user instead of
/// the superuser), then the request message.
pub fn client_protocol(data: &[u8]) {
    let Some((&selector, request)) = data.split_first() else {
        return;
    };
    let (user, m) = select(selector, CLIENT_METHODS);
    call(&fixture().client, user, CLIENT_METHODS[m], request);
}

/// `datanode_protocol`: as [`client_protocol`], for DatanodeProtocol.
pub fn datanode_protocol(data: &[u8]) {
    let Some((&selector, request)) = data.split_first() else {
        return;
    };
    let (user, m) = select(selector, DATANODE_METHODS);
    call(&fixture().datanode, user, DATANODE_METHODS[m], request);
}

/// `namenode_rpc`: a whole connection's bytes (control byte + stream, as
/// [`rpc::rpc_connection`]) through the server's state machine, every call dispatched to
/// the service of its protocol with the connection's user.
pub fn namenode_rpc(data: &[u8]) {
    let f = fixture();
    rpc::for_each_event(data, |c| {
        let service = if c.protocol == CLIENT_NAMENODE_PROTOCOL {
            &f.client
        } else if c.protocol == DATANODE_PROTOCOL {
            &f.datanode
        } else {
            return;
        };
        let mut ctx = CallContext::new(
            c.connection.user.clone(),
            c.protocol.clone(),
            c.method.clone(),
            peer(),
        );
        ctx.call_id = c.call_id;
        ctx.retry_count = c.retry_count;
        ctx.client_id = c.client_id.clone();
        let _ = service.call(&ctx, &c.method, c.request);
    });
}

/// `block_report`: the input as a `BlockReportRequestProto` and as one
/// `StorageBlockReportProto`, each storage's replica list decoded by
/// `rpc::block_list` (both encodings).
pub fn block_report(data: &[u8]) {
    if let Ok(req) = BlockReportRequestProto::decode(data) {
        for report in &req.reports {
            let _ = block_list::decode(report);
        }
    }
    if let Ok(report) = StorageBlockReportProto::decode(data) {
        let _ = block_list::decode(&report);
    }
}
