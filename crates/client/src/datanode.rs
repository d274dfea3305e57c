//! Connections to DataNodes' transfer ports, and which DataNodes are near.

use crate::{Error, Result};
use ferrodfs_proto::hdfs::DatanodeInfoProto;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

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

/// Idle DataNode connections kept for the next READ_BLOCK to the same node (Hadoop's
/// `PeerCache`): at most `capacity` sockets in all (the oldest goes first), each kept
/// for `expiry` after it was returned. A socket is returned only after a READ_BLOCK
/// read to its end and answered with CHECKSUM_OK, when the DataNode waits for another
/// op on it (`dfs.datanode.socket.reuse.keepalive`, 4 s by default, longer than the
/// client's 3 s expiry). One cache per [`crate::DfsClient`], shared by its streams.
#[derive(Debug)]
pub struct PeerCache {
    capacity: usize,
    expiry: Duration,
    idle: Mutex<VecDeque<(SocketAddr, TcpStream, Instant)>>,
    /// Fresh connections made for READ_BLOCK.
    connects: AtomicU64,
}

impl PeerCache {
    pub fn new(capacity: usize, expiry: Duration) -> PeerCache {
        PeerCache {
            capacity,
            expiry,
            idle: Mutex::new(VecDeque::new()),
            connects: AtomicU64::new(0),
        }
    }

    /// Takes the most recently returned live socket to `addr`, dropping expired ones.
    pub fn take(&self, addr: SocketAddr) -> Option<TcpStream> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let expiry = self.expiry;
        idle.retain(|(_, _, at)| at.elapsed() < expiry);
        let i = idle.iter().rposition(|(a, _, _)| *a == addr)?;
        idle.remove(i).map(|(_, s, _)| s)
    }

    /// Keeps `stream` to `addr` for reuse (or drops it with a capacity of 0).
    pub fn put(&self, addr: SocketAddr, stream: TcpStream) {
        if self.capacity == 0 || self.expiry.is_zero() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.push_back((addr, stream, Instant::now()));
        while idle.len() > self.capacity {
            idle.pop_front();
        }
    }

    /// Idle sockets held now (expired ones included until the next `take`).
    pub fn len(&self) -> usize {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// True when no socket is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counts a fresh connection made for READ_BLOCK.
    pub fn count_connect(&self) {
        self.connects.fetch_add(1, Ordering::Relaxed);
    }

    /// Fresh connections made for READ_BLOCK so far.
    pub fn connects(&self) -> u64 {
        self.connects.load(Ordering::Relaxed)
    }
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

    #[test]
    fn peer_cache_keeps_the_newest_and_expires() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = listener.local_addr().unwrap();
        let b: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let sock = || TcpStream::connect(a).unwrap();
        let cache = PeerCache::new(2, Duration::from_secs(60));
        cache.put(a, sock());
        cache.put(b, sock());
        cache.put(a, sock());
        // Capacity 2: the oldest went.
        assert_eq!(cache.len(), 2);
        assert!(cache.take(a).is_some());
        assert!(cache.take(a).is_none());
        assert!(cache.take(b).is_some());
        let none = PeerCache::new(16, Duration::ZERO);
        none.put(a, sock());
        assert!(none.take(a).is_none());
        let short = PeerCache::new(16, Duration::from_millis(1));
        short.put(a, sock());
        std::thread::sleep(Duration::from_millis(5));
        assert!(short.take(a).is_none());
        assert!(short.is_empty());
    }
}
