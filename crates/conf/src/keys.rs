//! Configuration keys ferrodfs reads, with Hadoop's default values.
//!
//! Every key is a constant named after Hadoop's `DFSConfigKeys` /
//! `CommonConfigurationKeys` field; [`DEFAULTS`] holds the value Hadoop ships
//! in `core-default.xml` / `hdfs-default.xml` and, for time keys, the unit a
//! bare number is read in (the unit Hadoop passes to `getTimeDuration`, or the
//! unit Hadoop's code assumes when it reads the key with `getLong`/`getInt`).
//!
//! Values checked against apache/hadoop `hdfs-default.xml` (trunk) and
//! `core-default.xml`; `ipc.maximum.data.length` is Hadoop 3's
//! `IPC_MAXIMUM_DATA_LENGTH_DEFAULT` (128 MiB).

use crate::TimeUnit;

// ---- core-default.xml ----
/// The default file system URI (`hdfs://host:port`).
pub const FS_DEFAULT_FS: &str = "fs.defaultFS";
/// Base for other temporary directories.
pub const HADOOP_TMP_DIR: &str = "hadoop.tmp.dir";
/// Buffer size for stream I/O.
pub const IO_FILE_BUFFER_SIZE: &str = "io.file.buffer.size";
/// Largest RPC frame a server accepts.
pub const IPC_MAXIMUM_DATA_LENGTH: &str = "ipc.maximum.data.length";
/// Idle time after which a client closes an RPC connection (ms).
pub const IPC_CLIENT_CONNECTION_MAXIDLETIME: &str = "ipc.client.connection.maxidletime";
/// Connection attempts before a client gives up.
pub const IPC_CLIENT_CONNECT_MAX_RETRIES: &str = "ipc.client.connect.max.retries";
/// Milliseconds between connection attempts.
pub const IPC_CLIENT_CONNECT_RETRY_INTERVAL: &str = "ipc.client.connect.retry.interval";
/// Milliseconds a client waits for a connection to be established.
pub const IPC_CLIENT_CONNECT_TIMEOUT: &str = "ipc.client.connect.timeout";
/// Interval between client pings on an idle connection (ms).
pub const IPC_PING_INTERVAL: &str = "ipc.ping.interval";
/// Listen backlog of RPC servers.
pub const IPC_SERVER_LISTEN_QUEUE_SIZE: &str = "ipc.server.listen.queue.size";
/// Umask applied to created files and directories.
pub const FS_PERMISSIONS_UMASK_MODE: &str = "fs.permissions.umask-mode";

// ---- hdfs-default.xml ----
/// Default replication factor.
pub const DFS_REPLICATION: &str = "dfs.replication";
/// Largest replication factor accepted.
pub const DFS_REPLICATION_MAX: &str = "dfs.replication.max";
/// Minimal replication for a block to count as complete.
pub const DFS_NAMENODE_REPLICATION_MIN: &str = "dfs.namenode.replication.min";
/// Default block size (size suffixes allowed).
pub const DFS_BLOCK_SIZE: &str = "dfs.blocksize";
/// Smallest block size a create may ask for.
pub const DFS_NAMENODE_MIN_BLOCK_SIZE: &str = "dfs.namenode.fs-limits.min-block-size";
/// Bytes per checksum chunk.
pub const DFS_BYTES_PER_CHECKSUM: &str = "dfs.bytes-per-checksum";
/// Checksum type clients write (`CRC32C`, `CRC32`, `NULL`).
pub const DFS_CHECKSUM_TYPE: &str = "dfs.checksum.type";
/// Packet size clients write.
pub const DFS_CLIENT_WRITE_PACKET_SIZE: &str = "dfs.client-write-packet-size";
/// Client socket read timeout (ms).
pub const DFS_CLIENT_SOCKET_TIMEOUT: &str = "dfs.client.socket-timeout";
/// DataNode socket write timeout (ms).
pub const DFS_DATANODE_SOCKET_WRITE_TIMEOUT: &str = "dfs.datanode.socket.write.timeout";
/// Whether the client replaces a failed DataNode in the pipeline.
pub const DFS_CLIENT_REPLACE_DATANODE_ON_FAILURE_ENABLE: &str =
    "dfs.client.block.write.replace-datanode-on-failure.enable";
/// Replacement policy (`DEFAULT`, `ALWAYS`, `NEVER`).
pub const DFS_CLIENT_REPLACE_DATANODE_ON_FAILURE_POLICY: &str =
    "dfs.client.block.write.replace-datanode-on-failure.policy";
/// NameNode RPC address (`host:port`); empty means derive from fs.defaultFS.
pub const DFS_NAMENODE_RPC_ADDRESS: &str = "dfs.namenode.rpc-address";
/// NameNode web address.
pub const DFS_NAMENODE_HTTP_ADDRESS: &str = "dfs.namenode.http-address";
/// NameNode RPC handler threads.
pub const DFS_NAMENODE_HANDLER_COUNT: &str = "dfs.namenode.handler.count";
/// NameNode metadata directories.
pub const DFS_NAMENODE_NAME_DIR: &str = "dfs.namenode.name.dir";
/// NameNode edit log directories.
pub const DFS_NAMENODE_EDITS_DIR: &str = "dfs.namenode.edits.dir";
/// Seconds between checkpoints.
pub const DFS_NAMENODE_CHECKPOINT_PERIOD: &str = "dfs.namenode.checkpoint.period";
/// Transactions between checkpoints.
pub const DFS_NAMENODE_CHECKPOINT_TXNS: &str = "dfs.namenode.checkpoint.txns";
/// Interval to check for expired DataNodes (ms).
pub const DFS_NAMENODE_HEARTBEAT_RECHECK_INTERVAL: &str = "dfs.namenode.heartbeat.recheck-interval";
/// Interval after which a silent DataNode is stale (ms).
pub const DFS_NAMENODE_STALE_DATANODE_INTERVAL: &str = "dfs.namenode.stale.datanode.interval";
/// Whether permission checking is on.
pub const DFS_PERMISSIONS_ENABLED: &str = "dfs.permissions.enabled";
/// Group of super-users.
pub const DFS_PERMISSIONS_SUPERUSERGROUP: &str = "dfs.permissions.superusergroup";
/// Fraction of blocks that must be reported before leaving safe mode.
pub const DFS_NAMENODE_SAFEMODE_THRESHOLD_PCT: &str = "dfs.namenode.safemode.threshold-pct";
/// Live DataNodes needed before leaving safe mode.
pub const DFS_NAMENODE_SAFEMODE_MIN_DATANODES: &str = "dfs.namenode.safemode.min.datanodes";
/// Time safe mode lasts after the threshold is reached (ms).
pub const DFS_NAMENODE_SAFEMODE_EXTENSION: &str = "dfs.namenode.safemode.extension";
/// Period of the redundancy monitor (s).
pub const DFS_NAMENODE_REDUNDANCY_INTERVAL: &str = "dfs.namenode.redundancy.interval.seconds";
/// Access-time precision (ms).
pub const DFS_NAMENODE_ACCESSTIME_PRECISION: &str = "dfs.namenode.accesstime.precision";
/// DataNode data-transfer address.
pub const DFS_DATANODE_ADDRESS: &str = "dfs.datanode.address";
/// DataNode IPC address.
pub const DFS_DATANODE_IPC_ADDRESS: &str = "dfs.datanode.ipc.address";
/// DataNode web address.
pub const DFS_DATANODE_HTTP_ADDRESS: &str = "dfs.datanode.http.address";
/// DataNode IPC handler threads.
pub const DFS_DATANODE_HANDLER_COUNT: &str = "dfs.datanode.handler.count";
/// DataNode data directories (comma-separated, `file://` allowed).
pub const DFS_DATANODE_DATA_DIR: &str = "dfs.datanode.data.dir";
/// Permissions of DataNode data directories.
pub const DFS_DATANODE_DATA_DIR_PERM: &str = "dfs.datanode.data.dir.perm";
/// Bytes per volume kept free for non-DFS use.
pub const DFS_DATANODE_DU_RESERVED: &str = "dfs.datanode.du.reserved";
/// Volume choosing policy class name.
pub const DFS_DATANODE_FSDATASET_VOLUME_CHOOSING_POLICY: &str =
    "dfs.datanode.fsdataset.volume.choosing.policy";
/// Whether a replica's files are fsynced when the block is closed.
pub const DFS_DATANODE_SYNCONCLOSE: &str = "dfs.datanode.synconclose";
/// Maximum data-transfer threads.
pub const DFS_DATANODE_MAX_TRANSFER_THREADS: &str = "dfs.datanode.max.transfer.threads";
/// Volume failures tolerated before the DataNode stops.
pub const DFS_DATANODE_FAILED_VOLUMES_TOLERATED: &str = "dfs.datanode.failed.volumes.tolerated";
/// DataNode heartbeat interval (s).
pub const DFS_HEARTBEAT_INTERVAL: &str = "dfs.heartbeat.interval";
/// Full block report interval (ms).
pub const DFS_BLOCKREPORT_INTERVAL_MSEC: &str = "dfs.blockreport.intervalMsec";
/// Delay of the first block report (s).
pub const DFS_BLOCKREPORT_INITIAL_DELAY: &str = "dfs.blockreport.initialDelay";
/// Directory scanner interval (s).
pub const DFS_DATANODE_DIRECTORYSCAN_INTERVAL: &str = "dfs.datanode.directoryscan.interval";
/// Whether clients dial DataNodes by hostname.
pub const DFS_CLIENT_USE_DATANODE_HOSTNAME: &str = "dfs.client.use.datanode.hostname";
/// Whether the NameNode requires DataNode addresses to resolve.
pub const DFS_NAMENODE_DATANODE_REGISTRATION_IP_HOSTNAME_CHECK: &str =
    "dfs.namenode.datanode.registration.ip-hostname-check";

/// The NameNode's default RPC port, used when `fs.defaultFS` names none.
pub const DFS_NAMENODE_RPC_PORT_DEFAULT: u16 = 8020;

/// One built-in default: the key, Hadoop's default value, and for time keys
/// the unit of a bare number.
#[derive(Debug, Clone, Copy)]
pub struct KeyDefault {
    /// Hadoop's key string.
    pub key: &'static str,
    /// Hadoop's default value, unexpanded (may hold `${...}`).
    pub value: &'static str,
    /// For durations: the unit a number without suffix is read in.
    pub unit: Option<TimeUnit>,
}

const fn d(key: &'static str, value: &'static str) -> KeyDefault {
    KeyDefault {
        key,
        value,
        unit: None,
    }
}

const fn t(key: &'static str, value: &'static str, unit: TimeUnit) -> KeyDefault {
    KeyDefault {
        key,
        value,
        unit: Some(unit),
    }
}

/// The built-in defaults, loaded first by [`crate::Configuration::new`].
pub const DEFAULTS: &[KeyDefault] = &[
    d(FS_DEFAULT_FS, "file:///"),
    d(HADOOP_TMP_DIR, "/tmp/hadoop-${user.name}"),
    d(IO_FILE_BUFFER_SIZE, "4096"),
    d(IPC_MAXIMUM_DATA_LENGTH, "134217728"),
    t(
        IPC_CLIENT_CONNECTION_MAXIDLETIME,
        "10000",
        TimeUnit::Milliseconds,
    ),
    d(IPC_CLIENT_CONNECT_MAX_RETRIES, "10"),
    t(
        IPC_CLIENT_CONNECT_RETRY_INTERVAL,
        "1000",
        TimeUnit::Milliseconds,
    ),
    t(IPC_CLIENT_CONNECT_TIMEOUT, "20000", TimeUnit::Milliseconds),
    t(IPC_PING_INTERVAL, "60000", TimeUnit::Milliseconds),
    d(IPC_SERVER_LISTEN_QUEUE_SIZE, "256"),
    d(FS_PERMISSIONS_UMASK_MODE, "022"),
    d(DFS_REPLICATION, "3"),
    d(DFS_REPLICATION_MAX, "512"),
    d(DFS_NAMENODE_REPLICATION_MIN, "1"),
    d(DFS_BLOCK_SIZE, "134217728"),
    d(DFS_NAMENODE_MIN_BLOCK_SIZE, "1048576"),
    d(DFS_BYTES_PER_CHECKSUM, "512"),
    d(DFS_CHECKSUM_TYPE, "CRC32C"),
    d(DFS_CLIENT_WRITE_PACKET_SIZE, "65536"),
    t(DFS_CLIENT_SOCKET_TIMEOUT, "60000", TimeUnit::Milliseconds),
    t(
        DFS_DATANODE_SOCKET_WRITE_TIMEOUT,
        "480000",
        TimeUnit::Milliseconds,
    ),
    d(DFS_CLIENT_REPLACE_DATANODE_ON_FAILURE_ENABLE, "true"),
    d(DFS_CLIENT_REPLACE_DATANODE_ON_FAILURE_POLICY, "DEFAULT"),
    d(DFS_NAMENODE_RPC_ADDRESS, ""),
    d(DFS_NAMENODE_HTTP_ADDRESS, "0.0.0.0:9870"),
    d(DFS_NAMENODE_HANDLER_COUNT, "10"),
    d(DFS_NAMENODE_NAME_DIR, "file://${hadoop.tmp.dir}/dfs/name"),
    d(DFS_NAMENODE_EDITS_DIR, "${dfs.namenode.name.dir}"),
    t(DFS_NAMENODE_CHECKPOINT_PERIOD, "3600s", TimeUnit::Seconds),
    d(DFS_NAMENODE_CHECKPOINT_TXNS, "1000000"),
    t(
        DFS_NAMENODE_HEARTBEAT_RECHECK_INTERVAL,
        "300000",
        TimeUnit::Milliseconds,
    ),
    t(
        DFS_NAMENODE_STALE_DATANODE_INTERVAL,
        "30000",
        TimeUnit::Milliseconds,
    ),
    d(DFS_PERMISSIONS_ENABLED, "true"),
    d(DFS_PERMISSIONS_SUPERUSERGROUP, "supergroup"),
    d(DFS_NAMENODE_SAFEMODE_THRESHOLD_PCT, "0.999f"),
    d(DFS_NAMENODE_SAFEMODE_MIN_DATANODES, "0"),
    t(
        DFS_NAMENODE_SAFEMODE_EXTENSION,
        "30000",
        TimeUnit::Milliseconds,
    ),
    t(DFS_NAMENODE_REDUNDANCY_INTERVAL, "3s", TimeUnit::Seconds),
    t(
        DFS_NAMENODE_ACCESSTIME_PRECISION,
        "3600000",
        TimeUnit::Milliseconds,
    ),
    d(DFS_DATANODE_ADDRESS, "0.0.0.0:9866"),
    d(DFS_DATANODE_IPC_ADDRESS, "0.0.0.0:9867"),
    d(DFS_DATANODE_HTTP_ADDRESS, "0.0.0.0:9864"),
    d(DFS_DATANODE_HANDLER_COUNT, "10"),
    d(DFS_DATANODE_DATA_DIR, "file://${hadoop.tmp.dir}/dfs/data"),
    d(DFS_DATANODE_DATA_DIR_PERM, "700"),
    d(DFS_DATANODE_DU_RESERVED, "0"),
    d(DFS_DATANODE_FSDATASET_VOLUME_CHOOSING_POLICY, ""),
    d(DFS_DATANODE_SYNCONCLOSE, "false"),
    d(DFS_DATANODE_MAX_TRANSFER_THREADS, "4096"),
    d(DFS_DATANODE_FAILED_VOLUMES_TOLERATED, "0"),
    t(DFS_HEARTBEAT_INTERVAL, "3s", TimeUnit::Seconds),
    t(
        DFS_BLOCKREPORT_INTERVAL_MSEC,
        "21600000",
        TimeUnit::Milliseconds,
    ),
    t(DFS_BLOCKREPORT_INITIAL_DELAY, "0s", TimeUnit::Seconds),
    t(
        DFS_DATANODE_DIRECTORYSCAN_INTERVAL,
        "21600s",
        TimeUnit::Seconds,
    ),
    d(DFS_CLIENT_USE_DATANODE_HOSTNAME, "false"),
    d(DFS_NAMENODE_DATANODE_REGISTRATION_IP_HOSTNAME_CHECK, "true"),
];

/// The built-in default of `key`, if it is one of ours.
pub fn default_of(key: &str) -> Option<&'static KeyDefault> {
    DEFAULTS.iter().find(|k| k.key == key)
}
