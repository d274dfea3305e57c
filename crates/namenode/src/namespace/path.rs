//! HDFS path validation and splitting.
//!
//! A valid path (Hadoop's `DFSUtil.isValidName`) is absolute, has no `.` or `..`
//! component, no `:` in a component, and no empty component except a trailing one
//! (`/a/b/` is `/a/b`). Components are compared as bytes.

use crate::error::{Error, Result};

/// Maximum length of one path component (`dfs.namenode.fs-limits.max-component-length`).
pub const MAX_COMPONENT_LENGTH: usize = 255;
/// Maximum path depth (`dfs.namenode.fs-limits.max-directory-items` is separate; Hadoop's
/// `MAX_PATH_DEPTH` is 1000).
pub const MAX_PATH_DEPTH: usize = 1000;

/// Splits a valid absolute path into its components (empty for `/`).
pub fn components(path: &str) -> Result<Vec<&[u8]>> {
    let invalid = |reason| Error::InvalidPath {
        path: path.to_owned(),
        reason,
    };
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| invalid("path is not absolute"))?;
    if rest.contains("//") || rest == "/" {
        return Err(invalid("empty path component"));
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for c in rest.split('/') {
        match c {
            "" => return Err(invalid("empty path component")),
            "." | ".." => return Err(invalid("'.' or '..' path component")),
            _ if c.contains(':') => return Err(invalid("':' in a path component")),
            _ if c.contains('\0') => return Err(invalid("NUL in a path component")),
            _ if c.len() > MAX_COMPONENT_LENGTH => {
                return Err(invalid("path component longer than 255 bytes"))
            }
            _ => out.push(c.as_bytes()),
        }
    }
    if out.len() > MAX_PATH_DEPTH {
        return Err(invalid("path deeper than 1000 components"));
    }
    Ok(out)
}

/// The normalized form of a valid path (no trailing slash except for `/`).
pub fn normalize(path: &str) -> Result<String> {
    let comps = components(path)?;
    Ok(join(&comps))
}

/// Joins components into an absolute path.
pub fn join(comps: &[&[u8]]) -> String {
    if comps.is_empty() {
        return "/".to_owned();
    }
    let mut s = String::new();
    for c in comps {
        s.push('/');
        s.push_str(&String::from_utf8_lossy(c));
    }
    s
}

/// True if `ancestor` is `path` or one of its ancestors (component-wise).
pub fn is_ancestor_or_self(ancestor: &[&[u8]], path: &[&[u8]]) -> bool {
    ancestor.len() <= path.len() && ancestor.iter().zip(path).all(|(a, b)| a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_valid_paths() {
        assert!(components("/").unwrap().is_empty());
        assert_eq!(components("/a/bc").unwrap(), vec![b"a" as &[u8], b"bc"]);
        assert_eq!(components("/a/b/").unwrap(), vec![b"a" as &[u8], b"b"]);
        assert_eq!(normalize("/a/b/").unwrap(), "/a/b");
        assert_eq!(normalize("/").unwrap(), "/");
        assert_eq!(components("/.hidden/x..y").unwrap().len(), 2);
    }

    #[test]
    fn rejects_invalid_paths() {
        for p in [
            "", "a/b", "/a//b", "/a/../b", "/a/./b", "/..", "/a:b", "//", "/a/\0",
        ] {
            let e = components(p).unwrap_err();
            assert!(matches!(e, Error::InvalidPath { .. }), "{p:?}: {e}");
        }
        let long = format!("/{}", "x".repeat(256));
        assert!(components(&long).is_err());
    }

    #[test]
    fn ancestry_is_component_wise() {
        let a = components("/a/b").unwrap();
        let ab = components("/a/bc").unwrap();
        let abd = components("/a/b/d").unwrap();
        assert!(is_ancestor_or_self(&a, &abd));
        assert!(is_ancestor_or_self(&a, &a));
        assert!(!is_ancestor_or_self(&a, &ab));
        assert!(!is_ancestor_or_self(&abd, &a));
    }
}
