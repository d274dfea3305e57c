//! Issue 10 through the real RPC path, the parts `crates/cli/tests/hostile_namenode.rs`
//! does not reach: `refreshNodes` turning a registered DataNode away, a live node's
//! identity claimed by another user, and proxy users allowed by `hadoop.proxyuser.*`.

mod common;

use std::sync::Arc;

use common::{class_of, su, TestNameNode};
use ferrodfs_ipc::client::datanode::DatanodeProtocolProxy;
use ferrodfs_ipc::server::CallContext;
use ferrodfs_ipc::RpcClient;
use ferrodfs_namenode::rpc::client_protocol::{
    RefreshNodesRequestProto, RefreshNodesResponseProto,
};
use ferrodfs_namenode::rpc::proxy_users::ProxyUsers;
use ferrodfs_namenode::rpc::{ClientProtocolHandler, ServerDefaults};
use ferrodfs_proto::hdfs::datanode::*;
use ferrodfs_proto::hdfs::*;
use ferrodfs_proto::protocol::CLIENT_NAMENODE;

const DISALLOWED: &str = "org.apache.hadoop.hdfs.server.protocol.DisallowedDatanodeException";
const UNREGISTERED: &str = "org.apache.hadoop.hdfs.protocol.UnregisteredNodeException";
const ACCESS: &str = "org.apache.hadoop.security.AccessControlException";

fn registration(port: u32, info: &StorageInfoProto) -> DatanodeRegistrationProto {
    DatanodeRegistrationProto {
        datanode_id: DatanodeIdProto {
            ip_addr: "127.0.0.1".into(),
            host_name: "localhost".into(),
            datanode_uuid: format!("uuid-{port}"),
            xfer_port: port,
            info_port: 0,
            ipc_port: 0,
            info_secure_port: Some(0),
        },
        storage_info: info.clone(),
        keys: ExportedBlockKeysProto::default(),
        software_version: "3.3.4".into(),
    }
}

fn proxy(t: &TestNameNode, user: &str) -> DatanodeProtocolProxy {
    DatanodeProtocolProxy::new(RpcClient::new(common::config(user)), t.addr())
}

fn refresh(t: &TestNameNode, user: &str) -> ferrodfs_ipc::Result<RefreshNodesResponseProto> {
    t.client(user).client().call(
        t.addr(),
        CLIENT_NAMENODE,
        "refreshNodes",
        &RefreshNodesRequestProto {},
    )
}

#[test]
fn refresh_nodes_turns_a_registered_datanode_away() {
    let hosts_dir = tempfile::tempdir().unwrap();
    let include = hosts_dir.path().join("include");
    std::fs::write(&include, "127.0.0.1:50011 127.0.0.1:50012\n").unwrap();
    let inc = include.clone();
    let t = TestNameNode::start_with(move |c| c.namenode.hosts_include = Some(inc));
    let dn = t.datanode_proxy();
    let info = dn
        .version_request(&VersionRequestProto {})
        .unwrap()
        .info
        .storage_info;
    let regs: Vec<_> = [50011, 50012]
        .iter()
        .map(|&p| {
            dn.register_datanode(&RegisterDatanodeRequestProto {
                registration: registration(p, &info),
            })
            .unwrap()
            .registration
        })
        .collect();
    let refused = dn.register_datanode(&RegisterDatanodeRequestProto {
        registration: registration(50013, &info),
    });
    assert_eq!(class_of(refused), DISALLOWED);

    // Another user cannot take over a live node's identity, nor speak for it.
    let mallory = proxy(&t, "mallory");
    let taken = mallory.register_datanode(&RegisterDatanodeRequestProto {
        registration: registration(50011, &info),
    });
    assert_eq!(class_of(taken), UNREGISTERED);
    let heartbeat = |p: &DatanodeProtocolProxy, reg: &DatanodeRegistrationProto| {
        p.send_heartbeat(&HeartbeatRequestProto {
            registration: reg.clone(),
            ..Default::default()
        })
    };
    assert_eq!(class_of(heartbeat(&mallory, &regs[0])), UNREGISTERED);
    assert!(heartbeat(&dn, &regs[0]).unwrap().cmds.is_empty());

    // Drop 50011 from the list: only the superuser may refresh; then the node is dead
    // at once and its next call is refused.
    std::fs::write(&include, "127.0.0.1:50012\n").unwrap();
    assert_eq!(class_of(refresh(&t, "mallory")), ACCESS);
    refresh(&t, &su()).unwrap();
    assert_eq!(class_of(heartbeat(&dn, &regs[0])), DISALLOWED);
    assert!(heartbeat(&dn, &regs[1]).unwrap().cmds.is_empty());
    let live = t
        .client(&su())
        .get_datanode_report(&GetDatanodeReportRequestProto {
            r#type: DatanodeReportTypeProto::Live as i32,
        })
        .unwrap()
        .di;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].id.xfer_port, 50012);
    let again = dn.register_datanode(&RegisterDatanodeRequestProto {
        registration: registration(50011, &info),
    });
    assert_eq!(class_of(again), DISALLOWED);
}

#[test]
fn proxy_users_act_for_whom_the_configuration_allows() {
    let t = TestNameNode::start();
    let rules = [
        ("hadoop.proxyuser.oozie.users", "alice"),
        ("hadoop.proxyuser.oozie.hosts", "127.0.0.1"),
    ];
    let proxy_users = ProxyUsers::from_lookup(rules.iter().map(|(k, _)| *k), |k| {
        rules
            .iter()
            .find(|(r, _)| *r == k)
            .map(|(_, v)| v.to_string())
    });
    let handler = ClientProtocolHandler::new(
        Arc::clone(t.server().namenode()),
        ServerDefaults::new(&t.config.namenode),
    )
    .with_proxy_users(Arc::new(proxy_users));
    let ctx = |real: &str, user: &str, ip: [u8; 4]| {
        let mut c = CallContext::new(
            user,
            CLIENT_NAMENODE.name,
            "getFileInfo",
            (ip, 40000).into(),
        );
        c.real_user = Some(real.to_owned());
        c
    };
    let call = handler
        .call_info(&ctx("oozie", "alice", [127, 0, 0, 1]))
        .unwrap();
    assert_eq!(call.user, "alice", "the call runs as the effective user");
    let e = handler
        .call_info(&ctx("oozie", "bob", [127, 0, 0, 1]))
        .unwrap_err();
    assert_eq!(
        e.class_name(),
        "org.apache.hadoop.security.authorize.AuthorizationException"
    );
    assert_eq!(e.message, "User: oozie is not allowed to impersonate bob");
    let e = handler
        .call_info(&ctx("oozie", "alice", [10, 1, 2, 3]))
        .unwrap_err();
    assert_eq!(
        e.message,
        "Unauthorized connection for super-user: oozie from IP 10.1.2.3"
    );
    // No rule for this real user: refused.
    assert!(handler
        .call_info(&ctx("mallory", "alice", [127, 0, 0, 1]))
        .is_err());
}
