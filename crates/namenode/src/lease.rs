//! Leases: a writer (client name) holds one lease over all the files it has open, and
//! renews it. Past the soft limit another client may take the file over (after recovery);
//! past the hard limit the NameNode recovers the files itself ([`LeaseManager::expired`],
//! driven by a periodic `check_leases(now)`).
//!
//! Which client holds a file is persistent (the inode's under-construction record); the
//! renewal times here are not, so after a restart every lease starts fresh.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crate::namespace::InodeId;

/// The lease holder name the NameNode takes over a file with during recovery (Hadoop:
/// `HdfsServerConstants.NAMENODE_LEASE_HOLDER`).
pub const NAMENODE_LEASE_HOLDER: &str = "HDFS_NameNode";

/// One client's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub last_renewed: Instant,
    pub files: BTreeSet<InodeId>,
}

/// All leases.
#[derive(Debug, Clone)]
pub struct LeaseManager {
    leases: HashMap<String, Lease>,
    pub soft_limit: Duration,
    pub hard_limit: Duration,
}

impl LeaseManager {
    pub fn new(soft_limit: Duration, hard_limit: Duration) -> LeaseManager {
        LeaseManager {
            leases: HashMap::new(),
            soft_limit,
            hard_limit,
        }
    }

    /// `holder` now has `file` open (renews the lease).
    pub fn add(&mut self, holder: &str, file: InodeId, now: Instant) {
        let l = self
            .leases
            .entry(holder.to_owned())
            .or_insert_with(|| Lease {
                last_renewed: now,
                files: BTreeSet::new(),
            });
        l.last_renewed = now;
        l.files.insert(file);
    }

    /// `holder` no longer has `file` open; a lease without files is dropped.
    pub fn remove(&mut self, holder: &str, file: InodeId) {
        if let Some(l) = self.leases.get_mut(holder) {
            l.files.remove(&file);
            if l.files.is_empty() {
                self.leases.remove(holder);
            }
        }
    }

    /// Removes `file` from whichever lease has it.
    pub fn remove_file(&mut self, file: InodeId) {
        let holders: Vec<String> = self
            .leases
            .iter()
            .filter(|(_, l)| l.files.contains(&file))
            .map(|(h, _)| h.clone())
            .collect();
        for h in holders {
            self.remove(&h, file);
        }
    }

    /// Renews `holder`'s lease; a client without a lease is fine (Go renews always).
    pub fn renew(&mut self, holder: &str, now: Instant) {
        if let Some(l) = self.leases.get_mut(holder) {
            l.last_renewed = now;
        }
    }

    /// Moves `file` from `from` to `to` (lease recovery), renewing `to`.
    pub fn reassign(&mut self, file: InodeId, from: &str, to: &str, now: Instant) {
        self.remove(from, file);
        self.add(to, file, now);
    }

    pub fn get(&self, holder: &str) -> Option<&Lease> {
        self.leases.get(holder)
    }

    /// True if `holder` has no lease or its lease is past the soft limit.
    pub fn soft_expired(&self, holder: &str, now: Instant) -> bool {
        self.leases
            .get(holder)
            .is_none_or(|l| now.saturating_duration_since(l.last_renewed) > self.soft_limit)
    }

    /// Files whose lease is past the hard limit, as (holder, file). Leases are not
    /// changed; the caller recovers each file.
    pub fn expired(&self, now: Instant) -> Vec<(String, InodeId)> {
        let mut out: Vec<(String, InodeId)> = self
            .leases
            .iter()
            .filter(|(_, l)| now.saturating_duration_since(l.last_renewed) > self.hard_limit)
            .flat_map(|(h, l)| l.files.iter().map(move |&f| (h.clone(), f)))
            .collect();
        out.sort();
        out
    }

    pub fn len(&self) -> usize {
        self.leases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.leases.is_empty()
    }

    /// Total open files under all leases.
    pub fn open_files(&self) -> usize {
        self.leases.values().map(|l| l.files.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        let mut m = LeaseManager::new(Duration::from_secs(60), Duration::from_secs(1200));
        let t0 = Instant::now();
        m.add("c1", 10, t0);
        m.add("c1", 11, t0);
        m.add("c2", 12, t0);
        assert!(!m.soft_expired("c1", t0 + Duration::from_secs(60)));
        assert!(m.soft_expired("c1", t0 + Duration::from_secs(61)));
        assert!(m.soft_expired("nobody", t0));
        assert!(m.expired(t0 + Duration::from_secs(1200)).is_empty());
        m.renew("c2", t0 + Duration::from_secs(100));
        m.renew("nobody", t0);
        assert_eq!(
            m.expired(t0 + Duration::from_secs(1201)),
            vec![("c1".to_owned(), 10), ("c1".to_owned(), 11)]
        );
    }

    #[test]
    fn add_remove_reassign() {
        let mut m = LeaseManager::new(Duration::from_secs(1), Duration::from_secs(2));
        let t0 = Instant::now();
        m.add("c1", 10, t0);
        m.add("c1", 11, t0);
        m.remove("c1", 10);
        assert_eq!(m.open_files(), 1);
        m.reassign(11, "c1", NAMENODE_LEASE_HOLDER, t0);
        assert!(m.get("c1").is_none());
        assert_eq!(m.get(NAMENODE_LEASE_HOLDER).unwrap().files.len(), 1);
        m.remove_file(11);
        assert!(m.is_empty());
    }
}
