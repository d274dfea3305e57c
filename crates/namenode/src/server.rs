//! [`NameNodeServer`]: a [`NameNode`] on the wire — the name directory opened, the RPC
//! server serving ClientProtocol and DatanodeProtocol, and the monitors running as
//! delayed messages on a looper thread named "NameNode Monitor".
//!
//! With `dfs.namenode.servicerpc-address` set, a second RPC server (Hadoop's service RPC
//! server, `dfs.namenode.service.handler.count` handlers) serves the same protocols on
//! its own port, so DataNodes (which prefer that address) do not queue behind clients.
//! As in Hadoop, the client port keeps serving DatanodeProtocol too; who may use it is
//! decided per call (docs/design/namenode-guard.md).
//!
//! ```no_run
//! use ferrodfs_namenode::server::{NameNodeServer, NameNodeServerConfig};
//! use ferrodfs_namenode::{NameNode, NameNodeConfig};
//!
//! let mut config = NameNodeServerConfig::default();
//! config.namenode = NameNodeConfig { name_dir: "/tmp/nn".into(), ..NameNodeConfig::default() };
//! config.rpc_addr = "127.0.0.1:0".parse()?;
//! NameNode::format(&config.namenode, None)?;
//! let server = NameNodeServer::start(config)?;
//! println!("serving on {}", server.rpc_addr());
//! server.shutdown()?; // final checkpoint
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Monitors (each reschedules itself after running):
//!
//! | monitor | every | Hadoop's |
//! |---|---|---|
//! | lease | `lease_check_interval` (2 s) | `LeaseManager.Monitor`, `dfs.namenode.lease-recheck-interval-ms` |
//! | heartbeat expiry | `min(recheck interval, 5 s)` | `HeartbeatManager.Monitor` |
//! | redundancy | `redundancy_interval` (3 s) | `RedundancyMonitor`, `dfs.namenode.redundancy.interval.seconds` |
//! | safe mode | 1 s | `SafeModeMonitor` |
//! | checkpoint | `checkpoint_check_interval` (60 s) | `dfs.namenode.checkpoint.check.period` |

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ferrodfs_conf::{keys, Configuration};
use ferrodfs_ipc::server::Server;
use ferrodfs_looper::{Handler, Looper};

use crate::config::NameNodeConfig;
use crate::error::{Error, Result};
use crate::rpc::proxy_users::ProxyUsers;
use crate::rpc::retry_cache::RetryCache;
use crate::rpc::{ClientProtocolHandler, DatanodeProtocolHandler, ServerDefaults};
use crate::NameNode;

/// `dfs.namenode.handler.count` default.
pub const HANDLER_COUNT_DEFAULT: usize = 10;
/// `dfs.namenode.servicerpc-address`: the service RPC server (DataNodes); unset: none.
pub const SERVICE_RPC_ADDRESS_KEY: &str = "dfs.namenode.servicerpc-address";
/// `dfs.namenode.service.handler.count` (default 10).
pub const SERVICE_HANDLER_COUNT_KEY: &str = "dfs.namenode.service.handler.count";
pub const SERVICE_HANDLER_COUNT_DEFAULT: usize = 10;
/// `ipc.server.read.threadpool.size`.
pub const READERS_KEY: &str = "ipc.server.read.threadpool.size";
pub const READERS_DEFAULT: usize = 1;
/// `dfs.namenode.lease-recheck-interval-ms` (default 2 s).
pub const LEASE_RECHECK_KEY: &str = "dfs.namenode.lease-recheck-interval-ms";
pub const LEASE_RECHECK_DEFAULT: Duration = Duration::from_secs(2);
/// `dfs.namenode.redundancy.interval.seconds` default.
pub const REDUNDANCY_INTERVAL_DEFAULT: Duration = Duration::from_secs(3);
/// `dfs.namenode.replication.work.multiplier.per.iteration` (default 2): blocks scheduled
/// per redundancy round = live DataNodes × this.
pub const WORK_MULTIPLIER_KEY: &str = "dfs.namenode.replication.work.multiplier.per.iteration";
pub const WORK_MULTIPLIER_DEFAULT: usize = 2;
/// `dfs.namenode.checkpoint.check.period` (default 60 s).
pub const CHECKPOINT_CHECK_KEY: &str = "dfs.namenode.checkpoint.check.period";
pub const CHECKPOINT_CHECK_DEFAULT: Duration = Duration::from_secs(60);
/// How often the safe-mode monitor looks (Hadoop's `SafeModeMonitor` recheck, 1 s).
pub const SAFE_MODE_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// Upper bound of the heartbeat-expiry check period (Hadoop's monitor wakes every 5 s).
pub const HEARTBEAT_CHECK_MAX: Duration = Duration::from_secs(5);
/// Shortest period of any monitor (keeps a misconfiguration from spinning).
pub const MONITOR_MIN_PERIOD: Duration = Duration::from_millis(10);

/// Everything a [`NameNodeServer`] is configured by.
#[derive(Debug, Clone)]
pub struct NameNodeServerConfig {
    pub namenode: NameNodeConfig,
    /// `dfs.namenode.rpc-address` (port 0: any free port).
    pub rpc_addr: SocketAddr,
    /// `dfs.namenode.servicerpc-address` (None: DataNodes use `rpc_addr`).
    pub service_rpc_addr: Option<SocketAddr>,
    /// `dfs.namenode.service.handler.count`.
    pub service_handlers: usize,
    /// `hadoop.proxyuser.*`.
    pub proxy_users: ProxyUsers,
    /// `dfs.namenode.handler.count`.
    pub handlers: usize,
    /// `ipc.server.read.threadpool.size`.
    pub readers: usize,
    pub defaults: ServerDefaults,
    pub lease_check_interval: Duration,
    pub redundancy_interval: Duration,
    pub work_multiplier: usize,
    pub checkpoint_check_interval: Duration,
    /// What one RPC peer may cost (`ipc.maximum.data.length`,
    /// `ipc.server.max.connections[.per.ip]`, idle and frame timeouts).
    pub ipc_limits: ferrodfs_ipc::server::Limits,
}

impl Default for NameNodeServerConfig {
    fn default() -> Self {
        let namenode = NameNodeConfig::default();
        NameNodeServerConfig {
            defaults: ServerDefaults::new(&namenode),
            namenode,
            rpc_addr: SocketAddr::from(([0, 0, 0, 0], keys::DFS_NAMENODE_RPC_PORT_DEFAULT)),
            service_rpc_addr: None,
            service_handlers: SERVICE_HANDLER_COUNT_DEFAULT,
            proxy_users: ProxyUsers::default(),
            handlers: HANDLER_COUNT_DEFAULT,
            readers: READERS_DEFAULT,
            lease_check_interval: LEASE_RECHECK_DEFAULT,
            redundancy_interval: REDUNDANCY_INTERVAL_DEFAULT,
            work_multiplier: WORK_MULTIPLIER_DEFAULT,
            checkpoint_check_interval: CHECKPOINT_CHECK_DEFAULT,
            ipc_limits: ferrodfs_ipc::server::Limits::default(),
        }
    }
}

/// A configuration value that does not parse or resolve.
fn conf_error(e: impl std::fmt::Display) -> Error {
    Error::IllegalArgument {
        message: e.to_string(),
    }
}

impl NameNodeServerConfig {
    /// Reads Hadoop's keys from a loaded [`Configuration`]; unknown keys are ignored.
    pub fn from_conf(conf: &Configuration) -> Result<NameNodeServerConfig> {
        let lookup = |k: &str| conf.get(k).ok().flatten();
        let mut nn = NameNodeConfig::from_lookup(lookup);
        // Durations through Hadoop's parser (`3s`, `500ms`, bare numbers in the key's unit).
        let dur =
            |key: &str, default: Duration| conf.get_duration(key, default).map_err(conf_error);
        nn.heartbeat_interval = dur(keys::DFS_HEARTBEAT_INTERVAL, nn.heartbeat_interval)?;
        nn.heartbeat_recheck_interval = dur(
            keys::DFS_NAMENODE_HEARTBEAT_RECHECK_INTERVAL,
            nn.heartbeat_recheck_interval,
        )?;
        nn.safemode_extension = dur(keys::DFS_NAMENODE_SAFEMODE_EXTENSION, nn.safemode_extension)?;
        nn.checkpoint_period = dur(keys::DFS_NAMENODE_CHECKPOINT_PERIOD, nn.checkpoint_period)?;
        let rpc = conf
            .namenode_rpc_address()
            .map_err(conf_error)?
            .map_or_else(
                || format!("0.0.0.0:{}", keys::DFS_NAMENODE_RPC_PORT_DEFAULT),
                |hp| format!("{}:{}", hp.host, hp.port),
            );
        let rpc_addr = resolve(keys::DFS_NAMENODE_RPC_ADDRESS, &rpc)?;
        let service_rpc_addr = conf
            .get_socket_addr(SERVICE_RPC_ADDRESS_KEY, None)
            .map_err(conf_error)?
            .map(|hp| resolve(SERVICE_RPC_ADDRESS_KEY, &format!("{}:{}", hp.host, hp.port)))
            .transpose()?;
        let count = |key: &str, default: usize| {
            conf.get_u64(key, default as u64)
                .map(|n| usize::try_from(n).unwrap_or(default).max(1))
                .map_err(conf_error)
        };
        Ok(NameNodeServerConfig {
            defaults: ServerDefaults::from_lookup(&nn, lookup),
            rpc_addr,
            service_rpc_addr,
            service_handlers: count(SERVICE_HANDLER_COUNT_KEY, SERVICE_HANDLER_COUNT_DEFAULT)?,
            proxy_users: ProxyUsers::from_conf(conf),
            handlers: count(keys::DFS_NAMENODE_HANDLER_COUNT, HANDLER_COUNT_DEFAULT)?,
            readers: count(READERS_KEY, READERS_DEFAULT)?,
            lease_check_interval: conf
                .get_duration_in(
                    LEASE_RECHECK_KEY,
                    LEASE_RECHECK_DEFAULT,
                    ferrodfs_conf::TimeUnit::Milliseconds,
                )
                .map_err(conf_error)?,
            redundancy_interval: dur(
                keys::DFS_NAMENODE_REDUNDANCY_INTERVAL,
                REDUNDANCY_INTERVAL_DEFAULT,
            )?,
            work_multiplier: count(WORK_MULTIPLIER_KEY, WORK_MULTIPLIER_DEFAULT)?,
            checkpoint_check_interval: conf
                .get_duration_in(
                    CHECKPOINT_CHECK_KEY,
                    CHECKPOINT_CHECK_DEFAULT,
                    ferrodfs_conf::TimeUnit::Seconds,
                )
                .map_err(conf_error)?,
            ipc_limits: ferrodfs_ipc::server::Limits::from_conf(conf).map_err(conf_error)?,
            namenode: nn,
        })
    }

    /// A configuration for tests: the name dir given, an OS-chosen loopback port, the
    /// given user as superuser, no minimum block size, no safe-mode extension, 4 handlers.
    pub fn for_test(name_dir: &std::path::Path, superuser: &str) -> NameNodeServerConfig {
        let namenode = NameNodeConfig {
            name_dir: name_dir.to_owned(),
            superuser: superuser.to_owned(),
            min_block_size: 0,
            safemode_extension: Duration::ZERO,
            ..NameNodeConfig::default()
        };
        NameNodeServerConfig {
            defaults: ServerDefaults::new(&namenode),
            namenode,
            rpc_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            handlers: 4,
            ..NameNodeServerConfig::default()
        }
    }
}

/// `host:port` of `key` resolved, IPv4 preferred (`localhost` may resolve to ::1
/// first; clients dial 127.0.0.1).
fn resolve(key: &str, hostport: &str) -> Result<SocketAddr> {
    let addrs: Vec<SocketAddr> = hostport
        .to_socket_addrs()
        .map_err(|e| conf_error(format!("{key}: {hostport}: {e}")))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| conf_error(format!("{hostport} resolves to no address")))
}

/// A running NameNode: RPC server(s) + monitor thread around a shared [`NameNode`].
#[derive(Debug)]
pub struct NameNodeServer {
    nn: Arc<NameNode>,
    rpc: Option<Server>,
    service_rpc: Option<Server>,
    monitor: Option<(Handler, JoinHandle<()>)>,
    rpc_addr: SocketAddr,
}

impl NameNodeServer {
    /// Opens the (formatted) name directory, starts the monitors and the RPC server.
    pub fn start(config: NameNodeServerConfig) -> Result<NameNodeServer> {
        let t0 = Instant::now();
        let nn = Arc::new(NameNode::open(config.namenode.clone())?);
        let proxy_users = Arc::new(config.proxy_users.clone());
        let client = ClientProtocolHandler::new(Arc::clone(&nn), config.defaults.clone())
            .with_retry_cache(RetryCache::from_config(&config.namenode).map(Arc::new))
            .with_proxy_users(Arc::clone(&proxy_users));
        let datanode = Arc::new(
            DatanodeProtocolHandler::new(Arc::clone(&nn))
                .with_proxy_users(proxy_users, Arc::clone(client.groups())),
        );
        let client = Arc::new(client);
        let monitor = start_monitor(Arc::clone(&nn), &config)?;
        let serve = |addr: SocketAddr, handlers: usize| {
            Server::builder()
                .bind(addr)
                .readers(config.readers)
                .handlers(handlers)
                .limits(&config.ipc_limits)
                .service(Arc::clone(&client).service())
                .service(Arc::clone(&datanode).service())
                .start()
                .map_err(|e| Error::Io {
                    path: format!("rpc address {addr}").into(),
                    source: std::io::Error::other(e.to_string()),
                })
        };
        let rpc = match serve(config.rpc_addr, config.handlers) {
            Ok(rpc) => rpc,
            Err(e) => {
                stop_monitor(monitor);
                return Err(e);
            }
        };
        let service_rpc = match config.service_rpc_addr {
            None => None,
            Some(addr) => match serve(addr, config.service_handlers) {
                Ok(s) => Some(s),
                Err(e) => {
                    rpc.shutdown();
                    stop_monitor(monitor);
                    return Err(e);
                }
            },
        };
        let rpc_addr = rpc.local_addr();
        tracing::info!(
            %rpc_addr,
            service_rpc_addr = ?service_rpc.as_ref().map(Server::local_addr),
            name_dir = %config.namenode.name_dir.display(),
            handlers = config.handlers,
            startup_ms = t0.elapsed().as_millis() as u64,
            "NameNode started"
        );
        Ok(NameNodeServer {
            nn,
            rpc: Some(rpc),
            service_rpc,
            monitor: Some(monitor),
            rpc_addr,
        })
    }

    /// The address the RPC server listens on.
    pub fn rpc_addr(&self) -> SocketAddr {
        self.rpc_addr
    }

    /// The address the service RPC server listens on, if one runs.
    pub fn service_rpc_addr(&self) -> Option<SocketAddr> {
        self.service_rpc.as_ref().map(Server::local_addr)
    }

    /// Where DataNodes should call: the service RPC address, else the RPC address
    /// (Hadoop's `DFSUtil.getNNServiceRpcAddresses`).
    pub fn datanode_rpc_addr(&self) -> SocketAddr {
        self.service_rpc_addr().unwrap_or(self.rpc_addr)
    }

    pub fn namenode(&self) -> &Arc<NameNode> {
        &self.nn
    }

    /// Stops the RPC server and the monitors, then writes a checkpoint and finalizes the
    /// edit segment (when no one else holds the [`NameNode`]; otherwise only checkpoints).
    pub fn shutdown(mut self) -> Result<()> {
        self.stop_threads();
        let nn = Arc::clone(&self.nn);
        drop(self);
        let res = match Arc::try_unwrap(nn) {
            Ok(nn) => nn.shutdown(),
            Err(shared) => shared.checkpoint().map(|_| ()),
        };
        tracing::info!("NameNode stopped");
        res
    }

    fn stop_threads(&mut self) {
        if let Some(rpc) = self.rpc.take() {
            rpc.shutdown();
        }
        if let Some(rpc) = self.service_rpc.take() {
            rpc.shutdown();
        }
        if let Some(m) = self.monitor.take() {
            stop_monitor(m);
        }
    }
}

/// Dropping without [`NameNodeServer::shutdown`] stops the threads but writes no
/// checkpoint (every acknowledged change is in the edit log already).
impl Drop for NameNodeServer {
    fn drop(&mut self) {
        self.stop_threads();
    }
}

type Task = Arc<dyn Fn(&NameNode) + Send + Sync>;

/// Runs `task` now + `every`, then again `every` after each run.
fn schedule(handler: Handler, nn: Arc<NameNode>, every: Duration, task: Task) {
    let every = every.max(MONITOR_MIN_PERIOD);
    let h = handler.clone();
    handler.post_delayed(
        move || {
            task(&nn);
            schedule(h, nn, every, task);
        },
        every,
    );
}

fn start_monitor(
    nn: Arc<NameNode>,
    config: &NameNodeServerConfig,
) -> Result<(Handler, JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("NameNode Monitor".into())
        .spawn(move || {
            let looper = match Looper::prepare() {
                Ok(l) => l,
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    return;
                }
            };
            let _ = tx.send(Ok(looper.handler()));
            if let Err(e) = looper.run() {
                tracing::error!(error = %e, "NameNode monitor looper failed");
            }
        })
        .map_err(|e| Error::io("NameNode Monitor thread", e))?;
    let handler = rx
        .recv()
        .map_err(|_| conf_error("the monitor thread exited before starting"))?
        .map_err(conf_error)?;

    let hb_every = config
        .namenode
        .heartbeat_recheck_interval
        .min(HEARTBEAT_CHECK_MAX);
    let multiplier = config.work_multiplier;
    let tasks: [(Duration, Task); 5] = [
        (
            config.lease_check_interval,
            Arc::new(|nn: &NameNode| match nn.check_leases(Instant::now()) {
                Ok(paths) if !paths.is_empty() => {
                    tracing::info!(?paths, "lease monitor: recovering files")
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "lease monitor"),
            }),
        ),
        (
            hb_every,
            Arc::new(|nn: &NameNode| {
                let dead = nn.check_heartbeats(Instant::now());
                if !dead.is_empty() {
                    tracing::warn!(?dead, "datanodes declared dead");
                }
            }),
        ),
        (
            config.redundancy_interval,
            Arc::new(move |nn: &NameNode| {
                let live = nn.with_namesystem(|fs| fs.datanodes().live_count());
                if live > 0 {
                    nn.compute_replication_work(live * multiplier, Instant::now());
                }
            }),
        ),
        (
            SAFE_MODE_CHECK_INTERVAL,
            Arc::new(|nn: &NameNode| {
                if nn.in_safe_mode() {
                    nn.check_safe_mode(Instant::now());
                }
            }),
        ),
        (
            config.checkpoint_check_interval,
            Arc::new(|nn: &NameNode| {
                if let Err(e) = nn.maybe_checkpoint(Instant::now()) {
                    tracing::error!(error = %e, "checkpoint failed");
                }
            }),
        ),
    ];
    for (every, task) in tasks {
        schedule(handler.clone(), Arc::clone(&nn), every, task);
    }
    Ok((handler, thread))
}

fn stop_monitor((handler, thread): (Handler, JoinHandle<()>)) {
    handler.quit();
    if thread.join().is_err() {
        tracing::error!("the NameNode monitor thread panicked");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrodfs_conf::GenericOptions;

    fn conf(args: &[&str]) -> Configuration {
        let opts = GenericOptions::parse(args.iter().map(|s| s.to_string())).unwrap();
        let mut c = Configuration::new();
        opts.apply(&mut c).unwrap();
        c
    }

    #[test]
    fn config_from_hadoop_keys() {
        let c = NameNodeServerConfig::from_conf(&conf(&[
            "-D",
            "dfs.namenode.name.dir=file:///data/nn",
            "-D",
            "dfs.namenode.rpc-address=localhost:9000",
            "-D",
            "dfs.namenode.handler.count=7",
            "-D",
            "dfs.heartbeat.interval=1s",
            "-D",
            "dfs.namenode.heartbeat.recheck-interval=500",
            "-D",
            "dfs.namenode.redundancy.interval.seconds=1",
            "-D",
            "dfs.namenode.lease-recheck-interval-ms=100",
            "-D",
            "dfs.bytes-per-checksum=1024",
            "-D",
            "no.such.key=whatever",
            "-D",
            "dfs.namenode.servicerpc-address=localhost:9001",
            "-D",
            "hadoop.proxyuser.oozie.users=*",
            "-D",
            "hadoop.proxyuser.oozie.hosts=127.0.0.1",
        ]))
        .unwrap();
        assert_eq!(c.service_rpc_addr, Some("127.0.0.1:9001".parse().unwrap()));
        assert!(c
            .proxy_users
            .authorize("oozie", "bob", &[], "127.0.0.1".parse().unwrap())
            .is_ok());
        assert_eq!(c.namenode.name_dir, std::path::PathBuf::from("/data/nn"));
        assert_eq!(c.rpc_addr, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(c.handlers, 7);
        assert_eq!(c.namenode.heartbeat_interval, Duration::from_secs(1));
        assert_eq!(
            c.namenode.heartbeat_recheck_interval,
            Duration::from_millis(500)
        );
        assert_eq!(c.redundancy_interval, Duration::from_secs(1));
        assert_eq!(c.lease_check_interval, Duration::from_millis(100));
        assert_eq!(c.defaults.bytes_per_checksum, 1024);
        // fs.defaultFS names the address when rpc-address is unset.
        let c = NameNodeServerConfig::from_conf(&conf(&["-fs", "hdfs://127.0.0.1:9123"])).unwrap();
        assert_eq!(c.rpc_addr.port(), 9123);
        assert_eq!(c.handlers, HANDLER_COUNT_DEFAULT);
    }

    #[test]
    fn monitors_run_and_shutdown_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = NameNodeServerConfig::for_test(dir.path(), "hdfs");
        config.namenode.lease_soft_limit = Duration::from_millis(10);
        config.namenode.lease_hard_limit = Duration::from_millis(50);
        config.lease_check_interval = Duration::from_millis(20);
        NameNode::format(&config.namenode, None).unwrap();
        let server = NameNodeServer::start(config).unwrap();
        let nn = Arc::clone(server.namenode());
        let me = crate::namespace::Caller::user("hdfs");
        nn.create(
            &me,
            "/open",
            crate::namespace::FsPermission(0o644),
            crate::namesystem::CreateFlags(1),
            true,
            1,
            1024,
        )
        .unwrap();
        // The lease monitor closes the abandoned (empty) file after the hard limit.
        let deadline = Instant::now() + Duration::from_secs(10);
        while nn
            .get_file_info(&me, "/open")
            .unwrap()
            .is_some_and(|s| s.under_construction)
        {
            assert!(Instant::now() < deadline, "lease monitor did not run");
            std::thread::sleep(Duration::from_millis(10));
        }
        drop(nn);
        let before = NameDirImages::count(dir.path());
        server.shutdown().unwrap();
        assert_eq!(NameDirImages::count(dir.path()), before + 1);
    }

    struct NameDirImages;
    impl NameDirImages {
        fn count(dir: &std::path::Path) -> usize {
            crate::storage::NameDir::new(dir)
                .list()
                .unwrap()
                .images
                .len()
        }
    }
}
