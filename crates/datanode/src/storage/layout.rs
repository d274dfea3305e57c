//! Hadoop's DataNode directory layout: names, `VERSION` property files,
//! storage ids, and durable file-system helpers (fsync of files and dirs).
//!
//! ```text
//! <data.dir>/in_use.lock
//! <data.dir>/current/VERSION                      storage VERSION
//! <data.dir>/current/<bpid>/current/VERSION       block pool VERSION
//! <data.dir>/current/<bpid>/current/finalized/subdir<a>/subdir<b>/blk_<id>[_<gs>.meta]
//! <data.dir>/current/<bpid>/current/rbw/blk_<id>[_<gs>.meta]
//! <data.dir>/current/<bpid>/tmp/blk_<id>[_<gs>.meta]
//! ```

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::{io_err, Error, Result};

/// `DataNodeLayoutVersion.CURRENT_LAYOUT_VERSION` of Hadoop 3
/// (`BLOCKID_BASED_LAYOUT_32_by_32`).
pub const LAYOUT_VERSION: i32 = -57;
/// `storageType` in a DataNode's storage VERSION file.
pub const STORAGE_TYPE_DATA_NODE: &str = "DATA_NODE";
/// Lock file held while a DataNode uses the directory.
pub const LOCK_FILE: &str = "in_use.lock";
/// The storage directory's current state.
pub const CURRENT_DIR: &str = "current";
/// The `VERSION` file name.
pub const VERSION_FILE: &str = "VERSION";
/// Finalized replicas, under a block pool's `current/`.
pub const FINALIZED_DIR: &str = "finalized";
/// Replicas being written, under a block pool's `current/`.
pub const RBW_DIR: &str = "rbw";
/// Temporary replicas (replication transfers), under the block pool dir.
pub const TMP_DIR: &str = "tmp";
/// Block data file prefix.
pub const BLOCK_FILE_PREFIX: &str = "blk_";
/// Meta file extension.
pub const META_EXTENSION: &str = ".meta";

/// `blk_<id>`.
pub fn block_file_name(block_id: i64) -> String {
    format!("{BLOCK_FILE_PREFIX}{block_id}")
}

/// `blk_<id>_<gs>.meta`.
pub fn meta_file_name(block_id: i64, gen_stamp: u64) -> String {
    format!("{BLOCK_FILE_PREFIX}{block_id}_{gen_stamp}{META_EXTENSION}")
}

/// What a file name in a replica directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaFileName {
    /// `blk_<id>`
    Data(i64),
    /// `blk_<id>_<gs>.meta`
    Meta(i64, u64),
}

/// Parses a replica file name; `None` for anything else.
pub fn parse_replica_file_name(name: &str) -> Option<ReplicaFileName> {
    let rest = name.strip_prefix(BLOCK_FILE_PREFIX)?;
    if let Some(stem) = rest.strip_suffix(META_EXTENSION) {
        let (id, gs) = stem.rsplit_once('_')?;
        return Some(ReplicaFileName::Meta(id.parse().ok()?, gs.parse().ok()?));
    }
    rest.parse().ok().map(ReplicaFileName::Data)
}

/// `finalized/subdir<(id>>16)&0x1f>/subdir<(id>>8)&0x1f>` relative to the
/// finalized directory (`DatanodeUtil.idToBlockDir`).
pub fn id_to_block_dir(finalized: &Path, block_id: i64) -> PathBuf {
    let d1 = (block_id >> 16) & 0x1f;
    let d2 = (block_id >> 8) & 0x1f;
    finalized
        .join(format!("subdir{d1}"))
        .join(format!("subdir{d2}"))
}

/// A Java-properties `VERSION` file: ordered `key=value` lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties(pub Vec<(String, String)>);

impl Properties {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sets `key`, keeping its position if present.
    pub fn set(&mut self, key: &str, value: &str) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.to_string(),
            None => self.0.push((key.to_string(), value.to_string())),
        }
    }

    /// Parses Java properties text (comments `#`/`!`, `key=value` or
    /// `key:value`, backslash escapes).
    pub fn parse(text: &str) -> Properties {
        let mut props = Vec::new();
        for line in text.lines() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let mut key = String::new();
            let mut chars = line.chars();
            let mut escaped = false;
            for c in chars.by_ref() {
                if escaped {
                    key.push(c);
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '=' || c == ':' {
                    break;
                } else {
                    key.push(c);
                }
            }
            let mut value = String::new();
            let mut escaped = false;
            for c in chars {
                if escaped {
                    value.push(match c {
                        't' => '\t',
                        'n' => '\n',
                        'r' => '\r',
                        other => other,
                    });
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else {
                    value.push(c);
                }
            }
            props.push((key.trim().to_string(), value.trim().to_string()));
        }
        Properties(props)
    }

    /// Renders as `java.util.Properties.store` does: a `#<date>` line, then
    /// `key=value` lines with `= : # ! \` escaped.
    pub fn render(&self, now_unix_secs: u64) -> String {
        let mut out = format!("#{}\n", java_date_utc(now_unix_secs));
        for (k, v) in &self.0 {
            out.push_str(&escape(k));
            out.push('=');
            out.push_str(&escape(v));
            out.push('\n');
        }
        out
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '=' | ':' | '#' | '!' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `java.util.Date.toString()` in UTC: `Thu Nov 21 23:34:00 UTC 2024`.
pub fn java_date_utc(unix_secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_secs / 86_400;
    let secs = unix_secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        year
    )
}

/// Seconds since the epoch (0 if the clock is before it).
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A random (version 4) UUID in its 36-character text form.
pub fn random_uuid() -> Result<String> {
    let mut b = [0u8; 16];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(io_err("read", "/dev/urandom"))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

/// Reads a `VERSION` file; `Ok(None)` if it does not exist.
pub fn read_properties(path: &Path) -> Result<Option<Properties>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(Properties::parse(&text))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Io {
            op: "read",
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

/// Writes a `VERSION` file durably: to `VERSION.tmp`, fsync, rename, fsync
/// the directory.
pub fn write_properties(path: &Path, props: &Properties) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(io_err("create", &tmp))?;
    f.write_all(props.render(now_secs()).as_bytes())
        .map_err(io_err("write", &tmp))?;
    f.sync_all().map_err(io_err("fsync", &tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err("rename", path))?;
    if let Some(dir) = path.parent() {
        fsync_dir(dir)?;
    }
    Ok(())
}

/// fsyncs a directory so that entries created or renamed in it are durable.
pub fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync", dir))
}

/// Creates `dir` and any missing parents, fsyncing each parent whose entry
/// list changed.
pub fn create_dir_durable(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dir_durable(parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => {
            return Err(Error::Io {
                op: "mkdir",
                path: dir.to_path_buf(),
                source: e,
            })
        }
    }
    if let Some(parent) = dir.parent() {
        fsync_dir(parent)?;
    }
    Ok(())
}

/// Opens a file for reading and writing (not creating).
pub fn open_rw(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io_err("open", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(block_file_name(1073741825), "blk_1073741825");
        assert_eq!(meta_file_name(1073741825, 1001), "blk_1073741825_1001.meta");
        assert_eq!(
            parse_replica_file_name("blk_1073741825_1001.meta"),
            Some(ReplicaFileName::Meta(1073741825, 1001))
        );
        assert_eq!(
            parse_replica_file_name("blk_-9223372036854775792"),
            Some(ReplicaFileName::Data(-9223372036854775792))
        );
        assert_eq!(parse_replica_file_name("blk_12.tmp"), None);
        assert_eq!(parse_replica_file_name("VERSION"), None);
        assert_eq!(
            id_to_block_dir(Path::new("f"), 1073741825),
            Path::new("f/subdir0/subdir0")
        );
        // 0x4001_2345: (>>16)&0x1f = 1, (>>8)&0x1f = 3
        assert_eq!(
            id_to_block_dir(Path::new("f"), 0x4001_2345),
            Path::new("f/subdir1/subdir3")
        );
    }

    #[test]
    fn properties_round_trip() {
        let mut p = Properties::default();
        p.set("storageID", "DS-1");
        p.set("odd:key", "a=b#c");
        let text = p.render(0);
        assert!(text.starts_with("#Thu Jan 01 00:00:00 UTC 1970\nstorageID=DS-1\n"));
        assert!(text.contains("odd\\:key=a\\=b\\#c"));
        assert_eq!(Properties::parse(&text), p);
    }

    #[test]
    fn java_dates() {
        assert_eq!(java_date_utc(1_732_232_040), "Thu Nov 21 23:34:00 UTC 2024");
        assert_eq!(java_date_utc(951_782_400), "Tue Feb 29 00:00:00 UTC 2000");
    }

    #[test]
    fn uuids() {
        let a = random_uuid().unwrap();
        let b = random_uuid().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }
}
