//! The client's settings, read once from a [`Configuration`] with Hadoop's keys and
//! defaults.

use crate::{Error, Result};
use ferrodfs_conf::{keys, Configuration};
use ferrodfs_ipc::client::{current_user, ClientConfig, RetryPolicy};
use ferrodfs_transfer::checksum::{ChecksumType, DataChecksum};
use std::time::Duration;

/// `dfs.client.write.max-packets-in-flight`: the writer blocks when `dataQueue` and
/// `ackQueue` together hold this many packets.
pub const DFS_CLIENT_WRITE_MAX_PACKETS_IN_FLIGHT_KEY: &str =
    "dfs.client.write.max-packets-in-flight";
/// Default of [`DFS_CLIENT_WRITE_MAX_PACKETS_IN_FLIGHT_KEY`].
pub const DFS_CLIENT_WRITE_MAX_PACKETS_IN_FLIGHT_DEFAULT: usize = 80;
/// `dfs.client.block.write.retries`: how many new pipelines a block allocation tries.
pub const DFS_CLIENT_BLOCK_WRITE_RETRIES_KEY: &str = "dfs.client.block.write.retries";
/// Default of [`DFS_CLIENT_BLOCK_WRITE_RETRIES_KEY`].
pub const DFS_CLIENT_BLOCK_WRITE_RETRIES_DEFAULT: u32 = 3;
/// `dfs.client.block.write.locateFollowingBlock.retries`: retries of `addBlock`
/// (NotReplicatedYet) and of `complete` (returning false).
pub const DFS_CLIENT_BLOCK_WRITE_LOCATEFOLLOWINGBLOCK_RETRIES_KEY: &str =
    "dfs.client.block.write.locateFollowingBlock.retries";
/// Default of [`DFS_CLIENT_BLOCK_WRITE_LOCATEFOLLOWINGBLOCK_RETRIES_KEY`].
pub const DFS_CLIENT_BLOCK_WRITE_LOCATEFOLLOWINGBLOCK_RETRIES_DEFAULT: u32 = 5;
/// `dfs.client.block.write.locateFollowingBlock.initial.delay.ms`: first back-off of
/// those retries, doubled each time.
pub const DFS_CLIENT_BLOCK_WRITE_LOCATEFOLLOWINGBLOCK_INITIAL_DELAY_KEY: &str =
    "dfs.client.block.write.locateFollowingBlock.initial.delay.ms";
/// Default of [`DFS_CLIENT_BLOCK_WRITE_LOCATEFOLLOWINGBLOCK_INITIAL_DELAY_KEY`].
pub const DFS_CLIENT_BLOCK_WRITE_LOCATEFOLLOWINGBLOCK_INITIAL_DELAY_DEFAULT: Duration =
    Duration::from_millis(400);
/// `dfs.client.block.write.replace-datanode-on-failure.best-effort`: keep writing with
/// a shorter pipeline when no replacement can be added.
pub const DFS_CLIENT_REPLACE_DATANODE_ON_FAILURE_BEST_EFFORT_KEY: &str =
    "dfs.client.block.write.replace-datanode-on-failure.best-effort";
/// `dfs.client.datanode-restart.timeout` (s): how long a restarting DataNode (OOB
/// ack) is waited for.
pub const DFS_CLIENT_DATANODE_RESTART_TIMEOUT_KEY: &str = "dfs.client.datanode-restart.timeout";
/// Default of [`DFS_CLIENT_DATANODE_RESTART_TIMEOUT_KEY`].
pub const DFS_CLIENT_DATANODE_RESTART_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);
/// `dfs.client.congestion.backoff.mean.time` (ms): the mean of a writer's first
/// back-off after an ECN CONGESTED ack (later ones grow, up to the max).
pub const DFS_CLIENT_CONGESTION_BACKOFF_MEAN_TIME_KEY: &str =
    "dfs.client.congestion.backoff.mean.time";
/// Default of [`DFS_CLIENT_CONGESTION_BACKOFF_MEAN_TIME_KEY`] (Hadoop's
/// `CONGESTION_BACKOFF_MEAN_TIME_IN_MS`, 5 s).
pub const DFS_CLIENT_CONGESTION_BACKOFF_MEAN_TIME_DEFAULT: Duration = Duration::from_millis(5000);
/// `dfs.client.congestion.backoff.max.time` (ms): the longest back-off.
pub const DFS_CLIENT_CONGESTION_BACKOFF_MAX_TIME_KEY: &str =
    "dfs.client.congestion.backoff.max.time";
/// Default of [`DFS_CLIENT_CONGESTION_BACKOFF_MAX_TIME_KEY`] (10 × the mean's default).
pub const DFS_CLIENT_CONGESTION_BACKOFF_MAX_TIME_DEFAULT: Duration = Duration::from_millis(50_000);
/// `dfs.client.slow.io.warning.threshold.ms`: a pipeline ack slower than this is
/// logged ("Slow ReadProcessor ...") and counted.
pub const DFS_CLIENT_SLOW_IO_WARNING_THRESHOLD_KEY: &str =
    "dfs.client.slow.io.warning.threshold.ms";
/// Default of [`DFS_CLIENT_SLOW_IO_WARNING_THRESHOLD_KEY`] (30 s).
pub const DFS_CLIENT_SLOW_IO_WARNING_THRESHOLD_DEFAULT: Duration = Duration::from_secs(30);
/// `dfs.client.max.block.acquire.failures`: re-fetches of block locations when every
/// replica of a block failed.
pub const DFS_CLIENT_MAX_BLOCK_ACQUIRE_FAILURES_KEY: &str = "dfs.client.max.block.acquire.failures";
/// Default of [`DFS_CLIENT_MAX_BLOCK_ACQUIRE_FAILURES_KEY`].
pub const DFS_CLIENT_MAX_BLOCK_ACQUIRE_FAILURES_DEFAULT: u32 = 3;
/// `dfs.client.retry.times.get-last-block-length`: how often a reader asks the
/// NameNode again for a file whose last block, under construction, has no locations
/// yet (its DataNodes have not reported it since a restart).
pub const DFS_CLIENT_RETRY_TIMES_GET_LAST_BLOCK_LENGTH_KEY: &str =
    "dfs.client.retry.times.get-last-block-length";
/// Default of [`DFS_CLIENT_RETRY_TIMES_GET_LAST_BLOCK_LENGTH_KEY`].
pub const DFS_CLIENT_RETRY_TIMES_GET_LAST_BLOCK_LENGTH_DEFAULT: u32 = 3;
/// `dfs.client.retry.interval-ms.get-last-block-length`: the pause between those.
pub const DFS_CLIENT_RETRY_INTERVAL_GET_LAST_BLOCK_LENGTH_KEY: &str =
    "dfs.client.retry.interval-ms.get-last-block-length";
/// Default of [`DFS_CLIENT_RETRY_INTERVAL_GET_LAST_BLOCK_LENGTH_KEY`]: 4 s.
pub const DFS_CLIENT_RETRY_INTERVAL_GET_LAST_BLOCK_LENGTH_DEFAULT: Duration =
    Duration::from_millis(4000);
/// `dfs.client.write.exclude.nodes.cache.expiry.interval.millis`: how long a node
/// that failed pipeline setup stays excluded from the stream's later `addBlock`s.
pub const DFS_CLIENT_WRITE_EXCLUDE_NODES_CACHE_EXPIRY_INTERVAL_KEY: &str =
    "dfs.client.write.exclude.nodes.cache.expiry.interval.millis";
/// Default of [`DFS_CLIENT_WRITE_EXCLUDE_NODES_CACHE_EXPIRY_INTERVAL_KEY`]: 10 min.
pub const DFS_CLIENT_WRITE_EXCLUDE_NODES_CACHE_EXPIRY_INTERVAL_DEFAULT: Duration =
    Duration::from_millis(600_000);
/// `dfs.client.socketcache.capacity`: idle DataNode sockets kept for reuse (0: none).
pub const DFS_CLIENT_SOCKET_CACHE_CAPACITY_KEY: &str = "dfs.client.socketcache.capacity";
/// Default of [`DFS_CLIENT_SOCKET_CACHE_CAPACITY_KEY`].
pub const DFS_CLIENT_SOCKET_CACHE_CAPACITY_DEFAULT: usize = 16;
/// `dfs.client.socketcache.expiryMsec`: how long an idle cached socket is kept.
pub const DFS_CLIENT_SOCKET_CACHE_EXPIRY_MSEC_KEY: &str = "dfs.client.socketcache.expiryMsec";
/// Default of [`DFS_CLIENT_SOCKET_CACHE_EXPIRY_MSEC_KEY`].
pub const DFS_CLIENT_SOCKET_CACHE_EXPIRY_MSEC_DEFAULT: Duration = Duration::from_millis(3000);
/// Hadoop's `HdfsConstants.LEASE_SOFTLIMIT_PERIOD`: 60 s.
pub const LEASE_SOFT_LIMIT: Duration = Duration::from_secs(60);
/// Added to the socket timeouts per node of a pipeline
/// (`HdfsConstants.READ_TIMEOUT_EXTENSION`, `WRITE_TIMEOUT_EXTENSION`).
pub const TIMEOUT_EXTENSION_PER_NODE: Duration = Duration::from_secs(5);
/// Pipeline recoveries of one block before the stream fails (Hadoop's
/// `DataStreamer.maxPipelineRecoveryRetries` default).
pub const MAX_PIPELINE_RECOVERY_RETRIES: u32 = 5;

/// `dfs.client.block.write.replace-datanode-on-failure.policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplacePolicy {
    /// Never add a node.
    Never,
    /// Hadoop's DEFAULT: with replication `r >= 3`, add a node when at most `r / 2`
    /// remain, or when the block is appended or hflushed and fewer than `r` remain.
    Default,
    /// Add a node whenever one was lost.
    Always,
}

/// Whether and how a failed pipeline node is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplaceDatanodeOnFailure {
    /// `dfs.client.block.write.replace-datanode-on-failure.enable`.
    pub enable: bool,
    pub policy: ReplacePolicy,
    /// `...best-effort`: a failed replacement does not fail the write.
    pub best_effort: bool,
}

impl ReplaceDatanodeOnFailure {
    /// Hadoop's `ReplaceDatanodeOnFailure.satisfy`: should a node be added to a
    /// pipeline of `existing` nodes for a block of `replication`?
    pub fn satisfy(&self, replication: u16, existing: usize, append: bool, hflushed: bool) -> bool {
        if !self.enable || existing == 0 || existing >= usize::from(replication) {
            return false;
        }
        match self.policy {
            ReplacePolicy::Never => false,
            ReplacePolicy::Always => true,
            ReplacePolicy::Default => {
                replication >= 3 && (existing <= usize::from(replication / 2) || append || hflushed)
            }
        }
    }
}

/// Settings of a [`crate::DfsClient`]; [`ClientConf::from_configuration`] reads them
/// with Hadoop's keys, [`Default`] gives Hadoop's defaults.
#[derive(Debug, Clone)]
pub struct ClientConf {
    /// The user SIMPLE auth sends.
    pub user: String,
    /// `dfs.blocksize`.
    pub block_size: u64,
    /// `dfs.replication`.
    pub replication: u16,
    /// `dfs.bytes-per-checksum` and `dfs.checksum.type`.
    pub checksum: DataChecksum,
    /// `dfs.client-write-packet-size`.
    pub write_packet_size: usize,
    /// `dfs.client.socket-timeout`: read timeout on DataNode sockets (plus 5 s per
    /// pipeline node); a streaming pipeline sends a heartbeat after half of it.
    pub socket_timeout: Duration,
    /// `dfs.datanode.socket.write.timeout`.
    pub write_timeout: Duration,
    /// `dfs.client.write.max-packets-in-flight`.
    pub max_packets_in_flight: usize,
    pub replace_datanode: ReplaceDatanodeOnFailure,
    /// `dfs.client.block.write.retries`.
    pub block_write_retries: u32,
    /// `dfs.client.block.write.locateFollowingBlock.retries`.
    pub locate_block_retries: u32,
    /// `dfs.client.block.write.locateFollowingBlock.initial.delay.ms`.
    pub locate_block_initial_delay: Duration,
    /// `dfs.client.datanode-restart.timeout`.
    pub datanode_restart_timeout: Duration,
    /// `dfs.client.congestion.backoff.mean.time`.
    pub congestion_backoff_mean: Duration,
    /// `dfs.client.congestion.backoff.max.time`.
    pub congestion_backoff_max: Duration,
    /// `dfs.client.slow.io.warning.threshold.ms`.
    pub slow_io_warning_threshold: Duration,
    /// `dfs.client.max.block.acquire.failures`.
    pub max_block_acquire_failures: u32,
    /// `dfs.client.retry.times.get-last-block-length`.
    pub last_block_length_retries: u32,
    /// `dfs.client.retry.interval-ms.get-last-block-length`.
    pub last_block_length_retry_interval: Duration,
    /// `dfs.client.write.exclude.nodes.cache.expiry.interval.millis`.
    pub exclude_nodes_expiry: Duration,
    /// `dfs.client.socketcache.capacity`.
    pub socket_cache_capacity: usize,
    /// `dfs.client.socketcache.expiryMsec`.
    pub socket_cache_expiry: Duration,
    /// How often the lease renewer calls `renewLease` while files are open: half the
    /// lease soft limit (30 s).
    pub lease_renew_interval: Duration,
    /// `fs.permissions.umask-mode`.
    pub umask: u16,
    /// The RPC client's settings (`ipc.*` keys).
    pub rpc: ClientConfig,
}

impl Default for ClientConf {
    fn default() -> Self {
        ClientConf {
            user: current_user(),
            block_size: 128 << 20,
            replication: 3,
            checksum: default_checksum(),
            write_packet_size: 64 * 1024,
            socket_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(480),
            max_packets_in_flight: DFS_CLIENT_WRITE_MAX_PACKETS_IN_FLIGHT_DEFAULT,
            replace_datanode: ReplaceDatanodeOnFailure {
                enable: true,
                policy: ReplacePolicy::Default,
                best_effort: false,
            },
            block_write_retries: DFS_CLIENT_BLOCK_WRITE_RETRIES_DEFAULT,
            locate_block_retries: DFS_CLIENT_BLOCK_WRITE_LOCATEFOLLOWINGBLOCK_RETRIES_DEFAULT,
            locate_block_initial_delay:
                DFS_CLIENT_BLOCK_WRITE_LOCATEFOLLOWINGBLOCK_INITIAL_DELAY_DEFAULT,
            datanode_restart_timeout: DFS_CLIENT_DATANODE_RESTART_TIMEOUT_DEFAULT,
            congestion_backoff_mean: DFS_CLIENT_CONGESTION_BACKOFF_MEAN_TIME_DEFAULT,
            congestion_backoff_max: DFS_CLIENT_CONGESTION_BACKOFF_MAX_TIME_DEFAULT,
            slow_io_warning_threshold: DFS_CLIENT_SLOW_IO_WARNING_THRESHOLD_DEFAULT,
            max_block_acquire_failures: DFS_CLIENT_MAX_BLOCK_ACQUIRE_FAILURES_DEFAULT,
            last_block_length_retries: DFS_CLIENT_RETRY_TIMES_GET_LAST_BLOCK_LENGTH_DEFAULT,
            last_block_length_retry_interval:
                DFS_CLIENT_RETRY_INTERVAL_GET_LAST_BLOCK_LENGTH_DEFAULT,
            exclude_nodes_expiry: DFS_CLIENT_WRITE_EXCLUDE_NODES_CACHE_EXPIRY_INTERVAL_DEFAULT,
            socket_cache_capacity: DFS_CLIENT_SOCKET_CACHE_CAPACITY_DEFAULT,
            socket_cache_expiry: DFS_CLIENT_SOCKET_CACHE_EXPIRY_MSEC_DEFAULT,
            lease_renew_interval: LEASE_SOFT_LIMIT / 2,
            umask: 0o022,
            rpc: ClientConfig::default(),
        }
    }
}

fn default_checksum() -> DataChecksum {
    // 512 is in range: cannot fail.
    DataChecksum::new(ChecksumType::Crc32c, 512)
        .unwrap_or_else(|_| unreachable!("512-byte CRC32C chunks are valid"))
}

impl ClientConf {
    /// Reads the client's keys from `conf` (Hadoop's defaults for unset keys).
    pub fn from_configuration(conf: &Configuration) -> Result<ClientConf> {
        let d = ClientConf::default();
        let checksum_type = match conf.get_trimmed(keys::DFS_CHECKSUM_TYPE)? {
            None => ChecksumType::Crc32c,
            Some(name) => ChecksumType::from_name(&name).ok_or_else(|| {
                Error::InvalidArgument(format!("{}={name}", keys::DFS_CHECKSUM_TYPE))
            })?,
        };
        let bpc = conf.get_u64(keys::DFS_BYTES_PER_CHECKSUM, 512)?;
        let checksum = u32::try_from(bpc)
            .ok()
            .and_then(|bpc| DataChecksum::new(checksum_type, bpc).ok())
            .ok_or_else(|| {
                Error::InvalidArgument(format!("{}={bpc}", keys::DFS_BYTES_PER_CHECKSUM))
            })?;
        let policy = match conf
            .get_or(
                keys::DFS_CLIENT_REPLACE_DATANODE_ON_FAILURE_POLICY,
                "DEFAULT",
            )?
            .trim()
            .to_ascii_uppercase()
            .as_str()
        {
            "NEVER" => ReplacePolicy::Never,
            "ALWAYS" => ReplacePolicy::Always,
            "DEFAULT" => ReplacePolicy::Default,
            other => {
                return Err(Error::InvalidArgument(format!(
                    "{}={other}",
                    keys::DFS_CLIENT_REPLACE_DATANODE_ON_FAILURE_POLICY
                )))
            }
        };
        let ms = |key: &str, default: Duration| conf.get_duration(key, default);
        let rpc = ClientConfig {
            max_idle: ms(keys::IPC_CLIENT_CONNECTION_MAXIDLETIME, d.rpc.max_idle)?,
            connect_timeout: ms(keys::IPC_CLIENT_CONNECT_TIMEOUT, d.rpc.connect_timeout)?,
            retry: RetryPolicy {
                max_retries: conf.get_u64(keys::IPC_CLIENT_CONNECT_MAX_RETRIES, 10)? as u32,
                interval: ms(
                    keys::IPC_CLIENT_CONNECT_RETRY_INTERVAL,
                    d.rpc.retry.interval,
                )?,
            },
            ..ClientConfig::default()
        };
        let umask = conf.get_or(keys::FS_PERMISSIONS_UMASK_MODE, "022")?;
        let umask = u16::from_str_radix(umask.trim(), 8).map_err(|_| {
            Error::InvalidArgument(format!("{}={umask}", keys::FS_PERMISSIONS_UMASK_MODE))
        })?;
        Ok(ClientConf {
            user: d.user,
            block_size: conf.get_size(keys::DFS_BLOCK_SIZE, d.block_size)?,
            replication: conf
                .get_u64(keys::DFS_REPLICATION, 3)?
                .min(u64::from(u16::MAX)) as u16,
            checksum,
            write_packet_size: conf.get_size(
                keys::DFS_CLIENT_WRITE_PACKET_SIZE,
                d.write_packet_size as u64,
            )? as usize,
            socket_timeout: ms(keys::DFS_CLIENT_SOCKET_TIMEOUT, d.socket_timeout)?,
            write_timeout: ms(keys::DFS_DATANODE_SOCKET_WRITE_TIMEOUT, d.write_timeout)?,
            max_packets_in_flight: conf
                .get_u64(
                    DFS_CLIENT_WRITE_MAX_PACKETS_IN_FLIGHT_KEY,
                    d.max_packets_in_flight as u64,
                )?
                .max(1) as usize,
            replace_datanode: ReplaceDatanodeOnFailure {
                enable: conf.get_bool(keys::DFS_CLIENT_REPLACE_DATANODE_ON_FAILURE_ENABLE, true)?,
                policy,
                best_effort: conf.get_bool(
                    DFS_CLIENT_REPLACE_DATANODE_ON_FAILURE_BEST_EFFORT_KEY,
                    false,
                )?,
            },
            block_write_retries: conf.get_u64(
                DFS_CLIENT_BLOCK_WRITE_RETRIES_KEY,
                u64::from(d.block_write_retries),
            )? as u32,
            locate_block_retries: conf.get_u64(
                DFS_CLIENT_BLOCK_WRITE_LOCATEFOLLOWINGBLOCK_RETRIES_KEY,
                u64::from(d.locate_block_retries),
            )? as u32,
            locate_block_initial_delay: Duration::from_millis(conf.get_u64(
                DFS_CLIENT_BLOCK_WRITE_LOCATEFOLLOWINGBLOCK_INITIAL_DELAY_KEY,
                d.locate_block_initial_delay.as_millis() as u64,
            )?),
            datanode_restart_timeout: Duration::from_secs(conf.get_u64(
                DFS_CLIENT_DATANODE_RESTART_TIMEOUT_KEY,
                d.datanode_restart_timeout.as_secs(),
            )?),
            congestion_backoff_mean: Duration::from_millis(conf.get_u64(
                DFS_CLIENT_CONGESTION_BACKOFF_MEAN_TIME_KEY,
                d.congestion_backoff_mean.as_millis() as u64,
            )?),
            congestion_backoff_max: Duration::from_millis(conf.get_u64(
                DFS_CLIENT_CONGESTION_BACKOFF_MAX_TIME_KEY,
                d.congestion_backoff_max.as_millis() as u64,
            )?),
            slow_io_warning_threshold: Duration::from_millis(conf.get_u64(
                DFS_CLIENT_SLOW_IO_WARNING_THRESHOLD_KEY,
                d.slow_io_warning_threshold.as_millis() as u64,
            )?),
            max_block_acquire_failures: conf.get_u64(
                DFS_CLIENT_MAX_BLOCK_ACQUIRE_FAILURES_KEY,
                u64::from(d.max_block_acquire_failures),
            )? as u32,
            last_block_length_retries: conf.get_u64(
                DFS_CLIENT_RETRY_TIMES_GET_LAST_BLOCK_LENGTH_KEY,
                u64::from(d.last_block_length_retries),
            )? as u32,
            last_block_length_retry_interval: Duration::from_millis(conf.get_u64(
                DFS_CLIENT_RETRY_INTERVAL_GET_LAST_BLOCK_LENGTH_KEY,
                d.last_block_length_retry_interval.as_millis() as u64,
            )?),
            exclude_nodes_expiry: Duration::from_millis(conf.get_u64(
                DFS_CLIENT_WRITE_EXCLUDE_NODES_CACHE_EXPIRY_INTERVAL_KEY,
                d.exclude_nodes_expiry.as_millis() as u64,
            )?),
            socket_cache_capacity: conf.get_u64(
                DFS_CLIENT_SOCKET_CACHE_CAPACITY_KEY,
                d.socket_cache_capacity as u64,
            )? as usize,
            socket_cache_expiry: Duration::from_millis(conf.get_u64(
                DFS_CLIENT_SOCKET_CACHE_EXPIRY_MSEC_KEY,
                d.socket_cache_expiry.as_millis() as u64,
            )?),
            lease_renew_interval: d.lease_renew_interval,
            umask,
            rpc,
        })
    }

    /// Read timeout of a socket to the head of a pipeline of `nodes` nodes.
    pub fn read_timeout(&self, nodes: usize) -> Duration {
        self.socket_timeout + TIMEOUT_EXTENSION_PER_NODE * nodes as u32
    }

    /// Write timeout of a socket to the head of a pipeline of `nodes` nodes.
    pub fn pipeline_write_timeout(&self, nodes: usize) -> Duration {
        self.write_timeout + TIMEOUT_EXTENSION_PER_NODE * nodes as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hadoop_keys() {
        let mut conf = Configuration::new();
        conf.set(keys::DFS_BLOCK_SIZE, "1m");
        conf.set(keys::DFS_REPLICATION, "2");
        conf.set(keys::DFS_BYTES_PER_CHECKSUM, "1024");
        conf.set(keys::DFS_CHECKSUM_TYPE, "CRC32");
        conf.set(DFS_CLIENT_WRITE_MAX_PACKETS_IN_FLIGHT_KEY, "4");
        conf.set(keys::DFS_CLIENT_REPLACE_DATANODE_ON_FAILURE_POLICY, "never");
        conf.set(
            DFS_CLIENT_WRITE_EXCLUDE_NODES_CACHE_EXPIRY_INTERVAL_KEY,
            "1500",
        );
        conf.set(DFS_CLIENT_SOCKET_CACHE_CAPACITY_KEY, "4");
        let c = ClientConf::from_configuration(&conf).unwrap();
        assert_eq!(c.block_size, 1 << 20);
        assert_eq!(c.replication, 2);
        assert_eq!(c.checksum.bytes_per_checksum(), 1024);
        assert_eq!(c.checksum.kind(), ChecksumType::Crc32);
        assert_eq!(c.max_packets_in_flight, 4);
        assert_eq!(c.replace_datanode.policy, ReplacePolicy::Never);
        assert_eq!(c.socket_timeout, Duration::from_secs(60));
        assert_eq!(c.umask, 0o022);
        assert_eq!(c.exclude_nodes_expiry, Duration::from_millis(1500));
        assert_eq!(c.socket_cache_capacity, 4);
        assert_eq!(c.socket_cache_expiry, Duration::from_secs(3));

        conf.set(
            keys::DFS_CLIENT_REPLACE_DATANODE_ON_FAILURE_POLICY,
            "sometimes",
        );
        assert!(matches!(
            ClientConf::from_configuration(&conf),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn default_replace_policy_is_hadoops() {
        let p = ClientConf::default().replace_datanode;
        // r = 3, one lost: only when appended or hflushed.
        assert!(!p.satisfy(3, 2, false, false));
        assert!(p.satisfy(3, 2, true, false));
        assert!(p.satisfy(3, 2, false, true));
        // r = 3, two lost: always.
        assert!(p.satisfy(3, 1, false, false));
        // r = 2: never; nothing lost or nothing left: never.
        assert!(!p.satisfy(2, 1, true, true));
        assert!(!p.satisfy(3, 3, true, true));
        assert!(!p.satisfy(3, 0, true, true));
        let never = ReplaceDatanodeOnFailure { enable: false, ..p };
        assert!(!never.satisfy(3, 1, true, true));
    }
}
