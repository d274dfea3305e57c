//! `ferrodfs dfsadmin -shutdownDatanode <host:ipc_port> [upgrade]` and
//! `-getDatanodeInfo <host:ipc_port>`: Hadoop's `DFSAdmin` commands on a DataNode's
//! ClientDatanodeProtocol (`shutdownDatanode(forUpgrade)`, `getDatanodeInfo`), with
//! Hadoop's output.

use ferrodfs_ipc::{ClientConfig, RetryPolicy, RpcClient};
use ferrodfs_proto::hdfs::{
    GetDatanodeInfoRequestProto, GetDatanodeInfoResponseProto, ShutdownDatanodeRequestProto,
    ShutdownDatanodeResponseProto,
};
use ferrodfs_proto::protocol::CLIENT_DATANODE;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

const SHUTDOWN_USAGE: &str =
    "Usage: ferrodfs dfsadmin [-shutdownDatanode <datanode_host:ipc_port> [upgrade]]\n";
const INFO_USAGE: &str = "Usage: ferrodfs dfsadmin [-getDatanodeInfo <datanode_host:ipc_port>]\n";

/// A DataNode's ClientDatanodeProtocol at `host:ipc_port`.
fn datanode_rpc(addr: &str) -> Result<(RpcClient, SocketAddr), String> {
    let sa = addr
        .to_socket_addrs()
        .map_err(|e| format!("{addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr}: no address"))?;
    let rpc = RpcClient::new(ClientConfig {
        call_timeout: Some(Duration::from_secs(60)),
        retry: RetryPolicy::NONE,
        ..ClientConfig::default()
    });
    Ok((rpc, sa))
}

/// `-shutdownDatanode <datanode_host:ipc_port> [upgrade]`: Hadoop's
/// `DFSAdmin.shutdownDatanode` (prints "Submitted a shutdown request to datanode ...").
pub fn shutdown_datanode(args: &[&str]) -> i32 {
    let (dn, upgrade) = match args {
        [dn] => (*dn, false),
        [dn, u] if u.eq_ignore_ascii_case("upgrade") => (*dn, true),
        _ => {
            eprint!("{SHUTDOWN_USAGE}");
            return 255;
        }
    };
    let result = datanode_rpc(dn).and_then(|(rpc, sa)| {
        rpc.call::<_, ShutdownDatanodeResponseProto>(
            sa,
            CLIENT_DATANODE,
            "shutdownDatanode",
            &ShutdownDatanodeRequestProto {
                for_upgrade: upgrade,
            },
        )
        .map_err(|e| e.to_string())
    });
    match result {
        Ok(_) => {
            println!("Submitted a shutdown request to datanode {dn}");
            0
        }
        Err(e) => {
            eprintln!("shutdownDatanode: {e}");
            255
        }
    }
}

/// `-getDatanodeInfo <datanode_host:ipc_port>`: Hadoop's
/// `DatanodeLocalInfo.getDatanodeLocalReport()` line.
pub fn get_datanode_info(args: &[&str]) -> i32 {
    let [dn] = args else {
        eprint!("{INFO_USAGE}");
        return 255;
    };
    let result = datanode_rpc(dn).and_then(|(rpc, sa)| {
        rpc.call::<_, GetDatanodeInfoResponseProto>(
            sa,
            CLIENT_DATANODE,
            "getDatanodeInfo",
            &GetDatanodeInfoRequestProto {},
        )
        .map_err(|e| e.to_string())
    });
    match result {
        Ok(r) => {
            let i = r.local_info;
            println!(
                "Uptime: {}, Software version: {}, Config version: {}",
                i.uptime, i.software_version, i.config_version
            );
            0
        }
        Err(e) => {
            eprintln!("getDatanodeInfo: Datanode unreachable. {e}");
            255
        }
    }
}
