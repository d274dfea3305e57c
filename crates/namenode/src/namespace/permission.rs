//! POSIX-style permissions: mode bits, the caller, and the access check.
//!
//! Simple authentication: the caller's user and groups are taken as given. The user that
//! started the NameNode and members of the supergroup are superusers and pass every check.

/// Permission bits as Hadoop's `FsPermission`: `rwxrwxrwx` plus the sticky bit (0o1000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FsPermission(pub u16);

/// The sticky bit: only the owner of a child (or of the directory) may delete/rename it.
pub const STICKY_BIT: u16 = 0o1000;

impl FsPermission {
    /// Default for new directories before the umask (0777).
    pub const DIR_DEFAULT: FsPermission = FsPermission(0o777);
    /// Default for new files before the umask (0666).
    pub const FILE_DEFAULT: FsPermission = FsPermission(0o666);

    /// Only the bits Hadoop stores (mode + sticky).
    pub fn new(bits: u16) -> FsPermission {
        FsPermission(bits & 0o1777)
    }

    pub fn bits(self) -> u16 {
        self.0
    }

    pub fn sticky(self) -> bool {
        self.0 & STICKY_BIT != 0
    }

    /// Clears the bits set in `umask`.
    pub fn apply_umask(self, umask: u16) -> FsPermission {
        FsPermission(self.0 & !(umask & 0o777))
    }

    /// Adds `u+wx` (Hadoop gives implicitly created parent directories this).
    pub fn with_user_write_execute(self) -> FsPermission {
        FsPermission(self.0 | 0o300)
    }
}

/// An access being checked, as Hadoop's `FsAction` (bit 4 = read, 2 = write, 1 = execute).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access(pub u8);

impl Access {
    pub const READ: Access = Access(4);
    pub const WRITE: Access = Access(2);
    pub const EXECUTE: Access = Access(1);
    pub const READ_EXECUTE: Access = Access(5);
    pub const WRITE_EXECUTE: Access = Access(3);
    pub const ALL: Access = Access(7);

    /// Hadoop's `FsAction` symbol (`READ`, `WRITE`, `EXECUTE`, `READ_EXECUTE`, ...).
    pub fn name(self) -> &'static str {
        match self.0 {
            4 => "READ",
            2 => "WRITE",
            1 => "EXECUTE",
            5 => "READ_EXECUTE",
            6 => "READ_WRITE",
            3 => "WRITE_EXECUTE",
            7 => "ALL",
            _ => "NONE",
        }
    }
}

/// Who is calling: the RPC layer fills this from the connection context and request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user: String,
    pub groups: Vec<String>,
    /// The DFSClient name (`DFSClient_NONMAPREDUCE_...`), the lease holder for writes.
    pub client_name: String,
    /// The client's host/IP (`clientMachine`), used to prefer a local DataNode.
    pub client_machine: String,
}

impl Caller {
    /// A caller with no groups and the user name as client name (handy in tests).
    pub fn user(user: &str) -> Caller {
        Caller {
            user: user.to_owned(),
            groups: Vec::new(),
            client_name: format!("DFSClient_{user}"),
            client_machine: "127.0.0.1".to_owned(),
        }
    }

    pub fn with_groups(mut self, groups: &[&str]) -> Caller {
        self.groups = groups.iter().map(|g| (*g).to_owned()).collect();
        self
    }

    pub fn with_client(mut self, client_name: &str, machine: &str) -> Caller {
        self.client_name = client_name.to_owned();
        self.client_machine = machine.to_owned();
        self
    }

    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

/// The permission policy: whether checks are on and who is a superuser.
#[derive(Debug, Clone)]
pub struct PermissionPolicy {
    pub enabled: bool,
    pub superuser: String,
    pub supergroup: String,
}

impl PermissionPolicy {
    pub fn is_superuser(&self, caller: &Caller) -> bool {
        caller.user == self.superuser || caller.in_group(&self.supergroup)
    }

    /// True if the caller has `access` on an inode with this owner/group/mode.
    /// (Superuser and disabled checks are decided by the caller of this function.)
    pub fn allows(caller: &Caller, owner: &str, group: &str, mode: u16, access: Access) -> bool {
        let a = u16::from(access.0);
        let bits = if caller.user == owner {
            (mode >> 6) & 7
        } else if caller.in_group(group) {
            (mode >> 3) & 7
        } else {
            mode & 7
        };
        bits & a == a
    }

    /// The sticky-bit rule for deleting/renaming `child` inside `parent`.
    pub fn sticky_allows(
        caller: &Caller,
        parent_mode: u16,
        parent_owner: &str,
        child_owner: &str,
    ) -> bool {
        parent_mode & STICKY_BIT == 0 || caller.user == parent_owner || caller.user == child_owner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn umask_and_implicit_bits() {
        assert_eq!(FsPermission(0o777).apply_umask(0o022), FsPermission(0o755));
        assert_eq!(
            FsPermission(0o1777).apply_umask(0o022),
            FsPermission(0o1755)
        );
        assert_eq!(
            FsPermission(0o000).with_user_write_execute(),
            FsPermission(0o300)
        );
        assert!(FsPermission::new(0o11777).sticky());
        assert_eq!(FsPermission::new(0o11777).bits(), 0o1777);
    }

    #[test]
    fn owner_group_other_classes() {
        let alice = Caller::user("alice").with_groups(&["staff"]);
        let bob = Caller::user("bob").with_groups(&["staff"]);
        let eve = Caller::user("eve");
        let mode = 0o750;
        assert!(PermissionPolicy::allows(
            &alice,
            "alice",
            "staff",
            mode,
            Access::ALL
        ));
        assert!(PermissionPolicy::allows(
            &bob,
            "alice",
            "staff",
            mode,
            Access::READ_EXECUTE
        ));
        assert!(!PermissionPolicy::allows(
            &bob,
            "alice",
            "staff",
            mode,
            Access::WRITE
        ));
        assert!(!PermissionPolicy::allows(
            &eve,
            "alice",
            "staff",
            mode,
            Access::READ
        ));
        // The owner class decides even when group bits would allow more.
        assert!(!PermissionPolicy::allows(
            &alice,
            "alice",
            "staff",
            0o070,
            Access::READ
        ));
    }

    #[test]
    fn superusers_and_sticky() {
        let p = PermissionPolicy {
            enabled: true,
            superuser: "hdfs".into(),
            supergroup: "supergroup".into(),
        };
        assert!(p.is_superuser(&Caller::user("hdfs")));
        assert!(p.is_superuser(&Caller::user("x").with_groups(&["supergroup"])));
        assert!(!p.is_superuser(&Caller::user("x")));
        let bob = Caller::user("bob");
        assert!(!PermissionPolicy::sticky_allows(
            &bob, 0o1777, "root", "alice"
        ));
        assert!(PermissionPolicy::sticky_allows(&bob, 0o1777, "root", "bob"));
        assert!(PermissionPolicy::sticky_allows(
            &bob, 0o777, "root", "alice"
        ));
        assert_eq!(Access::READ_EXECUTE.name(), "READ_EXECUTE");
    }
}
