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
//! NameNode ([`MiniCluster::restart_namenode`]), for fault tests.
#![forbid(unsafe_code)]

use ferrodfs_datanode::{DataNode, DataNodeConfig};
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
    /// The superuser (default: the current user).
    pub superuser: String,
    /// DataNode heartbeat interval (short, so tests see changes quickly).
    pub heartbeat_interval: Duration,
    /// Format the name directory even if it holds a namespace.
    pub format: bool,
}

impl Default for MiniClusterConfig {
    fn default() -> Self {
        MiniClusterConfig {
            datanodes: 3,
            base_dir: None,
            namenode_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            superuser: ferrodfs_ipc::client::current_user(),
            heartbeat_interval: Duration::from_millis(300),
            format: true,
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
        nn_config.namenode.heartbeat_interval = config.heartbeat_interval;
        let formatted = base.join("name").join("current").join("VERSION").exists();
        if config.format || !formatted {
            NameNode::format(&nn_config.namenode, None)?;
        }
        let namenode = NameNodeServer::start(nn_config.clone())?;
        // Restarts bind the same port so clients and DataNodes find it again.
        nn_config.rpc_addr = namenode.rpc_addr();
        let mut cluster = MiniCluster {
            config,
            base,
            _temp: temp,
            namenode: Some(namenode),
            nn_config,
            datanodes: Vec::new(),
        };
        for i in 0..cluster.config.datanodes {
            let dn = cluster.start_datanode_at(i)?;
            cluster.datanodes.push(Some(dn));
        }
        cluster.wait_for_live_datanodes(cluster.config.datanodes, STARTUP_TIMEOUT)?;
        Ok(cluster)
    }

    fn start_datanode_at(&self, i: usize) -> Result<DataNode> {
        let mut c = DataNodeConfig::new(vec![self.data_dir(i)]);
        c.namenode = Some(self.namenode_addr());
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
        let dn = self.start_datanode_at(i)?;
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
