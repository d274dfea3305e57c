//! An in-process ferrodfs cluster: one NameNode and N DataNodes on loopback ports the
//! OS chooses, in a temporary (or given) directory. Tests, benchmarks and
//! `ferrodfs cluster` use it.
//!
//! ```no_run
//! use ferrodfs_minicluster::{MiniCluster, MiniClusterConfig};
//!
//! let cluster = MiniCluster::start(MiniClusterConfig::default())?;
//! println!("fs.defaultFS = {}", cluster.default_fs());
//! # Ok::<(), ferrodfs_minicluster::Error>(())
//! ```
//!
//! DataNodes can be stopped and restarted over the same directories
//! ([`MiniCluster::stop_datanode`], [`MiniCluster::restart_datanode`]), and so can the
//! NameNode ([`MiniCluster::restart_namenode`]), for fault tests. The NameNode's
//! monitor intervals and lease limits are in [`MiniClusterConfig`] (tests shorten
//! dead-node expiry and the lease hard limit); [`MiniCluster::wait_for`],
//! [`MiniCluster::wait_for_replication`] and [`MiniCluster::corrupt_replica`] help
//! tests poll with deadlines and damage replicas on disk.
#![forbid(unsafe_code)]

use ferrodfs_datanode::storage::{ExtendedBlock as DnBlock, ReplicaState};
use ferrodfs_datanode::{DataNode, DataNodeConfig};
use ferrodfs_namenode::blocks::ExtendedBlock;
use ferrodfs_namenode::namespace::Caller;
use ferrodfs_namenode::namesystem::{LocatedBlock, LocatedBlocks};
use ferrodfs_namenode::server::{NameNodeServer, NameNodeServerConfig};
use ferrodfs_namenode::NameNode;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What can go wrong starting or driving a cluster.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("NameNode: {0}")]
    NameNode(#[from] ferrodfs_namenode::Error),
    #[error("DataNode: {0}")]
    DataNode(#[from] ferrodfs_datanode::Error),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("no DataNode #{0}")]
    NoSuchDataNode(usize),
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, &'static str),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How to build the cluster.
#[derive(Debug, Clone)]
pub struct MiniClusterConfig {
    /// Number of DataNodes.
    pub datanodes: usize,
    /// Where the name and data directories go; `None` = a temporary directory removed
    /// when the cluster is dropped.
    pub base_dir: Option<PathBuf>,
    /// The NameNode's RPC address (port 0: any free port).
    pub namenode_addr: SocketAddr,
    /// `dfs.namenode.servicerpc-address`: the NameNode's service RPC server, which the
    /// DataNodes call (default: a free loopback port; `None`: DataNodes use the client
    /// port, as Hadoop does without a service address).
    pub service_rpc_addr: Option<SocketAddr>,
    /// The superuser (default: the current user).
    pub superuser: String,
    /// DataNode heartbeat interval (short, so tests see changes quickly).
    pub heartbeat_interval: Duration,
    /// Format the name directory even if it holds a namespace.
    pub format: bool,
    /// `dfs.namenode.heartbeat.recheck-interval`: a DataNode silent for
    /// `2 * recheck + 10 * heartbeat` is declared dead (Hadoop: 5 min; fault tests
    /// shorten it).
    pub heartbeat_recheck_interval: Duration,
    /// `dfs.namenode.redundancy.interval.seconds`: how often the NameNode schedules
    /// re-replication (Hadoop: 3 s).
    pub redundancy_interval: Duration,
    /// Lease soft limit (Hadoop: 60 s).
    pub lease_soft_limit: Duration,
    /// `dfs.namenode.lease-hard-limit-sec`: after it the NameNode recovers a dead
    /// writer's file itself (Hadoop 3.3+: 20 min).
    pub lease_hard_limit: Duration,
    /// `dfs.namenode.lease-recheck-interval-ms`: how often the lease monitor looks
    /// (Hadoop: 2 s).
    pub lease_check_interval: Duration,
}

impl Default for MiniClusterConfig {
    fn default() -> Self {
        MiniClusterConfig {
            datanodes: 3,
            base_dir: None,
            namenode_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            service_rpc_addr: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            superuser: ferrodfs_ipc::client::current_user(),
            heartbeat_interval: Duration::from_millis(300),
            format: true,
            heartbeat_recheck_interval: ferrodfs_namenode::config::HEARTBEAT_RECHECK_DEFAULT,
            redundancy_interval: ferrodfs_namenode::server::REDUNDANCY_INTERVAL_DEFAULT,
            lease_soft_limit: ferrodfs_namenode::config::LEASE_SOFT_LIMIT_DEFAULT,
            lease_hard_limit: ferrodfs_namenode::config::LEASE_HARD_LIMIT_DEFAULT,
            lease_check_interval: ferrodfs_namenode::server::LEASE_RECHECK_DEFAULT,
        }
    }
}

/// A running in-process cluster.
#[derive(Debug)]
pub struct MiniCluster {
    config: MiniClusterConfig,
    base: PathBuf,
    _temp: Option<tempfile::TempDir>,
    namenode: Option<NameNodeServer>,
    nn_config: NameNodeServerConfig,
    datanodes: Vec<Option<DataNode>>,
}

/// How long [`MiniCluster::start`] waits for every DataNode to register.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

impl MiniCluster {
    /// Formats (if asked or new) and starts the NameNode, then the DataNodes, and
    /// waits until every DataNode has registered.
    pub fn start(config: MiniClusterConfig) -> Result<MiniCluster> {
        let (temp, base) = match &config.base_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                (None, dir.clone())
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("ferrodfs-cluster")
                    .tempdir()?;
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        let mut nn_config = NameNodeServerConfig::for_test(&base.join("name"), &config.superuser);
        nn_config.rpc_addr = config.namenode_addr;
        nn_config.service_rpc_addr = config.service_rpc_addr;
        nn_config.namenode.heartbeat_interval = config.heartbeat_interval;
        nn_config.namenode.heartbeat_recheck_interval = config.heartbeat_recheck_interval;
        nn_config.namenode.lease_soft_limit = config.lease_soft_limit;
        nn_config.namenode.lease_hard_limit = config.lease_hard_limit;
        nn_config.redundancy_interval = config.redundancy_interval;
        nn_config.lease_check_interval = config.lease_check_interval;
        let formatted = base.join("name").join("current").join("VERSION").exists();
        if config.format || !formatted {
            NameNode::format(&nn_config.namenode, None)?;
        }
        let namenode = NameNodeServer::start(nn_config.clone())?;
        // Restarts bind the same port so clients and DataNodes find it again.
        nn_config.rpc_addr = namenode.rpc_addr();
        nn_config.service_rpc_addr = namenode.service_rpc_addr();
        let mut cluster = MiniCluster {
            config,
            base,
            _temp: temp,
            namenode: Some(namenode),
            nn_config,
            datanodes: Vec::new(),
        };
        for i in 0..cluster.config.datanodes {
            let dn = cluster.start_datanode_at(i, None)?;
            cluster.datanodes.push(Some(dn));
        }
        cluster.wait_for_live_datanodes(cluster.config.datanodes, STARTUP_TIMEOUT)?;
        // Registered is not yet reported: wait for every node's first full block report
        // too, so a started cluster is a settled one.
        cluster.wait_for(STARTUP_TIMEOUT, "first block reports", |c| {
            c.datanodes
                .iter()
                .flatten()
                .all(|dn| dn.actor().is_none_or(|a| a.state().block_reports >= 1))
        })?;
        Ok(cluster)
    }

    fn start_datanode_at(&self, i: usize, xfer_bind: Option<SocketAddr>) -> Result<DataNode> {
        let mut c = DataNodeConfig::new(vec![self.data_dir(i)]);
        if let Some(addr) = xfer_bind {
            c.xfer_bind = addr;
        }
        c.namenode = Some(self.datanode_rpc_addr());
        c.heartbeat_interval = self.config.heartbeat_interval;
        Ok(DataNode::start(c)?)
    }

    /// The data directory of DataNode `i`.
    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.base.join(format!("data{i}"))
    }

    /// The directory holding the name and data directories.
    pub fn base_dir(&self) -> &Path {
        &self.base
    }

    /// The NameNode's RPC address.
    pub fn namenode_addr(&self) -> SocketAddr {
        self.nn_config.rpc_addr
    }

    /// Where the DataNodes call the NameNode: the service RPC address if there is one,
    /// else the RPC address.
    pub fn datanode_rpc_addr(&self) -> SocketAddr {
        self.nn_config
            .service_rpc_addr
            .unwrap_or(self.nn_config.rpc_addr)
    }

    /// `hdfs://127.0.0.1:port`, the value of `fs.defaultFS` for clients.
    pub fn default_fs(&self) -> String {
        format!("hdfs://{}", self.namenode_addr())
    }

    /// The running NameNode.
    ///
    /// # Panics
    /// While the NameNode is being restarted.
    pub fn namenode(&self) -> &NameNode {
        self.namenode
            .as_ref()
            .expect("NameNode is running")
            .namenode()
    }

    /// DataNode `i`, if running.
    pub fn datanode(&self, i: usize) -> Option<&DataNode> {
        self.datanodes.get(i).and_then(Option::as_ref)
    }

    /// Number of DataNode slots (running or stopped).
    pub fn datanode_count(&self) -> usize {
        self.datanodes.len()
    }

    /// Stops DataNode `i` (its sockets are cut at once, as if the process died).
    pub fn stop_datanode(&mut self, i: usize) -> Result<()> {
        let dn = self
            .datanodes
            .get_mut(i)
            .and_then(Option::take)
            .ok_or(Error::NoSuchDataNode(i))?;
        dn.shutdown();
        Ok(())
    }

    /// Starts DataNode `i` again over its directories.
    pub fn restart_datanode(&mut self, i: usize) -> Result<()> {
        if i >= self.datanodes.len() {
            return Err(Error::NoSuchDataNode(i));
        }
        if let Some(dn) = self.datanodes[i].take() {
            dn.shutdown();
        }
        let dn = self.start_datanode_at(i, None)?;
        self.datanodes[i] = Some(dn);
        Ok(())
    }

    /// Restarts running DataNode `i` on the same transfer address, as a real
    /// DataNode with a fixed `dfs.datanode.address` comes back: clients' connections
    /// to it are cut, the address they know stays valid.
    pub fn restart_datanode_on_same_port(&mut self, i: usize) -> Result<()> {
        let dn = self
            .datanodes
            .get_mut(i)
            .and_then(Option::take)
            .ok_or(Error::NoSuchDataNode(i))?;
        let addr = dn.xfer_addr();
        dn.shutdown();
        let dn = self.start_datanode_at(i, Some(addr))?;
        self.datanodes[i] = Some(dn);
        Ok(())
    }

    /// Stops the NameNode (checkpointing) and starts it again on the same port.
    pub fn restart_namenode(&mut self) -> Result<()> {
        if let Some(nn) = self.namenode.take() {
            nn.shutdown()?;
        }
        self.namenode = Some(NameNodeServer::start(self.nn_config.clone())?);
        Ok(())
    }

    /// Waits until the NameNode counts `n` live DataNodes.
    pub fn wait_for_live_datanodes(&self, n: usize, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while self.namenode().get_fs_stats().live_datanodes != n as u64 {
            if Instant::now() > deadline {
                return Err(Error::Timeout(timeout, "DataNodes to register"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    /// Polls `cond` every 10 ms until it holds; [`Error::Timeout`] naming `what`
    /// after `timeout`.
    pub fn wait_for(
        &self,
        timeout: Duration,
        what: &'static str,
        mut cond: impl FnMut(&MiniCluster) -> bool,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while !cond(self) {
            if Instant::now() > deadline {
                return Err(Error::Timeout(timeout, what));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    /// The running DataNode whose transfer address is `xfer_addr` (`ip:port`, as a
    /// located block names its nodes).
    pub fn datanode_index(&self, xfer_addr: &str) -> Option<usize> {
        (0..self.datanodes.len()).find(|&i| {
            self.datanode(i)
                .is_some_and(|dn| dn.xfer_addr().to_string() == xfer_addr)
        })
    }

    /// Where the blocks of `path` are, as the NameNode tells the superuser.
    pub fn block_locations(&self, path: &str) -> Result<LocatedBlocks> {
        Ok(self.namenode().get_block_locations(
            &Caller::user(&self.config.superuser),
            path,
            0,
            u64::MAX,
        )?)
    }

    /// The running DataNodes holding a FINALIZED replica of `block` with its
    /// generation stamp and length.
    pub fn finalized_replicas(&self, block: &ExtendedBlock) -> Vec<usize> {
        (0..self.datanodes.len())
            .filter(|&i| {
                self.datanode(i)
                    .and_then(|dn| {
                        dn.dataset()
                            .get_replica(&block.pool_id, block.block_id as i64)
                    })
                    .is_some_and(|r| {
                        r.state == ReplicaState::Finalized
                            && r.gen_stamp == block.gs
                            && r.num_bytes == block.num_bytes
                    })
            })
            .collect()
    }

    /// True when `path` is closed and every block of it has exactly `n` locations
    /// at the NameNode, each a running DataNode that holds the block FINALIZED with
    /// its generation stamp and length.
    pub fn is_fully_replicated(&self, path: &str, n: usize) -> Result<bool> {
        let located = self.block_locations(path)?;
        if located.under_construction {
            return Ok(false);
        }
        Ok(located
            .blocks
            .iter()
            .all(|lb| self.is_block_replicated(lb, n)))
    }

    /// True when `lb` lists exactly `n` locations, each a running DataNode holding
    /// the block FINALIZED with its generation stamp and length.
    pub fn is_block_replicated(&self, lb: &LocatedBlock, n: usize) -> bool {
        if lb.locations.len() != n {
            return false;
        }
        let good = self.finalized_replicas(&lb.block);
        lb.locations.iter().all(|l| {
            self.datanode_index(&l.id.xfer_addr())
                .is_some_and(|i| good.contains(&i))
        })
    }

    /// Waits until [`MiniCluster::is_fully_replicated`] holds for `path`.
    pub fn wait_for_replication(&self, path: &str, n: usize, timeout: Duration) -> Result<()> {
        self.wait_for(timeout, "blocks to be fully replicated", |c| {
            c.is_fully_replicated(path, n).unwrap_or(false)
        })
    }

    /// Flips bytes in the middle of DataNode `i`'s replica of `block` on disk (its
    /// checksums are left alone, so readers see a checksum mismatch). Returns the
    /// block file.
    pub fn corrupt_replica(&self, i: usize, block: &ExtendedBlock) -> Result<PathBuf> {
        let dn = self.datanode(i).ok_or(Error::NoSuchDataNode(i))?;
        let replica = dn.dataset().open_for_read(&DnBlock::new(
            &block.pool_id,
            block.block_id as i64,
            block.gs,
            block.num_bytes,
        ))?;
        let path = replica.data_path().to_path_buf();
        drop(replica);
        let mut bytes = std::fs::read(&path)?;
        let mid = bytes.len() / 2;
        let end = bytes.len().min(mid + 16);
        for b in &mut bytes[mid..end] {
            *b ^= 0x5a;
        }
        std::fs::write(&path, &bytes)?;
        Ok(path)
    }

    /// Stops everything.
    pub fn shutdown(mut self) -> Result<()> {
        self.stop_all()
    }

    fn stop_all(&mut self) -> Result<()> {
        for dn in self.datanodes.iter_mut().filter_map(Option::take) {
            dn.shutdown();
        }
        if let Some(nn) = self.namenode.take() {
            nn.shutdown()?;
        }
        Ok(())
    }
}

impl Drop for MiniCluster {
    fn drop(&mut self) {
        if let Err(e) = self.stop_all() {
            tracing::warn!("stopping the mini cluster: {e}");
        }
    }
}
