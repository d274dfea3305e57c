//! The crate's error type.

use std::io;

/// Errors of the looper.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `Looper::prepare` on a thread whose looper is still alive.
    #[error("this thread already has a looper")]
    AlreadyPrepared,
    /// `poll_once`/`run` called from inside one of the same looper's callbacks.
    #[error("the looper is already polling on this thread (called from inside a callback)")]
    Reentrant,
    /// An epoll or eventfd system call failed.
    #[error("looper system call failed: {0}")]
    Io(#[from] io::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
