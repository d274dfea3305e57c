//! The groups of a user, for permission checks (Hadoop's `Groups` with
//! `ShellBasedUnixGroupsMapping`: the groups of the local account of that name).
//!
//! Read from `/etc/passwd` (primary group) and `/etc/group` (memberships) rather than by
//! running `id`, and cached for [`GROUPS_CACHE_TTL`] like `hadoop.security.groups.cache.secs`.
//! A user unknown to this machine has no groups.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// `hadoop.security.groups.cache.secs` default (300 s).
pub const GROUPS_CACHE_TTL: Duration = Duration::from_secs(300);

/// Looks up and caches users' groups.
#[derive(Debug)]
pub struct GroupMapping {
    passwd: PathBuf,
    group: PathBuf,
    ttl: Duration,
    cache: RwLock<HashMap<String, (Instant, Vec<String>)>>,
}

impl Default for GroupMapping {
    fn default() -> Self {
        GroupMapping::from_files("/etc/passwd", "/etc/group")
    }
}

impl GroupMapping {
    /// A mapping over the given account files (tests use their own).
    pub fn from_files(passwd: impl Into<PathBuf>, group: impl Into<PathBuf>) -> GroupMapping {
        GroupMapping {
            passwd: passwd.into(),
            group: group.into(),
            ttl: GROUPS_CACHE_TTL,
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// The user's groups, primary group first.
    pub fn groups(&self, user: &str) -> Vec<String> {
        let now = Instant::now();
        {
            let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
            if let Some((at, g)) = cache.get(user) {
                if now.duration_since(*at) < self.ttl {
                    return g.clone();
                }
            }
        }
        let passwd = std::fs::read_to_string(&self.passwd).unwrap_or_default();
        let group = std::fs::read_to_string(&self.group).unwrap_or_default();
        let g = lookup(&passwd, &group, user);
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        cache.insert(user.to_owned(), (now, g.clone()));
        g
    }
}

/// Groups of `user` from the text of `/etc/passwd` and `/etc/group`.
fn lookup(passwd: &str, group: &str, user: &str) -> Vec<String> {
    let primary_gid = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&user))
        .and_then(|f| f.get(3).map(|g| g.to_string()));
    let mut out: Vec<String> = Vec::new();
    for line in group.lines() {
        let f: Vec<&str> = line.split(':').collect();
        let (Some(name), Some(gid), Some(members)) = (f.first(), f.get(2), f.get(3)) else {
            continue;
        };
        let is_primary = primary_gid.as_deref() == Some(*gid);
        let is_member = members.split(',').any(|m| m.trim() == user);
        if is_primary {
            out.insert(0, (*name).to_owned());
        } else if is_member && !out.iter().any(|g| g == name) {
            out.push((*name).to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str =
        "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nalice:x:1000:\nsupergroup:x:2000:bob,alice\nwheel:x:10:bob\n";

    #[test]
    fn primary_group_first_then_memberships() {
        assert_eq!(lookup(PASSWD, GROUP, "alice"), vec!["alice", "supergroup"]);
        // bob has no passwd entry but is a member of two groups.
        assert_eq!(lookup(PASSWD, GROUP, "bob"), vec!["supergroup", "wheel"]);
        assert!(lookup(PASSWD, GROUP, "nobody-here").is_empty());
    }

    #[test]
    fn cached_lookup_reads_files() {
        let dir = tempfile::tempdir().unwrap();
        let (p, g) = (dir.path().join("passwd"), dir.path().join("group"));
        std::fs::write(&p, PASSWD).unwrap();
        std::fs::write(&g, GROUP).unwrap();
        let m = GroupMapping::from_files(&p, &g);
        assert_eq!(m.groups("alice"), vec!["alice", "supergroup"]);
        std::fs::write(&g, "").unwrap();
        // Cached: the change is not seen before the TTL.
        assert_eq!(m.groups("alice"), vec!["alice", "supergroup"]);
    }
}
