//! One data directory (Hadoop's `FsVolumeImpl` + `StorageDirectory`): its
//! lock, storage `VERSION`, block pool directories and free space.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use rustix::fs::FlockOperation;

use super::layout::{
    self, Properties, CURRENT_DIR, FINALIZED_DIR, LAYOUT_VERSION, LOCK_FILE, RBW_DIR,
    STORAGE_TYPE_DATA_NODE, TMP_DIR, VERSION_FILE,
};
use crate::{io_err, Error, Result};

/// Space on a volume's file system, as `statvfs` reports it, less the
/// reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    /// Total bytes usable for DFS (file system size − reserved).
    pub capacity: u64,
    /// Bytes still available for DFS (available − reserved).
    pub available: u64,
}

/// A data directory in use.
#[derive(Debug)]
pub(crate) struct Volume {
    pub(crate) root: PathBuf,
    pub(crate) storage_id: String,
    pub(crate) reserved: u64,
    _lock: File,
}

impl Volume {
    /// Locks `root` (creating it) and loads or creates its storage VERSION.
    /// A new volume gets a fresh `DS-<uuid>` storage id and `datanode_uuid`.
    pub(crate) fn open(root: &Path, datanode_uuid: &str, reserved: u64) -> Result<Volume> {
        layout::create_dir_durable(&root.join(CURRENT_DIR))?;
        let lock_path = root.join(LOCK_FILE);
        let mut lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err("open", &lock_path))?;
        rustix::fs::flock(&lock, FlockOperation::NonBlockingLockExclusive).map_err(|_| {
            Error::Locked {
                dir: root.to_path_buf(),
            }
        })?;
        // Hadoop writes "<pid>@<hostname>"; the pid is what matters to a reader.
        lock.set_len(0).map_err(io_err("truncate", &lock_path))?;
        write!(lock, "{}@localhost", std::process::id()).map_err(io_err("write", &lock_path))?;

        let version_path = root.join(CURRENT_DIR).join(VERSION_FILE);
        let version = match layout::read_properties(&version_path)? {
            Some(p) => {
                let bad = |what| Error::BadVersionFile {
                    path: version_path.clone(),
                    what,
                };
                if p.get("storageType") != Some(STORAGE_TYPE_DATA_NODE) {
                    return Err(bad("storageType is not DATA_NODE"));
                }
                if !p.get("storageID").is_some_and(|s| s.starts_with("DS-")) {
                    return Err(bad("missing or malformed storageID"));
                }
                if p.get("layoutVersion")
                    .and_then(|v| v.parse::<i32>().ok())
                    .is_none()
                {
                    return Err(bad("missing or malformed layoutVersion"));
                }
                p
            }
            None => {
                let mut p = Properties::default();
                p.set("storageID", &format!("DS-{}", layout::random_uuid()?));
                p.set("clusterID", "");
                p.set("cTime", "0");
                p.set("datanodeUuid", datanode_uuid);
                p.set("storageType", STORAGE_TYPE_DATA_NODE);
                p.set("layoutVersion", &LAYOUT_VERSION.to_string());
                layout::write_properties(&version_path, &p)?;
                tracing::info!(dir = %root.display(), storage_id = p.get("storageID"), "formatted data directory");
                p
            }
        };
        Ok(Volume {
            root: root.to_path_buf(),
            storage_id: version.get("storageID").unwrap_or_default().to_string(),
            reserved,
            _lock: lock,
        })
    }

    /// Records the cluster id in the storage VERSION on first registration,
    /// or checks that it matches.
    pub(crate) fn bind_cluster(&self, cluster_id: &str) -> Result<()> {
        let path = self.root.join(CURRENT_DIR).join(VERSION_FILE);
        let mut version = layout::read_properties(&path)?.ok_or(Error::BadVersionFile {
            path: path.clone(),
            what: "VERSION file disappeared",
        })?;
        let found = version.get("clusterID").unwrap_or_default();
        if found == cluster_id {
            return Ok(());
        }
        if !found.is_empty() {
            return Err(Error::ClusterIdMismatch {
                dir: self.root.clone(),
                expected: cluster_id.to_string(),
                found: found.to_string(),
            });
        }
        version.set("clusterID", cluster_id);
        layout::write_properties(&path, &version)
    }

    /// `<root>/current/<bpid>`.
    pub(crate) fn bp_dir(&self, bpid: &str) -> PathBuf {
        self.root.join(CURRENT_DIR).join(bpid)
    }

    /// `<root>/current/<bpid>/current/finalized`.
    pub(crate) fn finalized_dir(&self, bpid: &str) -> PathBuf {
        self.bp_dir(bpid).join(CURRENT_DIR).join(FINALIZED_DIR)
    }

    /// `<root>/current/<bpid>/current/rbw`.
    pub(crate) fn rbw_dir(&self, bpid: &str) -> PathBuf {
        self.bp_dir(bpid).join(CURRENT_DIR).join(RBW_DIR)
    }

    /// `<root>/current/<bpid>/tmp`.
    pub(crate) fn tmp_dir(&self, bpid: &str) -> PathBuf {
        self.bp_dir(bpid).join(TMP_DIR)
    }

    /// Creates the block pool's directories and VERSION (or checks it), and
    /// empties `tmp/` (temporary replicas do not survive a restart).
    pub(crate) fn add_block_pool(&self, ns: &super::NamespaceInfo) -> Result<()> {
        let bp_current = self.bp_dir(&ns.block_pool_id).join(CURRENT_DIR);
        let version_path = bp_current.join(VERSION_FILE);
        layout::create_dir_durable(&self.finalized_dir(&ns.block_pool_id))?;
        layout::create_dir_durable(&self.rbw_dir(&ns.block_pool_id))?;
        let tmp = self.tmp_dir(&ns.block_pool_id);
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(io_err("remove", &tmp))?;
        }
        layout::create_dir_durable(&tmp)?;
        match layout::read_properties(&version_path)? {
            Some(p) => {
                if p.get("blockpoolID") != Some(ns.block_pool_id.as_str()) {
                    return Err(Error::BadVersionFile {
                        path: version_path,
                        what: "blockpoolID does not match its directory",
                    });
                }
            }
            None => {
                let mut p = Properties::default();
                p.set("namespaceID", &ns.namespace_id.to_string());
                p.set("cTime", &ns.ctime.to_string());
                p.set("blockpoolID", &ns.block_pool_id);
                p.set("layoutVersion", &LAYOUT_VERSION.to_string());
                layout::write_properties(&version_path, &p)?;
            }
        }
        Ok(())
    }

    /// Capacity and available space now.
    pub(crate) fn space(&self) -> Result<Space> {
        let st = rustix::fs::statvfs(&self.root).map_err(|e| Error::Io {
            op: "statvfs",
            path: self.root.clone(),
            source: e.into(),
        })?;
        let size = st.f_blocks.saturating_mul(st.f_frsize);
        let avail = st.f_bavail.saturating_mul(st.f_frsize);
        Ok(Space {
            capacity: size.saturating_sub(self.reserved),
            available: avail.saturating_sub(self.reserved),
        })
    }
}
