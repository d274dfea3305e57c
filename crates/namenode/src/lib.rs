//! The ferrodfs NameNode as a library: namespace, blocks, DataNodes, leases, edit log and
//! checkpoint image, with no RPC. A service layer maps `ClientNamenodeProtocol` and
//! `DatanodeProtocol` calls onto these methods.
#![forbid(unsafe_code)]

pub mod config;
pub mod editlog;
pub mod error;
pub mod namespace;
pub mod storage;

pub use config::NameNodeConfig;
pub use error::{Error, ErrorKind, Result, EXCEPTION_CLASSES};
