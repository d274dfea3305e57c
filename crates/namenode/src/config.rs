//! NameNode configuration: Hadoop's key names beside their defaults.
//!
//! [`NameNodeConfig::default`] gives Hadoop's defaults; [`NameNodeConfig::from_lookup`]
//! reads overrides through a key → value function (the `conf` crate's parsed XML, a test
//! map, ...). Durations in Hadoop's keys carry Hadoop's units (noted beside each key).

use std::path::PathBuf;
use std::time::Duration;

/// `dfs.namenode.name.dir`: where the image and edit log live (first entry of the list).
pub const NAME_DIR_KEY: &str = "dfs.namenode.name.dir";
/// `dfs.replication` (default 3).
pub const REPLICATION_KEY: &str = "dfs.replication";
pub const REPLICATION_DEFAULT: u16 = 3;
/// `dfs.replication.max` (default 512).
pub const REPLICATION_MAX_KEY: &str = "dfs.replication.max";
pub const REPLICATION_MAX_DEFAULT: u16 = 512;
/// `dfs.namenode.replication.min` (default 1): replicas a block needs to be complete.
pub const REPLICATION_MIN_KEY: &str = "dfs.namenode.replication.min";
pub const REPLICATION_MIN_DEFAULT: u16 = 1;
/// `dfs.blocksize` in bytes (default 128 MiB).
pub const BLOCK_SIZE_KEY: &str = "dfs.blocksize";
pub const BLOCK_SIZE_DEFAULT: u64 = 128 * 1024 * 1024;
/// `dfs.namenode.fs-limits.min-block-size` in bytes (default 1 MiB; test clusters set 0).
pub const MIN_BLOCK_SIZE_KEY: &str = "dfs.namenode.fs-limits.min-block-size";
pub const MIN_BLOCK_SIZE_DEFAULT: u64 = 1024 * 1024;
/// `dfs.permissions.enabled` (default true).
pub const PERMISSIONS_ENABLED_KEY: &str = "dfs.permissions.enabled";
pub const PERMISSIONS_ENABLED_DEFAULT: bool = true;
/// `dfs.permissions.superusergroup` (default `supergroup`).
pub const SUPERGROUP_KEY: &str = "dfs.permissions.superusergroup";
pub const SUPERGROUP_DEFAULT: &str = "supergroup";
/// `dfs.heartbeat.interval` in seconds (default 3).
pub const HEARTBEAT_INTERVAL_KEY: &str = "dfs.heartbeat.interval";
pub const HEARTBEAT_INTERVAL_DEFAULT: Duration = Duration::from_secs(3);
/// `dfs.namenode.heartbeat.recheck-interval` in milliseconds (default 5 min). A DataNode
/// is dead after `2 * recheck + 10 * heartbeat` without a heartbeat (10.5 min by default).
pub const HEARTBEAT_RECHECK_KEY: &str = "dfs.namenode.heartbeat.recheck-interval";
pub const HEARTBEAT_RECHECK_DEFAULT: Duration = Duration::from_secs(300);
/// `dfs.namenode.safemode.threshold-pct` (default 0.999): fraction of complete blocks
/// with at least `replication.min` reported replicas needed to leave safe mode.
pub const SAFEMODE_THRESHOLD_KEY: &str = "dfs.namenode.safemode.threshold-pct";
pub const SAFEMODE_THRESHOLD_DEFAULT: f64 = 0.999;
/// `dfs.namenode.safemode.extension` in milliseconds (default 30 s).
pub const SAFEMODE_EXTENSION_KEY: &str = "dfs.namenode.safemode.extension";
pub const SAFEMODE_EXTENSION_DEFAULT: Duration = Duration::from_secs(30);
/// Lease soft limit (Hadoop: `HdfsConstants.LEASE_SOFTLIMIT_PERIOD`, 60 s; ferrodfs lets
/// tests shorten it through this key, in milliseconds).
pub const LEASE_SOFT_LIMIT_KEY: &str = "dfs.namenode.lease-soft-limit-ms";
pub const LEASE_SOFT_LIMIT_DEFAULT: Duration = Duration::from_secs(60);
/// `dfs.namenode.lease-hard-limit-sec` in seconds (default 20 min).
pub const LEASE_HARD_LIMIT_KEY: &str = "dfs.namenode.lease-hard-limit-sec";
pub const LEASE_HARD_LIMIT_DEFAULT: Duration = Duration::from_secs(20 * 60);
/// `dfs.namenode.checkpoint.period` in seconds (default 1 h).
pub const CHECKPOINT_PERIOD_KEY: &str = "dfs.namenode.checkpoint.period";
pub const CHECKPOINT_PERIOD_DEFAULT: Duration = Duration::from_secs(3600);
/// `dfs.namenode.checkpoint.txns` (default 1,000,000): checkpoint after this many edits.
pub const CHECKPOINT_TXNS_KEY: &str = "dfs.namenode.checkpoint.txns";
pub const CHECKPOINT_TXNS_DEFAULT: u64 = 1_000_000;
/// `dfs.ls.limit` (default 1000): entries per getListing reply.
pub const LS_LIMIT_KEY: &str = "dfs.ls.limit";
pub const LS_LIMIT_DEFAULT: usize = 1000;
/// `dfs.namenode.accesstime.precision` in milliseconds (default 1 h; 0 disables atime).
pub const ACCESS_TIME_PRECISION_KEY: &str = "dfs.namenode.accesstime.precision";
pub const ACCESS_TIME_PRECISION_DEFAULT: Duration = Duration::from_secs(3600);
/// `dfs.namenode.enable.retrycache` (default true): answer retried `@AtMostOnce` calls
/// from the RPC retry cache.
pub const RETRY_CACHE_ENABLED_KEY: &str = "dfs.namenode.enable.retrycache";
pub const RETRY_CACHE_ENABLED_DEFAULT: bool = true;
/// `dfs.namenode.retrycache.expirytime.millis` (default 10 min).
pub const RETRY_CACHE_EXPIRY_KEY: &str = "dfs.namenode.retrycache.expirytime.millis";
pub const RETRY_CACHE_EXPIRY_DEFAULT: Duration = Duration::from_secs(600);
/// Most completed entries the retry cache keeps (ferrodfs key; Hadoop sizes the cache as
/// `dfs.namenode.retrycache.heap.percent` of the heap).
pub const RETRY_CACHE_MAX_ENTRIES_KEY: &str = "dfs.namenode.retrycache.max-entries";
pub const RETRY_CACHE_MAX_ENTRIES_DEFAULT: usize = 1 << 18;
/// `dfs.hosts` / `dfs.hosts.exclude`: include and exclude lists of DataNode hosts.
pub use crate::datanodes::hosts::{DFS_HOSTS_EXCLUDE_KEY, DFS_HOSTS_KEY};
/// `dfs.namenode.min.supported.datanode.version` (default `2.1.0-beta`): DataNodes
/// reporting an older software version are refused at registration.
pub const MIN_DATANODE_VERSION_KEY: &str = "dfs.namenode.min.supported.datanode.version";
pub const MIN_DATANODE_VERSION_DEFAULT: &str = "2.1.0-beta";

/// Everything the NameNode state machine is configured by.
#[derive(Debug, Clone, PartialEq)]
pub struct NameNodeConfig {
    pub name_dir: PathBuf,
    pub replication: u16,
    pub replication_max: u16,
    pub replication_min: u16,
    pub block_size: u64,
    pub min_block_size: u64,
    pub permissions_enabled: bool,
    pub supergroup: String,
    /// The user that started the NameNode: always a superuser.
    pub superuser: String,
    pub heartbeat_interval: Duration,
    pub heartbeat_recheck_interval: Duration,
    pub safemode_threshold: f64,
    pub safemode_extension: Duration,
    pub lease_soft_limit: Duration,
    pub lease_hard_limit: Duration,
    pub checkpoint_period: Duration,
    pub checkpoint_txns: u64,
    pub ls_limit: usize,
    /// `dfs.namenode.fs-limits.max-xattrs-per-inode`.
    pub max_xattrs_per_inode: usize,
    /// `dfs.namenode.fs-limits.max-xattr-size`.
    pub max_xattr_size: usize,
    pub access_time_precision: Duration,
    pub retry_cache_enabled: bool,
    pub retry_cache_expiry: Duration,
    pub retry_cache_max_entries: usize,
    /// `dfs.hosts` (None: every host may register).
    pub hosts_include: Option<PathBuf>,
    /// `dfs.hosts.exclude`.
    pub hosts_exclude: Option<PathBuf>,
    /// `dfs.namenode.min.supported.datanode.version`.
    pub min_datanode_version: String,
}

impl Default for NameNodeConfig {
    fn default() -> Self {
        NameNodeConfig {
            name_dir: PathBuf::from("/tmp/hadoop/dfs/name"),
            replication: REPLICATION_DEFAULT,
            replication_max: REPLICATION_MAX_DEFAULT,
            replication_min: REPLICATION_MIN_DEFAULT,
            block_size: BLOCK_SIZE_DEFAULT,
            min_block_size: MIN_BLOCK_SIZE_DEFAULT,
            permissions_enabled: PERMISSIONS_ENABLED_DEFAULT,
            supergroup: SUPERGROUP_DEFAULT.to_owned(),
            superuser: current_user(),
            heartbeat_interval: HEARTBEAT_INTERVAL_DEFAULT,
            heartbeat_recheck_interval: HEARTBEAT_RECHECK_DEFAULT,
            safemode_threshold: SAFEMODE_THRESHOLD_DEFAULT,
            safemode_extension: SAFEMODE_EXTENSION_DEFAULT,
            lease_soft_limit: LEASE_SOFT_LIMIT_DEFAULT,
            lease_hard_limit: LEASE_HARD_LIMIT_DEFAULT,
            checkpoint_period: CHECKPOINT_PERIOD_DEFAULT,
            checkpoint_txns: CHECKPOINT_TXNS_DEFAULT,
            ls_limit: LS_LIMIT_DEFAULT,
            max_xattrs_per_inode: crate::namespace::xattr::MAX_XATTRS_PER_INODE_DEFAULT,
            max_xattr_size: crate::namespace::xattr::MAX_XATTR_SIZE_DEFAULT,
            access_time_precision: ACCESS_TIME_PRECISION_DEFAULT,
            retry_cache_enabled: RETRY_CACHE_ENABLED_DEFAULT,
            retry_cache_expiry: RETRY_CACHE_EXPIRY_DEFAULT,
            retry_cache_max_entries: RETRY_CACHE_MAX_ENTRIES_DEFAULT,
            hosts_include: None,
            hosts_exclude: None,
            min_datanode_version: MIN_DATANODE_VERSION_DEFAULT.to_owned(),
        }
    }
}

/// The OS user running this process (`$USER`, else `$LOGNAME`, else `root`).
fn current_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "root".to_owned())
}

/// Parses Hadoop's size/number syntax loosely: plain integers, and size suffixes
/// k/m/g/t (binary) as `dfs.blocksize` allows.
fn parse_u64(v: &str) -> Option<u64> {
    let v = v.trim();
    let (digits, mult) = match v.char_indices().last()? {
        (i, 'k' | 'K') => (&v[..i], 1u64 << 10),
        (i, 'm' | 'M') => (&v[..i], 1 << 20),
        (i, 'g' | 'G') => (&v[..i], 1 << 30),
        (i, 't' | 'T') => (&v[..i], 1 << 40),
        _ => (v, 1),
    };
    digits.trim().parse::<u64>().ok()?.checked_mul(mult)
}

impl NameNodeConfig {
    /// Builds a configuration from Hadoop keys; keys that are absent or do not parse keep
    /// their defaults.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> NameNodeConfig {
        let mut c = NameNodeConfig::default();
        let num = |key: &str| lookup(key).and_then(|v| parse_u64(&v));
        if let Some(dir) = lookup(NAME_DIR_KEY) {
            // A comma-separated list; we use the first entry, with an optional file:// scheme.
            let first = dir.split(',').next().unwrap_or("").trim();
            let first = first.strip_prefix("file://").unwrap_or(first);
            if !first.is_empty() {
                c.name_dir = PathBuf::from(first);
            }
        }
        let u16_of = |key: &str| num(key).and_then(|n| u16::try_from(n).ok());
        if let Some(n) = u16_of(REPLICATION_KEY) {
            c.replication = n;
        }
        if let Some(n) = u16_of(REPLICATION_MAX_KEY) {
            c.replication_max = n;
        }
        if let Some(n) = u16_of(REPLICATION_MIN_KEY) {
            c.replication_min = n;
        }
        if let Some(n) = num(BLOCK_SIZE_KEY) {
            c.block_size = n;
        }
        if let Some(n) = num(MIN_BLOCK_SIZE_KEY) {
            c.min_block_size = n;
        }
        if let Some(v) = lookup(PERMISSIONS_ENABLED_KEY) {
            if let Ok(b) = v.trim().parse::<bool>() {
                c.permissions_enabled = b;
            }
        }
        if let Some(v) = lookup(SUPERGROUP_KEY) {
            c.supergroup = v.trim().to_owned();
        }
        if let Some(n) = num(HEARTBEAT_INTERVAL_KEY) {
            c.heartbeat_interval = Duration::from_secs(n);
        }
        if let Some(n) = num(HEARTBEAT_RECHECK_KEY) {
            c.heartbeat_recheck_interval = Duration::from_millis(n);
        }
        if let Some(f) = lookup(SAFEMODE_THRESHOLD_KEY).and_then(|v| v.trim().parse().ok()) {
            c.safemode_threshold = f;
        }
        if let Some(n) = num(SAFEMODE_EXTENSION_KEY) {
            c.safemode_extension = Duration::from_millis(n);
        }
        if let Some(n) = num(LEASE_SOFT_LIMIT_KEY) {
            c.lease_soft_limit = Duration::from_millis(n);
        }
        if let Some(n) = num(LEASE_HARD_LIMIT_KEY) {
            c.lease_hard_limit = Duration::from_secs(n);
        }
        if let Some(n) = num(CHECKPOINT_PERIOD_KEY) {
            c.checkpoint_period = Duration::from_secs(n);
        }
        if let Some(n) = num(CHECKPOINT_TXNS_KEY) {
            c.checkpoint_txns = n;
        }
        if let Some(n) = num(crate::namespace::xattr::MAX_XATTRS_PER_INODE_KEY)
            .and_then(|n| usize::try_from(n).ok())
        {
            c.max_xattrs_per_inode = n;
        }
        if let Some(n) =
            num(crate::namespace::xattr::MAX_XATTR_SIZE_KEY).and_then(|n| usize::try_from(n).ok())
        {
            c.max_xattr_size = n;
        }
        if let Some(n) = num(LS_LIMIT_KEY).and_then(|n| usize::try_from(n).ok()) {
            c.ls_limit = n.max(1);
        }
        if let Some(n) = num(ACCESS_TIME_PRECISION_KEY) {
            c.access_time_precision = Duration::from_millis(n);
        }
        if let Some(b) = lookup(RETRY_CACHE_ENABLED_KEY).and_then(|v| v.trim().parse().ok()) {
            c.retry_cache_enabled = b;
        }
        if let Some(n) = num(RETRY_CACHE_EXPIRY_KEY) {
            c.retry_cache_expiry = Duration::from_millis(n);
        }
        if let Some(n) = num(RETRY_CACHE_MAX_ENTRIES_KEY).and_then(|n| usize::try_from(n).ok()) {
            c.retry_cache_max_entries = n.max(1);
        }
        let path = |key: &str| {
            lookup(key)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        c.hosts_include = path(DFS_HOSTS_KEY);
        c.hosts_exclude = path(DFS_HOSTS_EXCLUDE_KEY);
        if let Some(v) = lookup(MIN_DATANODE_VERSION_KEY).filter(|v| !v.trim().is_empty()) {
            c.min_datanode_version = v.trim().to_owned();
        }
        c
    }

    /// How long without a heartbeat before a DataNode is declared dead.
    pub fn dead_node_interval(&self) -> Duration {
        2 * self.heartbeat_recheck_interval + 10 * self.heartbeat_interval
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn defaults_are_hadoops() {
        let c = NameNodeConfig::default();
        assert_eq!(c.replication, 3);
        assert_eq!(c.block_size, 134_217_728);
        assert_eq!(c.supergroup, "supergroup");
        assert_eq!(c.dead_node_interval(), Duration::from_secs(630));
        assert_eq!(c.ls_limit, 1000);
    }

    #[test]
    fn lookup_overrides_with_hadoop_units() {
        let m: HashMap<&str, &str> = [
            (NAME_DIR_KEY, "file:///data/nn1,/data/nn2"),
            (REPLICATION_KEY, "1"),
            (BLOCK_SIZE_KEY, "1m"),
            (PERMISSIONS_ENABLED_KEY, "false"),
            (HEARTBEAT_INTERVAL_KEY, "1"),
            (HEARTBEAT_RECHECK_KEY, "500"),
            (SAFEMODE_THRESHOLD_KEY, "0.5"),
            (LEASE_HARD_LIMIT_KEY, "2"),
            (REPLICATION_MAX_KEY, "not a number"),
        ]
        .into_iter()
        .collect();
        let c = NameNodeConfig::from_lookup(|k| m.get(k).map(|v| v.to_string()));
        assert_eq!(c.name_dir, PathBuf::from("/data/nn1"));
        assert_eq!(c.replication, 1);
        assert_eq!(c.block_size, 1 << 20);
        assert!(!c.permissions_enabled);
        assert_eq!(c.heartbeat_interval, Duration::from_secs(1));
        assert_eq!(c.heartbeat_recheck_interval, Duration::from_millis(500));
        assert_eq!(c.safemode_threshold, 0.5);
        assert_eq!(c.lease_hard_limit, Duration::from_secs(2));
        assert_eq!(c.replication_max, REPLICATION_MAX_DEFAULT);
        assert_eq!(c.dead_node_interval(), Duration::from_secs(11));
    }
}
