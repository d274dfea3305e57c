//! The include and exclude host lists (Hadoop's `HostFileManager` over `dfs.hosts` and
//! `dfs.hosts.exclude`): which DataNodes may register.
//!
//! Each file holds host names or IP addresses, optionally with `:port` (the node's
//! transfer port; without one any port matches), separated by white space or new lines;
//! `#` starts a comment. An empty (or unset) include list admits every host. Names are
//! resolved when the file is read, so a node matches by its registered IP, or by its host
//! name as written.
//!
//! Hadoop lets an excluded node register and then decommissions it; ferrodfs has no
//! decommissioning, so an excluded node is refused like one missing from the include
//! list (`DisallowedDatanodeException`). `refreshNodes` re-reads both files.

use std::collections::HashSet;
use std::net::ToSocketAddrs;
use std::path::PathBuf;

use super::DatanodeId;
use crate::error::{Error, Result};

/// `dfs.hosts`: the include list file (default: none, every host admitted).
pub const DFS_HOSTS_KEY: &str = "dfs.hosts";
/// `dfs.hosts.exclude`: the exclude list file (default: none).
pub const DFS_HOSTS_EXCLUDE_KEY: &str = "dfs.hosts.exclude";

/// Why a node is refused (the middle of Hadoop's `DisallowedDatanodeException` message).
pub const NOT_INCLUDED: &str = "the host is not in the include-list";
pub const EXCLUDED: &str = "the host is in the exclude-list";

/// One line entry: the addresses it names and the port (0: any).
#[derive(Debug, Clone, PartialEq, Eq)]
struct HostEntry {
    /// The name as written and the IPs it resolved to.
    names: HashSet<String>,
    port: u16,
}

impl HostEntry {
    fn parse(word: &str) -> HostEntry {
        let (host, port) = match word.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, p.parse().unwrap_or(0)),
            _ => (word, 0),
        };
        let host = host.trim_matches(|c| c == '[' || c == ']');
        let mut names: HashSet<String> = HashSet::from([host.to_owned()]);
        if let Ok(addrs) = (host, 0).to_socket_addrs() {
            names.extend(addrs.map(|a| a.ip().to_string()));
        }
        HostEntry { names, port }
    }

    fn matches(&self, id: &DatanodeId) -> bool {
        (self.port == 0 || self.port == id.xfer_port)
            && (self.names.contains(&id.ip_addr) || self.names.contains(&id.host_name))
    }
}

/// The two lists as last read.
#[derive(Debug, Clone, Default)]
pub struct HostLists {
    include_file: Option<PathBuf>,
    exclude_file: Option<PathBuf>,
    includes: Vec<HostEntry>,
    excludes: Vec<HostEntry>,
}

/// The entries of one hosts file.
fn read_entries(path: &Option<PathBuf>) -> Result<Vec<HostEntry>> {
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(str::split_whitespace)
        .map(HostEntry::parse)
        .collect())
}

impl HostLists {
    /// Reads the files (an unset path is an empty list; an unreadable file an error).
    pub fn load(include: Option<PathBuf>, exclude: Option<PathBuf>) -> Result<HostLists> {
        let mut h = HostLists {
            include_file: include,
            exclude_file: exclude,
            ..HostLists::default()
        };
        h.refresh()?;
        Ok(h)
    }

    /// Reads both files again; on error the lists are left as they were.
    pub fn refresh(&mut self) -> Result<()> {
        let includes = read_entries(&self.include_file)?;
        let excludes = read_entries(&self.exclude_file)?;
        self.includes = includes;
        self.excludes = excludes;
        Ok(())
    }

    /// `Some(reason)` if the node may not register.
    pub fn refusal(&self, id: &DatanodeId) -> Option<&'static str> {
        if !self.includes.is_empty() && !self.includes.iter().any(|e| e.matches(id)) {
            return Some(NOT_INCLUDED);
        }
        if self.excludes.iter().any(|e| e.matches(id)) {
            return Some(EXCLUDED);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::dn_id;
    use super::*;

    #[test]
    fn include_exclude_ports_and_comments() {
        let dir = tempfile::tempdir().unwrap();
        let inc = dir.path().join("include");
        let exc = dir.path().join("exclude");
        std::fs::write(&inc, "127.0.0.1 # dn1, any port\n127.0.0.2:9866  host3\n").unwrap();
        std::fs::write(&exc, "").unwrap();
        let mut h = HostLists::load(Some(inc.clone()), Some(exc.clone())).unwrap();
        assert_eq!(h.refusal(&dn_id(1)), None);
        assert_eq!(h.refusal(&dn_id(2)), None);
        assert_eq!(h.refusal(&dn_id(3)), None, "matched by host name");
        assert_eq!(h.refusal(&dn_id(4)), Some(NOT_INCLUDED));
        let mut other_port = dn_id(2);
        other_port.xfer_port = 1;
        assert_eq!(h.refusal(&other_port), Some(NOT_INCLUDED));
        std::fs::write(&exc, "host1\n").unwrap();
        assert_eq!(h.refusal(&dn_id(1)), None, "not re-read yet");
        h.refresh().unwrap();
        assert_eq!(h.refusal(&dn_id(1)), Some(EXCLUDED));
        std::fs::remove_file(&exc).unwrap();
        assert!(h.refresh().is_err());
        assert_eq!(h.refusal(&dn_id(1)), Some(EXCLUDED), "kept on error");
        assert_eq!(HostLists::default().refusal(&dn_id(9)), None);
    }
}
