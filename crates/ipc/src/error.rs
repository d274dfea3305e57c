//! The crate's error type.

use crate::exception::{JavaException, RemoteException};
use crate::frame::FrameError;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// Everything an RPC can fail with, on either side.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The remote side threw: an `ERROR` response (this call failed; the connection lives
    /// on) or an exception a server-side service raised.
    #[error("{0}")]
    Remote(RemoteException),
    /// A `FATAL` response: the server closed the connection.
    #[error("fatal from server: {0}")]
    Fatal(RemoteException),
    /// The bytes on the connection made no sense.
    #[error("protocol: {0}")]
    Frame(#[from] FrameError),
    /// No response within the call timeout.
    #[error("call {call_id} to {addr} timed out after {after:?}")]
    Timeout {
        addr: SocketAddr,
        call_id: i32,
        after: Duration,
    },
    /// Could not connect after the retry policy gave up.
    #[error("cannot connect to {addr} after {attempts} attempts: {source}")]
    Connect {
        addr: SocketAddr,
        attempts: u32,
        #[source]
        source: io::Error,
    },
    /// The connection closed while the call was outstanding.
    #[error("connection to {addr} closed: {reason}")]
    ConnectionClosed { addr: SocketAddr, reason: String },
    /// A response message that does not decode as the expected type.
    #[error("undecodable response to {method}: {source}")]
    BadResponse {
        method: String,
        #[source]
        source: prost::DecodeError,
    },
    /// The client or server was shut down.
    #[error("shut down")]
    Shutdown,
    #[error("I/O: {0}")]
    Io(#[from] io::Error),
    /// The event loop under the server failed (epoll/eventfd setup).
    #[error("event loop: {0}")]
    Looper(#[from] ferrodfs_looper::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The Java exception behind a remote failure, if this is one.
    pub fn java_exception(&self) -> Option<&JavaException> {
        match self {
            Error::Remote(e) | Error::Fatal(e) => Some(&e.exception),
            _ => None,
        }
    }

    /// True if the remote side threw this exception class.
    pub fn is(&self, exception: &JavaException) -> bool {
        self.java_exception() == Some(exception)
    }
}

impl From<RemoteException> for Error {
    fn from(e: RemoteException) -> Self {
        Error::Remote(e)
    }
}
