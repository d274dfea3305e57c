//! Replicas being written across a DataNode restart (Hadoop's rolling-upgrade
//! path): a node shutting down for a restart writes, for each replica a client is
//! still writing, a `.restart` file holding a deadline (milliseconds since the
//! epoch: now + `dfs.datanode.restart.replica.expiration`). When the node starts
//! again before that deadline, the replica is loaded as RBW — the writer's pipeline
//! takes it back as it was — instead of RWR (waiting for recovery). The file is
//! deleted when read.
//!
//! The file's place is Hadoop's (`BlockPoolSlice`, `LocalReplicaInPipeline`): beside
//! the `rbw` directory, named `rbw` + `File.pathSeparator` (`:`) + `.blk_<id>.restart`,
//! so that a Hadoop DataNode and ours read each other's.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::layout::block_file_name;
use crate::{io_err, Result};

/// `dfs.datanode.restart.replica.expiration`: how long a replica being written stays
/// RBW across a restart.
pub const DFS_DATANODE_RESTART_REPLICA_EXPIRY_KEY: &str = "dfs.datanode.restart.replica.expiration";
/// Default of [`DFS_DATANODE_RESTART_REPLICA_EXPIRY_KEY`] (50 s).
pub const DFS_DATANODE_RESTART_REPLICA_EXPIRY_DEFAULT: Duration = Duration::from_secs(50);

/// The `.restart` file of block `id` whose data file is in `rbw_dir`.
pub fn restart_file(rbw_dir: &Path, id: i64) -> PathBuf {
    let mut s = rbw_dir.as_os_str().to_os_string();
    s.push(format!(":.{}.restart", block_file_name(id)));
    PathBuf::from(s)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Writes the restart deadline `budget` from now for block `id` (and fsyncs it).
pub(crate) fn write_restart_file(rbw_dir: &Path, id: i64, budget: Duration) -> Result<()> {
    let path = restart_file(rbw_dir, id);
    let deadline = now_ms() + budget.as_millis() as u64;
    std::fs::write(&path, deadline.to_string()).map_err(io_err("write", &path))?;
    std::fs::File::open(&path)
        .and_then(|f| f.sync_all())
        .map_err(io_err("fsync", &path))
}

/// Whether block `id` in `rbw_dir` is loaded as RBW: its `.restart` file exists and
/// its deadline has not passed. The file is deleted either way.
pub(crate) fn take_restart_file(rbw_dir: &Path, id: i64) -> bool {
    let path = restart_file(rbw_dir, id);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return false;
    };
    let _ = std::fs::remove_file(&path);
    match text.trim().parse::<u64>() {
        Ok(deadline) if now_ms() < deadline => true,
        Ok(_) => {
            tracing::info!(
                block_id = id,
                "restart deadline passed; replica loaded as RWR"
            );
            false
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_file_makes_rbw_once_and_only_before_its_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let rbw = dir.path().join("rbw");
        std::fs::create_dir(&rbw).unwrap();
        assert_eq!(
            restart_file(&rbw, 7).file_name().unwrap(),
            "rbw:.blk_7.restart"
        );
        write_restart_file(&rbw, 7, Duration::from_secs(60)).unwrap();
        assert!(take_restart_file(&rbw, 7));
        assert!(!take_restart_file(&rbw, 7), "the file is read once");
        write_restart_file(&rbw, 8, Duration::ZERO).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert!(!take_restart_file(&rbw, 8), "expired");
        assert!(!restart_file(&rbw, 8).exists());
    }
}
