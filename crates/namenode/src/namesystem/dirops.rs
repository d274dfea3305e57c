//! Namespace operations on paths: mkdirs, rename, rename2, delete, setReplication,
//! setPermission, setOwner, setTimes, concat.

use super::{now_ms, FsNamesystem};
use crate::editlog::EditOp;
use crate::error::{Error, Result};
use crate::namespace::{path, Access, Caller, FsPermission, Inode, ROOT_IX};

impl FsNamesystem {
    /// Creates directory records for the missing components of `comps` starting at
    /// `r.ixs.len()`; the last one gets `perm`, implicit parents `perm | u+wx`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn create_missing_dirs(
        &mut self,
        caller: &Caller,
        comps: &[Vec<u8>],
        mut parent: u32,
        from: usize,
        last_perm: FsPermission,
        parent_perm: FsPermission,
        mtime: i64,
    ) -> Result<u32> {
        for (i, name) in comps.iter().enumerate().skip(from) {
            let group = {
                let p = self.ns.inode(parent)?;
                self.ns.group_name(p).to_owned()
            };
            let id = self.alloc_inode_id();
            let perm = if i + 1 == comps.len() {
                last_perm
            } else {
                parent_perm
            };
            self.log(EditOp::Mkdir {
                id,
                parent: self.ns.id_of(parent),
                name: name.clone(),
                perm: perm.bits(),
                owner: caller.user.clone(),
                group,
                mtime,
            })?;
            parent = self.ns.ix_of(id).ok_or(Error::FileNotFound {
                path: path::join(&comps.iter().map(Vec::as_slice).collect::<Vec<_>>()),
            })?;
        }
        Ok(parent)
    }

    /// mkdirs: true if the directory exists afterwards. `perm` is the masked permission.
    pub fn mkdirs(
        &mut self,
        caller: &Caller,
        path: &str,
        perm: FsPermission,
        create_parent: bool,
    ) -> Result<bool> {
        let (comps, r) = self.resolve(path)?;
        self.check_traverse(caller, &r)?;
        if r.file_in_middle {
            return Err(Error::ParentNotDirectory {
                path: self.ns.full_path(r.deepest()),
            });
        }
        if let Some(ix) = r.last() {
            if self.ns.inode(ix)?.is_dir() {
                return Ok(true);
            }
            return Err(Error::FileAlreadyExists {
                path: format!("Path is not a directory: {path}"),
            });
        }
        self.check_not_safe_mode("create directory")?;
        // WRITE on the deepest existing ancestor comes before "parent missing".
        self.check_inode(caller, Self::ancestor_of(&r), Access::WRITE)?;
        if !create_parent && r.parent().is_none() {
            return Err(Error::FileNotFound {
                path: format!("Parent directory doesn't exist: {}", parent_of(path)),
            });
        }
        let from = r.ixs.len() - 1;
        let perm = FsPermission::new(perm.bits());
        self.create_missing_dirs(
            caller,
            &comps,
            r.deepest(),
            from,
            perm,
            perm.with_user_write_execute(),
            now_ms(),
        )?;
        Ok(true)
    }

    /// rename (v1): false instead of most errors; a directory destination means "move
    /// inside". Permission errors and invalid paths are still errors.
    pub fn rename(&mut self, caller: &Caller, src: &str, dst: &str) -> Result<bool> {
        self.check_not_safe_mode("rename")?;
        let (scomps, sr) = self.resolve(src)?;
        let (mut dcomps, mut dr) = self.resolve(dst)?;
        self.check_traverse(caller, &sr)?;
        self.check_traverse(caller, &dr)?;
        let Some(six) = sr.last() else {
            return Ok(false);
        };
        if six == ROOT_IX {
            return Ok(false);
        }
        if let Some(dix) = dr.last() {
            if self.ns.inode(dix)?.is_dir() && dix != six {
                // Move inside the destination directory, keeping the name.
                let name = scomps.last().cloned().unwrap_or_default();
                dcomps.push(name.clone());
                let refs: Vec<&[u8]> = dcomps.iter().map(Vec::as_slice).collect();
                dr = self.ns.resolve(&refs);
            }
        }
        if dr.last() == Some(six) {
            // Renaming to itself succeeds only for files (Hadoop).
            return Ok(!self.ns.inode(six)?.is_dir());
        }
        if dr.last().is_some() {
            return Ok(false);
        }
        let Some(dparent) = dr.parent() else {
            return Ok(false);
        };
        if !self.ns.inode(dparent)?.is_dir() || self.ns.is_ancestor_or_self(six, dparent) {
            return Ok(false);
        }
        self.check_rename_access(caller, six, dparent)?;
        let name = dcomps.last().cloned().unwrap_or_default();
        let _ = scomps;
        self.log(EditOp::Rename {
            id: self.ns.id_of(six),
            parent: self.ns.id_of(dparent),
            name,
            mtime: now_ms(),
        })?;
        Ok(true)
    }

    fn check_rename_access(&self, caller: &Caller, six: u32, dparent: u32) -> Result<()> {
        let sparent = self.ns.inode(six)?.parent;
        self.check_inode(caller, sparent, Access::WRITE)?;
        self.check_sticky(caller, six)?;
        self.check_inode(caller, dparent, Access::WRITE)
    }

    /// rename2: errors instead of false; `overwrite` replaces an existing destination
    /// (a file, or an empty directory) of the same kind.
    pub fn rename2(
        &mut self,
        caller: &Caller,
        src: &str,
        dst: &str,
        overwrite: bool,
    ) -> Result<()> {
        self.check_not_safe_mode("rename")?;
        let (_, sr) = self.resolve(src)?;
        let (dcomps, dr) = self.resolve(dst)?;
        self.check_traverse(caller, &sr)?;
        self.check_traverse(caller, &dr)?;
        let six = sr.last().ok_or_else(|| Error::FileNotFound {
            path: format!("rename source {src} is not found."),
        })?;
        if six == ROOT_IX {
            return Err(Error::InvalidRename {
                message: format!("rename source cannot be the root: {src}"),
            });
        }
        if dr.depth == 0 {
            return Err(Error::InvalidRename {
                message: format!("rename destination cannot be the root: {dst}"),
            });
        }
        if dr.file_in_middle {
            return Err(Error::ParentNotDirectory {
                path: self.ns.full_path(dr.deepest()),
            });
        }
        let dparent = dr.parent().ok_or_else(|| Error::FileNotFound {
            path: format!("rename destination parent {} not found.", parent_of(dst)),
        })?;
        if !self.ns.inode(dparent)?.is_dir() {
            return Err(Error::ParentNotDirectory {
                path: parent_of(dst).to_owned(),
            });
        }
        if self.ns.is_ancestor_or_self(six, dparent) {
            return Err(Error::InvalidRename {
                message: format!(
                    "Rename destination {dst} is a directory or file under source {src}"
                ),
            });
        }
        let src_is_dir = self.ns.inode(six)?.is_dir();
        let mut replaced = None;
        if let Some(dix) = dr.last() {
            if dix == six {
                return Err(Error::FileAlreadyExists {
                    path: format!("The source {src} and destination {dst} are the same"),
                });
            }
            if !overwrite {
                return Err(Error::FileAlreadyExists {
                    path: format!("rename destination {dst} already exists"),
                });
            }
            let dnode: &Inode = self.ns.inode(dix)?;
            if dnode.is_dir() != src_is_dir {
                return Err(Error::InvalidRename {
                    message: format!(
                        "Source {src} and destination {dst} must both be directories or files"
                    ),
                });
            }
            if !dnode.children().is_empty() {
                return Err(Error::PathIsNotEmptyDirectory {
                    path: format!("rename destination directory is not empty: {dst}"),
                });
            }
            self.check_sticky(caller, dix)?;
            replaced = Some(dix);
        }
        self.check_rename_access(caller, six, dparent)?;
        let mtime = now_ms();
        if let Some(dix) = replaced {
            self.log(EditOp::Delete {
                id: self.ns.id_of(dix),
                mtime,
            })?;
        }
        self.log(EditOp::Rename {
            id: self.ns.id_of(six),
            parent: self.ns.id_of(dparent),
            name: dcomps.last().cloned().unwrap_or_default(),
            mtime,
        })
    }

    /// delete: false if the path does not exist; a non-empty directory needs `recursive`.
    pub fn delete(&mut self, caller: &Caller, path: &str, recursive: bool) -> Result<bool> {
        self.check_not_safe_mode("delete")?;
        let (_, r) = self.resolve(path)?;
        self.check_traverse(caller, &r)?;
        let Some(ix) = r.last() else {
            return Ok(false);
        };
        let inode = self.ns.inode(ix)?;
        if !recursive && !inode.children().is_empty() {
            return Err(Error::PathIsNotEmptyDirectory {
                path: format!("`{path} is non empty': Directory is not empty"),
            });
        }
        if ix == ROOT_IX {
            // Hadoop refuses to delete the root (returns false).
            return Ok(false);
        }
        self.check_inode(caller, inode.parent, Access::WRITE_EXECUTE)?;
        self.check_sticky(caller, ix)?;
        if inode.is_dir() && !inode.children().is_empty() {
            self.check_subtree(caller, ix, Access::ALL)?;
        }
        self.log(EditOp::Delete {
            id: self.ns.id_of(ix),
            mtime: now_ms(),
        })?;
        Ok(true)
    }

    pub(crate) fn existing(&self, caller: &Caller, path: &str) -> Result<u32> {
        let (_, r) = self.resolve(path)?;
        self.check_traverse(caller, &r)?;
        r.last().ok_or_else(|| Error::FileNotFound {
            path: path.to_owned(),
        })
    }

    /// setReplication: false for a directory.
    pub fn set_replication(
        &mut self,
        caller: &Caller,
        path: &str,
        replication: u16,
    ) -> Result<bool> {
        self.check_not_safe_mode("set replication")?;
        self.verify_replication(path, replication)?;
        let ix = self.existing(caller, path)?;
        if self.ns.inode(ix)?.is_dir() {
            return Ok(false);
        }
        self.check_inode(caller, ix, Access::WRITE)?;
        self.log(EditOp::SetReplication {
            id: self.ns.id_of(ix),
            replication,
        })?;
        Ok(true)
    }

    pub(crate) fn verify_replication(&self, path: &str, r: u16) -> Result<()> {
        if r < self.config.replication_min || r > self.config.replication_max {
            return Err(Error::IllegalArgument {
                message: format!(
                    "file {path}: requested replication {r} is outside [{}, {}]",
                    self.config.replication_min, self.config.replication_max
                ),
            });
        }
        Ok(())
    }

    /// setPermission: owner or superuser.
    pub fn set_permission(
        &mut self,
        caller: &Caller,
        path: &str,
        perm: FsPermission,
    ) -> Result<()> {
        self.check_not_safe_mode("set permission")?;
        let ix = self.existing(caller, path)?;
        self.check_owner(caller, ix)?;
        self.log(EditOp::SetPermission {
            id: self.ns.id_of(ix),
            perm: FsPermission::new(perm.bits()).bits(),
        })
    }

    /// setOwner: changing the owner needs a superuser; changing the group needs the owner
    /// to be a member of the new group (or a superuser).
    pub fn set_owner(
        &mut self,
        caller: &Caller,
        path: &str,
        owner: Option<&str>,
        group: Option<&str>,
    ) -> Result<()> {
        self.check_not_safe_mode("set owner")?;
        let ix = self.existing(caller, path)?;
        let owner = owner.filter(|o| !o.is_empty());
        let group = group.filter(|g| !g.is_empty());
        if self.policy.enabled && !self.is_superuser(caller) {
            self.check_owner(caller, ix)?;
            if owner.is_some_and(|o| o != caller.user) {
                return Err(Error::SuperuserRequired {
                    user: caller.user.clone(),
                });
            }
            if let Some(g) = group {
                if !caller.in_group(g) {
                    return Err(Error::AccessControl {
                        user: caller.user.clone(),
                        access: "WRITE",
                        path: format!("{path}\" (user does not belong to {g})"),
                    });
                }
            }
        }
        self.log(EditOp::SetOwner {
            id: self.ns.id_of(ix),
            owner: owner.map(str::to_owned),
            group: group.map(str::to_owned),
        })
    }

    /// setTimes: -1 leaves a time unchanged. WRITE on the inode (Hadoop).
    pub fn set_times(&mut self, caller: &Caller, path: &str, mtime: i64, atime: i64) -> Result<()> {
        self.check_not_safe_mode("set times")?;
        let ix = self.existing(caller, path)?;
        self.check_inode(caller, ix, Access::WRITE)?;
        self.log(EditOp::SetTimes {
            id: self.ns.id_of(ix),
            mtime: mtime.max(-1),
            atime: atime.max(-1),
        })
    }

    /// concat: appends the blocks of `srcs` (closed files in the same directory as
    /// `target`, all blocks but the last full) to `target` and removes the sources.
    pub fn concat(&mut self, caller: &Caller, target: &str, srcs: &[String]) -> Result<()> {
        self.check_not_safe_mode("concat")?;
        let tix = self.existing(caller, target)?;
        let t = self.ns.inode(tix)?;
        let tf = t.file().ok_or_else(|| Error::IllegalArgument {
            message: format!("concat: target {target} is not a file"),
        })?;
        if tf.uc.is_some() {
            return Err(Error::IllegalArgument {
                message: format!("concat: target {target} is under construction"),
            });
        }
        if srcs.is_empty() {
            return Err(Error::IllegalArgument {
                message: "concat: no sources".into(),
            });
        }
        let block_size = tf.block_size();
        let tparent = t.parent;
        self.check_inode(caller, tix, Access::WRITE)?;
        self.check_inode(caller, tparent, Access::WRITE)?;
        let mut ids = Vec::new();
        // The target's last block must be full for the result to be a valid file.
        let mut prev_blocks: Vec<u64> = tf.blocks.as_slice().to_vec();
        for s in srcs {
            let six = self.existing(caller, s)?;
            let inode = self.ns.inode(six)?;
            let f = inode.file().ok_or_else(|| Error::IllegalArgument {
                message: format!("concat: source {s} is not a file"),
            })?;
            if six == tix || ids.contains(&self.ns.id_of(six)) {
                return Err(Error::IllegalArgument {
                    message: format!("concat: {s} is the target or given twice"),
                });
            }
            if inode.parent != tparent {
                return Err(Error::IllegalArgument {
                    message: format!(
                        "concat: source {s} and target {target} are not in the same directory"
                    ),
                });
            }
            if f.uc.is_some() {
                return Err(Error::IllegalArgument {
                    message: format!("concat: source {s} is under construction"),
                });
            }
            if f.block_size() != block_size {
                return Err(Error::IllegalArgument {
                    message: format!("concat: source {s} has a different block size"),
                });
            }
            self.check_inode(caller, six, Access::READ)?;
            self.check_sticky(caller, six)?;
            if let Some(&last) = prev_blocks.last() {
                if self.blocks.get(last).map_or(0, |b| b.num_bytes) != block_size {
                    return Err(Error::IllegalArgument {
                        message: format!("concat: the last block before {s} is not full"),
                    });
                }
            }
            prev_blocks = f.blocks.as_slice().to_vec();
            ids.push(self.ns.id_of(six));
        }
        self.log(EditOp::Concat {
            target: self.ns.id_of(tix),
            srcs: ids,
            mtime: now_ms(),
        })
    }
}

/// The parent path of a (valid) path string.
pub(crate) fn parent_of(p: &str) -> &str {
    let p = if p.len() > 1 {
        p.trim_end_matches('/')
    } else {
        p
    };
    match p.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &p[..i],
    }
}
