//! Extended-attribute operations (`setXAttr`, `getXAttrs`, `listXAttrs`, `removeXAttr`)
//! with Hadoop's `FSDirXAttrOp` checks, messages and order of checks.

use super::FsNamesystem;
use crate::editlog::EditOp;
use crate::error::{Error, Result};
use crate::namespace::xattr::{set_flag, XAttr, XAttrNameSpace};
use crate::namespace::{Access, Caller};

fn io(message: String) -> Error {
    Error::Refused { message }
}

impl FsNamesystem {
    /// `checkXAttrChangeAccess`: a `user.` attribute needs WRITE on the inode, or, on a
    /// sticky directory, its ownership.
    fn check_xattr_change(&self, caller: &Caller, ix: u32, x: &XAttr) -> Result<()> {
        if x.ns != XAttrNameSpace::User {
            return Ok(());
        }
        let inode = self.ns.inode(ix)?;
        if inode.is_dir() && inode.perm & 0o1000 != 0 {
            self.check_owner(caller, ix)
        } else {
            self.check_inode(caller, ix, Access::WRITE)
        }
    }

    /// setXAttr with `flags` (`set_flag::CREATE` / `REPLACE` bits).
    pub fn set_xattr(
        &mut self,
        caller: &Caller,
        path: &str,
        name: &str,
        value: &[u8],
        flags: u32,
    ) -> Result<()> {
        let (ns, short) = XAttr::parse_name(name)?;
        let x = XAttr {
            ns,
            name: short,
            value: value.to_vec(),
        };
        let limit = self.config.max_xattr_size;
        if limit != 0 && x.size() > limit {
            return Err(Error::IllegalArgument {
                message: format!(
                    "The XAttr is too big. The maximum combined size of the name and value is {limit}, but the total size is {}",
                    x.size()
                ),
            });
        }
        x.check_api_permission(self.is_superuser(caller), !value.is_empty())?;
        self.check_not_safe_mode("set XAttr")?;
        let ix = self.existing(caller, path)?;
        self.check_xattr_change(caller, ix, &x)?;
        let id = self.ns.id_of(ix);
        let existing = self.ns.xattrs(id);
        let exists = existing.iter().any(|e| e.same_name(&x));
        let prefixed = x.prefixed_name();
        if flags & (set_flag::CREATE | set_flag::REPLACE) == 0 {
            return Err(Error::IllegalArgument {
                message: "A flag must be specified.".into(),
            });
        }
        if exists && flags & set_flag::REPLACE == 0 {
            return Err(io(format!(
                "XAttr: {prefixed} already exists. The REPLACE flag must be specified."
            )));
        }
        if !exists && flags & set_flag::CREATE == 0 {
            return Err(io(format!(
                "XAttr: {prefixed} does not exist. The CREATE flag must be specified."
            )));
        }
        let visible = existing.iter().filter(|e| e.ns.user_visible()).count();
        if !exists && x.ns.user_visible() && visible >= self.config.max_xattrs_per_inode {
            return Err(io(format!(
                "Cannot add additional XAttr to inode, would exceed limit of {}",
                self.config.max_xattrs_per_inode
            )));
        }
        self.log(EditOp::SetXAttr {
            id,
            ns: x.ns.to_proto() as u8,
            name: x.name,
            value: x.value,
        })
    }

    /// getXAttrs: all the caller may see (`names` empty) or exactly `names`.
    pub fn get_xattrs(&self, caller: &Caller, path: &str, names: &[String]) -> Result<Vec<XAttr>> {
        let su = self.is_superuser(caller);
        let mut wanted = Vec::with_capacity(names.len());
        for n in names {
            let (ns, name) = XAttr::parse_name(n)?;
            let x = XAttr {
                ns,
                name,
                value: Vec::new(),
            };
            x.check_api_permission(su, false)?;
            wanted.push(x);
        }
        let ix = self.existing(caller, path)?;
        self.check_inode(caller, ix, Access::READ)?;
        let all: Vec<XAttr> = self
            .ns
            .xattrs(self.ns.id_of(ix))
            .iter()
            .filter(|x| x.visible_to(su))
            .cloned()
            .collect();
        if wanted.is_empty() {
            return Ok(all);
        }
        let mut out = Vec::with_capacity(wanted.len());
        for w in wanted {
            match all.iter().find(|x| x.same_name(&w)) {
                Some(x) => out.push(x.clone()),
                None => {
                    return Err(io(
                        "At least one of the attributes provided was not found.".into()
                    ))
                }
            }
        }
        Ok(out)
    }

    /// listXAttrs: names (values empty) of what the caller may see; needs EXECUTE on the
    /// parent directory.
    pub fn list_xattrs(&self, caller: &Caller, path: &str) -> Result<Vec<XAttr>> {
        let su = self.is_superuser(caller);
        let ix = self.existing(caller, path)?;
        let parent = self.ns.inode(ix)?.parent;
        self.check_inode(caller, parent, Access::EXECUTE)?;
        Ok(self
            .ns
            .xattrs(self.ns.id_of(ix))
            .iter()
            .filter(|x| x.visible_to(su))
            .map(|x| XAttr {
                value: Vec::new(),
                ..x.clone()
            })
            .collect())
    }

    /// removeXAttr.
    pub fn remove_xattr(&mut self, caller: &Caller, path: &str, name: &str) -> Result<()> {
        let (ns, short) = XAttr::parse_name(name)?;
        let x = XAttr {
            ns,
            name: short,
            value: Vec::new(),
        };
        x.check_api_permission(self.is_superuser(caller), false)?;
        self.check_not_safe_mode("remove XAttr")?;
        let ix = self.existing(caller, path)?;
        self.check_xattr_change(caller, ix, &x)?;
        let id = self.ns.id_of(ix);
        if !self.ns.xattrs(id).iter().any(|e| e.same_name(&x)) {
            return Err(io(
                "No matching attributes found for remove operation".into()
            ));
        }
        self.log(EditOp::RemoveXAttr {
            id,
            ns: x.ns.to_proto() as u8,
            name: x.name,
        })
    }
}
