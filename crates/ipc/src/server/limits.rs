//! What one peer may cost the server: configured limits, the per-IP connection count,
//! and the clock that closes a connection whose frame does not arrive in time.
//!
//! | key | default | what happens over it |
//! |---|---|---|
//! | `ipc.maximum.data.length` | 128 MiB | frame refused from its 4 length bytes, connection closed |
//! | `ipc.server.max.connections` | 0 (off) | accepted connection closed at once, unread |
//! | `ipc.server.max.connections.per.ip` (ferrodfs; Hadoop has none) | 1024 | the same, per peer IP |
//! | `ipc.client.connection.maxidletime` | 10 s | no byte for twice this, nothing in flight: closed |
//! | `ipc.server.read.frame.timeout.ms` (ferrodfs) | 20 s | a started frame (or preamble) not complete within this plus its rate allowance: closed |
//! | `ipc.server.read.frame.min.rate` (ferrodfs, bytes/s) | 64 KiB | each byte of a started frame extends its deadline by 1/rate s |
//! | `ipc.server.purge.interval` (minutes) | 15 | queued answers that have not moved for this long: closed |
//!
//! Memory follows bytes received, never a length announced (see
//! [`FrameDecoder`](crate::frame::FrameDecoder)), so a peer announcing 128 MiB and
//! trickling costs what it sent, and the frame clock ends it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use ferrodfs_conf::Configuration;

use super::{
    IPC_CLIENT_CONNECTION_MAXIDLETIME_DEFAULT, IPC_CLIENT_CONNECTION_MAXIDLETIME_KEY,
    IPC_SERVER_MAX_CONNECTIONS_DEFAULT, IPC_SERVER_MAX_CONNECTIONS_KEY,
    IPC_SERVER_PURGE_INTERVAL_DEFAULT, IPC_SERVER_PURGE_INTERVAL_KEY,
};
use crate::frame::{IPC_MAXIMUM_DATA_LENGTH_DEFAULT, IPC_MAXIMUM_DATA_LENGTH_KEY};

/// `ipc.server.max.connections.per.ip` (ferrodfs; Hadoop has no per-IP cap): a
/// connection from an IP that already has this many open is closed right after
/// accept; 0 = no limit.
pub const IPC_SERVER_MAX_CONNECTIONS_PER_IP_KEY: &str = "ipc.server.max.connections.per.ip";
/// Default of [`IPC_SERVER_MAX_CONNECTIONS_PER_IP_KEY`]: generous (a client process
/// uses one connection per user and protocol).
pub const IPC_SERVER_MAX_CONNECTIONS_PER_IP_DEFAULT: usize = 1024;
/// `ipc.server.read.frame.timeout.ms` (ferrodfs): how long a frame (or the connection
/// preamble) may take from its first byte to its last, before its rate allowance.
pub const IPC_SERVER_READ_FRAME_TIMEOUT_KEY: &str = "ipc.server.read.frame.timeout.ms";
/// Default of [`IPC_SERVER_READ_FRAME_TIMEOUT_KEY`]: 20 s, the server's idle time
/// (twice `ipc.client.connection.maxidletime`).
pub const IPC_SERVER_READ_FRAME_TIMEOUT_DEFAULT: Duration = Duration::from_secs(20);
/// `ipc.server.read.frame.min.rate` (ferrodfs, bytes per second): each byte of a frame
/// received extends its deadline by `1/rate` s, so a large frame sent at least this
/// fast is never cut; 0 = no allowance.
pub const IPC_SERVER_READ_FRAME_MIN_RATE_KEY: &str = "ipc.server.read.frame.min.rate";
/// Default of [`IPC_SERVER_READ_FRAME_MIN_RATE_KEY`]: 64 KiB/s.
pub const IPC_SERVER_READ_FRAME_MIN_RATE_DEFAULT: u64 = 64 * 1024;

/// The limits above, read from a configuration (`core-site.xml`, `-D`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub max_frame_len: usize,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub purge_interval: Duration,
    pub frame_timeout: Duration,
    pub frame_min_rate: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_len: IPC_MAXIMUM_DATA_LENGTH_DEFAULT,
            idle_timeout: IPC_CLIENT_CONNECTION_MAXIDLETIME_DEFAULT * 2,
            max_connections: IPC_SERVER_MAX_CONNECTIONS_DEFAULT,
            max_connections_per_ip: IPC_SERVER_MAX_CONNECTIONS_PER_IP_DEFAULT,
            purge_interval: IPC_SERVER_PURGE_INTERVAL_DEFAULT,
            frame_timeout: IPC_SERVER_READ_FRAME_TIMEOUT_DEFAULT,
            frame_min_rate: IPC_SERVER_READ_FRAME_MIN_RATE_DEFAULT,
        }
    }
}

impl Limits {
    /// Reads every key of the table above (unset keys keep their defaults).
    pub fn from_conf(conf: &Configuration) -> Result<Limits, ferrodfs_conf::Error> {
        let d = Limits::default();
        let count = |key: &str, default: usize| -> Result<usize, ferrodfs_conf::Error> {
            Ok(usize::try_from(conf.get_u64(key, default as u64)?).unwrap_or(usize::MAX))
        };
        let max_frame_len = conf.get_size(IPC_MAXIMUM_DATA_LENGTH_KEY, d.max_frame_len as u64)?;
        let max_idle = conf.get_duration_in(
            IPC_CLIENT_CONNECTION_MAXIDLETIME_KEY,
            IPC_CLIENT_CONNECTION_MAXIDLETIME_DEFAULT,
            ferrodfs_conf::TimeUnit::Milliseconds,
        )?;
        Ok(Limits {
            max_frame_len: usize::try_from(max_frame_len)
                .unwrap_or(usize::MAX)
                .min(i32::MAX as usize),
            idle_timeout: max_idle * 2,
            max_connections: count(IPC_SERVER_MAX_CONNECTIONS_KEY, d.max_connections)?,
            max_connections_per_ip: count(
                IPC_SERVER_MAX_CONNECTIONS_PER_IP_KEY,
                d.max_connections_per_ip,
            )?,
            purge_interval: conf.get_duration_in(
                IPC_SERVER_PURGE_INTERVAL_KEY,
                d.purge_interval,
                ferrodfs_conf::TimeUnit::Minutes,
            )?,
            frame_timeout: conf.get_duration_in(
                IPC_SERVER_READ_FRAME_TIMEOUT_KEY,
                d.frame_timeout,
                ferrodfs_conf::TimeUnit::Milliseconds,
            )?,
            frame_min_rate: conf.get_u64(IPC_SERVER_READ_FRAME_MIN_RATE_KEY, d.frame_min_rate)?,
        })
    }
}

/// Open connections per peer IP.
#[derive(Debug, Default)]
pub(crate) struct PeerCounts {
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl PeerCounts {
    /// Counts one more connection from `ip` unless it has `max` open (0 = no limit).
    pub fn try_add(&self, ip: IpAddr, max: usize) -> bool {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        if max > 0 && *n >= max {
            return false;
        }
        *n += 1;
        true
    }

    /// A connection from `ip` closed.
    pub fn remove(&self, ip: IpAddr) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&ip);
            }
        }
    }

    /// Connections open from `ip`.
    #[cfg(test)]
    pub fn count(&self, ip: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(&ip).copied().unwrap_or(0)
    }
}

/// When the frame being received started, and how much of it has arrived: the reader
/// closes the connection once [`FrameClock::expired`].
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FrameClock {
    /// First byte of the incomplete frame (ms since server start); `None` when nothing
    /// incomplete is buffered.
    started_ms: Option<u64>,
    /// Bytes of it received so far.
    bytes: u64,
    /// Frames the connection had completed at the last update.
    frames_seen: u64,
}

impl FrameClock {
    /// After a read of `n` bytes and processing: `buffered` bytes are left over (an
    /// incomplete frame) and the connection has completed `frames` frames in all.
    pub fn update(&mut self, now_ms: u64, n: usize, buffered: usize, frames: u64) {
        if frames != self.frames_seen {
            self.frames_seen = frames;
            self.started_ms = None;
        }
        if buffered == 0 {
            self.started_ms = None;
            self.bytes = 0;
            return;
        }
        if self.started_ms.is_none() {
            self.started_ms = Some(now_ms);
            self.bytes = buffered as u64;
        } else {
            self.bytes += n as u64;
        }
    }

    /// Reading was paused by the server (back-pressure): the time spent does not count.
    pub fn restart(&mut self, now_ms: u64) {
        if self.started_ms.is_some() {
            self.started_ms = Some(now_ms);
            self.bytes = 0;
        }
    }

    /// Whether the incomplete frame is overdue: started more than `timeout` plus
    /// `bytes / min_rate` seconds ago.
    pub fn expired(&self, now_ms: u64, timeout: Duration, min_rate: u64) -> bool {
        let Some(started) = self.started_ms else {
            return false;
        };
        let allowance_ms = self
            .bytes
            .saturating_mul(1000)
            .checked_div(min_rate)
            .unwrap_or(0);
        let limit = (timeout.as_millis() as u64).saturating_add(allowance_ms);
        now_ms.saturating_sub(started) > limit
    }

    /// Whether part of a frame is buffered.
    pub fn in_frame(&self) -> bool {
        self.started_ms.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_ip_counts() {
        let p = PeerCounts::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(p.try_add(ip, 2));
        assert!(p.try_add(ip, 2));
        assert!(!p.try_add(ip, 2));
        assert!(p.try_add("10.0.0.2".parse().unwrap(), 2));
        p.remove(ip);
        assert_eq!(p.count(ip), 1);
        assert!(p.try_add(ip, 2));
        assert!(p.try_add(ip, 0), "0 = no limit");
    }

    #[test]
    fn frame_clock_rules() {
        let t = Duration::from_millis(1000);
        let mut c = FrameClock::default();
        c.update(0, 7, 0, 1); // the preamble, complete
        assert!(!c.expired(10_000, t, 0));
        c.update(100, 3, 3, 1); // 3 bytes of a frame
        assert!(c.in_frame());
        assert!(!c.expired(1100, t, 0));
        assert!(c.expired(1101, t, 0));
        // 1 KiB at 1 KiB/s buys one more second.
        c.update(200, 1021, 1024, 1);
        assert!(!c.expired(2100, t, 1024));
        assert!(c.expired(2200, t, 1024));
        // A frame completed, a new one started with the leftovers.
        c.update(3000, 10, 5, 2);
        assert!(!c.expired(3900, t, 0));
        c.restart(5000);
        assert!(!c.expired(5900, t, 0));
        c.update(6000, 5, 0, 3);
        assert!(!c.in_frame());
    }

    #[test]
    fn limits_from_conf() {
        let mut conf = Configuration::new();
        conf.set(IPC_MAXIMUM_DATA_LENGTH_KEY, "1m");
        conf.set(IPC_SERVER_MAX_CONNECTIONS_PER_IP_KEY, "3");
        conf.set(IPC_SERVER_READ_FRAME_TIMEOUT_KEY, "1500");
        conf.set(IPC_CLIENT_CONNECTION_MAXIDLETIME_KEY, "2s");
        conf.set(IPC_SERVER_PURGE_INTERVAL_KEY, "2");
        let l = Limits::from_conf(&conf).unwrap();
        assert_eq!(l.max_frame_len, 1 << 20);
        assert_eq!(l.max_connections_per_ip, 3);
        assert_eq!(l.frame_timeout, Duration::from_millis(1500));
        assert_eq!(l.idle_timeout, Duration::from_secs(4));
        assert_eq!(l.purge_interval, Duration::from_secs(120));
        assert_eq!(l.frame_min_rate, IPC_SERVER_READ_FRAME_MIN_RATE_DEFAULT);
        assert_eq!(
            Limits::from_conf(&Configuration::new()).unwrap(),
            Limits::default()
        );
    }
}
