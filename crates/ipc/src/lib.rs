//! Hadoop RPC, protobuf engine, protocol version 9: what the NameNode, DataNodes and
//! clients of ferrodfs speak, byte-compatible with Hadoop 2.x/3.x.
//!
//! * [`frame`]: the wire codec (preamble, length-prefixed frames of varint-delimited
//!   protobuf messages), shared by both sides.
//! * [`exception`]: Hadoop's Java exception classes, both ways.
#![forbid(unsafe_code)]

pub mod exception;
pub mod frame;

pub use exception::{JavaException, RemoteException};
