//! [`Configuration`]: the key → value store, its XML loader, expansion and
//! typed getters.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::keys;
use crate::values::{parse_bool, parse_duration, parse_f32, parse_i64, parse_size, TimeUnit};
use crate::{Error, Result};

/// Most `${...}` substitutions performed while reading one value (Hadoop's
/// `MAX_SUBST`).
pub const MAX_SUBST_DEPTH: usize = 20;

/// Environment variable naming the configuration directory.
pub const HADOOP_CONF_DIR_ENV: &str = "HADOOP_CONF_DIR";
/// The site files read from the configuration directory, in order.
pub const SITE_FILES: [&str; 2] = ["core-site.xml", "hdfs-site.xml"];

/// Deprecated keys still found in old site files, mapped to today's names
/// (from Hadoop's `HdfsConfiguration` / `ConfigurationDeprecation` tables).
const DEPRECATED: &[(&str, &str)] = &[
    ("fs.default.name", keys::FS_DEFAULT_FS),
    ("dfs.block.size", keys::DFS_BLOCK_SIZE),
    ("dfs.data.dir", keys::DFS_DATANODE_DATA_DIR),
    ("dfs.name.dir", keys::DFS_NAMENODE_NAME_DIR),
    ("dfs.name.edits.dir", keys::DFS_NAMENODE_EDITS_DIR),
    ("dfs.permissions", keys::DFS_PERMISSIONS_ENABLED),
    (
        "dfs.permissions.supergroup",
        keys::DFS_PERMISSIONS_SUPERUSERGROUP,
    ),
    ("dfs.replication.min", keys::DFS_NAMENODE_REPLICATION_MIN),
    (
        "dfs.safemode.threshold.pct",
        keys::DFS_NAMENODE_SAFEMODE_THRESHOLD_PCT,
    ),
    (
        "dfs.safemode.extension",
        keys::DFS_NAMENODE_SAFEMODE_EXTENSION,
    ),
    ("dfs.http.address", keys::DFS_NAMENODE_HTTP_ADDRESS),
    (
        "heartbeat.recheck.interval",
        keys::DFS_NAMENODE_HEARTBEAT_RECHECK_INTERVAL,
    ),
    ("dfs.umaskmode", keys::FS_PERMISSIONS_UMASK_MODE),
];

fn canonical(key: &str) -> &str {
    DEPRECATED
        .iter()
        .find(|(old, _)| *old == key)
        .map_or(key, |(_, new)| new)
}

#[derive(Debug, Clone)]
struct Prop {
    value: String,
    source: String,
}

/// A host and port, unresolved (resolve with
/// [`std::net::ToSocketAddrs`] on `(host.as_str(), port)`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// Host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// Port.
    pub port: u16,
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl HostPort {
    /// Parses `host:port`, `[v6]:port`, `scheme://host:port/path`, or a bare
    /// `host` (taking `default_port`). `None` if malformed.
    pub fn parse(value: &str, default_port: Option<u16>) -> Option<HostPort> {
        let v = value.trim();
        let v = match v.find("://") {
            Some(i) => &v[i + 3..],
            None => v,
        };
        let authority = v.split('/').next().unwrap_or(v);
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        if authority.is_empty() {
            return None;
        }
        let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
            let end = rest.find(']')?;
            let host = &rest[..end];
            match &rest[end + 1..] {
                "" => (host, None),
                p => (host, Some(p.strip_prefix(':')?)),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h, Some(p)),
                Some(_) => return None,
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return None;
        }
        let port = match port {
            Some(p) => p.parse().ok()?,
            None => default_port?,
        };
        Some(HostPort {
            host: host.to_string(),
            port,
        })
    }
}

/// Hadoop's `Configuration`: see the crate docs for load order and rules.
#[derive(Debug, Clone, Default)]
pub struct Configuration {
    props: BTreeMap<String, Prop>,
    finals: HashSet<String>,
    system: BTreeMap<String, String>,
}

impl Configuration {
    /// The built-in defaults, with system properties taken from the process
    /// environment (`user.name` from `USER`, else `HADOOP_USER_NAME`, else
    /// `LOGNAME`; `user.home` from `HOME`; `user.dir` the current directory;
    /// `java.io.tmpdir` `/tmp`).
    pub fn new() -> Configuration {
        let mut conf = Configuration::empty();
        for d in keys::DEFAULTS {
            conf.props.insert(
                d.key.to_string(),
                Prop {
                    value: d.value.to_string(),
                    source: "default".to_string(),
                },
            );
        }
        let user = ["USER", "HADOOP_USER_NAME", "LOGNAME"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| "unknown".to_string());
        conf.set_system_property("user.name", &user);
        if let Ok(home) = std::env::var("HOME") {
            conf.set_system_property("user.home", &home);
        }
        if let Ok(dir) = std::env::current_dir() {
            conf.set_system_property("user.dir", &dir.to_string_lossy());
        }
        conf.set_system_property("java.io.tmpdir", "/tmp");
        conf
    }

    /// A configuration with no keys and no system properties.
    pub fn empty() -> Configuration {
        Configuration::default()
    }

    /// Loads everything in Hadoop's order: defaults, `core-site.xml` and
    /// `hdfs-site.xml` from `conf_dir` (when given; missing files are
    /// skipped), then `opts` (`-conf` files, `-fs`, `-D`).
    pub fn load(conf_dir: Option<&Path>, opts: &crate::GenericOptions) -> Result<Configuration> {
        let mut conf = Configuration::new();
        if let Some(dir) = conf_dir {
            conf.add_site_files(dir)?;
        }
        opts.apply(&mut conf)?;
        Ok(conf)
    }

    /// [`Configuration::load`] with the directory from `HADOOP_CONF_DIR`.
    pub fn load_from_env(opts: &crate::GenericOptions) -> Result<Configuration> {
        let dir = std::env::var_os(HADOOP_CONF_DIR_ENV).map(PathBuf::from);
        Configuration::load(dir.as_deref(), opts)
    }

    /// Adds `core-site.xml` then `hdfs-site.xml` from `dir`, skipping those
    /// that do not exist.
    pub fn add_site_files(&mut self, dir: &Path) -> Result<()> {
        for name in SITE_FILES {
            let path = dir.join(name);
            if path.is_file() {
                self.add_resource(&path)?;
            } else {
                tracing::debug!(path = %path.display(), "no site file");
            }
        }
        Ok(())
    }

    /// Adds a Hadoop XML configuration file, honouring earlier `final`s.
    pub fn add_resource(&mut self, path: &Path) -> Result<()> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        self.add_resource_xml(path, &text)
    }

    /// Adds Hadoop XML configuration text; `name` is used in errors and as
    /// the properties' source.
    pub fn add_resource_xml(&mut self, name: &Path, text: &str) -> Result<()> {
        let doc = roxmltree::Document::parse(text).map_err(|source| Error::Xml {
            path: name.to_path_buf(),
            source,
        })?;
        let root = doc.root_element();
        if root.tag_name().name() != "configuration" {
            return Err(Error::BadResource {
                path: name.to_path_buf(),
                what: "root element is not <configuration>",
            });
        }
        let source = name.display().to_string();
        let mut new_finals = Vec::new();
        for prop in root.children().filter(|n| n.is_element()) {
            if prop.tag_name().name() != "property" {
                tracing::warn!(file = %source, element = prop.tag_name().name(), "ignoring element");
                continue;
            }
            let mut key = prop.attribute("name").map(str::to_string);
            let mut value = prop.attribute("value").map(str::to_string);
            let mut is_final = prop.attribute("final").is_some_and(|f| f.trim() == "true");
            for field in prop.children().filter(|n| n.is_element()) {
                let text: String = field
                    .descendants()
                    .filter(|n| n.is_text())
                    .filter_map(|n| n.text())
                    .collect();
                match field.tag_name().name() {
                    "name" => key = Some(text),
                    "value" => value = Some(text),
                    "final" => is_final = text.trim() == "true",
                    _ => {}
                }
            }
            let Some(key) = key.map(|k| k.trim().to_string()).filter(|k| !k.is_empty()) else {
                return Err(Error::BadResource {
                    path: name.to_path_buf(),
                    what: "a <property> has no <name>",
                });
            };
            let key = canonical(&key).to_string();
            let Some(value) = value else {
                continue;
            };
            if self.finals.contains(&key) {
                if self.get_raw(&key) != Some(value.as_str()) {
                    tracing::warn!(file = %source, key = %key, "attempt to override final parameter ignored");
                }
                continue;
            }
            self.props.insert(
                key.clone(),
                Prop {
                    value,
                    source: source.clone(),
                },
            );
            if is_final {
                new_finals.push(key);
            }
        }
        self.finals.extend(new_finals);
        Ok(())
    }

    /// Sets `key` (overriding any earlier value, final or not, as Hadoop's
    /// `Configuration.set` does).
    pub fn set(&mut self, key: &str, value: &str) {
        self.set_with_source(key, value, "programmatically");
    }

    /// Sets `key`, recording where the value came from.
    pub fn set_with_source(&mut self, key: &str, value: &str, source: &str) {
        self.props.insert(
            canonical(key).to_string(),
            Prop {
                value: value.to_string(),
                source: source.to_string(),
            },
        );
    }

    /// Removes `key`.
    pub fn unset(&mut self, key: &str) {
        self.props.remove(canonical(key));
    }

    /// Sets a system property used by `${...}` expansion (like Java's
    /// `-Dname=value` on the JVM).
    pub fn set_system_property(&mut self, name: &str, value: &str) {
        self.system.insert(name.to_string(), value.to_string());
    }

    /// Whether a resource marked `key` final.
    pub fn is_final(&self, key: &str) -> bool {
        self.finals.contains(canonical(key))
    }

    /// Where `key`'s value came from ("default", a file path, "-D", ...).
    pub fn source(&self, key: &str) -> Option<&str> {
        self.props.get(canonical(key)).map(|p| p.source.as_str())
    }

    /// The value of `key` as stored, unexpanded.
    pub fn get_raw(&self, key: &str) -> Option<&str> {
        self.props.get(canonical(key)).map(|p| p.value.as_str())
    }

    /// All keys, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.props.keys().map(String::as_str)
    }

    /// The value of `key` with `${...}` expanded.
    pub fn get(&self, key: &str) -> Result<Option<String>> {
        match self.get_raw(key) {
            Some(raw) => self.expand(key, raw).map(Some),
            None => Ok(None),
        }
    }

    /// The expanded value of `key`, or `default` when unset.
    pub fn get_or(&self, key: &str, default: &str) -> Result<String> {
        Ok(self.get(key)?.unwrap_or_else(|| default.to_string()))
    }

    /// The expanded value with surrounding whitespace removed.
    pub fn get_trimmed(&self, key: &str) -> Result<Option<String>> {
        Ok(self.get(key)?.map(|v| v.trim().to_string()))
    }

    /// Trimmed, and `None` when empty: what the typed getters parse.
    fn get_nonempty(&self, key: &str) -> Result<Option<String>> {
        Ok(self.get_trimmed(key)?.filter(|v| !v.is_empty()))
    }

    fn parsed<T>(
        &self,
        key: &str,
        default: T,
        expected: &'static str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<T> {
        match self.get_nonempty(key)? {
            None => Ok(default),
            Some(v) => parse(&v).ok_or_else(|| Error::InvalidValue {
                key: key.to_string(),
                value: v,
                expected,
            }),
        }
    }

    /// `getBoolean`: `true`/`false` in any case; unset or empty → `default`.
    pub fn get_bool(&self, key: &str, default: bool) -> Result<bool> {
        self.parsed(key, default, "true or false", parse_bool)
    }

    /// `getLong` (decimal or `0x` hex).
    pub fn get_i64(&self, key: &str, default: i64) -> Result<i64> {
        self.parsed(key, default, "an integer", parse_i64)
    }

    /// A non-negative integer.
    pub fn get_u64(&self, key: &str, default: u64) -> Result<u64> {
        self.parsed(key, default, "a non-negative integer", |v| {
            parse_i64(v).and_then(|n| u64::try_from(n).ok())
        })
    }

    /// `getFloat` (accepts Java's `f`/`d` suffix, as in `0.999f`).
    pub fn get_f32(&self, key: &str, default: f32) -> Result<f32> {
        self.parsed(key, default, "a number", parse_f32)
    }

    /// `getLongBytes`: an integer with optional suffix `k m g t p e`.
    pub fn get_size(&self, key: &str, default: u64) -> Result<u64> {
        self.parsed(key, default, "a size like 134217728 or 128m", parse_size)
    }

    /// `getTimeDuration`, a bare number read in the key's unit from
    /// [`keys::DEFAULTS`] (milliseconds for keys not in the table).
    pub fn get_duration(&self, key: &str, default: Duration) -> Result<Duration> {
        let unit = keys::default_of(canonical(key))
            .and_then(|d| d.unit)
            .unwrap_or(TimeUnit::Milliseconds);
        self.get_duration_in(key, default, unit)
    }

    /// `getTimeDuration` with an explicit unit for bare numbers.
    pub fn get_duration_in(
        &self,
        key: &str,
        default: Duration,
        unit: TimeUnit,
    ) -> Result<Duration> {
        self.parsed(key, default, "a duration like 3s or 500ms", |v| {
            parse_duration(v, unit)
        })
    }

    /// `getTrimmedStrings`: comma-separated, each trimmed, empty ones dropped.
    pub fn get_strings(&self, key: &str) -> Result<Vec<String>> {
        Ok(self
            .get(key)?
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default())
    }

    /// A socket address: `host:port` (or `scheme://host:port`, or a bare host
    /// taking `default_port`). Unset or empty → `None`.
    pub fn get_socket_addr(
        &self,
        key: &str,
        default_port: Option<u16>,
    ) -> Result<Option<HostPort>> {
        match self.get_nonempty(key)? {
            None => Ok(None),
            Some(v) => {
                HostPort::parse(&v, default_port)
                    .map(Some)
                    .ok_or_else(|| Error::InvalidValue {
                        key: key.to_string(),
                        value: v,
                        expected: "host:port",
                    })
            }
        }
    }

    /// The NameNode's RPC address as clients and DataNodes find it:
    /// `dfs.namenode.rpc-address` if set, else the authority of an
    /// `hdfs://host[:port]` `fs.defaultFS` (port 8020 when absent). `None`
    /// when neither names one (e.g. the default `file:///`).
    pub fn namenode_rpc_address(&self) -> Result<Option<HostPort>> {
        if let Some(addr) = self.get_socket_addr(
            keys::DFS_NAMENODE_RPC_ADDRESS,
            Some(keys::DFS_NAMENODE_RPC_PORT_DEFAULT),
        )? {
            return Ok(Some(addr));
        }
        let Some(fs) = self.get_nonempty(keys::FS_DEFAULT_FS)? else {
            return Ok(None);
        };
        let Some(rest) = fs
            .get(..7)
            .filter(|s| s.eq_ignore_ascii_case("hdfs://"))
            .map(|_| &fs[7..])
        else {
            return Ok(None);
        };
        HostPort::parse(rest, Some(keys::DFS_NAMENODE_RPC_PORT_DEFAULT))
            .map(Some)
            .ok_or_else(|| Error::InvalidValue {
                key: keys::FS_DEFAULT_FS.to_string(),
                value: fs.clone(),
                expected: "hdfs://host[:port]",
            })
    }

    fn lookup(&self, name: &str) -> Option<String> {
        if let Some(var) = name.strip_prefix("env.") {
            return std::env::var(var).ok();
        }
        if let Some(v) = self.system.get(name) {
            return Some(v.clone());
        }
        self.get_raw(name).map(str::to_string)
    }

    /// Expands `${...}` in `raw`, innermost first; unbound names stay literal.
    fn expand(&self, key: &str, raw: &str) -> Result<String> {
        let mut out = raw.to_string();
        let mut start = 0;
        let mut depth = 0;
        while let Some(open) = out[start..].find("${").map(|i| i + start) {
            let Some(close) = out[open + 2..].find('}').map(|i| i + open + 2) else {
                break;
            };
            let name = &out[open + 2..close];
            if name.contains("${") {
                // Nested: expand the inner reference first.
                start = open + 2;
                continue;
            }
            match self.lookup(name) {
                Some(v) => {
                    depth += 1;
                    if depth > MAX_SUBST_DEPTH {
                        return Err(Error::SubstitutionDepth {
                            key: key.to_string(),
                            value: raw.to_string(),
                        });
                    }
                    out.replace_range(open..=close, &v);
                    start = 0;
                }
                None => start = close + 1,
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_expansion() {
        let mut conf = Configuration::new();
        conf.set_system_property("user.name", "alice");
        assert_eq!(
            conf.get(keys::DFS_DATANODE_DATA_DIR).unwrap().unwrap(),
            "file:///tmp/hadoop-alice/dfs/data"
        );
        assert_eq!(
            conf.get(keys::DFS_NAMENODE_EDITS_DIR).unwrap().unwrap(),
            "file:///tmp/hadoop-alice/dfs/name"
        );
        assert_eq!(conf.get_u64(keys::DFS_REPLICATION, 0).unwrap(), 3);
        assert_eq!(conf.get_size(keys::DFS_BLOCK_SIZE, 0).unwrap(), 134_217_728);
        assert_eq!(
            conf.get_duration(keys::DFS_HEARTBEAT_INTERVAL, Duration::ZERO)
                .unwrap(),
            Duration::from_secs(3)
        );
        assert_eq!(
            conf.get_duration(
                keys::DFS_NAMENODE_HEARTBEAT_RECHECK_INTERVAL,
                Duration::ZERO
            )
            .unwrap(),
            Duration::from_secs(300)
        );
        assert_eq!(
            conf.get_duration(keys::DFS_BLOCKREPORT_INTERVAL_MSEC, Duration::ZERO)
                .unwrap(),
            Duration::from_secs(6 * 3600)
        );
        assert_eq!(
            conf.get_f32(keys::DFS_NAMENODE_SAFEMODE_THRESHOLD_PCT, 0.0)
                .unwrap(),
            0.999
        );
        assert!(conf.get_bool(keys::DFS_PERMISSIONS_ENABLED, false).unwrap());
        assert_eq!(conf.namenode_rpc_address().unwrap(), None);
        assert_eq!(
            conf.get_socket_addr(keys::DFS_DATANODE_ADDRESS, None)
                .unwrap(),
            Some(HostPort {
                host: "0.0.0.0".into(),
                port: 9866
            })
        );
    }

    #[test]
    fn heartbeat_bare_number_is_seconds_and_recheck_is_ms() {
        let mut conf = Configuration::new();
        conf.set(keys::DFS_HEARTBEAT_INTERVAL, "1");
        conf.set(keys::DFS_NAMENODE_HEARTBEAT_RECHECK_INTERVAL, "2s");
        assert_eq!(
            conf.get_duration(keys::DFS_HEARTBEAT_INTERVAL, Duration::ZERO)
                .unwrap(),
            Duration::from_secs(1)
        );
        assert_eq!(
            conf.get_duration(
                keys::DFS_NAMENODE_HEARTBEAT_RECHECK_INTERVAL,
                Duration::ZERO
            )
            .unwrap(),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn substitution_depth_is_limited_and_unbound_stays() {
        let mut conf = Configuration::empty();
        conf.set("a", "${b}");
        conf.set("b", "${a}");
        assert!(matches!(
            conf.get("a"),
            Err(Error::SubstitutionDepth { key, .. }) if key == "a"
        ));
        conf.set("c", "x-${nope}-${d}");
        conf.set("d", "y");
        assert_eq!(conf.get("c").unwrap().unwrap(), "x-${nope}-y");
        conf.set("e", "${f${g}}");
        conf.set("g", "1");
        conf.set("f1", "nested");
        assert_eq!(conf.get("e").unwrap().unwrap(), "nested");
    }

    #[test]
    fn env_expansion() {
        let mut conf = Configuration::empty();
        conf.set("p", "${env.PATH}");
        assert_eq!(conf.get("p").unwrap(), std::env::var("PATH").ok());
    }

    #[test]
    fn typed_errors_name_the_key() {
        let mut conf = Configuration::new();
        conf.set(keys::DFS_REPLICATION, "three");
        let err = conf.get_u64(keys::DFS_REPLICATION, 3).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidValue { key, value, .. } if key == "dfs.replication" && value == "three")
        );
        assert!(err.to_string().contains("dfs.replication"));
        conf.set(keys::DFS_BLOCK_SIZE, "12q");
        assert!(conf.get_size(keys::DFS_BLOCK_SIZE, 0).is_err());
        conf.set(keys::DFS_PERMISSIONS_ENABLED, "maybe");
        assert!(conf.get_bool(keys::DFS_PERMISSIONS_ENABLED, true).is_err());
        conf.set(keys::DFS_DATANODE_ADDRESS, "host:port");
        assert!(conf
            .get_socket_addr(keys::DFS_DATANODE_ADDRESS, None)
            .is_err());
        conf.set(keys::DFS_HEARTBEAT_INTERVAL, "soon");
        assert!(conf
            .get_duration(keys::DFS_HEARTBEAT_INTERVAL, Duration::ZERO)
            .is_err());
    }

    #[test]
    fn namenode_address_from_default_fs() {
        let mut conf = Configuration::new();
        conf.set(keys::FS_DEFAULT_FS, "hdfs://nn.example");
        assert_eq!(
            conf.namenode_rpc_address().unwrap(),
            Some(HostPort {
                host: "nn.example".into(),
                port: 8020
            })
        );
        conf.set(keys::FS_DEFAULT_FS, "HDFS://127.0.0.1:9000/");
        assert_eq!(conf.namenode_rpc_address().unwrap().unwrap().port, 9000);
        conf.set(keys::DFS_NAMENODE_RPC_ADDRESS, "10.0.0.1:8021");
        assert_eq!(
            conf.namenode_rpc_address().unwrap().unwrap().to_string(),
            "10.0.0.1:8021"
        );
    }

    #[test]
    fn host_port_forms() {
        assert_eq!(
            HostPort::parse("[::1]:9000", None).unwrap().to_string(),
            "[::1]:9000"
        );
        assert_eq!(HostPort::parse("h", Some(1)).unwrap().port, 1);
        assert_eq!(HostPort::parse("h", None), None);
        assert_eq!(HostPort::parse(":9", None), None);
        assert_eq!(HostPort::parse("h:99999", None), None);
        assert_eq!(HostPort::parse("hdfs://u@h:7/x", None).unwrap().host, "h");
    }

    #[test]
    fn strings_and_deprecated_keys() {
        let mut conf = Configuration::new();
        conf.set("dfs.data.dir", " /a , file:///b,, ");
        assert_eq!(
            conf.get_strings(keys::DFS_DATANODE_DATA_DIR).unwrap(),
            vec!["/a".to_string(), "file:///b".to_string()]
        );
        assert_eq!(
            conf.get_strings("no.such.key").unwrap(),
            Vec::<String>::new()
        );
    }
}
