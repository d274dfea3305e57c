//! The NameNode's error type and its mapping to Hadoop's Java exception classes.
//!
//! Clients tell errors apart by the Java class name in the RPC response header, so the
//! mapping is part of the protocol. [`EXCEPTION_CLASSES`] is the one table used both ways:
//! [`Error::java_class`] (server → wire) and [`ErrorKind::from_java_class`] (wire → kind).

use std::path::PathBuf;

/// Everything a NameNode operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The path (or a component of it) does not exist.
    #[error("File does not exist: {path}")]
    FileNotFound { path: String },
    /// The target of a create/mkdir/rename already exists.
    #[error("{path} already exists")]
    FileAlreadyExists { path: String },
    /// A component of the path that must be a directory is a file.
    #[error("Parent path is not a directory: {path}")]
    ParentNotDirectory { path: String },
    /// Non-recursive delete (or rename-overwrite) of a directory with children.
    #[error("{path} is non empty")]
    PathIsNotEmptyDirectory { path: String },
    /// The caller lacks a permission.
    #[error("Permission denied: user={user}, access={access}, inode=\"{path}\"")]
    AccessControl {
        user: String,
        access: &'static str,
        path: String,
    },
    /// The caller is not the owner of the path (setPermission, setOwner) or not a superuser.
    #[error("Permission denied: user={user} is not the owner of inode={path}")]
    NotOwner { user: String, path: String },
    /// The superuser is required.
    /// An `AccessControlException` with its message as is (xattr namespace rules).
    #[error("{message}")]
    AccessDenied { message: String },

    #[error("Access denied for user {user}. Superuser privilege is required")]
    SuperuserRequired { user: String },
    /// The file is open for writing by another client.
    #[error("Failed to create file [{path}] for [{client}]: already being created by [{holder}]")]
    AlreadyBeingCreated {
        path: String,
        client: String,
        holder: String,
    },
    /// The path is not a valid HDFS path.
    #[error("Invalid path name {path}: {reason}")]
    InvalidPath { path: String, reason: &'static str },
    /// An argument is out of range or inconsistent (HadoopIllegalArgumentException).
    #[error("{message}")]
    IllegalArgument { message: String },
    /// A rename into the source's own subtree, over a non-empty dir, etc. (plain IOException
    /// in Hadoop, with a descriptive message).
    #[error("{message}")]
    InvalidRename { message: String },
    /// Any other refusal Hadoop reports as a plain `java.io.IOException` with this text.
    #[error("{message}")]
    Refused { message: String },
    /// The NameNode is in safe mode and refuses namespace changes.
    #[error("Cannot {op}. Name node is in safe mode.\n{reason}")]
    SafeMode { op: &'static str, reason: String },
    /// The caller does not hold the lease on the file (or the file is not open).
    #[error("No lease on {path}: {reason}")]
    LeaseExpired { path: String, reason: &'static str },
    /// addBlock/complete called before the previous block has enough replicas.
    #[error("Not replicated yet: {path}")]
    NotReplicatedYet { path: String },
    /// A lease recovery is already in progress on the file.
    #[error("Recovery in progress, file [{path}]")]
    RecoveryInProgress { path: String },
    /// A DataNode that is not (or no longer) registered talks to us, or a caller whose
    /// registration does not match its connection (Hadoop's `UnregisteredNodeException`).
    #[error("{message}")]
    UnregisteredNode { message: String },
    /// A DataNode refused by the include/exclude host lists (`dfs.hosts`,
    /// `dfs.hosts.exclude`; Hadoop's `DisallowedDatanodeException`).
    #[error("Datanode denied communication with namenode because {reason}: {node}")]
    DisallowedDatanode { node: String, reason: String },
    /// A DataNode whose software version is below the supported minimum (Hadoop's
    /// `IncorrectVersionException`).
    #[error("The reported DataNode version is too low to communicate with this NameNode. DataNode version: '{reported}' Minimum DataNode version: '{minimum}'")]
    IncorrectVersion { reported: String, minimum: String },
    /// A proxy (impersonating) connection not allowed by `hadoop.proxyuser.*` (Hadoop's
    /// `AuthorizationException`).
    #[error("{message}")]
    Authorization { message: String },
    /// A block id / generation stamp that does not match the NameNode's record.
    #[error("Invalid block {block}: {reason}")]
    InvalidBlock { block: u64, reason: &'static str },
    /// Not enough live DataNodes to place the replicas.
    #[error("Could only be written to {chosen} of the {min} minReplication nodes; {live} datanode(s) running and {excluded} node(s) are excluded")]
    NoDatanodes {
        chosen: usize,
        min: usize,
        live: usize,
        excluded: usize,
    },
    /// An operation this NameNode does not implement.
    #[error("{op} is not supported")]
    Unsupported { op: &'static str },
    /// An edit log or image on disk is corrupt in a way that cannot be repaired safely.
    #[error("corrupt {file}: {reason} at byte {offset}")]
    Corrupt {
        file: PathBuf,
        offset: u64,
        reason: &'static str,
    },
    /// The name directory is not formatted, or is formatted by another version.
    #[error("name directory {dir}: {reason}")]
    Storage { dir: PathBuf, reason: String },
    /// An I/O error on the name directory.
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The kind of an [`Error`], one per Java exception class a client can tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    FileNotFound,
    FileAlreadyExists,
    ParentNotDirectory,
    PathIsNotEmptyDirectory,
    AccessControl,
    AlreadyBeingCreated,
    InvalidPath,
    IllegalArgument,
    SafeMode,
    LeaseExpired,
    NotReplicatedYet,
    RecoveryInProgress,
    UnregisteredNode,
    DisallowedDatanode,
    IncorrectVersion,
    Authorization,
    Unsupported,
    /// Any other `java.io.IOException`.
    Io,
}

/// The one table mapping [`ErrorKind`]s to Hadoop's Java exception class names (each
/// checked against the package of the class in Hadoop 3.3's sources: `InvalidPathException`
/// and `ParentNotDirectoryException` live in `org.apache.hadoop.fs`, `SafeModeException`,
/// `LeaseExpiredException` and `NotReplicatedYetException` in
/// `org.apache.hadoop.hdfs.server.namenode`, `UnregisteredNodeException` and
/// `RecoveryInProgressException` in `org.apache.hadoop.hdfs.protocol`,
/// `DisallowedDatanodeException` in `org.apache.hadoop.hdfs.server.protocol`,
/// `IncorrectVersionException` in `org.apache.hadoop.hdfs.server.common`,
/// `AuthorizationException` in `org.apache.hadoop.security.authorize`).
pub const EXCEPTION_CLASSES: &[(ErrorKind, &str)] = &[
    (ErrorKind::FileNotFound, "java.io.FileNotFoundException"),
    (
        ErrorKind::FileAlreadyExists,
        "org.apache.hadoop.fs.FileAlreadyExistsException",
    ),
    (
        ErrorKind::ParentNotDirectory,
        "org.apache.hadoop.fs.ParentNotDirectoryException",
    ),
    (
        ErrorKind::PathIsNotEmptyDirectory,
        "org.apache.hadoop.fs.PathIsNotEmptyDirectoryException",
    ),
    (
        ErrorKind::AccessControl,
        "org.apache.hadoop.security.AccessControlException",
    ),
    (
        ErrorKind::AlreadyBeingCreated,
        "org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException",
    ),
    (
        ErrorKind::InvalidPath,
        "org.apache.hadoop.fs.InvalidPathException",
    ),
    (
        ErrorKind::IllegalArgument,
        "org.apache.hadoop.HadoopIllegalArgumentException",
    ),
    (
        ErrorKind::SafeMode,
        "org.apache.hadoop.hdfs.server.namenode.SafeModeException",
    ),
    (
        ErrorKind::LeaseExpired,
        "org.apache.hadoop.hdfs.server.namenode.LeaseExpiredException",
    ),
    (
        ErrorKind::NotReplicatedYet,
        "org.apache.hadoop.hdfs.server.namenode.NotReplicatedYetException",
    ),
    (
        ErrorKind::RecoveryInProgress,
        "org.apache.hadoop.hdfs.protocol.RecoveryInProgressException",
    ),
    (
        ErrorKind::UnregisteredNode,
        "org.apache.hadoop.hdfs.protocol.UnregisteredNodeException",
    ),
    (
        ErrorKind::DisallowedDatanode,
        "org.apache.hadoop.hdfs.server.protocol.DisallowedDatanodeException",
    ),
    (
        ErrorKind::IncorrectVersion,
        "org.apache.hadoop.hdfs.server.common.IncorrectVersionException",
    ),
    (
        ErrorKind::Authorization,
        "org.apache.hadoop.security.authorize.AuthorizationException",
    ),
    (
        ErrorKind::Unsupported,
        "java.lang.UnsupportedOperationException",
    ),
    (ErrorKind::Io, "java.io.IOException"),
];

impl ErrorKind {
    /// The Java class name a server sends for this kind.
    pub fn java_class(self) -> &'static str {
        EXCEPTION_CLASSES
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("java.io.IOException", |(_, c)| c)
    }

    /// The kind for a Java class name received from a server (`None` if unknown; callers
    /// usually treat that as [`ErrorKind::Io`]).
    pub fn from_java_class(class: &str) -> Option<ErrorKind> {
        EXCEPTION_CLASSES
            .iter()
            .find(|(_, c)| *c == class)
            .map(|(k, _)| *k)
    }
}

impl Error {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::FileNotFound { .. } => ErrorKind::FileNotFound,
            Error::FileAlreadyExists { .. } => ErrorKind::FileAlreadyExists,
            Error::ParentNotDirectory { .. } => ErrorKind::ParentNotDirectory,
            Error::PathIsNotEmptyDirectory { .. } => ErrorKind::PathIsNotEmptyDirectory,
            Error::AccessControl { .. }
            | Error::NotOwner { .. }
            | Error::SuperuserRequired { .. }
            | Error::AccessDenied { .. } => ErrorKind::AccessControl,
            Error::AlreadyBeingCreated { .. } => ErrorKind::AlreadyBeingCreated,
            Error::InvalidPath { .. } => ErrorKind::InvalidPath,
            Error::IllegalArgument { .. } => ErrorKind::IllegalArgument,
            Error::SafeMode { .. } => ErrorKind::SafeMode,
            Error::LeaseExpired { .. } => ErrorKind::LeaseExpired,
            Error::NotReplicatedYet { .. } => ErrorKind::NotReplicatedYet,
            Error::RecoveryInProgress { .. } => ErrorKind::RecoveryInProgress,
            Error::UnregisteredNode { .. } => ErrorKind::UnregisteredNode,
            Error::DisallowedDatanode { .. } => ErrorKind::DisallowedDatanode,
            Error::IncorrectVersion { .. } => ErrorKind::IncorrectVersion,
            Error::Authorization { .. } => ErrorKind::Authorization,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::InvalidRename { .. }
            | Error::Refused { .. }
            | Error::InvalidBlock { .. }
            | Error::NoDatanodes { .. }
            | Error::Corrupt { .. }
            | Error::Storage { .. }
            | Error::Io { .. } => ErrorKind::Io,
        }
    }

    /// The Java exception class name to put in an RPC error response.
    pub fn java_class(&self) -> &'static str {
        self.kind().java_class()
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_maps_both_ways_without_duplicates() {
        for (i, (kind, class)) in EXCEPTION_CLASSES.iter().enumerate() {
            assert_eq!(kind.java_class(), *class);
            assert_eq!(ErrorKind::from_java_class(class), Some(*kind));
            for (other_kind, other_class) in &EXCEPTION_CLASSES[i + 1..] {
                assert_ne!(kind, other_kind);
                assert_ne!(class, other_class);
            }
        }
        assert_eq!(ErrorKind::from_java_class("com.example.Nope"), None);
    }

    #[test]
    fn errors_carry_their_class() {
        let e = Error::FileNotFound { path: "/a".into() };
        assert_eq!(e.java_class(), "java.io.FileNotFoundException");
        assert_eq!(e.to_string(), "File does not exist: /a");
        let e = Error::NotOwner {
            user: "bob".into(),
            path: "/x".into(),
        };
        assert_eq!(
            e.java_class(),
            "org.apache.hadoop.security.AccessControlException"
        );
        let e = Error::InvalidRename {
            message: "x".into(),
        };
        assert_eq!(e.java_class(), "java.io.IOException");
    }
}
