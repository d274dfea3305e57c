//! The inode tree: lookup by path, and the primitive mutations edit records are made of.
//!
//! [`Namespace`] knows nothing about DataNodes, leases or the edit log. The operations
//! with Hadoop's semantics (validation, permission checks, edit records) are in
//! [`crate::namesystem`]; they call the primitives here, and so does edit-log replay, so
//! a replayed namespace equals the live one by construction.

pub mod inode;
pub mod path;
pub mod permission;
pub mod xattr;

use crate::error::{Error, Result};
pub use inode::{
    BlockId, BlockList, DenseTable, FileData, Inode, InodeId, InodeKind, Interner, Name,
    UnderConstruction, ROOT_INODE_ID,
};
pub use permission::{Access, Caller, FsPermission, PermissionPolicy};

/// Index of the root in the inode table.
pub const ROOT_IX: u32 = 0;

/// The inode tree.
#[derive(Debug, Clone)]
pub struct Namespace {
    inodes: DenseTable<Inode>,
    pub strings: Interner,
    /// Extended attributes of the inodes that have any (most have none).
    xattrs: std::collections::HashMap<InodeId, Vec<xattr::XAttr>>,
}

/// The result of walking a path: the table index of each existing prefix.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// `ixs[0]` is the root; `ixs[k]` the inode of the first `k` components. Shorter than
    /// `components + 1` when a component is missing.
    pub ixs: Vec<u32>,
    /// The number of path components.
    pub depth: usize,
    /// Set when a non-last component is a file: its position in `ixs`.
    pub file_in_middle: bool,
}

impl Resolved {
    /// The inode of the full path, if it exists.
    pub fn last(&self) -> Option<u32> {
        (self.ixs.len() == self.depth + 1).then(|| self.ixs[self.depth])
    }

    /// The parent of the full path, if it exists (None for the root).
    pub fn parent(&self) -> Option<u32> {
        (self.depth >= 1 && self.ixs.len() >= self.depth).then(|| self.ixs[self.depth - 1])
    }

    /// The deepest existing inode.
    pub fn deepest(&self) -> u32 {
        self.ixs.last().copied().unwrap_or(ROOT_IX)
    }
}

impl Namespace {
    /// A namespace with only the root directory.
    pub fn new(root_owner: &str, root_group: &str, root_perm: u16, mtime: i64) -> Namespace {
        let mut strings = Interner::default();
        let owner = strings.intern(root_owner);
        let group = strings.intern(root_group);
        let mut inodes = DenseTable::new(ROOT_INODE_ID);
        let root = Inode {
            parent: ROOT_IX,
            perm: root_perm,
            owner,
            group,
            mtime,
            atime: 0,
            name: Name::new(b""),
            kind: InodeKind::Directory(Vec::new()),
        };
        // The table is empty and the root id is its base, so this cannot fail.
        let _ = inodes.insert(ROOT_INODE_ID, root);
        Namespace {
            inodes,
            strings,
            xattrs: std::collections::HashMap::new(),
        }
    }

    pub fn inode_count(&self) -> usize {
        self.inodes.len()
    }

    pub fn get(&self, ix: u32) -> Option<&Inode> {
        self.inodes.at(ix)
    }

    pub fn get_mut(&mut self, ix: u32) -> Option<&mut Inode> {
        self.inodes.at_mut(ix)
    }

    /// The inode at `ix`; an index that came from this table is always present, so a
    /// missing one is reported as a missing file.
    pub fn inode(&self, ix: u32) -> Result<&Inode> {
        self.inodes.at(ix).ok_or_else(|| Error::FileNotFound {
            path: format!("<inode {}>", self.id_of(ix)),
        })
    }

    pub fn inode_mut(&mut self, ix: u32) -> Result<&mut Inode> {
        let id = self.id_of(ix);
        self.inodes.at_mut(ix).ok_or_else(|| Error::FileNotFound {
            path: format!("<inode {id}>"),
        })
    }

    pub fn id_of(&self, ix: u32) -> InodeId {
        self.inodes.id_of(ix)
    }

    /// The table index of an inode id, if the inode exists.
    pub fn ix_of(&self, id: InodeId) -> Option<u32> {
        let ix = self.inodes.index_of(id)?;
        self.inodes.at(ix).map(|_| ix)
    }

    /// All inodes as (id, inode), in id order.
    pub fn iter(&self) -> impl Iterator<Item = (InodeId, &Inode)> + '_ {
        self.inodes.iter()
    }

    pub fn owner_name(&self, inode: &Inode) -> &str {
        self.strings.get(inode.owner)
    }

    pub fn group_name(&self, inode: &Inode) -> &str {
        self.strings.get(inode.group)
    }

    /// Position of `name` among `dir`'s children: `Ok(pos)` if present, `Err(insert_pos)`.
    pub fn find_child(&self, dir: u32, name: &[u8]) -> std::result::Result<usize, usize> {
        let children = self.inodes.at(dir).map_or(&[][..], Inode::children);
        children.binary_search_by(|&c| {
            self.inodes
                .at(c)
                .map_or(&[][..], |i| i.name.as_bytes())
                .cmp(name)
        })
    }

    pub fn child(&self, dir: u32, name: &[u8]) -> Option<u32> {
        let pos = self.find_child(dir, name).ok()?;
        self.inodes.at(dir)?.children().get(pos).copied()
    }

    /// Walks `comps` from the root.
    pub fn resolve(&self, comps: &[&[u8]]) -> Resolved {
        let mut ixs = Vec::with_capacity(comps.len() + 1);
        ixs.push(ROOT_IX);
        let mut file_in_middle = false;
        let mut cur = ROOT_IX;
        for (i, c) in comps.iter().enumerate() {
            let Some(inode) = self.inodes.at(cur) else {
                break;
            };
            if !inode.is_dir() {
                file_in_middle = i < comps.len();
                break;
            }
            match self.child(cur, c) {
                Some(next) => {
                    ixs.push(next);
                    cur = next;
                }
                None => break,
            }
        }
        Resolved {
            ixs,
            depth: comps.len(),
            file_in_middle,
        }
    }

    /// The absolute path of an inode.
    pub fn full_path(&self, mut ix: u32) -> String {
        let mut names: Vec<&[u8]> = Vec::new();
        while ix != ROOT_IX {
            let Some(inode) = self.inodes.at(ix) else {
                break;
            };
            names.push(inode.name.as_bytes());
            ix = inode.parent;
        }
        names.reverse();
        path::join(&names)
    }

    /// True if `ancestor` is `ix` or one of its ancestors.
    pub fn is_ancestor_or_self(&self, ancestor: u32, mut ix: u32) -> bool {
        loop {
            if ix == ancestor {
                return true;
            }
            if ix == ROOT_IX {
                return false;
            }
            match self.inodes.at(ix) {
                Some(i) => ix = i.parent,
                None => return false,
            }
        }
    }

    /// Inserts a new inode with `id` under directory `parent` (primitive; the caller has
    /// checked that the name is free).
    pub fn add(&mut self, id: InodeId, parent: u32, mut inode: Inode) -> Result<u32> {
        let ix = self.inodes.index_of(id).ok_or(Error::IllegalArgument {
            message: format!("inode id {id} out of range"),
        })?;
        let pos = match self.find_child(parent, inode.name.as_bytes()) {
            Err(pos) => pos,
            Ok(_) => {
                return Err(Error::FileAlreadyExists {
                    path: self.full_path(parent),
                })
            }
        };
        inode.parent = parent;
        if self.inodes.at(ix).is_some() {
            return Err(Error::IllegalArgument {
                message: format!("inode id {id} in use"),
            });
        }
        match &mut self.inode_mut(parent)?.kind {
            InodeKind::Directory(children) => children.insert(pos, ix),
            InodeKind::File(_) => {
                return Err(Error::ParentNotDirectory {
                    path: self.full_path(parent),
                })
            }
        }
        // The slot was checked empty and the index in range above.
        let _ = self.inodes.insert(id, inode);
        Ok(ix)
    }

    /// The extended attributes of inode `id` (empty if none).
    pub fn xattrs(&self, id: InodeId) -> &[xattr::XAttr] {
        self.xattrs.get(&id).map_or(&[], Vec::as_slice)
    }

    /// Sets (adds or replaces) one attribute of inode `id`.
    pub fn set_xattr(&mut self, id: InodeId, x: xattr::XAttr) {
        let list = self.xattrs.entry(id).or_default();
        match list.iter_mut().find(|e| e.same_name(&x)) {
            Some(e) => e.value = x.value,
            None => list.push(x),
        }
    }

    /// Removes one attribute of inode `id`; true if it existed.
    pub fn remove_xattr(&mut self, id: InodeId, ns: xattr::XAttrNameSpace, name: &str) -> bool {
        let Some(list) = self.xattrs.get_mut(&id) else {
            return false;
        };
        let before = list.len();
        list.retain(|e| !(e.ns == ns && e.name == name));
        let removed = list.len() != before;
        if list.is_empty() {
            self.xattrs.remove(&id);
        }
        removed
    }

    /// Unlinks `ix` from its parent and removes it and its subtree; returns the removed
    /// inodes (ids with their data) so the caller can release blocks and leases.
    pub fn remove_subtree(&mut self, ix: u32) -> Vec<(InodeId, Inode)> {
        if ix == ROOT_IX {
            return Vec::new();
        }
        self.unlink(ix);
        let mut removed = Vec::new();
        let mut stack = vec![ix];
        while let Some(cur) = stack.pop() {
            let id = self.id_of(cur);
            if let Some(inode) = self.inodes.remove(id) {
                self.xattrs.remove(&id);
                stack.extend_from_slice(inode.children());
                removed.push((id, inode));
            }
        }
        removed
    }

    /// Removes `ix` from its parent's children (it stays in the table).
    fn unlink(&mut self, ix: u32) {
        let Some(inode) = self.inodes.at(ix) else {
            return;
        };
        let parent = inode.parent;
        let name = inode.name.as_bytes().to_vec();
        if let Ok(pos) = self.find_child(parent, &name) {
            if let Some(InodeKind::Directory(children)) =
                self.inodes.at_mut(parent).map(|p| &mut p.kind)
            {
                children.remove(pos);
            }
        }
    }

    /// Moves `ix` under `new_parent` with `new_name` (the caller has checked that the
    /// target name is free and that `new_parent` is not inside `ix`).
    pub fn move_to(&mut self, ix: u32, new_parent: u32, new_name: &[u8]) -> Result<()> {
        if self.find_child(new_parent, new_name).is_ok() {
            return Err(Error::FileAlreadyExists {
                path: self.full_path(new_parent),
            });
        }
        self.unlink(ix);
        {
            let inode = self.inode_mut(ix)?;
            inode.name = Name::new(new_name);
            inode.parent = new_parent;
        }
        let pos = self.find_child(new_parent, new_name).unwrap_or_else(|p| p);
        match &mut self.inode_mut(new_parent)?.kind {
            InodeKind::Directory(children) => children.insert(pos, ix),
            InodeKind::File(_) => {
                return Err(Error::ParentNotDirectory {
                    path: self.full_path(new_parent),
                })
            }
        }
        Ok(())
    }

    /// Every inode in pre-order (parents before children, children by name).
    pub fn preorder(&self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.inodes.len());
        let mut stack = vec![ROOT_IX];
        while let Some(ix) = stack.pop() {
            out.push(ix);
            if let Some(i) = self.inodes.at(ix) {
                stack.extend(i.children().iter().rev());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> Inode {
        Inode {
            parent: 0,
            perm: 0o755,
            owner: 0,
            group: 1,
            mtime: 1,
            atime: 0,
            name: Name::new(name.as_bytes()),
            kind: InodeKind::Directory(Vec::new()),
        }
    }

    fn file(name: &str) -> Inode {
        Inode {
            kind: InodeKind::File(FileData::new(3, 1024)),
            ..dir(name)
        }
    }

    #[test]
    fn add_resolve_and_paths() {
        let mut ns = Namespace::new("hdfs", "supergroup", 0o755, 0);
        let a = ns.add(ROOT_INODE_ID + 1, ROOT_IX, dir("a")).unwrap();
        let f = ns.add(ROOT_INODE_ID + 2, a, file("f")).unwrap();
        assert_eq!(ns.full_path(f), "/a/f");
        let r = ns.resolve(&[b"a", b"f"]);
        assert_eq!(r.last(), Some(f));
        assert_eq!(r.parent(), Some(a));
        let r = ns.resolve(&[b"a", b"f", b"g"]);
        assert!(r.file_in_middle);
        assert_eq!(r.last(), None);
        let r = ns.resolve(&[b"a", b"x", b"y"]);
        assert_eq!(r.deepest(), a);
        assert_eq!(r.parent(), None);
        assert!(matches!(
            ns.add(ROOT_INODE_ID + 3, a, file("f")),
            Err(Error::FileAlreadyExists { .. })
        ));
        assert!(matches!(
            ns.add(ROOT_INODE_ID + 3, f, file("g")),
            Err(Error::ParentNotDirectory { .. })
        ));
    }

    #[test]
    fn children_sorted_bytewise() {
        let mut ns = Namespace::new("hdfs", "supergroup", 0o755, 0);
        for (i, n) in ["b", "B", "a", "aa", "_"].iter().enumerate() {
            ns.add(ROOT_INODE_ID + 1 + i as u64, ROOT_IX, file(n))
                .unwrap();
        }
        let names: Vec<_> = ns
            .inode(ROOT_IX)
            .unwrap()
            .children()
            .iter()
            .map(|&c| ns.inode(c).unwrap().name.as_bytes().to_vec())
            .collect();
        assert_eq!(
            names,
            vec![
                b"B".to_vec(),
                b"_".to_vec(),
                b"a".to_vec(),
                b"aa".to_vec(),
                b"b".to_vec()
            ]
        );
    }

    #[test]
    fn move_and_remove_subtree() {
        let mut ns = Namespace::new("hdfs", "supergroup", 0o755, 0);
        let a = ns.add(ROOT_INODE_ID + 1, ROOT_IX, dir("a")).unwrap();
        let b = ns.add(ROOT_INODE_ID + 2, ROOT_IX, dir("b")).unwrap();
        let f = ns.add(ROOT_INODE_ID + 3, a, file("f")).unwrap();
        ns.move_to(f, b, b"g").unwrap();
        assert_eq!(ns.full_path(f), "/b/g");
        assert!(ns.inode(a).unwrap().children().is_empty());
        assert!(ns.is_ancestor_or_self(b, f));
        assert!(!ns.is_ancestor_or_self(a, f));
        let removed = ns.remove_subtree(b);
        assert_eq!(removed.len(), 2);
        assert_eq!(ns.inode_count(), 2);
        assert_eq!(ns.resolve(&[b"b"]).last(), None);
        assert_eq!(ns.preorder(), vec![ROOT_IX, a]);
    }
}
