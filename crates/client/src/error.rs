//! The client's error type: one enum, with the NameNode's Java exceptions that
//! callers branch on turned into variants.

use ferrodfs_ipc::JavaException;
use ferrodfs_proto::hdfs::Status;
use std::io;

/// Everything a [`crate::DfsClient`] call or a stream can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `java.io.FileNotFoundException`, or a reply saying the path does not exist.
    #[error("file not found: {path}")]
    FileNotFound { path: String },
    /// `org.apache.hadoop.fs.FileAlreadyExistsException`.
    #[error("file already exists: {path}")]
    FileAlreadyExists { path: String },
    /// `AlreadyBeingCreatedException`: another client holds the file's lease.
    #[error("{path} is already being created: {message}")]
    AlreadyBeingCreated { path: String, message: String },
    /// `org.apache.hadoop.security.AccessControlException`.
    #[error("permission denied on {path}: {message}")]
    AccessControl { path: String, message: String },
    /// `ParentNotDirectoryException`.
    #[error("a parent of {path} is not a directory")]
    ParentNotDirectory { path: String },
    /// `PathIsNotEmptyDirectoryException`.
    #[error("{path} is a non-empty directory")]
    PathIsNotEmptyDirectory { path: String },
    /// `SafeModeException`: the NameNode refuses changes.
    #[error("NameNode is in safe mode: {message}")]
    SafeMode { message: String },
    /// Any other NameNode failure (remote exception or transport).
    #[error("NameNode call {method} failed: {source}")]
    Rpc {
        method: &'static str,
        #[source]
        source: ferrodfs_ipc::Error,
    },
    /// The NameNode's reply lacks something the protocol requires.
    #[error("malformed reply to {method}: {what}")]
    BadReply {
        method: &'static str,
        what: &'static str,
    },
    /// A DataNode answered an op with a status other than SUCCESS.
    #[error("DataNode {node} refused {op}: {status:?} {message}")]
    DataNodeRefused {
        op: &'static str,
        node: String,
        status: Status,
        message: String,
        /// The node named in `firstBadLink`, for WRITE_BLOCK.
        first_bad_link: Option<String>,
    },
    /// Bytes from a DataNode could not be decoded or failed verification.
    #[error("DataNode {node}: {source}")]
    Transfer {
        node: String,
        #[source]
        source: ferrodfs_transfer::Error,
    },
    /// A socket to a DataNode failed.
    #[error("DataNode {node}: {source}")]
    DataNodeIo {
        node: String,
        #[source]
        source: io::Error,
    },
    /// A pipeline ack broke the protocol (wrong seqno, wrong number of replies).
    #[error("bad ack for block {block}: {what}")]
    BadAck { block: String, what: String },
    /// Every DataNode of a write pipeline failed.
    #[error("all DataNodes of the pipeline for block {block} are bad")]
    AllDataNodesBad { block: String },
    /// No pipeline could be set up for a new block after the allowed retries.
    #[error("could not set up a pipeline for a new block of {path} after {attempts} attempts")]
    CannotAllocateBlock { path: String, attempts: u32 },
    /// Pipeline recovery gave up.
    #[error("pipeline recovery of block {block} failed after {attempts} attempts")]
    RecoveryFailed { block: String, attempts: u32 },
    /// `complete` kept returning false (the last block has too few replicas).
    #[error("could not complete {path}: the last block has too few replicas")]
    CompleteFailed { path: String },
    /// No replica of a block could be read.
    #[error("could not read block {block} of {path} at offset {offset} from any replica")]
    BlockMissing {
        path: String,
        block: String,
        offset: u64,
    },
    /// Hadoop's `CannotObtainBlockLengthException`: no DataNode listed for the last
    /// block of a file under construction could tell its visible length. `block` is
    /// the block as Java's `LocatedBlock.toString` shows it.
    #[error("Cannot obtain block length for {block} of {path}")]
    CannotObtainBlockLength { block: String, path: String },
    /// The last block of a file under construction has bytes but no locations after
    /// `dfs.client.retry.times.get-last-block-length` tries (its DataNodes have not
    /// reported it, e.g. after a NameNode restart).
    #[error("Could not obtain the last block locations.")]
    LastBlockLocationsUnavailable { path: String },
    /// The stream was closed, or failed earlier (the first call after the failure
    /// returned the cause).
    #[error("stream closed")]
    StreamClosed,
    /// A bad argument (block size not a multiple of the chunk size, a relative path...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The configuration names no NameNode or holds an unreadable value.
    #[error("configuration: {0}")]
    Conf(#[from] ferrodfs_conf::Error),
    /// No NameNode address could be found or resolved.
    #[error("no NameNode address: {0}")]
    NoNameNode(String),
    /// Local I/O.
    #[error("I/O: {0}")]
    Io(#[from] io::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Maps a failed NameNode call on `path` to a typed error.
    pub(crate) fn rpc(method: &'static str, path: &str, source: ferrodfs_ipc::Error) -> Error {
        let path = path.to_owned();
        let message = || match &source {
            ferrodfs_ipc::Error::Remote(e) | ferrodfs_ipc::Error::Fatal(e) => e.message.clone(),
            other => other.to_string(),
        };
        match source.java_exception() {
            Some(JavaException::FileNotFound) => Error::FileNotFound { path },
            Some(JavaException::FileAlreadyExists) => Error::FileAlreadyExists { path },
            Some(JavaException::AlreadyBeingCreated) => Error::AlreadyBeingCreated {
                path,
                message: message(),
            },
            Some(JavaException::AccessControl) => Error::AccessControl {
                path,
                message: message(),
            },
            Some(JavaException::ParentNotDirectory) => Error::ParentNotDirectory { path },
            Some(JavaException::PathIsNotEmptyDirectory) => Error::PathIsNotEmptyDirectory { path },
            Some(JavaException::SafeMode) => Error::SafeMode { message: message() },
            _ => Error::Rpc { method, source },
        }
    }

    /// The Java exception behind a NameNode failure, if any.
    pub fn java_exception(&self) -> Option<&JavaException> {
        match self {
            Error::Rpc { source, .. } => source.java_exception(),
            _ => None,
        }
    }

    fn io_kind(&self) -> io::ErrorKind {
        match self {
            Error::FileNotFound { .. } => io::ErrorKind::NotFound,
            Error::FileAlreadyExists { .. } => io::ErrorKind::AlreadyExists,
            Error::AccessControl { .. } => io::ErrorKind::PermissionDenied,
            Error::InvalidArgument(_) => io::ErrorKind::InvalidInput,
            Error::Io(e) | Error::DataNodeIo { source: e, .. } => e.kind(),
            _ => io::ErrorKind::Other,
        }
    }
}

/// For the `std::io` traits: the kind follows the variant, and the [`Error`] stays
/// inside (`io::Error::get_ref` / `into_inner` + `downcast`).
impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Io(e) => e,
            other => io::Error::new(other.io_kind(), other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrodfs_ipc::RemoteException;

    #[test]
    fn remote_exceptions_become_variants() {
        let remote =
            |ex: JavaException| ferrodfs_ipc::Error::Remote(RemoteException::new(ex, "because"));
        assert!(matches!(
            Error::rpc("getFileInfo", "/a", remote(JavaException::FileNotFound)),
            Error::FileNotFound { path } if path == "/a"
        ));
        assert!(matches!(
            Error::rpc("create", "/a", remote(JavaException::FileAlreadyExists)),
            Error::FileAlreadyExists { .. }
        ));
        assert!(matches!(
            Error::rpc("create", "/a", remote(JavaException::AlreadyBeingCreated)),
            Error::AlreadyBeingCreated { message, .. } if message == "because"
        ));
        let other = Error::rpc("create", "/a", remote(JavaException::QuotaExceeded));
        assert_eq!(other.java_exception(), Some(&JavaException::QuotaExceeded));
        let io: io::Error = Error::FileNotFound { path: "/x".into() }.into();
        assert_eq!(io.kind(), io::ErrorKind::NotFound);
        let back = io.into_inner().unwrap().downcast::<Error>().unwrap();
        assert!(matches!(*back, Error::FileNotFound { .. }));
    }
}
