//! The name directory layout (like Hadoop's) and its `VERSION` file.
//!
//! ```text
//! <dfs.namenode.name.dir>/current/VERSION                    key=value text, see StorageInfo
//! <dfs.namenode.name.dir>/current/fsimage_<txid:019>         checkpoint through txid
//! <dfs.namenode.name.dir>/current/edits_<first:019>-<last:019>  finalized edit segment
//! <dfs.namenode.name.dir>/current/edits_inprogress_<first:019>  the segment being written
//! ```
//!
//! Every file that replaces another is written as `<name>.tmp`, fsynced, renamed, and the
//! directory fsynced ([`write_atomically`]).

use std::collections::hash_map::RandomState;
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// Our layout version (Hadoop's are negative; ours count from 1).
pub const LAYOUT_VERSION: i32 = 1;
/// `VERSION`'s `storageType`.
pub const STORAGE_TYPE: &str = "NAME_NODE";

/// Identity of a formatted name directory (the `VERSION` file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageInfo {
    pub namespace_id: u32,
    pub cluster_id: String,
    pub block_pool_id: String,
    pub ctime: i64,
    pub layout_version: i32,
}

impl StorageInfo {
    /// New random ids, as `hdfs namenode -format` makes them.
    pub fn generate(cluster_id: Option<&str>) -> StorageInfo {
        let mut h = RandomState::new().build_hasher();
        h.write_u128(now_nanos());
        h.write_u32(std::process::id());
        let r = h.finish();
        let namespace_id = ((r >> 32) as u32 & 0x7fff_ffff).max(1);
        let now_ms = (now_nanos() / 1_000_000) as i64;
        let cluster_id = cluster_id.map_or_else(
            || {
                format!(
                    "CID-{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                    r as u32,
                    (r >> 32) as u16,
                    (r >> 48) as u16 & 0x0fff | 0x4000,
                    namespace_id as u16 & 0x3fff | 0x8000,
                    (r ^ (r >> 7)) & 0xffff_ffff_ffff
                )
            },
            str::to_owned,
        );
        StorageInfo {
            namespace_id,
            block_pool_id: format!("BP-{namespace_id}-127.0.0.1-{now_ms}"),
            cluster_id,
            ctime: 0,
            layout_version: LAYOUT_VERSION,
        }
    }

    fn to_text(&self) -> String {
        format!(
            "#{}\nnamespaceID={}\nclusterID={}\ncTime={}\nstorageType={}\nblockpoolID={}\nlayoutVersion={}\n",
            "ferrodfs NameNode storage",
            self.namespace_id,
            self.cluster_id,
            self.ctime,
            STORAGE_TYPE,
            self.block_pool_id,
            self.layout_version
        )
    }

    fn parse(dir: &Path, text: &str) -> Result<StorageInfo> {
        let bad = |reason: &str| Error::Storage {
            dir: dir.to_owned(),
            reason: format!("VERSION: {reason}"),
        };
        let get = |key: &str| {
            text.lines()
                .filter_map(|l| l.split_once('='))
                .find(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim().to_owned())
                .ok_or_else(|| bad(&format!("missing {key}")))
        };
        if get("storageType")? != STORAGE_TYPE {
            return Err(bad("not a NameNode directory"));
        }
        let layout_version: i32 = get("layoutVersion")?
            .parse()
            .map_err(|_| bad("bad layoutVersion"))?;
        if layout_version != LAYOUT_VERSION {
            return Err(bad("unsupported layoutVersion"));
        }
        Ok(StorageInfo {
            namespace_id: get("namespaceID")?
                .parse()
                .map_err(|_| bad("bad namespaceID"))?,
            cluster_id: get("clusterID")?,
            block_pool_id: get("blockpoolID")?,
            ctime: get("cTime")?.parse().map_err(|_| bad("bad cTime"))?,
            layout_version,
        })
    }
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// A name directory.
#[derive(Debug, Clone)]
pub struct NameDir {
    root: PathBuf,
}

/// What the `current/` directory holds, by kind.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DirListing {
    /// Image txids, ascending.
    pub images: Vec<u64>,
    /// Finalized segments (first, last), ascending.
    pub finalized: Vec<(u64, u64)>,
    /// In-progress segments' first txids, ascending.
    pub in_progress: Vec<u64>,
}

impl NameDir {
    pub fn new(root: impl Into<PathBuf>) -> NameDir {
        NameDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn current(&self) -> PathBuf {
        self.root.join("current")
    }

    pub fn version_path(&self) -> PathBuf {
        self.current().join("VERSION")
    }

    pub fn image_path(&self, txid: u64) -> PathBuf {
        self.current().join(format!("fsimage_{txid:019}"))
    }

    pub fn in_progress_path(&self, first: u64) -> PathBuf {
        self.current().join(format!("edits_inprogress_{first:019}"))
    }

    pub fn finalized_path(&self, first: u64, last: u64) -> PathBuf {
        self.current().join(format!("edits_{first:019}-{last:019}"))
    }

    pub fn is_formatted(&self) -> bool {
        self.version_path().exists()
    }

    /// Creates `current/` (wiping any previous contents) and writes `VERSION`.
    pub fn format(&self, info: &StorageInfo) -> Result<()> {
        let cur = self.current();
        if cur.exists() {
            fs::remove_dir_all(&cur).map_err(|e| Error::io(&cur, e))?;
        }
        fs::create_dir_all(&cur).map_err(|e| Error::io(&cur, e))?;
        write_atomically(&self.version_path(), info.to_text().as_bytes())?;
        fsync_dir(&self.root)
    }

    pub fn read_version(&self) -> Result<StorageInfo> {
        let p = self.version_path();
        let text = fs::read_to_string(&p).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::Storage {
                    dir: self.root.clone(),
                    reason: "not formatted (no current/VERSION)".into(),
                }
            } else {
                Error::io(&p, e)
            }
        })?;
        StorageInfo::parse(&self.root, &text)
    }

    /// Lists images and edit segments in `current/`.
    pub fn list(&self) -> Result<DirListing> {
        let cur = self.current();
        let mut out = DirListing::default();
        for entry in fs::read_dir(&cur).map_err(|e| Error::io(&cur, e))? {
            let entry = entry.map_err(|e| Error::io(&cur, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(t) = name.strip_prefix("fsimage_") {
                if let Ok(t) = t.parse() {
                    out.images.push(t);
                }
            } else if let Some(t) = name.strip_prefix("edits_inprogress_") {
                if let Ok(t) = t.parse() {
                    out.in_progress.push(t);
                }
            } else if let Some(range) = name.strip_prefix("edits_") {
                if let Some((a, b)) = range.split_once('-') {
                    if let (Ok(a), Ok(b)) = (a.parse(), b.parse()) {
                        out.finalized.push((a, b));
                    }
                }
            }
        }
        out.images.sort_unstable();
        out.finalized.sort_unstable();
        out.in_progress.sort_unstable();
        Ok(out)
    }
}

/// Writes `data` to `path` atomically: temp file, fsync, rename, fsync of the directory.
pub fn write_atomically(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        f.write_all(data).map_err(|e| Error::io(&tmp, e))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
    }
    fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    fsync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// fsyncs a directory so renames and creations in it are durable.
pub fn fsync_dir(dir: &Path) -> Result<()> {
    OpenOptions::new()
        .read(true)
        .open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_and_read_version() {
        let d = tempfile::tempdir().unwrap();
        let nd = NameDir::new(d.path().join("name"));
        assert!(!nd.is_formatted());
        assert!(matches!(nd.read_version(), Err(Error::Storage { .. })));
        let info = StorageInfo::generate(Some("CID-test"));
        nd.format(&info).unwrap();
        assert!(nd.is_formatted());
        assert_eq!(nd.read_version().unwrap(), info);
        assert!(info.block_pool_id.starts_with("BP-"));
        let random = StorageInfo::generate(None);
        assert!(random.cluster_id.starts_with("CID-"));
        assert_ne!(random.namespace_id, 0);
    }

    #[test]
    fn lists_files_by_kind() {
        let d = tempfile::tempdir().unwrap();
        let nd = NameDir::new(d.path());
        nd.format(&StorageInfo::generate(None)).unwrap();
        for p in [
            nd.image_path(0),
            nd.image_path(12),
            nd.finalized_path(1, 12),
            nd.in_progress_path(13),
            nd.current().join("junk"),
        ] {
            fs::write(p, b"").unwrap();
        }
        let l = nd.list().unwrap();
        assert_eq!(l.images, vec![0, 12]);
        assert_eq!(l.finalized, vec![(1, 12)]);
        assert_eq!(l.in_progress, vec![13]);
        assert!(nd
            .image_path(12)
            .ends_with("current/fsimage_0000000000000000012"));
    }

    #[test]
    fn version_rejects_wrong_type() {
        let d = tempfile::tempdir().unwrap();
        let nd = NameDir::new(d.path());
        nd.format(&StorageInfo::generate(None)).unwrap();
        let text = fs::read_to_string(nd.version_path()).unwrap();
        fs::write(nd.version_path(), text.replace("NAME_NODE", "DATA_NODE")).unwrap();
        assert!(nd.read_version().is_err());
    }
}
