//! Extended attributes: names, namespaces, and who may see or change which (Hadoop's
//! `XAttr`, `XAttrHelper` and `XAttrPermissionFilter` rules).
//!
//! A stored name is the namespace prefix in lower case, a dot, then the name as given
//! (`user.tag`). Values are bytes; an empty value is what Hadoop stores for a null one.

use crate::error::{Error, Result};

/// `dfs.namenode.fs-limits.max-xattrs-per-inode`: user-visible (`user.`, `trusted.`)
/// attributes one inode may carry.
pub const MAX_XATTRS_PER_INODE_KEY: &str = "dfs.namenode.fs-limits.max-xattrs-per-inode";
pub const MAX_XATTRS_PER_INODE_DEFAULT: usize = 32;
/// `dfs.namenode.fs-limits.max-xattr-size`: bytes of name (without prefix) plus value.
pub const MAX_XATTR_SIZE_KEY: &str = "dfs.namenode.fs-limits.max-xattr-size";
pub const MAX_XATTR_SIZE_DEFAULT: usize = 16384;

/// `XAttrSetFlag` bits as on the wire (`XAttrSetFlagProto`).
pub mod set_flag {
    pub const CREATE: u32 = 0x01;
    pub const REPLACE: u32 = 0x02;
}

/// The special `security.` attribute a user may set (without a value) to hide a file's
/// contents from the superuser.
pub const SECURITY_XATTR_UNREADABLE_BY_SUPERUSER: &str = "security.hdfs.unreadable.by.superuser";

/// An attribute namespace (`XAttr.NameSpace`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAttrNameSpace {
    User,
    Trusted,
    Security,
    System,
    Raw,
}

impl XAttrNameSpace {
    pub fn prefix(self) -> &'static str {
        match self {
            XAttrNameSpace::User => "user",
            XAttrNameSpace::Trusted => "trusted",
            XAttrNameSpace::Security => "security",
            XAttrNameSpace::System => "system",
            XAttrNameSpace::Raw => "raw",
        }
    }

    /// `USER` and `TRUSTED` attributes count against the per-inode limit.
    pub fn user_visible(self) -> bool {
        matches!(self, XAttrNameSpace::User | XAttrNameSpace::Trusted)
    }

    /// The wire value of `XAttrProto.XAttrNamespaceProto`.
    pub fn to_proto(self) -> i32 {
        match self {
            XAttrNameSpace::User => 0,
            XAttrNameSpace::Trusted => 1,
            XAttrNameSpace::Security => 2,
            XAttrNameSpace::System => 3,
            XAttrNameSpace::Raw => 4,
        }
    }

    pub fn from_proto(v: i32) -> Option<XAttrNameSpace> {
        Some(match v {
            0 => XAttrNameSpace::User,
            1 => XAttrNameSpace::Trusted,
            2 => XAttrNameSpace::Security,
            3 => XAttrNameSpace::System,
            4 => XAttrNameSpace::Raw,
            _ => return None,
        })
    }
}

/// One attribute: its namespace, its name without the prefix, and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XAttr {
    pub ns: XAttrNameSpace,
    pub name: String,
    pub value: Vec<u8>,
}

impl XAttr {
    /// Parses a prefixed name (`user.a`; the prefix is matched ignoring case), as
    /// `XAttrHelper.buildXAttr` does.
    pub fn parse_name(prefixed: &str) -> Result<(XAttrNameSpace, String)> {
        let bad = |m: &str| Error::IllegalArgument {
            message: m.to_owned(),
        };
        let Some(dot) = prefixed.find('.') else {
            return Err(bad("An XAttr name must be prefixed with user/trusted/security/system/raw, followed by a '.'"));
        };
        if dot < 3 {
            return Err(bad("An XAttr name must be prefixed with user/trusted/security/system/raw, followed by a '.'"));
        }
        if dot == prefixed.len() - 1 {
            return Err(bad("XAttr name cannot be empty."));
        }
        let ns = match prefixed[..dot].to_ascii_lowercase().as_str() {
            "user" => XAttrNameSpace::User,
            "trusted" => XAttrNameSpace::Trusted,
            "security" => XAttrNameSpace::Security,
            "system" => XAttrNameSpace::System,
            "raw" => XAttrNameSpace::Raw,
            _ => return Err(bad("An XAttr name must be prefixed with user/trusted/security/system/raw, followed by a '.'")),
        };
        Ok((ns, prefixed[dot + 1..].to_owned()))
    }

    /// The name with its namespace prefix (`user.a`).
    pub fn prefixed_name(&self) -> String {
        format!("{}.{}", self.ns.prefix(), self.name)
    }

    /// Bytes counted against `dfs.namenode.fs-limits.max-xattr-size`.
    pub fn size(&self) -> usize {
        self.name.len() + self.value.len()
    }

    /// Same namespace and name (values may differ).
    pub fn same_name(&self, other: &XAttr) -> bool {
        self.ns == other.ns && self.name == other.name
    }

    /// `XAttrPermissionFilter.checkPermissionForApi`: may `superuser`-ness use this
    /// attribute at all (before file permissions)? `raw.` needs a `/.reserved/raw` path,
    /// which ferrodfs does not serve, so it is always refused.
    pub fn check_api_permission(&self, superuser: bool, has_value: bool) -> Result<()> {
        let ok = match self.ns {
            XAttrNameSpace::User => true,
            XAttrNameSpace::Trusted => superuser,
            XAttrNameSpace::Security
                if self.prefixed_name() == SECURITY_XATTR_UNREADABLE_BY_SUPERUSER =>
            {
                if has_value {
                    return Err(Error::AccessDenied {
                        message: format!(
                            "Attempt to set a value for '{SECURITY_XATTR_UNREADABLE_BY_SUPERUSER}'. Values are not allowed for this xattr."
                        ),
                    });
                }
                true
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(Error::AccessDenied {
                message: format!(
                    "User doesn't have permission for xattr: {}",
                    self.prefixed_name()
                ),
            })
        }
    }

    /// `XAttrPermissionFilter.filterXAttrsForApi`: is this attribute returned to a caller?
    pub fn visible_to(&self, superuser: bool) -> bool {
        match self.ns {
            XAttrNameSpace::User => true,
            XAttrNameSpace::Trusted => superuser,
            XAttrNameSpace::Security => {
                self.prefixed_name() == SECURITY_XATTR_UNREADABLE_BY_SUPERUSER
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_as_hadoop() {
        assert_eq!(
            XAttr::parse_name("USER.a.b").unwrap(),
            (XAttrNameSpace::User, "a.b".to_owned())
        );
        assert_eq!(
            XAttr::parse_name("trusted.x").unwrap().0,
            XAttrNameSpace::Trusted
        );
        for bad in ["a", "us.a", "foo.a", ".a", "nodot"] {
            let e = XAttr::parse_name(bad).unwrap_err();
            assert!(
                e.to_string().starts_with("An XAttr name must be prefixed"),
                "{bad}"
            );
        }
        assert_eq!(
            XAttr::parse_name("user.").unwrap_err().to_string(),
            "XAttr name cannot be empty."
        );
    }

    #[test]
    fn namespace_rules() {
        let x = |p: &str| {
            let (ns, name) = XAttr::parse_name(p).unwrap();
            XAttr {
                ns,
                name,
                value: Vec::new(),
            }
        };
        assert!(x("user.a").check_api_permission(false, true).is_ok());
        assert!(x("trusted.a").check_api_permission(false, true).is_err());
        assert!(x("trusted.a").check_api_permission(true, true).is_ok());
        for p in ["system.a", "security.a", "raw.a"] {
            let e = x(p).check_api_permission(true, true).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("User doesn't have permission for xattr: {p}")
            );
        }
        let s = x(SECURITY_XATTR_UNREADABLE_BY_SUPERUSER);
        assert!(s.check_api_permission(false, false).is_ok());
        assert!(s.check_api_permission(false, true).is_err());
        assert!(!x("trusted.a").visible_to(false));
        assert!(!x("system.a").visible_to(true));
    }
}
