//! The edit log: every namespace change as a durable record, with group commit.
//!
//! Writers call [`EditLog::log`] while holding the namesystem lock (so txids follow the
//! order changes were applied) — it only appends to an in-memory buffer — and then, after
//! releasing that lock, [`EditLog::sync`] with the returned txid. `sync` is a
//! leader/follower group commit: the first thread to find no sync running takes the whole
//! buffer, writes it and `fdatasync`s once, while threads arriving meanwhile wait on a
//! condition variable; when it finishes, every waiter whose txid is covered returns, and
//! one of the rest becomes the next leader with everything buffered since. Under load one
//! fdatasync covers many callers.
//!
//! A failed write or sync poisons the log: every later `sync` fails (as Hadoop aborts the
//! NameNode), because the on-disk state is no longer known.

pub mod codec;
pub mod op;
pub mod segment;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::storage::{fsync_dir, NameDir};
pub use op::EditOp;

#[derive(Debug)]
struct LogState {
    file: Arc<File>,
    /// First txid of the open in-progress segment.
    segment_first: u64,
    /// Encoded records not yet handed to a writer.
    buf: Vec<u8>,
    /// Last txid assigned.
    last_txid: u64,
    /// Last txid known durable.
    synced_txid: u64,
    sync_running: bool,
    failed: Option<std::io::ErrorKind>,
    /// Counters for measurements.
    syncs: u64,
}

/// Statistics of the log since it was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EditLogStats {
    pub last_txid: u64,
    pub synced_txid: u64,
    /// How many fdatasync calls were made.
    pub syncs: u64,
}

/// The open edit log of a name directory.
#[derive(Debug)]
pub struct EditLog {
    dir: NameDir,
    state: Mutex<LogState>,
    synced: Condvar,
}

impl EditLog {
    /// Opens a new in-progress segment starting at `last_txid + 1` (the caller has loaded
    /// and finalized everything before it).
    pub fn open(dir: NameDir, last_txid: u64) -> Result<EditLog> {
        let first = last_txid + 1;
        let file = create_segment(&dir, first)?;
        Ok(EditLog {
            dir,
            state: Mutex::new(LogState {
                file: Arc::new(file),
                segment_first: first,
                buf: Vec::new(),
                last_txid,
                synced_txid: last_txid,
                sync_running: false,
                failed: None,
                syncs: 0,
            }),
            synced: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, LogState> {
        // A panic while holding this lock leaves only plain counters and a buffer behind.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Buffers records and returns the txid of the last one (the txid of the log if
    /// `ops` is empty). Never blocks on I/O.
    pub fn log(&self, ops: &[EditOp]) -> u64 {
        let mut st = self.lock();
        for op in ops {
            st.last_txid += 1;
            let txid = st.last_txid;
            segment::encode_record(&mut st.buf, txid, op);
        }
        st.last_txid
    }

    /// Returns once every record up to `txid` is durable (group commit).
    pub fn sync(&self, txid: u64) -> Result<()> {
        let mut st = self.lock();
        loop {
            if let Some(kind) = st.failed {
                return Err(self.poisoned(kind));
            }
            if st.synced_txid >= txid {
                return Ok(());
            }
            if st.sync_running {
                st = self.synced.wait(st).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            // Become the leader for everything buffered so far.
            let buf = std::mem::take(&mut st.buf);
            let upto = st.last_txid;
            let file = Arc::clone(&st.file);
            st.sync_running = true;
            drop(st);
            let res = (&*file).write_all(&buf).and_then(|()| file.sync_data());
            st = self.lock();
            st.sync_running = false;
            st.syncs += 1;
            match res {
                Ok(()) => st.synced_txid = st.synced_txid.max(upto),
                Err(e) => {
                    tracing::error!(error = %e, "edit log write failed; the log is unusable");
                    st.failed = Some(e.kind());
                }
            }
            self.synced.notify_all();
        }
    }

    /// Logs and syncs in one call (for tests and single-threaded callers).
    pub fn log_sync(&self, ops: &[EditOp]) -> Result<u64> {
        let txid = self.log(ops);
        self.sync(txid)?;
        Ok(txid)
    }

    fn poisoned(&self, kind: std::io::ErrorKind) -> Error {
        Error::io(
            self.dir.current(),
            std::io::Error::new(kind, "edit log failed earlier"),
        )
    }

    /// Makes everything durable, finalizes the in-progress segment and opens a new one.
    /// Returns the last txid of the finalized segment.
    pub fn roll(&self) -> Result<u64> {
        let last = self.last_txid();
        self.sync(last)?;
        let mut st = self.lock();
        while st.sync_running {
            st = self.synced.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        // Records logged while we waited are synced here, still under the state lock.
        if !st.buf.is_empty() {
            let buf = std::mem::take(&mut st.buf);
            let file = Arc::clone(&st.file);
            (&*file)
                .write_all(&buf)
                .and_then(|()| file.sync_data())
                .map_err(|e| {
                    st.failed = Some(e.kind());
                    Error::io(self.dir.in_progress_path(st.segment_first), e)
                })?;
            st.synced_txid = st.last_txid;
        }
        let last = st.last_txid;
        finalize_segment(&self.dir, st.segment_first, last)?;
        let file = create_segment(&self.dir, last + 1)?;
        st.file = Arc::new(file);
        st.segment_first = last + 1;
        Ok(last)
    }

    /// Syncs and finalizes the current segment (clean shutdown).
    pub fn close(&self) -> Result<u64> {
        let last = self.last_txid();
        self.sync(last)?;
        let st = self.lock();
        finalize_segment(&self.dir, st.segment_first, st.last_txid)?;
        Ok(st.last_txid)
    }

    pub fn last_txid(&self) -> u64 {
        self.lock().last_txid
    }

    pub fn stats(&self) -> EditLogStats {
        let st = self.lock();
        EditLogStats {
            last_txid: st.last_txid,
            synced_txid: st.synced_txid,
            syncs: st.syncs,
        }
    }
}

/// Creates `edits_inprogress_<first>` with its header, durably.
fn create_segment(dir: &NameDir, first: u64) -> Result<File> {
    let path = dir.in_progress_path(first);
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    f.write_all(&segment::header())
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(&path, e))?;
    fsync_dir(&dir.current())?;
    Ok(f)
}

/// Renames `edits_inprogress_<first>` to `edits_<first>-<last>`, or removes it if it
/// holds no records.
pub fn finalize_segment(dir: &NameDir, first: u64, last: u64) -> Result<()> {
    let from = dir.in_progress_path(first);
    if last < first {
        std::fs::remove_file(&from).map_err(|e| Error::io(&from, e))?;
    } else {
        let to = dir.finalized_path(first, last);
        std::fs::rename(&from, &to).map_err(|e| Error::io(&to, e))?;
    }
    fsync_dir(&dir.current())
}

/// Reads every edit after `after_txid` from the segments in `dir`, recovering (truncating
/// and finalizing) a torn in-progress segment. Returns the edits in txid order; a gap or a
/// corrupt record that is not a torn tail is an error.
pub fn load_edits(dir: &NameDir, after_txid: u64) -> Result<Vec<(u64, EditOp)>> {
    let listing = dir.list()?;
    let mut segments: Vec<(u64, Option<u64>)> = listing
        .finalized
        .iter()
        .map(|&(a, b)| (a, Some(b)))
        .chain(listing.in_progress.iter().map(|&a| (a, None)))
        .collect();
    segments.sort_unstable();
    let mut out = Vec::new();
    let mut expected = after_txid + 1;
    let last_index = segments.len().saturating_sub(1);
    for (i, &(first, last)) in segments.iter().enumerate() {
        if last.is_some_and(|l| l <= after_txid) {
            continue;
        }
        let path = match last {
            Some(l) => dir.finalized_path(first, l),
            None => dir.in_progress_path(first),
        };
        let allow_torn = last.is_none() && i == last_index;
        let scan = segment::read_segment(&path, allow_torn)?;
        if scan.torn {
            tracing::warn!(path = %path.display(), valid_len = scan.valid_len, "truncating torn edit log tail");
            let f = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| Error::io(&path, e))?;
            if scan.valid_len < segment::SEGMENT_HEADER_LEN as u64 {
                f.set_len(0)
                    .and_then(|()| (&f).write_all(&segment::header()))
                    .and_then(|()| f.sync_all())
                    .map_err(|e| Error::io(&path, e))?;
            } else {
                f.set_len(scan.valid_len)
                    .and_then(|()| f.sync_all())
                    .map_err(|e| Error::io(&path, e))?;
            }
        }
        let mut seg_last = first.saturating_sub(1);
        for ((txid, op), offset) in scan.ops.into_iter().zip(scan.offsets) {
            if txid != seg_last + 1 && !(seg_last < first && txid == first) {
                return Err(Error::Corrupt {
                    file: path.clone(),
                    offset,
                    reason: "txids out of sequence",
                });
            }
            seg_last = txid;
            if txid <= after_txid {
                continue;
            }
            if txid != expected {
                return Err(Error::Corrupt {
                    file: path.clone(),
                    offset,
                    reason: "gap in edit log txids",
                });
            }
            expected += 1;
            out.push((txid, op));
        }
        if last.is_none() {
            // Recover the in-progress segment into a finalized one.
            finalize_segment(dir, first, seg_last)?;
        } else if last != Some(seg_last) {
            return Err(Error::Corrupt {
                file: path,
                offset: scan.valid_len,
                reason: "finalized segment does not end at its named txid",
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::StorageInfo;

    fn dir() -> (tempfile::TempDir, NameDir) {
        let t = tempfile::tempdir().unwrap();
        let nd = NameDir::new(t.path());
        nd.format(&StorageInfo::generate(None)).unwrap();
        (t, nd)
    }

    fn gs(n: u64) -> EditOp {
        EditOp::SetGenstamp { gs: n }
    }

    #[test]
    fn log_roll_and_load() {
        let (_t, nd) = dir();
        let log = EditLog::open(nd.clone(), 0).unwrap();
        assert_eq!(log.log_sync(&[gs(1), gs(2)]).unwrap(), 2);
        assert_eq!(log.roll().unwrap(), 2);
        assert_eq!(log.log_sync(&[gs(3)]).unwrap(), 3);
        drop(log); // crash: in-progress segment stays
        let l = nd.list().unwrap();
        assert_eq!(l.finalized, vec![(1, 2)]);
        assert_eq!(l.in_progress, vec![3]);
        let edits = load_edits(&nd, 0).unwrap();
        assert_eq!(edits.iter().map(|e| e.0).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(nd.list().unwrap().finalized, vec![(1, 2), (3, 3)]);
        let edits = load_edits(&nd, 2).unwrap();
        assert_eq!(edits, vec![(3, gs(3))]);
        let log = EditLog::open(nd.clone(), 3).unwrap();
        log.log_sync(&[gs(4)]).unwrap();
        assert_eq!(log.close().unwrap(), 4);
        assert_eq!(load_edits(&nd, 0).unwrap().len(), 4);
    }

    #[test]
    fn unsynced_records_are_not_on_disk() {
        let (_t, nd) = dir();
        let log = EditLog::open(nd.clone(), 0).unwrap();
        log.log_sync(&[gs(1)]).unwrap();
        log.log(&[gs(2)]);
        drop(log);
        assert_eq!(load_edits(&nd, 0).unwrap(), vec![(1, gs(1))]);
    }

    #[test]
    fn group_commit_covers_concurrent_callers() {
        let (_t, nd) = dir();
        let log = Arc::new(EditLog::open(nd.clone(), 0).unwrap());
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let log = Arc::clone(&log);
                std::thread::Builder::new()
                    .name(format!("writer-{i}"))
                    .spawn(move || {
                        for j in 0..50 {
                            log.log_sync(&[gs(i * 1000 + j)]).unwrap();
                        }
                    })
                    .unwrap()
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let stats = log.stats();
        assert_eq!(stats.last_txid, 400);
        assert_eq!(stats.synced_txid, 400);
        assert!(stats.syncs <= 400);
        drop(log);
        assert_eq!(load_edits(&nd, 0).unwrap().len(), 400);
    }

    #[test]
    fn gap_between_segments_is_an_error() {
        let (_t, nd) = dir();
        let log = EditLog::open(nd.clone(), 0).unwrap();
        log.log_sync(&[gs(1)]).unwrap();
        log.roll().unwrap();
        log.log_sync(&[gs(2)]).unwrap();
        log.close().unwrap();
        std::fs::remove_file(nd.finalized_path(1, 1)).unwrap();
        assert!(matches!(
            load_edits(&nd, 0),
            Err(Error::Corrupt {
                reason: "gap in edit log txids",
                ..
            })
        ));
    }
}
