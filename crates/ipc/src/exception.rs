//! Hadoop's Java exception classes, the part of the RPC protocol that says *what* went
//! wrong. One table maps them both ways: servers raise a [`JavaException`] and its class
//! name goes on the wire; clients read the class name and branch on the variant.

use std::fmt;

/// A Java exception class that ferrodfs raises or that clients branch on.
///
/// [`JavaException::Other`] carries any class name not in the table, so nothing a
/// remote server sends is lost.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JavaException {
    IoException,
    FileNotFound,
    FileAlreadyExists,
    AlreadyBeingCreated,
    AccessControl,
    ParentNotDirectory,
    PathIsNotEmptyDirectory,
    HadoopIllegalArgument,
    IllegalArgument,
    InvalidPath,
    UnresolvedLink,
    SafeMode,
    Standby,
    RetriableException,
    LeaseExpired,
    NotReplicatedYet,
    RecoveryInProgress,
    QuotaExceeded,
    UnsupportedOperation,
    InvalidToken,
    ReplicaNotFound,
    RpcNoSuchMethod,
    RpcNoSuchProtocol,
    RpcServerException,
    FatalRpcServerException,
    /// Any other class, by name.
    Other(String),
}

/// `(variant, Java class name)`: the single table behind both directions.
const TABLE: &[(JavaException, &str)] = &[
    (JavaException::IoException, "java.io.IOException"),
    (JavaException::FileNotFound, "java.io.FileNotFoundException"),
    (
        JavaException::FileAlreadyExists,
        "org.apache.hadoop.fs.FileAlreadyExistsException",
    ),
    (
        JavaException::AlreadyBeingCreated,
        "org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException",
    ),
    (
        JavaException::AccessControl,
        "org.apache.hadoop.security.AccessControlException",
    ),
    (
        JavaException::ParentNotDirectory,
        "org.apache.hadoop.fs.ParentNotDirectoryException",
    ),
    (
        JavaException::PathIsNotEmptyDirectory,
        "org.apache.hadoop.fs.PathIsNotEmptyDirectoryException",
    ),
    (
        JavaException::HadoopIllegalArgument,
        "org.apache.hadoop.HadoopIllegalArgumentException",
    ),
    (
        JavaException::IllegalArgument,
        "java.lang.IllegalArgumentException",
    ),
    (
        JavaException::InvalidPath,
        "org.apache.hadoop.fs.InvalidPathException",
    ),
    (
        JavaException::UnresolvedLink,
        "org.apache.hadoop.fs.UnresolvedLinkException",
    ),
    (
        JavaException::SafeMode,
        "org.apache.hadoop.hdfs.server.namenode.SafeModeException",
    ),
    (
        JavaException::Standby,
        "org.apache.hadoop.ipc.StandbyException",
    ),
    (
        JavaException::RetriableException,
        "org.apache.hadoop.ipc.RetriableException",
    ),
    (
        JavaException::LeaseExpired,
        "org.apache.hadoop.hdfs.server.namenode.LeaseExpiredException",
    ),
    (
        JavaException::NotReplicatedYet,
        "org.apache.hadoop.hdfs.server.namenode.NotReplicatedYetException",
    ),
    (
        JavaException::RecoveryInProgress,
        "org.apache.hadoop.hdfs.protocol.RecoveryInProgressException",
    ),
    (
        JavaException::QuotaExceeded,
        "org.apache.hadoop.hdfs.protocol.QuotaExceededException",
    ),
    (
        JavaException::UnsupportedOperation,
        "java.lang.UnsupportedOperationException",
    ),
    (
        JavaException::InvalidToken,
        "org.apache.hadoop.security.token.SecretManager$InvalidToken",
    ),
    (
        JavaException::ReplicaNotFound,
        "org.apache.hadoop.hdfs.server.datanode.ReplicaNotFoundException",
    ),
    (
        JavaException::RpcNoSuchMethod,
        "org.apache.hadoop.ipc.RpcNoSuchMethodException",
    ),
    (
        JavaException::RpcNoSuchProtocol,
        "org.apache.hadoop.ipc.RpcNoSuchProtocolException",
    ),
    (
        JavaException::RpcServerException,
        "org.apache.hadoop.ipc.RpcServerException",
    ),
    (
        JavaException::FatalRpcServerException,
        "org.apache.hadoop.ipc.Server$FatalRpcServerException",
    ),
];

impl JavaException {
    /// The Java class name that goes on the wire.
    pub fn class_name(&self) -> &str {
        match self {
            JavaException::Other(name) => name,
            known => TABLE
                .iter()
                .find(|(variant, _)| variant == known)
                .map(|(_, name)| *name)
                .unwrap_or("java.io.IOException"),
        }
    }

    /// The variant for a class name read off the wire.
    pub fn from_class_name(name: &str) -> JavaException {
        TABLE
            .iter()
            .find(|(_, class)| *class == name)
            .map(|(variant, _)| variant.clone())
            .unwrap_or_else(|| JavaException::Other(name.to_owned()))
    }
}

impl fmt::Display for JavaException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.class_name())
    }
}

/// An exception thrown by the remote side of a call: what an `ERROR` or `FATAL`
/// response carries, and what a server-side service returns to fail one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteException {
    pub exception: JavaException,
    pub message: String,
}

impl RemoteException {
    pub fn new(exception: JavaException, message: impl Into<String>) -> RemoteException {
        RemoteException {
            exception,
            message: message.into(),
        }
    }

    /// The Java class name.
    pub fn class_name(&self) -> &str {
        self.exception.class_name()
    }
}

impl fmt::Display for RemoteException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.exception.class_name(), self.message)
    }
}

impl std::error::Error for RemoteException {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_round_trips_every_entry() {
        for (variant, name) in TABLE {
            assert_eq!(variant.class_name(), *name);
            assert_eq!(&JavaException::from_class_name(name), variant);
        }
    }

    #[test]
    fn unknown_class_is_kept_by_name() {
        let e = JavaException::from_class_name("com.example.WeirdException");
        assert_eq!(e, JavaException::Other("com.example.WeirdException".into()));
        assert_eq!(e.class_name(), "com.example.WeirdException");
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = TABLE.iter().map(|(_, n)| *n).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), TABLE.len());
    }
}
