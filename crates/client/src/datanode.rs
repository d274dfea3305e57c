//! Connections to DataNodes' transfer ports, and which DataNodes are near.

use crate::{Error, Result};
use ferrodfs_proto::hdfs::DatanodeInfoProto;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// A connected socket to a DataNode, with the node's name for errors.
#[derive(Debug)]
pub struct DnStream {
    pub stream: TcpStream,
    pub name: String,
}

/// `ip:xferPort`, how Hadoop names a node in `firstBadLink` and logs.
pub fn node_name(node: &DatanodeInfoProto) -> String {
    let ip = &node.id.ip_addr;
    if ip.contains(':') {
        format!("[{ip}]:{}", node.id.xfer_port)
    } else {
        format!("{ip}:{}", node.id.xfer_port)
    }
}

/// The node's transfer address (`dfs.client.use.datanode.hostname` false: its IP).
pub fn node_addr(node: &DatanodeInfoProto) -> Result<SocketAddr> {
    let ip: IpAddr = node.id.ip_addr.parse().map_err(|_| Error::DataNodeIo {
        node: node_name(node),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not an IP address"),
    })?;
    let port = u16::try_from(node.id.xfer_port).map_err(|_| Error::DataNodeIo {
        node: node_name(node),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "transfer port"),
    })?;
    Ok(SocketAddr::new(ip, port))
}

/// Connects to `node` within `connect_timeout`, with `TCP_NODELAY` and the given
/// read and write timeouts.
pub fn connect(
    node: &DatanodeInfoProto,
    connect_timeout: Duration,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
) -> Result<DnStream> {
    let name = node_name(node);
    let addr = node_addr(node)?;
    let io = |source| Error::DataNodeIo {
        node: name.clone(),
        source,
    };
    let stream = TcpStream::connect_timeout(&addr, connect_timeout).map_err(io)?;
    stream.set_nodelay(true).map_err(io)?;
    stream.set_read_timeout(read_timeout).map_err(io)?;
    stream.set_write_timeout(write_timeout).map_err(io)?;
    Ok(DnStream { stream, name })
}

/// True if `ip` is an address of this host: loopback, or the address the host would
/// send from to reach it (a connected UDP socket sends nothing). Cached per address.
pub fn is_local(ip: &str) -> bool {
    static CACHE: OnceLock<Mutex<HashMap<String, bool>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(v) = cache.lock().ok().and_then(|c| c.get(ip).copied()) {
        return v;
    }
    let local = match ip.parse::<IpAddr>() {
        Ok(addr) if addr.is_loopback() => true,
        Ok(addr) => {
            let bind: SocketAddr = if addr.is_ipv4() {
                ([0, 0, 0, 0], 0).into()
            } else {
                ([0u16; 8], 0).into()
            };
            UdpSocket::bind(bind)
                .and_then(|s| s.connect((addr, 9)).and_then(|_| s.local_addr()))
                .is_ok_and(|l| l.ip() == addr)
        }
        Err(_) => false,
    };
    if let Ok(mut c) = cache.lock() {
        c.insert(ip.to_owned(), local);
    }
    local
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_addresses() {
        assert!(is_local("127.0.0.1"));
        assert!(is_local("::1"));
        // TEST-NET-1 is never assigned to a host.
        assert!(!is_local("192.0.2.1"));
        assert!(!is_local("not an ip"));
    }
}
