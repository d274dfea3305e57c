//! Hadoop RPC, protobuf engine, protocol version 9: what the NameNode, DataNodes and
//! clients of ferrodfs speak, byte-compatible with Hadoop 2.x/3.x.
//!
//! * [`frame`]: the wire codec (preamble, length-prefixed frames of varint-delimited
//!   protobuf messages), shared by both sides.
//! * [`exception`]: Hadoop's Java exception classes, both ways.
//! * [`client`]: [`RpcClient`], pooled multiplexed connections, and typed proxies
//!   for ClientNamenodeProtocol and DatanodeProtocol.
//! * [`server`]: the RPC server (listener, reader and responder loopers, handler threads)
//!   that dispatches calls to registered [`server::RpcService`]s.
//! * [`Error`]: what a call can fail with.
#![forbid(unsafe_code)]

pub mod client;
mod error;
pub mod exception;
pub mod frame;
pub mod server;

pub use client::{ClientConfig, ConnectionId, RetryPolicy, RpcClient};
pub use error::{Error, Result};
pub use exception::{JavaException, RemoteException};
