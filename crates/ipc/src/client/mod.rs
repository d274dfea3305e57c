//! The Hadoop RPC client: pooled connections, many calls in flight on each.
//!
//! [`RpcClient`] (`Send + Sync + Clone`) owns a pool of connections keyed by
//! [`ConnectionId`] (server address, protocol, user). Any number of threads call
//! [`RpcClient::call`] at once; calls to the same server and protocol share one socket,
//! each frame tagged with a call id, and replies are handed to their callers by id (see
//! the implementation notes), in whatever order the server answers.
//!
//! `call` is the single choke point (encoding, logging, error mapping); the typed
//! proxies [`namenode::NamenodeProtocol`] and [`datanode::DatanodeProtocolProxy`] are
//! one-liners over it, named after Hadoop's methods.
//!
//! # Connection life
//!
//! * **Open**: TCP connect (retried by [`RetryPolicy`]), `TCP_NODELAY`, then the
//!   preamble `hrpc 9 0 0` and the connection context (call id -3, SIMPLE auth: the
//!   effective user and the protocol name) in one write. No reply is expected.
//! * **Calls**: `RpcRequestHeaderProto{RPC_PROTOCOL_BUFFER, RPC_FINAL_PACKET, callId,
//!   clientId, retryCount 0}` + `RequestHeaderProto` + request, one frame each. Call ids
//!   count up from 0 per [`RpcClient`] (shared by its connections, so `(clientId,
//!   callId)` is unique as the server's retry cache expects), masked to 31 bits.
//! * **Replies**: SUCCESS hands the response to the caller; ERROR fails that call with
//!   [`Error::Remote`] and the connection lives on; FATAL fails every outstanding call
//!   with [`Error::Fatal`] and closes the connection.
//! * **Retry**: a call refused with `RetriableException` or `StandbyException` is sent
//!   again after a pause ([`ClientConfig::call_retry`]), with the same call id and
//!   `retryCount` 1, 2, … (Hadoop's `RetryInvocationHandler`).
//! * **Ping**: when nothing was sent or received for [`ClientConfig::ping_interval`], the
//!   connection's thread sends a ping (call id -4, no reply).
//! * **Idle close**: with no call outstanding and no call traffic for
//!   [`ClientConfig::max_idle`], the connection's thread closes the connection.
//! * **Failure**: any read error, EOF, bad frame or failed write closes the connection:
//!   every outstanding call completes with [`Error::ConnectionClosed`] (so no call waits
//!   forever on a dead server) and the pool forgets the connection, so the next call
//!   reconnects.
//!
//! # Examples
//!
//! ```no_run
//! use ferrodfs_ipc::client::{ClientConfig, RpcClient};
//! use ferrodfs_proto::hdfs::{GetFileInfoRequestProto, GetFileInfoResponseProto};
//! use ferrodfs_proto::protocol::CLIENT_NAMENODE;
//!
//! let client = RpcClient::new(ClientConfig::default());
//! let addr = "127.0.0.1:8020".parse()?;
//! let req = GetFileInfoRequestProto { src: "/".to_owned() };
//! let resp: GetFileInfoResponseProto = client.call(addr, CLIENT_NAMENODE, "getFileInfo", &req)?;
//! # let _ = resp;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Byte layouts and behaviour tables: `docs/design/rpc-client.md`.
//!
//! # Implementation notes
//!
//! Blocking sockets, like Hadoop's `Client.Connection`, but replies are read by the
//! callers (leader/follower): one waiting caller at a time reads the socket and
//! completes every call whose reply it reads; the others sleep on their call's slot
//! until completed or handed the lead. A lone caller reads its own reply, so a call
//! costs no thread wake-up beyond the server's answer. Frames written while another
//! caller writes are queued and go out in that caller's next write. A thread per
//! connection (`IPC Client connection to <addr> from <user>`) pings, closes the idle
//! connection and notices the server's hang-up (`POLLRDHUP`) when no call runs.
//! A follower's timeout is exact; a leader notices its own at the next read timeout,
//! which is set to what is left of it. A reply arriving after the timeout is dropped
//! and the connection stays up (unlike Java, which closes the connection on
//! `rpcTimeout`).
//!
//! TODO(issue 3): SASL (auth byte `0xDF`: Java's DataNode IPC client sends it even with
//! simple auth; a ferrodfs client needs it only for secure clusters); per-call timeouts
//! (today one per `RpcClient`); failover between NameNodes on `StandbyException`
//! (today the same address is retried); `stateId` (observer reads).

mod connection;
pub mod datanode;
pub mod namenode;
mod user;

use crate::error::{Error, Result};
use crate::exception::JavaException;
use connection::{Connection, Sent};
use ferrodfs_proto::protocol::Protocol;
use prost::Message;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

pub use user::{current_user, random_client_id, HADOOP_USER_NAME};

/// `ipc.client.connection.maxidletime` (ms): an idle connection is closed after this.
pub const IPC_CLIENT_CONNECTION_MAXIDLETIME_KEY: &str = "ipc.client.connection.maxidletime";
/// Default of [`IPC_CLIENT_CONNECTION_MAXIDLETIME_KEY`]: 10 s.
pub const IPC_CLIENT_CONNECTION_MAXIDLETIME_DEFAULT: Duration = Duration::from_secs(10);
/// `ipc.client.connect.max.retries`: connect attempts after the first.
pub const IPC_CLIENT_CONNECT_MAX_RETRIES_KEY: &str = "ipc.client.connect.max.retries";
/// Default of [`IPC_CLIENT_CONNECT_MAX_RETRIES_KEY`].
pub const IPC_CLIENT_CONNECT_MAX_RETRIES_DEFAULT: u32 = 10;
/// `ipc.client.connect.retry.interval` (ms): pause between connect attempts.
pub const IPC_CLIENT_CONNECT_RETRY_INTERVAL_KEY: &str = "ipc.client.connect.retry.interval";
/// Default of [`IPC_CLIENT_CONNECT_RETRY_INTERVAL_KEY`]: 1 s.
pub const IPC_CLIENT_CONNECT_RETRY_INTERVAL_DEFAULT: Duration = Duration::from_secs(1);
/// `ipc.client.connect.timeout` (ms): one connect attempt's limit.
pub const IPC_CLIENT_CONNECT_TIMEOUT_KEY: &str = "ipc.client.connect.timeout";
/// Default of [`IPC_CLIENT_CONNECT_TIMEOUT_KEY`]: 20 s.
pub const IPC_CLIENT_CONNECT_TIMEOUT_DEFAULT: Duration = Duration::from_secs(20);
/// `ipc.client.rpc-timeout.ms`: how long a call waits for its reply; 0 = forever.
pub const IPC_CLIENT_RPC_TIMEOUT_KEY: &str = "ipc.client.rpc-timeout.ms";
/// Default of [`IPC_CLIENT_RPC_TIMEOUT_KEY`] (Hadoop 3: 120 s).
pub const IPC_CLIENT_RPC_TIMEOUT_DEFAULT: Duration = Duration::from_secs(120);
/// `ipc.ping.interval` (ms): quiet time after which the client pings.
pub const IPC_PING_INTERVAL_KEY: &str = "ipc.ping.interval";
/// Default of [`IPC_PING_INTERVAL_KEY`]: 60 s.
pub const IPC_PING_INTERVAL_DEFAULT: Duration = Duration::from_secs(60);
/// `ipc.client.ping`: whether the client pings at all.
pub const IPC_CLIENT_PING_KEY: &str = "ipc.client.ping";
/// `ipc.maximum.response.length`: the largest reply frame accepted.
pub const IPC_MAXIMUM_RESPONSE_LENGTH_KEY: &str = "ipc.maximum.response.length";
/// Default of [`IPC_MAXIMUM_RESPONSE_LENGTH_KEY`]: 128 MiB.
pub const IPC_MAXIMUM_RESPONSE_LENGTH_DEFAULT: usize = 128 * 1024 * 1024;

/// `dfs.client.retry.max.attempts`: how often a call the server refused with
/// `RetriableException` or `StandbyException` is sent again.
pub const DFS_CLIENT_RETRY_MAX_ATTEMPTS_KEY: &str = "dfs.client.retry.max.attempts";
/// Default of [`DFS_CLIENT_RETRY_MAX_ATTEMPTS_KEY`].
pub const DFS_CLIENT_RETRY_MAX_ATTEMPTS_DEFAULT: u32 = 10;
/// `dfs.client.failover.sleep.base.millis`: the first pause before such a retry.
pub const DFS_CLIENT_FAILOVER_SLEEP_BASE_KEY: &str = "dfs.client.failover.sleep.base.millis";
/// Default of [`DFS_CLIENT_FAILOVER_SLEEP_BASE_KEY`]: 500 ms.
pub const DFS_CLIENT_FAILOVER_SLEEP_BASE_DEFAULT: Duration = Duration::from_millis(500);
/// `dfs.client.failover.sleep.max.millis`: the longest pause before such a retry.
pub const DFS_CLIENT_FAILOVER_SLEEP_MAX_KEY: &str = "dfs.client.failover.sleep.max.millis";
/// Default of [`DFS_CLIENT_FAILOVER_SLEEP_MAX_KEY`]: 15 s.
pub const DFS_CLIENT_FAILOVER_SLEEP_MAX_DEFAULT: Duration = Duration::from_secs(15);

/// How often a connect is retried (`ipc.client.connect.max.retries`,
/// `ipc.client.connect.retry.interval`): `1 + max_retries` attempts, `interval` apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub interval: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: IPC_CLIENT_CONNECT_MAX_RETRIES_DEFAULT,
            interval: IPC_CLIENT_CONNECT_RETRY_INTERVAL_DEFAULT,
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retry.
    pub const NONE: RetryPolicy = RetryPolicy {
        max_retries: 0,
        interval: Duration::ZERO,
    };
}

/// Settings of an [`RpcClient`]; [`Default`] gives Hadoop's defaults.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Effective user sent in the connection context (SIMPLE auth). Default:
    /// [`current_user`] (`HADOOP_USER_NAME`, else the process's user).
    pub user: String,
    /// How long a call waits for its reply; `None` = forever (`ipc.client.rpc-timeout.ms`).
    pub call_timeout: Option<Duration>,
    /// Quiet time after which a ping is sent; `None` = never (`ipc.ping.interval`).
    pub ping_interval: Option<Duration>,
    /// Idle time after which a connection with no calls is closed
    /// (`ipc.client.connection.maxidletime`).
    pub max_idle: Duration,
    /// Limit of one connect attempt (`ipc.client.connect.timeout`).
    pub connect_timeout: Duration,
    /// Connect retries.
    pub retry: RetryPolicy,
    /// Call retries after `RetriableException` / `StandbyException` (the server did
    /// not run the call and says trying again later may work): at most `max_retries`
    /// more attempts, retry `n` (from 0) after `min(interval · 2ⁿ, max_call_retry_sleep)`
    /// (Hadoop's `FailoverOnNetworkExceptionRetry`, without its random spread). Every
    /// attempt carries the same call id with `retryCount` 1, 2, …, so the server's
    /// retry cache can recognise it. [`RetryPolicy::NONE`]: no call retry.
    pub call_retry: RetryPolicy,
    /// Upper bound of the pause between call retries.
    pub max_call_retry_sleep: Duration,
    /// Largest reply frame accepted (`ipc.maximum.response.length`); a larger one closes
    /// the connection.
    pub max_response_len: usize,
    /// The 16-byte client id in every request header; `None` = a fresh random id for
    /// each [`RpcClient::new`] (what Hadoop does per `Client`).
    pub client_id: Option<[u8; 16]>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            user: current_user(),
            call_timeout: Some(IPC_CLIENT_RPC_TIMEOUT_DEFAULT),
            ping_interval: Some(IPC_PING_INTERVAL_DEFAULT),
            max_idle: IPC_CLIENT_CONNECTION_MAXIDLETIME_DEFAULT,
            connect_timeout: IPC_CLIENT_CONNECT_TIMEOUT_DEFAULT,
            retry: RetryPolicy::default(),
            call_retry: RetryPolicy {
                max_retries: DFS_CLIENT_RETRY_MAX_ATTEMPTS_DEFAULT,
                interval: DFS_CLIENT_FAILOVER_SLEEP_BASE_DEFAULT,
            },
            max_call_retry_sleep: DFS_CLIENT_FAILOVER_SLEEP_MAX_DEFAULT,
            max_response_len: IPC_MAXIMUM_RESPONSE_LENGTH_DEFAULT,
            client_id: None,
        }
    }
}

impl ClientConfig {
    /// Hadoop's client settings from a configuration (`core-site.xml`, `-D`), with
    /// [`Default`]'s user and a random client id.
    pub fn from_conf(
        conf: &ferrodfs_conf::Configuration,
    ) -> Result<ClientConfig, ferrodfs_conf::Error> {
        let d = ClientConfig::default();
        let nonzero = |t: Duration| (!t.is_zero()).then_some(t);
        let call_timeout =
            conf.get_duration(IPC_CLIENT_RPC_TIMEOUT_KEY, IPC_CLIENT_RPC_TIMEOUT_DEFAULT)?;
        let ping_interval = conf.get_duration(IPC_PING_INTERVAL_KEY, IPC_PING_INTERVAL_DEFAULT)?;
        let max_retries = conf.get_u64(
            IPC_CLIENT_CONNECT_MAX_RETRIES_KEY,
            IPC_CLIENT_CONNECT_MAX_RETRIES_DEFAULT.into(),
        )?;
        let call_retries = conf.get_u64(
            DFS_CLIENT_RETRY_MAX_ATTEMPTS_KEY,
            DFS_CLIENT_RETRY_MAX_ATTEMPTS_DEFAULT.into(),
        )?;
        Ok(ClientConfig {
            call_timeout: nonzero(call_timeout),
            ping_interval: if conf.get_bool(IPC_CLIENT_PING_KEY, true)? {
                nonzero(ping_interval)
            } else {
                None
            },
            max_idle: conf.get_duration(
                IPC_CLIENT_CONNECTION_MAXIDLETIME_KEY,
                IPC_CLIENT_CONNECTION_MAXIDLETIME_DEFAULT,
            )?,
            connect_timeout: conf.get_duration(
                IPC_CLIENT_CONNECT_TIMEOUT_KEY,
                IPC_CLIENT_CONNECT_TIMEOUT_DEFAULT,
            )?,
            retry: RetryPolicy {
                max_retries: u32::try_from(max_retries).unwrap_or(u32::MAX),
                interval: conf.get_duration(
                    IPC_CLIENT_CONNECT_RETRY_INTERVAL_KEY,
                    IPC_CLIENT_CONNECT_RETRY_INTERVAL_DEFAULT,
                )?,
            },
            call_retry: RetryPolicy {
                max_retries: u32::try_from(call_retries).unwrap_or(u32::MAX),
                interval: conf.get_duration(
                    DFS_CLIENT_FAILOVER_SLEEP_BASE_KEY,
                    DFS_CLIENT_FAILOVER_SLEEP_BASE_DEFAULT,
                )?,
            },
            max_call_retry_sleep: conf.get_duration(
                DFS_CLIENT_FAILOVER_SLEEP_MAX_KEY,
                DFS_CLIENT_FAILOVER_SLEEP_MAX_DEFAULT,
            )?,
            max_response_len: usize::try_from(conf.get_size(
                IPC_MAXIMUM_RESPONSE_LENGTH_KEY,
                IPC_MAXIMUM_RESPONSE_LENGTH_DEFAULT as u64,
            )?)
            .unwrap_or(usize::MAX),
            ..d
        })
    }
}

/// What a pooled connection is keyed by: calls with equal ids share a socket.
///
/// Timeouts are per [`RpcClient`] (one [`ClientConfig`]), so they need no place here.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectionId {
    pub addr: SocketAddr,
    pub protocol: Protocol,
    pub user: Arc<str>,
}

/// What every connection of one client shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: ClientConfig,
    pub(crate) client_id: [u8; 16],
    pub(crate) user: Arc<str>,
    /// Next call id; Hadoop's is JVM-wide, ours per client (each has its own client id).
    pub(crate) next_call_id: AtomicI32,
}

type Slot = Arc<Mutex<Option<Arc<Connection>>>>;

#[derive(Debug)]
struct Pool {
    shared: Arc<Shared>,
    slots: Mutex<HashMap<ConnectionId, Slot>>,
}

impl Drop for Pool {
    fn drop(&mut self) {
        for slot in lock(&self.slots).values() {
            if let Some(conn) = lock(slot).take() {
                conn.close_with_reason("client shut down");
            }
        }
    }
}

/// A Hadoop RPC client: a pool of multiplexed connections. Cheap to clone; clones
/// share the pool. Dropping the last clone closes every connection.
#[derive(Debug, Clone)]
pub struct RpcClient {
    pool: Arc<Pool>,
}

/// How often `call` moves on to a fresh connection when the pooled one turned out to
/// be closing before the request went out.
const STALE_CONNECTION_ATTEMPTS: usize = 3;

impl RpcClient {
    pub fn new(config: ClientConfig) -> RpcClient {
        let client_id = config.client_id.unwrap_or_else(random_client_id);
        let user: Arc<str> = Arc::from(config.user.as_str());
        RpcClient {
            pool: Arc::new(Pool {
                shared: Arc::new(Shared {
                    config,
                    client_id,
                    user,
                    next_call_id: AtomicI32::new(0),
                }),
                slots: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The settings this client runs with.
    pub fn config(&self) -> &ClientConfig {
        &self.pool.shared.config
    }

    /// The 16-byte client id sent in every request header.
    pub fn client_id(&self) -> [u8; 16] {
        self.pool.shared.client_id
    }

    /// Calls `method` of `protocol` on the server at `addr` and decodes its reply.
    ///
    /// Connects (with retries) if no pooled connection is up. A call refused with
    /// `RetriableException` or `StandbyException` is sent again as
    /// [`ClientConfig::call_retry`] says. Fails with [`Error::Remote`] when the server
    /// threw, [`Error::Fatal`] when it closed the connection with a FATAL reply,
    /// [`Error::Timeout`] after [`ClientConfig::call_timeout`],
    /// [`Error::ConnectionClosed`] when the connection broke while the call was
    /// outstanding, [`Error::Connect`] when no connection could be made and
    /// [`Error::BadResponse`] when the reply does not decode.
    pub fn call<Req, Resp>(
        &self,
        addr: SocketAddr,
        protocol: Protocol,
        method: &str,
        request: &Req,
    ) -> Result<Resp>
    where
        Req: Message,
        Resp: Message + Default,
    {
        let id = ConnectionId {
            addr,
            protocol,
            user: self.pool.shared.user.clone(),
        };
        let shared = &self.pool.shared;
        let call_id = shared.next_call_id.fetch_add(1, Ordering::Relaxed) & 0x7fff_ffff;
        let policy = shared.config.call_retry;
        let mut retries = 0u32;
        loop {
            match self.call_once(&id, call_id, retries, method, request) {
                Err(e) if retries < policy.max_retries && is_retriable(&e) => {
                    let pause = retry_pause(policy, shared.config.max_call_retry_sleep, retries);
                    tracing::debug!(%addr, call_id, method, retries, ?pause, error = %e, "retrying call");
                    std::thread::sleep(pause);
                    retries += 1;
                }
                result => return result,
            }
        }
    }

    /// One attempt of a call, moving to a fresh connection if the pooled one turns out
    /// to be closing before the request went out.
    fn call_once<Req, Resp>(
        &self,
        id: &ConnectionId,
        call_id: i32,
        retry_count: u32,
        method: &str,
        request: &Req,
    ) -> Result<Resp>
    where
        Req: Message,
        Resp: Message + Default,
    {
        let retry_count = i32::try_from(retry_count).unwrap_or(i32::MAX);
        for _ in 0..STALE_CONNECTION_ATTEMPTS {
            let conn = self.connection(id)?;
            match conn.send(call_id, retry_count, method, request) {
                Sent::Pending(pending) => {
                    let mut body = conn.wait(pending)?;
                    return Resp::decode_length_delimited(&mut body).map_err(|source| {
                        Error::BadResponse {
                            method: method.to_owned(),
                            source,
                        }
                    });
                }
                Sent::ConnectionClosed => self.forget(id, &conn),
            }
        }
        Err(Error::ConnectionClosed {
            addr: id.addr,
            reason: "connection kept closing before the request could be sent".to_owned(),
        })
    }

    /// Number of open pooled connections (for tests and metrics).
    pub fn open_connections(&self) -> usize {
        lock(&self.pool.slots)
            .values()
            .filter(|slot| lock(slot).as_ref().is_some_and(|c| !c.is_closed()))
            .count()
    }

    /// The pooled connection for `id`, opened if there is none. Callers for the same id
    /// wait on the slot while one of them connects, so a burst opens one socket.
    fn connection(&self, id: &ConnectionId) -> Result<Arc<Connection>> {
        let slot = lock(&self.pool.slots)
            .entry(id.clone())
            .or_default()
            .clone();
        let mut guard = lock(&slot);
        if let Some(conn) = guard.as_ref() {
            if !conn.is_closed() {
                return Ok(conn.clone());
            }
        }
        let pool: Weak<Pool> = Arc::downgrade(&self.pool);
        let key = id.clone();
        let on_close = Box::new(move |conn: &Arc<Connection>| {
            if let Some(pool) = pool.upgrade() {
                forget_in(&pool, &key, conn);
            }
        });
        let conn = Connection::open(id.clone(), self.pool.shared.clone(), on_close)?;
        *guard = Some(conn.clone());
        Ok(conn)
    }

    fn forget(&self, id: &ConnectionId, conn: &Arc<Connection>) {
        forget_in(&self.pool, id, conn);
    }
}

/// Whether the server refused the call in a way that invites sending it again: it did
/// not run it (`RetriableException`: e.g. still starting; `StandbyException`: not the
/// active NameNode).
fn is_retriable(e: &Error) -> bool {
    e.is(&JavaException::RetriableException) || e.is(&JavaException::Standby)
}

/// The pause before retry `n` (from 0): `interval · 2ⁿ`, at most `max`.
fn retry_pause(policy: RetryPolicy, max: Duration, n: u32) -> Duration {
    policy
        .interval
        .checked_mul(1u32.checked_shl(n).unwrap_or(u32::MAX))
        .unwrap_or(max)
        .min(max)
}

/// Drops `conn` from the pool if it is still the one pooled under `id`.
fn forget_in(pool: &Pool, id: &ConnectionId, conn: &Arc<Connection>) {
    let slot = lock(&pool.slots).get(id).cloned();
    if let Some(slot) = slot {
        let mut guard = lock(&slot);
        if guard.as_ref().is_some_and(|c| Arc::ptr_eq(c, conn)) {
            *guard = None;
        }
    }
}

/// Locks, ignoring poisoning: every critical section here leaves the data consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Defines typed one-line methods over [`RpcClient::call`] for a proxy struct with
/// fields `client: RpcClient` and `addr: SocketAddr`.
macro_rules! rpc_methods {
    ($protocol:expr; $( $(#[$doc:meta])* $name:ident => $method:literal ($req:ty) -> $resp:ty; )*) => {
        $(
            $(#[$doc])*
            #[doc = concat!("Hadoop's `", $method, "`.")]
            pub fn $name(&self, request: &$req) -> $crate::Result<$resp> {
                self.client.call(self.addr, $protocol, $method, request)
            }
        )*
    };
}
pub(crate) use rpc_methods;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_pauses_double_up_to_the_maximum() {
        let p = RetryPolicy {
            max_retries: 10,
            interval: Duration::from_millis(500),
        };
        let max = Duration::from_secs(15);
        let pauses: Vec<u128> = (0..7).map(|n| retry_pause(p, max, n).as_millis()).collect();
        assert_eq!(pauses, [500, 1000, 2000, 4000, 8000, 15000, 15000]);
        assert_eq!(retry_pause(p, max, 40), max);
    }

    #[test]
    fn config_from_conf_reads_hadoop_keys_and_defaults() {
        let mut conf = ferrodfs_conf::Configuration::new();
        let d = ClientConfig::from_conf(&conf).unwrap();
        assert_eq!(d.call_timeout, Some(Duration::from_secs(120)));
        assert_eq!(d.ping_interval, Some(Duration::from_secs(60)));
        assert_eq!(d.max_idle, Duration::from_secs(10));
        assert_eq!(d.retry, RetryPolicy::default());
        assert_eq!(d.max_response_len, 128 << 20);
        assert_eq!(d.call_retry.max_retries, 10);
        assert_eq!(d.call_retry.interval, Duration::from_millis(500));
        assert_eq!(d.max_call_retry_sleep, Duration::from_secs(15));
        conf.set(IPC_CLIENT_RPC_TIMEOUT_KEY, "0");
        conf.set(IPC_CLIENT_PING_KEY, "false");
        conf.set(IPC_CLIENT_CONNECTION_MAXIDLETIME_KEY, "2500");
        conf.set(IPC_CLIENT_CONNECT_MAX_RETRIES_KEY, "3");
        conf.set(IPC_CLIENT_CONNECT_RETRY_INTERVAL_KEY, "50ms");
        let c = ClientConfig::from_conf(&conf).unwrap();
        assert_eq!(c.call_timeout, None);
        assert_eq!(c.ping_interval, None);
        assert_eq!(c.max_idle, Duration::from_millis(2500));
        assert_eq!(
            c.retry,
            RetryPolicy {
                max_retries: 3,
                interval: Duration::from_millis(50)
            }
        );
        conf.set(DFS_CLIENT_RETRY_MAX_ATTEMPTS_KEY, "2");
        conf.set(DFS_CLIENT_FAILOVER_SLEEP_BASE_KEY, "20");
        let c = ClientConfig::from_conf(&conf).unwrap();
        assert_eq!(
            c.call_retry,
            RetryPolicy {
                max_retries: 2,
                interval: Duration::from_millis(20)
            }
        );
        conf.set(IPC_CLIENT_CONNECT_MAX_RETRIES_KEY, "many");
        assert!(ClientConfig::from_conf(&conf).is_err());
    }
}
